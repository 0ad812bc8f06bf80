#!/usr/bin/env bash
# Soaks the viewer's stress command and watches its memory: two release-build runs side by side,
# 640x480 NV12 at 1000 fps and 1280x720 NV12 unthrottled (--fps 0), each for N minutes (plus 30 s,
# so that the N-minute sample is taken while both still run), printing each one's resident memory
# (VmRSS, and the peak VmHWM, from /proc) every interval. At the end it compares the RSS at
# N minutes with the RSS at 1 minute: the statistics are kept in bounded memory, so it must stay
# within 10 % (exit 1 otherwise). Not part of CI (it takes N minutes). Linux only.
#
# Usage: scripts/soak.sh [--minutes N] [--every SECONDS]     defaults: --minutes 30 --every 60
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=30 every=60
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) minutes="${2:?--minutes needs a value}"; shift ;;
        --every) every="${2:?--every needs a value}"; shift ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "usage: $0 [--minutes N] [--every SECONDS]" >&2; exit 2 ;;
    esac
    shift
done
case "$minutes$every" in
    *[!0-9]*) echo "error: --minutes and --every take whole numbers" >&2; exit 2 ;;
esac
if [ "$minutes" -lt 1 ] || [ "$every" -lt 1 ] || [ $((60 % every)) -ne 0 ]; then
    echo "error: --minutes must be at least 1, and --every divide 60 (a sample at 1 minute is needed)" >&2
    exit 2
fi

cargo build --release --locked --quiet --package avcam-viewer --bin avcam-viewer
viewer=target/release/avcam-viewer
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

seconds=$((minutes * 60 + 30))
names=(1000fps fps0)
"$viewer" --size 640x480 --fps 1000 stress --seconds "$seconds" --json >"$work/1000fps.json" 2>"$work/1000fps.err" &
pids+=($!)
"$viewer" --size 1280x720 --fps 0 stress --seconds "$seconds" --json >"$work/fps0.json" 2>"$work/fps0.err" &
pids+=($!)
echo "soak: ${names[0]} (640x480 nv12 --fps 1000, pid ${pids[0]}) and ${names[1]} (1280x720 nv12 --fps 0, pid ${pids[1]}), $minutes min (+30 s)"

# kB of a /proc status field of a pid, or "-" once it has exited.
field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo -; }

declare -A at_one at_end
start=$(date +%s)
for ((t = every; t <= minutes * 60; t += every)); do
    wait_for=$((start + t - $(date +%s)))
    if [ "$wait_for" -gt 0 ]; then sleep "$wait_for"; fi
    line=$(printf 't=%5ds' "$t")
    for i in 0 1; do
        rss=$(field "${pids[$i]}" VmRSS) hwm=$(field "${pids[$i]}" VmHWM)
        line+=$(printf '  %s RSS %8s kB (peak %8s kB)' "${names[$i]}" "${rss:--}" "${hwm:--}")
        [ "$t" -eq 60 ] && at_one[$i]=$rss
        at_end[$i]=$rss
    done
    echo "$line"
done

status=0
for i in 0 1; do
    wait "${pids[$i]}" || { echo "FAIL  ${names[$i]}: stress failed: $(cat "$work/${names[$i]}.err")"; status=1; continue; }
    one=${at_one[$i]:-} end=${at_end[$i]:-}
    frames=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["frames_delivered"], "frames, %.0f fps" % r["fps_delivered"])' "$work/${names[$i]}.json")
    if [ -z "$one" ] || [ -z "$end" ] || [ "$one" = - ] || [ "$end" = - ]; then
        echo "FAIL  ${names[$i]}: no RSS sample at 1 minute or at the end"; status=1; continue
    fi
    change=$(python3 -c "print('%+.1f' % (100.0 * ($end - $one) / $one))")
    if python3 -c "import sys; sys.exit(0 if abs($end - $one) <= 0.10 * $one else 1)"; then
        echo "PASS  ${names[$i]}: RSS $one kB at 1 min, $end kB at $minutes min ($change %); $frames"
    else
        echo "FAIL  ${names[$i]}: RSS $one kB at 1 min, $end kB at $minutes min ($change %, more than 10 %); $frames"
        status=1
    fi
done
exit "$status"
