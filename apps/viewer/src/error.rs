//! The viewer's one error type, its one-line messages and its exit codes.
//!
//! Every failure the viewer reports goes through [`ViewerError`]: bad input (exit code
//! [`EXIT_USAGE`]) names the problem and the valid choices on one line; anything that fails while
//! running (the camera, the disk) exits with [`EXIT_FAILURE`].

use core::fmt;
use std::path::PathBuf;

use crate::camera::{CameraError, PixelFormat, Size};

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code for a failure while running: the camera or the output failed.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code for bad input: the command line asks for something that cannot be done.
pub const EXIT_USAGE: i32 = 2;
/// Exit code when the backend finds no avcam device installed ([`CameraError::NotInstalled`],
/// e.g. `--backend windows` on a machine without the driver).
pub const EXIT_NO_CAMERA: i32 = 3;
/// Exit code after SIGINT, SIGTERM or SIGHUP (Ctrl-C, Ctrl-Break, console close on Windows):
/// 128 + SIGINT, as shells report an interrupted command.
pub const EXIT_INTERRUPTED: i32 = 130;
/// Exit code when stdout's reader went away (EPIPE, e.g. `| head`): 128 + SIGPIPE, what a shell
/// reports for a Unix tool SIGPIPE ended. Nothing is printed.
pub const EXIT_BROKEN_PIPE: i32 = 141;

