//! Frame conversions: a validated view of a frame's bytes ([`Picture`]), and from it the window's
//! `0RGB` pixels, RGB8 for PNG, and nearest-neighbour scaling into a window.
//!
//! YUV is BT.601 limited range (Y 16..235, U/V 16..240), the colorimetry the camera declares;
//! 8-bit fixed-point coefficients (x256) with rounding:
//! `R = (298 (Y-16) + 409 (V-128) + 128) >> 8`,
//! `G = (298 (Y-16) - 100 (U-128) - 208 (V-128) + 128) >> 8`,
//! `B = (298 (Y-16) + 516 (U-128) + 128) >> 8`, each clamped to 0..=255.
//! NV12 chroma is applied to the 2x2 luma block it covers (no interpolation).
//! Output buffers are caller-owned `Vec`s, resized in place, so converting frame after frame
//! allocates nothing once they have grown to the frame size.

use crate::camera::{Frame, PixelFormat};
use crate::error::ViewerError;

/// A frame's bytes, checked once against its description: every row accessor is in bounds.
#[derive(Clone, Copy, Debug)]
pub struct Picture<'a> {
    pixel_format: PixelFormat,
    width: usize,
    height: usize,
    stride: usize,
    bottom_up: bool,
    data: &'a [u8],
}

impl<'a> Picture<'a> {
    /// Checks `frame` (size above zero, even sizes for 4:2:0 and 4:2:2, stride at least one row,
    /// enough bytes, bottom-up only for RGB) and returns the validated view.
    pub fn new(frame: &Frame<'a>) -> Result<Self, ViewerError> {
        let bad = |reason: String| Err(ViewerError::BadFrame { reason });
        let format = frame.pixel_format;
        let (width, height) = (frame.width as usize, frame.height as usize);
        if width == 0 || height == 0 {
            return bad(format!("{format} frame of {width}x{height} pixels"));
        }
        let odd_width = matches!(format, PixelFormat::Nv12 | PixelFormat::Yuy2) && width % 2 != 0;
        let odd_height = format == PixelFormat::Nv12 && height % 2 != 0;
        if odd_width || odd_height {
            return bad(format!("{format} needs an even size, got {width}x{height}"));
        }
        if frame.bottom_up && !format.is_rgb() {
            return bad(format!(
                "{format} frames are top-down, but the frame says bottom-up"
            ));
        }
        let row_bytes = format.row_bytes(width);
        if frame.stride < row_bytes {
            return bad(format!(
                "{format} {width}x{height}: stride {} is below the row size {row_bytes}",
                frame.stride
            ));
        }
        let needed = frame
            .stride
            .checked_mul(format.stored_rows(height) - 1)
            .and_then(|bytes| bytes.checked_add(row_bytes));
        match needed {
            Some(needed) if frame.data.len() >= needed => Ok(Picture {
                pixel_format: format,
                width,
                height,
                stride: frame.stride,
                bottom_up: frame.bottom_up,
                data: frame.data,
            }),
            _ => bad(format!(
                "{format} {width}x{height} stride {}: {} bytes, {} needed",
                frame.stride,
                frame.data.len(),
                needed.map_or_else(|| "more than addressable".to_string(), |n| n.to_string())
            )),
        }
    }

    /// The pixel format.
    pub fn pixel_format(&self) -> PixelFormat {
        self.pixel_format
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Row `y` of the picture counted from the top (of the Y plane for NV12), exactly
    /// [`PixelFormat::row_bytes`] long; bottom-up frames are read from the end.
    ///
    /// # Panics
    /// If `y >= height`.
    pub fn row(&self, y: usize) -> &'a [u8] {
        assert!(y < self.height, "row {y} of {}", self.height);
        let stored = if self.bottom_up {
            self.height - 1 - y
        } else {
            y
        };
        let start = stored * self.stride;
        &self.data[start..start + self.pixel_format.row_bytes(self.width)]
    }

    /// NV12 only: interleaved U,V row `cy` (0..height/2) of the chroma plane, `width` bytes.
    ///
    /// # Panics
    /// If the picture is not NV12 or `cy >= height / 2`.
    pub fn chroma_row(&self, cy: usize) -> &'a [u8] {
        assert!(
            self.pixel_format == PixelFormat::Nv12,
            "chroma rows are NV12's"
        );
        assert!(
            cy < self.height / 2,
            "chroma row {cy} of {}",
            self.height / 2
        );
        let start = (self.height + cy) * self.stride;
        &self.data[start..start + self.width]
    }
}

