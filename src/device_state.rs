//! What the whole device keeps, whichever filter instance a client opened (every open of the
//! device makes a new filter, and the Camera app's frame server holds its own): the controls and
//! the fault plan, its one-shots and its counters. avscamera keeps its controls in a per-device
//! sensor object the same way; here it is one [`DeviceState`] in pool memory behind
//! `KSDEVICE.Context`, allocated in the device's `Add` dispatch and freed in `Remove`.
//!
//! - `settings` (a spin lock): every value; property handlers (PASSIVE_LEVEL) change them, pins
//!   (Process, PASSIVE_LEVEL) copy them;
//! - `generation` (an atomic): bumped after every change, so a pin compares one number per
//!   buffer and takes the lock only when something changed: a control costs nothing per frame.
//!
//! Pins apply a change at their next frame (the fault plan, and the controls by rebuilding their
//! templates) and at their next STOP -> ACQUIRE.

use core::sync::atomic::{AtomicU64, Ordering};

use avcam_kernel::sync::SpinLock;
use avcam_kernel::KsGetDevice;
use avstream::controls::Controls;
use avstream::faults::{FailNext, FaultCounters, FaultPlan};
use ks::avstream::KSDEVICE;
use ks::NTSTATUS;

/// Every value of the device (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    /// The picture controls and pattern.
    pub controls: Controls,
    /// The faults injected into every due frame.
    pub faults: FaultPlan,
    /// The requests to fail next.
    pub fail: FailNext,
    /// A stall asked for and not yet started by a pin (milliseconds, 0 none).
    pub stall_ms: u32,
    /// What was injected since the plan was last set.
    pub counters: FaultCounters,
}

/// What a pin copies when the settings changed.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    /// The generation copied.
    pub generation: u64,
    /// The controls.
    pub controls: Controls,
    /// The fault plan.
    pub faults: FaultPlan,
    /// A stall the pin takes on (0 none): the first pin to look after the request gets it.
    pub stall_ms: u32,
}

/// Which request a one-shot failure applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// A pin create.
    PinCreate,
    /// A pin state change.
    StateChange,
    /// An allocator create on a pin.
    AllocatorCreate,
}

/// The device's context (see the module docs).
pub struct DeviceState {
    settings: SpinLock<Settings>,
    generation: AtomicU64,
}

impl Default for DeviceState {
    fn default() -> Self {
        DeviceState::new()
    }
}

impl DeviceState {
    /// Every value at its default, no fault.
    pub const fn new() -> DeviceState {
        DeviceState {
            settings: SpinLock::new(Settings {
                controls: Controls::DEFAULT,
                faults: FaultPlan::NONE,
                fail: FailNext {
                    pin_create: 0,
                    state_change: 0,
                    allocator_create: 0,
                },
                stall_ms: 0,
                counters: FaultCounters::ZERO,
            }),
            generation: AtomicU64::new(1),
        }
    }

    /// A copy of every value.
    pub fn settings(&self) -> Settings {
        *self.settings.lock()
    }

    /// Runs `change` on the values; a change that succeeds is published to the pins (the
    /// generation moves on), a failed one must have changed nothing.
    pub fn change<R, E>(&self, change: impl FnOnce(&mut Settings) -> Result<R, E>) -> Result<R, E> {
        let result = change(&mut self.settings.lock());
        if result.is_ok() {
            self.generation.fetch_add(1, Ordering::Release);
        }
        result
    }

    /// The settings to apply if they changed since `seen` (a generation a pin copied before, 0
    /// for none): a pending stall is handed over to the caller.
    pub fn snapshot_if_changed(&self, seen: u64) -> Option<Snapshot> {
        if self.generation.load(Ordering::Acquire) == seen {
            return None;
        }
        let mut settings = self.settings.lock();
        let stall_ms = core::mem::take(&mut settings.stall_ms);
        Some(Snapshot {
            // Read under the lock: a change made after this copy moves it on again.
            generation: self.generation.load(Ordering::Acquire),
            controls: settings.controls,
            faults: settings.faults,
            stall_ms,
        })
    }

    /// Adds what a pin injected to the counters.
    pub fn count(&self, injected: &FaultCounters) {
        if !injected.is_zero() {
            self.settings.lock().counters.add(injected);
        }
    }

    /// Takes the failure set for the next `request`, if any, and counts it.
    pub fn take_failure(&self, request: Request) -> Option<NTSTATUS> {
        let mut settings = self.settings.lock();
        let Settings { fail, counters, .. } = &mut *settings;
        let (slot, counter) = match request {
            Request::PinCreate => (&mut fail.pin_create, &mut counters.failed_pin_creates),
            Request::StateChange => (&mut fail.state_change, &mut counters.failed_state_changes),
            Request::AllocatorCreate => (
                &mut fail.allocator_create,
                &mut counters.failed_allocator_creates,
            ),
        };
        let status = core::mem::take(slot);
        (status != 0).then(|| {
            *counter += 1;
            status
        })
    }
}

/// The device context of `object` (a KSDEVICE, KSFILTER or KSPIN of this driver), if its `Add`
/// set one.
///
/// # Safety
/// `object` is a live AVStream object of this driver; the device outlives its filters and pins.
pub unsafe fn of<'a>(object: *mut core::ffi::c_void) -> Option<&'a DeviceState> {
    // SAFETY: a live AVStream object (the caller's guarantee).
    let device: *mut KSDEVICE = unsafe { KsGetDevice(object) };
    if device.is_null() {
        return None;
    }
    // SAFETY: a live KSDEVICE of this driver (the caller's guarantee, through its object).
    unsafe { of_device(device) }
}

/// The device context of `device`, if its `Add` set one.
///
/// # Safety
/// `device` is this driver's live KSDEVICE; the returned reference is used only while it lives.
pub unsafe fn of_device<'a>(device: *mut KSDEVICE) -> Option<&'a DeviceState> {
    // SAFETY: a live KSDEVICE; its Context is the DeviceState set by `Add`, or NULL.
    let context = unsafe { (*device).Context };
    // SAFETY: a DeviceState boxed by `Add`, freed only by `Remove` after every filter and pin.
    unsafe { context.cast::<DeviceState>().as_ref() }
}
