#!/usr/bin/env bash
# Mutation testing of the allocator and avstream cores with cargo-mutants: each mutant (an
# operator swapped, a function body replaced by a default value, a match arm deleted, ...) is
# built and the tests of its own crate (unit and integration tests) run against it. A mutant the
# tests still pass is "missed": a behaviour no test pins. Not run by CI: the whole run takes
# hours on 2 cores (docs/testing.md has each module's figures and time).
#
# Usage: scripts/mutants.sh [MODULE...] [--list] [-- CARGO_MUTANTS_ARGS...]
#   MODULE   allocator-core     allocator/src/*.rs (parsers, framing, frame book, events, state)
#            allocator-adapter  allocator/src/adapter/*.rs (the IRP adapter over the emulation)
#            avstream-core      avstream/src/*.rs (formats, ranges, intersection, clock, delivery)
#            avstream-synth     avstream/src/synth/*.rs (the pattern synthesizer)
#            allocator | avstream | all   (both modules of a crate, or all four)
#            (default: all)
#   --list   list the mutants of each module and their count, build nothing
# Installs cargo-mutants (pinned below) into target/tools when missing. Each module's results go
# to target/mutants/<module>/mutants.out/ (caught.txt, missed.txt, timeout.txt, unviable.txt);
# the script ends with one line of figures per module and exits 1 if any mutant was missed or
# timed out.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_MUTANTS_VERSION=27.1.0
tools="$PWD/target/tools"

# Mutants that no test can catch because the mutated code behaves the same: each a regex over
# cargo-mutants' mutant names, with the reason it is equivalent.
exclusions=(
    # The pool flags OR'ed are disjoint bits (POOL_FLAG_NON_PAGED / _PAGED and _CACHE_ALIGNED).
    'replace \| with \^ in PoolKind::pool_flags'
    # A FileAlignment mask is 2^n - 1 (checked first), so it is never 16: `<` and `<=` agree.
    'replace < with <= in Framing::pool_bytes_per_frame'
    # A mask of PAGE_SIZE (4096) is not 2^n - 1, so the other half of the test refuses it too.
    'replace < with <= in is_alignment_mask'
    # The hash only spreads the probes: with any start bucket every lookup finds the same slot
    # (the probe visits every bucket); only the probe lengths change, which benches measure.
    'replace bucket_of -> usize with [01]$'
    'replace >> with << in bucket_of$'
    # PROPERTY_ACCESS (the one constant of requests.rs built with `|`) ORs disjoint flags, GET 1
    # and BASICSUPPORT 0x200.
    '^allocator/src/requests.rs:[0-9]+:[0-9]+: replace \| with \^$'
    # MIN_FPS is 1: 10^7 / 1 and 10^7 * 1 are the same interval.
    'replace / with \* in CaptureRange::max_interval$'
    # KS_VIDEO_FLAG_FRAME and KS_VIDEO_FLAG_I_FRAME are both 0 in ksmedia.h (a key frame is the
    # absence of P/B flags): |, & and ^ of them are all 0.
    'replace \| with [&^] in FrameStamp::fill_frame_info$'
    # FrameStamp::OPTIONS_FLAGS (the one constant of clock.rs built with `|`) ORs disjoint
    # KSSTREAM_HEADER_OPTIONSF_* bits.
    '^avstream/src/clock.rs:[0-9]+:[0-9]+: replace \| with \^$'
    # VIDEO_CONTROL_CAPS (the one constant of controls.rs built with `|`) ORs the disjoint flips
    # KS_VideoControlFlag_FlipHorizontal 1 and FlipVertical 2.
    '^avstream/src/controls.rs:[0-9]+:[0-9]+: replace \| with \^$'
    # Saturating `if x > MAX { MAX } else { x }`: at x == MAX both branches give MAX.
    'replace > with >= in CaptureRange::bits_per_second$'
    'replace > with >= in CaptureRange::video_info_header$'
    'replace > with >= in FrameRate::frames_started_by$'
    'replace > with >= in FrameRate::time_of_frame$'
    # Synthesizer::paint converts a run of equal levels once: without the cache every column
    # is converted, to the same colour.
    'replace match guard l == levels with false in Synthesizer<S>::paint$'
    # div_round's two branches agree at n = 0: (0 - d/2) / d and (0 + d/2) / d are both 0.
    'replace < with <= in div_round$'
    # limited_luma8 ORs its even and odd lanes, which are disjoint bytes (masked by LANES and
    # !LANES): | and ^ agree.
    'replace \| with \^ in limited_luma8$'
    # yuy2_grey4 and noise_row OR values whose set bits are disjoint (x and x << 16 or x << 8
    # under the mask that follows, the even bytes and 0x80 in the odd ones, a 24-bit grey and
    # 0xFF000000): | and ^ agree.
    'replace \| with \^ in yuy2_grey4$'
    'replace \| with \^ in noise_row$'
    # store::fence is an SFENCE: it orders streaming stores for other processors, which no
    # single-threaded test can observe (x86 keeps a thread's own stores in order; Miri runs the
    # portable path).
    'replace fence with \(\)$'
    # stream_copy's body_end only splits the streamed lanes from the ordinary tail copy: a smaller
    # one copies the same bytes with ordinary stores.
    'replace \* with / in stream_copy$'
    # `up` only matters when the states differ: at equal ranks the path is empty either way.
    'replace > with >= in PinStateMachine::path_to$'
)

