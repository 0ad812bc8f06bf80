//! Processing: the processing mutex, `KsPinAttemptProcessing`, and the processing deferred to
//! PASSIVE_LEVEL after a timer DPC.
//!
//! **Processing**: `KsPinAttemptProcessing` calls the pin's `Process` under the processing mutex
//! (asynchronous: on a new kernel thread, or from a timer DPC after the DPC as below), only in
//! PAUSE or RUN (RUN with KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY) and only with a frame available
//! unless KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING. STATUS_PENDING ends processing; success
//! calls `Process` again while it consumed frames and more are available (guess). A request
//! arriving while the mutex is busy makes the current holder run once more. Asked for from a
//! timer DPC asynchronously, or above PASSIVE_LEVEL without KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING,
//! `Process` runs at PASSIVE_LEVEL right after the DPC returns, on the same thread (ks.sys queues
//! a work item; running it there keeps the virtual clock deterministic).

use std::sync::Arc;

use ks::avstream::{
    KSPIN, KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING, KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING,
    KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY, KSSTATE_PAUSE, KSSTATE_RUN,
};
use ks::status::{nt_success, STATUS_PENDING};

use super::{known_pin, pin_descriptor, pin_state, PinRecord};
use crate::bugs::Bug;
use crate::kernel::{current, KernelState};
use crate::Kernel;

/// `KsPinAcquireProcessingMutex`.
pub(crate) fn acquire_processing(state: &KernelState, pin: *mut KSPIN) {
    let Some(record) = known_pin(state, pin) else {
        return;
    };
    let mut held = record
        .processing
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    while held.0 {
        held = record
            .processing
            .free
            .wait(held)
            .unwrap_or_else(|e| e.into_inner());
    }
    held.0 = true;
}

/// `KsPinReleaseProcessingMutex`.
pub(crate) fn release_processing(state: &KernelState, pin: *mut KSPIN) {
    let Some(record) = known_pin(state, pin) else {
        return;
    };
    let mut held = record
        .processing
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    held.0 = false;
    drop(held);
    record.processing.free.notify_all();
}

/// `KsPinAttemptProcessing`.
pub(super) fn attempt_processing(_state: &KernelState, pin: &Arc<PinRecord>, asynchronous: bool) {
    if asynchronous && crate::timer::in_dpc() {
        // A DPC asking for processing (a frame timer): queued as ks.sys queues its work item,
        // run at PASSIVE_LEVEL when the DPC returns, on this thread. No thread per frame.
        defer(pin);
        return;
    }
    if asynchronous {
        let kernel = Kernel {
            state: current("KsPinAttemptProcessing"),
        };
        let pin = pin.clone();
        let _ = kernel.spawn(move || {
            let state = current("KsPinAttemptProcessing");
            attempt_processing(&state, &pin, false);
        });
        return;
    }
    let descriptor = pin_descriptor(pin);
    if crate::kernel::current_irql() > ks::nt::PASSIVE_LEVEL
        && descriptor.Flags & KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING == 0
    {
        defer(pin);
        return;
    }
    // SAFETY: the driver's static dispatch table.
    let Some(process) = (unsafe { descriptor.Dispatch.as_ref() }).and_then(|d| d.Process) else {
        return;
    };
    {
        let mut held = pin
            .processing
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if held.0 {
            // Busy: the holder runs once more.
            held.1 = true;
            return;
        }
        held.0 = true;
    }
    loop {
        let device_state = pin_state(pin);
        let runnable = if descriptor.Flags & KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY != 0 {
            device_state == KSSTATE_RUN
        } else {
            device_state >= KSSTATE_PAUSE
        };
        let before = pin
            .stream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .queue
            .available();
        let frames_ok =
            before > 0 || descriptor.Flags & KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING != 0;
        let mut again = false;
        if runnable && frames_ok {
            // SAFETY: a live KSPIN; the Process contract (processing mutex held).
            let status = unsafe { process(pin.pin.as_ptr()) };
            let after = pin
                .stream
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .queue
                .available();
            again = status != STATUS_PENDING && nt_success(status) && after > 0 && after < before;
        }
        let mut held = pin
            .processing
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if held.1 {
            held.1 = false;
            again = runnable;
        }
        if !again {
            held.0 = false;
            drop(held);
            pin.processing.free.notify_all();
            return;
        }
    }
}

/// Queues `pin` for processing at PASSIVE_LEVEL after the running DPC ([`run_deferred`]),
/// once however often it is asked for meanwhile.
fn defer(pin: &Arc<PinRecord>) {
    let state = current("KsPinAttemptProcessing");
    let mut inner = state.avstream.lock();
    if !inner.deferred.iter().any(|p| Arc::ptr_eq(p, pin)) {
        inner.deferred.push(pin.clone());
    }
}

/// Runs the processing deferred to PASSIVE_LEVEL (pins closed meanwhile are skipped). Called at
/// PASSIVE_LEVEL after each timer DPC (virtual and real-time clock).
pub(crate) fn run_deferred(state: &KernelState) {
    loop {
        let pins = std::mem::take(&mut state.avstream.lock().deferred);
        if pins.is_empty() {
            return;
        }
        for pin in pins {
            if state.avstream.pin(pin.pin.as_ptr()).is_some() {
                attempt_processing(state, &pin, false);
            }
        }
    }
}

/// `KsPinAttemptProcessing` by KSPIN.
pub(crate) fn attempt_processing_of(state: &KernelState, pin: *mut KSPIN, asynchronous: bool) {
    match state.avstream.pin(pin) {
        Some(record) => attempt_processing(state, &record, asynchronous),
        None => state.report(Bug::ObjectUnknown {
            object: pin as usize,
        }),
    }
}
