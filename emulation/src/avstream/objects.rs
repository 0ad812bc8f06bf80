//! Filter and pin objects: their creation (pin formats matched against the data ranges), state,
//! close, the records behind them and the lookups ks.sys offers on them (`KsGetDevice`,
//! `KsPinGetParentFilter`, `KsGetPinFromIrp`, ...), `_KsEdit` on their bags and create items.
//!
//! **Filters**: opening an interface sends an IRP_MJ_CREATE without a related file object,
//! named `\` + reference string; ks.sys routes it to the factory, builds the KSFILTER and calls
//! the filter dispatch `Create`.
//!
//! **Pins**: the create name is `KSSTRING_Pin\` + KSPIN_CONNECT + KSDATAFORMAT (what
//! `KsCreatePin` sends). Checked in order: sizes (STATUS_INVALID_PARAMETER), `PinId`
//! (STATUS_INVALID_PARAMETER), the connection's `Interface` and `Medium` against the pin's lists
//! or the standard ones (STATUS_NO_MATCH, as ReactOS `KspValidateConnectRequest`), instances
//! (STATUS_TOO_MANY_NODES: an existing status that says it; Windows' code is not documented,
//! ReactOS answers STATUS_UNSUCCESSFUL), the format against each data range by major format,
//! subformat and specifier (a range's GUID_NULL, the KSDATAFORMAT_*_WILDCARD value, matches
//! anything) with a `FormatSize` of at least a KSDATAFORMAT (STATUS_NO_MATCH); then
//! `SetDataFormat` with each matching range in turn until it answers something other than
//! STATUS_NO_MATCH (the AVStrMiniPinSetDataFormat page: STATUS_NO_MATCH asks AVStream to try
//! another range; any other failure fails the create), then the pin dispatch `Create`.
//! `ConnectionFormat` is the emulation's copy.
//!
//! The pin's `Context` starts as its filter's `Context` before `SetDataFormat` and `Create` run
//! (avshws `CCapturePin::DispatchCreate`: "AVStream preinitializes this to the filter's context").
//!
//! **State**: SET steps one state at a time through `SetDeviceState` (STOP->ACQUIRE->PAUSE->RUN
//! and back); a failure stops at the last good state (`DeviceState` and `ClientState` both) and is
//! returned. Reaching STOP cancels the queued reads (STATUS_CANCELLED): avshws's pin notes "the
//! reset which comes on every stop", and a reset cancels queued reads (IOCTL_KS_RESET_STATE,
//! ReactOS `IKsPin_ResetStream` -> `KsCancelIo`).
//!
//! **Close** (IRP_MJ_CLOSE: the pin's last handle and last reference are gone, so no read of
//! its own is queued, see [`crate::file`]): processing stops for good (a `Process` call in
//! progress is waited for under the processing mutex; later attempts, deferred or asynchronous,
//! are dropped), then the pin's dispatch `Close` runs **in whatever state the pin is in** (guess:
//! no public source says ks.sys steps a pin down to STOP before its close, and ReactOS's
//! `IKsPin_Close` only calls the Close dispatch; the strictest choice makes the minidriver clean
//! up itself). A filter's `Close` likewise. Then the object's `Descriptor` is put back to the one
//! it was created from and its `Bag` (the `_KsEdit` copies) is freed. A pin keeps its filter's
//! KSFILTER memory while it lives (guess: ks.sys's own object references; `KsPinGetParentFilter`
//! stays a valid pointer).

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ks::avstream::{
    KSDEVICE, KSFILTER, KSFILTER_DESCRIPTOR, KSPIN, KSPIN_DESCRIPTOR_EX, KSPIN_INTERFACE, KSSTATE,
    KSSTATE_STOP, KSSTREAM_POINTER,
};
use ks::guid::GUID;
use ks::ks::{
    KSSTRING_Allocator, KSALLOCATOR_FRAMING, KSIDENTIFIER, KSOBJECT_CREATE_ITEM, KSOBJECT_HEADER,
};
use ks::nt::{DEVICE_OBJECT, FILE_OBJECT, IRP, UNICODE_STRING};
use ks::status::{
    nt_success, STATUS_ALLOTTED_SPACE_EXCEEDED, STATUS_INVALID_DEVICE_REQUEST,
    STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER, STATUS_NOT_IMPLEMENTED, STATUS_NO_MATCH,
    STATUS_OBJECT_NAME_COLLISION, STATUS_SUCCESS, STATUS_TOO_MANY_NODES,
};
use ks::video::{KSINTERFACESETID_Standard, KSMEDIUMSETID_Standard, KSDATAFORMAT, KSPIN_CONNECT};
use ks::NTSTATUS;
use zerocopy::FromBytes;

