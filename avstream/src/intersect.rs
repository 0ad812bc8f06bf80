//! Data intersection (`KSPROPERTY_PIN_DATAINTERSECTION`, an AVStream pin's IntersectHandler):
//! given one of the client's data ranges, answer the best format the pin can produce inside it.
//!
//! The client's range may be:
//! - a bare `KSDATARANGE` (64 bytes) with any of major/sub/specifier as wildcards: any size and
//!   rate fit;
//! - a `KS_DATARANGE_VIDEO` (296 bytes, specifier VIDEOINFO): its `VideoInfoHeader` constrains
//!   the size (`biWidth`/`biHeight`, 0 = any) and the rate (`AvgTimePerFrame`, 0 = any inside
//!   its `ConfigCaps.MinFrameInterval..=MaxFrameInterval` when those are set);
//! - a `KS_DATAFORMAT_VIDEOINFOHEADER` (152 bytes) used as a range: the same constraints.
//!
//! "Best" is the first of the pin's ranges, in their order of preference
//! ([`crate::ranges::CAPTURE_RANGES`]), that satisfies the constraints; the rate is the
//! client's `AvgTimePerFrame` if given, else 30 fps clamped into both interval windows.
//!
//! The answer follows the KS size protocol: a match is decided first (`STATUS_NO_MATCH` if
//! none), then an empty output buffer gets `STATUS_BUFFER_OVERFLOW` with the size (152), a short
//! one `STATUS_BUFFER_TOO_SMALL`, else the `KS_DATAFORMAT_VIDEOINFOHEADER` is written.

use ks::video::{
    KSDATAFORMAT, KSDATAFORMAT_SPECIFIER_VIDEOINFO, KSDATAFORMAT_SPECIFIER_WILDCARD,
    KSDATAFORMAT_SUBTYPE_WILDCARD, KSDATAFORMAT_TYPE_VIDEO, KSDATAFORMAT_TYPE_WILDCARD,
    KS_DATAFORMAT_VIDEOINFOHEADER, KS_DATARANGE_VIDEO,
};
use zerocopy::FromBytes;

use crate::error::Error;
use crate::format::{VideoFormat, DATA_FORMAT_HEADER_SIZE, VIDEO_FORMAT_SIZE};
use crate::pixel::PixelFormat;
use crate::ranges::{CaptureRange, CAPTURE_RANGES, DEFAULT_INTERVAL};

/// What a client's range asks for, parsed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRange {
    /// The pixel format, or `None` for the subtype wildcard.
    pub format: Option<PixelFormat>,
    /// `(width, height)` wanted, or `None` for any.
    pub size: Option<(i32, i32)>,
    /// The exact `AvgTimePerFrame` wanted, or `None`.
    pub interval: Option<i64>,
    /// The client's interval window `(min, max)`, or `None` for any.
    pub interval_window: Option<(i64, i64)>,
}

