//! The services, with exactly the C names and signatures of `avcam_kernel::sig`.
//!
//! Each is a thin `extern "system"` shell over the module that owns the behaviour; the kernel
//! crate re-exports them off Windows, where they stand in for the ntoskrnl.exe and ks.sys
//! imports. Every service except `KeInitializeEvent` needs a current kernel on the calling thread
//! (see [`Kernel::enter`](crate::Kernel::enter)); without one it panics, and since a panic cannot
//! unwind out of an `extern "system"` function, the process stops with that message.
#![allow(non_snake_case, non_upper_case_globals)]

use std::ffi::c_void;

use ks::ks::{KSDISPATCH_TABLE, KSOBJECT_CREATE_ITEM, KSOBJECT_HEADER};
use ks::nt::{
    DEVICE_OBJECT, DISPATCH_LEVEL, EVENT_TYPE, HANDLE, IRP, KEVENT, KIRQL, KPROCESSOR_MODE,
    KSPIN_LOCK, OBJECT_HANDLE_INFORMATION, PASSIVE_LEVEL, POBJECT_TYPE, POOL_FLAGS,
};
use ks::NTSTATUS;

use crate::kernel::{current, current_irql};
use crate::sync::check_irql;
use crate::{event, io, ks as ks_sys, object, sync};

/// `PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)`: a tracked pool
/// block, or NULL (invalid flags, wrong IRQL, too large, or the fault injector said so).
///
/// # Safety
/// Safe to call with any arguments; marked unsafe to match the kernel import.
pub unsafe extern "system" fn ExAllocatePool2(
    Flags: POOL_FLAGS,
    NumberOfBytes: usize,
    Tag: u32,
) -> *mut c_void {
    let state = current("ExAllocatePool2");
    state
        .pool
        .allocate(&state.bugs, current_irql(), Flags, NumberOfBytes, Tag)
}

/// `VOID ExFreePoolWithTag(PVOID P, ULONG Tag)`: frees a tracked block; a double free, a foreign
/// pointer or a wrong tag is reported (see [`crate::bugs`]).
///
/// # Safety
/// `P` must not be used after the call if it was a live block.
pub unsafe extern "system" fn ExFreePoolWithTag(P: *mut c_void, Tag: u32) {
    let state = current("ExFreePoolWithTag");
    state.pool.free(&state.bugs, current_irql(), P, Tag);
}

/// `KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock)`.
///
/// # Safety
/// `SpinLock` must point to a live, aligned KSPIN_LOCK used only through the spin lock routines.
pub unsafe extern "system" fn KeAcquireSpinLockRaiseToDpc(SpinLock: *mut KSPIN_LOCK) -> KIRQL {
    let state = current("KeAcquireSpinLockRaiseToDpc");
    // SAFETY: forwarded from the caller.
    unsafe { sync::acquire(&state, "KeAcquireSpinLockRaiseToDpc", SpinLock) }
}

/// `VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)`.
///
/// # Safety
/// As for [`KeAcquireSpinLockRaiseToDpc`].
pub unsafe extern "system" fn KeReleaseSpinLock(SpinLock: *mut KSPIN_LOCK, NewIrql: KIRQL) {
    let state = current("KeReleaseSpinLock");
    // SAFETY: forwarded from the caller.
    unsafe { sync::release(&state, SpinLock, NewIrql) }
}

/// `VOID IofCompleteRequest(PIRP Irp, CCHAR PriorityBoost)`: completes the IRP with its
/// `IoStatus`; a second completion or a pointer that is not a live IRP is reported.
///
/// # Safety
/// `Irp` must be a live IRP the caller owns (or a pointer the emulation will reject).
pub unsafe extern "system" fn IofCompleteRequest(Irp: *mut IRP, PriorityBoost: i8) {
    let _ = PriorityBoost;
    let state = current("IofCompleteRequest");
    // SAFETY: forwarded from the caller.
    unsafe { io::complete(&state, Irp) }
}

/// `VOID IoAcquireCancelSpinLock(PKIRQL Irql)`.
///
/// # Safety
/// `Irql` must be writable.
pub unsafe extern "system" fn IoAcquireCancelSpinLock(Irql: *mut KIRQL) {
    let state = current("IoAcquireCancelSpinLock");
    // SAFETY: the cancel lock word lives as long as the kernel.
    let old = unsafe {
        sync::acquire(
            &state,
            "IoAcquireCancelSpinLock",
            state.cancel_lock.as_ptr(),
        )
    };
    // SAFETY: the caller guarantees `Irql` is writable.
    unsafe { Irql.write(old) };
}

