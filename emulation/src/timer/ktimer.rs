//! KTIMERs: `KeInitializeTimerEx`, `KeSetTimerEx`, `KeCancelTimer` (tick-driven; see the
//! `timer` module for the expiry model).

use ks::nt::{KDPC, KTIMER, TIMER_TYPE};

use super::{Resolution, Target};
use crate::bugs::Bug;
use crate::kernel::KernelState;

/// KTIMER `Header.Type`: TimerNotificationObject (8) + TIMER_TYPE.
const TIMER_OBJECT_TYPE: u8 = 8;

/// `KeInitializeTimerEx`.
///
/// # Safety
/// `timer` must point to writable memory for a KTIMER that is not set.
pub(crate) unsafe fn initialize_timer(state: &KernelState, timer: *mut KTIMER, kind: TIMER_TYPE) {
    let mut words = [0u64; 8];
    words[0] = u64::from(TIMER_OBJECT_TYPE) + u64::from(kind);
    // SAFETY: the caller guarantees `timer` is writable.
    unsafe { timer.write(KTIMER { Opaque: words }) };
    let mut clock = state.clock.lock();
    clock.armed.remove(&(timer as usize));
    clock.ktimers.insert(timer as usize);
}

/// `KeSetTimerEx`: returns whether the timer was set already.
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
    super::delay_set_in_dpc(state);
    let mut clock = state.clock.lock();
    if !clock.ktimers.contains(&(timer as usize)) {
        drop(clock);
        state.report(Bug::TimerNotInitialized {
            timer: timer as usize,
        });
        return false;
    }
    if period_ms < 0 {
        drop(clock);
        state.report(Bug::TimerMisuse {
            service: "KeSetTimerEx",
            timer: timer as usize,
            rule: "Period must be greater than or equal to zero",
        });
        return false;
    }
    let due = clock.due_from(due_time, Resolution::Tick);
    let period = i64::from(period_ms) * 10_000;
    let target = Target::Ktimer { dpc: dpc as usize };
    let was_set = clock.arm(timer as usize, due, period, target);
    drop(clock);
    // SAFETY: the caller guarantees `timer` is a live KTIMER; word 3 is DueTime.
    unsafe { (*timer).Opaque[3] = due as u64 };
    // SAFETY: the caller guarantees `timer` is a live KTIMER; word 6 is Dpc.
    unsafe { (*timer).Opaque[6] = dpc as usize as u64 };
    // SAFETY: the caller guarantees `timer` is a live KTIMER; word 7 holds Processor and Period.
    unsafe { (*timer).Opaque[7] = u64::from(period_ms.unsigned_abs()) << 32 };
    was_set
}

/// `KeCancelTimer`: returns whether the timer was set.
pub(crate) fn cancel_timer(state: &KernelState, timer: *mut KTIMER) -> bool {
    let mut clock = state.clock.lock();
    if !clock.ktimers.contains(&(timer as usize)) {
        drop(clock);
        state.report(Bug::TimerNotInitialized {
            timer: timer as usize,
        });
        return false;
    }
    clock.armed.remove(&(timer as usize)).is_some()
}

/// KTIMERs still set (the driver must cancel them before their memory goes): their addresses.
pub(crate) fn armed_timer_addresses(state: &KernelState) -> Vec<usize> {
    let clock = state.clock.lock();
    let mut addresses: Vec<usize> = clock
        .armed
        .iter()
        .filter(|(_, armed)| matches!(armed.target, Target::Ktimer { .. }))
        .map(|(&timer, _)| timer)
        .collect();
    addresses.sort_unstable();
    addresses
}

#[cfg(test)]
mod tests {
    use std::ffi::c_void;
    use std::sync::Mutex;
    use std::time::Duration;

    use ks::nt::NotificationTimer;

    use super::*;
    use crate::kernel::current_irql;
    use crate::services::{
        KeCancelTimer, KeInitializeDpc, KeInitializeTimerEx, KeQueryPerformanceCounter,
        KeSetTimerEx,
    };
    use crate::timer::{DEFAULT_TICK, PERFORMANCE_FREQUENCY};
    use crate::Kernel;

