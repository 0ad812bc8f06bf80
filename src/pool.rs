//! The global allocator over the kernel pool (installed in kernel mode by `runtime`).
//!
//! `ExAllocatePool2` returns blocks aligned to `MEMORY_ALLOCATION_ALIGNMENT` (16 bytes on x64).
//! Rust may ask for more (a `#[repr(align(64))]` type, a page-aligned buffer): such a request is
//! over-allocated by its alignment, the first aligned address at least one pointer past the block
//! start is returned, and the block's own address is kept in the pointer-sized slot just below it,
//! where `dealloc` finds it again. The pool itself is a trait so the logic is tested on any host.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;

/// The alignment every pool block has: `MEMORY_ALLOCATION_ALIGNMENT` on x64.
pub const POOL_ALIGNMENT: usize = 16;

/// A source of raw kernel pool blocks.
///
/// # Safety
/// Implementations guarantee that [`Pool::allocate`] returns null or a block of at least `bytes`
/// bytes, aligned to [`POOL_ALIGNMENT`], zero-filled when `zeroed` is set, that stays valid and
/// unaliased until it is passed to [`Pool::free`]. [`PoolAllocator`]'s soundness relies on it.
pub unsafe trait Pool {
    /// Allocates a block of `bytes` bytes (`bytes > 0`), zero-filled if `zeroed`; null if none.
    fn allocate(&self, bytes: usize, zeroed: bool) -> *mut u8;

    /// Frees a block.
    ///
    /// # Safety
    /// `block` was returned by [`Pool::allocate`] on this pool and is not used afterwards.
    unsafe fn free(&self, block: *mut u8);
}

/// A [`GlobalAlloc`] over a [`Pool`] that honours any alignment up to the size of the address
/// space.
#[derive(Debug)]
pub struct PoolAllocator<P: Pool> {
    pool: P,
}

impl<P: Pool> PoolAllocator<P> {
    /// Wraps a pool.
    pub const fn new(pool: P) -> Self {
        PoolAllocator { pool }
    }

    fn allocate(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        if layout.align() <= POOL_ALIGNMENT {
            return self.pool.allocate(layout.size(), zeroed);
        }
        let Some(bytes) = layout.size().checked_add(layout.align()) else {
            return ptr::null_mut();
        };
        let block = self.pool.allocate(bytes, zeroed);
        if block.is_null() {
            return block;
        }
        let aligned = block.wrapping_add(over_aligned_offset(block as usize, layout.align()));
        let slot = aligned.cast::<*mut u8>().wrapping_sub(1);
        // SAFETY: `over_aligned_offset` is in [POOL_ALIGNMENT, align], so `slot` lies inside the
        // block (at least 8 bytes past its start) and `aligned + size` ends inside it too (the
        // block has size + align bytes); `slot` is pointer-aligned because `aligned` is aligned to
        // more than 16.
        unsafe { slot.write(block) };
        aligned
    }
}

/// Where an over-aligned allocation starts inside a pool block at address `block`: the first
/// multiple of `align` that leaves room for the block pointer below it. With `block` a multiple of
/// [`POOL_ALIGNMENT`] and `align` a larger power of two, the result is in
/// `[POOL_ALIGNMENT, align]`, so `size + align` bytes always suffice.
pub const fn over_aligned_offset(block: usize, align: usize) -> usize {
    let header = core::mem::size_of::<*mut u8>();
    let start = block + header;
    let aligned = (start + align - 1) & !(align - 1);
    aligned - block
}

