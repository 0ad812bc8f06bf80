//! The window opens and shows the colour bars: `view --frames N --screenshot` under X, the
//! screenshot read back from the X server and checked by its pixels.
//!
//! Uses `$DISPLAY` if set, else starts its own `Xvfb` (killed at the end) if one is installed,
//! else prints a note and skips. One test per process: winit allows one event loop per process.

mod support;

use avcam_viewer::convert::fit;
use avcam_viewer::DisplayEnv;
use support::{run_with_display, scratch, start_xvfb, FakeCamera, BARS_RGB};

#[test]
fn the_window_shows_the_colour_bars() {
    let _server = match std::env::var_os("DISPLAY").filter(|d| !d.is_empty()) {
        Some(_) => None,
        None => match start_xvfb() {
            Some((server, display)) => {
                // The only test in this process: nothing else reads the environment meanwhile.
                std::env::set_var("DISPLAY", &display);
                Some(server)
            }
            None => {
                println!("note: skipped: no DISPLAY and no Xvfb (apt-get install xvfb)");
                return;
            }
        },
    };
    let dir = scratch("window");
    let shot = dir.join("window.png");
    let camera = FakeCamera::new();
    let out = run_with_display(
        &camera,
        &[
            "--format",
            "yuy2",
            "--size",
            "320x240",
            "--fps",
            "60",
            "view",
            "--frames",
            "12",
            "--screenshot",
            shot.to_str().unwrap(),
        ],
        DisplayEnv::from_process(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("screenshot after 12 frames saved"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("note:"),
        "read back from the X server: {}",
        out.stderr
    );
    let log = camera.log.lock().unwrap();
    assert_eq!((log.starts.len(), log.stops), (1, 1));
    assert!(log.frames >= 12);
    drop(log);

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let (width, height) = (info.width as usize, info.height as usize);
    let [x0, y0, fit_width, fit_height] = fit(320, 240, width, height);
    assert!(fit_width > 0 && fit_height > 0);
    for (bar, &(r, g, b)) in BARS_RGB.iter().enumerate() {
        let x = x0 + (2 * bar + 1) * fit_width / 14;
        let y = y0 + fit_height / 4;
        let pixel = &pixels[(y * width + x) * 3..][..3];
        let close = |a: u8, b: u8| a.abs_diff(b) <= 3;
        assert!(
            close(pixel[0], r) && close(pixel[1], g) && close(pixel[2], b),
            "bar {bar} at ({x}, {y}) of {width}x{height}: {pixel:?}, expected {:?}",
            (r, g, b)
        );
    }
    // Below the bars the picture is black.
    let below = &pixels[((y0 + fit_height * 7 / 8) * width + x0 + fit_width - 2) * 3..][..3];
    assert_eq!(below, [0, 0, 0]);
    if let Some(keep) = std::env::var_os("AVCAM_VIEWER_KEEP") {
        // For people: AVCAM_VIEWER_KEEP=DIR keeps the screenshot to look at.
        std::fs::copy(&shot, std::path::Path::new(&keep).join("window.png")).unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}
