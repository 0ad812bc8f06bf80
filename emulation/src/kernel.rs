//! The [`Kernel`] instance that owns every piece of emulated state, and the thread's current
//! kernel.
//!
//! Tests run as parallel threads of one process, so nothing lives in globals: a [`Kernel`] holds
//! the pool, the object table, the I/O manager and the bug log, and [`Kernel::enter`] makes it the
//! current kernel of a thread (the services look it up there). Threads started with
//! [`Kernel::spawn`] inherit it. Each thread also has its own IRQL, starting at PASSIVE_LEVEL.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::sync::Arc;
use std::thread::JoinHandle;

use ks::nt::{KIRQL, PASSIVE_LEVEL};

use crate::avstream::AvState;
use crate::bugs::{describe, Bug, BugLog};
use crate::event::EventHub;
use crate::io::IoManager;
use crate::ks::KsState;
use crate::object::ObjectTable;
use crate::pool::Pool;
use crate::registry::Registry;
use crate::sync::CancelLock;
use crate::timer::Clock;

/// Everything one emulated kernel owns.
pub(crate) struct KernelState {
    /// Driver bugs detected so far.
    pub(crate) bugs: BugLog,
    /// The tracked pool (ExAllocatePool2 / ExFreePoolWithTag).
    pub(crate) pool: Pool,
    /// Kernel objects reachable through handles.
    pub(crate) objects: ObjectTable,
    /// Wakes the threads waiting on a KEVENT.
    pub(crate) events: EventHub,
    /// The cancel spin lock.
    pub(crate) cancel_lock: CancelLock,
    /// Driver and device objects, file objects and IRPs.
    pub(crate) io: IoManager,
    /// ks.sys's object headers.
    pub(crate) ks: KsState,
    /// The clock, timers and DPCs.
    pub(crate) clock: Clock,
    /// The AVStream device, filters and pins.
    pub(crate) avstream: AvState,
    /// The device's registry keys.
    pub(crate) registry: Registry,
}

impl KernelState {
    /// Records a driver bug.
    pub(crate) fn report(&self, bug: Bug) {
        self.bugs.report(bug);
    }
}

impl Drop for KernelState {
    fn drop(&mut self) {
        let bugs = self.bugs.remaining();
        if !bugs.is_empty() && !std::thread::panicking() {
            panic!(
                "{} (nobody took them with Kernel::take_bugs)",
                describe(&bugs)
            );
        }
    }
}

/// One emulated Windows kernel (ntoskrnl and the ks.sys subset avcam uses).
///
/// Cloning gives another handle to the same kernel.
#[derive(Clone)]
pub struct Kernel {
    pub(crate) state: Arc<KernelState>,
}

impl Default for Kernel {
    fn default() -> Self {
        Self::new()
    }
}

impl Kernel {
    /// A fresh kernel: empty pool, no objects, one driver with one device whose major functions
    /// all go to ks.sys's `KsDispatchIrp`.
    pub fn new() -> Kernel {
        let state = Arc::new(KernelState {
            bugs: BugLog::default(),
            pool: Pool::default(),
            objects: ObjectTable::default(),
            events: EventHub::default(),
            cancel_lock: CancelLock::default(),
            io: IoManager::new(),
            ks: KsState::default(),
            clock: Clock::default(),
            avstream: AvState::default(),
            registry: Registry::default(),
        });
        Kernel { state }
    }

    /// Makes this kernel the current one of the calling thread until the guard drops, at
    /// PASSIVE_LEVEL. Guards nest (the innermost wins) and must drop in reverse order.
    pub fn enter(&self) -> EnterGuard {
        CURRENT.with(|c| c.borrow_mut().push(self.state.clone()));
        TOP.set(Arc::as_ptr(&self.state));
        let saved_irql = IRQL.replace(PASSIVE_LEVEL);
        EnterGuard {
            state: self.state.clone(),
            saved_irql,
            _not_send: PhantomData,
        }
    }

