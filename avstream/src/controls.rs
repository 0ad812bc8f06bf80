//! The camera's controls as clients set them: the standard ProcAmp values
//! (`PROPSETID_VIDCAP_VIDEOPROCAMP`), the video-control mode (`PROPSETID_VIDCAP_VIDEOCONTROL`:
//! the flips) and avcam's pattern set (`PROPSETID_AVCAM_PATTERN`), with the range, step and
//! default of each (what ks.sys answers to basic-support queries from the driver's tables), and
//! the one check every SET goes through: out of range or off the step, the value is refused
//! ([`Error::OutOfRange`], STATUS_INVALID_PARAMETER) and nothing changes.
//!
//! The ProcAmp ranges and defaults are the ones the KSPROPERTY_VIDEOPROCAMP_* pages require of
//! every video capture minidriver (learn.microsoft.com): brightness -10000..=10000 (IRE x 100,
//! default 750), contrast 0..=10000 (gain x 100, default 100), hue -18000..=18000 (degrees x 100,
//! default 0), saturation 0..=10000 (gain x 100, default 100), gamma 1..=500 (gamma x 100; the
//! page's "typically 100 or 220": 100, the picture is already gamma-encoded), power-line
//! frequency 0..=3 (disabled, 50 Hz, 60 Hz, auto; default disabled; accepted, no effect).
//!
//! [`Controls`] is what a device keeps; [`Controls::synth_config`] is what a pin renders with.

use ks::avcam::AVCAM_CAPTION_BYTES;
use ks::video::{KS_VideoControlFlag_FlipHorizontal, KS_VideoControlFlag_FlipVertical};

use crate::error::Error;
use crate::synth::{
    Adjust, Caption, Flip, Overlays, Pattern, SynthConfig, DEFAULT_SEED, DEFAULT_SOLID,
};

/// The range, step and default of a value (as a `KSPROPERTY_STEPPING_LONG` and a default
/// member). Unsigned (`ULONG`) values are kept as their bit patterns in `i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueRange {
    /// The smallest value.
    pub min: i64,
    /// The largest value.
    pub max: i64,
    /// The step between valid values (from `min`).
    pub step: u32,
    /// The default.
    pub default: i64,
}

impl ValueRange {
    /// A range of step 1.
    pub const fn new(min: i64, max: i64, default: i64) -> ValueRange {
        ValueRange {
            min,
            max,
            step: 1,
            default,
        }
    }

    /// `value` if it lies in the range on a step, else [`Error::OutOfRange`].
    pub const fn check(&self, value: i64) -> Result<i64, Error> {
        if value < self.min || value > self.max || (value - self.min) % self.step as i64 != 0 {
            return Err(Error::OutOfRange {
                value,
                min: self.min,
                max: self.max,
            });
        }
        Ok(value)
    }
}

/// A `PROPSETID_VIDCAP_VIDEOPROCAMP` property avcam answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcAmp {
    /// `KSPROPERTY_VIDEOPROCAMP_BRIGHTNESS`.
    Brightness,
    /// `KSPROPERTY_VIDEOPROCAMP_CONTRAST`.
    Contrast,
    /// `KSPROPERTY_VIDEOPROCAMP_HUE`.
    Hue,
    /// `KSPROPERTY_VIDEOPROCAMP_SATURATION`.
    Saturation,
    /// `KSPROPERTY_VIDEOPROCAMP_GAMMA`.
    Gamma,
    /// `KSPROPERTY_VIDEOPROCAMP_POWERLINE_FREQUENCY`.
    PowerlineFrequency,
}

impl ProcAmp {
    /// Every ProcAmp property avcam answers.
    pub const ALL: [ProcAmp; 6] = [
        ProcAmp::Brightness,
        ProcAmp::Contrast,
        ProcAmp::Hue,
        ProcAmp::Saturation,
        ProcAmp::Gamma,
        ProcAmp::PowerlineFrequency,
    ];

