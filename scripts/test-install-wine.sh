#!/usr/bin/env bash
# Runs the package's avcam-viewer.exe `install` and `uninstall` under wine 8 (headless, a fresh
# prefix), as far as wine's SetupAPI goes, and the Linux build's refusal. Nothing is faked: each
# check runs the real program against wine's real setupapi.dll and newdev.dll.
#
#   linux  install / uninstall: a usage error, exit 2, one line;
#   wine   bad arguments (no --inf value, extra words): exit 2, one line;
#   wine   no INF (a missing --inf file; none beside the executable): exit 2, one line naming
#          the path, nothing created;
#   wine   not avcam's INF (a text file; the package's INF with another class, which wine's
#          SetupDiGetINFClassW reads): exit 2, one line, nothing created;
#   wine   the package's own INF: wine runs every process elevated, so install goes on and
#          creates and registers ROOT\AVCAM\0000 with hardware ID Root\avcam (read back from
#          wine's registry); wine's UpdateDriverForPlugAndPlayDevicesW then reports success
#          without installing a driver (wine reports Windows 10 build 18362, below the INF's
#          19041), which install's own check catches: exit 1, one line;
#   wine   uninstall: wine 8 has no SetupDiSetClassInstallParamsW (DIF_REMOVE's parameters),
#          so it stops there: exit 1, one line naming the call.
# What wine cannot show: the not-elevated refusal (every wine process is elevated), a driver
# actually installed, removed devices and packages. Usage: scripts/test-install-wine.sh
# (after scripts/package-windows.sh). Installs wine from apt when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/windows-toolchain.sh
source scripts/lib/windows-toolchain.sh

ensure_packages wine64 wine
version=$(python3 scripts/package_windows.py version)
pkg=target/package/avcam-$version-x64
[ -f "$pkg/avcam-viewer.exe" ] || { echo "error: $pkg is missing; run scripts/package-windows.sh" >&2; exit 1; }
cargo build --locked --quiet --package avcam-viewer --bin avcam-viewer
linux=target/debug/avcam-viewer

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export WINEPREFIX=$work/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
wine wineboot --init >/dev/null 2>&1 || true
# The package as a user unpacks it, and the executable alone in another folder.
cp -r "$pkg" "$work/package"
mkdir "$work/alone"
cp "$pkg/avcam-viewer.exe" "$work/alone/"
sed -e 's/^Class       = Camera/Class       = Image/' \
    -e 's/{ca3e7ab9-b4c3-4ae6-8251-579ef933890f}/{6bdd1fc6-810f-11d0-bec7-08002be2092f}/' \
    "$pkg/avcam.inf" >"$work/image.inf"
grep -q '^Class       = Image' "$work/image.inf" || { echo "error: the INF no longer has the Class line this test edits" >&2; exit 1; }

failures=0
fail() { echo "FAIL  $*" >&2; failures=$((failures + 1)); }
pass() { echo "PASS  $*"; }

# expect WHAT STATUS PATTERN COMMAND...: the command exits STATUS with exactly one line on
# stderr matching the extended regex PATTERN.
expect() {
    local what=$1 want=$2 pattern=$3 status=0 lines
    shift 3
    "$@" >"$work/out.txt" 2>"$work/err.txt" || status=$?
    lines=$(grep -c '' "$work/err.txt" || true)
    if [ "$status" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -Eq "$pattern" "$work/err.txt"; then
        pass "$what: exit $status, \"$(cat "$work/err.txt")\""
    else
        fail "$what: exit $status (want $want), $lines line(s): $(cat "$work/err.txt")"
    fi
}

# Whether wine's registry has a device node ROOT\AVCAM\0000.
device_exists() {
    wine reg query 'HKLM\System\CurrentControlSet\Enum\ROOT\AVCAM\0000' >"$work/reg.txt" 2>/dev/null
}

expect "linux: install" 2 '^avcam-viewer: install works on Windows only: it needs the Windows build' "$linux" install
expect "linux: uninstall" 2 '^avcam-viewer: uninstall works on Windows only: it needs the Windows build' "$linux" uninstall
exe=$work/package/avcam-viewer.exe
expect "wine: install --inf without a value" 2 '^avcam-viewer: .*--inf' wine "$exe" install --inf
expect "wine: uninstall with an extra word" 2 "^avcam-viewer: unexpected argument 'extra'" wine "$exe" uninstall extra
expect "wine: install --inf missing.inf" 2 '^avcam-viewer: cannot read the INF missing\.inf: .*--inf PATH' \
    wine "$exe" install --inf missing.inf
expect "wine: install without avcam.inf beside the executable" 2 \
    '^avcam-viewer: cannot read the INF .*\\alone\\avcam\.inf: ' wine "$work/alone/avcam-viewer.exe" install
expect "wine: install --inf README.txt" 2 "is not avcam's INF: no models line lists Root.avcam" \
    wine "$exe" install --inf "$work/package/README.txt"
expect "wine: install --inf (the INF with class Image)" 2 \
    "is not avcam's INF: its class is \{6BDD1FC6-810F-11D0-BEC7-08002BE2092F\}, not Camera" \
    wine "$exe" install --inf "$work/image.inf"
if device_exists; then fail "wine: a refused install left a device node"; else pass "wine: the refused installs created no device node"; fi

expect "wine: install (the package's INF; wine installs no driver)" 1 \
    '^avcam-viewer: UpdateDriverForPlugAndPlayDevicesW reported success, but no driver is installed on ROOT.AVCAM.0000' \
    wine "$exe" install
if grep -q '^created device ROOT\\AVCAM\\0000 (hardware ID Root\\avcam)$' "$work/out.txt" && device_exists &&
    grep -Eiq 'HardwareID +REG_MULTI_SZ +Root\\avcam' "$work/reg.txt"; then
    pass "wine: install created and registered ROOT\\AVCAM\\0000 with hardware ID Root\\avcam"
else
    fail "wine: the device node: $(cat "$work/out.txt") / $(cat "$work/reg.txt" 2>/dev/null)"
fi
expect "wine: uninstall (wine 8 lacks DIF_REMOVE's parameters)" 1 \
    '^avcam-viewer: SetupDiSetClassInstallParamsW\(DIF_REMOVE\) failed: error ' wine "$exe" uninstall

if [ "$failures" -ne 0 ]; then
    echo "install under wine: $failures check(s) failed" >&2
    exit 1
fi
echo "install under wine: all checks passed"
