#!/usr/bin/env bash
# Tests scripts/check-driver.sh on small driver images built here from assembly (llvm-mc,
# llvm-dlltool, lld-link): one that must pass and deliberately broken ones that must each fail
# for the expected reason, among them one per privileged or kernel-only instruction the
# disassembly scan forbids and an import the loader's table lacks. Nothing is run; the images
# are only read.
#
# Usage: scripts/test-check-driver.sh      (installs llvm/lld and mingw-w64 headers when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/windows-toolchain.sh
source scripts/lib/windows-toolchain.sh
ensure_packages "lld-${LLVM_VERSION}" "llvm-${LLVM_VERSION}" mingw-w64-x86-64-dev python3

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Import libraries for the fixtures, from .def files (the names are real exports, except one).
printf 'LIBRARY ntoskrnl.exe\nEXPORTS\nExAllocatePool2\nIofCompleteRequest\nKeBugCheckEx\nNotAnNtoskrnlExport\n' >"$work/ntoskrnl.def"
printf 'LIBRARY ks.sys\nEXPORTS\nKsAllocateObjectHeader\nKsAddObjectCreateItemToObjectHeader\n' >"$work/ks.def"
printf 'LIBRARY user32.dll\nEXPORTS\nMessageBoxA\n' >"$work/user32.def"
for lib in ntoskrnl ks user32; do
    "$LLVM_BIN/llvm-dlltool" -m i386:x86-64 -d "$work/$lib.def" -l "$work/$lib.lib"
done

# The services the loader binds, for the fixtures (the real table: check-driver.sh makes it from
# `cargo run -p avcam-loader --example services`). KeBugCheckEx is exported by ntoskrnl.exe but
# not bound.
printf 'ntoskrnl.exe ExAllocatePool2\nntoskrnl.exe IofCompleteRequest\nks.sys KsAllocateObjectHeader\nks.sys KsAddObjectCreateItemToObjectHeader\n' >"$work/loader.txt"

# fixture NAME CALLS [LINK ARGS...]: links NAME.sys (+ NAME.map) whose DriverEntry calls each
# __imp_ symbol in CALLS, then runs the instruction in $BODY (if set), and which exports
# KsCreateDefaultAllocatorEx. Every fixture has a panic handler, rust_begin_unwind, ending in
# `int 0x29` (__fastfail), as the driver's does.
fixture() {
    local name=$1 calls=$2
    shift 2
    {
        echo '.intel_syntax noprefix'
        echo '.text'
        echo '.globl DriverEntry'
        echo 'DriverEntry:'
        echo '    sub rsp, 40'
        for symbol in $calls; do echo "    call qword ptr [rip + __imp_$symbol]"; done
        if [ -n "${BODY:-}" ]; then echo "    $BODY"; fi
        echo '    add rsp, 40'
        echo '    xor eax, eax'
        echo '    ret'
        echo '.globl KsCreateDefaultAllocatorEx'
        echo 'KsCreateDefaultAllocatorEx:'
        echo '    ret'
        echo '.globl OtherEntry'
        echo 'OtherEntry:'
        echo '    ret'
        echo '.globl rust_begin_unwind'
        echo 'rust_begin_unwind:'
        echo '    mov ecx, 7'
        echo '    int 0x29'
    } >"$work/$name.s"
    "$LLVM_BIN/llvm-mc" -triple x86_64-pc-windows-msvc -filetype=obj -o "$work/$name.obj" "$work/$name.s"
    "$LLVM_BIN/lld-link" /nologo /DRIVER /SUBSYSTEM:NATIVE /ENTRY:DriverEntry /NODEFAULTLIB /RELEASE \
        /NXCOMPAT /DYNAMICBASE /EXPORT:KsCreateDefaultAllocatorEx /MAP:"$work/$name.map" \
        /OUT:"$work/$name.sys" "$work/$name.obj" "$work/ntoskrnl.lib" "$work/ks.lib" "$work/user32.lib" "$@"
}

