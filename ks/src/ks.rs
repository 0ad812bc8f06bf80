//! Kernel-streaming structures, flags and IOCTL codes (ks.h).

use core::ffi::c_void;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::guid::GUID;
use crate::nt::{ctl_code, DEVICE_OBJECT, FILE_OBJECT, IRP, PDRIVER_DISPATCH, UNICODE_STRING};
use crate::status::NTSTATUS;

// --- IOCTLs ---

/// `FILE_DEVICE_KS`.
pub const FILE_DEVICE_KS: u32 = 0x0000_002F;
/// `IOCTL_KS_PROPERTY`: METHOD_NEITHER; input KSPROPERTY (+ data), output the value.
pub const IOCTL_KS_PROPERTY: u32 = ctl_code(FILE_DEVICE_KS, 0x000, 3, 0);
/// `IOCTL_KS_ENABLE_EVENT`: input KSEVENT, output KSEVENTDATA.
pub const IOCTL_KS_ENABLE_EVENT: u32 = ctl_code(FILE_DEVICE_KS, 0x001, 3, 0);
/// `IOCTL_KS_DISABLE_EVENT`: input the KSEVENTDATA given at enable (or none: disable all).
pub const IOCTL_KS_DISABLE_EVENT: u32 = ctl_code(FILE_DEVICE_KS, 0x002, 3, 0);
/// `IOCTL_KS_METHOD`: input KSMETHOD, output the method's data.
pub const IOCTL_KS_METHOD: u32 = ctl_code(FILE_DEVICE_KS, 0x003, 3, 0);
/// `IOCTL_KS_WRITE_STREAM`: FILE_WRITE_ACCESS.
pub const IOCTL_KS_WRITE_STREAM: u32 = ctl_code(FILE_DEVICE_KS, 0x004, 3, 2);
/// `IOCTL_KS_READ_STREAM`: FILE_READ_ACCESS; output KSSTREAM_HEADERs.
pub const IOCTL_KS_READ_STREAM: u32 = ctl_code(FILE_DEVICE_KS, 0x005, 3, 1);
/// `IOCTL_KS_RESET_STATE`.
pub const IOCTL_KS_RESET_STATE: u32 = ctl_code(FILE_DEVICE_KS, 0x006, 3, 0);

// --- Identifiers ---

/// `KSIDENTIFIER` = `KSPROPERTY` = `KSMETHOD` = `KSEVENT` (24 bytes, align 8: a union with
/// LONGLONG).
#[repr(C, align(8))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct KSIDENTIFIER {
    /// `Set`: the property, method or event set.
    pub Set: GUID,
    /// `Id`: the item within the set.
    pub Id: u32,
    /// `Flags`: `KSPROPERTY_TYPE_*`, `KSMETHOD_TYPE_*` or `KSEVENT_TYPE_*`.
    pub Flags: u32,
}
/// `KSPROPERTY`.
pub type KSPROPERTY = KSIDENTIFIER;
/// `KSMETHOD`.
pub type KSMETHOD = KSIDENTIFIER;
/// `KSEVENT`.
pub type KSEVENT = KSIDENTIFIER;

/// `KSPROPERTY_TYPE_GET`.
pub const KSPROPERTY_TYPE_GET: u32 = 0x0000_0001;
/// `KSPROPERTY_TYPE_SET`.
pub const KSPROPERTY_TYPE_SET: u32 = 0x0000_0002;
/// `KSPROPERTY_TYPE_SETSUPPORT`: does the object support this set?
pub const KSPROPERTY_TYPE_SETSUPPORT: u32 = 0x0000_0100;
/// `KSPROPERTY_TYPE_BASICSUPPORT`: access flags (and a KSPROPERTY_DESCRIPTION).
pub const KSPROPERTY_TYPE_BASICSUPPORT: u32 = 0x0000_0200;
/// `KSPROPERTY_TYPE_RELATIONS`.
pub const KSPROPERTY_TYPE_RELATIONS: u32 = 0x0000_0400;
/// `KSPROPERTY_TYPE_SERIALIZESET`.
pub const KSPROPERTY_TYPE_SERIALIZESET: u32 = 0x0000_0800;
/// `KSPROPERTY_TYPE_DEFAULTVALUES`.
pub const KSPROPERTY_TYPE_DEFAULTVALUES: u32 = 0x0001_0000;
/// `KSPROPERTY_TYPE_TOPOLOGY`: a KSP_NODE follows (node id).
pub const KSPROPERTY_TYPE_TOPOLOGY: u32 = 0x1000_0000;

