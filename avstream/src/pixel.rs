//! Pixel formats and frame sizes, and the memory layout they give a frame: strides, planes,
//! `biSizeImage`, `biBitCount`, `biCompression`.
//!
//! Layouts follow the KS / DirectShow conventions for uncompressed video:
//! - NV12: a full-resolution Y plane (stride = width) followed by one half-height plane of
//!   interleaved Cb, Cr pairs (same stride); 12 bits per pixel; top-down.
//! - YUY2: packed `Y0 Cb Y1 Cr` per pixel pair; stride = 2 x width; top-down.
//! - RGB24 / RGB32: `B G R` / `B G R X` per pixel, rows padded to 4 bytes (`KS_DIBWIDTHBYTES`),
//!   stored bottom-up (the first row in memory is the bottom of the picture) because `biHeight`
//!   is positive.

use ks::video::{
    FOURCC_NV12, FOURCC_YUY2, KSDATAFORMAT_SUBTYPE_NV12, KSDATAFORMAT_SUBTYPE_RGB24,
    KSDATAFORMAT_SUBTYPE_RGB32, KSDATAFORMAT_SUBTYPE_YUY2, KS_BI_RGB,
};
use ks::GUID;

/// A pixel format the camera produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// `KSDATAFORMAT_SUBTYPE_NV12`: 4:2:0, Y plane + interleaved CbCr plane.
    Nv12,
    /// `KSDATAFORMAT_SUBTYPE_YUY2`: 4:2:2 packed `Y0 Cb Y1 Cr`.
    Yuy2,
    /// `KSDATAFORMAT_SUBTYPE_RGB32`: `B G R X`, bottom-up.
    Rgb32,
    /// `KSDATAFORMAT_SUBTYPE_RGB24`: `B G R`, bottom-up.
    Rgb24,
}

impl PixelFormat {
    /// Every format, in the pin's order of preference (NV12 is what the Windows frame server
    /// handles natively).
    pub const ALL: [PixelFormat; 4] = [
        PixelFormat::Nv12,
        PixelFormat::Yuy2,
        PixelFormat::Rgb32,
        PixelFormat::Rgb24,
    ];

    /// The KS subtype GUID (`KSDATAFORMAT.SubFormat`).
    pub const fn subtype(self) -> GUID {
        match self {
            PixelFormat::Nv12 => KSDATAFORMAT_SUBTYPE_NV12,
            PixelFormat::Yuy2 => KSDATAFORMAT_SUBTYPE_YUY2,
            PixelFormat::Rgb32 => KSDATAFORMAT_SUBTYPE_RGB32,
            PixelFormat::Rgb24 => KSDATAFORMAT_SUBTYPE_RGB24,
        }
    }

    /// The format of a subtype GUID, if the camera offers it.
    pub fn from_subtype(subtype: &GUID) -> Option<PixelFormat> {
        PixelFormat::ALL
            .into_iter()
            .find(|f| f.subtype() == *subtype)
    }

    /// `biBitCount`: average bits per pixel.
    pub const fn bit_count(self) -> u16 {
        match self {
            PixelFormat::Nv12 => 12,
            PixelFormat::Yuy2 => 16,
            PixelFormat::Rgb32 => 32,
            PixelFormat::Rgb24 => 24,
        }
    }

    /// `biCompression`: the FOURCC for YUV, `KS_BI_RGB` for RGB.
    pub const fn compression(self) -> u32 {
        match self {
            PixelFormat::Nv12 => FOURCC_NV12,
            PixelFormat::Yuy2 => FOURCC_YUY2,
            PixelFormat::Rgb32 | PixelFormat::Rgb24 => KS_BI_RGB,
        }
    }

    /// Whether rows are stored bottom-up (RGB with a positive `biHeight`).
    pub const fn is_bottom_up(self) -> bool {
        matches!(self, PixelFormat::Rgb32 | PixelFormat::Rgb24)
    }

