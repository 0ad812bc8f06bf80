//! The AVStream test minidriver, written against `avcam-kernel`: one filter (KSCATEGORY_VIDEO-like
//! category, no reference string) with one capture pin (NV12 range, one instance, a
//! DROPPEDFRAMES-style automation property, flags chosen per load), whose Process does what its
//! [`Mode`] says; and the helpers the AVStream tests drive it with, only through client requests.
#![allow(dead_code)] // each test binary uses its own subset

use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use avcam_emulation::{File, Kernel};
use avcam_kernel::{
    KsGetObjectFromFileObject, KsInitializeDriver, KsPinGetLeadingEdgeStreamPointer,
    KsStreamPointerAdvance, KsStreamPointerAdvanceOffsets, KsStreamPointerClone,
    KsStreamPointerDelete, KsStreamPointerUnlock,
};
use ks::avstream::*;
use ks::guid::GUID;
use ks::ks::{IOCTL_KS_PROPERTY, KSIDENTIFIER, KSPROPERTY_TYPE_GET, KSPROPERTY_TYPE_SET};
use ks::nt::{DRIVER_OBJECT, IRP, UNICODE_STRING};
use ks::status::*;
use ks::video::{
    KSINTERFACESETID_Standard, KSMEDIUMSETID_Standard, KSPROPSETID_Connection, KSPROPSETID_Pin,
    KSDATAFORMAT, KSDATAFORMAT_SUBTYPE_NV12, KSDATAFORMAT_TYPE_VIDEO, KSPIN_CONNECT,
    KSPROPERTY_CONNECTION_STATE, KSPROPERTY_DROPPEDFRAMES_CURRENT, KSP_PIN, KSSTREAM_HEADER,
    PROPSETID_VIDCAP_DROPPEDFRAMES,
};
use ks::NTSTATUS;
use zerocopy::{FromZeros, IntoBytes};

/// The test category ({65E8773D-8F56-11D0-A3B9-00A0C9223196}, KSCATEGORY_CAPTURE).
pub const CATEGORY: GUID = GUID::from_u128(0x65E8773D_8F56_11D0_A3B9_00A0C9223196);
/// A private property set of the pin ({C6E13344-30AC-11D0-A18C-00A0C9118956}).
pub const DROPPED: GUID = PROPSETID_VIDCAP_DROPPEDFRAMES;

/// What the test pin does in Process.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Fill every available frame with 0xAB, 16 bytes each (DataUsed 16), and eject it.
    Fill,
    /// Leave the frames queued.
    Hold,
    /// Clone the leading edge (a cancel callback that deletes the clone), unlock the clone, then
    /// advance past the frame (the clone keeps the read alive).
    Clone,
    /// Fill one frame per call (DataUsed = all of it), unlock, then wait for the next call.
    OnePerCall,
    /// Fill 16 bytes and advance the offsets by 16, leaving DataUsed 0 (a bug).
    AdvanceWithoutDataUsed,
    /// Set DataUsed 16 and advance to the next frame without advancing the offsets (a bug).
    DataUsedWithoutAdvance,
    /// Answer STATUS_SUCCESS without touching the queue (a bug when frames are there).
    SucceedIdle,
    /// Fill one frame (DataUsed all of it), unlock, and answer STATUS_SUCCESS.
    OneThenSucceed,
    /// Fill one frame and point its header's `Data` at the pin's own (pool) memory (a bug for a
    /// user-mode read).
    RewriteData,
    /// Fill one frame through `StreamHeader->Data`, as if it were the system address, advancing
    /// 16 (DataUsed 16).
    FillThroughHeader,
}

/// Per-pin state in `KSPIN.Context`.
pub struct PinState {
    /// Unique among every test's pins (to find this pin's close in [`CLOSED`]).
    pub serial: usize,
    pub mode: Mode,
    pub transitions: Vec<(KSSTATE, KSSTATE)>,
    pub fail_at: Option<KSSTATE>,
    pub clone: *mut KSSTREAM_POINTER,
    pub processed: u32,
}

/// What a pin's Close dispatch saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClosedPin {
    pub serial: usize,
    pub device_state: KSSTATE,
    pub client_state: KSSTATE,
}

/// Every test pin's close, in order.
pub static CLOSED: Mutex<Vec<ClosedPin>> = Mutex::new(Vec::new());
pub static NEXT_SERIAL: AtomicUsize = AtomicUsize::new(1);
/// Process calls on a pin after its Close (must stay 0).
pub static PROCESS_AFTER_CLOSE: AtomicUsize = AtomicUsize::new(0);

