#!/usr/bin/env python3
"""Checks the package's PowerShell scripts without PowerShell: each parses (tree-sitter's
PowerShell grammar, from PyPI: a third-party grammar, not PowerShell's own parser), is ASCII
(Windows PowerShell 5.1 reads a script without a byte-order mark in the ANSI code page), and
calls only commands whose documentation was reviewed (REVIEWED below, with the documented fact
each script relies on) or functions it defines itself. A new command fails the check until it
is reviewed and listed.

Usage: check_powershell.py SCRIPT.ps1...     (scripts/check-powershell.sh sets up the grammar)
       check_powershell.py --self-test       (broken scripts must fail, for the right reason)
Exit status: 0 ok, 1 a script failed.
"""

import sys

import tree_sitter
import tree_sitter_powershell

# command -> what its documentation says that the scripts rely on.
REVIEWED = {
    "Confirm-SecureBootUEFI": "returns $True when Secure Boot is on, $False when off; errors on a BIOS machine; needs an elevated session",
    "Copy-Item": "-LiteralPath takes several paths; -Destination a folder",
    "Export-Certificate": "writes the certificate to a file; the private key is not included; one certificate defaults to -Type CERT (DER .cer)",
    "Get-Acl": "returns the security descriptor; .GetOwner([SecurityIdentifier]) gives the owner's SID",
    "Get-AuthenticodeSignature": "returns a Signature whose Status is Valid only for a trusted, intact signature, and whose SignerCertificate is the signer",
    "Get-BitLockerVolume": "-MountPoint C: returns the volume; ProtectionStatus says whether a key protector is active",
    "Get-ChildItem": "in the Cert: drive lists a store's certificates (Subject, Thumbprint, PSPath)",
    "Get-CimInstance": "Win32_OperatingSystem.BuildNumber; Win32_Processor.Architecture (9 = x64, 12 = ARM64)",
    "Get-Content": "-Raw returns the whole file as one string",
    "Get-Date": ".AddYears(n) for -NotAfter",
    "Get-FileHash": "-Algorithm SHA256 returns Hash as hex",
    "Get-ItemProperty": "reads a registry value through the HKLM: drive",
    "Import-Module": "imports a module: the Certificate provider's notes say Microsoft.PowerShell.Security (the Cert: drive) is not imported into every session",
    "Import-Certificate": "-CertStoreLocation Cert:\\LocalMachine\\Root (or TrustedPublisher) imports a .cer into that store",
    "Join-Path": "joins a parent and a child path",
    "New-FileCatalog": "writes a catalog with the hashes of every file in -Path (files or folders); -CatalogVersion 2.0 hashes with SHA256",
    "New-Item": "-ItemType Directory creates the folder and its parents",
    "New-Object": "creates a .NET object (WindowsPrincipal)",
    "New-SelfSignedCertificate": "-Type CodeSigningCert; -CertStoreLocation only Cert:\\LocalMachine\\My or CurrentUser\\My; -KeyExportPolicy NonExportable; -NotAfter (default one year); -HashAlgorithm (default depends on the provider); returns an X509Certificate2",
    "Out-Null": "discards output",
    "Read-Host": "reads a line from the console",
    "Remove-Item": "in the Cert: drive deletes a certificate, and its private key only with -DeleteKey; elsewhere -Recurse -Force deletes a folder",
    "Set-AuthenticodeSignature": "signs any file with a SIP (PE images, catalogs); -HashAlgorithm SHA256; no -TimestampServer: the signature is valid only while the certificate is; returns a Signature with Status",
    "Set-Content": "-Encoding Ascii writes the text as ASCII",
    "Set-StrictMode": "-Version 3.0: uninitialised variables and missing properties are errors",
    "Test-Path": "-LiteralPath: whether the path exists",
    "Where-Object": "filters a pipeline by a script block",
    "Write-Host": "writes to the console (-ForegroundColor)",
    "bcdedit.exe": "/set testsigning on|off (elevated); takes effect at the next restart; Windows refuses it while Secure Boot is on",
    "icacls.exe": "/inheritance:r removes inherited entries; /grant:r replaces a SID's grant (*SID form is not localised)",
}


def parser():
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def problems(source, parse):
    """Everything wrong with one script's bytes."""
    found = []
    if not source.isascii():
        line = next(i for i, l in enumerate(source.splitlines(), 1) if not l.isascii())
        found.append(f"line {line}: a non-ASCII character")
    tree = parse.parse(source)
    defined, called = set(), []

    def walk(node):
        if node.is_error or node.is_missing:
            kind = "missing" if node.is_missing else "syntax error"
            text = source[node.start_byte:node.end_byte].split(b"\n")[0][:60].decode("ascii", "replace")
            found.append(f"line {node.start_point[0] + 1}: {kind} at {text!r}")
        if node.type == "function_statement":
            for child in node.children:
                if child.type == "function_name":
                    defined.add(source[child.start_byte:child.end_byte].decode().lower())
        if node.type == "command_name":
            called.append((node.start_point[0] + 1, source[node.start_byte:node.end_byte].decode()))
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    reviewed = {name.lower() for name in REVIEWED}
    for line, name in called:
        if name.lower() not in reviewed and name.lower() not in defined:
            found.append(f"line {line}: {name} is not a reviewed command (add it to REVIEWED with its documented facts)")
    return found


def self_test(parse):
    good = b"function Say([string]$Text) { Write-Host $Text }\r\nSay 'hi'\r\n"
    cases = [
        (good, None),
        (good.replace(b"}", b""), "missing"),
        (b"if ($x {\r\n Write-Host 1\r\n}\r\n", "syntax error"),
        (good + b"Invoke-WebRequest http://example.invalid\r\n", "Invoke-WebRequest is not a reviewed command"),
        (good.replace(b"hi", "h\u00e9".encode()), "non-ASCII"),
    ]
    failures = 0
    for source, expected in cases:
        found = problems(source, parse)
        ok = (not found) if expected is None else any(expected in p for p in found)
        print(f"  {'ok  ' if ok else 'FAIL'}  self-test: {expected or 'a good script passes'}: {found}")
        failures += not ok
    return failures


def main(argv):
    parse = parser()
    if argv == ["--self-test"]:
        return 1 if self_test(parse) else 0
    failures = 0
    for path in argv:
        with open(path, "rb") as f:
            found = problems(f.read(), parse)
        for problem in found:
            print(f"{path}: {problem}")
        print(f"  {'ok  ' if not found else 'FAIL'}  {path}: parses, ASCII, reviewed commands only")
        failures += bool(found)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
