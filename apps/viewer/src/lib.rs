//! avcam-viewer: watch, record and stress-test the avcam camera.
//!
//! The viewer consumes a camera through the [`camera::Camera`] and [`camera::Stream`] traits;
//! the KS client library implements them (over the emulation in every build, over real handles
//! in a Windows build: `--backend emulated|windows`) and `main.rs` hands a way to open one to
//! [`main_with`]. Everything else lives here:
//!
//! | module | role |
//! |---|---|
//! | [`camera`] | the interface the viewer consumes and the values that cross it |
//! | [`cli`], [`settings`] | the command line, and its resolution against the camera's formats |
//! | [`convert`], [`y4m`], [`snapshot`] | pixel conversions, Y4M/raw writers, PNG |
//! | [`output`], [`atomic`] | where outputs may go; outputs that appear whole or not at all |
//! | [`stdout`], [`interrupt`] | a closed or broken stdout; SIGINT/SIGTERM |
//! | [`backend`] | the built-in camera: avcam in the emulation, through the KS client library |
//! | [`device`] | the requests both backends make of an avcam device, over any KS transport |
//! | `windows_backend` | (Windows builds) an installed avcam device over real KS handles, copies only |
//! | [`stats`], [`histogram`], [`plot`] | stress statistics in bounded memory, the interval histogram |
//! | [`inject`] | `stress --inject`: the faults asked for, and what the viewer observed of them |
//! | [`list`], [`record`], [`stress`], [`view`] | the subcommands |
//! | [`install`] | `install` / `uninstall`: the device and its driver package (Windows builds) |
//! | [`error`] | the one error type, its messages and exit codes |

pub mod atomic;
pub mod backend;
pub mod camera;
pub mod cli;
pub mod convert;
pub mod device;
pub mod error;
pub mod histogram;
pub mod inject;
pub mod install;
pub mod interrupt;
pub mod list;
pub mod output;
pub mod plot;
pub mod record;
pub mod settings;
pub mod snapshot;
pub mod stats;
pub mod stdout;
pub mod stress;
pub mod view;
#[cfg(windows)]
pub mod windows_backend;
pub mod y4m;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::Parser;

pub use camera::{Camera, CameraError, Stream};
pub use cli::Backend;
pub use error::{
    ViewerError, EXIT_BROKEN_PIPE, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_NO_CAMERA, EXIT_OK,
    EXIT_USAGE,
};

/// Opens the camera when a command needs it (after the arguments that need no camera checked out).
pub type OpenCamera<'a> = dyn FnMut() -> Result<Box<dyn Camera>, CameraError> + 'a;

/// Opens the camera of the backend the command line chose (`--backend`), with the driver image
/// `--driver` named (already loaded) instead of the built-in driver when there is one.
pub type OpenBackend<'a> = dyn FnMut(Backend, Option<&'static backend::DriverImage>) -> Result<Box<dyn Camera>, CameraError>
    + 'a;

/// The display variables `view` looks at before it tries to open a window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DisplayEnv {
    /// `DISPLAY` (X11).
    pub x11: Option<OsString>,
    /// `WAYLAND_DISPLAY`.
    pub wayland: Option<OsString>,
}

impl DisplayEnv {
    /// The process's own variables.
    pub fn from_process() -> Self {
        DisplayEnv {
            x11: std::env::var_os("DISPLAY").filter(|v| !v.is_empty()),
            wayland: std::env::var_os("WAYLAND_DISPLAY").filter(|v| !v.is_empty()),
        }
    }
}

/// Where a command writes, and what it knows of its surroundings.
pub struct Context<'a> {
    /// Reports, listings and raw frames. A closed stdout fails every write and flush
    /// ([`stdout::ClosedStdout`]); a broken pipe fails with `ErrorKind::BrokenPipe`.
    pub stdout: &'a mut dyn Write,
    /// Messages and errors.
    pub stderr: &'a mut dyn Write,
    /// Whether stderr is a terminal (the progress bar is drawn only then).
    pub stderr_is_terminal: bool,
    /// The display variables.
    pub display: DisplayEnv,
    /// Set when the command should stop (the first SIGINT/SIGTERM: [`interrupt::flag`]); the
    /// commands look at it before each frame.
    pub stop: &'a AtomicBool,
}

/// Parses `args` (program name first), runs the command on the camera `open_camera` opens
/// (whatever `--backend` says, once it passed [`Backend::is_available`]) and returns the exit
/// code; messages go to `context.stderr` as one line each.
pub fn run<I, T>(args: I, open_camera: &mut OpenCamera<'_>, context: &mut Context<'_>) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_with_backends(args, &mut |_backend, _driver| open_camera(), context)
}

