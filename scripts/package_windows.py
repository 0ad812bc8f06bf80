#!/usr/bin/env python3
"""The Windows package: stamps the INF, writes the zip reproducibly, and checks a built zip.

Standard-library Python only (python3 is on every machine). scripts/package-windows.sh runs it;
tests/inf.rs runs `stamp` to cross-check the stamped INF against the driver's constants.

  package_windows.py version
      the workspace version (Cargo.toml [workspace.package] version).
  package_windows.py stamp --inx INX --version V --epoch SECONDS [--arch amd64] [-o OUT|-]
      what stampinf does: DriverVer = the epoch's UTC date and V as w.x.y.z (in [Version], whose
      `DriverVer =` line must be there), $ARCH$ -> the architecture (outside comments),
      CatalogFile = avcam.cat; refuses any other $VARIABLE$ and any non-ASCII byte; writes CRLF.
  package_windows.py zip --out ZIP --folder NAME --epoch SECONDS NAME=PATH...
      a zip whose entries are NAME (under the folder NAME/), in the order given, every one dated
      the epoch (UTC), deflated at level 9, with fixed attributes and no extra fields; text files
      (.inf .ps1 .txt) get CRLF lines. Written beside ZIP and renamed: never a partial ZIP.
  package_windows.py check ZIP --folder NAME --epoch SECONDS --expect NAME=PATH...
      lists the zip and checks it: exactly the expected entries in that order, each the bytes of
      PATH (text files with CRLF), every date the epoch's, the CRC of every entry, the INF stamped
      (DriverVer, architecture, catalog, ASCII), the executables AMD64 images of the right kind.

Exit status: 0 ok, 1 a failed check, 2 bad arguments or input.
"""

import argparse
import datetime
import hashlib
import io
import os
import re
import struct
import sys
import tomllib
import zipfile

ARCH = "amd64"
CATALOG = "avcam.cat"
TEXT_SUFFIXES = (".inf", ".ps1", ".txt")
# The oldest date a zip (MS-DOS) timestamp can hold.
DOS_EPOCH = datetime.datetime(1980, 1, 1, tzinfo=datetime.timezone.utc)


class InputError(Exception):
    """Bad input: reported on one line, exit status 2."""


def workspace_version(cargo_toml):
    with open(cargo_toml, "rb") as f:
        return tomllib.load(f)["workspace"]["package"]["version"]


def driver_version(version):
    """Cargo's MAJOR.MINOR.PATCH as DriverVer's w.x.y.z (each below 65535, not all zero)."""
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)
    if not match:
        raise InputError(f"version {version!r} is not MAJOR.MINOR.PATCH (a pre-release cannot be a DriverVer)")
    parts = [int(p) for p in match.groups()] + [0]
    if any(p >= 65535 for p in parts) or not any(parts):
        raise InputError(f"version {version!r} cannot be a DriverVer (each part below 65535, not 0.0.0.0)")
    return ".".join(str(p) for p in parts)


def utc(epoch):
    moment = datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc)
    if moment < DOS_EPOCH:
        raise InputError(f"epoch {epoch} is before 1980, which neither a zip nor DriverVer can hold")
    return moment


def driver_date(epoch):
    """DriverVer's date: mm/dd/yyyy, two-digit month and day."""
    return utc(epoch).strftime("%m/%d/%Y")


