//! Frame writers for `record`: YUV4MPEG2 (`.y4m`) files and raw frames for `ffmpeg -f rawvideo`.
//!
//! Y4M stores planar YUV; each camera format maps to the planar layout that keeps its samples:
//! - NV12 -> `C420mpeg2` (I420 planes: Y, then U, then V at half width and height). NV12's chroma,
//!   as Microsoft defines it for 4:2:0 video, is MPEG-2 sited: co-sited with the left luma column
//!   and halfway between two luma rows. `C420jpeg` would claim centred chroma (halfway in both
//!   directions), `C420paldv` alternating siting; `C420mpeg2` is the one that matches, and the
//!   samples are copied unchanged.
//! - YUY2 -> `C422` (planar 4:2:2: Y, U, V with U and V at half width), samples unchanged.
//! - RGB24 / RGB32 -> `C444`: converted per pixel to BT.601 limited range
//!   ([`crate::convert::rgb_to_yuv`]), bottom-up rows flipped.
//!
//! Every header says `Ip` (progressive), `A1:1` (square pixels), `F<fps>:1` and
//! `XCOLORRANGE=LIMITED`. The plane buffers are allocated once per writer, so writing a frame
//! allocates nothing. Both writers keep the last frame they wrote, so that `record` can write it
//! again in the place of frames the camera skipped ([`Y4mWriter::repeat_last`],
//! [`RawWriter::repeat_last`]): the file's timeline stays that of the camera.

use std::io::Write;

use crate::camera::{PixelFormat, Size};
use crate::convert::{rgb_to_yuv, Picture};
use crate::error::ViewerError;

/// The Y4M colour space (`C` tag) a pixel format is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colorspace {
    /// 4:2:0 with MPEG-2 chroma siting, for NV12.
    C420Mpeg2,
    /// 4:2:2, for YUY2.
    C422,
    /// 4:4:4, for RGB converted to YUV.
    C444,
}

impl Colorspace {
    /// The colour space for `format`.
    pub fn for_format(format: PixelFormat) -> Self {
        match format {
            PixelFormat::Nv12 => Colorspace::C420Mpeg2,
            PixelFormat::Yuy2 => Colorspace::C422,
            PixelFormat::Rgb24 | PixelFormat::Rgb32 => Colorspace::C444,
        }
    }

    /// The header token, e.g. `C420mpeg2`.
    pub fn tag(self) -> &'static str {
        match self {
            Colorspace::C420Mpeg2 => "C420mpeg2",
            Colorspace::C422 => "C422",
            Colorspace::C444 => "C444",
        }
    }

    /// Chroma plane size for a `width` x `height` picture.
    pub fn chroma_size(self, width: usize, height: usize) -> (usize, usize) {
        match self {
            Colorspace::C420Mpeg2 => (width / 2, height / 2),
            Colorspace::C422 => (width / 2, height),
            Colorspace::C444 => (width, height),
        }
    }

    /// Bytes of one frame's planes (without the `FRAME` line).
    pub fn frame_bytes(self, width: usize, height: usize) -> usize {
        let (chroma_width, chroma_height) = self.chroma_size(width, height);
        width * height + 2 * chroma_width * chroma_height
    }
}

/// The stream header line, newline included.
pub fn header(format: PixelFormat, size: Size, fps: u32) -> String {
    format!(
        "YUV4MPEG2 W{} H{} F{fps}:1 Ip A1:1 {} XCOLORRANGE=LIMITED\n",
        size.width,
        size.height,
        Colorspace::for_format(format).tag()
    )
}

/// The marker line before each frame's planes.
pub const FRAME_MARKER: &[u8] = b"FRAME\n";

/// Writes a Y4M stream of frames of one format and size.
#[derive(Debug)]
pub struct Y4mWriter<W: Write> {
    out: W,
    format: PixelFormat,
    width: usize,
    height: usize,
    colorspace: Colorspace,
    luma: Vec<u8>,
    cb: Vec<u8>,
    cr: Vec<u8>,
    frames: u64,
}

