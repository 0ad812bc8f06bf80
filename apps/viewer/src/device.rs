//! Requests to an avcam device over any KS transport, shared by the viewer's two backends (the
//! emulated camera, [`crate::backend`], and an installed device, `crate::windows_backend`): the
//! same requests and the same bytes whichever handles carry them.
//!
//! - Describing the device: `read_device_info` (pins, ranges, categories, controls).
//! - Before streaming: `apply_settings` (controls, caption, fault plan), `wanted_format` and
//!   `connect` (`DATAINTERSECTION`, then the pin with the format the driver proposes).
//! - While streaming: `StreamFilter`, the stream's filter, on which controls, stalls and fault
//!   counters are asked.
//! - A delivered frame as the viewer's [`Frame`]: `viewer_frame`.

use std::time::Duration;

use avcam_avstream::{FrameSize, PixelFormat as KsPixel, VideoFormat};
use avcam_client::controls::{self, CONTROLS, PATTERNS};
use avcam_client::Transport;
use ks::video::{
    KSSTREAM_HEADER, KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY,
    KSSTREAM_HEADER_OPTIONSF_DURATIONVALID, KSSTREAM_HEADER_OPTIONSF_TIMEVALID, KS_DATARANGE_VIDEO,
    KS_FRAME_INFO, PINNAME_VIDEO_CAPTURE, PINNAME_VIDEO_PREVIEW, PINNAME_VIDEO_STILL,
};
use ks::GUID;
use zerocopy::{FromBytes, IntoBytes};

use crate::camera::{
    CameraError, ControlInfo, DeviceInfo, FaultCounters, FaultPlan, FormatInfo, Frame, FrameMemory,
    PinInfo, PinKind, PixelFormat, Rate, Size, StreamConfig,
};

/// Maps a client error to the viewer's camera error.
pub(crate) fn client_error(error: avcam_client::ClientError) -> CameraError {
    match error {
        avcam_client::ClientError::Request { request, status } => CameraError::Request {
            request: request.into(),
            status: status as u32,
        },
        avcam_client::ClientError::NoDevice(_) => CameraError::NotFound {
            what: "a device in KSCATEGORY_VIDEO_CAMERA".into(),
        },
        avcam_client::ClientError::Timeout => CameraError::Timeout {
            waited: Duration::ZERO,
        },
        other => CameraError::Backend {
            message: other.to_string(),
        },
    }
}

/// The viewer's pixel format for the driver's.
pub(crate) fn viewer_pixel(format: KsPixel) -> PixelFormat {
    match format {
        KsPixel::Nv12 => PixelFormat::Nv12,
        KsPixel::Yuy2 => PixelFormat::Yuy2,
        KsPixel::Rgb24 => PixelFormat::Rgb24,
        KsPixel::Rgb32 => PixelFormat::Rgb32,
    }
}

/// The driver's pixel format for the viewer's.
pub(crate) fn ks_pixel(format: PixelFormat) -> KsPixel {
    match format {
        PixelFormat::Nv12 => KsPixel::Nv12,
        PixelFormat::Yuy2 => KsPixel::Yuy2,
        PixelFormat::Rgb24 => KsPixel::Rgb24,
        PixelFormat::Rgb32 => KsPixel::Rgb32,
    }
}

/// One `KS_DATARANGE_VIDEO` as a [`FormatInfo`]; `None` for a range the viewer cannot show
/// (another subtype, a size that does not fit, a non-positive interval).
pub fn parse_video_range(bytes: &[u8]) -> Option<FormatInfo> {
    let (range, _) = KS_DATARANGE_VIDEO::read_from_prefix(bytes).ok()?;
    let pixel = KsPixel::from_subtype(&range.DataRange.SubFormat)?;
    let header = &range.VideoInfoHeader.bmiHeader;
    let width = u32::try_from(header.biWidth).ok()?;
    let height = header.biHeight.unsigned_abs();
    let min_interval = u64::try_from(range.ConfigCaps.MinFrameInterval).ok()?;
    let max_interval = u64::try_from(range.ConfigCaps.MaxFrameInterval).ok()?;
    (width > 0 && height > 0 && min_interval > 0).then_some(FormatInfo {
        pixel_format: viewer_pixel(pixel),
        size: Size::new(width, height),
        min_interval,
        max_interval,
    })
}

