//! The kernel clock and its tick, KTIMERs and EX_TIMERs, DPCs and work items.
//!
//! # The clock
//! Each kernel has one [`Clock`] counting interrupt time in 100 ns units from 0 at boot. It is
//! virtual by default: it stands still until a test calls [`ClockControl::advance`], which moves
//! it forward and expires every timer that falls due on the way. In real-time mode
//! ([`ClockControl::start_real_time`]) a kernel thread keeps the clock equal to the host's
//! monotonic time since the switch (plus where it stood) and expires the timers when due, from
//! that thread. `KeQueryPerformanceCounter` reads the clock itself, at [`PERFORMANCE_FREQUENCY`]
//! (14,318,180 Hz, not 10 MHz: a count is not 100 ns).
//!
//! # The tick (learn.microsoft.com "Timer Accuracy", "High-Resolution Timers")
//! The system clock ticks every T ([`ClockControl::set_tick`]; [`DEFAULT_TICK`] = 156,250 x
//! 100 ns = 15.625 ms, Windows' default; 10,000 models an application that raised the timer
//! resolution to 1 ms), at 0, T, 2T, ... since boot:
//! - a KTIMER, and an EX_TIMER without EX_TIMER_HIGH_RESOLUTION, expires at the first tick at or
//!   after its due time ("detected during processing of the first system clock tick that occurs
//!   after the specified time");
//! - a relative due time counts from the last tick, since "the system time is accurate only to
//!   the latest tick": such a timer can expire up to one tick early, and at once when the
//!   interval is shorter than what is left of the current tick;
//! - a periodic timer keeps its period grid (due time n = first due time + n x period), expires
//!   at the first tick at or after each due time, and at most once per tick;
//! - an EX_TIMER_HIGH_RESOLUTION timer expires at its due time, never early, late by up to
//!   [`ClockControl::set_high_resolution_lateness`] (0 by default, so tests stay exact; the
//!   "Timers on Windows" note says about 1 ms on Windows).
//!
//! Due times follow `KeSetTimerEx`/`ExSetTimer`: negative = relative, in 100 ns units; positive
//! = absolute system time (100 ns units since 1601-01-01 UTC). The emulation's system time is
//! [`BOOT_SYSTEM_TIME`] + interrupt time (no clock changes: a guess that keeps both scales in
//! step). A KTIMER's `Period` is in milliseconds, an EX_TIMER's in 100 ns units.
//!
//! # Expiry, DPCs and processors
//! Timers that fall due at the same instant expire together, in due-time order (ties in setting
//! order): each queues its KDPC (a KDPC already queued is not queued twice) or its EX_TIMER
//! callback, then the queue runs, each routine at DISPATCH_LEVEL. By default the queue runs
//! **inline**, on the thread that moved the clock, before the clock moves on: a test sees every
//! DPC's effects when `advance` returns, deterministically. In **concurrency mode**
//! ([`ClockControl::run_dpcs_concurrently`]) N emulated processor threads take DPCs off the
//! queue while the clock thread moves on (it only waits until each queued DPC is taken or every
//! processor is busy), so DPCs run concurrently with the thread that fired them and with each
//! other; a KDPC is off the queue while its routine runs, so the same routine can run on two
//! processors at once (a periodic timer expiring again meanwhile). `KeFlushQueuedDpcs` waits
//! for every DPC queued or running when it is called, on any thread.
//!
//! # Work items
//! PASSIVE_LEVEL work deferred from DPCs (ks.sys's processing work item): inline, it runs on the
//! clock's thread once the DPCs of an instant have run; in concurrency mode on a worker thread
//! (see `work`).
//!
//! # Freed pool (Driver Verifier's bug check 0xC7, TIMER_OR_DPC_INVALID)
//! `ExFreePoolWithTag` of a block holding a set timer or a queued KDPC is a bug; so is (a guess)
//! a block holding the CallbackContext of an EX_TIMER that is set or whose callback is queued or
//! running. The emulation reports it, then cancels the timer or unqueues the DPC so nothing
//! touches the freed memory.
//!
//! The KDPC and KTIMER are written as on Windows x64 where drivers might look (KDPC
//! `DeferredRoutine` at byte 24 and `DeferredContext` at 32; KTIMER `Type` byte, `DueTime` at
//! 24, `Dpc` at 48, `Period` at 60); the emulation's own bookkeeping is a table keyed by address.

