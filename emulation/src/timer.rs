//! The kernel clock, KTIMERs and DPCs: `KeInitializeDpc`, `KeInitializeTimerEx`, `KeSetTimerEx`,
//! `KeCancelTimer`, `KeQueryPerformanceCounter`.
//!
//! Each kernel has one [`Clock`] counting interrupt time in 100 ns units from 0 at boot. It is
//! virtual by default: it stands still until a test calls [`ClockControl::advance`], which moves it
//! forward and fires every timer that falls due on the way, in due-time order, each at its own
//! due time, **inline on the calling thread** at DISPATCH_LEVEL (the emulation's choice: a test
//! then sees every DPC's effects when `advance` returns, deterministically). In real-time mode
//! ([`ClockControl::start_real_time`]) a kernel thread keeps the clock equal to the host's monotonic
//! time since the switch (plus where it stood) and fires the timers on time, from that thread.
//!
//! Due times follow `KeSetTimerEx`: negative = relative, in 100 ns units; positive = absolute
//! system time (100 ns units since 1601-01-01 UTC). The emulation's system time is
//! [`BOOT_SYSTEM_TIME`] + interrupt time (no clock changes, no leap seconds: a guess that keeps
//! both scales in step, which is what a driver computing absolute deadlines relies on).
//! `Period` is in milliseconds; a periodic timer re-arms at due + period (no drift).
//! `KeQueryPerformanceCounter` counts the same 100 ns units: its frequency is 10 MHz.
//!
//! The KDPC and KTIMER are written as on Windows x64 where drivers might look (KDPC
//! `DeferredRoutine` at byte 24 and `DeferredContext` at 32; KTIMER `Type` byte, `DueTime` at
//! 24, `Dpc` at 48, `Period` at 60); the emulation's own bookkeeping is a table keyed by address.

use std::collections::{HashMap, HashSet};
use std::ffi::c_void;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use ks::nt::{KDPC, KTIMER, PKDEFERRED_ROUTINE, TIMER_TYPE};

use crate::bugs::Bug;
use crate::kernel::{current_irql, set_irql, KernelState};
use crate::Kernel;

/// The emulation's system time at boot: 2026-01-01 00:00:00 UTC in 100 ns units since
/// 1601-01-01 (what a positive `KeSetTimerEx` due time is measured in).
pub const BOOT_SYSTEM_TIME: i64 = 134_116_992_000_000_000;

/// `KeQueryPerformanceCounter`'s frequency: 10 MHz (one count per 100 ns).
pub const PERFORMANCE_FREQUENCY: i64 = 10_000_000;

/// KDPC `Type` (DpcObject).
const DPC_OBJECT_TYPE: u8 = 0x13;
/// KTIMER `Header.Type`: TimerNotificationObject (8) + TIMER_TYPE.
const TIMER_OBJECT_TYPE: u8 = 8;

/// An armed timer.
#[derive(Clone, Copy)]
struct Armed {
    /// Interrupt time it falls due at.
    due: i64,
    /// Re-arm interval in 100 ns units (0: one-shot).
    period: i64,
    /// The DPC to queue (may be NULL).
    dpc: usize,
    /// Arming order, to break ties deterministically.
    sequence: u64,
}

#[derive(Default)]
struct ClockState {
    /// Interrupt time now, 100 ns units.
    now: i64,
    /// Timers initialised with KeInitializeTimerEx.
    initialised: HashSet<usize>,
    /// DPCs initialised with KeInitializeDpc.
    dpcs: HashSet<usize>,
    /// Armed timers by KTIMER address.
    armed: HashMap<usize, Armed>,
    sequence: u64,
    /// Real-time mode: the host instant and clock value at the switch, and the thread's stop flag.
    real_time: Option<(Instant, i64, Arc<std::sync::atomic::AtomicBool>)>,
}

/// The clock and timer queue of one kernel.
#[derive(Default)]
pub struct Clock {
    state: Mutex<ClockState>,
    /// Held while a due timer is taken off the queue and its DPC runs, so `KeFlushQueuedDpcs`
    /// can wait for a DPC another thread (the real-time clock) is running.
    dpc_gate: std::sync::Mutex<()>,
}

impl Clock {
    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Interrupt time now, in 100 ns units since boot.
    pub fn now_100ns(&self) -> i64 {
        self.lock().now
    }

