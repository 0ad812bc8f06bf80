//! The camera's controls by name: the standard picture controls (`PROPSETID_VIDCAP_VIDEOPROCAMP`),
//! the flips (`PROPSETID_VIDCAP_VIDEOCONTROL`) and avcam's pattern set (`PROPSETID_AVCAM_PATTERN`),
//! each with the KS property that carries it and the text form of its values (pattern and
//! overlay names, `#RRGGBB` colours, `on`/`off`). Ranges and defaults are not here: the driver
//! answers them ([`crate::Camera::control_range`], a BASICSUPPORT query).

use ks::avcam::{
    AVCAM_OVERLAY_CAPTION, AVCAM_OVERLAY_DROP_COUNT, AVCAM_OVERLAY_FRAME_COUNTER,
    AVCAM_OVERLAY_MOVING_BOX, AVCAM_OVERLAY_NOISE, AVCAM_OVERLAY_TIME, AVCAM_PATTERN_BARS100,
    AVCAM_PATTERN_BARS75, AVCAM_PATTERN_CHECKERBOARD, AVCAM_PATTERN_RAMP, AVCAM_PATTERN_SOLID,
    AVCAM_PATTERN_ZONE_PLATE, KSPROPERTY_AVCAM_NOISE_SEED, KSPROPERTY_AVCAM_OVERLAYS,
    KSPROPERTY_AVCAM_PATTERN, KSPROPERTY_AVCAM_SOLID_COLOUR,
};
use ks::video::{
    KS_VideoControlFlag_FlipHorizontal, KS_VideoControlFlag_FlipVertical,
    KSPROPERTY_VIDEOPROCAMP_BRIGHTNESS, KSPROPERTY_VIDEOPROCAMP_CONTRAST,
    KSPROPERTY_VIDEOPROCAMP_GAMMA, KSPROPERTY_VIDEOPROCAMP_HUE,
    KSPROPERTY_VIDEOPROCAMP_POWERLINE_FREQUENCY, KSPROPERTY_VIDEOPROCAMP_SATURATION,
};

/// How a control travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A ProcAmp property (`KSPROPERTY_VIDEOPROCAMP_S`), by id.
    ProcAmp(u32),
    /// One flag of `KSPROPERTY_VIDEOCONTROL_MODE` (0 or 1), by `KS_VideoControlFlag_*`.
    VideoControl(u32),
    /// A `LONG`/`ULONG` of avcam's pattern set, by id.
    Pattern(u32),
}

/// How a control's values read and print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A signed integer.
    Integer,
    /// An unsigned integer.
    Unsigned,
    /// `on` / `off` (1 / 0).
    Switch,
    /// A pattern name ([`PATTERNS`]) or its number.
    Pattern,
    /// A list of overlay names ([`OVERLAYS`]), `all`, `none` or a mask.
    Overlays,
    /// `#RRGGBB` or `0xRRGGBB`.
    Colour,
}

/// One control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    /// The name the viewer takes (`--set NAME=VALUE`).
    pub name: &'static str,
    /// What it does, for listings.
    pub what: &'static str,
    /// Its KS property.
    pub access: Access,
    /// Its values' text form.
    pub kind: Kind,
}