mod dpc;
mod ex_timer;
mod ktimer;
pub(crate) mod work;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::bugs::Bug;
use crate::kernel::KernelState;
use crate::Kernel;

pub(crate) use dpc::{flush_queued_dpcs, in_dpc, initialize_dpc};
pub(crate) use ex_timer::{
    allocate_timer, cancel_ex_timer, delete_timer, live_ex_timers, query_resolution, set_ex_timer,
};
pub(crate) use ktimer::{armed_timer_addresses, cancel_timer, initialize_timer, set_timer};

/// The emulation's system time at boot: 2026-01-01 00:00:00 UTC in 100 ns units since
/// 1601-01-01 (what a positive `KeSetTimerEx` due time is measured in).
pub const BOOT_SYSTEM_TIME: i64 = 134_116_992_000_000_000;

/// `KeQueryPerformanceCounter`'s frequency: 14,318,180 Hz, the HPET's (one of the platform
/// timers QPC has been based on: "Acquiring high-resolution time stamps"). The documentation
/// only says the frequency is fixed at boot, so a driver must scale by the frequency it is given;
/// a frequency other than 10 MHz (where a count would be 100 ns) makes one that does not fail
/// (a guess: the strictest plausible choice).
pub const PERFORMANCE_FREQUENCY: i64 = 14_318_180;

/// 100 ns units in a second.
const HNS_PER_SECOND: i128 = 10_000_000;

/// The performance counter at interrupt time `now_100ns` (100 ns units since boot): the counts
/// elapsed since boot at [`PERFORMANCE_FREQUENCY`], rounded up. A count is shorter than 100 ns,
/// so scaling the counter back to 100 ns units and rounding down (as `KSCONVERT_PERFORMANCE_TIME`
/// does) gives exactly the interrupt time: a driver's QPC-derived times meet the virtual clock's.
/// Monotonic: it never goes back.
pub fn performance_counter(now_100ns: i64) -> i64 {
    let scaled = i128::from(now_100ns) * i128::from(PERFORMANCE_FREQUENCY);
    let counts = (scaled + HNS_PER_SECOND - 1).div_euclid(HNS_PER_SECOND);
    i64::try_from(counts).unwrap_or(i64::MAX)
}

/// The interrupt time (100 ns units) a [`performance_counter`] value was read at: the counter
/// scaled to 100 ns units, rounded down (exact for every value the counter returns). For tests
/// that compare counter readings with interrupt times.
pub fn interrupt_time_of_counter(counter: i64) -> i64 {
    let time = i128::from(counter) * HNS_PER_SECOND / i128::from(PERFORMANCE_FREQUENCY);
    i64::try_from(time).unwrap_or(i64::MAX)
}

/// The default interval between system clock ticks, in 100 ns units: 156,250 = 15.625 ms (64
/// ticks a second), Windows' default on x64 ("typically about 15 milliseconds").
pub const DEFAULT_TICK: i64 = 156_250;

/// The shortest tick `ExQueryTimerResolution` reports, in 100 ns units: 5,000 = 0.5 ms (a
/// guess at a typical x64 machine; the documentation says "about 1 millisecond").
pub const MINIMUM_TICK: i64 = 5_000;

/// How a timer's expiry relates to its due time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// On the system clock tick (KTIMER; EX_TIMER without EX_TIMER_HIGH_RESOLUTION).
    Tick,
    /// At the due time, plus the configured lateness (EX_TIMER_HIGH_RESOLUTION).
    High,
}

/// What an expiring timer queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// A KTIMER and the KDPC it was set with (0: none).
    Ktimer { dpc: usize },
    /// An EX_TIMER (its callback, if any).
    ExTimer { resolution: Resolution },
}

