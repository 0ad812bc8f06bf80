<#
.SYNOPSIS
Installs the avcam virtual camera from this folder: test-signed on this machine, no WDK, no
downloads.

.DESCRIPTION
Run it from an elevated Windows PowerShell 5.1 (right-click Windows PowerShell, "Run as
administrator"), in the folder the zip was unpacked to:

    powershell -ExecutionPolicy Bypass -File .\install.ps1

What it does, in order, stopping with a message at the first thing that is not right:
 1. checks: elevated, 64-bit PowerShell on an x64 machine, Windows 10 version 2004 (build 19041)
    or later, the package's files beside this script;
 2. test signing: when it is off, checks Secure Boot (Windows refuses test signing while it is
    on), warns about BitLocker, offers to run `bcdedit /set testsigning on`, then stops until
    the restart (run the script again afterwards);
 3. signs the driver on this machine: a new code-signing certificate (New-SelfSignedCertificate,
    so no private key ever ships in the zip), trusted in LocalMachine\Root and TrustedPublisher;
    avcam.sys signed, a catalog of avcam.inf and avcam.sys (New-FileCatalog) signed; then the
    certificate's private key is deleted. The signed copy lives in %ProgramData%\avcam\driver;
 4. installs the device: avcam-viewer.exe install --inf %ProgramData%\avcam\driver\avcam.inf;
 5. lists the camera through its KS interface: avcam-viewer.exe --backend windows list.

A second run changes nothing: a signed copy of this package's files is reused, and
avcam-viewer.exe leaves an installed device with this package's driver alone.

Whether Plug and Play accepts a catalog made by New-FileCatalog for a driver package is not
established by any public source we found: if it refuses it, the script says how to finish with
the WDK's Inf2Cat and SignTool instead.

This script has never been run on Windows (it was written and checked on Linux).

Exit codes: 0 installed (or already installed), 1 a step failed, 2 this machine cannot take the
driver as it is (not elevated, not x64, too old, Secure Boot on), 3 test signing is not on yet
(just turned on: restart; declined: turn it on yourself).

.PARAMETER EnableTestSigning
Turn test signing on without asking when it is off (the script still stops for the restart).
#>
[CmdletBinding()]
param(
    [switch]$EnableTestSigning
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
# The Cert: drive comes with Microsoft.PowerShell.Security, which a session does not import by
# itself; the certificate cmdlets come with PKI.
Import-Module Microsoft.PowerShell.Security
Import-Module PKI

$Here = $PSScriptRoot
$Viewer = Join-Path $Here 'avcam-viewer.exe'
$Root = Join-Path $env:ProgramData 'avcam'
$Stage = Join-Path $Root 'driver'
$Subject = 'CN=avcam local test signing'
$MinimumBuild = 19041
$StaleCertificates = @()

function Write-Step([string]$Text) {
    Write-Host ''
    Write-Host "==> $Text"
}

function Stop-Install([string]$Text, [int]$Code) {
    Write-Host ''
    Write-Host "install.ps1: $Text" -ForegroundColor Red
    exit $Code
}

function Write-WdkPath {
    Write-Host ''
    Write-Host 'To finish with the WDK instead (on a machine with the Windows Driver Kit):'
    Write-Host "  1. Inf2Cat /driver:`"$Stage`" /os:10_VB_X64   (rewrites avcam.cat as the WDK makes it)"
    Write-Host '  2. SignTool sign /fd SHA256 /f <test certificate .pfx> avcam.sys avcam.cat   (in that folder;'
    Write-Host '     the certificate trusted in LocalMachine\Root and TrustedPublisher)'
    Write-Host "  3. `"$Viewer`" install --inf `"$Stage\avcam.inf`""
    Write-Host '  docs\windows.md in the avcam repository has the whole WDK path.'
}

# The SHA-256 of the files this package installs, as one line per file.
function Get-PackageStamp {
    $lines = foreach ($name in 'avcam.inf', 'avcam.sys') {
        $hash = Get-FileHash -Algorithm SHA256 -LiteralPath (Join-Path $Here $name)
        "$($hash.Hash)  $name"
    }
    return ($lines -join "`r`n")
}

# The avcam certificates in a LocalMachine store.
function Get-AvcamCertificate([string]$Store) {
    return @(Get-ChildItem -Path "Cert:\LocalMachine\$Store" | Where-Object { $_.Subject -eq $Subject })
}

# Whether the staged copy is this package's files, signed by a certificate this machine trusts
# and whose private key is gone; then the signing step is skipped.
function Test-SignedStage([string]$Stamp) {
    $stampFile = Join-Path $Stage 'package.sha256'
    if (-not (Test-Path -LiteralPath $stampFile)) { return $false }
    # Only a copy this script made (owned by Administrators or SYSTEM) is reused.
    foreach ($folder in $Root, $Stage) {
        $owner = (Get-Acl -LiteralPath $folder).GetOwner([Security.Principal.SecurityIdentifier]).Value
        if ($owner -ne 'S-1-5-32-544' -and $owner -ne 'S-1-5-18') { return $false }
    }
    if ((Get-Content -Raw -LiteralPath $stampFile).Trim() -ne $Stamp.Trim()) { return $false }
    foreach ($name in 'avcam.sys', 'avcam.cat') {
        $path = Join-Path $Stage $name
        if (-not (Test-Path -LiteralPath $path)) { return $false }
        $signature = Get-AuthenticodeSignature -LiteralPath $path
        if ($signature.Status -ne 'Valid') { return $false }
        $thumbprint = $signature.SignerCertificate.Thumbprint
        foreach ($store in 'Root', 'TrustedPublisher') {
            if (-not (Get-AvcamCertificate $store | Where-Object { $_.Thumbprint -eq $thumbprint })) { return $false }
        }
        if (Get-AvcamCertificate 'My' | Where-Object { $_.Thumbprint -eq $thumbprint }) { return $false }
    }
    return $true
}

# 1. The machine and the package.
Write-Step 'checking this machine and the package'
$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Stop-Install 'run it from an elevated PowerShell (right-click Windows PowerShell, "Run as administrator")' 2
}
if (-not [Environment]::Is64BitProcess) {
    Stop-Install 'run it from the 64-bit Windows PowerShell, not the (x86) one' 2
}
# Win32_Processor.Architecture: 9 is x64 (12 is ARM64, which this driver is not built for).
$architecture = @(Get-CimInstance -ClassName Win32_Processor)[0].Architecture
if ($architecture -ne 9) {
    Stop-Install "this machine's processor architecture is $architecture, not x64 (9): the driver is built for x64 only" 2
}
$os = Get-CimInstance -ClassName Win32_OperatingSystem
if ([int]$os.BuildNumber -lt $MinimumBuild) {
    Stop-Install "Windows build $($os.BuildNumber) is older than $MinimumBuild (Windows 10 version 2004), the oldest the driver can load on" 2
}
foreach ($name in 'avcam.inf', 'avcam.sys', 'avcam-viewer.exe') {
    if (-not (Test-Path -LiteralPath (Join-Path $Here $name))) {
        Stop-Install "$name is missing beside this script: unpack the whole zip and run install.ps1 from its folder" 1
    }
}
Write-Host "Windows build $($os.BuildNumber), x64, elevated; package in $Here"

# 2. Test signing.
Write-Step 'test signing'
$startOptions = (Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control' -Name SystemStartOptions).SystemStartOptions
if ($startOptions -match '(^|\s)TESTSIGNING(\s|$)') {
    Write-Host 'test signing is on in this boot'
} else {
    Write-Host 'Test signing is off. Windows loads a driver signed on this machine only in test mode'
    Write-Host '(bcdedit /set testsigning on, then a restart; the desktop then shows "Test Mode").'
    $secureBoot = $false
    try {
        $secureBoot = Confirm-SecureBootUEFI
    } catch {
        Write-Host "Secure Boot: not reported ($($_.Exception.Message)); a BIOS machine has none."
    }
    if ($secureBoot) {
        Stop-Install ('Secure Boot is on, and Windows refuses test signing while it is. Turn Secure Boot off ' +
            "in the machine's firmware settings (or use a virtual machine without it), then run install.ps1 again.") 2
    }
    try {
        $volume = Get-BitLockerVolume -MountPoint $env:SystemDrive
        if ("$($volume.ProtectionStatus)" -eq 'On') {
            Write-Host "BitLocker protects $($env:SystemDrive): changing boot settings can make Windows ask for the" -ForegroundColor Yellow
            Write-Host "recovery key at the next start. Have it at hand, or first run:" -ForegroundColor Yellow
            Write-Host "    Suspend-BitLocker -MountPoint $($env:SystemDrive) -RebootCount 1" -ForegroundColor Yellow
        }
    } catch {
        Write-Host 'If BitLocker protects the system drive, changing boot settings can make Windows ask for the' -ForegroundColor Yellow
        Write-Host 'recovery key at the next start: suspend it first (Suspend-BitLocker -RebootCount 1).' -ForegroundColor Yellow
    }
    if (-not $EnableTestSigning) {
        $answer = Read-Host 'Turn test signing on now? [y/N]'
        if ($answer -notmatch '^\s*(y|yes)\s*$') {
            Stop-Install 'test signing stays off; to turn it on yourself: bcdedit /set testsigning on, restart, then run install.ps1 again' 3
        }
    }
    & bcdedit.exe /set testsigning on
    if ($LASTEXITCODE -ne 0) {
        Stop-Install "bcdedit /set testsigning on failed (exit $LASTEXITCODE); nothing else was changed" 1
    }
    Stop-Install 'test signing is turned on for the next start: restart Windows, then run install.ps1 again' 3
}

# 3. The signed copy of the driver package.
Write-Step "signing the driver on this machine ($Stage)"
$stamp = Get-PackageStamp
if ((Test-Path -LiteralPath $Stage) -and (Test-SignedStage $stamp)) {
    Write-Host 'this package is signed already (a second run changes nothing)'
} else {
    if (Test-Path -LiteralPath $Root) { Remove-Item -LiteralPath $Root -Recurse -Force }
    New-Item -ItemType Directory -Path $Stage | Out-Null
    # Only Administrators and SYSTEM may change what gets signed and installed.
    & icacls.exe $Root /inheritance:r /grant:r '*S-1-5-32-544:(OI)(CI)F' '*S-1-5-18:(OI)(CI)F' | Out-Null
    if ($LASTEXITCODE -ne 0) { Stop-Install "icacls could not restrict $Root (exit $LASTEXITCODE)" 1 }
    Copy-Item -LiteralPath (Join-Path $Here 'avcam.inf'), (Join-Path $Here 'avcam.sys') -Destination $Stage

    $StaleCertificates = @(Get-AvcamCertificate 'Root') + @(Get-AvcamCertificate 'TrustedPublisher')
    $certificate = $null
    $signed = $false
    try {
        $certificate = New-SelfSignedCertificate -Type CodeSigningCert -Subject $Subject `
            -FriendlyName 'avcam test signing (this machine only)' `
            -CertStoreLocation 'Cert:\LocalMachine\My' -KeyAlgorithm RSA -KeyLength 2048 `
            -HashAlgorithm SHA256 -KeyExportPolicy NonExportable -NotAfter (Get-Date).AddYears(5)
        $cer = Join-Path $Stage 'avcam-test-signing.cer'
        Export-Certificate -Cert $certificate -FilePath $cer -Type CERT | Out-Null
        foreach ($store in 'Root', 'TrustedPublisher') {
            Import-Certificate -FilePath $cer -CertStoreLocation "Cert:\LocalMachine\$store" | Out-Null
        }
        $sys = Set-AuthenticodeSignature -FilePath (Join-Path $Stage 'avcam.sys') -Certificate $certificate -HashAlgorithm SHA256
        if ($sys.Status -ne 'Valid') { throw "signing avcam.sys: $($sys.Status) $($sys.StatusMessage)" }
        $catalog = Join-Path $Stage 'avcam.cat'
        New-FileCatalog -Path (Join-Path $Stage 'avcam.inf'), (Join-Path $Stage 'avcam.sys') `
            -CatalogFilePath $catalog -CatalogVersion 2.0 | Out-Null
        $cat = Set-AuthenticodeSignature -FilePath $catalog -Certificate $certificate -HashAlgorithm SHA256
        if ($cat.Status -ne 'Valid') { throw "signing avcam.cat: $($cat.Status) $($cat.StatusMessage)" }
        $signed = $true
    } catch {
        Write-Host "signing failed: $($_.Exception.Message)" -ForegroundColor Red
    } finally {
        # The private key is deleted whatever happened: a trusted root whose key stays on the
        # machine could sign anything.
        if ($certificate) {
            Remove-Item -LiteralPath "Cert:\LocalMachine\My\$($certificate.Thumbprint)" -DeleteKey
        }
    }
    if (-not $signed) {
        if ($certificate) {
            foreach ($store in 'Root', 'TrustedPublisher') {
                Get-AvcamCertificate $store | Where-Object { $_.Thumbprint -eq $certificate.Thumbprint } | Remove-Item
            }
        }
        Remove-Item -LiteralPath $Root -Recurse -Force
        Stop-Install 'the driver could not be signed; nothing was left installed or trusted' 1
    }
    Set-Content -LiteralPath (Join-Path $Stage 'package.sha256') -Value $stamp -Encoding Ascii
    Write-Host "signed avcam.sys and avcam.cat with $Subject ($($certificate.Thumbprint)); its private key is deleted"
}

# 4. The device.
Write-Step 'installing the device'
& $Viewer install --inf (Join-Path $Stage 'avcam.inf')
$status = $LASTEXITCODE
if ($status -eq 4) {
    Write-Host ''
    Write-Host 'Windows refused the catalog or a signature. A catalog made by New-FileCatalog may not be' -ForegroundColor Red
    Write-Host 'one Plug and Play accepts for a driver package (no public source says it is).' -ForegroundColor Red
    Write-WdkPath
    exit 1
} elseif ($status -ne 0) {
    Write-WdkPath
    Stop-Install "avcam-viewer.exe install failed (exit $status, above)" 1
}
# The certificates of earlier runs signed the packages this one replaced.
foreach ($old in $StaleCertificates) {
    Remove-Item -LiteralPath $old.PSPath
    Write-Host "removed the certificate of an earlier run ($($old.Thumbprint))"
}

# 5. The camera, as an application sees it.
Write-Step 'the camera through its KS interface'
& $Viewer --backend windows list
if ($LASTEXITCODE -ne 0) {
    Stop-Install ('the device is installed but the camera does not answer (exit ' + $LASTEXITCODE +
        '): Device Manager, Cameras, "avcam Virtual Camera" shows the error code') 1
}
Write-Host ''
Write-Host 'avcam is installed. Open the Camera app (start microsoft.windows.camera:) and pick "avcam Virtual Camera".'
Write-Host 'To remove everything: powershell -ExecutionPolicy Bypass -File .\uninstall.ps1'
exit 0
