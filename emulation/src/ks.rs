//! The ks.sys subset: object headers, `KsDispatchIrp` (create routing by create-item name and
//! dispatch through the file object's dispatch table) and the security dispatchers.
//!
//! The KS convention (documented for `KsAllocateObjectHeader`): `FileObject->FsContext` points to
//! a structure whose first field is the object's KSOBJECT_HEADER. The header records the create
//! items children can be created from, the dispatch table of the object's file object, and the
//! create item the object itself was created through (`KSCREATE_ITEM_IRP_STORAGE` of its create
//! IRP), which the security dispatchers use.
//!
//! Create routing: an IRP_MJ_CREATE whose file object has a `RelatedFileObject` is routed through
//! the parent's header: the part of `FileName` before the first `\` (all of it if there is none)
//! is compared case-insensitively with each item's `ObjectClass`; an item flagged
//! KSCREATE_ITEM_WILDCARD matches any name that no other item matches. The matching item goes into
//! `KSCREATE_ITEM_IRP_STORAGE(Irp)` and its `Create` is called. No match: the IRP is completed with
//! STATUS_OBJECT_NAME_NOT_FOUND (ReactOS uses STATUS_UNSUCCESSFUL; Windows' exact code is not
//! documented, this one says what happened). Nothing past `FileName.Length` is read.
//! Creates without a parent go through the AVStream device's header (one item per filter
//! factory, see [`crate::avstream`]), after the leading `\\`.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::Mutex;

use ks::ks::{
    KSCREATE_ITEM_SECURITYCHANGED, KSCREATE_ITEM_WILDCARD, KSDISPATCH_TABLE, KSOBJECT_CREATE_ITEM,
    KSOBJECT_HEADER, PFNKSCREATEDEFAULTALLOCATOREX,
};
use ks::nt::{
    irp_mj, APC_LEVEL, DEVICE_OBJECT, DISPATCH_LEVEL, FILE_OBJECT, IRP, PASSIVE_LEVEL,
    POOL_FLAG_NON_PAGED, UNICODE_STRING,
};
use ks::status::{
    STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_DEVICE_REQUEST, STATUS_NO_SECURITY_ON_OBJECT,
    STATUS_OBJECT_NAME_NOT_FOUND, STATUS_SUCCESS,
};
use ks::NTSTATUS;

use crate::bugs::Bug;
use crate::io::{complete_with, invalid_device_request, stack_location};
use crate::kernel::{current_irql, KernelState};
use crate::memory::{field_ptr, RawBox};
use crate::pool::Tag;
use crate::sync::check_irql;
use crate::Kernel;

/// The pool tag of object headers allocated by `KsAllocateObjectHeader` (ks.sys allocates them
/// from pool, so a header the driver never frees shows as a leak under this tag; the tag itself
/// is the emulation's choice).
pub const OBJECT_HEADER_TAG: Tag = Tag::from_bytes(*b"KsOh");

/// What a KSOBJECT_HEADER points to in the emulation.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct ObjectHeader {
    /// The create items children are created from (owned by the caller, as with ks.sys).
    pub(crate) items: *mut KSOBJECT_CREATE_ITEM,
    /// How many.
    pub(crate) item_count: u32,
    /// The dispatch table of the object's file object (owned by the caller).
    pub(crate) table: *const KSDISPATCH_TABLE,
    /// The create item this object was created through, if any.
    pub(crate) create_item: *mut KSOBJECT_CREATE_ITEM,
}

