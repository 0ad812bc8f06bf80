//! KDPCs and the DPC queue: `KeInitializeDpc`, running DPCs and EX_TIMER callbacks inline or on
//! the processor threads of concurrency mode, `KeFlushQueuedDpcs`.

use std::ffi::c_void;
use std::sync::{Arc, Weak};
use std::thread::ThreadId;

use ks::nt::{DISPATCH_LEVEL, EX_TIMER, KDPC, PASSIVE_LEVEL, PKDEFERRED_ROUTINE};

use super::{in_kernel, work, ClockState, Shared};
use crate::bugs::Bug;
use crate::kernel::{current_irql, set_irql, KernelState};

/// KDPC `Type` (DpcObject).
const DPC_OBJECT_TYPE: u8 = 0x13;

/// A deferred routine (`PKDEFERRED_ROUTINE` without the NULL).
#[ks::kernel_abi]
type DeferredRoutine = unsafe extern "system" fn(*mut KDPC, *mut c_void, *mut c_void, *mut c_void);
/// An EX_TIMER callback (`PEXT_CALLBACK` without the NULL).
#[ks::kernel_abi]
type TimerCallback = unsafe extern "system" fn(*mut EX_TIMER, *mut c_void);

/// What `KeInitializeDpc` recorded for a KDPC.
#[derive(Clone, Copy)]
pub(super) struct DpcObject {
    routine: PKDEFERRED_ROUTINE,
    context: usize,
}

/// A DPC or EX_TIMER callback on the queue, with its serial number (queuing order).
pub(super) enum Queued {
    /// A timer's KDPC: its routine and context as initialised, and the expiry's interrupt time
    /// (the system arguments).
    Dpc {
        serial: u64,
        dpc: usize,
        routine: DeferredRoutine,
        context: usize,
        time: i64,
    },
    /// An EX_TIMER's callback and its CallbackContext.
    ExCallback {
        serial: u64,
        timer: usize,
        callback: TimerCallback,
        context: usize,
    },
}

/// What a queued or running entry belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Key {
    /// A KDPC, by address.
    Dpc(usize),
    /// An EX_TIMER's callback, by timer address.
    ExTimer(usize),
}

impl Queued {
    pub(super) fn key(&self) -> Key {
        match *self {
            Queued::Dpc { dpc, .. } => Key::Dpc(dpc),
            Queued::ExCallback { timer, .. } => Key::ExTimer(timer),
        }
    }

    fn serial(&self) -> u64 {
        match *self {
            Queued::Dpc { serial, .. } | Queued::ExCallback { serial, .. } => serial,
        }
    }
}

/// A DPC or callback running now.
pub(super) struct Running {
    pub(super) key: Key,
    pub(super) thread: ThreadId,
    /// Its serial number when it was queued.
    serial: u64,
}

impl ClockState {
    /// Queues a timer's KDPC, unless it is queued already (one instance of a KDPC on the queue
    /// at a time); a KDPC never initialised is a bug.
    pub(super) fn queue_dpc(&mut self, state: &KernelState, dpc: usize) {
        let Some(object) = self.dpcs.get(&dpc).copied() else {
            state.report(Bug::DpcNotInitialized { dpc });
            return;
        };
        let Some(routine) = object.routine else {
            return;
        };
        if self
            .queue
            .iter()
            .any(|queued| queued.key() == Key::Dpc(dpc))
        {
            return;
        }
        self.dpc_serial += 1;
        self.queue.push_back(Queued::Dpc {
            serial: self.dpc_serial,
            dpc,
            routine,
            context: object.context,
            time: self.now,
        });
    }

    /// Whether anything of `key` is queued or running.
    pub(super) fn pending(&self, key: Key) -> bool {
        self.queue.iter().any(|queued| queued.key() == key)
            || self.running.iter().any(|running| running.key == key)
    }

    /// Whether this thread is running `key`'s routine now.
    pub(super) fn running_here(&self, key: Key) -> bool {
        let me = std::thread::current().id();
        self.running
            .iter()
            .any(|running| running.key == key && running.thread == me)
    }

    /// Takes the next queued entry and marks it running on this thread, in one step (so a
    /// flush never finds it neither queued nor running).
    fn take_next(&mut self) -> Option<Queued> {
        let queued = self.queue.pop_front()?;
        self.running.push(Running {
            key: queued.key(),
            thread: std::thread::current().id(),
            serial: queued.serial(),
        });
        Some(queued)
    }
}

