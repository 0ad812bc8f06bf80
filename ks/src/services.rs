//! The one list of the kernel services avcam's driver code imports: [`kernel_services!`](crate::kernel_services!).
//!
//! Each service is written here once, with its C name, its argument names and types and its
//! documentation, grouped by the module that exports it. Everything else is generated from this
//! list by the crates that need it, each with a small local macro that the list calls back
//! (`kernel_services!(my_macro)` expands to `my_macro! { <the list> }`):
//! - `avcam-kernel`: the signature types (`avcam_kernel::sig`), the raw-dylib imports of the
//!   driver image (kernel mode) and the compile-time check that every service, imported or
//!   emulated, has exactly its signature;
//! - `avcam-loader`: the table that binds a loaded image's imports, by module and name, to the
//!   emulation's services (an import missing from it fails the load, naming module and symbol).
//!
//! The list's grammar, which every callback matches:
//! ```text
//! "module.sys" {
//!     functions { /// docs
//!                 fn Name(arg: Type, ...) -> Ret; ... }
//!     data      { /// docs
//!                 static Name: Type; ... }      // the IAT slot holds the variable's address
//!     variadic  { /// docs
//!                 fn Name(arg: Type, ..., ...) -> Ret; ... }
//! }
//! ```
//! Functions use the boundary's calling convention ([`crate::kernel_abi`]). Variadic functions
//! (only `DbgPrint`) are imported as C variadics; under the Windows x64 convention their arguments
//! travel exactly like fixed ones, so the emulation provides them with fixed trailing arguments.
//! Types are written with `$crate::` paths so that the list expands anywhere.

