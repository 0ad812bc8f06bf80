//! The stress plot: a histogram of frame intervals drawn with plotters' bitmap backend and
//! saved as PNG.
//!
//! plotters draws text through a font engine (font-kit or ab_glyph plus a font file); to stay
//! lean and self-contained, `TextBackend` wraps the bitmap backend and draws text with the
//! public-domain 8x8 bitmap font of the `font8x8` crate, scaled by whole pixels.

use std::path::Path;

use plotters::backend::BitMapBackend;
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

use crate::error::ViewerError;
use crate::histogram::{Histogram, LogHistogram};
use crate::snapshot::save_png;
use crate::stats::StressReport;

/// Plot width in pixels.
pub const PLOT_WIDTH: u32 = 960;
/// Plot height in pixels.
pub const PLOT_HEIGHT: u32 = 540;
/// Histogram bins.
pub const PLOT_BINS: usize = 60;

/// A bitmap backend that draws text with the 8x8 bitmap font.
struct TextBackend<'a> {
    inner: BitMapBackend<'a>,
}

type BackendError<'a> = DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>;

/// Glyph pixels per font pixel for a font `size` in pixels (8 px per glyph at scale 1).
fn glyph_scale(size: f64) -> i32 {
    ((size / 10.0).round() as i32).max(1)
}

impl<'a> DrawingBackend for TextBackend<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), BackendError<'a>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), BackendError<'a>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), BackendError<'a>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), BackendError<'a>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), BackendError<'a>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), BackendError<'a>> {
        let color = style.color();
        let scale = glyph_scale(style.size());
        let (width, height) = (8 * scale * text.chars().count() as i32, 8 * scale);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Center => -width / 2,
            HPos::Right => -width,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let (max_x, max_y) = self.get_size();
        for (index, character) in text.chars().enumerate() {
            let glyph = font8x8::legacy::BASIC_LEGACY
                .get(character as usize)
                .unwrap_or(&font8x8::legacy::BASIC_LEGACY[usize::from(b'?')]);
            for (row, bits) in glyph.iter().enumerate() {
                for column in 0..8 {
                    if bits & (1 << column) == 0 {
                        continue;
                    }
                    for sy in 0..scale {
                        for sx in 0..scale {
                            let x = dx + (index as i32 * 8 + column) * scale + sx;
                            let y = dy + row as i32 * scale + sy;
                            let (x, y) = transform.transform(x, y);
                            let (x, y) = (pos.0 + x, pos.1 + y);
                            if x >= 0 && y >= 0 && (x as u32) < max_x && (y as u32) < max_y {
                                self.inner.draw_pixel((x, y), color)?;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), BackendError<'a>> {
        let scale = glyph_scale(style.size()) as u32;
        Ok((8 * scale * text.chars().count() as u32, 8 * scale))
    }
}

/// Turns a plotters error into the viewer's.
fn plot_error(path: &Path, error: impl std::fmt::Display) -> ViewerError {
    ViewerError::io(
        format!("--plot {}", path.display()),
        std::io::Error::other(error.to_string()),
    )
}

/// Renders the histogram of `intervals_ns` (arrival intervals, nanoseconds) for `report` into
/// RGB8 pixels of [`PLOT_WIDTH`] x [`PLOT_HEIGHT`], in microseconds.
pub fn render_histogram(
    report: &StressReport,
    intervals_ns: &LogHistogram,
    path: &Path,
) -> Result<Vec<u8>, ViewerError> {
    let mut pixels = vec![255u8; (PLOT_WIDTH * PLOT_HEIGHT * 3) as usize];
    let histogram = Histogram::of(intervals_ns, 1e-3, PLOT_BINS);
    let tallest = histogram.counts.iter().copied().max().unwrap_or(0).max(1);
    {
        let backend = TextBackend {
            inner: BitMapBackend::with_buffer(&mut pixels, (PLOT_WIDTH, PLOT_HEIGHT)),
        };
        let root = backend.into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
        let config = &report.config;
        let rate = match config.fps_requested {
            0 => "unthrottled".to_string(),
            fps => format!("{fps} fps"),
        };
        let caption = format!(
            "arrival intervals: {} {}x{} {} {}",
            config.format, config.width, config.height, rate, config.frame_path
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(72)
            .build_cartesian_2d(
                histogram.start..histogram.end(),
                0u64..tallest + tallest / 10 + 1,
            )
            .map_err(|e| plot_error(path, e))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("interval between frames (us)")
            .y_desc("frames")
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&|value| format!("{value:.0}"))
            .draw()
            .map_err(|e| plot_error(path, e))?;
        let bars = histogram.counts.iter().enumerate().map(|(index, &count)| {
            let left = histogram.start + histogram.bin_width * index as f64;
            Rectangle::new(
                [(left, 0), (left + histogram.bin_width, count)],
                RGBColor(40, 100, 200).filled(),
            )
        });
        chart.draw_series(bars).map_err(|e| plot_error(path, e))?;
        if let Some(nominal) = config.nominal_interval_us {
            if (histogram.start..=histogram.end()).contains(&nominal) {
                let top = tallest + tallest / 10 + 1;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        [(nominal, 0), (nominal, top)],
                        Color::stroke_width(&RGBColor(200, 40, 40), 2),
                    )))
                    .map_err(|e| plot_error(path, e))?;
            }
        }
        if let Some(arrival) = &report.arrival {
            let summary = format!(
                "p50 {:.0} us  p99 {:.0} us  max {:.0} us  jitter p99 {:.0} us  {:.1} fps  dropped {}  red: nominal",
                arrival.interval_us.p50,
                arrival.interval_us.p99,
                arrival.interval_us.max,
                arrival.jitter_us.p99,
                report.fps_delivered,
                report.frames_dropped
            );
            root.draw_text(
                &summary,
                &("sans-serif", 10).into_font().color(&BLACK),
                (90, PLOT_HEIGHT as i32 - 14),
            )
            .map_err(|e| plot_error(path, e))?;
        }
        root.present().map_err(|e| plot_error(path, e))?;
    }
    Ok(pixels)
}

/// Draws the histogram and saves it as a PNG at `path` (whole or not at all).
pub fn save_histogram(
    report: &StressReport,
    intervals_ns: &LogHistogram,
    path: &Path,
) -> Result<(), ViewerError> {
    let pixels = render_histogram(report, intervals_ns, path)?;
    save_png("--plot", path, PLOT_WIDTH, PLOT_HEIGHT, &pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyph_scale_grows_with_the_font_size() {
        assert_eq!(glyph_scale(8.0), 1);
        assert_eq!(glyph_scale(14.0), 1);
        assert_eq!(glyph_scale(20.0), 2);
        assert_eq!(glyph_scale(0.0), 1);
    }
}
