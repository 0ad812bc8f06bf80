//! The IRP side of the pin's read queue: IOCTL_KS_READ_STREAM accepted and queued, the cancel
//! routine, the flush at STOP and the completion of finished reads.
//!
//! **Reads** (IOCTL_KS_READ_STREAM, METHOD_NEITHER, output = KSSTREAM_HEADERs, each `Size` at
//! least the pin's `StreamHeaderSize`, else STATUS_INVALID_BUFFER_SIZE): rejected with
//! STATUS_INVALID_DEVICE_STATE in STOP and ACQUIRE (guess: what KS answers for a pin not
//! streaming); queued otherwise (pending, cancellable), each header one frame. Then processing is
//! attempted unless KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING.

use std::ffi::c_void;
use std::sync::Arc;

use ks::avstream::{KSPIN, KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING, KSSTATE_ACQUIRE, KSSTATE_STOP};
use ks::nt::{DEVICE_OBJECT, IRP};
use ks::status::{
    STATUS_CANCELLED, STATUS_INVALID_BUFFER_SIZE, STATUS_INVALID_DEVICE_REQUEST,
    STATUS_INVALID_DEVICE_STATE, STATUS_SUCCESS,
};
use ks::video::KSSTREAM_HEADER;

use super::processing::attempt_processing;
use super::queue::{Cancel, Finished, Outcome};
use super::{answer, pin_descriptor, pin_state, stack_of, PinRecord, Reply};
use crate::io::stack_location;
use crate::kernel::{current, KernelState};

/// Completes every queued read not held by a clone with STATUS_CANCELLED (the held ones when
/// their clones go).
pub(super) fn flush_queue(_state: &KernelState, pin: &PinRecord) {
    let finished = {
        let mut stream = pin.stream();
        stream.leading_locked = false;
        stream.queue.cancel_all()
    };
    finish_reads(finished);
}

/// Completes the reads the queue is done with, in order: STATUS_SUCCESS with the output length,
/// or STATUS_CANCELLED. Each read's cancel routine is cleared first (unless the cancel path
/// already took it). Must be called without the stream lock.
pub(super) fn finish_reads(finished: Vec<Finished<usize>>) {
    for Finished { read, outcome } in finished {
        let irp = read as *mut IRP;
        let reply = match outcome {
            Outcome::Done { output_len } => Reply::Complete(STATUS_SUCCESS, output_len),
            Outcome::Cancelled => Reply::status(STATUS_CANCELLED),
        };
        // SAFETY: the queue reported the read finished and no longer holds it: the pin owns the
        // IRP, live until completed below.
        unsafe { set_cancel_routine(irp, std::ptr::null_mut()) };
        // SAFETY: as the queue no longer holds the read, the pin is its only owner and gives it
        // up here.
        unsafe { answer(irp, reply) };
    }
}

/// Stores `routine` (a PDRIVER_CANCEL or NULL) in `Irp->CancelRoutine`.
///
/// # Safety
/// `irp` must be a live IRP the caller owns.
unsafe fn set_cancel_routine(irp: *mut IRP, routine: *mut c_void) {
    let slot: *mut *mut c_void = crate::memory::field_ptr!(irp, IRP, CancelRoutine);
    // SAFETY: the caller's guarantee: the IRP is live; CancelRoutine is an aligned pointer-sized
    // field that everyone exchanges atomically.
    unsafe { std::sync::atomic::AtomicPtr::from_ptr(slot) }
        .store(routine, std::sync::atomic::Ordering::Release);
}

