//! The filter's control and fault-injection properties ([`Camera`] methods): ProcAmp,
//! VIDEOCONTROL, avcam's pattern set and fault set, and the BASICSUPPORT queries that tell
//! their ranges and defaults. Every value is the device's: a SET on one filter instance is seen
//! by every other and by every pin at its next frame.

use ks::avcam::{
    AVCAM_CAPTION, AVCAM_CAPTION_BYTES, AVCAM_FAULT_COUNTERS, AVCAM_FAULT_FAIL, AVCAM_FAULT_PLAN,
    KSPROPERTY_AVCAM_CAPTION, KSPROPERTY_AVCAM_FAULTS_COUNTERS, KSPROPERTY_AVCAM_FAULTS_ENABLED,
    KSPROPERTY_AVCAM_FAULTS_FAIL, KSPROPERTY_AVCAM_FAULTS_PLAN, KSPROPERTY_AVCAM_FAULTS_STALL,
    PROPSETID_AVCAM_FAULTS, PROPSETID_AVCAM_PATTERN,
};
use ks::ks::{
    IOCTL_KS_PROPERTY, KSPROPERTY_TYPE_BASICSUPPORT, KSPROPERTY_TYPE_GET, KSPROPERTY_TYPE_SET,
};
use ks::video::{
    KSPROPERTY_VIDEOCONTROL_CAPS_S, KSPROPERTY_VIDEOCONTROL_MODE_S, KSPROPERTY_VIDEOPROCAMP_S,
    PROPSETID_VIDCAP_VIDEOPROCAMP,
};
use ks::GUID;
use zerocopy::{FromBytes, IntoBytes};

use crate::controls::{Access, Control, Kind};
use crate::request::{self, PropertyDescription};
use crate::{get_sized, Camera, ClientError, Result, Transport};

/// The capture pin's factory id: the stream VIDEOCONTROL requests name.
pub const CAPTURE_STREAM: u32 = 0;

/// A control's range and default, as the driver declares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlRange {
    /// The smallest value.
    pub min: i64,
    /// The largest value.
    pub max: i64,
    /// The step between valid values.
    pub step: u32,
    /// The default.
    pub default: i64,
}

impl ControlRange {
    /// Whether `value` is in the range (on a step).
    pub fn contains(&self, value: i64) -> bool {
        (self.min..=self.max).contains(&value)
            && (self.step <= 1 || (value - self.min) % i64::from(self.step) == 0)
    }
}

