//! The command line: flags and subcommands (clap derive), and clap errors made one line.

use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::camera::{PixelFormat, Size};

/// Watch, record and stress-test the avcam virtual camera.
#[derive(Debug, Parser)]
#[command(
    name = "avcam-viewer",
    version,
    about = "Watch, record and stress-test the avcam virtual camera",
    long_about = "Watch, record and stress-test the avcam virtual camera.\n\n\
        By default the viewer is a kernel-mode consumer: it creates an allocator on the pin and \
        reads each frame in the allocator frame the camera rendered it into; with --copy it is \
        an application reading into its own buffers. Without a subcommand, `view` opens a window.",
    after_help = "Examples:\n  \
        avcam-viewer                                        show the camera in a window\n  \
        avcam-viewer list                                   the pins and every format\n  \
        avcam-viewer --format yuy2 --size 640x480 --fps 60 view\n  \
        avcam-viewer record --frames 90 --output bars.y4m --png last.png\n  \
        avcam-viewer record --seconds 2 --output - | ffmpeg -f rawvideo -pix_fmt nv12 -s 1280x720 -r 30 -i - out.mp4\n  \
        avcam-viewer --size 1920x1080 --fps 0 stress --seconds 5 --json --plot intervals.png\n  \
        avcam-viewer --pattern zoneplate --set hflip=on --set brightness=1500 view\n  \
        avcam-viewer --fps 0 stress --seconds 2 --inject drop=5%,jitter=2ms,seed=7\n  \
        avcam-viewer --driver target/driver/avcam.sys record --frames 30 --output image.y4m\n\n\
        Exit codes: 0 done, 1 the camera or an output failed, 2 bad input, 3 no avcam camera \
        is installed (--backend windows), 4 Windows refused the driver package's signature or \
        catalog (install), 70 the --driver image bug checked (a report names where)."
)]
pub struct Cli {
    /// Where the camera comes from
    #[arg(long, global = true, value_enum, default_value_t = Backend::Emulated)]
    pub backend: Backend,

    /// Run the camera from this driver image (a cross-built avcam.sys, loaded into the
    /// emulation) instead of the built-in driver (Linux x86_64 builds, --backend emulated)
    #[arg(long, global = true, value_name = "FILE")]
    pub driver: Option<PathBuf>,

    /// What to stream.
    #[command(flatten)]
    pub stream: StreamArgs,

    /// The subcommand (default: view).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags shared by every subcommand: what to stream and how.
#[derive(Clone, Debug, Default, Args)]
pub struct StreamArgs {
    /// Pixel format [default: nv12]
    #[arg(long, global = true, value_name = "FORMAT", help_heading = "Stream")]
    pub format: Option<PixelFormat>,

    /// Picture size, e.g. 1280x720 [default: 1280x720, or the first size the format offers]
    #[arg(long, global = true, value_name = "WxH", value_parser = parse_size, help_heading = "Stream")]
    pub size: Option<Size>,

    /// Frames per second; 0 = unthrottled (stress only) [default: 30]
    #[arg(long, global = true, value_name = "N", help_heading = "Stream")]
    pub fps: Option<u32>,

    /// Test pattern the camera synthesizes: bars75, bars100, ramp, checkerboard, solid or
    /// zoneplate (`list` shows them) [default: the camera's current one]
    #[arg(long, global = true, value_name = "NAME", help_heading = "Stream")]
    pub pattern: Option<String>,

    /// Overlays drawn over the pattern: all, none, or a comma list of counter, time, drops,
    /// box, noise, caption [default: the camera's current ones]
    #[arg(long, global = true, value_name = "LIST", help_heading = "Controls")]
    pub overlay: Option<String>,

    /// The caption overlay's text (up to 31 printable ASCII characters)
    #[arg(long, global = true, value_name = "TEXT", help_heading = "Controls")]
    pub caption: Option<String>,

    /// Set a camera control before streaming, e.g. brightness=1500, hflip=on,
    /// solid-colour=#FF8000 (repeatable; `list` shows every control with its range). The
    /// values are the device's: every client of the camera sees them
    #[arg(
        long = "set",
        global = true,
        value_name = "NAME=VALUE",
        help_heading = "Controls"
    )]
    pub set: Vec<String>,

    /// Read into the viewer's own buffers, as a user-mode application (IOCTL_KS_READ_STREAM),
    /// instead of into frames of an allocator on the pin, as a kernel-mode consumer
    #[arg(long, global = true, help_heading = "Stream")]
    pub copy: bool,

    /// Pin id to stream from [default: the first capture pin]
    #[arg(long, global = true, value_name = "ID", help_heading = "Stream")]
    pub pin: Option<u32>,
}

