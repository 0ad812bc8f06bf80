#!/usr/bin/env bash
# The main job: the avcam camera end to end on the emulation, in the viewer.
#
# On a fresh headless Debian 12 with Rust (rustup): installs the few runtime packages the viewer
# needs (quietly, only those missing), builds avcam-viewer in release, then
#   1. lists the camera's pins and formats,
#   2. records 2 s of 720p NV12 to target/demo/avcam.y4m, with a PNG of the last frame,
#   3. runs a 3 s stress test at 720p 30 fps: JSON report + interval histogram PNG,
#   4. cross-builds the driver image itself (scripts/build-driver.sh -> target/driver/avcam.sys)
#      and records 1 s from it, loaded into the emulation (`--driver`), to target/demo/image.y4m:
#      the bytes a Windows user would install, running here,
#   5. opens the live window if a display is present (else says how to).
# Usage: scripts/demo.sh    (from anywhere; installing packages needs root or sudo the first time)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
out=target/demo
viewer=target/release/avcam-viewer
display="${DISPLAY:-}${WAYLAND_DISPLAY:-}"

# Runtime packages: xkbcommon-x11 (with libxcb) is what the window loads at run time; a linker
# for cargo if the machine has none. No Xvfb: the window is only opened on a real display.
packages=(libxkbcommon-x11-0 libx11-xcb1)
command -v cc >/dev/null || packages+=(gcc libc6-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    step "installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
else
    step "runtime packages already installed (${packages[*]})"
fi

step "building avcam-viewer (release)"
cargo build --release --locked -p avcam-viewer
mkdir -p "$out"

step "avcam-viewer list"
"$viewer" list

step "avcam-viewer record: 2 s of 1280x720 NV12 at 30 fps -> $out/avcam.y4m (+ $out/avcam.png)"
"$viewer" --format nv12 --size 1280x720 --fps 30 record --seconds 2 \
    --output "$out/avcam.y4m" --png "$out/avcam.png"
if command -v ffprobe >/dev/null; then
    printf 'ffprobe sees: '
    ffprobe -v error -count_frames -of csv=p=0 \
        -show_entries stream=width,height,pix_fmt,r_frame_rate,nb_read_frames "$out/avcam.y4m"
fi

step "avcam-viewer stress: 3 s of 1280x720 NV12 at 30 fps -> $out/stress.json, $out/stress.png"
"$viewer" --format nv12 --size 1280x720 --fps 30 stress --seconds 3 --json \
    --plot "$out/stress.png" >"$out/stress.json"
if command -v python3 >/dev/null; then
    python3 - "$out/stress.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
a = r["arrival"] or {}
al = r["allocator"]
allocator = (f'allocator {al["framing"]["frames"]} x {al["framing"]["frame_size"]} B, '
             f'allocs {al["allocs"]}, frees {al["frees"]}' if al else 'no allocator')
print(f'{r["frames_delivered"]} frames in {r["seconds"]:.2f} s = {r["fps_delivered"]:.2f} fps, '
      f'dropped {r["frames_dropped"]}, arrival jitter p50 {a.get("jitter_us", {}).get("p50", 0):.0f} us '
      f'p99 {a.get("jitter_us", {}).get("p99", 0):.0f} us, {r["config"]["frame_path"]} mode '
      f'({r["frames_in_allocator_frames"]} frames in allocator frames; {allocator})')
EOF
else
    cat "$out/stress.json"
fi

step "the driver image: cross-build target/driver/avcam.sys and record 1 s from it -> $out/image.y4m"
scripts/build-driver.sh
"$viewer" --driver target/driver/avcam.sys --format nv12 --size 1280x720 --fps 30 record \
    --seconds 1 --output "$out/image.y4m"

if [ -n "$display" ]; then
    step "avcam-viewer view: the live camera in a window (Esc or Q closes it)"
    "$viewer" --format nv12 --size 1280x720 --fps 30 view ||
        echo "the window did not open (see the line above); the PNG and plot are in $out/"
else
    step "no display: not opening the window"
    echo "The last recorded frame:        $out/avcam.png"
    echo "The recording (ffmpeg/mpv):     $out/avcam.y4m   e.g. mpv $out/avcam.y4m"
    echo "The stress report and its plot: $out/stress.json, $out/stress.png"
    echo "On a machine with a display:    $viewer view   (or: cargo run --release -p avcam-viewer)"
fi

step "done"
echo "built $viewer; listed the camera; recorded $out/avcam.y4m + $out/avcam.png;"
echo "stress-tested 3 s -> $out/stress.json + $out/stress.png;"
echo "recorded 1 s from the cross-built target/driver/avcam.sys -> $out/image.y4m"