/// `KSMETHOD_TYPE_NONE`.
pub const KSMETHOD_TYPE_NONE: u32 = 0x0000_0000;
/// `KSMETHOD_TYPE_READ` (= `KSMETHOD_TYPE_SEND`).
pub const KSMETHOD_TYPE_READ: u32 = 0x0000_0001;
/// `KSMETHOD_TYPE_WRITE`.
pub const KSMETHOD_TYPE_WRITE: u32 = 0x0000_0002;
/// `KSMETHOD_TYPE_MODIFY`.
pub const KSMETHOD_TYPE_MODIFY: u32 = 0x0000_0003;
/// `KSMETHOD_TYPE_SOURCE`.
pub const KSMETHOD_TYPE_SOURCE: u32 = 0x0000_0004;
/// `KSMETHOD_TYPE_SETSUPPORT`.
pub const KSMETHOD_TYPE_SETSUPPORT: u32 = 0x0000_0100;
/// `KSMETHOD_TYPE_BASICSUPPORT`.
pub const KSMETHOD_TYPE_BASICSUPPORT: u32 = 0x0000_0200;

/// `KSEVENT_TYPE_ENABLE`.
pub const KSEVENT_TYPE_ENABLE: u32 = 0x0000_0001;
/// `KSEVENT_TYPE_ONESHOT`.
pub const KSEVENT_TYPE_ONESHOT: u32 = 0x0000_0002;
/// `KSEVENT_TYPE_ENABLEBUFFERED`.
pub const KSEVENT_TYPE_ENABLEBUFFERED: u32 = 0x0000_0004;
/// `KSEVENT_TYPE_SETSUPPORT`.
pub const KSEVENT_TYPE_SETSUPPORT: u32 = 0x0000_0100;
/// `KSEVENT_TYPE_BASICSUPPORT`.
pub const KSEVENT_TYPE_BASICSUPPORT: u32 = 0x0000_0200;
/// `KSEVENT_TYPE_QUERYBUFFER`.
pub const KSEVENT_TYPE_QUERYBUFFER: u32 = 0x0000_0400;

/// `KSEVENTF_EVENT_HANDLE`: signal an event handle.
pub const KSEVENTF_EVENT_HANDLE: u32 = 0x0000_0001;
/// `KSEVENTF_SEMAPHORE_HANDLE`.
pub const KSEVENTF_SEMAPHORE_HANDLE: u32 = 0x0000_0002;
/// `KSEVENTF_EVENT_OBJECT`: signal a kernel KEVENT (kernel-mode clients).
pub const KSEVENTF_EVENT_OBJECT: u32 = 0x0000_0004;
/// `KSEVENTF_SEMAPHORE_OBJECT`.
pub const KSEVENTF_SEMAPHORE_OBJECT: u32 = 0x0000_0008;
/// `KSEVENTF_DPC`.
pub const KSEVENTF_DPC: u32 = 0x0000_0010;
/// `KSEVENTF_WORKITEM`.
pub const KSEVENTF_WORKITEM: u32 = 0x0000_0020;
/// `KSEVENTF_KSWORKITEM`.
pub const KSEVENTF_KSWORKITEM: u32 = 0x0000_0080;

/// `KSEVENTDATA` (32 bytes on x64): how to notify; the union's words kept raw.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct KSEVENTDATA {
    /// `NotificationType`: one `KSEVENTF_*`.
    pub NotificationType: u32,
    /// Padding before the pointer-aligned union.
    pub _pad: u32,
    /// The union: `EventHandle.Event` / `EventObject.Event` / `Dpc.Dpc` ... (a HANDLE or pointer).
    pub Object: u64,
    /// `Reserved` / `Increment` / `ReferenceCount` / `Adjustment`: the union's second word.
    pub Extra: u64,
    /// The union's third word.
    pub Reserved: u64,
}

