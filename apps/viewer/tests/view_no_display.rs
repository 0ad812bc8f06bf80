//! `view` when the window system refuses: DISPLAY names a server that does not exist, so
//! winit cannot create its event loop; the viewer says so on one line and exits with code 2.
//! (Its own process: winit allows one event loop per process.)

mod support;

use support::{run_with_display, FakeCamera};

#[test]
fn a_display_that_cannot_be_opened_exits_2_suggesting_record() {
    // The only test in this process: nothing else reads the environment meanwhile.
    std::env::set_var("DISPLAY", ":31999");
    std::env::remove_var("WAYLAND_DISPLAY");
    let camera = FakeCamera::new();
    let out = run_with_display(&camera, &["view"], avcam_viewer::DisplayEnv::from_process());
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("avcam-viewer: no display to open a window on ("),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("use `avcam-viewer record"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        camera.log.lock().unwrap().starts.is_empty(),
        "no stream without a window"
    );
}
