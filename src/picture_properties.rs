//! The picture's property sets on the filter: the standard `PROPSETID_VIDCAP_VIDEOPROCAMP`
//! (brightness, contrast, hue, saturation, gamma, power-line frequency), the standard
//! `PROPSETID_VIDCAP_VIDEOCONTROL` (CAPS and MODE: the flips) and avcam's
//! `PROPSETID_AVCAM_PATTERN` (pattern, overlays, solid colour, noise seed, caption).
//!
//! Each ranged item declares its range and default as `KSPROPERTY_VALUES` (ks.sys answers
//! basic-support queries from them; the handlers never see those), and has a GET and a SET
//! handler over the device's values ([`crate::device_state`]): a SET out of range answers
//! STATUS_INVALID_PARAMETER and changes nothing; one in range reaches every pin at its next
//! frame. The ranges and checks themselves are the camera core's (`avstream::controls`).

use avstream::controls::{
    ProcAmp, NOISE_SEED_RANGE, OVERLAYS_RANGE, PATTERN_RANGE, SOLID_COLOUR_RANGE,
    VIDEO_CONTROL_CAPS,
};
use avstream::Error;
use ks::avcam::{
    AVCAM_CAPTION, KSPROPERTY_AVCAM_CAPTION, KSPROPERTY_AVCAM_NOISE_SEED,
    KSPROPERTY_AVCAM_OVERLAYS, KSPROPERTY_AVCAM_PATTERN, KSPROPERTY_AVCAM_SOLID_COLOUR,
};
use ks::avstream::KSPROPERTY_ITEM;
use ks::ks::{KSIDENTIFIER, KSPROPERTY_VALUES, VT_I4, VT_LPSTR, VT_UI4};
use ks::video::{
    KSPROPERTY_VIDEOCONTROL_CAPS, KSPROPERTY_VIDEOCONTROL_CAPS_S, KSPROPERTY_VIDEOCONTROL_MODE,
    KSPROPERTY_VIDEOCONTROL_MODE_S, KSPROPERTY_VIDEOPROCAMP_FLAGS_AUTO,
    KSPROPERTY_VIDEOPROCAMP_FLAGS_MANUAL, KSPROPERTY_VIDEOPROCAMP_S,
};

use crate::error::DriverError;
use crate::filter::CAPTURE_PIN_ID;
use crate::property::{handler, item, item_values, size, Call};
use crate::ranges::Shared;

// --- PROPSETID_VIDCAP_VIDEOPROCAMP ---

/// The ProcAmp property a request names.
fn procamp(call: &Call) -> Result<ProcAmp, DriverError> {
    ProcAmp::from_id(call.id()).ok_or(DriverError::UnknownProperty)
}

handler! {
    /// GET of a ProcAmp property: the request's `KSPROPERTY_VIDEOPROCAMP_S` back with `Value`,
    /// `Flags` and `Capabilities` (manual only).
    procamp_get(KSPROPERTY_VIDEOPROCAMP_S, KSPROPERTY_VIDEOPROCAMP_S) => |call: &Call| {
        let property = procamp(call)?;
        let mut answer: KSPROPERTY_VIDEOPROCAMP_S = call.request()?;
        answer.Value = call.device()?.settings().controls.procamp(property);
        answer.Flags = KSPROPERTY_VIDEOPROCAMP_FLAGS_MANUAL;
        answer.Capabilities = KSPROPERTY_VIDEOPROCAMP_FLAGS_MANUAL;
        call.write(answer)
    }
}

handler! {
    /// SET of a ProcAmp property: `Value` of the `KSPROPERTY_VIDEOPROCAMP_S` in the value
    /// buffer, checked against the range; automatic mode is not offered.
    procamp_set(KSPROPERTY_VIDEOPROCAMP_S, KSPROPERTY_VIDEOPROCAMP_S) => |call: &Call| {
        let property = procamp(call)?;
        let value: KSPROPERTY_VIDEOPROCAMP_S = call.value()?;
        if value.Flags & KSPROPERTY_VIDEOPROCAMP_FLAGS_AUTO != 0 {
            return Err(Error::InvalidValue("automatic mode is not offered").into());
        }
        call.device()?
            .change(|s| s.controls.set_procamp(property, value.Value))?;
        Ok(0)
    }
}

