//! The kernel services avcam's driver code calls, in one place.
//!
//! On Windows they are imports from `ntoskrnl.exe` and `ks.sys`; on every other host they are
//! the user-mode emulation's functions of the same name and the same C signature
//! (`avcam-emulation`), so the driver code above this crate is the same in both worlds.
//! The signature types below ([`sig`]) are checked against the emulation at compile time.
//!
//! The inline helpers of wdm.h that are macros or `FORCEINLINE` functions in C
//! (`IoGetCurrentIrpStackLocation`, `IoMarkIrpPending`, `IoSetCancelRoutine`, ...) are written
//! once, in Rust, in [`irp`]; the safe spin lock wrapper is [`sync`].
#![no_std]
#![allow(non_snake_case)]

// The unit tests drive the helpers through the emulation, which uses std.
#[cfg(test)]
extern crate std;

pub mod irp;
pub mod sync;

/// The C signatures of the services, one type per function.
pub mod sig {
    use core::ffi::c_void;
    use ks::ks::{KSDISPATCH_TABLE, KSOBJECT_CREATE_ITEM, KSOBJECT_HEADER};
    use ks::nt::{DEVICE_OBJECT, EVENT_TYPE, IRP, KEVENT, KIRQL, KSPIN_LOCK, POOL_FLAGS};
    use ks::NTSTATUS;

    /// `PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)` (Windows 10 2004+).
    pub type ExAllocatePool2 = unsafe extern "system" fn(POOL_FLAGS, usize, u32) -> *mut c_void;
    /// `VOID ExFreePoolWithTag(PVOID P, ULONG Tag)`.
    pub type ExFreePoolWithTag = unsafe extern "system" fn(*mut c_void, u32);
    /// `KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock)`.
    pub type KeAcquireSpinLockRaiseToDpc = unsafe extern "system" fn(*mut KSPIN_LOCK) -> KIRQL;
    /// `VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)`.
    pub type KeReleaseSpinLock = unsafe extern "system" fn(*mut KSPIN_LOCK, KIRQL);
    /// `VOID IofCompleteRequest(PIRP Irp, CCHAR PriorityBoost)` (`IoCompleteRequest` is a macro).
    pub type IofCompleteRequest = unsafe extern "system" fn(*mut IRP, i8);
    /// `VOID IoAcquireCancelSpinLock(PKIRQL Irql)`.
    pub type IoAcquireCancelSpinLock = unsafe extern "system" fn(*mut KIRQL);
    /// `VOID IoReleaseCancelSpinLock(KIRQL Irql)`.
    pub type IoReleaseCancelSpinLock = unsafe extern "system" fn(KIRQL);
    /// `VOID KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State)`.
    pub type KeInitializeEvent = unsafe extern "system" fn(*mut KEVENT, EVENT_TYPE, u8);
    /// `LONG KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)`.
    pub type KeSetEvent = unsafe extern "system" fn(*mut KEVENT, i32, u8) -> i32;
    /// `NTSTATUS ObReferenceObjectByHandle(HANDLE, ACCESS_MASK, POBJECT_TYPE, KPROCESSOR_MODE,
    /// PVOID *Object, POBJECT_HANDLE_INFORMATION)`.
    pub type ObReferenceObjectByHandle = unsafe extern "system" fn(
        *mut c_void,
        u32,
        *mut c_void,
        i8,
        *mut *mut c_void,
        *mut c_void,
    ) -> NTSTATUS;
    /// `LONG_PTR ObfDereferenceObject(PVOID Object)` (`ObDereferenceObject` is a macro).
    pub type ObfDereferenceObject = unsafe extern "system" fn(*mut c_void) -> isize;

    // --- ks.sys ---

