//! Pattern synthesis straight into a frame buffer, with whole-row operations.
//!
//! # Picture
//! The background ([`Pattern`]):
//! - [`Pattern::Bars75`] (the default), top to bottom: rows `[0, 2H/3)` the seven 75% bars of
//!   EIA-189-A / SMPTE EG 1, equal width across the full width (white, yellow, cyan, green,
//!   magenta, red, blue); rows `[2H/3, 3H/4)` the EG 1 castellations (blue, black, magenta,
//!   black, cyan, black, white); rows `[3H/4, 7H/8)` a grey ramp, 0% at the left to 100% at the
//!   right; rows `[7H/8, H)` black, where the square and the noise strip move;
//! - [`Pattern::Bars100`]: the same at 100%;
//! - [`Pattern::Ramp`], [`Pattern::Checkerboard`], [`Pattern::Solid`] (the configured colour);
//! - [`Pattern::ZonePlate`]: moving rings ([`zoneplate`]), computed per pixel and frame.
//!
//! The standard picture controls ([`Adjust`]: brightness, contrast, hue, saturation, gamma) are
//! applied to the background's colours, with integer arithmetic only; [`Flip`] mirrors it left to
//! right and top to bottom. Then each optional overlay ([`Overlays`]), drawn after the flip at
//! fixed places so that it stays readable, and never adjusted:
//! - a white square gliding left and right along the bottom band, one step per frame (its
//!   position is a function of the picture number);
//! - text lines at the top left in an 8x8 font on opaque black cells: `FRAME` (picture number),
//!   `T` (stream time), `DROP` (drop count), each on its own line whichever are shown, and on the
//!   fourth line the caption (up to 31 printable ASCII characters);
//! - noise from `rand`'s `SmallRng` confined to the bottom-right corner (the rightmost eighth of
//!   the bottom band, about 1/64 of the frame). Each noise row is seeded from (seed, picture
//!   number, row), so a frame renders the same whichever way it is split into bands.
//!
//! Edges of bars, bands and overlays fall on even pixels and rows ([`geometry`]), so 4:2:0 /
//! 4:2:2 chroma pairs never straddle two colours.
//!
//! # Speed and memory
//! Every distinct row of the background is built as a row template (plus its chroma row for
//! NV12) when the format is set and again when a control changes ([`Synthesizer::reconfigure`]);
//! so are the square's row segment and the font's 256 possible 8-pixel runs at the text scale,
//! once. A frame is then `copy_from_slice` of templates into each row, a few segment copies for
//! the overlays and a small noise loop: no per-pixel calls, no allocation, and no cost per frame
//! for any control value. The templates live in scratch memory the caller provides
//! ([`Synthesizer::scratch_len`] bytes, e.g. pool memory taken at STOP -> ACQUIRE), so this
//! module needs no allocator at all. The zone plate is the exception: per pixel, every frame.
//!
//! Rendering takes `&self`: [`Synthesizer::bands`] splits a frame buffer into disjoint row
//! bands that several threads can render at once with [`Synthesizer::render_band`].

pub mod adjust;
mod band;
pub mod colour;
pub mod font;
pub mod geometry;
mod overlay;
pub mod store;
pub mod zoneplate;

use core::ops::Range;

use crate::error::Error;
use crate::format::VideoFormat;
use crate::pixel::{FrameLayout, PixelFormat};
pub use adjust::Adjust;
pub use band::{FrameBand, FrameBands};
use colour::{bars, castellations, Colour, Levels, BAR_LEVEL};
use font::{overlay_text, CAPTION_COLUMNS, TEXT_LINES};
pub use geometry::OverlayGeometry;
use zoneplate::{ZonePlate, ZONE_GREY};

/// The background of the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// 75% colour bars, castellations, a grey ramp and a black band (see the module docs).
    Bars75,
    /// The same at 100%.
    Bars100,
    /// A full-height grey ramp, black at the left to white at the right.
    Ramp,
    /// Black and white squares of 16 x scale pixels.
    Checkerboard,
    /// One colour: [`SynthConfig::solid`].
    Solid,
    /// Moving concentric rings ([`zoneplate`]).
    ZonePlate,
}

impl Pattern {
    /// Every pattern, in the order of their `AVCAM_PATTERN_*` values.
    pub const ALL: [Pattern; 6] = [
        Pattern::Bars75,
        Pattern::Bars100,
        Pattern::Ramp,
        Pattern::Checkerboard,
        Pattern::Solid,
        Pattern::ZonePlate,
    ];