/// `KSPROPERTY_DESCRIPTION`: the long answer to a BASICSUPPORT query (40 bytes).
#[repr(C, align(8))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct KSPROPERTY_DESCRIPTION {
    /// `AccessFlags`: `KSPROPERTY_TYPE_GET` / `SET` / `BASICSUPPORT`.
    pub AccessFlags: u32,
    /// `DescriptionSize`: the size of the whole description.
    pub DescriptionSize: u32,
    /// `PropTypeSet`: the type of the value (KSPROPTYPESETID_General, VT_*).
    pub PropTypeSet: KSIDENTIFIER,
    /// `MembersListCount`.
    pub MembersListCount: u32,
    /// `Reserved`.
    pub Reserved: u32,
}

/// {97E99BA0-BDEA-11CF-A5D6-28DB04C10000}: `KSPROPTYPESETID_General`.
pub const KSPROPTYPESETID_General: GUID = GUID::from_u128(0x97E99BA0_BDEA_11CF_A5D6_28DB04C10000);
/// `VT_EMPTY`: the VARTYPE of a structure-valued property.
pub const VT_EMPTY: u32 = 0;
/// `VT_I4`: a `LONG` value.
pub const VT_I4: u32 = 3;
/// `VT_UI4`: a `ULONG` value.
pub const VT_UI4: u32 = 19;
/// `VT_LPSTR`: a NUL-terminated ANSI string.
pub const VT_LPSTR: u32 = 30;

/// `KSPROPERTY_MEMBER_RANGES`: the members are `KSPROPERTY_BOUNDS_LONG` ranges.
pub const KSPROPERTY_MEMBER_RANGES: u32 = 0x0000_0001;
/// `KSPROPERTY_MEMBER_STEPPEDRANGES`: the members are `KSPROPERTY_STEPPING_LONG` ranges.
pub const KSPROPERTY_MEMBER_STEPPEDRANGES: u32 = 0x0000_0002;
/// `KSPROPERTY_MEMBER_VALUES`: each member is one value.
pub const KSPROPERTY_MEMBER_VALUES: u32 = 0x0000_0003;
/// `KSPROPERTY_MEMBER_FLAG_DEFAULT`: the members list holds the default value.
pub const KSPROPERTY_MEMBER_FLAG_DEFAULT: u32 = 0x0000_0001;

/// `KSPROPERTY_MEMBERSHEADER` (16 bytes): what one members list holds; in a BASICSUPPORT answer
/// it is followed by `MembersCount` members of `MembersSize` bytes.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KSPROPERTY_MEMBERSHEADER {
    /// `MembersFlags`: `KSPROPERTY_MEMBER_RANGES` / `STEPPEDRANGES` / `VALUES`.
    pub MembersFlags: u32,
    /// `MembersSize`: bytes of one member.
    pub MembersSize: u32,
    /// `MembersCount`.
    pub MembersCount: u32,
    /// `Flags`: `KSPROPERTY_MEMBER_FLAG_*`.
    pub Flags: u32,
}

/// `KSPROPERTY_STEPPING_LONG` (16 bytes): a stepped range of a `LONG` (or, read as unsigned, a
/// `ULONG`) value; the bounds are the `KSPROPERTY_BOUNDS_LONG` union's signed view.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KSPROPERTY_STEPPING_LONG {
    /// `SteppingDelta`: the smallest step between two valid values.
    pub SteppingDelta: u32,
    /// `Reserved`.
    pub Reserved: u32,
    /// `Bounds.SignedMinimum` (`Bounds.UnsignedMinimum` read as `u32`).
    pub SignedMinimum: i32,
    /// `Bounds.SignedMaximum` (`Bounds.UnsignedMaximum` read as `u32`).
    pub SignedMaximum: i32,
}

/// `KSPROPERTY_MEMBERSLIST` (24 bytes): one members list of an item's `KSPROPERTY_VALUES`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSPROPERTY_MEMBERSLIST {
    /// `MembersHeader`.
    pub MembersHeader: KSPROPERTY_MEMBERSHEADER,
    /// `Members`: `MembersCount` members of `MembersSize` bytes.
    pub Members: *const c_void,
}

