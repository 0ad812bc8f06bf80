"""Table (or one JSON object) of frames/s and ratios for scripts/bench-vs-peers.sh.

Inputs come from the environment: AVCAM_JSON (the synthesis bench's peer-mode line), PEERS
("name|threads|fps" lines), JSON_OUT, LOAD_BEFORE/LOAD_AFTER, FFMPEG_VERSION, GST_VERSION.
Ratios: "/memset" is frames/s over the memset bound of the same column; "avcam x" is avcam's
bars+box+text frames/s over this row's frames/s in the same column.
"""
import json
import os

avcam = json.loads(os.environ["AVCAM_JSON"])
figures = {f["name"]: f for f in avcam["figures"]}
peers = {}
for line in os.environ["PEERS"].splitlines():
    if line.strip():
        name, threads, fps = line.split("|")
        peers.setdefault(name, {})[threads] = float(fps)

rows = []
for name in ("avcam bars+box+text", "avcam bars"):
    f = figures[name]
    rows.append({"name": name, "single": f["single_fps"], "all": f["all_fps"], "checksum": f["checksum"]})
for name in ("ffmpeg testsrc2", "ffmpeg smptebars", "gst videotestsrc smpte", "gst videotestsrc ball"):
    p = peers.get(name, {})
    rows.append({"name": name, "single": p.get("single"), "all": p.get("all")})
for name in ("memset bound", "memcpy bound"):
    f = figures[name]
    rows.append({"name": name, "single": f["single_fps"], "all": f["all_fps"]})

bound = figures["memset bound"]
main = figures["avcam bars+box+text"]
for row in rows:
    for col, key in (("single", "single_fps"), ("all", "all_fps")):
        fps = row[col]
        row[f"{col}_vs_memset"] = fps / bound[key] if fps else None
        row[f"avcam_{col}_x"] = main[key] / fps if fps else None


def of(name):
    return next(r for r in rows if r["name"] == name)


goals = {
    "synthesis_vs_memset_single_ge_0.5": of("avcam bars+box+text")["single_vs_memset"],
    "avcam_vs_ffmpeg_testsrc2_single_ge_5": of("ffmpeg testsrc2")["avcam_single_x"],
    "avcam_vs_gst_smpte_single_ge_5": of("gst videotestsrc smpte")["avcam_single_x"],
}
result = {
    "size": avcam["size"],
    "format": avcam["format"],
    "frames": avcam["frames"],
    "frame_bytes": avcam["frame_bytes"],
    "threads": avcam["threads"],
    "load_before": os.environ.get("LOAD_BEFORE"),
    "load_after": os.environ.get("LOAD_AFTER"),
    "ffmpeg": os.environ.get("FFMPEG_VERSION"),
    "gstreamer": os.environ.get("GST_VERSION"),
    "rows": rows,
    "goals": goals,
}

if os.environ.get("JSON_OUT") == "1":
    print(json.dumps(result))
else:
    def num(v, fmt):
        width = int("".join(c for c in fmt.split(".")[0] if c.isdigit()) or 0)
        return format(v, fmt) if v is not None else "-".rjust(width)

    t = avcam["threads"]
    print(f"{avcam['size']} {avcam['format']}, {avcam['frames']} frames of {avcam['frame_bytes']} bytes, "
          f"{t} core(s); load {result['load_before']} -> {result['load_after']}; "
          f"ffmpeg {result['ffmpeg']}, GStreamer {result['gstreamer']}")
    print(f"| {'generator':<24} | {'fps 1 thread':>12} | {'/memset':>7} | {'avcam x':>7} "
          f"| {'fps all cores':>13} | {'/memset':>7} | {'avcam x':>7} |")
    print(f"|{'-' * 26}|{'-' * 13}:|{'-' * 8}:|{'-' * 8}:|{'-' * 14}:|{'-' * 8}:|{'-' * 8}:|")
    for r in rows:
        print(f"| {r['name']:<24} | {num(r['single'], '12.0f')} | {num(r['single_vs_memset'], '7.2f')} "
              f"| {num(r['avcam_single_x'], '7.2f')} | {num(r['all'], '13.0f')} "
              f"| {num(r['all_vs_memset'], '7.2f')} | {num(r['avcam_all_x'], '7.2f')} |")
    print("goals (1 thread): " + ", ".join(f"{k} = {num(v, '.2f')}" for k, v in goals.items()))
