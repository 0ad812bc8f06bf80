//! `list`: the device, its patterns, its pins and every format they offer.

use crate::camera::DeviceInfo;
use crate::error::ViewerError;
use crate::{open, Context, OpenCamera};

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
        };
        assert_eq!(
            render(&info),
            "avcam\npatterns: bars\npin 0 \"Capture\" (capture), 1 formats\n  \
             yuy2     640x480  1..=1000 fps     (interval 10000..=10000000 x 100 ns)\n"
        );
    }
}
