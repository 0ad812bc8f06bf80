#!/usr/bin/env python3
"""Plants a fault at the start of one function of a driver image, for checking that the tests
run against the image fail with a bug-check report (scripts/test-image.sh).

Usage: plant_fault.py IMAGE FUNCTION OUTDIR [--kind int3|fastfail]

FUNCTION is a plain symbol (`KsCreateDefaultAllocatorEx`) or a Rust path below the crate
(`frame_path::pin_process`, matched against the map's v0 names, where each path component is
written with its length: `10frame_path11pin_process`). The image and its linker map (IMAGE with
.map) are copied to OUTDIR; the copy of the image gets `int3` (0xCC, bug check 0x1E) or
`mov ecx, 7; int 0x29` (__fastfail(7), what the panic handler ends with: bug check 0x139) at the
function's first byte. Prints the function's RVA. Exit status 2 on bad usage or a function the map
does not name. Python 3 standard library only.
"""

import argparse
import os
import shutil
import struct
import sys

PATCHES = {"int3": b"\xcc", "fastfail": b"\xb9\x07\x00\x00\x00\xcd\x29"}


def v0_fragment(path):
    """`a::b` -> `1a1b`: how a v0 mangled name spells a path."""
    return "".join(f"{len(part)}{part}" for part in path.split("::"))


def function_rva(map_text, function):
    """The RVA of FUNCTION in an lld-link map, or None."""
    base = None
    wanted = v0_fragment(function) if "::" in function else None
    for line in map_text.splitlines():
        if line.strip().startswith("Preferred load address is "):
            base = int(line.split()[-1], 16)
        fields = line.split()
        if base is None or len(fields) < 3 or len(fields[2]) != 16:
            continue
        name = fields[1]
        if name == function or (wanted and name.startswith("_R") and name.endswith(wanted)):
            return int(fields[2], 16) - base
    return None


def file_offset(data, rva):
    """The file offset of RVA in a PE image."""
    (pe,) = struct.unpack_from("<I", data, 0x3C)
    (sections,) = struct.unpack_from("<H", data, pe + 6)
    (optional_size,) = struct.unpack_from("<H", data, pe + 20)
    table = pe + 24 + optional_size
    for i in range(sections):
        vsize, vaddr, raw_size, raw_ptr = struct.unpack_from("<IIII", data, table + 40 * i + 8)
        if vaddr <= rva < vaddr + max(vsize, raw_size):
            return raw_ptr + rva - vaddr
    raise ValueError(f"RVA {rva:#x} is in no section")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("image")
    parser.add_argument("function")
    parser.add_argument("outdir")
    parser.add_argument("--kind", choices=sorted(PATCHES), default="int3")
    args = parser.parse_args()
    map_path = os.path.splitext(args.image)[0] + ".map"
    with open(map_path, encoding="utf-8", errors="replace") as f:
        rva = function_rva(f.read(), args.function)
    if rva is None:
        print(f"plant_fault.py: {map_path} names no function {args.function}", file=sys.stderr)
        return 2
    with open(args.image, "rb") as f:
        data = bytearray(f.read())
    offset = file_offset(data, rva)
    patch = PATCHES[args.kind]
    data[offset : offset + len(patch)] = patch
    os.makedirs(args.outdir, exist_ok=True)
    name = os.path.basename(args.image)
    with open(os.path.join(args.outdir, name), "wb") as f:
        f.write(data)
    shutil.copy(map_path, os.path.join(args.outdir, os.path.splitext(name)[0] + ".map"))
    print(f"{args.kind} planted at {args.function} (rva {rva:#x}, file offset {offset:#x})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
