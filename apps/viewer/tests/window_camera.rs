//! The real camera in the window: the `avcam-viewer` binary, with its built-in backend (the avcam
//! driver in the emulation), opens a window under X and shows the driver's colour bars; the
//! screenshot it reads back from the X server is checked by its pixels.
//!
//! A signal while the window is open closes it, stops the stream and leaves no screenshot.
//!
//! Uses `$DISPLAY` if set, else starts its own `Xvfb` (killed at the end) if one is installed,
//! else prints a note and skips.

mod support;

use std::process::Command;

use avcam_viewer::convert::fit;
use support::{entries, scratch, x_display, BARS_RGB};

#[test]
fn the_window_shows_the_cameras_colour_bars() {
    let Some((_server, display)) = x_display() else {
        return;
    };
    let dir = scratch("window-camera");
    let shot = dir.join("window.png");
    let out = Command::new(env!("CARGO_BIN_EXE_avcam-viewer"))
        .args([
            "--format", "nv12", "--size", "640x480", "--fps", "30", "view",
        ])
        .args(["--frames", "12", "--screenshot"])
        .arg(&shot)
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("screenshot after 12 frames saved"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("note:"),
        "read back from the X server: {stderr}"
    );

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let (width, height) = (info.width as usize, info.height as usize);
    let [x0, y0, fit_width, fit_height] = fit(640, 480, width, height);
    assert!(fit_width > 0 && fit_height > 0);
    let pixel = |x: usize, y: usize| -> [u8; 3] {
        let at = (y * width + x) * 3;
        [pixels[at], pixels[at + 1], pixels[at + 2]]
    };
    let close = |a: u8, b: u8| a.abs_diff(b) <= 3;
    // The bars, in the middle of their band (below the text overlay at the top left).
    for (bar, &(r, g, b)) in BARS_RGB.iter().enumerate() {
        let x = x0 + (2 * bar + 1) * fit_width / 14;
        let y = y0 + fit_height / 2;
        let [pr, pg, pb] = pixel(x, y);
        assert!(
            close(pr, r) && close(pg, g) && close(pb, b),
            "bar {bar} at ({x}, {y}) of {width}x{height}: {:?}, expected {:?}",
            (pr, pg, pb),
            (r, g, b)
        );
    }
    // The grey ramp below the castellations gets lighter from left to right.
    let ramp_y = y0 + fit_height * 13 / 16;
    let left = pixel(x0 + fit_width / 8, ramp_y);
    let right = pixel(x0 + fit_width * 7 / 8, ramp_y);
    assert!(left[0] + 64 < right[0], "ramp {left:?} .. {right:?}");
    assert!(left[0] == left[1] && left[1] == left[2], "grey {left:?}");
    if let Some(keep) = std::env::var_os("AVCAM_VIEWER_KEEP") {
        // For people: AVCAM_VIEWER_KEEP=DIR keeps the screenshot to look at.
        std::fs::copy(&shot, std::path::Path::new(&keep).join("window-camera.png")).unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
#[cfg(unix)]
fn a_signal_closes_the_window_and_leaves_no_screenshot() {
    let Some((_server, display)) = x_display() else {
        return;
    };
    let dir = scratch("window-signal");
    let mut child = Command::new(env!("CARGO_BIN_EXE_avcam-viewer"))
        .args([
            "--size", "320x240", "--fps", "30", "view", "--frames", "1000000",
        ])
        .arg("--screenshot")
        .arg(dir.join("window.png"))
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The screenshot's partial file exists once the handler is installed.
    let start = std::time::Instant::now();
    while entries(&dir).is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the viewer exited early"
        );
        assert!(start.elapsed().as_secs() < 120, "no partial file");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Let it show some frames (not needed for the outcome, which is the same before the first).
    std::thread::sleep(std::time::Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() > 120 {
            let _ = child.kill();
            panic!("the window did not close on SIGINT");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by a signal after"), "{stderr}");
    assert!(entries(&dir).is_empty(), "left {:?}", entries(&dir));
    std::fs::remove_dir_all(dir).unwrap();
}