/// `VOID IoReleaseCancelSpinLock(KIRQL Irql)`.
///
/// # Safety
/// Safe to call with any argument (releasing a lock not held is reported); unsafe to match the
/// kernel import.
pub unsafe extern "system" fn IoReleaseCancelSpinLock(Irql: KIRQL) {
    let state = current("IoReleaseCancelSpinLock");
    // SAFETY: the cancel lock word lives as long as the kernel.
    unsafe { sync::release(&state, state.cancel_lock.as_ptr(), Irql) }
}

/// `VOID KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State)`. Needs no current
/// kernel.
///
/// # Safety
/// `Event` must point to writable memory for a KEVENT.
pub unsafe extern "system" fn KeInitializeEvent(Event: *mut KEVENT, Type: EVENT_TYPE, State: u8) {
    // SAFETY: forwarded from the caller.
    unsafe { event::initialize(Event, Type, State != 0) }
}

/// `LONG KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)`: signals the event, wakes
/// its waiters and returns the previous state.
///
/// # Safety
/// `Event` must point to a live, initialised KEVENT.
pub unsafe extern "system" fn KeSetEvent(Event: *mut KEVENT, Increment: i32, Wait: u8) -> i32 {
    let _ = (Increment, Wait);
    let state = current("KeSetEvent");
    check_irql(&state, "KeSetEvent", DISPATCH_LEVEL);
    // SAFETY: forwarded from the caller.
    unsafe { event::set(&state, Event) }
}

/// `NTSTATUS ObReferenceObjectByHandle(HANDLE, ACCESS_MASK, POBJECT_TYPE, KPROCESSOR_MODE,
/// PVOID *Object, POBJECT_HANDLE_INFORMATION)`: STATUS_INVALID_HANDLE for an unknown handle,
/// STATUS_OBJECT_TYPE_MISMATCH when `ObjectType` is not NULL and not the object's type.
/// The emulation makes no access checks (`DesiredAccess` and `AccessMode` are accepted as given).
///
/// # Safety
/// `Object` must be writable; `HandleInformation` must be NULL or writable.
pub unsafe extern "system" fn ObReferenceObjectByHandle(
    Handle: HANDLE,
    DesiredAccess: u32,
    ObjectType: POBJECT_TYPE,
    AccessMode: KPROCESSOR_MODE,
    Object: *mut *mut c_void,
    HandleInformation: *mut c_void,
) -> NTSTATUS {
    let _ = AccessMode;
    let state = current("ObReferenceObjectByHandle");
    check_irql(&state, "ObReferenceObjectByHandle", PASSIVE_LEVEL);
    let info = HandleInformation.cast::<OBJECT_HANDLE_INFORMATION>();
    // SAFETY: forwarded from the caller.
    unsafe {
        object::reference_object_by_handle(&state, Handle, DesiredAccess, ObjectType, Object, info)
    }
}

/// `LONG_PTR ObfDereferenceObject(PVOID Object)`: drops a reference taken by
/// [`ObReferenceObjectByHandle`]; returns the references left.
///
/// # Safety
/// Safe to call with any pointer (unknown ones are reported); unsafe to match the kernel import.
pub unsafe extern "system" fn ObfDereferenceObject(Object: *mut c_void) -> isize {
    let state = current("ObfDereferenceObject");
    check_irql(&state, "ObfDereferenceObject", DISPATCH_LEVEL);
    state.objects.dereference(&state, Object)
}

/// `POBJECT_TYPE ExEventObjectType` (wdm.h declares `extern POBJECT_TYPE *ExEventObjectType`, the
/// import's address): read it with `unsafe { ExEventObjectType }`, as on Windows.
///
/// Never written; `static mut` only so that it reads the same way as the imported data on
/// Windows.
pub static mut ExEventObjectType: POBJECT_TYPE =
    (&raw const object::EVENT_OBJECT_TYPE).cast_mut().cast();

