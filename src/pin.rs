//! What one capture pin owns ([`CapturePin`], in pool memory behind `KSPIN.Context`) and the
//! locking discipline around it. The dispatch routines ([`crate::capture_pin`]) create and free
//! it; the frame path ([`crate::frame_path`]) uses it from the timer callback and Process.
//!
//! - `stream` (a spin lock): the frame clock and delivered bytes ([`StreamState`]), shared by
//!   the timer callback (DISPATCH_LEVEL), Process and the property handler;
//! - `renderer`: the synthesizer, the working set that chooses its stores and the generation of
//!   the device's settings it applies ([`crate::device_state`]), built at STOP -> ACQUIRE and
//!   dropped at ACQUIRE -> STOP or close, touched only with the pin's processing mutex held
//!   (Process holds it by contract);
//! - `device`: the device's state (its controls and fault plan), which outlives the pin;
//! - `timer`: the frame timer (a high-resolution `EX_TIMER`), allocated at create and deleted
//!   at close, armed only while the clock runs, and only under the `stream` lock, so that a
//!   cancel after the clock stopped cannot be undone by a callback running on another processor.

use core::cell::{Cell, UnsafeCell};

use avcam_kernel::sync::SpinLock;
use avcam_kernel::{KsPinAcquireProcessingMutex, KsPinReleaseProcessingMutex};
use avstream::deliver::{StreamState, WorkingSet};
use avstream::synth::Synthesizer;
use avstream::{PinState, PinStateMachine, VideoFormat};
use ks::avstream::KSPIN;
use ks::nt::EX_TIMER;

use crate::device_state::DeviceState;
use crate::pool_box::PoolBytes;

/// The synthesizer of a pin in ACQUIRE or above, over its pool scratch memory.
pub type PinSynthesizer = Synthesizer<PoolBytes>;

/// What Process renders with: the synthesizer, and the buffers it rendered into lately (which
/// choose ordinary or streaming stores for the next render: `avstream::deliver::WorkingSet`).
pub struct Renderer {
    /// The pattern synthesizer for the pin's format.
    pub synth: PinSynthesizer,
    /// The consumer's recent buffers.
    pub stores: WorkingSet,
    /// The generation of the device's settings the synthesizer and the stream apply.
    pub seen: u64,
}

/// Everything one capture pin owns (`KSPIN.Context`).
pub struct CapturePin {
    /// The KSPIN this context belongs to.
    pub(crate) pin: *mut KSPIN,
    /// The device's state, or NULL when the device has none (its `Add` did not run).
    pub(crate) device: *const DeviceState,
    /// The format negotiated at create.
    pub(crate) format: VideoFormat,
    /// The state SetDeviceState last accepted (ks.sys serialises SetDeviceState calls).
    pub(crate) machine: Cell<PinStateMachine>,
    /// The frame clock and byte count (see the module docs).
    pub(crate) stream: SpinLock<StreamState>,
    /// The frame timer, or NULL until create allocated it.
    pub(crate) timer: Cell<*mut EX_TIMER>,
    /// The renderer while in ACQUIRE or above (see the module docs).
    pub(crate) renderer: UnsafeCell<Option<Renderer>>,
}

impl CapturePin {
    /// A stopped pin of `device` producing `format`, with no timer yet.
    pub(crate) fn new(
        pin: *mut KSPIN,
        device: Option<&DeviceState>,
        format: VideoFormat,
    ) -> CapturePin {
        CapturePin {
            pin,
            device: device.map_or(core::ptr::null(), |d| d as *const DeviceState),
            format,
            machine: Cell::new(PinStateMachine::new()),
            stream: SpinLock::new(StreamState::new(format.rate())),
            timer: Cell::new(core::ptr::null_mut()),
            renderer: UnsafeCell::new(None),
        }
    }

    /// The device's state (controls, fault plan), if the device has one.
    pub(crate) fn device(&self) -> Option<&DeviceState> {
        // SAFETY: NULL or the device's context, which `Remove` frees only after every pin is
        // closed (this pin is live).
        unsafe { self.device.as_ref() }
    }

    /// The state the pin is in.
    pub fn state(&self) -> PinState {
        self.machine.get().state()
    }

    /// Runs `body` on the renderer slot with the pin's processing mutex held (at
    /// PASSIVE_LEVEL, outside Process: Process holds the mutex already).
    pub(crate) fn with_renderer<R>(&self, body: impl FnOnce(&mut Option<Renderer>) -> R) -> R {
        // SAFETY: a live pin (its context exists); callers run at PASSIVE_LEVEL outside Process.
        unsafe { KsPinAcquireProcessingMutex(self.pin) };
        // SAFETY: the processing mutex is held: Process, the only other user, cannot run.
        let result = body(unsafe { &mut *self.renderer.get() });
        // SAFETY: acquired above, on this pin.
        unsafe { KsPinReleaseProcessingMutex(self.pin) };
        result
    }
}

/// The pin's context, once `Create` set it.
///
/// # Safety
/// `pin` is a live KSPIN of this driver's capture pin factory whose `Create` succeeded and whose
/// `Close` has not run (before Create, ks.sys preinitialises `Context` to the filter's context,
/// which is not a [`CapturePin`]).
pub(crate) unsafe fn context<'a>(pin: *mut KSPIN) -> Option<&'a CapturePin> {
    // SAFETY: a live KSPIN (the caller's guarantee).
    let context = unsafe { (*pin).Context };
    // SAFETY: a CapturePin boxed by Create, live until Close (the caller's guarantee).
    unsafe { context.cast::<CapturePin>().as_ref() }
}
