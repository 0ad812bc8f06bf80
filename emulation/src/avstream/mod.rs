//! The AVStream subset of ks.sys: driver initialisation from a KSDEVICE_DESCRIPTOR, the device,
//! filter factories and device interfaces, filter and pin objects, the property sets ks.sys
//! answers itself, the pin's read queue with its stream pointers, and processing.
//!
//! Behaviour follows the public AVStream documentation; where the emulation must choose, the
//! documentation of the file that emulates it says so ("guess"). One file per role:
//! - [`device`]: driver load, the device, filter factories and device interfaces;
//! - [`objects`]: filter and pin objects (create, state, close, lookups, bags, create items);
//! - [`properties`]: IOCTL_KS_PROPERTY and the property sets ks.sys answers itself;
//! - `queue` (private): the pin's read queue as plain data (reads, frames known by identity, the
//!   leading edge, clones, locks, cancellations waiting for a lock; no IRP), unit-tested on its
//!   own;
//! - [`reads`]: IOCTL_KS_READ_STREAM probed (user- and kernel-mode requestors) and queued, the
//!   queued reads' cancellation and completion;
//! - [`pointers`]: stream pointers over the queue, and the settling every change ends with;
//! - [`processing`]: the processing mutex and `KsPinAttemptProcessing`.
//!
//! This file holds the state they share (the records of the device, filters and pins), the
//! dispatch table of filter and pin file objects, small helpers, and `answer`: the one place the
//! subsystem sets an IRP's `IoStatus` and completes it.

pub mod device;
pub mod objects;
pub mod pointers;
pub mod processing;
pub mod properties;
mod queue;
pub mod reads;

pub(crate) use device::{acquire_device, create_filter_factory, initialize_driver, release_device};
pub use device::{DeviceInterface, DriverEntry, DRIVER_REGISTRY_PATH};
pub(crate) use objects::{
    add_create_item, device_of, edit, filter_of_irp, live_objects, object_of_file, parent_filter,
    pin_of_irp,
};
pub(crate) use pointers::{advance, clone_pointer, delete_clone, leading_edge, unlock, Move};
pub(crate) use processing::{acquire_processing, attempt_processing_of, release_processing};

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use ks::avstream::{
    KSDEVICE, KSFILTER, KSFILTERFACTORY, KSFILTER_DESCRIPTOR, KSPIN, KSPIN_DESCRIPTOR_EX, KSSTATE,
    KSSTREAM_POINTER, PFNKSSTREAMPOINTER,
};
use ks::guid::GUID;
use ks::ks::{
    IOCTL_KS_PROPERTY, IOCTL_KS_READ_STREAM, KSDISPATCH_TABLE, KSOBJECT_CREATE_ITEM,
    KSOBJECT_HEADER,
};
use ks::nt::{DEVICE_OBJECT, FILE_OBJECT, IO_STACK_LOCATION, IRP, UNICODE_STRING};
use ks::status::{STATUS_INVALID_DEVICE_REQUEST, STATUS_PENDING};
use ks::NTSTATUS;

use crate::bag::ObjectBag;
use crate::bugs::Bug;
use crate::io::{complete_with, stack_location};
use crate::kernel::{current, KernelState};
use crate::memory::{RawBox, RawBuffer};
use processing::ProcessingMutex;
use queue::ReadQueue;

/// `KSSTRING_Pin`: the object class of a filter's pin create item.
pub const KSSTRING_PIN: &str = "{146F1A80-4791-11D0-A5D6-28DB04C10000}";

/// What `FsContext` points to for filters and pins: the KS header first, then the object.
#[repr(C)]
struct ObjectContext {
    header: KSOBJECT_HEADER,
    object: *mut c_void,
}

/// A filter factory: its descriptor, the reference string of its create item and device
/// interfaces (`None`: registered without one), the KSFILTERFACTORY handed to the minidriver.
struct Factory {
    descriptor: usize,
    reference: Option<Vec<u16>>,
    /// Owned here: the minidriver may keep the pointer for the device's life.
    _object: RawBox<KSFILTERFACTORY>,
}

struct DeviceRecord {
    device: RawBox<KSDEVICE>,
    factories: Vec<Factory>,
    /// The device-level header whose create items are the factories.
    header: usize,
    _items: RawBuffer,
    _names: Vec<RawBuffer>,
    /// Whether the PnP start sequence (Start, PostStart) has finished: AVStream enables the
    /// interfaces of the factories that exist then; later ones stay disabled.
    started: bool,
}

/// A device interface ks.sys registered for a factory category, and whether it is enabled.
struct RegisteredInterface {
    interface: DeviceInterface,
    enabled: bool,
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
    _names: Vec<RawBuffer>,
    /// Pins open per pin id.
    instances: Mutex<Vec<u32>>,
}

