//! The NT kernel objects the driver touches, laid out as on Windows x64 (ddk/wdm.h).
//!
//! Only the fields avcam reads or writes are named; the rest are opaque padding of the right
//! size, so offsets and sizes match the WDK. `layout` asserts them.

use core::ffi::c_void;

use crate::status::NTSTATUS;

/// `KSPIN_LOCK`: a pointer-sized spin lock word.
pub type KSPIN_LOCK = usize;
/// `KIRQL`: interrupt request level.
pub type KIRQL = u8;
/// `KPROCESSOR_MODE`: `KernelMode` (0) or `UserMode` (1).
pub type KPROCESSOR_MODE = i8;
/// `KernelMode`.
pub const KernelMode: KPROCESSOR_MODE = 0;
/// `UserMode`.
pub const UserMode: KPROCESSOR_MODE = 1;
/// `HANDLE`.
pub type HANDLE = *mut c_void;
/// `PASSIVE_LEVEL`.
pub const PASSIVE_LEVEL: KIRQL = 0;
/// `APC_LEVEL`.
pub const APC_LEVEL: KIRQL = 1;
/// `DISPATCH_LEVEL`.
pub const DISPATCH_LEVEL: KIRQL = 2;
/// `PAGE_SIZE` on x64.
pub const PAGE_SIZE: usize = 4096;
/// `IO_NO_INCREMENT`: the priority boost passed to `IoCompleteRequest`.
pub const IO_NO_INCREMENT: i8 = 0;
/// `IO_TYPE_DEVICE`: `DEVICE_OBJECT.Type`.
pub const IO_TYPE_DEVICE: i16 = 3;
/// `IO_TYPE_DRIVER`: `DRIVER_OBJECT.Type`.
pub const IO_TYPE_DRIVER: i16 = 4;
/// `IO_TYPE_FILE`: `FILE_OBJECT.Type`.
pub const IO_TYPE_FILE: i16 = 5;
/// `IO_TYPE_IRP`: `IRP.Type`.
pub const IO_TYPE_IRP: i16 = 6;

/// `ACCESS_MASK`.
pub type ACCESS_MASK = u32;
/// `SYNCHRONIZE`.
pub const SYNCHRONIZE: ACCESS_MASK = 0x0010_0000;
/// `EVENT_MODIFY_STATE`.
pub const EVENT_MODIFY_STATE: ACCESS_MASK = 0x0002;
/// `EVENT_ALL_ACCESS` (`STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x3`).
pub const EVENT_ALL_ACCESS: ACCESS_MASK = 0x000F_0000 | SYNCHRONIZE | 0x3;

// --- Registry (wdm.h) ---

/// `PLUGPLAY_REGKEY_DEVICE`: `IoOpenDeviceRegistryKey` opens the device's hardware key.
pub const PLUGPLAY_REGKEY_DEVICE: u32 = 1;
/// `PLUGPLAY_REGKEY_DRIVER`: `IoOpenDeviceRegistryKey` opens the device's software key.
pub const PLUGPLAY_REGKEY_DRIVER: u32 = 2;
/// `PLUGPLAY_REGKEY_CURRENT_HWPROFILE`: relative to the current hardware profile (deprecated).
pub const PLUGPLAY_REGKEY_CURRENT_HWPROFILE: u32 = 4;
/// `KEY_QUERY_VALUE`.
pub const KEY_QUERY_VALUE: ACCESS_MASK = 0x0001;
/// `KEY_READ` (`(STANDARD_RIGHTS_READ | KEY_QUERY_VALUE | KEY_ENUMERATE_SUB_KEYS | KEY_NOTIFY) &
/// ~SYNCHRONIZE`).
pub const KEY_READ: ACCESS_MASK = 0x0002_0019;
/// `REG_SZ`: a NUL-terminated UTF-16 string.
pub const REG_SZ: u32 = 1;
/// `REG_BINARY`.
pub const REG_BINARY: u32 = 3;
/// `REG_DWORD`: a little-endian 32-bit number.
pub const REG_DWORD: u32 = 4;
/// `KEY_VALUE_INFORMATION_CLASS`: a C enum (4 bytes).
pub type KEY_VALUE_INFORMATION_CLASS = u32;
/// `KeyValueBasicInformation`.
pub const KeyValueBasicInformation: KEY_VALUE_INFORMATION_CLASS = 0;
/// `KeyValueFullInformation`.
pub const KeyValueFullInformation: KEY_VALUE_INFORMATION_CLASS = 1;
/// `KeyValuePartialInformation`: a `KEY_VALUE_PARTIAL_INFORMATION`.
pub const KeyValuePartialInformation: KEY_VALUE_INFORMATION_CLASS = 2;

