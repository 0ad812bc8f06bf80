#!/usr/bin/env python3
"""Checks a Windows x64 kernel driver image (.sys) the way the loader and HVCI will look at it.

Usage: check_driver.py IMAGE [--map MAP] [--inf INF] [--lib-dir DIR]
                              [--allow-module DLL]... [--allow-export NAME]...
                              [--objdump PATH] [--loader-table FILE]

Checks: a PE32+ image for AMD64, subsystem NATIVE, entry point DriverEntry (by the linker map),
a valid PE checksum (recomputed here), page-aligned sections none of which is both writable and
executable, NX compatible, relocations not stripped, imports only from the allowed kernel
modules, by name, each name really exported by its module (mingw-w64's import libraries, plus
the table of newer exports below), no delay-load imports, and no exports beyond the allowed
list. With --inf, the INF's target OS build must be at least the one the imports need.

With --objdump (llvm-objdump), a disassembly scan of every executable section: no privileged
or kernel-only instruction (moves to or from control and debug registers, cli/sti/hlt,
rdmsr/wrmsr, swapgs, invlpg, in/out and their string forms, lgdt/lidt/lldt/ltr, clts,
invd/wbinvd, any `int` but `int 0x29` in the panic handler) and no gs:/fs: access, so that the
image also runs in a user-mode process (avcam-loader). The panic handler is the map's
rust_begin_unwind and the driver's runtime module; `int3` is lld's padding between functions and
is not reported. With --loader-table (`cargo run -p avcam-loader --example services`), every
import must be one the loader binds.

Prints a report; exits 1 if any check fails, 2 on bad usage. Python 3 standard library only.
"""

import argparse
import bisect
import os
import re
import struct
import subprocess
import sys

# The modules a driver may import from, with the mingw-w64 import library listing each one's
# exports. Anything else (ksecdd.sys, ...) needs --allow-module and a library to check against.
MODULE_LIBRARIES = {
    "ntoskrnl.exe": "libntoskrnl.a",
    "hal.dll": "libhal.a",
    "ks.sys": "libks.a",
}

# ntoskrnl.exe exports newer than mingw-w64 10's libntoskrnl.a, each with the first Windows
# release that exports it (the Requirements table of its learn.microsoft.com page). An import
# found only here raises the minimum Windows version the report states.
NEWER_NTOSKRNL_EXPORTS = {
    # Pool allocation with POOL_FLAGS; replaces ExAllocatePoolWithTag.
    "ExAllocatePool2": (19041, "Windows 10 version 2004"),
    "ExAllocatePool3": (19041, "Windows 10 version 2004"),
    "ExFreePool2": (19041, "Windows 10 version 2004"),
    # High-resolution timers (EX_TIMER).
    "ExAllocateTimer": (9600, "Windows 8.1"),
    "ExSetTimer": (9600, "Windows 8.1"),
    "ExCancelTimer": (9600, "Windows 8.1"),
    "ExDeleteTimer": (9600, "Windows 8.1"),
    # The clock tick range (ExQueryTimerResolution's Requirements: Windows 8).
    "ExQueryTimerResolution": (9200, "Windows 8"),
    # The performance counter: a hal.dll export up to Windows 7 (mingw lists it in libhal.a),
    # exported by ntoskrnl.exe since the HAL timer code moved into the kernel in Windows 8.
    "KeQueryPerformanceCounter": (9200, "Windows 8"),
    # Precise clocks.
    "KeQuerySystemTimePrecise": (9200, "Windows 8"),
    "KeQueryInterruptTimePrecise": (9600, "Windows 8.1"),
}

# What the driver may export: the allocator's KS functions (avcam implements them itself).
# Services the driver must not import, each with why (issue 10's review): the pin opening a
# handle to itself and creating an allocator on it keeps the pin alive past its client's close;
# ks.sys gives a pin's object header no spare create-item slot. (ZwClose was forbidden too while
# the driver opened no handle at all; since issue 12 it closes the one handle it opens, the
# device's hardware key from IoOpenDeviceRegistryKey, read for the FaultInjection switch.)
FORBIDDEN_IMPORTS = {
    "ObOpenObjectByPointer": "a handle to the driver's own pin keeps it open after the client closes",
    "KsCreateAllocator": "the pin's allocator is declared in KSPIN_DISPATCH.Allocator, not created on itself",
    "KsAddObjectCreateItemToObjectHeader": "ks.sys's pin object header has no spare create-item slot",
}

ALLOWED_EXPORTS = {
    "KsCreateDefaultAllocator",
    "KsCreateDefaultAllocatorEx",
    "KsValidateAllocatorCreateRequest",
    "KsValidateAllocatorFramingEx",
}

