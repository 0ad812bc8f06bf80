#!/usr/bin/env bash
# Checks a built driver image: machine, subsystem, entry point, PE checksum, section rights,
# imports (each name exported by its kernel module) and exports. See scripts/check_driver.py.
#
# Usage: scripts/check-driver.sh [IMAGE] [check_driver.py options...]
#   IMAGE defaults to target/driver/avcam.sys; its linker map is read from IMAGE with .map.
# Installs mingw-w64's import libraries and python3 from apt when missing. Exit status 1 on any
# failed check.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/windows-toolchain.sh
source scripts/lib/windows-toolchain.sh

ensure_packages mingw-w64-x86-64-dev python3
image=target/driver/avcam.sys
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    image=$1
    shift
fi
exec /usr/bin/python3 scripts/check_driver.py "$image" "$@"