/// The close of the pin with `serial`, if it came.
pub fn closed(serial: usize) -> Option<ClosedPin> {
    CLOSED
        .lock()
        .unwrap()
        .iter()
        .find(|c| c.serial == serial)
        .copied()
}

/// The filter's context, which AVStream gives each pin as its first `Context`.
pub static FILTER_CONTEXT: u64 = 0xF117_E4C0;
/// The `Context` each pin had when SetDataFormat and Create first saw it (by serial).
pub static PIN_CONTEXT_SEEN: Mutex<Vec<(usize, usize, usize)>> = Mutex::new(Vec::new());
/// The `Context` SetDataFormat saw (written before Create assigns a serial).
pub static SET_FORMAT_CONTEXT: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

#[ks::kernel_abi]
pub unsafe extern "system" fn filter_create(filter: *mut KSFILTER, _irp: *mut IRP) -> NTSTATUS {
    // SAFETY: a live KSFILTER; Context is the minidriver's.
    unsafe { (*filter).Context = (&raw const FILTER_CONTEXT).cast_mut().cast() };
    STATUS_SUCCESS
}

pub static CALLS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

#[ks::kernel_abi]
pub unsafe extern "system" fn pin_create(pin: *mut KSPIN, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: the create IRP of this pin.
    assert_eq!(unsafe { avcam_kernel::KsGetPinFromIrp(irp) }, pin);
    // SAFETY: the pin's live create IRP.
    assert!(!unsafe { avcam_kernel::KsGetFilterFromIrp(irp) }.is_null());
    let serial = NEXT_SERIAL.fetch_add(1, Ordering::Relaxed);
    // SAFETY: a live KSPIN: what AVStream preinitialised.
    let first_context = unsafe { (*pin).Context } as usize;
    let format_context = SET_FORMAT_CONTEXT
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(p, _)| *p == pin as usize)
        .map_or(0, |(_, c)| *c);
    PIN_CONTEXT_SEEN
        .lock()
        .unwrap()
        .push((serial, format_context, first_context));
    let state = Box::new(PinState {
        serial,
        mode: Mode::Fill,
        transitions: Vec::new(),
        fail_at: None,
        clone: null_mut(),
        processed: 0,
    });
    // SAFETY: a live KSPIN; Context is the minidriver's.
    unsafe { (*pin).Context = Box::into_raw(state).cast() };
    STATUS_SUCCESS
}

#[ks::kernel_abi]
pub unsafe extern "system" fn pin_close(pin: *mut KSPIN, _irp: *mut IRP) -> NTSTATUS {
    // SAFETY: a live KSPIN whose states ks.sys writes only between requests.
    let device_state = unsafe { (*pin).DeviceState };
    // SAFETY: the same live KSPIN.
    let client_state = unsafe { (*pin).ClientState };
    CLOSED.lock().unwrap().push(ClosedPin {
        serial: pin_state(pin).serial,
        device_state,
        client_state,
    });
    // SAFETY: a live KSPIN whose Context pin_create boxed.
    let context = unsafe { (*pin).Context };
    // The Context is freed: Process must never run on this pin again.
    // SAFETY: a live KSPIN; Context is the minidriver's.
    unsafe { (*pin).Context = null_mut() };
    // SAFETY: boxed by pin_create, freed once here.
    drop(unsafe { Box::from_raw(context.cast::<PinState>()) });
    STATUS_SUCCESS
}

pub fn pin_state<'a>(pin: *mut KSPIN) -> &'a mut PinState {
    // SAFETY: the tests only call this for live pins whose Context pin_create set.
    let context = unsafe { (*pin).Context };
    // SAFETY: the PinState pin_create boxed, freed only by pin_close; the tests serialise access
    // to it through the requests.
    unsafe { &mut *context.cast::<PinState>() }
}

#[ks::kernel_abi]
pub unsafe extern "system" fn pin_set_state(
    pin: *mut KSPIN,
    to: KSSTATE,
    from: KSSTATE,
) -> NTSTATUS {
    let state = pin_state(pin);
    if state.fail_at == Some(to) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    state.transitions.push((from, to));
    STATUS_SUCCESS
}

