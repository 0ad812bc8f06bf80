//! The kernel services avcam's driver code calls, in one place.
//!
//! In kernel mode (the driver image, built with `--cfg avcam_kernel_mode`; see docs/windows.md)
//! they are imports from `ntoskrnl.exe` and `ks.sys`; in every other build (Linux, and Windows
//! user-mode programs such as the viewer) they are the user-mode emulation's functions of the
//! same name and the same C signature (`avcam-emulation`), so the driver code above this crate
//! is the same in both worlds. The target OS does not decide: a Windows user-mode program gets
//! the emulation too.
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
    use ks::avstream::{
        KSDEVICE, KSDEVICE_DESCRIPTOR, KSFILTER, KSFILTERFACTORY, KSFILTER_DESCRIPTOR,
        KSOBJECT_BAG, KSPIN, KSSTREAM_POINTER, KSSTREAM_POINTER_STATE, PFNKSFILTERFACTORYPOWER,
        PFNKSSTREAMPOINTER,
    };
    use ks::ks::{KSALLOCATOR_FRAMING, KSDISPATCH_TABLE, KSOBJECT_CREATE_ITEM, KSOBJECT_HEADER};
    use ks::nt::{
        DEVICE_OBJECT, DRIVER_OBJECT, EVENT_TYPE, EXT_DELETE_PARAMETERS, EXT_SET_PARAMETERS,
        EX_TIMER, FILE_OBJECT, HANDLE, IRP, KDPC, KEVENT, KEY_VALUE_INFORMATION_CLASS, KIRQL,
        KPROCESSOR_MODE, KSPIN_LOCK, KTIMER, PACCESS_STATE, PDRIVER_DISPATCH, PEXT_CALLBACK,
        PKDEFERRED_ROUTINE, POBJECT_TYPE, POOL_FLAGS, TIMER_TYPE, UNICODE_STRING,
    };
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

    /// `VOID KeInitializeDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine,
    /// PVOID DeferredContext)`.
    pub type KeInitializeDpc =
        unsafe extern "system" fn(*mut KDPC, PKDEFERRED_ROUTINE, *mut c_void);
    /// `VOID KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type)`.
    pub type KeInitializeTimerEx = unsafe extern "system" fn(*mut KTIMER, TIMER_TYPE);
    /// `BOOLEAN KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period, PKDPC Dpc)`
    /// (`LARGE_INTEGER` passed by value is an `i64` in a register on x64).
    pub type KeSetTimerEx = unsafe extern "system" fn(*mut KTIMER, i64, i32, *mut KDPC) -> u8;
    /// `BOOLEAN KeCancelTimer(PKTIMER Timer)`.
    pub type KeCancelTimer = unsafe extern "system" fn(*mut KTIMER) -> u8;
    /// `VOID KeFlushQueuedDpcs(VOID)`: returns once every DPC queued or running on any
    /// processor has finished (PASSIVE_LEVEL only).
    pub type KeFlushQueuedDpcs = unsafe extern "system" fn();
    /// `LARGE_INTEGER KeQueryPerformanceCounter(PLARGE_INTEGER PerformanceFrequency)`.
    pub type KeQueryPerformanceCounter = unsafe extern "system" fn(*mut i64) -> i64;
    /// `PEX_TIMER ExAllocateTimer(PEXT_CALLBACK Callback, PVOID CallbackContext,
    /// ULONG Attributes)` (Windows 8.1+; IRQL <= DISPATCH_LEVEL): NULL on failure. The callback
    /// runs at DISPATCH_LEVEL.
    pub type ExAllocateTimer =
        unsafe extern "system" fn(PEXT_CALLBACK, *mut c_void, u32) -> *mut EX_TIMER;
    /// `BOOLEAN ExSetTimer(PEX_TIMER Timer, LONGLONG DueTime, LONGLONG Period,
    /// PEXT_SET_PARAMETERS Parameters)` (IRQL <= DISPATCH_LEVEL): both times in 100 ns units,
    /// DueTime negative = relative (required for EX_TIMER_HIGH_RESOLUTION), Period 0 = one-shot;
    /// TRUE if it cancelled a set timer.
    pub type ExSetTimer =
        unsafe extern "system" fn(*mut EX_TIMER, i64, i64, *mut EXT_SET_PARAMETERS) -> u8;
    /// `BOOLEAN ExCancelTimer(PEX_TIMER Timer, PEXT_CANCEL_PARAMETERS Parameters)` (IRQL <=
    /// DISPATCH_LEVEL; Parameters must be NULL): TRUE if the timer was set.
    pub type ExCancelTimer = unsafe extern "system" fn(*mut EX_TIMER, *mut c_void) -> u8;
    /// `BOOLEAN ExDeleteTimer(PEX_TIMER Timer, BOOLEAN Cancel, BOOLEAN Wait,
    /// PEXT_DELETE_PARAMETERS Parameters)`: IRQL <= APC_LEVEL with Wait (which needs Cancel and
    /// waits for a callback in progress), <= DISPATCH_LEVEL without; TRUE if Cancel cancelled a
    /// set timer.
    pub type ExDeleteTimer =
        unsafe extern "system" fn(*mut EX_TIMER, u8, u8, *mut EXT_DELETE_PARAMETERS) -> u8;
    /// `VOID ExQueryTimerResolution(PULONG MaximumTime, PULONG MinimumTime,
    /// PULONG CurrentTime)` (Windows 8+, any IRQL): clock tick intervals, 100 ns units.
    pub type ExQueryTimerResolution = unsafe extern "system" fn(*mut u32, *mut u32, *mut u32);
    /// `NTSTATUS ObOpenObjectByPointer(PVOID Object, ULONG HandleAttributes,
    /// PACCESS_STATE PassedAccessState, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
    /// KPROCESSOR_MODE AccessMode, PHANDLE Handle)` (ntifs.h).
    pub type ObOpenObjectByPointer = unsafe extern "system" fn(
        *mut c_void,
        u32,
        PACCESS_STATE,
        u32,
        POBJECT_TYPE,
        KPROCESSOR_MODE,
        *mut HANDLE,
    ) -> NTSTATUS;
    /// `NTSTATUS ZwClose(HANDLE Handle)`.
    pub type ZwClose = unsafe extern "system" fn(HANDLE) -> NTSTATUS;
    /// `NTSTATUS IoOpenDeviceRegistryKey(PDEVICE_OBJECT DeviceObject, ULONG DevInstKeyType,
    /// ACCESS_MASK DesiredAccess, PHANDLE DeviceRegKey)` (PASSIVE_LEVEL; `DeviceObject` is the
    /// PDO).
    pub type IoOpenDeviceRegistryKey =
        unsafe extern "system" fn(*mut DEVICE_OBJECT, u32, u32, *mut HANDLE) -> NTSTATUS;
    /// `NTSTATUS ZwQueryValueKey(HANDLE KeyHandle, PUNICODE_STRING ValueName,
    /// KEY_VALUE_INFORMATION_CLASS KeyValueInformationClass, PVOID KeyValueInformation,
    /// ULONG Length, PULONG ResultLength)` (PASSIVE_LEVEL).
    pub type ZwQueryValueKey = unsafe extern "system" fn(
        HANDLE,
        *mut UNICODE_STRING,
        KEY_VALUE_INFORMATION_CLASS,
        *mut c_void,
        u32,
        *mut u32,
    ) -> NTSTATUS;

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
    /// `NTSTATUS KsInitializeDriver(PDRIVER_OBJECT DriverObject, PUNICODE_STRING
    /// RegistryPathName, const KSDEVICE_DESCRIPTOR *Descriptor)`.
    pub type KsInitializeDriver = unsafe extern "system" fn(
        *mut DRIVER_OBJECT,
        *mut UNICODE_STRING,
        *const KSDEVICE_DESCRIPTOR,
    ) -> NTSTATUS;
    /// `PKSSTREAM_POINTER KsPinGetLeadingEdgeStreamPointer(PKSPIN Pin,
    /// KSSTREAM_POINTER_STATE State)`.
    pub type KsPinGetLeadingEdgeStreamPointer =
        unsafe extern "system" fn(*mut KSPIN, KSSTREAM_POINTER_STATE) -> *mut KSSTREAM_POINTER;
    /// `NTSTATUS KsStreamPointerAdvance(PKSSTREAM_POINTER StreamPointer)`.
    pub type KsStreamPointerAdvance = unsafe extern "system" fn(*mut KSSTREAM_POINTER) -> NTSTATUS;
    /// `NTSTATUS KsStreamPointerAdvanceOffsets(PKSSTREAM_POINTER StreamPointer, ULONG InUsed,
    /// ULONG OutUsed, BOOLEAN Eject)`.
    pub type KsStreamPointerAdvanceOffsets =
        unsafe extern "system" fn(*mut KSSTREAM_POINTER, u32, u32, u8) -> NTSTATUS;
    /// `NTSTATUS KsStreamPointerClone(PKSSTREAM_POINTER StreamPointer,
    /// PFNKSSTREAMPOINTER CancelCallback, ULONG ContextSize, PKSSTREAM_POINTER *CloneStreamPointer)`.
    pub type KsStreamPointerClone = unsafe extern "system" fn(
        *mut KSSTREAM_POINTER,
        PFNKSSTREAMPOINTER,
        u32,
        *mut *mut KSSTREAM_POINTER,
    ) -> NTSTATUS;
    /// `void KsStreamPointerDelete(PKSSTREAM_POINTER StreamPointer)`.
    pub type KsStreamPointerDelete = unsafe extern "system" fn(*mut KSSTREAM_POINTER);
    /// `void KsStreamPointerUnlock(PKSSTREAM_POINTER StreamPointer, BOOLEAN Eject)`.
    pub type KsStreamPointerUnlock = unsafe extern "system" fn(*mut KSSTREAM_POINTER, u8);
    /// `void KsPinAttemptProcessing(PKSPIN Pin, BOOLEAN Asynchronous)`.
    pub type KsPinAttemptProcessing = unsafe extern "system" fn(*mut KSPIN, u8);
    /// `PKSFILTER KsPinGetParentFilter(PKSPIN Pin)`.
    pub type KsPinGetParentFilter = unsafe extern "system" fn(*mut KSPIN) -> *mut KSFILTER;
    /// `PKSDEVICE KsGetDevice(PVOID Object)`.
    pub type KsGetDevice = unsafe extern "system" fn(*mut c_void) -> *mut KSDEVICE;
    /// `PKSPIN KsGetPinFromIrp(PIRP Irp)`.
    pub type KsGetPinFromIrp = unsafe extern "system" fn(*mut IRP) -> *mut KSPIN;
    /// `PKSFILTER KsGetFilterFromIrp(PIRP Irp)`.
    pub type KsGetFilterFromIrp = unsafe extern "system" fn(*mut IRP) -> *mut KSFILTER;
    /// `PVOID KsGetObjectFromFileObject(PFILE_OBJECT FileObject)`.
    pub type KsGetObjectFromFileObject = unsafe extern "system" fn(*mut FILE_OBJECT) -> *mut c_void;
    /// `NTSTATUS KsAddObjectCreateItemToObjectHeader(KSOBJECT_HEADER Header,
    /// PDRIVER_DISPATCH Create, PVOID Context, PWSTR ObjectClass,
    /// PSECURITY_DESCRIPTOR SecurityDescriptor)`.
    pub type KsAddObjectCreateItemToObjectHeader = unsafe extern "system" fn(
        KSOBJECT_HEADER,
        PDRIVER_DISPATCH,
        *mut c_void,
        *mut u16,
        *mut c_void,
    ) -> NTSTATUS;
    /// `NTSTATUS KsCreateAllocator(HANDLE ConnectionHandle, PKSALLOCATOR_FRAMING
    /// AllocatorFraming, PHANDLE AllocatorHandle)` (the kernel-mode export).
    pub type KsCreateAllocator =
        unsafe extern "system" fn(HANDLE, *mut KSALLOCATOR_FRAMING, *mut HANDLE) -> NTSTATUS;
    /// `NTSTATUS KsSynchronousIoControlDevice(PFILE_OBJECT FileObject, KPROCESSOR_MODE
    /// RequestorMode, ULONG IoControl, PVOID InBuffer, ULONG InSize, PVOID OutBuffer,
    /// ULONG OutSize, PULONG BytesReturned)`.
    pub type KsSynchronousIoControlDevice = unsafe extern "system" fn(
        *mut FILE_OBJECT,
        KPROCESSOR_MODE,
        u32,
        *mut c_void,
        u32,
        *mut c_void,
        u32,
        *mut u32,
    ) -> NTSTATUS;
    /// `void KsPinAcquireProcessingMutex(PKSPIN Pin)`.
    pub type KsPinAcquireProcessingMutex = unsafe extern "system" fn(*mut KSPIN);
    /// `void KsPinReleaseProcessingMutex(PKSPIN Pin)`.
    pub type KsPinReleaseProcessingMutex = unsafe extern "system" fn(*mut KSPIN);
    /// `NTSTATUS KsCreateFilterFactory(PDEVICE_OBJECT DeviceObject, const KSFILTER_DESCRIPTOR
    /// *Descriptor, PWSTR RefString, PSECURITY_DESCRIPTOR SecurityDescriptor, ULONG
    /// CreateItemFlags, PFNKSFILTERFACTORYPOWER SleepCallback, PFNKSFILTERFACTORYPOWER
    /// WakeCallback, PKSFILTERFACTORY *FilterFactory)`.
    pub type KsCreateFilterFactory = unsafe extern "system" fn(
        *mut DEVICE_OBJECT,
        *const KSFILTER_DESCRIPTOR,
        *mut u16,
        *mut c_void,
        u32,
        PFNKSFILTERFACTORYPOWER,
        PFNKSFILTERFACTORYPOWER,
        *mut *mut KSFILTERFACTORY,
    ) -> NTSTATUS;
    /// `void KsAcquireDevice(PKSDEVICE Device)`: takes the device mutex.
    pub type KsAcquireDevice = unsafe extern "system" fn(*mut KSDEVICE);
    /// `void KsReleaseDevice(PKSDEVICE Device)`: releases the device mutex.
    pub type KsReleaseDevice = unsafe extern "system" fn(*mut KSDEVICE);
    /// `NTSTATUS _KsEdit(KSOBJECT_BAG ObjectBag, PVOID *PointerToPointerToItem, ULONG NewSize,
    /// ULONG OldSize, ULONG Tag)`; ks.h's `KsEdit(Object, PointerToPointer, Tag)` macro is
    /// `_KsEdit(Object->Bag, PointerToPointer, sizeof(**PointerToPointer),
    /// sizeof(**PointerToPointer), Tag)`.
    pub type _KsEdit =
        unsafe extern "system" fn(KSOBJECT_BAG, *mut *mut c_void, u32, u32, u32) -> NTSTATUS;
}

