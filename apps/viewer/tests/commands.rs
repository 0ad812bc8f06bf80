//! The subcommands end to end, in-process, against the test-double camera: listings, Y4M and
//! raw recordings, PNG snapshots, stress reports (text, JSON, plot) and every bad input.

mod support;

use std::fs;
use std::path::Path;

use avcam_viewer::camera::PixelFormat;
use avcam_viewer::convert::rgb_to_yuv;
use support::{entries, run_with, scratch, FakeCamera, Faults, BARS_RGB, BARS_YUV};

/// A parsed Y4M file: the header's tags and each frame's planes.
struct Y4m {
    tags: Vec<String>,
    frames: Vec<Vec<u8>>,
}

impl Y4m {
    fn parse(bytes: &[u8], frame_bytes: usize) -> Y4m {
        let header_end = bytes.iter().position(|&b| b == b'\n').unwrap();
        let header = std::str::from_utf8(&bytes[..header_end]).unwrap();
        let tags: Vec<String> = header.split(' ').map(String::from).collect();
        assert_eq!(tags[0], "YUV4MPEG2");
        let mut rest = &bytes[header_end + 1..];
        let mut frames = Vec::new();
        while !rest.is_empty() {
            assert!(rest.starts_with(b"FRAME\n"), "frame marker");
            assert!(rest.len() >= 6 + frame_bytes, "a whole frame");
            frames.push(rest[6..6 + frame_bytes].to_vec());
            rest = &rest[6 + frame_bytes..];
        }
        Y4m { tags, frames }
    }