#[ks::kernel_abi]
pub unsafe extern "system" fn pin_set_format(
    pin: *mut KSPIN,
    _old: *mut c_void,
    _attributes: *mut c_void,
    range: *const c_void,
    _attribute_range: *const c_void,
) -> NTSTATUS {
    assert!(!range.is_null());
    // SAFETY: a live KSPIN, before its Create.
    let context = unsafe { (*pin).Context } as usize;
    SET_FORMAT_CONTEXT
        .lock()
        .unwrap()
        .push((pin as usize, context));
    STATUS_SUCCESS
}

#[ks::kernel_abi]
pub unsafe extern "system" fn pin_process(pin: *mut KSPIN) -> NTSTATUS {
    assert_eq!(
        avcam_emulation::current_irql(),
        ks::nt::PASSIVE_LEVEL,
        "without KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING, Process runs at PASSIVE_LEVEL"
    );
    // SAFETY: the KSPIN's memory is the emulation's while its record lives.
    if unsafe { (*pin).Context }.is_null() {
        PROCESS_AFTER_CLOSE.fetch_add(1, Ordering::Relaxed);
        return STATUS_PENDING;
    }
    let state = pin_state(pin);
    state.processed += 1;
    match state.mode {
        Mode::Hold => STATUS_PENDING,
        Mode::Fill => {
            // SAFETY: a live pin; Process runs under its processing mutex.
            let mut leading =
                unsafe { KsPinGetLeadingEdgeStreamPointer(pin, KSSTREAM_POINTER_STATE_LOCKED) };
            while !leading.is_null() {
                // SAFETY: the locked leading edge's OffsetOut describes the client's buffer.
                let offset = unsafe { (*leading).OffsetOut };
                let bytes = offset.Remaining.min(16);
                // SAFETY: `Data` has `Remaining` writable bytes.
                unsafe { std::ptr::write_bytes(offset.Data, 0xAB, bytes as usize) };
                // SAFETY: the locked leading edge's header is the frame's.
                unsafe { set_data_used(leading, bytes) };
                // SAFETY: the locked leading edge.
                let status = unsafe { KsStreamPointerAdvanceOffsets(leading, 0, bytes, 1) };
                if status == STATUS_DEVICE_NOT_READY {
                    break;
                }
                // SAFETY: a live pin, in its Process (processing mutex held).
                leading =
                    unsafe { KsPinGetLeadingEdgeStreamPointer(pin, KSSTREAM_POINTER_STATE_LOCKED) };
            }
            STATUS_SUCCESS
        }
        Mode::OnePerCall | Mode::OneThenSucceed => {
            // SAFETY: a live pin, in its Process (processing mutex held).
            let leading =
                unsafe { KsPinGetLeadingEdgeStreamPointer(pin, KSSTREAM_POINTER_STATE_LOCKED) };
            if !leading.is_null() {
                // SAFETY: the locked leading edge.
                let remaining = unsafe { (*leading).OffsetOut.Remaining };
                // SAFETY: the locked leading edge's header is the frame's.
                unsafe { set_data_used(leading, remaining) };
                // SAFETY: the locked leading edge, on a frame with `remaining` bytes left.
                unsafe { KsStreamPointerAdvanceOffsets(leading, 0, remaining, 1) };
                // SAFETY: the leading edge (relocked on the next frame, if any).
                unsafe { KsStreamPointerUnlock(leading, 0) };
            }
            if state.mode == Mode::OneThenSucceed {
                STATUS_SUCCESS
            } else {
                STATUS_PENDING
            }
        }
        Mode::AdvanceWithoutDataUsed
        | Mode::DataUsedWithoutAdvance
        | Mode::RewriteData
        | Mode::FillThroughHeader => {
            // SAFETY: a live pin, in its Process (processing mutex held).
            let leading =
                unsafe { KsPinGetLeadingEdgeStreamPointer(pin, KSSTREAM_POINTER_STATE_LOCKED) };
            if leading.is_null() {
                return STATUS_PENDING;
            }
            // SAFETY: the locked leading edge's OffsetOut describes the client's buffer.
            let offset = unsafe { (*leading).OffsetOut };
            let bytes = offset.Remaining.min(16);
            match state.mode {
                Mode::AdvanceWithoutDataUsed => {
                    // SAFETY: the locked leading edge.
                    unsafe { KsStreamPointerAdvanceOffsets(leading, 0, bytes, 1) };
                }
                Mode::DataUsedWithoutAdvance => {
                    // SAFETY: the locked leading edge's header is the frame's.
                    unsafe { set_data_used(leading, bytes) };
                    // SAFETY: the locked leading edge.
                    unsafe { KsStreamPointerAdvance(leading) };
                }
                Mode::RewriteData => {
                    // SAFETY: the locked leading edge's header is the frame's.
                    unsafe { set_data_used(leading, bytes) };
                    // SAFETY: the locked leading edge of a live pin.
                    let header = unsafe { (*leading).StreamHeader.cast::<KSSTREAM_HEADER>() };
                    // SAFETY: the frame's live header (the shared mode of old: a frame of its
                    // own, at a kernel address).
                    unsafe { (*header).Data = KERNEL_ADDRESS };
                    // SAFETY: the locked leading edge.
                    unsafe { KsStreamPointerAdvanceOffsets(leading, 0, bytes, 1) };
                }
                _ => {
                    // SAFETY: the locked leading edge's header is the frame's.
                    let header = unsafe { (*leading).StreamHeader.cast::<KSSTREAM_HEADER>() };
                    // SAFETY: the frame's live header (its read is queued while the edge is on it).
                    let data = unsafe { (*header).Data } as *mut u8;
                    // SAFETY: the emulation maps the locked pages at the caller's address.
                    unsafe { std::ptr::write_bytes(data, 0xCD, bytes as usize) };
                    // SAFETY: the locked leading edge, on a frame.
                    unsafe { set_data_used(leading, bytes) };
                    // SAFETY: the locked leading edge.
                    unsafe { KsStreamPointerAdvanceOffsets(leading, 0, bytes, 1) };
                }
            }
            // SAFETY: the leading edge.
            unsafe { KsStreamPointerUnlock(leading, 0) };
            STATUS_PENDING
        }
        Mode::SucceedIdle => STATUS_SUCCESS,
        Mode::Clone => {
            // SAFETY: a live pin, in its Process (processing mutex held).
            let leading =
                unsafe { KsPinGetLeadingEdgeStreamPointer(pin, KSSTREAM_POINTER_STATE_LOCKED) };
            if leading.is_null() || !state.clone.is_null() {
                return STATUS_PENDING;
            }
            let mut clone = null_mut();
            // SAFETY: the locked leading edge; `clone` is writable.
            let status =
                unsafe { KsStreamPointerClone(leading, Some(clone_cancelled), 8, &mut clone) };
            assert_eq!(status, STATUS_SUCCESS);
            // SAFETY: the clone's context has 8 bytes.
            let context = unsafe { (*clone).Context };
            assert!(!context.is_null());
            // SAFETY: the context's 8 bytes: the pin, for the cancel callback.
            unsafe { context.cast::<usize>().write(pin as usize) };
            // SAFETY: a live clone, locked as its source; unlocked so that it can be cancelled.
            unsafe { KsStreamPointerUnlock(clone, 0) };
            state.clone = clone;
            // SAFETY: the locked leading edge.
            unsafe { KsStreamPointerAdvance(leading) };
            // SAFETY: the pin's leading edge (unlocking one past the end changes nothing).
            unsafe { KsStreamPointerUnlock(leading, 0) };
            STATUS_PENDING
        }
    }
}