    /// The `AVCAM_PATTERN_*` value.
    pub const fn value(self) -> i32 {
        self as i32
    }

    /// The pattern of an `AVCAM_PATTERN_*` value.
    pub fn from_value(value: i32) -> Option<Pattern> {
        Pattern::ALL.into_iter().find(|p| p.value() == value)
    }
}

/// Which overlays are drawn over the background: a mask of the `AVCAM_OVERLAY_*` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlays(u32);

impl Overlays {
    /// The `FRAME` line.
    pub const FRAME_COUNTER: Overlays = Overlays(ks::avcam::AVCAM_OVERLAY_FRAME_COUNTER);
    /// The `T` line.
    pub const TIME: Overlays = Overlays(ks::avcam::AVCAM_OVERLAY_TIME);
    /// The `DROP` line.
    pub const DROP_COUNT: Overlays = Overlays(ks::avcam::AVCAM_OVERLAY_DROP_COUNT);
    /// The moving square.
    pub const MOVING_BOX: Overlays = Overlays(ks::avcam::AVCAM_OVERLAY_MOVING_BOX);
    /// The noise strip.
    pub const NOISE: Overlays = Overlays(ks::avcam::AVCAM_OVERLAY_NOISE);
    /// The caption line.
    pub const CAPTION: Overlays = Overlays(ks::avcam::AVCAM_OVERLAY_CAPTION);
    /// Everything.
    pub const ALL: Overlays = Overlays(0x3F);
    /// Nothing: the bare background.
    pub const NONE: Overlays = Overlays(0);

    /// The mask of `bits`, `None` if it has a bit no overlay has.
    pub const fn from_bits(bits: u32) -> Option<Overlays> {
        if bits & !Overlays::ALL.0 == 0 {
            Some(Overlays(bits))
        } else {
            None
        }
    }

    /// The mask's bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every overlay of `other` is drawn.
    pub const fn contains(self, other: Overlays) -> bool {
        self.0 & other.0 == other.0
    }

    /// These overlays and those of `other`.
    pub const fn with(self, other: Overlays) -> Overlays {
        Overlays(self.0 | other.0)
    }

    /// These overlays without those of `other`.
    pub const fn without(self, other: Overlays) -> Overlays {
        Overlays(self.0 & !other.0)
    }
}

/// The mirrorings of the background (`KS_VideoControlFlag_FlipHorizontal` / `_FlipVertical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flip {
    /// Left and right swapped.
    pub horizontal: bool,
    /// Top and bottom swapped.
    pub vertical: bool,
}

/// The caption overlay's text: up to [`CAPTION_COLUMNS`] printable ASCII characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caption {
    text: [u8; CAPTION_COLUMNS],
    len: u8,
}

impl Caption {
    /// No caption.
    pub const EMPTY: Caption = Caption {
        text: [0; CAPTION_COLUMNS],
        len: 0,
    };

    /// The caption of `text`, `None` if it is longer than [`CAPTION_COLUMNS`] or has a character
    /// outside 0x20..=0x7E.
    pub fn new(text: &[u8]) -> Option<Caption> {
        if text.len() > CAPTION_COLUMNS || !text.iter().all(|c| (0x20..=0x7E).contains(c)) {
            return None;
        }
        let mut caption = Caption::default();
        caption.text[..text.len()].copy_from_slice(text);
        caption.len = text.len() as u8;
        Some(caption)
    }

    /// The characters.
    pub fn as_bytes(&self) -> &[u8] {
        &self.text[..usize::from(self.len)]
    }
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
    /// [`Pattern::Solid`]'s colour, `0x00RRGGBB` (full-range R'G'B').
    pub solid: u32,
    /// The caption overlay's text.
    pub caption: Caption,
    /// The picture controls applied to the background.
    pub adjust: Adjust,
    /// The background's mirrorings.
    pub flip: Flip,
    /// Write the background with non-temporal stores ([`store`]): for frames that rotate
    /// through more memory than the last-level cache holds (a pin's pool of large frames);
    /// slower when the destination is cache-resident.
    pub streaming_stores: bool,
}