    /// Starts a thread whose current kernel is this one.
    pub fn spawn<F, T>(&self, body: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let kernel = self.clone();
        std::thread::spawn(move || {
            let _entered = kernel.enter();
            body()
        })
    }

    /// The tracked pool: outstanding allocations, leaks, the fault injector.
    pub fn pool(&self) -> &Pool {
        &self.state.pool
    }

    /// The object table: handles, references.
    pub fn objects(&self) -> &ObjectTable {
        &self.state.objects
    }

    /// From now on, detected bugs are only recorded, for the test to take with
    /// [`Kernel::take_bugs`] (instead of being raised at the next client call).
    pub fn expect_bugs(&self) {
        self.state.bugs.expect();
    }

    /// Takes every driver bug detected so far.
    pub fn take_bugs(&self) -> Vec<Bug> {
        self.state.bugs.take()
    }

    /// Panics naming every driver bug detected so far, unless [`Kernel::expect_bugs`] was called.
    /// The client calls do this when the driver returns.
    pub fn check(&self) {
        self.state.bugs.raise_unexpected();
    }

    /// Panics naming every leak: pool allocations still live (by tag), object references the
    /// driver took and never dropped, kernel handles never closed, file objects whose handles are
    /// all closed but whose IRP_MJ_CLOSE never came (IRPs never completed), AVStream filters and
    /// pins never closed, KTIMERs still set, EX_TIMERs never deleted. Delivers the CLOSEs waiting
    /// for a safe point first.
    pub fn assert_no_leaks(&self) {
        {
            let _entered = self.enter();
            crate::file::run_pending_closes(&self.state);
        }
        let mut problems = Vec::new();
        for leak in self.state.pool.leaks() {
            problems.push(leak.to_string());
        }
        for leak in self.state.objects.leaked_references() {
            problems.push(leak.to_string());
        }
        for handle in self.state.objects.leaked_kernel_handles() {
            problems.push(format!(
                "kernel handle {handle:#x} never closed with ZwClose"
            ));
        }
        problems.extend(self.state.io.files.unclosed());
        problems.extend(crate::avstream::live_objects(&self.state));
        for timer in crate::timer::armed_timer_addresses(&self.state) {
            problems.push(format!(
                "KTIMER {timer:#x} still set (KeCancelTimer never called)"
            ));
        }
        for (timer, deleting) in crate::timer::live_ex_timers(&self.state) {
            problems.push(if deleting {
                format!("EX_TIMER {timer:#x} deleted without Cancel and still set")
            } else {
                format!("EX_TIMER {timer:#x} never deleted (ExDeleteTimer never called)")
            });
        }
        if !problems.is_empty() {
            panic!(
                "avcam-emulation: {} leak(s):\n  - {}",
                problems.len(),
                problems.join("\n  - ")
            );
        }
    }
}

thread_local! {
    /// The kernels entered on this thread, innermost last.
    static CURRENT: RefCell<Vec<Arc<KernelState>>> = const { RefCell::new(Vec::new()) };
    /// The last entry of `CURRENT` (null when empty), for [`with_current`]: a const thread local
    /// without a destructor is one load, where `CURRENT` needs its lazy state and a borrow.
    static TOP: Cell<*const KernelState> = const { Cell::new(std::ptr::null()) };
    /// This thread's IRQL.
    static IRQL: Cell<KIRQL> = const { Cell::new(PASSIVE_LEVEL) };
}

/// Keeps a kernel current on this thread; see [`Kernel::enter`].
pub struct EnterGuard {
    state: Arc<KernelState>,
    saved_irql: KIRQL,
    // The guard belongs to the thread that entered.
    _not_send: PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let irql = IRQL.get();
        if irql != PASSIVE_LEVEL {
            self.state.report(Bug::IrqlNotRestored {
                context: "leaving the kernel on this thread",
                irql,
            });
            crate::sync::forget_spin_locks_beyond(0);
        } else if !std::thread::panicking() && self.outermost() {
            // The thread leaves this kernel: no driver code is on its stack, the point where the
            // completion APCs of its IRPs would run (see `crate::file`).
            crate::file::run_pending_closes(&self.state);
        }
        IRQL.set(self.saved_irql);
        let top = CURRENT.with(|c| {
            let mut kernels = c.borrow_mut();
            let top = kernels.pop();
            TOP.set(kernels.last().map_or(std::ptr::null(), Arc::as_ptr));
            top
        });
        let in_order = top.is_some_and(|top| Arc::ptr_eq(&top, &self.state));
        if !in_order && !std::thread::panicking() {
            panic!("avcam-emulation: Kernel::enter guards dropped out of order");
        }
    }
}

