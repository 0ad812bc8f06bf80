<#
.SYNOPSIS
Removes what install.ps1 installed: the avcam device, its driver package, the test-signing
certificate and the signed copy in %ProgramData%\avcam.

.DESCRIPTION
Run it from an elevated Windows PowerShell 5.1, in the folder the zip was unpacked to:

    powershell -ExecutionPolicy Bypass -File .\uninstall.ps1

 1. avcam-viewer.exe uninstall: removes every device with hardware ID Root\avcam and every
    avcam driver package from the driver store;
 2. removes the certificates named "CN=avcam local test signing" from LocalMachine\Root,
    TrustedPublisher and My;
 3. removes %ProgramData%\avcam;
 4. says how to turn test signing off (it does not do it: other test drivers may need it).

A second run finds nothing and changes nothing. This script has never been run on Windows (it
was written and checked on Linux).

Exit codes: 0 removed (or nothing to remove), 1 a step failed, 2 not elevated.
#>
[CmdletBinding()]
param()

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
# The Cert: drive comes with Microsoft.PowerShell.Security, which a session does not import by
# itself; the certificate cmdlets come with PKI.
Import-Module Microsoft.PowerShell.Security
Import-Module PKI

$Here = $PSScriptRoot
$Viewer = Join-Path $Here 'avcam-viewer.exe'
$Root = Join-Path $env:ProgramData 'avcam'
$Subject = 'CN=avcam local test signing'

function Stop-Uninstall([string]$Text, [int]$Code) {
    Write-Host ''
    Write-Host "uninstall.ps1: $Text" -ForegroundColor Red
    exit $Code
}

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Stop-Uninstall 'run it from an elevated PowerShell (right-click Windows PowerShell, "Run as administrator")' 2
}
if (-not (Test-Path -LiteralPath $Viewer)) {
    Stop-Uninstall 'avcam-viewer.exe is missing beside this script: run uninstall.ps1 from the unpacked zip' 1
}

Write-Host '==> the device and the driver package'
& $Viewer uninstall
if ($LASTEXITCODE -ne 0) {
    Stop-Uninstall ("avcam-viewer.exe uninstall failed (exit $LASTEXITCODE, above); the certificates and " +
        "$Root are kept so that install.ps1 or this script can be run again") 1
}

Write-Host ''
Write-Host '==> the test-signing certificates'
$removed = 0
foreach ($store in 'Root', 'TrustedPublisher', 'My') {
    foreach ($certificate in @(Get-ChildItem -Path "Cert:\LocalMachine\$store" | Where-Object { $_.Subject -eq $Subject })) {
        if ($store -eq 'My') {
            Remove-Item -LiteralPath $certificate.PSPath -DeleteKey
        } else {
            Remove-Item -LiteralPath $certificate.PSPath
        }
        Write-Host "removed $($certificate.Thumbprint) from LocalMachine\$store"
        $removed++
    }
}
if ($removed -eq 0) { Write-Host 'none is installed' }

Write-Host ''
Write-Host "==> $Root"
if (Test-Path -LiteralPath $Root) {
    Remove-Item -LiteralPath $Root -Recurse -Force
    Write-Host 'removed'
} else {
    Write-Host 'not there'
}

$startOptions = (Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control' -Name SystemStartOptions).SystemStartOptions
Write-Host ''
if ($startOptions -match '(^|\s)TESTSIGNING(\s|$)') {
    Write-Host 'Test signing is still on (other test-signed drivers may need it). To turn it off:'
    Write-Host '    bcdedit /set testsigning off'
    Write-Host 'then restart Windows. If BitLocker protects the system drive, suspend it first'
    Write-Host "(Suspend-BitLocker -MountPoint $($env:SystemDrive) -RebootCount 1) or have the recovery key at hand."
}
Write-Host 'avcam is removed.'
exit 0
