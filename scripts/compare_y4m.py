#!/usr/bin/env python3
"""Compares two Y4M files frame by frame (standard library only).

Usage: compare_y4m.py EXPECTED.y4m ACTUAL.y4m
Prints the stream header, the frame count and each frame's SHA-256 prefix; exits 1 naming the
first frame that differs (or the header, or the count), 0 when both are identical byte for byte.
The frames must differ from one another (a moving picture): a stream of identical frames proves
little, so that fails too.
"""
import hashlib
import sys

# Bytes per pixel as a fraction, by the colour space tag (without its leading C).
FRAME_BYTES = {"420mpeg2": (3, 2), "420jpeg": (3, 2), "420": (3, 2), "422": (2, 1), "444": (3, 1)}


def read_y4m(path):
    with open(path, "rb") as f:
        data = f.read()
    header, _, rest = data.partition(b"\n")
    tags = {t[:1]: t[1:] for t in header.split(b" ")[1:]}
    width, height = int(tags[b"W"]), int(tags[b"H"])
    num, den = FRAME_BYTES[tags.get(b"C", b"420jpeg").decode()]
    size = width * height * num // den
    frames = []
    while rest:
        marker, _, rest = rest.partition(b"\n")
        if not marker.startswith(b"FRAME") or len(rest) < size:
            sys.exit(f"{path}: frame {len(frames)} is truncated or has no FRAME marker")
        frames.append(rest[:size])
        rest = rest[size:]
    return header, frames


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    expected_path, actual_path = sys.argv[1:]
    expected_header, expected = read_y4m(expected_path)
    actual_header, actual = read_y4m(actual_path)
    print(f"header: {expected_header.decode()}")
    if expected_header != actual_header:
        print(f"DIFFERENT header: {actual_header.decode()}")
        return 1
    if len(expected) != len(actual):
        print(f"DIFFERENT frame count: {len(expected)} expected, {len(actual)} in {actual_path}")
        return 1
    distinct = len({hashlib.sha256(f).digest() for f in expected})
    print(f"{len(expected)} frames, {distinct} distinct")
    for index, (e, a) in enumerate(zip(expected, actual)):
        if e != a:
            first = next(i for i, (x, y) in enumerate(zip(e, a)) if x != y)
            print(f"DIFFERENT frame {index}: first differing byte at offset {first} "
                  f"(sha256 {hashlib.sha256(e).hexdigest()[:16]} vs {hashlib.sha256(a).hexdigest()[:16]})")
            return 1
    if distinct < 2 and len(expected) > 1:
        print("every frame is the same picture: the comparison would prove nothing")
        return 1
    print("identical frame for frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
