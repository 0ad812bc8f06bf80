//! The services, with exactly the C names and signatures of `avcam_kernel::sig`.
//!
//! Each is a thin `extern "system"` shell over the module that owns the behaviour; the kernel
//! crate re-exports them off Windows, where they stand in for the ntoskrnl.exe and ks.sys
//! imports. Every service except `KeInitializeEvent` needs a current kernel on the calling thread
//! (see [`Kernel::enter`](crate::Kernel::enter)); without one it panics, and since a panic cannot
//! unwind out of an `extern "system"` function, the process stops with that message.
#![allow(non_snake_case, non_upper_case_globals)]

use std::ffi::c_void;

use ks::avstream::{
    KSDEVICE, KSDEVICE_DESCRIPTOR, KSFILTER, KSFILTERFACTORY, KSFILTER_DESCRIPTOR, KSOBJECT_BAG,
    KSPIN, KSSTREAM_POINTER, KSSTREAM_POINTER_STATE, PFNKSFILTERFACTORYPOWER, PFNKSSTREAMPOINTER,
};
use ks::ks::{KSALLOCATOR_FRAMING, KSDISPATCH_TABLE, KSOBJECT_CREATE_ITEM, KSOBJECT_HEADER};
use ks::nt::{
    APC_LEVEL, DEVICE_OBJECT, DISPATCH_LEVEL, DRIVER_OBJECT, EVENT_TYPE, EXT_DELETE_PARAMETERS,
    EXT_SET_PARAMETERS, EX_TIMER, FILE_OBJECT, HANDLE, IRP, KDPC, KEVENT,
    KEY_VALUE_INFORMATION_CLASS, KIRQL, KPROCESSOR_MODE, KSPIN_LOCK, KTIMER,
    OBJECT_HANDLE_INFORMATION, PACCESS_STATE, PASSIVE_LEVEL, PDRIVER_DISPATCH, PEXT_CALLBACK,
    PKDEFERRED_ROUTINE, POBJECT_TYPE, POOL_FLAGS, TIMER_TYPE, UNICODE_STRING,
};
use ks::status::STATUS_SUCCESS;
use ks::NTSTATUS;

use crate::kernel::{current, current_irql, with_current};
use crate::sync::check_irql;
use crate::{
    avstream, debug_print, event, handles, io, ks as ks_sys, object, registry, sync, timer,
};

/// `PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)`: a tracked pool
/// block, or NULL (invalid flags or tag, zero bytes, wrong IRQL, too large, or the fault injector
/// said so).
///
/// # Safety
/// Safe to call with any arguments; marked unsafe to match the kernel import.
#[ks::kernel_abi]
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
/// pointer or a wrong tag is reported (see [`crate::bugs`]), and so is a block holding a set
/// timer, a queued KDPC or a busy EX_TIMER's context (see [`crate::timer`]).
///
/// # Safety
/// `P` must not be used after the call if it was a live block.
#[ks::kernel_abi]
pub unsafe extern "system" fn ExFreePoolWithTag(P: *mut c_void, Tag: u32) {
    let state = current("ExFreePoolWithTag");
    if let Some(size) = state.pool.live_size(P as usize) {
        timer::check_freed_block(&state, P as usize, size);
    }
    state.pool.free(&state.bugs, current_irql(), P, Tag);
}

/// `KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock)`.
///
/// # Safety
/// `SpinLock` must point to a live, aligned KSPIN_LOCK used only through the spin lock routines.
#[ks::kernel_abi]
pub unsafe extern "system" fn KeAcquireSpinLockRaiseToDpc(SpinLock: *mut KSPIN_LOCK) -> KIRQL {
    with_current("KeAcquireSpinLockRaiseToDpc", |state| {
        // SAFETY: forwarded from the caller.
        unsafe { sync::acquire(state, "KeAcquireSpinLockRaiseToDpc", SpinLock) }
    })
}

/// `VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)`.
///
/// # Safety
/// As for [`KeAcquireSpinLockRaiseToDpc`].
#[ks::kernel_abi]
pub unsafe extern "system" fn KeReleaseSpinLock(SpinLock: *mut KSPIN_LOCK, NewIrql: KIRQL) {
    with_current("KeReleaseSpinLock", |state| {
        // SAFETY: forwarded from the caller.
        unsafe { sync::release(state, SpinLock, NewIrql) }
    })
}