thread_local! {
    /// How many DPC routines this thread is running (nested through `advance` in a DPC).
    static IN_DPC: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether the calling thread is running a DPC routine or an EX_TIMER callback: work it defers
/// (asynchronous `KsPinAttemptProcessing`) then runs at PASSIVE_LEVEL once the DPCs are done
/// (see the `work` module).
pub(crate) fn in_dpc() -> bool {
    IN_DPC.get() > 0
}

/// Runs a taken entry's routine at DISPATCH_LEVEL on this thread, then marks it done (and
/// completes an EX_TIMER deletion that waited for it).
fn execute(state: &KernelState, queued: Queued) {
    let key = queued.key();
    let before = current_irql();
    set_irql(DISPATCH_LEVEL);
    IN_DPC.set(IN_DPC.get() + 1);
    let context = match queued {
        Queued::Dpc {
            dpc,
            routine,
            context,
            time,
            ..
        } => {
            let time = time as u64;
            // SAFETY: the DPC routine contract: called at DISPATCH_LEVEL with its KDPC and
            // context as KeInitializeDpc recorded them; a timer DPC's system arguments are the
            // low and high halves of the interrupt time at expiry.
            unsafe {
                routine(
                    dpc as *mut KDPC,
                    context as *mut c_void,
                    (time & 0xFFFF_FFFF) as usize as *mut c_void,
                    (time >> 32) as usize as *mut c_void,
                )
            };
            "a DPC routine"
        }
        Queued::ExCallback {
            timer,
            callback,
            context,
            ..
        } => {
            // SAFETY: the ExTimerCallback contract: called at DISPATCH_LEVEL with the timer
            // object (alive until its deletion completes, which waits for this call) and the
            // CallbackContext given to ExAllocateTimer.
            unsafe { callback(timer as *mut EX_TIMER, context as *mut c_void) };
            "an EX_TIMER callback"
        }
    };
    IN_DPC.set(IN_DPC.get() - 1);
    if current_irql() != DISPATCH_LEVEL {
        state.report(Bug::IrqlNotRestored {
            context,
            irql: current_irql(),
        });
    }
    set_irql(before);
    let finished = {
        let mut clock = state.clock.lock();
        let me = std::thread::current().id();
        if let Some(index) = clock
            .running
            .iter()
            .position(|running| running.key == key && running.thread == me)
        {
            clock.running.remove(index);
        }
        match key {
            Key::ExTimer(timer) => clock.take_finished_deletion(timer, false),
            Key::Dpc(_) => None,
        }
    };
    state.clock.shared.changed.notify_all();
    super::ex_timer::finish_deletions(state, finished);
}

/// After timers expired: inline, runs the queued DPCs on this thread, then the work they
/// deferred at PASSIVE_LEVEL; in concurrency mode, waits until every queued DPC is taken by a
/// processor or every processor is busy (a backlog stays queued).
pub(super) fn dispatch(state: &KernelState) {
    let shared = &state.clock.shared;
    if shared.lock().processors == 0 {
        loop {
            let next = shared.lock().take_next();
            let Some(queued) = next else {
                break;
            };
            execute(state, queued);
        }
        if current_irql() == PASSIVE_LEVEL {
            work::run_inline(state);
        }
        return;
    }
    shared.changed.notify_all();
    let mut clock = shared.lock();
    while !clock.queue.is_empty() && clock.running.len() < clock.processors && !clock.shutdown {
        clock = shared.wait(clock);
    }
}

/// Starts concurrency mode's processor threads and its worker thread.
pub(super) fn start_processors(state: &Arc<KernelState>, processors: usize) {
    assert!(
        processors >= 2,
        "avcam-emulation: concurrency mode needs at least 2 processors, not {processors}"
    );
    let shared = state.clock.shared.clone();
    {
        let mut clock = shared.lock();
        assert!(
            clock.processors == 0,
            "avcam-emulation: concurrency mode is on already"
        );
        clock.processors = processors;
    }
    for _ in 0..processors {
        let shared = shared.clone();
        let kernel = Arc::downgrade(state);
        std::thread::spawn(move || processor_loop(&shared, &kernel));
    }
    let kernel = Arc::downgrade(state);
    std::thread::spawn(move || work::worker_loop(&shared, &kernel));
}

/// One emulated processor: takes DPCs off the queue and runs them, until the kernel is gone.
fn processor_loop(shared: &Shared, kernel: &Weak<KernelState>) {
    while let Some(queued) = shared.next(ClockState::take_next) {
        // The clock's thread waits for DPCs to be taken.
        shared.changed.notify_all();
        let ran = in_kernel(kernel, |state| execute(state, queued));
        if !ran {
            return;
        }
    }
}

/// `KeFlushQueuedDpcs`: returns once every DPC and callback queued or running when it was
/// called has run to completion, on any thread; DPCs queued meanwhile are not waited for (the
/// page guarantees nothing about them). Called from a DPC (a bug the IRQL check reports) it
/// returns at once instead of waiting for itself.
pub(crate) fn flush_queued_dpcs(state: &KernelState) {
    if in_dpc() {
        return;
    }
    let shared = &state.clock.shared;
    let mut clock = shared.lock();
    let last = clock.dpc_serial;
    let earlier = |clock: &ClockState| {
        clock.queue.iter().any(|queued| queued.serial() <= last)
            || clock.running.iter().any(|running| running.serial <= last)
    };
    while earlier(&clock) && !clock.shutdown {
        clock = shared.wait(clock);
    }
}

/// `KeInitializeDpc`.
///
/// # Safety
/// `dpc` must point to writable memory for a KDPC.
pub(crate) unsafe fn initialize_dpc(
    state: &KernelState,
    dpc: *mut KDPC,
    routine: PKDEFERRED_ROUTINE,
    context: *mut c_void,
) {
    let mut words = [0u64; 8];
    words[0] = u64::from(DPC_OBJECT_TYPE);
    words[3] = routine.map_or(0, |r| r as usize as u64);
    words[4] = context as usize as u64;
    // SAFETY: the caller guarantees `dpc` is writable.
    unsafe { dpc.write(KDPC { Opaque: words }) };
    state.clock.lock().dpcs.insert(
        dpc as usize,
        DpcObject {
            routine,
            context: context as usize,
        },
    );
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::time::Duration;

    use ks::nt::{NotificationTimer, KTIMER};

    use super::*;
    use crate::services::{
        KeCancelTimer, KeFlushQueuedDpcs, KeInitializeDpc, KeInitializeTimerEx, KeSetTimerEx,
    };
    use crate::Kernel;

    /// Context of [`slow`]: set when the DPC starts, and when it ends.
    #[derive(Default)]
    struct SlowDpc {
        started: AtomicBool,
        finished: AtomicBool,
    }

    /// A DPC that takes a while, as one running on another processor while a driver closes.
    #[ks::kernel_abi]
    unsafe extern "system" fn slow(
        _dpc: *mut KDPC,
        context: *mut c_void,
        _a: *mut c_void,
        _b: *mut c_void,
    ) {
        // SAFETY: the test passes a live SlowDpc as context.
        let flags = unsafe { &*context.cast::<SlowDpc>() };
        flags.started.store(true, SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        flags.finished.store(true, SeqCst);
    }

    #[test]
    fn flush_queued_dpcs_waits_for_a_dpc_running_on_the_real_time_clocks_thread() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let flags = Box::new(SlowDpc::default());
        let mut timer = Box::new(KTIMER { Opaque: [0; 8] });
        let mut dpc = Box::new(KDPC { Opaque: [0; 8] });
        let context: *const SlowDpc = &*flags;
        // SAFETY: live boxes for the whole test; the context outlives the DPC (flushed below).
        unsafe { KeInitializeDpc(&mut *dpc, Some(slow), context.cast_mut().cast()) };
        // SAFETY: as above.
        unsafe { KeInitializeTimerEx(&mut *timer, NotificationTimer) };
        // SAFETY: initialised timer and DPC.
        unsafe { KeSetTimerEx(&mut *timer, -1, 0, &mut *dpc) };
        kernel.clock().start_real_time();
        let mut waited = 0;
        while !flags.started.load(SeqCst) && waited < 10_000 {
            std::thread::sleep(Duration::from_millis(1));
            waited += 1;
        }
        assert!(
            flags.started.load(SeqCst),
            "the real-time clock never ran the DPC"
        );
        // The DPC is running on the clock's thread now: cancelling finds nothing set, and only
        // the flush makes it safe to free what the DPC uses.
        // SAFETY: an initialised timer.
        assert_eq!(unsafe { KeCancelTimer(&mut *timer) }, 0);
        // SAFETY: called at PASSIVE_LEVEL.
        unsafe { KeFlushQueuedDpcs() };
        assert!(
            flags.finished.load(SeqCst),
            "KeFlushQueuedDpcs returned while the DPC ran"
        );
        kernel.clock().stop_real_time();
    }

    #[test]
    fn a_dpc_never_initialised_is_a_bug_and_does_not_run() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        let _entered = kernel.enter();
        let mut timer = Box::new(KTIMER { Opaque: [0; 8] });
        let mut dpc = Box::new(KDPC { Opaque: [0; 8] });
        // SAFETY: a live timer; the DPC is not initialised (the bug under test).
        unsafe { KeInitializeTimerEx(&mut *timer, NotificationTimer) };
        // SAFETY: as above.
        unsafe { KeSetTimerEx(&mut *timer, -1, 0, &mut *dpc) };
        kernel.clock().advance(20_000_000);
        assert_eq!(
            kernel.take_bugs(),
            vec![Bug::DpcNotInitialized {
                dpc: &raw mut *dpc as usize
            }]
        );
    }
}
