#!/usr/bin/env bash
# Checks the package's PowerShell scripts (packaging/windows/*.ps1) on Linux, where there is no
# PowerShell: scripts/check_powershell.py parses them with tree-sitter's PowerShell grammar
# (PyPI: tree-sitter, tree-sitter-powershell, pinned below, in a virtual environment under
# target/), and requires ASCII and only commands whose documentation was reviewed. Its
# self-test first shows that broken scripts fail. A parse here is not PowerShell's own: a
# script that passes can still fail on Windows, where it has never run.
# Usage: scripts/check-powershell.sh   (installs python3-venv from apt when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/windows-toolchain.sh
source scripts/lib/windows-toolchain.sh

venv=target/powershell-venv
requirements=("tree-sitter==0.26.1" "tree-sitter-powershell==0.26.4")
if ! "$venv/bin/python" -c 'import tree_sitter, tree_sitter_powershell' 2>/dev/null; then
    ensure_packages python3-venv
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${requirements[@]}"
fi
"$venv/bin/python" scripts/check_powershell.py --self-test
"$venv/bin/python" scripts/check_powershell.py packaging/windows/*.ps1