/// Where a frame is: its KSSTREAM_HEADER as the minidriver sees it (in the captured copy for a
/// user-mode read) and its data buffer (0 and 0 for a header with no buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FrameRef {
    header: usize,
    buffer: usize,
    extent: u32,
}

/// A clone stream pointer: its memory (the KSSTREAM_POINTER and its context) and its cancel
/// callback.
struct CloneRecord {
    _memory: RawBuffer,
    callback: PFNKSSTREAMPOINTER,
}

/// What ks.sys keeps of a queued read: for a user-mode read, each captured header's address and
/// the `Data` the caller gave it (restored before the copy back, see [`reads`]).
#[derive(Default)]
struct ReadRecord {
    user_headers: Vec<(usize, u64)>,
}

/// A pin's stream: its read queue and the stream pointers' state.
#[derive(Default)]
struct Stream {
    /// The queued reads (by IRP address), their frames, the leading edge and the clones (by
    /// pointer address).
    queue: ReadQueue<usize, FrameRef, usize>,
    /// The frame the leading edge's KSSTREAM_POINTER was last aimed at.
    aimed: Option<queue::FrameId>,
    /// The clones' memory and callbacks, by pointer address.
    clones: HashMap<usize, CloneRecord>,
    /// The queued reads' records, by IRP address.
    reads: HashMap<usize, ReadRecord>,
}

struct PinRecord {
    pin: RawBox<KSPIN>,
    /// The pin's `Bag` (`_KsEdit` copies), emptied at close.
    bag: Box<ObjectBag>,
    /// The descriptor the pin was created from (put back at close, before the bag is emptied).
    descriptor: usize,
    context: RawBox<ObjectContext>,
    filter: usize,
    /// The filter's record: its KSFILTER stays allocated while the pin lives.
    _filter_memory: Arc<FilterRecord>,
    pin_id: u32,
    header: usize,
    _items: RawBuffer,
    _names: Vec<RawBuffer>,
    _format: RawBuffer,
    leading: RawBox<KSSTREAM_POINTER>,
    stream: Mutex<Stream>,
    processing: ProcessingMutex,
    /// Its IRP_MJ_CLOSE came: processing queued or attempted from now on is dropped.
    closed: AtomicBool,
    /// A work item to process the pin is queued and has not started yet.
    work_queued: AtomicBool,
    /// How often ks.sys called the pin's Process, and how often the minidriver fetched the
    /// leading edge ([`Kernel::pin_counters`]): an observation for tests, no behaviour.
    process_calls: std::sync::atomic::AtomicU64,
    leading_edge_fetches: std::sync::atomic::AtomicU64,
}

/// What the emulation saw a pin's minidriver do ([`crate::Kernel::pin_counters`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PinCounters {
    /// Calls of the pin's Process dispatch.
    pub process_calls: u64,
    /// Calls of `KsPinGetLeadingEdgeStreamPointer` on the pin.
    pub leading_edge_fetches: u64,
}

impl crate::Kernel {
    /// What the minidriver of the pin behind `pin` (a client file) did so far, or `None` when
    /// the file is no open pin.
    pub fn pin_counters(&self, pin: crate::File) -> Option<PinCounters> {
        let file = self.file_object(pin) as usize;
        let ObjectRef::Pin(object) = self.state.avstream.object(file)? else {
            return None;
        };
        let record = self.state.avstream.lock().pins.get(&object).cloned()?;
        Some(PinCounters {
            process_calls: record.process_calls.load(Ordering::Relaxed),
            leading_edge_fetches: record.leading_edge_fetches.load(Ordering::Relaxed),
        })
    }
}

/// What a filter or pin file object stands for (by the object's address).
#[derive(Clone, Copy)]
enum ObjectRef {
    Filter(usize),
    Pin(usize),
}

impl PinRecord {
    /// The pin's stream, locked.
    fn stream(&self) -> MutexGuard<'_, Stream> {
        self.stream.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The AVStream state of one kernel.
#[derive(Default)]
pub(crate) struct AvState {
    inner: Mutex<Inner>,
    /// The device mutex (`KsAcquireDevice`): the thread holding it.
    device_mutex: Mutex<Option<std::thread::ThreadId>>,
    /// Signalled when the device mutex is released.
    device_mutex_free: std::sync::Condvar,
}

#[derive(Default)]
struct Inner {
    descriptor: usize,
    device: Option<DeviceRecord>,
    filters: HashMap<usize, Arc<FilterRecord>>,
    pins: HashMap<usize, Arc<PinRecord>>,
    files: HashMap<usize, ObjectRef>,
    interfaces: Vec<RegisteredInterface>,
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

