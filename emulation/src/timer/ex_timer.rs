//! EX_TIMERs (Windows 8.1+): `ExAllocateTimer`, `ExSetTimer`, `ExCancelTimer`,
//! `ExDeleteTimer`, `ExQueryTimerResolution`.
//!
//! Following learn.microsoft.com (the five routine pages, EXT_CALLBACK, EXT_SET_PARAMETERS,
//! EXT_DELETE_PARAMETERS, "Deleting a System-Allocated Timer Object"):
//! - the timer object is system pool (tag [`EX_TIMER_TAG`]): one never deleted is a leak, and
//!   the pool's fault injector can make `ExAllocateTimer` return NULL;
//! - EX_TIMER_HIGH_RESOLUTION together with EX_TIMER_NO_WAKE is a bug check (so are unknown
//!   attribute bits: guess); a NULL callback is allowed (the timer is only waitable);
//! - `ExSetTimer` re-sets a set timer (TRUE: it cancelled one) and bug checks on a
//!   high-resolution timer with an absolute due time, a Period outside 0..=MAXLONG, or
//!   EXT_SET_PARAMETERS with a negative NoWakeTolerance other than EX_TIMER_UNLIMITED_TOLERANCE
//!   (and, guess, a Version or Reserved other than what ExInitializeSetTimerParameters writes);
//! - `ExCancelTimer`'s Parameters must be NULL;
//! - `ExDeleteTimer` disables the object (from then on ExSetTimer/ExCancelTimer return FALSE and
//!   do nothing, a second ExDeleteTimer returns FALSE), cancels a set timer if Cancel (TRUE: it
//!   did), with Wait waits for a callback queued or running (Wait needs Cancel, IRQL <= APC_LEVEL
//!   and not the timer's own callback: bug checks), and frees the object once nothing of it is
//!   left: no set timer (a periodic one not cancelled expires at most once more), no queued or
//!   running callback. Then the DeleteCallback of EXT_DELETE_PARAMETERS runs (at
//!   DISPATCH_LEVEL: guess), before ExDeleteTimer returns when it waited. A NULL Parameters is a
//!   bug (the page does not mark it optional: guess). Any use of a freed timer is a bug.

use std::ffi::c_void;

use ks::nt::{
    APC_LEVEL, DISPATCH_LEVEL, EXT_DELETE_PARAMETERS, EXT_SET_PARAMETERS, EX_TIMER,
    EX_TIMER_HIGH_RESOLUTION, EX_TIMER_NOTIFICATION, EX_TIMER_NO_WAKE,
    EX_TIMER_UNLIMITED_TOLERANCE, PEXT_CALLBACK, PEXT_DELETE_CALLBACK, POOL_FLAG_NON_PAGED,
};

use super::dpc::{in_dpc, Key, Queued};
use super::{ClockState, Resolution, Target, DEFAULT_TICK, MINIMUM_TICK};
use crate::bugs::Bug;
use crate::kernel::{current_irql, set_irql, KernelState};
use crate::pool::Tag;

/// The pool tag of the timer objects `ExAllocateTimer` allocates (the emulation's choice).
pub const EX_TIMER_TAG: Tag = Tag::from_bytes(*b"ExTm");

/// The size of an EX_TIMER object (a guess: a KTIMER, a KDPC and bookkeeping).
const EX_TIMER_SIZE: usize = 256;

/// `MAXLONG`: the longest `ExSetTimer` Period.
const MAXLONG: i64 = i32::MAX as i64;

/// What `ExAllocateTimer` recorded for an EX_TIMER.
pub(super) struct ExTimerObject {
    pub(super) callback: PEXT_CALLBACK,
    pub(super) context: usize,
    resolution: Resolution,
    /// Set by `ExDeleteTimer`: the object is disabled and is freed once nothing of it is left.
    pub(super) deleting: Option<DeleteRequest>,
}

/// The EXT_DELETE_PARAMETERS of a deletion, and who completes it.
#[derive(Clone, Copy)]
pub(super) struct DeleteRequest {
    callback: PEXT_DELETE_CALLBACK,
    context: usize,
    /// An `ExDeleteTimer` with Wait is waiting: it completes the deletion itself (so the
    /// DeleteCallback runs before it returns), not the thread whose callback ends last.
    waiter: bool,
}