// SAFETY: `allocate` returns null or memory of `layout.size()` bytes aligned to `layout.align()`
// from a block owned by this allocator (by the `Pool` contract and the arithmetic above), and
// `dealloc` returns exactly that block to the pool.
unsafe impl<P: Pool> GlobalAlloc for PoolAllocator<P> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocate(layout, false)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.allocate(layout, true)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let block = if layout.align() <= POOL_ALIGNMENT {
            ptr
        } else {
            let slot = ptr.cast::<*mut u8>().wrapping_sub(1);
            // SAFETY: `ptr` came from `alloc` with this over-aligned layout, which stored the
            // block pointer in this aligned slot just below it, inside the same block.
            unsafe { slot.read() }
        };
        // SAFETY: `block` is the pool block behind `ptr`, freed exactly once (GlobalAlloc contract).
        unsafe { self.pool.free(block) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{alloc, dealloc};
    use std::cell::RefCell;
    use std::vec::Vec;

    /// A pool over the host heap that hands out 16-byte aligned blocks filled with 0xAB unless
    /// zeroing was asked for, records what is outstanding, and can be told to fail.
    #[derive(Default)]
    struct HeapPool {
        outstanding: RefCell<Vec<(usize, usize)>>,
        fail: bool,
    }

    // SAFETY: blocks come from the host allocator with POOL_ALIGNMENT and at least `bytes` bytes,
    // zero-filled on request, and are only released by `free`.
    unsafe impl Pool for HeapPool {
        fn allocate(&self, bytes: usize, zeroed: bool) -> *mut u8 {
            if self.fail {
                return ptr::null_mut();
            }
            let layout = Layout::from_size_align(bytes, POOL_ALIGNMENT).unwrap();
            // SAFETY: `bytes > 0` by the Pool contract.
            let block = unsafe { alloc(layout) };
            assert!(!block.is_null());
            // SAFETY: the block has `bytes` writable bytes.
            unsafe { block.write_bytes(if zeroed { 0 } else { 0xAB }, bytes) };
            self.outstanding.borrow_mut().push((block as usize, bytes));
            block
        }

        unsafe fn free(&self, block: *mut u8) {
            let mut outstanding = self.outstanding.borrow_mut();
            let index = outstanding
                .iter()
                .position(|&(b, _)| b == block as usize)
                .expect("freed a block the pool did not hand out");
            let (_, bytes) = outstanding.swap_remove(index);
            let layout = Layout::from_size_align(bytes, POOL_ALIGNMENT).unwrap();
            // SAFETY: allocated above with this layout, freed once.
            unsafe { dealloc(block, layout) };
        }
    }

    #[test]
    fn every_alignment_is_honoured_and_every_block_comes_back() {
        let allocator = PoolAllocator::new(HeapPool::default());
        let mut live = Vec::new();
        for align in [1, 8, 16, 32, 64, 256, 4096] {
            for size in [1, 24, 100, 5000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: non-zero size.
                let p = unsafe { allocator.alloc(layout) };
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "align {align} size {size}");
                // The whole requested range is writable without disturbing the header.
                // SAFETY: `p` has `size` bytes.
                unsafe { p.write_bytes(0x5A, size) };
                live.push((p, layout));
            }
        }
        assert_eq!(allocator.pool.outstanding.borrow().len(), live.len());
        for (p, layout) in live {
            // SAFETY: allocated above with this layout.
            unsafe { allocator.dealloc(p, layout) };
        }
        assert!(allocator.pool.outstanding.borrow().is_empty());
    }

    #[test]
    fn zeroed_requests_reach_the_pool() {
        let allocator = PoolAllocator::new(HeapPool::default());
        for align in [8, 128] {
            let layout = Layout::from_size_align(300, align).unwrap();
            // SAFETY: non-zero size.
            let p = unsafe { allocator.alloc_zeroed(layout) };
            // SAFETY: `p` has 300 readable bytes.
            let bytes = unsafe { core::slice::from_raw_parts(p, 300) };
            assert!(bytes.iter().all(|&b| b == 0));
            // SAFETY: allocated above with this layout.
            unsafe { allocator.dealloc(p, layout) };
        }
    }

    #[test]
    fn exhausted_pool_gives_null_for_any_alignment() {
        let allocator = PoolAllocator::new(HeapPool {
            fail: true,
            ..HeapPool::default()
        });
        for align in [16, 64] {
            // SAFETY: non-zero size.
            let p = unsafe { allocator.alloc(Layout::from_size_align(64, align).unwrap()) };
            assert!(p.is_null());
        }
    }

    #[test]
    fn over_aligned_offset_stays_within_the_slack() {
        for align in [32usize, 64, 4096] {
            for block in (0..2 * align)
                .step_by(POOL_ALIGNMENT)
                .map(|b| b + 0x1000_0000)
            {
                let offset = over_aligned_offset(block, align);
                assert!(
                    (POOL_ALIGNMENT..=align).contains(&offset),
                    "{block:#x} {align}"
                );
                assert_eq!((block + offset) % align, 0);
            }
        }
    }
}
