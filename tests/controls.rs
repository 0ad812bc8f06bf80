//! The camera's controls through KS requests only: every control's range and default as
//! BASICSUPPORT answers them, GET and SET with their checks, and the device-wide reach of a
//! value (set on one filter instance, seen on another and by its pin at the next frame).

mod common;

use avcam_client::controls::{control, Access, CONTROLS};
use avcam_client::ControlRange;
use common::*;
use ks::avcam::{KSPROPERTY_AVCAM_CAPTION, PROPSETID_AVCAM_PATTERN};
use ks::ks::{
    KSPROPERTY_TYPE_BASICSUPPORT, KSPROPERTY_TYPE_GET, KSPROPERTY_TYPE_SET, VT_I4, VT_LPSTR, VT_UI4,
};
use ks::status::{STATUS_INVALID_PARAMETER, STATUS_NOT_FOUND};
use ks::video::{
    KS_VideoControlFlag_FlipHorizontal, KS_VideoControlFlag_FlipVertical,
    KSPROPERTY_VIDEOPROCAMP_SHARPNESS, PROPSETID_VIDCAP_VIDEOPROCAMP,
};

/// The documented range and default of every control (docs/avstream-guide.md), in
/// `CONTROLS` order.
const DOCUMENTED: [(&str, i64, i64, i64); 12] = [
    ("brightness", -10_000, 10_000, 750),
    ("contrast", 0, 10_000, 100),
    ("hue", -18_000, 18_000, 0),
    ("saturation", 0, 10_000, 100),
    ("gamma", 1, 500, 100),
    ("powerline", 0, 3, 0),
    ("hflip", 0, 1, 0),
    ("vflip", 0, 1, 0),
    ("pattern", 0, 5, 0),
    ("overlays", 0, 0x3F, 0x3F),
    ("solid-colour", 0, 0xFF_FFFF, 0x80_8080),
    ("noise-seed", 0, u32::MAX as i64, 0x5EED_CA3E),
];

#[test]
fn basic_support_declares_every_controls_range_and_default_and_gets_start_there() {
    let kernel = kernel();
    let camera = camera(&kernel);
    for (control, (name, min, max, default)) in CONTROLS.iter().zip(DOCUMENTED) {
        assert_eq!(control.name, name);
        let range = camera.control_range(control).unwrap();
        assert_eq!(
            range,
            ControlRange {
                min,
                max,
                step: 1,
                default
            },
            "{name}"
        );
        assert_eq!(camera.control(control).unwrap(), default, "{name}");
        if let Access::ProcAmp(id) = control.access {
            let described = camera.describe(PROPSETID_VIDCAP_VIDEOPROCAMP, id).unwrap();
            assert_eq!(described.vt, VT_I4, "{name}");
            assert_eq!(
                described.access,
                KSPROPERTY_TYPE_BASICSUPPORT | KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_SET
            );
        }
        if let Access::Pattern(id) = control.access {
            let described = camera.describe(PROPSETID_AVCAM_PATTERN, id).unwrap();
            let vt = if name == "pattern" { VT_I4 } else { VT_UI4 };
            assert_eq!(described.vt, vt, "{name}");
        }
    }
    assert_eq!(
        camera.video_control_caps().unwrap(),
        KS_VideoControlFlag_FlipHorizontal | KS_VideoControlFlag_FlipVertical
    );
    let caption = camera
        .describe(PROPSETID_AVCAM_PATTERN, KSPROPERTY_AVCAM_CAPTION)
        .unwrap();
    assert_eq!((caption.vt, caption.ranges.len()), (VT_LPSTR, 0));
    assert_eq!(camera.caption().unwrap(), "");
    // A ProcAmp property the camera does not offer.
    let missing = camera
        .procamp(KSPROPERTY_VIDEOPROCAMP_SHARPNESS)
        .unwrap_err();
    assert_eq!(missing.status(), Some(STATUS_NOT_FOUND));
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn a_set_outside_the_range_is_refused_and_changes_nothing() {
    let kernel = kernel();
    let camera = camera(&kernel);
    for control in &CONTROLS {
        let range = camera.control_range(control).unwrap();
        for bad in [range.min - 1, range.max + 1] {
            let refused = camera.set_control(control, bad).expect_err(control.name);
            if let avcam_client::ClientError::Unrepresentable { .. } = refused {
                // Outside the property's type (a flip's 2, a seed's -1): nothing to send.
                continue;
            }
            assert_eq!(
                refused.status(),
                Some(STATUS_INVALID_PARAMETER),
                "{} = {bad}",
                control.name
            );
            assert_eq!(camera.control(control).unwrap(), range.default);
        }
        for good in [range.min, range.max] {
            camera.set_control(control, good).unwrap();
            assert_eq!(camera.control(control).unwrap(), good, "{}", control.name);
        }
        camera.set_control(control, range.default).unwrap();
    }
    // Automatic mode is not offered.
    let brightness = control("brightness").unwrap();
    let Access::ProcAmp(id) = brightness.access else {
        unreachable!()
    };
    let mut request = avcam_client::request::procamp(id, KSPROPERTY_TYPE_SET, 1000);
    request[28..32].copy_from_slice(&1u32.to_le_bytes()); // Flags = AUTO
    let mut data = request.clone();
    let reply = avcam_client::Transport::ioctl(
        &kernel,
        camera.file(),
        ks::ks::IOCTL_KS_PROPERTY,
        &request,
        &mut data,
    );
    assert_eq!(
        reply.status,
        avcam_client::Status::Nt(STATUS_INVALID_PARAMETER)
    );
    assert_eq!(camera.control(brightness).unwrap(), 750);
    // VIDEOCONTROL: flags the stream lacks, and a stream that is not the capture pin.
    for (stream, mode) in [(0, 0x4), (1, 1)] {
        let request = avcam_client::request::video_control_mode(stream, KSPROPERTY_TYPE_SET, mode);
        let mut data = request.clone();
        let reply = avcam_client::Transport::ioctl(
            &kernel,
            camera.file(),
            ks::ks::IOCTL_KS_PROPERTY,
            &request,
            &mut data,
        );
        assert_eq!(
            reply.status,
            avcam_client::Status::Nt(STATUS_INVALID_PARAMETER),
            "stream {stream} mode {mode:#x}"
        );
        assert_eq!(camera.video_control_mode().unwrap(), 0);
    }
    // Captions: printable ASCII, 31 characters at most.
    camera.set_caption("Hello, camera!").unwrap();
    assert_eq!(camera.caption().unwrap(), "Hello, camera!");
    for bad in ["tab\there", &"x".repeat(32), "caf\u{e9}"] {
        let refused = camera.set_caption(bad).unwrap_err();
        assert_eq!(refused.status(), Some(STATUS_INVALID_PARAMETER), "{bad:?}");
        assert_eq!(camera.caption().unwrap(), "Hello, camera!");
    }
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}