/// Clamps a fixed-point result (x256, rounding already added) to a byte.
#[inline(always)]
fn clamp_shift(value: i32) -> u32 {
    (value >> 8).clamp(0, 255) as u32
}

/// The chroma terms of the BT.601 formula for one U, V pair: `(409 e, -100 d - 208 e, 516 d)`
/// with `d = U - 128`, `e = V - 128`; shared by the pixels that use the pair.
#[inline(always)]
fn chroma_terms(u: u8, v: u8) -> (i32, i32, i32) {
    let d = i32::from(u) - 128;
    let e = i32::from(v) - 128;
    (409 * e, -100 * d - 208 * e, 516 * d)
}

/// One pixel from its luma and its pair's [`chroma_terms`].
#[inline(always)]
fn luma_with_chroma(y: u8, (red, green, blue): (i32, i32, i32)) -> u32 {
    let c = 298 * (i32::from(y) - 16) + 128;
    (clamp_shift(c + red) << 16) | (clamp_shift(c + green) << 8) | clamp_shift(c + blue)
}

/// BT.601 limited-range Y'CbCr to `0x00RRGGBB` (see the module docs for the formula).
#[inline(always)]
pub fn yuv_to_xrgb(y: u8, u: u8, v: u8) -> u32 {
    luma_with_chroma(y, chroma_terms(u, v))
}

/// RGB to BT.601 limited-range Y'CbCr, 8-bit fixed point with rounding:
/// `Y = ((66 R + 129 G + 25 B + 128) >> 8) + 16`,
/// `U = ((-38 R - 74 G + 112 B + 128) >> 8) + 128`,
/// `V = ((112 R - 94 G - 18 B + 128) >> 8) + 128`.
#[inline(always)]
pub fn rgb_to_yuv(r: u8, g: u8, b: u8) -> (u8, u8, u8) {
    let (r, g, b) = (i32::from(r), i32::from(g), i32::from(b));
    let y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
    let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
    let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    // The coefficients keep every result in 16..=240: the casts cannot truncate.
    (y as u8, u as u8, v as u8)
}

/// Converts one row (top-down index `y`) of `picture` into `out` (`width` pixels of `0RGB`).
fn row_to_xrgb(picture: &Picture<'_>, y: usize, out: &mut [u32]) {
    let row = picture.row(y);
    match picture.pixel_format {
        PixelFormat::Nv12 => {
            let chroma = picture.chroma_row(y / 2);
            for ((pixels, luma), uv) in out
                .chunks_exact_mut(2)
                .zip(row.chunks_exact(2))
                .zip(chroma.chunks_exact(2))
            {
                let chroma = chroma_terms(uv[0], uv[1]);
                pixels[0] = luma_with_chroma(luma[0], chroma);
                pixels[1] = luma_with_chroma(luma[1], chroma);
            }
        }
        PixelFormat::Yuy2 => {
            for (pixels, yuyv) in out.chunks_exact_mut(2).zip(row.chunks_exact(4)) {
                let chroma = chroma_terms(yuyv[1], yuyv[3]);
                pixels[0] = luma_with_chroma(yuyv[0], chroma);
                pixels[1] = luma_with_chroma(yuyv[2], chroma);
            }
        }
        PixelFormat::Rgb24 => {
            for (pixel, bgr) in out.iter_mut().zip(row.chunks_exact(3)) {
                *pixel = (u32::from(bgr[2]) << 16) | (u32::from(bgr[1]) << 8) | u32::from(bgr[0]);
            }
        }
        PixelFormat::Rgb32 => {
            for (pixel, bgrx) in out.iter_mut().zip(row.chunks_exact(4)) {
                *pixel = u32::from_le_bytes([bgrx[0], bgrx[1], bgrx[2], 0]);
            }
        }
    }
}

/// Converts `picture` to top-down `0x00RRGGBB` pixels (softbuffer's layout) in `out`,
/// `width * height` long, reusing its allocation.
pub fn to_xrgb(picture: &Picture<'_>, out: &mut Vec<u32>) {
    let width = picture.width;
    out.resize(width * picture.height, 0);
    for (y, out_row) in out.chunks_exact_mut(width).enumerate() {
        row_to_xrgb(picture, y, out_row);
    }
}

