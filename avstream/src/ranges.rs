//! The capture pin's data ranges: every pixel format x every frame size, each with the frame
//! intervals its size allows, as `KS_DATARANGE_VIDEO` values ready for a pin descriptor.
//!
//! The frame-rate rule: a size may run at any rate from 1 fps up to the highest rung of
//! [`FPS_LADDER`] whose pixel rate (`width * height * fps`) stays within
//! [`PIXEL_RATE_BUDGET`] (500 Mpixel/s, about 1080p at 240 fps; synthesis runs well above that
//! single-threaded, see the `synthesis` bench). That gives:
//!
//! | size | max fps | `MinFrameInterval` | pixel rate at max fps |
//! |---|---|---|---|
//! | 320x240, 640x360, 640x480, 800x600 | 1000 | 10000 | 77, 230, 307, 480 Mpx/s |
//! | 1024x768, 1280x720 | 500 | 20000 | 393, 461 Mpx/s |
//! | 1280x960, 1920x1080, 1080x1920 (portrait) | 240 | 41666 | 295, 498, 498 Mpx/s |
//! | 2560x1440 | 120 | 83333 | 442 Mpx/s |
//! | 3840x2160 | 60 | 166666 | 498 Mpx/s |
//!
//! `MinFrameInterval` is `10^7 / max_fps` truncated (what clients send for that rate);
//! `MaxFrameInterval` is 1 s. The default (the range's `VideoInfoHeader`) is 30 fps.

use ks::video::{
    KS_AnalogVideo_None, KSDATAFORMAT, KSDATAFORMAT_SPECIFIER_VIDEOINFO, KSDATAFORMAT_TYPE_VIDEO,
    KS_BITMAPINFOHEADER, KS_DATARANGE_VIDEO, KS_VIDEOINFOHEADER, KS_VIDEOSTREAM_CAPTURE,
    KS_VIDEO_STREAM_CONFIG_CAPS, RECT, SIZE,
};

use crate::pixel::{FrameSize, PixelFormat};
use crate::rate::HNS_PER_SECOND;

/// The most pixels per second a range may ask for (see the module docs).
pub const PIXEL_RATE_BUDGET: u64 = 500_000_000;
/// The rates a size's maximum is chosen from, highest first.
pub const FPS_LADDER: [u32; 6] = [1000, 500, 240, 120, 60, 30];
/// The lowest rate: 1 fps (`MaxFrameInterval` = 10^7).
pub const MIN_FPS: u32 = 1;
/// The default rate of every range.
pub const DEFAULT_FPS: u32 = 30;
/// The default `AvgTimePerFrame`: 30 fps truncated.
pub const DEFAULT_INTERVAL: i64 = (HNS_PER_SECOND / DEFAULT_FPS as u64) as i64;
/// How many ranges the pin has: formats x sizes.
pub const RANGE_COUNT: usize = PixelFormat::ALL.len() * FrameSize::ALL.len();

/// One data range in Rust terms: a format, a size and its interval bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureRange {
    /// The pixel format.
    pub format: PixelFormat,
    /// The frame size.
    pub size: FrameSize,
}

impl CaptureRange {
    /// The highest rate of this range's size (see the module rule).
    pub const fn max_fps(self) -> u32 {
        let pixels = self.size.pixels();
        let mut i = 0;
        while i < FPS_LADDER.len() {
            if pixels * FPS_LADDER[i] as u64 <= PIXEL_RATE_BUDGET {
                return FPS_LADDER[i];
            }
            i += 1;
        }
        FPS_LADDER[FPS_LADDER.len() - 1]
    }

    /// `MinFrameInterval`: `10^7 / max_fps`, truncated.
    pub const fn min_interval(self) -> i64 {
        (HNS_PER_SECOND / self.max_fps() as u64) as i64
    }

    /// `MaxFrameInterval`: one second.
    pub const fn max_interval(self) -> i64 {
        (HNS_PER_SECOND / MIN_FPS as u64) as i64
    }

    /// Whether `interval` (100 ns units) is allowed.
    pub const fn allows_interval(self, interval: i64) -> bool {
        interval >= self.min_interval() && interval <= self.max_interval()
    }

    /// `biSizeImage` of the range's frames.
    pub const fn image_size(self) -> u32 {
        self.format.layout(self.size).image_size as u32
    }

    /// The `KS_BITMAPINFOHEADER` of this range's frames.
    pub const fn bitmap_header(self) -> KS_BITMAPINFOHEADER {
        KS_BITMAPINFOHEADER {
            biSize: core::mem::size_of::<KS_BITMAPINFOHEADER>() as u32,
            biWidth: self.size.width as i32,
            biHeight: self.size.height as i32,
            biPlanes: 1,
            biBitCount: self.format.bit_count(),
            biCompression: self.format.compression(),
            biSizeImage: self.image_size(),
            biXPelsPerMeter: 0,
            biYPelsPerMeter: 0,
            biClrUsed: 0,
            biClrImportant: 0,
        }
    }