    /// Bytes per pixel in the first (or only) plane: 1 for NV12's Y plane, 2, 4, 3.
    pub const fn plane0_bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Nv12 => 1,
            PixelFormat::Yuy2 => 2,
            PixelFormat::Rgb32 => 4,
            PixelFormat::Rgb24 => 3,
        }
    }

    /// Whether the width must be even (chroma shared by pixel pairs).
    pub const fn needs_even_width(self) -> bool {
        matches!(self, PixelFormat::Nv12 | PixelFormat::Yuy2)
    }

    /// Whether the height must be even (chroma shared by row pairs).
    pub const fn needs_even_height(self) -> bool {
        matches!(self, PixelFormat::Nv12)
    }

    /// The memory layout of one frame of `size`.
    pub const fn layout(self, size: FrameSize) -> FrameLayout {
        let width = size.width as usize;
        let height = size.height as usize;
        let stride = match self {
            PixelFormat::Nv12 => width,
            PixelFormat::Yuy2 => width * 2,
            // KS_DIBWIDTHBYTES: bits rounded up to a multiple of 32, in bytes.
            PixelFormat::Rgb32 | PixelFormat::Rgb24 => {
                (width * self.bit_count() as usize).div_ceil(32) * 4
            }
        };
        let plane0_size = stride * height;
        let (chroma_stride, chroma_rows) = match self {
            PixelFormat::Nv12 => (stride, height / 2),
            _ => (0, 0),
        };
        FrameLayout {
            stride,
            plane0_size,
            chroma_offset: plane0_size,
            chroma_stride,
            chroma_rows,
            image_size: plane0_size + chroma_stride * chroma_rows,
        }
    }
}

/// Where the bytes of one frame go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLayout {
    /// Bytes per row of the first plane (the only one for packed formats).
    pub stride: usize,
    /// Bytes of the first plane.
    pub plane0_size: usize,
    /// Offset of the chroma plane (NV12); equals `plane0_size`.
    pub chroma_offset: usize,
    /// Bytes per chroma row (NV12), else 0.
    pub chroma_stride: usize,
    /// Chroma rows (NV12: height / 2), else 0.
    pub chroma_rows: usize,
    /// `biSizeImage`: bytes of the whole frame.
    pub image_size: usize,
}

impl FrameLayout {
    /// Rows of every plane: plane 0's, then NV12's chroma rows.
    pub const fn rows(&self) -> usize {
        self.plane0_size / self.stride + self.chroma_rows
    }

    /// Bytes a frame occupies when its rows (of every plane) lie `pitch` bytes apart:
    /// `pitch * rows()`, [`Self::image_size`] at the format's own stride; `None` when `pitch` is
    /// shorter than a row or the size overflows.
    pub const fn bytes_at_pitch(&self, pitch: usize) -> Option<usize> {
        if pitch < self.stride {
            return None;
        }
        pitch.checked_mul(self.rows())
    }
}