/// The pin kind for a `KSPROPERTY_PIN_CATEGORY` answer.
pub(crate) fn pin_kind(category: &GUID) -> PinKind {
    if *category == PINNAME_VIDEO_CAPTURE {
        PinKind::Capture
    } else if *category == PINNAME_VIDEO_PREVIEW {
        PinKind::Preview
    } else if *category == PINNAME_VIDEO_STILL {
        PinKind::Still
    } else {
        PinKind::Other
    }
}

/// The device, its pins and every format they offer, asked of an open `filter` on any
/// transport (`KSPROPERTY_PIN_CTYPES`, `_DATARANGES`, `_CATEGORY`), then the filter is closed.
pub(crate) fn read_device_info<T: Transport>(
    filter: avcam_client::Camera<'_, T>,
    name: &str,
) -> Result<DeviceInfo, CameraError> {
    let result = (|| {
        let mut pins = Vec::new();
        for id in 0..filter.pin_count().map_err(client_error)? {
            let formats = filter
                .data_ranges(id)
                .map_err(client_error)?
                .iter()
                .filter_map(|range| parse_video_range(range))
                .collect();
            let kind = filter
                .pin_category(id)
                .map_or(PinKind::Other, |category| pin_kind(&category));
            let name = match kind {
                PinKind::Capture => "Capture",
                PinKind::Preview => "Preview",
                PinKind::Still => "Still",
                PinKind::Other => "Pin",
            };
            pins.push(PinInfo {
                id,
                name: name.into(),
                kind,
                formats,
            });
        }
        Ok(DeviceInfo {
            name: name.into(),
            pins,
            patterns: PATTERNS.iter().map(|(p, _)| (*p).into()).collect(),
            controls: read_controls(&filter),
            fault_injection: filter.fault_injection_enabled().ok(),
        })
    })();
    let closed = filter.close().map_err(client_error);
    let info = result?;
    closed?;
    Ok(info)
}

/// Every control the camera answers (`avcam_client::controls::CONTROLS`): its range and
/// default (BASICSUPPORT) and its value; a control the camera does not answer is left out.
pub(crate) fn read_controls<T: Transport>(
    filter: &avcam_client::Camera<'_, T>,
) -> Vec<ControlInfo> {
    CONTROLS
        .iter()
        .filter_map(|control| {
            let range = filter.control_range(control).ok()?;
            let value = filter.control(control).ok()?;
            Some(ControlInfo {
                name: control.name.into(),
                what: control.what.into(),
                min: range.min,
                max: range.max,
                default: range.default,
                value,
                shown: control.format(value),
            })
        })
        .collect()
}

/// Sets the control called `name` on `filter` (the device's value: every filter and pin sees
/// it).
pub(crate) fn set_named_control<T: Transport>(
    filter: &avcam_client::Camera<'_, T>,
    name: &str,
    value: i64,
) -> Result<(), CameraError> {
    let control = controls::control(name).ok_or_else(|| CameraError::Unsupported {
        what: format!("the control {name}"),
    })?;
    filter.set_control(control, value).map_err(client_error)
}

/// Sets what `config` asks of the device before streaming: its controls, its caption and its
/// fault plan.
pub(crate) fn apply_settings<T: Transport>(
    filter: &avcam_client::Camera<'_, T>,
    config: &StreamConfig,
) -> Result<(), CameraError> {
    for (name, value) in &config.controls {
        set_named_control(filter, name, *value)?;
    }
    if let Some(caption) = &config.caption {
        filter.set_caption(caption).map_err(client_error)?;
    }
    if let Some(plan) = &config.faults {
        filter.set_fault_plan(plan).map_err(client_error)?;
    }
    Ok(())
}