/// `VOID IofCompleteRequest(PIRP Irp, CCHAR PriorityBoost)`: completes the IRP with its
/// `IoStatus`; a second completion or a pointer that is not a live IRP is reported.
///
/// # Safety
/// `Irp` must be a live IRP the caller owns (or a pointer the emulation will reject).
#[ks::kernel_abi]
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
#[ks::kernel_abi]
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
#[ks::kernel_abi]
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
#[ks::kernel_abi]
pub unsafe extern "system" fn KeInitializeEvent(Event: *mut KEVENT, Type: EVENT_TYPE, State: u8) {
    // SAFETY: forwarded from the caller.
    unsafe { event::initialize(Event, Type, State != 0) }
}

/// `LONG KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)`: signals the event, wakes
/// its waiters and returns the previous state. IRQL <= DISPATCH_LEVEL with `Wait` FALSE, <=
/// APC_LEVEL with `Wait` TRUE (the KeSetEvent page).
///
/// # Safety
/// `Event` must point to a live, initialised KEVENT.
#[ks::kernel_abi]
pub unsafe extern "system" fn KeSetEvent(Event: *mut KEVENT, Increment: i32, Wait: u8) -> i32 {
    let _ = Increment;
    let state = current("KeSetEvent");
    let max = if Wait != 0 { APC_LEVEL } else { DISPATCH_LEVEL };
    check_irql(&state, "KeSetEvent", max);
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
#[ks::kernel_abi]
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
#[ks::kernel_abi]
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
#[ks::kernel_abi]
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
#[ks::kernel_abi]
pub unsafe extern "system" fn KsFreeObjectHeader(Header: *mut c_void) {
    let state = current("KsFreeObjectHeader");
    ks_sys::free_object_header(&state, Header);
}

/// `PKSOBJECT_CREATE_ITEM KsQueryObjectCreateItem(KSOBJECT_HEADER Header)`: the create item the
/// object was created through (NULL if none).
///
/// # Safety
/// Safe to call with any pointer (unknown ones are reported); unsafe to match the kernel import.
#[ks::kernel_abi]
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
#[ks::kernel_abi]
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
#[ks::kernel_abi]
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
#[ks::kernel_abi]
pub unsafe extern "system" fn KsDispatchIrp(
    DeviceObject: *mut DEVICE_OBJECT,
    Irp: *mut IRP,
) -> NTSTATUS {
    let state = current("KsDispatchIrp");
    // SAFETY: forwarded from the caller.
    unsafe { ks_sys::dispatch_irp(&state, DeviceObject, Irp) }
}

/// `VOID KeInitializeDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine, PVOID DeferredContext)`.
///
/// # Safety
/// `Dpc` must point to writable memory for a KDPC that lives while it is queued or set on a timer.
#[ks::kernel_abi]
pub unsafe extern "system" fn KeInitializeDpc(
    Dpc: *mut KDPC,
    DeferredRoutine: PKDEFERRED_ROUTINE,
    DeferredContext: *mut c_void,
) {
    let state = current("KeInitializeDpc");
    // SAFETY: forwarded from the caller.
    unsafe { timer::initialize_dpc(&state, Dpc, DeferredRoutine, DeferredContext) }
}

/// `VOID KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type)`.
///
/// # Safety
/// `Timer` must point to writable memory for a KTIMER.
#[ks::kernel_abi]
pub unsafe extern "system" fn KeInitializeTimerEx(Timer: *mut KTIMER, Type: TIMER_TYPE) {
    let state = current("KeInitializeTimerEx");
    // SAFETY: forwarded from the caller.
    unsafe { timer::initialize_timer(&state, Timer, Type) }
}

/// `BOOLEAN KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period, PKDPC Dpc)`.
///
/// # Safety
/// `Timer` and `Dpc` (if not NULL) must be initialised and live until the timer is cancelled or has fired for the last time.
#[ks::kernel_abi]
pub unsafe extern "system" fn KeSetTimerEx(
    Timer: *mut KTIMER,
    DueTime: i64,
    Period: i32,
    Dpc: *mut KDPC,
) -> u8 {
    let state = current("KeSetTimerEx");
    check_irql(&state, "KeSetTimerEx", DISPATCH_LEVEL);
    // SAFETY: forwarded from the caller.
    u8::from(unsafe { timer::set_timer(&state, Timer, DueTime, Period, Dpc) })
}

/// `BOOLEAN KeCancelTimer(PKTIMER Timer)`.
///
/// # Safety
/// `Timer` must be an initialised KTIMER.
#[ks::kernel_abi]
pub unsafe extern "system" fn KeCancelTimer(Timer: *mut KTIMER) -> u8 {
    let state = current("KeCancelTimer");
    check_irql(&state, "KeCancelTimer", DISPATCH_LEVEL);
    u8::from(timer::cancel_timer(&state, Timer))
}

/// `VOID KeFlushQueuedDpcs(VOID)`: waits until every DPC and EX_TIMER callback queued or
/// running when it is called has run to completion, on any thread (the emulation queues DPCs
/// only through timers).
///
/// # Safety
/// None beyond the kernel's: callable at PASSIVE_LEVEL.
#[ks::kernel_abi]
pub unsafe extern "system" fn KeFlushQueuedDpcs() {
    let state = current("KeFlushQueuedDpcs");
    check_irql(&state, "KeFlushQueuedDpcs", PASSIVE_LEVEL);
    timer::flush_queued_dpcs(&state);
}

/// `PEX_TIMER ExAllocateTimer(PEXT_CALLBACK Callback, PVOID CallbackContext, ULONG Attributes)`
/// (Windows 8.1+): a timer object from the tracked pool, or NULL (see [`crate::timer`] for the
/// rules the emulation holds the driver to).
///
/// # Safety
/// `Callback`, if not NULL, must be callable at DISPATCH_LEVEL with `CallbackContext` until the
/// timer is deleted.
#[ks::kernel_abi]
pub unsafe extern "system" fn ExAllocateTimer(
    Callback: PEXT_CALLBACK,
    CallbackContext: *mut c_void,
    Attributes: u32,
) -> *mut EX_TIMER {
    let state = current("ExAllocateTimer");
    check_irql(&state, "ExAllocateTimer", DISPATCH_LEVEL);
    timer::allocate_timer(&state, Callback, CallbackContext, Attributes)
}

/// `BOOLEAN ExSetTimer(PEX_TIMER Timer, LONGLONG DueTime, LONGLONG Period,
/// PEXT_SET_PARAMETERS Parameters)`: sets the timer (both times in 100 ns units); TRUE if it
/// cancelled a set timer.
///
/// # Safety
/// `Parameters` must be NULL or point to a readable EXT_SET_PARAMETERS.
#[ks::kernel_abi]
pub unsafe extern "system" fn ExSetTimer(
    Timer: *mut EX_TIMER,
    DueTime: i64,
    Period: i64,
    Parameters: *mut EXT_SET_PARAMETERS,
) -> u8 {
    let state = current("ExSetTimer");
    check_irql(&state, "ExSetTimer", DISPATCH_LEVEL);
    // SAFETY: forwarded from the caller.
    u8::from(unsafe { timer::set_ex_timer(&state, Timer, DueTime, Period, Parameters) })
}

/// `BOOLEAN ExCancelTimer(PEX_TIMER Timer, PEXT_CANCEL_PARAMETERS Parameters)`: TRUE if the
/// timer was set. `Parameters` must be NULL.
///
/// # Safety
/// Safe with any arguments (unknown timers are reported); unsafe to match the kernel import.
#[ks::kernel_abi]
pub unsafe extern "system" fn ExCancelTimer(Timer: *mut EX_TIMER, Parameters: *mut c_void) -> u8 {
    let state = current("ExCancelTimer");
    check_irql(&state, "ExCancelTimer", DISPATCH_LEVEL);
    u8::from(timer::cancel_ex_timer(&state, Timer, Parameters))
}

/// `BOOLEAN ExDeleteTimer(PEX_TIMER Timer, BOOLEAN Cancel, BOOLEAN Wait,
/// PEXT_DELETE_PARAMETERS Parameters)`: deletes the timer object; TRUE if Cancel cancelled a set
/// timer. With Wait (IRQL <= APC_LEVEL, Cancel TRUE) it returns once no callback of the timer is
/// queued or running.
///
/// # Safety
/// `Parameters` must be NULL (a reported bug) or point to a readable EXT_DELETE_PARAMETERS; its
/// DeleteCallback, if any, must be callable with its DeleteContext.
#[ks::kernel_abi]
pub unsafe extern "system" fn ExDeleteTimer(
    Timer: *mut EX_TIMER,
    Cancel: u8,
    Wait: u8,
    Parameters: *mut EXT_DELETE_PARAMETERS,
) -> u8 {
    let state = current("ExDeleteTimer");
    let max = if Wait != 0 { APC_LEVEL } else { DISPATCH_LEVEL };
    check_irql(&state, "ExDeleteTimer", max);
    // SAFETY: forwarded from the caller.
    u8::from(unsafe { timer::delete_timer(&state, Timer, Cancel != 0, Wait != 0, Parameters) })
}

/// `VOID ExQueryTimerResolution(PULONG MaximumTime, PULONG MinimumTime, PULONG CurrentTime)`
/// (Windows 8+): the longest, shortest and current interval between clock ticks, 100 ns units.
///
/// # Safety
/// The three pointers must be writable (NULL ones are reported).
#[ks::kernel_abi]
pub unsafe extern "system" fn ExQueryTimerResolution(
    MaximumTime: *mut u32,
    MinimumTime: *mut u32,
    CurrentTime: *mut u32,
) {
    let state = current("ExQueryTimerResolution");
    // SAFETY: forwarded from the caller.
    unsafe { timer::query_resolution(&state, MaximumTime, MinimumTime, CurrentTime) }
}

/// `LARGE_INTEGER KeQueryPerformanceCounter(PLARGE_INTEGER PerformanceFrequency)` (any IRQL):
/// the counter at the virtual clock's interrupt time, at [`timer::PERFORMANCE_FREQUENCY`]
/// (not 10 MHz: see there), and that frequency.
///
/// # Safety
/// `PerformanceFrequency` must be NULL or writable.
#[ks::kernel_abi]
pub unsafe extern "system" fn KeQueryPerformanceCounter(PerformanceFrequency: *mut i64) -> i64 {
    let state = current("KeQueryPerformanceCounter");
    if !PerformanceFrequency.is_null() {
        // SAFETY: the caller guarantees a non-NULL pointer is writable.
        unsafe { PerformanceFrequency.write(timer::PERFORMANCE_FREQUENCY) };
    }
    timer::performance_counter(state.clock.now_100ns())
}

/// `NTSTATUS ObOpenObjectByPointer(PVOID Object, ULONG HandleAttributes, PACCESS_STATE, ACCESS_MASK, POBJECT_TYPE, KPROCESSOR_MODE, PHANDLE Handle)`.
///
/// # Safety
/// `Handle` must be writable.
#[ks::kernel_abi]
pub unsafe extern "system" fn ObOpenObjectByPointer(
    Object: *mut c_void,
    HandleAttributes: u32,
    PassedAccessState: PACCESS_STATE,
    DesiredAccess: u32,
    ObjectType: POBJECT_TYPE,
    AccessMode: KPROCESSOR_MODE,
    Handle: *mut HANDLE,
) -> NTSTATUS {
    let _ = (
        HandleAttributes,
        PassedAccessState,
        DesiredAccess,
        AccessMode,
    );
    let state = current("ObOpenObjectByPointer");
    // SAFETY: forwarded from the caller.
    unsafe { handles::open_object_by_pointer(&state, Object, ObjectType, Handle) }
}

/// `NTSTATUS ZwClose(HANDLE Handle)`.
///
/// # Safety
/// Safe with any value; unsafe to match the kernel import.
#[ks::kernel_abi]
pub unsafe extern "system" fn ZwClose(Handle: HANDLE) -> NTSTATUS {
    let state = current("ZwClose");
    handles::close(&state, Handle)
}

/// `NTSTATUS IoOpenDeviceRegistryKey(PDEVICE_OBJECT DeviceObject, ULONG DevInstKeyType,
/// ACCESS_MASK DesiredAccess, PHANDLE DeviceRegKey)`: a kernel handle to one of the device's
/// registry keys (see [`crate::registry`]).
///
/// # Safety
/// `DeviceRegKey` must be writable.
#[ks::kernel_abi]
pub unsafe extern "system" fn IoOpenDeviceRegistryKey(
    DeviceObject: *mut DEVICE_OBJECT,
    DevInstKeyType: u32,
    DesiredAccess: u32,
    DeviceRegKey: *mut HANDLE,
) -> NTSTATUS {
    let _ = DesiredAccess;
    let state = current("IoOpenDeviceRegistryKey");
    // SAFETY: forwarded from the caller.
    unsafe { registry::open_device_key(&state, DeviceObject, DevInstKeyType, DeviceRegKey) }
}

/// `NTSTATUS ZwQueryValueKey(HANDLE KeyHandle, PUNICODE_STRING ValueName,
/// KEY_VALUE_INFORMATION_CLASS KeyValueInformationClass, PVOID KeyValueInformation, ULONG Length,
/// PULONG ResultLength)` (see [`crate::registry`]).
///
/// # Safety
/// `ValueName` must be a live UNICODE_STRING, `KeyValueInformation` NULL or writable for `Length`
/// bytes, `ResultLength` writable.
#[ks::kernel_abi]
pub unsafe extern "system" fn ZwQueryValueKey(
    KeyHandle: HANDLE,
    ValueName: *mut UNICODE_STRING,
    KeyValueInformationClass: KEY_VALUE_INFORMATION_CLASS,
    KeyValueInformation: *mut c_void,
    Length: u32,
    ResultLength: *mut u32,
) -> NTSTATUS {
    let state = current("ZwQueryValueKey");
    // SAFETY: forwarded from the caller.
    unsafe {
        registry::query_value(
            &state,
            KeyHandle,
            ValueName,
            KeyValueInformationClass,
            KeyValueInformation,
            Length,
            ResultLength,
        )
    }
}

/// `NTSTATUS KsInitializeDriver(PDRIVER_OBJECT, PUNICODE_STRING, const KSDEVICE_DESCRIPTOR *)`.
///
/// # Safety
/// `DriverObject` must be the driver object DriverEntry received; `Descriptor` must live until unload.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsInitializeDriver(
    DriverObject: *mut DRIVER_OBJECT,
    RegistryPathName: *mut UNICODE_STRING,
    Descriptor: *const KSDEVICE_DESCRIPTOR,
) -> NTSTATUS {
    let _ = RegistryPathName;
    let state = current("KsInitializeDriver");
    check_irql(&state, "KsInitializeDriver", PASSIVE_LEVEL);
    // SAFETY: forwarded from the caller.
    unsafe { avstream::initialize_driver(&state, DriverObject, Descriptor) }
}