enum Origin {
    /// Allocated from the tracked pool by `KsAllocateObjectHeader`.
    Pool,
    /// The emulation's own (test parents).
    Emulation(#[allow(dead_code)] RawBox<ObjectHeader>),
}

/// The live object headers of one kernel, and the ks.sys functions avcam provides itself.
#[derive(Default)]
pub(crate) struct KsState {
    headers: Mutex<HashMap<usize, Origin>>,
    /// `KsCreateDefaultAllocatorEx`, handed over when the kernel is built
    /// ([`Kernel::provide_default_allocator`]): the crate graph (allocator -> kernel ->
    /// emulation) keeps the emulation from calling avcam's allocator crate directly.
    default_allocator: Mutex<Option<PFNKSCREATEDEFAULTALLOCATOREX>>,
}

impl KsState {
    /// The `KsCreateDefaultAllocatorEx` this ks.sys uses, if one was provided.
    pub(crate) fn default_allocator(&self) -> Option<PFNKSCREATEDEFAULTALLOCATOREX> {
        *self
            .default_allocator
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl Kernel {
    /// A fresh kernel ([`Kernel::new`]) whose ks.sys serves allocator create requests with
    /// `create` (avcam's `KsCreateDefaultAllocatorEx`).
    pub fn with_default_allocator(create: PFNKSCREATEDEFAULTALLOCATOREX) -> Kernel {
        let kernel = Kernel::new();
        kernel.provide_default_allocator(create);
        kernel
    }

    /// Hands ks.sys its `KsCreateDefaultAllocatorEx`: the emulated ks.sys calls it for an
    /// allocator create request on an AVStream pin (the pin's `KSALLOCATOR_DISPATCH` callbacks
    /// as the external allocator, when it declares one). Without it such requests fail with
    /// STATUS_NOT_IMPLEMENTED, as ReactOS's stub does.
    pub fn provide_default_allocator(&self, create: PFNKSCREATEDEFAULTALLOCATOREX) {
        *self
            .state
            .ks
            .default_allocator
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(create);
    }
}

impl KsState {
    fn headers(&self) -> std::sync::MutexGuard<'_, HashMap<usize, Origin>> {
        self.headers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The header at `header`, if it is live.
    fn read(&self, header: KSOBJECT_HEADER) -> Option<ObjectHeader> {
        let headers = self.headers();
        headers.get(&(header as usize))?;
        // SAFETY: registered headers are live ObjectHeaders until unregistered, which needs the
        // lock held here.
        Some(unsafe { header.cast::<ObjectHeader>().read() })
    }

    /// The header at `header`, if it is live (for the AVStream services).
    pub(crate) fn read_header(&self, header: KSOBJECT_HEADER) -> Option<ObjectHeader> {
        self.read(header)
    }

    /// An emulation-owned header (for the test parents).
    pub(crate) fn new_emulation_header(&self, header: ObjectHeader) -> KSOBJECT_HEADER {
        let memory = RawBox::new(header);
        let address = memory.as_ptr();
        self.headers()
            .insert(address as usize, Origin::Emulation(memory));
        address.cast()
    }

    /// Drops an emulation-owned header.
    pub(crate) fn drop_emulation_header(&self, header: KSOBJECT_HEADER) {
        let mut headers = self.headers();
        if matches!(headers.get(&(header as usize)), Some(Origin::Emulation(_))) {
            headers.remove(&(header as usize));
        }
    }
}

/// `KsAllocateObjectHeader`.
///
/// # Safety
/// `header` must be writable; `items` must point to `count` create items and `table` to a
/// dispatch table, both living as long as the header; `irp` must be NULL or a live IRP.
pub(crate) unsafe fn allocate_object_header(
    state: &KernelState,
    header: *mut KSOBJECT_HEADER,
    count: u32,
    items: *mut KSOBJECT_CREATE_ITEM,
    irp: *mut IRP,
    table: *const KSDISPATCH_TABLE,
) -> NTSTATUS {
    // "IRQL < DISPATCH_LEVEL" (the KsAllocateObjectHeader page).
    check_irql(state, "KsAllocateObjectHeader", APC_LEVEL);
    let memory = state.pool.allocate(
        &state.bugs,
        current_irql(),
        POOL_FLAG_NON_PAGED,
        std::mem::size_of::<ObjectHeader>(),
        OBJECT_HEADER_TAG.0,
    );
    if memory.is_null() {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    let create_item = if irp.is_null() {
        std::ptr::null_mut()
    } else {
        // SAFETY: the caller guarantees a non-NULL `irp` is live.
        unsafe { ks::ks::create_item_irp_storage(&*irp) }
    };
    let value = ObjectHeader {
        items: if count == 0 {
            std::ptr::null_mut()
        } else {
            items
        },
        item_count: count,
        table,
        create_item,
    };
    // SAFETY: `memory` is a fresh pool block of the header's size, 16-byte aligned.
    unsafe { memory.cast::<ObjectHeader>().write(value) };
    state.ks.headers().insert(memory as usize, Origin::Pool);
    // SAFETY: the caller guarantees `header` is writable.
    unsafe { header.write(memory) };
    STATUS_SUCCESS
}

/// `KsFreeObjectHeader`.
pub(crate) fn free_object_header(state: &KernelState, header: KSOBJECT_HEADER) {
    let mut headers = state.ks.headers();
    if !matches!(headers.get(&(header as usize)), Some(Origin::Pool)) {
        drop(headers);
        state.report(Bug::ObjectHeaderUnknown {
            header: header as usize,
        });
        return;
    }
    headers.remove(&(header as usize));
    drop(headers);
    state
        .pool
        .free(&state.bugs, current_irql(), header, OBJECT_HEADER_TAG.0);
}

/// `KsQueryObjectCreateItem`.
pub(crate) fn query_object_create_item(
    state: &KernelState,
    header: KSOBJECT_HEADER,
) -> *mut KSOBJECT_CREATE_ITEM {
    match state.ks.read(header) {
        Some(header) => header.create_item,
        None => {
            state.report(Bug::ObjectHeaderUnknown {
                header: header as usize,
            });
            std::ptr::null_mut()
        }
    }
}

/// The header of `file` (through `FsContext`), or why there is none.
///
/// # Safety
/// `file` must be NULL or a live file object.
unsafe fn header_of_file(
    state: &KernelState,
    file: *mut FILE_OBJECT,
    major: u8,
) -> Option<ObjectHeader> {
    if file.is_null() {
        state.report(Bug::NoFsContext { major });
        return None;
    }
    // SAFETY: the caller guarantees `file` is live.
    let context = unsafe { (*file).FsContext };
    if context.is_null() {
        state.report(Bug::NoFsContext { major });
        return None;
    }
    // SAFETY: by the KS convention FsContext points to a structure whose first field is the
    // header; the driver owns that memory while the file object is open.
    let header = unsafe { context.cast::<KSOBJECT_HEADER>().read() };
    let found = state.ks.read(header);
    if found.is_none() {
        state.report(Bug::ObjectHeaderUnknown {
            header: header as usize,
        });
    }
    found
}

/// Upper-cases one UTF-16 unit as `RtlUpcaseUnicodeChar` does for the units that matter here
/// (simple one-to-one mappings; surrogates and multi-character mappings are left alone).
fn upcase(unit: u16) -> u16 {
    if unit < 0x80 {
        return u16::from((unit as u8).to_ascii_uppercase());
    }
    let Some(c) = char::from_u32(u32::from(unit)) else {
        return unit;
    };
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) if (u as u32) <= 0xFFFF => u as u32 as u16,
        _ => unit,
    }
}

/// Case-insensitive equality of two UTF-16 strings.
pub(crate) fn equal_ignoring_case(a: &[u16], b: &[u16]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| upcase(x) == upcase(y))
}

/// The object class a create name asks for: the units before the first `\`.
pub(crate) fn object_class(name: &[u16]) -> &[u16] {
    let end = name
        .iter()
        .position(|&u| u == u16::from(b'\\'))
        .unwrap_or(name.len());
    &name[..end]
}

/// The whole UTF-16 units of a UNICODE_STRING (an odd trailing byte is not part of any unit).
///
/// # Safety
/// `Buffer` must hold `Length` readable bytes for as long as the slice is used.
pub(crate) unsafe fn units<'a>(string: &UNICODE_STRING) -> &'a [u16] {
    let len = usize::from(string.Length) / 2;
    if len == 0 || string.Buffer.is_null() {
        return &[];
    }
    // SAFETY: the caller guarantees `Length` readable bytes; 2-byte alignment is the UNICODE_STRING
    // contract.
    unsafe { std::slice::from_raw_parts(string.Buffer, len) }
}

/// Routes an IRP_MJ_CREATE through the parent's create items.
///
/// # Safety
/// `irp` must be a live IRP_MJ_CREATE owned by the caller.
unsafe fn dispatch_create(
    state: &KernelState,
    device: *mut DEVICE_OBJECT,
    irp: *mut IRP,
) -> NTSTATUS {
    // SAFETY: the caller guarantees `irp` is live.
    let stack = unsafe { stack_location(irp) };
    // SAFETY: as above.
    let file = unsafe { (*stack).FileObject };
    if file.is_null() {
        // SAFETY: the caller owns the live IRP.
        return unsafe { complete_with(irp, STATUS_INVALID_DEVICE_REQUEST, 0) };
    }
    // SAFETY: the file object of a create IRP is live.
    let parent = unsafe { (*file).RelatedFileObject };
    // SAFETY: FileName is written by the I/O manager before the create.
    let name = unsafe { (*file).FileName };
    // SAFETY: the emulation's FileName buffers hold `Length` bytes and live with the file object.
    let mut name_units = unsafe { units(&name) };
    let header = if parent.is_null() {
        // A device-level create (an AVStream device's filter factories): the name after the
        // device's is `\` + the reference string.
        let Some(header) = state
            .avstream
            .device_header()
            .and_then(|h| state.ks.read(h))
        else {
            // SAFETY: the caller owns the live IRP.
            return unsafe { complete_with(irp, STATUS_OBJECT_NAME_NOT_FOUND, 0) };
        };
        if name_units.first() == Some(&u16::from(b'\\')) {
            name_units = &name_units[1..];
        }
        header
    } else {
        // SAFETY: a related file object is live while its child is being created.
        let Some(header) = (unsafe { header_of_file(state, parent, irp_mj::CREATE) }) else {
            // SAFETY: the caller owns the live IRP.
            return unsafe { complete_with(irp, STATUS_INVALID_DEVICE_REQUEST, 0) };
        };
        header
    };
    let class = object_class(name_units);
    let items: &[KSOBJECT_CREATE_ITEM] = if header.items.is_null() {
        &[]
    } else {
        // SAFETY: KsAllocateObjectHeader's contract: `items` holds `item_count` items that live
        // as long as the header. Only read here.
        unsafe { std::slice::from_raw_parts(header.items, header.item_count as usize) }
    };
    let matches_name = |item: &KSOBJECT_CREATE_ITEM| {
        // SAFETY: the item's ObjectClass buffer holds `Length` bytes (the driver's create items).
        item.Flags & KSCREATE_ITEM_WILDCARD == 0
            && equal_ignoring_case(unsafe { units(&item.ObjectClass) }, class)
    };
    let chosen = items.iter().position(matches_name).or_else(|| {
        items
            .iter()
            .position(|item| item.Flags & KSCREATE_ITEM_WILDCARD != 0)
    });
    let Some(index) = chosen else {
        // SAFETY: the caller owns the live IRP.
        return unsafe { complete_with(irp, STATUS_OBJECT_NAME_NOT_FOUND, 0) };
    };
    let item = header.items.wrapping_add(index);
    let Some(create) = items[index].Create else {
        // SAFETY: the caller owns the live IRP.
        return unsafe { complete_with(irp, STATUS_INVALID_DEVICE_REQUEST, 0) };
    };
    let storage: *mut *mut c_void = field_ptr!(irp, IRP, Tail.DriverContext);
    // SAFETY: the caller owns the live IRP; DriverContext[0] is KSCREATE_ITEM_IRP_STORAGE.
    unsafe { storage.write(item.cast()) };
    // SAFETY: the create item's handler receives the IRP it is meant for.
    unsafe { create(device, irp) }
}

/// `KsDispatchIrp`.
///
/// # Safety
/// `irp` must be a live IRP owned by the caller.
pub(crate) unsafe fn dispatch_irp(
    state: &KernelState,
    device: *mut DEVICE_OBJECT,
    irp: *mut IRP,
) -> NTSTATUS {
    check_irql(state, "KsDispatchIrp", PASSIVE_LEVEL);
    // SAFETY: the caller guarantees `irp` is live.
    let stack = unsafe { stack_location(irp) };
    // SAFETY: as above.
    let major = unsafe { (*stack).MajorFunction };
    if major == irp_mj::CREATE {
        // SAFETY: as above.
        return unsafe { dispatch_create(state, device, irp) };
    }
    if major == irp_mj::CLEANUP {
        // KSDISPATCH_TABLE has no cleanup entry; ReactOS's KsDispatchIrp sends IRP_MJ_CLEANUP to
        // KsDispatchInvalidDeviceRequest (drivers/ksfilter/ks/irp.c).
        // SAFETY: the caller owns the live IRP.
        return unsafe { complete_with(irp, STATUS_INVALID_DEVICE_REQUEST, 0) };
    }
    // SAFETY: as above.
    let file = unsafe { (*stack).FileObject };
    // SAFETY: the file object of an IRP is live while the IRP is.
    let Some(header) = (unsafe { header_of_file(state, file, major) }) else {
        // SAFETY: the caller owns the live IRP.
        return unsafe { complete_with(irp, STATUS_INVALID_DEVICE_REQUEST, 0) };
    };
    // SAFETY: KsAllocateObjectHeader's contract: the table lives as long as the header.
    let table = unsafe { header.table.read() };
    let handler = match major {
        irp_mj::DEVICE_CONTROL => table.DeviceIoControl,
        irp_mj::READ => table.Read,
        irp_mj::WRITE => table.Write,
        irp_mj::FLUSH_BUFFERS => table.Flush,
        irp_mj::CLOSE => table.Close,
        irp_mj::QUERY_SECURITY => table.QuerySecurity,
        irp_mj::SET_SECURITY => table.SetSecurity,
        _ => None,
    };
    // An empty slot behaves as KsDispatchInvalidDeviceRequest.
    let handler = handler.unwrap_or(invalid_device_request);
    // SAFETY: the handler receives the IRP it is meant for.
    unsafe { handler(device, irp) }
}

/// `KsDispatchQuerySecurity` and `KsDispatchSetSecurity`: completes the IRP.
///
/// The security descriptor is found through the object's create item, as ks.sys does: none, and
/// the request fails with STATUS_NO_SECURITY_ON_OBJECT. The emulation has no security model: with
/// a descriptor, a query succeeds returning no bytes, and a set succeeds and flags the create item
/// KSCREATE_ITEM_SECURITYCHANGED (ks.sys's documented meaning of that flag).
///
/// # Safety
/// `irp` must be a live IRP owned by the caller.
pub(crate) unsafe fn dispatch_security(state: &KernelState, irp: *mut IRP, set: bool) -> NTSTATUS {
    check_irql(
        state,
        if set {
            "KsDispatchSetSecurity"
        } else {
            "KsDispatchQuerySecurity"
        },
        DISPATCH_LEVEL,
    );
    // SAFETY: the caller guarantees `irp` is live.
    let stack = unsafe { stack_location(irp) };
    // SAFETY: as above.
    let file = unsafe { (*stack).FileObject };
    // SAFETY: as above.
    let major = unsafe { (*stack).MajorFunction };
    // SAFETY: the file object of an IRP is live while the IRP is.
    let header = unsafe { header_of_file(state, file, major) };
    let item = header.map_or(std::ptr::null_mut(), |h| h.create_item);
    if item.is_null() {
        // SAFETY: the caller owns the live IRP.
        return unsafe { complete_with(irp, STATUS_NO_SECURITY_ON_OBJECT, 0) };
    }
    // SAFETY: the create item lives as long as the object created through it.
    let descriptor = unsafe { (*item).SecurityDescriptor };
    if descriptor.is_null() {
        // SAFETY: the caller owns the live IRP.
        return unsafe { complete_with(irp, STATUS_NO_SECURITY_ON_OBJECT, 0) };
    }
    if set {
        // SAFETY: as above; ks.sys updates the item's flags the same way.
        unsafe { (*item).Flags |= KSCREATE_ITEM_SECURITYCHANGED };
    }
    // SAFETY: the caller owns the live IRP.
    unsafe { complete_with(irp, STATUS_SUCCESS, 0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn object_class_stops_at_the_first_backslash() {
        assert_eq!(
            object_class(&utf16("{ABC}\\params\\more")),
            utf16("{ABC}").as_slice()
        );
        assert_eq!(object_class(&utf16("plain")), utf16("plain").as_slice());
        assert_eq!(object_class(&utf16("\\lead")), &[] as &[u16]);
    }

    #[test]
    fn an_object_header_is_allocated_below_dispatch_level_only() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        let _entered = kernel.enter();
        let state = crate::kernel::current("test");
        let table = KSDISPATCH_TABLE {
            DeviceIoControl: None,
            Read: None,
            Write: None,
            Flush: None,
            Close: None,
            QuerySecurity: None,
            SetSecurity: None,
            FastDeviceIoControl: None,
            FastRead: None,
            FastWrite: None,
        };
        for irql in [APC_LEVEL, DISPATCH_LEVEL] {
            crate::kernel::set_irql(irql);
            let mut header: KSOBJECT_HEADER = std::ptr::null_mut();
            // SAFETY: `header` is writable; no items, no IRP; the table outlives the header.
            let status = unsafe {
                allocate_object_header(
                    &state,
                    &mut header,
                    0,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    &table,
                )
            };
            crate::kernel::set_irql(PASSIVE_LEVEL);
            assert_eq!(status, STATUS_SUCCESS);
            free_object_header(&state, header);
        }
        assert_eq!(
            kernel.take_bugs(),
            vec![Bug::IrqlTooHigh {
                service: "KsAllocateObjectHeader",
                irql: DISPATCH_LEVEL,
                max: APC_LEVEL
            }],
            "APC_LEVEL is allowed, DISPATCH_LEVEL is not"
        );
        kernel.assert_no_leaks();
    }

    #[test]
    fn names_compare_ignoring_case() {
        assert!(equal_ignoring_case(
            &utf16("{642f5d00-4791-11d0-a5d6-28db04c10000}"),
            &utf16(ks::ks::KSSTRING_Allocator)
        ));
        assert!(
            equal_ignoring_case(&utf16("Straße"), &utf16("STRAßE")),
            "ß has no one-unit upper case"
        );
        assert!(equal_ignoring_case(&utf16("élan"), &utf16("ÉLAN")));
        assert!(!equal_ignoring_case(&utf16("pin"), &utf16("pins")));
        assert!(!equal_ignoring_case(&utf16("pin"), &utf16("pim")));
    }
}