    fn has(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

/// The x of the centre of bar `bar` in a picture `width` wide.
fn bar_centre(bar: usize, width: usize) -> usize {
    (2 * bar + 1) * width / 14
}

fn close(a: u8, b: u8, tolerance: u8) -> bool {
    a.abs_diff(b) <= tolerance
}

#[test]
fn list_shows_the_device_pins_formats_and_patterns() {
    let out = run_with(&FakeCamera::new(), &["list"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("fake camera (test double)\npatterns: bars, black\n"),
        "{text}"
    );
    assert!(
        text.contains("pin 0 \"Capture\" (capture), 12 formats"),
        "{text}"
    );
    assert!(
        text.contains("pin 1 \"Still\" (still), 1 formats"),
        "{text}"
    );
    assert!(text.contains("  nv12     320x240  1..=1000 fps"), "{text}");
    assert!(text.contains("  rgb32   1280x720  1..=120 fps"), "{text}");
    assert_eq!(text.lines().count(), 3 + 12 + 1 + 1);
}

#[test]
fn record_writes_y4m_in_each_formats_colour_space_with_the_bar_values() {
    let dir = scratch("record-formats");
    for (format, tag, chroma_width, chroma_height) in [
        ("nv12", "C420mpeg2", 160, 120),
        ("yuy2", "C422", 160, 240),
        ("rgb24", "C444", 320, 240),
        ("rgb32", "C444", 320, 240),
    ] {
        let path = dir.join(format!("{format}.y4m"));
        let camera = FakeCamera::new();
        let out = run_with(
            &camera,
            &[
                "--format",
                format,
                "--size",
                "320x240",
                "--fps",
                "200",
                "record",
                "--frames",
                "4",
                "--output",
                path.to_str().unwrap(),
            ],
        );
        assert_eq!(out.code, 0, "{format}: {}", out.stderr);
        assert!(out.stderr.contains("recorded 4 frames"), "{}", out.stderr);
        let luma = 320 * 240;
        let chroma = chroma_width * chroma_height;
        let y4m = Y4m::parse(&fs::read(&path).unwrap(), luma + 2 * chroma);
        assert_eq!(y4m.frames.len(), 4, "{format}");
        for tag in [
            "W320",
            "H240",
            "F200:1",
            "Ip",
            "A1:1",
            tag,
            "XCOLORRANGE=LIMITED",
        ] {
            assert!(y4m.has(tag), "{format}: header lacks {tag}: {:?}", y4m.tags);
        }
        // Bar centres on row 10 (top part): Y, U and V as the standard says.
        let frame = &y4m.frames[0];
        for bar in 0..7 {
            let x = bar_centre(bar, 320);
            let (y, u, v) = (
                frame[10 * 320 + x],
                frame[luma + (10 * chroma_height / 240) * chroma_width + x * chroma_width / 320],
                frame[luma
                    + chroma
                    + (10 * chroma_height / 240) * chroma_width
                    + x * chroma_width / 320],
            );
            let expected = if format.starts_with("rgb") {
                let (r, g, b) = BARS_RGB[bar];
                rgb_to_yuv(r, g, b)
            } else {
                BARS_YUV[bar]
            };
            assert_eq!((y, u, v), expected, "{format} bar {bar}");
            // RGB bars converted to YUV land within 1 of the YUV standard values.
            let standard = BARS_YUV[bar];
            assert!(
                close(y, standard.0, 1) && close(u, standard.1, 1) && close(v, standard.2, 1),
                "{format} bar {bar}: {:?} vs {standard:?}",
                (y, u, v)
            );
        }
        // Bottom rows of RGB frames are black (the picture was flipped top-down).
        assert_eq!(frame[239 * 320], 16, "{format}: bottom-left is black");
    }
    assert_eq!(
        entries(&dir),
        ["nv12.y4m", "rgb24.y4m", "rgb32.y4m", "yuy2.y4m"]
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn record_seconds_records_ceil_seconds_times_fps_frames() {
    let dir = scratch("record-seconds");
    let path = dir.join("out.y4m");
    let out = run_with(
        &FakeCamera::new(),
        &[
            "--size",
            "320x240",
            "--fps",
            "100",
            "record",
            "--seconds",
            "0.055",
            "-o",
            path.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let y4m = Y4m::parse(&fs::read(&path).unwrap(), 320 * 240 * 3 / 2);
    assert_eq!(y4m.frames.len(), 6, "ceil(0.055 * 100)");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn record_to_stdout_writes_packed_raw_frames_and_the_ffmpeg_line() {
    for (format, frame_bytes, pix_fmt) in [
        ("nv12", 320 * 240 * 3 / 2, "nv12"),
        ("yuy2", 320 * 240 * 2, "yuyv422"),
        ("rgb24", 320 * 240 * 3, "bgr24"),
        ("rgb32", 320 * 240 * 4, "bgr0"),
    ] {
        let out = run_with(
            &FakeCamera::new(),
            &[
                "--format", format, "--size", "320x240", "--fps", "500", "record", "--frames", "3",
                "-o", "-",
            ],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            out.stdout.len(),
            3 * frame_bytes,
            "{format}: no stride padding"
        );
        let hint = format!("ffmpeg -f rawvideo -pix_fmt {pix_fmt} -s 320x240 -r 500 -i -");
        assert!(out.stderr.contains(&hint), "{}", out.stderr);
        if format == "rgb24" {
            // Top-down: the first pixel is the white bar's B, G, R.
            assert_eq!(&out.stdout[..3], [191, 191, 191]);
            // The last row (black) comes last.
            assert_eq!(&out.stdout[frame_bytes - 3..frame_bytes], [0, 0, 0]);
        }
    }
}

#[test]
fn png_snapshots_go_to_a_file_or_a_directory() {
    let dir = scratch("png");
    let y4m = dir.join("out.y4m");
    let png = dir.join("last.png");
    let out = run_with(
        &FakeCamera::new(),
        &[
            "--format",
            "yuy2",
            "--size",
            "320x240",
            "--fps",
            "500",
            "record",
            "--frames",
            "3",
            "-o",
            y4m.to_str().unwrap(),
            "--png",
            png.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (info, pixels) = decode_png(&png);
    assert_eq!((info.0, info.1), (320, 240));
    for (bar, &(r, g, b)) in BARS_RGB.iter().enumerate() {
        let x = bar_centre(bar, 320);
        let got = &pixels[(20 * 320 + x) * 3..][..3];
        assert!(
            close(got[0], r, 2) && close(got[1], g, 2) && close(got[2], b, 2),
            "bar {bar}: {got:?} vs {:?}",
            (r, g, b)
        );
    }

    let shots = dir.join("shots");
    fs::create_dir(&shots).unwrap();
    let out = run_with(
        &FakeCamera::new(),
        &[
            "--size",
            "320x240",
            "--fps",
            "500",
            "record",
            "--frames",
            "5",
            "-o",
            "-",
            "--png",
            shots.to_str().unwrap(),
            "--png-every",
            "2",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        entries(&shots),
        ["frame-000000.png", "frame-000002.png", "frame-000004.png"]
    );
    fs::remove_dir_all(dir).unwrap();
}

/// Decodes an RGB8 PNG: ((width, height), pixels).
fn decode_png(path: &Path) -> ((u32, u32), Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    pixels.truncate(info.buffer_size());
    ((info.width, info.height), pixels)
}

#[test]
fn every_bad_input_exits_2_with_one_line_naming_the_choices_and_leaves_nothing() {
    let dir = scratch("bad-inputs");
    let out_y4m = dir.join("out.y4m");
    let out_y4m = out_y4m.to_str().unwrap();
    let plot = dir.join("plot.png");
    let plot = plot.to_str().unwrap();
    let a_file = dir.join("a-file");
    let missing_dir = dir.join("missing/out.y4m");
    let missing_dir = missing_dir.to_str().unwrap();
    let dir_str = dir.to_str().unwrap();
    let record = |extra: &[&'static str]| -> Vec<String> {
        let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        args.extend(["record", "--frames", "2", "-o"].map(String::from));
        args.push(out_y4m.to_string());
        args
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (record(&["--format", "mjpg"]), "valid: nv12, yuy2, rgb24, rgb32"),
        (record(&["--size", "1000x1000"]), "size 1000x1000 is not offered in nv12; valid sizes: 320x240, 640x480, 1280x720"),
        (record(&["--size", "wide"]), "e.g. 1280x720"),
        (record(&["--size", "320x240", "--fps", "1001"]), "--fps 1001 is outside the range for nv12 320x240; valid: 1..=1000 fps"),
        (record(&["--fps", "121"]), "valid: 1..=120 fps"),
        (vec!["--fps".into(), "0".into(), "record".into(), "--seconds".into(), "1".into(), "-o".into(), out_y4m.into()], "--fps 0 (unthrottled) is only for `stress` and `record --frames N`"),
        (record(&["--pattern", "plaid"]), "unknown pattern 'plaid'; valid patterns: bars, black"),
        (record(&["--pin", "7"]), "unknown pin 7; pins that stream: 0, 1"),
        (record(&["--pin", "1", "--format", "nv12"]), "format nv12 is not offered by the camera; valid formats: rgb24"),
        (vec!["record".into(), "--frames".into(), "0".into(), "-o".into(), out_y4m.into()], "--frames 0 must be above zero"),
        (vec!["record".into(), "--seconds".into(), "0".into(), "-o".into(), out_y4m.into()], "--seconds 0 must be above zero"),
        (vec!["record".into(), "--seconds".into(), "-3".into(), "-o".into(), out_y4m.into()], "--seconds -3 must be above zero"),
        (vec!["record".into(), "--frames".into(), "1".into(), "-o".into(), missing_dir.into()], "cannot write --output"),
        (vec!["record".into(), "--frames".into(), "1".into(), "-o".into(), dir_str.into()], "it is a directory"),
        (vec!["record".into(), "--frames".into(), "1".into(), "-o".into(), dir.join("out.mp4").to_str().unwrap().into()], "the file name must end with .y4m"),
        (vec!["record".into(), "--frames".into(), "1".into(), "-o".into(), out_y4m.into(), "--png".into(), dir.join("missing/x.png").to_str().unwrap().into()], "cannot write --png"),
        (vec!["record".into(), "--frames".into(), "1".into(), "-o".into(), out_y4m.into(), "--png".into(), dir.join("a-file/x.png").to_str().unwrap().into()], "cannot write --png"),
        (vec!["record".into(), "--frames".into(), "1".into(), "-o".into(), out_y4m.into(), "--png".into(), dir_str.into(), "--png-every".into(), "0".into()], "--png-every 0 must be above zero"),
        (vec!["record".into(), "-o".into(), out_y4m.into()], "--frames"),
        (vec!["stress".into(), "--seconds".into(), "0".into(), "--plot".into(), plot.into()], "--seconds 0 must be above zero"),
        (vec!["stress".into(), "--seconds".into(), "nan".into()], "--seconds NaN must be above zero"),
        // The cases: a panic converting 1e300 s, and 60 GB reserved up front for 1e6 s.
        (vec!["stress".into(), "--seconds".into(), "1e300".into()], "--seconds 1e300 is too long; the most is 604800 (7 days)"),
        (vec!["--fps".into(), "1000".into(), "--size".into(), "320x240".into(), "stress".into(), "--seconds".into(), "1e6".into()], "--seconds 1000000 is too long"),
        (vec!["record".into(), "--seconds".into(), "1e300".into(), "-o".into(), out_y4m.into()], "--seconds 1e300 is too long"),
        (vec!["stress".into(), "--seconds".into(), "1".into(), "--plot".into(), dir.join("missing/p.png").to_str().unwrap().into()], "cannot write --plot"),
        (vec!["--fps".into(), "5000".into(), "stress".into(), "--seconds".into(), "1".into(), "--plot".into(), plot.into()], "valid: 1..=120 fps, or 0 for unthrottled"),
        (vec!["--size".into(), "320x241".into(), "stress".into(), "--seconds".into(), "1".into()], "valid sizes: 320x240, 640x480, 1280x720"),
        (vec!["view".into()], "no display to open a window on (DISPLAY and WAYLAND_DISPLAY are not set); use `avcam-viewer record"),
        (vec![], "no display"),
        (vec!["view".into(), "--frames".into(), "0".into()], "--frames 0 must be above zero"),
        (vec!["view".into(), "--screenshot".into(), dir.join("s.png").to_str().unwrap().into()], "--frames"),
        (vec!["--bogus".into()], "unexpected argument '--bogus'"),
        (vec!["play".into()], "unrecognized subcommand 'play'"),
    ];
    fs::write(&a_file, b"not a directory").unwrap();
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_with(&FakeCamera::new(), &args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(expected),
            "{args:?}: {:?} lacks {expected:?}",
            out.stderr
        );
        assert!(out.stderr.starts_with("avcam-viewer: "), "{:?}", out.stderr);
        assert_eq!(
            out.stderr.matches('\n').count(),
            1,
            "one line: {:?}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(entries(&dir), ["a-file"], "{args:?} left something behind");
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_camera_failure_mid_record_exits_1_stops_the_stream_and_leaves_no_file() {
    let dir = scratch("record-failure");
    let path = dir.join("out.y4m");
    let png = dir.join("last.png");
    let camera = FakeCamera::with_faults(Faults {
        fail_after: Some(3),
        ..Faults::default()
    });
    let out = run_with(
        &camera,
        &[
            "--size",
            "320x240",
            "--fps",
            "500",
            "record",
            "--frames",
            "10",
            "-o",
            path.to_str().unwrap(),
            "--png",
            png.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("camera failed while waiting for a frame"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("0xc0000185"), "{}", out.stderr);
    assert!(entries(&dir).is_empty(), "left {:?}", entries(&dir));
    let log = camera.log.lock().unwrap();
    assert_eq!((log.starts.len(), log.stops, log.frames), (1, 1, 3));
    drop(log);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn frames_that_contradict_their_description_are_reported() {
    let camera = FakeCamera::with_faults(Faults {
        bad_stride: true,
        ..Faults::default()
    });
    let out = run_with(
        &camera,
        &["--size", "320x240", "record", "--frames", "1", "-o", "-"],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            "bad frame from the camera: nv12 320x240: stride 1 is below the row size 320"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(camera.log.lock().unwrap().stops, 1);
}

/// Every field of the stress JSON, as documented in docs/viewer.md.
const STRESS_FIELDS: [&str; 19] = [
    "schema",
    "config",
    "seconds",
    "frames_delivered",
    "fps_delivered",
    "frames_dropped",
    "drop_count_last_frame",
    "picture_number_gaps",
    "presentation",
    "arrival",
    "on_time_share",
    "allocator",
    "frames_in_allocator_frames",
    "frames_in_client_buffers",
    "memory_seen",
    "frames_empty",
    "faults",
    // Nested objects, checked below.
    "interval_us",
    "jitter_us",
];

fn stress_json(camera: &FakeCamera, args: &[&str]) -> serde_json::Value {
    let out = run_with(camera, args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn stress_json_has_the_documented_fields_and_no_drops_when_paced() {
    let camera = FakeCamera::new();
    let json = stress_json(
        &camera,
        &[
            "--size",
            "320x240",
            "--fps",
            "100",
            "stress",
            "--seconds",
            "0.3",
            "--json",
        ],
    );
    let object = json.as_object().unwrap();
    for field in &STRESS_FIELDS[..17] {
        assert!(object.contains_key(*field), "missing {field}");
    }
    assert_eq!(
        object.len(),
        17,
        "no undocumented fields: {:?}",
        object.keys()
    );
    assert_eq!(json["schema"], "avcam-viewer-stress/3");
    assert!(json["faults"].is_null(), "no --inject");
    assert_eq!(json["frames_empty"], 0);
    let config = &json["config"];
    for (key, value) in [
        ("format", serde_json::json!("nv12")),
        ("width", serde_json::json!(320)),
        ("height", serde_json::json!(240)),
        ("fps_requested", serde_json::json!(100)),
        ("nominal_interval_us", serde_json::json!(10000.0)),
        ("pattern", serde_json::json!("bars")),
        ("frame_path", serde_json::json!("allocator")),
        ("pin", serde_json::json!(0)),
        ("device", serde_json::json!("fake camera (test double)")),
    ] {
        assert_eq!(config[key], value, "config.{key}");
    }
    let delivered = json["frames_delivered"].as_u64().unwrap();
    assert!(delivered >= 2, "{delivered}");
    assert_eq!(json["frames_dropped"], 0);
    assert_eq!(json["picture_number_gaps"], 0);
    assert_eq!(json["frames_in_allocator_frames"].as_u64(), Some(delivered));
    assert_eq!(json["frames_in_client_buffers"], 0);
    assert_eq!(
        json["memory_seen"]["pin_allocator"].as_u64(),
        Some(delivered)
    );
    assert!(json["seconds"].as_f64().unwrap() >= 0.3);
    for clock in ["presentation", "arrival"] {
        let report = &json[clock];
        assert_eq!(report["samples"].as_u64(), Some(delivered - 1), "{clock}");
        assert_eq!(report["reference_us"], 10000.0, "{clock}");
        for key in ["min", "mean", "p50", "p99", "max"] {
            assert!(
                report["interval_us"][key].is_f64(),
                "{clock}.interval_us.{key}"
            );
        }
        for key in ["p50", "p99", "max"] {
            assert!(report["jitter_us"][key].is_f64(), "{clock}.jitter_us.{key}");
        }
    }
    // The double stamps exact presentation times: no presentation jitter at all.
    assert_eq!(json["presentation"]["jitter_us"]["max"], 0.0);
    assert!(json["on_time_share"].is_f64());
    let allocator = &json["allocator"];
    assert_eq!(allocator["framing"]["frames"], 4);
    assert_eq!(allocator["allocs"].as_u64(), Some(delivered));
    assert_eq!(allocator["frees"].as_u64(), Some(delivered));
    assert_eq!(allocator["frames_outstanding"], 0);
}

#[test]
fn every_stress_field_is_documented() {
    let doc =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/viewer.md"))
            .unwrap();
    for field in STRESS_FIELDS.iter().chain(&[
        "nominal_interval_us",
        "fps_requested",
        "frame_path",
        "reference_us",
        "samples",
        "frames_outstanding",
        "alignment_mask",
        "pool_type",
        "pin_allocator",
        "client_buffer",
        "spec",
        "injected",
        "observed",
        "burst_dropped",
        "stall_dropped",
        "delay_mean_us",
        "discontinuity",
        "time_wraps",
        "picture_wraps",
        "missing",
        "late",
        "late_mean_us",
        "late_max_us",
    ]) {
        assert!(
            doc.contains(&format!("`{field}`")),
            "docs/viewer.md does not document `{field}`"
        );
    }
}

#[test]
fn stress_sees_injected_drops_in_counts_and_picture_numbers() {
    let camera = FakeCamera::with_faults(Faults {
        drop_every: Some(4),
        ..Faults::default()
    });
    let json = stress_json(
        &camera,
        &[
            "--size",
            "320x240",
            "--fps",
            "200",
            "stress",
            "--seconds",
            "0.2",
            "--json",
        ],
    );
    let delivered = json["frames_delivered"].as_u64().unwrap();
    let expected_drops = (delivered - 1) / 4;
    assert!(expected_drops >= 1, "{delivered} frames");
    assert_eq!(json["frames_dropped"].as_u64(), Some(expected_drops));
    assert_eq!(json["picture_number_gaps"].as_u64(), Some(expected_drops));
    assert_eq!(json["drop_count_last_frame"].as_u64(), Some(expected_drops));
    // A drop shows as one double-length presentation interval.
    assert_eq!(json["presentation"]["interval_us"]["max"], 10000.0);
}

#[test]
fn stress_with_copy_reports_client_buffers_no_allocator_and_unthrottled_no_on_time_share() {
    let camera = FakeCamera::new();
    let json = stress_json(
        &camera,
        &[
            "--size",
            "320x240",
            "--fps",
            "0",
            "--copy",
            "stress",
            "--seconds",
            "0.2",
            "--json",
        ],
    );
    let delivered = json["frames_delivered"].as_u64().unwrap();
    assert_eq!(json["config"]["frame_path"], "copy");
    assert_eq!(json["config"]["fps_requested"], 0);
    assert!(json["config"]["nominal_interval_us"].is_null());
    assert_eq!(json["frames_in_allocator_frames"], 0);
    assert_eq!(json["frames_in_client_buffers"].as_u64(), Some(delivered));
    assert_eq!(
        json["memory_seen"]["client_buffer"].as_u64(),
        Some(delivered)
    );
    assert!(json["allocator"].is_null(), "{json}");
    assert!(json["on_time_share"].is_null());
    assert_eq!(
        camera.log.lock().unwrap().starts[0].frame_path,
        avcam_viewer::camera::FramePath::Copy
    );
}

#[test]
fn stress_prints_a_text_report_and_draws_the_plot_png() {
    let dir = scratch("stress-plot");
    let plot = dir.join("intervals.png");
    let out = run_with(
        &FakeCamera::new(),
        &[
            "--format",
            "rgb32",
            "--size",
            "320x240",
            "--fps",
            "200",
            "stress",
            "--seconds",
            "0.2",
            "--plot",
            plot.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "stress: fake camera (test double) rgb32 320x240 200 fps",
        "delivered",
        "dropped         0",
        "arrival",
        "jitter us",
        "on time",
        "allocator       4 frames",
        "frame memory    ",
        " in allocator frames, 0 in client buffers",
    ] {
        assert!(text.contains(needle), "{needle:?} not in\n{text}");
    }
    let ((width, height), pixels) = decode_png(&plot);
    assert_eq!((width, height), (960, 540));
    // Not blank: the bars are blue (40, 100, 200) and some text is black.
    let blue = pixels
        .chunks_exact(3)
        .filter(|p| p == &[40, 100, 200])
        .count();
    let black = pixels.chunks_exact(3).filter(|p| p == &[0, 0, 0]).count();
    assert!(blue > 100 && black > 100, "blue {blue}, black {black}");
    assert_eq!(entries(&dir), ["intervals.png"]);
    if let Some(keep) = std::env::var_os("AVCAM_VIEWER_KEEP") {
        // For people: AVCAM_VIEWER_KEEP=DIR keeps the plot to look at.
        fs::copy(&plot, Path::new(&keep).join("intervals.png")).unwrap();
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn help_reads_well_and_exits_0() {
    let out = run_with(&FakeCamera::new(), &["--help"]);
    assert_eq!(out.code, 0);
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "Usage: avcam-viewer",
        "list",
        "view",
        "record",
        "stress",
        "--format <FORMAT>",
        "--size <WxH>",
        "--fps <N>",
        "--pattern <NAME>",
        "--copy",
        "Examples:",
    ] {
        assert!(help.contains(needle), "{needle:?} not in\n{help}");
    }
    let out = run_with(&FakeCamera::new(), &["record", "--help"]);
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("--output <FILE.y4m|->") && help.contains("--png <DIR|FILE.png>"),
        "{help}"
    );
    let out = run_with(&FakeCamera::new(), &["--help"]);
    let help = String::from_utf8(out.stdout).unwrap();
    for format in PixelFormat::ALL {
        assert!(help.contains(format.name()), "--help lacks {format}");
    }
}