/// `KEY_VALUE_PARTIAL_INFORMATION` (16 bytes): a value's type and data; `DataLength` bytes of
/// data start at `Data` (the C `UCHAR Data[1]`, here the first four of them, so that the size is
/// the C size).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KEY_VALUE_PARTIAL_INFORMATION {
    /// `TitleIndex`: device drivers ignore it.
    pub TitleIndex: u32,
    /// `Type`: `REG_*`.
    pub Type: u32,
    /// `DataLength`: bytes of data.
    pub DataLength: u32,
    /// `Data`: the data's first bytes.
    pub Data: [u8; 4],
}

/// The bytes of a `KEY_VALUE_PARTIAL_INFORMATION` before its data (`FIELD_OFFSET(..., Data)`).
pub const KEY_VALUE_PARTIAL_INFORMATION_HEADER: usize = 12;

/// `POBJECT_TYPE`: an opaque pointer naming an object type (`*ExEventObjectType`, ...).
pub type POBJECT_TYPE = *mut c_void;

/// `OBJECT_HANDLE_INFORMATION`: what `ObReferenceObjectByHandle` reports about the handle.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OBJECT_HANDLE_INFORMATION {
    /// `HandleAttributes`.
    pub HandleAttributes: u32,
    /// `GrantedAccess`.
    pub GrantedAccess: ACCESS_MASK,
}

/// `LIST_ENTRY`: a doubly linked list link.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LIST_ENTRY {
    /// Next entry.
    pub Flink: *mut LIST_ENTRY,
    /// Previous entry.
    pub Blink: *mut LIST_ENTRY,
}

/// `UNICODE_STRING`: a counted UTF-16 string; lengths in bytes, no terminator required.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct UNICODE_STRING {
    /// Length of the string in bytes.
    pub Length: u16,
    /// Size of the buffer in bytes.
    pub MaximumLength: u16,
    /// The UTF-16 code units.
    pub Buffer: *mut u16,
}

impl UNICODE_STRING {
    /// An empty string.
    pub const EMPTY: UNICODE_STRING = UNICODE_STRING {
        Length: 0,
        MaximumLength: 0,
        Buffer: core::ptr::null_mut(),
    };
}

/// `IO_STATUS_BLOCK`: the final status and information of an IRP.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct IO_STATUS_BLOCK {
    /// `Status` (a union with `Pointer`; the status occupies the low 32 bits).
    pub Status: NTSTATUS,
    /// Padding of the union to pointer size.
    pub _pad: u32,
    /// `Information`: bytes transferred, or the size needed with STATUS_BUFFER_TOO_SMALL.
    pub Information: usize,
}

/// `POOL_TYPE` values (wdm.h).
pub type POOL_TYPE = u32;
/// `NonPagedPool` (executable on older systems).
pub const NonPagedPool: POOL_TYPE = 0;
/// `NonPagedPoolExecute`: same value as `NonPagedPool`.
pub const NonPagedPoolExecute: POOL_TYPE = 0;
/// `PagedPool`.
pub const PagedPool: POOL_TYPE = 1;
/// `NonPagedPoolMustSucceed` (obsolete; rejected by avcam).
pub const NonPagedPoolMustSucceed: POOL_TYPE = 2;
/// `DontUseThisType` (reserved).
pub const DontUseThisType: POOL_TYPE = 3;
/// `NonPagedPoolCacheAligned`.
pub const NonPagedPoolCacheAligned: POOL_TYPE = 4;
/// `PagedPoolCacheAligned`.
pub const PagedPoolCacheAligned: POOL_TYPE = 5;
/// `NonPagedPoolCacheAlignedMustS` (obsolete; rejected by avcam).
pub const NonPagedPoolCacheAlignedMustS: POOL_TYPE = 6;
/// `NonPagedPoolSession` base (session pools: 32 + type).
pub const NonPagedPoolSession: POOL_TYPE = 32;
/// `PagedPoolSession`.
pub const PagedPoolSession: POOL_TYPE = 33;
/// `NonPagedPoolNx`: no-execute non-paged pool, the Windows 8+ default for drivers.
pub const NonPagedPoolNx: POOL_TYPE = 512;
/// `NonPagedPoolNxCacheAligned`.
pub const NonPagedPoolNxCacheAligned: POOL_TYPE = 516;
/// `NonPagedPoolSessionNx`.
pub const NonPagedPoolSessionNx: POOL_TYPE = 544;