impl Target {
    fn resolution(self) -> Resolution {
        match self {
            Target::Ktimer { .. } => Resolution::Tick,
            Target::ExTimer { resolution } => resolution,
        }
    }
}

/// A set timer.
#[derive(Clone, Copy, Debug)]
struct Armed {
    /// The nominal due time (interrupt time): the period grid.
    due: i64,
    /// The interrupt time it expires at (on the tick, or `due` plus the lateness).
    expires: i64,
    /// Re-arm interval in 100 ns units (0: one-shot).
    period: i64,
    target: Target,
    /// Setting order, to break ties deterministically.
    sequence: u64,
}

/// The real-time mode: the host instant and clock value at the switch, and the thread's stop
/// flag.
struct RealTime {
    started: Instant,
    base: i64,
    stop: Arc<AtomicBool>,
}

/// Everything the clock's lock protects.
struct ClockState {
    /// Interrupt time now, 100 ns units.
    now: i64,
    /// The tick, 100 ns units.
    tick: i64,
    /// The most a high-resolution timer expires late, 100 ns units.
    lateness: i64,
    /// The lateness generator's state (xorshift64*, fixed seed: runs repeat).
    lateness_state: u64,
    /// Timers initialised with KeInitializeTimerEx.
    ktimers: HashSet<usize>,
    /// DPCs initialised with KeInitializeDpc.
    dpcs: HashMap<usize, dpc::DpcObject>,
    /// EX_TIMERs allocated and not deleted yet.
    ex_timers: HashMap<usize, ex_timer::ExTimerObject>,
    /// EX_TIMERs ExDeleteTimer freed (until the pool hands the address out again).
    deleted_ex_timers: HashSet<usize>,
    /// Set timers by address (KTIMER or EX_TIMER).
    armed: HashMap<usize, Armed>,
    sequence: u64,
    /// DPCs and EX_TIMER callbacks queued, not running yet.
    queue: VecDeque<dpc::Queued>,
    /// The serial number of the last entry queued.
    dpc_serial: u64,
    /// DPCs and callbacks running now, and on which thread.
    running: Vec<dpc::Running>,
    /// Concurrency mode's processor threads (0: inline).
    processors: usize,
    /// Work items queued, not started.
    work: VecDeque<work::WorkItem>,
    /// Work items the worker thread is running (0 or 1).
    work_running: usize,
    /// Concurrency mode: how long a timer set from a DPC or callback on a processor thread
    /// waits before it takes effect ([`ClockControl::delay_timer_sets_in_dpcs`]).
    set_delay_in_dpcs: Duration,
    /// The kernel is gone: the processor and worker threads end.
    shutdown: bool,
    real_time: Option<RealTime>,
}

impl ClockState {
    fn new() -> ClockState {
        ClockState {
            now: 0,
            tick: DEFAULT_TICK,
            lateness: 0,
            lateness_state: 0x9E37_79B9_7F4A_7C15,
            ktimers: HashSet::new(),
            dpcs: HashMap::new(),
            ex_timers: HashMap::new(),
            deleted_ex_timers: HashSet::new(),
            armed: HashMap::new(),
            sequence: 0,
            queue: VecDeque::new(),
            dpc_serial: 0,
            running: Vec::new(),
            processors: 0,
            work: VecDeque::new(),
            work_running: 0,
            set_delay_in_dpcs: Duration::ZERO,
            shutdown: false,
            real_time: None,
        }
    }

    /// The nominal due time (interrupt time) of a timer set now with `due_time` (the
    /// `KeSetTimerEx`/`ExSetTimer` argument). A relative time counts from the last tick for a
    /// tick-driven timer (the system time is accurate only to the latest tick), from now for a
    /// high-resolution one.
    fn due_from(&self, due_time: i64, resolution: Resolution) -> i64 {
        if due_time < 0 {
            let base = match resolution {
                Resolution::Tick => floor_tick(self.now, self.tick),
                Resolution::High => self.now,
            };
            base.saturating_add(due_time.saturating_neg())
        } else {
            due_time.saturating_sub(BOOT_SYSTEM_TIME)
        }
    }