    /// System time now (100 ns units since 1601).
    pub fn system_time(&self) -> i64 {
        BOOT_SYSTEM_TIME + self.now_100ns()
    }

    /// Timers currently armed.
    pub fn armed_timers(&self) -> usize {
        self.lock().armed.len()
    }

    /// Pops the next timer due at or before `until`, moving the clock to its due time and
    /// re-arming it if periodic. Returns the DPC to run.
    fn pop_due(&self, until: i64) -> Option<Option<usize>> {
        let mut state = self.lock();
        let (&timer, &armed) = state
            .armed
            .iter()
            .filter(|(_, a)| a.due <= until)
            .min_by_key(|(_, a)| (a.due, a.sequence))?;
        state.now = state.now.max(armed.due);
        if armed.period > 0 {
            state.sequence += 1;
            let sequence = state.sequence;
            state.armed.insert(
                timer,
                Armed {
                    due: armed.due + armed.period,
                    sequence,
                    ..armed
                },
            );
        } else {
            state.armed.remove(&timer);
        }
        Some((armed.dpc != 0).then_some(armed.dpc))
    }

    /// When the next timer falls due, if any.
    fn next_due(&self) -> Option<i64> {
        self.lock().armed.values().map(|a| a.due).min()
    }
}

thread_local! {
    /// How many DPC routines this thread is running (nested through `advance` in a DPC).
    static IN_DPC: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether the calling thread is running a timer's DPC routine: work it queues (asynchronous
/// `KsPinAttemptProcessing`) then runs at PASSIVE_LEVEL right after the routine returns, on
/// this thread ([`crate::avstream::run_deferred`]).
pub(crate) fn in_dpc() -> bool {
    IN_DPC.get() > 0
}

/// Runs the DPCs of every timer due up to `until` and leaves the clock at `until`.
fn run_until(state: &KernelState, until: i64) {
    loop {
        let gate = state
            .clock
            .dpc_gate
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let Some(dpc) = state.clock.pop_due(until) else {
            break;
        };
        if let Some(dpc) = dpc {
            run_dpc(state, dpc as *mut KDPC);
        }
        drop(gate);
        if current_irql() == ks::nt::PASSIVE_LEVEL {
            crate::avstream::run_deferred(state);
        }
    }
    let mut clock = state.clock.lock();
    clock.now = clock.now.max(until);
}

/// `KeFlushQueuedDpcs`: returns once no DPC is running on another thread.
pub(crate) fn flush_queued_dpcs(state: &KernelState) {
    drop(
        state
            .clock
            .dpc_gate
            .lock()
            .unwrap_or_else(|e| e.into_inner()),
    );
}

/// Calls a DPC's routine at DISPATCH_LEVEL on this thread.
fn run_dpc(state: &KernelState, dpc: *mut KDPC) {
    if !state.clock.lock().dpcs.contains(&(dpc as usize)) {
        state.report(Bug::DpcNotInitialized { dpc: dpc as usize });
        return;
    }
    // SAFETY: an initialised KDPC (checked above) the driver keeps alive while its timer is set.
    let words = unsafe { (*dpc).Opaque };
    // SAFETY: word 3 was written by KeInitializeDpc from a PKDEFERRED_ROUTINE.
    let routine: PKDEFERRED_ROUTINE = unsafe { std::mem::transmute::<u64, _>(words[3]) };
    let context = words[4] as usize as *mut c_void;
    let Some(routine) = routine else {
        return;
    };
    let before = current_irql();
    set_irql(ks::nt::DISPATCH_LEVEL);
    IN_DPC.set(IN_DPC.get() + 1);
    let now = state.clock.now_100ns() as u64;
    // SAFETY: the DPC routine contract: called at DISPATCH_LEVEL with its DPC and context;
    // a timer DPC's system arguments are the low and high halves of the interrupt time.
    unsafe {
        routine(
            dpc,
            context,
            (now & 0xFFFF_FFFF) as usize as *mut c_void,
            (now >> 32) as usize as *mut c_void,
        )
    };
    IN_DPC.set(IN_DPC.get() - 1);
    if current_irql() != ks::nt::DISPATCH_LEVEL {
        state.report(Bug::IrqlNotRestored {
            context: "a DPC routine",
            irql: current_irql(),
        });
    }
    set_irql(before);
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
    state.clock.lock().dpcs.insert(dpc as usize);
}

/// `KeInitializeTimerEx`.
///
/// # Safety
/// `timer` must point to writable memory for a KTIMER that is not armed.
pub(crate) unsafe fn initialize_timer(state: &KernelState, timer: *mut KTIMER, kind: TIMER_TYPE) {
    let mut words = [0u64; 8];
    words[0] = u64::from(TIMER_OBJECT_TYPE) + u64::from(kind);
    // SAFETY: the caller guarantees `timer` is writable.
    unsafe { timer.write(KTIMER { Opaque: words }) };
    let mut clock = state.clock.lock();
    clock.armed.remove(&(timer as usize));
    clock.initialised.insert(timer as usize);
}

/// `KeSetTimerEx`: returns whether the timer was armed already.
///
/// # Safety
/// `timer` must be an initialised KTIMER.
pub(crate) unsafe fn set_timer(
    state: &KernelState,
    timer: *mut KTIMER,
    due_time: i64,
    period_ms: i32,
    dpc: *mut KDPC,
) -> bool {
    let mut clock = state.clock.lock();
    if !clock.initialised.contains(&(timer as usize)) {
        drop(clock);
        state.report(Bug::TimerNotInitialized {
            timer: timer as usize,
        });
        return false;
    }
    let due = if due_time < 0 {
        clock.now.saturating_sub(due_time)
    } else {
        due_time.saturating_sub(BOOT_SYSTEM_TIME)
    };
    let period = i64::from(period_ms.max(0)) * 10_000;
    clock.sequence += 1;
    let sequence = clock.sequence;
    let was_armed = clock
        .armed
        .insert(
            timer as usize,
            Armed {
                due,
                period,
                dpc: dpc as usize,
                sequence,
            },
        )
        .is_some();
    drop(clock);
    // SAFETY: the caller guarantees `timer` is a live KTIMER; words 3 (DueTime), 6 (Dpc) and
    // 7 (Processor, Period) mirror the x64 layout.
    unsafe {
        (*timer).Opaque[3] = due as u64;
    }
    // SAFETY: as above.
    unsafe {
        (*timer).Opaque[6] = dpc as usize as u64;
    }
    // SAFETY: as above.
    unsafe {
        (*timer).Opaque[7] = (u64::from(period_ms.max(0) as u32)) << 32;
    }
    was_armed
}

/// `KeCancelTimer`: returns whether the timer was armed.
pub(crate) fn cancel_timer(state: &KernelState, timer: *mut KTIMER) -> bool {
    let mut clock = state.clock.lock();
    if !clock.initialised.contains(&(timer as usize)) {
        drop(clock);
        state.report(Bug::TimerNotInitialized {
            timer: timer as usize,
        });
        return false;
    }
    clock.armed.remove(&(timer as usize)).is_some()
}

/// Timers still armed (the driver must cancel them before their memory goes): their addresses.
pub(crate) fn armed_timer_addresses(state: &KernelState) -> Vec<usize> {
    let mut addresses: Vec<usize> = state.clock.lock().armed.keys().copied().collect();
    addresses.sort_unstable();
    addresses
}

/// The clock of a [`Kernel`], as tests drive it.
pub struct ClockControl<'a> {
    kernel: &'a Kernel,
}

