#!/usr/bin/env bash
# Checks a built driver image: machine, subsystem, entry point, PE checksum, section rights,
# imports (each name exported by its kernel module, and bound by avcam-loader), exports, and a
# disassembly scan (no privileged or kernel-only instruction outside the panic handler, so that
# the image also runs in a Linux process). See scripts/check_driver.py.
#
# Usage: scripts/check-driver.sh [IMAGE] [check_driver.py options...]
#   IMAGE defaults to target/driver/avcam.sys; its linker map is read from IMAGE with .map.
# The loader's table comes from `cargo run -p avcam-loader --example services` (written to
# target/driver/loader-services.txt). Installs mingw-w64's import libraries, llvm (objdump) and
# python3 from apt when missing. Exit status 1 on any failed check.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/windows-toolchain.sh
source scripts/lib/windows-toolchain.sh

ensure_packages mingw-w64-x86-64-dev python3 "llvm-${LLVM_VERSION}"
image=target/driver/avcam.sys
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    image=$1
    shift
fi
mkdir -p target/driver
table=target/driver/loader-services.txt
cargo run --quiet --locked -p avcam-loader --example services >"$table.tmp"
mv "$table.tmp" "$table"
exec /usr/bin/python3 scripts/check_driver.py "$image" --objdump "$LLVM_BIN/llvm-objdump" \
    --loader-table "$table" "$@"
