//! The video capture pin's dispatch: create/close, SetDataFormat over [`VideoFormat::parse`],
//! the intersect handler over `avstream::intersect`, SetDeviceState over [`avstream::PinStateMachine`],
//! and the `KSPROPERTY_DROPPEDFRAMES_CURRENT` handler.
//!
//! Each pin owns one [`CapturePin`] in pool memory ([`PoolBox`], `KSPIN.Context`), allocated at
//! create with its frame timer and freed at close; nothing is allocated per frame. The frame
//! path itself (timer, Process) is [`crate::frame_path`]; the pin's kernel-level allocator is
//! [`crate::pin_allocator`].

use core::ffi::c_void;
use core::mem::size_of;

use avcam_kernel::{_KsEdit, ExAllocateTimer, ExDeleteTimer, KsGetPinFromIrp};
use avstream::clock::{FRAME_INFO_SIZE, STREAM_HEADER_SIZE};
use avstream::controls::Controls;
use avstream::deliver::WorkingSet;
use avstream::intersect::best_match_in;
use avstream::ranges::CAPTURE_RANGES;
use avstream::synth::Synthesizer;
use avstream::{PinState, StepAction, VideoFormat};
use ks::avstream::{KSPIN, KSPIN_DESCRIPTOR_EX, KSSTATE};
use ks::ks::{KSALLOCATOR_FRAMING_EX, KSIDENTIFIER};
use ks::nt::{EXT_DELETE_PARAMETERS, EX_TIMER_HIGH_RESOLUTION, IRP};
use ks::status::{
    nt_success, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use ks::video::{KSDATAFORMAT, KSPROPERTY_DROPPEDFRAMES_CURRENT_S};
use ks::NTSTATUS;
use zerocopy::FromBytes;

use crate::device_state::{self, Request};
use crate::error::{DriverError, IntoStatus};
use crate::frame_path;
use crate::framing::framing_for_frame_size;
use crate::identity::POOL_TAG;
use crate::pin::{context, CapturePin, PinSynthesizer, Renderer};
use crate::pool_box::{PoolBox, PoolBytes};
use crate::ranges::capture_range_index;

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
    // SAFETY: a live KSPIN; after the edit its descriptor is the pin's own writable copy.
    let descriptor = unsafe { (*pin).Descriptor }.cast_mut();
    // SAFETY: the copy is a live KSPIN_DESCRIPTOR_EX: the address of a field, nothing read.
    let framing_field = unsafe { &raw mut (*descriptor).AllocatorFraming };
    // SAFETY: the pin's bag and the copy's AllocatorFraming field; the framing has one item,
    // so `size_of::<KSALLOCATOR_FRAMING_EX>()` is all of it.
    unsafe { ks_edit::<KSALLOCATOR_FRAMING_EX>(bag, framing_field) }?;
    // SAFETY: the descriptor copy is live; after the second edit its framing is a pool copy.
    let framing = unsafe { (*descriptor).AllocatorFraming }.cast_mut();
    // SAFETY: the framing copy is a live, writable pool block of one KSALLOCATOR_FRAMING_EX
    // (pool blocks are 16-byte aligned, enough for it).
    let declared = unsafe { framing.read() };
    // SAFETY: the same writable, aligned pool block.
    unsafe { framing.write(framing_for_frame_size(declared, frame_size)) };
    Ok(())
}