impl ClockControl<'_> {
    /// Interrupt time now, 100 ns units.
    pub fn now_100ns(&self) -> i64 {
        self.kernel.state.clock.now_100ns()
    }

    /// System time now, 100 ns units since 1601 (a positive `KeSetTimerEx` due time).
    pub fn system_time(&self) -> i64 {
        self.kernel.state.clock.system_time()
    }

    /// Timers armed now.
    pub fn armed_timers(&self) -> usize {
        self.kernel.state.clock.armed_timers()
    }

    /// Moves the virtual clock forward by `ns` nanoseconds (rounded down to 100 ns), firing every
    /// timer due on the way inline, at DISPATCH_LEVEL, in due-time order. Panics in real-time
    /// mode. Raises the driver bugs detected meanwhile.
    pub fn advance(&self, ns: u64) {
        assert!(
            self.kernel.state.clock.lock().real_time.is_none(),
            "avcam-emulation: Clock::advance in real-time mode"
        );
        let delta = i64::try_from(ns / 100).unwrap_or(i64::MAX);
        {
            let _entered = self.kernel.enter();
            let until = self.now_100ns().saturating_add(delta);
            run_until(&self.kernel.state, until);
        }
        self.kernel.check();
    }

    /// Switches to real time: from now on a kernel thread moves the clock with the host's
    /// monotonic clock and fires timers when due (at most ~1 ms late). Idempotent.
    pub fn start_real_time(&self) {
        let mut clock = self.kernel.state.clock.lock();
        if clock.real_time.is_some() {
            return;
        }
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        clock.real_time = Some((Instant::now(), clock.now, stop.clone()));
        drop(clock);
        let weak: Weak<KernelState> = Arc::downgrade(&self.kernel.state);
        std::thread::spawn(move || real_time_loop(&weak, &stop));
    }

    /// Back to the virtual clock (stays where real time left it).
    pub fn stop_real_time(&self) {
        let mut clock = self.kernel.state.clock.lock();
        if let Some((_, _, stop)) = clock.real_time.take() {
            stop.store(true, std::sync::atomic::Ordering::Release);
        }
    }
}

