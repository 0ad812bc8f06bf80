//! The AVStream subset of ks.sys: driver initialisation from a KSDEVICE_DESCRIPTOR, the device,
//! filter factories and device interfaces, filter and pin objects, the property sets ks.sys
//! answers itself, the pin's read queue with its stream pointers, and processing.
//!
//! Behaviour follows the public AVStream documentation; where the emulation must choose, the
//! item says so ("guess"):
//! - **Load** ([`Kernel::load_driver`]): DriverEntry runs with the kernel's driver object;
//!   `KsInitializeDriver` records the descriptor, routes the major functions to `KsDispatchIrp`
//!   and sets `AddDevice`. The PnP start that follows creates the KSDEVICE on the kernel's device
//!   object (calling the device dispatch `Add`, `Start` with a zeroed IRP_MJ_PNP IRP and NULL
//!   resource lists, then `PostStart`), one filter factory per KSFILTER_DESCRIPTOR, and registers
//!   one device interface per factory category, with the reference string `GLOBAL` when
//!   `ReferenceGuid` is NULL, else the GUID in registry form (`{...}`, upper case).
//! - **Filters**: opening an interface sends an IRP_MJ_CREATE without a related file object,
//!   named `\` + reference string; ks.sys routes it to the factory, builds the KSFILTER and calls
//!   the filter dispatch `Create`.
//! - **Pins**: the create name is `KSSTRING_Pin\` + KSPIN_CONNECT + KSDATAFORMAT (what
//!   `KsCreatePin` sends). Checked in order: sizes (STATUS_INVALID_PARAMETER), `PinId`
//!   (STATUS_INVALID_PARAMETER), instances (STATUS_TOO_MANY_NODES: an existing status that says it;
//!   Windows' code is not documented), the format against each data range by major format,
//!   subformat and specifier (wildcards match anything) and `FormatSize` at least the range's
//!   (STATUS_NO_MATCH); then `SetDataFormat` with the matched range (its failure fails the
//!   create), then the pin dispatch `Create`. `ConnectionFormat` is the emulation's copy.
//! - **Properties** (IOCTL_KS_PROPERTY): the object's automation table first (the minidriver may
//!   override), then ks.sys's own sets: KSPROPSETID_Pin on filters (CTYPES, CINSTANCES,
//!   DATAFLOW, COMMUNICATION, DATARANGES, DATAINTERSECTION, CATEGORY, NAME, INTERFACES, MEDIUMS:
//!   the standard one when the pin lists none), KSPROPSETID_Connection STATE, DATAFORMAT (GET)
//!   and ALLOCATORFRAMING_EX (from the pin's own `Descriptor`, so a minidriver's `KsEdit` of it
//!   shows, as on Windows) and KSPROPSETID_Stream ALLOCATOR on pins. A size query (no output
//!   buffer) gets STATUS_BUFFER_OVERFLOW with the size; a short one STATUS_BUFFER_TOO_SMALL; a
//!   request shorter than the item's `MinProperty` STATUS_INVALID_BUFFER_SIZE. Unknown set:
//!   STATUS_PROPSET_NOT_FOUND; known set, unknown id: STATUS_NOT_FOUND. SETSUPPORT answers
//!   whether the set is there; BASICSUPPORT calls the item's `SupportHandler`, or answers a
//!   KSPROPERTY_DESCRIPTION (or just the ULONG access flags when the buffer is that small).
//!   DATAINTERSECTION tries each client range (in order) against each pin range whose GUIDs are
//!   compatible, calling the pin's `IntersectHandler` with the filter as context until one does
//!   not answer STATUS_NO_MATCH; a pin without a handler answers STATUS_NO_MATCH (ks.sys's
//!   default intersection is not emulated).
//!   KSPROPERTY_PIN_NAME answers the `Name` GUID's registry string (guess: Windows reads the
//!   name from the registry's MediaCategories key) or the category's when `Name` is NULL.
//!   KSPROPERTY_STREAM_ALLOCATOR: GET answers the handle last SET (NULL at first); SET records the
//!   handle (guess: ks.sys would reference the allocator and use it for its frames; the emulation
//!   leaves the frames to the minidriver).
//! - **State**: SET steps one state at a time through `SetDeviceState` (STOP->ACQUIRE->PAUSE->RUN
//!   and back); a failure stops at the last good state and is returned. Reaching STOP completes the
//!   queued reads with STATUS_CANCELLED (guess, matching what a client sees on Windows).
//! - **Reads** (IOCTL_KS_READ_STREAM, METHOD_NEITHER, output = KSSTREAM_HEADERs, each `Size` at
//!   least the pin's `StreamHeaderSize`, else STATUS_INVALID_BUFFER_SIZE): rejected with
//!   STATUS_INVALID_DEVICE_STATE in STOP and ACQUIRE (guess: what KS answers for a pin not
//!   streaming); queued otherwise (pending, cancellable), each header one frame. Then processing is
//!   attempted unless KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING.
//! - **Stream pointers**: one leading edge per pin over the queued frames. `OffsetOut` is
//!   `Data`/`Count`/`Remaining` = the header's buffer and `FrameExtent`. Advancing past a frame
//!   releases it; a frame is done when released and no clone is on it; an IRP completes
//!   (STATUS_SUCCESS, Information = the output length) when all its frames are done. Offsets
//!   advanced add to the header's `DataUsed`; a plain advance leaves `DataUsed` as the minidriver
//!   wrote it. Advancing past the last frame returns STATUS_DEVICE_NOT_READY and leaves the
//!   leading edge waiting for the next frame.
//! - **Processing**: `KsPinAttemptProcessing` calls the pin's `Process` under the processing mutex
//!   (asynchronous: on a new kernel thread, or from a timer DPC after the DPC as below), only in
//!   PAUSE or RUN (RUN with KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY) and only with a frame available
//!   unless KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING. STATUS_PENDING ends processing; success
//!   calls `Process` again while it consumed frames and more are available (guess). A request
//!   arriving while the mutex is busy makes the current holder run once more. Asked for from a
//!   timer DPC asynchronously, or above PASSIVE_LEVEL without KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING,
//!   `Process` runs at PASSIVE_LEVEL right after the DPC returns, on the same thread (ks.sys queues
//!   a work item; running it there keeps the virtual clock deterministic).
//! - **Close**: a pin steps down to STOP, cancels its queue (STATUS_CANCELLED), then its dispatch
//!   `Close` runs; a filter's `Close` likewise. Then the object's `Descriptor` is put back to the
//!   one it was created from and its `Bag` (the `_KsEdit` copies) is freed.

use std::collections::{HashMap, VecDeque};
use std::ffi::c_void;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use ks::avstream::{
    KSAUTOMATION_TABLE, KSDEVICE, KSDEVICE_DESCRIPTOR, KSFILTER, KSFILTER_DESCRIPTOR, KSPIN,
    KSPIN_DESCRIPTOR_EX, KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING,
    KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING, KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING,
    KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY, KSPROPERTY_ITEM, KSPROPERTY_SET, KSSTATE,
    KSSTATE_ACQUIRE, KSSTATE_PAUSE, KSSTATE_RUN, KSSTATE_STOP, KSSTREAM_POINTER,
    KSSTREAM_POINTER_OFFSET, PFNKSSTREAMPOINTER,
};
use ks::guid::GUID;
use ks::ks::{
    KSPROPTYPESETID_General, IOCTL_KS_PROPERTY, IOCTL_KS_READ_STREAM, KSALLOCATOR_FRAMING_EX,
    KSDISPATCH_TABLE, KSIDENTIFIER, KSOBJECT_CREATE_ITEM, KSOBJECT_HEADER, KSPROPERTY_DESCRIPTION,
    KSPROPERTY_TYPE_BASICSUPPORT, KSPROPERTY_TYPE_GET, KSPROPERTY_TYPE_SET,
    KSPROPERTY_TYPE_SETSUPPORT, KS_FRAMING_ITEM, VT_EMPTY,
};
use ks::nt::{
    irp_mj, DEVICE_OBJECT, DRIVER_OBJECT, FILE_OBJECT, IO_STACK_LOCATION, IRP, UNICODE_STRING,
};
use ks::status::{
    nt_success, STATUS_ALLOTTED_SPACE_EXCEEDED, STATUS_BUFFER_OVERFLOW, STATUS_BUFFER_TOO_SMALL,
    STATUS_CANCELLED, STATUS_DEVICE_NOT_READY, STATUS_INVALID_BUFFER_SIZE,
    STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER,
    STATUS_NOT_FOUND, STATUS_NO_MATCH, STATUS_PENDING, STATUS_PROPSET_NOT_FOUND, STATUS_SUCCESS,
    STATUS_TOO_MANY_NODES,
};
use ks::video::{
    KSINTERFACESETID_Standard, KSMEDIUMSETID_Standard, KSPROPSETID_Connection, KSPROPSETID_Pin,
    KSPROPSETID_Stream, KSDATAFORMAT, KSMULTIPLE_ITEM, KSPIN_CINSTANCES, KSPIN_CONNECT,
    KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, KSPROPERTY_CONNECTION_DATAFORMAT,
    KSPROPERTY_CONNECTION_STATE, KSPROPERTY_PIN_CATEGORY, KSPROPERTY_PIN_CINSTANCES,
    KSPROPERTY_PIN_COMMUNICATION, KSPROPERTY_PIN_CTYPES, KSPROPERTY_PIN_DATAFLOW,
    KSPROPERTY_PIN_DATAINTERSECTION, KSPROPERTY_PIN_DATARANGES, KSPROPERTY_PIN_INTERFACES,
    KSPROPERTY_PIN_MEDIUMS, KSPROPERTY_PIN_NAME, KSPROPERTY_STREAM_ALLOCATOR, KSP_PIN,
    KSSTREAM_HEADER,
};
use ks::NTSTATUS;
use zerocopy::{FromBytes, IntoBytes};

use crate::bag::ObjectBag;
use crate::bugs::Bug;
use crate::io::{complete_with, stack_location};
use crate::kernel::{current, KernelState};
use crate::ks::{equal_ignoring_case, ObjectHeader};
use crate::memory::{RawBox, RawBuffer};
use crate::Kernel;

/// `KSSTRING_Pin`: the object class of a filter's pin create item.
pub const KSSTRING_PIN: &str = "{146F1A80-4791-11D0-A5D6-28DB04C10000}";

/// Spare create-item slots in every pin's object header, for
/// `KsAddObjectCreateItemToObjectHeader` (the documented way: empty slots have a NULL `Create`).
const PIN_SPARE_ITEMS: usize = 4;

/// `DriverEntry`'s C signature.
pub type DriverEntry =
    unsafe extern "system" fn(*mut DRIVER_OBJECT, *mut UNICODE_STRING) -> NTSTATUS;

/// What `FsContext` points to for filters and pins: the KS header first, then the object.
#[repr(C)]
struct ObjectContext {
    header: KSOBJECT_HEADER,
    object: *mut c_void,
}

/// A device interface the driver registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInterface {
    /// The interface class (a KSFILTER_DESCRIPTOR category).
    pub category: GUID,
    /// The reference string (`GLOBAL` or the ReferenceGuid in registry form).
    pub reference: String,
    /// The index of the filter factory behind it.
    pub factory: usize,
}

struct Factory {
    descriptor: usize,
    reference: Vec<u16>,
}

struct DeviceRecord {
    device: RawBox<KSDEVICE>,
    factories: Vec<Factory>,
    /// The device-level header whose create items are the factories.
    header: usize,
    _items: RawBuffer,
    _names: Vec<RawBuffer>,
}

struct FilterRecord {
    filter: RawBox<KSFILTER>,
    /// The filter's `Bag` (`_KsEdit` copies), emptied at close.
    bag: Box<ObjectBag>,
    /// The descriptor the filter was created from (put back at close, before the bag is
    /// emptied).
    descriptor: usize,
    context: RawBox<ObjectContext>,
    header: usize,
    _items: RawBuffer,
    _name: RawBuffer,
    /// Pins open per pin id.
    instances: Mutex<Vec<u32>>,
}

/// One frame (one KSSTREAM_HEADER) of a queued read.
struct Frame {
    irp: usize,
    header: *mut KSSTREAM_HEADER,
    /// The leading edge has moved past it.
    released: bool,
    /// Clones on it.
    clones: u32,
}

struct QueuedRead {
    frames_left: usize,
    output_len: usize,
    cancelled: bool,
}

#[derive(Default)]
struct Stream {
    frames: VecDeque<Frame>,
    reads: HashMap<usize, QueuedRead>,
    /// Index in `frames` of the leading edge's frame (== frames.len(): waiting for data).
    leading: usize,
    leading_locked: bool,
    /// Clones: pointer address -> (their memory, frame's IRP and header address).
    clones: HashMap<usize, (RawBuffer, usize, usize)>,
    /// Handle last set through KSPROPERTY_STREAM_ALLOCATOR.
    allocator: usize,
}

// SAFETY: the raw pointers name emulation-owned or IRP memory, accessed under the Mutex.
unsafe impl Send for Stream {}

#[derive(Default)]
struct ProcessingMutex {
    state: Mutex<(bool, bool)>,
    free: Condvar,
}

