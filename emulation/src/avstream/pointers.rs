//! Stream pointers over the pin's read queue: the leading edge, advancing (whole frames and
//! offsets), unlock, clones and their deletion.
//!
//! **Stream pointers**: one leading edge per pin over the queued frames. `OffsetOut` is
//! `Data`/`Count`/`Remaining` = the header's buffer and `FrameExtent`. Advancing past a frame
//! releases it; a frame is done when released and no clone is on it; an IRP completes
//! (STATUS_SUCCESS, Information = the output length) when all its frames are done. Offsets
//! advanced add to the header's `DataUsed`; a plain advance leaves `DataUsed` as the minidriver
//! wrote it. Advancing past the last frame returns STATUS_DEVICE_NOT_READY and leaves the
//! leading edge waiting for the next frame.

use std::ffi::c_void;
use std::sync::Arc;

use ks::avstream::{KSPIN, KSSTREAM_POINTER, KSSTREAM_POINTER_OFFSET, PFNKSSTREAMPOINTER};
use ks::status::{STATUS_DEVICE_NOT_READY, STATUS_INVALID_PARAMETER, STATUS_SUCCESS};
use ks::video::KSSTREAM_HEADER;
use ks::NTSTATUS;

use super::reads::finish_reads;
use super::{known_pin, PinRecord, Stream};
use crate::bugs::Bug;
use crate::kernel::KernelState;
use crate::memory::RawBuffer;

pub(super) fn empty_offset() -> KSSTREAM_POINTER_OFFSET {
    KSSTREAM_POINTER_OFFSET {
        Data: std::ptr::null_mut(),
        Count: 0,
        Remaining: 0,
    }
}

/// Points the leading edge at the queue's leading frame (or at nothing).
fn aim_leading(pin: &PinRecord, stream: &Stream) {
    let pointer = pin.leading.as_ptr();
    let (header, offset) = match stream.queue.leading() {
        Some(frame) => {
            let header = frame as *mut KSSTREAM_HEADER;
            // SAFETY: the header lives in the queued IRP's output buffer.
            let value = unsafe { header.read_unaligned() };
            let used = value.DataUsed.min(value.FrameExtent);
            (
                header.cast::<c_void>(),
                KSSTREAM_POINTER_OFFSET {
                    Data: (value.Data as usize as *mut u8).wrapping_add(used as usize),
                    Count: value.FrameExtent,
                    Remaining: value.FrameExtent - used,
                },
            )
        }
        None => (std::ptr::null_mut(), empty_offset()),
    };
    // SAFETY: the leading edge belongs to the pin; the driver reads it only while it holds it.
    unsafe { (*pointer).StreamHeader = header };
    // SAFETY: the pin's leading edge, live with its record; the driver reads it only while it
    // holds it.
    unsafe { (*pointer).OffsetOut = offset };
    let out: *mut KSSTREAM_POINTER_OFFSET =
        crate::memory::field_ptr!(pointer, KSSTREAM_POINTER, OffsetOut);
    // SAFETY: the pin's leading edge, live with its record; `Offset` points into it.
    unsafe { (*pointer).Offset = out };
}

/// Completes the reads whose frames are all done. Must be called without the stream lock.
fn complete_done_reads(pin: &PinRecord) {
    let done = {
        let mut stream = pin.stream();
        let done = stream.queue.take_done();
        aim_leading(pin, &stream);
        done
    };
    finish_reads(done);
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
    let mut stream = record.stream();
    if stream.queue.leading().is_none() {
        return std::ptr::null_mut();
    }
    stream.leading_locked = lock;
    aim_leading(&record, &stream);
    record.leading.as_ptr()
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
        let stream = pin.stream();
        if stream.clones.contains_key(&(pointer as usize)) {
            drop(stream);
            return Some((pin, false));
        }
    }
    state.report(Bug::ObjectUnknown {
        object: pointer as usize,
    });
    None
}