/// A deletion with nothing left: its DeleteCallback runs and the object is freed.
pub(super) struct Finished {
    timer: usize,
    request: DeleteRequest,
}

impl ClockState {
    /// Queues an expired EX_TIMER's callback (once: not while it is queued already); a disabled
    /// timer without callback is done.
    pub(super) fn queue_ex_callback(&mut self, timer: usize) -> Option<Finished> {
        let object = self.ex_timers.get(&timer)?;
        let Some(callback) = object.callback else {
            return self.take_finished_deletion(timer, false);
        };
        let context = object.context;
        if !self.queue.iter().any(|q| q.key() == Key::ExTimer(timer)) {
            self.dpc_serial += 1;
            self.queue.push_back(Queued::ExCallback {
                serial: self.dpc_serial,
                timer,
                callback,
                context,
            });
        }
        None
    }

    /// A deleted timer with nothing left of it (not set, no callback queued or running): takes
    /// it out of the table so its deletion completes once (by the waiting `ExDeleteTimer`, if
    /// there is one: `by_waiter`).
    pub(super) fn take_finished_deletion(
        &mut self,
        timer: usize,
        by_waiter: bool,
    ) -> Option<Finished> {
        let request = self.ex_timers.get(&timer)?.deleting?;
        if request.waiter != by_waiter
            || self.armed.contains_key(&timer)
            || self.pending(Key::ExTimer(timer))
        {
            return None;
        }
        self.ex_timers.remove(&timer);
        self.deleted_ex_timers.insert(timer);
        Some(Finished { timer, request })
    }

    /// The object behind `timer`, or the bug of using it.
    fn object(&mut self, service: &'static str, timer: usize) -> Result<&mut ExTimerObject, Bug> {
        if self.deleted_ex_timers.contains(&timer) {
            return Err(Bug::ExTimerDeleted { service, timer });
        }
        self.ex_timers
            .get_mut(&timer)
            .ok_or(Bug::ExTimerUnknown { service, timer })
    }
}

/// Completes deletions: each DeleteCallback at DISPATCH_LEVEL, then the object goes back to the
/// pool.
pub(super) fn finish_deletions(state: &KernelState, finished: impl IntoIterator<Item = Finished>) {
    for Finished { timer, request } in finished {
        if let Some(callback) = request.callback {
            let before = current_irql();
            set_irql(before.max(DISPATCH_LEVEL));
            // SAFETY: the ExTimerDeleteCallback contract: called once, after the timer has no
            // operation left, with the DeleteContext the driver gave ExDeleteTimer.
            unsafe { callback(request.context as *mut c_void) };
            set_irql(before);
        }
        state.pool.free(
            &state.bugs,
            current_irql(),
            timer as *mut c_void,
            EX_TIMER_TAG.0,
        );
    }
}

/// `ExAllocateTimer`: a timer object from the pool, or NULL.
pub(crate) fn allocate_timer(
    state: &KernelState,
    callback: PEXT_CALLBACK,
    context: *mut c_void,
    attributes: u32,
) -> *mut EX_TIMER {
    let known = EX_TIMER_HIGH_RESOLUTION | EX_TIMER_NO_WAKE | EX_TIMER_NOTIFICATION;
    let both = EX_TIMER_HIGH_RESOLUTION | EX_TIMER_NO_WAKE;
    if attributes & !known != 0 || attributes & both == both {
        state.report(Bug::ExTimerInvalidAttributes { attributes });
        return std::ptr::null_mut();
    }
    let block = state.pool.allocate(
        &state.bugs,
        current_irql(),
        POOL_FLAG_NON_PAGED,
        EX_TIMER_SIZE,
        EX_TIMER_TAG.0,
    );
    if block.is_null() {
        return std::ptr::null_mut();
    }
    let resolution = if attributes & EX_TIMER_HIGH_RESOLUTION != 0 {
        Resolution::High
    } else {
        Resolution::Tick
    };
    let mut clock = state.clock.lock();
    clock.deleted_ex_timers.remove(&(block as usize));
    clock.ex_timers.insert(
        block as usize,
        ExTimerObject {
            callback,
            context: context as usize,
            resolution,
            deleting: None,
        },
    );
    block.cast()
}