struct PinRecord {
    pin: RawBox<KSPIN>,
    /// The pin's `Bag` (`_KsEdit` copies), emptied at close.
    bag: Box<ObjectBag>,
    /// The descriptor the pin was created from (put back at close, before the bag is emptied).
    descriptor: usize,
    context: RawBox<ObjectContext>,
    filter: usize,
    pin_id: u32,
    header: usize,
    _items: RawBuffer,
    _name: RawBuffer,
    _format: RawBuffer,
    leading: RawBox<KSSTREAM_POINTER>,
    stream: Mutex<Stream>,
    processing: ProcessingMutex,
}

enum ObjectRef {
    Filter(usize),
    Pin(usize),
}

/// The AVStream state of one kernel.
#[derive(Default)]
pub(crate) struct AvState {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Pins whose processing was asked for above PASSIVE_LEVEL without
    /// KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING: processed at PASSIVE_LEVEL later (ks.sys queues a
    /// work item; the emulation runs it when the DPC that asked returns, see [`run_deferred`]).
    deferred: Vec<Arc<PinRecord>>,
    descriptor: usize,
    device: Option<DeviceRecord>,
    filters: HashMap<usize, Arc<FilterRecord>>,
    pins: HashMap<usize, Arc<PinRecord>>,
    files: HashMap<usize, ObjectRef>,
    interfaces: Vec<DeviceInterface>,
}

impl AvState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The device-level header parentless creates are routed through, once started.
    pub(crate) fn device_header(&self) -> Option<KSOBJECT_HEADER> {
        self.lock()
            .device
            .as_ref()
            .map(|d| d.header as KSOBJECT_HEADER)
    }

    fn pin(&self, pin: *mut KSPIN) -> Option<Arc<PinRecord>> {
        self.lock().pins.get(&(pin as usize)).cloned()
    }

    fn filter(&self, filter: usize) -> Option<Arc<FilterRecord>> {
        self.lock().filters.get(&filter).cloned()
    }
}

/// The dispatch table of filter and pin file objects.
static OBJECT_TABLE: KSDISPATCH_TABLE = KSDISPATCH_TABLE {
    DeviceIoControl: Some(dispatch_device_control),
    Read: None,
    Write: None,
    Flush: None,
    Close: Some(dispatch_close),
    QuerySecurity: None,
    SetSecurity: None,
    FastDeviceIoControl: None,
    FastRead: None,
    FastWrite: None,
};

fn utf16(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
}

/// Create items (one per name) in emulation memory, with the name buffers.
fn create_items(
    entries: &[(Vec<u16>, Option<crate::client::DispatchFn>, *mut c_void)],
    spare: usize,
) -> (RawBuffer, Vec<RawBuffer>) {
    let count = entries.len() + spare;
    let items = RawBuffer::zeroed(count.max(1) * std::mem::size_of::<KSOBJECT_CREATE_ITEM>());
    let first = items.as_ptr().cast::<KSOBJECT_CREATE_ITEM>();
    let mut names = Vec::new();
    for (index, (name, create, context)) in entries.iter().enumerate() {
        let bytes: Vec<u8> = name.iter().flat_map(|u| u.to_le_bytes()).collect();
        let buffer = RawBuffer::from_bytes(&bytes);
        let item = KSOBJECT_CREATE_ITEM {
            Create: *create,
            Context: *context,
            ObjectClass: UNICODE_STRING {
                Length: bytes.len() as u16,
                MaximumLength: bytes.len() as u16,
                Buffer: buffer.as_ptr().cast(),
            },
            SecurityDescriptor: std::ptr::null_mut(),
            Flags: 0,
        };
        // SAFETY: `items` holds `count` aligned, zeroed slots nobody else knows yet.
        unsafe { first.wrapping_add(index).write(item) };
        names.push(buffer);
    }
    (items, names)
}

/// The current stack location of a live IRP, as a reference.
///
/// # Safety
/// `irp` must be a live IRP, and stay live while the reference is used.
unsafe fn stack_of<'a>(irp: *mut IRP) -> &'a IO_STACK_LOCATION {
    // SAFETY: the caller's guarantee.
    let stack = unsafe { stack_location(irp) };
    // SAFETY: the stack location is inside the live IRP.
    unsafe { &*stack }
}

/// The file object of a live IRP.
///
/// # Safety
/// `irp` must be a live IRP.
unsafe fn file_of(irp: *mut IRP) -> *mut FILE_OBJECT {
    // SAFETY: the caller's guarantee.
    unsafe { stack_of(irp) }.FileObject
}

/// The descriptor of a live filter.
///
/// # Safety
/// `filter` must be a live KSFILTER of the emulation.
unsafe fn filter_descriptor_of<'a>(filter: *mut KSFILTER) -> &'a KSFILTER_DESCRIPTOR {
    // SAFETY: the caller's guarantee.
    let descriptor = unsafe { (*filter).Descriptor };
    // SAFETY: filter descriptors live until unload.
    unsafe { &*descriptor }
}

/// The descriptor of a live pin.
///
/// # Safety
/// `pin` must be a live KSPIN of the emulation.
unsafe fn pin_descriptor_of<'a>(pin: *mut KSPIN) -> &'a KSPIN_DESCRIPTOR_EX {
    // SAFETY: the caller's guarantee.
    let descriptor = unsafe { (*pin).Descriptor };
    // SAFETY: pin descriptors live until unload, edited copies until the pin closes.
    unsafe { &*descriptor }
}

/// A slice of `count` `T`s at `first` (empty when NULL).
///
/// # Safety
/// A non-NULL `first` must point to `count` readable `T`s living for `'a`.
unsafe fn slice<'a, T>(first: *const T, count: u32) -> &'a [T] {
    if first.is_null() || count == 0 {
        return &[];
    }
    // SAFETY: the caller's guarantee.
    unsafe { std::slice::from_raw_parts(first, count as usize) }
}

// ---------------------------------------------------------------------------------------------
// Driver load and device start
// ---------------------------------------------------------------------------------------------

/// `KsInitializeDriver`.
///
/// # Safety
/// `driver` must be the kernel's driver object; `descriptor` must live until unload.
pub(crate) unsafe fn initialize_driver(
    state: &KernelState,
    driver: *mut DRIVER_OBJECT,
    descriptor: *const KSDEVICE_DESCRIPTOR,
) -> NTSTATUS {
    if driver != state.io.driver() || descriptor.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    state.avstream.lock().descriptor = descriptor as usize;
    for major in [
        irp_mj::CREATE,
        irp_mj::CLOSE,
        irp_mj::DEVICE_CONTROL,
        irp_mj::READ,
        irp_mj::WRITE,
        irp_mj::FLUSH_BUFFERS,
        irp_mj::QUERY_SECURITY,
        irp_mj::SET_SECURITY,
    ] {
        // SAFETY: the driver object lives as long as the kernel; DriverEntry runs before any
        // request is sent.
        unsafe {
            (*driver).MajorFunction[usize::from(major)] = Some(crate::services::KsDispatchIrp)
        };
    }
    // SAFETY: as above.
    let extension = unsafe { (*driver).DriverExtension };
    // SAFETY: the extension lives with the driver object.
    unsafe { (*extension).AddDevice = Some(add_device) };
    STATUS_SUCCESS
}

/// ks.sys's AddDevice: creates the KSDEVICE on the kernel's device object and calls `Add`.
unsafe extern "system" fn add_device(
    _driver: *mut DRIVER_OBJECT,
    physical: *mut DEVICE_OBJECT,
) -> NTSTATUS {
    let state = current("KsAddDevice");
    let descriptor = state.avstream.lock().descriptor as *const KSDEVICE_DESCRIPTOR;
    let mut value: KSDEVICE = zeroed_device();
    value.Descriptor = descriptor;
    value.FunctionalDeviceObject = state.io.device();
    value.PhysicalDeviceObject = physical;
    let device = RawBox::new(value);
    let (items, names) = create_items(&[], 0);
    let header = state.ks.new_emulation_header(ObjectHeader {
        items: std::ptr::null_mut(),
        item_count: 0,
        table: &OBJECT_TABLE,
        create_item: std::ptr::null_mut(),
    });
    let pointer = device.as_ptr();
    state.avstream.lock().device = Some(DeviceRecord {
        device,
        factories: Vec::new(),
        header: header as usize,
        _items: items,
        _names: names,
    });
    // SAFETY: the descriptor lives until unload (KsInitializeDriver's contract).
    let dispatch = unsafe { descriptor.as_ref() }.map_or(std::ptr::null(), |d| d.Dispatch);
    // SAFETY: as above; the dispatch table is the driver's static.
    if let Some(add) = unsafe { dispatch.as_ref() }.and_then(|d| d.Add) {
        // SAFETY: the KSDEVICE is live; the Add contract.
        return unsafe { add(pointer) };
    }
    STATUS_SUCCESS
}

fn zeroed_device() -> KSDEVICE {
    KSDEVICE {
        Descriptor: std::ptr::null(),
        Bag: std::ptr::null_mut(),
        Context: std::ptr::null_mut(),
        FunctionalDeviceObject: std::ptr::null_mut(),
        PhysicalDeviceObject: std::ptr::null_mut(),
        NextDeviceObject: std::ptr::null_mut(),
        Started: 0,
        SystemPowerState: 0,
        DevicePowerState: 0,
    }
}

/// The registry form of a GUID, `{XXXXXXXX-...}`.
fn guid_string(guid: &GUID) -> Vec<u16> {
    let mut text = vec![u16::from(b'{')];
    text.extend_from_slice(&guid.to_utf16());
    text.push(u16::from(b'}'));
    text.iter()
        .map(|&u| {
            if u < 0x80 {
                u16::from((u as u8).to_ascii_uppercase())
            } else {
                u
            }
        })
        .collect()
}

