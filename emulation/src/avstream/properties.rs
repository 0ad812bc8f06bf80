//! IOCTL_KS_PROPERTY on filters and pins: the minidriver's automation table, then the sets ks.sys
//! answers itself.
//!
//! **Properties** (IOCTL_KS_PROPERTY): the object's automation table first (the minidriver may
//! override), then ks.sys's own sets: KSPROPSETID_Pin on filters (CTYPES, CINSTANCES,
//! DATAFLOW, COMMUNICATION, DATARANGES, DATAINTERSECTION, CATEGORY, NAME, INTERFACES, MEDIUMS:
//! the standard one when the pin lists none), KSPROPSETID_Connection STATE, DATAFORMAT (GET)
//! and ALLOCATORFRAMING_EX (from the pin's own `Descriptor`, so a minidriver's `KsEdit` of it
//! shows, as on Windows) and KSPROPSETID_Stream ALLOCATOR on pins. A size query (no output
//! buffer) gets STATUS_BUFFER_OVERFLOW with the size; a short one STATUS_BUFFER_TOO_SMALL; a
//! request shorter than the item's `MinProperty` STATUS_INVALID_BUFFER_SIZE. Unknown set:
//! STATUS_PROPSET_NOT_FOUND; known set, unknown id: STATUS_NOT_FOUND. SETSUPPORT answers
//! whether the set is there; BASICSUPPORT calls the item's `SupportHandler`, or answers from
//! the item's `Values` (`basic_support_answer`): the ULONG access flags, the
//! KSPROPERTY_DESCRIPTION alone (its `DescriptionSize` the whole answer's size), or the
//! description followed by each members list (a KSPROPERTY_MEMBERSHEADER and its members: the
//! ranges, the default), as the KS basic-support conventions ask.
//! DATAINTERSECTION tries each client range (in order) against each pin range whose GUIDs are
//! compatible, calling the pin's `IntersectHandler` with the filter as context until one does
//! not answer STATUS_NO_MATCH; a pin without a handler answers STATUS_NO_MATCH (ks.sys's
//! default intersection is not emulated).
//! KSPROPERTY_PIN_NAME answers the `Name` GUID's registry string (guess: Windows reads the
//! name from the registry's MediaCategories key) or the category's when `Name` is NULL.
//! KSPROPERTY_STREAM_ALLOCATOR: GET always answers a NULL handle, as the property's page says;
//! SET is accepted without referencing the handle (a limit: ks.sys would reference the
//! allocator's file object and use it for its frames; the emulation leaves the frames to the
//! minidriver).

use std::ffi::c_void;
use std::sync::Arc;

use ks::avstream::{
    KSAUTOMATION_TABLE, KSFILTER, KSPIN, KSPROPERTY_ITEM, KSPROPERTY_SET, KSSTATE_RUN,
};
use ks::guid::GUID;
use ks::ks::{
    KSPROPTYPESETID_General, KSALLOCATOR_FRAMING_EX, KSIDENTIFIER, KSPROPERTY_DESCRIPTION,
    KSPROPERTY_TYPE_BASICSUPPORT, KSPROPERTY_TYPE_GET, KSPROPERTY_TYPE_SET,
    KSPROPERTY_TYPE_SETSUPPORT, KSPROPERTY_VALUES, KS_FRAMING_ITEM, VT_EMPTY,
};
use ks::nt::IRP;
use ks::status::{
    STATUS_BUFFER_OVERFLOW, STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_BUFFER_SIZE,
    STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_PARAMETER, STATUS_NOT_FOUND, STATUS_NO_MATCH,
    STATUS_PENDING, STATUS_PROPSET_NOT_FOUND, STATUS_SUCCESS,
};
use ks::video::{
    KSINTERFACESETID_Standard, KSMEDIUMSETID_Standard, KSPROPSETID_Connection, KSPROPSETID_Pin,
    KSPROPSETID_Stream, KSDATAFORMAT, KSMULTIPLE_ITEM, KSPIN_CINSTANCES,
    KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, KSPROPERTY_CONNECTION_DATAFORMAT,
    KSPROPERTY_CONNECTION_STATE, KSPROPERTY_PIN_CATEGORY, KSPROPERTY_PIN_CINSTANCES,
    KSPROPERTY_PIN_COMMUNICATION, KSPROPERTY_PIN_CTYPES, KSPROPERTY_PIN_DATAFLOW,
    KSPROPERTY_PIN_DATAINTERSECTION, KSPROPERTY_PIN_DATARANGES, KSPROPERTY_PIN_INTERFACES,
    KSPROPERTY_PIN_MEDIUMS, KSPROPERTY_PIN_NAME, KSPROPERTY_STREAM_ALLOCATOR, KSP_PIN,
};
use ks::NTSTATUS;
use zerocopy::{FromBytes, IntoBytes};