/// Sets `controls` and the caption on a filter of the device, then closes it.
pub(crate) fn set_controls_on<T: Transport>(
    filter: avcam_client::Camera<'_, T>,
    controls: &[(String, i64)],
    caption: Option<&str>,
) -> Result<(), CameraError> {
    let result = (|| {
        for (name, value) in controls {
            set_named_control(&filter, name, *value)?;
        }
        if let Some(caption) = caption {
            filter.set_caption(caption).map_err(client_error)?;
        }
        Ok(())
    })();
    let closed = filter.close().map_err(client_error);
    result.and(closed)
}

/// Clears the fault plan a stream set (switching injection off is always accepted).
pub(crate) fn clear_faults<T: Transport>(
    filter: Option<&avcam_client::Camera<'_, T>>,
    set: bool,
) -> Result<(), CameraError> {
    match filter {
        Some(filter) if set => filter
            .set_fault_plan(&FaultPlan::default())
            .map_err(client_error),
        _ => Ok(()),
    }
}

/// The exact format `config` asks for, checked against what the camera can render.
pub(crate) fn wanted_format(config: &StreamConfig) -> Result<VideoFormat, CameraError> {
    let size = FrameSize::find(
        i32::try_from(config.size.width).unwrap_or(0),
        i32::try_from(config.size.height).unwrap_or(0),
    )
    .ok_or_else(|| CameraError::NotFound {
        what: format!("size {} on the camera", config.size),
    })?;
    let pixel = ks_pixel(config.pixel_format);
    let interval = match config.rate {
        Rate::Fps(fps) => crate::camera::interval_for_fps(fps)
            .and_then(|i| i64::try_from(i).ok())
            .unwrap_or(i64::MAX),
        Rate::Unthrottled => avcam_avstream::ranges::CaptureRange {
            format: pixel,
            size,
        }
        .min_interval(),
    };
    VideoFormat::new(pixel, size, interval).map_err(|error| CameraError::Backend {
        message: format!(
            "the camera refuses {} {}: {error:?}",
            config.pixel_format, config.size
        ),
    })
}

/// Offers `wanted` to `DATAINTERSECTION` on `filter` and creates the pin with the format the
/// driver proposes: the filter, that format and the pin. On failure the filter is closed.
pub(crate) fn connect<'k, T: Transport>(
    filter: avcam_client::Camera<'k, T>,
    pin_id: u32,
    wanted: &VideoFormat,
) -> Result<ConnectedPin<'k, T>, CameraError> {
    let created = filter
        .intersect(pin_id, wanted.to_ks().as_bytes())
        .map_err(client_error)
        .and_then(|proposed| {
            let format = VideoFormat::parse(&proposed).map_err(|error| CameraError::Backend {
                message: format!("the pin proposed a format the viewer cannot read: {error:?}"),
            })?;
            let pin = filter.create_pin(pin_id, &proposed).map_err(client_error)?;
            Ok((format, pin))
        });
    match created {
        Ok((format, pin)) => Ok((filter, format, pin)),
        Err(error) => {
            let _ = filter.close();
            Err(error)
        }
    }
}

/// What [`connect`] gives: the open filter, the pin's format and the pin.
pub(crate) type ConnectedPin<'k, T> = (
    avcam_client::Camera<'k, T>,
    VideoFormat,
    avcam_client::Pin<'k, T>,
);

