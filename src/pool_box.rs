//! Owned values and byte buffers in the kernel pool (`ExAllocatePool2`, tag
//! [`crate::identity::POOL_TAG`]), used for the pin's context and the synthesizer's scratch, so
//! that they come from the kernel pool on every platform: on Linux the emulation's pool tracking
//! then sees them (and proves they are freed), where the Rust global allocator would be std's.

use core::mem::{align_of, size_of};
use core::ops::Deref;
use core::ptr::NonNull;

use avcam_kernel::{ExAllocatePool2, ExFreePoolWithTag};
use ks::nt::POOL_FLAG_NON_PAGED;

use crate::identity::POOL_TAG;
use crate::pool::POOL_ALIGNMENT;

/// `ExAllocatePool2(POOL_FLAG_NON_PAGED, bytes, POOL_TAG)` (zero-filled, 16-byte aligned).
fn allocate(bytes: usize) -> Option<NonNull<u8>> {
    // SAFETY: a plain pool request; callable at IRQL <= DISPATCH_LEVEL.
    NonNull::new(unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, bytes.max(1), POOL_TAG) }.cast())
}

/// A `T` in its own pool block (`T`'s alignment at most the pool's).
pub struct PoolBox<T> {
    value: NonNull<T>,
}

impl<T> PoolBox<T> {
    /// Moves `value` into the pool; `None` (and `value` dropped) if the pool is exhausted.
    pub fn new(value: T) -> Option<PoolBox<T>> {
        const { assert!(align_of::<T>() <= POOL_ALIGNMENT) };
        let block = allocate(size_of::<T>())?.cast::<T>();
        // SAFETY: a fresh block of size_of::<T>() bytes, aligned for T (asserted above).
        unsafe { block.as_ptr().write(value) };
        Some(PoolBox { value: block })
    }

    /// Gives up ownership: the pointer to hand to C (e.g. `KSPIN.Context`).
    pub fn into_raw(self) -> *mut T {
        let raw = self.value.as_ptr();
        core::mem::forget(self);
        raw
    }

    /// Takes ownership back.
    ///
    /// # Safety
    /// `raw` came from [`PoolBox::into_raw`] and is not used afterwards.
    pub unsafe fn from_raw(raw: *mut T) -> PoolBox<T> {
        PoolBox {
            // SAFETY: into_raw never returns null (the caller's guarantee).
            value: unsafe { NonNull::new_unchecked(raw) },
        }
    }
}

impl<T> Deref for PoolBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the block holds a live T, owned by this box.
        unsafe { self.value.as_ref() }
    }
}

impl<T> Drop for PoolBox<T> {
    fn drop(&mut self) {
        // SAFETY: the block holds a live T, dropped once here.
        unsafe { self.value.as_ptr().drop_in_place() };
        // SAFETY: the block came from ExAllocatePool2 with POOL_TAG and is not used afterwards.
        unsafe { ExFreePoolWithTag(self.value.as_ptr().cast(), POOL_TAG) };
    }
}

/// A zero-filled byte buffer in the pool.
pub struct PoolBytes {
    block: NonNull<u8>,
    len: usize,
}

impl PoolBytes {
    /// `len` zero bytes; `None` if the pool is exhausted.
    pub fn zeroed(len: usize) -> Option<PoolBytes> {
        Some(PoolBytes {
            block: allocate(len)?,
            len,
        })
    }
}

impl AsRef<[u8]> for PoolBytes {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the block has `len` initialised (zero-filled) bytes, owned by this buffer.
        unsafe { core::slice::from_raw_parts(self.block.as_ptr(), self.len) }
    }
}

impl AsMut<[u8]> for PoolBytes {
    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, borrowed mutably through `self`.
        unsafe { core::slice::from_raw_parts_mut(self.block.as_ptr(), self.len) }
    }
}

impl Drop for PoolBytes {
    fn drop(&mut self) {
        // SAFETY: the block came from ExAllocatePool2 with POOL_TAG and is not used afterwards.
        unsafe { ExFreePoolWithTag(self.block.as_ptr().cast(), POOL_TAG) };
    }
}