/// A kernel-space address (what a pool block's address is on Windows).
pub const KERNEL_ADDRESS: u64 = 0xFFFF_A000_0000_1000;

/// Sets the `DataUsed` of the frame under `pointer`.
///
/// # Safety
/// `pointer` must be a live, locked stream pointer on a frame.
pub unsafe fn set_data_used(pointer: *mut KSSTREAM_POINTER, bytes: u32) {
    // SAFETY: the caller's guarantee: its StreamHeader is the frame's live header.
    let header = unsafe { (*pointer).StreamHeader }.cast::<KSSTREAM_HEADER>();
    // SAFETY: the frame's live header, which the minidriver may write while on the frame.
    unsafe { (*header).DataUsed = bytes };
}

/// Clones cancelled (by pin address), and the clone callback: forgets the clone and deletes it.
pub static CLONES_CANCELLED: Mutex<Vec<usize>> = Mutex::new(Vec::new());

#[ks::kernel_abi]
pub unsafe extern "system" fn clone_cancelled(clone: *mut KSSTREAM_POINTER) {
    assert_eq!(
        avcam_emulation::current_irql(),
        ks::nt::DISPATCH_LEVEL,
        "a clone's cancel callback runs at DISPATCH_LEVEL"
    );
    // SAFETY: the clone's context holds its pin (written at clone time).
    let context = unsafe { (*clone).Context }.cast::<usize>();
    // SAFETY: the context's 8 bytes, written at clone time.
    let pin = unsafe { context.read() };
    CLONES_CANCELLED.lock().unwrap().push(pin);
    pin_state(pin as *mut KSPIN).clone = null_mut();
    // SAFETY: the live clone, deleted once, as the callback must.
    unsafe { KsStreamPointerDelete(clone) };
}