/// A picture size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameSize {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl FrameSize {
    /// 320x240 (QVGA).
    pub const QVGA: FrameSize = FrameSize {
        width: 320,
        height: 240,
    };
    /// 640x480 (VGA).
    pub const VGA: FrameSize = FrameSize {
        width: 640,
        height: 480,
    };
    /// 1280x720 (720p).
    pub const HD720: FrameSize = FrameSize {
        width: 1280,
        height: 720,
    };
    /// 1920x1080 (1080p).
    pub const HD1080: FrameSize = FrameSize {
        width: 1920,
        height: 1080,
    };
    /// 3840x2160 (4K UHD).
    pub const UHD: FrameSize = FrameSize {
        width: 3840,
        height: 2160,
    };

    /// 640x360 (nHD, 16:9).
    pub const NHD: FrameSize = FrameSize {
        width: 640,
        height: 360,
    };
    /// 800x600 (SVGA, 4:3).
    pub const SVGA: FrameSize = FrameSize {
        width: 800,
        height: 600,
    };
    /// 1024x768 (XGA, 4:3).
    pub const XGA: FrameSize = FrameSize {
        width: 1024,
        height: 768,
    };
    /// 1280x960 (4:3, a common webcam still-photo size).
    pub const SXGA_MINUS: FrameSize = FrameSize {
        width: 1280,
        height: 960,
    };
    /// 2560x1440 (QHD, 1440p).
    pub const QHD: FrameSize = FrameSize {
        width: 2560,
        height: 1440,
    };
    /// 1080x1920 (portrait 1080p, as phone-style streaming apps ask).
    pub const PORTRAIT1080: FrameSize = FrameSize {
        width: 1080,
        height: 1920,
    };

    /// Every size, in the pin's order of preference: 1080p first (the default), then the common
    /// smaller 16:9 and 4:3 sizes, 4K, then the rest (1440p, 4:3 sizes, portrait 1080p). Each
    /// size's highest rate follows the pixel-rate budget (`crate::ranges`).
    pub const ALL: [FrameSize; 11] = [
        FrameSize::HD1080,
        FrameSize::HD720,
        FrameSize::VGA,
        FrameSize::QVGA,
        FrameSize::UHD,
        FrameSize::QHD,
        FrameSize::SXGA_MINUS,
        FrameSize::XGA,
        FrameSize::SVGA,
        FrameSize::NHD,
        FrameSize::PORTRAIT1080,
    ];

    /// Pixels per frame.
    pub const fn pixels(self) -> u64 {
        self.width as u64 * self.height as u64
    }

    /// The offered size with these dimensions, if any.
    pub fn find(width: i32, height: i32) -> Option<FrameSize> {
        FrameSize::ALL.into_iter().find(|s| {
            i64::from(s.width) == i64::from(width) && i64::from(s.height) == i64::from(height)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_sizes_match_the_formulas() {
        let s = FrameSize::HD1080;
        assert_eq!(PixelFormat::Nv12.layout(s).image_size, 1920 * 1080 * 3 / 2);
        assert_eq!(PixelFormat::Nv12.layout(s).chroma_offset, 1920 * 1080);
        assert_eq!(PixelFormat::Nv12.layout(s).chroma_rows, 540);
        assert_eq!(PixelFormat::Yuy2.layout(s).image_size, 1920 * 1080 * 2);
        assert_eq!(PixelFormat::Rgb24.layout(s).stride, 5760);
        assert_eq!(
            PixelFormat::Rgb32.layout(FrameSize::UHD).image_size,
            3840 * 2160 * 4
        );
    }

    #[test]
    fn rgb24_rows_are_padded_to_four_bytes() {
        // 7 pixels * 3 = 21 bytes -> 24.
        let odd = FrameSize {
            width: 7,
            height: 2,
        };
        assert_eq!(PixelFormat::Rgb24.layout(odd).stride, 24);
        assert_eq!(PixelFormat::Rgb24.layout(odd).image_size, 48);
        assert_eq!(PixelFormat::Rgb32.layout(odd).stride, 28);
    }

    #[test]
    fn image_size_is_bit_count_times_pixels_for_offered_sizes() {
        for f in PixelFormat::ALL {
            for s in FrameSize::ALL {
                let bits = s.pixels() * u64::from(f.bit_count());
                assert_eq!(f.layout(s).image_size as u64 * 8, bits, "{f:?} {s:?}");
            }
        }
    }

    #[test]
    fn subtypes_round_trip_and_unknown_ones_do_not() {
        for f in PixelFormat::ALL {
            assert_eq!(PixelFormat::from_subtype(&f.subtype()), Some(f));
        }
        assert_eq!(PixelFormat::from_subtype(&GUID::NULL), None);
        assert_eq!(FrameSize::find(1280, 720), Some(FrameSize::HD720));
        assert_eq!(FrameSize::find(1280, -720), None);
        assert_eq!(FrameSize::find(1281, 720), None);
    }
}
