//! `list`: the device, its patterns, its pins and every format they offer, then its controls;
//! `controls`: sets the controls the command line gives, then shows them all.

use crate::camera::DeviceInfo;
use crate::cli::StreamArgs;
use crate::error::ViewerError;
use crate::settings::{check_caption, resolve_controls};
use crate::{camera_error, open, Context, OpenCamera};

/// Formats the listing: one line per format with its size, pixel format and fps range.
pub fn render(info: &DeviceInfo) -> String {
    let mut text = format!("{}\n", info.name);
    if !info.patterns.is_empty() {
        text += &format!("patterns: {}\n", info.patterns.join(", "));
    }
    for pin in &info.pins {
        text += &format!(
            "pin {} \"{}\" ({}), {} formats\n",
            pin.id,
            pin.name,
            pin.kind.name(),
            pin.formats.len()
        );
        for format in &pin.formats {
            let rates = match format.fps_range() {
                Some((low, high)) => format!("{low}..={high} fps"),
                None => "no whole fps".to_string(),
            };
            text += &format!(
                "  {:<6} {:>9}  {:<16} (interval {}..={} x 100 ns)\n",
                format.pixel_format.name(),
                format.size.to_string(),
                rates,
                format.min_interval,
                format.max_interval
            );
        }
    }
    text + &render_controls(info)
}

/// The controls: one line each with its value, range and default, then the overlay names and
/// whether fault injection is allowed (nothing for a camera without controls).
pub fn render_controls(info: &DeviceInfo) -> String {
    let mut text = String::new();
    if !info.controls.is_empty() {
        text += "controls (value, range, default):\n";
    }
    for control in &info.controls {
        let kind = avcam_client::controls::control(&control.name);
        let shown = |v: i64| kind.map_or_else(|| v.to_string(), |k| k.format(v));
        text += &format!(
            "  {:<13} {:<14} {}..={}, default {}  {}\n",
            control.name,
            control.shown,
            shown(control.min),
            shown(control.max),
            shown(control.default),
            control.what
        );
    }
    if info.controls.iter().any(|c| c.name == "overlays") {
        text += &format!(
            "overlays: {} (--overlay all, none or a comma list)\n",
            avcam_client::controls::OVERLAYS.map(|(n, _)| n).join(", ")
        );
    }
    match info.fault_injection {
        Some(true) => text += "fault injection: allowed (stress --inject)\n",
        Some(false) => {
            text += "fault injection: refused (the device's FaultInjection registry value is \
                     not 1; docs/viewer.md)\n"
        }
        None => {}
    }
    text
}

/// Runs `list`.
pub fn run(open_camera: &mut OpenCamera<'_>, context: &mut Context<'_>) -> Result<(), ViewerError> {
    let (_camera, info) = open(open_camera)?;
    context
        .stdout
        .write_all(render(&info).as_bytes())
        .and_then(|()| context.stdout.flush())
        .map_err(|e| ViewerError::stdout("the listing to stdout", e))
}

/// What `controls` says on stderr about the emulated camera.
pub const EMULATED_NOTE: &str = "note: the emulated camera lives inside this process: the values \
    last until it exits (--backend windows sets them on the installed camera, for every \
    application that streams from it)";

/// Runs `controls`: sets what `--pattern`, `--overlay`, `--set` and `--caption` ask (checked
/// against the camera's ranges first: nothing is set if one is wrong), then shows every control;
/// on the `emulated` backend, says that the values last only as long as the process.
pub fn run_controls(
    args: &StreamArgs,
    emulated: bool,
    open_camera: &mut OpenCamera<'_>,
    context: &mut Context<'_>,
) -> Result<(), ViewerError> {
    let (mut camera, info) = open(open_camera)?;
    let controls = resolve_controls(args, &info)?;
    if let Some(caption) = &args.caption {
        check_caption(caption)?;
    }
    if !controls.is_empty() || args.caption.is_some() {
        camera
            .set_controls(&controls, args.caption.as_deref())
            .map_err(camera_error("setting the controls"))?;
    }
    let info = camera
        .device_info()
        .map_err(camera_error("reading the controls"))?;
    let mut text = render_controls(&info);
    if text.is_empty() {
        text = format!("{}: no controls\n", info.name);
    }
    context
        .stdout
        .write_all(text.as_bytes())
        .and_then(|()| context.stdout.flush())
        .map_err(|e| ViewerError::stdout("the controls to stdout", e))?;
    if emulated {
        let _ = writeln!(context.stderr, "avcam-viewer: {EMULATED_NOTE}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::{FormatInfo, PinInfo, PinKind, PixelFormat, Size};

    #[test]
    fn lists_every_format_with_its_rates() {
        let info = DeviceInfo {
            name: "avcam".into(),
            pins: vec![PinInfo {
                id: 0,
                name: "Capture".into(),
                kind: PinKind::Capture,
                formats: vec![FormatInfo {
                    pixel_format: PixelFormat::Yuy2,
                    size: Size::new(640, 480),
                    min_interval: 10_000,
                    max_interval: 10_000_000,
                }],
            }],
            patterns: vec!["bars".into()],
            controls: Vec::new(),
            fault_injection: None,
        };
        assert_eq!(
            render(&info),
            "avcam\npatterns: bars\npin 0 \"Capture\" (capture), 1 formats\n  \
             yuy2     640x480  1..=1000 fps     (interval 10000..=10000000 x 100 ns)\n"
        );
    }
}