/// The default noise seed (`KSPROPERTY_AVCAM_NOISE_SEED`'s default).
pub const DEFAULT_SEED: u32 = 0x5EED_CA3E;
/// The default solid colour: mid grey.
pub const DEFAULT_SOLID: u32 = 0x0080_8080;

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            pattern: Pattern::Bars75,
            overlays: Overlays::ALL,
            seed: u64::from(DEFAULT_SEED),
            solid: DEFAULT_SOLID,
            caption: Caption::default(),
            adjust: Adjust::IDENTITY,
            flip: Flip::default(),
            streaming_stores: false,
        }
    }
}

/// What changes from frame to frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameInfo {
    /// Drives the square's position, the noise, the zone plate and the `FRAME` line.
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
/// Most background bands a pattern has (the checkerboard has `ceil(H / (16 * scale))` <= 24).
const MAX_BANDS: usize = 32;

/// A horizontal band of the background: picture rows up to `end` use template `template`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Band {
    end: usize,
    template: usize,
}

/// The zone plate's grey at each of its 256 phase steps as bytes, with the picture controls
/// applied: luma for YUV, the common value of R, G and B for RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ZoneLut {
    luma: [u8; 256],
    rgb: [u8; 256],
}

/// Renders frames of one format (see the module docs). `S` is the template scratch memory.
pub struct Synthesizer<S> {
    format: PixelFormat,
    width: usize,
    height: usize,
    layout: FrameLayout,
    bpp: usize,
    geo: OverlayGeometry,
    zone: ZonePlate,
    zone_lut: ZoneLut,
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
            zone: ZonePlate::new(width, height),
            zone_lut: ZoneLut {
                luma: [0; 256],
                rgb: [0; 256],
            },
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
        synth.build_overlay_templates();
        synth.build_background();
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

    /// Takes a new configuration (its `streaming_stores` is ignored: the stores stay chosen
    /// per render). The background's templates are rebuilt when the pattern, its colour, the
    /// picture controls or the flips changed (configure-time work, no allocation); overlays,
    /// seed and caption take effect at the next frame for free. Returns whether templates were
    /// rebuilt.
    pub fn reconfigure(&mut self, config: SynthConfig) -> bool {
        let old = self.config;
        self.config = SynthConfig {
            streaming_stores: old.streaming_stores,
            ..config
        };
        let rebuild = old.pattern != config.pattern
            || old.solid != config.solid
            || old.adjust != config.adjust
            || old.flip != config.flip;
        if rebuild {
            self.build_background();
        }
        rebuild
    }

    /// Gives the scratch memory back.
    pub fn into_scratch(self) -> S {
        self.scratch
    }

