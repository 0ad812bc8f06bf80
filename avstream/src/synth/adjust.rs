//! The standard picture controls (`PROPSETID_VIDCAP_VIDEOPROCAMP`: brightness, contrast, hue,
//! saturation, gamma) applied to a colour, in integers only, so that a colour renders to the same
//! bytes on every build and every processor.
//!
//! A colour starts as R'G'B' levels in permille ([`Levels`]). In order:
//! 1. **gamma** `G` (gamma x 100): each level becomes `L^(100 / G)` (100 leaves it alone; 220
//!    lifts the mid-tones as a 2.2 encoding gamma does), through a fixed-point `log2` / `exp2`
//!    ([`gamma_level`]);
//! 2. the levels become BT.601 luma `E'Y` and colour differences `E'B - E'Y`, `E'R - E'Y`;
//! 3. **contrast** `C` (luma gain x 100) scales `E'Y`, then **brightness** `B` (IRE x 100, 750 =
//!    7.5 IRE the documented default, 10000 = full scale) adds `(B - 750) / 10000` to it: a
//!    change of 1000 moves limited-range luma by 21.9 codes;
//! 4. **saturation** `S` (chroma gain x 100) scales the normalised colour differences `Pb`, `Pr`
//!    and **hue** `H` (degrees x 100) rotates them (`sin` and `cos` from a table of whole degrees
//!    in Q15, interpolated);
//! 5. the result is written once, with one rounding, as BT.601 limited-range `Y'CbCr` (`Y'`
//!    clamped to 16..=235, `Cb`/`Cr` to 16..=240) and as full-range R'G'B' (each clamped to
//!    0..=255), every expression over a common integer denominator (`i128`).
//!
//! At the defaults every expression reduces exactly to [`Colour::from_levels`], so the default
//! picture is bit-identical to the picture without controls. Overlays (text, square, noise) are
//! not adjusted.

use super::colour::{div_round, Colour, Levels};

/// The ProcAmp values that change the picture (`KSPROPERTY_VIDEOPROCAMP_*` units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adjust {
    /// Brightness, IRE x 100 (default 750).
    pub brightness: i32,
    /// Contrast, luma gain x 100 (default 100).
    pub contrast: i32,
    /// Hue, degrees x 100 (default 0).
    pub hue: i32,
    /// Saturation, chroma gain x 100 (default 100).
    pub saturation: i32,
    /// Gamma x 100 (default 100: none).
    pub gamma: i32,
}

impl Adjust {
    /// The defaults: the picture as synthesized.
    pub const IDENTITY: Adjust = Adjust {
        brightness: 750,
        contrast: 100,
        hue: 0,
        saturation: 100,
        gamma: 100,
    };

    /// Whether every value is its default (then [`Adjust::colour`] is [`Colour::from_levels`]).
    pub fn is_identity(&self) -> bool {
        *self == Adjust::IDENTITY
    }

    /// The colour of `levels` under these controls (see the module docs).
    pub fn colour(&self, levels: Levels) -> Colour {
        if self.is_identity() {
            return Colour::from(levels);
        }
        let [r, g, b] = [levels.r, levels.g, levels.b].map(|l| gamma_level(l, self.gamma));
        let (r, g, b) = (i128::from(r), i128::from(g), i128::from(b));
        // E'Y and the colour differences, in millionths.
        let ey = 299 * r + 587 * g + 114 * b;
        let db = 1000 * b - ey;
        let dr = 1000 * r - ey;
        let (sin, cos) = sin_cos_q15(self.hue);
        let (sin, cos) = (i128::from(sin), i128::from(cos));
        let s = i128::from(self.saturation);
        // E'Y' x 100 (millionths): contrast, then brightness.
        let luma = ey * i128::from(self.contrast) + i128::from(self.brightness - 750) * 10_000;
        // Cb - 128 = 224 S (db cos 1402 - dr sin 1772) / (100 x 1000 x 2^15 x 1772 x 1402),
        // Cr - 128 = 224 S (db sin 1402 + dr cos 1772) / (the same).
        let chroma_den: i128 = 100 * 1000 * 32_768 * 1772 * 1402;
        let pb = s * (db * cos * 1402 - dr * sin * 1772);
        let pr = s * (db * sin * 1402 + dr * cos * 1772);
        let y = 16 + div_round(219 * luma, 100 * 1_000_000);
        let cb = 128 + div_round(224 * pb, chroma_den);
        let cr = 128 + div_round(224 * pr, chroma_den);
        // R'G'B' over the common denominator D = 100 x 2^15 x 1772 x 1402 (millionths x D):
        // R' = E'Y' + 1.402 Pr', B' = E'Y' + 1.772 Pb', G' = (E'Y' - 0.299 R' - 0.114 B') / 0.587.
        let d: i128 = 100 * 32_768 * 1772 * 1402;
        let y_d = luma * 32_768 * 1772 * 1402;
        let r_d = y_d + s * (db * sin * 1402 + dr * cos * 1772) * 1402;
        let b_d = y_d + s * (db * cos * 1402 - dr * sin * 1772) * 1772;
        let g_587 = 1000 * y_d - 299 * r_d - 114 * b_d;
        // A channel of `v / den` millionths, clamped to 0..=1, in 8 bits.
        let channel = |v: i128, den: i128| {
            let full = 1_000_000 * den;
            div_round(255 * v.clamp(0, full), full)
        };
        Colour {
            y: y.clamp(16, 235) as u8,
            cb: cb.clamp(16, 240) as u8,
            cr: cr.clamp(16, 240) as u8,
            r: channel(r_d, d) as u8,
            g: channel(g_587, 587 * d) as u8,
            b: channel(b_d, d) as u8,
        }
    }
}