/// `NTSTATUS KsCreateFilterFactory(PDEVICE_OBJECT DeviceObject, const KSFILTER_DESCRIPTOR
/// *Descriptor, PWSTR RefString, PSECURITY_DESCRIPTOR SecurityDescriptor, ULONG
/// CreateItemFlags, PFNKSFILTERFACTORYPOWER SleepCallback, PFNKSFILTERFACTORYPOWER WakeCallback,
/// PKSFILTERFACTORY *FilterFactory)`: see [`avstream::device`]. The security descriptor, the
/// create item flags and the power callbacks are accepted and not modelled.
///
/// # Safety
/// `Descriptor` must live until unload; `RefString` NULL or NUL-terminated; `FilterFactory`
/// NULL or writable.
#[allow(clippy::too_many_arguments)]
#[ks::kernel_abi]
pub unsafe extern "system" fn KsCreateFilterFactory(
    DeviceObject: *mut DEVICE_OBJECT,
    Descriptor: *const KSFILTER_DESCRIPTOR,
    RefString: *mut u16,
    SecurityDescriptor: *mut c_void,
    CreateItemFlags: u32,
    SleepCallback: PFNKSFILTERFACTORYPOWER,
    WakeCallback: PFNKSFILTERFACTORYPOWER,
    FilterFactory: *mut *mut KSFILTERFACTORY,
) -> NTSTATUS {
    let _ = (
        SecurityDescriptor,
        CreateItemFlags,
        SleepCallback,
        WakeCallback,
    );
    let state = current("KsCreateFilterFactory");
    check_irql(&state, "KsCreateFilterFactory", PASSIVE_LEVEL);
    // SAFETY: forwarded from the caller.
    unsafe {
        avstream::create_filter_factory(&state, DeviceObject, Descriptor, RefString, FilterFactory)
    }
}

