//! The clock tick, KTIMERs against EX_TIMERs, and what a driver's timers may not do, through the
//! services a driver calls (`avcam-kernel`), on the virtual clock.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;

use avcam_emulation::timer::DEFAULT_TICK;
use avcam_emulation::{Bug, Kernel};
use avcam_kernel::{
    ExAllocatePool2, ExAllocateTimer, ExDeleteTimer, ExFreePoolWithTag, ExQueryTimerResolution,
    ExSetTimer, KeCancelTimer, KeInitializeDpc, KeInitializeTimerEx, KeQueryPerformanceCounter,
    KeSetTimerEx,
};
use ks::nt::{
    NotificationTimer, EXT_DELETE_PARAMETERS, EX_TIMER, EX_TIMER_HIGH_RESOLUTION, KDPC, KTIMER,
    POOL_FLAG_NON_PAGED,
};

/// 100 ns units in a second.
const SECOND: i64 = 10_000_000;

/// Interrupt time now, from the performance counter (scaled back exactly: the emulation's
/// counter runs at its own frequency, not in 100 ns units).
fn now() -> i64 {
    // SAFETY: NULL frequency is allowed.
    let counter = unsafe { KeQueryPerformanceCounter(std::ptr::null_mut()) };
    avcam_emulation::timer::interrupt_time_of_counter(counter)
}

/// A frame clock as a camera keeps it: frame n is due at floor(n x 10^7 / fps) after the epoch.
struct FrameClock {
    fps: i64,
    /// Interrupt times the timer routine ran at.
    fired: Mutex<Vec<i64>>,
}

impl FrameClock {
    fn new(fps: i64) -> FrameClock {
        FrameClock {
            fps,
            fired: Mutex::new(Vec::new()),
        }
    }

    fn deadline(&self, n: i64) -> i64 {
        n * SECOND / self.fps
    }

    /// The first deadline after `now`.
    fn next_deadline(&self, now: i64) -> i64 {
        let mut n = now * self.fps / SECOND;
        while self.deadline(n) <= now {
            n += 1;
        }
        self.deadline(n)
    }

    /// Records an expiry; returns how long until the next deadline (a relative due time).
    fn tick(&self) -> i64 {
        let now = now();
        self.fired.lock().unwrap().push(now);
        self.next_deadline(now) - now
    }

    fn fired(&self) -> Vec<i64> {
        self.fired.lock().unwrap().clone()
    }
}

/// A KTIMER-paced frame clock, as avcam's driver has it: the DPC re-arms the timer for the next
/// absolute deadline (as a relative due time from now).
struct KtimerCamera {
    timer: KTIMER,
    dpc: KDPC,
    clock: FrameClock,
}

#[ks::kernel_abi]
unsafe extern "system" fn ktimer_frame(
    _dpc: *mut KDPC,
    context: *mut c_void,
    _a: *mut c_void,
    _b: *mut c_void,
) {
    // SAFETY: the test's live KtimerCamera.
    let camera = unsafe { &mut *context.cast::<KtimerCamera>() };
    let relative = camera.clock.tick();
    // SAFETY: initialised and live while the test runs (cancelled before it goes).
    unsafe { KeSetTimerEx(&mut camera.timer, -relative, 0, &mut camera.dpc) };
}

impl KtimerCamera {
    fn start(fps: i64) -> Box<KtimerCamera> {
        let mut camera = Box::new(KtimerCamera {
            timer: KTIMER { Opaque: [0; 8] },
            dpc: KDPC { Opaque: [0; 8] },
            clock: FrameClock::new(fps),
        });
        let context: *mut KtimerCamera = &mut *camera;
        // SAFETY: the box stays put while the timer is set.
        unsafe { KeInitializeDpc(&mut camera.dpc, Some(ktimer_frame), context.cast()) };
        // SAFETY: as above.
        unsafe { KeInitializeTimerEx(&mut camera.timer, NotificationTimer) };
        let first = camera.clock.next_deadline(now()) - now();
        // SAFETY: as above.
        unsafe { KeSetTimerEx(&mut camera.timer, -first, 0, &mut camera.dpc) };
        camera
    }

    fn stop(&mut self) -> Vec<i64> {
        // SAFETY: the timer set in `start`.
        unsafe { KeCancelTimer(&mut self.timer) };
        self.clock.fired()
    }
}

/// The same frame clock on a high-resolution EX_TIMER (ExSetTimer takes relative due times only
/// for those).
struct ExTimerCamera {
    timer: *mut EX_TIMER,
    clock: FrameClock,
}