/// Answers the pin's range itself, with the size-query protocol.
#[allow(clippy::too_many_arguments)]
#[ks::kernel_abi]
pub unsafe extern "system" fn intersect(
    context: *mut c_void,
    _irp: *mut IRP,
    _pin: *mut c_void,
    _client_range: *mut c_void,
    pin_range: *mut c_void,
    buffer_size: u32,
    data: *mut c_void,
    data_size: *mut u32,
) -> NTSTATUS {
    assert!(!context.is_null(), "the context is the filter");
    // SAFETY: the handler contract: `data_size` is writable.
    unsafe { data_size.write(64) };
    if buffer_size == 0 {
        return STATUS_BUFFER_OVERFLOW;
    }
    if buffer_size < 64 {
        return STATUS_BUFFER_TOO_SMALL;
    }
    // SAFETY: `data` holds `buffer_size` (>= 64) bytes; the pin range is a KSDATARANGE.
    unsafe { std::ptr::copy_nonoverlapping(pin_range.cast::<u8>(), data.cast::<u8>(), 64) };
    STATUS_SUCCESS
}

#[ks::kernel_abi]
pub unsafe extern "system" fn dropped_get(
    _irp: *mut IRP,
    _request: *mut KSIDENTIFIER,
    data: *mut c_void,
) -> NTSTATUS {
    CALLS.lock().unwrap().push("dropped_get");
    // SAFETY: MinData guarantees 8 bytes of data.
    unsafe { data.cast::<u64>().write_unaligned(42) };
    // SAFETY: the handler sets Information.
    unsafe { (*_irp).IoStatus.Information = 8 };
    STATUS_SUCCESS
}

/// The id of a `LONG` item of the [`DROPPED`] set carrying `Values`: a stepped range
/// [`RANGED_RANGE`] and the default [`RANGED_DEFAULT`].
pub const RANGED_ID: u32 = 7;
/// The ranged item's range: -100..=100 in steps of 5.
pub const RANGED_RANGE: ks::ks::KSPROPERTY_STEPPING_LONG = ks::ks::KSPROPERTY_STEPPING_LONG {
    SteppingDelta: 5,
    Reserved: 0,
    SignedMinimum: -100,
    SignedMaximum: 100,
};
/// The ranged item's default.
pub const RANGED_DEFAULT: i32 = 15;

/// GET of the ranged item: its default.
#[ks::kernel_abi]
pub unsafe extern "system" fn ranged_get(
    irp: *mut IRP,
    _request: *mut KSIDENTIFIER,
    data: *mut c_void,
) -> NTSTATUS {
    // SAFETY: MinData guarantees 4 bytes of data.
    unsafe { data.cast::<i32>().write_unaligned(RANGED_DEFAULT) };
    // SAFETY: the handler sets Information.
    unsafe { (*irp).IoStatus.Information = 4 };
    STATUS_SUCCESS
}

/// The ranged item's `KSPROPERTY_VALUES`: a `VT_I4`, one stepped range, one default.
fn ranged_values() -> *const ks::ks::KSPROPERTY_VALUES {
    use ks::ks::*;
    let range = leak(RANGED_RANGE);
    let default = leak(RANGED_DEFAULT);
    let lists = leak([
        KSPROPERTY_MEMBERSLIST {
            MembersHeader: KSPROPERTY_MEMBERSHEADER {
                MembersFlags: KSPROPERTY_MEMBER_STEPPEDRANGES,
                MembersSize: 16,
                MembersCount: 1,
                Flags: 0,
            },
            Members: range.cast(),
        },
        KSPROPERTY_MEMBERSLIST {
            MembersHeader: KSPROPERTY_MEMBERSHEADER {
                MembersFlags: KSPROPERTY_MEMBER_VALUES,
                MembersSize: 4,
                MembersCount: 1,
                Flags: KSPROPERTY_MEMBER_FLAG_DEFAULT,
            },
            Members: default.cast(),
        },
    ]);
    leak(KSPROPERTY_VALUES {
        PropTypeSet: KSIDENTIFIER {
            Set: KSPROPTYPESETID_General,
            Id: VT_I4,
            Flags: 0,
        },
        MembersListCount: 2,
        MembersList: lists.cast(),
    })
}

