//! Stream pointers over the pin's read queue: the leading edge, clones, advancing (whole frames
//! and offsets), unlocking, deletion, and the settling every change of the queue ends with.
//!
//! Sources (learn.microsoft.com, ddi/ks and stream/): KSSTREAM_POINTER_OFFSET,
//! KsPinGetLeadingEdgeStreamPointer, KsStreamPointerAdvance(Offsets), KsStreamPointerUnlock,
//! KsStreamPointerClone, PFNKSSTREAMPOINTER, "Leading and Trailing Edge Stream Pointers", "Stream
//! Pointers and IRP Cancellation".
//!
//! - **The leading edge**, one per pin, stands on the first frame not yet released. Aimed at a
//!   frame, its `OffsetOut` is `Data` = the frame's buffer, `Count` = `Remaining` = its
//!   `FrameExtent` (NULL, 0, 0 for a header with no buffer: `Data` NULL or `FrameExtent` 0); it
//!   keeps its offsets while it stays on that frame, and is re-aimed whenever the frame under it
//!   changes (advanced past, cancelled, flushed, or a read arriving while it waited for data).
//!   `KsPinGetLeadingEdgeStreamPointer` returns NULL while no frame is there.
//! - **Locks**: the leading edge is locked by `KsPinGetLeadingEdgeStreamPointer(LOCKED)`, a clone
//!   starts in its source's lock state ("in the same state (locked or unlocked)"). A frame a
//!   locked pointer is on cannot be cancelled: its read's cancellation waits until the lock goes.
//!   `KsStreamPointerAdvanceOffsets` on an unlocked pointer returns STATUS_DEVICE_NOT_READY and
//!   does nothing.
//! - **Advancing**: `KsStreamPointerAdvanceOffsets` moves `OffsetOut` by `OutUsed` (at most
//!   `Remaining`); at `Remaining` 0, or with `Eject`, the pointer moves to the next frame and
//!   relocks. `KsStreamPointerAdvance` moves to the next frame; `KsStreamPointerUnlock(Eject)`
//!   unlocks then moves. For a clone "the next frame" is the queued frame after its own; past the
//!   last it holds nothing (StreamHeader NULL). A move onto no frame answers
//!   STATUS_DEVICE_NOT_READY, except `KsStreamPointerAdvance` of an unlocked pointer, which
//!   "always returns STATUS_SUCCESS".
//! - **Frames complete** when the leading edge is past them and no clone is on them ("a frame
//!   completes when its reference count drops to zero"); a read completes (STATUS_SUCCESS,
//!   `Information` = its output length) when all its frames have. **`DataUsed` is never written
//!   by the emulation**: the sources disagree (the KSSTREAM_HEADER page: without
//!   KSPIN_FLAG_GENERATE_MAPPINGS the minidriver sets `DataUsed`; ReactOS's
//!   `IKsPin_CompleteStreamHeader` and avshws's `CCapturePin::CompleteMappings` comment: AVStream
//!   writes `Count - Remaining` when the frame completes), so the strictest emulation requires
//!   both to agree (guess): when a frame of a read that is not being cancelled completes, its
//!   header's `DataUsed` must equal `Count - Remaining` of the offset of the pointer that let it
//!   go last, else [`Bug::DataUsedMismatch`].
//! - **Clones** find their frame by its identity (never by header address). When a clone's read
//!   is cancelled, its `CancelCallback` is called, at DISPATCH_LEVEL, for the minidriver to
//!   delete the clone; the read completes (STATUS_CANCELLED) when the last clone on it is
//!   deleted. `KsStreamPointerDelete` of a leading edge is [`Bug::LeadingEdgeDeleted`].

use std::ffi::c_void;
use std::sync::{Arc, MutexGuard};

use ks::avstream::{KSPIN, KSSTREAM_POINTER, KSSTREAM_POINTER_OFFSET, PFNKSSTREAMPOINTER};
use ks::nt::DISPATCH_LEVEL;
use ks::status::{STATUS_DEVICE_NOT_READY, STATUS_INVALID_PARAMETER, STATUS_SUCCESS};
use ks::video::KSSTREAM_HEADER;
use ks::NTSTATUS;

use super::queue::FrameId;
use super::reads::finish_reads;
use super::{known_pin, CloneRecord, FrameRef, PinRecord, Stream};
use crate::bugs::Bug;
use crate::kernel::{current_irql, set_irql, KernelState};
use crate::memory::{field_ptr, RawBuffer};