use super::pointers::empty_offset;
use super::processing::{attempt_processing, minimum_state, ProcessingMutex};
use super::reads::flush_queue;
use super::{
    answer, create_items, file_of, filter_descriptor_of, pin_descriptor, pin_descriptor_at,
    pin_descriptor_of, pin_state, slice, utf16, FilterRecord, ObjectContext, ObjectRef, PinRecord,
    Reply, Stream, KSSTRING_PIN, OBJECT_TABLE,
};
use crate::bag::ObjectBag;
use crate::bugs::Bug;
use crate::kernel::{current, KernelState};
use crate::ks::{equal_ignoring_case, ObjectHeader};
use crate::memory::{RawBox, RawBuffer};

/// `KSSTRING_Clock`: the object class of a pin's clock create item.
const KSSTRING_CLOCK: &str = "{53172480-4791-11D0-A5D6-28DB04C10000}";
/// `KSSTRING_TopologyNode`: the object class of a pin's topology node create item.
const KSSTRING_TOPOLOGY_NODE: &str = "{0621061A-EE75-11D0-B915-00A0C9223196}";

/// ks.sys's allocator create item on a pin (`Context` = the KSPIN): the allocator create request
/// `KsCreateAllocator` sends is served by `KsCreateDefaultAllocatorEx(Irp, Pin, Allocate, Free,
/// InitializeAllocator, DeleteAllocator)` with the pin's `KSALLOCATOR_DISPATCH`, or by the
/// default allocator (`KsCreateDefaultAllocator`) when the pin declares none. No public source
/// says how ks.sys wires this (ReactOS's handler is a stub answering STATUS_NOT_IMPLEMENTED):
/// a guess from the callbacks' signatures, docs/ks-fidelity.md. The function is the one handed
/// to the kernel ([`crate::Kernel::provide_default_allocator`]); without one, the request fails
/// with STATUS_NOT_IMPLEMENTED.
#[ks::kernel_abi]
unsafe extern "system" fn create_allocator(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    let state = current("KsDispatchIrp");
    // SAFETY: the create dispatch owns the live IRP, routed through a pin's create item.
    let item = unsafe { ks::ks::create_item_irp_storage(&*irp) };
    // SAFETY: the pin's create item lives with the pin; its Context is the KSPIN.
    let pin = unsafe { (*item).Context }.cast::<KSPIN>();
    let status = match state.ks.default_allocator() {
        None => STATUS_NOT_IMPLEMENTED,
        Some(create) => {
            // SAFETY: the pin is live while a create on its file object is in flight.
            let descriptor = unsafe { pin_descriptor_of(pin) };
            // SAFETY: NULL or the driver's static pin dispatch table.
            let dispatch = unsafe { descriptor.Dispatch.as_ref() };
            // SAFETY: NULL or the driver's static KSALLOCATOR_DISPATCH.
            match dispatch.and_then(|d| unsafe { d.Allocator.as_ref() }) {
                Some(allocator) => {
                    let initialize = allocator.InitializeAllocator.map(|f| {
                        // SAFETY: PFNKSPININITIALIZEALLOCATOR and PFNKSINITIALIZEALLOCATOR
                        // differ only in the pointee type of their first parameter (PKSPIN vs
                        // PVOID): the same ABI, and the InitializeContext passed is the pin.
                        unsafe {
                            std::mem::transmute::<
                                unsafe extern "system" fn(
                                    *mut KSPIN,
                                    *mut KSALLOCATOR_FRAMING,
                                    *mut *mut c_void,
                                )
                                    -> NTSTATUS,
                                unsafe extern "system" fn(
                                    *mut c_void,
                                    *mut KSALLOCATOR_FRAMING,
                                    *mut *mut c_void,
                                )
                                    -> NTSTATUS,
                            >(f)
                        }
                    });
                    // SAFETY: the live allocator create IRP with its create item stored; the
                    // pin's callbacks follow their documented contracts.
                    unsafe {
                        create(
                            irp,
                            pin.cast(),
                            allocator.Allocate,
                            allocator.Free,
                            initialize,
                            allocator.DeleteAllocator,
                        )
                    }
                }
                // SAFETY: the live allocator create IRP with its create item stored.
                None => unsafe { create(irp, std::ptr::null_mut(), None, None, None, None) },
            }
        }
    };
    // SAFETY: the create dispatch owns the IRP; KsCreateDefaultAllocatorEx never completes it.
    unsafe { answer(irp, Reply::status(status)) }
}

