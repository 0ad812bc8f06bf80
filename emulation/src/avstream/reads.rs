//! The IRP side of the pin's read queue: IOCTL_KS_READ_STREAM probed as `KsProbeStreamIrp` does
//! and queued, the cancel routine, the flush at STOP and the completion of finished reads.
//!
//! **Probing** (`KsProbeStreamIrp(Irp, KSPROBE_STREAMREAD | KSPROBE_ALLOCATEMDL |
//! KSPROBE_PROBEANDLOCK | KSPROBE_SYSTEMADDRESS, Pin->StreamHeaderSize)`, as ReactOS's
//! `IKsPin_DispatchKsStream` calls it; the checks are ReactOS's `KsProbeStreamIrp`,
//! drivers/ksfilter/ks/irp.c, and the learn page of KsProbeStreamIrp). The output buffer holds the
//! KSSTREAM_HEADERs, which must tile it exactly (an empty buffer too:
//! STATUS_INVALID_BUFFER_SIZE). Each header, in order:
//! - with a `StreamHeaderSize` set by the pin, `Size` must equal it, or equal
//!   sizeof(KSSTREAM_HEADER) (guess: avshws checks `Size` before touching its KS_FRAME_INFO because
//!   "AVStream makes no guarantee" the extended size is honoured); with none set, `Size` must be at
//!   least sizeof(KSSTREAM_HEADER) and a multiple of 8; and the header must fit what is left:
//!   else STATUS_INVALID_BUFFER_SIZE;
//! - a read's `DataUsed` must be 0 (STATUS_INVALID_BUFFER_SIZE) and its `OptionsFlags` 0
//!   (STATUS_INVALID_PARAMETER).
//!
//! **Requestor mode** (`Irp->RequestorMode`, the file's, see [`crate::file`]):
//! - **UserMode**: the headers are captured into a system buffer (`AssociatedIrp.SystemBuffer`,
//!   `Flags` |= IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER | IRP_INPUT_OPERATION): the minidriver sees
//!   the copy, and the I/O manager copies it back to the caller's buffer at completion unless the
//!   status is an error (see [`crate::io`]). Each data buffer (`Data` with `FrameExtent` != 0) is
//!   probed and locked as `MmProbeAndLockPages` from UserMode does: a range that wraps, reaches the
//!   kernel half of the address space, or overlaps a live block of the emulated pool (kernel
//!   memory the emulation knows) fails the read with STATUS_ACCESS_VIOLATION, so kernel memory can
//!   never be handed in by a user-mode caller. The locked pages are mapped at the **same
//!   address** in the emulation (a limit: on Windows the system address differs, so a minidriver
//!   must write through `OffsetOut.Data`, never through `StreamHeader->Data`). Before the copy
//!   back, each captured header's `Data` is put back to what the caller gave, and a minidriver
//!   that changed it is [`Bug::UserHeaderDataChanged`] (guess: kernel addresses must never reach
//!   user mode: "memory allocated at kernel level cannot be passed to a user-mode filter",
//!   KSALLOCATOR_DISPATCH).
//! - **KernelMode**: the headers are used in place (`SystemBuffer` = `UserBuffer`, ReactOS) and
//!   the data buffers are taken at their addresses.
//! - A header with `Data` NULL or `FrameExtent` 0 has no buffer (ReactOS allocates no MDL for
//!   FrameExtent 0; guess for Data NULL): its frame's `OffsetOut` is NULL, 0, 0.
//!
//! **Queueing**: reads are queued in every state (ReactOS queues in any state; the pin-centric
//! processing page says frames can be queued before the minimum processing state). Pending and
//! cancellable; an IRP already cancelled when its cancel routine is set is cancelled at once.
//! Processing is attempted as [`super::processing`] says. Reaching STOP cancels every queued read
//! (see [`super::objects`]).

use std::ffi::c_void;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};
use std::sync::Arc;

