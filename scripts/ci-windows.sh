#!/usr/bin/env bash
# What CI runs for the Windows side, in order, timing each step:
#   1. the header layouts are up to date (scripts/gen-layouts.sh --check);
#   2. the driver cross-builds (scripts/build-driver.sh -> target/driver/avcam.sys), linted by
#      clippy on the way: the driver shell's kernel-mode code must be warning-free;
#   3. the built image passes scripts/check-driver.sh, INF target version included;
#   4. the checker itself rejects deliberately broken images (scripts/test-check-driver.sh);
#   4b. the image runs on Linux (scripts/test-image.sh): the end-to-end tests and the allocator's
#      export tests against it, planted faults failing them with the bug-check report, and the
#      viewer recording from it the Linux build's bytes;
#   5. the viewer cross-builds for Windows user mode (scripts/build-viewer-windows.sh ->
#      x86_64-win7-windows-gnu, not kernel mode), linted by clippy on the way: the client's
#      Windows transport and the viewer's Windows backend exist only there;
#   6. under wine, that viewer records the same frames as the Linux one, and its Windows backend
#      reports that no avcam device is installed (scripts/test-viewer-wine.sh);
#   7. the Windows package, target/package/avcam-<version>-x64.zip (scripts/package-windows.sh):
#      its entries listed and checked, the INF out of it cross-checked against the driver's
#      constants, the image out of it the bytes of target/driver/avcam.sys;
#   8. the package's PowerShell scripts parse, are ASCII and call only reviewed commands
#      (scripts/check-powershell.sh);
#   9. the package's avcam-viewer.exe install / uninstall under wine, as far as wine's SetupAPI
#      goes (scripts/test-install-wine.sh);
#  10. the package built again from a copy of the tree at another path is the same bytes
#      (scripts/test-package-reproducible.sh).
# The INF cross-check (tests/inf.rs) runs with the workspace tests.
#
# Usage: scripts/ci-windows.sh      (Debian 12; installs its toolchain from apt when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/windows-toolchain.sh
source scripts/lib/windows-toolchain.sh

timings=()
step() {
    local name=$1 start
    shift
    printf '\n==> %s\n' "$name"
    start=$(date +%s%N)
    "$@"
    timings+=("$(printf '%6.1f s  %s' "$(( ($(date +%s%N) - start) / 1000000 ))e-3" "$name")")
}

step "layout assertions up to date" scripts/gen-layouts.sh --check
# --clippy: the panic handler, __chkstk, DriverEntry's symbol and the pool allocator only exist
# for the Windows target, so only this build can lint them.
step "cross-build target/driver/avcam.sys, with clippy" scripts/build-driver.sh --clippy
step "check target/driver/avcam.sys" scripts/check-driver.sh target/driver/avcam.sys --inf inf/avcam.inx
step "check-driver rejects broken images" scripts/test-check-driver.sh
step "the image on Linux: tests, planted faults, the viewer's frames" scripts/test-image.sh
step "cross-build the viewer for Windows user mode, with clippy" scripts/build-viewer-windows.sh --clippy
step "the viewer under wine: Linux's frames, no device on --backend windows" scripts/test-viewer-wine.sh
step "the Windows package built and its contents checked" scripts/package-windows.sh
step "the package's PowerShell scripts: parse, ASCII, reviewed commands" scripts/check-powershell.sh
step "install / uninstall under wine, as far as wine goes" scripts/test-install-wine.sh
step "the package again from a copy at another path: the same bytes" scripts/test-package-reproducible.sh

printf '\n==> Windows side: all steps passed\n'
printf '%s\n' "${timings[@]}"