#[ks::kernel_abi]
unsafe extern "system" fn ex_timer_frame(timer: *mut EX_TIMER, context: *mut c_void) {
    // SAFETY: the test's live ExTimerCamera.
    let camera = unsafe { &*context.cast::<ExTimerCamera>() };
    let relative = camera.clock.tick();
    // SAFETY: the timer the callback belongs to, not deleted while it runs.
    unsafe { ExSetTimer(timer, -relative, 0, std::ptr::null_mut()) };
}

impl ExTimerCamera {
    fn start(fps: i64, attributes: u32) -> Box<ExTimerCamera> {
        let mut camera = Box::new(ExTimerCamera {
            timer: std::ptr::null_mut(),
            clock: FrameClock::new(fps),
        });
        let context: *mut ExTimerCamera = &mut *camera;
        // SAFETY: the box outlives the timer (deleted with Wait in `stop`).
        camera.timer = unsafe { ExAllocateTimer(Some(ex_timer_frame), context.cast(), attributes) };
        assert!(!camera.timer.is_null());
        let first = camera.clock.next_deadline(now()) - now();
        // SAFETY: a live timer.
        unsafe { ExSetTimer(camera.timer, -first, 0, std::ptr::null_mut()) };
        camera
    }

    fn stop(&self) -> Vec<i64> {
        let mut parameters = EXT_DELETE_PARAMETERS::initialized();
        // SAFETY: a live timer; PASSIVE_LEVEL.
        unsafe { ExDeleteTimer(self.timer, 1, 1, &mut parameters) };
        self.clock.fired()
    }
}

#[test]
fn at_240_fps_a_ktimer_fires_once_per_default_tick_and_a_high_resolution_timer_on_time() {
    let kernel = Kernel::new();
    let _entered = kernel.enter();
    let mut ktimer = KtimerCamera::start(240);
    let ex_timer = ExTimerCamera::start(240, EX_TIMER_HIGH_RESOLUTION);
    kernel.clock().advance(1_000_000_000);
    let ktimer_fired = ktimer.stop();
    let ex_fired = ex_timer.stop();
    // 64 ticks in a second: the KTIMER expires on each, whatever the 240 deadlines.
    let ticks: Vec<i64> = (1..=64).map(|n| n * DEFAULT_TICK).collect();
    assert_eq!(ktimer_fired, ticks);
    // The high-resolution timer expires at each deadline, exactly (no lateness configured).
    let deadlines: Vec<i64> = (1..=240).map(|n| n * SECOND / 240).collect();
    assert_eq!(ex_fired, deadlines);
    kernel.assert_no_leaks();
}

#[test]
fn next_expiry_names_the_earliest_set_timer_and_stepping_to_it_fires_it() {
    let kernel = Kernel::new();
    let _entered = kernel.enter();
    assert_eq!(kernel.clock().next_expiry(), None);
    let mut ktimer = KtimerCamera::start(240);
    let ex_timer = ExTimerCamera::start(240, EX_TIMER_HIGH_RESOLUTION);
    // The high-resolution timer's first deadline comes before the KTIMER's first tick.
    assert_eq!(kernel.clock().next_expiry(), Some(SECOND / 240));
    for _ in 0..3 {
        let next = kernel.clock().next_expiry().unwrap();
        let now = kernel.clock().now_100ns();
        kernel.clock().advance(((next - now) as u64) * 100);
    }
    assert_eq!(ex_timer.clock.fired(), [1, 2, 3].map(|n| n * SECOND / 240));
    assert!(
        ktimer.clock.fired().is_empty(),
        "the first tick is still to come"
    );
    ktimer.stop();
    ex_timer.stop();
    assert_eq!(kernel.clock().next_expiry(), None);
    kernel.assert_no_leaks();
}

#[test]
fn a_non_high_resolution_ex_timer_fires_on_the_tick_too() {
    let kernel = Kernel::new();
    let _entered = kernel.enter();
    let camera = ExTimerCamera::start(240, 0);
    kernel.clock().advance(100_000_000);
    let fired = camera.stop();
    let ticks: Vec<i64> = (1..=6).map(|n| n * DEFAULT_TICK).collect();
    assert_eq!(fired, ticks);
}

#[test]
fn with_a_1_ms_tick_the_ktimer_keeps_240_fps_but_each_expiry_is_late() {
    let kernel = Kernel::new();
    kernel.clock().set_tick(10_000);
    let _entered = kernel.enter();
    let mut camera = KtimerCamera::start(240);
    kernel.clock().advance(1_000_000_000);
    let fired = camera.stop();
    // Each deadline, rounded up to the next millisecond.
    let expected: Vec<i64> = (1..=240)
        .map(|n| ((n * SECOND / 240) as u64).div_ceil(10_000) as i64 * 10_000)
        .collect();
    assert_eq!(fired, expected);
    assert!(fired[0] > SECOND / 240, "late by up to a tick");
}

