//! Pattern synthesis straight into a frame buffer, with whole-row operations.
//!
//! # Picture
//! The default pattern, [`Pattern::Bars`], top to bottom:
//! - rows `[0, 2H/3)`: the seven 75% bars of EIA-189-A / SMPTE EG 1, equal width across the
//!   full width: white, yellow, cyan, green, magenta, red, blue;
//! - rows `[2H/3, 3H/4)`: the EG 1 castellations (blue, black, magenta, black, cyan, black, white);
//! - rows `[3H/4, 7H/8)`: a grey ramp, 0% at the left to 100% at the right;
//! - rows `[7H/8, H)`: black, where the overlays move.
//!
//! Other patterns replace that background: [`Pattern::Ramp`], [`Pattern::Checkerboard`],
//! [`Pattern::Solid`]. Over any background, each optional ([`Overlays`]):
//! - a white square gliding left and right along the bottom band, one step per frame, so motion
//!   is visible (its position is a function of the picture number);
//! - three text lines at the top left in a built-in 8x8 font on opaque black cells:
//!   `FRAME` (picture number), `T` (presentation time), `DROP` (drop count);
//! - noise from `rand`'s `SmallRng` confined to the bottom-right corner (the rightmost eighth
//!   of the bottom band, about 1/64 of the frame), so it shows the frame changing without
//!   costing a whole-frame random fill. Each noise row is seeded from (seed, picture number,
//!   row), so a frame renders the same whichever way it is split into bands.
//!
//! Edges of bars, bands and overlays fall on even pixels and rows, so 4:2:0 / 4:2:2 chroma
//! pairs never straddle two colours.
//!
//! # Speed and memory
//! Every distinct row of the background is built once, when the format is set, as a row
//! template (plus its chroma row for NV12); so are the square's row segment and the font's 256
//! possible 8-pixel runs at the text scale. A frame is then `copy_from_slice` of templates into
//! each row, a few segment copies for the overlays and a small noise loop: no per-pixel calls,
//! no allocation. The templates live in scratch memory the caller provides
//! ([`Synthesizer::scratch_len`] bytes, e.g. pool memory taken at STOP -> ACQUIRE), so this
//! module needs no allocator at all.
//!
//! Rendering takes `&self`: [`Synthesizer::bands`] splits a frame buffer into disjoint row
//! bands that several threads can render at once with [`Synthesizer::render_band`].

pub mod colour;
pub mod font;
pub mod store;

use core::ops::Range;

use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};

use crate::error::Error;
use crate::format::VideoFormat;
use crate::pixel::{FrameLayout, PixelFormat};
use colour::{Colour, BARS, CASTELLATIONS};
use font::{glyph, overlay_text, CELL, TEXT_COLUMNS, TEXT_LINES};

/// The background of the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// 75% colour bars, castellations, a grey ramp and a black band (see the module docs).
    Bars,
    /// A full-height grey ramp, black at the left to white at the right.
    Ramp,
    /// Black and white squares of 16 x scale pixels.
    Checkerboard,
    /// One colour.
    Solid(Colour),
}

/// Which overlays are drawn over the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlays {
    /// The moving square.
    pub moving_box: bool,
    /// The frame counter, timestamp and drop count.
    pub text: bool,
    /// The noise patch.
    pub noise: bool,
}

impl Overlays {
    /// Everything.
    pub const ALL: Overlays = Overlays {
        moving_box: true,
        text: true,
        noise: true,
    };
    /// Nothing: the bare background.
    pub const NONE: Overlays = Overlays {
        moving_box: false,
        text: false,
        noise: false,
    };
}

/// What to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthConfig {
    /// The background.
    pub pattern: Pattern,
    /// The overlays.
    pub overlays: Overlays,
    /// The noise seed.
    pub seed: u64,
    /// Write the background with non-temporal stores ([`store`]): for frames that rotate
    /// through more memory than the last-level cache holds (a pin's pool of large frames);
    /// slower when the destination is cache-resident.
    pub streaming_stores: bool,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            pattern: Pattern::Bars,
            overlays: Overlays::ALL,
            seed: 0x5EED_CA3E,
            streaming_stores: false,
        }
    }
}

/// What changes from frame to frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameInfo {
    /// Drives the square's position, the noise and the `FRAME` line.
    pub picture_number: u64,
    /// The `T` line: the frame's stream time (100 ns from the first frame).
    pub stream_time: i64,
    /// The `DROP` line.
    pub drop_count: u64,
}

impl From<&crate::clock::FrameStamp> for FrameInfo {
    fn from(stamp: &crate::clock::FrameStamp) -> Self {
        FrameInfo {
            picture_number: stamp.picture_number,
            stream_time: stamp.stream_time,
            drop_count: stamp.drop_count,
        }
    }
}

