//! Processing: when the pin's `Process` runs, the processing mutex, `KsPinAttemptProcessing`,
//! and the processing deferred to PASSIVE_LEVEL after a timer DPC.
//!
//! **When** (learn.microsoft.com stream/pin-centric-processing, ddi/ks/nc-ks-pfnkspin, and the
//! KSPIN_FLAG_* of KSPIN_DESCRIPTOR_EX): processing is attempted
//! 1. on a transition into the pin's minimum processing state (RUN with
//!    KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY, else PAUSE) from below, with frames queued;
//! 2. when a frame arrives while nothing is at or ahead of the leading edge ("when new data
//!    arrives into a previously empty queue"), or on every arrival with
//!    KSPIN_FLAG_INITIATE_PROCESSING_ON_EVERY_ARRIVAL, never with
//!    KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING (see [`super::reads`]);
//! 3. when the minidriver calls `KsPinAttemptProcessing`.
//!
//! An attempt calls `Process` under the processing mutex, only at or above the minimum processing
//! state and only with a frame at the leading edge unless
//! KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING. STATUS_PENDING stops processing until the next
//! trigger. STATUS_SUCCESS calls `Process` again while frames remain at the leading edge and the
//! call made progress (the leading edge moved); STATUS_SUCCESS with frames at the leading edge and
//! no progress would make AVStream call again forever ("Restarting Processing in AVStream"): the
//! emulation reports [`Bug::ProcessWithoutProgress`] instead of looping. An attempt arriving while
//! the mutex is busy makes the current holder run once more. Asked for from a timer DPC
//! asynchronously, or above PASSIVE_LEVEL without KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING, `Process`
//! runs at PASSIVE_LEVEL right after the DPC returns, on the same thread (ks.sys queues a work
//! item; running it there keeps the virtual clock deterministic). A pin closed meanwhile drops
//! the attempt.
//!
//! **The processing mutex** (`KsPinAcquireProcessingMutex`, PASSIVE_LEVEL) is held by one thread
//! at a time; it is not recursive ("Processing Mutex in AVStream": taking it inside Process
//! deadlocks), so a second acquire on the holding thread, and a release by another thread, are
//! reported instead of hanging.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::ThreadId;

use ks::avstream::{
    KSPIN, KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING, KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING,
    KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY, KSSTATE, KSSTATE_PAUSE, KSSTATE_RUN,
};
use ks::status::{nt_success, STATUS_PENDING};

use super::{known_pin, pin_descriptor, pin_state, PinRecord};
use crate::bugs::Bug;
use crate::kernel::{current, KernelState};
use crate::Kernel;

/// A pin's processing mutex (`KsPinAcquireProcessingMutex`), with the "run once more" request
/// of an attempt that found it busy.
#[derive(Default)]
pub(super) struct ProcessingMutex {
    state: Mutex<MutexState>,
    free: Condvar,
}

#[derive(Default)]
struct MutexState {
    /// The thread holding it, if any.
    owner: Option<ThreadId>,
    /// An attempt found it held: the holder runs `Process` once more.
    again: bool,
}

/// Why an acquire or release was refused (a driver bug, reported by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MutexMisuse {
    /// The calling thread holds it already (the mutex is not recursive: a deadlock on Windows).
    Recursive,
    /// The calling thread does not hold it.
    NotOwned,
}