item_values!(brightness, ProcAmp::Brightness.range(), VT_I4);
item_values!(contrast, ProcAmp::Contrast.range(), VT_I4);
item_values!(hue, ProcAmp::Hue.range(), VT_I4);
item_values!(saturation, ProcAmp::Saturation.range(), VT_I4);
item_values!(gamma, ProcAmp::Gamma.range(), VT_I4);
item_values!(powerline, ProcAmp::PowerlineFrequency.range(), VT_I4);

/// A ProcAmp item (request and value: a `KSPROPERTY_VIDEOPROCAMP_S`, as avscamera declares
/// them).
const fn procamp_item(property: ProcAmp, values: *const KSPROPERTY_VALUES) -> KSPROPERTY_ITEM {
    let s = size::<KSPROPERTY_VIDEOPROCAMP_S>();
    item(
        property.id(),
        Some(procamp_get),
        Some(procamp_set),
        s,
        s,
        values,
    )
}

/// The ProcAmp items.
pub static PROCAMP_ITEMS: Shared<[KSPROPERTY_ITEM; 6]> = Shared([
    procamp_item(ProcAmp::Brightness, &raw const brightness::VALUES.0),
    procamp_item(ProcAmp::Contrast, &raw const contrast::VALUES.0),
    procamp_item(ProcAmp::Hue, &raw const hue::VALUES.0),
    procamp_item(ProcAmp::Saturation, &raw const saturation::VALUES.0),
    procamp_item(ProcAmp::Gamma, &raw const gamma::VALUES.0),
    procamp_item(ProcAmp::PowerlineFrequency, &raw const powerline::VALUES.0),
]);

// --- PROPSETID_VIDCAP_VIDEOCONTROL ---

/// Checks a request's `StreamIndex`: the capture pin's id, else STATUS_INVALID_PARAMETER.
fn stream(index: u32) -> Result<(), DriverError> {
    if index == CAPTURE_PIN_ID {
        Ok(())
    } else {
        Err(Error::InvalidValue("no such stream").into())
    }
}

handler! {
    /// GET `KSPROPERTY_VIDEOCONTROL_CAPS`: both flips.
    video_caps_get(KSPROPERTY_VIDEOCONTROL_CAPS_S, KSPROPERTY_VIDEOCONTROL_CAPS_S) =>
        |call: &Call| {
            let mut caps: KSPROPERTY_VIDEOCONTROL_CAPS_S = call.request()?;
            stream(caps.StreamIndex)?;
            call.device()?;
            caps.VideoControlCaps = VIDEO_CONTROL_CAPS;
            call.write(caps)
        }
}

handler! {
    /// GET `KSPROPERTY_VIDEOCONTROL_MODE`: the flips in effect.
    video_mode_get(KSPROPERTY_VIDEOCONTROL_MODE_S, KSPROPERTY_VIDEOCONTROL_MODE_S) =>
        |call: &Call| {
            let mut mode: KSPROPERTY_VIDEOCONTROL_MODE_S = call.request()?;
            stream(mode.StreamIndex)?;
            mode.Mode = call.device()?.settings().controls.video_mode() as i32;
            call.write(mode)
        }
}

handler! {
    /// SET `KSPROPERTY_VIDEOCONTROL_MODE`: `Mode` of the value buffer, flags of
    /// `KSPROPERTY_VIDEOCONTROL_CAPS` only.
    video_mode_set(KSPROPERTY_VIDEOCONTROL_MODE_S, KSPROPERTY_VIDEOCONTROL_MODE_S) =>
        |call: &Call| {
            let target: KSPROPERTY_VIDEOCONTROL_MODE_S = call.request()?;
            stream(target.StreamIndex)?;
            let value: KSPROPERTY_VIDEOCONTROL_MODE_S = call.value()?;
            call.device()?
                .change(|s| s.controls.set_video_mode(value.Mode))?;
            Ok(0)
        }
}

/// The VIDEOCONTROL items (structure-valued: no `Values`).
pub static VIDEO_CONTROL_ITEMS: Shared<[KSPROPERTY_ITEM; 2]> = Shared([
    item(
        KSPROPERTY_VIDEOCONTROL_CAPS,
        Some(video_caps_get),
        None,
        size::<KSPROPERTY_VIDEOCONTROL_CAPS_S>(),
        size::<KSPROPERTY_VIDEOCONTROL_CAPS_S>(),
        core::ptr::null(),
    ),
    item(
        KSPROPERTY_VIDEOCONTROL_MODE,
        Some(video_mode_get),
        Some(video_mode_set),
        size::<KSPROPERTY_VIDEOCONTROL_MODE_S>(),
        size::<KSPROPERTY_VIDEOCONTROL_MODE_S>(),
        core::ptr::null(),
    ),
]);