/// `POOL_FLAGS` for `ExAllocatePool2` (Windows 10 2004+).
pub type POOL_FLAGS = u64;
/// `POOL_FLAG_USE_QUOTA`: charge the allocation to the current process.
pub const POOL_FLAG_USE_QUOTA: POOL_FLAGS = 0x0000_0000_0000_0001;
/// `POOL_FLAG_UNINITIALIZED`: do not zero the allocation.
pub const POOL_FLAG_UNINITIALIZED: POOL_FLAGS = 0x0000_0000_0000_0002;
/// `POOL_FLAG_SESSION`: allocate from session pool.
pub const POOL_FLAG_SESSION: POOL_FLAGS = 0x0000_0000_0000_0004;
/// `POOL_FLAG_CACHE_ALIGNED`: align to a cache line.
pub const POOL_FLAG_CACHE_ALIGNED: POOL_FLAGS = 0x0000_0000_0000_0008;
/// `POOL_FLAG_RAISE_ON_FAILURE`: raise an exception instead of returning NULL.
pub const POOL_FLAG_RAISE_ON_FAILURE: POOL_FLAGS = 0x0000_0000_0000_0020;
/// `POOL_FLAG_NON_PAGED`: non-paged, no-execute (missing from mingw-w64 10's headers).
pub const POOL_FLAG_NON_PAGED: POOL_FLAGS = 0x0000_0000_0000_0040;
/// `POOL_FLAG_NON_PAGED_EXECUTE`.
pub const POOL_FLAG_NON_PAGED_EXECUTE: POOL_FLAGS = 0x0000_0000_0000_0080;
/// `POOL_FLAG_PAGED`.
pub const POOL_FLAG_PAGED: POOL_FLAGS = 0x0000_0000_0000_0100;

/// `PDRIVER_DISPATCH`: `NTSTATUS (*)(PDEVICE_OBJECT, PIRP)`.
#[crate::kernel_abi]
pub type PDRIVER_DISPATCH =
    Option<unsafe extern "system" fn(*mut DEVICE_OBJECT, *mut IRP) -> NTSTATUS>;
/// `PDRIVER_CANCEL`: `VOID (*)(PDEVICE_OBJECT, PIRP)`.
#[crate::kernel_abi]
pub type PDRIVER_CANCEL = Option<unsafe extern "system" fn(*mut DEVICE_OBJECT, *mut IRP)>;
/// `PDRIVER_UNLOAD`: `VOID (*)(PDRIVER_OBJECT)`.
#[crate::kernel_abi]
pub type PDRIVER_UNLOAD = Option<unsafe extern "system" fn(*mut DRIVER_OBJECT)>;
/// `PDRIVER_ADD_DEVICE`: `NTSTATUS (*)(PDRIVER_OBJECT, PDEVICE_OBJECT)`.
#[crate::kernel_abi]
pub type PDRIVER_ADD_DEVICE =
    Option<unsafe extern "system" fn(*mut DRIVER_OBJECT, *mut DEVICE_OBJECT) -> NTSTATUS>;
/// `PIO_COMPLETION_ROUTINE`.
#[crate::kernel_abi]
pub type PIO_COMPLETION_ROUTINE =
    Option<unsafe extern "system" fn(*mut DEVICE_OBJECT, *mut IRP, *mut c_void) -> NTSTATUS>;

