//! Outputs are never destructive: every output of every command goes only to a new or regular
//! file, never through a link or onto a device, FIFO or directory, never two outputs on one file,
//! with its format's extension; a refusal is one line, exit code 2, and touches nothing. A
//! signal's flag stops a command with exit code 130 and removes its partial files. In-process,
//! against the test double (the real binary with real signals: tests/signals.rs).

mod support;

use std::fs;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use support::{entries, run_with, scratch, FakeCamera};

/// Runs `args` and checks the refusal: exit 2, one line containing `expected`, nothing on stdout.
fn refused(args: &[&str], expected: &str) {
    let out = run_with(&FakeCamera::new(), args);
    assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
    assert!(
        out.stderr.starts_with("avcam-viewer: ") && out.stderr.contains(expected),
        "{args:?}: {:?} lacks {expected:?}",
        out.stderr
    );
    assert_eq!(out.stderr.matches('\n').count(), 1, "{:?}", out.stderr);
    assert!(out.stdout.is_empty());
}

/// The record command line for `output` (and more), 320x240, 2 frames unless `more` says.
fn record<'a>(output: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--size", "320x240", "--fps", "500", "record", "-o", output];
    if !more.contains(&"--frames") {
        args.extend_from_slice(&["--frames", "2"]);
    }
    args.extend_from_slice(more);
    args
}

