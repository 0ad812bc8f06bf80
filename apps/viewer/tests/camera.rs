//! The real camera through the real binary: `avcam-viewer` with its built-in backend (the avcam
//! driver in the emulation, through the KS client library). `list` shows the driver's formats,
//! `record` writes a Y4M that ffmpeg decodes to the driver's BT.601 75% bars (skipped with a note
//! without ffmpeg), `stress --json` reports every documented field and no drops, in allocator
//! mode (the default: the viewer's allocator on the pin) and in copy mode (its own buffers).

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::{scratch, BARS_YUV};

fn viewer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avcam-viewer"))
        .args(args)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[test]
fn list_shows_the_drivers_formats() {
    let out = viewer(&["list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("avcam virtual camera"), "{text}");
    assert!(
        text.contains("patterns: bars75, bars100, ramp, checkerboard, solid, zoneplate"),
        "{text}"
    );
    assert!(
        text.contains("pin 0 \"Capture\" (capture), 44 formats"),
        "{text}"
    );
    // The controls with their values, ranges and defaults, as the driver declares them.
    for line in [
        "  brightness    750            -10000..=10000, default 750",
        "  pattern       bars75         bars75..=zoneplate, default bars75",
        "  solid-colour  #808080        #000000..=#FFFFFF, default #808080",
        "  hflip         off            off..=on, default off",
        "fault injection: refused",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
    // Every pixel format at every size, with the driver's pixel-rate budget as the top rate.
    for format in ["nv12", "yuy2", "rgb24", "rgb32"] {
        for (size, fps) in [
            ("320x240", 1000),
            ("640x480", 1000),
            ("1280x720", 500),
            ("1920x1080", 240),
            ("3840x2160", 60),
        ] {
            let line = text
                .lines()
                .find(|line| line.contains(format) && line.contains(&format!(" {size} ")))
                .unwrap_or_else(|| panic!("{format} {size} missing:\n{text}"));
            assert!(line.contains(&format!("1..={fps} fps")), "{line}");
        }
    }
}

/// ffprobe's `key=value` lines for the Y4M at `path`.
fn probe(path: &Path) -> String {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries"])
        .arg("stream=width,height,pix_fmt,r_frame_rate,nb_read_frames")
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .output()
        .unwrap();
    assert!(output.status.success(), "ffprobe: {}", stderr(&output));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn a_recording_decodes_in_ffmpeg_to_the_drivers_colour_bars() {
    if !have("ffmpeg") || !have("ffprobe") {
        println!("note: skipped: ffmpeg/ffprobe not installed (apt-get install ffmpeg)");
        return;
    }
    const WIDTH: usize = 640;
    const HEIGHT: usize = 480;
    const FRAMES: usize = 30;
    let dir = scratch("camera-record");
    let path = dir.join("bars.y4m");
    let out = viewer(&[
        "--format",
        "nv12",
        "--size",
        "640x480",
        "record",
        "--frames",
        "30",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let probed = probe(&path);
    for expected in [
        "width=640",
        "height=480",
        "pix_fmt=yuv420p",
        "r_frame_rate=30/1",
        "nb_read_frames=30",
    ] {
        assert!(
            probed.lines().any(|l| l == expected),
            "{expected}: {probed}"
        );
    }

    // ffmpeg's decode, as planar 4:2:0: Y, then U and V at half size.
    let decoded = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(&path)
        .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "-"])
        .output()
        .unwrap();
    assert!(decoded.status.success(), "ffmpeg: {}", stderr(&decoded));
    let luma = WIDTH * HEIGHT;
    let frame_bytes = luma * 3 / 2;
    assert_eq!(decoded.stdout.len(), FRAMES * frame_bytes);
    for (index, frame) in decoded.stdout.chunks_exact(frame_bytes).enumerate() {
        let (y_plane, chroma) = frame.split_at(luma);
        let (u_plane, v_plane) = chroma.split_at(luma / 4);
        // The top rows (above the text overlay) and the middle of the bars' band.
        for row in [0, 1, 2, 3, HEIGHT / 2] {
            for (bar, &(y, u, v)) in BARS_YUV.iter().enumerate() {
                // The bar's interior: 8 pixels in from each edge.
                let left = bar * WIDTH / 7 + 8;
                let right = (bar + 1) * WIDTH / 7 - 8;
                for x in left..right {
                    let c = (row / 2) * (WIDTH / 2) + x / 2;
                    let seen = (y_plane[row * WIDTH + x], u_plane[c], v_plane[c]);
                    assert_eq!(seen, (y, u, v), "frame {index} row {row} x {x} bar {bar}");
                }
            }
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The JSON report of `stress` with `args`.
fn stress(args: &[&str]) -> serde_json::Value {
    let out = viewer(args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn stress_at_720p_30_fps_reports_every_field_and_no_drops() {
    let report = stress(&[
        "--format",
        "nv12",
        "--size",
        "1280x720",
        "--fps",
        "30",
        "stress",
        "--seconds",
        "1",
        "--json",
    ]);
    assert_eq!(report["schema"], "avcam-viewer-stress/3");
    for field in [
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
    ] {
        assert!(report.get(field).is_some(), "{field} missing: {report}");
    }
    let config = &report["config"];
    assert_eq!(config["format"], "nv12");
    assert_eq!(
        (config["width"].as_u64(), config["height"].as_u64()),
        (Some(1280), Some(720))
    );
    assert_eq!(config["fps_requested"], 30);
    assert_eq!(config["pattern"], "bars75");
    assert!(report["faults"].is_null(), "no --inject");
    assert_eq!(report["frames_dropped"], 0, "{report}");
    assert_eq!(report["drop_count_last_frame"], 0, "{report}");
    assert_eq!(report["picture_number_gaps"], 0, "{report}");
    let delivered = report["frames_delivered"].as_u64().unwrap();
    assert!(delivered >= 2, "{report}");
    // The driver stamps 30 fps exactly: intervals of floor(n x 10^7 / 30) steps.
    let presentation = &report["presentation"]["interval_us"];
    for key in ["min", "max"] {
        let interval = presentation[key].as_f64().unwrap();
        assert!((interval - 33_333.35).abs() <= 0.1, "{key}: {report}");
    }
    // The default frame path: every frame in a frame of the viewer's allocator on the pin.
    assert_eq!(config["frame_path"], "allocator");
    assert_eq!(report["frames_in_allocator_frames"], delivered);
    assert_eq!(report["frames_in_client_buffers"], 0);
    assert_eq!(report["memory_seen"]["pin_allocator"], delivered);
    assert_eq!(report["memory_seen"]["client_buffer"], 0);
    // The allocator, from the pin's framing: four 720p NV12 frames. The viewer took the four at
    // RUN, then one per frame after the first (giving the held one back); at stop every frame
    // came back, so the counts balance and none is outstanding.
    let allocator = &report["allocator"];
    assert_eq!(allocator["framing"]["frame_size"], 1280 * 720 * 3 / 2);
    let frames = allocator["framing"]["frames"].as_u64().unwrap();
    assert_eq!(frames, 4, "{report}");
    assert_eq!(allocator["allocs"], frames + delivered - 1, "{report}");
    assert_eq!(allocator["frees"], allocator["allocs"], "{report}");
    assert_eq!(allocator["frames_outstanding"], 0, "{report}");
}

#[test]
fn unthrottled_stress_moves_the_virtual_clock_one_interval_per_frame_on_both_paths() {
    for (path, flags) in [("allocator", &[][..]), ("copy", &["--copy"][..])] {
        let mut args = vec!["--format", "yuy2", "--size", "320x240", "--fps", "0"];
        args.extend_from_slice(flags);
        args.extend(["stress", "--seconds", "1", "--json"]);
        let report = stress(&args);
        assert_eq!(report["config"]["fps_requested"], 0);
        assert_eq!(report["config"]["frame_path"], path);
        assert_eq!(report["frames_dropped"], 0, "{report}");
        assert_eq!(report["picture_number_gaps"], 0, "{report}");
        // Presentation times are the virtual clock's: the shortest interval (1000 fps) apart.
        let presentation = &report["presentation"]["interval_us"];
        assert_eq!(presentation["min"].as_f64(), Some(1000.0), "{report}");
        assert_eq!(presentation["max"].as_f64(), Some(1000.0), "{report}");
        let delivered = report["frames_delivered"].as_u64().unwrap();
        assert!(delivered >= 2);
        let (in_allocator_frames, in_client_buffers) = if path == "allocator" {
            (delivered, 0)
        } else {
            (0, delivered)
        };
        assert_eq!(
            report["frames_in_allocator_frames"], in_allocator_frames,
            "{report}"
        );
        assert_eq!(
            report["frames_in_client_buffers"], in_client_buffers,
            "{report}"
        );
        // Only the kernel-mode consumer has an allocator; it is balanced at stop.
        let allocator = &report["allocator"];
        if path == "allocator" {
            assert_eq!(allocator["frees"], allocator["allocs"], "{report}");
            assert_eq!(allocator["frames_outstanding"], 0, "{report}");
        } else {
            assert!(allocator.is_null(), "{report}");
        }
    }
}

#[test]
fn bad_controls_are_bad_input_naming_the_valid_choices() {
    for (args, line) in [
        (
            &["--pattern", "plaid"][..],
            "unknown pattern 'plaid'; valid patterns: bars75, bars100, ramp, checkerboard, \
             solid, zoneplate",
        ),
        (
            &["--set", "brightness=20000"][..],
            "brightness 20000 is out of range; valid: -10000..=10000 (default 750)",
        ),
        (
            &["--set", "sharpness=1"][..],
            "unknown control 'sharpness'; valid controls: brightness, contrast, hue, \
             saturation, gamma, powerline, hflip, vflip, pattern, overlays, solid-colour, \
             noise-seed",
        ),
        (&["--set", "hflip"][..], "--set hflip: expected NAME=VALUE"),
        (
            &["--set", "hflip=sideways"][..],
            "hflip: \"sideways\" is not on or off",
        ),
        (&["--overlay", "tartan"][..], "unknown overlay \"tartan\""),
        (&["--caption", "caf\u{e9}"][..], "printable ASCII"),
    ] {
        let mut all = args.to_vec();
        all.extend(["record", "--frames", "1", "-o", "-"]);
        let out = viewer(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let text = stderr(&out);
        assert!(text.contains(line), "{args:?}: {text}");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn controls_from_the_command_line_reach_the_picture() {
    // The ramp, mirrored: black at the right, white at the left, on every row (NV12 luma).
    let out = viewer(&[
        "--pattern",
        "ramp",
        "--set",
        "hflip=on",
        "--overlay",
        "none",
        "--format",
        "nv12",
        "--size",
        "320x240",
        "record",
        "--frames",
        "1",
        "-o",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let frame = &out.stdout;
    assert_eq!(frame.len(), 320 * 240 * 3 / 2);
    for row in [0, 120, 239] {
        assert_eq!(frame[row * 320], 235, "row {row}");
        assert_eq!(frame[row * 320 + 319], 16, "row {row}");
    }
    // `controls` sets and shows them.
    let out = viewer(&["--set", "gamma=220", "--caption", "hi there", "controls"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.contains("  gamma         220 "), "{text}");
    assert!(
        stderr(&out).contains("the emulated camera lives inside this process"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unthrottled_stress_injects_faults_and_observes_exactly_what_the_camera_counted() {
    let report = stress(&[
        "--format",
        "yuy2",
        "--size",
        "320x240",
        "--fps",
        "0",
        "--copy",
        "stress",
        "--seconds",
        "1",
        "--json",
        "--inject",
        // Delays shorter than the 1 ms frame interval (unthrottled 320x240 runs at 1000 fps),
        // so no frame holds back the next.
        "drop=10%,burst=2/25,delay=200us,jitter=300us,spike=300us/10,empty=7,discontinuity=5,seed=7",
    ]);
    let faults = &report["faults"];
    let (injected, observed) = (&faults["injected"], &faults["observed"]);
    let count = |v: &serde_json::Value, key: &str| v[key].as_u64().unwrap();
    let dropped = count(injected, "dropped") + count(injected, "burst_dropped");
    assert!(
        count(injected, "dropped") > 0 && count(injected, "burst_dropped") > 0,
        "{faults}"
    );
    assert_eq!(count(observed, "missing"), dropped, "{faults}");
    assert_eq!(
        count(observed, "late"),
        count(injected, "delayed"),
        "{faults}"
    );
    let (mean_injected, mean_observed) = (
        injected["delay_mean_us"].as_f64().unwrap(),
        observed["late_mean_us"].as_f64().unwrap(),
    );
    assert!((mean_injected - mean_observed).abs() < 0.2, "{faults}");
    assert!((200.0..=800.0).contains(&observed["late_max_us"].as_f64().unwrap()));
    for key in ["empty", "discontinuity"] {
        assert!(count(injected, key) > 0, "{key}: {faults}");
        assert_eq!(
            count(observed, key),
            count(injected, key),
            "{key}: {faults}"
        );
    }
    assert_eq!(faults["spec"].as_str().unwrap().split(',').count(), 8);
}

#[test]
fn a_bad_injection_is_bad_input() {
    let out = viewer(&["stress", "--seconds", "1", "--inject", "drop=120%"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--inject: drop=120%: a share 0%..=100%"),
        "{}",
        stderr(&out)
    );
}
