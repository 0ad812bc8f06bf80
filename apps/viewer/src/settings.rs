//! From the command line's wishes and the camera's [`DeviceInfo`] to a validated
//! [`StreamConfig`], or the one-line error that names the valid choices.
//!
//! Defaults: the first capture pin, NV12 (else the pin's first format), 1280x720 (else the
//! first size of that format), 30 fps (else the highest rate the format allows), and the
//! camera's current pattern. The controls (`--pattern`, `--overlay`, `--set NAME=VALUE`,
//! `--caption`) are checked against what the camera answered: its controls, their ranges.

use core::time::Duration;

use crate::camera::{
    interval_for_fps, ControlInfo, DeviceInfo, FormatInfo, FramePath, PinInfo, PinKind,
    PixelFormat, Rate, Size, StreamConfig,
};
use crate::cli::StreamArgs;
use crate::error::ViewerError;

/// The default size when the format offers it.
pub const DEFAULT_SIZE: Size = Size::new(1280, 720);
/// The default frame rate when the format allows it.
pub const DEFAULT_FPS: u32 = 30;
/// The pattern used when the camera reports none.
pub const DEFAULT_PATTERN: &str = "bars75";
/// The longest `--seconds` any command accepts: 7 days (604,800 s). Memory does not limit it
/// (stress keeps bounded statistics); it keeps a typo from asking for centuries.
pub const MAX_SECONDS: u64 = 7 * 86_400;

/// Checks a duration given as `option`: finite, above zero and at most [`MAX_SECONDS`].
pub fn check_seconds(option: &'static str, seconds: f64) -> Result<Duration, ViewerError> {
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(ViewerError::NotPositive {
            option,
            value: seconds.to_string(),
        });
    }
    if seconds > MAX_SECONDS as f64 {
        // Whole numbers as such, huge ones short: 1000000, 1e300.
        let value = if seconds < 1e16 && seconds.fract() == 0.0 {
            format!("{seconds:.0}")
        } else {
            format!("{seconds:?}")
        };
        return Err(ViewerError::TooLong {
            option,
            value,
            max_seconds: MAX_SECONDS,
        });
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A resolved stream: the config for [`crate::camera::Camera::start`] and the format entry it
/// was checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The validated config.
    pub config: StreamConfig,
    /// The format the pin offers that matches it.
    pub format: FormatInfo,
}

impl Resolved {
    /// The nominal frame interval in 100 ns units; `None` when unthrottled.
    pub fn nominal_interval(&self) -> Option<u64> {
        match self.config.rate {
            Rate::Fps(fps) => interval_for_fps(fps),
            Rate::Unthrottled => None,
        }
    }

    /// How long to wait for one frame before calling the camera stuck: 2 s plus four frame
    /// intervals.
    pub fn frame_timeout(&self) -> Duration {
        let interval = Duration::from_nanos(self.nominal_interval().unwrap_or(0) * 100);
        Duration::from_secs(2) + interval * 4
    }
}

/// Picks the pin: the requested one, else the first capture pin with formats, else the first
/// pin with formats.
fn pick_pin(info: &DeviceInfo, requested: Option<u32>) -> Result<&PinInfo, ViewerError> {
    let streaming = || info.pins.iter().filter(|pin| !pin.formats.is_empty());
    let found = match requested {
        Some(id) => streaming().find(|pin| pin.id == id),
        None => streaming()
            .find(|pin| pin.kind == PinKind::Capture)
            .or_else(|| streaming().next()),
    };
    found.ok_or_else(|| ViewerError::UnknownPin {
        requested: requested.unwrap_or(0),
        valid: streaming().map(|pin| pin.id).collect(),
    })
}

