#!/usr/bin/env bash
# Cross-builds the viewer for Windows user mode on Linux: avcam-viewer for x86_64-win7-windows-gnu
# (tier 3: std and panic runtimes built from Debian's rust-web-src), linked by mingw-w64's gcc,
# into target/windows-user/x86_64-win7-windows-gnu/debug/avcam-viewer.exe (release/: below).
# The win7 target, not x86_64-pc-windows-gnu, because the latter's std imports ProcessPrng,
# which wine 8 lacks.
# Not kernel mode (no --cfg avcam_kernel_mode): the driver inside runs on the emulation, and the
# client's Windows transport (client/src/windows.rs) is compiled in for `--backend windows`.
#
# Usage: scripts/build-viewer-windows.sh [--clippy] [--release]
#   --clippy  first lint the workspace crates with clippy for this target (the Windows-only code,
#             client/src/windows.rs, apps/viewer/src/windows_backend.rs and install/setup.rs,
#             exists only there); fails on any warning in those two crates. Log:
#             target/windows-user/clippy.txt.
#   --release the release profile instead (panic = "abort", so std with panic_abort), built
#             reproducibly for the package (scripts/package-windows.sh): no link timestamp
#             (`--no-insert-timestamp`), source paths trimmed (-Z trim-paths), no symbol table
#             (strip = "symbols": rustc's raw-dylib import libraries name their symbols after a
#             temporary directory, rustcXXXXXX, different at every link), in a target directory
#             under /var/tmp (why: below) -> copied to
#             target/windows-user/x86_64-win7-windows-gnu/release/avcam-viewer.exe.
# Installs its toolchain from apt when missing (Debian 12; root or sudo). Builds in
# target/windows-user so that it never invalidates the host build in target/.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/windows-toolchain.sh
source scripts/lib/windows-toolchain.sh

clippy= release=
for arg in "$@"; do
    case "$arg" in
        --clippy) clippy=1 ;;
        --release) release=1 ;;
        *) echo "usage: $0 [--clippy] [--release]" >&2; exit 2 ;;
    esac
done

packages=(rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64)
[ -n "$clippy" ] && packages+=(rust-web-clippy)
ensure_packages "${packages[@]}"
use_debian_rust

target=x86_64-win7-windows-gnu
export CARGO_TARGET_DIR="$PWD/target/windows-user"
export CARGO_TARGET_X86_64_WIN7_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
mkdir -p "$CARGO_TARGET_DIR"

# Unwinding, though the workspace's dev profile says abort (the driver's setting): the tests
# that scripts/test-viewer-wine.sh runs in the same target directory need unwinding, and one
# standard library built one way serves both (two builds of core side by side make rustc fail
# with "duplicate lang item").
build=(cargo build --locked --package avcam-viewer --bin avcam-viewer --target "$target"
    -Z build-std=std,panic_unwind --config 'profile.dev.panic="unwind"')
profile_dir=debug
if [ -n "$release" ]; then
    # The link's import table depends on where the build is: mingw's linker script sorts the
    # .idata$N sections by the name of the archive they come from, so the rlibs carrying rustc's
    # raw-dylib import libraries (the `windows` crate's, std's) sort before mingw's own
    # /usr/.../libkernel32.a in a checkout under /home, /root or /tmp, and after it under /work.
    # A target directory under /var/tmp (after /usr wherever the checkout is; one per checkout)
    # makes that order the same everywhere. The executable is copied back into target/ below.
    export CARGO_TARGET_DIR=/var/tmp/avcam-windows-release-$(printf '%s' "$PWD" | sha256sum | cut -c1-12)
    mkdir -p "$CARGO_TARGET_DIR"
    # The release profile's std is built with the flags below only.
    export RUSTFLAGS="-C link-arg=-Wl,--no-insert-timestamp"
    build=(cargo build --locked --package avcam-viewer --bin avcam-viewer --target "$target"
        --release -Z build-std=std,panic_abort -Z trim-paths
        --config 'profile.release.trim-paths="all"' --config 'profile.release.strip="symbols"')
    profile_dir=release
fi

start=$(date +%s%N)
if [ -n "$clippy" ]; then
    clippy_pass "$CARGO_TARGET_DIR/clippy.txt" 'apps/viewer/|client/' "the viewer and client for $target" \
        "${build[@]}"
fi
"${build[@]}"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))

exe=$CARGO_TARGET_DIR/$target/$profile_dir/avcam-viewer.exe
if [ -n "$release" ]; then
    copy=$PWD/target/windows-user/$target/release/avcam-viewer.exe
    mkdir -p "$(dirname "$copy")"
    cp "$exe" "$copy.partial" && mv "$copy.partial" "$copy"
    exe=$copy
fi
printf 'built %s (%s bytes) in %d.%01d s\n' "${exe#"$PWD"/}" "$(stat -c %s "$exe")" \
    $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100))