/// `KSPROPERTY_VALUES` (40 bytes): an item's value type and its members lists (ranges, default),
/// from which ks.sys answers BASICSUPPORT (`KSPROPERTY_ITEM.Values`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSPROPERTY_VALUES {
    /// `PropTypeSet`: `KSPROPTYPESETID_General` and a `VT_*` id.
    pub PropTypeSet: KSIDENTIFIER,
    /// `MembersListCount`.
    pub MembersListCount: u32,
    /// `MembersList`.
    pub MembersList: *const KSPROPERTY_MEMBERSLIST,
}

// --- Allocator framing ---

/// `KSALLOCATOR_REQUIREMENTF_INPLACE_MODIFIER`.
pub const KSALLOCATOR_REQUIREMENTF_INPLACE_MODIFIER: u32 = 0x0000_0001;
/// `KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY`.
pub const KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY: u32 = 0x0000_0002;
/// `KSALLOCATOR_REQUIREMENTF_FRAME_INTEGRITY`.
pub const KSALLOCATOR_REQUIREMENTF_FRAME_INTEGRITY: u32 = 0x0000_0004;
/// `KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE`.
pub const KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE: u32 = 0x0000_0008;
/// `KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY`: rejected on create.
pub const KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY: u32 = 0x8000_0000;
/// `KSALLOCATOR_OPTIONF_COMPATIBLE`.
pub const KSALLOCATOR_OPTIONF_COMPATIBLE: u32 = 0x0000_0001;
/// `KSALLOCATOR_OPTIONF_SYSTEM_MEMORY`.
pub const KSALLOCATOR_OPTIONF_SYSTEM_MEMORY: u32 = 0x0000_0002;
/// `KSALLOCATOR_OPTIONF_VALID`.
pub const KSALLOCATOR_OPTIONF_VALID: u32 = 0x0000_0003;

/// `KSALLOCATOR_FLAG_PARTIAL_READ_SUPPORT`.
pub const KSALLOCATOR_FLAG_PARTIAL_READ_SUPPORT: u32 = 0x0000_0010;
/// `KSALLOCATOR_FLAG_DEVICE_SPECIFIC`.
pub const KSALLOCATOR_FLAG_DEVICE_SPECIFIC: u32 = 0x0000_0020;
/// `KSALLOCATOR_FLAG_CAN_ALLOCATE`.
pub const KSALLOCATOR_FLAG_CAN_ALLOCATE: u32 = 0x0000_0040;
/// `KSALLOCATOR_FLAG_INSIST_ON_FRAMESIZE_RATIO`.
pub const KSALLOCATOR_FLAG_INSIST_ON_FRAMESIZE_RATIO: u32 = 0x0000_0080;
/// `KSALLOCATOR_FLAG_NO_FRAME_INTEGRITY`.
pub const KSALLOCATOR_FLAG_NO_FRAME_INTEGRITY: u32 = 0x0000_0100;
/// `KSALLOCATOR_FLAG_MULTIPLE_OUTPUT`.
pub const KSALLOCATOR_FLAG_MULTIPLE_OUTPUT: u32 = 0x0000_0200;
/// `KSALLOCATOR_FLAG_CYCLE`.
pub const KSALLOCATOR_FLAG_CYCLE: u32 = 0x0000_0400;
/// `KSALLOCATOR_FLAG_ALLOCATOR_EXISTS`.
pub const KSALLOCATOR_FLAG_ALLOCATOR_EXISTS: u32 = 0x0000_0800;
/// `KSALLOCATOR_FLAG_INDEPENDENT_RANGES`.
pub const KSALLOCATOR_FLAG_INDEPENDENT_RANGES: u32 = 0x0000_1000;
/// `KSALLOCATOR_FLAG_ATTENTION_STEPPING`.
pub const KSALLOCATOR_FLAG_ATTENTION_STEPPING: u32 = 0x0000_2000;