    /// A lateness for a high-resolution expiry, in `0..=lateness`.
    fn sample_lateness(&mut self) -> i64 {
        if self.lateness == 0 {
            return 0;
        }
        let mut x = self.lateness_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.lateness_state = x;
        let sample = x.wrapping_mul(0x2545_F491_4F6C_DD1D) % (self.lateness as u64 + 1);
        sample as i64
    }

    /// Sets `timer` to fall due at `due` (re-arming it if it was set); returns whether it was.
    fn arm(&mut self, timer: usize, due: i64, period: i64, target: Target) -> bool {
        let expires = match target.resolution() {
            Resolution::Tick => ceil_tick(due, self.tick),
            Resolution::High => due.saturating_add(self.sample_lateness()),
        };
        self.sequence += 1;
        let armed = Armed {
            due,
            expires,
            period,
            target,
            sequence: self.sequence,
        };
        self.armed.insert(timer, armed).is_some()
    }

    /// Expires `timer` now: re-arms it on its period grid (at most once per tick) or disarms
    /// it, and queues its DPC or callback. Returns an EX_TIMER deletion this completed.
    fn expire(&mut self, state: &KernelState, timer: usize) -> Option<ex_timer::Finished> {
        let armed = self.armed.remove(&timer)?;
        let disabled = self
            .ex_timers
            .get(&timer)
            .is_some_and(|object| object.deleting.is_some());
        // A periodic EX_TIMER never expires more than once after ExDeleteTimer disabled it.
        if armed.period > 0 && !disabled {
            let due = armed.due.saturating_add(armed.period);
            let expires = match armed.target.resolution() {
                Resolution::Tick => ceil_tick(due, self.tick)
                    .max(floor_tick(self.now, self.tick).saturating_add(self.tick)),
                Resolution::High => due.saturating_add(self.sample_lateness()),
            };
            self.sequence += 1;
            let next = Armed {
                due,
                expires,
                sequence: self.sequence,
                ..armed
            };
            self.armed.insert(timer, next);
        }
        match armed.target {
            Target::Ktimer { dpc } => {
                if dpc != 0 {
                    self.queue_dpc(state, dpc);
                }
                None
            }
            Target::ExTimer { .. } => self.queue_ex_callback(timer),
        }
    }
}

/// The last tick at or before `t`.
fn floor_tick(t: i64, tick: i64) -> i64 {
    t - t.rem_euclid(tick)
}

/// The first tick at or after `t`.
fn ceil_tick(t: i64, tick: i64) -> i64 {
    match t.rem_euclid(tick) {
        0 => t,
        r => t.saturating_add(tick - r),
    }
}

/// The lock and the condition variable the clock's threads share.
struct Shared {
    state: Mutex<ClockState>,
    /// Notified whenever the DPC queue, the running set or the work queue changes.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, ClockState>) -> MutexGuard<'a, ClockState> {
        self.changed.wait(guard).unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `take` gives something (a processor's next DPC, the worker's next item);
    /// None once the kernel is gone.
    fn next<T>(&self, mut take: impl FnMut(&mut ClockState) -> Option<T>) -> Option<T> {
        let mut clock = self.lock();
        loop {
            if clock.shutdown {
                return None;
            }
            if let Some(item) = take(&mut clock) {
                return Some(item);
            }
            clock = self.wait(clock);
        }
    }
}

/// Runs `body` on this thread with the kernel current (at PASSIVE_LEVEL, as a kernel thread
/// starts); false if the kernel is gone.
fn in_kernel(kernel: &Weak<KernelState>, body: impl FnOnce(&KernelState)) -> bool {
    let Some(state) = kernel.upgrade() else {
        return false;
    };
    let kernel = Kernel { state };
    let _entered = kernel.enter();
    body(&kernel.state);
    true
}