    /// The filter or pin a file object stands for.
    fn object(&self, file: usize) -> Option<ObjectRef> {
        self.lock().files.get(&file).copied()
    }
}

/// The dispatch table of filter and pin file objects.
static OBJECT_TABLE: KSDISPATCH_TABLE = KSDISPATCH_TABLE {
    DeviceIoControl: Some(dispatch_device_control),
    Read: None,
    Write: None,
    Flush: None,
    Close: Some(objects::dispatch_close),
    QuerySecurity: None,
    SetSecurity: None,
    FastDeviceIoControl: None,
    FastRead: None,
    FastWrite: None,
};

fn utf16(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
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

/// Where pin descriptor `id` of a filter descriptor is (`PinDescriptorSize` bytes apart, at least
/// a KSPIN_DESCRIPTOR_EX); the caller checks `id` against `PinDescriptorsCount`.
fn pin_descriptor_at(filter: &KSFILTER_DESCRIPTOR, id: u32) -> *const KSPIN_DESCRIPTOR_EX {
    let size = (filter.PinDescriptorSize as usize).max(std::mem::size_of::<KSPIN_DESCRIPTOR_EX>());
    filter
        .PinDescriptors
        .cast::<u8>()
        .wrapping_add(size * id as usize)
        .cast::<KSPIN_DESCRIPTOR_EX>()
}

fn pin_descriptor(pin: &PinRecord) -> &KSPIN_DESCRIPTOR_EX {
    // SAFETY: the KSPIN is live while its record is; its descriptor lives until unload.
    unsafe { pin_descriptor_of(pin.pin.as_ptr()) }
}

fn pin_state(pin: &PinRecord) -> KSSTATE {
    // SAFETY: the KSPIN is live while its record is; DeviceState is written by ks.sys only.
    unsafe { (*pin.pin.as_ptr()).DeviceState }
}

/// How the subsystem answers a request it dispatched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    /// Complete the IRP with this status and `Information`.
    Complete(NTSTATUS, usize),
    /// Left pending: queued by the pin (whose settling may already have completed it), or kept
    /// by a minidriver handler that answered STATUS_PENDING; whoever holds it completes it.
    Pending,
}

impl Reply {
    /// Complete with `status` and `Information` 0.
    fn status(status: NTSTATUS) -> Reply {
        Reply::Complete(status, 0)
    }
}

/// Answers `irp` as `reply` says: the one place the AVStream subsystem sets an IRP's `IoStatus`
/// and completes it. Returns what the dispatch routine returns (STATUS_PENDING when left pending).
///
/// # Safety
/// `irp` must be a live IRP the caller owns; with [`Reply::Pending`] the caller has handed it on
/// and it is not touched.
unsafe fn answer(irp: *mut IRP, reply: Reply) -> NTSTATUS {
    match reply {
        Reply::Pending => STATUS_PENDING,
        // SAFETY: the caller owns the live IRP and gives it up here.
        Reply::Complete(status, information) => unsafe { complete_with(irp, status, information) },
    }
}

/// IRP_MJ_DEVICE_CONTROL on a filter or pin file object.
#[ks::kernel_abi]
unsafe extern "system" fn dispatch_device_control(
    _device: *mut DEVICE_OBJECT,
    irp: *mut IRP,
) -> NTSTATUS {
    let state = current("KsDispatchIrp");
    // SAFETY: the dispatch routine owns the live IRP.
    let reply = unsafe { device_control(&state, irp) };
    // SAFETY: the dispatch routine owns the live IRP, unless the reply handed it on.
    unsafe { answer(irp, reply) }
}

/// Routes a device control: IOCTL_KS_PROPERTY on filters and pins, IOCTL_KS_READ_STREAM on pins.
///
/// # Safety
/// `irp` must be a live IRP_MJ_DEVICE_CONTROL the caller owns.
unsafe fn device_control(state: &KernelState, irp: *mut IRP) -> Reply {
    // SAFETY: the caller's guarantee: the IRP is live.
    let stack: &IO_STACK_LOCATION = unsafe { stack_of(irp) };
    let file = stack.FileObject as usize;
    // SAFETY: a device control's parameters are DeviceIoControl.
    let parameters = unsafe { stack.Parameters.DeviceIoControl };
    let (is_filter, object) = match state.avstream.object(file) {
        Some(ObjectRef::Filter(filter)) => (true, filter),
        Some(ObjectRef::Pin(pin)) => (false, pin),
        None => return Reply::status(STATUS_INVALID_DEVICE_REQUEST),
    };
    match parameters.IoControlCode {
        IOCTL_KS_PROPERTY => {
            // SAFETY: the caller's guarantee: a live device control it owns.
            unsafe { properties::property(state, irp, is_filter, object) }
        }
        IOCTL_KS_READ_STREAM if !is_filter => {
            // SAFETY: the caller's guarantee: a live device control it owns.
            unsafe { reads::read_stream(state, irp, object) }
        }
        _ => Reply::status(STATUS_INVALID_DEVICE_REQUEST),
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