ENTRY_POINT = "DriverEntry"
MACHINE_AMD64 = 0x8664
SUBSYSTEM_NATIVE = 1
FILE_RELOCS_STRIPPED = 0x0001
FILE_DLL = 0x2000
DLLCHAR_NAMES = {
    0x0020: "HIGH_ENTROPY_VA",
    0x0040: "DYNAMIC_BASE",
    0x0080: "FORCE_INTEGRITY",
    0x0100: "NX_COMPAT",
    0x0400: "NO_SEH",
    0x4000: "GUARD_CF",
}
DLLCHAR_NX_COMPAT = 0x0100
SCN_MEM_EXECUTE = 0x20000000
SCN_MEM_WRITE = 0x80000000
SCN_MEM_DISCARDABLE = 0x02000000
PAGE_SIZE = 0x1000
DIR_EXPORT, DIR_IMPORT, DIR_DELAY_IMPORT = 0, 1, 13


# Instructions a user-mode process cannot execute (or that touch the kernel's per-CPU state), as
# llvm-objdump prints their mnemonics in Intel syntax.
PRIVILEGED_MNEMONICS = {
    "cli", "sti", "hlt", "rdmsr", "wrmsr", "swapgs", "invlpg", "in", "out", "insb", "insw",
    "insd", "outsb", "outsw", "outsd", "lgdt", "lidt", "lldt", "ltr", "clts", "invd", "wbinvd",
}
CONTROL_OR_DEBUG_REGISTER = re.compile(r"\b[cd]r\d+\b")
SEGMENT_GS_FS = re.compile(r"\b[gf]s:")
# Where `int 0x29` (__fastfail) may be: the panic handler, inlined or not.
PANIC_HANDLER = re.compile(r"rust_begin_unwind|5avcam7runtime")
DISASSEMBLY_LINE = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")


class BadImage(Exception):
    """The file is not a PE image this checker can read."""


class Image:
    """The parts of a PE32+ image the checks need."""

    def __init__(self, data):
        self.data = data
        if len(data) < 0x40 or data[:2] != b"MZ":
            raise BadImage("no MZ header")
        (pe,) = struct.unpack_from("<I", data, 0x3C)
        if data[pe : pe + 4] != b"PE\0\0":
            raise BadImage("no PE signature")
        coff = pe + 4
        (self.machine, nsections, _, _, _, opt_size, self.characteristics) = struct.unpack_from(
            "<HHIIIHH", data, coff
        )
        self.opt = coff + 20
        (self.magic,) = struct.unpack_from("<H", data, self.opt)
        if self.magic != 0x20B:
            raise BadImage(f"optional header magic {self.magic:#x} is not PE32+")
        (self.entry_rva,) = struct.unpack_from("<I", data, self.opt + 16)
        (self.image_base, self.section_alignment, self.file_alignment) = struct.unpack_from(
            "<QII", data, self.opt + 24
        )
        (self.size_of_headers,) = struct.unpack_from("<I", data, self.opt + 60)
        self.checksum_offset = self.opt + 64
        (self.checksum, self.subsystem, self.dll_characteristics) = struct.unpack_from(
            "<IHH", data, self.checksum_offset
        )
        (ndirs,) = struct.unpack_from("<I", data, self.opt + 108)
        self.directories = [
            struct.unpack_from("<II", data, self.opt + 112 + 8 * i) for i in range(min(ndirs, 16))
        ]
        self.sections = []
        for i in range(nsections):
            header = self.opt + opt_size + 40 * i
            name = data[header : header + 8].rstrip(b"\0").decode("ascii", "replace")
            vsize, vaddr, raw_size, raw_ptr = struct.unpack_from("<IIII", data, header + 8)
            (flags,) = struct.unpack_from("<I", data, header + 36)
            self.sections.append((name, vaddr, vsize, raw_ptr, raw_size, flags))

    def directory(self, index):
        return self.directories[index] if index < len(self.directories) else (0, 0)

    def offset(self, rva):
        """The file offset of an RVA."""
        if rva < self.size_of_headers:
            return rva
        for _, vaddr, vsize, raw_ptr, raw_size, _ in self.sections:
            if vaddr <= rva < vaddr + max(vsize, raw_size):
                if rva - vaddr >= raw_size:
                    raise BadImage(f"RVA {rva:#x} has no file data")
                return raw_ptr + rva - vaddr
        raise BadImage(f"RVA {rva:#x} is outside every section")

    def u32(self, rva):
        return struct.unpack_from("<I", self.data, self.offset(rva))[0]

    def u64(self, rva):
        return struct.unpack_from("<Q", self.data, self.offset(rva))[0]

    def c_string(self, rva):
        start = self.offset(rva)
        end = self.data.index(b"\0", start)
        return self.data[start:end].decode("ascii", "replace")

    def imports(self):
        """[(module, [name or '#ordinal'])] from the import directory."""
        rva, size = self.directory(DIR_IMPORT)
        result = []
        while rva and size:
            original_thunks, _, _, name_rva, thunks = struct.unpack_from(
                "<IIIII", self.data, self.offset(rva)
            )
            if name_rva == 0:
                break
            names = []
            thunk = original_thunks or thunks
            while True:
                entry = self.u64(thunk)
                if entry == 0:
                    break
                if entry & (1 << 63):
                    names.append(f"#{entry & 0xFFFF}")
                else:
                    names.append(self.c_string((entry & 0x7FFFFFFF) + 2))
                thunk += 8
            result.append((self.c_string(name_rva), names))
            rva += 20
        return result

    def exports(self):
        """(named exports, number of exports without a name)."""
        rva, size = self.directory(DIR_EXPORT)
        if not rva or not size:
            return [], 0
        (nfunctions, nnames, _, names_rva) = struct.unpack_from(
            "<IIII", self.data, self.offset(rva) + 20
        )
        names = [self.c_string(self.u32(names_rva + 4 * i)) for i in range(nnames)]
        return names, max(nfunctions - nnames, 0)


