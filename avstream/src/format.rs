//! The negotiated video format: `KSDATAFORMAT` + `KS_VIDEOINFOHEADER` bytes parsed once into a
//! validated [`VideoFormat`] (pin creation and SetDataFormat), and written back out for
//! `KSPROPERTY_CONNECTION_DATAFORMAT` and data intersection answers.
//!
//! A format is accepted only if it is exactly one of the pin's ranges at an allowed rate; see
//! [`VideoFormat::parse`] for the checks in order and [`crate::error`] for their statuses.

use ks::video::{
    KSDATAFORMAT, KSDATAFORMAT_SPECIFIER_VIDEOINFO, KSDATAFORMAT_TYPE_VIDEO,
    KS_DATAFORMAT_VIDEOINFOHEADER, KS_VIDEOINFOHEADER, RECT,
};
use zerocopy::{FromBytes, IntoBytes};

use crate::error::Error;
use crate::pixel::{FrameLayout, FrameSize, PixelFormat};
use crate::ranges::{find_range, CaptureRange};
use crate::rate::FrameRate;

/// `sizeof(KS_DATAFORMAT_VIDEOINFOHEADER)`: the only `FormatSize` a video format may have here
/// (no palette, no colour masks).
pub const VIDEO_FORMAT_SIZE: usize = core::mem::size_of::<KS_DATAFORMAT_VIDEOINFOHEADER>();
/// `sizeof(KSDATAFORMAT)`.
pub const DATA_FORMAT_HEADER_SIZE: usize = core::mem::size_of::<KSDATAFORMAT>();

/// A format the pin accepts: one range, one allowed frame interval. Constructed only through
/// validation, so code holding one never re-checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoFormat {
    range: CaptureRange,
    interval: i64,
    rate: FrameRate,
}

impl VideoFormat {
    /// The format of `format` at `size` with `AvgTimePerFrame = interval`, if a range allows it.
    pub fn new(format: PixelFormat, size: FrameSize, interval: i64) -> Result<VideoFormat, Error> {
        let range = find_range(format, size).ok_or(Error::FrameSize {
            width: size.width as i32,
            height: size.height as i32,
        })?;
        VideoFormat::in_range(range, interval)
    }

    /// The format of `range` at `interval`, if the range allows that interval.
    pub fn in_range(range: CaptureRange, interval: i64) -> Result<VideoFormat, Error> {
        if interval == 0 {
            return Err(Error::ZeroInterval);
        }
        if !range.allows_interval(interval) {
            return Err(Error::IntervalOutOfRange {
                interval,
                min: range.min_interval(),
                max: range.max_interval(),
            });
        }
        let rate = FrameRate::from_interval(interval).ok_or(Error::ZeroInterval)?;
        Ok(VideoFormat {
            range,
            interval,
            rate,
        })
    }