    /// Paints background template `t` (plane 0 and NV12 chroma) from the levels of each picture
    /// column, through the picture controls and the horizontal flip. Luma (and RGB) comes from
    /// each pixel's own column, chroma from its pair's first column.
    fn paint(&mut self, t: usize, levels_at: impl Fn(usize) -> Levels) {
        let (format, width) = (self.format, self.width);
        let (row_span, chroma_span) = (self.rows[t], self.chroma_rows[t]);
        let adjust = self.config.adjust;
        let mirror = self.config.flip.horizontal;
        // Neighbouring columns mostly share their levels: convert each run once.
        let mut last: Option<(Levels, Colour)> = None;
        let mut colour_at = |x: usize| {
            let levels = levels_at(if mirror { width - 1 - x } else { x });
            match last {
                Some((l, c)) if l == levels => c,
                _ => {
                    let c = adjust.colour(levels);
                    last = Some((levels, c));
                    c
                }
            }
        };
        let scratch = self.scratch.as_mut();
        let row = &mut scratch[row_span.range()];
        row.fill(0);
        for x in 0..width {
            let own = colour_at(x);
            match format {
                PixelFormat::Nv12 => row[x] = own.y,
                PixelFormat::Yuy2 => {
                    let pair = colour_at(x & !1);
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

    /// Builds the templates and the bands of the configured background, and the zone plate's
    /// look-up table (configure time; per-pixel work is fine here).
    fn build_background(&mut self) {
        let g = self.geo;
        let width = self.width;
        let height = self.height;
        let bar_at = move |x: usize| (0..7).rev().find(|&i| g.bar_edges[i] <= x).unwrap_or(0);
        let ramp = move |x: usize| Levels::grey((x * 1000 / (width - 1).max(1)) as u16);
        let mut bands = [Band::default(); MAX_BANDS];
        let count = match self.config.pattern {
            Pattern::Bars75 | Pattern::Bars100 => {
                let level = if self.config.pattern == Pattern::Bars75 {
                    BAR_LEVEL
                } else {
                    1000
                };
                let (bar_levels, castellation_levels) = (bars(level), castellations(level));
                self.paint(T_BARS, |x| bar_levels[bar_at(x)]);
                self.paint(T_CASTELLATIONS, |x| castellation_levels[bar_at(x)]);
                self.paint(T_RAMP, ramp);
                self.paint(T_BLACK, |_| Levels::grey(0));
                let ends = [g.bars_end, g.castellations_end, g.ramp_end, height];
                let templates = [T_BARS, T_CASTELLATIONS, T_RAMP, T_BLACK];
                for (i, (end, template)) in ends.into_iter().zip(templates).enumerate() {
                    bands[i] = Band { end, template };
                }
                4
            }
            Pattern::Ramp => {
                self.paint(T_RAMP, ramp);
                bands[0] = Band {
                    end: height,
                    template: T_RAMP,
                };
                1
            }
            Pattern::Solid => {
                let solid = Levels::from_rgb8(self.config.solid);
                self.paint(T_SOLID, |_| solid);
                bands[0] = Band {
                    end: height,
                    template: T_SOLID,
                };
                1
            }
            Pattern::Checkerboard => {
                let checker = g.checker;
                let square = move |x: usize, odd: bool| {
                    Levels::grey(if ((x / checker) % 2 == 1) != odd {
                        1000
                    } else {
                        0
                    })
                };
                self.paint(T_CHECK_A, |x| square(x, false));
                self.paint(T_CHECK_B, |x| square(x, true));
                // One band per row of squares; the last ends at the bottom (a part row, or all
                // the rows left should there be more than MAX_BANDS).
                let count = height.div_ceil(checker).min(MAX_BANDS);
                for (i, band) in bands[..count].iter_mut().enumerate() {
                    *band = Band {
                        end: if i + 1 == count {
                            height
                        } else {
                            (i + 1) * checker
                        },
                        template: if i % 2 == 0 { T_CHECK_A } else { T_CHECK_B },
                    };
                }
                count
            }
            Pattern::ZonePlate => 0,
        };
        if self.config.flip.vertical {
            // The same bands from the bottom up: band i ends where band count-2-i ended (the
            // zone plate has none).
            let mut flipped = [Band::default(); MAX_BANDS];
            for i in 0..count {
                let source = bands[count - 1 - i];
                let start = if count - 1 - i == 0 {
                    0
                } else {
                    bands[count - 2 - i].end
                };
                flipped[i] = Band {
                    end: height - start,
                    template: source.template,
                };
            }
            bands = flipped;
        }
        self.bands = bands;
        self.band_count = count;
        let adjust = self.config.adjust;
        for (i, grey) in ZONE_GREY.iter().enumerate() {
            let level = colour::div_round(i128::from(*grey) * 1000, 255) as u16;
            let c = adjust.colour(Levels::grey(level));
            self.zone_lut.luma[i] = c.y;
            self.zone_lut.rgb[i] = c.g;
        }
    }

    /// Builds the square's row segment and the font's runs (once: overlays are not adjusted).
    fn build_overlay_templates(&mut self) {
        let g = self.geo;
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
    pub(super) fn memory_rows(&self, band: &Range<usize>, y0: usize, y1: usize) -> Range<usize> {
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
    pub(super) fn picture_row(&self, m: usize) -> usize {
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
        let stride = band.stride;
        let cstride = band.chroma_stride;
        let needed = rows.len() * stride;
        if band.plane0.len() != needed
            || band.chroma.len() != rows.len() / 2 * cstride
            || rows.end > self.height
            || stride < self.layout.stride
            || (cstride > 0) != (self.layout.chroma_stride > 0)
        {
            return Err(Error::BufferTooSmall {
                len: band.plane0.len(),
                needed,
            });
        }
        if self.config.pattern == Pattern::ZonePlate {
            self.zone_plate(frame, band);
        } else {
            self.templates(band);
        }
        let overlays = self.config.overlays;
        if overlays.contains(Overlays::MOVING_BOX) {
            self.moving_box(frame, band);
        }
        if overlays.contains(Overlays::NOISE) {
            self.noise(frame, band);
        }
        // A picture too narrow for text has no text columns: the lines then draw nothing.
        let text = overlay_text(frame.picture_number, frame.stream_time, frame.drop_count);
        let lines = [
            Overlays::FRAME_COUNTER,
            Overlays::TIME,
            Overlays::DROP_COUNT,
        ];
        for (line, (chars, overlay)) in text.iter().zip(lines).enumerate() {
            if overlays.contains(overlay) {
                self.text_line(band, line, &chars[..self.geo.text_columns]);
            }
        }
        let caption = self.config.caption.as_bytes();
        if overlays.contains(Overlays::CAPTION) && !caption.is_empty() {
            let columns = caption.len().min(self.geo.caption_columns);
            self.text_line(band, TEXT_LINES, &caption[..columns]);
        }
        Ok(())
    }

    /// The bytes of `band` holding memory rows `r` of plane 0.
    pub(super) fn plane_rows(band: &FrameBand<'_>, r: &Range<usize>) -> Range<usize> {
        (r.start - band.rows.start) * band.stride..(r.end - band.rows.start) * band.stride
    }

    /// The bytes of `band`'s chroma plane holding the chroma rows of picture rows `y0..y1`.
    pub(super) fn chroma_bytes(band: &FrameBand<'_>, y0: usize, y1: usize) -> Range<usize> {
        let rows = &band.rows;
        let a = (y0 / 2).clamp(rows.start / 2, rows.end / 2);
        let b = (y1 / 2).clamp(a, rows.end / 2);
        (a - rows.start / 2) * band.chroma_stride..(b - rows.start / 2) * band.chroma_stride
    }

    /// The background from the row templates: one template copy per row.
    fn templates(&self, band: &mut FrameBand<'_>) {
        let scratch = self.scratch.as_ref();
        let streaming = self.config.streaming_stores;
        let nv12 = self.format == PixelFormat::Nv12;
        let rows = band.rows.clone();
        let mut top = 0;
        for b in &self.bands[..self.band_count] {
            let mem = self.memory_rows(&rows, top, b.end);
            let bytes = Self::plane_rows(band, &mem);
            let template = &scratch[self.rows[b.template].range()];
            store::fill_rows(&mut band.plane0[bytes], band.stride, template, streaming);
            if nv12 {
                let bytes = Self::chroma_bytes(band, top, b.end);
                let template = &scratch[self.chroma_rows[b.template].range()];
                store::fill_rows(
                    &mut band.chroma[bytes],
                    band.chroma_stride,
                    template,
                    streaming,
                );
            }
            top = b.end;
        }
        if streaming {
            // The overlays store into lines just streamed: order them after.
            store::fence();
        }
    }

    /// The zone plate, pixel by pixel, mirrored as configured.
    fn zone_plate(&self, frame: &FrameInfo, band: &mut FrameBand<'_>) {
        let n = frame.picture_number;
        let (width, stride) = (self.width, band.stride);
        let flip = self.config.flip;
        let lut = &self.zone_lut;
        let format = self.format;
        let first = band.rows.start;
        for (i, row) in band.plane0.chunks_exact_mut(stride).enumerate() {
            let y = self.picture_row(first + i);
            let y = if flip.vertical {
                self.height - 1 - y
            } else {
                y
            };
            match format {
                PixelFormat::Nv12 => {
                    self.zone.row(y, n, flip.horizontal, |x, phase| {
                        row[x] = lut.luma[usize::from(phase)];
                    });
                }
                PixelFormat::Yuy2 => {
                    self.zone.row(y, n, flip.horizontal, |x, phase| {
                        row[2 * x] = lut.luma[usize::from(phase)];
                        row[2 * x + 1] = 128;
                    });
                }
                PixelFormat::Rgb24 | PixelFormat::Rgb32 => {
                    let bpp = self.bpp;
                    self.zone.row(y, n, flip.horizontal, |x, phase| {
                        let v = lut.rgb[usize::from(phase)];
                        let px = &mut row[x * bpp..x * bpp + bpp];
                        px[..3].fill(v);
                        if bpp == 4 {
                            px[3] = 0xFF;
                        }
                    });
                }
            }
            let _ = width;
        }
        if format == PixelFormat::Nv12 {
            let cstride = band.chroma_stride;
            for row in band.chroma.chunks_exact_mut(cstride) {
                row[..width].fill(128);
            }
        }
    }
}

#[cfg(test)]
mod tests;
