#!/usr/bin/env python3
"""Generates ks/src/header_layouts.rs: the ABI crate's layouts and constants, as the mingw-w64
headers define them, as Rust compile-time assertions.

Usage: gen_layouts.py [--check] [--cc CC] [--root DIR]

Reads ks/header-layouts.txt (which Rust types map to which C types, the known mingw-w64
differences) and the Rust sources in ks/src/ (the fields of each #[repr(C)] type, the constants),
writes a C probe of `const unsigned long long P_n = sizeof(...)/offsetof(...)/CONSTANT;` lines
after the kernel-mode prologue, compiles it with `CC -S` (never runs anything), reads the values
back from the assembly and writes the Rust file. With --check, only compares with the committed
file and exits 1 if it is stale. Python 3 standard library only.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

TABLE = "ks/header-layouts.txt"
OUTPUT = "ks/src/header_layouts.rs"
SOURCES = "ks/src"
SKIP_SOURCES = {"lib.rs", "layout.rs", "header_layouts.rs"}
INCLUDE = "/usr/x86_64-w64-mingw32/include"

# The kernel-mode prologue that compiles with mingw-w64 (../shared/notes/windows-build-on-linux.md).
PROLOGUE = """\
#include <ntddk.h>
#include <windef.h>
#include <tchar.h>
#include <ks.h>
#include <ksmedia.h>

/* The eleven numbers of a STATIC_<guid> macro, as two 64-bit halves. */
#define AVCAM_GUID_HI(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7) \\
    ((((unsigned long long)(a) & 0xFFFFFFFFull) << 32) | (((unsigned long long)(b) & 0xFFFF) << 16) \\
     | ((unsigned long long)(c) & 0xFFFF))
#define AVCAM_GUID_LO(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7) \\
    ((((unsigned long long)(d0) & 0xFF) << 56) | (((unsigned long long)(d1) & 0xFF) << 48) \\
     | (((unsigned long long)(d2) & 0xFF) << 40) | (((unsigned long long)(d3) & 0xFF) << 32) \\
     | (((unsigned long long)(d4) & 0xFF) << 24) | (((unsigned long long)(d5) & 0xFF) << 16) \\
     | (((unsigned long long)(d6) & 0xFF) << 8) | ((unsigned long long)(d7) & 0xFF))
#define AVCAM_HI(...) AVCAM_GUID_HI(__VA_ARGS__)
#define AVCAM_LO(...) AVCAM_GUID_LO(__VA_ARGS__)
"""

# Headers that declare GUIDs only through DEFINE_GUID (no STATIC_ macro): included at the end of
# the probe with DEFINE_GUID redefined to emit AVCAM_HI_<name> / AVCAM_LO_<name> values.
GUID_CAPTURE = """\
#undef DEFINE_GUID
#define DEFINE_GUID(n, a, b, c, d0, d1, d2, d3, d4, d5, d6, d7) \\
    const unsigned long long AVCAM_HI_##n = AVCAM_GUID_HI(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7); \\
    const unsigned long long AVCAM_LO_##n = AVCAM_GUID_LO(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7);
