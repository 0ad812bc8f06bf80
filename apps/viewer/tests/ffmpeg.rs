//! An independent decoder's view of `record`: ffprobe reads each Y4M header as intended, and
//! ffmpeg decodes every frame of the Y4M files and of the raw stdout stream back to the bars.
//! Skips with a note when ffmpeg/ffprobe are not installed (CI installs them).

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use support::{run_with, scratch, FakeCamera, BARS_RGB};

const WIDTH: usize = 320;
const HEIGHT: usize = 240;
const FRAMES: usize = 5;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Decodes `input` (a path, or `-` with `stdin` bytes) to RGB24 frames with ffmpeg.
fn decode_rgb24(input_args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new("ffmpeg")
        .args(
            ["-v", "error", "-nostdin"]
                .iter()
                .filter(|a| stdin.is_none() || **a != "-nostdin"),
        )
        .args(input_args)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || pipe.write_all(&bytes));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Checks the decoded frames: count, and the bars' colours on every frame.
fn check_bars(rgb: &[u8], what: &str) {
    let frame_bytes = WIDTH * HEIGHT * 3;
    assert_eq!(
        rgb.len(),
        FRAMES * frame_bytes,
        "{what}: frame count x size"
    );
    for (index, frame) in rgb.chunks_exact(frame_bytes).enumerate() {
        for (bar, &(r, g, b)) in BARS_RGB.iter().enumerate() {
            let x = (2 * bar + 1) * WIDTH / 14;
            let pixel = &frame[(30 * WIDTH + x) * 3..][..3];
            let close = |a: u8, b: u8| a.abs_diff(b) <= 3;
            assert!(
                close(pixel[0], r) && close(pixel[1], g) && close(pixel[2], b),
                "{what} frame {index} bar {bar}: {pixel:?} vs {:?}",
                (r, g, b)
            );
        }
    }
}

fn probe(path: &Path) -> String {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries"])
        .arg("stream=width,height,pix_fmt,color_range,chroma_location,r_frame_rate,nb_read_frames")
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn ffmpeg_reads_the_recordings_back_as_colour_bars() {
    if !have("ffmpeg") || !have("ffprobe") {
        println!("note: skipped: ffmpeg/ffprobe not installed (apt-get install ffmpeg)");
        return;
    }
    let dir = scratch("ffmpeg");
    for (format, pix_fmt) in [
        ("nv12", "yuv420p"),
        ("yuy2", "yuv422p"),
        ("rgb24", "yuv444p"),
        ("rgb32", "yuv444p"),
    ] {
        let path = dir.join(format!("{format}.y4m"));
        let frames = FRAMES.to_string();
        let size = format!("{WIDTH}x{HEIGHT}");
        let out = run_with(
            &FakeCamera::new(),
            &[
                "--format",
                format,
                "--size",
                &size,
                "--fps",
                "30",
                "record",
                "--frames",
                &frames,
                "-o",
                path.to_str().unwrap(),
            ],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let probed = probe(&path);
        for line in [
            format!("width={WIDTH}"),
            format!("height={HEIGHT}"),
            format!("pix_fmt={pix_fmt}"),
            "color_range=tv".to_string(),
            "r_frame_rate=30/1".to_string(),
            format!("nb_read_frames={FRAMES}"),
        ] {
            assert!(
                probed.lines().any(|l| l == line),
                "{format}: ffprobe lacks {line}:\n{probed}"
            );
        }
        if format == "nv12" {
            assert!(
                probed.contains("chroma_location=left"),
                "C420mpeg2 is left-sited:\n{probed}"
            );
        }
        check_bars(
            &decode_rgb24(&["-i", path.to_str().unwrap()], None),
            &format!("{format}.y4m"),
        );

        let raw = run_with(
            &FakeCamera::new(),
            &[
                "--format", format, "--size", &size, "--fps", "30", "record", "--frames", &frames,
                "-o", "-",
            ],
        );
        assert_eq!(raw.code, 0, "{}", raw.stderr);
        let raw_pix_fmt = avcam_viewer::y4m::ffmpeg_pix_fmt(format.parse_format());
        check_bars(
            &decode_rgb24(
                &[
                    "-f",
                    "rawvideo",
                    "-pix_fmt",
                    raw_pix_fmt,
                    "-s",
                    &size,
                    "-r",
                    "30",
                    "-i",
                    "-",
                ],
                Some(&raw.stdout),
            ),
            &format!("raw {format}"),
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// `"nv12".parse_format()`: the pixel format named on the command line.
trait ParseFormat {
    fn parse_format(&self) -> avcam_viewer::camera::PixelFormat;
}

impl ParseFormat for str {
    fn parse_format(&self) -> avcam_viewer::camera::PixelFormat {
        *avcam_viewer::camera::PixelFormat::ALL
            .iter()
            .find(|f| f.name() == self)
            .unwrap()
    }
}