    /// Records the interrupt time at which it ran into the context (a Mutex<Vec<i64>>).
    #[ks::kernel_abi]
    unsafe extern "system" fn record(
        _dpc: *mut KDPC,
        context: *mut c_void,
        _a: *mut c_void,
        _b: *mut c_void,
    ) {
        assert_eq!(current_irql(), ks::nt::DISPATCH_LEVEL);
        let mut frequency = 0i64;
        // SAFETY: `frequency` is writable.
        let counter = unsafe { KeQueryPerformanceCounter(&mut frequency) };
        assert_eq!(frequency, PERFORMANCE_FREQUENCY);
        let now = crate::timer::interrupt_time_of_counter(counter);
        // SAFETY: the tests pass a live Mutex<Vec<i64>> as context.
        let seen = unsafe { &*context.cast::<Mutex<Vec<i64>>>() };
        seen.lock().unwrap().push(now);
    }

    struct Fixture {
        timer: Box<KTIMER>,
        dpc: Box<KDPC>,
        seen: Box<Mutex<Vec<i64>>>,
    }

    impl Fixture {
        fn seen(&self) -> Vec<i64> {
            self.seen.lock().unwrap().clone()
        }

        /// `KeSetTimerEx` of the fixture's timer with its DPC.
        fn set(&mut self, due_time: i64, period_ms: i32) -> u8 {
            // SAFETY: an initialised timer and DPC, live for the test.
            unsafe { KeSetTimerEx(&mut *self.timer, due_time, period_ms, &mut *self.dpc) }
        }
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
        // SAFETY: the timer box is live and writable.
        unsafe { KeInitializeTimerEx(&mut *f.timer, NotificationTimer) };
        f
    }

    /// Advances the virtual clock to interrupt time `target`.
    fn advance_to(kernel: &Kernel, target: i64) {
        let now = kernel.clock().now_100ns();
        kernel.clock().advance(((target - now) as u64) * 100);
    }

