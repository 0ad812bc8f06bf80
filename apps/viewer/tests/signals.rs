//! The real binary, as the issue tried it from a shell: SIGINT and SIGTERM during `record` and
//! `stress` (stop, remove the partial files, exit 130), stdout closed (`>&-`: refused, exit 2),
//! stdout's reader gone (`| head -c 100`: quiet, exit 141), and outputs that are a device, a
//! link, or the file stdout goes to (refused, untouched). Unix only: the signals and the shell.
#![cfg(unix)]

mod support;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{entries, scratch};

const VIEWER: &str = env!("CARGO_BIN_EXE_avcam-viewer");

/// How long a child may take to reach a state or to exit: a liveness bound, not a measurement.
const PATIENCE: Duration = Duration::from_secs(120);

fn viewer() -> Command {
    let mut command = Command::new(VIEWER);
    command.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
    command
}

/// Waits until `ready` holds (polling), or fails the test after [`PATIENCE`].
fn wait_until(what: &str, child: &mut Child, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the viewer exited ({status}) before {what}");
        }
        assert!(start.elapsed() < PATIENCE, "never {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `signal` (e.g. "INT") to `child`.
fn kill(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for `child` to exit and returns its output.
fn finish(mut child: Child) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("the viewer did not stop");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// The partial files in `dir` and their sizes.
fn partials(dir: &Path) -> Vec<(String, u64)> {
    entries(dir)
        .into_iter()
        .filter(|name| name.ends_with(".partial"))
        .map(|name| {
            let size = std::fs::metadata(dir.join(&name)).map_or(0, |m| m.len());
            (name, size)
        })
        .collect()
}

#[test]
fn sigint_and_sigterm_during_record_remove_the_partial_file_and_keep_the_old_one() {
    for (signal, twice) in [("INT", false), ("TERM", false), ("INT", true)] {
        let dir = scratch(&format!("record-{signal}-{twice}"));
        let target = dir.join("out.y4m");
        std::fs::write(&target, b"the previous recording").unwrap();
        let mut child = viewer()
            .args([
                "--size", "320x240", "--fps", "30", "record", "--frames", "100000",
            ])
            .arg("-o")
            .arg(&target)
            .arg("--png")
            .arg(dir.join("last.png"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Frames are being written: the Y4M's partial file holds more than its header.
        wait_until("wrote frames", &mut child, || {
            partials(&dir).iter().any(|(_, size)| *size > 320 * 240)
        });
        kill(&child, signal);
        if twice {
            kill(&child, signal);
        }
        let output = finish(child);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(130), "SIG{signal}: {stderr}");
        if !twice {
            // (A second signal may end the process before it says anything.)
            assert!(stderr.contains("interrupted by a signal after"), "{stderr}");
            assert!(stderr.contains("of 100000 frames"), "{stderr}");
        }
        assert_eq!(
            entries(&dir),
            ["out.y4m"],
            "SIG{signal}: partial files left"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"the previous recording");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn sigterm_during_stress_writes_no_plot_and_no_report() {
    let dir = scratch("stress");
    let plot = dir.join("plot.png");
    let mut child = viewer()
        .args([
            "--size",
            "320x240",
            "--fps",
            "100",
            "stress",
            "--seconds",
            "3600",
            "--json",
        ])
        .arg("--plot")
        .arg(&plot)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The plot's partial file exists once the handler is installed and the outputs checked.
    wait_until("created the plot's partial file", &mut child, || {
        !partials(&dir).is_empty()
    });
    kill(&child, "TERM");
    let output = finish(child);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("of 3600.0 s"), "{stderr}");
    assert!(output.stdout.is_empty(), "no report");
    assert!(entries(&dir).is_empty(), "left {:?}", entries(&dir));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_closed_stdout_is_an_error_and_dev_null_is_not() {
    // `sh -c 'exec viewer ARGS >&-'`: the viewer starts with descriptor 1 closed.
    let closed = |args: &[&str]| -> Output {
        Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" >&-")
            .arg(VIEWER)
            .args(args)
            .env_remove("DISPLAY")
            .output()
            .unwrap()
    };
    for args in [
        &[
            "--fps", "0", "--size", "320x240", "record", "--frames", "3", "-o", "-",
        ][..],
        &["stress", "--seconds", "1", "--json"][..],
    ] {
        let output = closed(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("stdout is closed"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let output = closed(&["list"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("stdout is closed"));
    let output = closed(&["--help"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "no false success for --help either"
    );

    // Sent to /dev/null on purpose: that is a stdout, and the frames go there.
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    let output = viewer()
        .args([
            "--fps", "0", "--size", "320x240", "record", "--frames", "3", "-o", "-",
        ])
        .stdout(null)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_reader_that_goes_away_stops_record_quietly_with_141() {
    // `avcam-viewer record -o - | head -c 100`.
    let dir = scratch("epipe");
    let mut child = viewer()
        .args([
            "--fps", "0", "--size", "320x240", "record", "--frames", "1000", "-o", "-",
        ])
        .arg("--png")
        .arg(dir.join("last.png"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    // The pipe's read end is closed here (the ChildStdout was dropped).
    let output = finish(child);
    assert_eq!(output.status.code(), Some(141));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "", "quiet");
    assert!(entries(&dir).is_empty(), "left {:?}", entries(&dir));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn devices_links_and_stdouts_file_are_refused_and_left_as_they_are() {
    let dir = scratch("targets");
    let victim = dir.join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let link = dir.join("link.png");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let y4m = dir.join("out.y4m");
    let record = |png: &Path| -> Output {
        viewer()
            .args([
                "--fps", "0", "--size", "320x240", "record", "--frames", "2", "-o",
            ])
            .arg(&y4m)
            .arg("--png")
            .arg(png)
            .output()
            .unwrap()
    };
    for (png, expected) in [
        (Path::new("/dev/null"), "it is a character device"),
        (link.as_path(), "it is a symbolic link"),
    ] {
        let output = record(png);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
    {
        use std::os::unix::fs::FileTypeExt;
        let null = std::fs::symlink_metadata("/dev/null").unwrap();
        assert!(
            null.file_type().is_char_device(),
            "/dev/null is still a device"
        );
    }
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");

    // `record -o - --png x.png > x.png`: stdout is the file --png would replace.
    let shot = dir.join("shot.png");
    let stdout = std::fs::File::create(&shot).unwrap();
    let output = viewer()
        .args([
            "--fps", "0", "--size", "320x240", "record", "--frames", "2", "-o", "-",
        ])
        .arg("--png")
        .arg(&shot)
        .stdout(stdout)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("it is the file stdout is redirected to"),
        "{stderr}"
    );
    assert_eq!(entries(&dir), ["link.png", "shot.png", "victim"]);
    std::fs::remove_dir_all(dir).unwrap();
}
