//! The overlays, drawn over the background at fixed places (never flipped, never adjusted): the
//! moving square, the noise strip and the text lines. The noise is grey noise from `rand`'s
//! `SmallRng`, limited range for YUV, eight random bytes (one `next_u64`) per step, written with
//! fixed-size stores (a variable-length copy would be a `memcpy` call per step).

use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};

use super::font::{glyph, CELL};
use super::{FrameBand, FrameInfo, Synthesizer};
use crate::pixel::PixelFormat;

/// Noise row `y` of picture `n` comes from `SmallRng::seed_from_u64(seed ^ n * NOISE_PICTURE_MIX ^
/// y * NOISE_ROW_MIX)` (wrapping products; the odd constants of SplitMix64 and xxHash spread
/// neighbouring pictures and rows over the whole seed).
pub(super) const NOISE_PICTURE_MIX: u64 = 0x9E37_79B9_7F4A_7C15;
/// See [`NOISE_PICTURE_MIX`].
pub(super) const NOISE_ROW_MIX: u64 = 0xC2B2_AE3D_27D4_EB4F;

impl<S: AsRef<[u8]> + AsMut<[u8]>> Synthesizer<S> {
    /// The moving square: one segment copy per row.
    pub(super) fn moving_box(&self, frame: &FrameInfo, band: &mut FrameBand<'_>) {
        let g = &self.geo;
        let scratch = self.scratch.as_ref();
        let bpp = self.bpp;
        let x = g.box_left(frame.picture_number);
        let (y0, y1) = (g.box_top, g.box_top + g.box_size);
        let seg = &scratch[self.box_row.range()];
        let bytes = Self::plane_rows(band, &self.memory_rows(&band.rows, y0, y1));
        for row in band.plane0[bytes].chunks_exact_mut(band.stride) {
            row[x * bpp..(x + g.box_size) * bpp].copy_from_slice(seg);
        }
        if self.format == PixelFormat::Nv12 {
            let seg = &scratch[self.box_chroma.range()];
            let bytes = Self::chroma_bytes(band, y0, y1);
            for row in band.chroma[bytes].chunks_exact_mut(band.chroma_stride) {
                row[x..x + g.box_size].copy_from_slice(seg);
            }
        }
    }

    /// The noise strip, bottom right: each row from its own seed.
    pub(super) fn noise(&self, frame: &FrameInfo, band: &mut FrameBand<'_>) {
        let g = &self.geo;
        let bpp = self.bpp;
        let mem = self.memory_rows(&band.rows, g.ramp_end, self.height);
        let left = g.noise_left;
        let bytes = Self::plane_rows(band, &mem);
        for (i, row) in band.plane0[bytes].chunks_exact_mut(band.stride).enumerate() {
            let y = self.picture_row(mem.start + i) as u64;
            let seed = self.config.seed
                ^ frame.picture_number.wrapping_mul(NOISE_PICTURE_MIX)
                ^ y.wrapping_mul(NOISE_ROW_MIX);
            let mut rng = SmallRng::seed_from_u64(seed);
            noise_row(
                self.format,
                &mut rng,
                &mut row[left * bpp..self.width * bpp],
            );
        }
        if self.format == PixelFormat::Nv12 {
            let bytes = Self::chroma_bytes(band, g.ramp_end, self.height);
            for row in band.chroma[bytes].chunks_exact_mut(band.chroma_stride) {
                row[left..self.width].fill(128);
            }
        }
    }