/// `FILE_*_ALIGNMENT` masks for `FileAlignment`.
pub mod file_alignment {
    /// `FILE_BYTE_ALIGNMENT`.
    pub const BYTE: u32 = 0x0000_0000;
    /// `FILE_WORD_ALIGNMENT`.
    pub const WORD: u32 = 0x0000_0001;
    /// `FILE_LONG_ALIGNMENT`.
    pub const LONG: u32 = 0x0000_0003;
    /// `FILE_QUAD_ALIGNMENT`.
    pub const QUAD: u32 = 0x0000_0007;
    /// `FILE_OCTA_ALIGNMENT`.
    pub const OCTA: u32 = 0x0000_000F;
    /// `FILE_32_BYTE_ALIGNMENT`.
    pub const B32: u32 = 0x0000_001F;
    /// `FILE_64_BYTE_ALIGNMENT`.
    pub const B64: u32 = 0x0000_003F;
    /// `FILE_128_BYTE_ALIGNMENT`.
    pub const B128: u32 = 0x0000_007F;
    /// `FILE_256_BYTE_ALIGNMENT`.
    pub const B256: u32 = 0x0000_00FF;
    /// `FILE_512_BYTE_ALIGNMENT`.
    pub const B512: u32 = 0x0000_01FF;
}

/// `KSALLOCATOR_FRAMING` (24 bytes): what a client asks of an allocator.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KSALLOCATOR_FRAMING {
    /// `OptionsFlags` / `RequirementsFlags` (a union of two ULONGs).
    pub Flags: u32,
    /// `PoolType`: a `POOL_TYPE`.
    pub PoolType: u32,
    /// `Frames`: the maximum number of outstanding frames.
    pub Frames: u32,
    /// `FrameSize`: bytes per frame.
    pub FrameSize: u32,
    /// `FileAlignment` (a `FILE_*_ALIGNMENT` mask) / `FramePitch`.
    pub FileAlignment: u32,
    /// `Reserved`.
    pub Reserved: u32,
}

/// `KS_COMPRESSION` (12 bytes).
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KS_COMPRESSION {
    /// `RatioNumerator`.
    pub RatioNumerator: u32,
    /// `RatioDenominator`.
    pub RatioDenominator: u32,
    /// `RatioConstantMargin`.
    pub RatioConstantMargin: u32,
}

/// `KS_FRAMING_RANGE` (12 bytes).
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KS_FRAMING_RANGE {
    /// `MinFrameSize`.
    pub MinFrameSize: u32,
    /// `MaxFrameSize`.
    pub MaxFrameSize: u32,
    /// `Stepping`.
    pub Stepping: u32,
}

/// `KS_FRAMING_RANGE_WEIGHTED` (20 bytes).
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KS_FRAMING_RANGE_WEIGHTED {
    /// `Range`.
    pub Range: KS_FRAMING_RANGE,
    /// `InPlaceWeight`.
    pub InPlaceWeight: u32,
    /// `NotInPlaceWeight`.
    pub NotInPlaceWeight: u32,
}

/// `KS_FRAMING_ITEM` (88 bytes).
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KS_FRAMING_ITEM {
    /// `MemoryType`: `KSMEMORY_TYPE_*`.
    pub MemoryType: GUID,
    /// `BusType`.
    pub BusType: GUID,
    /// `MemoryFlags`.
    pub MemoryFlags: u32,
    /// `BusFlags`.
    pub BusFlags: u32,
    /// `Flags`: `KSALLOCATOR_REQUIREMENTF_*` | `KSALLOCATOR_FLAG_*`.
    pub Flags: u32,
    /// `Frames`.
    pub Frames: u32,
    /// `FileAlignment` / `FramePitch`.
    pub FileAlignment: u32,
    /// `MemoryTypeWeight`.
    pub MemoryTypeWeight: u32,
    /// `PhysicalRange`.
    pub PhysicalRange: KS_FRAMING_RANGE,
    /// `FramingRange`.
    pub FramingRange: KS_FRAMING_RANGE_WEIGHTED,
}

/// `KSALLOCATOR_FRAMING_EX` with its one inline item (112 bytes); `CountItems` may announce more
/// items following it in the same buffer.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KSALLOCATOR_FRAMING_EX {
    /// `CountItems`.
    pub CountItems: u32,
    /// `PinFlags`.
    pub PinFlags: u32,
    /// `OutputCompression`.
    pub OutputCompression: KS_COMPRESSION,
    /// `PinWeight`.
    pub PinWeight: u32,
    /// `FramingItem[1]`.
    pub FramingItem: [KS_FRAMING_ITEM; 1],
}

