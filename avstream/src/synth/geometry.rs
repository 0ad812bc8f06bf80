//! Where things are in the picture: the pattern's bands and bars, the text cells, the moving
//! square and the noise strip, all on even rows and columns (so 4:2:0 / 4:2:2 chroma pairs never
//! straddle two colours).

use super::font::{CAPTION_COLUMNS, CELL, TEXT_COLUMNS};

/// Where things are in the picture (picture coordinates: row 0 is the top, for every format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverlayGeometry {
    /// Text and square scale: `max(1, min(height / 240, width / 160))` (the second term keeps a
    /// counter line on a portrait picture).
    pub scale: usize,
    /// Bar `i` spans columns `bar_edges[i]..bar_edges[i + 1]`.
    pub bar_edges: [usize; 8],
    /// End row of the bars.
    pub bars_end: usize,
    /// End row of the castellations.
    pub castellations_end: usize,
    /// End row of the ramp band; the black bottom band follows.
    pub ramp_end: usize,
    /// Left column of the first text cell.
    pub text_left: usize,
    /// Top row of the first text line.
    pub text_top: usize,
    /// Cell size in pixels: `8 * scale`.
    pub cell: usize,
    /// Text columns drawn on a counter line.
    pub text_columns: usize,
    /// Text columns drawn on the caption line (the line after the counters).
    pub caption_columns: usize,
    /// Side of the square.
    pub box_size: usize,
    /// Top row of the square.
    pub box_top: usize,
    /// Columns the square's left edge sweeps: `0..=box_travel`.
    pub box_travel: usize,
    /// Pixels the square moves per frame.
    pub box_speed: usize,
    /// Left column of the noise patch (it spans `ramp_end..height` rows, to the right edge).
    pub noise_left: usize,
    /// Checkerboard square side.
    pub checker: usize,
}

impl OverlayGeometry {
    /// The geometry of a `width` x `height` picture.
    pub const fn new(width: usize, height: usize) -> OverlayGeometry {
        const fn even(v: usize) -> usize {
            v & !1
        }
        let by_height = height / 240;
        let by_width = width / 160;
        let scale = if by_height < by_width {
            by_height
        } else {
            by_width
        };
        let scale = if scale > 1 { scale } else { 1 };
        let mut bar_edges = [0usize; 8];
        let mut i = 0;
        while i < 8 {
            bar_edges[i] = even(i * width / 7);
            i += 1;
        }
        bar_edges[7] = width;
        let ramp_end = even(height * 7 / 8);
        let band = height - ramp_end;
        let box_size = if even(band / 2) > 2 {
            even(band / 2)
        } else {
            2
        };
        let noise_left = even(width - width / 8);
        let cell = CELL * scale;
        let text_left = cell;
        let fit = (width - text_left) / cell;
        OverlayGeometry {
            scale,
            bar_edges,
            bars_end: even(height * 2 / 3),
            castellations_end: even(height * 3 / 4),
            ramp_end,
            text_left,
            text_top: cell,
            cell,
            text_columns: if fit < TEXT_COLUMNS {
                fit
            } else {
                TEXT_COLUMNS
            },
            caption_columns: if fit < CAPTION_COLUMNS {
                fit
            } else {
                CAPTION_COLUMNS
            },
            box_size,
            box_top: ramp_end + even((band - box_size) / 2),
            box_travel: noise_left.saturating_sub(box_size),
            box_speed: if even(width / 160) > 2 {
                even(width / 160)
            } else {
                2
            },
            noise_left,
            checker: 16 * scale,
        }
    }

    /// The square's left column at `picture_number`: a triangle wave over `0..=box_travel`.
    pub const fn box_left(&self, picture_number: u64) -> usize {
        if self.box_travel == 0 {
            return 0;
        }
        let period = 2 * self.box_travel as u64;
        let p = (picture_number % period) * self.box_speed as u64 % period;
        let p = p as usize;
        let x = if p <= self.box_travel {
            p
        } else {
            2 * self.box_travel - p
        };
        x & !1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_square_sweeps_and_turns_back() {
        let g = OverlayGeometry::new(1920, 1080);
        assert_eq!(g.box_left(0), 0);
        assert_eq!(g.box_left(1), g.box_speed);
        let xs: std::vec::Vec<usize> = (0..2000).map(|n| g.box_left(n)).collect();
        assert!(xs.iter().all(|&x| x <= g.box_travel && x % 2 == 0));
        assert!(
            xs.iter().any(|&x| x + g.box_speed > g.box_travel),
            "reaches the far end"
        );
        assert!(
            g.noise_left >= g.box_travel + g.box_size,
            "never runs into the noise patch"
        );
    }

    #[test]
    fn the_square_glides_one_step_a_frame_and_turns_at_both_ends() {
        for (w, h) in [(320, 240), (640, 480), (1920, 1080), (1080, 1920)] {
            let g = OverlayGeometry::new(w, h);
            let (travel, speed) = (g.box_travel, g.box_speed);
            let period = 2 * travel as u64;
            let xs: std::vec::Vec<usize> = (0..2 * period + 3).map(|n| g.box_left(n)).collect();
            for (n, pair) in xs.windows(2).enumerate() {
                let (a, b) = (pair[0], pair[1]);
                // A step of the speed, or a turn near an end (then less, either way).
                let turn = a + speed > travel || b + speed > travel || a < speed || b < speed;
                assert!(
                    a.abs_diff(b) == speed || (turn && a.abs_diff(b) <= speed),
                    "{w}x{h} frame {n}: {a} -> {b} (travel {travel}, speed {speed})"
                );
            }
            let far = *xs.iter().max().unwrap();
            assert!(
                far <= travel && far + speed > travel,
                "{w}x{h}: the far end {far}"
            );
            // Periodic, and picture numbers near the top of the range neither overflow nor
            // jump.
            for n in [period - 1, period, u64::MAX - 1, u64::MAX] {
                assert_eq!(g.box_left(n), g.box_left(n % period), "{w}x{h} frame {n}");
            }
        }
    }

    #[test]
    fn every_size_keeps_a_whole_counter_line() {
        for (w, h) in [
            (320, 240),
            (640, 360),
            (1920, 1080),
            (3840, 2160),
            (1080, 1920),
        ] {
            let g = OverlayGeometry::new(w, h);
            assert_eq!(g.text_columns, TEXT_COLUMNS, "{w}x{h}");
            assert!(g.text_left + g.caption_columns * g.cell <= w);
        }
        assert_eq!(OverlayGeometry::new(1920, 1080).scale, 4);
        assert_eq!(OverlayGeometry::new(1080, 1920).scale, 6);
    }
}
