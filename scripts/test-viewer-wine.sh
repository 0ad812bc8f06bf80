#!/usr/bin/env bash
# Runs the Windows build of the viewer (scripts/build-viewer-windows.sh) under wine, headless,
# and checks it against the Linux build of the same source:
#   1. the Linux viewer records deterministically: two runs of each recording are identical;
#   2. under wine, the emulated backend records the same bytes, frame for frame
#      (scripts/compare_y4m.py names the first frame that differs), in allocator and copy mode;
#   3. under wine, `--backend windows` (real KS handles: SetupDi finds no device there) makes
#      `list` and `record` exit 3 with the one line "no avcam camera is installed (...)", and
#      leaves no output file;
#   4. the Linux viewer refuses `--backend windows` with exit 2;
#   4b. under wine, outputs that are DOS device names (NUL.y4m, nul.png, COM1.png) or carry the
#      wrong extension are refused with exit 2 and one line, and nothing is created; an
#      existing regular file is replaced (the Windows build's own checks in src/output.rs);
#   5. the client's unit tests, built for Windows, pass under wine: among them the Windows
#      transport's own (SetupDi finds no interface of an unregistered category; requests on a
#      bad handle fail with their Win32 code), the only code of it that can run without a device.
# Recordings use the virtual clock (`--fps 0 record --frames N`), so frames do not depend on
# timing. Installs wine from apt when missing. Usage: scripts/test-viewer-wine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/windows-toolchain.sh
source scripts/lib/windows-toolchain.sh

ensure_packages wine64 wine
exe=target/windows-user/x86_64-win7-windows-gnu/debug/avcam-viewer.exe
[ -f "$exe" ] || { echo "error: $exe is missing; run scripts/build-viewer-windows.sh" >&2; exit 1; }

# The Linux build of the same source (cheap when `cargo test` built it already).
cargo build --locked --quiet --package avcam-viewer --bin avcam-viewer
linux=target/debug/avcam-viewer

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export WINEPREFIX=$work/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
# Create the prefix once, quietly (its messages are wine's own, not the viewer's).
start=$(date +%s%N)
wine wineboot --init >/dev/null 2>&1 || true
printf 'wine prefix created in %d ms\n' $(( ($(date +%s%N) - start) / 1000000 ))

failures=0
fail() { echo "FAIL  $*" >&2; failures=$((failures + 1)); }
pass() { echo "PASS  $*"; }

# name | stream flags: 30 frames of 640x480 NV12 (allocator mode, the default), and of 320x240
# RGB24 read into the viewer's own buffers (--copy), on the virtual clock.
recordings=(
    "nv12-640x480|--fps 0 --format nv12 --size 640x480"
    "rgb24-320x240-copy|--fps 0 --format rgb24 --size 320x240 --copy"
)
for entry in "${recordings[@]}"; do
    name=${entry%%|*}
    read -r -a flags <<<"${entry#*|}"
    for run in 1 2; do
        "$linux" "${flags[@]}" record --frames 30 -o "$work/linux-$name-$run.y4m" 2>/dev/null
    done
    if cmp -s "$work/linux-$name-1.y4m" "$work/linux-$name-2.y4m"; then
        pass "linux: $name is the same on two runs"
    else
        fail "linux: $name differs between two runs: the reference is not deterministic"
        python3 scripts/compare_y4m.py "$work/linux-$name-1.y4m" "$work/linux-$name-2.y4m" || true
        continue
    fi
    start=$(date +%s%N)
    if ! wine "$exe" "${flags[@]}" record --frames 30 -o "$work/wine-$name.y4m" 2>"$work/wine.err"; then
        fail "wine: $name: the viewer failed: $(cat "$work/wine.err")"
        continue
    fi
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    if python3 scripts/compare_y4m.py "$work/linux-$name-1.y4m" "$work/wine-$name.y4m" >"$work/compare.txt"; then
        pass "wine: $name identical to Linux frame for frame, $(sed -n 2p "$work/compare.txt") ($ms ms), sha256 $(sha256sum "$work/wine-$name.y4m" | cut -c1-16)"
    else
        cat "$work/compare.txt" >&2
        fail "wine: $name differs from Linux"
    fi
done