/// `void KsAcquireDevice(PKSDEVICE Device)`: the device mutex (PASSIVE_LEVEL).
///
/// # Safety
/// `Device` must be the emulation's KSDEVICE.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsAcquireDevice(Device: *mut KSDEVICE) {
    let _ = Device;
    let state = current("KsAcquireDevice");
    check_irql(&state, "KsAcquireDevice", PASSIVE_LEVEL);
    avstream::acquire_device(&state);
}

/// `void KsReleaseDevice(PKSDEVICE Device)`.
///
/// # Safety
/// `Device` must be the emulation's KSDEVICE.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsReleaseDevice(Device: *mut KSDEVICE) {
    let _ = Device;
    let state = current("KsReleaseDevice");
    avstream::release_device(&state);
}

/// `PKSSTREAM_POINTER KsPinGetLeadingEdgeStreamPointer(PKSPIN Pin, KSSTREAM_POINTER_STATE State)`.
///
/// # Safety
/// `Pin` must be a live pin of the emulation.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsPinGetLeadingEdgeStreamPointer(
    Pin: *mut KSPIN,
    State: KSSTREAM_POINTER_STATE,
) -> *mut KSSTREAM_POINTER {
    let state = current("KsPinGetLeadingEdgeStreamPointer");
    check_irql(&state, "KsPinGetLeadingEdgeStreamPointer", DISPATCH_LEVEL);
    avstream::leading_edge(
        &state,
        Pin,
        State == ks::avstream::KSSTREAM_POINTER_STATE_LOCKED,
    )
}