    /// `NTSTATUS KsAllocateObjectHeader(KSOBJECT_HEADER *Header, ULONG ItemsCount,
    /// PKSOBJECT_CREATE_ITEM ItemsList, PIRP Irp, const KSDISPATCH_TABLE *Table)`.
    pub type KsAllocateObjectHeader = unsafe extern "system" fn(
        *mut KSOBJECT_HEADER,
        u32,
        *mut KSOBJECT_CREATE_ITEM,
        *mut IRP,
        *const KSDISPATCH_TABLE,
    ) -> NTSTATUS;
    /// `VOID KsFreeObjectHeader(PVOID Header)`.
    pub type KsFreeObjectHeader = unsafe extern "system" fn(*mut c_void);
    /// `PKSOBJECT_CREATE_ITEM KsQueryObjectCreateItem(KSOBJECT_HEADER Header)`.
    pub type KsQueryObjectCreateItem =
        unsafe extern "system" fn(KSOBJECT_HEADER) -> *mut KSOBJECT_CREATE_ITEM;
    /// `NTSTATUS KsDispatchQuerySecurity(PDEVICE_OBJECT DeviceObject, PIRP Irp)`.
    pub type KsDispatchQuerySecurity =
        unsafe extern "system" fn(*mut DEVICE_OBJECT, *mut IRP) -> NTSTATUS;
    /// `NTSTATUS KsDispatchSetSecurity(PDEVICE_OBJECT DeviceObject, PIRP Irp)`.
    pub type KsDispatchSetSecurity =
        unsafe extern "system" fn(*mut DEVICE_OBJECT, *mut IRP) -> NTSTATUS;
    /// `NTSTATUS KsDispatchIrp(PDEVICE_OBJECT DeviceObject, PIRP Irp)`.
    pub type KsDispatchIrp = unsafe extern "system" fn(*mut DEVICE_OBJECT, *mut IRP) -> NTSTATUS;
}

#[cfg(windows)]
mod imports {
    use core::ffi::c_void;
    use ks::ks::{KSDISPATCH_TABLE, KSOBJECT_CREATE_ITEM, KSOBJECT_HEADER};
    use ks::nt::{
        DEVICE_OBJECT, EVENT_TYPE, IRP, KEVENT, KIRQL, KSPIN_LOCK, POBJECT_TYPE, POOL_FLAGS,
    };
    use ks::NTSTATUS;

    #[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
    extern "system" {
        /// The import of `ExAllocatePool2`: see [`crate::sig::ExAllocatePool2`].
        pub fn ExAllocatePool2(flags: POOL_FLAGS, bytes: usize, tag: u32) -> *mut c_void;
        /// The import of `ExFreePoolWithTag`: see [`crate::sig::ExFreePoolWithTag`].
        pub fn ExFreePoolWithTag(p: *mut c_void, tag: u32);
        /// The import of `KeAcquireSpinLockRaiseToDpc`: see [`crate::sig::KeAcquireSpinLockRaiseToDpc`].
        pub fn KeAcquireSpinLockRaiseToDpc(lock: *mut KSPIN_LOCK) -> KIRQL;
        /// The import of `KeReleaseSpinLock`: see [`crate::sig::KeReleaseSpinLock`].
        pub fn KeReleaseSpinLock(lock: *mut KSPIN_LOCK, irql: KIRQL);
        /// The import of `IofCompleteRequest`: see [`crate::sig::IofCompleteRequest`].
        pub fn IofCompleteRequest(irp: *mut IRP, boost: i8);
        /// The import of `IoAcquireCancelSpinLock`: see [`crate::sig::IoAcquireCancelSpinLock`].
        pub fn IoAcquireCancelSpinLock(irql: *mut KIRQL);
        /// The import of `IoReleaseCancelSpinLock`: see [`crate::sig::IoReleaseCancelSpinLock`].
        pub fn IoReleaseCancelSpinLock(irql: KIRQL);
        /// The import of `KeInitializeEvent`: see [`crate::sig::KeInitializeEvent`].
        pub fn KeInitializeEvent(event: *mut KEVENT, kind: EVENT_TYPE, state: u8);
        /// The import of `KeSetEvent`: see [`crate::sig::KeSetEvent`].
        pub fn KeSetEvent(event: *mut KEVENT, increment: i32, wait: u8) -> i32;
        /// The import of `ObReferenceObjectByHandle`: see [`crate::sig::ObReferenceObjectByHandle`].
        pub fn ObReferenceObjectByHandle(
            handle: *mut c_void,
            access: u32,
            object_type: *mut c_void,
            mode: i8,
            object: *mut *mut c_void,
            info: *mut c_void,
        ) -> NTSTATUS;
        /// The import of `ObfDereferenceObject`: see [`crate::sig::ObfDereferenceObject`].
        pub fn ObfDereferenceObject(object: *mut c_void) -> isize;
        /// The event object type, a data export. wdm.h declares it `extern POBJECT_TYPE
        /// *ExEventObjectType` because C reaches data imports through the import address table;
        /// a Rust `static` in a raw-dylib block is accessed through that table already, so the
        /// static itself is the exported `POBJECT_TYPE` (what C writes `*ExEventObjectType`).
        pub static ExEventObjectType: POBJECT_TYPE;
    }