def crlf(data):
    """Text with CRLF line ends (whatever it had: LF or CRLF)."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def split_comment(line):
    """(code, comment) of an INF line: the comment starts at the first `;` outside quotes."""
    quoted = False
    for i, c in enumerate(line):
        if c == '"':
            quoted = not quoted
        elif c == ";" and not quoted:
            return line[:i], line[i:]
    return line, ""


def stamp(inx_text, version, epoch, arch=ARCH):
    """The INF for the INX text (str); returns bytes with CRLF lines."""
    if not inx_text.isascii():
        raise InputError("the INX has non-ASCII characters (the INF is written as ASCII)")
    lines = inx_text.splitlines()
    section = None
    driver_ver = catalog = 0
    out = []
    for line in lines:
        code, comment = split_comment(line)
        code = code.strip()
        header = re.fullmatch(r"\[([^\]]+)\]", code)
        if header:
            section = header.group(1).strip().lower()
        key = code.split("=", 1)[0].strip().lower() if "=" in code else None
        if section == "version" and key == "driverver":
            driver_ver += 1
            line = f"DriverVer   = {driver_date(epoch)},{driver_version(version)}"
        elif section == "version" and key == "catalogfile":
            catalog += 1
            line = f"CatalogFile = {CATALOG}"
        code, comment = split_comment(line)
        code = code.replace("$ARCH$", arch)
        line = code + comment
        left = re.search(r"\$[A-Za-z_]+\$", code)
        if left:
            raise InputError(f"the INX uses {left.group(0)}, which this stamper does not fill in")
        out.append(line)
    if driver_ver != 1:
        raise InputError(f"the INX's [Version] has {driver_ver} DriverVer lines, not exactly one")
    if catalog != 1:
        raise InputError(f"the INX's [Version] has {catalog} CatalogFile lines, not exactly one")
    return ("\r\n".join(out) + "\r\n").encode("ascii")


def entry_bytes(name, path):
    with open(path, "rb") as f:
        data = f.read()
    return crlf(data) if name.lower().endswith(TEXT_SUFFIXES) else data


def parse_pairs(pairs):
    result = []
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path or "/" in name or "\\" in name:
            raise InputError(f"{pair!r} is not NAME=PATH with a plain file name")
        if not os.path.isfile(path):
            raise InputError(f"{path} (for {name}) is not a file")
        result.append((name, path))
    names = [n.lower() for n, _ in result]
    if len(set(names)) != len(names):
        raise InputError("an entry name is given twice")
    return result


def zip_info(folder, name, epoch):
    info = zipfile.ZipInfo(f"{folder}/{name}", date_time=utc(epoch).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 0  # MS-DOS: no Unix owner or mode bits
    info.external_attr = 0x20  # FILE_ATTRIBUTE_ARCHIVE, as Windows' own zip writes
    return info


def write_zip(out, folder, epoch, entries):
    tmp = f"{out}.partial"
    try:
        with zipfile.ZipFile(tmp, "w") as archive:
            for name, path in entries:
                archive.writestr(zip_info(folder, name, epoch), entry_bytes(name, path), compresslevel=9)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def pe_kind(data):
    """(machine, subsystem) of a PE image, or None if it is not one."""
    if len(data) < 0x40 or data[:2] != b"MZ":
        return None
    offset = struct.unpack_from("<I", data, 0x3C)[0]
    if data[offset:offset + 4] != b"PE\0\0":
        return None
    machine = struct.unpack_from("<H", data, offset + 4)[0]
    subsystem = struct.unpack_from("<H", data, offset + 24 + 68)[0]
    return machine, subsystem


class Report:
    def __init__(self):
        self.failures = 0

    def check(self, ok, what, why=""):
        print(f"  {'ok  ' if ok else 'FAIL'}  {what}{'' if ok or not why else f': {why}'}")
        if not ok:
            self.failures += 1


def check_inf(report, data, version, epoch):
    text = data.decode("ascii", errors="replace")
    report.check(b"\n" not in data.replace(b"\r\n", b""), "avcam.inf has CRLF line ends only")
    expected = f"DriverVer   = {driver_date(epoch)},{driver_version(version)}"
    report.check(expected in text.splitlines(), f"avcam.inf has {expected!r}")
    left = [v for line in text.splitlines() for v in re.findall(r"\$[A-Za-z_]+\$", split_comment(line)[0])]
    report.check(not left, "avcam.inf has no $VARIABLE$ left", f"found {left}")
    report.check(f"NT{ARCH}.10.0...19041" in text, f"avcam.inf's models are decorated NT{ARCH}.10.0...19041")
    report.check(f"CatalogFile = {CATALOG}" in text.splitlines(), f"avcam.inf names {CATALOG}")


def check_zip(path, folder, epoch, expected, version):
    report = Report()
    with open(path, "rb") as f:
        raw = f.read()
    print(f"{path}: {len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}")
    archive = zipfile.ZipFile(io.BytesIO(raw))
    infos = archive.infolist()
    for info in infos:
        data = archive.read(info)
        print(f"  {info.file_size:>9}  {'%04d-%02d-%02d %02d:%02d:%02d' % info.date_time}  "
              f"sha256 {hashlib.sha256(data).hexdigest()[:16]}  {info.filename}")
    want_names = [f"{folder}/{name}" for name, _ in expected]
    report.check([i.filename for i in infos] == want_names, "entries are exactly, in order: " + ", ".join(n for n, _ in expected),
                 f"found {[i.filename for i in infos]}")
    report.check(archive.testzip() is None, "every entry's CRC matches")
    date = utc(epoch).timetuple()[:6]
    # A zip stores even seconds only.
    date = date[:5] + (date[5] - date[5] % 2,)
    report.check(all(i.date_time == date for i in infos), f"every entry is dated {'%04d-%02d-%02d %02d:%02d:%02d' % date} UTC")
    report.check(all(not i.extra and i.compress_type == zipfile.ZIP_DEFLATED and i.create_system == 0 for i in infos),
                 "every entry is deflated, MS-DOS attributes, no extra fields")
    entries = {i.filename: archive.read(i) for i in infos}
    for name, source in expected:
        data = entries.get(f"{folder}/{name}")
        if data is None:
            continue
        want = entry_bytes(name, source)
        report.check(data == want, f"{name} is the bytes of {source}{' (CRLF)' if name.lower().endswith(TEXT_SUFFIXES) else ''}")
        if name.lower().endswith(".ps1"):
            report.check(data.isascii(), f"{name} is ASCII (PowerShell 5.1 reads a BOM-less script in the ANSI code page)")
        elif name.lower().endswith(TEXT_SUFFIXES):
            report.check(data.isascii(), f"{name} is ASCII")
        lower = name.lower()
        if lower.endswith((".sys", ".exe")):
            kind = pe_kind(data)
            # IMAGE_FILE_MACHINE_AMD64 = 0x8664; subsystem 1 NATIVE (driver), 3 WINDOWS_CUI (console).
            want_kind = (0x8664, 1) if lower.endswith(".sys") else (0x8664, 3)
            report.check(kind == want_kind, f"{name} is an AMD64 {'native (driver)' if want_kind[1] == 1 else 'console'} image",
                         f"machine/subsystem {kind}")
        if lower.endswith(".inf"):
            check_inf(report, data, version, epoch)
    return report.failures


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("version")
    p.add_argument("--cargo-toml", default="Cargo.toml")
    p = sub.add_parser("stamp")
    p.add_argument("--inx", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--epoch", required=True, type=int)
    p.add_argument("--arch", default=ARCH)
    p.add_argument("-o", "--output", default="-")
    p = sub.add_parser("zip")
    p.add_argument("--out", required=True)
    p.add_argument("--folder", required=True)
    p.add_argument("--epoch", required=True, type=int)
    p.add_argument("entries", nargs="+", metavar="NAME=PATH")
    p = sub.add_parser("check")
    p.add_argument("zip")
    p.add_argument("--folder", required=True)
    p.add_argument("--epoch", required=True, type=int)
    p.add_argument("--version", required=True)
    p.add_argument("--expect", nargs="+", required=True, metavar="NAME=PATH")
    args = parser.parse_args(argv)
    try:
        if args.command == "version":
            print(workspace_version(args.cargo_toml))
        elif args.command == "stamp":
            with open(args.inx, encoding="ascii", errors="surrogateescape") as f:
                inf = stamp(f.read(), args.version, args.epoch, args.arch)
            if args.output == "-":
                sys.stdout.buffer.write(inf)
            else:
                with open(args.output, "wb") as f:
                    f.write(inf)
        elif args.command == "zip":
            write_zip(args.out, args.folder, args.epoch, parse_pairs(args.entries))
        elif args.command == "check":
            failures = check_zip(args.zip, args.folder, args.epoch, parse_pairs(args.expect), args.version)
            if failures:
                print(f"{args.zip}: {failures} check(s) failed", file=sys.stderr)
                return 1
            print(f"{args.zip}: all checks passed")
    except (InputError, OSError, zipfile.BadZipFile) as error:
        print(f"package_windows.py: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
