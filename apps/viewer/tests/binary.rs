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

#[test]
#[cfg(not(windows))]
fn the_windows_backend_is_a_usage_error_outside_a_windows_build() {
    let windows = viewer(&["--backend", "windows", "list"]);
    assert_eq!(windows.status.code(), Some(2));
    let message = stderr(&windows);
    assert_eq!(message.lines().count(), 1, "{message:?}");
    assert!(
        message.contains("the windows backend needs a Windows build"),
        "{message}"
    );
    let emulated = viewer(&["--backend", "emulated", "list"]);
    assert_eq!(emulated.status.code(), Some(0), "{}", stderr(&emulated));
}

#[test]
fn unthrottled_recordings_are_the_same_bytes_on_every_run_and_frame_path() {
    // What the wine check (scripts/test-viewer-wine.sh) compares against relies on this.
    let dir = std::env::temp_dir().join(format!("avcam-viewer-det-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let record = |name: &str, extra: &[&str]| -> Vec<u8> {
        let path = dir.join(name);
        let path = path.to_str().unwrap();
        let mut args = vec!["--fps", "0", "--format", "yuy2", "--size", "320x240"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["record", "--frames", "6", "-o", path]);
        let output = viewer(&args);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(
            stderr(&output).contains("unthrottled"),
            "{}",
            stderr(&output)
        );
        std::fs::read(path).unwrap()
    };
    let first = record("a.y4m", &[]);
    let second = record("b.y4m", &[]);
    let copied = record("c.y4m", &["--copy"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(first.len(), second.len());
    assert!(first == second, "two allocator-mode runs differ");
    assert!(first == copied, "allocator and copy mode differ");
    // Six frames of 320x240 YUY2 behind the header: the recording really has them.
    assert!(first.len() > 6 * 320 * 240 * 2);

    let by_seconds = viewer(&["--fps", "0", "record", "--seconds", "1", "-o", "x.y4m"]);
    assert_eq!(by_seconds.status.code(), Some(2));
    assert!(stderr(&by_seconds).contains("`record --frames N`"));
}

#[test]
#[cfg(target_os = "linux")]
fn a_missing_or_broken_driver_image_is_one_line_and_exit_2_with_no_output_left() {
    let dir = std::env::temp_dir().join(format!("avcam-viewer-driver-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = dir.join("out.y4m");
    let output_arg = output.to_str().unwrap();
    let not_an_image = dir.join("avcam.sys");
    std::fs::write(&not_an_image, b"MZ but nothing after it").unwrap();
    let truncated_pe = dir.join("truncated.sys");
    // A DOS header whose e_lfanew points past the end of the file.
    let mut header = vec![0u8; 64];
    header[..2].copy_from_slice(b"MZ");
    header[0x3C..0x40].copy_from_slice(&0x1000u32.to_le_bytes());
    std::fs::write(&truncated_pe, header).unwrap();
    for (driver, expected) in [
        (
            "/nonexistent-avcam-dir/avcam.sys".to_owned(),
            "--driver /nonexistent-avcam-dir/avcam.sys: cannot read".to_owned(),
        ),
        (
            not_an_image.display().to_string(),
            format!(
                "--driver {}: not a loadable PE image",
                not_an_image.display()
            ),
        ),
        (
            truncated_pe.display().to_string(),
            format!(
                "--driver {}: not a loadable PE image",
                truncated_pe.display()
            ),
        ),
    ] {
        for command in [
            &["list"][..],
            &["record", "--frames", "1", "-o", output_arg],
        ] {
            let run = viewer(&[&["--driver", &driver][..], command].concat());
            assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
            let message = stderr(&run);
            assert_eq!(message.lines().count(), 1, "{message:?}");
            assert!(message.contains(&expected), "{message}");
            assert!(!output.exists(), "no output for a bad driver");
        }
    }
    let windows = viewer(&["--driver", "avcam.sys", "--backend", "windows", "list"]);
    assert_eq!(windows.status.code(), Some(2));
    std::fs::remove_dir_all(dir).unwrap();
}