impl<W: Write> Y4mWriter<W> {
    /// Writes the header for `format` at `size` and `fps`, and sizes the plane buffers.
    pub fn new(mut out: W, format: PixelFormat, size: Size, fps: u32) -> std::io::Result<Self> {
        out.write_all(header(format, size, fps).as_bytes())?;
        let (width, height) = (size.width as usize, size.height as usize);
        let colorspace = Colorspace::for_format(format);
        let (chroma_width, chroma_height) = colorspace.chroma_size(width, height);
        // Every plane is built here (NV12's Y rows copied without their padding), so the last
        // frame can be written again.
        let luma_len = width * height;
        Ok(Y4mWriter {
            out,
            format,
            width,
            height,
            colorspace,
            luma: vec![0; luma_len],
            cb: vec![0; chroma_width * chroma_height],
            cr: vec![0; chroma_width * chroma_height],
            frames: 0,
        })
    }

    /// The colour space being written.
    pub fn colorspace(&self) -> Colorspace {
        self.colorspace
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Writes one frame; it must have the writer's format and size.
    pub fn write_frame(&mut self, picture: &Picture<'_>) -> Result<(), ViewerError> {
        if picture.pixel_format() != self.format
            || picture.width() != self.width
            || picture.height() != self.height
        {
            return Err(ViewerError::BadFrame {
                reason: format!(
                    "a {} {}x{} frame in a {} {}x{} stream",
                    picture.pixel_format(),
                    picture.width(),
                    picture.height(),
                    self.format,
                    self.width,
                    self.height
                ),
            });
        }
        self.fill_planes(picture);
        self.repeat_last()
    }

    /// Writes the last frame again (after [`Y4mWriter::write_frame`]; before it, a frame of
    /// zeros).
    pub fn repeat_last(&mut self) -> Result<(), ViewerError> {
        self.write_planes()
            .map_err(|e| ViewerError::io("the Y4M stream", e))?;
        self.frames += 1;
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    /// Copies, deinterleaves or converts `picture` into the plane buffers.
    fn fill_planes(&mut self, picture: &Picture<'_>) {
        let width = self.width;
        match self.format {
            PixelFormat::Nv12 => {
                for (y, luma) in self.luma.chunks_exact_mut(width).enumerate() {
                    luma.copy_from_slice(&picture.row(y)[..width]);
                }
                let half = width / 2;
                for (cy, (cb, cr)) in self
                    .cb
                    .chunks_exact_mut(half)
                    .zip(self.cr.chunks_exact_mut(half))
                    .enumerate()
                {
                    for ((u, v), uv) in cb
                        .iter_mut()
                        .zip(cr.iter_mut())
                        .zip(picture.chroma_row(cy).chunks_exact(2))
                    {
                        *u = uv[0];
                        *v = uv[1];
                    }
                }
            }
            PixelFormat::Yuy2 => {
                let half = width / 2;
                for (y, ((luma, cb), cr)) in self
                    .luma
                    .chunks_exact_mut(width)
                    .zip(self.cb.chunks_exact_mut(half))
                    .zip(self.cr.chunks_exact_mut(half))
                    .enumerate()
                {
                    for (((pair, u), v), yuyv) in luma
                        .chunks_exact_mut(2)
                        .zip(cb.iter_mut())
                        .zip(cr.iter_mut())
                        .zip(picture.row(y).chunks_exact(4))
                    {
                        pair[0] = yuyv[0];
                        *u = yuyv[1];
                        pair[1] = yuyv[2];
                        *v = yuyv[3];
                    }
                }
            }
            PixelFormat::Rgb24 | PixelFormat::Rgb32 => {
                let bytes = if self.format == PixelFormat::Rgb24 {
                    3
                } else {
                    4
                };
                for (y, ((luma, cb), cr)) in self
                    .luma
                    .chunks_exact_mut(width)
                    .zip(self.cb.chunks_exact_mut(width))
                    .zip(self.cr.chunks_exact_mut(width))
                    .enumerate()
                {
                    for (((l, u), v), bgr) in luma
                        .iter_mut()
                        .zip(cb.iter_mut())
                        .zip(cr.iter_mut())
                        .zip(picture.row(y).chunks_exact(bytes))
                    {
                        (*l, *u, *v) = rgb_to_yuv(bgr[2], bgr[1], bgr[0]);
                    }
                }
            }
        }
    }

    /// Writes `FRAME` and the three planes.
    fn write_planes(&mut self) -> std::io::Result<()> {
        self.out.write_all(FRAME_MARKER)?;
        self.out.write_all(&self.luma)?;
        self.out.write_all(&self.cb)?;
        self.out.write_all(&self.cr)
    }
}

/// Writes raw frames ([`write_raw_frame`]'s layout) and keeps the last one, packed, to write it
/// again ([`RawWriter::repeat_last`]). The buffer grows once, to one frame.
#[derive(Debug)]
pub struct RawWriter<W: Write> {
    out: W,
    last: Vec<u8>,
    frames: u64,
}

impl<W: Write> RawWriter<W> {
    /// A writer into `out`.
    pub fn new(out: W) -> Self {
        RawWriter {
            out,
            last: Vec::new(),
            frames: 0,
        }
    }

    /// Packs `picture` and writes it.
    pub fn write_frame(&mut self, picture: &Picture<'_>) -> std::io::Result<()> {
        self.last.clear();
        write_raw_frame(&mut self.last, picture)?;
        self.repeat_last()
    }

    /// Writes the last frame again (nothing before the first).
    pub fn repeat_last(&mut self) -> std::io::Result<()> {
        self.out.write_all(&self.last)?;
        self.frames += 1;
        Ok(())
    }

    /// Frames written so far, repeats included.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The `ffmpeg -pix_fmt` name of the raw frames [`write_raw_frame`] writes.
pub fn ffmpeg_pix_fmt(format: PixelFormat) -> &'static str {
    match format {
        PixelFormat::Nv12 => "nv12",
        PixelFormat::Yuy2 => "yuyv422",
        PixelFormat::Rgb24 => "bgr24",
        PixelFormat::Rgb32 => "bgr0",
    }
}

/// Writes `picture` as one raw frame in its own pixel format, rows packed (no stride padding)
/// and top-down (bottom-up RGB is flipped), as `ffmpeg -f rawvideo` reads it. Allocates nothing.
pub fn write_raw_frame(out: &mut dyn Write, picture: &Picture<'_>) -> std::io::Result<()> {
    for y in 0..picture.height() {
        out.write_all(picture.row(y))?;
    }
    if picture.pixel_format() == PixelFormat::Nv12 {
        for cy in 0..picture.height() / 2 {
            out.write_all(picture.chroma_row(cy))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::{Frame, FrameMemory};

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
            memory: FrameMemory::PinAllocator,
            arrival_time: None,
            discontinuity: false,
        }
    }

    #[test]
    fn headers_name_size_rate_and_colour_space() {
        assert_eq!(
            header(PixelFormat::Nv12, Size::new(1280, 720), 30),
            "YUV4MPEG2 W1280 H720 F30:1 Ip A1:1 C420mpeg2 XCOLORRANGE=LIMITED\n"
        );
        assert!(header(PixelFormat::Yuy2, Size::new(2, 2), 60).contains(" F60:1 Ip A1:1 C422 "));
        assert!(header(PixelFormat::Rgb32, Size::new(2, 2), 1).contains(" C444 "));
        assert_eq!(Colorspace::C420Mpeg2.frame_bytes(4, 2), 8 + 2 + 2);
        assert_eq!(Colorspace::C422.frame_bytes(4, 2), 8 + 4 + 4);
        assert_eq!(Colorspace::C444.frame_bytes(4, 2), 24);
    }

    #[test]
    fn nv12_becomes_i420_planes_without_the_stride_padding() {
        // 4x2, stride 5: Y rows (with one padding byte), then the UV row u0 v0 u1 v1.
        #[rustfmt::skip]
        let data = [
            1, 2, 3, 4, 99,
            5, 6, 7, 8, 99,
            10, 20, 11, 21, 99,
        ];
        let frame = frame(PixelFormat::Nv12, 4, 2, 5, &data);
        let mut writer =
            Y4mWriter::new(Vec::new(), PixelFormat::Nv12, Size::new(4, 2), 30).unwrap();
        let picture = Picture::new(&frame).unwrap();
        writer.write_frame(&picture).unwrap();
        writer.write_frame(&picture).unwrap();
        assert_eq!(writer.frames(), 2);
        let out = writer.finish().unwrap();
        let header = header(PixelFormat::Nv12, Size::new(4, 2), 30);
        let body = b"FRAME\n\x01\x02\x03\x04\x05\x06\x07\x08\x0a\x0b\x14\x15";
        let mut expected = header.into_bytes();
        expected.extend_from_slice(body);
        expected.extend_from_slice(body);
        assert_eq!(out, expected);
    }

    #[test]
    fn yuy2_becomes_422_planes() {
        let data = [1, 10, 2, 20, 3, 11, 4, 21, 5, 12, 6, 22, 7, 13, 8, 23];
        let frame = frame(PixelFormat::Yuy2, 4, 2, 8, &data);
        let mut writer =
            Y4mWriter::new(Vec::new(), PixelFormat::Yuy2, Size::new(4, 2), 25).unwrap();
        writer.write_frame(&Picture::new(&frame).unwrap()).unwrap();
        let out = writer.finish().unwrap();
        let planes = &out[out.len() - 16..];
        assert_eq!(&out[out.len() - 22..out.len() - 16], b"FRAME\n");
        assert_eq!(
            planes,
            [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 20, 21, 22, 23]
        );
    }

    #[test]
    fn bottom_up_rgb_becomes_top_down_444() {
        // 1x2 RGB24 bottom-up: stored first is the bottom pixel (75% red), then the top (black).
        let data = [0, 0, 191, 0, 0, 0];
        let mut frame = frame(PixelFormat::Rgb24, 1, 2, 3, &data);
        frame.bottom_up = true;
        let mut writer =
            Y4mWriter::new(Vec::new(), PixelFormat::Rgb24, Size::new(1, 2), 30).unwrap();
        writer.write_frame(&Picture::new(&frame).unwrap()).unwrap();
        let out = writer.finish().unwrap();
        // Y plane top, bottom; U plane; V plane (black = 16/128/128, red = 65/100/212).
        assert_eq!(&out[out.len() - 6..], [16, 65, 128, 100, 128, 212]);
    }

    #[test]
    fn frames_of_another_size_are_rejected() {
        let data = [0u8; 64];
        let frame = frame(PixelFormat::Rgb32, 2, 2, 8, &data);
        let mut writer =
            Y4mWriter::new(Vec::new(), PixelFormat::Rgb32, Size::new(4, 2), 30).unwrap();
        let error = writer
            .write_frame(&Picture::new(&frame).unwrap())
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("a rgb32 2x2 frame in a rgb32 4x2 stream"),
            "{error}"
        );
    }

    #[test]
    fn both_writers_repeat_the_last_frame_exactly() {
        #[rustfmt::skip]
        let first = [
            1, 2, 3, 4, 99,
            5, 6, 7, 8, 99,
            10, 20, 11, 21, 99,
        ];
        let second = [7u8; 15];
        let mut y4m = Y4mWriter::new(Vec::new(), PixelFormat::Nv12, Size::new(4, 2), 30).unwrap();
        let mut raw = RawWriter::new(Vec::new());
        for data in [&first, &second] {
            let frame = frame(PixelFormat::Nv12, 4, 2, 5, data);
            let picture = Picture::new(&frame).unwrap();
            y4m.write_frame(&picture).unwrap();
            raw.write_frame(&picture).unwrap();
            y4m.repeat_last().unwrap();
            raw.repeat_last().unwrap();
        }
        assert_eq!((y4m.frames(), raw.frames()), (4, 4));
        let first_planes: &[u8] = b"FRAME\n\x01\x02\x03\x04\x05\x06\x07\x08\x0a\x0b\x14\x15";
        let second_planes: &[u8] = b"FRAME\n\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07";
        let mut expected = header(PixelFormat::Nv12, Size::new(4, 2), 30).into_bytes();
        for planes in [first_planes, first_planes, second_planes, second_planes] {
            expected.extend_from_slice(planes);
        }
        assert_eq!(y4m.finish().unwrap(), expected);
        let raw_first: &[u8] = &[1, 2, 3, 4, 5, 6, 7, 8, 10, 20, 11, 21];
        let raw_second: &[u8] = &[7; 12];
        assert_eq!(
            raw.finish().unwrap(),
            [raw_first, raw_first, raw_second, raw_second].concat()
        );
    }

    #[test]
    fn raw_frames_are_packed_and_top_down() {
        let data = [1, 2, 3, 99, 4, 5, 6, 99, 7, 8, 9, 99];
        let frame = frame(PixelFormat::Nv12, 2, 2, 4, &data);
        let mut out = Vec::new();
        write_raw_frame(&mut out, &Picture::new(&frame).unwrap()).unwrap();
        assert_eq!(out, [1, 2, 4, 5, 7, 8]);

        let rgb = [1, 1, 1, 2, 2, 2];
        let mut flipped = self::frame(PixelFormat::Rgb24, 1, 2, 3, &rgb);
        flipped.bottom_up = true;
        out.clear();
        write_raw_frame(&mut out, &Picture::new(&flipped).unwrap()).unwrap();
        assert_eq!(out, [2, 2, 2, 1, 1, 1]);
        assert_eq!(ffmpeg_pix_fmt(PixelFormat::Yuy2), "yuyv422");
    }
}