/// `KsStreamPointerAdvanceOffsets` (and `KsStreamPointerAdvance` with `whole_frame`).
pub(crate) fn advance(
    state: &KernelState,
    pointer: *mut KSSTREAM_POINTER,
    out_used: u32,
    eject: bool,
    whole_frame: bool,
) -> NTSTATUS {
    let Some((pin, is_leading)) = pointer_owner(state, pointer) else {
        return STATUS_INVALID_PARAMETER;
    };
    if !is_leading {
        // A clone: offsets move within its frame; ejecting or a whole advance releases it.
        if whole_frame || eject {
            delete_clone(state, pointer);
        } else {
            // SAFETY: the clone is live (found above); only its owner uses it.
            unsafe { advance_offset_out(pointer, out_used) };
        }
        return STATUS_SUCCESS;
    }
    let next_available = {
        let mut stream = pin.stream();
        let Some(frame) = stream.queue.leading() else {
            return STATUS_DEVICE_NOT_READY;
        };
        let header = frame as *mut KSSTREAM_HEADER;
        let mut move_on = whole_frame || eject;
        if !whole_frame {
            // SAFETY: the header lives in the queued IRP's output buffer.
            let mut value = unsafe { header.read_unaligned() };
            value.DataUsed = value
                .DataUsed
                .saturating_add(out_used)
                .min(value.FrameExtent);
            move_on |= value.DataUsed >= value.FrameExtent;
            // SAFETY: the header lives in the queued IRP's output buffer, which the pin owns
            // until the read completes; the stream lock keeps the read queued meanwhile.
            unsafe { header.write_unaligned(value) };
        }
        if move_on {
            stream.queue.release_leading();
        }
        aim_leading(&pin, &stream);
        stream.queue.leading().is_some()
    };
    complete_done_reads(&pin);
    if next_available {
        STATUS_SUCCESS
    } else {
        STATUS_DEVICE_NOT_READY
    }
}

/// Moves a pointer's OffsetOut by `used` bytes.
///
/// # Safety
/// `pointer` must be a live stream pointer.
unsafe fn advance_offset_out(pointer: *mut KSSTREAM_POINTER, used: u32) {
    // SAFETY: the caller's guarantee.
    let mut offset = unsafe { (*pointer).OffsetOut };
    let used = used.min(offset.Remaining);
    offset.Data = offset.Data.wrapping_add(used as usize);
    offset.Remaining -= used;
    // SAFETY: the caller's guarantee: a live stream pointer.
    unsafe { (*pointer).OffsetOut = offset };
}

/// `KsStreamPointerUnlock`.
pub(crate) fn unlock(state: &KernelState, pointer: *mut KSSTREAM_POINTER, eject: bool) {
    let Some((pin, is_leading)) = pointer_owner(state, pointer) else {
        return;
    };
    if is_leading {
        pin.stream().leading_locked = false;
    }
    if eject {
        let _ = advance(state, pointer, 0, true, true);
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
    let _ = cancel;
    let Some((pin, _)) = pointer_owner(state, pointer) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: the source pointer is live.
    let header = unsafe { (*pointer).StreamHeader } as usize;
    let mut stream = pin.stream();
    if !stream.queue.hold(header) {
        return STATUS_DEVICE_NOT_READY;
    }
    let size = std::mem::size_of::<KSSTREAM_POINTER>() + context_size as usize;
    let memory = RawBuffer::zeroed(size);
    let clone = memory.as_ptr().cast::<KSSTREAM_POINTER>();
    // SAFETY: the source pointer is live.
    let mut value = unsafe { pointer.read() };
    value.Context = if context_size == 0 {
        std::ptr::null_mut()
    } else {
        memory
            .as_ptr()
            .wrapping_add(std::mem::size_of::<KSSTREAM_POINTER>())
            .cast()
    };
    value.Offset = crate::memory::field_ptr!(clone, KSSTREAM_POINTER, OffsetOut);
    // SAFETY: fresh zeroed memory of the right size, 16-byte aligned.
    unsafe { clone.write(value) };
    stream.clones.insert(clone as usize, (memory, header));
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
    {
        let mut stream = pin.stream();
        let Some((_memory, header)) = stream.clones.remove(&(pointer as usize)) else {
            return;
        };
        stream.queue.unhold(header);
    }
    complete_done_reads(&pin);
    let cancelled = {
        let mut stream = pin.stream();
        let cancelled = stream.queue.take_cancelled();
        if !cancelled.is_empty() {
            aim_leading(&pin, &stream);
        }
        cancelled
    };
    finish_reads(cancelled);
}