/// Splits `0RGB` pixels into RGB8 bytes (3 per pixel) in `out`, reusing its allocation.
pub fn xrgb_to_rgb8(pixels: &[u32], out: &mut Vec<u8>) {
    out.resize(pixels.len() * 3, 0);
    for (rgb, pixel) in out.chunks_exact_mut(3).zip(pixels) {
        let [b, g, r, _] = pixel.to_le_bytes();
        rgb.copy_from_slice(&[r, g, b]);
    }
}

/// Converts `picture` to top-down RGB8 (for PNG) in `out`, using `scratch` for the `0RGB` step.
pub fn to_rgb8(picture: &Picture<'_>, scratch: &mut Vec<u32>, out: &mut Vec<u8>) {
    to_xrgb(picture, scratch);
    xrgb_to_rgb8(scratch, out);
}

/// Where a `width` x `height` picture goes in a `dst_width` x `dst_height` window: the largest
/// rectangle with the picture's aspect ratio, centred. Returns `(x, y, width, height)`.
pub fn fit(width: usize, height: usize, dst_width: usize, dst_height: usize) -> [usize; 4] {
    if width == 0 || height == 0 || dst_width == 0 || dst_height == 0 {
        return [0, 0, 0, 0];
    }
    // Compare dst_width / dst_height with width / height without division.
    let (fit_width, fit_height) = if dst_width * height <= dst_height * width {
        (dst_width, (dst_width * height / width).max(1))
    } else {
        ((dst_height * width / height).max(1), dst_height)
    };
    [
        (dst_width - fit_width) / 2,
        (dst_height - fit_height) / 2,
        fit_width,
        fit_height,
    ]
}

/// Nearest-neighbour scaling of `0RGB` pictures into a window, letterboxed in black.
/// Keeps its column map between frames, so scaling allocates only when the sizes change.
#[derive(Debug, Default)]
pub struct Scaler {
    columns: Vec<usize>,
    key: (usize, usize, usize),
}