impl<T: Transport> Camera<'_, T> {
    /// One fixed-size request on the filter: `input` the request, `data` the value buffer (the
    /// value of a SET, room for the answer of a GET); the bytes the driver wrote.
    fn exchange(&self, what: &'static str, input: &[u8], data: &mut [u8]) -> Result<usize> {
        let reply = self
            .kernel
            .ioctl(self.filter, IOCTL_KS_PROPERTY, input, data);
        reply.status.check(what)?;
        Ok(reply.information)
    }

    /// A GET of a `V` (the request a bare `KSPROPERTY`).
    fn get_value<V: FromBytes + IntoBytes>(
        &self,
        what: &'static str,
        set: GUID,
        id: u32,
    ) -> Result<V> {
        let mut value = V::new_zeroed();
        let input = request::property(set, id, KSPROPERTY_TYPE_GET);
        let written = self.exchange(what, &input, value.as_mut_bytes())?;
        if written != size_of::<V>() {
            return Err(ClientError::Malformed(what));
        }
        Ok(value)
    }

    /// A SET of a `V` (the request a bare `KSPROPERTY`).
    fn set_value<V: FromBytes + IntoBytes>(
        &self,
        what: &'static str,
        set: GUID,
        id: u32,
        mut value: V,
    ) -> Result<()> {
        let input = request::property(set, id, KSPROPERTY_TYPE_SET);
        self.exchange(what, &input, value.as_mut_bytes()).map(drop)
    }

    /// BASICSUPPORT of property `id` of `set` (size protocol): access, type, ranges, default.
    pub fn describe(&self, set: GUID, id: u32) -> Result<PropertyDescription> {
        let input = request::property(set, id, KSPROPERTY_TYPE_BASICSUPPORT);
        let bytes = get_sized(self.kernel, self.filter, "BASICSUPPORT", &input)?;
        request::parse_description(&bytes).ok_or(ClientError::Malformed("BASICSUPPORT"))
    }

    /// A ProcAmp property's value (`KSPROPERTY_VIDEOPROCAMP_*`).
    pub fn procamp(&self, id: u32) -> Result<i32> {
        let input = request::procamp(id, KSPROPERTY_TYPE_GET, 0);
        let mut data = input.clone();
        self.exchange("VIDEOPROCAMP", &input, &mut data)?;
        let answer = KSPROPERTY_VIDEOPROCAMP_S::read_from_bytes(&data)
            .map_err(|_| ClientError::Malformed("VIDEOPROCAMP"))?;
        Ok(answer.Value)
    }

    /// Sets a ProcAmp property (manual mode).
    pub fn set_procamp(&self, id: u32, value: i32) -> Result<()> {
        let input = request::procamp(id, KSPROPERTY_TYPE_SET, value);
        let mut data = input.clone();
        self.exchange("VIDEOPROCAMP", &input, &mut data).map(drop)
    }

    /// `KSPROPERTY_VIDEOCONTROL_CAPS` of the capture stream: the `KS_VideoControlFlag_*` it
    /// supports.
    pub fn video_control_caps(&self) -> Result<u32> {
        let input = request::video_control_caps(CAPTURE_STREAM);
        let mut data = input.clone();
        self.exchange("VIDEOCONTROL_CAPS", &input, &mut data)?;
        let answer = KSPROPERTY_VIDEOCONTROL_CAPS_S::read_from_bytes(&data)
            .map_err(|_| ClientError::Malformed("VIDEOCONTROL_CAPS"))?;
        Ok(answer.VideoControlCaps)
    }

    /// `KSPROPERTY_VIDEOCONTROL_MODE` of the capture stream: the flags in effect.
    pub fn video_control_mode(&self) -> Result<u32> {
        let input = request::video_control_mode(CAPTURE_STREAM, KSPROPERTY_TYPE_GET, 0);
        let mut data = input.clone();
        self.exchange("VIDEOCONTROL_MODE", &input, &mut data)?;
        let answer = KSPROPERTY_VIDEOCONTROL_MODE_S::read_from_bytes(&data)
            .map_err(|_| ClientError::Malformed("VIDEOCONTROL_MODE"))?;
        Ok(answer.Mode as u32)
    }

    /// Sets `KSPROPERTY_VIDEOCONTROL_MODE` of the capture stream.
    pub fn set_video_control_mode(&self, mode: u32) -> Result<()> {
        let input = request::video_control_mode(CAPTURE_STREAM, KSPROPERTY_TYPE_SET, mode as i32);
        let mut data = input.clone();
        self.exchange("VIDEOCONTROL_MODE", &input, &mut data)
            .map(drop)
    }

    /// A one-word property of avcam's pattern set (`KSPROPERTY_AVCAM_*`).
    pub fn pattern_value(&self, id: u32) -> Result<u32> {
        self.get_value("AVCAM_PATTERN", PROPSETID_AVCAM_PATTERN, id)
    }

    /// Sets a one-word property of avcam's pattern set.
    pub fn set_pattern_value(&self, id: u32, value: u32) -> Result<()> {
        self.set_value("AVCAM_PATTERN", PROPSETID_AVCAM_PATTERN, id, value)
    }

    /// The caption overlay's text.
    pub fn caption(&self) -> Result<String> {
        let caption: AVCAM_CAPTION = self.get_value(
            "AVCAM_CAPTION",
            PROPSETID_AVCAM_PATTERN,
            KSPROPERTY_AVCAM_CAPTION,
        )?;
        let end = caption.Text.iter().position(|&b| b == 0).unwrap_or(0);
        Ok(String::from_utf8_lossy(&caption.Text[..end]).into_owned())
    }

    /// Sets the caption overlay's text (the driver takes up to 31 printable ASCII characters;
    /// longer text is sent without its NUL, and refused).
    pub fn set_caption(&self, text: &str) -> Result<()> {
        let mut caption = AVCAM_CAPTION {
            Text: [0; AVCAM_CAPTION_BYTES],
        };
        let bytes = text.as_bytes();
        let n = bytes.len().min(AVCAM_CAPTION_BYTES);
        caption.Text[..n].copy_from_slice(&bytes[..n]);
        self.set_value(
            "AVCAM_CAPTION",
            PROPSETID_AVCAM_PATTERN,
            KSPROPERTY_AVCAM_CAPTION,
            caption,
        )
    }

    /// A control's value.
    pub fn control(&self, control: &Control) -> Result<i64> {
        Ok(match control.access {
            Access::ProcAmp(id) => i64::from(self.procamp(id)?),
            Access::VideoControl(flag) => i64::from(self.video_control_mode()? & flag != 0),
            Access::Pattern(id) => {
                let word = self.pattern_value(id)?;
                match control.kind {
                    Kind::Pattern | Kind::Integer => i64::from(word as i32),
                    _ => i64::from(word),
                }
            }
        })
    }

    /// Sets a control; a value outside the property's 32-bit type (signed for ProcAmp and the
    /// pattern number, unsigned for the other pattern-set values, 0 or 1 for a flip) is not
    /// sent: [`ClientError::Unrepresentable`].
    pub fn set_control(&self, control: &Control, value: i64) -> Result<()> {
        let unrepresentable = ClientError::Unrepresentable {
            control: control.name,
            value,
        };
        match control.access {
            Access::ProcAmp(id) => {
                self.set_procamp(id, i32::try_from(value).map_err(|_| unrepresentable)?)
            }
            Access::VideoControl(flag) => {
                let mode = self.video_control_mode()?;
                let mode = match value {
                    0 => mode & !flag,
                    1 => mode | flag,
                    _ => return Err(unrepresentable),
                };
                self.set_video_control_mode(mode)
            }
            Access::Pattern(id) => {
                let word = match control.kind {
                    Kind::Pattern | Kind::Integer => {
                        i32::try_from(value).map_err(|_| unrepresentable)? as u32
                    }
                    _ => u32::try_from(value).map_err(|_| unrepresentable)?,
                };
                self.set_pattern_value(id, word)
            }
        }
    }

    /// A control's range and default: the driver's BASICSUPPORT answer for ProcAmp and pattern
    /// controls, `KSPROPERTY_VIDEOCONTROL_CAPS` for the flips (0..=1 when supported, else 0).
    pub fn control_range(&self, control: &Control) -> Result<ControlRange> {
        let (set, id) = match control.access {
            Access::ProcAmp(id) => (PROPSETID_VIDCAP_VIDEOPROCAMP, id),
            Access::Pattern(id) => (PROPSETID_AVCAM_PATTERN, id),
            Access::VideoControl(flag) => {
                let max = i64::from(self.video_control_caps()? & flag != 0);
                return Ok(ControlRange {
                    min: 0,
                    max,
                    step: 1,
                    default: 0,
                });
            }
        };
        let description = self.describe(set, id)?;
        let range = description
            .ranges
            .first()
            .ok_or(ClientError::Malformed("BASICSUPPORT ranges"))?;
        Ok(ControlRange {
            min: range.min,
            max: range.max,
            step: range.step,
            default: description
                .default
                .ok_or(ClientError::Malformed("BASICSUPPORT default"))?,
        })
    }

    /// The fault plan injected now.
    pub fn fault_plan(&self) -> Result<AVCAM_FAULT_PLAN> {
        self.get_value(
            "FAULTS_PLAN",
            PROPSETID_AVCAM_FAULTS,
            KSPROPERTY_AVCAM_FAULTS_PLAN,
        )
    }

    /// Sets the fault plan (the counters start again from zero); STATUS_ACCESS_DENIED unless
    /// the device's `FaultInjection` registry value is 1.
    pub fn set_fault_plan(&self, plan: &AVCAM_FAULT_PLAN) -> Result<()> {
        self.set_value(
            "FAULTS_PLAN",
            PROPSETID_AVCAM_FAULTS,
            KSPROPERTY_AVCAM_FAULTS_PLAN,
            *plan,
        )
    }

    /// The stall asked for and not started yet (milliseconds, 0 none).
    pub fn stall(&self) -> Result<u32> {
        self.get_value(
            "FAULTS_STALL",
            PROPSETID_AVCAM_FAULTS,
            KSPROPERTY_AVCAM_FAULTS_STALL,
        )
    }

    /// Asks for one stall of `ms` milliseconds (0 cancels one not started).
    pub fn set_stall(&self, ms: u32) -> Result<()> {
        self.set_value(
            "FAULTS_STALL",
            PROPSETID_AVCAM_FAULTS,
            KSPROPERTY_AVCAM_FAULTS_STALL,
            ms,
        )
    }

    /// The failures set for the next requests and not spent yet.
    pub fn fail_next(&self) -> Result<AVCAM_FAULT_FAIL> {
        self.get_value(
            "FAULTS_FAIL",
            PROPSETID_AVCAM_FAULTS,
            KSPROPERTY_AVCAM_FAULTS_FAIL,
        )
    }

    /// Fails the next request of each kind with its status (0: none).
    pub fn set_fail_next(&self, fail: &AVCAM_FAULT_FAIL) -> Result<()> {
        self.set_value(
            "FAULTS_FAIL",
            PROPSETID_AVCAM_FAULTS,
            KSPROPERTY_AVCAM_FAULTS_FAIL,
            *fail,
        )
    }

    /// Everything injected since the plan was last set.
    pub fn fault_counters(&self) -> Result<AVCAM_FAULT_COUNTERS> {
        self.get_value(
            "FAULTS_COUNTERS",
            PROPSETID_AVCAM_FAULTS,
            KSPROPERTY_AVCAM_FAULTS_COUNTERS,
        )
    }

    /// Whether the device's registry switch allows fault injection.
    pub fn fault_injection_enabled(&self) -> Result<bool> {
        let on: u32 = self.get_value(
            "FAULTS_ENABLED",
            PROPSETID_AVCAM_FAULTS,
            KSPROPERTY_AVCAM_FAULTS_ENABLED,
        )?;
        Ok(on != 0)
    }
}
