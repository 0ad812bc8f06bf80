//! Concurrency mode: DPCs and EX_TIMER callbacks on emulated processor threads, concurrently
//! with the thread that moves the (virtual) clock and with each other. Nothing here measures
//! time: the waits are only there so a broken emulation fails instead of hanging.

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use avcam_emulation::Kernel;
use avcam_kernel::{
    ExAllocateTimer, ExDeleteTimer, ExSetTimer, KeCancelTimer, KeFlushQueuedDpcs, KeInitializeDpc,
    KeInitializeTimerEx, KeSetTimerEx,
};
use ks::nt::{
    NotificationTimer, EXT_DELETE_PARAMETERS, EX_TIMER, EX_TIMER_HIGH_RESOLUTION, KDPC, KTIMER,
};

/// Longest a test waits for something the emulation must make happen.
const PATIENCE: Duration = Duration::from_secs(20);

/// Waits until `done` holds (or PATIENCE passed); returns whether it holds.
fn wait_for(done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > PATIENCE {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// What the DPCs of a test saw.
#[derive(Default)]
struct Gate {
    /// Routines running now, and the most seen at once.
    active: AtomicU32,
    most: AtomicU32,
    started: AtomicU32,
    finished: AtomicU32,
    /// Threads the routine ran on.
    threads: Mutex<Vec<ThreadId>>,
    /// Routines return once this is set (or once two run at once, with `meet`).
    release: AtomicBool,
    /// Return as soon as two routines run at once.
    meet: bool,
}

impl Gate {
    fn enter(&self) {
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        self.started.fetch_add(1, Ordering::SeqCst);
        let active = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(active, Ordering::SeqCst);
        wait_for(|| {
            self.release.load(Ordering::SeqCst)
                || (self.meet && self.most.load(Ordering::SeqCst) >= 2)
        });
        self.active.fetch_sub(1, Ordering::SeqCst);
        self.finished.fetch_add(1, Ordering::SeqCst);
    }
}

#[ks::kernel_abi]
unsafe extern "system" fn gate_dpc(
    _dpc: *mut KDPC,
    context: *mut c_void,
    _a: *mut c_void,
    _b: *mut c_void,
) {
    // SAFETY: the tests pass a live Gate.
    unsafe { &*context.cast::<Gate>() }.enter();
}

#[ks::kernel_abi]
unsafe extern "system" fn gate_callback(_timer: *mut EX_TIMER, context: *mut c_void) {
    // SAFETY: the tests pass a live Gate.
    unsafe { &*context.cast::<Gate>() }.enter();
}

/// A kernel in concurrency mode with two processors, and a 1 ms tick.
fn kernel() -> Kernel {
    let kernel = Kernel::new();
    kernel.clock().set_tick(10_000);
    kernel.clock().run_dpcs_concurrently(2);
    assert_eq!(kernel.clock().processors(), 2);
    kernel
}

#[test]
fn a_periodic_timers_dpc_runs_on_two_processors_at_once() {
    let kernel = kernel();
    let _entered = kernel.enter();
    let gate = Box::new(Gate {
        meet: true,
        ..Gate::default()
    });
    let mut timer = Box::new(KTIMER { Opaque: [0; 8] });
    let mut dpc = Box::new(KDPC { Opaque: [0; 8] });
    let context: *const Gate = &*gate;
    // SAFETY: live boxes; the timer is cancelled and the DPCs flushed before they go.
    unsafe { KeInitializeDpc(&mut *dpc, Some(gate_dpc), context.cast_mut().cast()) };
    // SAFETY: as above.
    unsafe { KeInitializeTimerEx(&mut *timer, NotificationTimer) };
    // SAFETY: as above: every millisecond.
    unsafe { KeSetTimerEx(&mut *timer, -10_000, 1, &mut *dpc) };
    // The first expiry's DPC waits on one processor for a second instance; the next expiry
    // queues the KDPC again (it left the queue when it started) and the other processor runs it.
    kernel.clock().advance(5_000_000);
    // SAFETY: the timer set above.
    assert_eq!(unsafe { KeCancelTimer(&mut *timer) }, 1);
    // SAFETY: PASSIVE_LEVEL.
    unsafe { KeFlushQueuedDpcs() };
    assert_eq!(gate.most.load(Ordering::SeqCst), 2, "two at once");
    let threads = gate.threads.lock().unwrap().clone();
    let me = std::thread::current().id();
    assert!(
        threads.iter().all(|&t| t != me),
        "never on the clock's thread"
    );
    assert!(
        threads[1..].iter().any(|&t| t != threads[0]),
        "two processors"
    );
    assert_eq!(gate.active.load(Ordering::SeqCst), 0, "flushed");
    kernel.assert_no_leaks();
}

#[test]
fn flush_waits_for_dpcs_running_and_queued_on_every_processor() {
    let kernel = kernel();
    let _entered = kernel.enter();
    let gate = Box::new(Gate::default());
    let context: *const Gate = &*gate;
    let mut timers: Vec<Box<(KTIMER, KDPC)>> = (0..3)
        .map(|_| Box::new((KTIMER { Opaque: [0; 8] }, KDPC { Opaque: [0; 8] })))
        .collect();
    for pair in &mut timers {
        // SAFETY: live boxes until the flush below.
        unsafe { KeInitializeDpc(&mut pair.1, Some(gate_dpc), context.cast_mut().cast()) };
        // SAFETY: as above.
        unsafe { KeInitializeTimerEx(&mut pair.0, NotificationTimer) };
        // SAFETY: as above: all three on the first tick.
        unsafe { KeSetTimerEx(&mut pair.0, -1, 0, &mut pair.1) };
    }
    kernel.clock().advance(1_000_000);
    // Two run (one per processor) and wait; the third stays queued.
    assert!(wait_for(|| gate.started.load(Ordering::SeqCst) == 2));
    assert_eq!(gate.finished.load(Ordering::SeqCst), 0);
    let releaser = release_later(&kernel, &gate);
    // SAFETY: PASSIVE_LEVEL.
    unsafe { KeFlushQueuedDpcs() };
    assert_eq!(
        gate.finished.load(Ordering::SeqCst),
        3,
        "the queued one too"
    );
    releaser.join().unwrap();
    kernel.assert_no_leaks();
}

/// A one-shot EX_TIMER (with `attributes`) whose callback, the gate, has started on a processor
/// and waits there. The gate must outlive the timer.
fn in_its_callback(kernel: &Kernel, gate: &Gate, attributes: u32) -> *mut EX_TIMER {
    let context: *const Gate = gate;
    // SAFETY: the caller keeps the gate alive until the timer is deleted.
    let timer =
        unsafe { ExAllocateTimer(Some(gate_callback), context.cast_mut().cast(), attributes) };
    assert!(!timer.is_null());
    // SAFETY: a live timer; NULL parameters.
    unsafe { ExSetTimer(timer, -1, 0, std::ptr::null_mut()) };
    kernel.clock().advance(1_000_000);
    assert!(wait_for(|| gate.started.load(Ordering::SeqCst) == 1));
    timer
}

/// Opens `gate` from another thread 50 ms from now.
fn release_later(kernel: &Kernel, gate: &Gate) -> std::thread::JoinHandle<()> {
    let target = std::ptr::from_ref(gate) as usize;
    kernel.spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: the tests keep the gate alive until they joined this thread.
        unsafe { &*(target as *const Gate) }
            .release
            .store(true, Ordering::SeqCst);
    })
}