/// `IRP_MJ_*` major function codes.
pub mod irp_mj {
    /// `IRP_MJ_CREATE`.
    pub const CREATE: u8 = 0x00;
    /// `IRP_MJ_CLOSE`.
    pub const CLOSE: u8 = 0x02;
    /// `IRP_MJ_READ`.
    pub const READ: u8 = 0x03;
    /// `IRP_MJ_WRITE`.
    pub const WRITE: u8 = 0x04;
    /// `IRP_MJ_FLUSH_BUFFERS`.
    pub const FLUSH_BUFFERS: u8 = 0x09;
    /// `IRP_MJ_DEVICE_CONTROL`.
    pub const DEVICE_CONTROL: u8 = 0x0e;
    /// `IRP_MJ_INTERNAL_DEVICE_CONTROL`.
    pub const INTERNAL_DEVICE_CONTROL: u8 = 0x0f;
    /// `IRP_MJ_CLEANUP`.
    pub const CLEANUP: u8 = 0x12;
    /// `IRP_MJ_QUERY_SECURITY`.
    pub const QUERY_SECURITY: u8 = 0x14;
    /// `IRP_MJ_SET_SECURITY`.
    pub const SET_SECURITY: u8 = 0x15;
    /// `IRP_MJ_POWER`.
    pub const POWER: u8 = 0x16;
    /// `IRP_MJ_SYSTEM_CONTROL`.
    pub const SYSTEM_CONTROL: u8 = 0x17;
    /// `IRP_MJ_PNP`.
    pub const PNP: u8 = 0x1b;
    /// `IRP_MJ_MAXIMUM_FUNCTION`.
    pub const MAXIMUM_FUNCTION: u8 = 0x1b;
}

/// `IRP_BUFFERED_IO` (`Irp->Flags`): `AssociatedIrp.SystemBuffer` is a copy of the caller's
/// buffer, made by the I/O manager (or by `KsProbeStreamIrp` for user-mode stream headers).
pub const IRP_BUFFERED_IO: u32 = 0x0000_0010;
/// `IRP_DEALLOCATE_BUFFER` (`Irp->Flags`): the I/O manager frees `SystemBuffer` at completion.
pub const IRP_DEALLOCATE_BUFFER: u32 = 0x0000_0020;
/// `IRP_INPUT_OPERATION` (`Irp->Flags`): with IRP_BUFFERED_IO, the I/O manager copies
/// `IoStatus.Information` bytes of `SystemBuffer` back to `UserBuffer` at completion.
pub const IRP_INPUT_OPERATION: u32 = 0x0000_0040;

/// `SL_PENDING_RETURNED`: set in `IO_STACK_LOCATION.Control` by `IoMarkIrpPending`.
pub const SL_PENDING_RETURNED: u8 = 0x01;

/// `IRP` (208 bytes on x64; the WDK aligns it to 16).
#[repr(C, align(16))]
pub struct IRP {
    /// `Type` (IO_TYPE_IRP = 6).
    pub Type: i16,
    /// `Size` of the IRP including its stack locations.
    pub Size: u16,
    /// `MdlAddress`.
    pub MdlAddress: *mut c_void,
    /// `Flags`.
    pub Flags: u32,
    /// `AssociatedIrp.SystemBuffer` (a union with MasterIrp / IrpCount).
    pub SystemBuffer: *mut c_void,
    /// `ThreadListEntry`.
    pub ThreadListEntry: LIST_ENTRY,
    /// `IoStatus`.
    pub IoStatus: IO_STATUS_BLOCK,
    /// `RequestorMode`.
    pub RequestorMode: KPROCESSOR_MODE,
    /// `PendingReturned`.
    pub PendingReturned: u8,
    /// `StackCount`.
    pub StackCount: i8,
    /// `CurrentLocation`.
    pub CurrentLocation: i8,
    /// `Cancel`: set by `IoCancelIrp`.
    pub Cancel: u8,
    /// `CancelIrql`.
    pub CancelIrql: KIRQL,
    /// `ApcEnvironment`.
    pub ApcEnvironment: i8,
    /// `AllocationFlags`.
    pub AllocationFlags: u8,
    /// `UserIosb`.
    pub UserIosb: *mut IO_STATUS_BLOCK,
    /// `UserEvent`.
    pub UserEvent: *mut KEVENT,
    /// `Overlay` (APC routine and context, or AllocationSize).
    pub Overlay: [usize; 2],
    /// `CancelRoutine`: exchanged atomically by `IoSetCancelRoutine`.
    pub CancelRoutine: PDRIVER_CANCEL,
    /// `UserBuffer`: the output buffer of METHOD_NEITHER IOCTLs.
    pub UserBuffer: *mut c_void,
    /// `Tail.Overlay`: `DriverContext[4]` first (KSCREATE_ITEM_IRP_STORAGE is `[0]`).
    pub Tail: IRP_TAIL_OVERLAY,
}