    /// Parses and validates a `KS_DATAFORMAT_VIDEOINFOHEADER` (a pin's create-time format or a
    /// SetDataFormat). Checks, in order:
    /// 1. at least a `KSDATAFORMAT` header (`Truncated`);
    /// 2. `MajorFormat` video, `Specifier` VIDEOINFO, `SubFormat` one of ours (`NO_MATCH`);
    /// 3. `FormatSize` = 152 (`INVALID_PARAMETER`), the buffer holds it (`Truncated`);
    /// 4. `Flags` = 0 (`NO_MATCH`);
    /// 5. `biSize` 40, `biPlanes` 1, `biCompression` / `biBitCount` of the subtype
    ///    (`INVALID_PARAMETER`);
    /// 6. positive height, even sizes for NV12/YUY2, an offered size (`NO_MATCH`);
    /// 7. `biSizeImage` exact, `SampleSize` 0 or exact (`INVALID_PARAMETER`);
    /// 8. rectangles empty or the whole picture (`NO_MATCH`);
    /// 9. `AvgTimePerFrame` non-zero (`INVALID_PARAMETER`) and within the range (`NO_MATCH`).
    pub fn parse(bytes: &[u8]) -> Result<VideoFormat, Error> {
        let (header, _) = KSDATAFORMAT::read_from_prefix(bytes).map_err(|_| Error::Truncated {
            len: bytes.len(),
            needed: DATA_FORMAT_HEADER_SIZE,
        })?;
        if header.MajorFormat != KSDATAFORMAT_TYPE_VIDEO {
            return Err(Error::MajorFormat(header.MajorFormat));
        }
        if header.Specifier != KSDATAFORMAT_SPECIFIER_VIDEOINFO {
            return Err(Error::Specifier(header.Specifier));
        }
        let format = PixelFormat::from_subtype(&header.SubFormat)
            .ok_or(Error::SubFormat(header.SubFormat))?;
        if header.FormatSize as usize != VIDEO_FORMAT_SIZE {
            return Err(Error::FormatSize {
                declared: header.FormatSize,
                expected: VIDEO_FORMAT_SIZE as u32,
            });
        }
        let (full, _) = KS_DATAFORMAT_VIDEOINFOHEADER::read_from_prefix(bytes).map_err(|_| {
            Error::Truncated {
                len: bytes.len(),
                needed: VIDEO_FORMAT_SIZE,
            }
        })?;
        if header.Flags != 0 {
            return Err(Error::FormatFlags(header.Flags));
        }
        let range = check_video_info(format, &full.VideoInfoHeader)?;
        let expected = range.image_size();
        if header.SampleSize != 0 && header.SampleSize != expected {
            return Err(Error::SampleSize {
                declared: header.SampleSize,
                expected,
            });
        }
        VideoFormat::in_range(range, full.VideoInfoHeader.AvgTimePerFrame)
    }

    /// The pixel format.
    pub const fn pixel_format(&self) -> PixelFormat {
        self.range.format
    }

    /// The frame size.
    pub const fn size(&self) -> FrameSize {
        self.range.size
    }

    /// The range this format belongs to.
    pub const fn range(&self) -> CaptureRange {
        self.range
    }

    /// `AvgTimePerFrame` as the client gave it (100 ns units).
    pub const fn interval(&self) -> i64 {
        self.interval
    }

    /// The exact rate the interval stands for (see [`FrameRate::from_interval`]).
    pub const fn rate(&self) -> FrameRate {
        self.rate
    }

    /// The frame's memory layout.
    pub const fn layout(&self) -> FrameLayout {
        self.range.format.layout(self.range.size)
    }

    /// `biSizeImage`: bytes per frame (the allocator's frame size).
    pub const fn image_size(&self) -> u32 {
        self.range.image_size()
    }

    /// The format as KS spells it.
    pub const fn to_ks(&self) -> KS_DATAFORMAT_VIDEOINFOHEADER {
        let ranged = self.range.to_ks();
        KS_DATAFORMAT_VIDEOINFOHEADER {
            DataFormat: KSDATAFORMAT {
                FormatSize: VIDEO_FORMAT_SIZE as u32,
                ..ranged.DataRange
            },
            VideoInfoHeader: self.range.video_info_header(self.interval),
        }
    }

    /// Writes the KS format into `out` and returns its length, with the KS size protocol: an
    /// empty `out` is a size query ([`Error::SizeQuery`]), a short one [`Error::BufferTooSmall`].
    pub fn write_to(&self, out: &mut [u8]) -> Result<usize, Error> {
        if out.is_empty() {
            return Err(Error::SizeQuery {
                needed: VIDEO_FORMAT_SIZE,
            });
        }
        let len = out.len();
        let dst = out
            .get_mut(..VIDEO_FORMAT_SIZE)
            .ok_or(Error::BufferTooSmall {
                len,
                needed: VIDEO_FORMAT_SIZE,
            })?;
        dst.copy_from_slice(self.to_ks().as_bytes());
        Ok(VIDEO_FORMAT_SIZE)
    }
}

