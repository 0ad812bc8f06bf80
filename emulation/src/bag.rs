//! Object bags: the memory ks.sys keeps on behalf of a filter or pin (`KSFILTER.Bag`,
//! `KSPIN.Bag`) and frees when the object closes. The emulation puts `_KsEdit` copies there.
//!
//! `_KsEdit(Bag, &Pointer, NewSize, OldSize, Tag)` (what the `KsEdit` and `KsEditSized` macros
//! expand to) replaces an item the minidriver may not write (a `const` descriptor) by a
//! writable copy owned by the object: a pool block of `NewSize` bytes (tag `Tag`) holding the
//! first `OldSize` bytes of the item and zeros after them; `*Pointer` then names the copy. An
//! item that is already a copy in the bag, at least `NewSize` bytes long, is left alone: the
//! documentation says KsEdit does nothing for an item already edited. Guesses: a copy that is
//! too small for a larger `NewSize` is replaced by a larger one (its bytes copied, the old one
//! freed), as `KsEditSized` suggests; copies are non-paged pool; the call is PASSIVE_LEVEL only.

use std::ffi::c_void;
use std::sync::{Mutex, MutexGuard};

use ks::nt::{PASSIVE_LEVEL, POOL_FLAG_NON_PAGED};
use ks::status::{STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};
use ks::NTSTATUS;

use crate::kernel::{current_irql, KernelState};
use crate::sync::check_irql;

/// One pool block the bag owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Item {
    address: usize,
    size: usize,
    tag: u32,
}

/// The bag of one filter or pin; its address is the object's `Bag`.
#[derive(Default)]
pub(crate) struct ObjectBag {
    items: Mutex<Vec<Item>>,
}