/// The PnP start: `Start`, `PostStart`, filter factories and device interfaces.
fn start_device(state: &KernelState) -> NTSTATUS {
    let (device, descriptor) = {
        let inner = state.avstream.lock();
        let Some(device) = inner.device.as_ref() else {
            return STATUS_INVALID_DEVICE_STATE;
        };
        (
            device.device.as_ptr(),
            inner.descriptor as *const KSDEVICE_DESCRIPTOR,
        )
    };
    // SAFETY: the descriptor lives until unload.
    let Some(descriptor) = (unsafe { descriptor.as_ref() }) else {
        return STATUS_INVALID_DEVICE_STATE;
    };
    // SAFETY: the dispatch table is the driver's static.
    let dispatch = unsafe { descriptor.Dispatch.as_ref() };
    if let Some(start) = dispatch.and_then(|d| d.Start) {
        let irp = RawBox::<IRP>::zeroed();
        // SAFETY: a live KSDEVICE and a zeroed IRP_MJ_PNP IRP; NULL resource lists (a root
        // enumerated device has none).
        let status = unsafe {
            start(
                device,
                irp.as_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if !nt_success(status) {
            return status;
        }
    }
    if let Some(post_start) = dispatch.and_then(|d| d.PostStart) {
        // SAFETY: a live KSDEVICE.
        let status = unsafe { post_start(device) };
        if !nt_success(status) {
            return status;
        }
    }
    // SAFETY: FilterDescriptors holds FilterDescriptorsCount pointers (the descriptor's contract).
    let filters = unsafe {
        slice(
            descriptor.FilterDescriptors,
            descriptor.FilterDescriptorsCount,
        )
    };
    let mut factories = Vec::new();
    let mut interfaces = Vec::new();
    let mut entries = Vec::new();
    for (index, &filter) in filters.iter().enumerate() {
        // SAFETY: each filter descriptor lives until unload.
        let Some(filter_descriptor) = (unsafe { filter.as_ref() }) else {
            continue;
        };
        // SAFETY: a non-NULL ReferenceGuid points to a GUID.
        let reference = match unsafe { filter_descriptor.ReferenceGuid.as_ref() } {
            Some(guid) => guid_string(guid),
            None => utf16("GLOBAL"),
        };
        // SAFETY: Categories holds CategoriesCount GUIDs.
        let categories = unsafe {
            slice(
                filter_descriptor.Categories,
                filter_descriptor.CategoriesCount,
            )
        };
        for category in categories {
            interfaces.push(DeviceInterface {
                category: *category,
                reference: String::from_utf16_lossy(&reference),
                factory: index,
            });
        }
        entries.push((
            reference.clone(),
            Some(create_filter as crate::client::DispatchFn),
            index as *mut c_void,
        ));
        factories.push(Factory {
            descriptor: filter as usize,
            reference,
        });
    }
    let (items, names) = create_items(&entries, 0);
    let mut inner = state.avstream.lock();
    let Some(record) = inner.device.as_mut() else {
        return STATUS_INVALID_DEVICE_STATE;
    };
    state
        .ks
        .drop_emulation_header(record.header as KSOBJECT_HEADER);
    let header = state.ks.new_emulation_header(ObjectHeader {
        items: items.as_ptr().cast(),
        item_count: entries.len() as u32,
        table: &OBJECT_TABLE,
        create_item: std::ptr::null_mut(),
    });
    record.header = header as usize;
    record._items = items;
    record._names = names;
    record.factories = factories;
    // SAFETY: the KSDEVICE is live; only ks.sys writes `Started`.
    unsafe { (*device).Started = 1 };
    inner.interfaces = interfaces;
    STATUS_SUCCESS
}

impl Kernel {
    /// Loads a driver: calls `entry` (DriverEntry) with the kernel's driver object and an empty
    /// registry path; if it succeeded and called `KsInitializeDriver`, runs the PnP add and start
    /// (see the module docs). Returns the first failure.
    pub fn load_driver(&self, entry: DriverEntry) -> NTSTATUS {
        let status = {
            let _entered = self.enter();
            let mut path = UNICODE_STRING::EMPTY;
            // SAFETY: the driver object is live; DriverEntry's contract.
            let status = unsafe { entry(self.state.io.driver(), &mut path) };
            if !nt_success(status) {
                status
            } else {
                // SAFETY: the driver object and its extension live with the kernel.
                let extension = unsafe { (*self.state.io.driver()).DriverExtension };
                // SAFETY: as above.
                match unsafe { (*extension).AddDevice } {
                    None => status,
                    Some(add) => {
                        let physical = RawBox::<DEVICE_OBJECT>::zeroed();
                        // SAFETY: AddDevice's contract; the PDO stands for the root bus's.
                        let status = unsafe { add(self.state.io.driver(), physical.as_ptr()) };
                        if nt_success(status) {
                            start_device(&self.state)
                        } else {
                            status
                        }
                    }
                }
            }
        };
        self.check();
        status
    }

    /// Unloads the driver: `Remove` on the device (if it has one), then `DriverUnload`; the
    /// device, factories and interfaces are gone afterwards.
    pub fn unload_driver(&self) {
        {
            let _entered = self.enter();
            let device = self.state.avstream.lock().device.take();
            if let Some(device) = device {
                // SAFETY: the KSDEVICE is live until dropped below.
                let descriptor = unsafe { (*device.device.as_ptr()).Descriptor };
                // SAFETY: the descriptor lives until unload.
                let dispatch =
                    unsafe { descriptor.as_ref() }.map_or(std::ptr::null(), |d| d.Dispatch);
                // SAFETY: the driver's static table.
                if let Some(remove) = unsafe { dispatch.as_ref() }.and_then(|d| d.Remove) {
                    let irp = RawBox::<IRP>::zeroed();
                    // SAFETY: a live KSDEVICE and a zeroed IRP_MJ_PNP IRP.
                    unsafe { remove(device.device.as_ptr(), irp.as_ptr()) };
                }
                self.state
                    .ks
                    .drop_emulation_header(device.header as KSOBJECT_HEADER);
            }
            self.state.avstream.lock().interfaces.clear();
            // SAFETY: the driver object lives with the kernel.
            if let Some(unload) = unsafe { (*self.state.io.driver()).DriverUnload } {
                // SAFETY: the unload contract: called once, after the devices are gone.
                unsafe { unload(self.state.io.driver()) };
            }
        }
        self.check();
    }

    /// The device interfaces registered in `category`.
    pub fn device_interfaces(&self, category: &GUID) -> Vec<DeviceInterface> {
        self.state
            .avstream
            .lock()
            .interfaces
            .iter()
            .filter(|i| i.category == *category)
            .cloned()
            .collect()
    }

    /// Opens a device interface: an IRP_MJ_CREATE named `\` + its reference string, with no
    /// related file object. Returns the filter's file.
    pub fn open_interface(&self, interface: &DeviceInterface) -> Result<crate::File, NTSTATUS> {
        let name: Vec<u8> = std::iter::once(u16::from(b'\\'))
            .chain(interface.reference.encode_utf16())
            .flat_map(u16::to_le_bytes)
            .collect();
        let outcome = self.create_root_bytes(&name);
        self.check();
        outcome
    }

    /// Creates a pin on `filter`: the name `KSSTRING_Pin\` followed by `connect` (a KSPIN_CONNECT
    /// and its KSDATAFORMAT, as raw bytes; malformed ones welcome).
    pub fn create_pin(&self, filter: crate::File, connect: &[u8]) -> Result<crate::File, NTSTATUS> {
        let mut name: Vec<u8> = KSSTRING_PIN
            .encode_utf16()
            .chain([u16::from(b'\\')])
            .flat_map(u16::to_le_bytes)
            .collect();
        name.extend_from_slice(connect);
        self.create_bytes(filter, &name)
    }

    /// An IOCTL_KS_READ_STREAM with `headers` (KSSTREAM_HEADERs whose `Data` point at buffers the
    /// caller keeps alive until the read completes) as the output buffer.
    pub fn read_stream(&self, pin: crate::File, headers: &[u8]) -> crate::AsyncIo {
        self.ioctl_async_with_output(pin, IOCTL_KS_READ_STREAM, headers)
    }
}

// ---------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------

/// The create item handler of a filter factory (`Context` = the factory index).
unsafe extern "system" fn create_filter(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    let state = current("KsDispatchIrp");
    // SAFETY: the create dispatch owns the live IRP.
    let item = unsafe { ks::ks::create_item_irp_storage(&*irp) };
    // SAFETY: the item is the device header's, live while the device is.
    let factory = unsafe { (*item).Context } as usize;
    // SAFETY: as above.
    let file = unsafe { file_of(irp) };
    let (descriptor, device) = {
        let inner = state.avstream.lock();
        let Some(device) = inner.device.as_ref() else {
            drop(inner);
            // SAFETY: the caller owns the live IRP.
            return unsafe { complete_with(irp, STATUS_INVALID_DEVICE_STATE, 0) };
        };
        let _ = &device.factories[factory].reference;
        (
            device.factories[factory].descriptor as *const KSFILTER_DESCRIPTOR,
            device.device.as_ptr(),
        )
    };
    let _ = device;
    // SAFETY: filter descriptors live until unload.
    let filter_descriptor = unsafe { &*descriptor };
    let bag = Box::new(ObjectBag::default());
    let filter = RawBox::new(KSFILTER {
        Descriptor: descriptor,
        Bag: bag_address(&bag),
        Context: std::ptr::null_mut(),
    });
    let (items, mut names) = create_items(
        &[(
            utf16(KSSTRING_PIN),
            Some(create_pin as crate::client::DispatchFn),
            filter.as_ptr().cast(),
        )],
        0,
    );
    let header = state.ks.new_emulation_header(ObjectHeader {
        items: items.as_ptr().cast(),
        item_count: 1,
        table: &OBJECT_TABLE,
        create_item: item,
    });
    let context = RawBox::new(ObjectContext {
        header,
        object: filter.as_ptr().cast(),
    });
    // SAFETY: the file object of the create is live; ks.sys owns its FsContext.
    unsafe { (*file).FsContext = context.as_ptr().cast() };
    let pointer = filter.as_ptr();
    let record = Arc::new(FilterRecord {
        filter,
        bag,
        descriptor: descriptor as usize,
        context,
        header: header as usize,
        _items: items,
        _name: names.pop().unwrap_or_else(|| RawBuffer::zeroed(0)),
        instances: Mutex::new(vec![0; filter_descriptor.PinDescriptorsCount as usize]),
    });
    {
        let mut inner = state.avstream.lock();
        inner.filters.insert(pointer as usize, record);
        inner
            .files
            .insert(file as usize, ObjectRef::Filter(pointer as usize));
    }
    // SAFETY: the driver's static dispatch table.
    if let Some(create) = unsafe { filter_descriptor.Dispatch.as_ref() }.and_then(|d| d.Create) {
        // SAFETY: a live KSFILTER and the create IRP.
        let status = unsafe { create(pointer, irp) };
        if !nt_success(status) {
            remove_filter(&state, pointer as usize, file as usize);
            // SAFETY: the caller owns the live IRP.
            return unsafe { complete_with(irp, status, 0) };
        }
    }
    // SAFETY: the caller owns the live IRP.
    unsafe { complete_with(irp, STATUS_SUCCESS, 0) }
}

fn remove_filter(state: &KernelState, filter: usize, file: usize) {
    let record = {
        let mut inner = state.avstream.lock();
        inner.files.remove(&file);
        inner.filters.remove(&filter)
    };
    if let Some(record) = record {
        state
            .ks
            .drop_emulation_header(record.header as KSOBJECT_HEADER);
        if !file_is_null(file) {
            // SAFETY: the file object is live while its close/create IRP is.
            unsafe { (*(file as *mut FILE_OBJECT)).FsContext = std::ptr::null_mut() };
        }
        // An edited descriptor is in the bag: point the filter back at the driver's first.
        // SAFETY: the KSFILTER lives with its record; the minidriver is done with it.
        unsafe { (*record.filter.as_ptr()).Descriptor = record.descriptor as *const _ };
        record.bag.free_all(state);
        let _ = (&record.filter, &record.context);
    }
}

fn file_is_null(file: usize) -> bool {
    file == 0
}

// ---------------------------------------------------------------------------------------------
// Pins
// ---------------------------------------------------------------------------------------------

/// Whether `format` satisfies `range` (GUIDs equal or the range's a wildcard; size at least the
/// range's).
fn format_matches(format: &KSDATAFORMAT, range: &KSDATAFORMAT) -> bool {
    let guid_ok = |f: &GUID, r: &GUID| *r == GUID::NULL || f == r;
    guid_ok(&format.MajorFormat, &range.MajorFormat)
        && guid_ok(&format.SubFormat, &range.SubFormat)
        && guid_ok(&format.Specifier, &range.Specifier)
        && format.FormatSize
            >= range
                .FormatSize
                .min(std::mem::size_of::<KSDATAFORMAT>() as u32)
}

/// The pin create item handler (`Context` = the KSFILTER).
unsafe extern "system" fn create_pin(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    let state = current("KsDispatchIrp");
    // SAFETY: the create dispatch owns the live IRP.
    let outcome = unsafe { build_pin(&state, irp) };
    match outcome {
        Ok(()) => {
            // SAFETY: the caller owns the live IRP.
            unsafe { complete_with(irp, STATUS_SUCCESS, 0) }
        }
        // SAFETY: as above.
        Err(status) => unsafe { complete_with(irp, status, 0) },
    }
}

/// Validates the pin create request and builds the pin.
///
/// # Safety
/// `irp` must be a live IRP_MJ_CREATE routed through a filter's pin create item.
unsafe fn build_pin(state: &KernelState, irp: *mut IRP) -> Result<(), NTSTATUS> {
    // SAFETY: the caller's guarantee.
    let item = unsafe { ks::ks::create_item_irp_storage(&*irp) };
    // SAFETY: the filter's create item lives with the filter.
    let filter = unsafe { (*item).Context }.cast::<KSFILTER>();
    let filter_record = state
        .avstream
        .filter(filter as usize)
        .ok_or(STATUS_INVALID_DEVICE_STATE)?;
    // SAFETY: as above.
    let file = unsafe { file_of(irp) };
    // SAFETY: the create's file object and its name live while the IRP does.
    let name = unsafe { (*file).FileName };
    // SAFETY: as above.
    let units = unsafe { crate::ks::units(&name) };
    let prefix = KSSTRING_PIN.encode_utf16().count() + 1;
    let byte_len = usize::from(name.Length);
    if units.len() < prefix || !equal_ignoring_case(&units[..prefix - 1], &utf16(KSSTRING_PIN)) {
        return Err(STATUS_INVALID_PARAMETER);
    }
    // SAFETY: the name buffer holds `Length` bytes.
    let bytes = unsafe { std::slice::from_raw_parts(name.Buffer.cast::<u8>(), byte_len) };
    let request = &bytes[prefix * 2..];
    let (connect, rest) =
        KSPIN_CONNECT::read_from_prefix(request).map_err(|_| STATUS_INVALID_PARAMETER)?;
    let (format, _) = KSDATAFORMAT::read_from_prefix(rest).map_err(|_| STATUS_INVALID_PARAMETER)?;
    if (format.FormatSize as usize) < std::mem::size_of::<KSDATAFORMAT>()
        || format.FormatSize as usize > rest.len()
    {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let format_bytes = &rest[..format.FormatSize as usize];
    // SAFETY: the filter's descriptor lives until unload.
    let filter_descriptor = unsafe { filter_descriptor_of(filter) };
    if connect.PinId >= filter_descriptor.PinDescriptorsCount {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let descriptor_size = (filter_descriptor.PinDescriptorSize as usize)
        .max(std::mem::size_of::<KSPIN_DESCRIPTOR_EX>());
    let descriptor = filter_descriptor
        .PinDescriptors
        .cast::<u8>()
        .wrapping_add(descriptor_size * connect.PinId as usize)
        .cast::<KSPIN_DESCRIPTOR_EX>();
    // SAFETY: PinDescriptors holds PinDescriptorsCount descriptors of PinDescriptorSize bytes.
    let pin_descriptor = unsafe { &*descriptor };
    {
        let mut instances = filter_record
            .instances
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let open = &mut instances[connect.PinId as usize];
        if *open >= pin_descriptor.InstancesPossible {
            return Err(STATUS_TOO_MANY_NODES);
        }
        *open += 1;
    }
    let release_instance = || {
        let mut instances = filter_record
            .instances
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        instances[connect.PinId as usize] -= 1;
    };
    // SAFETY: DataRanges holds DataRangesCount pointers to ranges.
    let ranges = unsafe {
        slice(
            pin_descriptor.PinDescriptor.DataRanges,
            pin_descriptor.PinDescriptor.DataRangesCount,
        )
    };
    let matched = ranges.iter().copied().find(|&range| {
        // SAFETY: each range starts with a KSDATARANGE.
        let range = unsafe { &*range.cast::<KSDATAFORMAT>() };
        format_matches(&format, range)
    });
    let Some(matched) = matched else {
        release_instance();
        return Err(STATUS_NO_MATCH);
    };
    let format_buffer = RawBuffer::from_bytes(format_bytes);
    let bag = Box::new(ObjectBag::default());
    let pin = RawBox::new(KSPIN {
        Descriptor: descriptor,
        Bag: bag_address(&bag),
        Context: std::ptr::null_mut(),
        Id: connect.PinId,
        Communication: pin_descriptor.PinDescriptor.Communication,
        ConnectionIsExternal: 1,
        ConnectionInterface: connect.Interface,
        ConnectionMedium: connect.Medium,
        ConnectionPriority: ks::avstream::KSPRIORITY {
            PriorityClass: connect.Priority.PriorityClass,
            PrioritySubClass: connect.Priority.PrioritySubClass,
        },
        ConnectionFormat: format_buffer.as_ptr().cast(),
        AttributeList: std::ptr::null_mut(),
        StreamHeaderSize: 0,
        DataFlow: pin_descriptor.PinDescriptor.DataFlow,
        DeviceState: KSSTATE_STOP,
        ResetState: 0,
        ClientState: KSSTATE_STOP,
    });
    let (items, _names) = create_items(&[], PIN_SPARE_ITEMS);
    let header = state.ks.new_emulation_header(ObjectHeader {
        items: items.as_ptr().cast(),
        item_count: PIN_SPARE_ITEMS as u32,
        table: &OBJECT_TABLE,
        create_item: item,
    });
    let context = RawBox::new(ObjectContext {
        header,
        object: pin.as_ptr().cast(),
    });
    let leading = RawBox::new(KSSTREAM_POINTER {
        Context: std::ptr::null_mut(),
        Pin: pin.as_ptr(),
        StreamHeader: std::ptr::null_mut(),
        Offset: std::ptr::null_mut(),
        OffsetIn: empty_offset(),
        OffsetOut: empty_offset(),
    });
    let pointer = pin.as_ptr();
    // SAFETY: the create's file object is live; ks.sys owns FsContext.
    unsafe { (*file).FsContext = context.as_ptr().cast() };
    let record = Arc::new(PinRecord {
        pin,
        bag,
        descriptor: descriptor as usize,
        context,
        filter: filter as usize,
        pin_id: connect.PinId,
        header: header as usize,
        _items: items,
        _name: RawBuffer::zeroed(0),
        _format: format_buffer,
        leading,
        stream: Mutex::new(Stream::default()),
        processing: ProcessingMutex::default(),
    });
    {
        let mut inner = state.avstream.lock();
        inner.pins.insert(pointer as usize, record);
        inner
            .files
            .insert(file as usize, ObjectRef::Pin(pointer as usize));
    }
    let fail = |status: NTSTATUS| {
        remove_pin(state, pointer as usize, file as usize);
        release_instance();
        Err(status)
    };
    // SAFETY: the driver's static dispatch table.
    let dispatch = unsafe { pin_descriptor.Dispatch.as_ref() };
    if let Some(set_format) = dispatch.and_then(|d| d.SetDataFormat) {
        // SAFETY: a live KSPIN, no old format, the matched range of the descriptor.
        let status = unsafe {
            set_format(
                pointer,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                matched,
                std::ptr::null(),
            )
        };
        if !nt_success(status) {
            return fail(status);
        }
    }
    if let Some(create) = dispatch.and_then(|d| d.Create) {
        // SAFETY: a live KSPIN and its create IRP.
        let status = unsafe { create(pointer, irp) };
        if !nt_success(status) {
            return fail(status);
        }
    }
    Ok(())
}

fn empty_offset() -> KSSTREAM_POINTER_OFFSET {
    KSSTREAM_POINTER_OFFSET {
        Data: std::ptr::null_mut(),
        Count: 0,
        Remaining: 0,
    }
}

fn remove_pin(state: &KernelState, pin: usize, file: usize) -> Option<Arc<PinRecord>> {
    let record = {
        let mut inner = state.avstream.lock();
        inner.files.remove(&file);
        inner.pins.remove(&pin)
    };
    if let Some(record) = &record {
        state
            .ks
            .drop_emulation_header(record.header as KSOBJECT_HEADER);
        // SAFETY: the file object is live while its close/create IRP is.
        unsafe { (*(file as *mut FILE_OBJECT)).FsContext = std::ptr::null_mut() };
        // An edited descriptor is in the bag: point the pin back at the driver's before freeing.
        // SAFETY: the KSPIN lives with its record; the minidriver is done with it.
        unsafe { (*record.pin.as_ptr()).Descriptor = record.descriptor as *const _ };
        record.bag.free_all(state);
        if let Some(filter) = state.avstream.filter(record.filter) {
            let _ = &filter.context;
        }
        let _ = (&record.context, record.pin_id);
    }
    record
}

fn pin_descriptor(pin: &PinRecord) -> &KSPIN_DESCRIPTOR_EX {
    // SAFETY: the KSPIN is live while its record is; its descriptor lives until unload.
    unsafe { pin_descriptor_of(pin.pin.as_ptr()) }
}

fn pin_state(pin: &PinRecord) -> KSSTATE {
    // SAFETY: the KSPIN is live while its record is; DeviceState is written by ks.sys only.
    unsafe { (*pin.pin.as_ptr()).DeviceState }
}

/// Steps the pin one state at a time to `target`; returns the first failure.
fn set_pin_state(state: &KernelState, pin: &Arc<PinRecord>, target: KSSTATE) -> NTSTATUS {
    // SAFETY: the driver's static dispatch table, or NULL.
    let set = unsafe { pin_descriptor(pin).Dispatch.as_ref() }.and_then(|d| d.SetDeviceState);
    let mut now = pin_state(pin);
    while now != target {
        let next = if target > now { now + 1 } else { now - 1 };
        if let Some(set) = set {
            // SAFETY: a live KSPIN; the SetDeviceState contract.
            let status = unsafe { set(pin.pin.as_ptr(), next, now) };
            if !nt_success(status) {
                return status;
            }
        }
        // SAFETY: the KSPIN is live; ks.sys owns DeviceState.
        unsafe { (*pin.pin.as_ptr()).DeviceState = next };
        // SAFETY: as above.
        unsafe { (*pin.pin.as_ptr()).ClientState = next };
        now = next;
        if now == KSSTATE_STOP {
            flush_queue(state, pin);
        }
    }
    if now == KSSTATE_RUN || now == KSSTATE_PAUSE {
        attempt_processing(state, pin, false);
    }
    STATUS_SUCCESS
}

/// Completes every queued read not held by a clone with STATUS_CANCELLED.
fn flush_queue(_state: &KernelState, pin: &PinRecord) {
    let reads: Vec<usize> = {
        let mut stream = pin.stream.lock().unwrap_or_else(|e| e.into_inner());
        let held: Vec<usize> = stream
            .frames
            .iter()
            .filter(|f| f.clones > 0)
            .map(|f| f.irp)
            .collect();
        let reads: Vec<usize> = stream
            .reads
            .keys()
            .copied()
            .filter(|irp| !held.contains(irp))
            .collect();
        for irp in &reads {
            stream.reads.remove(irp);
        }
        for irp in &held {
            if let Some(read) = stream.reads.get_mut(irp) {
                read.cancelled = true;
            }
        }
        stream.frames.retain(|f| held.contains(&f.irp));
        stream.leading = stream.frames.len();
        stream.leading_locked = false;
        reads
    };
    for irp in reads {
        // SAFETY: a queued read the pin owns; the cancel routine is cleared first.
        unsafe { finish_read(irp as *mut IRP, STATUS_CANCELLED, 0) };
    }
}

/// Clears the cancel routine (unless the cancel path already took it) and completes.
///
/// # Safety
/// `irp` must be a live read IRP the pin owns.
unsafe fn finish_read(irp: *mut IRP, status: NTSTATUS, information: usize) {
    let slot: *mut *mut c_void = crate::memory::field_ptr!(irp, IRP, CancelRoutine);
    // SAFETY: the IRP is live; CancelRoutine is exchanged atomically by everyone.
    unsafe { std::sync::atomic::AtomicPtr::from_ptr(slot) }
        .store(std::ptr::null_mut(), std::sync::atomic::Ordering::Release);
    // SAFETY: the caller owns the live IRP.
    unsafe { complete_with(irp, status, information) };
}

// ---------------------------------------------------------------------------------------------
// Dispatch: device control and close
// ---------------------------------------------------------------------------------------------

unsafe extern "system" fn dispatch_close(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    let state = current("KsDispatchIrp");
    // SAFETY: the dispatch routine owns the live IRP.
    let file = unsafe { file_of(irp) } as usize;
    let object = {
        let inner = state.avstream.lock();
        match inner.files.get(&file) {
            Some(ObjectRef::Filter(f)) => Some((true, *f)),
            Some(ObjectRef::Pin(p)) => Some((false, *p)),
            None => None,
        }
    };
    match object {
        None => {
            // SAFETY: the caller owns the live IRP.
            unsafe { complete_with(irp, STATUS_INVALID_DEVICE_REQUEST, 0) }
        }
        Some((true, filter)) => {
            // SAFETY: descriptors and their dispatch tables live until unload.
            let dispatch = unsafe { filter_descriptor_of(filter as *mut KSFILTER) }.Dispatch;
            // SAFETY: the driver's static dispatch table, or NULL.
            let close = unsafe { dispatch.as_ref() }.and_then(|d| d.Close);
            if let Some(close) = close {
                // SAFETY: a live KSFILTER and its close IRP.
                unsafe { close(filter as *mut KSFILTER, irp) };
            }
            remove_filter(&state, filter, file);
            // SAFETY: the caller owns the live IRP.
            unsafe { complete_with(irp, STATUS_SUCCESS, 0) }
        }
        Some((false, pin)) => {
            let Some(record) = state.avstream.pin(pin as *mut KSPIN) else {
                // SAFETY: as above.
                return unsafe { complete_with(irp, STATUS_INVALID_DEVICE_REQUEST, 0) };
            };
            let _ = set_pin_state(&state, &record, KSSTATE_STOP);
            // Whatever the state dispatch said, the pin is stopped when it closes.
            // SAFETY: the KSPIN is live until removed below.
            unsafe { (*record.pin.as_ptr()).DeviceState = KSSTATE_STOP };
            flush_queue(&state, &record);
            // SAFETY: the driver's static dispatch table.
            let close = unsafe { pin_descriptor(&record).Dispatch.as_ref() }.and_then(|d| d.Close);
            if let Some(close) = close {
                // SAFETY: a live KSPIN and its close IRP.
                unsafe { close(record.pin.as_ptr(), irp) };
            }
            if let Some(filter) = state.avstream.filter(record.filter) {
                let mut instances = filter.instances.lock().unwrap_or_else(|e| e.into_inner());
                instances[record.pin_id as usize] -= 1;
            }
            remove_pin(&state, pin, file);
            // SAFETY: as above.
            unsafe { complete_with(irp, STATUS_SUCCESS, 0) }
        }
    }
}

unsafe extern "system" fn dispatch_device_control(
    _device: *mut DEVICE_OBJECT,
    irp: *mut IRP,
) -> NTSTATUS {
    let state = current("KsDispatchIrp");
    // SAFETY: the dispatch routine owns the live IRP.
    let stack: &IO_STACK_LOCATION = unsafe { stack_of(irp) };
    let file = stack.FileObject as usize;
    // SAFETY: a device control's parameters are DeviceIoControl.
    let parameters = unsafe { stack.Parameters.DeviceIoControl };
    let object = {
        let inner = state.avstream.lock();
        match inner.files.get(&file) {
            Some(ObjectRef::Filter(f)) => Some((true, *f)),
            Some(ObjectRef::Pin(p)) => Some((false, *p)),
            None => None,
        }
    };
    let Some((is_filter, object)) = object else {
        // SAFETY: the caller owns the live IRP.
        return unsafe { complete_with(irp, STATUS_INVALID_DEVICE_REQUEST, 0) };
    };
    match parameters.IoControlCode {
        IOCTL_KS_PROPERTY => {
            // SAFETY: the caller owns the live IRP.
            unsafe { property(&state, irp, is_filter, object) }
        }
        IOCTL_KS_READ_STREAM if !is_filter => {
            // SAFETY: as above.
            unsafe { read_stream(&state, irp, object) }
        }
        // SAFETY: as above.
        _ => unsafe { complete_with(irp, STATUS_INVALID_DEVICE_REQUEST, 0) },
    }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// What a property request resolved to.
enum Answer {
    /// Bytes to return (size protocol applied by the caller).
    Data(Vec<u8>),
    /// A final status (and Information).
    Status(NTSTATUS, usize),
}

/// Finds `id` of `set` in an automation table: Ok(item) / Err(true: set found, id not).
///
/// # Safety
/// `table` must be NULL or a live automation table.
unsafe fn find_item(
    table: *const KSAUTOMATION_TABLE,
    set: &GUID,
    id: u32,
) -> Result<*const KSPROPERTY_ITEM, bool> {
    // SAFETY: the caller's guarantee.
    let Some(table) = (unsafe { table.as_ref() }) else {
        return Err(false);
    };
    // SAFETY: PropertySets holds PropertySetsCount sets.
    let sets: &[KSPROPERTY_SET] = unsafe { slice(table.PropertySets, table.PropertySetsCount) };
    let item_size = (table.PropertyItemSize as usize).max(std::mem::size_of::<KSPROPERTY_ITEM>());
    for candidate in sets {
        // SAFETY: each set's GUID pointer is live.
        if unsafe { candidate.Set.as_ref() } != Some(set) {
            continue;
        }
        for index in 0..candidate.PropertiesCount as usize {
            let item = candidate
                .PropertyItem
                .cast::<u8>()
                .wrapping_add(index * item_size)
                .cast::<KSPROPERTY_ITEM>();
            // SAFETY: PropertyItem holds PropertiesCount items of PropertyItemSize bytes.
            if unsafe { (*item).PropertyId } == id {
                return Ok(item);
            }
        }
        return Err(true);
    }
    Err(false)
}

/// IOCTL_KS_PROPERTY on a filter or a pin.
///
/// # Safety
/// `irp` must be a live METHOD_NEITHER device control the caller owns.
unsafe fn property(state: &KernelState, irp: *mut IRP, is_filter: bool, object: usize) -> NTSTATUS {
    // SAFETY: the caller's guarantee.
    let stack = unsafe { stack_of(irp) };
    // SAFETY: as above.
    let parameters = unsafe { stack.Parameters.DeviceIoControl };
    let input_len = parameters.InputBufferLength as usize;
    let output_len = parameters.OutputBufferLength as usize;
    let input: &[u8] = if parameters.Type3InputBuffer.is_null() {
        &[]
    } else {
        // SAFETY: METHOD_NEITHER: the input buffer holds InputBufferLength bytes.
        unsafe { std::slice::from_raw_parts(parameters.Type3InputBuffer.cast::<u8>(), input_len) }
    };
    // SAFETY: as above.
    let output = unsafe { (*irp).UserBuffer };
    let Ok((request, _)) = KSIDENTIFIER::read_from_prefix(input) else {
        // SAFETY: the caller owns the live IRP.
        return unsafe { complete_with(irp, STATUS_INVALID_BUFFER_SIZE, 0) };
    };
    // The minidriver's automation table first.
    let table = if is_filter {
        // SAFETY: a live KSFILTER; its descriptor lives until unload.
        unsafe { filter_descriptor_of(object as *mut KSFILTER) }.AutomationTable
    } else {
        // SAFETY: a live KSPIN; its descriptor lives until unload.
        unsafe { pin_descriptor_of(object as *mut KSPIN) }.AutomationTable
    };
    // SAFETY: the table is the driver's static or NULL.
    let found = unsafe { find_item(table, &request.Set, request.Id) };
    let mut set_known = false;
    if request.Flags & KSPROPERTY_TYPE_SETSUPPORT != 0 {
        let builtin = if is_filter {
            request.Set == KSPropsetId::PIN
        } else {
            request.Set == KSPropsetId::CONNECTION || request.Set == KSPropsetId::STREAM
        };
        let status = if builtin || matches!(found, Ok(_) | Err(true)) {
            STATUS_SUCCESS
        } else {
            STATUS_PROPSET_NOT_FOUND
        };
        // SAFETY: the caller owns the live IRP.
        return unsafe { complete_with(irp, status, 0) };
    }
    if request.Flags & KSPROPERTY_TYPE_BASICSUPPORT != 0 {
        let access = match found {
            Ok(item) => {
                // SAFETY: a live property item.
                let item = unsafe { &*item };
                if let Some(support) = item.SupportHandler {
                    // SAFETY: the caller owns the IRP; Information starts at 0.
                    unsafe { (*irp).IoStatus.Information = 0 };
                    // SAFETY: the PFNKSHANDLER contract, as for GET/SET.
                    let status =
                        unsafe { support(irp, parameters.Type3InputBuffer.cast(), output) };
                    if status == STATUS_PENDING {
                        return status;
                    }
                    // SAFETY: as above.
                    let information = unsafe { (*irp).IoStatus.Information };
                    // SAFETY: as above.
                    return unsafe { complete_with(irp, status, information) };
                }
                let mut access = KSPROPERTY_TYPE_BASICSUPPORT;
                if item.GetPropertyHandler.is_some() {
                    access |= KSPROPERTY_TYPE_GET;
                }
                if item.SetPropertyHandler.is_some() {
                    access |= KSPROPERTY_TYPE_SET;
                }
                Some(access)
            }
            Err(_) => builtin_access(is_filter, &request),
        };
        let Some(access) = access else {
            // SAFETY: the caller owns the live IRP.
            return unsafe { complete_with(irp, STATUS_NOT_FOUND, 0) };
        };
        // SAFETY: the caller's guarantee: the live request and its output buffer.
        return unsafe { basic_support_answer(irp, access, output_len, output) };
    }
    match found {
        Ok(item) => {
            // SAFETY: a live property item.
            let item = unsafe { &*item };
            let handler = if request.Flags & KSPROPERTY_TYPE_SET != 0 {
                item.SetPropertyHandler
            } else {
                item.GetPropertyHandler
            };
            let Some(handler) = handler else {
                // SAFETY: the caller owns the live IRP.
                return unsafe { complete_with(irp, STATUS_NOT_FOUND, 0) };
            };
            if input_len < (item.MinProperty as usize).max(std::mem::size_of::<KSIDENTIFIER>()) {
                // SAFETY: as above.
                return unsafe { complete_with(irp, STATUS_INVALID_BUFFER_SIZE, 0) };
            }
            let min_data = item.MinData as usize;
            if output_len == 0 && min_data > 0 {
                // SAFETY: as above.
                return unsafe { complete_with(irp, STATUS_BUFFER_OVERFLOW, min_data) };
            }
            if output_len < min_data {
                // SAFETY: as above.
                return unsafe { complete_with(irp, STATUS_BUFFER_TOO_SMALL, min_data) };
            }
            // SAFETY: the caller owns the IRP; Information starts at 0 for the handler.
            unsafe { (*irp).IoStatus.Information = 0 };
            // SAFETY: the PFNKSHANDLER contract: the IRP, the request (in the input buffer) and
            // the data (the output buffer).
            let status = unsafe { handler(irp, parameters.Type3InputBuffer.cast(), output) };
            if status == STATUS_PENDING {
                return status;
            }
            // SAFETY: as above.
            let information = unsafe { (*irp).IoStatus.Information };
            // SAFETY: as above.
            return unsafe { complete_with(irp, status, information) };
        }
        Err(known) => set_known |= known,
    }
    // ks.sys's own sets.
    let answer = if is_filter && request.Set == KSPropsetId::PIN {
        // SAFETY: a live KSFILTER.
        unsafe {
            filter_pin_property(
                state,
                irp,
                object as *mut KSFILTER,
                &request,
                input,
                output_len,
                output,
            )
        }
    } else if !is_filter && request.Set == KSPropsetId::CONNECTION {
        let Some(pin) = state.avstream.pin(object as *mut KSPIN) else {
            // SAFETY: the caller owns the live IRP.
            return unsafe { complete_with(irp, STATUS_INVALID_DEVICE_REQUEST, 0) };
        };
        connection_property(state, &pin, &request, input, output_len, output)
    } else if !is_filter && request.Set == KSPropsetId::STREAM {
        let Some(pin) = state.avstream.pin(object as *mut KSPIN) else {
            // SAFETY: as above.
            return unsafe { complete_with(irp, STATUS_INVALID_DEVICE_REQUEST, 0) };
        };
        stream_property(&pin, &request, output_len, output)
    } else if set_known {
        Answer::Status(STATUS_NOT_FOUND, 0)
    } else {
        Answer::Status(STATUS_PROPSET_NOT_FOUND, 0)
    };
    match answer {
        // SAFETY: the caller owns the live IRP.
        Answer::Status(status, information) => unsafe { complete_with(irp, status, information) },
        Answer::Data(bytes) => {
            if output_len == 0 {
                // SAFETY: as above.
                return unsafe { complete_with(irp, STATUS_BUFFER_OVERFLOW, bytes.len()) };
            }
            if output_len < bytes.len() {
                // SAFETY: as above.
                return unsafe { complete_with(irp, STATUS_BUFFER_TOO_SMALL, bytes.len()) };
            }
            // SAFETY: METHOD_NEITHER: the output buffer holds OutputBufferLength bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), output.cast::<u8>(), bytes.len())
            };
            // SAFETY: as above.
            unsafe { complete_with(irp, STATUS_SUCCESS, bytes.len()) }
        }
    }
}

/// The access flags of ks.sys's own properties (None: not one of them).
fn builtin_access(is_filter: bool, request: &KSIDENTIFIER) -> Option<u32> {
    let get = KSPROPERTY_TYPE_BASICSUPPORT | KSPROPERTY_TYPE_GET;
    let get_set = get | KSPROPERTY_TYPE_SET;
    match (is_filter, request.Set, request.Id) {
        (true, KSPropsetId::PIN, id) if id <= KSPROPERTY_PIN_NAME => Some(get),
        (false, KSPropsetId::CONNECTION, KSPROPERTY_CONNECTION_STATE) => Some(get_set),
        (false, KSPropsetId::CONNECTION, KSPROPERTY_CONNECTION_DATAFORMAT)
        | (false, KSPropsetId::CONNECTION, KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX) => Some(get),
        (false, KSPropsetId::STREAM, KSPROPERTY_STREAM_ALLOCATOR) => Some(get_set),
        _ => None,
    }
}

/// Completes a BASICSUPPORT request without a support handler: a KSPROPERTY_DESCRIPTION
/// (structure-valued, no members) when the buffer holds one, else the ULONG access flags, as the
/// KS property documentation describes.
///
/// # Safety
/// `irp` must be a live METHOD_NEITHER request the caller owns, `output` its output buffer of
/// `output_len` bytes.
unsafe fn basic_support_answer(
    irp: *mut IRP,
    access: u32,
    output_len: usize,
    output: *mut c_void,
) -> NTSTATUS {
    let description_size = std::mem::size_of::<KSPROPERTY_DESCRIPTION>();
    if output_len >= description_size {
        let description = KSPROPERTY_DESCRIPTION {
            AccessFlags: access,
            DescriptionSize: description_size as u32,
            PropTypeSet: KSIDENTIFIER {
                Set: KSPROPTYPESETID_General,
                Id: VT_EMPTY,
                Flags: 0,
            },
            MembersListCount: 0,
            Reserved: 0,
        };
        // SAFETY: METHOD_NEITHER: the output buffer holds OutputBufferLength bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                description.as_bytes().as_ptr(),
                output.cast::<u8>(),
                description_size,
            )
        };
        // SAFETY: the caller owns the live IRP.
        return unsafe { complete_with(irp, STATUS_SUCCESS, description_size) };
    }
    if output_len >= 4 {
        // SAFETY: as above (at least 4 bytes).
        unsafe { output.cast::<u32>().write_unaligned(access) };
        // SAFETY: as above.
        return unsafe { complete_with(irp, STATUS_SUCCESS, 4) };
    }
    if output_len == 0 {
        // SAFETY: as above.
        return unsafe { complete_with(irp, STATUS_BUFFER_OVERFLOW, description_size) };
    }
    // SAFETY: as above.
    unsafe { complete_with(irp, STATUS_BUFFER_TOO_SMALL, description_size) }
}

/// The property set GUIDs ks.sys answers.
struct KSPropsetId;
impl KSPropsetId {
    const PIN: GUID = KSPROPSETID_Pin;
    const CONNECTION: GUID = KSPROPSETID_Connection;
    const STREAM: GUID = KSPROPSETID_Stream;
}

fn pad8(bytes: &mut Vec<u8>) {
    while bytes.len() % 8 != 0 {
        bytes.push(0);
    }
}

/// KSPROPSETID_Pin on a filter.
///
/// # Safety
/// `filter` must be a live KSFILTER; `irp` its live request; `output` valid for `output_len`.
unsafe fn filter_pin_property(
    state: &KernelState,
    irp: *mut IRP,
    filter: *mut KSFILTER,
    request: &KSIDENTIFIER,
    input: &[u8],
    output_len: usize,
    output: *mut c_void,
) -> Answer {
    if request.Flags & KSPROPERTY_TYPE_GET == 0 {
        return Answer::Status(STATUS_INVALID_DEVICE_REQUEST, 0);
    }
    // SAFETY: the caller's guarantee; descriptors live until unload.
    let descriptor = unsafe { filter_descriptor_of(filter) };
    if request.Id == KSPROPERTY_PIN_CTYPES {
        return Answer::Data(descriptor.PinDescriptorsCount.to_le_bytes().to_vec());
    }
    let Ok((pin_request, _)) = KSP_PIN::read_from_prefix(input) else {
        return Answer::Status(STATUS_INVALID_BUFFER_SIZE, 0);
    };
    if pin_request.PinId >= descriptor.PinDescriptorsCount {
        return Answer::Status(STATUS_INVALID_PARAMETER, 0);
    }
    let size =
        (descriptor.PinDescriptorSize as usize).max(std::mem::size_of::<KSPIN_DESCRIPTOR_EX>());
    let pin_descriptor = descriptor
        .PinDescriptors
        .cast::<u8>()
        .wrapping_add(size * pin_request.PinId as usize)
        .cast::<KSPIN_DESCRIPTOR_EX>();
    // SAFETY: PinDescriptors holds PinDescriptorsCount descriptors.
    let pin_descriptor = unsafe { &*pin_descriptor };
    // SAFETY: DataRanges holds DataRangesCount range pointers.
    let ranges = unsafe {
        slice(
            pin_descriptor.PinDescriptor.DataRanges,
            pin_descriptor.PinDescriptor.DataRangesCount,
        )
    };
    let range_bytes = |range: *const c_void| -> &[u8] {
        // SAFETY: each range starts with a KSDATARANGE whose FormatSize covers it.
        let size = unsafe { (*range.cast::<KSDATAFORMAT>()).FormatSize } as usize;
        // SAFETY: as above.
        unsafe { std::slice::from_raw_parts(range.cast::<u8>(), size) }
    };
    match request.Id {
        KSPROPERTY_PIN_CINSTANCES => {
            let current = state.avstream.filter(filter as usize).map_or(0, |f| {
                f.instances.lock().unwrap_or_else(|e| e.into_inner())[pin_request.PinId as usize]
            });
            Answer::Data(
                KSPIN_CINSTANCES {
                    PossibleCount: pin_descriptor.InstancesPossible,
                    CurrentCount: current,
                }
                .as_bytes()
                .to_vec(),
            )
        }
        KSPROPERTY_PIN_DATAFLOW => {
            Answer::Data(pin_descriptor.PinDescriptor.DataFlow.to_le_bytes().to_vec())
        }
        KSPROPERTY_PIN_COMMUNICATION => Answer::Data(
            pin_descriptor
                .PinDescriptor
                .Communication
                .to_le_bytes()
                .to_vec(),
        ),
        KSPROPERTY_PIN_CATEGORY => {
            // SAFETY: Category is NULL or a live GUID.
            match unsafe { pin_descriptor.PinDescriptor.Category.as_ref() } {
                Some(guid) => Answer::Data(guid.as_bytes().to_vec()),
                None => Answer::Status(STATUS_NOT_FOUND, 0),
            }
        }
        KSPROPERTY_PIN_INTERFACES | KSPROPERTY_PIN_MEDIUMS => {
            let interfaces = request.Id == KSPROPERTY_PIN_INTERFACES;
            let (count, first) = if interfaces {
                (
                    pin_descriptor.PinDescriptor.InterfacesCount,
                    pin_descriptor.PinDescriptor.Interfaces,
                )
            } else {
                (
                    pin_descriptor.PinDescriptor.MediumsCount,
                    pin_descriptor.PinDescriptor.Mediums,
                )
            };
            // SAFETY: the descriptor's list holds `count` identifiers.
            let mut items: Vec<KSIDENTIFIER> = unsafe { slice(first, count) }.to_vec();
            if items.is_empty() {
                // A pin that lists none supports the standard one (the documented default).
                items.push(KSIDENTIFIER {
                    Set: if interfaces {
                        KSINTERFACESETID_Standard
                    } else {
                        KSMEDIUMSETID_Standard
                    },
                    Id: 0,
                    Flags: 0,
                });
            }
            let mut bytes = KSMULTIPLE_ITEM {
                Size: (8 + items.len() * std::mem::size_of::<KSIDENTIFIER>()) as u32,
                Count: items.len() as u32,
            }
            .as_bytes()
            .to_vec();
            for item in &items {
                bytes.extend_from_slice(item.as_bytes());
            }
            Answer::Data(bytes)
        }
        KSPROPERTY_PIN_NAME => {
            // SAFETY: Name and Category are NULL or live GUIDs.
            let name = pin_descriptor.PinDescriptor.Name;
            let guid_pointer = if name.is_null() {
                pin_descriptor.PinDescriptor.Category
            } else {
                name
            };
            // SAFETY: Name and Category are NULL or live GUIDs.
            let guid = unsafe { guid_pointer.as_ref() };
            match guid {
                Some(guid) => {
                    let mut bytes: Vec<u8> = guid_string(guid)
                        .iter()
                        .flat_map(|u| u.to_le_bytes())
                        .collect();
                    bytes.extend_from_slice(&[0, 0]);
                    Answer::Data(bytes)
                }
                None => Answer::Status(STATUS_NOT_FOUND, 0),
            }
        }
        KSPROPERTY_PIN_DATARANGES => {
            let mut body = Vec::new();
            for &range in ranges {
                body.extend_from_slice(range_bytes(range));
                pad8(&mut body);
            }
            let mut bytes = KSMULTIPLE_ITEM {
                Size: (8 + body.len()) as u32,
                Count: ranges.len() as u32,
            }
            .as_bytes()
            .to_vec();
            bytes.extend_from_slice(&body);
            Answer::Data(bytes)
        }
        KSPROPERTY_PIN_DATAINTERSECTION => {
            let rest = &input[std::mem::size_of::<KSP_PIN>()..];
            let Ok((list, mut client)) = KSMULTIPLE_ITEM::read_from_prefix(rest) else {
                return Answer::Status(STATUS_INVALID_BUFFER_SIZE, 0);
            };
            let Some(handler) = pin_descriptor.IntersectHandler else {
                return Answer::Status(STATUS_NO_MATCH, 0);
            };
            for _ in 0..list.Count {
                let Ok((range, _)) = KSDATAFORMAT::read_from_prefix(client) else {
                    return Answer::Status(STATUS_INVALID_BUFFER_SIZE, 0);
                };
                let size = range.FormatSize as usize;
                if size < std::mem::size_of::<KSDATAFORMAT>() || size > client.len() {
                    return Answer::Status(STATUS_INVALID_BUFFER_SIZE, 0);
                }
                let client_range = RawBuffer::from_bytes(&client[..size]);
                for &pin_range in ranges {
                    // SAFETY: each range starts with a KSDATARANGE.
                    let pin_header = unsafe { &*pin_range.cast::<KSDATAFORMAT>() };
                    let guid_ok =
                        |a: &GUID, b: &GUID| *a == GUID::NULL || *b == GUID::NULL || a == b;
                    if !(guid_ok(&range.MajorFormat, &pin_header.MajorFormat)
                        && guid_ok(&range.SubFormat, &pin_header.SubFormat)
                        && guid_ok(&range.Specifier, &pin_header.Specifier))
                    {
                        continue;
                    }
                    let mut data_size = 0u32;
                    // SAFETY: the PFNKSINTERSECTHANDLEREX contract: the filter as context, the
                    // IRP, the KSP_PIN (in the input buffer), the client's and the pin's range,
                    // the output buffer and its size, and where to write the size.
                    let status = unsafe {
                        handler(
                            filter.cast(),
                            irp,
                            input.as_ptr().cast_mut().cast(),
                            client_range.as_ptr().cast(),
                            pin_range.cast_mut(),
                            output_len as u32,
                            if output_len == 0 {
                                std::ptr::null_mut()
                            } else {
                                output
                            },
                            &mut data_size,
                        )
                    };
                    if status == STATUS_NO_MATCH {
                        continue;
                    }
                    return Answer::Status(status, data_size as usize);
                }
                let advance = (size + 7) & !7;
                client = client.get(advance..).unwrap_or(&[]);
            }
            Answer::Status(STATUS_NO_MATCH, 0)
        }
        _ => Answer::Status(STATUS_NOT_FOUND, 0),
    }
}

/// KSPROPSETID_Connection on a pin.
fn connection_property(
    state: &KernelState,
    pin: &Arc<PinRecord>,
    request: &KSIDENTIFIER,
    input: &[u8],
    output_len: usize,
    output: *mut c_void,
) -> Answer {
    match request.Id {
        KSPROPERTY_CONNECTION_STATE if request.Flags & KSPROPERTY_TYPE_SET != 0 => {
            // The new state travels in the output buffer (a SET's data).
            if output_len < 4 {
                return Answer::Status(STATUS_BUFFER_TOO_SMALL, 4);
            }
            let _ = input;
            // SAFETY: METHOD_NEITHER: the data buffer holds OutputBufferLength (>= 4) bytes.
            let target = unsafe { output.cast::<u32>().read_unaligned() };
            if target > KSSTATE_RUN {
                return Answer::Status(STATUS_INVALID_PARAMETER, 0);
            }
            let status = set_pin_state(state, pin, target);
            Answer::Status(status, 0)
        }
        KSPROPERTY_CONNECTION_STATE => Answer::Data(pin_state(pin).to_le_bytes().to_vec()),
        KSPROPERTY_CONNECTION_DATAFORMAT if request.Flags & KSPROPERTY_TYPE_GET != 0 => {
            // SAFETY: the KSPIN is live; ConnectionFormat is the emulation's copy, FormatSize long.
            let format = unsafe { (*pin.pin.as_ptr()).ConnectionFormat }.cast::<u8>();
            // SAFETY: as above.
            let size = unsafe { format.cast::<KSDATAFORMAT>().read_unaligned() }.FormatSize;
            // SAFETY: as above.
            let bytes = unsafe { std::slice::from_raw_parts(format, size as usize) };
            Answer::Data(bytes.to_vec())
        }
        KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX => {
            // The pin's own descriptor: the driver's, or the copy it made with KsEdit.
            let framing = pin_descriptor(pin).AllocatorFraming;
            if framing.is_null() {
                return Answer::Status(STATUS_NOT_FOUND, 0);
            }
            // SAFETY: a framing descriptor of the driver (live until unload) or a copy in the
            // pin's bag (live until the pin closes).
            let count = unsafe { (*framing).CountItems }.max(1) as usize;
            let size = std::mem::size_of::<KSALLOCATOR_FRAMING_EX>()
                + (count - 1) * std::mem::size_of::<KS_FRAMING_ITEM>();
            // SAFETY: the descriptor holds CountItems framing items.
            let bytes = unsafe { std::slice::from_raw_parts(framing.cast::<u8>(), size) };
            Answer::Data(bytes.to_vec())
        }
        _ => Answer::Status(STATUS_NOT_FOUND, 0),
    }
}

/// KSPROPSETID_Stream on a pin.
fn stream_property(
    pin: &PinRecord,
    request: &KSIDENTIFIER,
    output_len: usize,
    output: *mut c_void,
) -> Answer {
    if request.Id != KSPROPERTY_STREAM_ALLOCATOR {
        return Answer::Status(STATUS_NOT_FOUND, 0);
    }
    let handle_size = std::mem::size_of::<usize>();
    let mut stream = pin.stream.lock().unwrap_or_else(|e| e.into_inner());
    if request.Flags & KSPROPERTY_TYPE_SET != 0 {
        // A SET's data (the HANDLE) travels in the output buffer, as for every property.
        if output_len < handle_size {
            return Answer::Status(STATUS_BUFFER_TOO_SMALL, handle_size);
        }
        // SAFETY: METHOD_NEITHER: the data buffer holds OutputBufferLength (>= 8) bytes.
        stream.allocator = unsafe { output.cast::<usize>().read_unaligned() };
        return Answer::Status(STATUS_SUCCESS, 0);
    }
    Answer::Data(stream.allocator.to_le_bytes().to_vec())
}

// ---------------------------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------------------------

/// IOCTL_KS_READ_STREAM on a pin.
///
/// # Safety
/// `irp` must be a live METHOD_NEITHER device control the caller owns.
unsafe fn read_stream(state: &KernelState, irp: *mut IRP, pin: usize) -> NTSTATUS {
    let Some(record) = state.avstream.pin(pin as *mut KSPIN) else {
        // SAFETY: the caller owns the live IRP.
        return unsafe { complete_with(irp, STATUS_INVALID_DEVICE_REQUEST, 0) };
    };
    let device_state = pin_state(&record);
    if device_state == KSSTATE_STOP || device_state == KSSTATE_ACQUIRE {
        // SAFETY: as above.
        return unsafe { complete_with(irp, STATUS_INVALID_DEVICE_STATE, 0) };
    }
    // SAFETY: the caller's guarantee.
    let stack = unsafe { stack_of(irp) };
    // SAFETY: a device control's parameters are DeviceIoControl.
    let parameters = unsafe { stack.Parameters.DeviceIoControl };
    let output_len = parameters.OutputBufferLength as usize;
    let header_size = std::mem::size_of::<KSSTREAM_HEADER>();
    // SAFETY: as above.
    let headers = unsafe { (*irp).UserBuffer }.cast::<u8>();
    if output_len < header_size || headers.is_null() {
        // SAFETY: as above.
        return unsafe { complete_with(irp, STATUS_INVALID_BUFFER_SIZE, 0) };
    }
    // Walk the headers by their Size: each at least the pin's StreamHeaderSize (a KSSTREAM_HEADER
    // when 0) and inside the buffer, else STATUS_INVALID_BUFFER_SIZE (guess: ks.sys validates the
    // headers before queuing; its exact status is not documented).
    // SAFETY: the KSPIN is live while its record is; the minidriver sets StreamHeaderSize in Create.
    let wanted = (unsafe { (*record.pin.as_ptr()).StreamHeaderSize } as usize).max(header_size);
    let mut frames = Vec::new();
    let mut offset = 0;
    while offset < output_len {
        let header = headers.wrapping_add(offset).cast::<KSSTREAM_HEADER>();
        if offset + header_size > output_len {
            // SAFETY: the caller owns the live IRP.
            return unsafe { complete_with(irp, STATUS_INVALID_BUFFER_SIZE, 0) };
        }
        // SAFETY: METHOD_NEITHER: the output buffer holds OutputBufferLength bytes.
        let size = unsafe { header.read_unaligned() }.Size as usize;
        if size < wanted || offset + size > output_len {
            // SAFETY: as above.
            return unsafe { complete_with(irp, STATUS_INVALID_BUFFER_SIZE, 0) };
        }
        frames.push(header);
        offset += size;
    }
    // Pending and cancellable before anyone else can see (and complete) the IRP.
    // SAFETY: the caller owns the IRP; pending is marked before it can complete elsewhere.
    unsafe { kernel_irp_mark_pending(irp) };
    let slot: *mut *mut c_void = crate::memory::field_ptr!(irp, IRP, CancelRoutine);
    let routine: unsafe extern "system" fn(*mut DEVICE_OBJECT, *mut IRP) = cancel_read;
    // SAFETY: the IRP is live; CancelRoutine is exchanged atomically by everyone.
    unsafe { std::sync::atomic::AtomicPtr::from_ptr(slot) }
        .store(routine as *mut c_void, std::sync::atomic::Ordering::Release);
    {
        let mut stream = record.stream.lock().unwrap_or_else(|e| e.into_inner());
        stream.reads.insert(
            irp as usize,
            QueuedRead {
                frames_left: frames.len(),
                output_len,
                cancelled: false,
            },
        );
        for header in frames {
            stream.frames.push_back(Frame {
                irp: irp as usize,
                header,
                released: false,
                clones: 0,
            });
        }
    }
    if pin_descriptor(&record).Flags & KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING == 0 {
        attempt_processing(state, &record, false);
    }
    STATUS_PENDING
}

/// `IoMarkIrpPending`.
///
/// # Safety
/// `irp` must be a live IRP the caller owns.
unsafe fn kernel_irp_mark_pending(irp: *mut IRP) {
    // SAFETY: the caller's guarantee.
    let stack = unsafe { stack_location(irp) };
    // SAFETY: the stack location is inside the live IRP.
    unsafe { (*stack).Control |= ks::nt::SL_PENDING_RETURNED };
}

/// The cancel routine of queued reads: removes the IRP's frames (unless a clone holds one) and
/// completes it with STATUS_CANCELLED.
unsafe extern "system" fn cancel_read(_device: *mut DEVICE_OBJECT, irp: *mut IRP) {
    // SAFETY: the cancel routine contract: the cancel spin lock is held; CancelIrql is set.
    let irql = unsafe { (*irp).CancelIrql };
    // SAFETY: held by this thread per the contract.
    unsafe { crate::services::IoReleaseCancelSpinLock(irql) };
    let state = current("IoCancelIrp");
    let pins: Vec<Arc<PinRecord>> = state.avstream.lock().pins.values().cloned().collect();
    for pin in pins {
        let mut stream = pin.stream.lock().unwrap_or_else(|e| e.into_inner());
        if !stream.reads.contains_key(&(irp as usize)) {
            continue;
        }
        let held = stream
            .frames
            .iter()
            .any(|f| f.irp == irp as usize && f.clones > 0);
        if held {
            if let Some(read) = stream.reads.get_mut(&(irp as usize)) {
                read.cancelled = true;
            }
            return;
        }
        stream.reads.remove(&(irp as usize));
        let before = stream.frames.len();
        let leading = stream.leading;
        let removed_before_leading = stream
            .frames
            .iter()
            .take(leading)
            .filter(|f| f.irp == irp as usize)
            .count();
        stream.frames.retain(|f| f.irp != irp as usize);
        stream.leading = leading - removed_before_leading;
        let _ = before;
        drop(stream);
        // SAFETY: the cancel routine owns the IRP now (the routine slot is already cleared).
        unsafe { complete_with(irp, STATUS_CANCELLED, 0) };
        return;
    }
}

/// Points the leading edge at frame `index` (or at nothing).
fn aim_leading(pin: &PinRecord, stream: &Stream) {
    let pointer = pin.leading.as_ptr();
    let (header, offset) = match stream.frames.get(stream.leading) {
        Some(frame) => {
            // SAFETY: the header lives in the queued IRP's output buffer.
            let value = unsafe { frame.header.read_unaligned() };
            let used = value.DataUsed.min(value.FrameExtent);
            (
                frame.header.cast::<c_void>(),
                KSSTREAM_POINTER_OFFSET {
                    Data: (value.Data as usize as *mut u8).wrapping_add(used as usize),
                    Count: value.FrameExtent,
                    Remaining: value.FrameExtent - used,
                },
            )
        }
        None => (std::ptr::null_mut(), empty_offset()),
    };
    // SAFETY: the leading edge belongs to the pin; the driver reads it only while it holds it.
    unsafe { (*pointer).StreamHeader = header };
    // SAFETY: as above.
    unsafe { (*pointer).OffsetOut = offset };
    let out: *mut KSSTREAM_POINTER_OFFSET =
        crate::memory::field_ptr!(pointer, KSSTREAM_POINTER, OffsetOut);
    // SAFETY: as above.
    unsafe { (*pointer).Offset = out };
}

/// Completes the reads whose frames are all done. Must be called without the stream lock.
fn complete_done_reads(pin: &PinRecord) {
    let mut done = Vec::new();
    {
        let mut stream = pin.stream.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(position) = stream
            .frames
            .iter()
            .position(|f| f.released && f.clones == 0)
        {
            // Only frames before the leading edge can be released.
            let frame = stream.frames.remove(position);
            let Some(frame) = frame else { break };
            if position < stream.leading {
                stream.leading -= 1;
            }
            let finished = match stream.reads.get_mut(&frame.irp) {
                Some(read) => {
                    read.frames_left -= 1;
                    read.frames_left == 0
                }
                None => false,
            };
            if finished {
                if let Some(read) = stream.reads.remove(&frame.irp) {
                    done.push((frame.irp, read));
                }
            }
        }
        aim_leading(pin, &stream);
    }
    for (irp, read) in done {
        let (status, information) = if read.cancelled {
            (STATUS_CANCELLED, 0)
        } else {
            (STATUS_SUCCESS, read.output_len)
        };
        // SAFETY: a queued read whose frames are all done: the pin owns it.
        unsafe { finish_read(irp as *mut IRP, status, information) };
    }
}

/// `KsPinGetLeadingEdgeStreamPointer`.
pub(crate) fn leading_edge(
    state: &KernelState,
    pin: *mut KSPIN,
    lock: bool,
) -> *mut KSSTREAM_POINTER {
    let Some(record) = known_pin(state, pin) else {
        return std::ptr::null_mut();
    };
    let mut stream = record.stream.lock().unwrap_or_else(|e| e.into_inner());
    if stream.leading >= stream.frames.len() {
        return std::ptr::null_mut();
    }
    stream.leading_locked = lock;
    aim_leading(&record, &stream);
    record.leading.as_ptr()
}

/// The pin a stream pointer belongs to, and whether it is the leading edge.
fn pointer_owner(
    state: &KernelState,
    pointer: *mut KSSTREAM_POINTER,
) -> Option<(Arc<PinRecord>, bool)> {
    let pins: Vec<Arc<PinRecord>> = state.avstream.lock().pins.values().cloned().collect();
    for pin in pins {
        if pin.leading.as_ptr() == pointer {
            return Some((pin, true));
        }
        let stream = pin.stream.lock().unwrap_or_else(|e| e.into_inner());
        if stream.clones.contains_key(&(pointer as usize)) {
            drop(stream);
            return Some((pin, false));
        }
    }
    None
}

/// `KsStreamPointerAdvanceOffsets` (and `KsStreamPointerAdvance` with `whole_frame`).
pub(crate) fn advance(
    state: &KernelState,
    pointer: *mut KSSTREAM_POINTER,
    out_used: u32,
    eject: bool,
    whole_frame: bool,
) -> NTSTATUS {
    let Some((pin, is_leading)) = pointer_owner(state, pointer) else {
        state.report(Bug::ObjectUnknown {
            object: pointer as usize,
        });
        return STATUS_INVALID_PARAMETER;
    };
    if !is_leading {
        // A clone: offsets move within its frame; ejecting or a whole advance releases it.
        if whole_frame || eject {
            delete_clone(state, pointer);
        } else {
            // SAFETY: the clone is live (found above); only its owner uses it.
            unsafe { advance_offset_out(pointer, out_used) };
        }
        return STATUS_SUCCESS;
    }
    let next_available = {
        let mut stream = pin.stream.lock().unwrap_or_else(|e| e.into_inner());
        let leading = stream.leading;
        let Some(frame) = stream.frames.get_mut(leading) else {
            return STATUS_DEVICE_NOT_READY;
        };
        let mut move_on = whole_frame || eject;
        if !whole_frame {
            // SAFETY: the header lives in the queued IRP's output buffer.
            let mut value = unsafe { frame.header.read_unaligned() };
            value.DataUsed = value
                .DataUsed
                .saturating_add(out_used)
                .min(value.FrameExtent);
            move_on |= value.DataUsed >= value.FrameExtent;
            // SAFETY: as above.
            unsafe { frame.header.write_unaligned(value) };
        }
        if move_on {
            frame.released = true;
            stream.leading += 1;
        }
        aim_leading(&pin, &stream);
        stream.leading < stream.frames.len()
    };
    complete_done_reads(&pin);
    if next_available {
        STATUS_SUCCESS
    } else {
        STATUS_DEVICE_NOT_READY
    }
}

/// Moves a pointer's OffsetOut by `used` bytes.
///
/// # Safety
/// `pointer` must be a live stream pointer.
unsafe fn advance_offset_out(pointer: *mut KSSTREAM_POINTER, used: u32) {
    // SAFETY: the caller's guarantee.
    let mut offset = unsafe { (*pointer).OffsetOut };
    let used = used.min(offset.Remaining);
    offset.Data = offset.Data.wrapping_add(used as usize);
    offset.Remaining -= used;
    // SAFETY: as above.
    unsafe { (*pointer).OffsetOut = offset };
}

/// `KsStreamPointerUnlock`.
pub(crate) fn unlock(state: &KernelState, pointer: *mut KSSTREAM_POINTER, eject: bool) {
    let Some((pin, is_leading)) = pointer_owner(state, pointer) else {
        state.report(Bug::ObjectUnknown {
            object: pointer as usize,
        });
        return;
    };
    if is_leading {
        pin.stream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .leading_locked = false;
    }
    if eject {
        let _ = advance(state, pointer, 0, true, true);
    }
}

/// `KsStreamPointerClone`.
pub(crate) fn clone_pointer(
    state: &KernelState,
    pointer: *mut KSSTREAM_POINTER,
    cancel: PFNKSSTREAMPOINTER,
    context_size: u32,
    out: *mut *mut KSSTREAM_POINTER,
) -> NTSTATUS {
    let _ = cancel;
    let Some((pin, _)) = pointer_owner(state, pointer) else {
        state.report(Bug::ObjectUnknown {
            object: pointer as usize,
        });
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: the source pointer is live.
    let header = unsafe { (*pointer).StreamHeader } as usize;
    let mut stream = pin.stream.lock().unwrap_or_else(|e| e.into_inner());
    let Some(frame) = stream
        .frames
        .iter_mut()
        .find(|f| f.header as usize == header)
    else {
        return STATUS_DEVICE_NOT_READY;
    };
    frame.clones += 1;
    let irp = frame.irp;
    let size = std::mem::size_of::<KSSTREAM_POINTER>() + context_size as usize;
    let memory = RawBuffer::zeroed(size);
    let clone = memory.as_ptr().cast::<KSSTREAM_POINTER>();
    // SAFETY: the source pointer is live.
    let mut value = unsafe { pointer.read() };
    value.Context = if context_size == 0 {
        std::ptr::null_mut()
    } else {
        memory
            .as_ptr()
            .wrapping_add(std::mem::size_of::<KSSTREAM_POINTER>())
            .cast()
    };
    value.Offset = crate::memory::field_ptr!(clone, KSSTREAM_POINTER, OffsetOut);
    // SAFETY: fresh zeroed memory of the right size, 16-byte aligned.
    unsafe { clone.write(value) };
    stream.clones.insert(clone as usize, (memory, irp, header));
    drop(stream);
    // SAFETY: the caller guarantees `out` is writable.
    unsafe { out.write(clone) };
    STATUS_SUCCESS
}

/// `KsStreamPointerDelete`.
pub(crate) fn delete_clone(state: &KernelState, pointer: *mut KSSTREAM_POINTER) {
    let Some((pin, is_leading)) = pointer_owner(state, pointer) else {
        state.report(Bug::ObjectUnknown {
            object: pointer as usize,
        });
        return;
    };
    if is_leading {
        state.report(Bug::LeadingEdgeDeleted {
            pointer: pointer as usize,
        });
        return;
    }
    {
        let mut stream = pin.stream.lock().unwrap_or_else(|e| e.into_inner());
        let Some((_memory, _irp, header)) = stream.clones.remove(&(pointer as usize)) else {
            return;
        };
        if let Some(frame) = stream
            .frames
            .iter_mut()
            .find(|f| f.header as usize == header)
        {
            frame.clones -= 1;
        }
    }
    complete_done_reads(&pin);
    let cancelled_and_free: Vec<usize> = {
        let stream = pin.stream.lock().unwrap_or_else(|e| e.into_inner());
        stream
            .reads
            .iter()
            .filter(|(irp, r)| {
                r.cancelled && !stream.frames.iter().any(|f| f.irp == **irp && f.clones > 0)
            })
            .map(|(irp, _)| *irp)
            .collect()
    };
    for irp in cancelled_and_free {
        {
            let mut stream = pin.stream.lock().unwrap_or_else(|e| e.into_inner());
            stream.reads.remove(&irp);
            let leading = stream.leading;
            let before = stream
                .frames
                .iter()
                .take(leading)
                .filter(|f| f.irp == irp)
                .count();
            stream.frames.retain(|f| f.irp != irp);
            stream.leading = leading - before;
            aim_leading(&pin, &stream);
        }
        // SAFETY: a cancelled read whose frames are no longer held: the pin owns it.
        unsafe { finish_read(irp as *mut IRP, STATUS_CANCELLED, 0) };
    }
}

/// The record of a pin the driver names, or `None` with the bug reported (a KSPIN the emulation
/// never created, or one already closed).
fn known_pin(state: &KernelState, pin: *mut KSPIN) -> Option<Arc<PinRecord>> {
    let record = state.avstream.pin(pin);
    if record.is_none() {
        state.report(Bug::ObjectUnknown {
            object: pin as usize,
        });
    }
    record
}

/// `KsPinAcquireProcessingMutex`.
pub(crate) fn acquire_processing(state: &KernelState, pin: *mut KSPIN) {
    let Some(record) = known_pin(state, pin) else {
        return;
    };
    let mut held = record
        .processing
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    while held.0 {
        held = record
            .processing
            .free
            .wait(held)
            .unwrap_or_else(|e| e.into_inner());
    }
    held.0 = true;
}

/// `KsPinReleaseProcessingMutex`.
pub(crate) fn release_processing(state: &KernelState, pin: *mut KSPIN) {
    let Some(record) = known_pin(state, pin) else {
        return;
    };
    let mut held = record
        .processing
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    held.0 = false;
    drop(held);
    record.processing.free.notify_all();
}

/// `KsPinAttemptProcessing`.
fn attempt_processing(_state: &KernelState, pin: &Arc<PinRecord>, asynchronous: bool) {
    if asynchronous && crate::timer::in_dpc() {
        // A DPC asking for processing (a frame timer): queued as ks.sys queues its work item,
        // run at PASSIVE_LEVEL when the DPC returns, on this thread. No thread per frame.
        defer(pin);
        return;
    }
    if asynchronous {
        let kernel = Kernel {
            state: current("KsPinAttemptProcessing"),
        };
        let pin = pin.clone();
        let _ = kernel.spawn(move || {
            let state = current("KsPinAttemptProcessing");
            attempt_processing(&state, &pin, false);
        });
        return;
    }
    let descriptor = pin_descriptor(pin);
    if crate::kernel::current_irql() > ks::nt::PASSIVE_LEVEL
        && descriptor.Flags & KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING == 0
    {
        defer(pin);
        return;
    }
    // SAFETY: the driver's static dispatch table.
    let Some(process) = (unsafe { descriptor.Dispatch.as_ref() }).and_then(|d| d.Process) else {
        return;
    };
    {
        let mut held = pin
            .processing
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if held.0 {
            // Busy: the holder runs once more.
            held.1 = true;
            return;
        }
        held.0 = true;
    }
    loop {
        let device_state = pin_state(pin);
        let runnable = if descriptor.Flags & KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY != 0 {
            device_state == KSSTATE_RUN
        } else {
            device_state >= KSSTATE_PAUSE
        };
        let (available, before) = {
            let stream = pin.stream.lock().unwrap_or_else(|e| e.into_inner());
            (
                stream.leading < stream.frames.len(),
                stream.frames.len() - stream.leading,
            )
        };
        let frames_ok =
            available || descriptor.Flags & KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING != 0;
        let mut again = false;
        if runnable && frames_ok {
            // SAFETY: a live KSPIN; the Process contract (processing mutex held).
            let status = unsafe { process(pin.pin.as_ptr()) };
            let after = {
                let stream = pin.stream.lock().unwrap_or_else(|e| e.into_inner());
                stream.frames.len() - stream.leading
            };
            again = status != STATUS_PENDING && nt_success(status) && after > 0 && after < before;
        }
        let mut held = pin
            .processing
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if held.1 {
            held.1 = false;
            again = runnable;
        }
        if !again {
            held.0 = false;
            drop(held);
            pin.processing.free.notify_all();
            return;
        }
    }
}

/// Queues `pin` for processing at PASSIVE_LEVEL after the running DPC ([`run_deferred`]),
/// once however often it is asked for meanwhile.
fn defer(pin: &Arc<PinRecord>) {
    let state = current("KsPinAttemptProcessing");
    let mut inner = state.avstream.lock();
    if !inner.deferred.iter().any(|p| Arc::ptr_eq(p, pin)) {
        inner.deferred.push(pin.clone());
    }
}

/// Runs the processing deferred to PASSIVE_LEVEL (pins closed meanwhile are skipped). Called at
/// PASSIVE_LEVEL after each timer DPC (virtual and real-time clock).
pub(crate) fn run_deferred(state: &KernelState) {
    loop {
        let pins = std::mem::take(&mut state.avstream.lock().deferred);
        if pins.is_empty() {
            return;
        }
        for pin in pins {
            if state.avstream.pin(pin.pin.as_ptr()).is_some() {
                attempt_processing(state, &pin, false);
            }
        }
    }
}

/// `KsPinAttemptProcessing` by KSPIN.
pub(crate) fn attempt_processing_of(state: &KernelState, pin: *mut KSPIN, asynchronous: bool) {
    match state.avstream.pin(pin) {
        Some(record) => attempt_processing(state, &record, asynchronous),
        None => state.report(Bug::ObjectUnknown {
            object: pin as usize,
        }),
    }
}

/// AVStream objects still alive (for the leak report): filters and pins never closed.
pub(crate) fn live_objects(state: &KernelState) -> Vec<String> {
    let inner = state.avstream.lock();
    let mut live: Vec<String> = inner
        .filters
        .keys()
        .map(|f| format!("KSFILTER {f:#x} never closed"))
        .collect();
    live.extend(
        inner
            .pins
            .iter()
            .map(|(p, r)| format!("KSPIN {p:#x} (pin id {}) never closed", r.pin_id)),
    );
    live.sort();
    live
}

/// `KsPinGetParentFilter`.
pub(crate) fn parent_filter(state: &KernelState, pin: *mut KSPIN) -> *mut KSFILTER {
    match state.avstream.pin(pin) {
        Some(record) => record.filter as *mut KSFILTER,
        None => {
            state.report(Bug::ObjectUnknown {
                object: pin as usize,
            });
            std::ptr::null_mut()
        }
    }
}

/// `KsGetDevice`.
pub(crate) fn device_of(state: &KernelState, object: *mut c_void) -> *mut KSDEVICE {
    let inner = state.avstream.lock();
    let address = object as usize;
    let known = inner.filters.contains_key(&address)
        || inner.pins.contains_key(&address)
        || inner
            .device
            .as_ref()
            .is_some_and(|d| d.device.as_ptr() as usize == address);
    match (known, inner.device.as_ref()) {
        (true, Some(device)) => device.device.as_ptr(),
        _ => {
            drop(inner);
            state.report(Bug::ObjectUnknown { object: address });
            std::ptr::null_mut()
        }
    }
}

/// `KsGetObjectFromFileObject`.
pub(crate) fn object_of_file(state: &KernelState, file: *mut FILE_OBJECT) -> *mut c_void {
    match state.avstream.lock().files.get(&(file as usize)) {
        Some(ObjectRef::Filter(f)) => *f as *mut c_void,
        Some(ObjectRef::Pin(p)) => *p as *mut c_void,
        None => std::ptr::null_mut(),
    }
}

/// The file object of an IRP (and its related file object).
///
/// # Safety
/// `irp` must be a live IRP.
unsafe fn files_of_irp(irp: *mut IRP) -> (usize, usize) {
    // SAFETY: the caller's guarantee.
    let file = unsafe { file_of(irp) };
    if file.is_null() {
        return (0, 0);
    }
    // SAFETY: an IRP's file object is live while the IRP is.
    let related = unsafe { (*file).RelatedFileObject };
    (file as usize, related as usize)
}

/// `KsGetPinFromIrp`.
///
/// # Safety
/// `irp` must be a live IRP.
pub(crate) unsafe fn pin_of_irp(state: &KernelState, irp: *mut IRP) -> *mut KSPIN {
    // SAFETY: the caller's guarantee.
    let (file, _) = unsafe { files_of_irp(irp) };
    match state.avstream.lock().files.get(&file) {
        Some(ObjectRef::Pin(p)) => *p as *mut KSPIN,
        _ => std::ptr::null_mut(),
    }
}

/// `KsGetFilterFromIrp`.
///
/// # Safety
/// `irp` must be a live IRP.
pub(crate) unsafe fn filter_of_irp(state: &KernelState, irp: *mut IRP) -> *mut KSFILTER {
    // SAFETY: the caller's guarantee.
    let (file, related) = unsafe { files_of_irp(irp) };
    let inner = state.avstream.lock();
    let lookup = |file: usize| match inner.files.get(&file) {
        Some(ObjectRef::Filter(f)) => Some(*f),
        Some(ObjectRef::Pin(p)) => inner.pins.get(p).map(|r| r.filter),
        None => None,
    };
    lookup(file)
        .or_else(|| lookup(related))
        .map_or(std::ptr::null_mut(), |f| f as *mut KSFILTER)
}

/// The `KSOBJECT_BAG` a filter or pin is given: its bag's address (opaque to the minidriver).
fn bag_address(bag: &ObjectBag) -> *mut c_void {
    std::ptr::from_ref(bag).cast_mut().cast()
}

/// `_KsEdit` on the bag of a live filter or pin (see [`crate::bag`]); another bag is a driver bug
/// (STATUS_INVALID_PARAMETER).
///
/// # Safety
/// As for [`ObjectBag::edit`].
pub(crate) unsafe fn edit(
    state: &KernelState,
    bag: *mut c_void,
    pointer_to_pointer: *mut *mut c_void,
    new_size: u32,
    old_size: u32,
    tag: u32,
) -> NTSTATUS {
    let address = bag as usize;
    let (pin, filter) = {
        let inner = state.avstream.lock();
        let pin = inner
            .pins
            .values()
            .find(|r| bag_address(&r.bag) as usize == address)
            .cloned();
        let filter = inner
            .filters
            .values()
            .find(|r| bag_address(&r.bag) as usize == address)
            .cloned();
        (pin, filter)
    };
    let bag = match (&pin, &filter) {
        (Some(pin), _) => &pin.bag,
        (None, Some(filter)) => &filter.bag,
        (None, None) => {
            state.report(Bug::ObjectBagUnknown { bag: address });
            return STATUS_INVALID_PARAMETER;
        }
    };
    // SAFETY: the caller's guarantee.
    unsafe { bag.edit(state, pointer_to_pointer, new_size, old_size, tag) }
}

/// `KsAddObjectCreateItemToObjectHeader`: fills the first empty slot (NULL `Create`) of the
/// header's item list; STATUS_ALLOTTED_SPACE_EXCEEDED when there is none.
///
/// # Safety
/// `object_class` must be a NUL-terminated UTF-16 string living as long as the header.
pub(crate) unsafe fn add_create_item(
    state: &KernelState,
    header: KSOBJECT_HEADER,
    create: ks::nt::PDRIVER_DISPATCH,
    context: *mut c_void,
    object_class: *mut u16,
    security: *mut c_void,
) -> NTSTATUS {
    let Some(value) = state.ks.read_header(header) else {
        state.report(Bug::ObjectHeaderUnknown {
            header: header as usize,
        });
        return STATUS_INVALID_PARAMETER;
    };
    let mut length = 0usize;
    // SAFETY: the caller guarantees a NUL-terminated string.
    while unsafe { object_class.wrapping_add(length).read() } != 0 {
        length += 1;
    }
    for index in 0..value.item_count as usize {
        let item = value.items.wrapping_add(index);
        // SAFETY: the header's items live as long as it does.
        if unsafe { (*item).Create }.is_some() {
            continue;
        }
        let bytes = (length * 2) as u16;
        // SAFETY: as above; the slot is empty, so nobody routes through it yet.
        unsafe {
            item.write(KSOBJECT_CREATE_ITEM {
                Create: create,
                Context: context,
                ObjectClass: UNICODE_STRING {
                    Length: bytes,
                    MaximumLength: bytes + 2,
                    Buffer: object_class,
                },
                SecurityDescriptor: security,
                Flags: 0,
            })
        };
        return STATUS_SUCCESS;
    }
    STATUS_ALLOTTED_SPACE_EXCEEDED
}