#[cfg(avcam_kernel_mode)]
mod imports {
    use core::ffi::c_void;
    use ks::avstream::{
        KSDEVICE, KSDEVICE_DESCRIPTOR, KSFILTER, KSFILTERFACTORY, KSFILTER_DESCRIPTOR,
        KSOBJECT_BAG, KSPIN, KSSTREAM_POINTER, KSSTREAM_POINTER_STATE, PFNKSFILTERFACTORYPOWER,
        PFNKSSTREAMPOINTER,
    };
    use ks::ks::{KSALLOCATOR_FRAMING, KSDISPATCH_TABLE, KSOBJECT_CREATE_ITEM, KSOBJECT_HEADER};
    use ks::nt::{
        DEVICE_OBJECT, DRIVER_OBJECT, EVENT_TYPE, EXT_DELETE_PARAMETERS, EXT_SET_PARAMETERS,
        EX_TIMER, FILE_OBJECT, HANDLE, IRP, KDPC, KEVENT, KEY_VALUE_INFORMATION_CLASS, KIRQL,
        KPROCESSOR_MODE, KSPIN_LOCK, KTIMER, PACCESS_STATE, PDRIVER_DISPATCH, PEXT_CALLBACK,
        PKDEFERRED_ROUTINE, POBJECT_TYPE, POOL_FLAGS, TIMER_TYPE, UNICODE_STRING,
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
        /// The import of `KeInitializeDpc`: see [`crate::sig::KeInitializeDpc`].
        pub fn KeInitializeDpc(dpc: *mut KDPC, routine: PKDEFERRED_ROUTINE, context: *mut c_void);
        /// The import of `KeInitializeTimerEx`: see [`crate::sig::KeInitializeTimerEx`].
        pub fn KeInitializeTimerEx(timer: *mut KTIMER, kind: TIMER_TYPE);
        /// The import of `KeSetTimerEx`: see [`crate::sig::KeSetTimerEx`].
        pub fn KeSetTimerEx(timer: *mut KTIMER, due: i64, period: i32, dpc: *mut KDPC) -> u8;
        /// The import of `KeCancelTimer`: see [`crate::sig::KeCancelTimer`].
        pub fn KeCancelTimer(timer: *mut KTIMER) -> u8;
        /// The import of `KeFlushQueuedDpcs`: see [`crate::sig::KeFlushQueuedDpcs`].
        pub fn KeFlushQueuedDpcs();
        /// The import of `KeQueryPerformanceCounter`: see [`crate::sig::KeQueryPerformanceCounter`].
        pub fn KeQueryPerformanceCounter(frequency: *mut i64) -> i64;
        /// The import of `ExAllocateTimer`: see [`crate::sig::ExAllocateTimer`].
        pub fn ExAllocateTimer(
            callback: PEXT_CALLBACK,
            context: *mut c_void,
            attributes: u32,
        ) -> *mut EX_TIMER;
        /// The import of `ExSetTimer`: see [`crate::sig::ExSetTimer`].
        pub fn ExSetTimer(
            timer: *mut EX_TIMER,
            due: i64,
            period: i64,
            parameters: *mut EXT_SET_PARAMETERS,
        ) -> u8;
        /// The import of `ExCancelTimer`: see [`crate::sig::ExCancelTimer`].
        pub fn ExCancelTimer(timer: *mut EX_TIMER, parameters: *mut c_void) -> u8;
        /// The import of `ExDeleteTimer`: see [`crate::sig::ExDeleteTimer`].
        pub fn ExDeleteTimer(
            timer: *mut EX_TIMER,
            cancel: u8,
            wait: u8,
            parameters: *mut EXT_DELETE_PARAMETERS,
        ) -> u8;
        /// The import of `ExQueryTimerResolution`: see [`crate::sig::ExQueryTimerResolution`].
        pub fn ExQueryTimerResolution(maximum: *mut u32, minimum: *mut u32, current: *mut u32);
        /// The import of `ObOpenObjectByPointer`: see [`crate::sig::ObOpenObjectByPointer`].
        pub fn ObOpenObjectByPointer(
            object: *mut c_void,
            attributes: u32,
            access_state: PACCESS_STATE,
            access: u32,
            object_type: POBJECT_TYPE,
            mode: KPROCESSOR_MODE,
            handle: *mut HANDLE,
        ) -> NTSTATUS;
        /// The import of `ZwClose`: see [`crate::sig::ZwClose`].
        pub fn ZwClose(handle: HANDLE) -> NTSTATUS;
        /// The import of `IoOpenDeviceRegistryKey`: see [`crate::sig::IoOpenDeviceRegistryKey`].
        pub fn IoOpenDeviceRegistryKey(
            device: *mut DEVICE_OBJECT,
            key_type: u32,
            access: u32,
            key: *mut HANDLE,
        ) -> NTSTATUS;
        /// The import of `ZwQueryValueKey`: see [`crate::sig::ZwQueryValueKey`].
        pub fn ZwQueryValueKey(
            key: HANDLE,
            name: *mut UNICODE_STRING,
            class: KEY_VALUE_INFORMATION_CLASS,
            information: *mut c_void,
            length: u32,
            result_length: *mut u32,
        ) -> NTSTATUS;
        /// The file object type, a data export (see `ExEventObjectType` for why the static is
        /// the `POBJECT_TYPE` itself).
        pub static IoFileObjectType: POBJECT_TYPE;
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
        /// The import of `KsInitializeDriver`: see [`crate::sig::KsInitializeDriver`].
        pub fn KsInitializeDriver(
            driver: *mut DRIVER_OBJECT,
            registry_path: *mut UNICODE_STRING,
            descriptor: *const KSDEVICE_DESCRIPTOR,
        ) -> NTSTATUS;
        /// The import of `KsPinGetLeadingEdgeStreamPointer`: see
        /// [`crate::sig::KsPinGetLeadingEdgeStreamPointer`].
        pub fn KsPinGetLeadingEdgeStreamPointer(
            pin: *mut KSPIN,
            state: KSSTREAM_POINTER_STATE,
        ) -> *mut KSSTREAM_POINTER;
        /// The import of `KsStreamPointerAdvance`: see [`crate::sig::KsStreamPointerAdvance`].
        pub fn KsStreamPointerAdvance(pointer: *mut KSSTREAM_POINTER) -> NTSTATUS;
        /// The import of `KsStreamPointerAdvanceOffsets`: see
        /// [`crate::sig::KsStreamPointerAdvanceOffsets`].
        pub fn KsStreamPointerAdvanceOffsets(
            pointer: *mut KSSTREAM_POINTER,
            in_used: u32,
            out_used: u32,
            eject: u8,
        ) -> NTSTATUS;
        /// The import of `KsStreamPointerClone`: see [`crate::sig::KsStreamPointerClone`].
        pub fn KsStreamPointerClone(
            pointer: *mut KSSTREAM_POINTER,
            cancel: PFNKSSTREAMPOINTER,
            context_size: u32,
            clone: *mut *mut KSSTREAM_POINTER,
        ) -> NTSTATUS;
        /// The import of `KsStreamPointerDelete`: see [`crate::sig::KsStreamPointerDelete`].
        pub fn KsStreamPointerDelete(pointer: *mut KSSTREAM_POINTER);
        /// The import of `KsStreamPointerUnlock`: see [`crate::sig::KsStreamPointerUnlock`].
        pub fn KsStreamPointerUnlock(pointer: *mut KSSTREAM_POINTER, eject: u8);
        /// The import of `KsPinAttemptProcessing`: see [`crate::sig::KsPinAttemptProcessing`].
        pub fn KsPinAttemptProcessing(pin: *mut KSPIN, asynchronous: u8);
        /// The import of `KsPinGetParentFilter`: see [`crate::sig::KsPinGetParentFilter`].
        pub fn KsPinGetParentFilter(pin: *mut KSPIN) -> *mut KSFILTER;
        /// The import of `KsGetDevice`: see [`crate::sig::KsGetDevice`].
        pub fn KsGetDevice(object: *mut c_void) -> *mut KSDEVICE;
        /// The import of `KsGetPinFromIrp`: see [`crate::sig::KsGetPinFromIrp`].
        pub fn KsGetPinFromIrp(irp: *mut IRP) -> *mut KSPIN;
        /// The import of `KsGetFilterFromIrp`: see [`crate::sig::KsGetFilterFromIrp`].
        pub fn KsGetFilterFromIrp(irp: *mut IRP) -> *mut KSFILTER;
        /// The import of `KsGetObjectFromFileObject`: see
        /// [`crate::sig::KsGetObjectFromFileObject`].
        pub fn KsGetObjectFromFileObject(file: *mut FILE_OBJECT) -> *mut c_void;
        /// The import of `KsAddObjectCreateItemToObjectHeader`: see
        /// [`crate::sig::KsAddObjectCreateItemToObjectHeader`].
        pub fn KsAddObjectCreateItemToObjectHeader(
            header: KSOBJECT_HEADER,
            create: PDRIVER_DISPATCH,
            context: *mut c_void,
            object_class: *mut u16,
            security: *mut c_void,
        ) -> NTSTATUS;
        /// The import of `KsCreateAllocator`: see [`crate::sig::KsCreateAllocator`].
        pub fn KsCreateAllocator(
            connection: HANDLE,
            framing: *mut KSALLOCATOR_FRAMING,
            allocator: *mut HANDLE,
        ) -> NTSTATUS;
        /// The import of `KsSynchronousIoControlDevice`: see
        /// [`crate::sig::KsSynchronousIoControlDevice`].
        pub fn KsSynchronousIoControlDevice(
            file: *mut FILE_OBJECT,
            mode: KPROCESSOR_MODE,
            ioctl: u32,
            input: *mut c_void,
            input_size: u32,
            output: *mut c_void,
            output_size: u32,
            returned: *mut u32,
        ) -> NTSTATUS;
        /// The import of `KsPinAcquireProcessingMutex`: see
        /// [`crate::sig::KsPinAcquireProcessingMutex`].
        pub fn KsPinAcquireProcessingMutex(pin: *mut KSPIN);
        /// The import of `KsPinReleaseProcessingMutex`: see
        /// [`crate::sig::KsPinReleaseProcessingMutex`].
        pub fn KsPinReleaseProcessingMutex(pin: *mut KSPIN);
        /// The import of `KsCreateFilterFactory`: see [`crate::sig::KsCreateFilterFactory`].
        pub fn KsCreateFilterFactory(
            device: *mut DEVICE_OBJECT,
            descriptor: *const KSFILTER_DESCRIPTOR,
            ref_string: *mut u16,
            security: *mut c_void,
            flags: u32,
            sleep: PFNKSFILTERFACTORYPOWER,
            wake: PFNKSFILTERFACTORYPOWER,
            factory: *mut *mut KSFILTERFACTORY,
        ) -> NTSTATUS;
        /// The import of `KsAcquireDevice`: see [`crate::sig::KsAcquireDevice`].
        pub fn KsAcquireDevice(device: *mut KSDEVICE);
        /// The import of `KsReleaseDevice`: see [`crate::sig::KsReleaseDevice`].
        pub fn KsReleaseDevice(device: *mut KSDEVICE);
        /// The import of `_KsEdit`: see [`crate::sig::_KsEdit`].
        pub fn _KsEdit(
            bag: KSOBJECT_BAG,
            pointer_to_pointer: *mut *mut c_void,
            new_size: u32,
            old_size: u32,
            tag: u32,
        ) -> NTSTATUS;
    }
}