/// Calls `$callback! { <the list> }` with every kernel service avcam's driver code imports; see
/// [`crate::services`].
#[macro_export]
macro_rules! kernel_services {
    ($callback:ident) => {
        $callback! {
            "ntoskrnl.exe" {
                functions {
                    /// `PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)`
                    /// (Windows 10 2004+).
                    fn ExAllocatePool2(
                        flags: $crate::nt::POOL_FLAGS,
                        bytes: usize,
                        tag: u32,
                    ) -> *mut ::core::ffi::c_void;
                    /// `VOID ExFreePoolWithTag(PVOID P, ULONG Tag)`.
                    fn ExFreePoolWithTag(p: *mut ::core::ffi::c_void, tag: u32);
                    /// `KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock)`.
                    fn KeAcquireSpinLockRaiseToDpc(
                        lock: *mut $crate::nt::KSPIN_LOCK,
                    ) -> $crate::nt::KIRQL;
                    /// `VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)`.
                    fn KeReleaseSpinLock(
                        lock: *mut $crate::nt::KSPIN_LOCK,
                        irql: $crate::nt::KIRQL,
                    );
                    /// `VOID IofCompleteRequest(PIRP Irp, CCHAR PriorityBoost)`
                    /// (`IoCompleteRequest` is a macro).
                    fn IofCompleteRequest(irp: *mut $crate::nt::IRP, boost: i8);
                    /// `VOID IoAcquireCancelSpinLock(PKIRQL Irql)`.
                    fn IoAcquireCancelSpinLock(irql: *mut $crate::nt::KIRQL);
                    /// `VOID IoReleaseCancelSpinLock(KIRQL Irql)`.
                    fn IoReleaseCancelSpinLock(irql: $crate::nt::KIRQL);
                    /// `VOID KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State)`.
                    fn KeInitializeEvent(
                        event: *mut $crate::nt::KEVENT,
                        kind: $crate::nt::EVENT_TYPE,
                        state: u8,
                    );
                    /// `LONG KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)`.
                    fn KeSetEvent(event: *mut $crate::nt::KEVENT, increment: i32, wait: u8) -> i32;
                    /// `NTSTATUS ObReferenceObjectByHandle(HANDLE, ACCESS_MASK, POBJECT_TYPE,
                    /// KPROCESSOR_MODE, PVOID *Object, POBJECT_HANDLE_INFORMATION)`.
                    fn ObReferenceObjectByHandle(
                        handle: *mut ::core::ffi::c_void,
                        access: u32,
                        object_type: *mut ::core::ffi::c_void,
                        mode: i8,
                        object: *mut *mut ::core::ffi::c_void,
                        info: *mut ::core::ffi::c_void,
                    ) -> $crate::NTSTATUS;
                    /// `LONG_PTR ObfDereferenceObject(PVOID Object)` (`ObDereferenceObject` is a
                    /// macro).
                    fn ObfDereferenceObject(object: *mut ::core::ffi::c_void) -> isize;
                    /// `VOID KeInitializeDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine, PVOID
                    /// DeferredContext)`.
                    fn KeInitializeDpc(
                        dpc: *mut $crate::nt::KDPC,
                        routine: $crate::nt::PKDEFERRED_ROUTINE,
                        context: *mut ::core::ffi::c_void,
                    );
                    /// `VOID KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type)`.
                    fn KeInitializeTimerEx(
                        timer: *mut $crate::nt::KTIMER,
                        kind: $crate::nt::TIMER_TYPE,
                    );
                    /// `BOOLEAN KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period,
                    /// PKDPC Dpc)` (`LARGE_INTEGER` passed by value is an `i64` in a register on
                    /// x64).
                    fn KeSetTimerEx(
                        timer: *mut $crate::nt::KTIMER,
                        due: i64,
                        period: i32,
                        dpc: *mut $crate::nt::KDPC,
                    ) -> u8;
                    /// `BOOLEAN KeCancelTimer(PKTIMER Timer)`.
                    fn KeCancelTimer(timer: *mut $crate::nt::KTIMER) -> u8;
                    /// `VOID KeFlushQueuedDpcs(VOID)`: returns once every DPC queued or running on
                    /// any processor has finished (PASSIVE_LEVEL only).
                    fn KeFlushQueuedDpcs();
                    /// `LARGE_INTEGER KeQueryPerformanceCounter(PLARGE_INTEGER
                    /// PerformanceFrequency)`.
                    fn KeQueryPerformanceCounter(frequency: *mut i64) -> i64;
                    /// `PEX_TIMER ExAllocateTimer(PEXT_CALLBACK Callback, PVOID CallbackContext,
                    /// ULONG Attributes)` (Windows 8.1+; IRQL <= DISPATCH_LEVEL): NULL on failure.
                    /// The callback runs at DISPATCH_LEVEL.
                    fn ExAllocateTimer(
                        callback: $crate::nt::PEXT_CALLBACK,
                        context: *mut ::core::ffi::c_void,
                        attributes: u32,
                    ) -> *mut $crate::nt::EX_TIMER;
                    /// `BOOLEAN ExSetTimer(PEX_TIMER Timer, LONGLONG DueTime, LONGLONG Period,
                    /// PEXT_SET_PARAMETERS Parameters)` (IRQL <= DISPATCH_LEVEL): both times in 100
                    /// ns units, DueTime negative = relative (required for
                    /// EX_TIMER_HIGH_RESOLUTION), Period 0 = one-shot; TRUE if it cancelled a set
                    /// timer.
                    fn ExSetTimer(
                        timer: *mut $crate::nt::EX_TIMER,
                        due: i64,
                        period: i64,
                        parameters: *mut $crate::nt::EXT_SET_PARAMETERS,
                    ) -> u8;
                    /// `BOOLEAN ExCancelTimer(PEX_TIMER Timer, PEXT_CANCEL_PARAMETERS Parameters)`
                    /// (IRQL <= DISPATCH_LEVEL; Parameters must be NULL): TRUE if the timer was
                    /// set.
                    fn ExCancelTimer(
                        timer: *mut $crate::nt::EX_TIMER,
                        parameters: *mut ::core::ffi::c_void,
                    ) -> u8;
                    /// `BOOLEAN ExDeleteTimer(PEX_TIMER Timer, BOOLEAN Cancel, BOOLEAN Wait,
                    /// PEXT_DELETE_PARAMETERS Parameters)`: IRQL <= APC_LEVEL with Wait (which
                    /// needs Cancel and waits for a callback in progress), <= DISPATCH_LEVEL
                    /// without; TRUE if Cancel cancelled a set timer.
                    fn ExDeleteTimer(
                        timer: *mut $crate::nt::EX_TIMER,
                        cancel: u8,
                        wait: u8,
                        parameters: *mut $crate::nt::EXT_DELETE_PARAMETERS,
                    ) -> u8;
                    /// `VOID ExQueryTimerResolution(PULONG MaximumTime, PULONG MinimumTime, PULONG
                    /// CurrentTime)` (Windows 8+, any IRQL): clock tick intervals, 100 ns units.
                    fn ExQueryTimerResolution(
                        maximum: *mut u32,
                        minimum: *mut u32,
                        current: *mut u32,
                    );
                    /// `NTSTATUS ObOpenObjectByPointer(PVOID Object, ULONG HandleAttributes,
                    /// PACCESS_STATE PassedAccessState, ACCESS_MASK DesiredAccess, POBJECT_TYPE
                    /// ObjectType, KPROCESSOR_MODE AccessMode, PHANDLE Handle)` (ntifs.h).
                    fn ObOpenObjectByPointer(
                        object: *mut ::core::ffi::c_void,
                        attributes: u32,
                        access_state: $crate::nt::PACCESS_STATE,
                        access: u32,
                        object_type: $crate::nt::POBJECT_TYPE,
                        mode: $crate::nt::KPROCESSOR_MODE,
                        handle: *mut $crate::nt::HANDLE,
                    ) -> $crate::NTSTATUS;
                    /// `NTSTATUS ZwClose(HANDLE Handle)`.
                    fn ZwClose(handle: $crate::nt::HANDLE) -> $crate::NTSTATUS;
                    /// `NTSTATUS IoOpenDeviceRegistryKey(PDEVICE_OBJECT DeviceObject, ULONG
                    /// DevInstKeyType, ACCESS_MASK DesiredAccess, PHANDLE DeviceRegKey)`
                    /// (PASSIVE_LEVEL; `DeviceObject` is the PDO).
                    fn IoOpenDeviceRegistryKey(
                        device: *mut $crate::nt::DEVICE_OBJECT,
                        key_type: u32,
                        access: u32,
                        key: *mut $crate::nt::HANDLE,
                    ) -> $crate::NTSTATUS;
                    /// `NTSTATUS ZwQueryValueKey(HANDLE KeyHandle, PUNICODE_STRING ValueName,
                    /// KEY_VALUE_INFORMATION_CLASS KeyValueInformationClass, PVOID
                    /// KeyValueInformation, ULONG Length, PULONG ResultLength)` (PASSIVE_LEVEL).
                    fn ZwQueryValueKey(
                        key: $crate::nt::HANDLE,
                        name: *mut $crate::nt::UNICODE_STRING,
                        class: $crate::nt::KEY_VALUE_INFORMATION_CLASS,
                        information: *mut ::core::ffi::c_void,
                        length: u32,
                        result_length: *mut u32,
                    ) -> $crate::NTSTATUS;
                }
                data {
                    /// `POBJECT_TYPE *ExEventObjectType`: the event object type, for
                    /// `ObReferenceObjectByHandle`. wdm.h declares the pointer because C reaches
                    /// a data import through the import address table; a Rust `static` in a
                    /// raw-dylib block is reached through that table already, so the static
                    /// itself is the exported `POBJECT_TYPE` (what C writes `*ExEventObjectType`).
                    static ExEventObjectType: $crate::nt::POBJECT_TYPE;
                    /// `POBJECT_TYPE *IoFileObjectType`: the file object type (see
                    /// `ExEventObjectType` for why the static is the `POBJECT_TYPE` itself).
                    static IoFileObjectType: $crate::nt::POBJECT_TYPE;
                }
                variadic {
                    /// `ULONG DbgPrint(PCSTR Format, ...)`: prints to the kernel debugger (and
                    /// DebugView); the driver's panic handler uses it.
                    fn DbgPrint(format: *const u8, ...) -> u32;
                }
            }
            "ks.sys" {
                functions {
                    /// `NTSTATUS KsAllocateObjectHeader(KSOBJECT_HEADER *Header, ULONG ItemsCount,
                    /// PKSOBJECT_CREATE_ITEM ItemsList, PIRP Irp, const KSDISPATCH_TABLE *Table)`.
                    fn KsAllocateObjectHeader(
                        header: *mut $crate::ks::KSOBJECT_HEADER,
                        items_count: u32,
                        items_list: *mut $crate::ks::KSOBJECT_CREATE_ITEM,
                        irp: *mut $crate::nt::IRP,
                        table: *const $crate::ks::KSDISPATCH_TABLE,
                    ) -> $crate::NTSTATUS;
                    /// `VOID KsFreeObjectHeader(PVOID Header)`.
                    fn KsFreeObjectHeader(header: *mut ::core::ffi::c_void);
                    /// `PKSOBJECT_CREATE_ITEM KsQueryObjectCreateItem(KSOBJECT_HEADER Header)`.
                    fn KsQueryObjectCreateItem(
                        header: $crate::ks::KSOBJECT_HEADER,
                    ) -> *mut $crate::ks::KSOBJECT_CREATE_ITEM;
                    /// `NTSTATUS KsDispatchQuerySecurity(PDEVICE_OBJECT DeviceObject, PIRP Irp)`.
                    fn KsDispatchQuerySecurity(
                        device: *mut $crate::nt::DEVICE_OBJECT,
                        irp: *mut $crate::nt::IRP,
                    ) -> $crate::NTSTATUS;
                    /// `NTSTATUS KsDispatchSetSecurity(PDEVICE_OBJECT DeviceObject, PIRP Irp)`.
                    fn KsDispatchSetSecurity(
                        device: *mut $crate::nt::DEVICE_OBJECT,
                        irp: *mut $crate::nt::IRP,
                    ) -> $crate::NTSTATUS;
                    /// `NTSTATUS KsDispatchIrp(PDEVICE_OBJECT DeviceObject, PIRP Irp)`.
                    fn KsDispatchIrp(
                        device: *mut $crate::nt::DEVICE_OBJECT,
                        irp: *mut $crate::nt::IRP,
                    ) -> $crate::NTSTATUS;
                    /// `NTSTATUS KsInitializeDriver(PDRIVER_OBJECT DriverObject, PUNICODE_STRING
                    /// RegistryPathName, const KSDEVICE_DESCRIPTOR *Descriptor)`.
                    fn KsInitializeDriver(
                        driver: *mut $crate::nt::DRIVER_OBJECT,
                        registry_path: *mut $crate::nt::UNICODE_STRING,
                        descriptor: *const $crate::avstream::KSDEVICE_DESCRIPTOR,
                    ) -> $crate::NTSTATUS;
                    /// `PKSSTREAM_POINTER KsPinGetLeadingEdgeStreamPointer(PKSPIN Pin,
                    /// KSSTREAM_POINTER_STATE State)`.
                    fn KsPinGetLeadingEdgeStreamPointer(
                        pin: *mut $crate::avstream::KSPIN,
                        state: $crate::avstream::KSSTREAM_POINTER_STATE,
                    ) -> *mut $crate::avstream::KSSTREAM_POINTER;
                    /// `NTSTATUS KsStreamPointerAdvance(PKSSTREAM_POINTER StreamPointer)`.
                    fn KsStreamPointerAdvance(
                        pointer: *mut $crate::avstream::KSSTREAM_POINTER,
                    ) -> $crate::NTSTATUS;
                    /// `NTSTATUS KsStreamPointerAdvanceOffsets(PKSSTREAM_POINTER StreamPointer,
                    /// ULONG InUsed, ULONG OutUsed, BOOLEAN Eject)`.
                    fn KsStreamPointerAdvanceOffsets(
                        pointer: *mut $crate::avstream::KSSTREAM_POINTER,
                        in_used: u32,
                        out_used: u32,
                        eject: u8,
                    ) -> $crate::NTSTATUS;
                    /// `NTSTATUS KsStreamPointerClone(PKSSTREAM_POINTER StreamPointer,
                    /// PFNKSSTREAMPOINTER CancelCallback, ULONG ContextSize, PKSSTREAM_POINTER
                    /// *CloneStreamPointer)`.
                    fn KsStreamPointerClone(
                        pointer: *mut $crate::avstream::KSSTREAM_POINTER,
                        cancel: $crate::avstream::PFNKSSTREAMPOINTER,
                        context_size: u32,
                        clone: *mut *mut $crate::avstream::KSSTREAM_POINTER,
                    ) -> $crate::NTSTATUS;
                    /// `void KsStreamPointerDelete(PKSSTREAM_POINTER StreamPointer)`.
                    fn KsStreamPointerDelete(pointer: *mut $crate::avstream::KSSTREAM_POINTER);
                    /// `void KsStreamPointerUnlock(PKSSTREAM_POINTER StreamPointer, BOOLEAN
                    /// Eject)`.
                    fn KsStreamPointerUnlock(
                        pointer: *mut $crate::avstream::KSSTREAM_POINTER,
                        eject: u8,
                    );
                    /// `void KsPinAttemptProcessing(PKSPIN Pin, BOOLEAN Asynchronous)`.
                    fn KsPinAttemptProcessing(pin: *mut $crate::avstream::KSPIN, asynchronous: u8);
                    /// `PKSFILTER KsPinGetParentFilter(PKSPIN Pin)`.
                    fn KsPinGetParentFilter(
                        pin: *mut $crate::avstream::KSPIN,
                    ) -> *mut $crate::avstream::KSFILTER;
                    /// `PKSDEVICE KsGetDevice(PVOID Object)`.
                    fn KsGetDevice(
                        object: *mut ::core::ffi::c_void,
                    ) -> *mut $crate::avstream::KSDEVICE;
                    /// `PKSPIN KsGetPinFromIrp(PIRP Irp)`.
                    fn KsGetPinFromIrp(irp: *mut $crate::nt::IRP) -> *mut $crate::avstream::KSPIN;
                    /// `PKSFILTER KsGetFilterFromIrp(PIRP Irp)`.
                    fn KsGetFilterFromIrp(
                        irp: *mut $crate::nt::IRP,
                    ) -> *mut $crate::avstream::KSFILTER;
                    /// `PVOID KsGetObjectFromFileObject(PFILE_OBJECT FileObject)`.
                    fn KsGetObjectFromFileObject(
                        file: *mut $crate::nt::FILE_OBJECT,
                    ) -> *mut ::core::ffi::c_void;
                    /// `NTSTATUS KsAddObjectCreateItemToObjectHeader(KSOBJECT_HEADER Header,
                    /// PDRIVER_DISPATCH Create, PVOID Context, PWSTR ObjectClass,
                    /// PSECURITY_DESCRIPTOR SecurityDescriptor)`.
                    fn KsAddObjectCreateItemToObjectHeader(
                        header: $crate::ks::KSOBJECT_HEADER,
                        create: $crate::nt::PDRIVER_DISPATCH,
                        context: *mut ::core::ffi::c_void,
                        object_class: *mut u16,
                        security: *mut ::core::ffi::c_void,
                    ) -> $crate::NTSTATUS;
                    /// `NTSTATUS KsCreateAllocator(HANDLE ConnectionHandle, PKSALLOCATOR_FRAMING
                    /// AllocatorFraming, PHANDLE AllocatorHandle)` (the kernel-mode export).
                    fn KsCreateAllocator(
                        connection: $crate::nt::HANDLE,
                        framing: *mut $crate::ks::KSALLOCATOR_FRAMING,
                        allocator: *mut $crate::nt::HANDLE,
                    ) -> $crate::NTSTATUS;
                    /// `NTSTATUS KsSynchronousIoControlDevice(PFILE_OBJECT FileObject,
                    /// KPROCESSOR_MODE RequestorMode, ULONG IoControl, PVOID InBuffer, ULONG
                    /// InSize, PVOID OutBuffer, ULONG OutSize, PULONG BytesReturned)`.
                    fn KsSynchronousIoControlDevice(
                        file: *mut $crate::nt::FILE_OBJECT,
                        mode: $crate::nt::KPROCESSOR_MODE,
                        ioctl: u32,
                        input: *mut ::core::ffi::c_void,
                        input_size: u32,
                        output: *mut ::core::ffi::c_void,
                        output_size: u32,
                        returned: *mut u32,
                    ) -> $crate::NTSTATUS;
                    /// `void KsPinAcquireProcessingMutex(PKSPIN Pin)`.
                    fn KsPinAcquireProcessingMutex(pin: *mut $crate::avstream::KSPIN);
                    /// `void KsPinReleaseProcessingMutex(PKSPIN Pin)`.
                    fn KsPinReleaseProcessingMutex(pin: *mut $crate::avstream::KSPIN);
                    /// `NTSTATUS KsCreateFilterFactory(PDEVICE_OBJECT DeviceObject, const
                    /// KSFILTER_DESCRIPTOR *Descriptor, PWSTR RefString, PSECURITY_DESCRIPTOR
                    /// SecurityDescriptor, ULONG CreateItemFlags, PFNKSFILTERFACTORYPOWER
                    /// SleepCallback, PFNKSFILTERFACTORYPOWER WakeCallback, PKSFILTERFACTORY
                    /// *FilterFactory)`.
                    fn KsCreateFilterFactory(
                        device: *mut $crate::nt::DEVICE_OBJECT,
                        descriptor: *const $crate::avstream::KSFILTER_DESCRIPTOR,
                        ref_string: *mut u16,
                        security: *mut ::core::ffi::c_void,
                        flags: u32,
                        sleep: $crate::avstream::PFNKSFILTERFACTORYPOWER,
                        wake: $crate::avstream::PFNKSFILTERFACTORYPOWER,
                        factory: *mut *mut $crate::avstream::KSFILTERFACTORY,
                    ) -> $crate::NTSTATUS;
                    /// `void KsAcquireDevice(PKSDEVICE Device)`: takes the device mutex.
                    fn KsAcquireDevice(device: *mut $crate::avstream::KSDEVICE);
                    /// `void KsReleaseDevice(PKSDEVICE Device)`: releases the device mutex.
                    fn KsReleaseDevice(device: *mut $crate::avstream::KSDEVICE);
                    /// `NTSTATUS _KsEdit(KSOBJECT_BAG ObjectBag, PVOID *PointerToPointerToItem,
                    /// ULONG NewSize, ULONG OldSize, ULONG Tag)`; ks.h's `KsEdit(Object,
                    /// PointerToPointer, Tag)` macro is `_KsEdit(Object->Bag, PointerToPointer,
                    /// sizeof(**PointerToPointer), sizeof(**PointerToPointer), Tag)`.
                    fn _KsEdit(
                        bag: $crate::avstream::KSOBJECT_BAG,
                        pointer_to_pointer: *mut *mut ::core::ffi::c_void,
                        new_size: u32,
                        old_size: u32,
                        tag: u32,
                    ) -> $crate::NTSTATUS;
                }
                data {}
                variadic {}
            }
        }
    };
}