modules=()
list=0
extra=()
while (($#)); do
    case "$1" in
        --list) list=1; shift ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        allocator) modules+=(allocator-core allocator-adapter); shift ;;
        avstream) modules+=(avstream-core avstream-synth); shift ;;
        all) modules+=(allocator-core allocator-adapter avstream-core avstream-synth); shift ;;
        allocator-core|allocator-adapter|avstream-core|avstream-synth) modules+=("$1"); shift ;;
        *) echo "mutants.sh: unknown module '$1' (see --help)" >&2; exit 2 ;;
    esac
done
((${#modules[@]})) || modules=(allocator-core allocator-adapter avstream-core avstream-synth)

if [ "$("$tools/bin/cargo-mutants" mutants --version 2>&1)" != "cargo-mutants $CARGO_MUTANTS_VERSION" ]; then
    echo "==> installing cargo-mutants $CARGO_MUTANTS_VERSION into $tools"
    cargo install --locked --quiet --root "$tools" cargo-mutants --version "$CARGO_MUTANTS_VERSION"
fi
export PATH="$tools/bin:$PATH"

exclude_args=()
for re in "${exclusions[@]}"; do
    exclude_args+=(--exclude-re "$re")
done

# module_args MODULE: the cargo-mutants arguments that select the module's files.
module_args() {
    case "$1" in
        allocator-core) echo "--package avcam-allocator --file allocator/src/*.rs" ;;
        allocator-adapter) echo "--package avcam-allocator --file allocator/src/adapter/*.rs" ;;
        avstream-core) echo "--package avcam-avstream --file avstream/src/*.rs" ;;
        avstream-synth) echo "--package avcam-avstream --file avstream/src/synth/*.rs" ;;
    esac
}

summary=()
status=0
for module in "${modules[@]}"; do
    read -r -a selection <<<"$(module_args "$module")"
    if ((list)); then
        printf '\n==> %s\n' "$module"
        cargo mutants --list "${selection[@]}" "${exclude_args[@]}" "${extra[@]}"
        continue
    fi
    out="target/mutants/$module"
    rm -rf "$out"
    mkdir -p "$out"
    printf '\n==> %s (cargo mutants %s)\n' "$module" "${selection[*]}"
    start=$(date +%s)
    # Exit status 2 (missed mutants) and 3 (timeouts) are figures, reported below.
    cargo mutants --no-shuffle --output "$out" "${selection[@]}" "${exclude_args[@]}" \
        "${extra[@]}" || true
    seconds=$(($(date +%s) - start))
    count() { if [ -s "$out/mutants.out/$1.txt" ]; then grep -c . "$out/mutants.out/$1.txt"; else echo 0; fi; }
    caught=$(count caught) missed=$(count missed) timeout=$(count timeout) unviable=$(count unviable)
    viable=$((caught + missed + timeout))
    score=$(awk -v c="$caught" -v v="$viable" 'BEGIN { if (v) printf "%.1f %%", 100 * c / v; else print "-" }')
    summary+=("$(printf '%-18s caught %4d  missed %3d  timeout %2d  unviable %3d  caught/viable %7s  %5d s' \
        "$module" "$caught" "$missed" "$timeout" "$unviable" "$score" "$seconds")")
    ((missed + timeout == 0)) || status=1
done

if ((${#summary[@]})); then
    printf '\n==> figures (missed mutants: target/mutants/<module>/mutants.out/missed.txt)\n'
    printf '%s\n' "${summary[@]}"
fi
exit $status