def pe_checksum(data, checksum_offset):
    """The PE checksum: the 16-bit one's-complement sum of the file with the checksum field read
    as zero, plus the file length (what the loader and `CheckSumMappedFile` compute)."""
    body = bytearray(data)
    body[checksum_offset : checksum_offset + 4] = b"\0\0\0\0"
    if len(body) % 2:
        body.append(0)
    total = sum(struct.unpack(f"<{len(body) // 2}H", body))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return (total + len(data)) & 0xFFFFFFFF


def archive_symbols(path):
    """The names a mingw-w64 import library provides `__imp_` symbols for, read from the GNU ar
    symbol table (the archive's first member, named "/")."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"!<arch>\n":
        raise BadImage(f"{path} is not an ar archive")
    header = data[8:68]
    if header[:16].rstrip() != b"/":
        raise BadImage(f"{path} has no symbol table")
    size = int(header[48:58])
    table = data[68 : 68 + size]
    (count,) = struct.unpack_from(">I", table, 0)
    names = table[4 + 4 * count :].split(b"\0")[:count]
    prefix = b"__imp_"
    return {n[len(prefix) :].decode("ascii") for n in names if n.startswith(prefix)}


def map_symbol_address(map_path, symbol):
    """The address (Rva+Base) of a public symbol in an MSVC-style linker map, or None."""
    with open(map_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and fields[1] == symbol and re.fullmatch(r"[0-9a-fA-F]{16}", fields[2]):
                return int(fields[2], 16)
    return None


def map_symbols(map_path):
    """[(address, name)] of every symbol in an MSVC-style linker map, sorted by address."""
    symbols = []
    with open(map_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            if (len(fields) >= 3 and re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{8}", fields[0])
                    and re.fullmatch(r"[0-9a-fA-F]{16}", fields[2])):
                symbols.append((int(fields[2], 16), fields[1]))
    symbols.sort()
    return symbols


def symbol_at(symbols, address):
    """The name of the symbol at or before address, or '?'."""
    index = bisect.bisect_right([a for a, _ in symbols], address) - 1
    return symbols[index][1] if index >= 0 else "?"


def scan_instructions(objdump, image_path, symbols):
    """[(address, text, why)] of every instruction the image may not contain."""
    listing = subprocess.run(
        [objdump, "-d", "--no-show-raw-insn", "-M", "intel", image_path],
        check=True, capture_output=True, text=True,
    ).stdout
    found = []
    for line in listing.splitlines():
        match = DISASSEMBLY_LINE.match(line)
        if not match:
            continue
        address, mnemonic, operands = int(match.group(1), 16), match.group(2), match.group(3)
        operands = operands.split("#", 1)[0].split("<", 1)[0]
        text = f"{mnemonic} {operands}".strip()
        why = None
        if mnemonic in PRIVILEGED_MNEMONICS:
            why = "privileged"
        elif mnemonic == "mov" and CONTROL_OR_DEBUG_REGISTER.search(operands):
            why = "a control or debug register"
        elif SEGMENT_GS_FS.search(operands):
            why = "a gs:/fs: access"
        elif mnemonic == "int":
            if operands.strip() != "0x29":
                why = "a software interrupt"
            elif not PANIC_HANDLER.search(symbol_at(symbols, address)):
                why = "__fastfail outside the panic handler"
        if why:
            found.append((address, text, why))
    return found


def loader_table(path):
    """{(module lower-cased, name)} the loader binds, from `module name [data]` lines."""
    table = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 2:
                table.add((fields[0].lower(), fields[1]))
    return table


def inf_target_build(inf_path):
    """The build number in the INF's [Manufacturer] TargetOSVersion decoration (0 if none)."""
    section = None
    builds = []
    with open(inf_path, encoding="utf-8-sig", errors="replace") as f:
        for line in f:
            line = line.split(";", 1)[0].strip()
            match = re.fullmatch(r"\[(.+)\]", line)
            if match:
                section = match.group(1).strip().lower()
            elif section == "manufacturer" and "=" in line:
                for decoration in line.split("=", 1)[1].split(",")[1:]:
                    m = re.fullmatch(r"NT(?:\$ARCH\$|amd64)(?:\.(\d+)\.(\d+)(?:\.\.\.(\d+))?)?",
                                     decoration.strip(), re.IGNORECASE)
                    if m:
                        builds.append(int(m.group(3) or 0))
    return min(builds) if builds else 0