impl Scaler {
    /// A scaler with no column map yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scales `src` (`width` x `height`, top-down) into `dst` (`dst_width` x `dst_height`),
    /// keeping the aspect ratio; the bars around the picture are black.
    ///
    /// # Panics
    /// If `src` or `dst` is shorter than its size says.
    pub fn scale(
        &mut self,
        src: &[u32],
        width: usize,
        height: usize,
        dst: &mut [u32],
        dst_width: usize,
        dst_height: usize,
    ) {
        assert!(src.len() >= width * height && dst.len() >= dst_width * dst_height);
        let [x0, y0, fit_width, fit_height] = fit(width, height, dst_width, dst_height);
        if self.key != (width, fit_width, x0) {
            self.columns.clear();
            self.columns
                .extend((0..fit_width).map(|x| (x * width + width / 2) / fit_width.max(1)));
            self.key = (width, fit_width, x0);
        }
        for (dy, dst_row) in dst.chunks_exact_mut(dst_width).take(dst_height).enumerate() {
            if dy < y0 || dy >= y0 + fit_height {
                dst_row.fill(0);
                continue;
            }
            let sy = ((dy - y0) * height + height / 2) / fit_height;
            let src_row = &src[sy.min(height - 1) * width..][..width];
            dst_row[..x0].fill(0);
            dst_row[x0 + fit_width..].fill(0);
            for (pixel, &sx) in dst_row[x0..x0 + fit_width].iter_mut().zip(&self.columns) {
                *pixel = src_row[sx.min(width - 1)];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::FrameMemory;

    fn frame(
        format: PixelFormat,
        width: u32,
        height: u32,
        stride: usize,
        data: &[u8],
    ) -> Frame<'_> {
        Frame {
            pixel_format: format,
            width,
            height,
            stride,
            bottom_up: false,
            data,
            presentation_time: None,
            duration: None,
            picture_number: 0,
            drop_count: 0,
            memory: FrameMemory::ClientBuffer,
            arrival_time: None,
            discontinuity: false,
        }
    }

    /// Hand-computed BT.601 limited-range values: the 75% bars and the range ends.
    #[test]
    fn yuv_to_rgb_matches_hand_computed_values() {
        // Black and white: Y=16 -> 0, Y=235 -> (298*219+128)>>8 = 255.
        assert_eq!(yuv_to_xrgb(16, 128, 128), 0x000000);
        assert_eq!(yuv_to_xrgb(235, 128, 128), 0xFFFFFF);
        // 75% white: Y=180: (298*164+128)>>8 = 191.
        assert_eq!(yuv_to_xrgb(180, 128, 128), 0xBFBFBF);
        // 75% red: Y=65 U=100 V=212: c=298*49+128=14730;
        // R=(14730+409*84)>>8=191, G=(14730+2800-17472)>>8=0 (clamped from 0.2), B=(14730-14448)>>8=1.
        assert_eq!(yuv_to_xrgb(65, 100, 212), 0xBF0001);
        // 75% blue: Y=35 U=212 V=114: c=5790; R=(5790-5726)>>8=0, G=(5790-8400+2912)>>8=1,
        // B=(5790+43344)>>8=191.
        assert_eq!(yuv_to_xrgb(35, 212, 114), 0x0001BF);
        // Out-of-range inputs clamp: Y=255 U=V=255 -> R,B saturate.
        assert_eq!(yuv_to_xrgb(255, 255, 255) >> 16, 255);
        assert_eq!(yuv_to_xrgb(0, 0, 0) & 0xFF, 0);
    }

    #[test]
    fn rgb_to_yuv_matches_hand_computed_values() {
        assert_eq!(rgb_to_yuv(0, 0, 0), (16, 128, 128));
        assert_eq!(rgb_to_yuv(255, 255, 255), (235, 128, 128));
        // 75% white 191: Y=((220*191+128)>>8)+16 = 164+16 = 180.
        assert_eq!(rgb_to_yuv(191, 191, 191), (180, 128, 128));
        // 75% red: Y=((66*191+128)>>8)+16 = 49+16 = 65; U=((-38*191+128)>>8)+128 = -28+128 = 100;
        // V=((112*191+128)>>8)+128 = 84+128 = 212.
        assert_eq!(rgb_to_yuv(191, 0, 0), (65, 100, 212));
    }

    #[test]
    fn round_trip_stays_within_one_step() {
        for &(r, g, b) in &[
            (191u8, 191u8, 0u8),
            (0, 191, 191),
            (191, 0, 191),
            (12, 200, 99),
        ] {
            let (y, u, v) = rgb_to_yuv(r, g, b);
            let back = yuv_to_xrgb(y, u, v).to_be_bytes();
            for (got, want) in back[1..].iter().zip([r, g, b]) {
                assert!(got.abs_diff(want) <= 2, "{:?} -> {:?}", (r, g, b), back);
            }
        }
    }

    #[test]
    fn nv12_uses_one_chroma_pair_per_2x2_block_and_honours_the_stride() {
        // 4x2 picture, stride 6 (2 padding bytes per row): Y rows, then one UV row.
        #[rustfmt::skip]
        let data = [
            180, 180, 65, 65, 9, 9,
            180, 180, 65, 65, 9, 9,
            128, 128, 100, 212, 9, 9,
        ];
        let frame = frame(PixelFormat::Nv12, 4, 2, 6, &data);
        let picture = Picture::new(&frame).unwrap();
        let mut out = Vec::new();
        to_xrgb(&picture, &mut out);
        assert_eq!(out, [0xBFBFBF, 0xBFBFBF, 0xBF0001, 0xBF0001].repeat(2));
    }

    #[test]
    fn yuy2_shares_chroma_between_pixel_pairs() {
        let data = [180, 128, 16, 128, 65, 100, 235, 212];
        let frame = frame(PixelFormat::Yuy2, 4, 1, 8, &data);
        let mut out = Vec::new();
        to_xrgb(&Picture::new(&frame).unwrap(), &mut out);
        // Second pair: Y=235 with U=100 V=212: c=298*219+128=65390, R=(65390+34356)>>8=389->255,
        // G=(65390+2800-17472)>>8=198, B=(65390-14448)>>8=198.
        assert_eq!(out, [0xBFBFBF, 0x000000, 0xBF0001, 0xFFC6C6]);
    }

    #[test]
    fn bottom_up_rgb_is_flipped_and_bgr_order_is_read() {
        // RGB24 2x2 stored bottom-up with stride 8: the first stored row is the bottom row.
        #[rustfmt::skip]
        let data = [
            0, 0, 255,  0, 255, 0,   0, 0,   // bottom: red, green
            255, 0, 0,  10, 20, 30,  0, 0,   // top: blue, (r30 g20 b10)
        ];
        let mut bottom_up = frame(PixelFormat::Rgb24, 2, 2, 8, &data);
        bottom_up.bottom_up = true;
        let mut out = Vec::new();
        to_xrgb(&Picture::new(&bottom_up).unwrap(), &mut out);
        assert_eq!(out, [0x0000FF, 0x1E140A, 0xFF0000, 0x00FF00]);

        let data32 = [1, 2, 3, 99, 4, 5, 6, 99];
        let frame32 = frame(PixelFormat::Rgb32, 2, 1, 8, &data32);
        to_xrgb(&Picture::new(&frame32).unwrap(), &mut out);
        assert_eq!(out, [0x030201, 0x060504]);

        let mut rgb8 = Vec::new();
        xrgb_to_rgb8(&out, &mut rgb8);
        assert_eq!(rgb8, [3, 2, 1, 6, 5, 4]);
    }

    #[test]
    fn bad_frames_are_rejected_with_the_numbers() {
        let data = [0u8; 128];
        let cases = [
            (
                frame(PixelFormat::Nv12, 3, 2, 4, &data),
                "even size, got 3x2",
            ),
            (
                frame(PixelFormat::Nv12, 4, 3, 4, &data),
                "even size, got 4x3",
            ),
            (
                frame(PixelFormat::Yuy2, 3, 2, 8, &data),
                "even size, got 3x2",
            ),
            (
                frame(PixelFormat::Rgb32, 4, 2, 15, &data),
                "stride 15 is below the row size 16",
            ),
            (
                frame(PixelFormat::Rgb24, 0, 2, 15, &data),
                "frame of 0x2 pixels",
            ),
            // 8x8 NV12, stride 8: 11 full rows + 8 bytes = 96 needed.
            (
                frame(PixelFormat::Nv12, 8, 8, 8, &data[..95]),
                "95 bytes, 96 needed",
            ),
            (
                frame(PixelFormat::Rgb32, 5, 5, 20, &data[..99]),
                "99 bytes, 100 needed",
            ),
        ];
        for (frame, expected) in cases {
            match Picture::new(&frame) {
                Err(ViewerError::BadFrame { reason }) => {
                    assert!(reason.contains(expected), "{reason:?} lacks {expected:?}")
                }
                other => panic!("{expected}: {other:?}"),
            }
        }
        let mut yuv_bottom_up = frame(PixelFormat::Yuy2, 2, 2, 4, &data);
        yuv_bottom_up.bottom_up = true;
        assert!(Picture::new(&yuv_bottom_up).is_err());
        // Exactly enough bytes pass, and the last row may stop right after its pixels.
        assert!(Picture::new(&frame(PixelFormat::Nv12, 8, 8, 8, &data[..96])).is_ok());
        assert!(Picture::new(&frame(PixelFormat::Rgb32, 4, 4, 32, &data[..3 * 32 + 16])).is_ok());
    }

    #[test]
    fn fit_keeps_the_aspect_ratio_and_centres() {
        assert_eq!(fit(320, 240, 320, 240), [0, 0, 320, 240]);
        assert_eq!(fit(320, 240, 640, 480), [0, 0, 640, 480]);
        // Wider window: pillarbox.
        assert_eq!(fit(320, 240, 800, 480), [80, 0, 640, 480]);
        // Taller window: letterbox.
        assert_eq!(fit(1920, 1080, 640, 480), [0, 60, 640, 360]);
        assert_eq!(fit(0, 240, 640, 480), [0, 0, 0, 0]);
    }

    #[test]
    fn scaling_doubles_pixels_and_fills_the_bars_black() {
        let src = [1, 2, 3, 4]; // 2x2
        let mut dst = vec![7u32; 6 * 4];
        let mut scaler = Scaler::new();
        scaler.scale(&src, 2, 2, &mut dst, 6, 4);
        #[rustfmt::skip]
        let expected = [
            0, 1, 1, 2, 2, 0,
            0, 1, 1, 2, 2, 0,
            0, 3, 3, 4, 4, 0,
            0, 3, 3, 4, 4, 0,
        ];
        assert_eq!(dst, expected);
        // Downscaling 4x1 -> 2x1 picks pixels 1 and 3 (centres of each half).
        let mut small = vec![0u32; 2];
        scaler.scale(&[10, 11, 12, 13], 4, 1, &mut small, 2, 1);
        assert_eq!(small, [11, 13]);
    }
}