#[test]
fn high_resolution_lateness_stays_within_its_bound_and_is_never_early() {
    let kernel = Kernel::new();
    kernel.clock().set_high_resolution_lateness(10_000);
    let _entered = kernel.enter();
    let camera = ExTimerCamera::start(240, EX_TIMER_HIGH_RESOLUTION);
    // A second and a millisecond: the 240th deadline (1 s) expires by then, the 241st not.
    kernel.clock().advance(1_001_000_000);
    let fired = camera.stop();
    assert_eq!(fired.len(), 240);
    let mut late = 0;
    for (n, &time) in fired.iter().enumerate() {
        // Late by less than a frame interval, so each expiry re-arms for the next deadline.
        let deadline = (n as i64 + 1) * SECOND / 240;
        assert!(time >= deadline, "expiry {n} at {time}: early");
        assert!(
            time - deadline <= 10_000,
            "expiry {n} at {time}: later than the bound"
        );
        late += usize::from(time > deadline);
    }
    assert!(late > fired.len() / 2, "the lateness is used: {late} late");
}

#[test]
fn the_timer_resolution_reports_the_tick() {
    let kernel = Kernel::new();
    let _entered = kernel.enter();
    let (mut maximum, mut minimum, mut current) = (0u32, 0u32, 0u32);
    // SAFETY: three writable ULONGs.
    unsafe { ExQueryTimerResolution(&mut maximum, &mut minimum, &mut current) };
    assert_eq!((maximum, minimum, current), (156_250, 5_000, 156_250));
    kernel.clock().set_tick(10_000);
    // SAFETY: as above.
    unsafe { ExQueryTimerResolution(&mut maximum, &mut minimum, &mut current) };
    assert_eq!((maximum, minimum, current), (156_250, 5_000, 10_000));
}

/// A KTIMER and its KDPC in driver pool, as a driver keeps them in a device or pin context.
#[repr(C)]
struct PooledTimer {
    timer: KTIMER,
    dpc: KDPC,
}

const POOL_TAG: u32 = u32::from_le_bytes(*b"Tmrs");

/// The KTIMER of a pooled block (no dereference: its address).
fn timer_of(block: *mut PooledTimer) -> *mut KTIMER {
    block
        .wrapping_byte_add(std::mem::offset_of!(PooledTimer, timer))
        .cast()
}

/// The KDPC of a pooled block (no dereference: its address).
fn dpc_of(block: *mut PooledTimer) -> *mut KDPC {
    block
        .wrapping_byte_add(std::mem::offset_of!(PooledTimer, dpc))
        .cast()
}

/// Counts its runs in the AtomicU32 it gets as context.
#[ks::kernel_abi]
unsafe extern "system" fn count(
    _dpc: *mut KDPC,
    context: *mut c_void,
    _a: *mut c_void,
    _b: *mut c_void,
) {
    // SAFETY: the tests pass a live AtomicU32.
    unsafe { &*context.cast::<AtomicU32>() }.fetch_add(1, Ordering::SeqCst);
}

/// A pooled KTIMER + KDPC counting into `runs`.
fn pooled_timer(runs: &AtomicU32) -> *mut PooledTimer {
    // SAFETY: plain pool allocation at PASSIVE_LEVEL.
    let block = unsafe {
        ExAllocatePool2(
            POOL_FLAG_NON_PAGED,
            std::mem::size_of::<PooledTimer>(),
            POOL_TAG,
        )
    }
    .cast::<PooledTimer>();
    assert!(!block.is_null());
    let context: *const AtomicU32 = runs;
    // SAFETY: a fresh pool block big enough for both.
    unsafe { KeInitializeDpc(dpc_of(block), Some(count), context.cast_mut().cast()) };
    // SAFETY: as above.
    unsafe { KeInitializeTimerEx(timer_of(block), NotificationTimer) };
    block
}

#[test]
fn freeing_pool_that_holds_a_set_timer_is_a_bug_check_and_it_never_fires() {
    let kernel = Kernel::new();
    kernel.expect_bugs();
    let _entered = kernel.enter();
    let runs = AtomicU32::new(0);
    let block = pooled_timer(&runs);
    // SAFETY: initialised above.
    unsafe { KeSetTimerEx(timer_of(block), -1, 0, dpc_of(block)) };
    // SAFETY: the block (the bug under test: its timer is still set).
    unsafe { ExFreePoolWithTag(block.cast(), POOL_TAG) };
    assert_eq!(
        kernel.take_bugs(),
        vec![Bug::TimerInFreedPool {
            block: block as usize,
            timer: block as usize,
        }]
    );
    kernel.clock().advance(100_000_000);
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert_eq!(kernel.clock().armed_timers(), 0);
    kernel.assert_no_leaks();
}