/// The clock, timers, DPC queue and work queue of one kernel.
pub struct Clock {
    shared: Arc<Shared>,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock {
            shared: Arc::new(Shared {
                state: Mutex::new(ClockState::new()),
                changed: Condvar::new(),
            }),
        }
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        // The kernel is gone: the processor and worker threads end.
        self.shared.lock().shutdown = true;
        self.shared.changed.notify_all();
    }
}

/// Waits the configured delay when a timer is set from a DPC on a processor thread
/// ([`ClockControl::delay_timer_sets_in_dpcs`]).
fn delay_set_in_dpc(state: &KernelState) {
    if !dpc::in_dpc() {
        return;
    }
    let delay = {
        let clock = state.clock.lock();
        if clock.processors == 0 {
            return;
        }
        clock.set_delay_in_dpcs
    };
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
}

impl Clock {
    fn lock(&self) -> MutexGuard<'_, ClockState> {
        self.shared.lock()
    }

    /// Interrupt time now, in 100 ns units since boot.
    pub fn now_100ns(&self) -> i64 {
        self.lock().now
    }

    /// System time now (100 ns units since 1601).
    pub fn system_time(&self) -> i64 {
        BOOT_SYSTEM_TIME + self.now_100ns()
    }

    /// Timers (KTIMERs and EX_TIMERs) currently set.
    pub fn armed_timers(&self) -> usize {
        self.lock().armed.len()
    }

    /// The tick, 100 ns units.
    pub fn tick(&self) -> i64 {
        self.lock().tick
    }
}

/// Moves the clock to the next instant at or before `until` at which timers expire, expires
/// them and queues their DPCs; false when none expires by `until`.
fn expire_next(state: &KernelState, until: i64) -> bool {
    let mut clock = state.clock.lock();
    let Some(instant) = clock
        .armed
        .values()
        .map(|armed| armed.expires)
        .filter(|&expires| expires <= until)
        .min()
    else {
        return false;
    };
    clock.now = clock.now.max(instant);
    let now = clock.now;
    let mut due: Vec<(i64, u64, usize)> = clock
        .armed
        .iter()
        .filter(|(_, armed)| armed.expires <= now)
        .map(|(&timer, armed)| (armed.expires, armed.sequence, timer))
        .collect();
    due.sort_unstable();
    let finished: Vec<ex_timer::Finished> = due
        .into_iter()
        .filter_map(|(_, _, timer)| clock.expire(state, timer))
        .collect();
    drop(clock);
    ex_timer::finish_deletions(state, finished);
    true
}

/// Expires every timer due up to `until`, instant by instant, running (or handing out) the DPCs
/// of each instant before the next, and leaves the clock at `until`.
fn run_until(state: &KernelState, until: i64) {
    while expire_next(state, until) {
        dpc::dispatch(state);
    }
    let mut clock = state.clock.lock();
    clock.now = clock.now.max(until);
}