/// `ExSetTimer`: returns whether it cancelled a set timer.
///
/// # Safety
/// `parameters` must be NULL or point to a readable EXT_SET_PARAMETERS.
pub(crate) unsafe fn set_ex_timer(
    state: &KernelState,
    timer: *mut EX_TIMER,
    due_time: i64,
    period: i64,
    parameters: *const EXT_SET_PARAMETERS,
) -> bool {
    super::delay_set_in_dpc(state);
    let service = "ExSetTimer";
    let timer = timer as usize;
    // SAFETY: the caller guarantees a non-NULL `parameters` is readable.
    let parameters = (!parameters.is_null()).then(|| unsafe { parameters.read_unaligned() });
    let mut clock = state.clock.lock();
    let resolution = match clock.object(service, timer) {
        Ok(object) if object.deleting.is_some() => return false,
        Ok(object) => object.resolution,
        Err(bug) => {
            drop(clock);
            state.report(bug);
            return false;
        }
    };
    let rule = if parameters.is_some_and(|p| p.Version != 0) {
        Some("EXT_SET_PARAMETERS.Version is not 0 (ExInitializeSetTimerParameters)")
    } else if parameters.is_some_and(|p| p.Reserved != 0) {
        Some("EXT_SET_PARAMETERS.Reserved is not zero")
    } else if parameters
        .is_some_and(|p| p.NoWakeTolerance < 0 && p.NoWakeTolerance != EX_TIMER_UNLIMITED_TOLERANCE)
    {
        Some("a negative NoWakeTolerance other than EX_TIMER_UNLIMITED_TOLERANCE")
    } else if resolution == Resolution::High && due_time >= 0 {
        Some("a high-resolution timer's DueTime must be relative (negative)")
    } else if !(0..=MAXLONG).contains(&period) {
        Some("Period must be in 0..=MAXLONG")
    } else {
        None
    };
    if let Some(rule) = rule {
        drop(clock);
        state.report(Bug::TimerMisuse {
            service,
            timer,
            rule,
        });
        return false;
    }
    let due = clock.due_from(due_time, resolution);
    clock.arm(timer, due, period, Target::ExTimer { resolution })
}

/// `ExCancelTimer`: returns whether the timer was set.
pub(crate) fn cancel_ex_timer(
    state: &KernelState,
    timer: *mut EX_TIMER,
    parameters: *mut c_void,
) -> bool {
    let service = "ExCancelTimer";
    let timer = timer as usize;
    if !parameters.is_null() {
        state.report(Bug::TimerMisuse {
            service,
            timer,
            rule: "Parameters must be NULL",
        });
    }
    let mut clock = state.clock.lock();
    match clock.object(service, timer) {
        Ok(object) if object.deleting.is_some() => false,
        Ok(_) => clock.armed.remove(&timer).is_some(),
        Err(bug) => {
            drop(clock);
            state.report(bug);
            false
        }
    }
}