    #[link(name = "ks.sys", kind = "raw-dylib", modifiers = "+verbatim")]
    extern "system" {
        /// The import of `KsAllocateObjectHeader`: see [`crate::sig::KsAllocateObjectHeader`].
        pub fn KsAllocateObjectHeader(
            header: *mut KSOBJECT_HEADER,
            items_count: u32,
            items_list: *mut KSOBJECT_CREATE_ITEM,
            irp: *mut IRP,
            table: *const KSDISPATCH_TABLE,
        ) -> NTSTATUS;
        /// The import of `KsFreeObjectHeader`: see [`crate::sig::KsFreeObjectHeader`].
        pub fn KsFreeObjectHeader(header: *mut c_void);
        /// The import of `KsQueryObjectCreateItem`: see [`crate::sig::KsQueryObjectCreateItem`].
        pub fn KsQueryObjectCreateItem(header: KSOBJECT_HEADER) -> *mut KSOBJECT_CREATE_ITEM;
        /// The import of `KsDispatchQuerySecurity`: see [`crate::sig::KsDispatchQuerySecurity`].
        pub fn KsDispatchQuerySecurity(device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS;
        /// The import of `KsDispatchSetSecurity`: see [`crate::sig::KsDispatchSetSecurity`].
        pub fn KsDispatchSetSecurity(device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS;
        /// The import of `KsDispatchIrp`: see [`crate::sig::KsDispatchIrp`].
        pub fn KsDispatchIrp(device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS;
    }
}

#[cfg(windows)]
pub use imports::*;

#[cfg(not(windows))]
pub use avcam_emulation::services::*;

/// Compile-time proof that every service has exactly the C signature in [`sig`].
const _: () = {
    let _: sig::ExAllocatePool2 = ExAllocatePool2;
    let _: sig::ExFreePoolWithTag = ExFreePoolWithTag;
    let _: sig::KeAcquireSpinLockRaiseToDpc = KeAcquireSpinLockRaiseToDpc;
    let _: sig::KeReleaseSpinLock = KeReleaseSpinLock;
    let _: sig::IofCompleteRequest = IofCompleteRequest;
    let _: sig::IoAcquireCancelSpinLock = IoAcquireCancelSpinLock;
    let _: sig::IoReleaseCancelSpinLock = IoReleaseCancelSpinLock;
    let _: sig::KeInitializeEvent = KeInitializeEvent;
    let _: sig::KeSetEvent = KeSetEvent;
    let _: sig::ObReferenceObjectByHandle = ObReferenceObjectByHandle;
    let _: sig::ObfDereferenceObject = ObfDereferenceObject;
    let _: sig::KsAllocateObjectHeader = KsAllocateObjectHeader;
    let _: sig::KsFreeObjectHeader = KsFreeObjectHeader;
    let _: sig::KsQueryObjectCreateItem = KsQueryObjectCreateItem;
    let _: sig::KsDispatchQuerySecurity = KsDispatchQuerySecurity;
    let _: sig::KsDispatchSetSecurity = KsDispatchSetSecurity;
    let _: sig::KsDispatchIrp = KsDispatchIrp;
};

/// `*ExEventObjectType`: the object type to pass to `ObReferenceObjectByHandle` for events.
pub fn event_object_type() -> ks::nt::POBJECT_TYPE {
    // SAFETY: a data export the kernel initialises before any driver loads and never changes.
    unsafe { ExEventObjectType }
}