/// `KSSTREAMALLOCATOR_STATUS` (32 bytes): KSPROPERTY_STREAMALLOCATOR_STATUS's value.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KSSTREAMALLOCATOR_STATUS {
    /// `Framing`: the framing the allocator was created with.
    pub Framing: KSALLOCATOR_FRAMING,
    /// `AllocatedFrames`: frames currently handed out.
    pub AllocatedFrames: u32,
    /// `Reserved`.
    pub Reserved: u32,
}

/// `PFNALLOCATOR_ALLOCATEFRAME`: `NTSTATUS (*)(PFILE_OBJECT, PVOID *Frame)`.
#[crate::kernel_abi]
pub type PFNALLOCATOR_ALLOCATEFRAME =
    Option<unsafe extern "system" fn(*mut FILE_OBJECT, *mut *mut c_void) -> NTSTATUS>;
/// `PFNALLOCATOR_FREEFRAME`: `VOID (*)(PFILE_OBJECT, PVOID Frame)`.
#[crate::kernel_abi]
pub type PFNALLOCATOR_FREEFRAME = Option<unsafe extern "system" fn(*mut FILE_OBJECT, *mut c_void)>;

/// `KSSTREAMALLOCATOR_FUNCTIONTABLE` (16 bytes): direct calls for kernel-mode clients.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSSTREAMALLOCATOR_FUNCTIONTABLE {
    /// `AllocateFrame`.
    pub AllocateFrame: PFNALLOCATOR_ALLOCATEFRAME,
    /// `FreeFrame`.
    pub FreeFrame: PFNALLOCATOR_FREEFRAME,
}

/// `KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE`.
pub const KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE: u32 = 0;
/// `KSPROPERTY_STREAMALLOCATOR_STATUS`.
pub const KSPROPERTY_STREAMALLOCATOR_STATUS: u32 = 1;
/// `KSMETHOD_STREAMALLOCATOR_ALLOC`.
pub const KSMETHOD_STREAMALLOCATOR_ALLOC: u32 = 0;
/// `KSMETHOD_STREAMALLOCATOR_FREE`.
pub const KSMETHOD_STREAMALLOCATOR_FREE: u32 = 1;
/// `KSEVENT_STREAMALLOCATOR_INTERNAL_FREEFRAME`.
pub const KSEVENT_STREAMALLOCATOR_INTERNAL_FREEFRAME: u32 = 0;
/// `KSEVENT_STREAMALLOCATOR_FREEFRAME`.
pub const KSEVENT_STREAMALLOCATOR_FREEFRAME: u32 = 1;

// --- External allocator callbacks (KsCreateDefaultAllocatorEx) ---

/// `PFNKSDEFAULTALLOCATE`: `PVOID (*)(PVOID Context)`.
#[crate::kernel_abi]
pub type PFNKSDEFAULTALLOCATE = Option<unsafe extern "system" fn(*mut c_void) -> *mut c_void>;
/// `PFNKSDEFAULTFREE`: `VOID (*)(PVOID Context, PVOID Buffer)`.
#[crate::kernel_abi]
pub type PFNKSDEFAULTFREE = Option<unsafe extern "system" fn(*mut c_void, *mut c_void)>;
/// `PFNKSINITIALIZEALLOCATOR`:
/// `NTSTATUS (*)(PVOID InitialContext, PKSALLOCATOR_FRAMING, PVOID *Context)`.
#[crate::kernel_abi]
pub type PFNKSINITIALIZEALLOCATOR = Option<
    unsafe extern "system" fn(*mut c_void, *mut KSALLOCATOR_FRAMING, *mut *mut c_void) -> NTSTATUS,
>;
/// `PFNKSDELETEALLOCATOR`: `VOID (*)(PVOID Context)`.
#[crate::kernel_abi]
pub type PFNKSDELETEALLOCATOR = Option<unsafe extern "system" fn(*mut c_void)>;

