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

pub mod irp;
pub mod sync;

/// The C signatures of the services, one type per function.
pub mod sig {
    use core::ffi::c_void;
    use ks::nt::{EVENT_TYPE, IRP, KEVENT, KIRQL, KSPIN_LOCK, POOL_FLAGS};
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
}

#[cfg(windows)]
mod imports {
    use core::ffi::c_void;
    use ks::nt::{EVENT_TYPE, IRP, KEVENT, KIRQL, KSPIN_LOCK, POOL_FLAGS};
    use ks::NTSTATUS;

    #[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
    extern "system" {
        pub fn ExAllocatePool2(flags: POOL_FLAGS, bytes: usize, tag: u32) -> *mut c_void;
        pub fn ExFreePoolWithTag(p: *mut c_void, tag: u32);
        pub fn KeAcquireSpinLockRaiseToDpc(lock: *mut KSPIN_LOCK) -> KIRQL;
        pub fn KeReleaseSpinLock(lock: *mut KSPIN_LOCK, irql: KIRQL);
        pub fn IofCompleteRequest(irp: *mut IRP, boost: i8);
        pub fn IoAcquireCancelSpinLock(irql: *mut KIRQL);
        pub fn IoReleaseCancelSpinLock(irql: KIRQL);
        pub fn KeInitializeEvent(event: *mut KEVENT, kind: EVENT_TYPE, state: u8);
        pub fn KeSetEvent(event: *mut KEVENT, increment: i32, wait: u8) -> i32;
        pub fn ObReferenceObjectByHandle(
            handle: *mut c_void,
            access: u32,
            object_type: *mut c_void,
            mode: i8,
            object: *mut *mut c_void,
            info: *mut c_void,
        ) -> NTSTATUS;
        pub fn ObfDereferenceObject(object: *mut c_void) -> isize;
        /// `POBJECT_TYPE *ExEventObjectType`: a data export.
        pub static ExEventObjectType: *mut *mut c_void;
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
};