/// Everything that can go wrong in the viewer.
#[derive(Debug)]
pub enum ViewerError {
    /// The command line did not parse (clap's message, made one line).
    BadArguments {
        /// The message.
        message: String,
    },
    /// The camera has no pin with this id, or none that can stream.
    UnknownPin {
        /// The pin asked for.
        requested: u32,
        /// The pins that stream.
        valid: Vec<u32>,
    },
    /// The pin does not offer this pixel format.
    UnknownFormat {
        /// The format asked for.
        requested: PixelFormat,
        /// The formats the pin offers.
        valid: Vec<PixelFormat>,
    },
    /// The pin does not offer this size in this pixel format.
    UnknownSize {
        /// The size asked for.
        requested: Size,
        /// The pixel format.
        pixel_format: PixelFormat,
        /// The sizes offered in that format.
        valid: Vec<Size>,
    },
    /// The frame rate is outside the range the camera reports for the format.
    FpsOutOfRange {
        /// The rate asked for (0 = unthrottled).
        requested: u32,
        /// The format it was asked for, e.g. "nv12 1280x720".
        format: String,
        /// The whole rates allowed, `(lowest, highest)`.
        valid: Option<(u32, u32)>,
        /// Whether 0 (unthrottled) would be accepted here (stress only).
        unthrottled_allowed: bool,
    },
    /// The camera has no such test pattern.
    UnknownPattern {
        /// The pattern asked for.
        requested: String,
        /// The patterns it offers.
        valid: Vec<String>,
    },
    /// The camera has no control of this name.
    UnknownControl {
        /// The name asked for.
        requested: String,
        /// The controls it has.
        valid: Vec<String>,
    },
    /// A control's value outside its range.
    ControlOutOfRange {
        /// The control.
        name: String,
        /// The value asked for, as given.
        value: String,
        /// The smallest value.
        min: String,
        /// The largest value.
        max: String,
        /// The default.
        default: String,
    },
    /// A count or duration that must be above zero was not.
    NotPositive {
        /// The option, e.g. "--seconds".
        option: &'static str,
        /// The value as given.
        value: String,
    },
    /// A duration above the documented maximum.
    TooLong {
        /// The option, e.g. "--seconds".
        option: &'static str,
        /// The value as given.
        value: String,
        /// The maximum, in seconds.
        max_seconds: u64,
    },
    /// An output path cannot be written.
    UnwritableOutput {
        /// The option naming it.
        option: &'static str,
        /// The path.
        path: PathBuf,
        /// Why, e.g. the OS error.
        reason: String,
    },
    /// Something must go to stdout, and the process has none.
    StdoutClosed {
        /// What would go there, e.g. "--output -".
        what: &'static str,
    },
    /// The requested conversion does not exist (e.g. an output kind the format cannot take).
    Unsupported {
        /// What was asked, and what to do instead.
        message: String,
    },
    /// `--driver` names a file that cannot run as the camera's driver (missing, not a driver
    /// image the loader can load, or a build of the viewer that cannot load one).
    BadDriver {
        /// The path given.
        path: PathBuf,
        /// Why, in one line.
        reason: String,
    },
    /// `view` found no display to open a window on.
    NoDisplay {
        /// Why, e.g. "DISPLAY and WAYLAND_DISPLAY are not set".
        reason: String,
    },
    /// No camera backend could be opened.
    NoCamera {
        /// The backend's reason.
        source: CameraError,
    },
    /// The camera failed while streaming.
    Camera {
        /// What the viewer was doing.
        during: &'static str,
        /// The backend's error.
        source: CameraError,
    },
    /// A frame from the camera does not match its own description.
    BadFrame {
        /// What is wrong, with the numbers.
        reason: String,
    },
    /// Writing an output failed part-way (the partial file was removed).
    Io {
        /// What was being written.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The window system failed while the window was open.
    Window {
        /// What failed.
        reason: String,
    },
    /// `record --strict` saw the camera skip frames.
    MissedFrames {
        /// Frames missing from the picture numbers so far.
        missed: u64,
        /// The picture number of the frame that came after the gap.
        before_picture: i64,
        /// Frames recorded before the gap.
        recorded: u64,
        /// How much the camera's `DropCount` grew since the first frame.
        drop_count: i64,
    },
    /// A signal (SIGINT, SIGTERM, SIGHUP; Ctrl-C on Windows) stopped the command; partial files
    /// were removed.
    Interrupted {
        /// How far the command got, e.g. "after 37 of 100 frames".
        progress: String,
    },
    /// stdout's reader went away (EPIPE): the command stopped quietly.
    BrokenPipe,
    /// `install` or `uninstall` failed (its own exit codes: [`crate::install::InstallError`]).
    Install(crate::install::InstallError),
}

impl ViewerError {
    /// The process exit code: [`EXIT_USAGE`] for bad input, [`EXIT_NO_CAMERA`] when no avcam
    /// device is installed, [`EXIT_FAILURE`] otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            ViewerError::BadArguments { .. }
            | ViewerError::UnknownPin { .. }
            | ViewerError::UnknownFormat { .. }
            | ViewerError::UnknownSize { .. }
            | ViewerError::FpsOutOfRange { .. }
            | ViewerError::UnknownPattern { .. }
            | ViewerError::UnknownControl { .. }
            | ViewerError::ControlOutOfRange { .. }
            | ViewerError::NotPositive { .. }
            | ViewerError::TooLong { .. }
            | ViewerError::UnwritableOutput { .. }
            | ViewerError::StdoutClosed { .. }
            | ViewerError::Unsupported { .. }
            | ViewerError::BadDriver { .. }
            | ViewerError::NoDisplay { .. } => EXIT_USAGE,
            ViewerError::NoCamera {
                source: CameraError::NotInstalled { .. },
            } => EXIT_NO_CAMERA,
            ViewerError::NoCamera { .. }
            | ViewerError::Camera { .. }
            | ViewerError::BadFrame { .. }
            | ViewerError::Io { .. }
            | ViewerError::Window { .. }
            | ViewerError::MissedFrames { .. } => EXIT_FAILURE,
            ViewerError::Interrupted { .. } => EXIT_INTERRUPTED,
            ViewerError::BrokenPipe => EXIT_BROKEN_PIPE,
            ViewerError::Install(error) => error.exit_code(),
        }
    }

    /// Whether the error is reported on stderr: all but [`ViewerError::BrokenPipe`], which stops
    /// quietly as Unix tools do.
    pub fn is_reported(&self) -> bool {
        !matches!(self, ViewerError::BrokenPipe)
    }

    /// An I/O error while writing `what`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        ViewerError::Io {
            what: what.into(),
            source,
        }
    }

    /// An I/O error while writing `what` to stdout: [`ViewerError::BrokenPipe`] when the reader
    /// went away, else [`ViewerError::Io`].
    pub fn stdout(what: impl Into<String>, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::BrokenPipe {
            ViewerError::BrokenPipe
        } else {
            ViewerError::io(what, source)
        }
    }
}