/// [`run`], opening the camera of the backend `--backend` names with `open_backend`.
pub fn run_with_backends<I, T>(
    args: I,
    open_backend: &mut OpenBackend<'_>,
    context: &mut Context<'_>,
) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            return match error.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    let written = write!(context.stdout, "{error}")
                        .and_then(|()| context.stdout.flush())
                        .map_err(|e| ViewerError::stdout("the help to stdout", e));
                    match written {
                        Ok(()) => EXIT_OK,
                        Err(error) => report(error, context),
                    }
                }
                _ => {
                    let _ = writeln!(context.stderr, "avcam-viewer: {}", cli::one_line(&error));
                    EXIT_USAGE
                }
            };
        }
    };
    let backend = cli.backend;
    // Said in the config and the reports as what runs.
    cli.stream.copy |= backend.copy_only();
    let driver = match (&cli.driver, backend) {
        (None, _) => Ok(None),
        (Some(path), Backend::Emulated) => backend::DriverImage::load(path).map(Some),
        (Some(path), Backend::Windows) => Err(ViewerError::BadDriver {
            path: path.clone(),
            reason: "a driver image runs on the emulation only: use --backend emulated".into(),
        }),
    };
    let result = if !backend.is_available() {
        Err(ViewerError::Unsupported {
            message: "--backend windows: the windows backend needs a Windows build of the \
                      viewer (this one talks to the emulation only); use --backend emulated"
                .into(),
        })
    } else {
        match driver {
            Ok(driver) => execute(cli, &mut || open_backend(backend, driver), context),
            Err(error) => Err(error),
        }
    };
    match result {
        Ok(()) => EXIT_OK,
        Err(error) => report(error, context),
    }
}

/// Prints `error` as one line on stderr (unless it stops quietly) and returns its exit code.
fn report(error: ViewerError, context: &mut Context<'_>) -> i32 {
    if error.is_reported() {
        let _ = writeln!(context.stderr, "avcam-viewer: {error}");
    }
    error.exit_code()
}

/// Runs a parsed command line.
pub fn execute(
    cli: cli::Cli,
    open_camera: &mut OpenCamera<'_>,
    context: &mut Context<'_>,
) -> Result<(), ViewerError> {
    match cli.command {
        Some(cli::Command::List) => list::run(open_camera, context),
        Some(cli::Command::Controls) => list::run_controls(
            &cli.stream,
            cli.backend == Backend::Emulated,
            open_camera,
            context,
        ),
        Some(cli::Command::Record(args)) => record::run(&cli.stream, &args, open_camera, context),
        Some(cli::Command::Stress(args)) => stress::run(&cli.stream, &args, open_camera, context),
        Some(cli::Command::View(args)) => view::run(&cli.stream, &args, open_camera, context),
        Some(cli::Command::Install(args)) => install::run_install(args.inf.as_deref(), context),
        Some(cli::Command::Uninstall) => install::run_uninstall(context),
        None => view::run(&cli.stream, &cli::ViewArgs::default(), open_camera, context),
    }
}

/// The process entry point: runs with the real arguments, stdout, stderr and environment, with
/// the signal handler installed ([`interrupt::install`]).
pub fn main_with(open_backend: &mut OpenBackend<'_>) -> ExitCode {
    // Without a handler the signals keep their default action (the process ends at once, and a
    // partial file can stay behind); the command still runs.
    let _ = interrupt::install();
    let stderr = std::io::stderr();
    let mut closed = stdout::ClosedStdout;
    let stdout_handle = std::io::stdout();
    let mut open_stdout;
    let stdout: &mut dyn Write = if stdout::is_closed() {
        &mut closed
    } else {
        open_stdout = stdout_handle.lock();
        &mut open_stdout
    };
    let mut context = Context {
        stderr_is_terminal: stderr.is_terminal(),
        stdout,
        stderr: &mut stderr.lock(),
        display: DisplayEnv::from_process(),
        stop: interrupt::flag(),
    };
    let code = run_with_backends(std::env::args_os(), open_backend, &mut context);
    let _ = context.stdout.flush();
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Opens the camera and reads its device info, mapping errors.
pub(crate) fn open(
    open_camera: &mut OpenCamera<'_>,
) -> Result<(Box<dyn Camera>, camera::DeviceInfo), ViewerError> {
    let mut camera = open_camera().map_err(|source| ViewerError::NoCamera { source })?;
    let info = camera.device_info().map_err(|source| ViewerError::Camera {
        during: "reading the device's formats",
        source,
    })?;
    Ok((camera, info))
}

/// Runs `body` on a started stream, then stops the stream whatever happened; returns the body's
/// value and the final counters (the body's error wins over a failing stop).
pub(crate) fn with_stream<T>(
    mut stream: Box<dyn Stream + '_>,
    body: impl FnOnce(&mut dyn Stream) -> Result<T, ViewerError>,
) -> Result<(T, camera::StreamStats), ViewerError> {
    let result = body(stream.as_mut());
    let stopped = stream.stop();
    let value = result?;
    let stats = stopped.map_err(|source| ViewerError::Camera {
        during: "stopping the stream",
        source,
    })?;
    Ok((value, stats))
}

/// Maps a camera error met while `during`.
pub(crate) fn camera_error(during: &'static str) -> impl FnOnce(CameraError) -> ViewerError {
    move |source| ViewerError::Camera { during, source }
}