/// `PFNKSPINSETDATAFORMAT`: validates the format ks.sys matched against one of our ranges.
/// Called before `Create` (no context yet: ks.sys preinitialises `Context` to the filter's) and
/// on a format change (refused: the format is fixed for the pin's life, and with it the
/// framing [`pin_create`] narrowed).
///
/// # Safety
/// ks.sys's contract: a live KSPIN with its ConnectionFormat.
#[ks::kernel_abi]
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
/// (`narrow_framing`), allocates the pin's [`CapturePin`] and its high-resolution frame timer.
///
/// # Safety
/// ks.sys's contract: a live KSPIN whose format SetDataFormat accepted.
#[ks::kernel_abi]
pub unsafe extern "system" fn pin_create(pin: *mut KSPIN, _irp: *mut IRP) -> NTSTATUS {
    // SAFETY: a live KSPIN of this driver (ks.sys's contract); its device outlives it.
    let device = unsafe { device_state::of(pin.cast()) };
    if let Some(status) = device.and_then(|d| d.take_failure(Request::PinCreate)) {
        return DriverError::Injected(status).status();
    }
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
    let Some(context) = PoolBox::new(CapturePin::new(pin, device, format)) else {
        return STATUS_INSUFFICIENT_RESOURCES;
    };
    let context_ptr: *const CapturePin = &*context;
    // SAFETY: the callback and its context (the boxed CapturePin, which stays put until close
    // deletes the timer first); PASSIVE_LEVEL.
    let timer = unsafe {
        ExAllocateTimer(
            Some(frame_path::frame_timer),
            context_ptr.cast_mut().cast(),
            EX_TIMER_HIGH_RESOLUTION,
        )
    };
    if timer.is_null() {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    context.timer.set(timer);
    // SAFETY: a live KSPIN; Context is the minidriver's.
    unsafe { (*pin).Context = PoolBox::into_raw(context).cast() };
    // A video pin's headers carry a KS_FRAME_INFO after the KSSTREAM_HEADER.
    // SAFETY: a live KSPIN; StreamHeaderSize is the minidriver's to set at create.
    unsafe { (*pin).StreamHeaderSize = STREAM_HEADER_SIZE + FRAME_INFO_SIZE };
    STATUS_SUCCESS
}

/// `PFNKSPINIRP` Close: deletes the frame timer (cancelling it and waiting for a callback
/// running on another processor), releases the streaming resources whatever state the pin is
/// in (no public source says ks.sys steps a pin down to STOP before its Close), and frees the
/// context.
///
/// # Safety
/// ks.sys's contract: a live KSPIN that [`pin_create`] set up, PASSIVE_LEVEL.
#[ks::kernel_abi]
pub unsafe extern "system" fn pin_close(pin: *mut KSPIN, _irp: *mut IRP) -> NTSTATUS {
    // SAFETY: ks.sys's contract.
    let Some(context) = (unsafe { context(pin) }) else {
        return STATUS_SUCCESS;
    };
    let timer = context.timer.replace(core::ptr::null_mut());
    if !timer.is_null() {
        // ExInitializeDeleteTimerParameters: no delete callback.
        let mut parameters = EXT_DELETE_PARAMETERS::initialized();
        // SAFETY: the pin's timer, deleted once; Cancel and Wait at PASSIVE_LEVEL, so no
        // callback runs once this returns; the parameters live across the call.
        unsafe { ExDeleteTimer(timer, 1, 1, &mut parameters) };
    }
    release(context);
    let raw: *const CapturePin = context;
    // SAFETY: a live KSPIN; nobody reads Context after close.
    unsafe { (*pin).Context = core::ptr::null_mut() };
    // SAFETY: boxed by pin_create, freed once here; the timer that used it is gone.
    drop(unsafe { PoolBox::from_raw(raw.cast_mut()) });
    STATUS_SUCCESS
}

/// `PFNKSPINSETDEVICESTATE`: one step of the pin's state machine and what it requires.
///
/// # Safety
/// ks.sys's contract: a live KSPIN that [`pin_create`] set up.
#[ks::kernel_abi]
pub unsafe extern "system" fn pin_set_device_state(
    pin: *mut KSPIN,
    to: KSSTATE,
    _from: KSSTATE,
) -> NTSTATUS {
    // SAFETY: ks.sys's contract.
    let Some(context) = (unsafe { context(pin) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    if let Some(status) = context
        .device()
        .and_then(|d| d.take_failure(Request::StateChange))
    {
        return DriverError::Injected(status).status();
    }
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

/// STOP -> ACQUIRE: the synthesizer's templates (pool memory, once per streaming session) for
/// the device's controls as they are now, an empty working set, and the device's fault plan.
fn acquire(context: &CapturePin) -> Result<(), DriverError> {
    let scratch = PoolBytes::zeroed(PinSynthesizer::scratch_len(&context.format)).ok_or(
        DriverError::Kernel {
            call: "ExAllocatePool2",
            status: STATUS_INSUFFICIENT_RESOURCES,
        },
    )?;
    let snapshot = context.device().and_then(|d| d.snapshot_if_changed(0));
    let controls = snapshot.map_or(Controls::DEFAULT, |s| s.controls);
    let synth = Synthesizer::new(&context.format, controls.synth_config(), scratch)
        .map_err(DriverError::Format)?;
    let renderer = Renderer {
        synth,
        stores: WorkingSet::default(),
        seen: snapshot.map_or(0, |s| s.generation),
    };
    if let Some(snapshot) = snapshot {
        frame_path::apply_faults(context, &snapshot);
    }
    context.with_renderer(|slot| *slot = Some(renderer));
    Ok(())
}

/// ACQUIRE -> STOP (or close): stops the clock, frees the synthesizer, resets the counters.
fn release(context: &CapturePin) {
    drop(context.with_renderer(Option::take));
    frame_path::flush_injected(context);
    context.stream.lock().reset();
}

/// `PFNKSINTERSECTHANDLEREX`: the best format inside the client's range among the matching range
/// of ours, with the KS size protocol (`avstream::intersect`).
///
/// # Safety
/// ks.sys's contract: `data_range` is the client's range (its `FormatSize` bytes readable),
/// `matching_range` one of our pin's ranges, `data` null or `buffer_size` writable bytes,
/// `data_size` writable.
#[ks::kernel_abi]
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
    // SAFETY: the client's range has FormatSize readable bytes (ks.sys's contract).
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
#[ks::kernel_abi]
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
        (stream.counters(now), stream.average_frame_size())
    };
    let answer = data.cast::<KSPROPERTY_DROPPEDFRAMES_CURRENT_S>();
    // SAFETY: `data` holds a KSPROPERTY_DROPPEDFRAMES_CURRENT_S (MinData), maybe unaligned.
    let mut value = unsafe { answer.read_unaligned() };
    counters.fill(&mut value, average);
    // SAFETY: the same writable KSPROPERTY_DROPPEDFRAMES_CURRENT_S.
    unsafe { answer.write_unaligned(value) };
    // SAFETY: the handler owns the IRP's IoStatus.
    unsafe { (*irp).IoStatus.Information = size_of::<KSPROPERTY_DROPPEDFRAMES_CURRENT_S>() };
    STATUS_SUCCESS
}