/// Every control, in listing order.
pub const CONTROLS: [Control; 12] = [
    Control {
        name: "brightness",
        what: "ProcAmp brightness (IRE x 100)",
        access: Access::ProcAmp(KSPROPERTY_VIDEOPROCAMP_BRIGHTNESS),
        kind: Kind::Integer,
    },
    Control {
        name: "contrast",
        what: "ProcAmp contrast (gain x 100)",
        access: Access::ProcAmp(KSPROPERTY_VIDEOPROCAMP_CONTRAST),
        kind: Kind::Integer,
    },
    Control {
        name: "hue",
        what: "ProcAmp hue (degrees x 100)",
        access: Access::ProcAmp(KSPROPERTY_VIDEOPROCAMP_HUE),
        kind: Kind::Integer,
    },
    Control {
        name: "saturation",
        what: "ProcAmp saturation (gain x 100)",
        access: Access::ProcAmp(KSPROPERTY_VIDEOPROCAMP_SATURATION),
        kind: Kind::Integer,
    },
    Control {
        name: "gamma",
        what: "ProcAmp gamma (x 100)",
        access: Access::ProcAmp(KSPROPERTY_VIDEOPROCAMP_GAMMA),
        kind: Kind::Integer,
    },
    Control {
        name: "powerline",
        what: "ProcAmp power-line frequency (0 off, 1 50 Hz, 2 60 Hz, 3 auto)",
        access: Access::ProcAmp(KSPROPERTY_VIDEOPROCAMP_POWERLINE_FREQUENCY),
        kind: Kind::Integer,
    },
    Control {
        name: "hflip",
        what: "mirror left-right (VIDEOCONTROL FlipHorizontal)",
        access: Access::VideoControl(KS_VideoControlFlag_FlipHorizontal),
        kind: Kind::Switch,
    },
    Control {
        name: "vflip",
        what: "upside down (VIDEOCONTROL FlipVertical)",
        access: Access::VideoControl(KS_VideoControlFlag_FlipVertical),
        kind: Kind::Switch,
    },
    Control {
        name: "pattern",
        what: "the test pattern",
        access: Access::Pattern(KSPROPERTY_AVCAM_PATTERN),
        kind: Kind::Pattern,
    },
    Control {
        name: "overlays",
        what: "the overlays drawn over the pattern",
        access: Access::Pattern(KSPROPERTY_AVCAM_OVERLAYS),
        kind: Kind::Overlays,
    },
    Control {
        name: "solid-colour",
        what: "the solid pattern's colour",
        access: Access::Pattern(KSPROPERTY_AVCAM_SOLID_COLOUR),
        kind: Kind::Colour,
    },
    Control {
        name: "noise-seed",
        what: "the noise strip's seed",
        access: Access::Pattern(KSPROPERTY_AVCAM_NOISE_SEED),
        kind: Kind::Unsigned,
    },
];

/// The patterns: name and `AVCAM_PATTERN_*`.
pub const PATTERNS: [(&str, i32); 6] = [
    ("bars75", AVCAM_PATTERN_BARS75),
    ("bars100", AVCAM_PATTERN_BARS100),
    ("ramp", AVCAM_PATTERN_RAMP),
    ("checkerboard", AVCAM_PATTERN_CHECKERBOARD),
    ("solid", AVCAM_PATTERN_SOLID),
    ("zoneplate", AVCAM_PATTERN_ZONE_PLATE),
];

/// The overlays: name and `AVCAM_OVERLAY_*` bit.
pub const OVERLAYS: [(&str, u32); 6] = [
    ("counter", AVCAM_OVERLAY_FRAME_COUNTER),
    ("time", AVCAM_OVERLAY_TIME),
    ("drops", AVCAM_OVERLAY_DROP_COUNT),
    ("box", AVCAM_OVERLAY_MOVING_BOX),
    ("noise", AVCAM_OVERLAY_NOISE),
    ("caption", AVCAM_OVERLAY_CAPTION),
];

/// Every overlay bit.
pub const ALL_OVERLAYS: u32 = 0x3F;

/// The control called `name`.
pub fn control(name: &str) -> Option<&'static Control> {
    CONTROLS.iter().find(|c| c.name == name)
}

/// The names of every control, comma-separated (for error messages).
pub fn control_names() -> String {
    CONTROLS.map(|c| c.name).join(", ")
}

/// The pattern called `name`.
pub fn pattern(name: &str) -> Option<i32> {
    PATTERNS.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
}

/// The name of pattern `value`.
pub fn pattern_name(value: i32) -> Option<&'static str> {
    PATTERNS.iter().find(|&&(_, v)| v == value).map(|&(n, _)| n)
}

/// The names of every pattern, comma-separated.
pub fn pattern_names() -> String {
    PATTERNS.map(|(n, _)| n).join(", ")
}