/// Where things are in the picture (picture coordinates: row 0 is the top, for every format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverlayGeometry {
    /// Text and square scale: `max(1, height / 240)`.
    pub scale: usize,
    /// Bar `i` spans columns `bar_edges[i]..bar_edges[i + 1]`.
    pub bar_edges: [usize; 8],
    /// End row of the bars.
    pub bars_end: usize,
    /// End row of the castellations.
    pub castellations_end: usize,
    /// End row of the ramp band; the black bottom band follows.
    pub ramp_end: usize,
    /// Left column of the first text cell.
    pub text_left: usize,
    /// Top row of the first text line.
    pub text_top: usize,
    /// Cell size in pixels: `8 * scale`.
    pub cell: usize,
    /// Text columns drawn.
    pub text_columns: usize,
    /// Side of the square.
    pub box_size: usize,
    /// Top row of the square.
    pub box_top: usize,
    /// Columns the square's left edge sweeps: `0..=box_travel`.
    pub box_travel: usize,
    /// Pixels the square moves per frame.
    pub box_speed: usize,
    /// Left column of the noise patch (it spans `ramp_end..height` rows, to the right edge).
    pub noise_left: usize,
    /// Checkerboard square side.
    pub checker: usize,
}

impl OverlayGeometry {
    /// The geometry of a `width` x `height` picture.
    pub const fn new(width: usize, height: usize) -> OverlayGeometry {
        const fn even(v: usize) -> usize {
            v & !1
        }
        let scale = if height / 240 > 1 { height / 240 } else { 1 };
        let mut bar_edges = [0usize; 8];
        let mut i = 0;
        while i < 8 {
            bar_edges[i] = even(i * width / 7);
            i += 1;
        }
        bar_edges[7] = width;
        let ramp_end = even(height * 7 / 8);
        let band = height - ramp_end;
        let box_size = if even(band / 2) > 2 {
            even(band / 2)
        } else {
            2
        };
        let noise_left = even(width - width / 8);
        let cell = CELL * scale;
        let text_left = cell;
        let fit = (width - text_left) / cell;
        OverlayGeometry {
            scale,
            bar_edges,
            bars_end: even(height * 2 / 3),
            castellations_end: even(height * 3 / 4),
            ramp_end,
            text_left,
            text_top: cell,
            cell,
            text_columns: if fit < TEXT_COLUMNS {
                fit
            } else {
                TEXT_COLUMNS
            },
            box_size,
            box_top: ramp_end + even((band - box_size) / 2),
            box_travel: noise_left.saturating_sub(box_size),
            box_speed: if even(width / 160) > 2 {
                even(width / 160)
            } else {
                2
            },
            noise_left,
            checker: 16 * scale,
        }
    }

    /// The square's left column at `picture_number`: a triangle wave over `0..=box_travel`.
    pub const fn box_left(&self, picture_number: u64) -> usize {
        if self.box_travel == 0 {
            return 0;
        }
        let period = 2 * self.box_travel as u64;
        let p = (picture_number % period) * self.box_speed as u64 % period;
        let p = p as usize;
        let x = if p <= self.box_travel {
            p
        } else {
            2 * self.box_travel - p
        };
        x & !1
    }
}

/// A byte range inside the scratch memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Span {
    start: usize,
    len: usize,
}

impl Span {
    fn range(self) -> Range<usize> {
        self.start..self.start + self.len
    }
}

/// Background row templates.
const T_BARS: usize = 0;
const T_CASTELLATIONS: usize = 1;
const T_RAMP: usize = 2;
const T_BLACK: usize = 3;
const T_CHECK_A: usize = 4;
const T_CHECK_B: usize = 5;
const T_SOLID: usize = 6;
const TEMPLATE_COUNT: usize = 7;
/// Most background bands a pattern has (the checkerboard has `ceil(H / (16 * scale))` <= 16).
const MAX_BANDS: usize = 32;

/// A horizontal band of the background: rows up to `end` use template `template`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Band {
    end: usize,
    template: usize,
}

/// Renders frames of one format (see the module docs). `S` is the template scratch memory.
pub struct Synthesizer<S> {
    format: PixelFormat,
    width: usize,
    height: usize,
    layout: FrameLayout,
    bpp: usize,
    geo: OverlayGeometry,
    config: SynthConfig,
    scratch: S,
    rows: [Span; TEMPLATE_COUNT],
    chroma_rows: [Span; TEMPLATE_COUNT],
    box_row: Span,
    box_chroma: Span,
    font: Span,
    font_entry: usize,
    bands: [Band; MAX_BANDS],
    band_count: usize,
}