/// `IRP.Tail.Overlay` (88 bytes).
#[repr(C)]
pub struct IRP_TAIL_OVERLAY {
    /// `DriverContext[4]`: free for the driver that owns the IRP (a union with DeviceQueueEntry).
    pub DriverContext: [*mut c_void; 4],
    /// `Thread`.
    pub Thread: *mut c_void,
    /// `AuxiliaryBuffer`.
    pub AuxiliaryBuffer: *mut c_void,
    /// `ListEntry`: free for the driver that owns the IRP (queues of pending IRPs).
    pub ListEntry: LIST_ENTRY,
    /// `CurrentStackLocation`.
    pub CurrentStackLocation: *mut IO_STACK_LOCATION,
    /// `OriginalFileObject`.
    pub OriginalFileObject: *mut FILE_OBJECT,
}

/// `IO_STACK_LOCATION` (72 bytes on x64).
#[repr(C)]
pub struct IO_STACK_LOCATION {
    /// `MajorFunction` (`irp_mj::*`).
    pub MajorFunction: u8,
    /// `MinorFunction`.
    pub MinorFunction: u8,
    /// `Flags`.
    pub Flags: u8,
    /// `Control` (`SL_PENDING_RETURNED`, ...).
    pub Control: u8,
    /// `Parameters`: a union; use the typed accessors.
    pub Parameters: IO_STACK_PARAMETERS,
    /// `DeviceObject`.
    pub DeviceObject: *mut DEVICE_OBJECT,
    /// `FileObject`.
    pub FileObject: *mut FILE_OBJECT,
    /// `CompletionRoutine`.
    pub CompletionRoutine: PIO_COMPLETION_ROUTINE,
    /// `Context`.
    pub Context: *mut c_void,
}

/// `IO_STACK_LOCATION.Parameters` (a union of 32 bytes; each member's fields are POINTER_ALIGNED).
#[repr(C)]
#[derive(Clone, Copy)]
pub union IO_STACK_PARAMETERS {
    /// `Parameters.DeviceIoControl`.
    pub DeviceIoControl: DEVICE_IO_CONTROL_PARAMETERS,
    /// `Parameters.Create`.
    pub Create: CREATE_PARAMETERS,
    /// `Parameters.Read` / `Parameters.Write`.
    pub ReadWrite: READ_WRITE_PARAMETERS,
    /// The raw words.
    pub Others: [usize; 4],
}

/// `Parameters.DeviceIoControl`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DEVICE_IO_CONTROL_PARAMETERS {
    /// `OutputBufferLength`.
    pub OutputBufferLength: u32,
    /// Padding (POINTER_ALIGNMENT of the next field).
    pub _pad0: u32,
    /// `InputBufferLength`.
    pub InputBufferLength: u32,
    /// Padding.
    pub _pad1: u32,
    /// `IoControlCode`.
    pub IoControlCode: u32,
    /// Padding.
    pub _pad2: u32,
    /// `Type3InputBuffer`: the input of METHOD_NEITHER IOCTLs (the KSPROPERTY/KSMETHOD/KSEVENT).
    pub Type3InputBuffer: *mut c_void,
}

/// `Parameters.Create`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CREATE_PARAMETERS {
    /// `SecurityContext`.
    pub SecurityContext: *mut c_void,
    /// `Options`.
    pub Options: u32,
    /// Padding.
    pub _pad0: u32,
    /// `FileAttributes`.
    pub FileAttributes: u16,
    /// `ShareAccess`.
    pub ShareAccess: u16,
    /// Padding.
    pub _pad1: u32,
    /// `EaLength`.
    pub EaLength: u32,
    /// Padding.
    pub _pad2: u32,
}

/// `Parameters.Read` / `Parameters.Write`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct READ_WRITE_PARAMETERS {
    /// `Length`.
    pub Length: u32,
    /// Padding.
    pub _pad0: u32,
    /// `Key`.
    pub Key: u32,
    /// `Flags`.
    pub Flags: u32,
    /// `ByteOffset`.
    pub ByteOffset: i64,
}