/// ks.sys's clock and topology node create items on a pin: avcam's pins have neither a clock
/// nor topology nodes, and ReactOS's handlers are stubs answering STATUS_NOT_IMPLEMENTED.
#[ks::kernel_abi]
unsafe extern "system" fn create_unsupported(
    _device: *mut DEVICE_OBJECT,
    irp: *mut IRP,
) -> NTSTATUS {
    // SAFETY: the create dispatch owns the live IRP and completes it once here.
    unsafe { answer(irp, Reply::status(STATUS_NOT_IMPLEMENTED)) }
}

/// The create item handler of a filter factory (`Context` = the factory index).
#[ks::kernel_abi]
pub(super) unsafe extern "system" fn create_filter(
    _device: *mut DEVICE_OBJECT,
    irp: *mut IRP,
) -> NTSTATUS {
    // SAFETY: the create dispatch owns the live IRP, routed through a factory's create item.
    unsafe { create_with(irp, build_filter) }
}

/// Builds the object of a create request with `build` and answers the IRP: STATUS_SUCCESS, or
/// the status `build` failed with.
///
/// # Safety
/// `irp` must be a live IRP_MJ_CREATE the caller owns, routed as `build` requires.
unsafe fn create_with(
    irp: *mut IRP,
    build: unsafe fn(&KernelState, *mut IRP) -> Result<(), NTSTATUS>,
) -> NTSTATUS {
    let state = current("KsDispatchIrp");
    // SAFETY: the caller's guarantee: a live create IRP routed as `build` requires.
    let outcome = unsafe { build(&state, irp) };
    let status = outcome.err().unwrap_or(STATUS_SUCCESS);
    // SAFETY: the caller owns the live IRP; the minidriver's Create did not keep it.
    unsafe { answer(irp, Reply::status(status)) }
}