/// The real-time thread: follows the host clock until stopped or the kernel is gone.
fn real_time_loop(kernel: &Weak<KernelState>, stop: &std::sync::atomic::AtomicBool) {
    while !stop.load(std::sync::atomic::Ordering::Acquire) {
        let Some(state) = kernel.upgrade() else {
            return;
        };
        let target = {
            let clock = state.clock.lock();
            let Some((started, base, _)) = clock.real_time.as_ref() else {
                return;
            };
            base + i64::try_from(started.elapsed().as_nanos() / 100).unwrap_or(i64::MAX)
        };
        {
            let kernel = Kernel {
                state: state.clone(),
            };
            let _entered = kernel.enter();
            run_until(&state, target);
        }
        let wait = state
            .clock
            .next_due()
            .map_or(Duration::from_millis(1), |due| {
                Duration::from_nanos(((due - target).max(0) as u64) * 100)
            })
            .min(Duration::from_millis(1));
        drop(state);
        std::thread::sleep(wait);
    }
}

impl Kernel {
    /// The kernel's clock: advance it (virtual mode) or switch it to real time.
    pub fn clock(&self) -> ClockControl<'_> {
        ClockControl { kernel: self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::{
        KeCancelTimer, KeInitializeDpc, KeInitializeTimerEx, KeQueryPerformanceCounter,
        KeSetTimerEx,
    };
    use ks::nt::NotificationTimer;

    /// Records the interrupt time at which it ran into the context (a Vec<i64>).
    unsafe extern "system" fn record(
        _dpc: *mut KDPC,
        context: *mut c_void,
        _a: *mut c_void,
        _b: *mut c_void,
    ) {
        assert_eq!(current_irql(), ks::nt::DISPATCH_LEVEL);
        let mut frequency = 0i64;
        // SAFETY: `frequency` is writable.
        let now = unsafe { KeQueryPerformanceCounter(&mut frequency) };
        assert_eq!(frequency, PERFORMANCE_FREQUENCY);
        // SAFETY: the tests pass a live Mutex<Vec<i64>> as context.
        let seen = unsafe { &*context.cast::<Mutex<Vec<i64>>>() };
        seen.lock().unwrap().push(now);
    }

    struct Fixture {
        timer: Box<KTIMER>,
        dpc: Box<KDPC>,
        seen: Box<Mutex<Vec<i64>>>,
    }

    fn fixture() -> Fixture {
        let mut f = Fixture {
            timer: Box::new(KTIMER { Opaque: [0; 8] }),
            dpc: Box::new(KDPC { Opaque: [0; 8] }),
            seen: Box::new(Mutex::new(Vec::new())),
        };
        let context: *mut Mutex<Vec<i64>> = &mut *f.seen;
        // SAFETY: both boxes are live and writable for the test.
        unsafe { KeInitializeDpc(&mut *f.dpc, Some(record), context.cast()) };
        // SAFETY: as above.
        unsafe { KeInitializeTimerEx(&mut *f.timer, NotificationTimer) };
        f
    }

    #[test]
    fn relative_one_shot_fires_once_at_its_due_time() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let mut f = fixture();
        // SAFETY: initialised timer and DPC, live for the test.
        let was = unsafe { KeSetTimerEx(&mut *f.timer, -1_000, 0, &mut *f.dpc) };
        assert_eq!(was, 0);
        kernel.clock().advance(50_000);
        assert!(f.seen.lock().unwrap().is_empty());
        kernel.clock().advance(60_000);
        assert_eq!(*f.seen.lock().unwrap(), vec![1_000]);
        assert_eq!(kernel.clock().now_100ns(), 1_100);
        kernel.clock().advance(10_000_000);
        assert_eq!(f.seen.lock().unwrap().len(), 1);
        assert_eq!(kernel.clock().armed_timers(), 0);
    }