impl ObjectBag {
    fn lock(&self) -> MutexGuard<'_, Vec<Item>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `_KsEdit` on this bag (see the module documentation).
    ///
    /// # Safety
    /// `pointer_to_pointer` must point to a readable and writable pointer, which is NULL or
    /// points to at least `old_size` readable bytes.
    pub(crate) unsafe fn edit(
        &self,
        state: &KernelState,
        pointer_to_pointer: *mut *mut c_void,
        new_size: u32,
        old_size: u32,
        tag: u32,
    ) -> NTSTATUS {
        check_irql(state, "_KsEdit", PASSIVE_LEVEL);
        // SAFETY: the caller's guarantee.
        let item = unsafe { pointer_to_pointer.read() };
        let new_size = new_size as usize;
        let mut items = self.lock();
        let owned = items.iter().position(|i| i.address == item as usize);
        let mut copy_len = (old_size as usize).min(new_size);
        if let Some(index) = owned {
            if items[index].size >= new_size {
                return STATUS_SUCCESS;
            }
            copy_len = copy_len.min(items[index].size);
        }
        // Pool blocks come zeroed: the tail past `copy_len` is zero.
        let copy = state.pool.allocate(
            &state.bugs,
            current_irql(),
            POOL_FLAG_NON_PAGED,
            new_size,
            tag,
        );
        if copy.is_null() {
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        if !item.is_null() && copy_len > 0 {
            // SAFETY: the item has `old_size` (or, when owned, its size) readable bytes, at least
            // `copy_len`; the copy is a fresh block of `new_size >= copy_len` bytes.
            unsafe {
                copy.cast::<u8>()
                    .copy_from_nonoverlapping(item.cast::<u8>(), copy_len)
            };
        }
        // SAFETY: the caller's guarantee.
        unsafe { pointer_to_pointer.write(copy) };
        if let Some(index) = owned {
            let old = items.remove(index);
            state.pool.free(
                &state.bugs,
                current_irql(),
                old.address as *mut c_void,
                old.tag,
            );
        }
        items.push(Item {
            address: copy as usize,
            size: new_size,
            tag,
        });
        STATUS_SUCCESS
    }

    /// Frees every block in the bag (the object is closing).
    pub(crate) fn free_all(&self, state: &KernelState) {
        let items = std::mem::take(&mut *self.lock());
        for item in items {
            state.pool.free(
                &state.bugs,
                current_irql(),
                item.address as *mut c_void,
                item.tag,
            );
        }
    }

    /// How many blocks the bag holds.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::current;
    use crate::pool::Tag;
    use crate::Kernel;

    const TAG: u32 = u32::from_le_bytes(*b"Edit");

    /// A bag on a fresh kernel, the kernel entered on this thread.
    fn with_bag(body: impl FnOnce(&Kernel, &KernelState, &ObjectBag)) {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let state = current("test");
        let bag = ObjectBag::default();
        body(&kernel, &state, &bag);
        bag.free_all(&state);
        kernel.assert_no_leaks();
    }

    #[test]
    fn an_edit_copies_the_old_bytes_zeroes_the_tail_and_swaps_the_pointer() {
        with_bag(|kernel, state, bag| {
            let original: [u8; 8] = *b"ABCDEFGH";
            let mut pointer = original.as_ptr().cast_mut().cast::<c_void>();
            // SAFETY: `pointer` names 8 readable bytes.
            let status = unsafe { bag.edit(state, &mut pointer, 12, 8, TAG) };
            assert_eq!(status, STATUS_SUCCESS);
            assert_ne!(pointer, original.as_ptr().cast_mut().cast());
            // SAFETY: the copy is a live 12-byte pool block.
            let copy = unsafe { std::slice::from_raw_parts(pointer.cast::<u8>(), 12) };
            assert_eq!(copy, b"ABCDEFGH\0\0\0\0");
            assert_eq!(original, *b"ABCDEFGH", "the original is untouched");
            let blocks = kernel.pool().outstanding();
            assert_eq!(blocks.len(), 1);
            assert_eq!((blocks[0].size, blocks[0].tag), (12, Tag(TAG)));
            assert_eq!(blocks[0].address, pointer as usize);
        });
    }

    #[test]
    fn a_second_edit_of_a_copy_does_nothing() {
        with_bag(|kernel, state, bag| {
            let original = [7u8; 16];
            let mut pointer = original.as_ptr().cast_mut().cast::<c_void>();
            // SAFETY: `pointer` names 16 readable bytes.
            assert_eq!(unsafe { bag.edit(state, &mut pointer, 16, 16, TAG) }, 0);
            let first = pointer;
            // SAFETY: the copy is a live 16-byte block, written through the pointer we own.
            unsafe { first.cast::<u8>().write(42) };
            let calls = kernel.pool().allocation_calls();
            // SAFETY: `pointer` names the 16-byte copy.
            assert_eq!(unsafe { bag.edit(state, &mut pointer, 16, 16, TAG) }, 0);
            assert_eq!(pointer, first, "same copy");
            assert_eq!(kernel.pool().allocation_calls(), calls, "nothing allocated");
            // SAFETY: still the live copy.
            assert_eq!(unsafe { first.cast::<u8>().read() }, 42, "not copied again");
            assert_eq!(bag.len(), 1);
        });
    }

    #[test]
    fn growing_a_copy_replaces_it_and_frees_the_old_one() {
        with_bag(|kernel, state, bag| {
            let original = [1u8; 4];
            let mut pointer = original.as_ptr().cast_mut().cast::<c_void>();
            // SAFETY: `pointer` names 4 readable bytes.
            assert_eq!(unsafe { bag.edit(state, &mut pointer, 4, 4, TAG) }, 0);
            let first = pointer;
            // SAFETY: `pointer` names the 4-byte copy.
            assert_eq!(unsafe { bag.edit(state, &mut pointer, 8, 4, TAG) }, 0);
            assert_ne!(pointer, first);
            // SAFETY: the new copy is a live 8-byte block.
            let copy = unsafe { std::slice::from_raw_parts(pointer.cast::<u8>(), 8) };
            assert_eq!(copy, [1, 1, 1, 1, 0, 0, 0, 0]);
            assert_eq!(
                kernel.pool().outstanding().len(),
                1,
                "the old copy is freed"
            );
            assert_eq!(bag.len(), 1);
        });
    }

    #[test]
    fn free_all_returns_every_block_and_a_null_item_gets_zeros() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let state = current("test");
        let bag = ObjectBag::default();
        let mut a = std::ptr::null_mut::<c_void>();
        let mut b = std::ptr::null_mut::<c_void>();
        // SAFETY: NULL items: nothing is read.
        assert_eq!(unsafe { bag.edit(&state, &mut a, 32, 32, TAG) }, 0);
        // SAFETY: as above.
        assert_eq!(unsafe { bag.edit(&state, &mut b, 8, 8, TAG) }, 0);
        // SAFETY: a live 32-byte block.
        let zeros = unsafe { std::slice::from_raw_parts(a.cast::<u8>(), 32) };
        assert!(zeros.iter().all(|&byte| byte == 0));
        assert_eq!(kernel.pool().outstanding_bytes(), 40);
        bag.free_all(&state);
        assert_eq!(kernel.pool().outstanding_bytes(), 0);
        assert_eq!(bag.len(), 0);
        kernel.assert_no_leaks();
    }

    #[test]
    fn an_edit_above_passive_level_is_a_bug() {
        with_bag(|kernel, state, bag| {
            kernel.expect_bugs();
            let original = [5u8; 4];
            let mut pointer = original.as_ptr().cast_mut().cast::<c_void>();
            crate::kernel::set_irql(ks::nt::DISPATCH_LEVEL);
            // SAFETY: `pointer` names 4 readable bytes; the IRQL is the bug under test.
            let status = unsafe { bag.edit(state, &mut pointer, 4, 4, TAG) };
            crate::kernel::set_irql(PASSIVE_LEVEL);
            assert_eq!(status, STATUS_SUCCESS);
            assert_eq!(
                kernel.take_bugs(),
                vec![crate::bugs::Bug::IrqlTooHigh {
                    service: "_KsEdit",
                    irql: ks::nt::DISPATCH_LEVEL,
                    max: PASSIVE_LEVEL
                }]
            );
        });
    }

    #[test]
    fn a_failed_allocation_leaves_the_pointer_alone() {
        with_bag(|kernel, state, bag| {
            let original = [3u8; 4];
            let mut pointer = original.as_ptr().cast_mut().cast::<c_void>();
            kernel.pool().fail_nth_allocation(1);
            // SAFETY: `pointer` names 4 readable bytes.
            let status = unsafe { bag.edit(state, &mut pointer, 4, 4, TAG) };
            assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES);
            assert_eq!(pointer, original.as_ptr().cast_mut().cast());
            assert_eq!(bag.len(), 0);
        });
    }
}
