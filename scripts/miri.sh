#!/usr/bin/env bash
# Runs the allocator's and the camera core's tests (unit and integration tests, the emulation
# under them included) under Miri, the interpreter that reports undefined behaviour: out-of-bounds
# and dangling accesses, misaligned reads, invalid values, data races, calls through pointers
# that are not functions, and leaks.
#
# Usage: scripts/miri.sh [--ci | CRATE...] [-- TEST_ARGS...]
#   CRATE   avcam-allocator | avcam-avstream   (default: both, every test)
#   --ci    what CI runs (scripts/test.sh): every test of the allocator, and every test of
#           avstream but those that render pictures (the synthesizer's unit tests `synth::`,
#           tests/synthesis.rs, tests/pin_flow.rs), which take hours interpreted
# Installs its own toolchain when missing (rustup, the nightly pinned below, with the miri and
# rust-src components: Miri exists only on nightly). Takes a while: docs/testing.md has the
# measured time.
#
# Flags:
# - -Zmiri-disable-isolation: proptest reads the working directory (its regression files) and
#   the environment (PROPTEST_CASES);
# - -Zmiri-permissive-provenance: the emulation keys its objects by address and turns addresses
#   back into pointers (`usize as *mut T`, exposed provenance), as a kernel does; Miri allows it
#   and would warn at every such cast;
# - PROPTEST_CASES=16 (unless set): the property tests' inputs, fewer than the 256 of
#   `cargo test` (each case is interpreted; the cases themselves are the same kind).
# Skipped under Miri (`cfg(miri)`, the reason beside it) is only what Miri cannot run: the SSE2
# streaming stores (avstream/src/synth/store.rs takes its portable path) and the image mode
# (AVCAM_DRIVER_IMAGE: avcam-loader's mmap, signal handlers and machine code); nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLCHAIN=nightly-2026-05-20

crates=()
extra=()
ci=0
while (($#)); do
    case "$1" in
        --ci) ci=1; shift ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        avcam-allocator|avcam-avstream) crates+=("$1"); shift ;;
        *) echo "miri.sh: unknown crate '$1' (avcam-allocator or avcam-avstream)" >&2; exit 2 ;;
    esac
done
((${#crates[@]})) || crates=(avcam-allocator avcam-avstream)

if ! rustup run "$TOOLCHAIN" cargo miri --version >/dev/null 2>&1; then
    echo "==> installing $TOOLCHAIN with miri and rust-src"
    rustup toolchain install "$TOOLCHAIN" --profile minimal --component miri --component rust-src
fi

export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation -Zmiri-permissive-provenance}"
export PROPTEST_CASES="${PROPTEST_CASES:-16}"
start=$(date +%s)
if ((ci)); then
    cargo "+$TOOLCHAIN" miri test --locked -p avcam-allocator -- "${extra[@]}"
    cargo "+$TOOLCHAIN" miri test --locked -p avcam-avstream --lib --test parsers -- \
        --skip synth:: "${extra[@]}"
    what="the allocator's tests and avstream's but the rendering ones"
else
    packages=()
    for crate in "${crates[@]}"; do
        packages+=(-p "$crate")
    done
    cargo "+$TOOLCHAIN" miri test --locked "${packages[@]}" -- "${extra[@]}"
    what="${crates[*]}"
fi
echo "==> miri: $what passed in $(($(date +%s) - start)) s"