impl ClientRange {
    /// Parses a client's range bytes (see the module docs for the accepted shapes).
    pub fn parse(bytes: &[u8]) -> Result<ClientRange, Error> {
        let (header, _) = KSDATAFORMAT::read_from_prefix(bytes).map_err(|_| Error::Truncated {
            len: bytes.len(),
            needed: DATA_FORMAT_HEADER_SIZE,
        })?;
        let declared = header.FormatSize as usize;
        if declared < DATA_FORMAT_HEADER_SIZE || declared > bytes.len() {
            return Err(Error::FormatSize {
                declared: header.FormatSize,
                expected: bytes.len().min(u32::MAX as usize) as u32,
            });
        }
        if header.MajorFormat != KSDATAFORMAT_TYPE_VIDEO
            && header.MajorFormat != KSDATAFORMAT_TYPE_WILDCARD
        {
            return Err(Error::MajorFormat(header.MajorFormat));
        }
        let format = if header.SubFormat == KSDATAFORMAT_SUBTYPE_WILDCARD {
            None
        } else {
            Some(
                PixelFormat::from_subtype(&header.SubFormat)
                    .ok_or(Error::SubFormat(header.SubFormat))?,
            )
        };
        let mut range = ClientRange {
            format,
            size: None,
            interval: None,
            interval_window: None,
        };
        if header.Specifier == KSDATAFORMAT_SPECIFIER_WILDCARD {
            return Ok(range);
        }
        if header.Specifier != KSDATAFORMAT_SPECIFIER_VIDEOINFO {
            return Err(Error::Specifier(header.Specifier));
        }
        let bytes = &bytes[..declared];
        let vih = if let Ok((video, _)) = KS_DATARANGE_VIDEO::read_from_prefix(bytes) {
            let caps = video.ConfigCaps;
            if caps.MinFrameInterval > 0 && caps.MaxFrameInterval >= caps.MinFrameInterval {
                range.interval_window = Some((caps.MinFrameInterval, caps.MaxFrameInterval));
            }
            video.VideoInfoHeader
        } else if declared == VIDEO_FORMAT_SIZE {
            // A whole format offered as a range.
            KS_DATAFORMAT_VIDEOINFOHEADER::read_from_bytes(bytes)
                .map_err(|_| Error::Truncated {
                    len: bytes.len(),
                    needed: VIDEO_FORMAT_SIZE,
                })?
                .VideoInfoHeader
        } else {
            // A bare KSDATARANGE naming the specifier: nothing more to constrain.
            return Ok(range);
        };
        let (width, height) = (vih.bmiHeader.biWidth, vih.bmiHeader.biHeight);
        if width != 0 || height != 0 {
            range.size = Some((width, height));
        }
        if vih.AvgTimePerFrame != 0 {
            range.interval = Some(vih.AvgTimePerFrame);
        }
        Ok(range)
    }

    /// The format this client range and one of the pin's ranges agree on, if any.
    pub fn agree(&self, ours: CaptureRange) -> Option<VideoFormat> {
        if self.format.is_some_and(|f| f != ours.format) {
            return None;
        }
        if let Some((w, h)) = self.size {
            // A negative height (top-down) only makes sense for YUV, where it is ignored. In
            // i64, so that i32::MIN has an absolute value (found by the camera_formats fuzzer).
            let h = i64::from(h);
            let h = if ours.format.is_bottom_up() {
                h
            } else {
                h.abs()
            };
            if i64::from(w) != i64::from(ours.size.width) || h != i64::from(ours.size.height) {
                return None;
            }
        }
        let (mut lo, mut hi) = (ours.min_interval(), ours.max_interval());
        if let Some((cmin, cmax)) = self.interval_window {
            lo = lo.max(cmin);
            hi = hi.min(cmax);
        }
        let interval = match self.interval {
            Some(i) => i,
            None => DEFAULT_INTERVAL.clamp(lo, hi.max(lo)),
        };
        if interval < lo || interval > hi {
            return None;
        }
        VideoFormat::in_range(ours, interval).ok()
    }
}

/// The best format for a client's range among `candidates` (in preference order).
pub fn best_match_in(
    client: &[u8],
    candidates: impl IntoIterator<Item = CaptureRange>,
) -> Result<VideoFormat, Error> {
    let wanted = ClientRange::parse(client)?;
    candidates
        .into_iter()
        .find_map(|ours| wanted.agree(ours))
        .ok_or(Error::NoMatch)
}

/// The best format for a client's range among all the pin's ranges.
pub fn best_match(client: &[u8]) -> Result<VideoFormat, Error> {
    best_match_in(client, CAPTURE_RANGES)
}