#[cfg(avcam_kernel_mode)]
pub use imports::*;

#[cfg(not(avcam_kernel_mode))]
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
    let _: sig::KeInitializeDpc = KeInitializeDpc;
    let _: sig::KeInitializeTimerEx = KeInitializeTimerEx;
    let _: sig::KeSetTimerEx = KeSetTimerEx;
    let _: sig::KeCancelTimer = KeCancelTimer;
    let _: sig::KeFlushQueuedDpcs = KeFlushQueuedDpcs;
    let _: sig::KeQueryPerformanceCounter = KeQueryPerformanceCounter;
    let _: sig::ExAllocateTimer = ExAllocateTimer;
    let _: sig::ExSetTimer = ExSetTimer;
    let _: sig::ExCancelTimer = ExCancelTimer;
    let _: sig::ExDeleteTimer = ExDeleteTimer;
    let _: sig::ExQueryTimerResolution = ExQueryTimerResolution;
    let _: sig::ObOpenObjectByPointer = ObOpenObjectByPointer;
    let _: sig::ZwClose = ZwClose;
    let _: sig::IoOpenDeviceRegistryKey = IoOpenDeviceRegistryKey;
    let _: sig::ZwQueryValueKey = ZwQueryValueKey;
    let _: sig::KsInitializeDriver = KsInitializeDriver;
    let _: sig::KsPinGetLeadingEdgeStreamPointer = KsPinGetLeadingEdgeStreamPointer;
    let _: sig::KsStreamPointerAdvance = KsStreamPointerAdvance;
    let _: sig::KsStreamPointerAdvanceOffsets = KsStreamPointerAdvanceOffsets;
    let _: sig::KsStreamPointerClone = KsStreamPointerClone;
    let _: sig::KsStreamPointerDelete = KsStreamPointerDelete;
    let _: sig::KsStreamPointerUnlock = KsStreamPointerUnlock;
    let _: sig::KsPinAttemptProcessing = KsPinAttemptProcessing;
    let _: sig::KsPinGetParentFilter = KsPinGetParentFilter;
    let _: sig::KsGetDevice = KsGetDevice;
    let _: sig::KsGetPinFromIrp = KsGetPinFromIrp;
    let _: sig::KsGetFilterFromIrp = KsGetFilterFromIrp;
    let _: sig::KsGetObjectFromFileObject = KsGetObjectFromFileObject;
    let _: sig::KsAddObjectCreateItemToObjectHeader = KsAddObjectCreateItemToObjectHeader;
    let _: sig::KsCreateAllocator = KsCreateAllocator;
    let _: sig::KsSynchronousIoControlDevice = KsSynchronousIoControlDevice;
    let _: sig::KsPinAcquireProcessingMutex = KsPinAcquireProcessingMutex;
    let _: sig::KsPinReleaseProcessingMutex = KsPinReleaseProcessingMutex;
    let _: sig::_KsEdit = _KsEdit;
    let _: sig::KsCreateFilterFactory = KsCreateFilterFactory;
    let _: sig::KsAcquireDevice = KsAcquireDevice;
    let _: sig::KsReleaseDevice = KsReleaseDevice;
};

/// `*IoFileObjectType`: the object type to pass to `ObReferenceObjectByHandle` /
/// `ObOpenObjectByPointer` for file objects.
pub fn file_object_type() -> ks::nt::POBJECT_TYPE {
    // SAFETY: a data export the kernel initialises before any driver loads and never changes.
    unsafe { IoFileObjectType }
}

/// `*ExEventObjectType`: the object type to pass to `ObReferenceObjectByHandle` for events.
pub fn event_object_type() -> ks::nt::POBJECT_TYPE {
    // SAFETY: a data export the kernel initialises before any driver loads and never changes.
    unsafe { ExEventObjectType }
}