impl Default for Adjust {
    fn default() -> Self {
        Adjust::IDENTITY
    }
}

/// `sin` of whole degrees 0..=90 in Q15 (`round(sin(d) x 32768)`).
const SIN_Q15: [i32; 91] = [
    0, 572, 1144, 1715, 2286, 2856, 3425, 3993, 4560, 5126, 5690, 6252, 6813, 7371, 7927, 8481,
    9032, 9580, 10126, 10668, 11207, 11743, 12275, 12803, 13328, 13848, 14365, 14876, 15384, 15886,
    16384, 16877, 17364, 17847, 18324, 18795, 19261, 19720, 20174, 20622, 21063, 21498, 21926,
    22348, 22763, 23170, 23571, 23965, 24351, 24730, 25102, 25466, 25822, 26170, 26510, 26842,
    27166, 27482, 27789, 28088, 28378, 28660, 28932, 29197, 29452, 29698, 29935, 30163, 30382,
    30592, 30792, 30983, 31164, 31336, 31499, 31651, 31795, 31928, 32052, 32166, 32270, 32365,
    32449, 32524, 32588, 32643, 32688, 32723, 32748, 32763, 32768,
];

/// `sin` of `0..=9000` centidegrees in Q15: the table, interpolated linearly between degrees.
fn sin_quadrant(centi: i32) -> i32 {
    let (degree, part) = ((centi / 100) as usize, centi % 100);
    if part == 0 {
        return SIN_Q15[degree];
    }
    let (a, b) = (SIN_Q15[degree], SIN_Q15[degree + 1]);
    a + div_round(i128::from((b - a) * part), 100) as i32
}

/// `(sin, cos)` of an angle in centidegrees, in Q15 (exactly `(0, 32768)` at 0).
pub fn sin_cos_q15(centidegrees: i32) -> (i32, i32) {
    let a = centidegrees.rem_euclid(36_000);
    let sin = |a: i32| match a {
        0..=9_000 => sin_quadrant(a),
        9_001..=18_000 => sin_quadrant(18_000 - a),
        18_001..=27_000 => -sin_quadrant(a - 18_000),
        _ => -sin_quadrant(36_000 - a),
    };
    (sin(a), sin((a + 9_000) % 36_000))
}

/// `2^(2^-i)` in Q62 for `i = 1..=32`: the factors of [`exp2_q32`].
const EXP2_FRACTIONS_Q62: [u64; 32] = [
    0x5A82_7999_FCEF_3242,
    0x4C1B_F828_C6DC_54B8,
    0x45CA_E0F1_F545_EB73,
    0x42D5_61B3_E624_3D8A,
    0x4166_C34C_5615_D0EC,
    0x40B2_68F9_DE01_83BA,
    0x4058_F6A7_ECCC_D5B6,
    0x402C_6BE9_6AF2_FB58,
    0x4016_321B_6870_27A8,
    0x400B_1817_8BA3_3B14,
    0x4005_8BCE_4101_47E8,
    0x4002_C5D7_BFF7_1DAF,
    0x4001_62E8_07EE_7E5B,
    0x4000_B173_0DF6_A524,
    0x4000_58B9_497B_8152,
    0x4000_2C5C_955D_D701,
    0x4000_162E_46D6_F26C,
    0x4000_0B17_2275_7B1B,
    0x4000_058B_90FD_3E0C,
    0x4000_02C5_C86F_3F26,
    0x4000_0162_E433_C79B,
    0x4000_00B1_7218_EDD0,
    0x4000_0058_B90C_3968,
    0x4000_002C_5C86_0D54,
    0x4000_0016_2E43_02D2,
    0x4000_000B_1721_8073,
    0x4000_0005_8B90_BFFC,
    0x4000_0002_C5C8_5FEF,
    0x4000_0001_62E4_2FF3,
    0x4000_0000_B172_17F9,
    0x4000_0000_58B9_0BFC,
    0x4000_0000_2C5C_85FE,
];