/// An offset over no buffer.
pub(super) fn empty_offset() -> KSSTREAM_POINTER_OFFSET {
    KSSTREAM_POINTER_OFFSET {
        Data: std::ptr::null_mut(),
        Count: 0,
        Remaining: 0,
    }
}

/// The fresh offset of a pointer arriving on `frame`.
fn offset_on(frame: Option<FrameRef>) -> KSSTREAM_POINTER_OFFSET {
    match frame {
        Some(frame) => KSSTREAM_POINTER_OFFSET {
            Data: frame.buffer as *mut u8,
            Count: frame.extent,
            Remaining: frame.extent,
        },
        None => empty_offset(),
    }
}

/// Points `pointer` (the leading edge or a clone, emulation memory) at `frame` with fresh offsets.
///
/// # Safety
/// `pointer` must be a live stream pointer of the emulation that only the caller writes now (the
/// stream lock is held).
unsafe fn aim(pointer: *mut KSSTREAM_POINTER, frame: Option<FrameRef>) {
    let header = frame.map_or(std::ptr::null_mut(), |f| f.header as *mut c_void);
    // SAFETY: the caller's guarantee: a live pointer, written under the stream lock.
    unsafe { (*pointer).StreamHeader = header };
    // SAFETY: as the caller guarantees for the line above (the same live pointer).
    unsafe { (*pointer).OffsetOut = offset_on(frame) };
    let out: *mut KSSTREAM_POINTER_OFFSET = field_ptr!(pointer, KSSTREAM_POINTER, OffsetOut);
    // SAFETY: the same live pointer; `Offset` points into it (an output pin's offset).
    unsafe { (*pointer).Offset = out };
}

/// How far a pointer got into its frame: `Count - Remaining` of its `OffsetOut`.
///
/// # Safety
/// `pointer` must be a live stream pointer of the emulation.
unsafe fn progress(pointer: *mut KSSTREAM_POINTER) -> u32 {
    // SAFETY: the caller's guarantee.
    let offset = unsafe { (*pointer).OffsetOut };
    offset.Count.saturating_sub(offset.Remaining)
}

/// Re-aims the pin's leading edge if the frame under it changed.
fn aim_leading(pin: &PinRecord, stream: &mut Stream) {
    let leading = stream.queue.leading();
    let id = leading.map(|(id, _)| id);
    if id == stream.aimed {
        return;
    }
    stream.aimed = id;
    // SAFETY: the pin's leading edge lives with its record; the stream lock is held.
    unsafe { aim(pin.leading.as_ptr(), leading.map(|(_, frame)| frame)) };
}

/// Runs `change` on the pin's stream, then settles the queue: the leading edge re-aimed, each
/// frame completed checked for `DataUsed`, the finished reads completed and the cancel callbacks
/// of the clones on cancelled reads called (these two after the stream lock is dropped).
pub(super) fn update<T>(
    state: &KernelState,
    pin: &PinRecord,
    change: impl FnOnce(&mut Stream) -> T,
) -> T {
    let mut stream = pin.stream();
    let result = change(&mut stream);
    settle(state, pin, stream);
    result
}

fn settle(state: &KernelState, pin: &PinRecord, mut stream: MutexGuard<'_, Stream>) {
    let settled = stream.queue.settle();
    aim_leading(pin, &mut stream);
    for done in settled.done.iter().filter(|d| !d.cancelled) {
        let header = done.payload.header as *const KSSTREAM_HEADER;
        // SAFETY: the header lives in its read's buffer (captured or in place) until the read
        // completes, which happens only below; the stream lock keeps it queued meanwhile.
        let data_used = unsafe { header.read_unaligned() }.DataUsed;
        if data_used != done.advanced {
            state.report(Bug::DataUsedMismatch {
                data_used,
                advanced: done.advanced,
            });
        }
    }
    let finished: Vec<_> = settled
        .finished
        .into_iter()
        .map(|f| (f, stream.reads.remove(&f.read)))
        .collect();
    let notify: Vec<(usize, PFNKSSTREAMPOINTER)> = settled
        .notify
        .iter()
        .filter_map(|clone| stream.clones.get(clone).map(|c| (*clone, c.callback)))
        .collect();
    drop(stream);
    finish_reads(state, finished);
    for (clone, callback) in notify {
        let Some(callback) = callback else {
            continue;
        };
        // Called "with the queue's spin lock held, hence at DISPATCH_LEVEL" (PFNKSSTREAMPOINTER);
        // the emulation raises the IRQL without holding its stream lock, so that the callback can
        // delete the clone as it must.
        let irql = current_irql();
        set_irql(DISPATCH_LEVEL.max(irql));
        // SAFETY: the minidriver's callback for its live clone, at DISPATCH_LEVEL.
        unsafe { callback(clone as *mut KSSTREAM_POINTER) };
        if current_irql() != DISPATCH_LEVEL.max(irql) {
            state.report(Bug::IrqlNotRestored {
                context: "a stream pointer's cancel callback",
                irql: current_irql(),
            });
        }
        set_irql(irql);
    }
}