use super::objects::set_pin_state;
use super::{
    filter_descriptor_of, guid_string, pin_descriptor, pin_descriptor_at, pin_descriptor_of,
    pin_state, slice, stack_of, PinRecord, Reply,
};
use crate::kernel::KernelState;
use crate::memory::RawBuffer;

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
pub(super) unsafe fn property(
    state: &KernelState,
    irp: *mut IRP,
    is_filter: bool,
    object: usize,
) -> Reply {
    // SAFETY: the caller's guarantee: a live IRP.
    let stack = unsafe { stack_of(irp) };
    // SAFETY: a device control's parameters are DeviceIoControl.
    let parameters = unsafe { stack.Parameters.DeviceIoControl };
    let input_len = parameters.InputBufferLength as usize;
    let output_len = parameters.OutputBufferLength as usize;
    let input: &[u8] = if parameters.Type3InputBuffer.is_null() {
        &[]
    } else {
        // SAFETY: METHOD_NEITHER: the input buffer holds InputBufferLength bytes.
        unsafe { std::slice::from_raw_parts(parameters.Type3InputBuffer.cast::<u8>(), input_len) }
    };
    // SAFETY: the caller's guarantee: a live IRP (METHOD_NEITHER: the output buffer's address).
    let output = unsafe { (*irp).UserBuffer };
    let Ok((request, _)) = KSIDENTIFIER::read_from_prefix(input) else {
        return Reply::status(STATUS_INVALID_BUFFER_SIZE);
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
        return Reply::status(status);
    }
    if request.Flags & KSPROPERTY_TYPE_BASICSUPPORT != 0 {
        let access = match found {
            Ok(item) => {
                // SAFETY: a live property item.
                let item = unsafe { &*item };
                if let Some(support) = item.SupportHandler {
                    // SAFETY: the caller's guarantee: a live METHOD_NEITHER request it owns,
                    // with the request in its input buffer and the data in its output buffer.
                    return unsafe {
                        call_handler(irp, support, parameters.Type3InputBuffer.cast(), output)
                    };
                }
                let mut access = KSPROPERTY_TYPE_BASICSUPPORT;
                if item.GetPropertyHandler.is_some() {
                    access |= KSPROPERTY_TYPE_GET;
                }
                if item.SetPropertyHandler.is_some() {
                    access |= KSPROPERTY_TYPE_SET;
                }
                // SAFETY: the item's Values is NULL or the driver's KSPROPERTY_VALUES, live until
                // unload, whose lists hold what their headers say.
                Some((access, unsafe { describe_values(item.Values) }))
            }
            Err(_) => builtin_access(is_filter, &request).map(|access| (access, None)),
        };
        let Some((access, values)) = access else {
            return Reply::status(STATUS_NOT_FOUND);
        };
        // SAFETY: the caller's guarantee: METHOD_NEITHER, the output buffer holds
        // OutputBufferLength bytes.
        return unsafe { basic_support_answer(access, values.as_ref(), output_len, output) };
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
                return Reply::status(STATUS_NOT_FOUND);
            };
            if input_len < (item.MinProperty as usize).max(std::mem::size_of::<KSIDENTIFIER>()) {
                return Reply::status(STATUS_INVALID_BUFFER_SIZE);
            }
            let min_data = item.MinData as usize;
            if output_len == 0 && min_data > 0 {
                return Reply::Complete(STATUS_BUFFER_OVERFLOW, min_data);
            }
            if output_len < min_data {
                return Reply::Complete(STATUS_BUFFER_TOO_SMALL, min_data);
            }
            // SAFETY: the caller's guarantee: a live METHOD_NEITHER request it owns, with the
            // request in its input buffer and the data in its output buffer.
            return unsafe {
                call_handler(irp, handler, parameters.Type3InputBuffer.cast(), output)
            };
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
            return Reply::status(STATUS_INVALID_DEVICE_REQUEST);
        };
        connection_property(state, &pin, &request, input, output_len, output)
    } else if !is_filter && request.Set == KSPropsetId::STREAM {
        stream_property(&request, output_len)
    } else if set_known {
        Answer::Status(STATUS_NOT_FOUND, 0)
    } else {
        Answer::Status(STATUS_PROPSET_NOT_FOUND, 0)
    };
    match answer {
        Answer::Status(status, information) => Reply::Complete(status, information),
        Answer::Data(bytes) => {
            if output_len == 0 {
                return Reply::Complete(STATUS_BUFFER_OVERFLOW, bytes.len());
            }
            if output_len < bytes.len() {
                return Reply::Complete(STATUS_BUFFER_TOO_SMALL, bytes.len());
            }
            // SAFETY: METHOD_NEITHER: the output buffer holds OutputBufferLength bytes, at least
            // `bytes.len()` as just checked.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), output.cast::<u8>(), bytes.len())
            };
            Reply::Complete(STATUS_SUCCESS, bytes.len())
        }
    }
}