impl ProcessingMutex {
    fn state(&self) -> MutexGuard<'_, MutexState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until it is free, then holds it; refused (without waiting) when this thread holds
    /// it already.
    pub(super) fn acquire(&self) -> Result<(), MutexMisuse> {
        let me = std::thread::current().id();
        let mut state = self.state();
        if state.owner == Some(me) {
            return Err(MutexMisuse::Recursive);
        }
        while state.owner.is_some() {
            state = self.free.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.owner = Some(me);
        Ok(())
    }

    /// Frees it and wakes the waiters; refused when this thread does not hold it.
    pub(super) fn release(&self) -> Result<(), MutexMisuse> {
        let mut state = self.state();
        if state.owner != Some(std::thread::current().id()) {
            return Err(MutexMisuse::NotOwned);
        }
        state.owner = None;
        drop(state);
        self.free.notify_all();
        Ok(())
    }

    /// Holds it if it is free; if it is held, asks the holder to run once more (false).
    fn try_acquire(&self) -> bool {
        let mut state = self.state();
        if state.owner.is_some() {
            state.again = true;
            return false;
        }
        state.owner = Some(std::thread::current().id());
        true
    }

    /// After a round of the holder: whether it goes on (`again`, or `runnable` when an attempt
    /// asked meanwhile); if not, it is freed.
    fn end_round(&self, again: bool, runnable: bool) -> bool {
        let mut state = self.state();
        let again = if state.again {
            state.again = false;
            runnable
        } else {
            again
        };
        if !again {
            state.owner = None;
            drop(state);
            self.free.notify_all();
        }
        again
    }
}

/// `KsPinAcquireProcessingMutex`: waits for the pin's processing mutex. Not recursive
/// ("Processing Mutex in AVStream": taking it again, e.g. inside Process, deadlocks): the
/// emulation reports [`Bug::ProcessingMutexRecursive`] instead of hanging.
pub(crate) fn acquire_processing(state: &KernelState, pin: *mut KSPIN) {
    if let Some(record) = known_pin(state, pin) {
        if record.processing.acquire().is_err() {
            state.report(Bug::ProcessingMutexRecursive { pin: pin as usize });
        }
    }
}

/// `KsPinReleaseProcessingMutex`: only its holder releases it (else
/// [`Bug::ProcessingMutexNotOwned`], and it stays held).
pub(crate) fn release_processing(state: &KernelState, pin: *mut KSPIN) {
    if let Some(record) = known_pin(state, pin) {
        if record.processing.release().is_err() {
            state.report(Bug::ProcessingMutexNotOwned { pin: pin as usize });
        }
    }
}

/// The pin's minimum processing state: RUN with KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY, else PAUSE.
pub(super) fn minimum_state(flags: u32) -> KSSTATE {
    if flags & KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY != 0 {
        KSSTATE_RUN
    } else {
        KSSTATE_PAUSE
    }
}

/// `KsPinAttemptProcessing` (and the attempts ks.sys makes itself).
pub(super) fn attempt_processing(state: &KernelState, pin: &Arc<PinRecord>, asynchronous: bool) {
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
    if !pin.processing.try_acquire() {
        // Busy: the holder runs once more.
        return;
    }
    loop {
        if pin.closed.load(Ordering::Acquire) {
            // Work queued for a pin closed since (a deferred or asynchronous attempt). This
            // thread took the mutex just above: the release cannot be refused.
            let _ = pin.processing.release();
            return;
        }
        let runnable = pin_state(pin) >= minimum_state(descriptor.Flags);
        let (before, moves) = {
            let stream = pin.stream();
            (stream.queue.available(), stream.queue.moves())
        };
        let frames_ok =
            before > 0 || descriptor.Flags & KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING != 0;
        let mut again = false;
        if runnable && frames_ok {
            pin.process_calls.fetch_add(1, Ordering::Relaxed);
            // SAFETY: a live KSPIN; the Process contract (processing mutex held).
            let status = unsafe { process(pin.pin.as_ptr()) };
            let (after, moved) = {
                let stream = pin.stream();
                (stream.queue.available(), stream.queue.moves() != moves)
            };
            if status != STATUS_PENDING && nt_success(status) && after > 0 {
                again = moved;
                if !moved {
                    state.report(Bug::ProcessWithoutProgress {
                        pin: pin.pin.as_ptr() as usize,
                    });
                }
            }
        }
        if !pin.processing.end_round(again, runnable) {
            return;
        }
    }
}

/// Queues `pin`'s processing as a PASSIVE_LEVEL work item (ks.sys queues one: the
/// KsPinAttemptProcessing page), once however often it is asked for before it runs: inline after
/// the DPCs of the current expiry instant, or on the worker thread in concurrency mode
/// ([`crate::timer::work`]). A pin closed meanwhile drops it (its `closed` flag).
fn defer(pin: &Arc<PinRecord>) {
    if pin.work_queued.swap(true, Ordering::AcqRel) {
        return;
    }
    let state = current("KsPinAttemptProcessing");
    let pin = pin.clone();
    crate::timer::work::queue_work_item(
        &state,
        Box::new(move |state| {
            pin.work_queued.store(false, Ordering::Release);
            attempt_processing(state, &pin, false);
        }),
    );
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