#[test]
fn freeing_pool_after_cancelling_its_timer_is_fine() {
    let kernel = Kernel::new();
    let _entered = kernel.enter();
    let runs = AtomicU32::new(0);
    let block = pooled_timer(&runs);
    // SAFETY: initialised above.
    unsafe { KeSetTimerEx(timer_of(block), -1, 0, dpc_of(block)) };
    // SAFETY: as above.
    assert_eq!(unsafe { KeCancelTimer(timer_of(block)) }, 1);
    // SAFETY: nothing of it is set or queued any more.
    unsafe { ExFreePoolWithTag(block.cast(), POOL_TAG) };
    kernel.check();
    kernel.assert_no_leaks();
}

/// Context of [`free_other`]: the block to free when the DPC runs, and its runs.
struct FreeOther {
    block: AtomicUsize,
    runs: AtomicU32,
}

/// Frees the other timer's pool block (whose KDPC is queued behind this one).
#[ks::kernel_abi]
unsafe extern "system" fn free_other(
    _dpc: *mut KDPC,
    context: *mut c_void,
    _a: *mut c_void,
    _b: *mut c_void,
) {
    // SAFETY: the test's live FreeOther.
    let other = unsafe { &*context.cast::<FreeOther>() };
    other.runs.fetch_add(1, Ordering::SeqCst);
    let block = other.block.load(Ordering::SeqCst) as *mut c_void;
    // SAFETY: the other timer's block (the bug under test: its KDPC is queued).
    unsafe { ExFreePoolWithTag(block, POOL_TAG) };
}

#[test]
fn freeing_pool_that_holds_a_queued_dpc_is_a_bug_check_and_it_never_runs() {
    let kernel = Kernel::new();
    kernel.expect_bugs();
    let _entered = kernel.enter();
    let second_runs = AtomicU32::new(0);
    let second = pooled_timer(&second_runs);
    let first_context = Box::new(FreeOther {
        block: AtomicUsize::new(second as usize),
        runs: AtomicU32::new(0),
    });
    let mut first = Box::new(PooledTimer {
        timer: KTIMER { Opaque: [0; 8] },
        dpc: KDPC { Opaque: [0; 8] },
    });
    let context: *const FreeOther = &*first_context;
    // SAFETY: live boxes for the test.
    unsafe { KeInitializeDpc(&mut first.dpc, Some(free_other), context.cast_mut().cast()) };
    // SAFETY: as above.
    unsafe { KeInitializeTimerEx(&mut first.timer, NotificationTimer) };
    // Both expire on the first tick, the first set first: its DPC runs while the second's is
    // queued.
    // SAFETY: initialised timers and DPCs.
    unsafe { KeSetTimerEx(&mut first.timer, -10, 0, &mut first.dpc) };
    // SAFETY: as above.
    unsafe { KeSetTimerEx(timer_of(second), -20, 0, dpc_of(second)) };
    let second_dpc = dpc_of(second) as usize;
    kernel.clock().advance(DEFAULT_TICK as u64 * 100);
    assert_eq!(first_context.runs.load(Ordering::SeqCst), 1);
    assert_eq!(
        kernel.take_bugs(),
        vec![Bug::DpcInFreedPool {
            block: second as usize,
            dpc: second_dpc,
        }]
    );
    assert_eq!(
        second_runs.load(Ordering::SeqCst),
        0,
        "a freed DPC never runs"
    );
    kernel.assert_no_leaks();
}

#[test]
fn a_kdpc_queued_twice_at_one_instant_runs_once() {
    let kernel = Kernel::new();
    let _entered = kernel.enter();
    let runs = AtomicU32::new(0);
    let mut dpc = Box::new(KDPC { Opaque: [0; 8] });
    let mut timers = [KTIMER { Opaque: [0; 8] }, KTIMER { Opaque: [0; 8] }];
    let context: *const AtomicU32 = &runs;
    // SAFETY: live for the test.
    unsafe { KeInitializeDpc(&mut *dpc, Some(count), context.cast_mut().cast()) };
    for timer in &mut timers {
        // SAFETY: as above.
        unsafe { KeInitializeTimerEx(timer, NotificationTimer) };
        // SAFETY: as above; both expire on the first tick with the same KDPC.
        unsafe { KeSetTimerEx(timer, -1, 0, &mut *dpc) };
    }
    kernel.clock().advance(DEFAULT_TICK as u64 * 100);
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "one instance of a KDPC on the queue"
    );
}
