//! A frame buffer split into bands of whole rows ([`super::Synthesizer::bands`]): each band is
//! its plane-0 rows and the NV12 chroma rows under them, so threads can render disjoint bands.

use core::ops::Range;

/// A band of rows of one frame buffer, as memory rows `rows` of plane 0 (for bottom-up RGB,
/// memory row `m` is picture row `height - 1 - m`).
pub struct FrameBand<'a> {
    pub(super) rows: Range<usize>,
    pub(super) plane0: &'a mut [u8],
    pub(super) chroma: &'a mut [u8],
    /// Bytes from one memory row of plane 0 to the next (the frame's pitch).
    pub(super) stride: usize,
    /// Bytes from one chroma row to the next (NV12), else 0.
    pub(super) chroma_stride: usize,
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

/// The bands of one frame buffer, in memory order (see [`super::Synthesizer::bands`]).
pub struct FrameBands<'a> {
    pub(super) plane0: &'a mut [u8],
    pub(super) chroma: &'a mut [u8],
    pub(super) next: usize,
    pub(super) per_band: usize,
    pub(super) height: usize,
    pub(super) stride: usize,
    pub(super) chroma_stride: usize,
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
        let rows = self.per_band.min(self.height - self.next);
        let end = self.next + rows;
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