/// The viewer's [`Frame`] for `data`, a frame of `format` as the driver's `header` and `info`
/// describe it (times only where the header flags them valid), arrived at `arrival_time`.
pub(crate) fn viewer_frame<'a>(
    format: &VideoFormat,
    header: &KSSTREAM_HEADER,
    info: &KS_FRAME_INFO,
    data: &'a [u8],
    memory: FrameMemory,
    arrival_time: Option<i64>,
) -> Frame<'a> {
    let size = format.size();
    let flags = header.OptionsFlags;
    Frame {
        pixel_format: viewer_pixel(format.pixel_format()),
        width: size.width,
        height: size.height,
        stride: format.layout().stride,
        bottom_up: format.pixel_format().is_bottom_up(),
        data,
        presentation_time: (flags & KSSTREAM_HEADER_OPTIONSF_TIMEVALID != 0)
            .then_some(header.PresentationTime.Time),
        duration: (flags & KSSTREAM_HEADER_OPTIONSF_DURATIONVALID != 0).then_some(header.Duration),
        picture_number: info.PictureNumber,
        drop_count: info.DropCount,
        memory,
        arrival_time,
        discontinuity: flags & KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY != 0,
    }
}

/// Closes the pin, then the filter (whichever is still open); the pin's failure first.
pub(crate) fn close_pin_and_filter<T: Transport>(
    pin: Option<avcam_client::Pin<'_, T>>,
    filter: Option<avcam_client::Camera<'_, T>>,
) -> Result<(), CameraError> {
    let closed_pin = pin.map_or(Ok(()), |pin| pin.close().map_err(client_error));
    let closed_filter = filter.map_or(Ok(()), |filter| filter.close().map_err(client_error));
    closed_pin.and(closed_filter)
}

/// A running stream's filter and whether the stream set a fault plan: the requests a stream
/// makes of its device while it runs, the same on every transport.
pub(crate) struct StreamFilter<'k, T: Transport> {
    filter: Option<avcam_client::Camera<'k, T>>,
    faults_set: bool,
}

impl<'k, T: Transport> StreamFilter<'k, T> {
    /// The stream's `filter`; `faults_set` when the stream set a fault plan (cleared at
    /// [`StreamFilter::end_faults`] and at close).
    pub(crate) fn new(filter: avcam_client::Camera<'k, T>, faults_set: bool) -> Self {
        StreamFilter {
            filter: Some(filter),
            faults_set,
        }
    }

    /// The open filter.
    pub(crate) fn get(&self) -> Result<&avcam_client::Camera<'k, T>, CameraError> {
        self.filter.as_ref().ok_or(CameraError::Backend {
            message: "the filter is closed".into(),
        })
    }

    /// Sets the control called `name` (the device's value).
    pub(crate) fn set_control(&self, name: &str, value: i64) -> Result<(), CameraError> {
        set_named_control(self.get()?, name, value)
    }

    /// Holds the stream's next frames back for `ms` milliseconds (an injected stall).
    pub(crate) fn stall(&self, ms: u32) -> Result<(), CameraError> {
        self.get()?.set_stall(ms).map_err(client_error)
    }

    /// The device's fault counters, `None` when the stream set no fault plan.
    pub(crate) fn fault_counters(&self) -> Result<Option<FaultCounters>, CameraError> {
        if !self.faults_set {
            return Ok(None);
        }
        Ok(Some(self.get()?.fault_counters().map_err(client_error)?))
    }

    /// The fault counters, then the stream's fault plan cleared.
    pub(crate) fn end_faults(&self) -> Result<Option<FaultCounters>, CameraError> {
        let counters = self.fault_counters()?;
        if counters.is_some() {
            clear_faults(Some(self.get()?), true)?;
        }
        Ok(counters)
    }

    /// Clears the stream's fault plan (if it set one) and gives the filter back to be closed;
    /// `None` if it was already taken.
    pub(crate) fn take(
        &mut self,
    ) -> (Result<(), CameraError>, Option<avcam_client::Camera<'k, T>>) {
        let cleared = clear_faults(self.filter.as_ref(), self.faults_set);
        (cleared, self.filter.take())
    }
}