use ks::avstream::{
    KSPIN, KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING, KSPIN_FLAG_INITIATE_PROCESSING_ON_EVERY_ARRIVAL,
};
use ks::nt::{
    UserMode, DEVICE_OBJECT, IRP, IRP_BUFFERED_IO, IRP_DEALLOCATE_BUFFER, IRP_INPUT_OPERATION,
};
use ks::status::{
    STATUS_ACCESS_VIOLATION, STATUS_CANCELLED, STATUS_INVALID_BUFFER_SIZE,
    STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use ks::video::KSSTREAM_HEADER;
use ks::NTSTATUS;

use super::pointers::update;
use super::processing::attempt_processing;
use super::queue::{Finished, Outcome};
use super::{answer, pin_descriptor, stack_of, FrameRef, PinRecord, ReadRecord, Reply};
use crate::bugs::Bug;
use crate::io::stack_location;
use crate::kernel::{current, KernelState};
use crate::memory::{field_ptr, RawBuffer};

/// The lowest kernel-mode address of x64 Windows (`MmUserProbeAddress` is just below it).
const KERNEL_SPACE: u64 = 0xFFFF_8000_0000_0000;

/// Cancels every queued read (the flush at STOP): those no lock holds back complete with
/// STATUS_CANCELLED now (or when the last clone on them goes), the others once unlocked.
pub(super) fn flush_queue(state: &KernelState, pin: &PinRecord) {
    update(state, pin, |stream| stream.queue.request_cancel_all());
}

/// Completes the reads the queue is done with, in order: STATUS_SUCCESS with the output length,
/// or STATUS_CANCELLED. A user-mode read's headers get their caller's `Data` back first. Each
/// read's cancel routine is cleared first (unless the cancel path already took it). Must be
/// called without the stream lock.
pub(super) fn finish_reads(
    state: &KernelState,
    finished: Vec<(Finished<usize>, Option<ReadRecord>)>,
) {
    for (Finished { read, outcome }, record) in finished {
        let irp = read as *mut IRP;
        let reply = match outcome {
            Outcome::Done { output_len } => {
                for &(header, data) in record.iter().flat_map(|r| &r.user_headers) {
                    let data_field: *mut u64 = field_ptr!(header, KSSTREAM_HEADER, Data);
                    // SAFETY: the header is in the read's captured copy, alive with the IRP,
                    // which is not completed yet; the pin no longer hands it out.
                    let written = unsafe { data_field.read_unaligned() };
                    if written != data {
                        state.report(Bug::UserHeaderDataChanged {
                            original: data,
                            written,
                        });
                        // SAFETY: the `Data` field of the read's captured header, alive with the
                        // uncompleted IRP, which only the pin holds now.
                        unsafe { data_field.write_unaligned(data) };
                    }
                }
                Reply::Complete(STATUS_SUCCESS, output_len)
            }
            Outcome::Cancelled => Reply::status(STATUS_CANCELLED),
        };
        // SAFETY: the queue reported the read finished and no longer holds it: the pin owns the
        // IRP, live until completed below.
        unsafe { cancel_routine_slot(irp) }.store(std::ptr::null_mut(), Ordering::Release);
        // SAFETY: as the queue no longer holds the read, the pin is its only owner and gives it
        // up here.
        unsafe { answer(irp, reply) };
    }
}

/// `Irp->CancelRoutine`, seen as an atomic pointer (`IoSetCancelRoutine` exchanges it).
///
/// # Safety
/// `irp` must be a live IRP, and stay live while the reference is used.
unsafe fn cancel_routine_slot<'a>(irp: *mut IRP) -> &'a AtomicPtr<c_void> {
    let slot: *mut *mut c_void = field_ptr!(irp, IRP, CancelRoutine);
    // SAFETY: the caller's guarantee: the IRP is live; CancelRoutine is an aligned pointer-sized
    // field that everyone exchanges atomically.
    unsafe { AtomicPtr::from_ptr(slot) }
}

/// Whether a user-mode caller may hand `[data, data + extent)` to `MmProbeAndLockPages`.
fn user_range_ok(state: &KernelState, data: u64, extent: u32) -> bool {
    let Some(end) = data.checked_add(u64::from(extent)) else {
        return false;
    };
    if end > KERNEL_SPACE {
        return false;
    }
    !state.pool.outstanding().iter().any(|block| {
        let start = block.address as u64;
        let block_end = start + block.size.max(1) as u64;
        data < block_end && start < end
    })
}

/// Walks and checks the headers at `base` (`length` bytes) as `KsProbeStreamIrp` does for a read
/// (see the module docs); the frames, or the status the read fails with.
///
/// # Safety
/// `base` must point to `length` readable bytes that nobody writes during the call.
unsafe fn probe_headers(
    base: *mut u8,
    length: usize,
    header_size: usize,
) -> Result<Vec<(FrameRef, u64)>, NTSTATUS> {
    let minimum = std::mem::size_of::<KSSTREAM_HEADER>();
    if length == 0 || base.is_null() {
        return Err(STATUS_INVALID_BUFFER_SIZE);
    }
    let mut frames = Vec::new();
    let mut offset = 0;
    while offset < length {
        if length - offset < minimum {
            return Err(STATUS_INVALID_BUFFER_SIZE);
        }
        let header = base.wrapping_add(offset).cast::<KSSTREAM_HEADER>();
        // SAFETY: the caller's guarantee; `minimum` bytes are left at `offset` (checked above).
        let value = unsafe { header.read_unaligned() };
        let size = value.Size as usize;
        let size_ok = if header_size != 0 {
            size == header_size || size == minimum
        } else {
            size >= minimum && size % 8 == 0
        };
        if !size_ok || size > length - offset {
            return Err(STATUS_INVALID_BUFFER_SIZE);
        }
        if value.DataUsed != 0 {
            return Err(STATUS_INVALID_BUFFER_SIZE);
        }
        if value.OptionsFlags != 0 {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let (buffer, extent) = if value.Data == 0 || value.FrameExtent == 0 {
            (0, 0)
        } else {
            (value.Data as usize, value.FrameExtent)
        };
        frames.push((
            FrameRef {
                header: header as usize,
                buffer,
                extent,
            },
            value.Data,
        ));
        offset += size;
    }
    Ok(frames)
}

/// IOCTL_KS_READ_STREAM on a pin.
///
/// # Safety
/// `irp` must be a live METHOD_NEITHER device control the caller owns.
#[ks::kernel_abi]
pub(super) unsafe fn read_stream(state: &KernelState, irp: *mut IRP, pin: usize) -> Reply {
    let Some(record) = state.avstream.pin(pin as *mut KSPIN) else {
        return Reply::status(STATUS_INVALID_DEVICE_REQUEST);
    };
    let Some(irp_record) = state.io.record_of(irp) else {
        return Reply::status(STATUS_INVALID_DEVICE_REQUEST);
    };
    // SAFETY: the caller's guarantee: a live IRP.
    let stack = unsafe { stack_of(irp) };
    // SAFETY: a device control's parameters are DeviceIoControl.
    let parameters = unsafe { stack.Parameters.DeviceIoControl };
    let length = parameters.OutputBufferLength as usize;
    // SAFETY: the caller's guarantee: a live IRP (METHOD_NEITHER: the output buffer's address).
    let user_buffer = unsafe { (*irp).UserBuffer }.cast::<u8>();
    // SAFETY: the caller's guarantee: a live IRP.
    let user = unsafe { (*irp).RequestorMode } == UserMode;
    // SAFETY: the KSPIN is live while its record is; the minidriver sets StreamHeaderSize in Create.
    let header_size = unsafe { (*record.pin.as_ptr()).StreamHeaderSize } as usize;
    if length == 0 || user_buffer.is_null() {
        return Reply::status(STATUS_INVALID_BUFFER_SIZE);
    }
    if user && !user_range_ok(state, user_buffer as u64, parameters.OutputBufferLength) {
        return Reply::status(STATUS_ACCESS_VIOLATION);
    }
    let base = if user {
        // SAFETY: METHOD_NEITHER: `UserBuffer` holds `OutputBufferLength` bytes, read once here.
        let caller = unsafe { std::slice::from_raw_parts(user_buffer, length) };
        let copy = RawBuffer::from_bytes(caller);
        let base = copy.as_ptr();
        irp_record.attach_system_buffer(copy);
        base
    } else {
        user_buffer
    };
    // SAFETY: `base` is the captured copy (ours alone) or the caller's buffer, `length` bytes,
    // that the caller does not touch while the request is in flight.
    let frames = match unsafe { probe_headers(base, length, header_size) } {
        Ok(frames) => frames,
        Err(status) => return Reply::status(status),
    };
    if user
        && !frames.iter().all(|(frame, _)| {
            frame.extent == 0 || user_range_ok(state, frame.buffer as u64, frame.extent)
        })
    {
        return Reply::status(STATUS_ACCESS_VIOLATION);
    }
    // SAFETY: the caller owns the IRP; ks.sys sets its system buffer before anyone else sees it.
    unsafe { (*irp).SystemBuffer = base.cast() };
    if user {
        // SAFETY: as just above.
        unsafe { (*irp).Flags |= IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER | IRP_INPUT_OPERATION };
    }
    let read_record = ReadRecord {
        user_headers: if user {
            frames.iter().map(|(f, data)| (f.header, *data)).collect()
        } else {
            Vec::new()
        },
    };
    // Pending before anyone else can see (and complete) the IRP; queued before it can be
    // cancelled; an IRP cancelled before its routine was set is cancelled now.
    // SAFETY: the caller owns the IRP.
    unsafe { kernel_irp_mark_pending(irp) };
    let was_empty = update(state, &record, |stream| {
        stream.reads.insert(irp as usize, read_record);
        let was_empty = stream
            .queue
            .push(irp as usize, length, frames.into_iter().map(|(f, _)| f));
        let routine: unsafe extern "system" fn(*mut DEVICE_OBJECT, *mut IRP) = cancel_read;
        // SAFETY: the caller's guarantee: a live IRP, now queued.
        unsafe { cancel_routine_slot(irp) }.store(routine as *mut c_void, Ordering::Release);
        let cancel_flag: *mut u8 = field_ptr!(irp, IRP, Cancel);
        // SAFETY: a live IRP; Cancel is a byte IoCancelIrp writes.
        let cancelled = unsafe { AtomicU8::from_ptr(cancel_flag) }.load(Ordering::Acquire) != 0;
        if cancelled {
            // SAFETY: a live IRP; the routine is ours to take back if IoCancelIrp has not.
            let slot = unsafe { cancel_routine_slot(irp) };
            if !slot.swap(std::ptr::null_mut(), Ordering::AcqRel).is_null() {
                stream.queue.request_cancel(irp as usize);
                return false;
            }
        }
        was_empty
    });
    let flags = pin_descriptor(&record).Flags;
    let initiate = if flags & KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING != 0 {
        false
    } else {
        was_empty || flags & KSPIN_FLAG_INITIATE_PROCESSING_ON_EVERY_ARRIVAL != 0
    };
    if initiate {
        attempt_processing(state, &record, false);
    }
    Reply::Pending
}

/// `IoMarkIrpPending`.
///
/// # Safety
/// `irp` must be a live IRP the caller owns.
unsafe fn kernel_irp_mark_pending(irp: *mut IRP) {
    // SAFETY: the caller's guarantee.
    let stack = unsafe { stack_location(irp) };
    // SAFETY: the stack location is inside the live IRP.
    unsafe { (*stack).Control |= ks::nt::SL_PENDING_RETURNED };
}

/// The cancel routine of queued reads: asks the pin's queue to cancel the read (done at once
/// unless a locked pointer or a clone is on its frames).
#[ks::kernel_abi]
unsafe extern "system" fn cancel_read(_device: *mut DEVICE_OBJECT, irp: *mut IRP) {
    // SAFETY: the cancel routine contract: the cancel spin lock is held; CancelIrql is set.
    let irql = unsafe { (*irp).CancelIrql };
    // SAFETY: held by this thread per the contract.
    unsafe { crate::services::IoReleaseCancelSpinLock(irql) };
    let state = current("IoCancelIrp");
    let pins: Vec<Arc<PinRecord>> = state.avstream.lock().pins.values().cloned().collect();
    for pin in pins {
        let queued = update(&state, &pin, |stream| {
            stream.queue.request_cancel(irp as usize)
        });
        if queued {
            return;
        }
    }
}
