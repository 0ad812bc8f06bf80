#!/usr/bin/env bash
# Builds the Windows package a second time, from a copy of this tree at another path with its
# own empty target directory (so the driver, the standard libraries and the viewer are all
# compiled again), and checks that the zip is the same bytes as target/package's. On a
# difference, names the entries that differ.
#
# The copy holds the files git would commit (tracked files as they are in the tree, new files
# that are not ignored); the commit date is passed as SOURCE_DATE_EPOCH, since the copy has no
# .git. Usage: scripts/test-package-reproducible.sh   (after scripts/package-windows.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(python3 scripts/package_windows.py version)
first=target/package/avcam-$version-x64.zip
[ -f "$first" ] || { echo "error: $first is missing; run scripts/package-windows.sh" >&2; exit 1; }
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
export SOURCE_DATE_EPOCH

copy=$(mktemp -d "${TMPDIR:-/tmp}/avcam-repro.XXXXXX")
# The copy's release viewer builds under /var/tmp (scripts/build-viewer-windows.sh): removed too.
release_dir=/var/tmp/avcam-windows-release-$(printf '%s' "$copy/avcam" | sha256sum | cut -c1-12)
trap 'rm -rf "$copy" "$release_dir"' EXIT
mkdir "$copy/avcam"
git ls-files -z --cached --others --exclude-standard |
    tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$copy/avcam"
echo "second build in $copy/avcam (not $PWD), empty target directory"
start=$(date +%s%N)
(cd "$copy/avcam" && scripts/package-windows.sh --bytes-only) >"$copy/build.log" 2>&1 ||
    { cat "$copy/build.log" >&2; echo "error: the second build failed" >&2; exit 1; }
seconds=$(( ($(date +%s%N) - start) / 1000000000 ))
second=$copy/avcam/$first

one=$(sha256sum "$first" | cut -d' ' -f1)
two=$(sha256sum "$second" | cut -d' ' -f1)
echo "first:  $one  $first"
echo "second: $two  (built in $seconds s)"
if [ "$one" = "$two" ]; then
    echo "PASS  the package is the same bytes from two builds at two paths"
    exit 0
fi
python3 - "$first" "$second" <<'PY'
import sys, zipfile
a, b = (zipfile.ZipFile(p) for p in sys.argv[1:3])
names = sorted(set(a.namelist()) | set(b.namelist()))
for name in names:
    x = a.read(name) if name in a.namelist() else None
    y = b.read(name) if name in b.namelist() else None
    if x != y:
        where = "missing in one" if x is None or y is None else next(
            (f"first difference at byte {i:#x}" for i, (p, q) in enumerate(zip(x, y)) if p != q),
            f"sizes {len(x)} and {len(y)}")
        print(f"FAIL  {name} differs: {where}")
PY
echo "FAIL  the two builds differ" >&2
exit 1