/// Resolves `args` against `info`. `unthrottled_allowed`: whether `--fps 0` is accepted.
pub fn resolve(
    args: &StreamArgs,
    info: &DeviceInfo,
    unthrottled_allowed: bool,
) -> Result<Resolved, ViewerError> {
    let pin = pick_pin(info, args.pin)?;

    let offered: Vec<PixelFormat> = PixelFormat::ALL
        .into_iter()
        .filter(|format| pin.formats.iter().any(|f| f.pixel_format == *format))
        .collect();
    let pixel_format = match args.format {
        Some(format) if offered.contains(&format) => format,
        Some(format) => {
            return Err(ViewerError::UnknownFormat {
                requested: format,
                valid: offered,
            })
        }
        None if offered.contains(&PixelFormat::Nv12) => PixelFormat::Nv12,
        None => offered[0],
    };

    let in_format: Vec<&FormatInfo> = pin
        .formats
        .iter()
        .filter(|f| f.pixel_format == pixel_format)
        .collect();
    let format =
        match args.size {
            Some(size) => in_format.iter().find(|f| f.size == size).ok_or_else(|| {
                ViewerError::UnknownSize {
                    requested: size,
                    pixel_format,
                    valid: in_format.iter().map(|f| f.size).collect(),
                }
            })?,
            None => in_format
                .iter()
                .find(|f| f.size == DEFAULT_SIZE)
                .unwrap_or(&in_format[0]),
        };

    let out_of_range = |requested: u32| ViewerError::FpsOutOfRange {
        requested,
        format: format!("{pixel_format} {}", format.size),
        valid: format.fps_range(),
        unthrottled_allowed,
    };
    let rate = match args.fps {
        Some(0) if unthrottled_allowed => Rate::Unthrottled,
        Some(fps) if format.allows_fps(fps) => Rate::Fps(fps),
        Some(fps) => return Err(out_of_range(fps)),
        None if format.allows_fps(DEFAULT_FPS) => Rate::Fps(DEFAULT_FPS),
        None => match format.fps_range() {
            Some((_, highest)) => Rate::Fps(highest),
            None => return Err(out_of_range(DEFAULT_FPS)),
        },
    };

    let current_pattern = info
        .controls
        .iter()
        .find(|c| c.name == "pattern")
        .map(|c| c.shown.clone());
    let pattern = match &args.pattern {
        Some(pattern) if info.patterns.is_empty() || info.patterns.contains(pattern) => {
            pattern.clone()
        }
        Some(pattern) => {
            return Err(ViewerError::UnknownPattern {
                requested: pattern.clone(),
                valid: info.patterns.clone(),
            })
        }
        None => current_pattern
            .or_else(|| info.patterns.first().cloned())
            .unwrap_or_else(|| DEFAULT_PATTERN.to_string()),
    };
    let controls = resolve_controls(args, info)?;
    if let Some(caption) = &args.caption {
        check_caption(caption)?;
    }

    Ok(Resolved {
        config: StreamConfig {
            pin: pin.id,
            pixel_format,
            size: format.size,
            rate,
            pattern,
            frame_path: if args.copy {
                FramePath::Copy
            } else {
                FramePath::Allocator
            },
            controls,
            caption: args.caption.clone(),
            faults: None,
        },
        format: (*format).clone(),
    })
}

/// The longest caption the camera draws.
pub const MAX_CAPTION: usize = 31;

/// Checks `--caption`: up to [`MAX_CAPTION`] printable ASCII characters.
pub(crate) fn check_caption(caption: &str) -> Result<(), ViewerError> {
    if caption.len() > MAX_CAPTION || !caption.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
        return Err(ViewerError::BadArguments {
            message: format!(
                "--caption {caption:?}: up to {MAX_CAPTION} printable ASCII characters"
            ),
        });
    }
    Ok(())
}

/// The control called `name` as the camera answered it, or the one-line error naming those it
/// has.
fn camera_control<'i>(info: &'i DeviceInfo, name: &str) -> Result<&'i ControlInfo, ViewerError> {
    info.controls
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| ViewerError::UnknownControl {
            requested: name.into(),
            valid: info.controls.iter().map(|c| c.name.clone()).collect(),
        })
}

/// Reads `text` as a value of the camera's control `name`, checked against its range.
pub fn control_value(info: &DeviceInfo, name: &str, text: &str) -> Result<i64, ViewerError> {
    let control = camera_control(info, name)?;
    let kind =
        avcam_client::controls::control(name).ok_or_else(|| ViewerError::UnknownControl {
            requested: name.into(),
            valid: info.controls.iter().map(|c| c.name.clone()).collect(),
        })?;
    let value = kind
        .parse(text.trim())
        .map_err(|message| ViewerError::BadArguments { message })?;
    if !(control.min..=control.max).contains(&value) {
        return Err(ViewerError::ControlOutOfRange {
            name: name.into(),
            value: text.trim().into(),
            min: kind.format(control.min),
            max: kind.format(control.max),
            default: kind.format(control.default),
        });
    }
    Ok(value)
}