# The Windows backend with no avcam device: exit 3, one line, nothing written.
for command in "list" "record --frames 2 -o $work/none.y4m"; do
    read -r -a args <<<"$command"
    status=0
    wine "$exe" --backend windows "${args[@]}" >"$work/out.txt" 2>"$work/err.txt" || status=$?
    lines=$(grep -c '' "$work/err.txt" || true)
    if [ "$status" -eq 3 ] && [ "$lines" -eq 1 ] \
        && grep -q '^avcam-viewer: no avcam camera is installed (no KSCATEGORY_VIDEO_CAMERA interface' "$work/err.txt" \
        && [ ! -e "$work/none.y4m" ]; then
        pass "wine: --backend windows ${args[0]}: exit 3, \"$(cat "$work/err.txt")\""
    else
        fail "wine: --backend windows ${args[0]}: exit $status, $lines line(s) on stderr: $(cat "$work/err.txt")"
    fi
done

# Outputs under wine: device names and wrong extensions refused, a regular file replaced.
outputs="$work/outputs" exe_path=$(realpath "$exe")
mkdir -p "$outputs"
for entry in "NUL.y4m|-o NUL.y4m|NUL is a Windows device name" \
    "nul.png|-o ok.y4m --png nul.png|NUL is a Windows device name" \
    "COM1.png|-o ok.y4m --png COM1.png|COM1 is a Windows device name" \
    "same.y4m twice|-o same.y4m --png same.y4m|must end with .png"; do
    IFS='|' read -r name options expected <<<"$entry"
    read -r -a opts <<<"$options"
    status=0
    (cd "$outputs" && wine "$exe_path" --fps 0 --size 320x240 record --frames 2 "${opts[@]}") \
        >"$work/out.txt" 2>"$work/err.txt" || status=$?
    lines=$(grep -c '' "$work/err.txt" || true)
    if [ "$status" -eq 2 ] && [ "$lines" -eq 1 ] && grep -q "$expected" "$work/err.txt" \
        && [ -z "$(ls -A "$outputs")" ]; then
        pass "wine: output $name refused (exit 2, nothing created)"
    else
        fail "wine: output $name: exit $status, $(cat "$work/err.txt"), left: $(ls -A "$outputs")"
    fi
done
echo "an older file" >"$outputs/old.y4m"
if (cd "$outputs" && wine "$exe_path" --fps 0 --size 320x240 record --frames 2 -o old.y4m) 2>"$work/err.txt" \
    && head -c 10 "$outputs/old.y4m" | grep -q '^YUV4MPEG2' && [ "$(ls -A "$outputs")" = old.y4m ]; then
    pass "wine: an existing regular file is replaced, no partial file left"
else
    fail "wine: replacing a regular file: $(cat "$work/err.txt"), left: $(ls -A "$outputs")"
fi

status=0
"$linux" --backend windows list 2>"$work/err.txt" || status=$?
if [ "$status" -eq 2 ] && grep -q 'needs a Windows build' "$work/err.txt"; then
    pass "linux: --backend windows is a usage error (exit 2)"
else
    fail "linux: --backend windows: exit $status: $(cat "$work/err.txt")"
fi

# The client's tests for Windows, in the viewer's target directory (the same standard library).
start=$(date +%s%N)
if (
    use_debian_rust
    export CARGO_TARGET_DIR="$PWD/target/windows-user"
    export CARGO_TARGET_X86_64_WIN7_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
    export CARGO_TARGET_X86_64_WIN7_WINDOWS_GNU_RUNNER=wine
    cargo test --locked --quiet --package avcam-client --lib --target x86_64-win7-windows-gnu \
        -Z build-std=std,panic_unwind --config 'profile.dev.panic="unwind"'
) >"$work/client-tests.txt" 2>&1; then
    pass "wine: the client's tests for Windows: $(grep -o '[0-9]* passed' "$work/client-tests.txt" | tail -1) ($(( ($(date +%s%N) - start) / 1000000 )) ms with the build)"
else
    cat "$work/client-tests.txt" >&2
    fail "wine: the client's tests for Windows"
fi

if [ "$failures" -ne 0 ]; then
    echo "viewer under wine: $failures check(s) failed" >&2
    exit 1
fi
echo "viewer under wine: all checks passed"