#[ks::kernel_abi]
pub unsafe extern "system" fn device_add(device: *mut KSDEVICE) -> NTSTATUS {
    CALLS.lock().unwrap().push("add");
    // SAFETY: the KSDEVICE is live.
    assert!(!unsafe { (*device).FunctionalDeviceObject }.is_null());
    STATUS_SUCCESS
}

#[ks::kernel_abi]
pub unsafe extern "system" fn device_start(
    _device: *mut KSDEVICE,
    _irp: *mut IRP,
    _a: *mut c_void,
    _b: *mut c_void,
) -> NTSTATUS {
    CALLS.lock().unwrap().push("start");
    STATUS_SUCCESS
}

pub struct Descriptors(pub *const KSDEVICE_DESCRIPTOR);
// SAFETY: leaked, immutable descriptors.
unsafe impl Send for Descriptors {}
// SAFETY: the descriptors are leaked and never written after they are built: shared reads only.
unsafe impl Sync for Descriptors {}

pub fn leak<T>(value: T) -> *const T {
    Box::leak(Box::new(value))
}

pub static RANGE: KSDATAFORMAT = KSDATAFORMAT {
    FormatSize: 64,
    Flags: 0,
    SampleSize: 0,
    Reserved: 0,
    MajorFormat: KSDATAFORMAT_TYPE_VIDEO,
    SubFormat: KSDATAFORMAT_SUBTYPE_NV12,
    Specifier: GUID::NULL,
};

pub fn framing() -> ks::ks::KSALLOCATOR_FRAMING_EX {
    let mut framing = ks::ks::KSALLOCATOR_FRAMING_EX::new_zeroed();
    framing.CountItems = 1;
    framing.PinFlags = 0;
    framing.FramingItem[0].Frames = 3;
    framing.FramingItem[0].FramingRange.Range.MinFrameSize = 4096;
    framing.FramingItem[0].FramingRange.Range.MaxFrameSize = 4096;
    framing
}

/// The test driver's descriptors whose pin has `pin_flags` (built once per set of flags).
pub fn descriptors(pin_flags: u32) -> *const KSDEVICE_DESCRIPTOR {
    static BUILT: Mutex<Vec<(u32, Descriptors)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap();
    if let Some((_, descriptors)) = built.iter().find(|(flags, _)| *flags == pin_flags) {
        return descriptors.0;
    }
    let descriptors = build_descriptors(pin_flags);
    built.push((pin_flags, descriptors));
    built.last().unwrap().1 .0
}

