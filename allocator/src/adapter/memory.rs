//! Pool memory: the one place that turns `ExAllocatePool2` blocks into Rust values.
//!
//! Everything the allocator owns comes from the pool (so the emulation's fault injector and leak
//! tracking see all of it), under three tags: the allocator object, its tables, and its frames.
//! The object and the tables are non-paged (they are touched under a spin lock); frames come from
//! the pool the framing names.

use core::ffi::c_void;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use avcam_kernel::{ExAllocatePool2, ExFreePoolWithTag};
use ks::nt::{POOL_FLAGS, POOL_FLAG_NON_PAGED};

use crate::error::Error;

/// Builds a pool tag from its four characters as they show in pool tools (`'avAo'`).
const fn tag(text: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*text)
}

/// The tag of allocator objects: `avAo`.
pub const OBJECT_TAG: u32 = tag(b"avAo");
/// The tag of the slot tables and hash indexes: `avAt`.
pub const TABLE_TAG: u32 = tag(b"avAt");
/// The tag of pool frames: `avAf`.
pub const FRAME_TAG: u32 = tag(b"avAf");

/// The alignment `ExAllocatePool2` guarantees for any block on x64.
const POOL_ALIGNMENT: usize = 16;

/// Allocates `bytes` from the pool; the memory is zeroed (no `POOL_FLAG_UNINITIALIZED`), so a
/// client never sees another component's data in a fresh frame.
pub fn allocate(flags: POOL_FLAGS, bytes: usize, tag: u32) -> Result<NonNull<c_void>, Error> {
    // SAFETY: ExAllocatePool2 accepts any flags and size and returns NULL when it cannot comply.
    let block = unsafe { ExAllocatePool2(flags, bytes, tag) };
    NonNull::new(block).ok_or(Error::OutOfMemory { bytes })
}

/// Gives a block back to the pool.
///
/// # Safety
/// `block` must come from [`allocate`] with the same `tag`, and must not be used afterwards.
pub unsafe fn free(block: NonNull<c_void>, tag: u32) {
    // SAFETY: the caller passes a live block of this tag and gives up every use of it.
    unsafe { ExFreePoolWithTag(block.as_ptr(), tag) };
}

/// An array of `T` in non-paged pool, freed when dropped.
pub struct PoolArray<T: Copy> {
    elements: NonNull<T>,
    len: usize,
}

// SAFETY: the array owns its block exclusively, like a Box<[T]>; sending it sends the Ts.
unsafe impl<T: Copy + Send> Send for PoolArray<T> {}
// SAFETY: shared access only hands out &[T], like a Box<[T]>.
unsafe impl<T: Copy + Sync> Sync for PoolArray<T> {}

impl<T: Copy> PoolArray<T> {
    const ALIGNMENT_FITS: () = assert!(core::mem::align_of::<T>() <= POOL_ALIGNMENT);

    /// `len` copies of `fill` in a new non-paged block tagged [`TABLE_TAG`].
    pub fn new(len: usize, fill: T) -> Result<PoolArray<T>, Error> {
        let () = Self::ALIGNMENT_FITS;
        let bytes = core::mem::size_of::<T>()
            .checked_mul(len.max(1))
            .ok_or(Error::OutOfMemory { bytes: usize::MAX })?;
        let elements = allocate(POOL_FLAG_NON_PAGED, bytes, TABLE_TAG)?.cast::<T>();
        for i in 0..len {
            let element = elements.as_ptr().wrapping_add(i);
            // SAFETY: the block holds `len` Ts (checked size, pool alignment >= align_of::<T>
            // by ALIGNMENT_FITS), and `i < len`.
            unsafe { element.write(fill) };
        }
        Ok(PoolArray { elements, len })
    }
}

impl<T: Copy> Deref for PoolArray<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `elements` points to `len` initialised Ts owned by self (see `new`).
        unsafe { core::slice::from_raw_parts(self.elements.as_ptr(), self.len) }
    }
}

impl<T: Copy> DerefMut for PoolArray<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as for `deref`, and `&mut self` makes this the only access.
        unsafe { core::slice::from_raw_parts_mut(self.elements.as_ptr(), self.len) }
    }
}

impl<T: Copy> Drop for PoolArray<T> {
    fn drop(&mut self) {
        // SAFETY: the block came from `allocate` with TABLE_TAG in `new` and dies with self.
        unsafe { free(self.elements.cast(), TABLE_TAG) };
    }
}
