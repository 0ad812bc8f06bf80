//! `record`: frames to a Y4M file (or raw frames to stdout), with optional PNG snapshots.
//!
//! Every output is checked (and its temporary file created) before the camera is opened, and
//! committed only once the last frame is written: a failure or a bad argument leaves nothing.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::atomic::{check_directory, AtomicFile};
use crate::camera::{Rate, StreamConfig};
use crate::cli::{RecordArgs, StreamArgs};
use crate::convert::{to_rgb8, Picture};
use crate::error::ViewerError;
use crate::settings::{resolve, Resolved};
use crate::snapshot::{save_png, write_png_into};
use crate::y4m::{ffmpeg_pix_fmt, write_raw_frame, Y4mWriter};
use crate::{camera_error, open, with_stream, Context, OpenCamera};

/// How many frames to record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Length {
    /// Exactly this many frames.
    Frames(u64),
    /// `ceil(seconds * fps)` frames.
    Seconds(f64),
}

impl Length {
    /// Validates `--frames` / `--seconds` (above zero, finite).
    pub fn from_args(frames: Option<u64>, seconds: Option<f64>) -> Result<Self, ViewerError> {
        match (frames, seconds) {
            (Some(0), _) => Err(ViewerError::NotPositive {
                option: "--frames",
                value: "0".into(),
            }),
            (Some(frames), _) => Ok(Length::Frames(frames)),
            (None, Some(seconds)) if seconds.is_finite() && seconds > 0.0 => {
                Ok(Length::Seconds(seconds))
            }
            (None, seconds) => Err(ViewerError::NotPositive {
                option: "--seconds",
                value: seconds.map_or_else(|| "(missing)".into(), |s| s.to_string()),
            }),
        }
    }

    /// The frame count at `rate`.
    pub fn frames(self, rate: Rate) -> u64 {
        match (self, rate) {
            (Length::Frames(frames), _) => frames,
            (Length::Seconds(seconds), Rate::Fps(fps)) => {
                ((seconds * f64::from(fps)).ceil() as u64).max(1)
            }
            // `record --seconds` never runs unthrottled (resolve rejects --fps 0 for it).
            (Length::Seconds(_), Rate::Unthrottled) => 1,
        }
    }
}

/// Where the frames go.
enum Sink {
    /// A Y4M file being written.
    Y4m(AtomicFile),
    /// Raw frames on stdout.
    Stdout,
}

/// Where snapshots go.
enum PngTarget {
    /// The last frame into this file.
    File(AtomicFile),
    /// Every Nth frame into this directory.
    Directory(PathBuf, u64),
}

/// Whether `path` names a directory: it is one, or it ends with a path separator.
fn names_directory(path: &Path) -> bool {
    path.is_dir()
        || path
            .as_os_str()
            .to_string_lossy()
            .ends_with(std::path::is_separator)
}

/// Checks the outputs and creates their temporary files.
fn prepare_outputs(args: &RecordArgs) -> Result<(Sink, Option<PngTarget>), ViewerError> {
    let sink = if args.output.as_os_str() == "-" {
        Sink::Stdout
    } else {
        let is_y4m = args
            .output
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("y4m"));
        if !is_y4m && !args.output.is_dir() {
            return Err(ViewerError::Unsupported {
                message: format!(
                    "--output {}: only .y4m files are written; give FILE.y4m, or - for raw frames on stdout",
                    args.output.display()
                ),
            });
        }
        Sink::Y4m(AtomicFile::create("--output", &args.output)?)
    };
    if args.png_every == 0 {
        return Err(ViewerError::NotPositive {
            option: "--png-every",
            value: "0".into(),
        });
    }
    let png = match &args.png {
        None => None,
        Some(path) if names_directory(path) => {
            check_directory("--png", path)?;
            Some(PngTarget::Directory(path.clone(), args.png_every))
        }
        Some(path) => Some(PngTarget::File(AtomicFile::create("--png", path)?)),
    };
    Ok((sink, png))
}