/// `NTSTATUS KsAllocateObjectHeader(KSOBJECT_HEADER *Header, ULONG ItemsCount,
/// PKSOBJECT_CREATE_ITEM ItemsList, PIRP Irp, const KSDISPATCH_TABLE *Table)`: allocates the
/// header (from the tracked pool, tag [`crate::ks::OBJECT_HEADER_TAG`]; STATUS_INSUFFICIENT_RESOURCES
/// when that fails), recording the items, the table and `KSCREATE_ITEM_IRP_STORAGE(Irp)`.
/// The caller then points its file object's `FsContext` at a structure starting with the header.
///
/// # Safety
/// `Header` must be writable; `ItemsList` (`ItemsCount` items) and `Table` must outlive the
/// header; `Irp` must be NULL or a live IRP.
pub unsafe extern "system" fn KsAllocateObjectHeader(
    Header: *mut KSOBJECT_HEADER,
    ItemsCount: u32,
    ItemsList: *mut KSOBJECT_CREATE_ITEM,
    Irp: *mut IRP,
    Table: *const KSDISPATCH_TABLE,
) -> NTSTATUS {
    let state = current("KsAllocateObjectHeader");
    // SAFETY: forwarded from the caller.
    unsafe { ks_sys::allocate_object_header(&state, Header, ItemsCount, ItemsList, Irp, Table) }
}

/// `VOID KsFreeObjectHeader(PVOID Header)`.
///
/// # Safety
/// Safe to call with any pointer (unknown ones are reported); unsafe to match the kernel import.
pub unsafe extern "system" fn KsFreeObjectHeader(Header: *mut c_void) {
    let state = current("KsFreeObjectHeader");
    ks_sys::free_object_header(&state, Header);
}

/// `PKSOBJECT_CREATE_ITEM KsQueryObjectCreateItem(KSOBJECT_HEADER Header)`: the create item the
/// object was created through (NULL if none).
///
/// # Safety
/// Safe to call with any pointer (unknown ones are reported); unsafe to match the kernel import.
pub unsafe extern "system" fn KsQueryObjectCreateItem(
    Header: KSOBJECT_HEADER,
) -> *mut KSOBJECT_CREATE_ITEM {
    let state = current("KsQueryObjectCreateItem");
    ks_sys::query_object_create_item(&state, Header)
}

/// `NTSTATUS KsDispatchQuerySecurity(PDEVICE_OBJECT, PIRP)`: completes the IRP; see
/// [`crate::ks`] for what the emulation answers.
///
/// # Safety
/// `Irp` must be a live IRP_MJ_QUERY_SECURITY the caller owns.
pub unsafe extern "system" fn KsDispatchQuerySecurity(
    DeviceObject: *mut DEVICE_OBJECT,
    Irp: *mut IRP,
) -> NTSTATUS {
    let _ = DeviceObject;
    let state = current("KsDispatchQuerySecurity");
    // SAFETY: forwarded from the caller.
    unsafe { ks_sys::dispatch_security(&state, Irp, false) }
}

/// `NTSTATUS KsDispatchSetSecurity(PDEVICE_OBJECT, PIRP)`: completes the IRP; see [`crate::ks`].
///
/// # Safety
/// `Irp` must be a live IRP_MJ_SET_SECURITY the caller owns.
pub unsafe extern "system" fn KsDispatchSetSecurity(
    DeviceObject: *mut DEVICE_OBJECT,
    Irp: *mut IRP,
) -> NTSTATUS {
    let _ = DeviceObject;
    let state = current("KsDispatchSetSecurity");
    // SAFETY: forwarded from the caller.
    unsafe { ks_sys::dispatch_security(&state, Irp, true) }
}

/// `NTSTATUS KsDispatchIrp(PDEVICE_OBJECT, PIRP)`: routes creates by create-item name and every
/// other IRP through `FileObject->FsContext` -> header -> dispatch table (see [`crate::ks`]).
///
/// # Safety
/// `Irp` must be a live IRP the caller owns, for a file object following the KS convention.
pub unsafe extern "system" fn KsDispatchIrp(
    DeviceObject: *mut DEVICE_OBJECT,
    Irp: *mut IRP,
) -> NTSTATUS {
    let state = current("KsDispatchIrp");
    // SAFETY: forwarded from the caller.
    unsafe { ks_sys::dispatch_irp(&state, DeviceObject, Irp) }
}