/// `KsPinGetLeadingEdgeStreamPointer`.
pub(crate) fn leading_edge(
    state: &KernelState,
    pin: *mut KSPIN,
    lock: bool,
) -> *mut KSSTREAM_POINTER {
    let Some(record) = known_pin(state, pin) else {
        return std::ptr::null_mut();
    };
    record
        .leading_edge_fetches
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let there = update(state, &record, |stream| {
        if stream.queue.leading().is_none() {
            return false;
        }
        stream.queue.lock_leading(lock);
        true
    });
    // An unlock may have let a cancellation through: the frame may be gone since.
    if there && record.stream().queue.leading().is_some() {
        record.leading.as_ptr()
    } else {
        std::ptr::null_mut()
    }
}

/// The pin a stream pointer belongs to, and whether it is the leading edge; `None` with the bug
/// reported (a pointer the emulation never handed out, or one deleted).
fn pointer_owner(
    state: &KernelState,
    pointer: *mut KSSTREAM_POINTER,
) -> Option<(Arc<PinRecord>, bool)> {
    let pins: Vec<Arc<PinRecord>> = state.avstream.lock().pins.values().cloned().collect();
    for pin in pins {
        if pin.leading.as_ptr() == pointer {
            return Some((pin, true));
        }
        if pin.stream().clones.contains_key(&(pointer as usize)) {
            return Some((pin, false));
        }
    }
    state.report(Bug::ObjectUnknown {
        object: pointer as usize,
    });
    None
}

/// How a pointer moves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Move {
    /// `KsStreamPointerAdvanceOffsets(OutUsed, Eject)`.
    Offsets {
        /// Bytes of `OffsetOut` consumed.
        out_used: u32,
        /// Move to the next frame whatever is left.
        eject: bool,
    },
    /// `KsStreamPointerAdvance`.
    NextFrame,
}

/// `KsStreamPointerAdvanceOffsets` and `KsStreamPointerAdvance`.
pub(crate) fn advance(state: &KernelState, pointer: *mut KSSTREAM_POINTER, how: Move) -> NTSTATUS {
    let Some((pin, is_leading)) = pointer_owner(state, pointer) else {
        return STATUS_INVALID_PARAMETER;
    };
    update(state, &pin, |stream| {
        let (on_frame, locked) = if is_leading {
            (
                stream.queue.leading().is_some(),
                stream.queue.leading_locked(),
            )
        } else {
            (
                stream
                    .queue
                    .clone_frame(pointer as usize)
                    .is_some_and(|f| f.is_some()),
                stream.queue.clone_locked(pointer as usize),
            )
        };
        if !on_frame {
            return if how == Move::NextFrame && !locked {
                STATUS_SUCCESS
            } else {
                STATUS_DEVICE_NOT_READY
            };
        }
        let move_on = match how {
            Move::NextFrame => true,
            Move::Offsets { out_used, eject } => {
                if !locked {
                    // "the pointer was unlocked at call time"
                    return STATUS_DEVICE_NOT_READY;
                }
                // SAFETY: the pointer is live (found above) and on a frame; only the stream lock
                // holder moves it.
                let remaining = unsafe { advance_offset_out(pointer, out_used) };
                if is_leading {
                    stream.queue.moved_within();
                }
                eject || remaining == 0
            }
        };
        if !move_on {
            return STATUS_SUCCESS;
        }
        // SAFETY: the pointer is live (found above).
        let advanced = unsafe { progress(pointer) };
        let next = if is_leading {
            stream.queue.advance_leading(advanced);
            stream.queue.leading().is_some()
        } else {
            let next: Option<FrameId> = stream.queue.advance_clone(pointer as usize, advanced);
            let frame = next.and_then(|id| stream.queue.payload(id));
            // SAFETY: a live clone of this stream, moved under the stream lock.
            unsafe { aim(pointer, frame) };
            next.is_some()
        };
        if next || (how == Move::NextFrame && !locked) {
            STATUS_SUCCESS
        } else {
            STATUS_DEVICE_NOT_READY
        }
    })
}