    #[test]
    fn a_timer_due_between_ticks_fires_on_the_next_tick_and_its_dpc_sees_that_time() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let mut f = fixture();
        assert_eq!(f.set(-1_000, 0), 0);
        advance_to(&kernel, 1_000);
        assert!(f.seen().is_empty(), "not at its due time: between ticks");
        advance_to(&kernel, DEFAULT_TICK - 1);
        assert!(f.seen().is_empty());
        advance_to(&kernel, DEFAULT_TICK + 500);
        assert_eq!(
            f.seen(),
            vec![DEFAULT_TICK],
            "on the tick, seeing the tick's time"
        );
        assert_eq!(kernel.clock().now_100ns(), DEFAULT_TICK + 500);
        kernel.clock().advance(1_000_000_000);
        assert_eq!(f.seen().len(), 1, "a one-shot timer");
        assert_eq!(kernel.clock().armed_timers(), 0);
    }

    #[test]
    fn with_a_100_ns_tick_a_timer_fires_at_its_due_time() {
        let kernel = Kernel::new();
        kernel.clock().set_tick(1);
        let _entered = kernel.enter();
        let mut f = fixture();
        f.set(-1_000, 0);
        kernel.clock().advance(99_900);
        assert!(f.seen().is_empty());
        kernel.clock().advance(100);
        assert_eq!(f.seen(), vec![1_000]);
    }

    #[test]
    fn a_relative_due_time_counts_from_the_last_tick() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let mut f = fixture();
        // 100,000 into the first tick, "in 10 ms" (100,000) is due at 0 + 100,000: the next
        // tick, 5.6 ms later (early, as learn.microsoft.com "Timer Accuracy" warns).
        advance_to(&kernel, 100_000);
        f.set(-100_000, 0);
        advance_to(&kernel, 2 * DEFAULT_TICK);
        assert_eq!(f.seen(), vec![DEFAULT_TICK]);
        // 100,000 into the third tick, "in 20 ms" (200,000) is due at 512,500: the fifth tick
        // (625,000), 21.25 ms later.
        advance_to(&kernel, 2 * DEFAULT_TICK + 100_000);
        f.set(-200_000, 0);
        advance_to(&kernel, 4 * DEFAULT_TICK - 1);
        assert_eq!(f.seen().len(), 1);
        advance_to(&kernel, 4 * DEFAULT_TICK);
        assert_eq!(f.seen(), vec![DEFAULT_TICK, 4 * DEFAULT_TICK]);
    }

    #[test]
    fn an_absolute_due_time_fires_on_the_first_tick_at_or_after_it() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let mut f = fixture();
        let boot = kernel.clock().system_time();
        f.set(boot + 2 * DEFAULT_TICK, 0);
        advance_to(&kernel, 3 * DEFAULT_TICK);
        assert_eq!(
            f.seen(),
            vec![2 * DEFAULT_TICK],
            "a due time on a tick fires on it"
        );
        f.set(boot + 3 * DEFAULT_TICK + 1, 0);
        advance_to(&kernel, 5 * DEFAULT_TICK);
        assert_eq!(f.seen(), vec![2 * DEFAULT_TICK, 4 * DEFAULT_TICK]);
    }

    #[test]
    fn an_absolute_periodic_timer_keeps_its_period_grid_on_a_1_ms_tick() {
        let kernel = Kernel::new();
        kernel.clock().set_tick(10_000);
        let _entered = kernel.enter();
        let mut f = fixture();
        // Due at 0.5, 2.5, 4.5, 6.5 ms: each fires on the next 1 ms tick, no drift.
        let start = kernel.clock().system_time() + 5_000;
        f.set(start, 2);
        advance_to(&kernel, 70_000);
        assert_eq!(f.seen(), vec![10_000, 30_000, 50_000, 70_000]);
        // SAFETY: an initialised timer.
        assert_eq!(unsafe { KeCancelTimer(&mut *f.timer) }, 1);
        // SAFETY: as above.
        assert_eq!(unsafe { KeCancelTimer(&mut *f.timer) }, 0);
        kernel.clock().advance(100_000_000);
        assert_eq!(f.seen().len(), 4);
    }

    #[test]
    fn a_period_shorter_than_the_tick_fires_once_per_tick() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let mut f = fixture();
        f.set(-1, 2);
        kernel.clock().advance(1_000_000_000);
        let seen = f.seen();
        assert_eq!(seen.len(), 64, "64 ticks in a second, not 500 periods");
        let ticks: Vec<i64> = (1..=64).map(|n| n * DEFAULT_TICK).collect();
        assert_eq!(seen, ticks);
        // SAFETY: an initialised timer.
        unsafe { KeCancelTimer(&mut *f.timer) };
    }

    #[test]
    fn resetting_a_set_timer_replaces_its_due_time() {
        let kernel = Kernel::new();
        kernel.clock().set_tick(1);
        let _entered = kernel.enter();
        let mut f = fixture();
        f.set(-100, 0);
        assert_eq!(f.set(-300, 0), 1);
        kernel.clock().advance(100 * 1_000);
        assert_eq!(f.seen(), vec![300]);
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
    fn a_negative_period_is_a_bug_and_sets_nothing() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        let _entered = kernel.enter();
        let mut f = fixture();
        assert_eq!(f.set(-1, -5), 0);
        assert_eq!(
            kernel.take_bugs(),
            vec![Bug::TimerMisuse {
                service: "KeSetTimerEx",
                timer: &raw mut *f.timer as usize,
                rule: "Period must be greater than or equal to zero"
            }]
        );
        assert_eq!(kernel.clock().armed_timers(), 0);
    }

    #[test]
    fn real_time_mode_fires_on_the_tick_without_advance() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let mut f = fixture();
        f.set(-10_000, 0);
        kernel.clock().start_real_time();
        let mut waited = 0;
        while f.seen().is_empty() && waited < 10_000 {
            std::thread::sleep(Duration::from_millis(1));
            waited += 1;
        }
        kernel.clock().stop_real_time();
        assert_eq!(
            f.seen(),
            vec![DEFAULT_TICK],
            "1 ms asked, the first tick given"
        );
    }
}