pub fn build_descriptors(pin_flags: u32) -> Descriptors {
    {
        let ranges = leak([(&raw const RANGE).cast::<c_void>()]);
        let pin_dispatch = leak(KSPIN_DISPATCH {
            Create: Some(pin_create),
            Close: Some(pin_close),
            Process: Some(pin_process),
            Reset: None,
            SetDataFormat: Some(pin_set_format),
            SetDeviceState: Some(pin_set_state),
            Connect: None,
            Disconnect: None,
            Clock: null_mut::<KSCLOCK_DISPATCH>(),
            Allocator: null_mut::<KSALLOCATOR_DISPATCH>(),
        });
        let items = leak([
            KSPROPERTY_ITEM {
                PropertyId: KSPROPERTY_DROPPEDFRAMES_CURRENT,
                GetPropertyHandler: Some(dropped_get),
                MinProperty: 24,
                MinData: 8,
                SetPropertyHandler: None,
                Values: std::ptr::null(),
                RelationsCount: 0,
                Relations: null_mut::<ks::ks::KSIDENTIFIER>(),
                SupportHandler: None,
                SerializedSize: 0,
            },
            KSPROPERTY_ITEM {
                PropertyId: RANGED_ID,
                GetPropertyHandler: Some(ranged_get),
                MinProperty: 24,
                MinData: 4,
                SetPropertyHandler: None,
                Values: ranged_values(),
                RelationsCount: 0,
                Relations: null_mut::<ks::ks::KSIDENTIFIER>(),
                SupportHandler: None,
                SerializedSize: 0,
            },
        ]);
        let sets = leak([KSPROPERTY_SET {
            Set: &DROPPED,
            PropertiesCount: 2,
            PropertyItem: items.cast(),
            FastIoCount: 0,
            FastIoTable: null_mut::<c_void>(),
        }]);
        let automation = leak(KSAUTOMATION_TABLE {
            PropertySetsCount: 1,
            PropertyItemSize: std::mem::size_of::<KSPROPERTY_ITEM>() as u32,
            PropertySets: sets.cast(),
            MethodSetsCount: 0,
            MethodItemSize: 0,
            MethodSets: null_mut::<KSMETHOD_SET>(),
            EventSetsCount: 0,
            EventItemSize: 0,
            EventSets: null_mut::<KSEVENT_SET>(),
        });
        let pins = leak([KSPIN_DESCRIPTOR_EX {
            Dispatch: pin_dispatch,
            AutomationTable: automation,
            PinDescriptor: KSPIN_DESCRIPTOR {
                InterfacesCount: 0,
                Interfaces: null_mut::<KSPIN_INTERFACE>(),
                MediumsCount: 0,
                Mediums: null_mut::<KSPIN_MEDIUM>(),
                DataRangesCount: 1,
                DataRanges: ranges.cast(),
                DataFlow: KSPIN_DATAFLOW_OUT,
                Communication: KSPIN_COMMUNICATION_BOTH,
                Category: &CATEGORY,
                Name: null_mut::<GUID>(),
                ConstrainedDataRangesCount: 0,
                ConstrainedDataRanges: null_mut::<*const c_void>(),
            },
            Flags: pin_flags,
            InstancesPossible: 1,
            InstancesNecessary: 0,
            AllocatorFraming: leak(framing()),
            IntersectHandler: Some(intersect),
        }]);
        let categories = leak([CATEGORY]);
        let filter_dispatch = leak(KSFILTER_DISPATCH {
            Create: Some(filter_create),
            Close: None,
            Process: None,
            Reset: None,
        });
        let filter = leak(KSFILTER_DESCRIPTOR {
            Dispatch: filter_dispatch,
            AutomationTable: null_mut::<KSAUTOMATION_TABLE>(),
            Version: KSFILTER_DESCRIPTOR_VERSION,
            Flags: 0,
            ReferenceGuid: null_mut::<GUID>(),
            PinDescriptorsCount: 1,
            PinDescriptorSize: std::mem::size_of::<KSPIN_DESCRIPTOR_EX>() as u32,
            PinDescriptors: pins.cast(),
            CategoriesCount: 1,
            Categories: categories.cast(),
            NodeDescriptorsCount: 0,
            NodeDescriptorSize: 0,
            NodeDescriptors: null_mut::<c_void>(),
            ConnectionsCount: 0,
            Connections: null_mut::<c_void>(),
            ComponentId: null_mut::<c_void>(),
        });
        let filters = leak([filter]);
        let dispatch = leak(KSDEVICE_DISPATCH {
            Add: Some(device_add),
            Start: Some(device_start),
            PostStart: None,
            QueryStop: None,
            CancelStop: None,
            Stop: None,
            QueryRemove: None,
            CancelRemove: None,
            Remove: None,
            QueryCapabilities: None,
            SurpriseRemoval: None,
            QueryPower: None,
            SetPower: None,
            QueryInterface: None,
        });
        Descriptors(leak(KSDEVICE_DESCRIPTOR {
            Dispatch: dispatch,
            FilterDescriptorsCount: 1,
            FilterDescriptors: filters.cast(),
            Version: KSDEVICE_DESCRIPTOR_VERSION,
            Flags: 0,
        }))
    }
}

#[ks::kernel_abi]
pub unsafe extern "system" fn driver_entry(
    driver: *mut DRIVER_OBJECT,
    path: *mut UNICODE_STRING,
) -> NTSTATUS {
    let flags = LOAD_PIN_FLAGS.get();
    // SAFETY: DriverEntry's arguments, forwarded; the descriptor lives forever.
    unsafe { KsInitializeDriver(driver, path, descriptors(flags)) }
}

thread_local! {
    /// The pin flags of the driver the next `load_driver` on this thread loads.
    static LOAD_PIN_FLAGS: std::cell::Cell<u32> =
        const { std::cell::Cell::new(KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY) };
}