/// Calls a minidriver's property handler (GET, SET or BASICSUPPORT) with `Information` at 0;
/// its status and `Information` are the reply, unless it kept the IRP (STATUS_PENDING).
///
/// # Safety
/// `irp` must be a live METHOD_NEITHER request the caller owns, `request` its input buffer (the
/// KSPROPERTY) and `data` its output buffer.
#[ks::kernel_abi]
unsafe fn call_handler(
    irp: *mut IRP,
    handler: unsafe extern "system" fn(*mut IRP, *mut KSIDENTIFIER, *mut c_void) -> NTSTATUS,
    request: *mut KSIDENTIFIER,
    data: *mut c_void,
) -> Reply {
    // SAFETY: the caller's guarantee: a live IRP it owns; Information starts at 0.
    unsafe { (*irp).IoStatus.Information = 0 };
    // SAFETY: the PFNKSHANDLER contract: the IRP, the request (in the input buffer) and the data
    // (the output buffer), all as the caller guarantees.
    let status = unsafe { handler(irp, request, data) };
    if status == STATUS_PENDING {
        return Reply::Pending;
    }
    // SAFETY: the handler did not keep the IRP (no STATUS_PENDING): still live and the caller's.
    let information = unsafe { (*irp).IoStatus.Information };
    Reply::Complete(status, information)
}

/// The access flags of ks.sys's own properties (None: not one of them).
fn builtin_access(is_filter: bool, request: &KSIDENTIFIER) -> Option<u32> {
    let get = KSPROPERTY_TYPE_BASICSUPPORT | KSPROPERTY_TYPE_GET;
    let get_set = get | KSPROPERTY_TYPE_SET;
    match (is_filter, request.Set, request.Id) {
        (
            true,
            KSPropsetId::PIN,
            KSPROPERTY_PIN_CINSTANCES
            | KSPROPERTY_PIN_CTYPES
            | KSPROPERTY_PIN_DATAFLOW
            | KSPROPERTY_PIN_DATARANGES
            | KSPROPERTY_PIN_DATAINTERSECTION
            | KSPROPERTY_PIN_INTERFACES
            | KSPROPERTY_PIN_MEDIUMS
            | KSPROPERTY_PIN_COMMUNICATION
            | KSPROPERTY_PIN_CATEGORY
            | KSPROPERTY_PIN_NAME,
        ) => Some(get),
        (false, KSPropsetId::CONNECTION, KSPROPERTY_CONNECTION_STATE) => Some(get_set),
        (false, KSPropsetId::CONNECTION, KSPROPERTY_CONNECTION_DATAFORMAT)
        | (false, KSPropsetId::CONNECTION, KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX) => Some(get),
        (false, KSPropsetId::STREAM, KSPROPERTY_STREAM_ALLOCATOR) => Some(get_set),
        _ => None,
    }
}

/// An item's `Values`, serialized as a BASICSUPPORT answer lays them out after the
/// KSPROPERTY_DESCRIPTION: its value type, then each members list as its
/// KSPROPERTY_MEMBERSHEADER followed by `MembersCount` members of `MembersSize` bytes, packed
/// (no padding between lists: **guess**, no public source shows the layout on the wire). Empty
/// for NULL `Values`.
struct ValuesAnswer {
    /// `PropTypeSet`.
    prop_type: KSIDENTIFIER,
    /// `MembersListCount`.
    lists: u32,
    /// The serialized lists.
    bytes: Vec<u8>,
}

/// Reads an item's `Values` into a [`ValuesAnswer`] (`None` for NULL `Values`).
///
/// # Safety
/// `values` must be NULL or a live KSPROPERTY_VALUES whose `MembersList` holds
/// `MembersListCount` lists, each pointing to `MembersCount * MembersSize` readable bytes.
unsafe fn describe_values(values: *const KSPROPERTY_VALUES) -> Option<ValuesAnswer> {
    // SAFETY: the caller's guarantee.
    let values = unsafe { values.as_ref() }?;
    // SAFETY: MembersList holds MembersListCount lists (the caller's guarantee).
    let lists = unsafe { slice(values.MembersList, values.MembersListCount) };
    let mut bytes = Vec::new();
    for list in lists {
        let header = list.MembersHeader;
        bytes.extend_from_slice(header.as_bytes());
        let size = header.MembersSize as usize * header.MembersCount as usize;
        // SAFETY: Members points to MembersCount members of MembersSize bytes (the caller's
        // guarantee).
        bytes.extend_from_slice(unsafe { slice(list.Members.cast::<u8>(), size as u32) });
    }
    Some(ValuesAnswer {
        prop_type: values.PropTypeSet,
        lists: values.MembersListCount,
        bytes,
    })
}