/// Joins displayable items with ", ".
fn list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for ViewerError {
    /// One line, no trailing newline, naming the problem and the valid choices.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ViewerError::BadArguments { message } => f.write_str(message),
            ViewerError::UnknownPin { requested, valid } => {
                write!(f, "unknown pin {requested}; pins that stream: {}", list(valid))
            }
            ViewerError::UnknownFormat { requested, valid } => write!(
                f,
                "format {requested} is not offered by the camera; valid formats: {}",
                list(valid)
            ),
            ViewerError::UnknownSize {
                requested,
                pixel_format,
                valid,
            } => write!(
                f,
                "size {requested} is not offered in {pixel_format}; valid sizes: {}",
                list(valid)
            ),
            ViewerError::FpsOutOfRange {
                requested,
                format,
                valid,
                unthrottled_allowed,
            } => {
                if *requested == 0 {
                    write!(
                        f,
                        "--fps 0 (unthrottled) is only for `stress` and `record --frames N`"
                    )?;
                } else {
                    write!(f, "--fps {requested} is outside the range for {format}")?;
                }
                match valid {
                    Some((low, high)) => write!(f, "; valid: {low}..={high} fps")?,
                    None => write!(f, "; the camera reports no whole frame rate for {format}")?,
                }
                if *unthrottled_allowed {
                    write!(f, ", or 0 for unthrottled")?;
                }
                Ok(())
            }
            ViewerError::UnknownPattern { requested, valid } => write!(
                f,
                "unknown pattern '{requested}'; valid patterns: {}",
                valid.join(", ")
            ),
            ViewerError::UnknownControl { requested, valid } if valid.is_empty() => {
                write!(f, "unknown control '{requested}': the camera has no controls")
            }
            ViewerError::UnknownControl { requested, valid } => write!(
                f,
                "unknown control '{requested}'; valid controls: {}",
                valid.join(", ")
            ),
            ViewerError::ControlOutOfRange {
                name,
                value,
                min,
                max,
                default,
            } => write!(
                f,
                "{name} {value} is out of range; valid: {min}..={max} (default {default})"
            ),
            ViewerError::NotPositive { option, value } => {
                write!(f, "{option} {value} must be above zero")
            }
            ViewerError::TooLong {
                option,
                value,
                max_seconds,
            } => write!(
                f,
                "{option} {value} is too long; the most is {max_seconds} ({} days)",
                max_seconds / 86_400
            ),
            ViewerError::UnwritableOutput {
                option,
                path,
                reason,
            } => write!(
                f,
                "cannot write {option} {}: {reason} (give a new or regular file in an existing, writable directory)",
                path.display()
            ),
            ViewerError::StdoutClosed { what } => write!(
                f,
                "stdout is closed, but {what} goes there (give it a file or a pipe)"
            ),
            ViewerError::Unsupported { message } => f.write_str(message),
            ViewerError::BadDriver { path, reason } => {
                write!(f, "--driver {}: {reason}", path.display())
            }
            ViewerError::NoDisplay { reason } => write!(
                f,
                "no display to open a window on ({reason}); use `avcam-viewer record --frames N --output FILE.y4m` instead"
            ),
            ViewerError::NoCamera {
                source: source @ CameraError::NotInstalled { .. },
            } => write!(f, "{source}"),
            ViewerError::NoCamera { source } => write!(f, "cannot open the camera: {source}"),
            ViewerError::Camera { during, source } => {
                write!(f, "camera failed while {during}: {source}")
            }
            ViewerError::BadFrame { reason } => write!(f, "bad frame from the camera: {reason}"),
            ViewerError::Io { what, source } => write!(f, "cannot write {what}: {source}"),
            ViewerError::Window { reason } => write!(f, "window failed: {reason}"),
            ViewerError::MissedFrames {
                missed,
                before_picture,
                recorded,
                drop_count,
            } => write!(
                f,
                "--strict: the camera skipped {missed} frames before picture number \
                 {before_picture}, after {recorded} recorded (its DropCount grew by \
                 {drop_count}); the recording is abandoned"
            ),
            ViewerError::Interrupted { progress } => write!(
                f,
                "interrupted by a signal {progress}; partial files removed, nothing written"
            ),
            ViewerError::BrokenPipe => f.write_str("stdout's reader went away (broken pipe)"),
            ViewerError::Install(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for ViewerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ViewerError::NoCamera { source } | ViewerError::Camera { source, .. } => Some(source),
            ViewerError::Io { source, .. } => Some(source),
            ViewerError::Install(error) => Some(error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2_and_failures_exit_1() {
        let usage = ViewerError::NotPositive {
            option: "--seconds",
            value: "0".into(),
        };
        assert_eq!(usage.exit_code(), EXIT_USAGE);
        let failure = ViewerError::Camera {
            during: "streaming",
            source: CameraError::Timeout {
                waited: core::time::Duration::from_secs(2),
            },
        };
        assert_eq!(failure.exit_code(), EXIT_FAILURE);
        assert_eq!(
            failure.to_string(),
            "camera failed while streaming: no frame within 2.0 s"
        );
    }

    #[test]
    fn messages_name_the_valid_choices_on_one_line() {
        let error = ViewerError::UnknownSize {
            requested: Size::new(1000, 1000),
            pixel_format: PixelFormat::Nv12,
            valid: vec![Size::new(320, 240), Size::new(640, 480)],
        };
        assert_eq!(
            error.to_string(),
            "size 1000x1000 is not offered in nv12; valid sizes: 320x240, 640x480"
        );
        let error = ViewerError::FpsOutOfRange {
            requested: 2000,
            format: "nv12 640x480".into(),
            valid: Some((1, 1000)),
            unthrottled_allowed: true,
        };
        assert_eq!(
            error.to_string(),
            "--fps 2000 is outside the range for nv12 640x480; valid: 1..=1000 fps, or 0 for unthrottled"
        );
        let error = ViewerError::FpsOutOfRange {
            requested: 0,
            format: "nv12 640x480".into(),
            valid: Some((1, 1000)),
            unthrottled_allowed: false,
        };
        assert_eq!(
            error.to_string(),
            "--fps 0 (unthrottled) is only for `stress` and `record --frames N`; valid: 1..=1000 fps"
        );
        assert!(!error.to_string().contains('\n'));
    }

    #[test]
    fn signals_and_broken_pipes_have_their_shell_exit_codes() {
        let interrupted = ViewerError::Interrupted {
            progress: "after 3 of 10 frames".into(),
        };
        assert_eq!(interrupted.exit_code(), 130);
        assert!(interrupted.is_reported());
        let epipe = ViewerError::stdout(
            "raw frames",
            std::io::Error::from(std::io::ErrorKind::BrokenPipe),
        );
        assert!(matches!(epipe, ViewerError::BrokenPipe));
        assert_eq!(epipe.exit_code(), 141);
        assert!(!epipe.is_reported());
        let other = ViewerError::stdout("raw frames", std::io::Error::other("stdout is closed"));
        assert_eq!(other.exit_code(), EXIT_FAILURE);
        assert_eq!(
            other.to_string(),
            "cannot write raw frames: stdout is closed"
        );
        let long = ViewerError::TooLong {
            option: "--seconds",
            value: "1e300".into(),
            max_seconds: 604_800,
        };
        assert_eq!(long.exit_code(), EXIT_USAGE);
        assert_eq!(
            long.to_string(),
            "--seconds 1e300 is too long; the most is 604800 (7 days)"
        );
    }

    #[test]
    fn no_installed_camera_is_one_line_and_exit_3() {
        let error = ViewerError::NoCamera {
            source: CameraError::NotInstalled {
                reason: "no KSCATEGORY_VIDEO_CAMERA interface".into(),
            },
        };
        assert_eq!(error.exit_code(), EXIT_NO_CAMERA);
        assert_eq!(
            error.to_string(),
            "no avcam camera is installed (no KSCATEGORY_VIDEO_CAMERA interface)"
        );
        let other = ViewerError::NoCamera {
            source: CameraError::NotFound {
                what: "a device".into(),
            },
        };
        assert_eq!(other.exit_code(), EXIT_FAILURE);
    }
}