/// The controls `args` set, in order: `--pattern` (when the camera has a pattern control),
/// `--overlay`, then each `--set NAME=VALUE`; each checked against the camera's controls.
pub(crate) fn resolve_controls(
    args: &StreamArgs,
    info: &DeviceInfo,
) -> Result<Vec<(String, i64)>, ViewerError> {
    let mut controls = Vec::new();
    let has = |name: &str| info.controls.iter().any(|c| c.name == name);
    if let Some(pattern) = &args.pattern {
        if has("pattern") {
            controls.push(("pattern".into(), control_value(info, "pattern", pattern)?));
        }
    }
    if let Some(list) = &args.overlay {
        controls.push(("overlays".into(), control_value(info, "overlays", list)?));
    }
    for assignment in &args.set {
        let (name, value) =
            assignment
                .split_once('=')
                .ok_or_else(|| ViewerError::BadArguments {
                    message: format!(
                "--set {assignment}: expected NAME=VALUE, e.g. brightness=1500 (`list` shows \
                 every control)"
            ),
                })?;
        let name = name.trim();
        controls.push((name.into(), control_value(info, name, value)?));
    }
    Ok(controls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(pixel_format: PixelFormat, width: u32, height: u32, fps: (u64, u64)) -> FormatInfo {
        FormatInfo {
            pixel_format,
            size: Size::new(width, height),
            min_interval: 10_000_000 / fps.1,
            max_interval: 10_000_000 / fps.0,
        }
    }

    fn device() -> DeviceInfo {
        DeviceInfo {
            name: "test camera".into(),
            pins: vec![
                PinInfo {
                    id: 0,
                    name: "Still".into(),
                    kind: PinKind::Still,
                    formats: vec![format(PixelFormat::Rgb24, 640, 480, (1, 5))],
                },
                PinInfo {
                    id: 1,
                    name: "Capture".into(),
                    kind: PinKind::Capture,
                    formats: vec![
                        format(PixelFormat::Nv12, 640, 480, (1, 1000)),
                        format(PixelFormat::Nv12, 1280, 720, (1, 500)),
                        format(PixelFormat::Yuy2, 320, 240, (1, 20)),
                    ],
                },
                PinInfo {
                    id: 2,
                    name: "Nothing".into(),
                    kind: PinKind::Other,
                    formats: vec![],
                },
            ],
            patterns: vec!["bars".into(), "ramp".into()],
            controls: Vec::new(),
            fault_injection: None,
        }
    }

    #[test]
    fn defaults_pick_the_capture_pin_nv12_720p_30fps_and_the_first_pattern() {
        let resolved = resolve(&StreamArgs::default(), &device(), false).unwrap();
        assert_eq!(
            resolved.config,
            StreamConfig {
                pin: 1,
                pixel_format: PixelFormat::Nv12,
                size: Size::new(1280, 720),
                rate: Rate::Fps(30),
                pattern: "bars".into(),
                frame_path: FramePath::Allocator,
                controls: Vec::new(),
                caption: None,
                faults: None,
            }
        );
        assert_eq!(resolved.nominal_interval(), Some(333_333));
        assert_eq!(
            resolved.frame_timeout(),
            Duration::from_nanos(2_133_333_200)
        );
    }

    #[test]
    fn defaults_fall_back_to_what_the_format_offers() {
        let args = StreamArgs {
            format: Some(PixelFormat::Yuy2),
            copy: true,
            ..StreamArgs::default()
        };
        let resolved = resolve(&args, &device(), false).unwrap();
        assert_eq!(resolved.config.size, Size::new(320, 240));
        assert_eq!(
            resolved.config.rate,
            Rate::Fps(20),
            "30 is out of range: the highest"
        );
        assert_eq!(resolved.config.frame_path, FramePath::Copy);
        let still = StreamArgs {
            pin: Some(0),
            ..StreamArgs::default()
        };
        let resolved = resolve(&still, &device(), false).unwrap();
        assert_eq!(resolved.config.pixel_format, PixelFormat::Rgb24);
        assert_eq!(resolved.config.rate, Rate::Fps(5));
    }

    #[test]
    fn every_bad_choice_names_the_valid_ones() {
        let cases: [(StreamArgs, bool, &str); 7] = [
            (
                StreamArgs { pin: Some(2), ..Default::default() },
                false,
                "unknown pin 2; pins that stream: 0, 1",
            ),
            (
                StreamArgs { format: Some(PixelFormat::Rgb32), ..Default::default() },
                false,
                "format rgb32 is not offered by the camera; valid formats: nv12, yuy2",
            ),
            (
                StreamArgs { size: Some(Size::new(1920, 1080)), ..Default::default() },
                false,
                "size 1920x1080 is not offered in nv12; valid sizes: 640x480, 1280x720",
            ),
            (
                StreamArgs { fps: Some(501), ..Default::default() },
                false,
                "--fps 501 is outside the range for nv12 1280x720; valid: 1..=500 fps",
            ),
            (
                StreamArgs { fps: Some(501), ..Default::default() },
                true,
                "--fps 501 is outside the range for nv12 1280x720; valid: 1..=500 fps, or 0 for unthrottled",
            ),
            (
                StreamArgs { fps: Some(0), ..Default::default() },
                false,
                "--fps 0 (unthrottled) is only for `stress` and `record --frames N`; valid: 1..=500 fps",
            ),
            (
                StreamArgs { pattern: Some("plaid".into()), ..Default::default() },
                false,
                "unknown pattern 'plaid'; valid patterns: bars, ramp",
            ),
        ];
        for (args, unthrottled, message) in cases {
            let error = resolve(&args, &device(), unthrottled).unwrap_err();
            assert_eq!(error.to_string(), message);
            assert_eq!(error.exit_code(), crate::error::EXIT_USAGE);
        }
    }

    #[test]
    fn zero_fps_is_unthrottled_where_allowed() {
        let args = StreamArgs {
            fps: Some(0),
            ..Default::default()
        };
        let resolved = resolve(&args, &device(), true).unwrap();
        assert_eq!(resolved.config.rate, Rate::Unthrottled);
        assert_eq!(resolved.nominal_interval(), None);
    }
}
