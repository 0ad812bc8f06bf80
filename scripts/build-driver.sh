#!/usr/bin/env bash
# Cross-builds the driver on Linux: the root package, for x86_64-pc-windows-msvc, with core and
# alloc built from source and lld-link, into target/driver/avcam.sys. The same source the Linux
# tests run, in kernel mode (`--cfg avcam_kernel_mode`: ntoskrnl/ks.sys imports and the kernel
# runtime instead of the emulation); the `wdk` feature (windows-drivers-rs, Windows hosts only)
# stays off.
#
# Usage: scripts/build-driver.sh [--dev] [--clippy]
#   --dev     unoptimised build (target/driver/avcam-dev.sys); default: the release profile.
#   --clippy  first lint the workspace crates with clippy, compiling them for Windows (the
#             shell's kernel-mode code exists only there); fails if the driver shell (src/,
#             build.rs) has any warning. The whole log is kept in target/driver/clippy.txt.
# Also writes the linker's map next to the image (avcam.map), which check-driver.sh reads.
# Installs its toolchain from apt when missing (Debian 12; root or sudo). Builds in target/cross
# so that it never invalidates the host build in target/.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/windows-toolchain.sh
source scripts/lib/windows-toolchain.sh

profile=release output=avcam clippy=
for arg in "$@"; do
    case "$arg" in
        --dev) profile=dev output=avcam-dev ;;
        --clippy) clippy=1 ;;
        *) echo "usage: $0 [--dev] [--clippy]" >&2; exit 2 ;;
    esac
done

packages=(rustc-web cargo-web rust-web-src "lld-${LLVM_VERSION}" "llvm-${LLVM_VERSION}")
[ -n "$clippy" ] && packages+=(rust-web-clippy)
ensure_packages "${packages[@]}"
use_debian_rust
mkdir -p target/driver

target=x86_64-pc-windows-msvc
export CARGO_TARGET_DIR="$PWD/target/cross"
export CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_LINKER="$LLVM_BIN/lld-link"
# Kernel mode: the one switch between the driver image and the emulation (docs/windows.md).
export RUSTFLAGS="--cfg avcam_kernel_mode"

# -Z trim-paths: source paths in the image (panic locations) relative to the workspace, the
# registry and the standard library, never this checkout's or $CARGO_HOME's absolute paths, so
# that the image is the same bytes wherever it is built (with /Brepro in build.rs).
build=(cargo build --locked --package avcam --lib --target "$target" --profile "$profile"
    -Z build-std=core,alloc -Z build-std-features=compiler-builtins-mem -Z trim-paths
    --config 'profile.dev.package.compiler_builtins.opt-level = 3'
    --config "profile.$profile.trim-paths = \"all\"")

start=$(date +%s%N)
if [ -n "$clippy" ]; then
    clippy_pass target/driver/clippy.txt 'src/|build\.rs' "the driver shell for $target" "${build[@]}"
fi
# The image itself always comes from plain rustc: clippy-driver compiles with other MIR settings,
# so its output is not what ships. After a clippy build only the workspace crates are rebuilt.
"${build[@]}"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))

dir=$profile
[ "$profile" = dev ] && dir=debug
cp "$CARGO_TARGET_DIR/$target/$dir/avcam.dll" "target/driver/$output.sys"
cp "$CARGO_TARGET_DIR/$target/$dir/deps/avcam.map" "target/driver/$output.map"
printf 'built target/driver/%s.sys (%s bytes) in %d.%01d s\n' "$output" \
    "$(stat -c %s "target/driver/$output.sys")" $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100))
