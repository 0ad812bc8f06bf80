//! Events: `KeInitializeEvent` / `KeSetEvent` on real `KEVENT` memory, and waiting on them from
//! tests.
//!
//! The state lives where Windows keeps it, in `KEVENT.SignalState` (accessed atomically); the
//! type and size are written into the dispatcher header as `KeInitializeEvent` does, which also
//! lets the emulation notice a KEVENT that was never initialised (its header is zero). Waiters
//! block on one condition variable per kernel, which every `KeSetEvent` notifies.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use ks::nt::{SynchronizationEvent, EVENT_TYPE, KEVENT, LIST_ENTRY};

use crate::bugs::Bug;
use crate::kernel::KernelState;
use crate::memory::field_ptr;

/// `EventNotificationObject` / `EventSynchronizationObject` are dispatcher types 0 and 1;
/// `Size` (byte 2 of the header) is the object size in 32-bit words.
const KEVENT_SIZE_WORDS: u32 = (std::mem::size_of::<KEVENT>() / 4) as u32;

/// Wakes the threads waiting on events of one kernel.
#[derive(Default)]
pub(crate) struct EventHub {
    lock: Mutex<()>,
    signalled: Condvar,
}

/// The header word `KeInitializeEvent` writes for `kind`.
fn header_for(kind: EVENT_TYPE) -> u32 {
    (kind & 0xFF) | (KEVENT_SIZE_WORDS << 16)
}

/// The state word of `event`.
///
/// # Safety
/// `event` must point to a live KEVENT that outlives the returned reference.
unsafe fn signal_state<'a>(event: *mut KEVENT) -> &'a AtomicI32 {
    let state: *mut i32 = field_ptr!(event, KEVENT, SignalState);
    // SAFETY: the caller guarantees `event` is live; SignalState is an aligned i32 that the
    // services only access atomically.
    unsafe { AtomicI32::from_ptr(state) }
}

/// Whether `event` carries the header `KeInitializeEvent` writes; reports a bug otherwise.
///
/// # Safety
/// `event` must point to a live KEVENT.
unsafe fn check_initialized(state: &KernelState, event: *mut KEVENT) -> Option<EVENT_TYPE> {
    // SAFETY: the caller guarantees `event` is live; the header is written once at initialisation.
    let header = unsafe { (*event).Header };
    let kind = header & 0xFF;
    if header >> 16 & 0xFF != KEVENT_SIZE_WORDS || kind > SynchronizationEvent {
        state.report(Bug::EventNotInitialized {
            event: event as usize,
        });
        return None;
    }
    Some(kind)
}

/// `KeInitializeEvent`.
///
/// # Safety
/// `event` must point to writable memory for a KEVENT.
pub(crate) unsafe fn initialize(event: *mut KEVENT, kind: EVENT_TYPE, signalled: bool) {
    let list: *mut LIST_ENTRY = field_ptr!(event, KEVENT, WaitListHead);
    // SAFETY: the caller guarantees `event` is writable; the list head points at itself, as
    // InitializeListHead leaves it.
    unsafe {
        event.write(KEVENT {
            Header: header_for(kind),
            SignalState: i32::from(signalled),
            WaitListHead: LIST_ENTRY {
                Flink: list,
                Blink: list,
            },
        })
    };
}

/// `KeSetEvent`: signals `event` and returns its previous state.
///
/// # Safety
/// `event` must point to a live KEVENT.
pub(crate) unsafe fn set(state: &KernelState, event: *mut KEVENT) -> i32 {
    // SAFETY: the caller guarantees `event` is live.
    if unsafe { check_initialized(state, event) }.is_none() {
        return 0;
    }
    // SAFETY: as above.
    let previous = unsafe { signal_state(event) }.swap(1, Ordering::AcqRel);
    let _guard = state.events.lock.lock().unwrap_or_else(|e| e.into_inner());
    state.events.signalled.notify_all();
    previous
}

/// Resets `event` (`KeClearEvent`); returns the previous state.
///
/// # Safety
/// `event` must point to a live KEVENT.
pub(crate) unsafe fn reset(event: *mut KEVENT) -> i32 {
    // SAFETY: the caller guarantees `event` is live.
    unsafe { signal_state(event) }.swap(0, Ordering::AcqRel)
}

/// Whether `event` is signalled, without consuming it.
///
/// # Safety
/// `event` must point to a live KEVENT.
pub(crate) unsafe fn is_signalled(event: *mut KEVENT) -> bool {
    // SAFETY: the caller guarantees `event` is live.
    unsafe { signal_state(event) }.load(Ordering::Acquire) != 0
}