/// The answer to a BASICSUPPORT request without a support handler, by the buffer's size (the
/// conventions of learn.microsoft.com's "Basic Support Queries for Audio Properties", which
/// clients of every KS property follow):
/// - none: STATUS_BUFFER_OVERFLOW with the whole answer's size (the size query);
/// - at least the whole answer: the KSPROPERTY_DESCRIPTION and the item's values (ranges,
///   default), `DescriptionSize` their total;
/// - exactly a KSPROPERTY_DESCRIPTION (when values follow it): the description alone, its
///   `DescriptionSize` telling the size to ask again with;
/// - less than a description but room for a ULONG: the access flags;
/// - any other size: STATUS_BUFFER_TOO_SMALL with the whole answer's size.
///
/// Without `Values` the description says a structure (`KSPROPTYPESETID_General`, `VT_EMPTY`)
/// and no members lists.
///
/// # Safety
/// `output` must be valid for writes of `output_len` bytes (a METHOD_NEITHER output buffer).
unsafe fn basic_support_answer(
    access: u32,
    values: Option<&ValuesAnswer>,
    output_len: usize,
    output: *mut c_void,
) -> Reply {
    let description_size = std::mem::size_of::<KSPROPERTY_DESCRIPTION>();
    let (prop_type, lists, members) = match values {
        Some(v) => (v.prop_type, v.lists, &v.bytes[..]),
        None => (
            KSIDENTIFIER {
                Set: KSPROPTYPESETID_General,
                Id: VT_EMPTY,
                Flags: 0,
            },
            0,
            &[][..],
        ),
    };
    let total = description_size + members.len();
    let description = KSPROPERTY_DESCRIPTION {
        AccessFlags: access,
        DescriptionSize: total as u32,
        PropTypeSet: prop_type,
        MembersListCount: lists,
        Reserved: 0,
    };
    let written: Vec<u8> = if output_len >= total {
        [description.as_bytes(), members].concat()
    } else if output_len == description_size {
        description.as_bytes().to_vec()
    } else if (4..description_size).contains(&output_len) {
        access.to_le_bytes().to_vec()
    } else if output_len == 0 {
        return Reply::Complete(STATUS_BUFFER_OVERFLOW, total);
    } else {
        return Reply::Complete(STATUS_BUFFER_TOO_SMALL, total);
    };
    // SAFETY: the caller's guarantee: `output_len` writable bytes, at least `written.len()` as
    // just decided.
    unsafe { std::ptr::copy_nonoverlapping(written.as_ptr(), output.cast::<u8>(), written.len()) };
    Reply::Complete(STATUS_SUCCESS, written.len())
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
    let pin_descriptor = pin_descriptor_at(descriptor, pin_request.PinId);
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
        // SAFETY: a data range of the driver, `FormatSize` bytes long, live until unload.
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
            // SAFETY: the emulation's copy of the format starts with a KSDATAFORMAT (checked at
            // create) and lives with the pin.
            let size = unsafe { format.cast::<KSDATAFORMAT>().read_unaligned() }.FormatSize;
            // SAFETY: the emulation's copy holds exactly FormatSize bytes and lives with the pin.
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

/// KSPROPSETID_Stream on a pin: KSPROPERTY_STREAM_ALLOCATOR only. GET always answers a NULL
/// handle (the property page: "The returned value is always a NULL handle"; support shows in
/// the success); SET needs a HANDLE's worth of data and is accepted without referencing the
/// handle (a limit: the emulation's client files have no HANDLE in its object table).
fn stream_property(request: &KSIDENTIFIER, output_len: usize) -> Answer {
    if request.Id != KSPROPERTY_STREAM_ALLOCATOR {
        return Answer::Status(STATUS_NOT_FOUND, 0);
    }
    let handle_size = std::mem::size_of::<usize>();
    if request.Flags & KSPROPERTY_TYPE_SET != 0 {
        // A SET's data (the HANDLE) travels in the output buffer, as for every property.
        if output_len < handle_size {
            return Answer::Status(STATUS_BUFFER_TOO_SMALL, handle_size);
        }
        return Answer::Status(STATUS_SUCCESS, 0);
    }
    Answer::Data(0usize.to_le_bytes().to_vec())
}
