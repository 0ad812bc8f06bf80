//! A spin lock over `KSPIN_LOCK` that owns the data it protects.
//!
//! [`SpinLock::lock`] calls `KeAcquireSpinLockRaiseToDpc` and returns a guard; dropping the guard
//! calls `KeReleaseSpinLock` with the saved IRQL. The guard is neither `Send` nor `Sync`'s way out:
//! it cannot leave the thread (the IRQL it restores is that processor's), and its borrow of the
//! lock keeps the data from escaping the critical section.

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

use ks::nt::{KIRQL, KSPIN_LOCK};

use crate::{KeAcquireSpinLockRaiseToDpc, KeReleaseSpinLock};

/// Data of type `T` behind a kernel spin lock. Callable at IRQL <= DISPATCH_LEVEL; the data is
/// used at DISPATCH_LEVEL, so it must not touch paged memory.
pub struct SpinLock<T> {
    word: UnsafeCell<KSPIN_LOCK>,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `T` to one thread at a time, so sharing the lock between
// threads is sound when `T` may move between threads.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: moving the lock moves `T`; the lock word is plain data when not held (and it cannot
// be held while the lock is moved, since a guard borrows it).
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A released lock around `value` (`KeInitializeSpinLock` sets the word to 0).
    pub const fn new(value: T) -> SpinLock<T> {
        SpinLock {
            word: UnsafeCell::new(0),
            data: UnsafeCell::new(value),
        }
    }

    /// Acquires the lock, raising the IRQL to DISPATCH_LEVEL until the guard drops.
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        // SAFETY: the word is a live, aligned KSPIN_LOCK owned by `self`, only ever touched by
        // the spin lock routines while `self` is borrowed.
        let old_irql = unsafe { KeAcquireSpinLockRaiseToDpc(self.word.get()) };
        SpinLockGuard {
            lock: self,
            old_irql,
            _not_send: PhantomData,
        }
    }

    /// The data, through exclusive access (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// The data, consuming the lock.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: Default> Default for SpinLock<T> {
    fn default() -> Self {
        SpinLock::new(T::default())
    }
}

/// Access to the data of a held [`SpinLock`]; releases it when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
    old_irql: KIRQL,
    // The guard must be released on the thread (processor) that acquired it.
    _not_send: PhantomData<*const ()>,
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the lock is held for the guard's lifetime, so no other reference to the data
        // exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above, and `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this guard acquired the lock on this thread; the IRQL saved then is restored.
        unsafe { KeReleaseSpinLock(self.lock.word.get(), self.old_irql) };
    }
}

#[cfg(all(test, not(avcam_kernel_mode)))]
mod tests {
    use std::sync::Arc;
    use std::vec::Vec;

    use avcam_emulation::{current_irql, Kernel};
    use ks::nt::{DISPATCH_LEVEL, PASSIVE_LEVEL};

    use super::*;

    #[test]
    fn the_guard_raises_and_restores_the_irql() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let lock = SpinLock::new(5u32);
        {
            let mut guard = lock.lock();
            assert_eq!(current_irql(), DISPATCH_LEVEL);
            *guard += 1;
        }
        assert_eq!(current_irql(), PASSIVE_LEVEL);
        assert_eq!(lock.into_inner(), 6);
        kernel.check();
    }

    #[test]
    fn threads_do_not_lose_updates() {
        const THREADS: usize = 4;
        const ROUNDS: usize = 2_000;
        let kernel = Kernel::new();
        let lock = Arc::new(SpinLock::new(Vec::new()));
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let lock = lock.clone();
                kernel.spawn(move || {
                    for i in 0..ROUNDS {
                        lock.lock().push(t * ROUNDS + i);
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        let mut all = Arc::try_unwrap(lock).ok().unwrap().into_inner();
        all.sort_unstable();
        assert_eq!(all, (0..THREADS * ROUNDS).collect::<Vec<_>>());
        kernel.check();
    }
}