"""

INTEGER_TYPES = {"u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize"}
UNSIGNED_OF = {"i8": "u8", "i16": "u16", "i32": "u32", "i64": "u64", "isize": "usize"}
BITS = {"u8": 8, "u16": 16, "u32": 32, "u64": 64, "usize": 64}


class TableError(Exception):
    """The table, the sources or the headers disagree in a way only a person can resolve."""


# --- The table ---------------------------------------------------------------------------------


def read_table(path):
    """The table file's sections: types, rust_only, constant_modules, constant_names,
    guid_headers, corrections, disagreements."""
    types, rust_only, modules, names, guid_headers = {}, set(), {}, {}, []
    corrections, disagreements = {}, {}
    section = None
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            where = f"{path}:{number}"
            match = re.fullmatch(r"\[([a-z-]+)\]", line)
            if match:
                section = match.group(1)
                continue
            if section == "types":
                match = re.fullmatch(r"(\w+::\w+)\s*=\s*([\w.\[\]]+)\s*(?:\|\s*(.*))?", line)
                if not match:
                    raise TableError(f"{where}: expected `module::Type = CType[.path] [| renames]`")
                renames = {}
                for item in filter(None, (x.strip() for x in (match.group(3) or "").split(","))):
                    rust, _, c = item.partition("=")
                    if not c:
                        raise TableError(f"{where}: rename `{item}` is not `RustField=C.member`")
                    renames[rust.strip()] = c.strip()
                c_type, _, c_path = match.group(2).partition(".")
                types[match.group(1)] = (c_type, c_path, renames)
            elif section == "rust-only":
                rust_only.add(line)
            elif section == "constant-modules":
                rust, _, pattern = (x.strip() for x in line.partition("="))
                if "{}" not in pattern:
                    raise TableError(f"{where}: the C name pattern needs a `{{}}`")
                modules[rust] = pattern
            elif section == "constant-names":
                rust, _, c = (x.strip() for x in line.partition("="))
                if not re.fullmatch(r"\w+(::\w+)+", rust) or not re.fullmatch(r"\w+", c):
                    raise TableError(f"{where}: expected `module::CONSTANT = C_NAME`")
                names[rust] = c
            elif section == "guid-headers":
                guid_headers.append(line)
            elif section == "disagreements":
                match = re.fullmatch(r"(size|align|offset|const)\s+(\S+)\s+(\S+)", line)
                if not match:
                    raise TableError(f"{where}: expected `<what> <item> <header figure>`")
                what, item, figure = match.groups()
                comment = raw.split("#", 1)[1].strip() if "#" in raw else ""
                disagreements[(what, item)] = (int(figure, 0), comment)
            elif section == "corrections":
                match = re.fullmatch(r"(size|align|offset|const|guid)\s+(\S+)\s+(\S+)\s*->\s*(\S+)", line)
                if not match:
                    raise TableError(f"{where}: expected `<what> <item> <mingw> -> <WDK>`")
                what, item, mingw, wdk = match.groups()
                comment = raw.split("#", 1)[1].strip() if "#" in raw else ""
                corrections[(what, item)] = (mingw, wdk, comment)
            else:
                raise TableError(f"{where}: line outside a known section")
    return types, rust_only, modules, names, guid_headers, corrections, disagreements


# --- The Rust sources --------------------------------------------------------------------------


def read_sources(directory):
    """(repr_c_types {path: [fields]}, constants {path: rust_type}, aliases) from ks/src/*.rs."""
    types, constants, aliases = {}, {}, {}
    files = sorted(f for f in os.listdir(directory) if f.endswith(".rs") and f not in SKIP_SOURCES)
    for name in files:
        module = name[:-3]
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            lines = f.read().split("\n")
        inner_module = None
        in_statuses = False
        i = 0
        while i < len(lines):
            line = lines[i]
            match = re.match(r"pub (struct|union) (\w+)", line)
            if match and is_repr_c(lines, i) and line.rstrip().endswith("{"):
                fields = []
                i += 1
                while not lines[i].startswith("}"):
                    field = re.match(r"\s+pub (\w+):", lines[i])
                    if field and not field.group(1).startswith("_"):
                        fields.append(field.group(1))
                    i += 1
                types[f"{module}::{match.group(2)}"] = fields
            match = re.match(r"pub type (\w+) = (\w+);", line)
            if match:
                aliases[match.group(1)] = match.group(2)
            match = re.match(r"pub mod (\w+) \{", line)
            if match:
                inner_module = match.group(1)
            elif line.startswith("}"):
                inner_module = None
                in_statuses = False
            match = re.match(r"(\s*)pub const (\w+): (\w+) =", line)
            if match:
                indent, const, rust_type = match.groups()
                if not indent:
                    constants[f"{module}::{const}"] = rust_type
                elif inner_module:
                    constants[f"{module}::{inner_module}::{const}"] = rust_type
            # The statuses! { NAME = 0x...u32; } table of status.rs.
            if line.startswith("statuses! {"):
                in_statuses = True
            match = re.match(r"\s+(STATUS_\w+) = 0x[0-9A-Fa-f_]+u32;", line)
            if in_statuses and match:
                constants[f"{module}::{match.group(1)}"] = "NTSTATUS"
            i += 1
    return types, constants, aliases


def is_repr_c(lines, item):
    """Whether the item declared on line `item` carries `#[repr(C...)]` among the attributes and
    doc comments just above it (attributes may span several lines)."""
    i = item - 1
    while i >= 0:
        line = lines[i]
        if re.match(r"#\[repr\(C\b", line):
            return True
        if not line.strip() or not line.startswith(("#", "///", " ", ")")):
            return False
        i -= 1
    return False


def resolve(rust_type, aliases):
    while rust_type in aliases:
        rust_type = aliases[rust_type]
    return rust_type


# --- The probe ---------------------------------------------------------------------------------


class Probe:
    """C expressions to evaluate; each becomes one `.quad` in the assembly."""

    def __init__(self, guid_headers=()):
        self.items = []  # (key, expression, needs)
        self.guid_headers = list(guid_headers)
        self.defined_guids = {}  # name -> 128-bit value, from the guid headers

    def add(self, key, expression, needs=None):
        """Adds an expression; with `needs`, a macro that must be defined for it to make sense
        (an undefined one is reported as an error on the item's own line)."""
        self.items.append((key, expression, needs))

    def source(self):
        """The probe's text, and the item index of each line that can hold an item's error."""
        lines = PROLOGUE.split("\n")
        owners = {}
        for n, (_, expression, needs) in enumerate(self.items):
            if needs:
                lines.append(f"#ifndef {needs}")
                lines.append(f'#error "{needs} is not defined"')
                owners[len(lines)] = n
                lines.append("#else")
            lines.append(f"const unsigned long long P_{n} = (unsigned long long)({expression});")
            owners[len(lines)] = n
            if needs:
                lines.append("#endif")
        if self.guid_headers:
            lines += GUID_CAPTURE.split("\n")
            lines += [f"#include <{header}>" for header in self.guid_headers]
        return "\n".join(lines) + "\n", owners

    def run(self, cc):
        """({key: value}, {key: error}) for every item; compiles once."""
        source, owners = self.source()
        with tempfile.TemporaryDirectory() as tmp:
            c_path = os.path.join(tmp, "probe.c")
            s_path = os.path.join(tmp, "probe.s")
            with open(c_path, "w", encoding="utf-8") as f:
                f.write(source)
            result = subprocess.run(
                [cc, "-S", "-O0", "-fmax-errors=0", f"-I{INCLUDE}/ddk", "-o", s_path, c_path],
                capture_output=True, text=True,
            )
            errors = {}
            for match in re.finditer(r"probe\.c:(\d+):\d+: error: (.*)", result.stderr):
                index = owners.get(int(match.group(1)))
                if index is None:
                    raise TableError(f"the C probe does not compile:\n{result.stderr}")
                errors.setdefault(self.items[index][0], match.group(2))
            if result.returncode != 0:
                if not errors:
                    raise TableError(f"{cc} failed:\n{result.stderr}")
                return {}, errors
            with open(s_path, encoding="utf-8") as f:
                assembly = f.read()
        values = {}
        for match in re.finditer(r"^P_(\d+):\n\s+\.(quad|space)\s+(-?\w+)", assembly, re.MULTILINE):
            value = 0 if match.group(2) == "space" else int(match.group(3), 0) % (1 << 64)
            values[self.items[int(match.group(1))][0]] = value
        if len(values) != len(self.items):
            raise TableError("could not read every probe value back from the assembly")
        halves = {}
        for match in re.finditer(r"^AVCAM_(HI|LO)_(\w+):\n\s+\.(quad|space)\s+(-?\w+)", assembly, re.MULTILINE):
            value = 0 if match.group(3) == "space" else int(match.group(4), 0) % (1 << 64)
            halves[(match.group(1), match.group(2))] = value
        self.defined_guids = {
            name: (hi << 64) | halves[("LO", name)]
            for (half, name), hi in halves.items()
            if half == "HI" and ("LO", name) in halves
        }
        return values, {}


def evaluate(probe, cc, optional):
    """Compiles the probe; items whose key is in `optional` (constants) may fail and are dropped
    (recompiling without them), any other failure is an error. Returns (values, dropped)."""
    dropped = {}
    for _ in range(3):
        values, errors = probe.run(cc)
        if not errors:
            return values, dropped
        fatal = {k: e for k, e in errors.items() if k not in optional}
        if fatal:
            details = "\n".join(f"  {k}: {e}" for k, e in sorted(fatal.items(), key=str))
            raise TableError(f"the headers reject these table entries:\n{details}")
        dropped.update(errors)
        probe.items = [item for item in probe.items if item[0] not in errors]
    raise TableError("the probe still fails after dropping the missing constants")


# --- Generation --------------------------------------------------------------------------------


def c_name(const_path, modules, names):
    """The C name a Rust constant carries (`nt::irp_mj::CREATE` -> `IRP_MJ_CREATE`), or the one
    the table gives it."""
    if const_path in names:
        return names[const_path]
    parent, _, name = const_path.rpartition("::")
    if parent in modules:
        return modules[parent].replace("{}", name)
    return name


def rust_literal(value, rust_type):
    unsigned = UNSIGNED_OF.get(rust_type, rust_type)
    value &= (1 << BITS[unsigned]) - 1
    literal = f"0x{value:X}_{unsigned}"
    return literal if unsigned == rust_type else f"({literal} as {rust_type})"


def guid_text(value):
    h = f"{value:032X}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def generate(root, cc):
    types, rust_only, modules, names, guid_headers, corrections, disagreements = read_table(
        os.path.join(root, TABLE)
    )
    unknown_names = sorted(set(names) - set(read_sources(os.path.join(root, SOURCES))[1]))
    if unknown_names:
        raise TableError(f"{TABLE} names constants that are not in ks/src: {', '.join(unknown_names)}")
    repr_c, constants, aliases = read_sources(os.path.join(root, SOURCES))

    uncovered = sorted(set(repr_c) - set(types) - rust_only)
    if uncovered:
        lines = "\n".join(f"  {t} = <C type> [| renames]" for t in uncovered)
        raise TableError(f"#[repr(C)] types missing from {TABLE} (add one line each):\n{lines}")
    unknown = sorted(set(types) - set(repr_c))
    if unknown:
        raise TableError(f"{TABLE} lists types that are not #[repr(C)] in ks/src: {', '.join(unknown)}")

    probe = Probe(guid_headers)
    checks = []  # (kind, rust item, key or None)
    for rust, (c_type, c_path, renames) in types.items():
        stale = sorted(set(renames) - set(repr_c[rust]))
        if stale:
            raise TableError(f"{TABLE}: {rust} has no field(s) {', '.join(stale)}")
        obj = f"((({c_type} *)0)->{c_path})" if c_path else f"(*({c_type} *)0)"
        probe.add(("size", rust), f"sizeof({obj})")
        probe.add(("align", rust), f"_Alignof(__typeof__({obj}))")
        checks.append(("size", rust))
        checks.append(("align", rust))
        for field in repr_c[rust]:
            member = renames.get(field, field)
            if member == "-":
                continue
            correction = corrections.get(("offset", f"{rust}.{field}"))
            if correction and correction[0] == "missing":
                # The member is not in the mingw-w64 header: the WDK figure comes from the table.
                checks.append(("offset", f"{rust}.{field}"))
                continue
            base = f"__builtin_offsetof({c_type}, {c_path})" if c_path else "0"
            full = f"{c_path}.{member}" if c_path else member
            probe.add(("offset", f"{rust}.{field}"), f"__builtin_offsetof({c_type}, {full}) - {base}")
            checks.append(("offset", f"{rust}.{field}"))

    optional = set()
    for const, rust_type in sorted(constants.items()):
        name = c_name(const, modules, names)
        if rust_type == "GUID":
            for half in ("HI", "LO"):
                key = ("guid" + half, const)
                probe.add(key, f"AVCAM_{half}(STATIC_{name})", needs=f"STATIC_{name}")
                optional.add(key)
        elif resolve(rust_type, aliases) in INTEGER_TYPES:
            key = ("const", const)
            probe.add(key, name)
            optional.add(key)

    values, dropped = evaluate(probe, cc, optional)
    for const, rust_type in constants.items():
        name = c_name(const, modules, names)
        if rust_type == "GUID" and ("guidHI", const) not in values and name in probe.defined_guids:
            values[("guidHI", const)] = probe.defined_guids[name] >> 64
            values[("guidLO", const)] = probe.defined_guids[name] & ((1 << 64) - 1)
            dropped.pop(("guidHI", const), None)
            dropped.pop(("guidLO", const), None)

    # Figures where the Rust definition knowingly differs from the header: not asserted, but the
    # header figure must still be the one the table records.
    for (what, item), (figure, _) in disagreements.items():
        key = (what, item)
        if what == "const":
            if item not in constants:
                raise TableError(f"disagreement `{what} {item}`: no such constant in ks/src")
            rust_type = resolve(constants[item], aliases)
            width = BITS[UNSIGNED_OF.get(rust_type, rust_type)]
        else:
            width = 64
        header = values.get(key)
        if header is None or (header ^ figure) & ((1 << width) - 1):
            raise TableError(f"stale disagreement `{what} {item}`: the headers say {header}")

    # Apply the corrections, each of which must still describe what mingw-w64 says.
    applied = {}
    for (what, item), (mingw, wdk, comment) in corrections.items():
        if what == "offset" and mingw == "missing":
            values[(what, item)] = int(wdk, 0)
        elif what in ("size", "align", "offset"):
            key = (what, item)
            if key not in values:
                raise TableError(f"correction `{what} {item}`: no such checked item")
            if values[key] != int(mingw, 0):
                raise TableError(
                    f"stale correction `{what} {item}`: mingw-w64 now says {values[key]}, not {mingw}"
                )
            values[key] = int(wdk, 0)
        else:
            keys = [("const", item)] if what == "const" else [("guidHI", item), ("guidLO", item)]
            if mingw != "missing":
                raise TableError(f"correction `{what} {item}`: only `missing` constants can be corrected")
            if any(k in values for k in keys):
                raise TableError(f"stale correction `{what} {item}`: the headers now define it")
            if item not in constants:
                raise TableError(f"correction `{what} {item}`: no such constant in ks/src")
            if what == "const":
                values[("const", item)] = int(wdk, 0)
            else:
                number = int(wdk.replace("-", ""), 16)
                values[("guidHI", item)] = number >> 64
                values[("guidLO", item)] = number & ((1 << 64) - 1)
            for k in keys:
                dropped.pop(k, None)
        applied[(what, item)] = f"mingw-w64: {mingw}; {comment}".rstrip("; ")

    out = [
        "//! Sizes, alignments, field offsets and constant values of the ABI items, as the mingw-w64",
        "//! headers define them (corrected where the WDK differs), asserted at compile time.",
        "//!",
        "//! GENERATED by `scripts/gen-layouts.sh` from `ks/header-layouts.txt`, the Rust sources and",
        "//! the mingw-w64 headers (compiled with `x86_64-w64-mingw32-gcc -S`, never run): do not edit.",
        "//! CI regenerates it and fails when it differs from the committed file.",
        "#![allow(clippy::identity_op, clippy::erasing_op)]",
        "",
        "use core::mem::{align_of, offset_of, size_of};",
        "",
        "macro_rules! size {",
        "    ($t:ty, $n:expr) => {",
        '        const _: () = assert!(size_of::<$t>() == $n, concat!("size of ", stringify!($t)));',
        "    };",
        "}",
        "macro_rules! align {",
        "    ($t:ty, $n:expr) => {",
        '        const _: () = assert!(align_of::<$t>() == $n, concat!("align of ", stringify!($t)));',
        "    };",
        "}",
        "macro_rules! offset {",
        "    ($t:ty, $f:ident, $n:expr) => {",
        "        const _: () = assert!(",
        "            offset_of!($t, $f) == $n,",
        '            concat!("offset of ", stringify!($t), ".", stringify!($f))',
        "        );",
        "    };",
        "}",
        "macro_rules! value {",
        "    ($c:path, $v:expr) => {",
        '        const _: () = assert!($c == $v, concat!("value of ", stringify!($c)));',
        "    };",
        "}",
        "macro_rules! guid {",
        "    ($c:path, $v:expr) => {",
        '        const _: () = assert!(same_guid($c, $v), concat!("value of ", stringify!($c)));',
        "    };",
        "}",
        "",
        "/// Whether a GUID has the registry form `v` read as one hexadecimal number.",
        "const fn same_guid(g: crate::GUID, v: u128) -> bool {",
        "    g.Data1 == (v >> 96) as u32",
        "        && g.Data2 == (v >> 80) as u16",
        "        && g.Data3 == (v >> 64) as u16",
        "        && u64::from_be_bytes(g.Data4) == v as u64",
        "}",
    ]

    def note(what, item):
        return f" // corrected ({applied[(what, item)]})" if (what, item) in applied else ""

    current = None
    for kind, item in checks:
        rust = item.split(".")[0]
        if rust != current:
            current = rust
            c_type, c_path, _ = types[rust]
            out += ["", f"// {rust} = {c_type}{'.' + c_path if c_path else ''}"]
        path = f"crate::{rust}"
        value = values[(kind, item)]
        if (kind, item) in disagreements:
            out.append(f"// NOT ASSERTED: {kind} of crate::{item}: the headers say {value}; "
                       f"{disagreements[(kind, item)][1]}")
            continue
        if kind == "offset":
            out.append(f"offset!({path}, {item.split('.')[1]}, {value});{note(kind, item)}")
        else:
            out.append(f"{kind}!({path}, {value});{note(kind, item)}")

    out += ["", "// Constants"]
    missing = []
    for const, rust_type in sorted(constants.items()):
        path = f"crate::{const}"
        if rust_type == "GUID":
            if ("guidHI", const) not in values:
                missing.append(const)
                continue
            number = (values[("guidHI", const)] << 64) | values[("guidLO", const)]
            text = guid_text(number).replace("-", "_")
            out.append(f"guid!({path}, 0x{text});{note('guid', const)}")
        elif resolve(rust_type, aliases) in INTEGER_TYPES:
            if ("const", const) not in values:
                missing.append(const)
                continue
            if ("const", const) in disagreements:
                value, comment = disagreements[("const", const)]
                out.append(f"// NOT ASSERTED: {path}: the headers say 0x{value:X}; {comment}")
                continue
            literal = rust_literal(values[("const", const)], resolve(rust_type, aliases))
            out.append(f"value!({path}, {literal});{note('const', const)}")
    out += ["", "// Constants without a C counterpart in the mingw-w64 headers (not checked):"]
    out += [f"// - {c_name(m, modules, names)} (crate::{m})" for m in missing] or ["// (none)"]
    asserted_layouts = sum(line.startswith(("size!", "align!", "offset!")) for line in out)
    asserted_constants = sum(line.startswith(("value!", "guid!")) for line in out)
    not_asserted = sum(line.startswith("// NOT ASSERTED") for line in out)
    summary = (
        f"{asserted_layouts} layout figures and {asserted_constants} constants asserted, "
        f"{not_asserted} disagreements reported, {len(missing)} constants not in the headers"
    )
    return rustfmt("\n".join(out) + "\n"), summary


def rustfmt(text):
    """The text as `cargo fmt` would leave it, so that formatting checks pass on the file."""
    try:
        result = subprocess.run(
            ["rustfmt", "--edition", "2021", "--emit", "stdout"],
            input=text, capture_output=True, text=True,
        )
    except FileNotFoundError as error:
        raise TableError("rustfmt is needed (rustup component add rustfmt)") from error
    if result.returncode != 0:
        raise TableError(f"rustfmt rejected the generated file:\n{result.stderr}")
    return result.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed file is stale")
    parser.add_argument("--cc", default="x86_64-w64-mingw32-gcc")
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."))
    args = parser.parse_args()
    try:
        text, summary = generate(args.root, args.cc)
    except TableError as error:
        print(f"gen-layouts: {error}", file=sys.stderr)
        return 1
    path = os.path.join(args.root, OUTPUT)
    current = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    if args.check:
        if current != text:
            print(f"gen-layouts: {OUTPUT} is stale; run scripts/gen-layouts.sh and commit it", file=sys.stderr)
            return 1
        print(f"gen-layouts: {OUTPUT} is up to date ({summary})")
        return 0
    if current != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"gen-layouts: wrote {OUTPUT} ({summary})")
    else:
        print(f"gen-layouts: {OUTPUT} unchanged ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