/// Builds the filter of a factory's create request and calls the filter dispatch `Create`.
///
/// # Safety
/// `irp` must be a live IRP_MJ_CREATE routed through a factory's create item.
unsafe fn build_filter(state: &KernelState, irp: *mut IRP) -> Result<(), NTSTATUS> {
    // SAFETY: the caller's guarantee: a live create IRP.
    let item = unsafe { ks::ks::create_item_irp_storage(&*irp) };
    // SAFETY: the item is the device header's, live while the device is.
    let factory = unsafe { (*item).Context } as usize;
    // SAFETY: the caller's guarantee: a live IRP, whose stack names the create's file object.
    let file = unsafe { file_of(irp) };
    let (descriptor, device) = {
        let inner = state.avstream.lock();
        let Some(device) = inner.device.as_ref() else {
            return Err(STATUS_INVALID_DEVICE_STATE);
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
    let (items, names) = create_items(
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
        _names: names,
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
            remove_filter(state, pointer as usize, file as usize);
            return Err(status);
        }
    }
    Ok(())
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

/// Whether `format` falls in `range`'s major format, subformat and specifier (each equal, or the
/// range's GUID_NULL: the KSDATAFORMAT_*_WILDCARD value). The format's own size was checked
/// (at least a KSDATAFORMAT); a format is usually smaller than its range (a KS_DATARANGE_VIDEO
/// carries stream caps its format does not), so sizes are not compared.
fn format_matches(format: &KSDATAFORMAT, range: &KSDATAFORMAT) -> bool {
    let guid_ok = |f: &GUID, r: &GUID| *r == GUID::NULL || f == r;
    guid_ok(&format.MajorFormat, &range.MajorFormat)
        && guid_ok(&format.SubFormat, &range.SubFormat)
        && guid_ok(&format.Specifier, &range.Specifier)
}

/// Whether the connection's `Interface` and `Medium` are among the pin's (the standard
/// interface, KSINTERFACESETID_Standard / KSINTERFACE_STANDARD_STREAMING, and the standard medium,
/// KSMEDIUMSETID_Standard / KSMEDIUM_TYPE_ANYINSTANCE, when it lists none): ReactOS
/// `KspValidateConnectRequest` (connectivity.c) compares `Set` and `Id`.
///
/// # Safety
/// The descriptor's `Interfaces` and `Mediums` hold `InterfacesCount` and `MediumsCount`
/// identifiers (or are NULL).
unsafe fn connects_through(pin: &KSPIN_DESCRIPTOR_EX, connect: &KSPIN_CONNECT) -> bool {
    let listed =
        |first: *const KSPIN_INTERFACE, count: u32, standard: GUID, wanted: &KSIDENTIFIER| {
            // SAFETY: the caller's guarantee.
            let list = unsafe { slice(first, count) };
            if list.is_empty() {
                wanted.Set == standard && wanted.Id == 0
            } else {
                list.iter()
                    .any(|i| i.Set == wanted.Set && i.Id == wanted.Id)
            }
        };
    let descriptor = &pin.PinDescriptor;
    listed(
        descriptor.Interfaces,
        descriptor.InterfacesCount,
        KSINTERFACESETID_Standard,
        &connect.Interface,
    ) && listed(
        descriptor.Mediums,
        descriptor.MediumsCount,
        KSMEDIUMSETID_Standard,
        &connect.Medium,
    )
}

/// The pin create item handler (`Context` = the KSFILTER).
#[ks::kernel_abi]
unsafe extern "system" fn create_pin(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: the create dispatch owns the live IRP, routed through a filter's pin create item.
    unsafe { create_with(irp, build_pin) }
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
    // SAFETY: the caller's guarantee: a live IRP, whose stack names the create's file object.
    let file = unsafe { file_of(irp) };
    // SAFETY: the create's file object and its name live while the IRP does.
    let name = unsafe { (*file).FileName };
    // SAFETY: the name's buffer holds `Length` bytes and lives while the create IRP does.
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
    let descriptor = pin_descriptor_at(filter_descriptor, connect.PinId);
    // SAFETY: PinDescriptors holds PinDescriptorsCount descriptors of PinDescriptorSize bytes.
    let pin_descriptor = unsafe { &*descriptor };
    // SAFETY: the descriptor's interface and medium lists hold their counts of identifiers.
    if !unsafe { connects_through(pin_descriptor, &connect) } {
        return Err(STATUS_NO_MATCH);
    }
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
    let matching: Vec<*const c_void> = ranges
        .iter()
        .copied()
        .filter(|&range| {
            // SAFETY: each range starts with a KSDATARANGE.
            let range = unsafe { &*range.cast::<KSDATAFORMAT>() };
            format_matches(&format, range)
        })
        .collect();
    if matching.is_empty() {
        release_instance();
        return Err(STATUS_NO_MATCH);
    }
    let format_buffer = RawBuffer::from_bytes(format_bytes);
    let bag = Box::new(ObjectBag::default());
    // SAFETY: the filter is live (its record was found above); ks.sys reads its Context.
    let filter_context = unsafe { (*filter).Context };
    let pin = RawBox::new(KSPIN {
        Descriptor: descriptor,
        Bag: bag_address(&bag),
        Context: filter_context,
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
    // Exactly the three create items ReactOS's KspCreatePin gives a pin, and no spare slot:
    // `KsAddObjectCreateItemToObjectHeader` on a pin's header finds no room.
    let pin_object: *mut c_void = pin.as_ptr().cast();
    let pin_items = [
        (
            utf16(KSSTRING_Allocator),
            Some(create_allocator as crate::client::DispatchFn),
            pin_object,
        ),
        (
            utf16(KSSTRING_CLOCK),
            Some(create_unsupported as crate::client::DispatchFn),
            pin_object,
        ),
        (
            utf16(KSSTRING_TOPOLOGY_NODE),
            Some(create_unsupported as crate::client::DispatchFn),
            pin_object,
        ),
    ];
    let (items, names) = create_items(&pin_items, 0);
    let header = state.ks.new_emulation_header(ObjectHeader {
        items: items.as_ptr().cast(),
        item_count: pin_items.len() as u32,
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
        _filter_memory: filter_record.clone(),
        pin_id: connect.PinId,
        header: header as usize,
        _items: items,
        _names: names,
        _format: format_buffer,
        leading,
        stream: Mutex::new(Stream::default()),
        processing: ProcessingMutex::default(),
        closed: AtomicBool::new(false),
        work_queued: AtomicBool::new(false),
        process_calls: std::sync::atomic::AtomicU64::new(0),
        leading_edge_fetches: std::sync::atomic::AtomicU64::new(0),
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
        // Each matching range in turn until the minidriver takes one: STATUS_NO_MATCH asks for
        // the next, any other failure ends the search (the AVStrMiniPinSetDataFormat page).
        let mut status = STATUS_NO_MATCH;
        for &range in &matching {
            // SAFETY: a live KSPIN, no old format, a matching range of the descriptor.
            status = unsafe {
                set_format(
                    pointer,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    range,
                    std::ptr::null(),
                )
            };
            if status != STATUS_NO_MATCH {
                break;
            }
        }
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

/// Steps the pin one state at a time to `target`; returns the first failure.
pub(super) fn set_pin_state(
    state: &KernelState,
    pin: &Arc<PinRecord>,
    target: KSSTATE,
) -> NTSTATUS {
    // SAFETY: the driver's static dispatch table, or NULL.
    let set = unsafe { pin_descriptor(pin).Dispatch.as_ref() }.and_then(|d| d.SetDeviceState);
    let minimum = minimum_state(pin_descriptor(pin).Flags);
    let mut now = pin_state(pin);
    let mut reached_minimum = false;
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
        // SAFETY: the KSPIN is live while its record is; ks.sys owns ClientState.
        unsafe { (*pin.pin.as_ptr()).ClientState = next };
        reached_minimum |= next == minimum && now < minimum;
        now = next;
        if now == KSSTATE_STOP {
            flush_queue(state, pin);
        }
    }
    // Into the minimum processing state from below: processing, if frames are queued (the
    // attempt itself checks the frames and KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING).
    if reached_minimum {
        attempt_processing(state, pin, false);
    }
    STATUS_SUCCESS
}

/// IRP_MJ_CLOSE on a filter or pin file object.
#[ks::kernel_abi]
pub(super) unsafe extern "system" fn dispatch_close(
    _device: *mut DEVICE_OBJECT,
    irp: *mut IRP,
) -> NTSTATUS {
    let state = current("KsDispatchIrp");
    // SAFETY: the dispatch routine owns the live IRP.
    let status = unsafe { close(&state, irp) };
    // SAFETY: the dispatch routine owns the live IRP; the close dispatches are done with it.
    unsafe { answer(irp, Reply::status(status)) }
}

/// Closes the filter or pin of a close request (see the module documentation).
///
/// # Safety
/// `irp` must be a live IRP_MJ_CLOSE the caller owns.
unsafe fn close(state: &KernelState, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: the caller's guarantee: a live IRP, whose stack names the file object.
    let file = unsafe { file_of(irp) } as usize;
    match state.avstream.object(file) {
        None => STATUS_INVALID_DEVICE_REQUEST,
        Some(ObjectRef::Filter(filter)) => {
            // SAFETY: descriptors and their dispatch tables live until unload.
            let dispatch = unsafe { filter_descriptor_of(filter as *mut KSFILTER) }.Dispatch;
            // SAFETY: the driver's static dispatch table, or NULL.
            let close = unsafe { dispatch.as_ref() }.and_then(|d| d.Close);
            if let Some(close) = close {
                // SAFETY: a live KSFILTER and its close IRP.
                unsafe { close(filter as *mut KSFILTER, irp) };
            }
            remove_filter(state, filter, file);
            STATUS_SUCCESS
        }
        Some(ObjectRef::Pin(pin)) => {
            let Some(record) = state.avstream.pin(pin as *mut KSPIN) else {
                return STATUS_INVALID_DEVICE_REQUEST;
            };
            // No more processing: wait for a Process call in progress, then refuse new ones.
            // The close runs at PASSIVE_LEVEL on a client's thread, which never holds the
            // mutex: neither call can be refused.
            let _ = record.processing.acquire();
            record.closed.store(true, Ordering::Release);
            let _ = record.processing.release();
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
            remove_pin(state, pin, file);
            STATUS_SUCCESS
        }
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
    match state.avstream.object(file as usize) {
        Some(ObjectRef::Filter(object) | ObjectRef::Pin(object)) => object as *mut c_void,
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
    match state.avstream.object(file) {
        Some(ObjectRef::Pin(pin)) => pin as *mut KSPIN,
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
    // SAFETY: the string has `length` units before its NUL (counted above).
    let class = unsafe { std::slice::from_raw_parts(object_class, length) };
    for index in 0..value.item_count as usize {
        let item = value.items.wrapping_add(index);
        // SAFETY: the header's items live as long as it does.
        let existing = unsafe { &*item };
        if existing.Create.is_none() {
            continue;
        }
        // SAFETY: a used slot's class names `Length` bytes of its buffer, live with the header.
        let existing_class = unsafe { crate::ks::units(&existing.ObjectClass) };
        if equal_ignoring_case(existing_class, class) {
            // ReactOS's create item list refuses a class already there.
            return STATUS_OBJECT_NAME_COLLISION;
        }
    }
    for index in 0..value.item_count as usize {
        let item = value.items.wrapping_add(index);
        // SAFETY: the header's items live as long as it does.
        if unsafe { (*item).Create }.is_some() {
            continue;
        }
        let bytes = (length * 2) as u16;
        // SAFETY: a slot of the header's items, which live as long as the header; it is empty,
        // so nobody routes through it yet.
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
