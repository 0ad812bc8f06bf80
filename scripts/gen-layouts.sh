#!/usr/bin/env bash
# Regenerates ks/src/header_layouts.rs: the ABI crate's sizes, alignments, offsets and constants
# as the mingw-w64 headers define them, as Rust compile-time assertions (see
# scripts/gen_layouts.py and the table ks/header-layouts.txt). Compiles a C probe with
# x86_64-w64-mingw32-gcc -S; runs nothing it compiles.
#
# Usage: scripts/gen-layouts.sh [--check]
#   --check   do not write; exit 1 if the committed file is stale (what CI runs)
# Installs the mingw-w64 compiler and headers and python3 from apt when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/windows-toolchain.sh
source scripts/lib/windows-toolchain.sh

ensure_packages gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev python3
exec /usr/bin/python3 scripts/gen_layouts.py "$@"