/// `NTSTATUS KsStreamPointerAdvance(PKSSTREAM_POINTER StreamPointer)`.
///
/// # Safety
/// `StreamPointer` must be a live stream pointer.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsStreamPointerAdvance(
    StreamPointer: *mut KSSTREAM_POINTER,
) -> NTSTATUS {
    let state = current("KsStreamPointerAdvance");
    check_irql(&state, "KsStreamPointerAdvance", DISPATCH_LEVEL);
    avstream::advance(&state, StreamPointer, avstream::Move::NextFrame)
}

/// `NTSTATUS KsStreamPointerAdvanceOffsets(PKSSTREAM_POINTER, ULONG InUsed, ULONG OutUsed, BOOLEAN Eject)`.
///
/// # Safety
/// `StreamPointer` must be a live, locked stream pointer.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsStreamPointerAdvanceOffsets(
    StreamPointer: *mut KSSTREAM_POINTER,
    InUsed: u32,
    OutUsed: u32,
    Eject: u8,
) -> NTSTATUS {
    let _ = InUsed;
    let state = current("KsStreamPointerAdvanceOffsets");
    check_irql(&state, "KsStreamPointerAdvanceOffsets", DISPATCH_LEVEL);
    let how = avstream::Move::Offsets {
        out_used: OutUsed,
        eject: Eject != 0,
    };
    avstream::advance(&state, StreamPointer, how)
}

