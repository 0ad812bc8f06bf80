//! The real binary: help, argument errors and output checks that need no camera, the exit
//! codes, and `list` on the built-in backend.

use std::process::{Command, Output};

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

#[test]
fn help_exits_0_and_bad_arguments_exit_2_on_one_line() {
    let help = viewer(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage: avcam-viewer"));

    let bad = viewer(&["--format", "mjpg", "list"]);
    assert_eq!(bad.status.code(), Some(2));
    let message = stderr(&bad);
    assert_eq!(message.lines().count(), 1, "{message:?}");
    assert!(
        message.contains("valid: nv12, yuy2, rgb24, rgb32"),
        "{message}"
    );
}

#[test]
fn outputs_and_the_display_are_checked_before_the_camera() {
    let unwritable = viewer(&[
        "record",
        "--frames",
        "1",
        "-o",
        "/nonexistent-avcam-dir/out.y4m",
    ]);
    assert_eq!(unwritable.status.code(), Some(2), "{}", stderr(&unwritable));
    assert!(stderr(&unwritable).contains("cannot write --output /nonexistent-avcam-dir/out.y4m"));

    let zero = viewer(&["stress", "--seconds", "0"]);
    assert_eq!(zero.status.code(), Some(2));
    assert!(stderr(&zero).contains("--seconds 0 must be above zero"));

    let no_display = viewer(&["view"]);
    assert_eq!(no_display.status.code(), Some(2));
    assert!(
        stderr(&no_display).contains("no display"),
        "{}",
        stderr(&no_display)
    );
    assert!(stderr(&no_display).contains("record"));
}

#[test]
fn list_runs_on_the_built_in_backend() {
    let list = viewer(&["list"]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("nv12    1280x720"), "{text}");
}
