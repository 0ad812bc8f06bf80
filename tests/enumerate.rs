//! Enumeration through the client: the camera's interfaces, its pin, every data range, and an
//! intersection for each range that the pin then accepts as its format.

mod common;

use avcam_avstream::ranges::RANGE_COUNT;
use avcam_avstream::VideoFormat;
use avcam_client::Camera;
use common::*;
use ks::guid::{KSCATEGORY_CAPTURE, KSCATEGORY_VIDEO, KSCATEGORY_VIDEO_CAMERA};
use ks::video::KSDATAFORMAT;
use zerocopy::FromBytes;

#[test]
fn every_category_opens_the_camera_and_every_range_negotiates_a_pin() {
    let kernel = kernel();
    for category in [
        KSCATEGORY_VIDEO,
        KSCATEGORY_CAPTURE,
        KSCATEGORY_VIDEO_CAMERA,
    ] {
        let interfaces = kernel.device_interfaces(&category);
        assert_eq!(interfaces.len(), 1, "{category:?}");
        // The reference string the driver gave its filter factory is the INF's (tests/inf.rs
        // checks the INF against the same constant), so the interfaces the INF registers open
        // the filter.
        assert_eq!(
            interfaces[0].reference.as_deref(),
            Some(avcam::identity::REFERENCE_STRING)
        );
    }
    // Every interface ks.sys registered for the driver is enabled: the factory was created in
    // the device's Start callback, before the start sequence ended.
    assert!(kernel.registered_interfaces().iter().all(|(_, on)| *on));
    assert_eq!(kernel.registered_interfaces().len(), 3);
    let camera = camera(&kernel);
    assert_eq!(camera.pin_count().unwrap(), 1);
    let ranges = camera.data_ranges(0).unwrap();
    assert_eq!(ranges.len(), RANGE_COUNT);
    let mut subtypes = std::collections::HashSet::new();
    for range in &ranges {
        let (header, _) = KSDATAFORMAT::read_from_prefix(range).unwrap();
        subtypes.insert(header.SubFormat);
        let format = camera
            .intersect(0, range)
            .expect("our own range intersects");
        let parsed = VideoFormat::parse(&format).expect("the answer is a valid format");
        assert_eq!(parsed.pixel_format().subtype(), header.SubFormat);
        let pin = camera
            .create_pin(0, &format)
            .expect("the pin takes its own answer");
        pin.close().unwrap();
    }
    assert_eq!(subtypes.len(), 4, "NV12, YUY2, RGB32, RGB24");
    // An unknown category has no camera.
    assert!(Camera::open(&kernel, &ks::GUID::NULL).is_err());
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}
