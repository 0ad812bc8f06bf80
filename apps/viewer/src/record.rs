//! `record`: frames to a Y4M file (or raw frames to stdout), with optional PNG snapshots.
//!
//! Every output is checked ([`crate::output`]) and its temporary file created before the camera
//! is opened, and committed only once the last frame is written: a failure, a bad argument or a
//! signal leaves nothing.
//!
//! The recording's timeline is the camera's: frame `i` of the file is the `i`-th frame interval
//! after the first frame. When the picture numbers skip some (the viewer was too slow, or the
//! camera dropped frames), the last frame written is written again once for each skipped number,
//! and the report at the end says how many; with `--strict` the recording fails instead (exit
//! code 1, nothing kept).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::atomic::{check_directory, AtomicFile};
use crate::camera::{Frame, FrameMemory, Rate, StreamConfig};
use crate::cli::{RecordArgs, StreamArgs};
use crate::convert::{to_rgb8, Picture};
use crate::error::ViewerError;
use crate::interrupt;
use crate::output::Plan;
use crate::settings::{check_seconds, resolve, Resolved};
use crate::snapshot::{save_png, write_png_into};
use crate::y4m::{ffmpeg_pix_fmt, write_raw_frame, RawWriter, Y4mWriter};
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
    /// Validates `--frames` / `--seconds` (above zero; seconds finite and at most
    /// [`crate::settings::MAX_SECONDS`]).
    pub fn from_args(frames: Option<u64>, seconds: Option<f64>) -> Result<Self, ViewerError> {
        match (frames, seconds) {
            (Some(0), _) => Err(ViewerError::NotPositive {
                option: "--frames",
                value: "0".into(),
            }),
            (Some(frames), _) => Ok(Length::Frames(frames)),
            (None, Some(seconds)) => {
                check_seconds("--seconds", seconds)?;
                Ok(Length::Seconds(seconds))
            }
            (None, None) => Err(ViewerError::NotPositive {
                option: "--seconds",
                value: "(missing)".into(),
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
    /// The last recorded frame into this file.
    File(AtomicFile),
    /// Every Nth frame received into this directory.
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

/// Checks the outputs (each a new or regular file with its extension, none on the same file as
/// another or as stdout; stdout open for `--output -`), then creates their temporary files.
fn prepare_outputs(
    args: &RecordArgs,
    stdout: &mut dyn Write,
) -> Result<(Sink, Option<PngTarget>), ViewerError> {
    if args.png_every == 0 {
        return Err(ViewerError::NotPositive {
            option: "--png-every",
            value: "0".into(),
        });
    }
    let to_stdout = args.output.as_os_str() == "-";
    let png_directory = args.png.as_deref().filter(|path| names_directory(path));
    let mut plan = Plan::new();
    if to_stdout {
        crate::stdout::require_open(stdout, "--output -")?;
    } else {
        plan.file("--output", &args.output, "y4m")?;
    }
    match (&args.png, png_directory) {
        (_, Some(directory)) => check_directory("--png", directory)?,
        (Some(path), None) => plan.file("--png", path, "png")?,
        (None, _) => {}
    }
    let sink = if to_stdout {
        Sink::Stdout
    } else {
        Sink::Y4m(AtomicFile::create("--output", &args.output)?)
    };
    let png = match (&args.png, png_directory) {
        (_, Some(directory)) => Some(PngTarget::Directory(
            directory.to_path_buf(),
            args.png_every,
        )),
        (Some(path), None) => Some(PngTarget::File(AtomicFile::create("--png", path)?)),
        (None, _) => None,
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
    let (sink, png) = prepare_outputs(args, context.stdout)?;
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
    let mut recording = Recording {
        resolved: &resolved,
        count,
        strict: args.strict,
        stop: context.stop,
        png,
    };
    // The stream starts only once everything that can fail before the first frame succeeded,
    // so `with_stream` always stops it.
    let (sink, (png, tally)) = match sink {
        Sink::Y4m(file) => {
            let mut writer =
                Y4mWriter::new(BufWriter::new(file), config.pixel_format, config.size, fps)
                    .map_err(|e| {
                        ViewerError::io(format!("--output {}", args.output.display()), e)
                    })?;
            let (result, _stats) = with_stream(start(camera.as_mut(), config)?, |stream| {
                let tally = recording.run(stream, &mut writer)?;
                let file = writer
                    .finish()
                    .map_err(|e| ViewerError::io("the Y4M stream", e))?
                    .into_inner()
                    .map_err(|e| ViewerError::io("the Y4M stream", e.into_error()))?;
                file.commit()?;
                Ok((recording.png.take(), tally))
            })?;
            (
                format!(
                    "{} (Y4M {})",
                    args.output.display(),
                    crate::y4m::Colorspace::for_format(config.pixel_format).tag()
                ),
                result,
            )
        }
        Sink::Stdout => {
            let stdout = &mut *context.stdout;
            let (result, _stats) = with_stream(start(camera.as_mut(), config)?, |stream| {
                let mut writer = StdoutFrames(RawWriter::new(BufWriter::new(stdout)));
                let tally = recording.run(stream, &mut writer)?;
                writer
                    .0
                    .finish()
                    .map_err(|e| ViewerError::stdout("raw frames to stdout", e))?;
                Ok((recording.png.take(), tally))
            })?;
            (raw_hint(config, fps), result)
        }
    };
    if let Some(PngTarget::File(mut file)) = png {
        if let Some(kept) = &tally.last_frame {
            let (mut xrgb, mut rgb) = (Vec::new(), Vec::new());
            to_rgb8(&Picture::new(&kept.frame())?, &mut xrgb, &mut rgb);
            write_png_into(&mut file, config.size.width, config.size.height, &rgb)?;
        }
        file.commit()?;
    }
    let _ = writeln!(
        context.stderr,
        "recorded {count} frames of {} {} at {rate_text} to {sink}{}",
        config.pixel_format,
        config.size,
        tally.missed_text()
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

/// A writer of recorded frames that can write its last frame again.
trait FrameSink {
    /// Writes one frame.
    fn write(&mut self, picture: &Picture<'_>) -> Result<(), ViewerError>;
    /// Writes the last frame again.
    fn repeat(&mut self) -> Result<(), ViewerError>;
}

impl<W: Write> FrameSink for Y4mWriter<W> {
    fn write(&mut self, picture: &Picture<'_>) -> Result<(), ViewerError> {
        self.write_frame(picture)
    }

    fn repeat(&mut self) -> Result<(), ViewerError> {
        self.repeat_last()
    }
}

/// Raw frames on stdout: a broken pipe stops quietly ([`ViewerError::stdout`]).
struct StdoutFrames<W: Write>(RawWriter<W>);

impl<W: Write> FrameSink for StdoutFrames<W> {
    fn write(&mut self, picture: &Picture<'_>) -> Result<(), ViewerError> {
        self.0
            .write_frame(picture)
            .map_err(|e| ViewerError::stdout("raw frames to stdout", e))
    }

    fn repeat(&mut self) -> Result<(), ViewerError> {
        self.0
            .repeat_last()
            .map_err(|e| ViewerError::stdout("raw frames to stdout", e))
    }
}

/// A copy of the last recorded frame, packed top-down ([`write_raw_frame`]), for `--png FILE`.
struct KeptFrame {
    pixel_format: crate::camera::PixelFormat,
    width: u32,
    height: u32,
    bytes: Vec<u8>,
}

impl KeptFrame {
    /// Copies `picture` into `kept` (reusing its buffer).
    fn keep(kept: &mut Option<KeptFrame>, picture: &Picture<'_>) -> Result<(), ViewerError> {
        let kept = kept.get_or_insert_with(|| KeptFrame {
            pixel_format: picture.pixel_format(),
            width: picture.width() as u32,
            height: picture.height() as u32,
            bytes: Vec::new(),
        });
        kept.bytes.clear();
        write_raw_frame(&mut kept.bytes, picture).map_err(|e| ViewerError::io("--png", e))
    }

    /// The kept copy as a frame.
    fn frame(&self) -> Frame<'_> {
        Frame {
            pixel_format: self.pixel_format,
            width: self.width,
            height: self.height,
            stride: self.pixel_format.row_bytes(self.width as usize),
            bottom_up: false,
            data: &self.bytes,
            presentation_time: None,
            duration: None,
            picture_number: 0,
            drop_count: 0,
            memory: FrameMemory::ClientBuffer,
            arrival_time: None,
            discontinuity: false,
        }
    }
}

/// What a recording saw.
#[derive(Default)]
struct Tally {
    /// Frames written that the camera delivered.
    received: u64,
    /// Frames missing between consecutive picture numbers.
    missed: u64,
    /// Frames written again in the place of missed ones (at most `missed`: the last gap may
    /// reach past the end of the recording).
    repeated: u64,
    /// How much the camera's `DropCount` grew from the first frame to the last.
    drop_count: i64,
    /// Frames that came without a picture (`DataUsed` 0).
    empty: u64,
    /// The last frame written, for `--png FILE`.
    last_frame: Option<KeptFrame>,
}

impl Tally {
    /// The end of the report line: nothing when no frame was missed or empty.
    fn missed_text(&self) -> String {
        let empty = match self.empty {
            0 => String::new(),
            n => format!("; {n} frames came empty (DataUsed 0) and repeat the frame before them"),
        };
        empty
            + &match (self.missed, self.drop_count) {
                (0, 0) => String::new(),
                (0, drops) => format!(
                "; the camera's DropCount grew by {drops}, though no picture number was skipped"
            ),
                (missed, drops) => format!(
                    "; the viewer missed {missed} frames (picture-number gaps; the camera's \
                 DropCount grew by {drops}): {} of the {} frames repeat the frame before them \
                 to keep the timeline",
                    self.repeated,
                    self.received + self.repeated
                ),
            }
    }
}

/// One recording: how many frames, what to do with gaps, where snapshots go.
struct Recording<'r> {
    resolved: &'r Resolved,
    count: u64,
    strict: bool,
    stop: &'r AtomicBool,
    png: Option<PngTarget>,
}

impl Recording<'_> {
    /// Pulls frames and writes `count` of them to `sink`: a frame whose picture number skips
    /// some is preceded by the last frame written again, once per skipped number (or, with
    /// `--strict`, the recording fails). Takes the snapshots; a `--png FILE` gets the last frame
    /// written from [`Tally::last_frame`].
    fn run(
        &mut self,
        stream: &mut dyn crate::camera::Stream,
        sink: &mut dyn FrameSink,
    ) -> Result<Tally, ViewerError> {
        let config = &self.resolved.config;
        let timeout = self.resolved.frame_timeout();
        let (mut xrgb, mut rgb) = (Vec::new(), Vec::new());
        let mut tally = Tally::default();
        let mut written = 0;
        let mut previous: Option<(i64, i64)> = None;
        let mut first_drop_count = None;
        while written < self.count {
            if interrupt::requested(self.stop) {
                return Err(ViewerError::Interrupted {
                    progress: format!("after {written} of {} frames", self.count),
                });
            }
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
                        config.pixel_format,
                        config.size,
                        frame.pixel_format,
                        frame.width,
                        frame.height
                    ),
                });
            }
            if frame.is_empty() {
                // A frame without a picture (`DataUsed` 0): the last frame written stands in
                // for it, as for a missed one (before the first picture it is skipped).
                if self.strict {
                    return Err(ViewerError::BadFrame {
                        reason: format!(
                            "frame {} came empty (DataUsed 0) after {written} frames",
                            frame.picture_number
                        ),
                    });
                }
                tally.empty += 1;
                if written > 0 {
                    sink.repeat()?;
                    written += 1;
                    tally.repeated += 1;
                }
                previous = Some((frame.picture_number, frame.drop_count));
                continue;
            }
            let picture = Picture::new(&frame)?;
            let first_drop_count = *first_drop_count.get_or_insert(frame.drop_count);
            tally.drop_count = frame.drop_count.saturating_sub(first_drop_count);
            let gap = previous.map_or(0, |(picture_number, _)| {
                u64::try_from(frame.picture_number.saturating_sub(picture_number) - 1).unwrap_or(0)
            });
            let dropped = previous.is_some_and(|(_, drops)| frame.drop_count > drops);
            if self.strict && (gap > 0 || dropped) {
                return Err(ViewerError::MissedFrames {
                    missed: gap,
                    before_picture: frame.picture_number,
                    recorded: written,
                    drop_count: tally.drop_count,
                });
            }
            tally.missed += gap;
            let repeats = gap.min(self.count - written);
            for _ in 0..repeats {
                sink.repeat()?;
            }
            written += repeats;
            tally.repeated += repeats;
            if written == self.count {
                // The gap reached past the end: this frame is after the recording.
                break;
            }
            previous = Some((frame.picture_number, frame.drop_count));
            sink.write(&picture)?;
            written += 1;
            match &mut self.png {
                Some(PngTarget::File(_)) => KeptFrame::keep(&mut tally.last_frame, &picture)?,
                Some(PngTarget::Directory(directory, every)) if tally.received % *every == 0 => {
                    to_rgb8(&picture, &mut xrgb, &mut rgb);
                    let path = directory.join(format!("frame-{:06}.png", frame.picture_number));
                    save_png("--png", &path, frame.width, frame.height, &rgb)?;
                }
                _ => {}
            }
            tally.received += 1;
        }
        Ok(tally)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::MAX_SECONDS;

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
            (None, None, "--seconds"),
        ] {
            match Length::from_args(frames, seconds) {
                Err(ViewerError::NotPositive { option: got, .. }) => assert_eq!(got, option),
                other => panic!("{frames:?} {seconds:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn seconds_above_the_maximum_are_refused() {
        assert!(Length::from_args(None, Some(MAX_SECONDS as f64)).is_ok());
        for seconds in [MAX_SECONDS as f64 + 0.5, 1e300] {
            assert!(matches!(
                Length::from_args(None, Some(seconds)),
                Err(ViewerError::TooLong {
                    option: "--seconds",
                    max_seconds: MAX_SECONDS,
                    ..
                })
            ));
        }
    }

    #[test]
    fn directories_are_recognised_by_trailing_separators() {
        assert!(names_directory(Path::new("shots/")));
        assert!(names_directory(&std::env::temp_dir()));
        assert!(!names_directory(Path::new("shot.png")));
    }
}