/// Moves a pointer's `OffsetOut` by `used` bytes (at most `Remaining`); returns what remains.
///
/// # Safety
/// `pointer` must be a live stream pointer.
unsafe fn advance_offset_out(pointer: *mut KSSTREAM_POINTER, used: u32) -> u32 {
    // SAFETY: the caller's guarantee.
    let mut offset = unsafe { (*pointer).OffsetOut };
    let used = used.min(offset.Remaining);
    offset.Data = offset.Data.wrapping_add(used as usize);
    offset.Remaining -= used;
    // SAFETY: the caller's guarantee: a live stream pointer.
    unsafe { (*pointer).OffsetOut = offset };
    offset.Remaining
}

/// `KsStreamPointerUnlock`.
pub(crate) fn unlock(state: &KernelState, pointer: *mut KSSTREAM_POINTER, eject: bool) {
    let Some((pin, is_leading)) = pointer_owner(state, pointer) else {
        return;
    };
    update(state, &pin, |stream| {
        if is_leading {
            stream.queue.lock_leading(false);
        } else {
            stream.queue.lock_clone(pointer as usize, false);
        }
    });
    if eject {
        let _ = advance(state, pointer, Move::NextFrame);
    }
}

/// `KsStreamPointerClone`.
pub(crate) fn clone_pointer(
    state: &KernelState,
    pointer: *mut KSSTREAM_POINTER,
    cancel: PFNKSSTREAMPOINTER,
    context_size: u32,
    out: *mut *mut KSSTREAM_POINTER,
) -> NTSTATUS {
    let Some((pin, is_leading)) = pointer_owner(state, pointer) else {
        return STATUS_INVALID_PARAMETER;
    };
    let mut stream = pin.stream();
    let source = if is_leading {
        stream
            .queue
            .leading()
            .map(|(id, _)| (id, stream.queue.leading_locked()))
    } else {
        stream
            .queue
            .clone_frame(pointer as usize)
            .flatten()
            .map(|id| (id, stream.queue.clone_locked(pointer as usize)))
    };
    let Some((frame, locked)) = source else {
        return STATUS_DEVICE_NOT_READY;
    };
    let size = std::mem::size_of::<KSSTREAM_POINTER>() + context_size as usize;
    let memory = RawBuffer::zeroed(size);
    let clone = memory.as_ptr().cast::<KSSTREAM_POINTER>();
    // SAFETY: the source pointer is live (found above); read under the stream lock.
    let mut value = unsafe { pointer.read() };
    value.Context = if context_size == 0 {
        std::ptr::null_mut()
    } else {
        memory
            .as_ptr()
            .wrapping_add(std::mem::size_of::<KSSTREAM_POINTER>())
            .cast()
    };
    value.Offset = field_ptr!(clone, KSSTREAM_POINTER, OffsetOut);
    // SAFETY: fresh zeroed memory of the right size, 16-byte aligned, nobody else knows it.
    unsafe { clone.write(value) };
    if !stream.queue.add_clone(clone as usize, frame, locked) {
        return STATUS_DEVICE_NOT_READY;
    }
    stream.clones.insert(
        clone as usize,
        CloneRecord {
            _memory: memory,
            callback: cancel,
        },
    );
    drop(stream);
    // SAFETY: the caller guarantees `out` is writable.
    unsafe { out.write(clone) };
    STATUS_SUCCESS
}

/// `KsStreamPointerDelete`.
pub(crate) fn delete_clone(state: &KernelState, pointer: *mut KSSTREAM_POINTER) {
    let Some((pin, is_leading)) = pointer_owner(state, pointer) else {
        return;
    };
    if is_leading {
        state.report(Bug::LeadingEdgeDeleted {
            pointer: pointer as usize,
        });
        return;
    }
    let memory = update(state, &pin, |stream| {
        // SAFETY: the clone is live until its record goes below.
        let advanced = unsafe { progress(pointer) };
        stream.queue.delete_clone(pointer as usize, advanced);
        stream.clones.remove(&(pointer as usize))
    });
    // The clone's memory goes last: the settling above read nothing from it.
    drop(memory);
}