/// Checks a `KS_VIDEOINFOHEADER` against `format`, returning the range of its size.
fn check_video_info(format: PixelFormat, vih: &KS_VIDEOINFOHEADER) -> Result<CaptureRange, Error> {
    let bmi = &vih.bmiHeader;
    if bmi.biSize as usize != core::mem::size_of_val(bmi) || bmi.biPlanes != 1 {
        return Err(Error::BitmapHeader {
            size: bmi.biSize,
            planes: bmi.biPlanes,
        });
    }
    if bmi.biCompression != format.compression() || bmi.biBitCount != format.bit_count() {
        return Err(Error::Compression {
            compression: bmi.biCompression,
            bit_count: bmi.biBitCount,
        });
    }
    let (width, height) = (bmi.biWidth, bmi.biHeight);
    if height < 0 {
        return Err(Error::TopDown);
    }
    if (format.needs_even_width() && width % 2 != 0)
        || (format.needs_even_height() && height % 2 != 0)
    {
        return Err(Error::OddDimension { width, height });
    }
    let size = FrameSize::find(width, height).ok_or(Error::FrameSize { width, height })?;
    let range = find_range(format, size).ok_or(Error::FrameSize { width, height })?;
    let expected = range.image_size();
    if bmi.biSizeImage != expected {
        return Err(Error::ImageSize {
            declared: bmi.biSizeImage,
            expected,
        });
    }
    let whole = RECT {
        left: 0,
        top: 0,
        right: width,
        bottom: height,
    };
    for rect in [vih.rcSource, vih.rcTarget] {
        if rect != RECT::default() && rect != whole {
            return Err(Error::Rectangle);
        }
    }
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ks::status::{STATUS_BUFFER_OVERFLOW, STATUS_INVALID_PARAMETER, STATUS_NO_MATCH};
    use ks::video::{KSDATAFORMAT_SUBTYPE_RGB24, KSDATAFORMAT_TYPE_WILDCARD};
    use ks::GUID;

    fn good(format: PixelFormat, size: FrameSize) -> KS_DATAFORMAT_VIDEOINFOHEADER {
        VideoFormat::new(format, size, 333_333).unwrap().to_ks()
    }

    #[test]
    fn every_offered_format_round_trips_through_bytes() {
        for f in PixelFormat::ALL {
            for s in FrameSize::ALL {
                let ks = good(f, s);
                let parsed = VideoFormat::parse(ks.as_bytes()).unwrap();
                assert_eq!(parsed.pixel_format(), f);
                assert_eq!(parsed.size(), s);
                assert_eq!(parsed.interval(), 333_333);
                assert_eq!(parsed.rate(), FrameRate::per_second(30));
                assert_eq!(
                    parsed.image_size(),
                    ks.VideoInfoHeader.bmiHeader.biSizeImage
                );
            }
        }
    }

    /// One table row: a name, a change to a good 640x480 NV12 format, the error expected.
    type Case = (&'static str, fn(&mut KS_DATAFORMAT_VIDEOINFOHEADER), Error);

    #[test]
    fn bad_formats_are_rejected_with_their_reason() {
        let cases: &[Case] = &[
            (
                "audio major",
                |f| {
                    f.DataFormat.MajorFormat =
                        GUID::from_u128(0x73647561_0000_0010_8000_00AA00389B71)
                },
                Error::MajorFormat(GUID::from_u128(0x73647561_0000_0010_8000_00AA00389B71)),
            ),
            (
                "wildcard major",
                |f| f.DataFormat.MajorFormat = KSDATAFORMAT_TYPE_WILDCARD,
                Error::MajorFormat(GUID::NULL),
            ),
            (
                "wrong specifier",
                |f| f.DataFormat.Specifier = GUID::NULL,
                Error::Specifier(GUID::NULL),
            ),
            (
                "unknown subtype",
                |f| f.DataFormat.SubFormat = GUID::from_u128(7),
                Error::SubFormat(GUID::from_u128(7)),
            ),
            (
                "format size",
                |f| f.DataFormat.FormatSize = 160,
                Error::FormatSize {
                    declared: 160,
                    expected: 152,
                },
            ),
            (
                "temporal compression",
                |f| f.DataFormat.Flags = 1,
                Error::FormatFlags(1),
            ),
            (
                "biSize",
                |f| f.VideoInfoHeader.bmiHeader.biSize = 44,
                Error::BitmapHeader {
                    size: 44,
                    planes: 1,
                },
            ),
            (
                "planes",
                |f| f.VideoInfoHeader.bmiHeader.biPlanes = 2,
                Error::BitmapHeader {
                    size: 40,
                    planes: 2,
                },
            ),
            (
                "compression",
                |f| f.VideoInfoHeader.bmiHeader.biCompression = 0,
                Error::Compression {
                    compression: 0,
                    bit_count: 12,
                },
            ),
            (
                "bit count",
                |f| f.VideoInfoHeader.bmiHeader.biBitCount = 16,
                Error::Compression {
                    compression: ks::video::FOURCC_NV12,
                    bit_count: 16,
                },
            ),
            (
                "top-down",
                |f| f.VideoInfoHeader.bmiHeader.biHeight = -480,
                Error::TopDown,
            ),
            (
                "zero height (not top-down: no such size)",
                |f| f.VideoInfoHeader.bmiHeader.biHeight = 0,
                Error::FrameSize {
                    width: 640,
                    height: 0,
                },
            ),
            (
                "odd width",
                |f| f.VideoInfoHeader.bmiHeader.biWidth = 641,
                Error::OddDimension {
                    width: 641,
                    height: 480,
                },
            ),
            (
                "odd height",
                |f| f.VideoInfoHeader.bmiHeader.biHeight = 481,
                Error::OddDimension {
                    width: 640,
                    height: 481,
                },
            ),
            (
                "size not offered",
                |f| f.VideoInfoHeader.bmiHeader.biWidth = 800,
                Error::FrameSize {
                    width: 800,
                    height: 480,
                },
            ),
            (
                "image size",
                |f| f.VideoInfoHeader.bmiHeader.biSizeImage += 1,
                Error::ImageSize {
                    declared: 460_801,
                    expected: 460_800,
                },
            ),
            (
                "image size zero",
                |f| f.VideoInfoHeader.bmiHeader.biSizeImage = 0,
                Error::ImageSize {
                    declared: 0,
                    expected: 460_800,
                },
            ),
            (
                "sample size",
                |f| f.DataFormat.SampleSize = 5,
                Error::SampleSize {
                    declared: 5,
                    expected: 460_800,
                },
            ),
            (
                "cropping",
                |f| {
                    f.VideoInfoHeader.rcSource = RECT {
                        left: 0,
                        top: 0,
                        right: 320,
                        bottom: 240,
                    }
                },
                Error::Rectangle,
            ),
            (
                "zero interval",
                |f| f.VideoInfoHeader.AvgTimePerFrame = 0,
                Error::ZeroInterval,
            ),
            (
                "too fast",
                |f| f.VideoInfoHeader.AvgTimePerFrame = 9_999,
                Error::IntervalOutOfRange {
                    interval: 9_999,
                    min: 10_000,
                    max: 10_000_000,
                },
            ),
            (
                "too slow",
                |f| f.VideoInfoHeader.AvgTimePerFrame = 10_000_001,
                Error::IntervalOutOfRange {
                    interval: 10_000_001,
                    min: 10_000,
                    max: 10_000_000,
                },
            ),
            (
                "negative",
                |f| f.VideoInfoHeader.AvgTimePerFrame = -1,
                Error::IntervalOutOfRange {
                    interval: -1,
                    min: 10_000,
                    max: 10_000_000,
                },
            ),
        ];
        for (name, change, expected) in cases {
            let mut f = good(PixelFormat::Nv12, FrameSize::VGA);
            change(&mut f);
            assert_eq!(VideoFormat::parse(f.as_bytes()), Err(*expected), "{name}");
        }
    }

    #[test]
    fn statuses_of_representative_rejections() {
        let mut f = good(PixelFormat::Nv12, FrameSize::VGA);
        f.VideoInfoHeader.AvgTimePerFrame = 0;
        assert_eq!(
            VideoFormat::parse(f.as_bytes()).unwrap_err().status(),
            STATUS_INVALID_PARAMETER
        );
        f.VideoInfoHeader.AvgTimePerFrame = 1;
        assert_eq!(
            VideoFormat::parse(f.as_bytes()).unwrap_err().status(),
            STATUS_NO_MATCH
        );
    }

    #[test]
    fn only_subsampled_chroma_needs_even_dimensions() {
        // NV12 pairs rows and columns, YUY2 only columns, RGB neither: an odd size is then no
        // offered size (FrameSize), not an odd dimension.
        let parse = |format, width, height| {
            let mut f = good(format, FrameSize::VGA);
            f.VideoInfoHeader.bmiHeader.biWidth = width;
            f.VideoInfoHeader.bmiHeader.biHeight = height;
            VideoFormat::parse(f.as_bytes()).unwrap_err()
        };
        let odd = |width, height| Error::OddDimension { width, height };
        let unknown = |width, height| Error::FrameSize { width, height };
        assert_eq!(parse(PixelFormat::Nv12, 640, 481), odd(640, 481));
        assert_eq!(parse(PixelFormat::Yuy2, 641, 480), odd(641, 480));
        assert_eq!(parse(PixelFormat::Yuy2, 640, 481), unknown(640, 481));
        for rgb in [PixelFormat::Rgb24, PixelFormat::Rgb32] {
            assert_eq!(parse(rgb, 641, 481), unknown(641, 481));
        }
    }

    #[test]
    fn whole_picture_rectangles_are_accepted() {
        let mut f = good(PixelFormat::Yuy2, FrameSize::HD720);
        f.VideoInfoHeader.rcSource = RECT {
            left: 0,
            top: 0,
            right: 1280,
            bottom: 720,
        };
        f.VideoInfoHeader.rcTarget = RECT {
            left: 0,
            top: 0,
            right: 1280,
            bottom: 720,
        };
        f.DataFormat.SampleSize = 0;
        assert!(VideoFormat::parse(f.as_bytes()).is_ok());
    }

    #[test]
    fn the_fastest_rate_of_each_size_is_accepted_and_one_unit_faster_is_not() {
        for r in crate::ranges::CAPTURE_RANGES {
            let mut f = good(r.format, r.size);
            f.VideoInfoHeader.AvgTimePerFrame = r.min_interval();
            assert!(VideoFormat::parse(f.as_bytes()).is_ok(), "{r:?}");
            f.VideoInfoHeader.AvgTimePerFrame = r.min_interval() - 1;
            assert!(VideoFormat::parse(f.as_bytes()).is_err(), "{r:?}");
        }
    }

    #[test]
    fn short_buffers_are_truncated_inputs() {
        let f = good(PixelFormat::Rgb24, FrameSize::QVGA);
        assert_eq!(f.DataFormat.SubFormat, KSDATAFORMAT_SUBTYPE_RGB24);
        let bytes = f.as_bytes();
        assert_eq!(
            VideoFormat::parse(&bytes[..10]),
            Err(Error::Truncated {
                len: 10,
                needed: 64
            })
        );
        assert_eq!(
            VideoFormat::parse(&bytes[..151]),
            Err(Error::Truncated {
                len: 151,
                needed: 152
            })
        );
        // Trailing bytes beyond FormatSize are ignored.
        let mut longer = [0u8; 200];
        longer[..152].copy_from_slice(bytes);
        assert!(VideoFormat::parse(&longer).is_ok());
    }

    #[test]
    fn write_to_follows_the_size_protocol() {
        let v = VideoFormat::new(PixelFormat::Rgb32, FrameSize::HD1080, 166_666).unwrap();
        let err = v.write_to(&mut []).unwrap_err();
        assert_eq!(
            (err.status(), err.information()),
            (STATUS_BUFFER_OVERFLOW, 152)
        );
        assert_eq!(
            v.write_to(&mut [0u8; 100]),
            Err(Error::BufferTooSmall {
                len: 100,
                needed: 152
            })
        );
        let mut out = [0u8; 160];
        assert_eq!(v.write_to(&mut out), Ok(152));
        assert_eq!(VideoFormat::parse(&out), Ok(v));
        assert_eq!(v.rate(), FrameRate::per_second(60));
    }
}