/// `log2(x / 2^32)` in Q32 for `x` in `1..=2^32` (a value in `(0, 1]`): the integer part from
/// the highest bit, 32 fractional bits by repeated squaring.
fn log2_q32(x: u64) -> i64 {
    let top = 63 - i64::from(x.leading_zeros());
    // m in [2^32, 2^33): x normalised, log2(x) = top + log2(m / 2^32) (top <= 32 here).
    let mut m: u128 = u128::from(x) << (32 - top);
    let mut fraction: i64 = 0;
    for bit in (0..32).rev() {
        m = (m * m) >> 32;
        if m >= 1 << 33 {
            m >>= 1;
            fraction |= 1 << bit;
        }
    }
    ((top - 32) << 32) + fraction
}

/// `2^(y / 2^32) x 2^32` for `y <= 0` (Q32 in, Q32 out).
fn exp2_q32(y: i64) -> u64 {
    let whole = y >> 32; // floor
                         // y - whole x 2^32, the fraction, is y's low 32 bits (two's complement): the loop reads
                         // only those.
    let fraction = y as u64;
    let mut v: u128 = 1 << 62;
    for (i, factor) in EXP2_FRACTIONS_Q62.iter().enumerate() {
        if fraction & (1 << (31 - i)) != 0 {
            v = (v * u128::from(*factor)) >> 62;
        }
    }
    // v is 2^fraction in Q62; scale by 2^whole (whole <= 0) into Q32.
    let shift = 30 - whole;
    if shift >= 128 {
        0
    } else {
        ((v + (1 << (shift - 1))) >> shift) as u64
    }
}