    /// Bits per second at `fps`, saturated to what a `LONG` field holds.
    const fn bits_per_second(self, fps: u32) -> i32 {
        let bits = self.image_size() as u64 * 8 * fps as u64;
        if bits > i32::MAX as u64 {
            i32::MAX
        } else {
            bits as i32
        }
    }

    /// The `KS_VIDEOINFOHEADER` for `interval`, whole-picture rectangles (all zero).
    pub const fn video_info_header(self, interval: i64) -> KS_VIDEOINFOHEADER {
        let fps = (HNS_PER_SECOND as i64 / interval) as u64;
        let bit_rate = self.image_size() as u64 * 8 * fps;
        KS_VIDEOINFOHEADER {
            rcSource: RECT {
                left: 0,
                top: 0,
                right: 0,
                bottom: 0,
            },
            rcTarget: RECT {
                left: 0,
                top: 0,
                right: 0,
                bottom: 0,
            },
            dwBitRate: if bit_rate > u32::MAX as u64 {
                u32::MAX
            } else {
                bit_rate as u32
            },
            dwBitErrorRate: 0,
            AvgTimePerFrame: interval,
            bmiHeader: self.bitmap_header(),
        }
    }

    /// The `KS_DATARANGE_VIDEO` of this range (fixed-size, uncompressed, capture stream).
    pub const fn to_ks(self) -> KS_DATARANGE_VIDEO {
        let size = SIZE {
            cx: self.size.width as i32,
            cy: self.size.height as i32,
        };
        KS_DATARANGE_VIDEO {
            DataRange: KSDATAFORMAT {
                FormatSize: core::mem::size_of::<KS_DATARANGE_VIDEO>() as u32,
                Flags: 0,
                SampleSize: self.image_size(),
                Reserved: 0,
                MajorFormat: KSDATAFORMAT_TYPE_VIDEO,
                SubFormat: self.format.subtype(),
                Specifier: KSDATAFORMAT_SPECIFIER_VIDEOINFO,
            },
            bFixedSizeSamples: 1,
            bTemporalCompression: 0,
            StreamDescriptionFlags: KS_VIDEOSTREAM_CAPTURE,
            MemoryAllocationFlags: 0,
            ConfigCaps: KS_VIDEO_STREAM_CONFIG_CAPS {
                guid: KSDATAFORMAT_SPECIFIER_VIDEOINFO,
                VideoStandard: KS_AnalogVideo_None,
                InputSize: size,
                MinCroppingSize: size,
                MaxCroppingSize: size,
                CropGranularityX: 1,
                CropGranularityY: 1,
                CropAlignX: 1,
                CropAlignY: 1,
                MinOutputSize: size,
                MaxOutputSize: size,
                OutputGranularityX: 1,
                OutputGranularityY: 1,
                StretchTapsX: 0,
                StretchTapsY: 0,
                ShrinkTapsX: 0,
                ShrinkTapsY: 0,
                _pad: 0,
                MinFrameInterval: self.min_interval(),
                MaxFrameInterval: self.max_interval(),
                MinBitsPerSecond: self.bits_per_second(MIN_FPS),
                MaxBitsPerSecond: self.bits_per_second(self.max_fps()),
            },
            VideoInfoHeader: self.video_info_header(DEFAULT_INTERVAL),
        }
    }
}

/// Every range, in the pin's order of preference (format-major: NV12 at every size first).
pub const CAPTURE_RANGES: [CaptureRange; RANGE_COUNT] = {
    let mut out = [CaptureRange {
        format: PixelFormat::Nv12,
        size: FrameSize::QVGA,
    }; RANGE_COUNT];
    let mut f = 0;
    while f < PixelFormat::ALL.len() {
        let mut s = 0;
        while s < FrameSize::ALL.len() {
            out[f * FrameSize::ALL.len() + s] = CaptureRange {
                format: PixelFormat::ALL[f],
                size: FrameSize::ALL[s],
            };
            s += 1;
        }
        f += 1;
    }
    out
};

/// The same ranges as `KS_DATARANGE_VIDEO` values, for the pin descriptor's `DataRanges`
/// table (a static, so the shell can point at each entry).
pub static KS_CAPTURE_RANGES: [KS_DATARANGE_VIDEO; RANGE_COUNT] = {
    let mut out = [KS_DATARANGE_VIDEO {
        DataRange: KSDATAFORMAT {
            FormatSize: 0,
            Flags: 0,
            SampleSize: 0,
            Reserved: 0,
            MajorFormat: ks::GUID::NULL,
            SubFormat: ks::GUID::NULL,
            Specifier: ks::GUID::NULL,
        },
        bFixedSizeSamples: 0,
        bTemporalCompression: 0,
        StreamDescriptionFlags: 0,
        MemoryAllocationFlags: 0,
        ConfigCaps: CAPTURE_RANGES[0].to_ks().ConfigCaps,
        VideoInfoHeader: CAPTURE_RANGES[0].to_ks().VideoInfoHeader,
    }; RANGE_COUNT];
    let mut i = 0;
    while i < RANGE_COUNT {
        out[i] = CAPTURE_RANGES[i].to_ks();
        i += 1;
    }
    out
};

