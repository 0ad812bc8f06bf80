//! Work items: PASSIVE_LEVEL work deferred from DPCs (ks.sys queues a work item to run a pin's
//! processing that a DPC asked for; `IoQueueWorkItem` has the same role for drivers).
//!
//! Inline (the default), queued items run on the thread that moves the clock, at PASSIVE_LEVEL,
//! once the DPCs of an expiry instant have run: deterministic. In concurrency mode they run on a
//! worker thread, concurrently with the DPCs and the clock.
//!
//! The AVStream processing a DPC asks for (`KsPinAttemptProcessing` above PASSIVE_LEVEL) is such
//! an item, one per pin at a time (`crate::avstream::processing`).

use std::sync::Weak;

use super::{in_kernel, Shared};
use crate::kernel::KernelState;

/// Work to run at PASSIVE_LEVEL with the kernel current.
pub(crate) type WorkItem = Box<dyn FnOnce(&KernelState) + Send + 'static>;

/// Queues `item` to run at PASSIVE_LEVEL: inline, after the DPCs of the current expiry instant,
/// on the clock's thread; in concurrency mode, on the worker thread.
pub(crate) fn queue_work_item(state: &KernelState, item: WorkItem) {
    state.clock.lock().work.push_back(item);
    state.clock.shared.changed.notify_all();
}

/// Inline mode, at PASSIVE_LEVEL once an instant's DPCs have run: runs the queued work items on
/// this thread (and those they queue).
pub(super) fn run_inline(state: &KernelState) {
    loop {
        let next = state.clock.lock().work.pop_front();
        let Some(item) = next else {
            break;
        };
        item(state);
    }
}

/// Concurrency mode's worker thread: runs work items at PASSIVE_LEVEL until the kernel is gone.
pub(super) fn worker_loop(shared: &Shared, kernel: &Weak<KernelState>) {
    let take = |clock: &mut super::ClockState| {
        let item = clock.work.pop_front();
        clock.work_running += usize::from(item.is_some());
        item
    };
    while let Some(item) = shared.next(take) {
        // The item, and what it leaves for the thread's way out of the kernel (a CLOSE it made
        // due), run before the worker counts as idle again.
        let ran = in_kernel(kernel, item);
        shared.lock().work_running -= 1;
        shared.changed.notify_all();
        if !ran {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::c_void;
    use std::sync::{Arc, Mutex};
    use std::thread::ThreadId;
    use std::time::{Duration, Instant};

    use ks::nt::{NotificationTimer, KDPC, KIRQL, KTIMER};

    use super::*;
    use crate::kernel::{current, current_irql};
    use crate::services::{KeInitializeDpc, KeInitializeTimerEx, KeSetTimerEx};
    use crate::timer::in_dpc;
    use crate::Kernel;

    /// Where each step ran: (what, thread, IRQL, in a DPC).
    type Trace = Mutex<Vec<(&'static str, ThreadId, KIRQL, bool)>>;

    fn note(trace: &Trace, what: &'static str) {
        let here = (what, std::thread::current().id(), current_irql(), in_dpc());
        trace.lock().unwrap().push(here);
    }

    /// A DPC that queues a work item; both note where they ran.
    #[ks::kernel_abi]
    unsafe extern "system" fn queue_from_dpc(
        _dpc: *mut KDPC,
        context: *mut c_void,
        _a: *mut c_void,
        _b: *mut c_void,
    ) {
        // SAFETY: the test passes an Arc<Trace> it keeps alive (one count leaked per run).
        let trace = unsafe { Arc::from_raw(context.cast::<Trace>()) };
        note(&trace, "dpc");
        let for_item = trace.clone();
        std::mem::forget(trace);
        let state = current("test DPC");
        queue_work_item(&state, Box::new(move |_| note(&for_item, "work item")));
    }

    /// Sets a timer whose DPC queues a work item, advances past it, returns the trace.
    fn run(kernel: &Kernel) -> Vec<(&'static str, ThreadId, KIRQL, bool)> {
        let _entered = kernel.enter();
        let trace: Arc<Trace> = Arc::default();
        let mut timer = Box::new(KTIMER { Opaque: [0; 8] });
        let mut dpc = Box::new(KDPC { Opaque: [0; 8] });
        let context = Arc::into_raw(trace.clone());
        // SAFETY: live boxes; the one-shot timer fires once, within the advance below.
        unsafe { KeInitializeDpc(&mut *dpc, Some(queue_from_dpc), context.cast_mut().cast()) };
        // SAFETY: as above.
        unsafe { KeInitializeTimerEx(&mut *timer, NotificationTimer) };
        // SAFETY: as above.
        unsafe { KeSetTimerEx(&mut *timer, -1, 0, &mut *dpc) };
        kernel.clock().advance(20_000_000);
        let start = Instant::now();
        while trace.lock().unwrap().len() < 2 && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(1));
        }
        // SAFETY: the count the DPC leaked.
        drop(unsafe { Arc::from_raw(context) });
        let steps = trace.lock().unwrap().clone();
        steps
    }

    #[test]
    fn inline_a_work_item_runs_after_the_dpc_on_the_clocks_thread_at_passive_level() {
        let kernel = Kernel::new();
        let me = std::thread::current().id();
        let steps = run(&kernel);
        assert_eq!(
            steps,
            vec![
                ("dpc", me, ks::nt::DISPATCH_LEVEL, true),
                ("work item", me, ks::nt::PASSIVE_LEVEL, false),
            ]
        );
    }

    #[test]
    fn in_concurrency_mode_a_work_item_runs_on_the_worker_thread_at_passive_level() {
        let kernel = Kernel::new();
        kernel.clock().run_dpcs_concurrently(2);
        let me = std::thread::current().id();
        let steps = run(&kernel);
        assert_eq!(steps.len(), 2, "{steps:?}");
        let (dpc, item) = (steps[0], steps[1]);
        assert_eq!((dpc.0, dpc.2, dpc.3), ("dpc", ks::nt::DISPATCH_LEVEL, true));
        assert_eq!(
            (item.0, item.2, item.3),
            ("work item", ks::nt::PASSIVE_LEVEL, false)
        );
        assert_ne!(dpc.1, me, "the DPC ran on a processor");
        assert_ne!(item.1, me, "the work item on the worker");
        assert_ne!(item.1, dpc.1, "not on the processor");
    }
}