/// The clock of a [`Kernel`], as tests drive and configure it.
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

    /// Timers (KTIMERs and EX_TIMERs) set now.
    pub fn armed_timers(&self) -> usize {
        self.kernel.state.clock.armed_timers()
    }

    /// The interval between system clock ticks, 100 ns units ([`DEFAULT_TICK`] unless set).
    pub fn tick(&self) -> i64 {
        self.kernel.state.clock.tick()
    }

    /// When the earliest set timer expires (interrupt time, 100 ns units), if any is set: where a
    /// test or the viewer moves the virtual clock to, to step from one expiry to the next. An
    /// observation; nothing changes.
    pub fn next_expiry(&self) -> Option<i64> {
        self.kernel
            .state
            .clock
            .lock()
            .armed
            .values()
            .map(|armed| armed.expires)
            .min()
    }

    /// Sets the interval between system clock ticks, in 100 ns units (ticks at multiples of it
    /// since boot): [`DEFAULT_TICK`] models a default Windows system, 10,000 one where an
    /// application raised the timer resolution to 1 ms. Timers set afterwards follow it;
    /// timers already set keep the expiry they were given. Panics unless `tick_100ns >= 1`.
    pub fn set_tick(&self, tick_100ns: i64) {
        assert!(
            tick_100ns >= 1,
            "avcam-emulation: a tick of {tick_100ns} x 100 ns"
        );
        self.kernel.state.clock.lock().tick = tick_100ns;
    }

    /// Makes each expiry of an EX_TIMER_HIGH_RESOLUTION timer late by a pseudo-random amount
    /// in `0..=max_100ns` (a fixed seed: runs repeat). 0, the default, expires them exactly at
    /// their due time. Panics if `max_100ns` is negative.
    pub fn set_high_resolution_lateness(&self, max_100ns: i64) {
        assert!(
            max_100ns >= 0,
            "avcam-emulation: a negative lateness ({max_100ns})"
        );
        self.kernel.state.clock.lock().lateness = max_100ns;
    }

    /// Concurrency mode: from now on DPCs and EX_TIMER callbacks run on `processors` emulated
    /// processor threads, concurrently with the thread that moves the clock and with each
    /// other, and PASSIVE_LEVEL work deferred from them on a worker thread. Deterministic tests
    /// keep the default (inline). Panics if `processors < 2` or the mode is on already.
    pub fn run_dpcs_concurrently(&self, processors: usize) {
        dpc::start_processors(&self.kernel.state, processors);
    }

    /// The processor threads of concurrency mode (0: DPCs run inline).
    pub fn processors(&self) -> usize {
        self.kernel.state.clock.lock().processors
    }

    /// Moves the virtual clock forward by `ns` nanoseconds (rounded down to 100 ns), expiring
    /// every timer due on the way, instant by instant. Inline (the default) every DPC, and the
    /// work it deferred, has run when it returns; in concurrency mode DPCs may still be queued
    /// or running (`KeFlushQueuedDpcs` waits for them). Panics in real-time mode. Raises the
    /// driver bugs detected meanwhile.
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

    /// Concurrency mode: a `KeSetTimerEx` or `ExSetTimer` called from a DPC or timer callback
    /// on a processor thread first waits `delay` (real time), as a processor preempted by an
    /// interrupt would: it widens the window between a callback's decision to re-arm and the
    /// re-arm, so a driver that arms outside its own lock (after another thread cancelled the
    /// timer) is caught re-arming a stopped timer. A test aid; no behaviour of Windows changes.
    pub fn delay_timer_sets_in_dpcs(&self, delay: Duration) {
        self.kernel.state.clock.lock().set_delay_in_dpcs = delay;
    }

    /// Concurrency mode: waits until no DPC or callback is queued or running and no work item
    /// is queued or running (what a test needs before it checks the outcome of what the
    /// processors and the worker did: a CLOSE completed on the worker, say). Inline mode has
    /// nothing in flight once a client call returns. Panics after `timeout`.
    pub fn settle(&self, timeout: Duration) {
        let shared = &self.kernel.state.clock.shared;
        let deadline = Instant::now() + timeout;
        let mut clock = shared.lock();
        while !(clock.queue.is_empty()
            && clock.running.is_empty()
            && clock.work.is_empty()
            && clock.work_running == 0)
        {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "avcam-emulation: the processors did not settle"
            );
            clock = shared
                .changed
                .wait_timeout(clock, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Switches to real time: from now on a kernel thread moves the clock with the host's
    /// monotonic clock and expires timers when due (at most ~1 ms late). Idempotent.
    pub fn start_real_time(&self) {
        let mut clock = self.kernel.state.clock.lock();
        if clock.real_time.is_some() {
            return;
        }
        let stop = Arc::new(AtomicBool::new(false));
        clock.real_time = Some(RealTime {
            started: Instant::now(),
            base: clock.now,
            stop: stop.clone(),
        });
        drop(clock);
        let weak: Weak<KernelState> = Arc::downgrade(&self.kernel.state);
        std::thread::spawn(move || real_time_loop(&weak, &stop));
    }

    /// Back to the virtual clock (stays where real time left it).
    pub fn stop_real_time(&self) {
        let mut clock = self.kernel.state.clock.lock();
        if let Some(real_time) = clock.real_time.take() {
            real_time.stop.store(true, Ordering::Release);
        }
    }
}

/// The real-time thread: follows the host clock until stopped or the kernel is gone.
fn real_time_loop(kernel: &Weak<KernelState>, stop: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        let Some(state) = kernel.upgrade() else {
            return;
        };
        let target = {
            let clock = state.clock.lock();
            let Some(real_time) = clock.real_time.as_ref() else {
                return;
            };
            let elapsed = i64::try_from(real_time.started.elapsed().as_nanos() / 100);
            real_time.base.saturating_add(elapsed.unwrap_or(i64::MAX))
        };
        {
            let kernel = Kernel {
                state: state.clone(),
            };
            let _entered = kernel.enter();
            run_until(&state, target);
        }
        let next = state
            .clock
            .lock()
            .armed
            .values()
            .map(|armed| armed.expires)
            .min();
        let wait = next
            .map_or(Duration::from_millis(1), |expires| {
                Duration::from_nanos(((expires - target).max(0) as u64) * 100)
            })
            .min(Duration::from_millis(1));
        drop(state);
        std::thread::sleep(wait);
    }
}