    /// Text line `line` (0: the top one) of `chars`, one cell each: the first row of each glyph
    /// row's `scale` rows is one font-run copy per character; the others copy that row's text
    /// segment whole.
    pub(super) fn text_line(&self, band: &mut FrameBand<'_>, line: usize, chars: &[u8]) {
        let g = &self.geo;
        let scratch = self.scratch.as_ref();
        let font = &scratch[self.font.range()];
        let run = self.font_entry;
        let bpp = self.bpp;
        let rows = band.rows.clone();
        let stride = band.stride;
        let (x0, x1) = (g.text_left * bpp, g.text_left * bpp + chars.len() * run);
        let y0 = g.text_top + line * g.cell;
        for glyph_row in 0..CELL {
            let top = y0 + glyph_row * g.scale;
            let mem = self.memory_rows(&rows, top, top + g.scale);
            if mem.is_empty() {
                continue;
            }
            let first = (mem.start - rows.start) * stride;
            let dst = &mut band.plane0[first + x0..first + x1];
            for (cell, ch) in dst.chunks_exact_mut(run).zip(chars) {
                let bits = usize::from(glyph(*ch)[glyph_row]);
                cell.copy_from_slice(&font[bits * run..(bits + 1) * run]);
            }
            for m in mem.clone().skip(1) {
                band.plane0
                    .copy_within(first + x0..first + x1, (m - rows.start) * stride + x0);
            }
        }
        if self.format == PixelFormat::Nv12 {
            let x1 = g.text_left + chars.len() * g.cell;
            let bytes = Self::chroma_bytes(band, y0, y0 + g.cell);
            for row in band.chroma[bytes].chunks_exact_mut(band.chroma_stride) {
                row[g.text_left..x1].fill(128);
            }
        }
    }
}

/// Maps a random byte into BT.601 limited-range luma, 16..=235: `16 + (r * 220) >> 8`.
#[cfg(test)]
const fn limited_luma(r: u8) -> u8 {
    16 + ((r as u16 * 220) >> 8) as u8
}

/// [`limited_luma`] on the eight bytes of `x` at once (SWAR): the even and odd bytes are
/// multiplied in 16-bit lanes, where `255 * 220` cannot carry into the next lane.
pub(super) const fn limited_luma8(x: u64) -> u64 {
    const LANES: u64 = 0x00FF_00FF_00FF_00FF;
    let even = (((x & LANES) * 220) >> 8) & LANES;
    let odd = (((x >> 8) & LANES) * 220) & !LANES;
    (even | odd) + 0x1010_1010_1010_1010
}

/// Spreads the low four bytes of `x` into the even bytes of a u64, odd bytes 128: four YUY2
/// pixels of grey (`Y 80 Y 80 ...`).
pub(super) const fn yuy2_grey4(x: u64) -> u64 {
    let x = x & 0xFFFF_FFFF;
    let x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    let x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x | 0x8000_8000_8000_8000
}

/// Fills one row segment of the noise strip.
pub(super) fn noise_row(format: PixelFormat, rng: &mut SmallRng, seg: &mut [u8]) {
    match format {
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
                    px.copy_from_slice(&((u32::from(s) * 0x0001_0101) | 0xFF00_0000).to_le_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_rows_take_one_random_byte_a_pixel_in_every_format() {
        for pixels in [1, 5, 7, 8, 13, 16, 21] {
            for format in PixelFormat::ALL {
                let bpp = format.plane0_bytes_per_pixel();
                let mut seg = std::vec![0u8; pixels * bpp];
                noise_row(format, &mut SmallRng::seed_from_u64(5), &mut seg);
                // Pixel i is byte i % 8 of the rng's (i / 8)-th word.
                let mut rng = SmallRng::seed_from_u64(5);
                let mut word = [0u8; 8];
                for (i, px) in seg.chunks_exact(bpp).enumerate() {
                    if i % 8 == 0 {
                        word = rng.next_u64().to_le_bytes();
                    }
                    let s = word[i % 8];
                    let expected: &[u8] = match format {
                        PixelFormat::Nv12 => &[limited_luma(s)],
                        PixelFormat::Yuy2 => &[limited_luma(s), 128],
                        PixelFormat::Rgb24 => &[s, s, s],
                        PixelFormat::Rgb32 => &[s, s, s, 0xFF],
                    };
                    assert_eq!(px, expected, "{format:?}, {pixels} pixels: pixel {i}");
                }
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
}