/// A band of rows of one frame buffer, as memory rows `rows` of plane 0 (for bottom-up RGB,
/// memory row `m` is picture row `height - 1 - m`).
pub struct FrameBand<'a> {
    rows: Range<usize>,
    plane0: &'a mut [u8],
    chroma: &'a mut [u8],
    /// Bytes from one memory row of plane 0 to the next (the frame's pitch).
    stride: usize,
    /// Bytes from one chroma row to the next (NV12), else 0.
    chroma_stride: usize,
}

impl core::fmt::Debug for FrameBand<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrameBand")
            .field("rows", &self.rows)
            .field("plane0_len", &self.plane0.len())
            .field("chroma_len", &self.chroma.len())
            .finish()
    }
}

impl FrameBand<'_> {
    /// The memory rows of plane 0 this band covers.
    pub fn rows(&self) -> Range<usize> {
        self.rows.clone()
    }
}

/// The bands of one frame buffer, in memory order (see [`Synthesizer::bands`]).
pub struct FrameBands<'a> {
    plane0: &'a mut [u8],
    chroma: &'a mut [u8],
    next: usize,
    per_band: usize,
    height: usize,
    stride: usize,
    chroma_stride: usize,
}

impl core::fmt::Debug for FrameBands<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrameBands")
            .field("next_row", &self.next)
            .field("rows_per_band", &self.per_band)
            .finish()
    }
}

impl<'a> Iterator for FrameBands<'a> {
    type Item = FrameBand<'a>;

    fn next(&mut self) -> Option<FrameBand<'a>> {
        if self.next >= self.height {
            return None;
        }
        let end = (self.next + self.per_band).min(self.height);
        let rows = end - self.next;
        let (plane0, rest) = core::mem::take(&mut self.plane0).split_at_mut(rows * self.stride);
        self.plane0 = rest;
        let chroma_len = (rows / 2 * self.chroma_stride).min(self.chroma.len());
        let (chroma, rest) = core::mem::take(&mut self.chroma).split_at_mut(chroma_len);
        self.chroma = rest;
        let band = FrameBand {
            rows: self.next..end,
            plane0,
            chroma,
            stride: self.stride,
            chroma_stride: self.chroma_stride,
        };
        self.next = end;
        Some(band)
    }
}

/// Writes colour `c` as pixel `x` of a plane-0 row (YUY2 chroma from the pair's first pixel is
/// the caller's business: it passes the pair's colour for both).
fn put_pixel(format: PixelFormat, row: &mut [u8], x: usize, c: Colour) {
    match format {
        PixelFormat::Nv12 => row[x] = c.y,
        PixelFormat::Yuy2 => {
            row[2 * x] = c.y;
            row[2 * x + 1] = if x % 2 == 0 { c.cb } else { c.cr };
        }
        PixelFormat::Rgb24 => row[3 * x..3 * x + 3].copy_from_slice(&[c.b, c.g, c.r]),
        PixelFormat::Rgb32 => row[4 * x..4 * x + 4].copy_from_slice(&[c.b, c.g, c.r, 0xFF]),
    }
}

/// Maps a random byte into BT.601 limited-range luma, 16..=235: `16 + (r * 220) >> 8`.
#[cfg(test)]
const fn limited_luma(r: u8) -> u8 {
    16 + ((r as u16 * 220) >> 8) as u8
}

/// [`limited_luma`] on the eight bytes of `x` at once (SWAR): the even and odd bytes are
/// multiplied in 16-bit lanes, where `255 * 220` cannot carry into the next lane.
const fn limited_luma8(x: u64) -> u64 {
    const LANES: u64 = 0x00FF_00FF_00FF_00FF;
    let even = (((x & LANES) * 220) >> 8) & LANES;
    let odd = (((x >> 8) & LANES) * 220) & !LANES;
    (even | odd) + 0x1010_1010_1010_1010
}

/// Spreads the low four bytes of `x` into the even bytes of a u64, odd bytes 128: four YUY2
/// pixels of grey (`Y 80 Y 80 ...`).
const fn yuy2_grey4(x: u64) -> u64 {
    let x = x & 0xFFFF_FFFF;
    let x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    let x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x | 0x8000_8000_8000_8000
}

impl<S: AsRef<[u8]> + AsMut<[u8]>> Synthesizer<S> {
    /// Bytes of scratch memory a synthesizer for `format` needs.
    pub fn scratch_len(format: &VideoFormat) -> usize {
        let layout = format.layout();
        let size = format.size();
        let geo = OverlayGeometry::new(size.width as usize, size.height as usize);
        let bpp = format.pixel_format().plane0_bytes_per_pixel();
        let box_chroma = if layout.chroma_stride > 0 {
            geo.box_size
        } else {
            0
        };
        TEMPLATE_COUNT * (layout.stride + layout.chroma_stride)
            + geo.box_size * bpp
            + box_chroma
            + 256 * geo.cell * bpp
    }