/// Runs `record`.
pub fn run(
    stream_args: &StreamArgs,
    args: &RecordArgs,
    open_camera: &mut OpenCamera<'_>,
    context: &mut Context<'_>,
) -> Result<(), ViewerError> {
    let length = Length::from_args(args.frames, args.seconds)?;
    let (sink, png) = prepare_outputs(args)?;
    let (mut camera, info) = open(open_camera)?;
    // `--fps 0` with `--frames N`: as fast as the camera renders, on the backend's virtual clock
    // (the emulation's frames are then the same bytes on every run and every OS). The Y4M header
    // and the report give the format's highest whole rate, the rate of the frames' timestamps.
    let unthrottled_allowed = matches!(length, Length::Frames(_));
    let resolved = resolve(stream_args, &info, unthrottled_allowed)?;
    let (fps, rate_text) = match resolved.config.rate {
        Rate::Fps(fps) => (fps, format!("{fps} fps")),
        Rate::Unthrottled => {
            let fps = resolved
                .format
                .fps_range()
                .map_or(1, |(_, highest)| highest);
            (fps, format!("unthrottled (timestamps at {fps} fps)"))
        }
    };
    let count = length.frames(resolved.config.rate);
    let config = &resolved.config;
    // The stream starts only once everything that can fail before the first frame succeeded,
    // so `with_stream` always stops it.
    let (sink, png) = match sink {
        Sink::Y4m(file) => {
            let writer =
                Y4mWriter::new(BufWriter::new(file), config.pixel_format, config.size, fps)
                    .map_err(|e| {
                        ViewerError::io(format!("--output {}", args.output.display()), e)
                    })?;
            let (png, _stats) = with_stream(start(camera.as_mut(), config)?, |stream| {
                let mut writer = writer;
                let png = record_frames(stream, &resolved, count, png, |picture| {
                    writer.write_frame(picture)
                })?;
                let file = writer
                    .finish()
                    .map_err(|e| ViewerError::io("the Y4M stream", e))?
                    .into_inner()
                    .map_err(|e| ViewerError::io("the Y4M stream", e.into_error()))?;
                file.commit()?;
                Ok(png)
            })?;
            (
                format!(
                    "{} (Y4M {})",
                    args.output.display(),
                    crate::y4m::Colorspace::for_format(config.pixel_format).tag()
                ),
                png,
            )
        }
        Sink::Stdout => {
            let stdout = &mut *context.stdout;
            let (png, _stats) = with_stream(start(camera.as_mut(), config)?, |stream| {
                let mut out = BufWriter::new(stdout);
                let png = record_frames(stream, &resolved, count, png, |picture| {
                    write_raw_frame(&mut out, picture)
                        .map_err(|e| ViewerError::io("raw frames to stdout", e))
                })?;
                out.flush()
                    .map_err(|e| ViewerError::io("raw frames to stdout", e))?;
                Ok(png)
            })?;
            (raw_hint(config, fps), png)
        }
    };
    if let Some(PngTarget::File(file)) = png {
        file.commit()?;
    }
    let _ = writeln!(
        context.stderr,
        "recorded {count} frames of {} {} at {rate_text} to {sink}",
        config.pixel_format, config.size
    );
    Ok(())
}

/// Starts the stream.
fn start<'c>(
    camera: &'c mut dyn crate::camera::Camera,
    config: &StreamConfig,
) -> Result<Box<dyn crate::camera::Stream + 'c>, ViewerError> {
    camera
        .start(config)
        .map_err(camera_error("starting the stream"))
}

/// The ffmpeg command line that reads the raw frames written to stdout.
fn raw_hint(config: &StreamConfig, fps: u32) -> String {
    format!(
        "stdout (read with: ffmpeg -f rawvideo -pix_fmt {} -s {} -r {fps} -i -)",
        ffmpeg_pix_fmt(config.pixel_format),
        config.size
    )
}

/// Pulls `count` frames, hands each to `write` and takes the snapshots; returns the PNG target
/// (a file target then holds the last frame, uncommitted).
fn record_frames(
    stream: &mut dyn crate::camera::Stream,
    resolved: &Resolved,
    count: u64,
    mut png: Option<PngTarget>,
    mut write: impl FnMut(&Picture<'_>) -> Result<(), ViewerError>,
) -> Result<Option<PngTarget>, ViewerError> {
    let config = &resolved.config;
    let timeout = resolved.frame_timeout();
    let (mut xrgb, mut rgb) = (Vec::new(), Vec::new());
    for index in 0..count {
        let frame = stream
            .next_frame(timeout)
            .map_err(camera_error("waiting for a frame"))?;
        if frame.pixel_format != config.pixel_format
            || frame.width != config.size.width
            || frame.height != config.size.height
        {
            return Err(ViewerError::BadFrame {
                reason: format!(
                    "asked for {} {}, got {} {}x{}",
                    config.pixel_format, config.size, frame.pixel_format, frame.width, frame.height
                ),
            });
        }
        let picture = Picture::new(&frame)?;
        write(&picture)?;
        match &mut png {
            Some(PngTarget::File(file)) if index + 1 == count => {
                to_rgb8(&picture, &mut xrgb, &mut rgb);
                write_png_into(file, frame.width, frame.height, &rgb)?;
            }
            Some(PngTarget::Directory(directory, every)) if index % *every == 0 => {
                to_rgb8(&picture, &mut xrgb, &mut rgb);
                let path = directory.join(format!("frame-{:06}.png", frame.picture_number));
                save_png("--png", &path, frame.width, frame.height, &rgb)?;
            }
            _ => {}
        }
    }
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_validated_and_counted() {
        assert_eq!(
            Length::from_args(Some(5), None)
                .unwrap()
                .frames(Rate::Fps(30)),
            5
        );
        assert_eq!(
            Length::from_args(None, Some(1.0))
                .unwrap()
                .frames(Rate::Fps(30)),
            30
        );
        assert_eq!(
            Length::from_args(None, Some(0.01))
                .unwrap()
                .frames(Rate::Fps(30)),
            1
        );
        assert_eq!(
            Length::from_args(None, Some(0.5))
                .unwrap()
                .frames(Rate::Fps(25)),
            13
        );
        for (frames, seconds, option) in [
            (Some(0), None, "--frames"),
            (None, Some(0.0), "--seconds"),
            (None, Some(-1.0), "--seconds"),
            (None, Some(f64::NAN), "--seconds"),
            (None, Some(f64::INFINITY), "--seconds"),
        ] {
            match Length::from_args(frames, seconds) {
                Err(ViewerError::NotPositive { option: got, .. }) => assert_eq!(got, option),
                other => panic!("{frames:?} {seconds:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn directories_are_recognised_by_trailing_separators() {
        assert!(names_directory(Path::new("shots/")));
        assert!(names_directory(&std::env::temp_dir()));
        assert!(!names_directory(Path::new("shot.png")));
    }
}