/// `NTSTATUS KsStreamPointerClone(PKSSTREAM_POINTER, PFNKSSTREAMPOINTER CancelCallback, ULONG ContextSize, PKSSTREAM_POINTER *CloneStreamPointer)`.
///
/// # Safety
/// `StreamPointer` must be live; `CloneStreamPointer` writable.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsStreamPointerClone(
    StreamPointer: *mut KSSTREAM_POINTER,
    CancelCallback: PFNKSSTREAMPOINTER,
    ContextSize: u32,
    CloneStreamPointer: *mut *mut KSSTREAM_POINTER,
) -> NTSTATUS {
    let state = current("KsStreamPointerClone");
    check_irql(&state, "KsStreamPointerClone", DISPATCH_LEVEL);
    avstream::clone_pointer(
        &state,
        StreamPointer,
        CancelCallback,
        ContextSize,
        CloneStreamPointer,
    )
}

/// `void KsStreamPointerDelete(PKSSTREAM_POINTER StreamPointer)`.
///
/// # Safety
/// `StreamPointer` must be a live clone.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsStreamPointerDelete(StreamPointer: *mut KSSTREAM_POINTER) {
    let state = current("KsStreamPointerDelete");
    check_irql(&state, "KsStreamPointerDelete", DISPATCH_LEVEL);
    avstream::delete_clone(&state, StreamPointer)
}

/// `void KsStreamPointerUnlock(PKSSTREAM_POINTER StreamPointer, BOOLEAN Eject)`.
///
/// # Safety
/// `StreamPointer` must be a live, locked stream pointer.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsStreamPointerUnlock(
    StreamPointer: *mut KSSTREAM_POINTER,
    Eject: u8,
) {
    let state = current("KsStreamPointerUnlock");
    check_irql(&state, "KsStreamPointerUnlock", DISPATCH_LEVEL);
    avstream::unlock(&state, StreamPointer, Eject != 0)
}

