//! IRQL and spin locks: `KeAcquireSpinLockRaiseToDpc`, `KeReleaseSpinLock` and the cancel spin
//! lock.
//!
//! A `KSPIN_LOCK` is the real pointer-sized word in the caller's memory. Acquiring raises the
//! thread's IRQL to DISPATCH_LEVEL and spins on the word with an atomic compare-and-swap (yielding
//! the CPU while contended, since the emulation's "processors" are preemptible threads); the word
//! holds a token naming the owning thread, so releasing a lock the thread does not hold is
//! detected. Acquiring a lock the thread already holds would deadlock on Windows: it panics here.
//!
//! The common path is kept cheap because drivers take these locks per frame and per allocator
//! call: one compare-and-swap to acquire, a load and a store to release (only the owner writes a
//! held word), the thread token and IRQL in const-initialised thread locals, and the current
//! kernel borrowed rather than reference-counted; the kernel is only used to report a bug.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use ks::nt::{DISPATCH_LEVEL, KIRQL, KSPIN_LOCK};

use crate::bugs::Bug;
use crate::kernel::{current_irql, set_irql, KernelState};

/// The cancel spin lock of one kernel (`IoAcquireCancelSpinLock`).
#[derive(Default)]
pub(crate) struct CancelLock {
    word: AtomicUsize,
}

impl CancelLock {
    /// The lock word, for the spin lock routines.
    pub(crate) fn as_ptr(&self) -> *mut KSPIN_LOCK {
        self.word.as_ptr()
    }

    /// Whether the calling thread holds it.
    pub(crate) fn held_by_this_thread(&self) -> bool {
        self.word.load(Ordering::Acquire) == thread_token()
    }
}

/// A non-zero value naming the calling thread in lock words.
fn thread_token() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    thread_local! {
        // Const-initialised (0 = not assigned yet): no lazy-initialisation state to check on
        // every spin lock call.
        static TOKEN: Cell<usize> = const { Cell::new(0) };
    }
    let token = TOKEN.get();
    if token != 0 {
        return token;
    }
    let token = NEXT.fetch_add(1, Ordering::Relaxed);
    TOKEN.set(token);
    token
}

thread_local! {
    /// How many spin locks (the cancel spin lock included) the calling thread holds.
    static HELD: Cell<u32> = const { Cell::new(0) };
}

/// Whether the calling thread holds a spin lock (`IofCompleteRequest` must not be called then).
pub(crate) fn holds_spin_lock() -> bool {
    HELD.get() > 0
}

/// How many spin locks the calling thread holds.
pub(crate) fn held_spin_locks() -> u32 {
    HELD.get()
}

/// Forgets the spin locks a routine left held, when the emulation repairs the IRQL after it
/// (the bug is reported already; the lock words stay as the routine left them).
pub(crate) fn forget_spin_locks_beyond(count: u32) {
    HELD.set(HELD.get().min(count));
}

/// Checks that a service runs at or below `max`; reports a bug otherwise.
pub(crate) fn check_irql(state: &KernelState, service: &'static str, max: KIRQL) {
    let irql = current_irql();
    if irql > max {
        state.report(Bug::IrqlTooHigh { service, irql, max });
    }
}

/// `KeAcquireSpinLockRaiseToDpc`: returns the previous IRQL.
///
/// # Safety
/// `lock` must point to a live, 8-byte aligned `KSPIN_LOCK` that is only accessed through the
/// spin lock routines while the lock is in use.
pub(crate) unsafe fn acquire(
    state: &KernelState,
    service: &'static str,
    lock: *mut KSPIN_LOCK,
) -> KIRQL {
    check_irql(state, service, DISPATCH_LEVEL);
    let previous = current_irql();
    set_irql(previous.max(DISPATCH_LEVEL));
    // SAFETY: the caller guarantees `lock` is a live aligned word used only atomically here.
    let word = unsafe { AtomicUsize::from_ptr(lock) };
    let me = thread_token();
    loop {
        match word.compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => {
                HELD.set(HELD.get() + 1);
                return previous;
            }
            Err(owner) if owner == me => {
                panic!(
                    "avcam-emulation: {service}({:#x}): this thread already holds the lock \
                     (a deadlock on Windows)",
                    lock as usize
                );
            }
            Err(_) => std::thread::yield_now(),
        }
    }
}

