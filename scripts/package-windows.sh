#!/usr/bin/env bash
# Builds the Windows package a user installs without the WDK:
#   target/package/avcam-<version>-x64.zip, one folder avcam-<version>-x64/ holding
#     README.txt        packaging/windows/README.txt
#     avcam.inf         inf/avcam.inx stamped (scripts/package_windows.py: DriverVer from the
#                       workspace version and the commit date, $ARCH$ = amd64, avcam.cat)
#     avcam.sys         target/driver/avcam.sys (scripts/build-driver.sh, release)
#     avcam-viewer.exe  the viewer's Windows release build (scripts/build-viewer-windows.sh --release)
#     install.ps1, uninstall.ps1   packaging/windows/
# then checks it: the entries and their order, each entry's bytes against its source, the dates,
# the INF's stamp; the INF taken out of the zip is cross-checked against the driver's constants
# (tests/inf.rs with AVCAM_STAMPED_INF) and the image out of the zip is checked with it
# (scripts/check-driver.sh --inf). The zip is also unpacked into target/package/avcam-<version>-x64/
# for scripts/test-install-wine.sh.
#
# Reproducible: the date is the commit's (SOURCE_DATE_EPOCH when set, e.g. in a copy without
# .git: scripts/test-package-reproducible.sh), the linkers write no timestamps, source paths are
# trimmed, and the zip's entries have a fixed order, date and attributes.
#
# Usage: scripts/package-windows.sh [--bytes-only]
#   --bytes-only  build, write and check the zip, but skip the cross-checks that need the host
#                 build (tests/inf.rs, check-driver.sh) and the unpacked folder: for the second
#                 build of scripts/test-package-reproducible.sh, whose first build ran them.
# Debian 12; installs its toolchain from apt when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bytes_only=
case "${1:-}" in
    "") ;;
    --bytes-only) bytes_only=1 ;;
    *) echo "usage: $0 [--bytes-only]" >&2; exit 2 ;;
esac
start=$(date +%s%N)

version=$(python3 scripts/package_windows.py version)
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) ||
        { echo "error: no git history: set SOURCE_DATE_EPOCH to the commit's date" >&2; exit 2; }
fi
export SOURCE_DATE_EPOCH
name=avcam-$version-x64
out=target/package
zip=$out/$name.zip
echo "packaging $name (date $(date -u -d "@$SOURCE_DATE_EPOCH" +%F), from the commit)"

scripts/build-driver.sh
scripts/build-viewer-windows.sh --release
exe=target/windows-user/x86_64-win7-windows-gnu/release/avcam-viewer.exe

mkdir -p "$out"
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 scripts/package_windows.py stamp --inx inf/avcam.inx --version "$version" \
    --epoch "$SOURCE_DATE_EPOCH" -o "$work/avcam.inf"

entries=(
    "README.txt=packaging/windows/README.txt"
    "avcam.inf=$work/avcam.inf"
    "avcam.sys=target/driver/avcam.sys"
    "avcam-viewer.exe=$exe"
    "install.ps1=packaging/windows/install.ps1"
    "uninstall.ps1=packaging/windows/uninstall.ps1"
)
python3 scripts/package_windows.py zip --out "$zip" --folder "$name" --epoch "$SOURCE_DATE_EPOCH" \
    "${entries[@]}"
echo
python3 scripts/package_windows.py check "$zip" --folder "$name" --epoch "$SOURCE_DATE_EPOCH" \
    --version "$version" --expect "${entries[@]}"

# What the user unpacks, for the cross-checks and the wine test.
if [ -z "$bytes_only" ]; then
rm -rf "${out:?}/$name"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$zip" "$out"
echo
echo "the INF out of the zip against the driver's constants (tests/inf.rs):"
AVCAM_STAMPED_INF="$PWD/$out/$name/avcam.inf" cargo test --locked --quiet --test inf \
    the_stamped_inf_matches_the_driver_identity 2>&1 | grep -E "test result|panicked|FAILED|error"
echo "the image out of the zip, with the INF out of the zip:"
scripts/check-driver.sh "$out/$name/avcam.sys" --map target/driver/avcam.map \
    --inf "$out/$name/avcam.inf" | tail -2
fi

elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf '\nbuilt %s (%s bytes, sha256 %s) in %d.%01d s\n' "$zip" "$(stat -c %s "$zip")" \
    "$(sha256sum "$zip" | cut -d' ' -f1)" $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100))
