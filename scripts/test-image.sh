#!/usr/bin/env bash
# Runs the cross-built driver image itself (target/driver/avcam.sys, from
# scripts/build-driver.sh) in this Linux process through avcam-loader, and checks:
#   1. the root package's end-to-end tests (tests/*.rs) and the allocator's tests of its exported
#      functions (allocator/tests/{external,validation}.rs) pass against the image
#      (AVCAM_DRIVER_IMAGE: the switch the tests read);
#   2. a planted fault in the image makes them fail with the bug-check report, never a bare
#      signal: int3 at the start of avcam::frame_path::pin_process (bug check 0x1E) and
#      __fastfail(7), what the panic handler ends with, at the start of
#      avcam::capture_pin::pin_create (bug check 0x139), each named with its symbol;
#   3. the viewer records the same bytes from the image (`--driver`) as from its built-in
#      driver (the Linux build), frame for frame, on the virtual clock (`--fps 0`), in allocator
#      and copy mode, at the default controls and with patterns and picture controls set through
#      the filter's property sets (scripts/compare_y4m.py names the first frame that differs);
#   4. `stress --inject` on the image: every injected fault observed, exactly, on the virtual
#      clock.
# Usage: scripts/test-image.sh [IMAGE]     (default target/driver/avcam.sys; its .map beside it)
set -euo pipefail
cd "$(dirname "$0")/.."

image=$(realpath "${1:-target/driver/avcam.sys}")
[ -f "$image" ] || { echo "error: $image is missing; run scripts/build-driver.sh" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL  $*" >&2; failures=$((failures + 1)); }
pass() { echo "PASS  $*"; }

# 1. The tests against the image (the same test binaries `cargo test` built; only the variable
#    differs).
echo "== the end-to-end tests against $image"
AVCAM_DRIVER_IMAGE=$image cargo test --locked --quiet -p avcam --test '*' 2>&1 | tail -n 3
AVCAM_DRIVER_IMAGE=$image cargo test --locked --quiet -p avcam-allocator \
    --test external --test validation 2>&1 | tail -n 3
pass "tests/*.rs and the allocator's export tests pass against the image"

# 2. Planted faults: the tests fail with the report (exit status 70 from avcam-loader).
planted() {
    local kind=$1 function=$2 test=$3 expected=$4 symbol=$5 dir=$work/$1 status=0
    /usr/bin/python3 scripts/plant_fault.py "$image" "$function" "$dir" --kind "$kind"
    AVCAM_DRIVER_IMAGE=$dir/avcam.sys cargo test --locked --quiet -p avcam --test "$test" \
        >"$dir/out.txt" 2>&1 || status=$?
    if [ $status -eq 0 ]; then
        fail "$kind at $function: the tests passed"
    elif grep -qF "$expected" "$dir/out.txt" && grep -qF "$symbol" "$dir/out.txt" &&
        grep -qF "exit status: 70" "$dir/out.txt"; then
        pass "$kind at $function: the tests fail with \"$(grep -m1 -F "$expected" "$dir/out.txt" | sed 's/^\*\*\* //')\" $(grep -m1 -F "$symbol" "$dir/out.txt" | sed 's/^ *//')"
    else
        fail "$kind at $function: the tests failed without the report:"
        sed 's/^/      /' "$dir/out.txt" >&2
    fi
}
echo "== planted faults"
planted int3 frame_path::pin_process streaming \
    "bug check 0x0000001E KMODE_EXCEPTION_NOT_HANDLED" "avcam::frame_path::pin_process+0x0"
planted fastfail capture_pin::pin_create streaming \
    "bug check 0x00000139 KERNEL_SECURITY_CHECK_FAILURE" "avcam::capture_pin::pin_create+0x5"

# 3. The viewer: the image's frames are the Linux build's.
echo "== the viewer on the image"
cargo build --locked --quiet --package avcam-viewer --bin avcam-viewer
viewer=target/debug/avcam-viewer
recordings=(
    "nv12-640x480|--fps 0 --format nv12 --size 640x480"
    "yuy2-1280x720|--fps 0 --format yuy2 --size 1280x720"
    "rgb24-320x240-copy|--fps 0 --format rgb24 --size 320x240 --copy"
    "controls-nv12-640x480|--fps 0 --format nv12 --size 640x480 --pattern zoneplate --set hflip=on --set brightness=1500 --set hue=4500 --caption image"
    "controls-rgb32-320x240-copy|--fps 0 --format rgb32 --size 320x240 --copy --pattern bars100 --set vflip=on --set gamma=180 --set saturation=0"
)
for entry in "${recordings[@]}"; do
    name=${entry%%|*}
    read -r -a flags <<<"${entry#*|}"
    "$viewer" "${flags[@]}" record --frames 30 -o "$work/linux-$name.y4m" 2>/dev/null
    "$viewer" --driver "$image" "${flags[@]}" record --frames 30 -o "$work/image-$name.y4m" \
        2>/dev/null
    if comparison=$(/usr/bin/python3 scripts/compare_y4m.py "$work/linux-$name.y4m" \
        "$work/image-$name.y4m"); then
        pass "viewer --driver: $name is the Linux build's recording ($(tail -n 2 <<<"$comparison" | tr '\n' ' ' | sed 's/ $//'))"
    else
        fail "viewer --driver: $name differs from the Linux build's: $comparison"
    fi
done

# 4. Fault injection on the image: on the virtual clock (unthrottled), what the viewer observed
#    is exactly what the image's camera says it injected.
echo "== fault injection on the image"
spec=drop=10%,burst=2/25,delay=200us,jitter=300us,spike=300us/10,empty=7,discontinuity=5,seed=7
if "$viewer" --driver "$image" --format yuy2 --size 320x240 --fps 0 --copy stress --seconds 1 \
    --json --inject "$spec" >"$work/inject.json" 2>"$work/inject.err" &&
    verdict=$(/usr/bin/python3 - "$work/inject.json" <<'PY'
import json, sys
faults = json.load(open(sys.argv[1]))["faults"]
i, o = faults["injected"], faults["observed"]
pairs = [("dropped", i["dropped"] + i["burst_dropped"] + i["stall_dropped"], o["missing"]),
         ("late", i["delayed"], o["late"]), ("empty", i["empty"], o["empty"]),
         ("discontinuity", i["discontinuity"], o["discontinuity"])]
wrong = [f"{k} injected {a} observed {b}" for k, a, b in pairs if a != b or a == 0]
print("; ".join(wrong) if wrong else ", ".join(f"{k} {a}" for k, a, _ in pairs))
sys.exit(1 if wrong else 0)
PY
    ); then
    pass "viewer --driver stress --inject: observed = injected ($verdict)"
else
    fail "viewer --driver stress --inject: ${verdict:-$(cat "$work/inject.err")}"
fi

if [ $failures -ne 0 ]; then
    echo "driver image on Linux: $failures FAILED"
    exit 1
fi
echo "driver image on Linux: all checks passed"