    /// Builds the templates of `format` in `scratch` (at least [`Synthesizer::scratch_len`]
    /// bytes, else [`Error::BufferTooSmall`]).
    pub fn new(
        format: &VideoFormat,
        config: SynthConfig,
        scratch: S,
    ) -> Result<Synthesizer<S>, Error> {
        let needed = Synthesizer::<S>::scratch_len(format);
        if scratch.as_ref().len() < needed {
            return Err(Error::BufferTooSmall {
                len: scratch.as_ref().len(),
                needed,
            });
        }
        let size = format.size();
        let (width, height) = (size.width as usize, size.height as usize);
        let layout = format.layout();
        let pixel = format.pixel_format();
        let bpp = pixel.plane0_bytes_per_pixel();
        let geo = OverlayGeometry::new(width, height);
        let mut next = 0;
        let mut take = |len: usize| {
            let span = Span { start: next, len };
            next += len;
            span
        };
        let rows = core::array::from_fn(|_| take(layout.stride));
        let chroma_rows = core::array::from_fn(|_| take(layout.chroma_stride));
        let box_row = take(geo.box_size * bpp);
        let box_chroma = take(if layout.chroma_stride > 0 {
            geo.box_size
        } else {
            0
        });
        let font_entry = geo.cell * bpp;
        let font = take(256 * font_entry);
        let mut synth = Synthesizer {
            format: pixel,
            width,
            height,
            layout,
            bpp,
            geo,
            config,
            scratch,
            rows,
            chroma_rows,
            box_row,
            box_chroma,
            font,
            font_entry,
            bands: [Band::default(); MAX_BANDS],
            band_count: 0,
        };
        synth.build_templates();
        synth.set_pattern(config.pattern);
        Ok(synth)
    }

    /// The overlay geometry.
    pub const fn geometry(&self) -> &OverlayGeometry {
        &self.geo
    }

    /// The configuration.
    pub const fn config(&self) -> &SynthConfig {
        &self.config
    }

    /// Switches between ordinary and streaming stores for the next renders
    /// ([`SynthConfig::streaming_stores`]; no rebuild needed).
    pub fn set_streaming_stores(&mut self, streaming: bool) {
        self.config.streaming_stores = streaming;
    }

    /// Switches the overlays (no rebuild needed).
    pub fn set_overlays(&mut self, overlays: Overlays) {
        self.config.overlays = overlays;
    }

    /// Switches the background pattern (repaints one template for [`Pattern::Solid`]).
    pub fn set_pattern(&mut self, pattern: Pattern) {
        self.config.pattern = pattern;
        let g = self.geo;
        let mut bands = [Band::default(); MAX_BANDS];
        let count = match pattern {
            Pattern::Bars => {
                bands[0] = Band {
                    end: g.bars_end,
                    template: T_BARS,
                };
                bands[1] = Band {
                    end: g.castellations_end,
                    template: T_CASTELLATIONS,
                };
                bands[2] = Band {
                    end: g.ramp_end,
                    template: T_RAMP,
                };
                bands[3] = Band {
                    end: self.height,
                    template: T_BLACK,
                };
                4
            }
            Pattern::Ramp => {
                bands[0] = Band {
                    end: self.height,
                    template: T_RAMP,
                };
                1
            }
            Pattern::Solid(colour) => {
                self.paint(T_SOLID, |_| colour);
                bands[0] = Band {
                    end: self.height,
                    template: T_SOLID,
                };
                1
            }
            Pattern::Checkerboard => {
                let mut count = 0;
                let mut end = 0;
                while end < self.height && count < MAX_BANDS {
                    end = (end + g.checker).min(self.height);
                    let template = if count % 2 == 0 { T_CHECK_A } else { T_CHECK_B };
                    bands[count] = Band { end, template };
                    count += 1;
                }
                bands[count - 1].end = self.height;
                count
            }
        };
        self.bands = bands;
        self.band_count = count;
    }

    /// Gives the scratch memory back.
    pub fn into_scratch(self) -> S {
        self.scratch
    }

    /// Paints background template `t` (plane 0 and NV12 chroma) from a colour per column.
    /// Luma (and RGB) comes from each pixel's own column, chroma from its pair's first column.
    fn paint(&mut self, t: usize, colour_at: impl Fn(usize) -> Colour) {
        let (format, width) = (self.format, self.width);
        let (row_span, chroma_span) = (self.rows[t], self.chroma_rows[t]);
        let scratch = self.scratch.as_mut();
        let row = &mut scratch[row_span.range()];
        row.fill(0);
        for x in 0..width {
            let own = colour_at(x);
            let pair = colour_at(x & !1);
            match format {
                PixelFormat::Nv12 => row[x] = own.y,
                PixelFormat::Yuy2 => {
                    row[2 * x] = own.y;
                    row[2 * x + 1] = if x % 2 == 0 { pair.cb } else { pair.cr };
                }
                PixelFormat::Rgb24 | PixelFormat::Rgb32 => put_pixel(format, row, x, own),
            }
        }
        if format == PixelFormat::Nv12 {
            let chroma = &mut scratch[chroma_span.range()];
            for x in (0..width).step_by(2) {
                let c = colour_at(x);
                chroma[x] = c.cb;
                chroma[x + 1] = c.cr;
            }
        }
    }

