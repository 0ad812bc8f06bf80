//! Property tests over the byte parsers: any input is answered without panicking, and whatever
//! is accepted is a format the pin really offers and writes back identically.

use avcam_avstream::intersect::{best_match, intersect};
use avcam_avstream::ranges::{CAPTURE_RANGES, KS_CAPTURE_RANGES};
use avcam_avstream::{PinConnect, VideoFormat};
use proptest::prelude::*;
use zerocopy::IntoBytes;

/// A format accepted must be within its range and survive a round trip through bytes.
fn check_accepted(v: &VideoFormat) -> Result<(), TestCaseError> {
    prop_assert!(CAPTURE_RANGES.contains(&v.range()));
    prop_assert!(v.range().allows_interval(v.interval()));
    let bytes = v.to_ks();
    prop_assert_eq!(VideoFormat::parse(bytes.as_bytes()), Ok(*v));
    prop_assert_eq!(bytes.VideoInfoHeader.bmiHeader.biSizeImage, v.image_size());
    Ok(())
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(v) = VideoFormat::parse(&bytes) {
            check_accepted(&v)?;
        }
        if let Ok(v) = best_match(&bytes) {
            check_accepted(&v)?;
        }
        let _ = PinConnect::parse(&bytes, 2);
        let mut out = [0u8; 152];
        let _ = intersect(&bytes, &mut out);
    }

    #[test]
    fn mutated_formats_are_accepted_only_when_valid(
        range in 0..CAPTURE_RANGES.len(),
        edits in proptest::collection::vec((0usize..152, any::<u8>()), 1..4),
    ) {
        let good = VideoFormat::in_range(CAPTURE_RANGES[range], 333_333).unwrap().to_ks();
        let mut bytes = good.as_bytes().to_vec();
        for (at, value) in edits {
            bytes[at] = value;
        }
        match VideoFormat::parse(&bytes) {
            Ok(v) => check_accepted(&v)?,
            Err(e) => prop_assert!(e.status() < 0, "{e}"),
        }
    }

    #[test]
    fn mutated_ranges_intersect_to_offered_formats(
        range in 0..KS_CAPTURE_RANGES.len(),
        edits in proptest::collection::vec((0usize..296, any::<u8>()), 1..4),
    ) {
        let mut bytes = KS_CAPTURE_RANGES[range].as_bytes().to_vec();
        for (at, value) in edits {
            bytes[at] = value;
        }
        if let Ok(v) = best_match(&bytes) {
            check_accepted(&v)?;
        }
    }
}