// --- PROPSETID_AVCAM_PATTERN ---

handler! {
    /// GET of a one-word property of the pattern set (a `LONG` or `ULONG`).
    word_get(KSIDENTIFIER, u32) => |call: &Call| {
        let controls = call.device()?.settings().controls;
        call.write(match call.id() {
            KSPROPERTY_AVCAM_PATTERN => controls.pattern() as u32,
            KSPROPERTY_AVCAM_OVERLAYS => controls.overlays(),
            KSPROPERTY_AVCAM_SOLID_COLOUR => controls.solid_colour(),
            KSPROPERTY_AVCAM_NOISE_SEED => controls.noise_seed(),
            _ => return Err(DriverError::UnknownProperty),
        })
    }
}

handler! {
    /// SET of a one-word property of the pattern set, checked against its range.
    word_set(KSIDENTIFIER, u32) => |call: &Call| {
        let id = call.id();
        let word: u32 = call.value()?;
        let device = call.device()?;
        match id {
            KSPROPERTY_AVCAM_PATTERN => device.change(|s| s.controls.set_pattern(word as i32))?,
            KSPROPERTY_AVCAM_OVERLAYS => device.change(|s| s.controls.set_overlays(word))?,
            KSPROPERTY_AVCAM_SOLID_COLOUR => {
                device.change(|s| s.controls.set_solid_colour(word))?
            }
            KSPROPERTY_AVCAM_NOISE_SEED => device.change(|s| {
                s.controls.set_noise_seed(word);
                Ok::<(), DriverError>(())
            })?,
            _ => return Err(DriverError::UnknownProperty),
        }
        Ok(0)
    }
}

handler! {
    /// GET `KSPROPERTY_AVCAM_CAPTION`: the caption, NUL-terminated.
    caption_get(KSIDENTIFIER, AVCAM_CAPTION) => |call: &Call| {
        let text = call.device()?.settings().controls.caption_bytes();
        call.write(AVCAM_CAPTION { Text: text })
    }
}

handler! {
    /// SET `KSPROPERTY_AVCAM_CAPTION`: printable ASCII up to 31 characters and a NUL.
    caption_set(KSIDENTIFIER, AVCAM_CAPTION) => |call: &Call| {
        let caption: AVCAM_CAPTION = call.value()?;
        call.device()?
            .change(|s| s.controls.set_caption(&caption.Text))?;
        Ok(0)
    }
}

item_values!(pattern, PATTERN_RANGE, VT_I4);
item_values!(overlays, OVERLAYS_RANGE, VT_UI4);
item_values!(solid_colour, SOLID_COLOUR_RANGE, VT_UI4);
item_values!(noise_seed, NOISE_SEED_RANGE, VT_UI4);

/// The caption's type: an ANSI string, no ranges.
static CAPTION_VALUES: Shared<KSPROPERTY_VALUES> =
    Shared(crate::property::values(VT_LPSTR, core::ptr::null(), 0));

/// A one-word item of the pattern set: a bare KSPROPERTY request, a 4-byte value.
const fn word_item(id: u32, values: *const KSPROPERTY_VALUES) -> KSPROPERTY_ITEM {
    item(
        id,
        Some(word_get),
        Some(word_set),
        size::<KSIDENTIFIER>(),
        size::<u32>(),
        values,
    )
}

/// The pattern set's items.
pub static PATTERN_ITEMS: Shared<[KSPROPERTY_ITEM; 5]> = Shared([
    word_item(KSPROPERTY_AVCAM_PATTERN, &raw const pattern::VALUES.0),
    word_item(KSPROPERTY_AVCAM_OVERLAYS, &raw const overlays::VALUES.0),
    word_item(
        KSPROPERTY_AVCAM_SOLID_COLOUR,
        &raw const solid_colour::VALUES.0,
    ),
    word_item(KSPROPERTY_AVCAM_NOISE_SEED, &raw const noise_seed::VALUES.0),
    item(
        KSPROPERTY_AVCAM_CAPTION,
        Some(caption_get),
        Some(caption_set),
        size::<KSIDENTIFIER>(),
        size::<AVCAM_CAPTION>(),
        &raw const CAPTION_VALUES.0,
    ),
]);
