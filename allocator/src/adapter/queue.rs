//! Queues of IRPs linked through `Irp->Tail.Overlay.ListEntry`: the ALLOC requests waiting for a
//! frame (in arrival order), and the local lists of IRPs to complete once the spin lock is
//! released.
//!
//! An IRP on no queue has its `ListEntry` linked to itself; that is how the cancel routine tells
//! an IRP still waiting from one a FREE has just taken out (and which the cancel routine then
//! completes, because `IoSetCancelRoutine(NULL)` told the taker the routine owns it).

use core::mem::offset_of;
use core::ptr;

use avcam_kernel::irp;
use ks::nt::{IRP, IRP_TAIL_OVERLAY, LIST_ENTRY};

use crate::state::Waiters;

/// `DriverContext[1]` of a served ALLOC IRP holds the frame it was given, from the moment a FREE
/// hands it over under the lock to the moment its output is written, after the lock is released.
/// (`DriverContext` belongs to the driver that owns the IRP; KS uses `[0]` for create items.)
const FRAME_SLOT: usize = 1;

const LIST_ENTRY_OFFSET: usize = offset_of!(IRP, Tail) + offset_of!(IRP_TAIL_OVERLAY, ListEntry);

fn entry_of(irp: *mut IRP) -> *mut LIST_ENTRY {
    irp.cast::<u8>().wrapping_add(LIST_ENTRY_OFFSET).cast()
}

fn irp_of(entry: *mut LIST_ENTRY) -> *mut IRP {
    entry.cast::<u8>().wrapping_sub(LIST_ENTRY_OFFSET).cast()
}

/// A FIFO of IRPs, null-terminated at both ends (so it can move: nothing points at it).
///
/// Invariant: every IRP on the queue is live and owned by the queue's owner; its `ListEntry`
/// links its neighbours (`Blink` NULL at the head, `Flink` NULL at the tail).
pub struct IrpQueue {
    head: *mut LIST_ENTRY,
    tail: *mut LIST_ENTRY,
}

// SAFETY: the queued IRPs are owned by the queue (see the invariant), not by a thread; IRPs are
// completed and cancelled from any thread on Windows.
unsafe impl Send for IrpQueue {}

impl IrpQueue {
    /// An empty queue.
    pub const fn new() -> IrpQueue {
        IrpQueue {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
        }
    }

    /// Appends `irp`.
    ///
    /// # Safety
    /// `irp` must be live, owned by the caller and on no queue; the queue owns it afterwards.
    pub unsafe fn push_back(&mut self, irp: *mut IRP) {
        let entry = entry_of(irp);
        // SAFETY: the caller hands over a live IRP; its ListEntry is ours while it is queued.
        unsafe {
            entry.write(LIST_ENTRY {
                Flink: ptr::null_mut(),
                Blink: self.tail,
            })
        };
        if self.tail.is_null() {
            self.head = entry;
        } else {
            // SAFETY: the tail is a live queued IRP's entry (invariant).
            unsafe { (*self.tail).Flink = entry };
        }
        self.tail = entry;
    }

    /// Takes the first IRP out, its entry linked to itself; ownership passes to the caller (who
    /// must still take the cancel routine back before completing it).
    pub fn unlink_front(&mut self) -> Option<*mut IRP> {
        if self.head.is_null() {
            return None;
        }
        let irp = irp_of(self.head);
        // SAFETY: the head is a live queued IRP (invariant), so unlinking it keeps the invariant.
        unsafe { self.unlink(irp) };
        Some(irp)
    }

    /// Takes `irp` out if it is still queued here; returns whether it was.
    ///
    /// # Safety
    /// `irp` must be live, and either on this queue or on no queue.
    pub unsafe fn remove(&mut self, irp: *mut IRP) -> bool {
        let entry = entry_of(irp);
        // SAFETY: the caller guarantees `irp` is live.
        let linked_to_itself = unsafe { (*entry).Flink } == entry;
        if linked_to_itself {
            return false;
        }
        // SAFETY: the IRP is live and not linked to itself, so it is on this queue.
        unsafe { self.unlink(irp) };
        true
    }

    /// # Safety
    /// `irp` must be on this queue.
    unsafe fn unlink(&mut self, irp: *mut IRP) {
        let entry = entry_of(irp);
        // SAFETY: `irp` is a live queued IRP (caller), so its entry is readable.
        let LIST_ENTRY {
            Flink: next,
            Blink: previous,
        } = unsafe { entry.read() };
        if previous.is_null() {
            self.head = next;
        } else {
            // SAFETY: a queued neighbour is live (invariant).
            unsafe { (*previous).Flink = next };
        }
        if next.is_null() {
            self.tail = previous;
        } else {
            // SAFETY: as above.
            unsafe { (*next).Blink = previous };
        }
        // SAFETY: the entry is the caller's again; link it to itself ("on no queue").
        unsafe {
            entry.write(LIST_ENTRY {
                Flink: entry,
                Blink: entry,
            })
        };
    }
}

impl Default for IrpQueue {
    fn default() -> Self {
        IrpQueue::new()
    }
}

impl Waiters for IrpQueue {
    type Waiter = *mut IRP;

    /// The oldest waiting IRP whose cancel routine could be taken back. An IRP whose routine
    /// `IoCancelIrp` already took is left, unlinked, to that routine, which completes it.
    fn pop_front(&mut self) -> Option<*mut IRP> {
        loop {
            let irp = self.unlink_front()?;
            // SAFETY: the IRP was queued, so it is live and ours until the routine is taken.
            let routine = unsafe { irp::set_cancel_routine(irp, None) };
            if routine.is_some() {
                return Some(irp);
            }
        }
    }
}

/// Records the frame a FREE gave to a waiting ALLOC IRP.
///
/// # Safety
/// `irp` must be live and owned by the caller.
pub unsafe fn set_served_frame(irp: *mut IRP, frame: usize) {
    // SAFETY: the caller owns the live IRP, so its DriverContext is ours.
    unsafe { (*irp).Tail.DriverContext[FRAME_SLOT] = frame as *mut core::ffi::c_void };
}

/// The frame [`set_served_frame`] recorded.
///
/// # Safety
/// `irp` must be live and owned by the caller.
pub unsafe fn served_frame(irp: *mut IRP) -> usize {
    // SAFETY: the caller owns the live IRP.
    unsafe { (*irp).Tail.DriverContext[FRAME_SLOT] as usize }
}
