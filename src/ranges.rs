//! The capture pin's data ranges as ks.sys sees them: a `KSDATARANGE*` table over the core's
//! `KS_CAPTURE_RANGES`, and the lookup from a range pointer ks.sys hands back
//! (`MatchingDataRange` in the intersect handler) to its index.

use core::ffi::c_void;
use core::ptr::null;

use avstream::ranges::{KS_CAPTURE_RANGES, RANGE_COUNT};

/// A read-only table shared by every thread.
#[repr(transparent)]
pub struct Shared<T>(pub T);

// SAFETY: the wrapped tables and descriptors are never written after compilation (ks.sys and
// the driver only read them), and what their pointers point to is itself static and immutable.
unsafe impl<T> Sync for Shared<T> {}

/// `KSDATARANGE*` table of the capture pin: one pointer per `KS_CAPTURE_RANGES` entry.
pub static CAPTURE_RANGE_POINTERS: Shared<[*const c_void; RANGE_COUNT]> = Shared({
    let mut table = [null::<c_void>(); RANGE_COUNT];
    let mut i = 0;
    while i < RANGE_COUNT {
        table[i] = (&raw const KS_CAPTURE_RANGES[i]).cast();
        i += 1;
    }
    table
});

/// The capture range at `range` (a `MatchingDataRange` handed back by ks.sys), if it is one of
/// the capture pin's.
pub fn capture_range_index(range: *const c_void) -> Option<usize> {
    CAPTURE_RANGE_POINTERS.0.iter().position(|&p| p == range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_pointer_is_found_and_others_are_not() {
        for (i, &p) in CAPTURE_RANGE_POINTERS.0.iter().enumerate() {
            assert_eq!(capture_range_index(p), Some(i));
        }
        assert_eq!(capture_range_index(null()), None);
        let other = 0u8;
        assert_eq!(capture_range_index((&raw const other).cast()), None);
    }
}