    /// Builds every template (configure time; per-pixel work is fine here).
    fn build_templates(&mut self) {
        let g = self.geo;
        let width = self.width;
        let bar_at = move |x: usize| (0..7).rev().find(|&i| g.bar_edges[i] <= x).unwrap_or(0);
        self.paint(T_BARS, |x| BARS[bar_at(x)]);
        self.paint(T_CASTELLATIONS, |x| CASTELLATIONS[bar_at(x)]);
        let span = (width - 1).max(1);
        self.paint(T_RAMP, |x| Colour::grey((x * 1000 / span) as u16));
        self.paint(T_BLACK, |_| Colour::BLACK);
        let checker = g.checker;
        let square = move |x: usize, odd: bool| {
            if ((x / checker) % 2 == 1) != odd {
                Colour::WHITE
            } else {
                Colour::BLACK
            }
        };
        self.paint(T_CHECK_A, |x| square(x, false));
        self.paint(T_CHECK_B, |x| square(x, true));

        let format = self.format;
        let (box_row, box_chroma, font, entry) =
            (self.box_row, self.box_chroma, self.font, self.font_entry);
        let scale = g.scale;
        let scratch = self.scratch.as_mut();
        let seg = &mut scratch[box_row.range()];
        for x in 0..g.box_size {
            put_pixel(format, seg, x, Colour::WHITE);
        }
        let seg = &mut scratch[box_chroma.range()];
        for pair in seg.chunks_exact_mut(2) {
            pair.copy_from_slice(&[Colour::WHITE.cb, Colour::WHITE.cr]);
        }
        let table = &mut scratch[font.range()];
        for (bits, run) in table.chunks_exact_mut(entry).enumerate() {
            for x in 0..g.cell {
                let on = (bits >> (7 - x / scale)) & 1 == 1;
                put_pixel(
                    format,
                    run,
                    x,
                    if on { Colour::WHITE } else { Colour::BLACK },
                );
            }
        }
    }