/// `ExFreePoolWithTag` is about to free `size` bytes at `block`: reports every set timer and
/// queued KDPC inside (Driver Verifier's bug check 0xC7), and every EX_TIMER whose
/// CallbackContext is inside while it is set, queued or running (guess), then cancels those
/// timers, unqueues those DPCs and forgets the KTIMERs and KDPCs initialised there.
pub(crate) fn check_freed_block(state: &KernelState, block: usize, size: usize) {
    let end = block.saturating_add(size.max(1));
    let inside = |address: usize| (block..end).contains(&address);
    let mut bugs = Vec::new();
    let mut clock = state.clock.lock();
    let mut contexts: Vec<usize> = clock
        .ex_timers
        .iter()
        .filter(|(_, object)| object.callback.is_some() && inside(object.context))
        .map(|(&timer, _)| timer)
        .filter(|&timer| {
            clock.armed.contains_key(&timer) || clock.pending(dpc::Key::ExTimer(timer))
        })
        .collect();
    contexts.sort_unstable();
    let mut finished = Vec::new();
    for timer in contexts {
        let context = clock.ex_timers[&timer].context;
        bugs.push(Bug::TimerContextInFreedPool {
            block,
            timer,
            context,
        });
        clock.armed.remove(&timer);
        clock
            .queue
            .retain(|queued| queued.key() != dpc::Key::ExTimer(timer));
        finished.extend(clock.take_finished_deletion(timer, false));
    }
    let mut armed: Vec<usize> = clock.armed.keys().copied().filter(|&t| inside(t)).collect();
    armed.sort_unstable();
    for timer in armed {
        clock.armed.remove(&timer);
        bugs.push(Bug::TimerInFreedPool { block, timer });
    }
    clock.queue.retain(|queued| match queued.key() {
        dpc::Key::Dpc(dpc) if inside(dpc) => {
            bugs.push(Bug::DpcInFreedPool { block, dpc });
            false
        }
        _ => true,
    });
    let freed_objects: Vec<usize> = clock
        .ex_timers
        .keys()
        .copied()
        .filter(|&t| t == block)
        .collect();
    for timer in freed_objects {
        clock.ex_timers.remove(&timer);
        clock.deleted_ex_timers.insert(timer);
        bugs.push(Bug::ExTimerFreedAsPool { timer });
    }
    clock.ktimers.retain(|&timer| !inside(timer));
    clock.dpcs.retain(|&dpc, _| !inside(dpc));
    drop(clock);
    // An ExDeleteTimer waiting for a callback just unqueued goes on.
    state.clock.shared.changed.notify_all();
    for bug in bugs {
        state.report(bug);
    }
    ex_timer::finish_deletions(state, finished);
}