/// Waits until `event` is signalled or `timeout` passes; a synchronization event is reset by a
/// satisfied wait. Returns whether the wait was satisfied.
///
/// # Safety
/// `event` must point to a live KEVENT that stays live during the wait.
pub(crate) unsafe fn wait(state: &KernelState, event: *mut KEVENT, timeout: Duration) -> bool {
    // SAFETY: the caller guarantees `event` is live.
    let Some(kind) = (unsafe { check_initialized(state, event) }) else {
        return false;
    };
    // SAFETY: as above.
    let word = unsafe { signal_state(event) };
    let satisfied = || {
        if kind == SynchronizationEvent {
            word.compare_exchange(1, 0, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        } else {
            word.load(Ordering::Acquire) != 0
        }
    };
    let deadline = Instant::now() + timeout;
    let mut guard = state.events.lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if satisfied() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        guard = state
            .events
            .signalled
            .wait_timeout(guard, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ks::nt::NotificationEvent;

    use std::ptr::addr_of_mut;

    use super::*;
    use crate::services::{KeInitializeEvent, KeSetEvent};
    use crate::Kernel;

    struct SharedEvent(std::cell::UnsafeCell<KEVENT>);
    // SAFETY: the KEVENT is only touched through the event services, which use atomics.
    unsafe impl Sync for SharedEvent {}
    // SAFETY: as above.
    unsafe impl Send for SharedEvent {}

    fn zeroed_event() -> KEVENT {
        KEVENT {
            Header: 0,
            SignalState: 0,
            WaitListHead: LIST_ENTRY {
                Flink: std::ptr::null_mut(),
                Blink: std::ptr::null_mut(),
            },
        }
    }

    #[test]
    fn initialize_writes_the_dispatcher_header() {
        let mut event = zeroed_event();
        // SAFETY: `event` is a live KEVENT.
        unsafe { KeInitializeEvent(&mut event, SynchronizationEvent, 1) };
        assert_eq!(event.Header, 1 | 6 << 16);
        assert_eq!(event.SignalState, 1);
        let head = addr_of_mut!(event.WaitListHead);
        assert_eq!(event.WaitListHead.Flink, head);
    }

    #[test]
    fn set_returns_the_previous_state_and_wakes_a_waiter() {
        let kernel = Kernel::new();
        let event = Arc::new(SharedEvent(std::cell::UnsafeCell::new(zeroed_event())));
        // SAFETY: the event lives in the Arc.
        unsafe { KeInitializeEvent(event.0.get(), NotificationEvent, 0) };
        let setter = {
            let event = event.clone();
            kernel.spawn(move || {
                // SAFETY: the event lives in the Arc.
                let first = unsafe { KeSetEvent(event.0.get(), 0, 0) };
                // SAFETY: as above.
                let second = unsafe { KeSetEvent(event.0.get(), 0, 0) };
                (first, second)
            })
        };
        // SAFETY: the event lives in the Arc for the whole wait.
        assert!(unsafe { wait(&kernel.state, event.0.get(), Duration::from_secs(60)) });
        assert_eq!(setter.join().unwrap(), (0, 1));
        // A notification event stays signalled after a wait.
        // SAFETY: as above.
        assert!(unsafe { is_signalled(event.0.get()) });
    }

    #[test]
    fn a_synchronization_event_is_consumed_by_one_wait() {
        let kernel = Kernel::new();
        let mut event = zeroed_event();
        // SAFETY: `event` is a live KEVENT for the whole test.
        unsafe { initialize(&mut event, SynchronizationEvent, true) };
        // SAFETY: as above.
        assert!(unsafe { wait(&kernel.state, &mut event, Duration::ZERO) });
        // SAFETY: as above.
        assert!(!unsafe { wait(&kernel.state, &mut event, Duration::ZERO) });
        // SAFETY: as above.
        assert!(!unsafe { is_signalled(&mut event) });
    }

    #[test]
    fn set_with_wait_above_apc_level_is_a_bug_without_it_dispatch_level_is_fine() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        let _entered = kernel.enter();
        let mut event = zeroed_event();
        // SAFETY: `event` is a live KEVENT.
        unsafe { KeInitializeEvent(&mut event, NotificationEvent, 0) };
        crate::kernel::set_irql(ks::nt::DISPATCH_LEVEL);
        // SAFETY: as above; Wait FALSE at DISPATCH_LEVEL is allowed.
        assert_eq!(unsafe { KeSetEvent(&mut event, 0, 0) }, 0);
        assert!(kernel.take_bugs().is_empty());
        // SAFETY: as above; Wait TRUE at DISPATCH_LEVEL is the bug under test.
        assert_eq!(unsafe { KeSetEvent(&mut event, 0, 1) }, 1);
        crate::kernel::set_irql(ks::nt::PASSIVE_LEVEL);
        assert_eq!(
            kernel.take_bugs(),
            vec![Bug::IrqlTooHigh {
                service: "KeSetEvent",
                irql: ks::nt::DISPATCH_LEVEL,
                max: ks::nt::APC_LEVEL
            }]
        );
    }

    #[test]
    fn an_uninitialized_event_is_a_bug() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        let _entered = kernel.enter();
        let mut event = zeroed_event();
        // SAFETY: `event` is a live KEVENT (never initialised, which is the point).
        let previous = unsafe { KeSetEvent(&mut event, 0, 0) };
        assert_eq!(previous, 0);
        assert_eq!(event.SignalState, 0, "the bad event is left alone");
        assert_eq!(
            kernel.take_bugs(),
            vec![Bug::EventNotInitialized {
                event: &event as *const KEVENT as usize
            }]
        );
    }
}