pub fn loaded() -> (Kernel, File) {
    loaded_with(KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY)
}

/// The test driver, its pin declared with `pin_flags`, loaded; its filter opened.
pub fn loaded_with(pin_flags: u32) -> (Kernel, File) {
    // ks.sys serves allocator creates on pins with avcam's KsCreateDefaultAllocatorEx.
    let kernel = Kernel::with_default_allocator(avcam_allocator::KsCreateDefaultAllocatorEx);
    LOAD_PIN_FLAGS.set(pin_flags);
    assert_eq!(kernel.load_driver(driver_entry), STATUS_SUCCESS);
    let interfaces = kernel.device_interfaces(&CATEGORY);
    assert_eq!(interfaces.len(), 1);
    // A descriptor filter with a NULL ReferenceGuid: registered without a reference string.
    assert_eq!(interfaces[0].reference, None);
    let filter = kernel.open_interface(&interfaces[0]).expect("filter opens");
    (kernel, filter)
}

pub fn connect(pin_id: u32, sub_format: GUID) -> Vec<u8> {
    let connect = KSPIN_CONNECT {
        Interface: KSIDENTIFIER {
            Set: KSINTERFACESETID_Standard,
            Id: 0,
            Flags: 0,
        },
        Medium: KSIDENTIFIER {
            Set: KSMEDIUMSETID_Standard,
            Id: 0,
            Flags: 0,
        },
        PinId: pin_id,
        ..KSPIN_CONNECT::new_zeroed()
    };
    let format = KSDATAFORMAT {
        FormatSize: 64,
        MajorFormat: KSDATAFORMAT_TYPE_VIDEO,
        SubFormat: sub_format,
        ..Default::default()
    };
    let mut bytes = connect.as_bytes().to_vec();
    bytes.extend_from_slice(format.as_bytes());
    bytes
}

pub fn property(set: GUID, id: u32, flags: u32) -> Vec<u8> {
    KSIDENTIFIER {
        Set: set,
        Id: id,
        Flags: flags,
    }
    .as_bytes()
    .to_vec()
}

pub fn pin_property(id: u32, pin_id: u32) -> Vec<u8> {
    KSP_PIN {
        Property: KSIDENTIFIER {
            Set: KSPROPSETID_Pin,
            Id: id,
            Flags: KSPROPERTY_TYPE_GET,
        },
        PinId: pin_id,
        Reserved: 0,
    }
    .as_bytes()
    .to_vec()
}

pub fn set_state(kernel: &Kernel, pin: File, state: KSSTATE) -> NTSTATUS {
    let mut data = state.to_le_bytes();
    kernel
        .ioctl(
            pin,
            IOCTL_KS_PROPERTY,
            &property(
                KSPROPSETID_Connection,
                KSPROPERTY_CONNECTION_STATE,
                KSPROPERTY_TYPE_SET,
            ),
            &mut data,
        )
        .status
}

pub fn ks_pin(kernel: &Kernel, pin: File) -> *mut KSPIN {
    let _entered = kernel.enter();
    // SAFETY: the pin's file object is live while the client has it open.
    unsafe { KsGetObjectFromFileObject(kernel.file_object(pin)) }.cast()
}

/// One KSSTREAM_HEADER of `size` bytes (a KSSTREAM_HEADER and zeros) over `extent` bytes at
/// `data`.
pub fn header_sized(size: usize, data: u64, extent: u32) -> Vec<u8> {
    let mut bytes = KSSTREAM_HEADER {
        Size: size as u32,
        FrameExtent: extent,
        Data: data,
        ..Default::default()
    }
    .as_bytes()
    .to_vec();
    bytes.resize(size.max(bytes.len()), 0);
    bytes
}

/// One KSSTREAM_HEADER over `buffer`.
pub fn header_for(buffer: &mut [u8]) -> Vec<u8> {
    KSSTREAM_HEADER {
        Size: std::mem::size_of::<KSSTREAM_HEADER>() as u32,
        FrameExtent: buffer.len() as u32,
        Data: buffer.as_mut_ptr() as u64,
        ..Default::default()
    }
    .as_bytes()
    .to_vec()
}

/// The test filter opened again, by a user-mode client (an application).
pub fn user_filter(kernel: &Kernel) -> File {
    let interfaces = kernel.device_interfaces(&CATEGORY);
    kernel
        .open_interface_user(&interfaces[0])
        .expect("filter opens")
}