# patch FILE OFFSET HEXBYTES: overwrites bytes in place (the checksum is then stale, too).
patch() {
    printf "$(echo "$3" | sed 's/../\\x&/g')" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

failures=0
# expect NAME pass|fail [PATTERN] [check_driver.py options]: runs the checker on NAME.sys.
expect() {
    local name=$1 outcome=$2 pattern=${3:-} status=0
    shift 3 || shift $#
    /usr/bin/python3 scripts/check_driver.py "$work/$name.sys" --map "$work/$name.map" \
        --objdump "$LLVM_BIN/llvm-objdump" --loader-table "$work/loader.txt" "$@" \
        >"$work/$name.out" 2>&1 || status=$?
    if [ "$outcome" = pass ] && [ $status -eq 0 ]; then
        echo "ok    $name passes"
    elif [ "$outcome" = fail ] && [ $status -eq 1 ] && grep -qF -- "FAIL  $pattern" "$work/$name.out"; then
        echo "ok    $name fails: $(grep -m1 -F -- "FAIL  $pattern" "$work/$name.out" | sed 's/^ *FAIL  //')"
    else
        echo "WRONG $name (exit $status, expected $outcome${pattern:+ with \"FAIL  $pattern\"}):"
        sed 's/^/      /' "$work/$name.out"
        failures=$((failures + 1))
    fi
}

inf_for_build() { printf '[Manufacturer]\n%%M%% = avcam, NT$ARCH$.10.0...%s\n' "$1" >"$work/$2.inf"; }

fixture good "ExAllocatePool2 IofCompleteRequest KsAllocateObjectHeader"
inf_for_build 19041 new
inf_for_build 16299 old
expect good pass "" --inf "$work/new.inf"
grep -q "minimum Windows: Windows 10 version 2004 (build 19041), for ExAllocatePool2" "$work/good.out" \
    && echo "ok    good: minimum Windows 10 version 2004 reported" \
    || { echo "WRONG good: minimum Windows not reported"; failures=$((failures + 1)); }
cp "$work/good.sys" "$work/old-inf.sys"
cp "$work/good.map" "$work/old-inf.map"
expect old-inf fail "$work/old.inf targets at least build 19041" --inf "$work/old.inf"

fixture unknown-import "ExAllocatePool2 NotAnNtoskrnlExport"
expect unknown-import fail "every name imported from ntoskrnl.exe is exported by it: NotAnNtoskrnlExport"

fixture forbidden-import "ExAllocatePool2 KsAddObjectCreateItemToObjectHeader"
expect forbidden-import fail "no forbidden import: KsAddObjectCreateItemToObjectHeader"

fixture user-mode-import "MessageBoxA"
expect user-mode-import fail "imports from an allowed module: user32.dll"

fixture extra-export "" /EXPORT:OtherEntry
expect extra-export fail "no exports beyond the allowed list: OtherEntry"

fixture writable-code "" /SECTION:.text,RWE
expect writable-code fail "no section both writable and executable: .text"

fixture wrong-entry "" /ENTRY:OtherEntry
expect wrong-entry fail "entry point is DriverEntry"

fixture gui-subsystem "" /SUBSYSTEM:WINDOWS
expect gui-subsystem fail "subsystem NATIVE"

fixture no-checksum ""
# The checksum field: PE header offset (at 0x3C) + 4 (signature) + 20 (COFF header) + 64.
pe=$(od -An -tu4 -j60 -N4 "$work/no-checksum.sys" | tr -d ' ')
patch "$work/no-checksum.sys" $((pe + 88)) 00000000
expect no-checksum fail "PE checksum"

fixture flipped-byte ""
patch "$work/flipped-byte.sys" $(($(stat -c %s "$work/flipped-byte.sys") - 1)) 5a
expect flipped-byte fail "PE checksum"

fixture i386-machine ""
patch "$work/i386-machine.sys" $((pe + 4)) 4c01
expect i386-machine fail "machine AMD64"

fixture truncated ""
head -c 100 "$work/truncated.sys" >"$work/truncated.tmp" && mv "$work/truncated.tmp" "$work/truncated.sys"
expect truncated fail "PE32+ image"

fixture unbound-import "ExAllocatePool2 KeBugCheckEx"
expect unbound-import fail "every import is bound by the loader (avcam-loader): ntoskrnl.exe!KeBugCheckEx"

# One fixture per instruction the disassembly scan forbids, each in DriverEntry (NAME|the
# instruction|how llvm-objdump prints it).
scan="no privileged or kernel-only instruction outside the panic handler"
while IFS='|' read -r name instruction printed; do
    BODY=$instruction fixture "$name" ""
    expect "$name" fail "$scan: $printed at 0x"
done <<'FIXTURES'
mov-from-cr0|mov rax, cr0|mov rax, cr0
mov-to-cr3|mov cr3, rax|mov cr3, rax
mov-from-dr7|mov rax, dr7|mov rax, dr7
cli|cli|cli
sti|sti|sti
hlt|hlt|hlt
rdmsr|rdmsr|rdmsr
wrmsr|wrmsr|wrmsr
swapgs|swapgs|swapgs
invlpg|invlpg [rax]|invlpg byte ptr [rax]
in|in al, dx|in al, dx
out|out dx, al|out dx, al
gs-access|mov rax, qword ptr gs:[0x188]|mov rax, qword ptr gs:[0x188]
fs-access|mov eax, dword ptr fs:[0]|mov eax, dword ptr fs:[0x0]
fastfail-outside-panic-handler|int 0x29|int 0x29
other-interrupt|int 0x2e|int 0x2e
FIXTURES

if [ $failures -ne 0 ]; then
    echo "check-driver self-test: $failures WRONG"
    exit 1
fi
echo "check-driver self-test: all fixtures judged as expected"