/// `FILE_OBJECT` (216 bytes on x64).
#[repr(C)]
pub struct FILE_OBJECT {
    /// `Type` (IO_TYPE_FILE = 5).
    pub Type: i16,
    /// `Size`.
    pub Size: i16,
    /// `DeviceObject`.
    pub DeviceObject: *mut DEVICE_OBJECT,
    /// `Vpb`.
    pub Vpb: *mut c_void,
    /// `FsContext`: for a KS object, a structure whose first field is its KSOBJECT_HEADER (for
    /// avcam's allocator, the allocator object; the header records its create item).
    pub FsContext: *mut c_void,
    /// `FsContext2`: free for the object's driver (unused by avcam's allocator).
    pub FsContext2: *mut c_void,
    /// `SectionObjectPointer`.
    pub SectionObjectPointer: *mut c_void,
    /// `PrivateCacheMap`.
    pub PrivateCacheMap: *mut c_void,
    /// `FinalStatus`.
    pub FinalStatus: NTSTATUS,
    /// `RelatedFileObject`: the parent (for an allocator, the pin's file object).
    pub RelatedFileObject: *mut FILE_OBJECT,
    /// `LockOperation` .. `SharedDelete`: eight BOOLEANs.
    pub Booleans: [u8; 8],
    /// `Flags`.
    pub Flags: u32,
    /// `FileName`: the name relative to `RelatedFileObject`.
    pub FileName: UNICODE_STRING,
    /// `CurrentByteOffset`.
    pub CurrentByteOffset: i64,
    /// `Waiters`.
    pub Waiters: u32,
    /// `Busy`.
    pub Busy: u32,
    /// `LastLock`.
    pub LastLock: *mut c_void,
    /// `Lock` (a KEVENT).
    pub Lock: KEVENT,
    /// `Event` (a KEVENT).
    pub Event: KEVENT,
    /// `CompletionContext`.
    pub CompletionContext: *mut c_void,
    /// `IrpListLock`.
    pub IrpListLock: KSPIN_LOCK,
    /// `IrpList`.
    pub IrpList: LIST_ENTRY,
    /// `FileObjectExtension`.
    pub FileObjectExtension: *mut c_void,
}

/// `DISPATCHER_HEADER` + nothing: a `KEVENT` (24 bytes on x64).
#[repr(C)]
pub struct KEVENT {
    /// `Type`, `Signalling`, `Size`, `Reserved1` (the first 32 bits of DISPATCHER_HEADER).
    pub Header: u32,
    /// `SignalState`.
    pub SignalState: i32,
    /// `WaitListHead`.
    pub WaitListHead: LIST_ENTRY,
}

/// `EVENT_TYPE`: `NotificationEvent` (0) or `SynchronizationEvent` (1).
pub type EVENT_TYPE = u32;
/// `NotificationEvent`.
pub const NotificationEvent: EVENT_TYPE = 0;
/// `SynchronizationEvent`.
pub const SynchronizationEvent: EVENT_TYPE = 1;

/// `KDPC` (64 bytes on x64), opaque to avcam.
#[repr(C, align(8))]
pub struct KDPC {
    /// The DPC's private words.
    pub Opaque: [u64; 8],
}

/// `KTIMER` (64 bytes on x64), opaque to avcam.
#[repr(C, align(8))]
pub struct KTIMER {
    /// The timer's private words.
    pub Opaque: [u64; 8],
}

/// `TIMER_TYPE`: `NotificationTimer` (0) or `SynchronizationTimer` (1).
pub type TIMER_TYPE = u32;
/// `NotificationTimer`.
pub const NotificationTimer: TIMER_TYPE = 0;
/// `SynchronizationTimer`.
pub const SynchronizationTimer: TIMER_TYPE = 1;
/// `OBJ_KERNEL_HANDLE`: the handle belongs to the kernel's handle table.
pub const OBJ_KERNEL_HANDLE: u32 = 0x0000_0200;
/// `PACCESS_STATE`: opaque to avcam (always NULL).
pub type PACCESS_STATE = *mut c_void;

/// `PKDEFERRED_ROUTINE`.
#[crate::kernel_abi]
pub type PKDEFERRED_ROUTINE =
    Option<unsafe extern "system" fn(*mut KDPC, *mut c_void, *mut c_void, *mut c_void)>;

/// `EX_TIMER`: the timer object `ExAllocateTimer` allocates (Windows 8.1+), opaque to drivers;
/// only ever handled through a `PEX_TIMER` (`*mut EX_TIMER`).
#[repr(C)]
pub struct EX_TIMER {
    _opaque: [u8; 0],
}

/// `PEXT_CALLBACK`: `VOID ExTimerCallback(PEX_TIMER Timer, PVOID Context)`, called at
/// DISPATCH_LEVEL when an EX_TIMER expires (learn.microsoft.com, EXT_CALLBACK).
#[crate::kernel_abi]
pub type PEXT_CALLBACK = Option<unsafe extern "system" fn(*mut EX_TIMER, *mut c_void)>;

