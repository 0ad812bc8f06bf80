//! Colours: a picture colour given as gamma-corrected R'G'B' levels in permille, converted once
//! (at configure time) to BT.601 limited-range Y'CbCr and to full-range 8-bit RGB.
//!
//! BT.601: `E'Y = 0.299 E'R + 0.587 E'G + 0.114 E'B`; limited range
//! `Y = 16 + 219 E'Y`, `Cb = 128 + 224 (E'B - E'Y) / 1.772`, `Cr = 128 + 224 (E'R - E'Y) / 1.402`;
//! RGB full range `R = 255 E'R`. All rounded to nearest, with integer arithmetic.

/// One colour in every representation the formats need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour {
    /// BT.601 limited-range luma (16..=235).
    pub y: u8,
    /// BT.601 limited-range blue-difference chroma (16..=240).
    pub cb: u8,
    /// BT.601 limited-range red-difference chroma (16..=240).
    pub cr: u8,
    /// Full-range red.
    pub r: u8,
    /// Full-range green.
    pub g: u8,
    /// Full-range blue.
    pub b: u8,
}

/// `n / d` rounded half away from zero, for a positive `d` (every denominator of the colour
/// arithmetic is a positive constant). `i128`, wide enough for every expression of [`super::adjust`].
pub(crate) const fn div_round(n: i128, d: i128) -> i128 {
    if n < 0 {
        (n - d / 2) / d
    } else {
        (n + d / 2) / d
    }
}

impl Colour {
    /// The colour of R'G'B' levels in permille (0..=1000 each).
    pub const fn from_levels(r: u16, g: u16, b: u16) -> Colour {
        let (r, g, b) = (r as i128, g as i128, b as i128);
        // E'Y scaled by 10^6 (coefficients in thousandths, levels in thousandths).
        let ey = 299 * r + 587 * g + 114 * b;
        let y = 16 + div_round(219 * ey, 1_000_000);
        let cb = 128 + div_round(224 * (1000 * b - ey), 1772 * 1000);
        let cr = 128 + div_round(224 * (1000 * r - ey), 1402 * 1000);
        Colour {
            y: y as u8,
            cb: cb as u8,
            cr: cr as u8,
            r: div_round(255 * r, 1000) as u8,
            g: div_round(255 * g, 1000) as u8,
            b: div_round(255 * b, 1000) as u8,
        }
    }

    /// A grey of `level` permille.
    pub const fn grey(level: u16) -> Colour {
        Colour::from_levels(level, level, level)
    }

    /// Black (0%).
    pub const BLACK: Colour = Colour::grey(0);
    /// White (100%).
    pub const WHITE: Colour = Colour::grey(1000);
}

/// R'G'B' levels in permille (0..=1000 each): a colour before the picture controls
/// (`super::adjust`) and the conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Levels {
    /// Red.
    pub r: u16,
    /// Green.
    pub g: u16,
    /// Blue.
    pub b: u16,
}

impl Levels {
    /// A grey of `level` permille.
    pub const fn grey(level: u16) -> Levels {
        Levels {
            r: level,
            g: level,
            b: level,
        }
    }

    /// The levels of a full-range 8-bit colour `0x00RRGGBB` (each `round(v x 1000 / 255)`, which
    /// converts back to the same byte).
    pub const fn from_rgb8(rgb: u32) -> Levels {
        const fn level(v: u32) -> u16 {
            div_round(v as i128 * 1000, 255) as u16
        }
        Levels {
            r: level((rgb >> 16) & 0xFF),
            g: level((rgb >> 8) & 0xFF),
            b: level(rgb & 0xFF),
        }
    }
}

impl From<Levels> for Colour {
    fn from(levels: Levels) -> Colour {
        Colour::from_levels(levels.r, levels.g, levels.b)
    }
}

/// The 75% level of EIA-189-A / SMPTE EG 1 colour bars.
pub const BAR_LEVEL: u16 = 750;

/// The seven bars at `level`, left to right: white, yellow, cyan, green, magenta, red, blue.
pub const fn bars(level: u16) -> [Levels; 7] {
    const fn l(r: bool, g: bool, b: bool, level: u16) -> Levels {
        Levels {
            r: if r { level } else { 0 },
            g: if g { level } else { 0 },
            b: if b { level } else { 0 },
        }
    }
    [
        l(true, true, true, level),
        l(true, true, false, level),
        l(false, true, true, level),
        l(false, true, false, level),
        l(true, false, true, level),
        l(true, false, false, level),
        l(false, false, true, level),
    ]
}

/// The "castellation" strip under the bars (SMPTE EG 1) at `level`: blue, black, magenta,
/// black, cyan, black, white, each under the bar of the same index.
pub const fn castellations(level: u16) -> [Levels; 7] {
    let bars = bars(level);
    let black = Levels::grey(0);
    [bars[6], black, bars[4], black, bars[2], black, bars[0]]
}

/// The 75% bars (the default pattern's).
pub const BARS: [Levels; 7] = bars(BAR_LEVEL);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn black_and_white_hit_the_range_ends() {
        assert_eq!(
            (Colour::BLACK.y, Colour::BLACK.cb, Colour::BLACK.cr),
            (16, 128, 128)
        );
        assert_eq!(
            (Colour::WHITE.y, Colour::WHITE.cb, Colour::WHITE.cr),
            (235, 128, 128)
        );
        assert_eq!(
            (Colour::WHITE.r, Colour::WHITE.g, Colour::WHITE.b),
            (255, 255, 255)
        );
        // Pure blue and red reach the chroma extremes.
        assert_eq!(Colour::from_levels(0, 0, 1000).cb, 240);
        assert_eq!(Colour::from_levels(1000, 0, 0).cr, 240);
    }

    #[test]
    fn eight_bit_colours_survive_the_trip_through_levels() {
        for v in 0..=255u32 {
            let c = Colour::from(Levels::from_rgb8(v << 16 | v << 8 | v));
            assert_eq!((c.r, c.g, c.b), (v as u8, v as u8, v as u8));
        }
        assert_eq!(castellations(750)[0], bars(750)[6]);
    }

    #[test]
    fn rounding_is_symmetric() {
        assert_eq!(div_round(5, 2), 3);
        assert_eq!(div_round(-5, 2), -3);
        assert_eq!(div_round(-4, 3), -1);
        assert_eq!(div_round(4, 3), 1);
        assert_eq!(div_round(-7, 2), -4);
        assert_eq!(div_round(0, 7), 0);
        assert_eq!(
            div_round(-(1 << 100), 3),
            -422_550_200_076_076_467_165_567_735_125
        );
    }
}