impl Kernel {
    /// The kernel's clock: advance it (virtual mode), switch it to real time, set its tick.
    pub fn clock(&self) -> ClockControl<'_> {
        ClockControl { kernel: self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_down_and_up_to_multiples_of_the_tick() {
        assert_eq!(floor_tick(0, DEFAULT_TICK), 0);
        assert_eq!(floor_tick(156_249, DEFAULT_TICK), 0);
        assert_eq!(floor_tick(156_250, DEFAULT_TICK), 156_250);
        assert_eq!(ceil_tick(0, DEFAULT_TICK), 0);
        assert_eq!(ceil_tick(1, DEFAULT_TICK), 156_250);
        assert_eq!(ceil_tick(156_250, DEFAULT_TICK), 156_250);
        assert_eq!(ceil_tick(156_251, DEFAULT_TICK), 312_500);
        assert_eq!(ceil_tick(-1, 10), 0);
        assert_eq!(ceil_tick(i64::MAX - 3, 10), i64::MAX);
        assert_eq!(floor_tick(12_345, 1), 12_345);
        assert_eq!(ceil_tick(12_345, 1), 12_345);
    }

    #[test]
    fn lateness_stays_within_its_bound_and_uses_it() {
        let mut clock = ClockState::new();
        assert_eq!(clock.sample_lateness(), 0);
        clock.lateness = 10_000;
        let samples: Vec<i64> = (0..1_000).map(|_| clock.sample_lateness()).collect();
        assert!(samples.iter().all(|&s| (0..=10_000).contains(&s)));
        assert!(samples.iter().any(|&s| s > 9_000), "the bound is reached");
        assert!(samples.iter().any(|&s| s < 1_000), "and early values too");
    }

    #[test]
    #[should_panic(expected = "a tick of 0")]
    fn a_zero_tick_is_refused() {
        Kernel::new().clock().set_tick(0);
    }

    #[test]
    fn the_default_tick_is_windows_default() {
        let kernel = Kernel::new();
        assert_eq!(kernel.clock().tick(), 156_250);
        kernel.clock().set_tick(10_000);
        assert_eq!(kernel.clock().tick(), 10_000);
    }

    #[test]
    fn the_performance_counter_counts_at_its_own_frequency_not_in_100_ns_units() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let read = || {
            let mut frequency = 0i64;
            // SAFETY: `frequency` is writable.
            let counter = unsafe { crate::services::KeQueryPerformanceCounter(&mut frequency) };
            (counter, frequency)
        };
        assert_eq!(read(), (0, PERFORMANCE_FREQUENCY), "counting from boot");
        assert_ne!(PERFORMANCE_FREQUENCY, 10_000_000, "a count is not 100 ns");
        // Seven seconds: exactly seven seconds' worth of counts.
        kernel.clock().advance(7_000_000_000);
        assert_eq!(read().0, 7 * PERFORMANCE_FREQUENCY);
        // 100 ns more: 1.43 counts more, rounded up.
        kernel.clock().advance(100);
        assert_eq!(read().0, 7 * PERFORMANCE_FREQUENCY + 2);
        let mut last = read().0;
        for _ in 0..1_000 {
            kernel.clock().advance(100);
            let (counter, frequency) = read();
            assert!(counter > last, "monotonic, at least one count per 100 ns");
            let now = kernel.clock().now_100ns();
            assert_eq!(
                interrupt_time_of_counter(counter),
                now,
                "the inverse is exact"
            );
            // What a driver computes (KSCONVERT_PERFORMANCE_TIME, rounding down) is the clock's
            // time; a driver taking the counter for 100 ns units is 43% off.
            assert_eq!(
                i128::from(counter) * 10_000_000 / i128::from(frequency),
                i128::from(now)
            );
            assert!(counter > now * 14 / 10);
            last = counter;
        }
        // NULL for the frequency is allowed.
        // SAFETY: a NULL PerformanceFrequency is documented as optional.
        let counter = unsafe { crate::services::KeQueryPerformanceCounter(std::ptr::null_mut()) };
        assert_eq!(counter, last);
    }
}