/// `PEXT_DELETE_CALLBACK`: `VOID ExTimerDeleteCallback(PVOID Context)`, called once a deleted
/// EX_TIMER has no timer operation left (learn.microsoft.com, EXT_DELETE_CALLBACK).
#[crate::kernel_abi]
pub type PEXT_DELETE_CALLBACK = Option<unsafe extern "system" fn(*mut c_void)>;

/// `EX_TIMER_HIGH_RESOLUTION`: an `ExAllocateTimer` attribute; the timer expires at its due
/// time, the system raising the clock rate as needed.
pub const EX_TIMER_HIGH_RESOLUTION: u32 = 0x4;
/// `EX_TIMER_NO_WAKE`: an `ExAllocateTimer` attribute (exclusive with
/// EX_TIMER_HIGH_RESOLUTION); the timer does not wake an idle processor before its tolerance.
pub const EX_TIMER_NO_WAKE: u32 = 0x8;
/// `EX_TIMER_NOTIFICATION`: an `ExAllocateTimer` attribute; a notification timer instead of a
/// synchronization timer (`1UL << 31`).
pub const EX_TIMER_NOTIFICATION: u32 = 0x8000_0000;
/// `EX_TIMER_UNLIMITED_TOLERANCE`: `EXT_SET_PARAMETERS.NoWakeTolerance` for "never wake the
/// processor for this timer" (`(LONGLONG)-1`).
pub const EX_TIMER_UNLIMITED_TOLERANCE: i64 = -1;

/// `EXT_SET_PARAMETERS` (`_EXT_SET_PARAMETERS_V0`, 16 bytes): the extended parameters of
/// `ExSetTimer`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EXT_SET_PARAMETERS {
    /// `Version`: 0 (the `_V0` layout), as `ExInitializeSetTimerParameters` writes it.
    pub Version: u32,
    /// `Reserved`: zero.
    pub Reserved: u32,
    /// `NoWakeTolerance`: how long (100 ns units) an expired timer may wait for a sleeping
    /// processor; 0, a positive value or [`EX_TIMER_UNLIMITED_TOLERANCE`].
    pub NoWakeTolerance: i64,
}

impl EXT_SET_PARAMETERS {
    /// What `ExInitializeSetTimerParameters` (an inline routine of wdm.h) writes: all zero
    /// (Version 0, Reserved 0, NoWakeTolerance 0).
    pub const fn initialized() -> EXT_SET_PARAMETERS {
        EXT_SET_PARAMETERS {
            Version: 0,
            Reserved: 0,
            NoWakeTolerance: 0,
        }
    }
}

/// `EXT_DELETE_PARAMETERS` (24 bytes on x64): the extended parameters of `ExDeleteTimer`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EXT_DELETE_PARAMETERS {
    /// `Version`: 0, as `ExInitializeDeleteTimerParameters` writes it.
    pub Version: u32,
    /// `Reserved`: zero.
    pub Reserved: u32,
    /// `DeleteCallback`: called once the timer object has no timer operation left (optional).
    pub DeleteCallback: PEXT_DELETE_CALLBACK,
    /// `DeleteContext`: the argument of `DeleteCallback`.
    pub DeleteContext: *mut c_void,
}

impl EXT_DELETE_PARAMETERS {
    /// What `ExInitializeDeleteTimerParameters` (an inline routine of wdm.h) writes: Version 0,
    /// no delete callback, a NULL context.
    pub const fn initialized() -> EXT_DELETE_PARAMETERS {
        EXT_DELETE_PARAMETERS {
            Version: 0,
            Reserved: 0,
            DeleteCallback: None,
            DeleteContext: core::ptr::null_mut(),
        }
    }
}