#[test]
fn the_same_file_twice_is_refused_and_nothing_is_written() {
    // The case: `--output same.y4m --png same.y4m` used to leave only the PNG.
    let dir = scratch("same-file");
    let same = dir.join("same.y4m");
    let same = same.to_str().unwrap();
    refused(&record(same, &["--png", same]), "must end with .png");

    let png = dir.join("shot.png");
    let png = png.to_str().unwrap();
    let out_y4m = dir.join("out.y4m");
    let out_y4m = out_y4m.to_str().unwrap();
    // A PNG named like the Y4M but for case, and a Y4M named .png: extensions per format.
    refused(&record(png, &[]), "must end with .y4m");
    refused(&record(out_y4m, &["--png", out_y4m]), "must end with .png");
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));

    #[cfg(unix)]
    {
        // Two names of one file (a hard link): refused, the file unchanged.
        let y4m_link = dir.join("link.y4m");
        fs::write(png, b"old picture").unwrap();
        fs::hard_link(png, &y4m_link).unwrap();
        refused(
            &record(y4m_link.to_str().unwrap(), &["--png", png]),
            "it is the same file as --output",
        );
        assert_eq!(fs::read(png).unwrap(), b"old picture");
        assert_eq!(entries(&dir), ["link.y4m", "shot.png"]);
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn extensions_match_the_format_of_every_option() {
    let dir = scratch("extensions");
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let (jpg, y4m) = (path("x.jpg"), path("x.y4m"));
    refused(&["stress", "--seconds", "1", "--plot", &jpg], "--plot");
    refused(
        &["stress", "--seconds", "1", "--plot", &y4m],
        "must end with .png",
    );
    refused(
        &["view", "--frames", "1", "--screenshot", &y4m],
        "--screenshot",
    );
    refused(
        &record(&path("out.y4m"), &["--png", &jpg]),
        "must end with .png",
    );
    // Case does not matter.
    let out = run_with(
        &FakeCamera::new(),
        &record(&path("UPPER.Y4M"), &["--png", &path("S.PNG")]),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(entries(&dir), ["S.PNG", "UPPER.Y4M"]);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
#[cfg(unix)]
fn links_devices_and_fifos_are_never_written() {
    let dir = scratch("links");
    let victim = dir.join("victim");
    fs::write(&victim, b"precious").unwrap();
    let link = |name: &str| {
        let path = dir.join(name);
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (png_link, y4m_link, plot_link) = (link("l.png"), link("l.y4m"), link("p.png"));
    let out_y4m = dir.join("out.y4m").to_str().unwrap().to_string();
    refused(&record(&out_y4m, &["--png", &png_link]), "symbolic link");
    refused(&record(&y4m_link, &[]), "symbolic link");
    refused(
        &["stress", "--seconds", "1", "--plot", &plot_link],
        "symbolic link",
    );
    refused(
        &["view", "--frames", "1", "--screenshot", &png_link],
        "symbolic link",
    );
    // The case: `--png /dev/null` used to replace the device with a regular file.
    refused(
        &record(&out_y4m, &["--png", "/dev/null"]),
        "character device",
    );
    refused(&record("/dev/null", &[]), "character device");
    let null_png = dir.join("null.png");
    if fs::metadata("/dev/null").is_ok() {
        // A device under a .png name (made by root only; otherwise a link to one).
        std::os::unix::fs::symlink("/dev/null", &null_png).unwrap();
        refused(
            &record(&out_y4m, &["--png", null_png.to_str().unwrap()]),
            "symbolic link",
        );
        fs::remove_file(&null_png).unwrap();
    }
    let fifo = dir.join("f.png");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|status| status.success()) {
        refused(
            &record(&out_y4m, &["--png", fifo.to_str().unwrap()]),
            "it is a FIFO",
        );
        fs::remove_file(&fifo).unwrap();
    }
    // A `--png DIR` holding a planted link where a frame will go.
    let frames = dir.join("frames");
    fs::create_dir(&frames).unwrap();
    std::os::unix::fs::symlink(&victim, frames.join("frame-000001.png")).unwrap();
    refused(
        &record(&out_y4m, &["--png", frames.to_str().unwrap()]),
        "frame-000001.png in it: it is a symbolic link",
    );
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::symlink_metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(
        entries(&dir),
        ["frames", "l.png", "l.y4m", "p.png", "victim"],
        "nothing created, the links still links"
    );
    for name in ["l.png", "l.y4m", "p.png"] {
        assert!(fs::symlink_metadata(dir.join(name))
            .unwrap()
            .file_type()
            .is_symlink());
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_existing_regular_file_is_replaced_only_when_the_command_succeeds() {
    let dir = scratch("replace");
    let target = dir.join("out.y4m");
    fs::write(&target, b"old recording").unwrap();
    let target = target.to_str().unwrap();
    let out = run_with(&FakeCamera::new(), &record(target, &[]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fs::read(target).unwrap().starts_with(b"YUV4MPEG2 "));

    fs::write(target, b"old recording").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut camera = FakeCamera::new();
    camera.stop_after = Some((1, stop));
    let out = run_with(&camera, &record(target, &[]));
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert_eq!(fs::read(target).unwrap(), b"old recording");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_signal_mid_record_removes_the_partial_files_and_exits_130() {
    let dir = scratch("interrupt-record");
    let y4m = dir.join("out.y4m");
    let png = dir.join("last.png");
    let stop = Arc::new(AtomicBool::new(false));
    let mut camera = FakeCamera::new();
    camera.stop_after = Some((3, stop.clone()));
    let out = run_with(
        &camera,
        &record(
            y4m.to_str().unwrap(),
            &["--png", png.to_str().unwrap(), "--frames", "10"],
        ),
    );
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "avcam-viewer: interrupted by a signal after 3 of 10 frames; partial files removed, \
         nothing written\n"
    );
    assert!(entries(&dir).is_empty(), "left {:?}", entries(&dir));
    let log = camera.log.lock().unwrap();
    assert_eq!((log.frames, log.stops), (3, 1), "the stream was stopped");
    drop(log);

    // Raw frames on stdout: the frames before the signal went out whole, then it stops.
    let stop = Arc::new(AtomicBool::new(false));
    let mut camera = FakeCamera::new();
    camera.stop_after = Some((2, stop));
    let out = run_with(&camera, &record("-", &["--frames", "10"]));
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert_eq!(out.stdout.len(), 2 * 320 * 240 * 3 / 2);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_signal_mid_stress_writes_no_report_and_no_plot() {
    let dir = scratch("interrupt-stress");
    let plot = dir.join("plot.png");
    let stop = Arc::new(AtomicBool::new(false));
    let mut camera = FakeCamera::new();
    camera.stop_after = Some((5, stop));
    let out = run_with(
        &camera,
        &[
            "--size",
            "320x240",
            "--fps",
            "0",
            "stress",
            "--seconds",
            "600",
            "--json",
            "--plot",
            plot.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert!(
        out.stderr.contains("(5 frames); partial files removed"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
    assert!(entries(&dir).is_empty(), "left {:?}", entries(&dir));
    assert_eq!(camera.log.lock().unwrap().stops, 1);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_closed_stdout_is_refused_before_the_camera_starts() {
    for args in [
        &["record", "--frames", "2", "-o", "-"][..],
        &["stress", "--seconds", "1", "--json"][..],
        &["stress", "--seconds", "1"][..],
    ] {
        let camera = FakeCamera::new();
        let stop = AtomicBool::new(false);
        let mut closed = avcam_viewer::stdout::ClosedStdout;
        let out = support::run_into(
            &camera,
            args,
            avcam_viewer::DisplayEnv::default(),
            &mut closed,
            &stop,
        );
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("stdout is closed"), "{}", out.stderr);
        assert!(camera.log.lock().unwrap().starts.is_empty(), "{args:?}");
    }
    // `list` has nothing to check first: it fails at the write, exit 1, not silently.
    let stop = AtomicBool::new(false);
    let mut closed = avcam_viewer::stdout::ClosedStdout;
    let out = support::run_into(
        &FakeCamera::new(),
        &["list"],
        avcam_viewer::DisplayEnv::default(),
        &mut closed,
        &stop,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("cannot write the listing to stdout: stdout is closed"),
        "{}",
        out.stderr
    );
}

/// A stdout whose reader went away after `left` bytes.
struct BrokenPipe {
    left: usize,
}

impl std::io::Write for BrokenPipe {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        let n = bytes.len().min(self.left);
        self.left -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_broken_pipe_stops_quietly_with_141_and_no_false_success() {
    let dir = scratch("epipe");
    let png = dir.join("last.png");
    for args in [
        record("-", &["--frames", "50", "--png", png.to_str().unwrap()]),
        vec!["--fps", "0", "stress", "--seconds", "0.05", "--json"],
        vec!["list"],
    ] {
        let camera = FakeCamera::new();
        let stop = AtomicBool::new(false);
        let mut pipe = BrokenPipe { left: 100 };
        let out = support::run_into(
            &camera,
            &args,
            avcam_viewer::DisplayEnv::default(),
            &mut pipe,
            &stop,
        );
        assert_eq!(out.code, 141, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr, "", "{args:?}: quiet");
        assert!(
            entries(&dir).is_empty(),
            "{args:?}: left {:?}",
            entries(&dir)
        );
    }
    assert!(Path::new(&dir).exists());
    fs::remove_dir_all(dir).unwrap();
}