/// `KeReleaseSpinLock`: releases `lock` and lowers the IRQL to `new_irql`.
///
/// # Safety
/// As for [`acquire`].
pub(crate) unsafe fn release(state: &KernelState, lock: *mut KSPIN_LOCK, new_irql: KIRQL) {
    // SAFETY: the caller guarantees `lock` is a live aligned word used only atomically here.
    let word = unsafe { AtomicUsize::from_ptr(lock) };
    let me = thread_token();
    // Only the owner writes a held word, so a load then a store is enough (no read-modify-write):
    // if the word names this thread, nobody else can change it before the store.
    if word.load(Ordering::Relaxed) != me {
        state.report(Bug::SpinLockNotHeld {
            lock: lock as usize,
        });
        return;
    }
    let current = current_irql();
    if new_irql > current {
        state.report(Bug::IrqlRaisedByRelease {
            current,
            requested: new_irql,
        });
        word.store(0, Ordering::Release);
        HELD.set(HELD.get().saturating_sub(1));
        return;
    }
    word.store(0, Ordering::Release);
    HELD.set(HELD.get().saturating_sub(1));
    set_irql(new_irql);
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;

    use ks::nt::PASSIVE_LEVEL;

    use super::*;
    use crate::services::{KeAcquireSpinLockRaiseToDpc, KeReleaseSpinLock};
    use crate::Kernel;

    #[test]
    fn acquire_raises_to_dispatch_and_release_restores() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let mut lock: KSPIN_LOCK = 0;
        // SAFETY: `lock` is a live, aligned KSPIN_LOCK on this stack frame.
        let old = unsafe { KeAcquireSpinLockRaiseToDpc(&mut lock) };
        assert_eq!(old, PASSIVE_LEVEL);
        assert_eq!(current_irql(), DISPATCH_LEVEL);
        assert_ne!(lock, 0, "the word is taken while held");
        // SAFETY: as above; the lock is held by this thread.
        unsafe { KeReleaseSpinLock(&mut lock, old) };
        assert_eq!(current_irql(), PASSIVE_LEVEL);
        assert_eq!(lock, 0);
        kernel.check();
    }

    #[test]
    fn releasing_an_unheld_lock_is_a_bug() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        let _entered = kernel.enter();
        let mut lock: KSPIN_LOCK = 0;
        // SAFETY: `lock` is a live, aligned KSPIN_LOCK.
        unsafe { KeReleaseSpinLock(&mut lock, PASSIVE_LEVEL) };
        assert_eq!(
            kernel.take_bugs(),
            vec![Bug::SpinLockNotHeld {
                lock: &lock as *const usize as usize
            }]
        );
    }

    #[test]
    fn a_lock_held_by_another_thread_cannot_be_released_here() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        let lock = Arc::new(AtomicUsize::new(0));
        let held = lock.clone();
        kernel
            .spawn(move || {
                // SAFETY: the word lives in an Arc that outlives the call.
                unsafe { KeAcquireSpinLockRaiseToDpc(held.as_ptr()) };
                // Leave it held and the IRQL raised: that is reported when the thread leaves.
            })
            .join()
            .unwrap();
        let _entered = kernel.enter();
        // SAFETY: as above.
        unsafe { KeReleaseSpinLock(lock.as_ptr(), PASSIVE_LEVEL) };
        let bugs = kernel.take_bugs();
        assert!(
            bugs.contains(&Bug::SpinLockNotHeld {
                lock: lock.as_ptr() as usize
            }),
            "{bugs:?}"
        );
        assert!(
            bugs.iter()
                .any(|b| matches!(b, Bug::IrqlNotRestored { irql: 2, .. })),
            "{bugs:?}"
        );
    }

    #[test]
    fn the_lock_excludes_other_threads() {
        const THREADS: usize = 4;
        const ROUNDS: u64 = 2_000;
        let kernel = Kernel::new();
        let lock = Arc::new(AtomicUsize::new(0));
        // Incremented non-atomically (load then store) under the lock: lost updates would show.
        let counter = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let (lock, counter) = (lock.clone(), counter.clone());
                kernel.spawn(move || {
                    for _ in 0..ROUNDS {
                        // SAFETY: the word lives in an Arc that outlives the calls.
                        let old = unsafe { KeAcquireSpinLockRaiseToDpc(lock.as_ptr()) };
                        let value = counter.load(Ordering::Relaxed);
                        std::hint::spin_loop();
                        counter.store(value + 1, Ordering::Relaxed);
                        // SAFETY: as above; held by this thread.
                        unsafe { KeReleaseSpinLock(lock.as_ptr(), old) };
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(counter.load(Ordering::Relaxed), THREADS as u64 * ROUNDS);
        kernel.check();
    }

    #[test]
    fn the_cancel_spin_lock_raises_and_restores() {
        use crate::services::{IoAcquireCancelSpinLock, IoReleaseCancelSpinLock};
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let mut old = 0xFF;
        // SAFETY: `old` is writable.
        unsafe { IoAcquireCancelSpinLock(&mut old) };
        assert_eq!(old, PASSIVE_LEVEL);
        assert_eq!(current_irql(), DISPATCH_LEVEL);
        assert!(kernel.state.cancel_lock.held_by_this_thread());
        // SAFETY: held by this thread.
        unsafe { IoReleaseCancelSpinLock(old) };
        assert_eq!(current_irql(), PASSIVE_LEVEL);
        assert!(!kernel.state.cancel_lock.held_by_this_thread());
        kernel.check();
    }

    #[test]
    #[should_panic(expected = "already holds the lock")]
    fn acquiring_a_lock_twice_on_one_thread_panics() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let mut lock: KSPIN_LOCK = 0;
        // SAFETY: `lock` is a live, aligned KSPIN_LOCK; the sync module is called directly (not
        // through the extern service) so the panic can unwind into the test.
        unsafe { acquire(&kernel.state, "test", &mut lock) };
        // SAFETY: as above.
        unsafe { acquire(&kernel.state, "test", &mut lock) };
    }

    #[test]
    fn acquiring_above_dispatch_is_a_bug() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        let _entered = kernel.enter();
        set_irql(DISPATCH_LEVEL + 1);
        let mut lock: KSPIN_LOCK = 0;
        // SAFETY: `lock` is a live, aligned KSPIN_LOCK.
        let old = unsafe { KeAcquireSpinLockRaiseToDpc(&mut lock) };
        // SAFETY: held by this thread.
        unsafe { KeReleaseSpinLock(&mut lock, old) };
        set_irql(PASSIVE_LEVEL);
        assert_eq!(
            kernel.take_bugs(),
            vec![Bug::IrqlTooHigh {
                service: "KeAcquireSpinLockRaiseToDpc",
                irql: 3,
                max: 2
            }]
        );
    }
}
