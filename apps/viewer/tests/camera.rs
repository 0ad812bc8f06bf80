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
    assert!(text.contains("patterns: bars"), "{text}");
    assert!(
        text.contains("pin 0 \"Capture\" (capture), 20 formats"),
        "{text}"
    );
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
    assert_eq!(report["schema"], "avcam-viewer-stress/2");
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
    assert_eq!(config["pattern"], "bars");
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
fn a_pattern_the_camera_cannot_render_is_bad_input() {
    let out = viewer(&["--pattern", "ramp", "record", "--frames", "1", "-o", "-"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("bars"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}