/// `ExDeleteTimer`: returns whether Cancel cancelled a set timer.
///
/// # Safety
/// `parameters` must be NULL or point to a readable EXT_DELETE_PARAMETERS.
pub(crate) unsafe fn delete_timer(
    state: &KernelState,
    timer: *mut EX_TIMER,
    cancel: bool,
    wait: bool,
    parameters: *const EXT_DELETE_PARAMETERS,
) -> bool {
    let service = "ExDeleteTimer";
    let timer = timer as usize;
    let misuse = |rule| Bug::TimerMisuse {
        service,
        timer,
        rule,
    };
    let mut request = DeleteRequest {
        callback: None,
        context: 0,
        waiter: false,
    };
    if parameters.is_null() {
        state.report(misuse(
            "Parameters is NULL (ExInitializeDeleteTimerParameters)",
        ));
    } else {
        // SAFETY: the caller guarantees a non-NULL `parameters` is readable.
        let parameters = unsafe { parameters.read_unaligned() };
        if parameters.Version != 0 || parameters.Reserved != 0 {
            state.report(misuse("EXT_DELETE_PARAMETERS.Version or Reserved is not 0"));
        }
        request = DeleteRequest {
            callback: parameters.DeleteCallback,
            context: parameters.DeleteContext as usize,
            waiter: false,
        };
    }
    let mut cancel = cancel;
    if wait && !cancel {
        state.report(misuse("Wait is TRUE but Cancel is FALSE"));
        cancel = true;
    }
    let shared = &state.clock.shared;
    let mut clock = shared.lock();
    let in_own_callback = clock.running_here(Key::ExTimer(timer));
    request.waiter = wait && !in_own_callback && current_irql() <= APC_LEVEL && !in_dpc();
    match clock.object(service, timer) {
        Ok(object) if object.deleting.is_some() => return false,
        Ok(object) => object.deleting = Some(request),
        Err(bug) => {
            drop(clock);
            state.report(bug);
            return false;
        }
    }
    let cancelled = cancel && clock.armed.remove(&timer).is_some();
    if wait && in_own_callback {
        state.report(misuse("Wait is TRUE in the timer's own ExTimerCallback"));
    }
    if request.waiter {
        while clock.pending(Key::ExTimer(timer)) && !clock.shutdown {
            clock = shared.wait(clock);
        }
    }
    let finished = clock.take_finished_deletion(timer, request.waiter);
    drop(clock);
    finish_deletions(state, finished);
    cancelled
}

/// `ExQueryTimerResolution`: the longest, shortest and current tick, 100 ns units.
///
/// # Safety
/// Each pointer must be NULL (a reported bug) or writable.
pub(crate) unsafe fn query_resolution(
    state: &KernelState,
    maximum: *mut u32,
    minimum: *mut u32,
    current: *mut u32,
) {
    let tick = state.clock.tick();
    let values = [
        ("MaximumTime", maximum, DEFAULT_TICK.max(tick)),
        ("MinimumTime", minimum, MINIMUM_TICK.min(tick)),
        ("CurrentTime", current, tick),
    ];
    for (parameter, pointer, value) in values {
        if pointer.is_null() {
            state.report(Bug::NullArgument {
                service: "ExQueryTimerResolution",
                parameter,
            });
            continue;
        }
        let value = u32::try_from(value).unwrap_or(u32::MAX);
        // SAFETY: the caller guarantees a non-NULL pointer is writable.
        unsafe { pointer.write_unaligned(value) };
    }
}

