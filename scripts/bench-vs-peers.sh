#!/usr/bin/env bash
# avcam's pattern synthesis next to FFmpeg's and GStreamer's test sources and the memory bound,
# for one size, format and frame count, one after the other in one run.
#
# Usage: scripts/bench-vs-peers.sh [--json] [--frames N] [--size 1080p|4k] [--format nv12|yuy2]
#   defaults: --frames 600 --size 1080p --format nv12
#
# Method (see docs/performance.md):
# - avcam and the memset/memcpy bounds: the synthesis bench in peer mode renders exactly N frames
#   in one process and times them itself (one warm-up frame not counted); every frame is folded
#   into a printed checksum so no render can be optimised away.
# - FFmpeg and GStreamer: wall clock of the whole process for N frames minus the wall clock for
#   a few frames (the fastest of two), so startup and pipeline setup cancel out:
#   fps = (N - n0) / (t(N) - t(n0)).
# - "1 thread": ffmpeg -threads 1 -filter_threads 1 -filter_complex_threads 1, avcam one thread;
#   "all cores": ffmpeg's defaults, avcam rendering one band per core. videotestsrc has no
#   threading of its own, so GStreamer has no all-cores figure.
# Installs ffmpeg, gstreamer1.0-tools and gstreamer1.0-plugins-base with apt when missing (root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."

json=0 frames=600 size=1080p format=nv12
while [ $# -gt 0 ]; do
    case "$1" in
        --json) json=1 ;;
        --frames) frames="${2:?--frames needs a value}"; shift ;;
        --size) size="${2:?--size needs a value}"; shift ;;
        --format) format="${2:?--format needs a value}"; shift ;;
        -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
case "$size" in 1080p|1080) size=1080p w=1920 h=1080 ;; 4k|4K) size=4k w=3840 h=2160 ;;
    *) echo "--size: 1080p or 4k" >&2; exit 2 ;; esac
case "$format" in nv12|NV12) format=nv12 ff_fmt=nv12 gst_fmt=NV12 ;;
    yuy2|YUY2) format=yuy2 ff_fmt=yuyv422 gst_fmt=YUY2 ;;
    *) echo "--format: nv12 or yuy2" >&2; exit 2 ;; esac
case "$frames" in ''|*[!0-9]*) echo "--frames: a positive number" >&2; exit 2 ;; esac
[ "$frames" -ge 20 ] || { echo "--frames: at least 20" >&2; exit 2; }

log() { echo "$*" >&2; }

# Tools: ffmpeg and GStreamer from apt, once, quietly.
missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v gst-launch-1.0 >/dev/null || missing+=(gstreamer1.0-tools)
command -v gst-inspect-1.0 >/dev/null && gst-inspect-1.0 videotestsrc >/dev/null 2>&1 \
    || missing+=(gstreamer1.0-plugins-base)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || { log "missing ${missing[*]}: run as root or install them"; exit 1; }
    log "installing ${missing[*]} (apt)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# avcam's synthesis bench, release build; the executable path comes from cargo's JSON messages.
log "building the synthesis bench (release)"
bench=$(cargo bench -p avcam-avstream --bench synthesis --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "synthesis":
        print(m["executable"])')
[ -x "$bench" ] || { log "could not build the synthesis bench"; exit 1; }

# Seconds of wall clock for one run of "$@" (output discarded).
wall() {
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1 || { log "failed: $*"; return 1; }
    end=$(date +%s%N)
    echo $(( end - start ))
}

# frames/s of a peer: "$1" is a command template where {N} is the frame count.
few=$(( frames / 10 < 10 ? 10 : frames / 10 ))
peer_fps() {
    local template="$1" big small1 small2 small
    big=$(wall bash -c "${template//\{N\}/$frames}")
    small1=$(wall bash -c "${template//\{N\}/$few}")
    small2=$(wall bash -c "${template//\{N\}/$few}")
    small=$(( small1 < small2 ? small1 : small2 ))
    python3 -c "import sys; d=($big-$small)/1e9; print(f'{($frames-$few)/d:.1f}' if d>0 else 'nan')"
}

ff_in="-hide_banner -nostdin -loglevel error -nostats -f lavfi -i"
ff_out="-frames:v {N} -pix_fmt $ff_fmt -f null -"
ff_single="-threads 1 -filter_threads 1 -filter_complex_threads 1"
gst_caps="video/x-raw,format=$gst_fmt,width=$w,height=$h,framerate=30/1"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "avcam synthesis + memory bounds ($size $format, $frames frames)"
avcam_json=$("$bench" --frames "$frames" --size "$size" --format "$format" --json)

declare -A peers
run_peer() { # key, threads-label, template
    log "  $1 ($2)"
    peers["$1|$2"]=$(peer_fps "$3")
}
log "peers: each run with $frames and with $few frames"
run_peer "ffmpeg testsrc2" single "ffmpeg $ff_single $ff_in testsrc2=size=${w}x${h}:rate=30 $ff_out"
run_peer "ffmpeg testsrc2" all "ffmpeg $ff_in testsrc2=size=${w}x${h}:rate=30 $ff_out"
run_peer "ffmpeg smptebars" single "ffmpeg $ff_single $ff_in smptebars=size=${w}x${h}:rate=30 $ff_out"
run_peer "ffmpeg smptebars" all "ffmpeg $ff_in smptebars=size=${w}x${h}:rate=30 $ff_out"
run_peer "gst videotestsrc smpte" single \
    "gst-launch-1.0 -q videotestsrc pattern=smpte num-buffers={N} ! $gst_caps ! fakesink"
run_peer "gst videotestsrc ball" single \
    "gst-launch-1.0 -q videotestsrc pattern=ball num-buffers={N} ! $gst_caps ! fakesink"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

peer_lines=""
for key in "${!peers[@]}"; do peer_lines+="$key|${peers[$key]}"$'\n'; done

AVCAM_JSON="$avcam_json" PEERS="$peer_lines" JSON_OUT="$json" \
LOAD_BEFORE="$load_before" LOAD_AFTER="$load_after" \
FFMPEG_VERSION="$(ffmpeg -version | head -1 | cut -d' ' -f3)" \
GST_VERSION="$(gst-launch-1.0 --version | head -1 | awk '{print $NF}')" \
    python3 "$here/bench/table.py"