/// `DEVICE_OBJECT` (336 bytes in the WDK, which aligns it to 16; mingw-w64 says 328).
#[repr(C, align(16))]
pub struct DEVICE_OBJECT {
    /// `Type` (IO_TYPE_DEVICE = 3).
    pub Type: i16,
    /// `Size`.
    pub Size: u16,
    /// `ReferenceCount`.
    pub ReferenceCount: i32,
    /// `DriverObject`.
    pub DriverObject: *mut DRIVER_OBJECT,
    /// `NextDevice`.
    pub NextDevice: *mut DEVICE_OBJECT,
    /// `AttachedDevice`.
    pub AttachedDevice: *mut DEVICE_OBJECT,
    /// `CurrentIrp`.
    pub CurrentIrp: *mut IRP,
    /// `Timer`.
    pub Timer: *mut c_void,
    /// `Flags` (DO_*).
    pub Flags: u32,
    /// `Characteristics`.
    pub Characteristics: u32,
    /// `Vpb`.
    pub Vpb: *mut c_void,
    /// `DeviceExtension`: for an AVStream device, ks.sys's device header.
    pub DeviceExtension: *mut c_void,
    /// `DeviceType`.
    pub DeviceType: u32,
    /// `StackSize`.
    pub StackSize: i8,
    /// Padding to `Queue`.
    pub _pad0: [u8; 3],
    /// `Queue` (a union of LIST_ENTRY and WAIT_CONTEXT_BLOCK), opaque.
    pub Queue: [u64; 9],
    /// `AlignmentRequirement`.
    pub AlignmentRequirement: u32,
    /// Padding.
    pub _pad1: u32,
    /// `DeviceQueue` (KDEVICE_QUEUE), opaque.
    pub DeviceQueue: [u64; 5],
    /// `Dpc`.
    pub Dpc: KDPC,
    /// `ActiveThreadCount`.
    pub ActiveThreadCount: u32,
    /// Padding.
    pub _pad2: u32,
    /// `SecurityDescriptor`.
    pub SecurityDescriptor: *mut c_void,
    /// `DeviceLock`.
    pub DeviceLock: KEVENT,
    /// `SectorSize`.
    pub SectorSize: u16,
    /// `Spare1`.
    pub Spare1: u16,
    /// Padding.
    pub _pad3: u32,
    /// `DeviceObjectExtension`.
    pub DeviceObjectExtension: *mut c_void,
    /// `Reserved`.
    pub Reserved: *mut c_void,
}

/// `DRIVER_EXTENSION` (the fields avcam uses).
#[repr(C)]
pub struct DRIVER_EXTENSION {
    /// `DriverObject`.
    pub DriverObject: *mut DRIVER_OBJECT,
    /// `AddDevice`.
    pub AddDevice: PDRIVER_ADD_DEVICE,
    /// `Count`.
    pub Count: u32,
    /// `ServiceKeyName`.
    pub ServiceKeyName: UNICODE_STRING,
}

/// `DRIVER_OBJECT` (336 bytes on x64).
#[repr(C)]
pub struct DRIVER_OBJECT {
    /// `Type` (IO_TYPE_DRIVER = 4).
    pub Type: i16,
    /// `Size`.
    pub Size: i16,
    /// `DeviceObject`: the first device this driver created.
    pub DeviceObject: *mut DEVICE_OBJECT,
    /// `Flags`.
    pub Flags: u32,
    /// `DriverStart`.
    pub DriverStart: *mut c_void,
    /// `DriverSize`.
    pub DriverSize: u32,
    /// `DriverSection`.
    pub DriverSection: *mut c_void,
    /// `DriverExtension`.
    pub DriverExtension: *mut DRIVER_EXTENSION,
    /// `DriverName`.
    pub DriverName: UNICODE_STRING,
    /// `HardwareDatabase`.
    pub HardwareDatabase: *mut UNICODE_STRING,
    /// `FastIoDispatch`.
    pub FastIoDispatch: *mut c_void,
    /// `DriverInit`.
    pub DriverInit: *mut c_void,
    /// `DriverStartIo`.
    pub DriverStartIo: *mut c_void,
    /// `DriverUnload`.
    pub DriverUnload: PDRIVER_UNLOAD,
    /// `MajorFunction[IRP_MJ_MAXIMUM_FUNCTION + 1]`.
    pub MajorFunction: [PDRIVER_DISPATCH; 28],
}

/// `CTL_CODE(DeviceType, Function, Method, Access)`.
pub const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    (device_type << 16) | (access << 14) | (function << 2) | method
}
/// `METHOD_BUFFERED`.
pub const METHOD_BUFFERED: u32 = 0;
/// `METHOD_NEITHER`.
pub const METHOD_NEITHER: u32 = 3;
/// `FILE_ANY_ACCESS`.
pub const FILE_ANY_ACCESS: u32 = 0;
/// `FILE_READ_ACCESS`.
pub const FILE_READ_ACCESS: u32 = 1;
/// `FILE_WRITE_ACCESS`.
pub const FILE_WRITE_ACCESS: u32 = 2;