/// Which camera the viewer talks to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// The avcam driver loaded into the built-in user-mode emulation (every build)
    #[default]
    Emulated,
    /// An installed avcam device through real KS handles (Windows builds only; the viewer's own
    /// buffers: --copy)
    Windows,
}

impl Backend {
    /// Whether this build of the viewer can use the backend.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Emulated => true,
            Backend::Windows => cfg!(windows),
        }
    }

    /// Whether the backend can only read into the viewer's own buffers: `windows` is a
    /// user-mode process, which may not hold an allocator's kernel frames, so it implies
    /// `--copy`.
    pub fn copy_only(self) -> bool {
        matches!(self, Backend::Windows)
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the device, its pins and every format (size, pixel format, fps range)
    List,
    /// Show live frames in a window, with fps, drops and allocator status in the title (default)
    View(ViewArgs),
    /// Record frames to a Y4M file, or raw frames to stdout with `--output -`
    Record(RecordArgs),
    /// Stream for a while and report delivered fps, drops, jitter and allocator counts (with
    /// --inject: the faults the camera injected against what the viewer observed)
    Stress(StressArgs),
    /// Set the controls given with --set, --pattern, --overlay and --caption, then show every
    /// control: its value, range and default
    Controls,
    /// Install the avcam device and its driver (Windows, elevated; what `devcon install` does)
    Install(InstallArgs),
    /// Remove every avcam device and avcam's driver packages (Windows, elevated)
    Uninstall,
}

/// `install` options.
#[derive(Clone, Debug, Default, Args)]
pub struct InstallArgs {
    /// The driver package's INF [default: avcam.inf beside avcam-viewer.exe]
    #[arg(long, value_name = "PATH")]
    pub inf: Option<PathBuf>,
}

/// `view` options.
#[derive(Clone, Debug, Default, Args)]
pub struct ViewArgs {
    /// Close the window after N frames were shown
    #[arg(long, value_name = "N")]
    pub frames: Option<u64>,

    /// Save what the window shows as a PNG after --frames N frames, then close
    #[arg(long, value_name = "FILE.png", requires = "frames")]
    pub screenshot: Option<PathBuf>,
}

/// `record` options.
#[derive(Clone, Debug, Args)]
#[command(group(clap::ArgGroup::new("length").required(true).args(["frames", "seconds"])))]
pub struct RecordArgs {
    /// Record N frames
    #[arg(long, value_name = "N")]
    pub frames: Option<u64>,

    /// Record T seconds of frames (ceil(T x fps) frames; T at most 604800, 7 days)
    #[arg(long, value_name = "T", allow_negative_numbers = true)]
    pub seconds: Option<f64>,

    /// Y4M file to write, or - for raw frames on stdout (for ffmpeg -f rawvideo)
    #[arg(long, short = 'o', value_name = "FILE.y4m|-")]
    pub output: PathBuf,

    /// Also save PNG snapshots: FILE.png gets the last frame; an existing DIR gets
    /// frame-NNNNNN.png (NNNNNN = picture number) every --png-every frames
    #[arg(long, value_name = "DIR|FILE.png")]
    pub png: Option<PathBuf>,

    /// With --png DIR: save every Nth recorded frame
    #[arg(long, value_name = "N", default_value_t = 1, requires = "png")]
    pub png_every: u64,

    /// Fail (exit code 1, nothing kept) if the camera skips a frame, instead of writing the
    /// previous frame again in its place
    #[arg(long)]
    pub strict: bool,
}

/// `stress` options.
#[derive(Clone, Debug, Args)]
pub struct StressArgs {
    /// Run for T seconds (wall clock; at most 604800, 7 days)
    #[arg(long, value_name = "T", allow_negative_numbers = true)]
    pub seconds: f64,

    /// Print one JSON object (documented in docs/viewer.md) instead of the text report
    #[arg(long)]
    pub json: bool,

    /// Draw the histogram of frame intervals into a PNG
    #[arg(long, value_name = "FILE.png")]
    pub plot: Option<PathBuf>,

    /// Inject faults and report them against what the viewer observed, e.g.
    /// drop=5%,jitter=2ms,seed=7 (keys: seed, drop, burst=LEN/PERIOD, delay, jitter,
    /// spike=DUR/EVERY, empty=EVERY, discontinuity=EVERY, time-offset, time-wrap,
    /// picture-offset, picture-wrap, stall=DUR@SECONDS; durations in us, ms or s). Needs the
    /// device's FaultInjection registry value on Windows (docs/viewer.md)
    #[arg(long, value_name = "SPEC")]
    pub inject: Option<String>,
}