/// A level (permille) under gamma `gamma` (x 100): `1000 (L / 1000)^(100 / gamma)`, rounded;
/// 0 and 1000 stay, and so does every level at gamma 100 and at a gamma of 0 or below (outside
/// the control's range `1..=500`, so never asked for).
pub fn gamma_level(level: u16, gamma: i32) -> u16 {
    if gamma == 100 || level == 0 || level >= 1000 || gamma <= 0 {
        return level.min(1000);
    }
    let x = (u64::from(level) << 32) / 1000;
    let scaled = log2_q32(x) * 100 / i64::from(gamma);
    let y = exp2_q32(scaled);
    ((u128::from(y) * 1000 + (1 << 31)) >> 32).min(1000) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_follows_the_power_law_within_one_permille() {
        for gamma in [1, 40, 100, 180, 220, 500] {
            for level in 0..=1000u16 {
                let exact = 1000.0 * (f64::from(level) / 1000.0).powf(100.0 / f64::from(gamma));
                let got = f64::from(gamma_level(level, gamma));
                assert!(
                    (got - exact).abs() <= 1.0,
                    "gamma {gamma} level {level}: {got} vs {exact}"
                );
            }
        }
        // Rounded to the nearest permille: exact wherever the true value is not within 1% of a
        // half (the fixed point is good to about 10^-6).
        for gamma in [40, 180, 220, 500] {
            for level in 1..1000u16 {
                let exact = 1000.0 * (f64::from(level) / 1000.0).powf(100.0 / f64::from(gamma));
                if (exact.fract() - 0.5).abs() > 0.01 {
                    assert_eq!(
                        f64::from(gamma_level(level, gamma)),
                        exact.round(),
                        "gamma {gamma} level {level}: {exact}"
                    );
                }
            }
        }
        assert_eq!(gamma_level(500, 220), 730, "729.74");
        assert_eq!(gamma_level(500, 100), 500);
        for gamma in [0, -220, i32::MIN] {
            assert_eq!(gamma_level(500, gamma), 500, "gamma {gamma}");
            assert_eq!(gamma_level(1200, gamma), 1000, "gamma {gamma}");
        }
        assert_eq!(gamma_level(1000, 220), 1000);
        assert!(gamma_level(500, 220) > 700, "2.2 lifts the mid-tones");
    }

    #[test]
    fn log2_and_exp2_are_exact_at_powers_of_two_and_inverse_between() {
        for k in 0..32 {
            assert_eq!(log2_q32(1 << (32 - k)), -(k << 32), "log2 2^-{k}");
            assert_eq!(exp2_q32(-(k << 32)), 1 << (32 - k), "exp2 -{k}");
        }
        // 2^-0.5 x 2^32 = 3037000499.98.
        assert_eq!(exp2_q32(-(1 << 31)), 3_037_000_500);
        for x in [1u64, 3, 1_000_003, 0x8000_0001, 0xFFFF_FFFF] {
            let back = exp2_q32(log2_q32(x));
            assert!(back.abs_diff(x) <= 1 + x / (1 << 28), "{x}: {back}");
        }
    }

    #[test]
    fn sine_and_cosine_follow_the_functions() {
        for centi in (-36_000..=36_000).step_by(37) {
            let (s, c) = sin_cos_q15(centi);
            let angle = f64::from(centi) / 100.0 * core::f64::consts::PI / 180.0;
            assert!(
                (f64::from(s) / 32768.0 - angle.sin()).abs() < 1e-4,
                "sin {centi}"
            );
            assert!(
                (f64::from(c) / 32768.0 - angle.cos()).abs() < 1e-4,
                "cos {centi}"
            );
        }
        assert_eq!(sin_cos_q15(0), (0, 32768));
        assert_eq!(sin_cos_q15(18_000), (0, -32768));
    }

    #[test]
    fn only_the_defaults_are_the_identity() {
        assert!(Adjust::IDENTITY.is_identity() && Adjust::default().is_identity());
        let changes = [
            Adjust {
                brightness: 751,
                ..Adjust::IDENTITY
            },
            Adjust {
                contrast: 99,
                ..Adjust::IDENTITY
            },
            Adjust {
                hue: 36_000,
                ..Adjust::IDENTITY
            },
            Adjust {
                saturation: 0,
                ..Adjust::IDENTITY
            },
            Adjust {
                gamma: 101,
                ..Adjust::IDENTITY
            },
        ];
        for adjust in changes {
            assert!(!adjust.is_identity(), "{adjust:?}");
        }
    }

    #[test]
    fn the_defaults_change_nothing_bit_for_bit() {
        // The general path at the defaults reduces to from_levels exactly (forced by a gamma of
        // 100 that is not recognised as the identity shortcut would be: compare term by term).
        let mut near = Adjust::IDENTITY;
        near.hue = 36_000; // a full turn: sin 0, cos 1, yet not the identity value
        for r in (0..=1000).step_by(50) {
            for g in (0..=1000).step_by(125) {
                for b in (0..=1000).step_by(250) {
                    let levels = Levels { r, g, b };
                    assert_eq!(near.colour(levels), Colour::from(levels), "{levels:?}");
                }
            }
        }
    }

    #[test]
    fn brightness_moves_luma_and_saturation_zero_greys_out() {
        let grey = Levels::grey(400);
        let base = Colour::from(grey);
        let brighter = Adjust {
            brightness: 1750,
            ..Adjust::IDENTITY
        }
        .colour(grey);
        // +10 IRE: +21.9 luma codes, chroma untouched.
        assert_eq!(i32::from(brighter.y) - i32::from(base.y), 22);
        assert_eq!((brighter.cb, brighter.cr), (base.cb, base.cr));
        let red = Levels { r: 750, g: 0, b: 0 };
        let grey_red = Adjust {
            saturation: 0,
            ..Adjust::IDENTITY
        }
        .colour(red);
        assert_eq!((grey_red.cb, grey_red.cr), (128, 128));
        assert!(grey_red.r == grey_red.g && grey_red.g == grey_red.b);
        // A half turn of hue swaps the signs of both colour differences.
        let turned = Adjust {
            hue: 18_000,
            ..Adjust::IDENTITY
        }
        .colour(red);
        let red = Colour::from(red);
        assert_eq!(i32::from(turned.cb) - 128, 128 - i32::from(red.cb));
        assert_eq!(i32::from(turned.cr) - 128, 128 - i32::from(red.cr));
    }
}