/// IOCTL_KS_READ_STREAM on a pin.
///
/// # Safety
/// `irp` must be a live METHOD_NEITHER device control the caller owns.
pub(super) unsafe fn read_stream(state: &KernelState, irp: *mut IRP, pin: usize) -> Reply {
    let Some(record) = state.avstream.pin(pin as *mut KSPIN) else {
        return Reply::status(STATUS_INVALID_DEVICE_REQUEST);
    };
    let device_state = pin_state(&record);
    if device_state == KSSTATE_STOP || device_state == KSSTATE_ACQUIRE {
        return Reply::status(STATUS_INVALID_DEVICE_STATE);
    }
    // SAFETY: the caller's guarantee: a live IRP.
    let stack = unsafe { stack_of(irp) };
    // SAFETY: a device control's parameters are DeviceIoControl.
    let parameters = unsafe { stack.Parameters.DeviceIoControl };
    let output_len = parameters.OutputBufferLength as usize;
    let header_size = std::mem::size_of::<KSSTREAM_HEADER>();
    // SAFETY: the caller's guarantee: a live IRP (METHOD_NEITHER: the output buffer's address).
    let headers = unsafe { (*irp).UserBuffer }.cast::<u8>();
    if output_len < header_size || headers.is_null() {
        return Reply::status(STATUS_INVALID_BUFFER_SIZE);
    }
    // Walk the headers by their Size: each at least the pin's StreamHeaderSize (a KSSTREAM_HEADER
    // when 0) and inside the buffer, else STATUS_INVALID_BUFFER_SIZE (guess: ks.sys validates the
    // headers before queuing; its exact status is not documented).
    // SAFETY: the KSPIN is live while its record is; the minidriver sets StreamHeaderSize in Create.
    let wanted = (unsafe { (*record.pin.as_ptr()).StreamHeaderSize } as usize).max(header_size);
    let mut frames = Vec::new();
    let mut offset = 0;
    while offset < output_len {
        let header = headers.wrapping_add(offset).cast::<KSSTREAM_HEADER>();
        if offset + header_size > output_len {
            return Reply::status(STATUS_INVALID_BUFFER_SIZE);
        }
        // SAFETY: METHOD_NEITHER: the output buffer holds OutputBufferLength bytes.
        let size = unsafe { header.read_unaligned() }.Size as usize;
        if size < wanted || offset + size > output_len {
            return Reply::status(STATUS_INVALID_BUFFER_SIZE);
        }
        frames.push(header);
        offset += size;
    }
    // Pending and cancellable before anyone else can see (and complete) the IRP.
    // SAFETY: the caller owns the IRP; pending is marked before it can complete elsewhere.
    unsafe { kernel_irp_mark_pending(irp) };
    let routine: unsafe extern "system" fn(*mut DEVICE_OBJECT, *mut IRP) = cancel_read;
    // SAFETY: the caller's guarantee: a live IRP it owns, not yet visible to anyone else.
    unsafe { set_cancel_routine(irp, routine as *mut c_void) };
    {
        let mut stream = record.stream();
        stream.queue.push(
            irp as usize,
            output_len,
            frames.into_iter().map(|h| h as usize),
        );
    }
    if pin_descriptor(&record).Flags & KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING == 0 {
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

/// The cancel routine of queued reads: removes the IRP's frames (unless a clone holds one) and
/// completes it with STATUS_CANCELLED.
unsafe extern "system" fn cancel_read(_device: *mut DEVICE_OBJECT, irp: *mut IRP) {
    // SAFETY: the cancel routine contract: the cancel spin lock is held; CancelIrql is set.
    let irql = unsafe { (*irp).CancelIrql };
    // SAFETY: held by this thread per the contract.
    unsafe { crate::services::IoReleaseCancelSpinLock(irql) };
    let state = current("IoCancelIrp");
    let pins: Vec<Arc<PinRecord>> = state.avstream.lock().pins.values().cloned().collect();
    for pin in pins {
        let outcome = pin.stream().queue.cancel(irp as usize);
        match outcome {
            Cancel::NotQueued => continue,
            Cancel::Held => return,
            Cancel::Removed(finished) => {
                // The cancel routine owns the IRP now (IoCancelIrp cleared the routine slot).
                finish_reads(vec![finished]);
                return;
            }
        }
    }
}