impl ValueEnum for PixelFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &PixelFormat::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            PixelFormat::Nv12 => "4:2:0, Y plane + interleaved UV plane",
            PixelFormat::Yuy2 => "4:2:2 packed Y0 U Y1 V",
            PixelFormat::Rgb24 => "BGR, 3 bytes per pixel, bottom-up",
            PixelFormat::Rgb32 => "BGRX, 4 bytes per pixel, bottom-up",
        };
        Some(PossibleValue::new(self.name()).help(help))
    }
}

/// clap value parser for `--size`.
fn parse_size(text: &str) -> Result<Size, String> {
    text.parse()
        .map_err(|e: crate::camera::ParseSizeError| e.to_string())
}

/// Turns clap's multi-line error into one line: the message and its hints, without the usage
/// block and the "For more information" line; `[possible values: ...]` becomes `valid: ...`.
pub fn one_line(error: &clap::Error) -> String {
    let text = error.to_string();
    let mut parts = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if line.is_empty() {
            continue;
        }
        let line = line.strip_prefix("error: ").unwrap_or(line);
        let line = match line.strip_prefix("[possible values: ") {
            Some(values) => format!("valid: {}", values.trim_end_matches(']')),
            None => line.to_string(),
        };
        parts.push(line);
    }
    parts.join("; ").replace(":;", ":")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("avcam-viewer").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn common_flags_go_before_or_after_the_subcommand() {
        let cli = parse(&[
            "--format", "yuy2", "record", "--frames", "3", "-o", "x.y4m", "--size", "640x480",
        ])
        .unwrap();
        assert_eq!(cli.stream.format, Some(PixelFormat::Yuy2));
        assert_eq!(cli.stream.size, Some(Size::new(640, 480)));
        match cli.command {
            Some(Command::Record(record)) => {
                assert_eq!(record.frames, Some(3));
                assert_eq!(record.output, PathBuf::from("x.y4m"));
                assert_eq!(record.png_every, 1);
            }
            other => panic!("{other:?}"),
        }
        let cli = parse(&[]).unwrap();
        assert!(cli.command.is_none() && !cli.stream.copy);
        assert_eq!(cli.backend, Backend::Emulated);
        let cli = parse(&["list", "--backend", "windows"]).unwrap();
        assert_eq!(cli.backend, Backend::Windows);
        assert!(Backend::Windows.copy_only() && !Backend::Emulated.copy_only());
        assert_eq!(Backend::Windows.is_available(), cfg!(windows));
        assert!(Backend::Emulated.is_available());
        let cli = parse(&[
            "stress",
            "--seconds",
            "2.5",
            "--fps",
            "0",
            "--copy",
            "--json",
        ])
        .unwrap();
        assert_eq!(cli.stream.fps, Some(0));
        assert!(cli.stream.copy);
        assert!(
            matches!(cli.command, Some(Command::Stress(StressArgs { seconds, json: true, .. })) if seconds == 2.5)
        );
    }

    #[test]
    fn parse_errors_become_one_line_with_the_valid_choices() {
        let error = parse(&["--format", "mjpg"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        let line = one_line(&error);
        assert!(!line.contains('\n'));
        assert!(
            line.contains("'mjpg'") && line.contains("valid: nv12, yuy2, rgb24, rgb32"),
            "{line}"
        );

        let line = one_line(&parse(&["--size", "big"]).unwrap_err());
        assert!(
            line.contains("'big'") && line.contains("e.g. 1280x720"),
            "{line}"
        );

        let line = one_line(&parse(&["record", "--frames", "1"]).unwrap_err());
        assert!(line.contains("--output"), "{line}");
        let line = one_line(&parse(&["record", "-o", "x.y4m"]).unwrap_err());
        assert!(
            line.contains("--frames") && line.contains("--seconds"),
            "{line}"
        );
        let line = one_line(
            &parse(&["record", "-o", "x.y4m", "--frames", "1", "--seconds", "1"]).unwrap_err(),
        );
        assert!(line.contains("cannot be used with"), "{line}");
        assert!(
            parse(&["view", "--screenshot", "x.png"]).is_err(),
            "--screenshot needs --frames"
        );
    }

    #[test]
    fn help_lists_the_subcommands_and_formats() {
        let help = Cli::command().render_long_help().to_string();
        for word in [
            "list",
            "view",
            "record",
            "stress",
            "--format",
            "nv12",
            "--copy",
            "Exit codes",
        ] {
            assert!(help.contains(word), "help lacks {word}");
        }
    }
}
