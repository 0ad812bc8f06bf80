#!/usr/bin/env bash
# Runs every check CI runs, in order: formatting, lints, the workspace tests (the viewer's window
# test under Xvfb, its recordings decoded by ffmpeg), rustdoc, the allocator's and avstream's
# tests under Miri (scripts/miri.sh --ci), then the Windows side (header layouts, the cross-built
# avcam.sys and its checks, the viewer's Windows build under wine).
# Usage: scripts/test.sh    (from anywhere; Debian 12; installs its apt packages when missing,
#                             which needs root or sudo the first time)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# System packages the tests use: Xvfb and xkbcommon for the viewer's real-window test, ffmpeg to
# decode what the viewer records, the mingw-w64 headers for the layout checks.
packages=(xvfb xauth libxkbcommon-x11-0 ffmpeg mingw-w64-x86-64-dev gcc-mingw-w64-x86-64)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    step "installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

step "rustfmt"
cargo fmt --all -- --check

# The fuzz targets build on nightly (scripts/fuzz.sh), outside this run: their lockfile is checked
# here so that it cannot go stale unnoticed.
step "the fuzz targets' Cargo.lock is current"
cargo metadata --locked --format-version 1 --manifest-path fuzz/targets/Cargo.toml >/dev/null

step "clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo test --workspace --locked

step "rustdoc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "Miri: the allocator's and avstream's tests but the rendering ones (installs its nightly)"
scripts/miri.sh --ci

step "the Windows side: layouts, avcam.sys cross-built and checked, the viewer under wine"
scripts/ci-windows.sh