/// The whole intersection handler: match `client` against the pin's ranges and answer into
/// `out` with the KS size protocol. Returns the bytes written (152).
pub fn intersect(client: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    best_match(client)?.write_to(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pixel::FrameSize;
    use crate::ranges::{find_range, KS_CAPTURE_RANGES};
    use ks::status::{STATUS_BUFFER_OVERFLOW, STATUS_BUFFER_TOO_SMALL, STATUS_NO_MATCH};
    use ks::video::KSDATARANGE;
    use ks::GUID;
    use zerocopy::IntoBytes;

    fn bare(major: GUID, sub: GUID, spec: GUID) -> KSDATARANGE {
        KSDATARANGE {
            FormatSize: 64,
            MajorFormat: major,
            SubFormat: sub,
            Specifier: spec,
            ..Default::default()
        }
    }

    #[test]
    fn full_wildcard_gets_the_preferred_format() {
        let r = bare(GUID::NULL, GUID::NULL, GUID::NULL);
        let f = best_match(r.as_bytes()).unwrap();
        assert_eq!(
            (f.pixel_format(), f.size(), f.interval()),
            (PixelFormat::Nv12, FrameSize::HD1080, 333_333)
        );
    }

    #[test]
    fn subtype_narrows_the_answer() {
        let r = bare(
            KSDATAFORMAT_TYPE_VIDEO,
            PixelFormat::Rgb24.subtype(),
            KSDATAFORMAT_SPECIFIER_WILDCARD,
        );
        assert_eq!(
            best_match(r.as_bytes()).unwrap().pixel_format(),
            PixelFormat::Rgb24
        );
    }

    #[test]
    fn our_own_ranges_intersect_to_their_defaults() {
        for (range, ks) in CAPTURE_RANGES.iter().zip(KS_CAPTURE_RANGES.iter()) {
            let f = best_match(ks.as_bytes()).unwrap();
            assert_eq!(f.range(), *range);
            assert_eq!(f.interval(), 333_333);
        }
    }

    #[test]
    fn client_rate_and_size_are_honoured_or_refused() {
        let mut ks = find_range(PixelFormat::Yuy2, FrameSize::HD720)
            .unwrap()
            .to_ks();
        ks.VideoInfoHeader.AvgTimePerFrame = 20_000; // 500 fps: the 720p maximum
        let f = best_match(ks.as_bytes()).unwrap();
        assert_eq!((f.size(), f.interval()), (FrameSize::HD720, 20_000));
        ks.VideoInfoHeader.AvgTimePerFrame = 19_999;
        assert_eq!(best_match(ks.as_bytes()), Err(Error::NoMatch));
        ks.VideoInfoHeader.AvgTimePerFrame = 0;
        ks.VideoInfoHeader.bmiHeader.biWidth = 1000;
        assert_eq!(best_match(ks.as_bytes()), Err(Error::NoMatch));
    }

    #[test]
    fn a_client_window_without_30fps_clamps_the_default() {
        let mut ks = find_range(PixelFormat::Nv12, FrameSize::VGA)
            .unwrap()
            .to_ks();
        ks.VideoInfoHeader.AvgTimePerFrame = 0;
        ks.ConfigCaps.MinFrameInterval = 100_000; // 100 fps
        ks.ConfigCaps.MaxFrameInterval = 200_000; // 50 fps
        assert_eq!(best_match(ks.as_bytes()).unwrap().interval(), 200_000);
        ks.ConfigCaps.MinFrameInterval = 1_000; // 10000 fps..
        ks.ConfigCaps.MaxFrameInterval = 5_000; // ..2000 fps: faster than we go
        assert_eq!(best_match(ks.as_bytes()), Err(Error::NoMatch));
    }

    #[test]
    fn a_client_window_counts_only_when_both_ends_are_set_and_ordered() {
        let mut ks = find_range(PixelFormat::Nv12, FrameSize::VGA)
            .unwrap()
            .to_ks();
        let window =
            |ks: &KS_DATARANGE_VIDEO| ClientRange::parse(ks.as_bytes()).unwrap().interval_window;
        ks.ConfigCaps.MinFrameInterval = 100_000;
        ks.ConfigCaps.MaxFrameInterval = 100_000;
        assert_eq!(window(&ks), Some((100_000, 100_000)), "a one-rate window");
        ks.ConfigCaps.MaxFrameInterval = 99_999;
        assert_eq!(window(&ks), None, "max below min: no window");
        ks.ConfigCaps.MinFrameInterval = 0;
        ks.ConfigCaps.MaxFrameInterval = 200_000;
        assert_eq!(window(&ks), None, "no minimum: no window");
    }

    #[test]
    fn a_client_size_counts_when_either_dimension_is_set() {
        let mut ks = find_range(PixelFormat::Nv12, FrameSize::VGA)
            .unwrap()
            .to_ks();
        let size = |ks: &KS_DATARANGE_VIDEO| ClientRange::parse(ks.as_bytes()).unwrap().size;
        assert_eq!(size(&ks), Some((640, 480)));
        ks.VideoInfoHeader.bmiHeader.biWidth = 0;
        assert_eq!(size(&ks), Some((0, 480)));
        ks.VideoInfoHeader.bmiHeader.biHeight = 0;
        assert_eq!(size(&ks), None, "0 x 0: any size");
        ks.VideoInfoHeader.bmiHeader.biWidth = 640;
        assert_eq!(size(&ks), Some((640, 0)));
    }

    #[test]
    fn wildcard_subtype_with_size_finds_the_first_format_of_that_size() {
        let mut ks = find_range(PixelFormat::Rgb32, FrameSize::QVGA)
            .unwrap()
            .to_ks();
        ks.DataRange.SubFormat = GUID::NULL;
        let f = best_match(ks.as_bytes()).unwrap();
        assert_eq!(
            (f.pixel_format(), f.size()),
            (PixelFormat::Nv12, FrameSize::QVGA)
        );
        // Top-down RGB is refused, but a negative height still matches YUV.
        ks.VideoInfoHeader.bmiHeader.biHeight = -240;
        assert_eq!(
            best_match(ks.as_bytes()).unwrap().pixel_format(),
            PixelFormat::Nv12
        );
        ks.DataRange.SubFormat = PixelFormat::Rgb32.subtype();
        assert_eq!(best_match(ks.as_bytes()), Err(Error::NoMatch));
        // The most negative height has no i32 absolute value: no match, no overflow.
        ks.DataRange.SubFormat = GUID::NULL;
        ks.VideoInfoHeader.bmiHeader.biHeight = i32::MIN;
        assert_eq!(best_match(ks.as_bytes()), Err(Error::NoMatch));
    }

    #[test]
    fn a_format_used_as_a_range_is_matched_exactly() {
        let v = VideoFormat::new(PixelFormat::Rgb32, FrameSize::UHD, 166_666).unwrap();
        assert_eq!(best_match(v.to_ks().as_bytes()), Ok(v));
    }

    #[test]
    fn foreign_or_malformed_ranges() {
        let audio = GUID::from_u128(0x73647561_0000_0010_8000_00AA00389B71);
        let r = bare(audio, GUID::NULL, GUID::NULL);
        assert_eq!(
            best_match(r.as_bytes()).unwrap_err().status(),
            STATUS_NO_MATCH
        );
        let r = bare(GUID::NULL, GUID::from_u128(5), GUID::NULL);
        assert_eq!(
            best_match(r.as_bytes()),
            Err(Error::SubFormat(GUID::from_u128(5)))
        );
        let r = bare(GUID::NULL, GUID::NULL, GUID::from_u128(9));
        assert_eq!(
            best_match(r.as_bytes()),
            Err(Error::Specifier(GUID::from_u128(9)))
        );
        let mut r = bare(GUID::NULL, GUID::NULL, GUID::NULL);
        r.FormatSize = 296; // claims more than the 64 bytes given
        assert!(matches!(
            best_match(r.as_bytes()),
            Err(Error::FormatSize { declared: 296, .. })
        ));
        assert_eq!(
            best_match(&[0u8; 20]),
            Err(Error::Truncated {
                len: 20,
                needed: 64
            })
        );
    }

    #[test]
    fn size_protocol_after_the_match() {
        let r = bare(GUID::NULL, GUID::NULL, GUID::NULL);
        let e = intersect(r.as_bytes(), &mut []).unwrap_err();
        assert_eq!((e.status(), e.information()), (STATUS_BUFFER_OVERFLOW, 152));
        let e = intersect(r.as_bytes(), &mut [0u8; 151]).unwrap_err();
        assert_eq!(
            (e.status(), e.information()),
            (STATUS_BUFFER_TOO_SMALL, 152)
        );
        let mut out = [0u8; 152];
        assert_eq!(intersect(r.as_bytes(), &mut out), Ok(152));
        assert_eq!(
            VideoFormat::parse(&out).unwrap().pixel_format(),
            PixelFormat::Nv12
        );
        // No match wins over the size query.
        let r = bare(GUID::from_u128(1), GUID::NULL, GUID::NULL);
        assert_eq!(
            intersect(r.as_bytes(), &mut []).unwrap_err().status(),
            STATUS_NO_MATCH
        );
    }
}