    #[test]
    fn absolute_periodic_timer_fires_on_every_period_without_drift() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let mut f = fixture();
        let start = kernel.clock().system_time() + 5_000;
        // SAFETY: as above.
        unsafe { KeSetTimerEx(&mut *f.timer, start, 2, &mut *f.dpc) };
        kernel.clock().advance(5_000 * 100 + 3 * 2_000_000);
        assert_eq!(*f.seen.lock().unwrap(), vec![5_000, 25_000, 45_000, 65_000]);
        // SAFETY: as above.
        assert_eq!(unsafe { KeCancelTimer(&mut *f.timer) }, 1);
        // SAFETY: as above.
        assert_eq!(unsafe { KeCancelTimer(&mut *f.timer) }, 0);
        kernel.clock().advance(100_000_000);
        assert_eq!(f.seen.lock().unwrap().len(), 4);
    }

    #[test]
    fn resetting_an_armed_timer_replaces_its_due_time() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let mut f = fixture();
        // SAFETY: as above.
        unsafe { KeSetTimerEx(&mut *f.timer, -100, 0, &mut *f.dpc) };
        // SAFETY: as above.
        let was = unsafe { KeSetTimerEx(&mut *f.timer, -300, 0, &mut *f.dpc) };
        assert_eq!(was, 1);
        kernel.clock().advance(100 * 1_000);
        assert_eq!(*f.seen.lock().unwrap(), vec![300]);
    }

    #[test]
    fn an_uninitialised_timer_is_a_bug() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        let _entered = kernel.enter();
        let mut timer = KTIMER { Opaque: [0; 8] };
        // SAFETY: a live KTIMER (not initialised: that is the bug under test).
        unsafe { KeSetTimerEx(&mut timer, -1, 0, std::ptr::null_mut()) };
        assert_eq!(
            kernel.take_bugs(),
            vec![Bug::TimerNotInitialized {
                timer: &raw mut timer as usize
            }]
        );
    }

    #[test]
    fn real_time_mode_fires_without_advance() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let mut f = fixture();
        // SAFETY: as above.
        unsafe { KeSetTimerEx(&mut *f.timer, -10_000, 0, &mut *f.dpc) };
        kernel.clock().start_real_time();
        let mut waited = 0;
        while f.seen.lock().unwrap().is_empty() && waited < 5_000 {
            std::thread::sleep(Duration::from_millis(1));
            waited += 1;
        }
        kernel.clock().stop_real_time();
        let seen = f.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert!(seen[0] >= 10_000);
    }

    /// Context of [`slow`]: set when the DPC starts, and when it ends.
    #[derive(Default)]
    struct SlowDpc {
        started: std::sync::atomic::AtomicBool,
        finished: std::sync::atomic::AtomicBool,
    }

    /// A DPC that takes a while, as one running on another processor while a driver closes.
    unsafe extern "system" fn slow(
        _dpc: *mut KDPC,
        context: *mut c_void,
        _a: *mut c_void,
        _b: *mut c_void,
    ) {
        // SAFETY: the test passes a live SlowDpc as context.
        let flags = unsafe { &*context.cast::<SlowDpc>() };
        flags
            .started
            .store(true, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        flags
            .finished
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    #[test]
    fn flush_queued_dpcs_waits_for_a_dpc_running_on_another_thread() {
        use std::sync::atomic::Ordering::SeqCst;
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
        while !flags.started.load(SeqCst) && waited < 5_000 {
            std::thread::sleep(Duration::from_millis(1));
            waited += 1;
        }
        assert!(
            flags.started.load(SeqCst),
            "the real-time clock never ran the DPC"
        );
        // The DPC is running on the clock's thread now: cancelling finds nothing armed, and only
        // the flush makes it safe to free what the DPC uses.
        // SAFETY: an initialised timer.
        assert_eq!(unsafe { KeCancelTimer(&mut *timer) }, 0);
        // SAFETY: called at PASSIVE_LEVEL.
        unsafe { crate::services::KeFlushQueuedDpcs() };
        assert!(
            flags.finished.load(SeqCst),
            "KeFlushQueuedDpcs returned while the DPC ran"
        );
        kernel.clock().stop_real_time();
    }
}