class Report:
    def __init__(self):
        self.failures = 0
        self.checks = 0

    def check(self, ok, what, detail=""):
        self.checks += 1
        self.failures += 0 if ok else 1
        print(f"  {'PASS' if ok else 'FAIL'}  {what}" + (f": {detail}" if detail else ""))

    def info(self, text):
        print(f"  info  {text}")


def check(args):
    report = Report()
    with open(args.image, "rb") as f:
        data = f.read()
    print(f"checking {args.image} ({len(data)} bytes)")
    try:
        image = Image(data)
    except (BadImage, struct.error) as error:
        report.check(False, "PE32+ image", str(error))
        return report
    report.check(True, "PE32+ image")

    report.check(image.machine == MACHINE_AMD64, "machine AMD64", f"{image.machine:#06x}")
    report.check(image.subsystem == SUBSYSTEM_NATIVE, "subsystem NATIVE (1)", str(image.subsystem))

    map_path = args.map or os.path.splitext(args.image)[0] + ".map"
    entry = image.image_base + image.entry_rva
    if os.path.exists(map_path):
        address = map_symbol_address(map_path, ENTRY_POINT)
        report.check(
            address == entry,
            f"entry point is {ENTRY_POINT}",
            f"entry {entry:#x}, {ENTRY_POINT} "
            + (f"{address:#x}" if address is not None else f"not in {map_path}"),
        )
    else:
        report.check(False, f"entry point is {ENTRY_POINT}", f"no linker map {map_path}")

    computed = pe_checksum(data, image.checksum_offset)
    report.check(
        image.checksum != 0 and image.checksum == computed,
        "PE checksum",
        f"header {image.checksum:#010x}, computed {computed:#010x}",
    )

    wx = [s[0] for s in image.sections if s[5] & SCN_MEM_WRITE and s[5] & SCN_MEM_EXECUTE]
    report.check(not wx, "no section both writable and executable", ", ".join(wx))
    unaligned = [s[0] for s in image.sections if s[1] % PAGE_SIZE]
    report.check(
        image.section_alignment == PAGE_SIZE and not unaligned,
        "sections page-aligned",
        f"alignment {image.section_alignment:#x}" + (f"; {', '.join(unaligned)}" if unaligned else ""),
    )
    for name, vaddr, vsize, _, _, flags in image.sections:
        rights = "R" + ("W" if flags & SCN_MEM_WRITE else "") + ("X" if flags & SCN_MEM_EXECUTE else "")
        discard = " discardable" if flags & SCN_MEM_DISCARDABLE else ""
        report.info(f"section {name:<8} rva {vaddr:#07x} size {vsize:#07x} {rights}{discard}")

    report.check(bool(image.dll_characteristics & DLLCHAR_NX_COMPAT), "NX compatible (HVCI)")
    report.check(not image.characteristics & FILE_RELOCS_STRIPPED, "relocations not stripped")
    flags = [n for bit, n in DLLCHAR_NAMES.items() if image.dll_characteristics & bit]
    report.info("DLL characteristics: " + (", ".join(flags) or "none"))
    if image.characteristics & FILE_DLL:
        report.info("IMAGE_FILE_DLL is set (as for every cdylib; Windows loads such drivers)")

    delay_rva, delay_size = image.directory(DIR_DELAY_IMPORT)
    report.check(not (delay_rva and delay_size), "no delay-load imports")

    allowed_modules = {m.lower() for m in MODULE_LIBRARIES} | {m.lower() for m in args.allow_module}
    known = {}
    for module, library in MODULE_LIBRARIES.items():
        path = os.path.join(args.lib_dir, library)
        known[module] = archive_symbols(path) if os.path.exists(path) else None
    known["ntoskrnl.exe"] = (known["ntoskrnl.exe"] or set()) | set(NEWER_NTOSKRNL_EXPORTS)

    imports = image.imports()
    minimum = (0, "any Windows the import libraries cover", [])
    total = sum(len(names) for _, names in imports)
    print(f"imports ({total} from {len(imports)} module{'' if len(imports) == 1 else 's'}):")
    for module, names in imports:
        print(f"  {module}: {', '.join(names) or '(none)'}")
    forbidden = [f"{n} ({FORBIDDEN_IMPORTS[n]})" for _, names in imports for n in names
                 if n in FORBIDDEN_IMPORTS]
    report.check(not forbidden, "no forbidden import", "; ".join(forbidden))
    for module, names in imports:
        key = module.lower()
        report.check(key in allowed_modules, f"imports from an allowed module: {module}")
        exports = known.get(key)
        if exports is None:
            report.check(False, f"exports of {module} known", "no import library to check against")
            continue
        ordinals = [n for n in names if n.startswith("#")]
        report.check(not ordinals, f"{module} imported by name", ", ".join(ordinals))
        unknown = [n for n in names if not n.startswith("#") and n not in exports]
        report.check(not unknown, f"every name imported from {module} is exported by it", ", ".join(unknown))
        if key == "ntoskrnl.exe":
            for name in names:
                build, release = NEWER_NTOSKRNL_EXPORTS.get(name, (0, ""))
                if build > minimum[0]:
                    minimum = (build, release, [name])
                elif build and build == minimum[0]:
                    minimum[2].append(name)

    if args.loader_table:
        table = loader_table(args.loader_table)
        unbound = [f"{module}!{name}" for module, names in imports for name in names
                   if (module.lower(), name) not in table]
        report.check(not unbound, "every import is bound by the loader (avcam-loader)",
                     ", ".join(unbound))

    if args.objdump:
        symbols = map_symbols(map_path) if os.path.exists(map_path) else []
        found = scan_instructions(args.objdump, args.image, symbols)
        report.check(
            not found,
            "no privileged or kernel-only instruction outside the panic handler",
            "; ".join(f"{text} at {address:#x} in {symbol_at(symbols, address)} ({why})"
                      for address, text, why in found[:10])
            + (f"; and {len(found) - 10} more" if len(found) > 10 else ""),
        )

    exports, unnamed = image.exports()
    allowed_exports = ALLOWED_EXPORTS | set(args.allow_export)
    print(f"exports ({len(exports)}): {', '.join(exports) or '(none)'}")
    extra = [n for n in exports if n not in allowed_exports]
    report.check(not extra and not unnamed, "no exports beyond the allowed list",
                 ", ".join(extra) + (f" and {unnamed} unnamed" if unnamed else ""))

    build, release, because = minimum
    if build:
        print(f"minimum Windows: {release} (build {build}), for {', '.join(because)}")
    else:
        print("minimum Windows: not raised by any import in the newer-exports table")
    if args.inf:
        target = inf_target_build(args.inf)
        report.check(target >= build, f"{args.inf} targets at least build {build}", f"it targets {target}")
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("image")
    parser.add_argument("--map", help="the linker map (default: IMAGE with .map)")
    parser.add_argument("--inf", help="an INF/INX whose TargetOSVersion must cover the imports")
    parser.add_argument("--lib-dir", default="/usr/x86_64-w64-mingw32/lib",
                        help="where mingw-w64's import libraries are")
    parser.add_argument("--allow-module", action="append", default=[])
    parser.add_argument("--allow-export", action="append", default=[])
    parser.add_argument("--objdump", help="llvm-objdump, for the disassembly scan")
    parser.add_argument("--loader-table",
                        help="the services avcam-loader binds (`module name` lines)")
    args = parser.parse_args()
    if not os.path.isfile(args.image):
        parser.error(f"{args.image}: no such file")
    report = check(args)
    if report.failures:
        print(f"result: FAILED ({report.failures} of {report.checks} checks)")
        return 1
    print(f"result: OK ({report.checks} checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