/// The C signature of `KsCreateDefaultAllocatorEx`.
#[crate::kernel_abi]
pub type PFNKSCREATEDEFAULTALLOCATOREX = unsafe extern "system" fn(
    *mut IRP,
    *mut c_void,
    PFNKSDEFAULTALLOCATE,
    PFNKSDEFAULTFREE,
    PFNKSINITIALIZEALLOCATOR,
    PFNKSDELETEALLOCATOR,
) -> NTSTATUS;

// --- Objects and dispatch ---

/// `KSOBJECT_CREATE_ITEM` (48 bytes): a named child object a file object can create.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSOBJECT_CREATE_ITEM {
    /// `Create`: the IRP_MJ_CREATE handler for this name.
    pub Create: PDRIVER_DISPATCH,
    /// `Context`.
    pub Context: *mut c_void,
    /// `ObjectClass`: the name, e.g. `KSSTRING_Allocator`.
    pub ObjectClass: UNICODE_STRING,
    /// `SecurityDescriptor`.
    pub SecurityDescriptor: *mut c_void,
    /// `Flags` (`KSCREATE_ITEM_*`).
    pub Flags: u32,
}

/// `PFAST_IO_DEVICE_CONTROL` and friends: opaque fast-I/O entry points (avcam provides none).
#[crate::kernel_abi]
pub type PFAST_IO_ROUTINE = Option<unsafe extern "system" fn()>;

/// `KSDISPATCH_TABLE` (80 bytes): the IRP handlers of a KS object's file object.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSDISPATCH_TABLE {
    /// `DeviceIoControl`.
    pub DeviceIoControl: PDRIVER_DISPATCH,
    /// `Read`.
    pub Read: PDRIVER_DISPATCH,
    /// `Write`.
    pub Write: PDRIVER_DISPATCH,
    /// `Flush`.
    pub Flush: PDRIVER_DISPATCH,
    /// `Close`.
    pub Close: PDRIVER_DISPATCH,
    /// `QuerySecurity`.
    pub QuerySecurity: PDRIVER_DISPATCH,
    /// `SetSecurity`.
    pub SetSecurity: PDRIVER_DISPATCH,
    /// `FastDeviceIoControl`.
    pub FastDeviceIoControl: PFAST_IO_ROUTINE,
    /// `FastRead`.
    pub FastRead: PFAST_IO_ROUTINE,
    /// `FastWrite`.
    pub FastWrite: PFAST_IO_ROUTINE,
}

/// `KSCREATE_ITEM_SECURITYCHANGED`.
pub const KSCREATE_ITEM_SECURITYCHANGED: u32 = 0x0000_0001;
/// `KSCREATE_ITEM_WILDCARD`: the item matches any name.
pub const KSCREATE_ITEM_WILDCARD: u32 = 0x0000_0002;
/// `KSCREATE_ITEM_NOPARAMETERS`: the name must not carry parameters after the object class.
pub const KSCREATE_ITEM_NOPARAMETERS: u32 = 0x0000_0004;
/// `KSCREATE_ITEM_FREEONSTOP`.
pub const KSCREATE_ITEM_FREEONSTOP: u32 = 0x0000_0008;

/// `KSSTRING_Allocator`: the object class of the allocator's create item (UTF-16 on Windows).
pub const KSSTRING_Allocator: &str = "{642F5D00-4791-11D0-A5D6-28DB04C10000}";

/// `KSOBJECT_HEADER`: ks.sys's opaque per-file-object header (`typedef PVOID KSOBJECT_HEADER`).
/// The structure `FileObject->FsContext` points to must begin with one.
pub type KSOBJECT_HEADER = *mut c_void;

/// `KSCREATE_ITEM_IRP_STORAGE(Irp)` is `Irp->Tail.Overlay.DriverContext[0]`.
pub const KSCREATE_ITEM_IRP_STORAGE_INDEX: usize = 0;

/// Reads `KSCREATE_ITEM_IRP_STORAGE(irp)` from an IRP the caller holds.
pub fn create_item_irp_storage(irp: &IRP) -> *mut KSOBJECT_CREATE_ITEM {
    irp.Tail.DriverContext[KSCREATE_ITEM_IRP_STORAGE_INDEX].cast()
}

/// The opaque device pointer every dispatch routine receives.
pub type PDEVICE_OBJECT = *mut DEVICE_OBJECT;