    /// Splits `buf` (a whole frame) into about `count` bands of whole, even row counts, in
    /// memory order, for [`Synthesizer::render_band`] on several threads.
    pub fn bands<'a>(&self, buf: &'a mut [u8], count: usize) -> Result<FrameBands<'a>, Error> {
        self.bands_with_pitch(buf, count, self.layout.stride)
    }

    /// [`Synthesizer::bands`] of a frame whose rows lie `pitch` bytes apart (at least the
    /// format's own stride, else [`Error::InvalidPitch`]): a client's surface pitch
    /// (`KS_FRAME_INFO.lSurfacePitch`). NV12's chroma plane follows the luma plane at
    /// `pitch * height`, its rows `pitch` apart too; bytes between a row's end and the next
    /// row are left as they are. `buf` must hold [`Synthesizer::frame_bytes`]`(pitch)` bytes.
    pub fn bands_with_pitch<'a>(
        &self,
        buf: &'a mut [u8],
        count: usize,
        pitch: usize,
    ) -> Result<FrameBands<'a>, Error> {
        let l = self.layout;
        let needed = self.frame_bytes(pitch)?;
        if buf.len() < needed {
            return Err(Error::BufferTooSmall {
                len: buf.len(),
                needed,
            });
        }
        let plane0_size = pitch * self.height;
        let (plane0, rest) = buf.split_at_mut(plane0_size);
        let chroma = &mut rest[..needed - plane0_size];
        let per_band = (self.height.div_ceil(count.max(1)) + 1) & !1;
        Ok(FrameBands {
            plane0,
            chroma,
            next: 0,
            per_band: per_band.max(2),
            height: self.height,
            stride: pitch,
            chroma_stride: if l.chroma_stride > 0 { pitch } else { 0 },
        })
    }

    /// Bytes a frame occupies when its rows lie `pitch` bytes apart: `pitch` times the rows of
    /// every plane (`biSizeImage` at the format's own stride); [`Error::InvalidPitch`] when
    /// `pitch` is shorter than a row.
    pub fn frame_bytes(&self, pitch: usize) -> Result<usize, Error> {
        self.layout
            .bytes_at_pitch(pitch)
            .ok_or(Error::InvalidPitch {
                pitch,
                row: self.layout.stride,
            })
    }

    /// Renders a whole frame into `buf` (at least `biSizeImage` bytes).
    pub fn render(&self, frame: &FrameInfo, buf: &mut [u8]) -> Result<(), Error> {
        self.render_with_pitch(frame, buf, self.layout.stride)
    }

    /// Renders a whole frame into `buf` with its rows `pitch` bytes apart (see
    /// [`Synthesizer::bands_with_pitch`]).
    pub fn render_with_pitch(
        &self,
        frame: &FrameInfo,
        buf: &mut [u8],
        pitch: usize,
    ) -> Result<(), Error> {
        for mut band in self.bands_with_pitch(buf, 1, pitch)? {
            self.render_band(frame, &mut band)?;
        }
        Ok(())
    }

    /// The memory rows (clipped to `band`) holding picture rows `y0..y1`.
    fn memory_rows(&self, band: &Range<usize>, y0: usize, y1: usize) -> Range<usize> {
        let (a, b) = if self.format.is_bottom_up() {
            (self.height - y1, self.height - y0)
        } else {
            (y0, y1)
        };
        let a = a.clamp(band.start, band.end);
        let b = b.clamp(a, band.end);
        a..b
    }

    /// The picture row of memory row `m`.
    fn picture_row(&self, m: usize) -> usize {
        if self.format.is_bottom_up() {
            self.height - 1 - m
        } else {
            m
        }
    }

    /// Renders one band of a frame (from [`Synthesizer::bands`] of a synthesizer of the same
    /// format). A band can be rendered again and again (a worker thread keeps its band).
    pub fn render_band(&self, frame: &FrameInfo, band: &mut FrameBand<'_>) -> Result<(), Error> {
        let rows = band.rows.clone();
        let (plane0, chroma) = (&mut *band.plane0, &mut *band.chroma);
        let stride = band.stride;
        let cstride = band.chroma_stride;
        let needed = rows.len() * stride;
        if plane0.len() != needed
            || chroma.len() != rows.len() / 2 * cstride
            || rows.end > self.height
            || stride < self.layout.stride
            || (cstride > 0) != (self.layout.chroma_stride > 0)
        {
            return Err(Error::BufferTooSmall {
                len: plane0.len(),
                needed,
            });
        }
        let scratch = self.scratch.as_ref();
        let nv12 = self.format == PixelFormat::Nv12;
        // Rows of plane 0 for memory rows `r` (absolute), as a slice of this band.
        let band_rows =
            |r: &Range<usize>| (r.start - rows.start) * stride..(r.end - rows.start) * stride;
        let chroma_rows = |y0: usize, y1: usize| {
            let a = (y0 / 2).clamp(rows.start / 2, rows.end / 2);
            let b = (y1 / 2).clamp(a, rows.end / 2);
            (a - rows.start / 2) * cstride..(b - rows.start / 2) * cstride
        };

        // 1. Background: one template copy per row.
        let streaming = self.config.streaming_stores;
        let mut top = 0;
        for b in &self.bands[..self.band_count] {
            let mem = self.memory_rows(&rows, top, b.end);
            let template = &scratch[self.rows[b.template].range()];
            store::fill_rows(&mut plane0[band_rows(&mem)], stride, template, streaming);
            if nv12 {
                let template = &scratch[self.chroma_rows[b.template].range()];
                store::fill_rows(
                    &mut chroma[chroma_rows(top, b.end)],
                    cstride,
                    template,
                    streaming,
                );
            }
            top = b.end;
        }
        if streaming {
            // The overlays below store into lines just streamed: order them after.
            store::fence();
        }

        let g = &self.geo;
        let bpp = self.bpp;
        let overlays = self.config.overlays;

        // 2. The moving square: one segment copy per row.
        if overlays.moving_box {
            let x = g.box_left(frame.picture_number);
            let (y0, y1) = (g.box_top, g.box_top + g.box_size);
            let seg = &scratch[self.box_row.range()];
            for row in plane0[band_rows(&self.memory_rows(&rows, y0, y1))].chunks_exact_mut(stride)
            {
                row[x * bpp..(x + g.box_size) * bpp].copy_from_slice(seg);
            }
            if nv12 {
                let seg = &scratch[self.box_chroma.range()];
                for row in chroma[chroma_rows(y0, y1)].chunks_exact_mut(cstride) {
                    row[x..x + g.box_size].copy_from_slice(seg);
                }
            }
        }

        // 3. Noise, confined to the bottom-right patch.
        if overlays.noise {
            let mem = self.memory_rows(&rows, g.ramp_end, self.height);
            let left = g.noise_left;
            for (i, row) in plane0[band_rows(&mem)].chunks_exact_mut(stride).enumerate() {
                let y = self.picture_row(mem.start + i) as u64;
                let seed = self.config.seed
                    ^ frame.picture_number.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    ^ y.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
                let mut rng = SmallRng::seed_from_u64(seed);
                self.noise_row(&mut rng, &mut row[left * bpp..self.width * bpp]);
            }
            if nv12 {
                for row in chroma[chroma_rows(g.ramp_end, self.height)].chunks_exact_mut(cstride) {
                    row[left..self.width].fill(128);
                }
            }
        }

        // 4. Text: the first row of each glyph row's `scale` rows is one font-run copy per
        // character; the others copy that row's text segment whole.
        if overlays.text && g.text_columns > 0 {
            let text = overlay_text(frame.picture_number, frame.stream_time, frame.drop_count);
            let (y0, y1) = (g.text_top, g.text_top + TEXT_LINES * g.cell);
            let font = &scratch[self.font.range()];
            let run = self.font_entry;
            let (x0, x1) = (g.text_left * bpp, g.text_left * bpp + g.text_columns * run);
            for (line, chars) in text.iter().enumerate() {
                for glyph_row in 0..CELL {
                    let top = y0 + line * g.cell + glyph_row * g.scale;
                    let mem = self.memory_rows(&rows, top, top + g.scale);
                    if mem.is_empty() {
                        continue;
                    }
                    let first = (mem.start - rows.start) * stride;
                    let dst = &mut plane0[first + x0..first + x1];
                    for (cell, ch) in dst.chunks_exact_mut(run).zip(&chars[..g.text_columns]) {
                        let bits = usize::from(glyph(*ch)[glyph_row]);
                        cell.copy_from_slice(&font[bits * run..(bits + 1) * run]);
                    }
                    for m in mem.start + 1..mem.end {
                        plane0.copy_within(first + x0..first + x1, (m - rows.start) * stride + x0);
                    }
                }
            }
            if nv12 {
                let x1 = g.text_left + g.text_columns * g.cell;
                for row in chroma[chroma_rows(y0, y1)].chunks_exact_mut(cstride) {
                    row[g.text_left..x1].fill(128);
                }
            }
        }
        Ok(())
    }

    /// Fills one row segment of the noise patch: grey noise, limited range for YUV; eight
    /// random bytes (one `next_u64`) per step, written with fixed-size stores (a variable-length
    /// copy would be a `memcpy` call per step).
    fn noise_row(&self, rng: &mut SmallRng, seg: &mut [u8]) {
        match self.format {
            PixelFormat::Nv12 => {
                let mut chunks = seg.chunks_exact_mut(8);
                for chunk in &mut chunks {
                    chunk.copy_from_slice(&limited_luma8(rng.next_u64()).to_le_bytes());
                }
                let rest = chunks.into_remainder();
                let y = limited_luma8(rng.next_u64()).to_le_bytes();
                for (d, s) in rest.iter_mut().zip(y) {
                    *d = s;
                }
            }
            PixelFormat::Yuy2 => {
                let mut chunks = seg.chunks_exact_mut(16);
                for chunk in &mut chunks {
                    let y = limited_luma8(rng.next_u64());
                    chunk[..8].copy_from_slice(&yuy2_grey4(y).to_le_bytes());
                    chunk[8..].copy_from_slice(&yuy2_grey4(y >> 32).to_le_bytes());
                }
                let rest = chunks.into_remainder();
                let y = limited_luma8(rng.next_u64());
                let mut px = [0u8; 16];
                px[..8].copy_from_slice(&yuy2_grey4(y).to_le_bytes());
                px[8..].copy_from_slice(&yuy2_grey4(y >> 32).to_le_bytes());
                for (d, s) in rest.iter_mut().zip(px) {
                    *d = s;
                }
            }
            PixelFormat::Rgb32 => {
                for chunk in seg.chunks_mut(32) {
                    let r = rng.next_u64().to_le_bytes();
                    for (px, s) in chunk.chunks_exact_mut(4).zip(r) {
                        px.copy_from_slice(
                            &((u32::from(s) * 0x0001_0101) | 0xFF00_0000).to_le_bytes(),
                        );
                    }
                }
            }
            PixelFormat::Rgb24 => {
                for chunk in seg.chunks_mut(24) {
                    let r = rng.next_u64().to_le_bytes();
                    for (px, s) in chunk.chunks_exact_mut(3).zip(r) {
                        px.copy_from_slice(&[s, s, s]);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pixel::FrameSize;
    use std::vec;
    use std::vec::Vec;

    fn synth(
        format: PixelFormat,
        size: FrameSize,
        config: SynthConfig,
    ) -> (Synthesizer<Vec<u8>>, Vec<u8>) {
        let f = VideoFormat::new(format, size, 333_333).unwrap();
        let scratch = vec![0u8; Synthesizer::<Vec<u8>>::scratch_len(&f)];
        let s = Synthesizer::new(&f, config, scratch).unwrap();
        (s, vec![0u8; f.image_size() as usize])
    }

    #[test]
    fn too_little_scratch_or_frame_is_refused() {
        let f = VideoFormat::new(PixelFormat::Yuy2, FrameSize::QVGA, 333_333).unwrap();
        let needed = Synthesizer::<Vec<u8>>::scratch_len(&f);
        let err = Synthesizer::new(&f, SynthConfig::default(), vec![0u8; needed - 1]).err();
        assert_eq!(
            err,
            Some(Error::BufferTooSmall {
                len: needed - 1,
                needed
            })
        );
        let (s, _) = synth(PixelFormat::Yuy2, FrameSize::QVGA, SynthConfig::default());
        let mut short = vec![0u8; 1000];
        assert!(s.render(&FrameInfo::default(), &mut short).is_err());
    }

    #[test]
    fn band_rendering_equals_whole_frame_rendering() {
        for format in PixelFormat::ALL {
            let (s, mut whole) = synth(format, FrameSize::VGA, SynthConfig::default());
            let frame = FrameInfo {
                picture_number: 77,
                stream_time: 25_666_641,
                drop_count: 3,
            };
            s.render(&frame, &mut whole).unwrap();
            for count in [2, 3, 7, 480] {
                let mut banded = vec![0xAAu8; whole.len()];
                let mut covered = 0;
                for mut band in s.bands(&mut banded, count).unwrap() {
                    covered += band.rows().len();
                    s.render_band(&frame, &mut band).unwrap();
                }
                assert_eq!(covered, 480);
                assert!(banded == whole, "{format:?} in {count} bands");
            }
        }
    }

    #[test]
    fn every_byte_is_written() {
        for format in PixelFormat::ALL {
            for pattern in [
                Pattern::Bars,
                Pattern::Ramp,
                Pattern::Checkerboard,
                Pattern::Solid(Colour::WHITE),
            ] {
                let config = SynthConfig {
                    pattern,
                    overlays: Overlays::NONE,
                    seed: 1,
                    streaming_stores: false,
                };
                let (s, mut a) = synth(format, FrameSize::QVGA, config);
                let mut b = vec![0xFFu8; a.len()];
                s.render(&FrameInfo::default(), &mut a).unwrap();
                s.render(&FrameInfo::default(), &mut b).unwrap();
                assert!(
                    a == b,
                    "{format:?} {pattern:?}: a byte depends on the old contents"
                );
            }
        }
    }

    #[test]
    fn streaming_stores_render_the_same_frame() {
        for format in PixelFormat::ALL {
            for pattern in [Pattern::Bars, Pattern::Checkerboard] {
                let ordinary = SynthConfig {
                    pattern,
                    ..SynthConfig::default()
                };
                let streaming = SynthConfig {
                    streaming_stores: true,
                    ..ordinary
                };
                let (s, mut a) = synth(format, FrameSize::QVGA, ordinary);
                let (t, _) = synth(format, FrameSize::QVGA, streaming);
                let mut b = vec![0x5Au8; a.len()];
                let info = FrameInfo {
                    picture_number: 41,
                    stream_time: 13_666_666,
                    drop_count: 2,
                };
                s.render(&info, &mut a).unwrap();
                t.render(&info, &mut b).unwrap();
                assert!(a == b, "{format:?} {pattern:?}: streaming stores differ");
            }
        }
    }

    #[test]
    fn swar_luma_matches_the_scalar_mapping() {
        for b in 0..=255u8 {
            let x = u64::from_le_bytes([b, 255 - b, b / 2, 0, 255, b, 1, b ^ 0x55]);
            let y = limited_luma8(x).to_le_bytes();
            for (out, inp) in y.iter().zip(x.to_le_bytes()) {
                assert_eq!(*out, limited_luma(inp));
            }
        }
        assert_eq!(
            yuy2_grey4(0x0000_0000_4433_2211).to_le_bytes(),
            [0x11, 128, 0x22, 128, 0x33, 128, 0x44, 128]
        );
    }

    #[test]
    fn the_square_sweeps_and_turns_back() {
        let g = OverlayGeometry::new(1920, 1080);
        assert_eq!(g.box_left(0), 0);
        assert_eq!(g.box_left(1), g.box_speed);
        let xs: Vec<usize> = (0..2000).map(|n| g.box_left(n)).collect();
        assert!(xs.iter().all(|&x| x <= g.box_travel && x % 2 == 0));
        assert!(
            xs.iter().any(|&x| x + g.box_speed > g.box_travel),
            "reaches the far end"
        );
        assert!(
            g.noise_left >= g.box_travel + g.box_size,
            "never runs into the noise patch"
        );
    }
}