#[test]
fn delete_with_wait_returns_only_after_the_running_callback_finished() {
    let kernel = kernel();
    let _entered = kernel.enter();
    let gate = Box::new(Gate::default());
    let timer = in_its_callback(&kernel, &gate, EX_TIMER_HIGH_RESOLUTION);
    let releaser = release_later(&kernel, &gate);
    let mut parameters = EXT_DELETE_PARAMETERS::initialized();
    // SAFETY: a live timer; PASSIVE_LEVEL; Cancel with Wait.
    let cancelled = unsafe { ExDeleteTimer(timer, 1, 1, &mut parameters) };
    assert_eq!(cancelled, 0, "it had expired");
    assert_eq!(
        gate.finished.load(Ordering::SeqCst),
        1,
        "returned before the callback finished"
    );
    releaser.join().unwrap();
    kernel.assert_no_leaks();
}

#[test]
fn delete_without_wait_returns_at_once_and_frees_the_timer_after_the_callback() {
    let kernel = kernel();
    let _entered = kernel.enter();
    let gate = Box::new(Gate::default());
    let timer = in_its_callback(&kernel, &gate, 0);
    let mut parameters = EXT_DELETE_PARAMETERS::initialized();
    // SAFETY: a live timer.
    assert_eq!(unsafe { ExDeleteTimer(timer, 1, 0, &mut parameters) }, 0);
    assert_eq!(gate.finished.load(Ordering::SeqCst), 0, "did not wait");
    assert_eq!(
        kernel.pool().outstanding().len(),
        1,
        "the callback still runs"
    );
    gate.release.store(true, Ordering::SeqCst);
    assert!(wait_for(|| kernel.pool().outstanding().is_empty()));
    assert_eq!(gate.finished.load(Ordering::SeqCst), 1);
    kernel.assert_no_leaks();
}