    /// The property id (`KSPROPERTY_VIDEOPROCAMP_*`).
    pub const fn id(self) -> u32 {
        use ks::video::*;
        match self {
            ProcAmp::Brightness => KSPROPERTY_VIDEOPROCAMP_BRIGHTNESS,
            ProcAmp::Contrast => KSPROPERTY_VIDEOPROCAMP_CONTRAST,
            ProcAmp::Hue => KSPROPERTY_VIDEOPROCAMP_HUE,
            ProcAmp::Saturation => KSPROPERTY_VIDEOPROCAMP_SATURATION,
            ProcAmp::Gamma => KSPROPERTY_VIDEOPROCAMP_GAMMA,
            ProcAmp::PowerlineFrequency => KSPROPERTY_VIDEOPROCAMP_POWERLINE_FREQUENCY,
        }
    }

    /// The property of a `KSPROPERTY_VIDEOPROCAMP_*` id, if avcam answers it.
    pub fn from_id(id: u32) -> Option<ProcAmp> {
        ProcAmp::ALL.into_iter().find(|p| p.id() == id)
    }

    /// Its range, step and default (see the module docs).
    pub const fn range(self) -> ValueRange {
        match self {
            ProcAmp::Brightness => ValueRange::new(-10_000, 10_000, 750),
            ProcAmp::Contrast => ValueRange::new(0, 10_000, 100),
            ProcAmp::Hue => ValueRange::new(-18_000, 18_000, 0),
            ProcAmp::Saturation => ValueRange::new(0, 10_000, 100),
            ProcAmp::Gamma => ValueRange::new(1, 500, 100),
            ProcAmp::PowerlineFrequency => ValueRange::new(0, 3, 0),
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// The flips a stream supports (`KSPROPERTY_VIDEOCONTROL_CAPS`): both.
pub const VIDEO_CONTROL_CAPS: u32 =
    KS_VideoControlFlag_FlipHorizontal | KS_VideoControlFlag_FlipVertical;

/// `KSPROPERTY_AVCAM_PATTERN`'s range: `AVCAM_PATTERN_BARS75..=AVCAM_PATTERN_ZONE_PLATE`.
pub const PATTERN_RANGE: ValueRange = ValueRange::new(0, 5, 0);
/// `KSPROPERTY_AVCAM_OVERLAYS`'s range: any mask of the six overlays, all by default.
pub const OVERLAYS_RANGE: ValueRange = ValueRange::new(0, 0x3F, 0x3F);
/// `KSPROPERTY_AVCAM_SOLID_COLOUR`'s range: `0x00RRGGBB`, mid grey by default.
pub const SOLID_COLOUR_RANGE: ValueRange = ValueRange::new(0, 0x00FF_FFFF, DEFAULT_SOLID as i64);
/// `KSPROPERTY_AVCAM_NOISE_SEED`'s range: any `ULONG`.
pub const NOISE_SEED_RANGE: ValueRange = ValueRange::new(0, u32::MAX as i64, DEFAULT_SEED as i64);

/// Every control of one device (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Controls {
    procamp: [i32; 6],
    flip: Flip,
    pattern: Pattern,
    overlays: Overlays,
    solid: u32,
    seed: u32,
    caption: Caption,
}

impl Default for Controls {
    fn default() -> Self {
        Controls::DEFAULT
    }
}

impl Controls {
    /// Every control at its default.
    pub const DEFAULT: Controls = Controls {
        procamp: [
            ProcAmp::Brightness.range().default as i32,
            ProcAmp::Contrast.range().default as i32,
            ProcAmp::Hue.range().default as i32,
            ProcAmp::Saturation.range().default as i32,
            ProcAmp::Gamma.range().default as i32,
            ProcAmp::PowerlineFrequency.range().default as i32,
        ],
        flip: Flip {
            horizontal: false,
            vertical: false,
        },
        pattern: Pattern::Bars75,
        overlays: Overlays::ALL,
        solid: DEFAULT_SOLID,
        seed: DEFAULT_SEED,
        caption: Caption::EMPTY,
    };

    /// A ProcAmp value.
    pub const fn procamp(&self, property: ProcAmp) -> i32 {
        self.procamp[property.index()]
    }

    /// Sets a ProcAmp value (checked against its range).
    pub fn set_procamp(&mut self, property: ProcAmp, value: i32) -> Result<(), Error> {
        property.range().check(i64::from(value))?;
        self.procamp[property.index()] = value;
        Ok(())
    }

    /// The video-control mode: the `KS_VideoControlFlag_*` flips in effect.
    pub const fn video_mode(&self) -> u32 {
        let mut mode = 0;
        if self.flip.horizontal {
            mode |= KS_VideoControlFlag_FlipHorizontal;
        }
        if self.flip.vertical {
            mode |= KS_VideoControlFlag_FlipVertical;
        }
        mode
    }

    /// Sets the video-control mode: only flags of [`VIDEO_CONTROL_CAPS`], else
    /// [`Error::InvalidValue`].
    pub fn set_video_mode(&mut self, mode: i32) -> Result<(), Error> {
        let mode = mode as u32;
        if mode & !VIDEO_CONTROL_CAPS != 0 {
            return Err(Error::InvalidValue(
                "video-control mode flags the stream lacks",
            ));
        }
        self.flip = Flip {
            horizontal: mode & KS_VideoControlFlag_FlipHorizontal != 0,
            vertical: mode & KS_VideoControlFlag_FlipVertical != 0,
        };
        Ok(())
    }

    /// The pattern (`AVCAM_PATTERN_*`).
    pub const fn pattern(&self) -> i32 {
        self.pattern.value()
    }

    /// Sets the pattern.
    pub fn set_pattern(&mut self, value: i32) -> Result<(), Error> {
        PATTERN_RANGE.check(i64::from(value))?;
        self.pattern = Pattern::from_value(value).ok_or(Error::OutOfRange {
            value: i64::from(value),
            min: PATTERN_RANGE.min,
            max: PATTERN_RANGE.max,
        })?;
        Ok(())
    }

    /// The overlay mask (`AVCAM_OVERLAY_*`).
    pub const fn overlays(&self) -> u32 {
        self.overlays.bits()
    }

    /// Sets the overlay mask.
    pub fn set_overlays(&mut self, mask: u32) -> Result<(), Error> {
        OVERLAYS_RANGE.check(i64::from(mask))?;
        self.overlays = Overlays::from_bits(mask).ok_or(Error::InvalidValue("overlay bits"))?;
        Ok(())
    }

    /// The solid pattern's colour, `0x00RRGGBB`.
    pub const fn solid_colour(&self) -> u32 {
        self.solid
    }

    /// Sets the solid pattern's colour.
    pub fn set_solid_colour(&mut self, rgb: u32) -> Result<(), Error> {
        SOLID_COLOUR_RANGE.check(i64::from(rgb))?;
        self.solid = rgb;
        Ok(())
    }

    /// The noise seed.
    pub const fn noise_seed(&self) -> u32 {
        self.seed
    }

    /// Sets the noise seed (any value).
    pub fn set_noise_seed(&mut self, seed: u32) {
        self.seed = seed;
    }

    /// The caption as an `AVCAM_CAPTION`'s bytes (NUL-padded).
    pub fn caption_bytes(&self) -> [u8; AVCAM_CAPTION_BYTES] {
        let mut bytes = [0u8; AVCAM_CAPTION_BYTES];
        let text = self.caption.as_bytes();
        bytes[..text.len()].copy_from_slice(text);
        bytes
    }

    /// Sets the caption from an `AVCAM_CAPTION`: the text up to its NUL, which must come within
    /// the 32 bytes and be preceded by printable ASCII only, else [`Error::InvalidValue`].
    pub fn set_caption(&mut self, bytes: &[u8; AVCAM_CAPTION_BYTES]) -> Result<(), Error> {
        let end = bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or(Error::InvalidValue("caption without its NUL"))?;
        self.caption =
            Caption::new(&bytes[..end]).ok_or(Error::InvalidValue("caption characters"))?;
        Ok(())
    }

    /// What a pin renders with (ordinary stores; the pin chooses them per render).
    pub fn synth_config(&self) -> SynthConfig {
        SynthConfig {
            pattern: self.pattern,
            overlays: self.overlays,
            seed: u64::from(self.seed),
            solid: self.solid,
            caption: self.caption,
            adjust: Adjust {
                brightness: self.procamp(ProcAmp::Brightness),
                contrast: self.procamp(ProcAmp::Contrast),
                hue: self.procamp(ProcAmp::Hue),
                saturation: self.procamp(ProcAmp::Saturation),
                gamma: self.procamp(ProcAmp::Gamma),
            },
            flip: self.flip,
            streaming_stores: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ks::avcam::{
        AVCAM_OVERLAY_NOISE, AVCAM_OVERLAY_TIME, AVCAM_PATTERN_BARS100, AVCAM_PATTERN_BARS75,
        AVCAM_PATTERN_CHECKERBOARD, AVCAM_PATTERN_RAMP, AVCAM_PATTERN_SOLID,
        AVCAM_PATTERN_ZONE_PLATE,
    };

    #[test]
    fn the_defaults_are_the_documented_ones_and_render_the_default_picture() {
        let controls = Controls::default();
        assert_eq!(controls.procamp(ProcAmp::Brightness), 750);
        assert_eq!(controls.procamp(ProcAmp::Contrast), 100);
        assert_eq!(controls.procamp(ProcAmp::Gamma), 100);
        assert_eq!(controls.synth_config(), SynthConfig::default());
        assert_eq!(controls.video_mode(), 0);
        assert_eq!(controls.caption_bytes(), [0u8; 32]);
        for (i, property) in ProcAmp::ALL.into_iter().enumerate() {
            assert_eq!(property.index(), i, "ALL is in index order");
        }
    }

    #[test]
    fn out_of_range_values_are_refused_and_change_nothing() {
        let mut controls = Controls::default();
        for property in ProcAmp::ALL {
            let range = property.range();
            for bad in [range.min - 1, range.max + 1] {
                assert_eq!(
                    controls.set_procamp(property, bad as i32),
                    Err(Error::OutOfRange {
                        value: bad,
                        min: range.min,
                        max: range.max
                    })
                );
            }
            controls.set_procamp(property, range.max as i32).unwrap();
            assert_eq!(controls.procamp(property), range.max as i32);
        }
        let before = controls;
        assert!(controls.set_pattern(6).is_err());
        assert!(controls.set_overlays(0x40).is_err());
        assert!(controls.set_solid_colour(0x0100_0000).is_err());
        assert!(controls.set_video_mode(4).is_err());
        assert!(controls.set_caption(&[b'x'; 32]).is_err(), "no NUL");
        let mut tab = [0u8; 32];
        tab[..3].copy_from_slice(b"a\tb");
        assert!(controls.set_caption(&tab).is_err());
        assert_eq!(controls, before);
        let mut caption = [0u8; 32];
        caption[..5].copy_from_slice(b"cam 2");
        caption[10] = b'!'; // after the NUL: ignored
        controls.set_caption(&caption).unwrap();
        assert_eq!(&controls.caption_bytes()[..6], b"cam 2\0");
        controls.set_video_mode(3).unwrap();
        assert_eq!(
            controls.synth_config().flip,
            Flip {
                horizontal: true,
                vertical: true
            }
        );
        assert_eq!(ProcAmp::from_id(13), Some(ProcAmp::PowerlineFrequency));
        assert_eq!(ProcAmp::from_id(4), None, "sharpness is not offered");
    }

    #[test]
    fn procamp_ranges_are_the_ks_pages_and_take_both_ends_and_the_default() {
        // (min, max, default) from the KSPROPERTY_VIDEOPROCAMP_* pages (see the module docs).
        let documented = [
            (ProcAmp::Brightness, -10_000, 10_000, 750),
            (ProcAmp::Contrast, 0, 10_000, 100),
            (ProcAmp::Hue, -18_000, 18_000, 0),
            (ProcAmp::Saturation, 0, 10_000, 100),
            (ProcAmp::Gamma, 1, 500, 100),
            (ProcAmp::PowerlineFrequency, 0, 3, 0),
        ];
        for (property, min, max, default) in documented {
            let range = property.range();
            assert_eq!(
                (range.min, range.max, range.step, range.default),
                (min, max, 1, default),
                "{property:?}"
            );
            let mut controls = Controls::default();
            assert_eq!(controls.procamp(property), default as i32, "{property:?}");
            for value in [min, max, default] {
                controls.set_procamp(property, value as i32).unwrap();
                assert_eq!(controls.procamp(property), value as i32, "{property:?}");
            }
        }
    }

    #[test]
    fn values_off_the_step_are_refused() {
        let odd = ValueRange {
            min: 1,
            max: 10,
            step: 3,
            default: 1,
        };
        let accepted: std::vec::Vec<i64> = (-2..=13).filter(|&v| odd.check(v).is_ok()).collect();
        assert_eq!(accepted, [1, 4, 7, 10]);
        assert_eq!(
            odd.check(5),
            Err(Error::OutOfRange {
                value: 5,
                min: 1,
                max: 10
            })
        );
        let negative = ValueRange {
            min: -10,
            max: 10,
            step: 4,
            default: -2,
        };
        let accepted: std::vec::Vec<i64> =
            (-12..=12).filter(|&v| negative.check(v).is_ok()).collect();
        assert_eq!(accepted, [-10, -6, -2, 2, 6, 10]);
    }

    #[test]
    fn each_control_reads_back_what_was_set() {
        let mut controls = Controls::default();
        // KS_VideoControlFlag_FlipHorizontal is 1, FlipVertical 2 (ksmedia.h).
        for (mode, horizontal, vertical) in [
            (1, true, false),
            (2, false, true),
            (3, true, true),
            (0, false, false),
        ] {
            controls.set_video_mode(mode).unwrap();
            assert_eq!(controls.video_mode(), mode as u32);
            assert_eq!(
                controls.synth_config().flip,
                Flip {
                    horizontal,
                    vertical
                },
                "mode {mode}"
            );
        }
        assert_eq!(VIDEO_CONTROL_CAPS, 3, "both flips offered");
        assert_eq!(controls.pattern(), AVCAM_PATTERN_BARS75, "the default");
        for pattern in [
            AVCAM_PATTERN_BARS100,
            AVCAM_PATTERN_RAMP,
            AVCAM_PATTERN_CHECKERBOARD,
            AVCAM_PATTERN_SOLID,
            AVCAM_PATTERN_ZONE_PLATE,
            AVCAM_PATTERN_BARS75,
        ] {
            controls.set_pattern(pattern).unwrap();
            assert_eq!(controls.pattern(), pattern);
            assert_eq!(controls.synth_config().pattern.value(), pattern);
        }
        assert!(controls.set_pattern(-1).is_err());
        assert_eq!(controls.overlays(), 0x3F, "all six by default");
        for mask in [0, AVCAM_OVERLAY_TIME | AVCAM_OVERLAY_NOISE, 0x3F] {
            controls.set_overlays(mask).unwrap();
            assert_eq!(controls.overlays(), mask);
        }
        assert_eq!(controls.solid_colour(), 0x0080_8080, "mid grey by default");
        for rgb in [0x00FF_FFFF, 0, 0x0012_3456] {
            controls.set_solid_colour(rgb).unwrap();
            assert_eq!(controls.solid_colour(), rgb);
            assert_eq!(controls.synth_config().solid, rgb);
        }
        assert_eq!(controls.noise_seed(), DEFAULT_SEED);
        for seed in [0, u32::MAX, 0x1234_5678] {
            controls.set_noise_seed(seed);
            assert_eq!(controls.noise_seed(), seed);
            assert_eq!(controls.synth_config().seed, u64::from(seed));
        }
    }
}
