//! Filling frame rows from a template, with ordinary stores or with non-temporal ("streaming")
//! stores that bypass the caches.
//!
//! A frame the camera renders is written once and then read by someone else (the client, or
//! the copy into its buffer). When the frames a pin cycles through are larger than the
//! last-level cache, every ordinary store first reads its destination line from memory (the
//! read-for-ownership), so a frame costs two memory transfers per line; streaming stores write
//! whole lines without reading them and cost one. When the destination is cache-resident (one
//! frame reused, or small frames) ordinary stores win, so the choice is the caller's
//! ([`super::SynthConfig::streaming_stores`]). Measured on a 2-core EPYC VM, a 4K NV12 ring of
//! four frames: ordinary 867 frames/s, streaming 1520; a single reused 1080p frame: ordinary
//! 14032, streaming 6629 (docs/performance.md).
//!
//! The streaming path is x86_64 SSE2 (`MOVNTDQ`, baseline on every x86_64 CPU, usable in kernel
//! mode: Windows x64 kernel code may use the XMM registers without saving state). Other
//! architectures fall back to ordinary copies, and so does Miri (`cfg(miri)`): it does not
//! implement `SFENCE`, and it could not tell a missing fence from a present one anyway (it has
//! no model of non-temporal stores), so under Miri the module runs its portable path and the
//! intrinsics are not interpreted. This is the crate's only `unsafe`: the intrinsics take raw
//! pointers.
#![allow(unsafe_code)]

/// Copies `template` into the first `template.len()` bytes of every `pitch`-byte row of `rows`
/// (the rest of each row untouched) with ordinary stores, or with streaming stores when
/// `streaming` (then followed by [`fence`] before the rows are written again by ordinary stores
/// or handed to another processor). Nothing is written when `pitch < template.len()`.
pub fn fill_rows(rows: &mut [u8], pitch: usize, template: &[u8], streaming: bool) {
    if template.is_empty() || pitch < template.len() {
        return;
    }
    for row in rows.chunks_exact_mut(pitch) {
        let row = &mut row[..template.len()];
        if streaming {
            stream_copy(row, template);
        } else {
            row.copy_from_slice(template);
        }
    }
}

/// Orders every streaming store made so far before the stores and loads that follow (an
/// `SFENCE`); a no-op where there are no streaming stores.
pub fn fence() {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: SFENCE has no operands and no preconditions; SSE is baseline on x86_64.
    unsafe {
        core::arch::x86_64::_mm_sfence()
    };
}

/// `dst.copy_from_slice(src)` with streaming stores for the 16-byte-aligned middle of `dst`.
fn stream_copy(dst: &mut [u8], src: &[u8]) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        use core::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
        const LANE: usize = 16;
        // Ordinary stores up to the first 16-byte-aligned destination byte, streaming stores
        // for whole aligned lanes, ordinary stores for the tail.
        let head = dst.as_ptr().align_offset(LANE).min(dst.len());
        let lanes = (dst.len() - head) / LANE;
        let body_end = head + lanes * LANE;
        dst[..head].copy_from_slice(&src[..head]);
        for lane in 0..lanes {
            let at = head + lane * LANE;
            let from = &src[at..at + LANE];
            let to = &mut dst[at..at + LANE];
            // SAFETY: `from` is 16 readable bytes (bounds-checked slice above); unaligned loads
            // are allowed by MOVDQU.
            let value = unsafe { _mm_loadu_si128(from.as_ptr().cast::<__m128i>()) };
            // SAFETY: `to` is 16 writable bytes starting at a 16-byte-aligned address (`head`
            // is the distance to alignment, and every lane is 16 bytes), as MOVNTDQ requires.
            unsafe { _mm_stream_si128(to.as_mut_ptr().cast::<__m128i>(), value) };
        }
        dst[body_end..].copy_from_slice(&src[body_end..]);
    }
    #[cfg(any(not(target_arch = "x86_64"), miri))]
    dst.copy_from_slice(src);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_and_ordinary_fills_write_the_same_bytes_at_every_alignment() {
        let template: [u8; 77] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        for offset in 0..17 {
            let mut a = [0u8; 17 + 77 * 5];
            let mut b = [0u8; 17 + 77 * 5];
            fill_rows(&mut a[offset..offset + 77 * 5], 77, &template, false);
            fill_rows(&mut b[offset..offset + 77 * 5], 77, &template, true);
            fence();
            assert_eq!(a, b, "offset {offset}");
            assert!(a[offset..offset + 77 * 5]
                .chunks_exact(77)
                .all(|row| row == template));
            assert!(a[..offset].iter().all(|&x| x == 0));
        }
    }

    #[test]
    fn rows_shorter_than_a_lane_and_an_empty_template_are_handled() {
        let mut rows = [9u8; 12];
        fill_rows(&mut rows, 3, &[1, 2, 3], true);
        assert_eq!(rows, [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
        fill_rows(&mut rows, 3, &[], true);
        assert_eq!(rows[0], 1);
    }

    #[test]
    fn a_wider_pitch_leaves_each_rows_padding_alone_in_both_store_kinds() {
        let template: [u8; 40] = core::array::from_fn(|i| i as u8 + 1);
        for streaming in [false, true] {
            let mut rows = [0xEEu8; 64 * 3];
            fill_rows(&mut rows, 64, &template, streaming);
            fence();
            for row in rows.chunks_exact(64) {
                assert_eq!(row[..40], template, "streaming {streaming}");
                assert!(
                    row[40..].iter().all(|&b| b == 0xEE),
                    "streaming {streaming}"
                );
            }
        }
        // A pitch shorter than the template writes nothing.
        let mut rows = [0u8; 8];
        fill_rows(&mut rows, 2, &[1, 2, 3], false);
        assert_eq!(rows, [0; 8]);
    }
}