/// `void KsPinAttemptProcessing(PKSPIN Pin, BOOLEAN Asynchronous)`.
///
/// # Safety
/// `Pin` must be a live pin of the emulation.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsPinAttemptProcessing(Pin: *mut KSPIN, Asynchronous: u8) {
    let state = current("KsPinAttemptProcessing");
    check_irql(&state, "KsPinAttemptProcessing", DISPATCH_LEVEL);
    avstream::attempt_processing_of(&state, Pin, Asynchronous != 0)
}

/// `PKSFILTER KsPinGetParentFilter(PKSPIN Pin)`.
///
/// # Safety
/// `Pin` must be a live pin of the emulation.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsPinGetParentFilter(Pin: *mut KSPIN) -> *mut KSFILTER {
    let state = current("KsPinGetParentFilter");
    avstream::parent_filter(&state, Pin)
}

/// `PKSDEVICE KsGetDevice(PVOID Object)` (a KSDEVICE, KSFILTERFACTORY, KSFILTER or KSPIN).
///
/// # Safety
/// `Object` must be a live AVStream object of the emulation.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsGetDevice(Object: *mut c_void) -> *mut KSDEVICE {
    let state = current("KsGetDevice");
    avstream::device_of(&state, Object)
}

/// `PKSPIN KsGetPinFromIrp(PIRP Irp)`.
///
/// # Safety
/// `Irp` must be a live IRP.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsGetPinFromIrp(Irp: *mut IRP) -> *mut KSPIN {
    let state = current("KsGetPinFromIrp");
    // SAFETY: forwarded from the caller.
    unsafe { avstream::pin_of_irp(&state, Irp) }
}

/// `PKSFILTER KsGetFilterFromIrp(PIRP Irp)`.
///
/// # Safety
/// `Irp` must be a live IRP.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsGetFilterFromIrp(Irp: *mut IRP) -> *mut KSFILTER {
    let state = current("KsGetFilterFromIrp");
    // SAFETY: forwarded from the caller.
    unsafe { avstream::filter_of_irp(&state, Irp) }
}

/// `PVOID KsGetObjectFromFileObject(PFILE_OBJECT FileObject)`.
///
/// # Safety
/// `FileObject` must be a live file object of an AVStream object.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsGetObjectFromFileObject(
    FileObject: *mut FILE_OBJECT,
) -> *mut c_void {
    let state = current("KsGetObjectFromFileObject");
    avstream::object_of_file(&state, FileObject)
}

/// `NTSTATUS _KsEdit(KSOBJECT_BAG ObjectBag, PVOID *PointerToPointerToItem, ULONG NewSize,
/// ULONG OldSize, ULONG Tag)` (the `KsEdit(Object, PointerToPointer, Tag)` and `KsEditSized`
/// macros pass `Object->Bag`): a writable copy of the item (`NewSize` bytes of pool under `Tag`:
/// the first `OldSize` bytes of the item, zeros after) owned by the object and freed when it
/// closes; a second edit of a copy does nothing.
///
/// # Safety
/// `ObjectBag` must be the `Bag` of a live filter or pin (else a reported bug);
/// `PointerToPointerToItem` must point to a writable pointer that is NULL or points to `OldSize`
/// readable bytes.
#[ks::kernel_abi]
pub unsafe extern "system" fn _KsEdit(
    ObjectBag: KSOBJECT_BAG,
    PointerToPointerToItem: *mut *mut c_void,
    NewSize: u32,
    OldSize: u32,
    Tag: u32,
) -> NTSTATUS {
    let state = current("_KsEdit");
    // SAFETY: forwarded from the caller.
    unsafe {
        avstream::edit(
            &state,
            ObjectBag,
            PointerToPointerToItem,
            NewSize,
            OldSize,
            Tag,
        )
    }
}

/// `NTSTATUS KsAddObjectCreateItemToObjectHeader(KSOBJECT_HEADER, PDRIVER_DISPATCH Create, PVOID Context, PWSTR ObjectClass, PSECURITY_DESCRIPTOR)`.
///
/// # Safety
/// `Header` must be live; `ObjectClass` a NUL-terminated string living as long as the header.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsAddObjectCreateItemToObjectHeader(
    Header: KSOBJECT_HEADER,
    Create: PDRIVER_DISPATCH,
    Context: *mut c_void,
    ObjectClass: *mut u16,
    SecurityDescriptor: *mut c_void,
) -> NTSTATUS {
    let state = current("KsAddObjectCreateItemToObjectHeader");
    check_irql(&state, "KsAddObjectCreateItemToObjectHeader", PASSIVE_LEVEL);
    // SAFETY: forwarded from the caller.
    unsafe {
        avstream::add_create_item(
            &state,
            Header,
            Create,
            Context,
            ObjectClass,
            SecurityDescriptor,
        )
    }
}