impl EnterGuard {
    /// Whether this guard is the thread's only entry into its kernel.
    fn outermost(&self) -> bool {
        CURRENT.with(|c| {
            c.borrow()
                .iter()
                .filter(|k| Arc::ptr_eq(k, &self.state))
                .count()
                == 1
        })
    }
}

/// The calling thread's current kernel; panics with a clear message if there is none.
pub(crate) fn current(service: &str) -> Arc<KernelState> {
    match CURRENT.with(|c| c.borrow().last().cloned()) {
        Some(state) => state,
        None => panic!(
            "avcam-emulation: {service} called on a thread with no current kernel: call \
             `kernel.enter()` on this thread, or start it with `kernel.spawn(..)`"
        ),
    }
}

/// Runs `body` with the calling thread's current kernel, borrowed (no reference count traffic:
/// for services called on hot paths, such as the spin lock routines); panics as [`current`]
/// does if there is none. `body` must not enter or leave a kernel on this thread.
pub(crate) fn with_current<R>(service: &str, body: impl FnOnce(&KernelState) -> R) -> R {
    let top = TOP.get();
    if top.is_null() {
        panic!(
            "avcam-emulation: {service} called on a thread with no current kernel: call \
             `kernel.enter()` on this thread, or start it with `kernel.spawn(..)`"
        );
    }
    // SAFETY: TOP points to the last kernel of this thread's CURRENT stack, whose Arc keeps it
    // alive until its guard pops it (which resets TOP); `body` does not enter or leave a kernel
    // (this function's contract), so the entry stays for the call.
    body(unsafe { &*top })
}

/// The calling thread's IRQL.
pub fn current_irql() -> KIRQL {
    IRQL.get()
}

/// Sets the calling thread's IRQL.
pub(crate) fn set_irql(irql: KIRQL) {
    IRQL.set(irql);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "no current kernel")]
    fn a_service_without_a_kernel_panics_clearly() {
        let _ = current("ExAllocatePool2");
    }

    #[test]
    fn enter_nests_and_spawn_inherits() {
        let outer = Kernel::new();
        let inner = Kernel::new();
        let _a = outer.enter();
        assert!(Arc::ptr_eq(&current("t"), &outer.state));
        {
            let _b = inner.enter();
            assert!(Arc::ptr_eq(&current("t"), &inner.state));
        }
        assert!(Arc::ptr_eq(&current("t"), &outer.state));
        let seen = inner.spawn(|| current("t")).join().unwrap();
        assert!(Arc::ptr_eq(&seen, &inner.state));
    }

    #[test]
    fn each_thread_starts_at_passive_level() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        set_irql(2);
        let other = kernel.spawn(current_irql).join().unwrap();
        assert_eq!(other, PASSIVE_LEVEL);
        assert_eq!(current_irql(), 2);
        set_irql(PASSIVE_LEVEL);
    }

    #[test]
    fn leaving_at_raised_irql_is_a_bug() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        {
            let _entered = kernel.enter();
            set_irql(2);
        }
        assert_eq!(
            kernel.take_bugs(),
            vec![Bug::IrqlNotRestored {
                context: "leaving the kernel on this thread",
                irql: 2
            }]
        );
        assert_eq!(current_irql(), PASSIVE_LEVEL);
    }

    #[test]
    #[should_panic(expected = "nobody took them")]
    fn a_kernel_dropped_with_bugs_panics() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        kernel.state.report(Bug::CancelLockNotReleased);
    }
}
