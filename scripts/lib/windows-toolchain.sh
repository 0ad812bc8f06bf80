# Sourced by the Windows-side scripts: installs missing Debian packages and sets up the
# environment of the cross toolchain (see ../shared/notes/windows-build-on-linux.md).
# Debian 12 (bookworm + bookworm-security); needs root or sudo only when something is missing.

# The LLVM release whose lld-link and llvm-readobj the scripts use (lld >= 16 writes checksums).
LLVM_VERSION=22
LLVM_BIN=/usr/lib/llvm-${LLVM_VERSION}/bin

# ensure_packages PKG...: installs the packages that are not installed yet, quietly; runs
# `apt-get update` at most once per process, and only when something is missing.
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
            missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "error: need root or sudo to install: ${missing[*]}" >&2; return 1; }
        sudo=(sudo)
    fi
    echo "installing from apt: ${missing[*]}" >&2
    # Other jobs on a shared machine may hold the dpkg lock: wait for it instead of failing.
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=600)
    if [ -z "${AVCAM_APT_UPDATED:-}" ]; then
        "${apt[@]}" update >/dev/null
        export AVCAM_APT_UPDATED=1
    fi
    "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
}

# use_debian_rust: the cross build needs Debian's rustc (its library source matches it, and
# -Z build-std works with RUSTC_BOOTSTRAP); rustup's toolchains cannot build core from it.
use_debian_rust() {
    unset RUSTUP_TOOLCHAIN RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS
    export PATH="/usr/bin:$PATH"
    export CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
    export RUSTC_BOOTSTRAP=1
}

# clippy_pass LOG PATHS WHAT BUILD...: runs the cross BUILD command with clippy-driver as the
# workspace wrapper (what `cargo clippy` does, in a real build: clippy-driver compiles and lints
# the workspace members, plain rustc the standard library, which the plain build after it reuses),
# writing its messages to LOG; fails when the build fails or when a warning or error names a file
# matching the extended regex PATHS (the crates whose target-specific code only this build sees;
# the host's `cargo clippy` lints the rest, and Debian's newer clippy has lints rustup's lacks).
clippy_pass() {
    local log=$1 paths=$2 what=$3 status=0
    shift 3
    RUSTC_WORKSPACE_WRAPPER=/usr/bin/clippy-driver "$@" --message-format short >"$log" 2>&1 ||
        status=$?
    if [ $status -ne 0 ]; then
        cat "$log" >&2
        exit $status
    fi
    if grep -E "^($paths)[^ ]*: (warning|error)" "$log" >&2; then
        echo "clippy: warnings in $what (above; full log: $log)" >&2
        exit 1
    fi
    echo "clippy: $what is clean (log: $log)"
}