/// `NTSTATUS KsCreateAllocator(HANDLE ConnectionHandle, PKSALLOCATOR_FRAMING, PHANDLE AllocatorHandle)`.
///
/// # Safety
/// `AllocatorFraming` must be readable; `AllocatorHandle` writable.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsCreateAllocator(
    ConnectionHandle: HANDLE,
    AllocatorFraming: *mut KSALLOCATOR_FRAMING,
    AllocatorHandle: *mut HANDLE,
) -> NTSTATUS {
    let state = current("KsCreateAllocator");
    check_irql(&state, "KsCreateAllocator", PASSIVE_LEVEL);
    // SAFETY: forwarded from the caller.
    unsafe {
        handles::create_allocator(&state, ConnectionHandle, AllocatorFraming, AllocatorHandle)
    }
}

/// `NTSTATUS KsSynchronousIoControlDevice(PFILE_OBJECT, KPROCESSOR_MODE, ULONG IoControl, PVOID InBuffer, ULONG InSize, PVOID OutBuffer, ULONG OutSize, PULONG BytesReturned)`.
///
/// # Safety
/// The buffers must be valid for their sizes; `BytesReturned` writable.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsSynchronousIoControlDevice(
    FileObject: *mut FILE_OBJECT,
    RequestorMode: KPROCESSOR_MODE,
    IoControl: u32,
    InBuffer: *mut c_void,
    InSize: u32,
    OutBuffer: *mut c_void,
    OutSize: u32,
    BytesReturned: *mut u32,
) -> NTSTATUS {
    let state = current("KsSynchronousIoControlDevice");
    // SAFETY: forwarded from the caller.
    unsafe {
        handles::synchronous_io_control(
            &state,
            FileObject,
            RequestorMode,
            IoControl,
            InBuffer,
            InSize,
            OutBuffer,
            OutSize,
            BytesReturned,
        )
    }
}

/// `void KsPinAcquireProcessingMutex(PKSPIN Pin)`.
///
/// # Safety
/// `Pin` must be a live pin of the emulation.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsPinAcquireProcessingMutex(Pin: *mut KSPIN) {
    let state = current("KsPinAcquireProcessingMutex");
    check_irql(&state, "KsPinAcquireProcessingMutex", PASSIVE_LEVEL);
    avstream::acquire_processing(&state, Pin)
}

/// `void KsPinReleaseProcessingMutex(PKSPIN Pin)`.
///
/// # Safety
/// `Pin` must be a live pin whose processing mutex the caller holds.
#[ks::kernel_abi]
pub unsafe extern "system" fn KsPinReleaseProcessingMutex(Pin: *mut KSPIN) {
    let state = current("KsPinReleaseProcessingMutex");
    check_irql(&state, "KsPinReleaseProcessingMutex", PASSIVE_LEVEL);
    avstream::release_processing(&state, Pin)
}

/// `POBJECT_TYPE IoFileObjectType` (wdm.h: `extern POBJECT_TYPE *IoFileObjectType`): read it with
/// `unsafe { IoFileObjectType }`, as on Windows. Never written.
pub static mut IoFileObjectType: POBJECT_TYPE =
    (&raw const object::FILE_OBJECT_TYPE).cast_mut().cast();

/// `ULONG DbgPrint(PCSTR Format, ...)`, with the first three variadic arguments as fixed ones
/// (under the Windows x64 convention variadic arguments travel exactly like fixed ones; see
/// `ks::kernel_services!`): prints the formatted text on standard error (see `debug_print` for the
/// printf subset) and returns STATUS_SUCCESS. Needs no current kernel (the driver's panic
/// handler may run anywhere).
///
/// # Safety
/// `Format` is NULL or a NUL-terminated string; each argument a conversion reads as a pointer is
/// NULL or points to what the conversion expects.
#[ks::kernel_abi]
pub unsafe extern "system" fn DbgPrint(
    Format: *const u8,
    Arg1: usize,
    Arg2: usize,
    Arg3: usize,
) -> u32 {
    // SAFETY: forwarded from the caller.
    unsafe { debug_print::print(Format, &[Arg1, Arg2, Arg3]) };
    STATUS_SUCCESS as u32
}