/// The range for a format and size, if offered.
pub fn find_range(format: PixelFormat, size: FrameSize) -> Option<CaptureRange> {
    CAPTURE_RANGES
        .into_iter()
        .find(|r| r.format == format && r.size == size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::IntoBytes;

    #[test]
    fn rates_follow_the_pixel_budget_rule() {
        let max = |s| {
            CaptureRange {
                format: PixelFormat::Nv12,
                size: s,
            }
            .max_fps()
        };
        assert_eq!(max(FrameSize::QVGA), 1000);
        assert_eq!(max(FrameSize::VGA), 1000);
        assert_eq!(max(FrameSize::HD720), 500);
        assert_eq!(max(FrameSize::HD1080), 240);
        assert_eq!(max(FrameSize::UHD), 60);
        assert_eq!(max(FrameSize::QHD), 120);
        assert_eq!(max(FrameSize::SXGA_MINUS), 240);
        assert_eq!(max(FrameSize::PORTRAIT1080), 240);
        assert_eq!(max(FrameSize::XGA), 500);
        assert_eq!(max(FrameSize::SVGA), 1000);
        assert_eq!(max(FrameSize::NHD), 1000);
        // A size past the budget even at the lowest rung gets that rung (no offered size is).
        let eight_k = FrameSize {
            width: 7680,
            height: 4320,
        };
        assert_eq!(max(eight_k), 30);
        for r in CAPTURE_RANGES {
            assert!(r.size.pixels() * u64::from(r.max_fps()) <= PIXEL_RATE_BUDGET);
            assert_eq!(r.max_interval(), 10_000_000);
            assert!(
                r.allows_interval(DEFAULT_INTERVAL),
                "{r:?} must allow 30 fps"
            );
        }
        let uhd = find_range(PixelFormat::Yuy2, FrameSize::UHD).unwrap();
        assert_eq!(uhd.min_interval(), 166_666);
        assert!(!uhd.allows_interval(166_665));
        assert!(!uhd.allows_interval(10_000_001));
    }

    #[test]
    fn every_format_and_size_has_exactly_one_range() {
        assert_eq!(CAPTURE_RANGES.len(), 44);
        for f in PixelFormat::ALL {
            for s in FrameSize::ALL {
                assert_eq!(
                    CAPTURE_RANGES
                        .iter()
                        .filter(|r| r.format == f && r.size == s)
                        .count(),
                    1
                );
            }
        }
        assert_eq!(
            CAPTURE_RANGES[0],
            CaptureRange {
                format: PixelFormat::Nv12,
                size: FrameSize::HD1080
            }
        );
    }

    #[test]
    fn ks_ranges_carry_consistent_fields() {
        for (range, ks) in CAPTURE_RANGES.iter().zip(KS_CAPTURE_RANGES.iter()) {
            assert_eq!(ks.DataRange.FormatSize, 296);
            assert_eq!(ks.as_bytes().len(), 296);
            assert_eq!(ks.DataRange.MajorFormat, KSDATAFORMAT_TYPE_VIDEO);
            assert_eq!(ks.DataRange.SubFormat, range.format.subtype());
            assert_eq!(ks.DataRange.Specifier, KSDATAFORMAT_SPECIFIER_VIDEOINFO);
            let bmi = ks.VideoInfoHeader.bmiHeader;
            assert_eq!(bmi.biSize, 40);
            assert_eq!(bmi.biWidth as u32, range.size.width);
            assert!(bmi.biHeight > 0, "bottom-up RGB, positive height for all");
            assert_eq!(bmi.biSizeImage, ks.DataRange.SampleSize);
            assert_eq!(
                u64::from(bmi.biSizeImage) * 8,
                range.size.pixels() * u64::from(bmi.biBitCount)
            );
            assert_eq!(ks.VideoInfoHeader.AvgTimePerFrame, 333_333);
            assert!(ks.ConfigCaps.MinFrameInterval <= ks.ConfigCaps.MaxFrameInterval);
            assert!(ks.ConfigCaps.MinBitsPerSecond <= ks.ConfigCaps.MaxBitsPerSecond);
            assert_eq!(ks.ConfigCaps.MaxOutputSize.cx as u32, range.size.width);
        }
        // 4K RGB32 at 60 fps is 15.9 Gbit/s: saturated, not wrapped.
        let big = find_range(PixelFormat::Rgb32, FrameSize::UHD)
            .unwrap()
            .to_ks();
        assert_eq!(big.ConfigCaps.MaxBitsPerSecond, i32::MAX);
        assert_eq!(big.VideoInfoHeader.dwBitRate, u32::MAX);
    }
}
