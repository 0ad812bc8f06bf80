//! The video capture pin's dispatch: create/close, SetDataFormat over [`VideoFormat::parse`],
//! the intersect handler over `avstream::intersect`, SetDeviceState over [`PinStateMachine`],
//! and the `KSPROPERTY_DROPPEDFRAMES_CURRENT` handler over [`avstream::FrameClock`].
//!
//! Each pin owns one [`CapturePin`] in pool memory ([`PoolBox`], `KSPIN.Context`), allocated at create and
//! freed at close; nothing is allocated per frame. The frame path itself (timer, DPC, Process)
//! is [`crate::frame_path`].

use core::cell::{Cell, UnsafeCell};
use core::ffi::c_void;
use core::mem::size_of;

use avcam_kernel::sync::SpinLock;
use avcam_kernel::{
    _KsEdit, KeCancelTimer, KeFlushQueuedDpcs, KeInitializeDpc, KeInitializeTimerEx,
    KsGetPinFromIrp, KsPinAcquireProcessingMutex, KsPinReleaseProcessingMutex,
};
use avstream::clock::{FRAME_INFO_SIZE, STREAM_HEADER_SIZE};
use avstream::intersect::best_match_in;
use avstream::ranges::CAPTURE_RANGES;
use avstream::synth::{SynthConfig, Synthesizer};
use avstream::{FrameClock, PinState, PinStateMachine, StepAction, VideoFormat};
use ks::avstream::{KSPIN, KSPIN_DESCRIPTOR_EX, KSSTATE};
use ks::ks::{KSALLOCATOR_FRAMING_EX, KSIDENTIFIER};
use ks::nt::{NotificationTimer, FILE_OBJECT, IRP, KDPC, KTIMER};
use ks::status::{
    nt_success, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use ks::video::{KSDATAFORMAT, KSPROPERTY_DROPPEDFRAMES_CURRENT_S};
use ks::NTSTATUS;
use zerocopy::FromBytes;

use crate::error::{DriverError, IntoStatus};
use crate::filter::{capture_range_index, framing_for_frame_size};
use crate::frame_path;
use crate::frame_pool::{add_allocator_create_item, FramePool, Leases};
use crate::identity::POOL_TAG;
use crate::pool_box::{PoolBox, PoolBytes};

/// The synthesizer of a pin in ACQUIRE or above, over its pool scratch memory.
pub type PinSynthesizer = Synthesizer<PoolBytes>;

/// What a pin holds from STOP -> ACQUIRE to ACQUIRE -> STOP.
pub struct Streaming {
    /// The pattern synthesizer for the pin's format.
    pub synth: PinSynthesizer,
    /// The pin's own frame pool (our allocator).
    pub pool: FramePool,
    /// Frames taken from the pool so far (each one rendered and delivered or dropped).
    pub frames_allocated: u64,
    /// The address of the last frame the pool handed out.
    pub last_frame: usize,
    /// The pool frames lent to the client in shared mode, oldest first (each freed once
    /// [`crate::frame_pool::LEASE_WINDOW`] more frames are lent, when the pool would otherwise
    /// run dry, or at ACQUIRE -> STOP; see [`crate::frame_path`]).
    pub lent: Leases,
}

/// The pin's frame clock and what it delivered, under one spin lock.
pub struct StreamCounters {
    /// Which frame is due when, and which went out (`avstream::FrameClock`).
    pub clock: FrameClock,
    /// Bytes delivered so far (for `AverageFrameSize`).
    pub delivered_bytes: u64,
}

impl StreamCounters {
    /// `AverageFrameSize`: bytes per delivered frame (0 before the first).
    pub fn average_frame_size(&self) -> u32 {
        let average = self
            .delivered_bytes
            .checked_div(self.clock.delivered())
            .unwrap_or(0);
        u32::try_from(average).unwrap_or(u32::MAX)
    }
}

/// Everything one capture pin owns (`KSPIN.Context`).
pub struct CapturePin {
    /// The KSPIN this context belongs to.
    pub(crate) pin: *mut KSPIN,
    /// The pin's file object (its allocator is created on it).
    pub(crate) file: *mut FILE_OBJECT,
    /// The format negotiated at create.
    pub(crate) format: VideoFormat,
    /// The state SetDeviceState last accepted (ks.sys serialises SetDeviceState calls).
    machine: Cell<PinStateMachine>,
    /// The frame clock and byte count, shared by the DPC, Process and the property handler.
    pub(crate) stream: SpinLock<StreamCounters>,
    /// The frame timer (armed on absolute frame deadlines while running).
    pub(crate) timer: UnsafeCell<KTIMER>,
    /// The timer's DPC ([`frame_path::frame_timer_dpc`]).
    pub(crate) dpc: UnsafeCell<KDPC>,
    /// The synthesizer and frame pool, built at STOP -> ACQUIRE and released at
    /// ACQUIRE -> STOP; only touched with the pin's processing mutex held.
    pub(crate) streaming: UnsafeCell<Option<Streaming>>,
}

impl CapturePin {
    /// A stopped pin producing `format`.
    fn new(pin: *mut KSPIN, file: *mut FILE_OBJECT, format: VideoFormat) -> CapturePin {
        CapturePin {
            pin,
            file,
            format,
            machine: Cell::new(PinStateMachine::new()),
            stream: SpinLock::new(StreamCounters {
                clock: FrameClock::new(format.rate()),
                delivered_bytes: 0,
            }),
            timer: UnsafeCell::new(KTIMER { Opaque: [0; 8] }),
            dpc: UnsafeCell::new(KDPC { Opaque: [0; 8] }),
            streaming: UnsafeCell::new(None),
        }
    }

    /// The state the pin is in.
    pub fn state(&self) -> PinState {
        self.machine.get().state()
    }
}

/// The pin's context.
///
/// # Safety
/// `pin` is a live KSPIN whose `Context` is null or was set by [`pin_create`] and not yet freed
/// by [`pin_close`].
pub(crate) unsafe fn context<'a>(pin: *mut KSPIN) -> Option<&'a CapturePin> {
    // SAFETY: the caller guarantees a live KSPIN.
    let context = unsafe { (*pin).Context };
    // SAFETY: null or a CapturePin boxed by pin_create, live until pin_close (caller's contract).
    unsafe { context.cast::<CapturePin>().as_ref() }
}

/// The bytes of the pin's connection format (`KSPIN.ConnectionFormat`, `FormatSize` bytes).
///
/// # Safety
/// `pin` is a live KSPIN whose `ConnectionFormat` is null or a KSDATAFORMAT of `FormatSize`
/// bytes, as ks.sys sets it.
unsafe fn connection_format<'a>(pin: *mut KSPIN) -> Result<&'a [u8], DriverError> {
    // SAFETY: the caller guarantees a live KSPIN.
    let format = unsafe { (*pin).ConnectionFormat }.cast::<u8>();
    if format.is_null() {
        return Err(DriverError::NoConnectionFormat);
    }
    // SAFETY: ks.sys's ConnectionFormat starts with a KSDATAFORMAT header.
    let header = unsafe { core::slice::from_raw_parts(format, size_of::<KSDATAFORMAT>()) };
    let (header, _) =
        KSDATAFORMAT::read_from_prefix(header).map_err(|_| DriverError::NoConnectionFormat)?;
    let len = (header.FormatSize as usize).max(size_of::<KSDATAFORMAT>());
    // SAFETY: ConnectionFormat holds FormatSize bytes (caller's contract).
    Ok(unsafe { core::slice::from_raw_parts(format, len) })
}

/// `KsEdit(Object, &Pointer, POOL_TAG)`: makes `*pointer` a writable copy owned by the object
/// whose bag is `bag` (a no-op when it already is one).
///
/// # Safety
/// `bag` is a live AVStream object's `Bag`; `pointer` points to a pointer to a `T` (or NULL).
unsafe fn ks_edit<T>(bag: *mut c_void, pointer: *mut *const T) -> Result<(), DriverError> {
    let size = size_of::<T>() as u32;
    // SAFETY: the caller's guarantee; `size` is the item's size, as the KsEdit macro passes it.
    let status = unsafe { _KsEdit(bag, pointer.cast(), size, size, POOL_TAG) };
    if nt_success(status) {
        Ok(())
    } else {
        Err(DriverError::Kernel {
            call: "KsEdit",
            status,
        })
    }
}

/// Narrows the pin's `KSALLOCATOR_FRAMING_EX` to `frame_size` (the negotiated `biSizeImage`), as
/// avshws does: `KsEdit` the pin's descriptor, then the descriptor's `AllocatorFraming`, then
/// write the frame size into the copy ([`framing_for_frame_size`]). ks.sys frees both copies
/// with the pin; the static descriptor is never written. ks.sys answers
/// KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX from the pin's descriptor, so clients see the
/// exact size. Called at create; SetDataFormat on a connected pin refuses a format change, so
/// the frame size holds for the pin's life.
///
/// # Safety
/// `pin` is a live KSPIN in its Create dispatch (PASSIVE_LEVEL), its `Descriptor` the driver's
/// capture pin descriptor (whose `AllocatorFraming` has one framing item) or a copy of it.
unsafe fn narrow_framing(pin: *mut KSPIN, frame_size: u32) -> Result<(), DriverError> {
    // SAFETY: a live KSPIN (caller's contract).
    let bag = unsafe { (*pin).Bag };
    // SAFETY: a live KSPIN: the address of its Descriptor field, nothing read.
    let descriptor_field = unsafe { &raw mut (*pin).Descriptor };
    // SAFETY: the pin's bag and its Descriptor field (caller's contract).
    unsafe { ks_edit::<KSPIN_DESCRIPTOR_EX>(bag, descriptor_field) }?;
    // The descriptor is now the pin's own copy: writable by the minidriver.
    // SAFETY: a live KSPIN.
    let descriptor = unsafe { (*pin).Descriptor }.cast_mut();
    // SAFETY: the copy is a live KSPIN_DESCRIPTOR_EX: the address of a field, nothing read.
    let framing_field = unsafe { &raw mut (*descriptor).AllocatorFraming };
    // SAFETY: the pin's bag and the copy's AllocatorFraming field; the framing has one item,
    // so `size_of::<KSALLOCATOR_FRAMING_EX>()` is all of it.
    unsafe { ks_edit::<KSALLOCATOR_FRAMING_EX>(bag, framing_field) }?;
    // SAFETY: as above: the framing is the pin's own copy now.
    let framing = unsafe { (*descriptor).AllocatorFraming }.cast_mut();
    // SAFETY: the copy is a live, writable pool block of one KSALLOCATOR_FRAMING_EX (pool blocks
    // are 16-byte aligned, enough for it).
    let declared = unsafe { framing.read() };
    // SAFETY: as above.
    unsafe { framing.write(framing_for_frame_size(declared, frame_size)) };
    Ok(())
}

/// `PFNKSPINSETDATAFORMAT`: validates the format ks.sys matched against one of our ranges.
/// Called before `Create` (no context yet) and on a format change (refused: the format is
/// fixed for the pin's life, and with it the framing [`pin_create`] narrowed).
///
/// # Safety
/// ks.sys's contract: a live KSPIN with its ConnectionFormat.
pub unsafe extern "system" fn pin_set_data_format(
    pin: *mut KSPIN,
    old_format: *mut c_void,
    _old_attributes: *mut c_void,
    _data_range: *const c_void,
    _attribute_range: *const c_void,
) -> NTSTATUS {
    if !old_format.is_null() {
        return DriverError::FormatChange.status();
    }
    // SAFETY: ks.sys's contract.
    let bytes = match unsafe { connection_format(pin) } {
        Ok(bytes) => bytes,
        Err(error) => return error.status(),
    };
    VideoFormat::parse(bytes).map(|_| ()).into_status()
}

/// `PFNKSPINIRP` Create: narrows the pin's framing to the format's image size
/// (`narrow_framing`), allocates the pin's [`CapturePin`] and its timer and DPC.
///
/// # Safety
/// ks.sys's contract: a live KSPIN whose format SetDataFormat accepted.
pub unsafe extern "system" fn pin_create(pin: *mut KSPIN, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: ks.sys's contract.
    let format = match unsafe { connection_format(pin) }
        .and_then(|bytes| VideoFormat::parse(bytes).map_err(DriverError::Format))
    {
        Ok(format) => format,
        Err(error) => return error.status(),
    };
    // SAFETY: ks.sys's contract: a live KSPIN of our capture pin descriptor, at PASSIVE_LEVEL.
    if let Err(error) = unsafe { narrow_framing(pin, format.image_size()) } {
        return error.status();
    }
    // SAFETY: the pin's create IRP; its file object is the pin's.
    let file = unsafe { avcam_kernel::irp::file_object(irp) };
    // SAFETY: the pin's live file object, FsContext set up by ks.sys.
    if let Err(error) = unsafe { add_allocator_create_item(file) } {
        return error.status();
    }
    let Some(context) = PoolBox::new(CapturePin::new(pin, file, format)) else {
        return STATUS_INSUFFICIENT_RESOURCES;
    };
    let context_ptr: *const CapturePin = &*context;
    // SAFETY: the timer is in the boxed context, which stays put until close.
    unsafe { KeInitializeTimerEx(context.timer.get(), NotificationTimer) };
    // SAFETY: as above; the DPC gets the context, valid until close cancels the timer.
    unsafe {
        KeInitializeDpc(
            context.dpc.get(),
            Some(frame_path::frame_timer_dpc),
            context_ptr.cast_mut().cast(),
        )
    };
    // SAFETY: a live KSPIN; Context is the minidriver's.
    unsafe { (*pin).Context = PoolBox::into_raw(context).cast() };
    // A video pin's headers carry a KS_FRAME_INFO after the KSSTREAM_HEADER.
    // SAFETY: a live KSPIN; StreamHeaderSize is the minidriver's to set at create.
    unsafe { (*pin).StreamHeaderSize = STREAM_HEADER_SIZE + FRAME_INFO_SIZE };
    STATUS_SUCCESS
}

/// `PFNKSPINIRP` Close: ks.sys has stepped the pin down to STOP (so the timer is cancelled and
/// the synthesizer freed); frees the context.
///
/// # Safety
/// ks.sys's contract: a live KSPIN that [`pin_create`] set up.
pub unsafe extern "system" fn pin_close(pin: *mut KSPIN, _irp: *mut IRP) -> NTSTATUS {
    // SAFETY: ks.sys's contract.
    let context = unsafe { (*pin).Context }.cast::<CapturePin>();
    if context.is_null() {
        return STATUS_SUCCESS;
    }
    // SAFETY: boxed by pin_create and still live (freed below).
    let timer = unsafe { &(*context).timer }.get();
    // SAFETY: the timer was initialised at create; cancelling an idle timer is harmless.
    unsafe { KeCancelTimer(timer) };
    // A cancelled timer's DPC may already be running on another processor: wait for it before
    // the context it uses is freed. SAFETY: Close runs at PASSIVE_LEVEL.
    unsafe { KeFlushQueuedDpcs() };
    // SAFETY: a live KSPIN; nobody reads Context after close.
    unsafe { (*pin).Context = core::ptr::null_mut() };
    // SAFETY: boxed by pin_create, freed once here.
    drop(unsafe { PoolBox::from_raw(context) });
    STATUS_SUCCESS
}

/// `PFNKSPINSETDEVICESTATE`: one step of [`PinStateMachine`] and what it requires.
///
/// # Safety
/// ks.sys's contract: a live KSPIN that [`pin_create`] set up.
pub unsafe extern "system" fn pin_set_device_state(
    pin: *mut KSPIN,
    to: KSSTATE,
    _from: KSSTATE,
) -> NTSTATUS {
    // SAFETY: ks.sys's contract.
    let Some(context) = (unsafe { context(pin) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    let to = match PinState::from_ks(to) {
        Ok(to) => to,
        Err(error) => return DriverError::Format(error).status(),
    };
    let mut machine = context.machine.get();
    let action = match machine.step(to) {
        Ok(action) => action,
        Err(error) => return DriverError::Format(error).status(),
    };
    let result = match action {
        StepAction::AcquireResources => acquire(context),
        StepAction::ReleaseResources => {
            release(context);
            Ok(())
        }
        StepAction::StartClock => {
            frame_path::start(context);
            Ok(())
        }
        StepAction::StopClock => {
            frame_path::stop(context);
            Ok(())
        }
        StepAction::None | StepAction::Nothing => Ok(()),
    };
    match result {
        Ok(()) => {
            context.machine.set(machine);
            STATUS_SUCCESS
        }
        Err(error) => error.status(),
    }
}

/// Runs `body` on the streaming resources with the pin's processing mutex held.
fn with_streaming<R>(context: &CapturePin, body: impl FnOnce(&mut Option<Streaming>) -> R) -> R {
    // SAFETY: a live pin (the context exists); SetDeviceState runs at PASSIVE_LEVEL.
    unsafe { KsPinAcquireProcessingMutex(context.pin) };
    // SAFETY: the processing mutex is held: Process (the only other user) cannot run.
    let result = body(unsafe { &mut *context.streaming.get() });
    // SAFETY: acquired above.
    unsafe { KsPinReleaseProcessingMutex(context.pin) };
    result
}

/// The pin's synthesis settings for `format`: the default picture, written with streaming
/// stores when the pool's frames outgrow the cache ([`crate::frame_pool::outgrows_cache`]).
pub fn synth_config(format: &VideoFormat) -> SynthConfig {
    SynthConfig {
        streaming_stores: crate::frame_pool::outgrows_cache(format.image_size()),
        ..SynthConfig::default()
    }
}

/// STOP -> ACQUIRE: the synthesizer's templates (pool memory, once per streaming session) and
/// the pin's frame pool from our allocator ([`FramePool::open`]).
fn acquire(context: &CapturePin) -> Result<(), DriverError> {
    let scratch = PoolBytes::zeroed(PinSynthesizer::scratch_len(&context.format)).ok_or(
        DriverError::Kernel {
            call: "ExAllocatePool2",
            status: STATUS_INSUFFICIENT_RESOURCES,
        },
    )?;
    let synth = Synthesizer::new(&context.format, synth_config(&context.format), scratch)
        .map_err(DriverError::Format)?;
    // SAFETY: the pin's live file object; SetDeviceState runs at PASSIVE_LEVEL.
    let pool = unsafe { FramePool::open(context.file, context.format.image_size()) }?;
    with_streaming(context, |slot| {
        *slot = Some(Streaming {
            synth,
            pool,
            frames_allocated: 0,
            last_frame: 0,
            lent: Leases::new(),
        })
    });
    Ok(())
}

/// ACQUIRE -> STOP: closes the frame pool, frees the synthesizer, resets the clock and counters.
fn release(context: &CapturePin) {
    if let Some(mut streaming) = with_streaming(context, Option::take) {
        while let Some(frame) = streaming.lent.end_oldest() {
            // SAFETY: lent by Process; every lease ends at STOP (documented in frame_path).
            unsafe { streaming.pool.free(frame) };
        }
        // SAFETY: Process (the only user of pool frames) returned every other frame it took.
        unsafe { streaming.pool.close() };
    }
    let mut stream = context.stream.lock();
    stream.clock.reset();
    stream.delivered_bytes = 0;
}

/// `PFNKSINTERSECTHANDLEREX`: the best format inside the client's range among the matching range
/// of ours, with the KS size protocol (`avstream::intersect`).
///
/// # Safety
/// ks.sys's contract: `data_range` is the client's range (its `FormatSize` bytes readable),
/// `matching_range` one of our pin's ranges, `data` null or `buffer_size` writable bytes,
/// `data_size` writable.
pub unsafe extern "system" fn pin_intersect(
    _context: *mut c_void,
    _irp: *mut IRP,
    _pin: *mut c_void,
    data_range: *mut c_void,
    matching_range: *mut c_void,
    buffer_size: u32,
    data: *mut c_void,
    data_size: *mut u32,
) -> NTSTATUS {
    let Some(ours) = capture_range_index(matching_range.cast_const()) else {
        return DriverError::UnknownRange.status();
    };
    // SAFETY: the client's range starts with a KSDATARANGE (ks.sys checked FormatSize >= 64).
    let header = unsafe { core::slice::from_raw_parts(data_range.cast::<u8>(), 64) };
    let Ok((range, _)) = KSDATAFORMAT::read_from_prefix(header) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: as above, FormatSize bytes are readable.
    let client =
        unsafe { core::slice::from_raw_parts(data_range.cast::<u8>(), range.FormatSize as usize) };
    let out: &mut [u8] = if data.is_null() {
        &mut []
    } else {
        // SAFETY: `data` has `buffer_size` writable bytes (caller's contract).
        unsafe { core::slice::from_raw_parts_mut(data.cast::<u8>(), buffer_size as usize) }
    };
    let result = best_match_in(client, [CAPTURE_RANGES[ours]]).and_then(|f| f.write_to(out));
    let (status, size) = match result {
        Ok(written) => (STATUS_SUCCESS, written),
        Err(error) => (error.status(), error.information()),
    };
    if !data_size.is_null() {
        // SAFETY: `data_size` is writable (caller's contract).
        unsafe { data_size.write(size as u32) };
    }
    status
}

/// `PFNKSHANDLER` GET `KSPROPERTY_DROPPEDFRAMES_CURRENT`: PictureNumber (frames due), DropCount
/// (due - delivered) and AverageFrameSize (bytes per delivered frame).
///
/// # Safety
/// ks.sys's contract: a pin property IRP, `data` has `MinData` (the whole
/// `KSPROPERTY_DROPPEDFRAMES_CURRENT_S`) writable bytes.
pub unsafe extern "system" fn dropped_frames_get(
    irp: *mut IRP,
    _request: *mut KSIDENTIFIER,
    data: *mut c_void,
) -> NTSTATUS {
    // SAFETY: a property IRP on a pin.
    let pin = unsafe { KsGetPinFromIrp(irp) };
    if pin.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: the pin is live while its IRP is being handled.
    let Some(context) = (unsafe { context(pin) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    let now = frame_path::now_100ns();
    let (counters, average) = {
        let stream = context.stream.lock();
        (stream.clock.counters(now), stream.average_frame_size())
    };
    let answer = data.cast::<KSPROPERTY_DROPPEDFRAMES_CURRENT_S>();
    // SAFETY: `data` holds a KSPROPERTY_DROPPEDFRAMES_CURRENT_S (MinData), maybe unaligned.
    let mut value = unsafe { answer.read_unaligned() };
    counters.fill(&mut value, average);
    // SAFETY: as above.
    unsafe { answer.write_unaligned(value) };
    // SAFETY: the handler owns the IRP's IoStatus.
    unsafe { (*irp).IoStatus.Information = size_of::<KSPROPERTY_DROPPEDFRAMES_CURRENT_S>() };
    STATUS_SUCCESS
}

/// What the frame pool of a streaming pin has done: for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolReport {
    /// The allocator's file object (ask it KSPROPERTY_STREAMALLOCATOR_STATUS).
    pub allocator_file: *mut FILE_OBJECT,
    /// Frames taken from the pool so far.
    pub frames_allocated: u64,
    /// The address of the last frame the pool handed out.
    pub last_frame: usize,
    /// The pool frames lent to the client in shared mode, oldest first.
    pub lent: Leases,
}

/// The pool report of a pin in ACQUIRE or above (`None` when stopped).
///
/// # Safety
/// `pin` is a live KSPIN of this driver; called at PASSIVE_LEVEL.
pub unsafe fn pool_report(pin: *mut KSPIN) -> Option<PoolReport> {
    // SAFETY: the caller's guarantee.
    let context = unsafe { context(pin) }?;
    with_streaming(context, |slot| {
        slot.as_ref().map(|streaming| PoolReport {
            allocator_file: streaming.pool.allocator_file(),
            frames_allocated: streaming.frames_allocated,
            last_frame: streaming.last_frame,
            lent: streaming.lent,
        })
    })
}