/// The overlay mask of `list`: `all`, `none`, or names separated by commas.
pub fn overlay_mask(list: &str) -> Result<u32, String> {
    match list {
        "all" => return Ok(ALL_OVERLAYS),
        "none" | "" => return Ok(0),
        _ => {}
    }
    list.split(',').try_fold(0, |mask, name| {
        let name = name.trim();
        OVERLAYS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, bit)| mask | bit)
            .ok_or_else(|| {
                format!(
                    "unknown overlay {name:?}: choose from all, none, {}",
                    OVERLAYS.map(|(n, _)| n).join(", ")
                )
            })
    })
}

/// The names of the overlays in `mask` (`none` for none).
pub fn overlay_list(mask: u32) -> String {
    if mask == 0 {
        return "none".into();
    }
    OVERLAYS
        .iter()
        .filter(|&&(_, bit)| mask & bit != 0)
        .map(|&(n, _)| n)
        .collect::<Vec<_>>()
        .join(",")
}

/// A number in decimal, or hexadecimal after `0x`.
fn number(text: &str) -> Option<i64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

impl Control {
    /// Reads a value of this control from `text`; the error names the accepted forms.
    pub fn parse(&self, text: &str) -> Result<i64, String> {
        let bad = |forms: &str| format!("{}: {text:?} is not {forms}", self.name);
        match self.kind {
            Kind::Integer | Kind::Unsigned => number(text).ok_or_else(|| bad("a number")),
            Kind::Switch => match text {
                "on" | "1" | "true" => Ok(1),
                "off" | "0" | "false" => Ok(0),
                _ => Err(bad("on or off")),
            },
            Kind::Pattern => pattern(text)
                .map(i64::from)
                .or_else(|| number(text))
                .ok_or_else(|| bad(&format!("one of {}", pattern_names()))),
            Kind::Overlays => match number(text) {
                Some(mask) => Ok(mask),
                None => overlay_mask(text)
                    .map(i64::from)
                    .map_err(|e| format!("{}: {e}", self.name)),
            },
            Kind::Colour => text
                .strip_prefix('#')
                .and_then(|hex| i64::from_str_radix(hex, 16).ok())
                .or_else(|| number(text))
                .ok_or_else(|| bad("a colour #RRGGBB")),
        }
    }

    /// Prints `value` in this control's text form.
    pub fn format(&self, value: i64) -> String {
        match self.kind {
            Kind::Integer | Kind::Unsigned => value.to_string(),
            Kind::Switch => if value != 0 { "on" } else { "off" }.into(),
            Kind::Pattern => i32::try_from(value)
                .ok()
                .and_then(pattern_name)
                .map_or_else(|| value.to_string(), str::to_string),
            Kind::Overlays => overlay_list(value as u32),
            Kind::Colour => format!("#{value:06X}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_and_print_in_each_controls_form() {
        let pattern = control("pattern").unwrap();
        assert_eq!(pattern.parse("zoneplate"), Ok(5));
        assert_eq!(pattern.format(5), "zoneplate");
        assert!(pattern.parse("plaid").unwrap_err().contains("bars75"));
        let overlays = control("overlays").unwrap();
        assert_eq!(overlays.parse("counter,box"), Ok(0x09));
        assert_eq!(overlays.parse("none"), Ok(0));
        assert_eq!(overlays.format(0x09), "counter,box");
        assert!(overlays.parse("tartan").unwrap_err().contains("caption"));
        let colour = control("solid-colour").unwrap();
        assert_eq!(colour.parse("#FF8000"), Ok(0xFF8000));
        assert_eq!(colour.format(0xFF8000), "#FF8000");
        assert_eq!(control("hflip").unwrap().parse("on"), Ok(1));
        assert_eq!(control("brightness").unwrap().parse("-250"), Ok(-250));
        assert!(control("sharpness").is_none());
        assert!(control_names().starts_with("brightness, contrast"));
    }
}