/// EX_TIMER objects not freed yet (the leak report): each address, and whether ExDeleteTimer
/// was called (the deletion then waits for a set timer to expire).
pub(crate) fn live_ex_timers(state: &KernelState) -> Vec<(usize, bool)> {
    let clock = state.clock.lock();
    let mut timers: Vec<(usize, bool)> = clock
        .ex_timers
        .iter()
        .map(|(&timer, object)| (timer, object.deleting.is_some()))
        .collect();
    timers.sort_unstable();
    timers
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Mutex;

    use ks::nt::PASSIVE_LEVEL;

    use super::*;
    use crate::services::{
        ExAllocateTimer, ExCancelTimer, ExDeleteTimer, ExFreePoolWithTag, ExSetTimer,
        KeQueryPerformanceCounter,
    };
    use crate::timer::BOOT_SYSTEM_TIME;
    use crate::Kernel;

    /// What a test timer's callbacks saw.
    #[derive(Default)]
    struct Seen {
        /// Interrupt time and IRQL of each call.
        calls: Mutex<Vec<(i64, u8)>>,
        /// DeleteCallback calls.
        deleted: AtomicU32,
        /// What ExSetTimer / ExCancelTimer / ExDeleteTimer returned inside the callback, when
        /// the test asks for those calls.
        inside: Mutex<Vec<u8>>,
        /// Make the callback call ExSetTimer, ExCancelTimer and ExDeleteTimer(Wait) on its own
        /// timer.
        poke: std::sync::atomic::AtomicBool,
    }

    #[ks::kernel_abi]
    unsafe extern "system" fn callback(timer: *mut EX_TIMER, context: *mut c_void) {
        // SAFETY: the tests pass a live Seen.
        let seen = unsafe { &*context.cast::<Seen>() };
        // SAFETY: NULL frequency is allowed.
        let counter = unsafe { KeQueryPerformanceCounter(std::ptr::null_mut()) };
        let now = crate::timer::interrupt_time_of_counter(counter);
        seen.calls.lock().unwrap().push((now, current_irql()));
        if seen.poke.load(Ordering::SeqCst) {
            let mut delete = EXT_DELETE_PARAMETERS::initialized();
            // SAFETY: the callback's own timer, valid while it runs; NULL parameters.
            let set = unsafe { ExSetTimer(timer, -1, 0, std::ptr::null_mut()) };
            // SAFETY: the callback's own timer, valid while it runs; NULL parameters.
            let cancel = unsafe { ExCancelTimer(timer, std::ptr::null_mut()) };
            // SAFETY: the callback's own timer, valid while it runs; initialised parameters.
            let delete = unsafe { ExDeleteTimer(timer, 1, 1, &mut delete) };
            seen.inside.lock().unwrap().extend([set, cancel, delete]);
        }
    }

    #[ks::kernel_abi]
    unsafe extern "system" fn ignore(_timer: *mut EX_TIMER, _context: *mut c_void) {}

    #[ks::kernel_abi]
    unsafe extern "system" fn deleted(context: *mut c_void) {
        assert_eq!(current_irql(), DISPATCH_LEVEL);
        // SAFETY: the tests pass a live Seen.
        unsafe { &*context.cast::<Seen>() }
            .deleted
            .fetch_add(1, Ordering::SeqCst);
    }

    fn allocate(seen: &Seen, attributes: u32) -> *mut EX_TIMER {
        let context: *const Seen = seen;
        // SAFETY: `seen` outlives the timer in every test.
        let timer =
            unsafe { ExAllocateTimer(Some(callback), context.cast_mut().cast(), attributes) };
        assert!(!timer.is_null());
        timer
    }

    fn set(timer: *mut EX_TIMER, due: i64, period: i64) -> u8 {
        // SAFETY: NULL parameters are allowed.
        unsafe { ExSetTimer(timer, due, period, std::ptr::null_mut()) }
    }

    fn delete(timer: *mut EX_TIMER, cancel: bool, wait: bool, seen: Option<&Seen>) -> u8 {
        let mut parameters = EXT_DELETE_PARAMETERS::initialized();
        if let Some(seen) = seen {
            let context: *const Seen = seen;
            parameters.DeleteCallback = Some(deleted);
            parameters.DeleteContext = context.cast_mut().cast();
        }
        // SAFETY: initialised parameters.
        unsafe { ExDeleteTimer(timer, u8::from(cancel), u8::from(wait), &mut parameters) }
    }

    fn calls(seen: &Seen) -> Vec<(i64, u8)> {
        seen.calls.lock().unwrap().clone()
    }

    #[test]
    fn a_high_resolution_timer_fires_at_its_due_time_between_ticks_at_dispatch_level() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let seen = Seen::default();
        let timer = allocate(&seen, EX_TIMER_HIGH_RESOLUTION);
        assert_eq!(set(timer, -41_667, 0), 0);
        kernel.clock().advance(4_166_600);
        assert!(calls(&seen).is_empty(), "never early");
        kernel.clock().advance(100);
        assert_eq!(calls(&seen), vec![(41_667, DISPATCH_LEVEL)]);
        assert_eq!(delete(timer, true, true, Some(&seen)), 0, "it had expired");
        assert_eq!(seen.deleted.load(Ordering::SeqCst), 1);
        kernel.assert_no_leaks();
    }

    #[test]
    fn a_default_resolution_ex_timer_fires_on_the_tick() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let seen = Seen::default();
        let timer = allocate(&seen, 0);
        set(timer, -41_667, 0);
        kernel.clock().advance(15_625_000);
        assert_eq!(calls(&seen), vec![(DEFAULT_TICK, DISPATCH_LEVEL)]);
        delete(timer, true, false, None);
        kernel.assert_no_leaks();
    }

    #[test]
    fn a_periodic_high_resolution_timer_keeps_its_grid_in_100_ns_units() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let seen = Seen::default();
        let timer = allocate(&seen, EX_TIMER_HIGH_RESOLUTION);
        set(timer, -10_001, 33_333);
        kernel.clock().advance(10_000_000);
        let times: Vec<i64> = calls(&seen).into_iter().map(|(t, _)| t).collect();
        assert_eq!(times, vec![10_001, 43_334, 76_667]);
        assert_eq!(
            delete(timer, true, false, None),
            1,
            "a periodic timer is still set"
        );
        kernel.assert_no_leaks();
    }

    #[test]
    fn set_and_cancel_report_whether_the_timer_was_set() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let seen = Seen::default();
        let timer = allocate(&seen, 0);
        // SAFETY: NULL parameters.
        assert_eq!(unsafe { ExCancelTimer(timer, std::ptr::null_mut()) }, 0);
        assert_eq!(set(timer, -1_000_000, 0), 0);
        assert_eq!(set(timer, -2_000_000, 0), 1, "re-setting cancels the first");
        // SAFETY: as above.
        assert_eq!(unsafe { ExCancelTimer(timer, std::ptr::null_mut()) }, 1);
        kernel.clock().advance(1_000_000_000);
        assert!(calls(&seen).is_empty());
        // An absolute due time for a default-resolution timer is fine.
        set(timer, BOOT_SYSTEM_TIME + 2 * DEFAULT_TICK + 1, 0);
        kernel.clock().advance(100_000_000);
        assert_eq!(calls(&seen).len(), 1);
        delete(timer, true, false, None);
        kernel.assert_no_leaks();
    }

    #[test]
    fn inside_its_callback_a_deleted_timer_is_disabled_and_freed_after_the_callback() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        let _entered = kernel.enter();
        let seen = Seen::default();
        seen.poke.store(true, Ordering::SeqCst);
        let timer = allocate(&seen, 0);
        set(timer, -1, 0);
        kernel.clock().advance(15_625_000);
        // The callback re-set the timer (TRUE would mean a set timer was cancelled: it had just
        // expired, so FALSE), cancelled it (TRUE), then deleted it with Wait at DISPATCH_LEVEL
        // in its own callback: two bugs; the deletion goes on without waiting.
        assert_eq!(*seen.inside.lock().unwrap(), vec![0, 1, 0]);
        assert_eq!(
            kernel.take_bugs(),
            vec![
                Bug::IrqlTooHigh {
                    service: "ExDeleteTimer",
                    irql: DISPATCH_LEVEL,
                    max: APC_LEVEL
                },
                Bug::TimerMisuse {
                    service: "ExDeleteTimer",
                    timer: timer as usize,
                    rule: "Wait is TRUE in the timer's own ExTimerCallback"
                },
            ]
        );
        // Freed once the callback returned: any use now is a use after free.
        assert!(kernel.pool().outstanding().is_empty());
        assert_eq!(set(timer, -1, 0), 0);
        assert_eq!(
            kernel.take_bugs(),
            vec![Bug::ExTimerDeleted {
                service: "ExSetTimer",
                timer: timer as usize
            }]
        );
        kernel.assert_no_leaks();
    }

    #[test]
    fn deleting_without_cancel_lets_a_pending_timer_expire_once_then_frees_it() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let seen = Seen::default();
        let timer = allocate(&seen, EX_TIMER_HIGH_RESOLUTION);
        set(timer, -1_000, 1_000);
        assert_eq!(delete(timer, false, false, Some(&seen)), 0);
        assert_eq!(
            seen.deleted.load(Ordering::SeqCst),
            0,
            "not yet: the timer is set"
        );
        assert_eq!(set(timer, -5, 0), 0, "a disabled timer cannot be set");
        assert_eq!(delete(timer, true, false, None), 0, "nor deleted twice");
        kernel.clock().advance(1_000_000);
        // The periodic timer expired once more (at 1,000), not at 2,000 ... 10,000.
        assert_eq!(calls(&seen), vec![(1_000, DISPATCH_LEVEL)]);
        assert_eq!(seen.deleted.load(Ordering::SeqCst), 1);
        assert!(kernel.pool().outstanding().is_empty());
        kernel.assert_no_leaks();
    }

    #[test]
    fn a_timer_never_deleted_is_a_leak_of_system_pool() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let seen = Seen::default();
        let timer = allocate(&seen, 0);
        let leaks = kernel.pool().leaks();
        assert_eq!(leaks.len(), 1);
        assert_eq!(leaks[0].tag, EX_TIMER_TAG);
        let report = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            kernel.assert_no_leaks();
        }))
        .expect_err("a leak");
        let text = report.downcast_ref::<String>().unwrap();
        assert!(text.contains("pool tag 'ExTm'"), "{text}");
        assert!(
            text.contains(&format!("EX_TIMER {:#x} never deleted", timer as usize)),
            "{text}"
        );
        delete(timer, true, false, None);
        kernel.assert_no_leaks();
    }

    #[test]
    fn the_fault_injector_can_fail_the_timer_allocation() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        kernel.pool().fail_nth_allocation(1);
        // SAFETY: no callback.
        let timer = unsafe { ExAllocateTimer(None, std::ptr::null_mut(), 0) };
        assert!(timer.is_null());
        assert_eq!(kernel.pool().injected_failures(), 1);
    }

    #[test]
    fn documented_misuse_is_reported() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        let _entered = kernel.enter();
        let seen = Seen::default();
        let both = EX_TIMER_HIGH_RESOLUTION | EX_TIMER_NO_WAKE;
        // SAFETY: plain arguments.
        assert!(unsafe { ExAllocateTimer(None, std::ptr::null_mut(), both) }.is_null());
        // SAFETY: as above.
        assert!(unsafe { ExAllocateTimer(None, std::ptr::null_mut(), 0x10) }.is_null());
        let high = allocate(&seen, EX_TIMER_HIGH_RESOLUTION);
        assert_eq!(set(high, BOOT_SYSTEM_TIME + 1_000, 0), 0);
        assert_eq!(set(high, -1, MAXLONG + 1), 0);
        assert_eq!(set(high, -1, -1), 0);
        let mut parameters = EXT_SET_PARAMETERS::initialized();
        parameters.NoWakeTolerance = -2;
        // SAFETY: readable parameters.
        assert_eq!(unsafe { ExSetTimer(high, -1, 0, &mut parameters) }, 0);
        let mut other = 0u8;
        // SAFETY: a non-NULL Parameters is the misuse under test.
        unsafe { ExCancelTimer(high, (&raw mut other).cast()) };
        let mut delete_parameters = EXT_DELETE_PARAMETERS::initialized();
        // SAFETY: readable parameters; Wait without Cancel is the misuse under test.
        unsafe { ExDeleteTimer(high, 0, 1, &mut delete_parameters) };
        let h = high as usize;
        let misuse = |service, rule| Bug::TimerMisuse {
            service,
            timer: h,
            rule,
        };
        assert_eq!(
            kernel.take_bugs(),
            vec![
                Bug::ExTimerInvalidAttributes { attributes: both },
                Bug::ExTimerInvalidAttributes { attributes: 0x10 },
                misuse(
                    "ExSetTimer",
                    "a high-resolution timer's DueTime must be relative (negative)"
                ),
                misuse("ExSetTimer", "Period must be in 0..=MAXLONG"),
                misuse("ExSetTimer", "Period must be in 0..=MAXLONG"),
                misuse(
                    "ExSetTimer",
                    "a negative NoWakeTolerance other than EX_TIMER_UNLIMITED_TOLERANCE"
                ),
                misuse("ExCancelTimer", "Parameters must be NULL"),
                misuse("ExDeleteTimer", "Wait is TRUE but Cancel is FALSE"),
            ]
        );
        assert_eq!(kernel.clock().armed_timers(), 0, "no misuse sets the timer");
        // SAFETY: a pointer ExAllocateTimer never returned.
        unsafe { ExCancelTimer((&raw mut other).cast(), std::ptr::null_mut()) };
        assert_eq!(
            kernel.take_bugs(),
            vec![Bug::ExTimerUnknown {
                service: "ExCancelTimer",
                timer: &raw mut other as usize
            }]
        );
        kernel.assert_no_leaks();
    }

    #[test]
    fn delete_parameters_must_be_initialised_and_not_null() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        let _entered = kernel.enter();
        let seen = Seen::default();
        let first = allocate(&seen, 0);
        // SAFETY: NULL parameters are the misuse under test.
        unsafe { ExDeleteTimer(first, 1, 0, std::ptr::null_mut()) };
        let second = allocate(&seen, 0);
        let mut parameters = EXT_DELETE_PARAMETERS::initialized();
        parameters.Version = 1;
        // SAFETY: readable parameters.
        unsafe { ExDeleteTimer(second, 1, 0, &mut parameters) };
        let third = allocate(&seen, 0);
        let mut parameters = EXT_SET_PARAMETERS::initialized();
        parameters.Reserved = 1;
        // SAFETY: readable parameters.
        unsafe { ExSetTimer(third, -1, 0, &mut parameters) };
        delete(third, true, false, None);
        assert_eq!(
            kernel.take_bugs(),
            vec![
                Bug::TimerMisuse {
                    service: "ExDeleteTimer",
                    timer: first as usize,
                    rule: "Parameters is NULL (ExInitializeDeleteTimerParameters)"
                },
                Bug::TimerMisuse {
                    service: "ExDeleteTimer",
                    timer: second as usize,
                    rule: "EXT_DELETE_PARAMETERS.Version or Reserved is not 0"
                },
                Bug::TimerMisuse {
                    service: "ExSetTimer",
                    timer: third as usize,
                    rule: "EXT_SET_PARAMETERS.Reserved is not zero"
                },
            ]
        );
        // The deletions went on: nothing leaks.
        kernel.assert_no_leaks();
    }

    #[test]
    fn wait_above_apc_level_is_a_bug() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        let _entered = kernel.enter();
        let seen = Seen::default();
        let timer = allocate(&seen, 0);
        set_irql(DISPATCH_LEVEL);
        delete(timer, true, true, None);
        set_irql(PASSIVE_LEVEL);
        assert_eq!(
            kernel.take_bugs(),
            vec![Bug::IrqlTooHigh {
                service: "ExDeleteTimer",
                irql: DISPATCH_LEVEL,
                max: APC_LEVEL
            }]
        );
        kernel.assert_no_leaks();
    }

    #[test]
    fn freeing_a_set_timers_context_or_the_timer_itself_is_a_bug() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        let _entered = kernel.enter();
        // SAFETY: plain allocation.
        let context = unsafe {
            crate::services::ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, u32::from_le_bytes(*b"Ctxt"))
        };
        assert!(!context.is_null());
        // SAFETY: a callback that never touches its context.
        let timer = unsafe { ExAllocateTimer(Some(ignore), context, 0) };
        set(timer, -1_000_000, 0);
        // SAFETY: the context block (freeing it while the timer is set is the bug under test).
        unsafe { ExFreePoolWithTag(context, u32::from_le_bytes(*b"Ctxt")) };
        assert_eq!(
            kernel.take_bugs(),
            vec![Bug::TimerContextInFreedPool {
                block: context as usize,
                timer: timer as usize,
                context: context as usize
            }]
        );
        assert_eq!(kernel.clock().armed_timers(), 0, "the timer was cancelled");
        // SAFETY: the timer object itself (only ExDeleteTimer may free it).
        unsafe { ExFreePoolWithTag(timer.cast(), 0) };
        assert_eq!(
            kernel.take_bugs(),
            vec![Bug::ExTimerFreedAsPool {
                timer: timer as usize
            }]
        );
        kernel.assert_no_leaks();
    }
}
