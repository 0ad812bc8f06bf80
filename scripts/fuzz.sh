#!/usr/bin/env bash
# Runs the cargo-fuzz targets (fuzz/targets) for a while each: coverage-guided search on top of the
# replay of the same bodies that `cargo test --workspace` does on stable.
# Usage: scripts/fuzz.sh [TARGET] [--seconds N] [-- LIBFUZZER_ARGS...]
#   TARGET     allocator_requests | camera_formats | driver_requests (default: all three)
#   --seconds  how long each target runs (default 60)
# Needs the nightly toolchain (`rustup toolchain install nightly`; libFuzzer's sanitizer flags are
# nightly-only) and installs cargo-fuzz when missing. New inputs go to fuzz/targets/work/<target>
# (the committed seeds in fuzz/seeds/<target> are read, never written); a crash is saved under
# fuzz/targets/artifacts/<target>/ and the script stops with libFuzzer's status.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(allocator_requests camera_formats driver_requests)
seconds=60
selected=()
extra=()
while (($#)); do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) selected+=("$1"); shift ;;
    esac
done
((${#selected[@]})) || selected=("${targets[@]}")

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "fuzz.sh: the nightly toolchain is missing (rustup toolchain install nightly);" \
         "without it only the stable replay runs: cargo test -p avcam-fuzz" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

for target in "${selected[@]}"; do
    printf '\n==> %s for %ss\n' "$target" "$seconds"
    work="fuzz/targets/work/$target"
    mkdir -p "$work"
    cargo +nightly fuzz run --fuzz-dir fuzz/targets "$target" "$work" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 "${extra[@]}"
done
