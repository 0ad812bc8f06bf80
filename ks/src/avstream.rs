//! The AVStream object model of ks.h: descriptors a minidriver hands to ks.sys, the dispatch and
//! automation tables ks.sys calls back through, and the public part of the objects (KSDEVICE,
//! KSFILTER, KSPIN, KSSTREAM_POINTER) ks.sys hands to the minidriver.
//!
//! Pointers to data formats and ranges are typed `*const c_void` here; the video layer casts them to
//! `video::KSDATAFORMAT` / `KS_DATARANGE_VIDEO` after checking their sizes.

use core::ffi::c_void;

use crate::guid::GUID;
use crate::ks::{KSALLOCATOR_FRAMING_EX, KSIDENTIFIER, PFNKSDEFAULTALLOCATE, PFNKSDEFAULTFREE};
use crate::ks::{PFNKSDELETEALLOCATOR, PFNKSINITIALIZEALLOCATOR};
use crate::nt::{DEVICE_OBJECT, IRP, KDPC, KTIMER};
use crate::status::NTSTATUS;

/// `KSSTATE`: a pin's streaming state.
pub type KSSTATE = u32;
/// `KSSTATE_STOP`.
pub const KSSTATE_STOP: KSSTATE = 0;
/// `KSSTATE_ACQUIRE`.
pub const KSSTATE_ACQUIRE: KSSTATE = 1;
/// `KSSTATE_PAUSE`.
pub const KSSTATE_PAUSE: KSSTATE = 2;
/// `KSSTATE_RUN`.
pub const KSSTATE_RUN: KSSTATE = 3;

/// `KSRESET`: `KSRESET_BEGIN` (0) or `KSRESET_END` (1).
pub type KSRESET = u32;
/// `KSPIN_DATAFLOW`: `KSPIN_DATAFLOW_IN` (1) or `KSPIN_DATAFLOW_OUT` (2).
pub type KSPIN_DATAFLOW = u32;
/// `KSPIN_DATAFLOW_IN`.
pub const KSPIN_DATAFLOW_IN: KSPIN_DATAFLOW = 1;
/// `KSPIN_DATAFLOW_OUT`: a capture pin.
pub const KSPIN_DATAFLOW_OUT: KSPIN_DATAFLOW = 2;
/// `KSPIN_COMMUNICATION`.
pub type KSPIN_COMMUNICATION = u32;
/// `KSPIN_COMMUNICATION_NONE`.
pub const KSPIN_COMMUNICATION_NONE: KSPIN_COMMUNICATION = 0;
/// `KSPIN_COMMUNICATION_SINK`: the pin can be connected to (the usual AVStream pin).
pub const KSPIN_COMMUNICATION_SINK: KSPIN_COMMUNICATION = 1;
/// `KSPIN_COMMUNICATION_SOURCE`.
pub const KSPIN_COMMUNICATION_SOURCE: KSPIN_COMMUNICATION = 2;
/// `KSPIN_COMMUNICATION_BOTH`.
pub const KSPIN_COMMUNICATION_BOTH: KSPIN_COMMUNICATION = 3;
/// `KSPIN_COMMUNICATION_BRIDGE`.
pub const KSPIN_COMMUNICATION_BRIDGE: KSPIN_COMMUNICATION = 4;

/// `KSPIN_INTERFACE` = `KSIDENTIFIER`.
pub type KSPIN_INTERFACE = KSIDENTIFIER;
/// `KSPIN_MEDIUM` = `KSIDENTIFIER`.
pub type KSPIN_MEDIUM = KSIDENTIFIER;

/// `KSPRIORITY` (8 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KSPRIORITY {
    /// `PriorityClass`.
    pub PriorityClass: u32,
    /// `PrioritySubClass`.
    pub PrioritySubClass: u32,
}

// --- Handlers ---

/// `PFNKSHANDLER`: `NTSTATUS (*)(PIRP Irp, PKSIDENTIFIER Request, PVOID Data)`.
#[crate::kernel_abi]
pub type PFNKSHANDLER =
    Option<unsafe extern "system" fn(*mut IRP, *mut KSIDENTIFIER, *mut c_void) -> NTSTATUS>;
/// `PFNKSINTERSECTHANDLEREX`: `NTSTATUS (*)(PVOID Context, PIRP, PKSP_PIN, PKSDATARANGE DataRange,
/// PKSDATARANGE MatchingDataRange, ULONG DataBufferSize, PVOID Data, PULONG DataSize)`.
#[crate::kernel_abi]
pub type PFNKSINTERSECTHANDLEREX = Option<
    unsafe extern "system" fn(
        *mut c_void,
        *mut IRP,
        *mut c_void,
        *mut c_void,
        *mut c_void,
        u32,
        *mut c_void,
        *mut u32,
    ) -> NTSTATUS,
>;
/// `PFNKSDEVICECREATE` / `PFNKSDEVICE`: `NTSTATUS (*)(PKSDEVICE)`.
#[crate::kernel_abi]
pub type PFNKSDEVICE = Option<unsafe extern "system" fn(*mut KSDEVICE) -> NTSTATUS>;
/// `PFNKSDEVICEPNPSTART`: `NTSTATUS (*)(PKSDEVICE, PIRP, PCM_RESOURCE_LIST, PCM_RESOURCE_LIST)`.
#[crate::kernel_abi]
pub type PFNKSDEVICEPNPSTART = Option<
    unsafe extern "system" fn(*mut KSDEVICE, *mut IRP, *mut c_void, *mut c_void) -> NTSTATUS,
>;
/// `PFNKSDEVICEIRP`: `NTSTATUS (*)(PKSDEVICE, PIRP)`.
#[crate::kernel_abi]
pub type PFNKSDEVICEIRP = Option<unsafe extern "system" fn(*mut KSDEVICE, *mut IRP) -> NTSTATUS>;
/// `PFNKSDEVICEIRPVOID`: `void (*)(PKSDEVICE, PIRP)`.
#[crate::kernel_abi]
pub type PFNKSDEVICEIRPVOID = Option<unsafe extern "system" fn(*mut KSDEVICE, *mut IRP)>;
/// Device dispatch entries avcam leaves NULL (capabilities, power, interface queries).
#[crate::kernel_abi]
pub type PFNKSDEVICE_OTHER = Option<unsafe extern "system" fn()>;
/// `PFNKSFILTERIRP`: `NTSTATUS (*)(PKSFILTER, PIRP)`.
#[crate::kernel_abi]
pub type PFNKSFILTERIRP = Option<unsafe extern "system" fn(*mut KSFILTER, *mut IRP) -> NTSTATUS>;
/// `PFNKSFILTERPROCESS`: `NTSTATUS (*)(PKSFILTER, PKSPROCESSPIN_INDEXENTRY)`.
#[crate::kernel_abi]
pub type PFNKSFILTERPROCESS =
    Option<unsafe extern "system" fn(*mut KSFILTER, *mut c_void) -> NTSTATUS>;
/// `PFNKSFILTERVOID`: `NTSTATUS (*)(PKSFILTER)`.
#[crate::kernel_abi]
pub type PFNKSFILTERVOID = Option<unsafe extern "system" fn(*mut KSFILTER) -> NTSTATUS>;
/// `PFNKSPINIRP`: `NTSTATUS (*)(PKSPIN, PIRP)`.
#[crate::kernel_abi]
pub type PFNKSPINIRP = Option<unsafe extern "system" fn(*mut KSPIN, *mut IRP) -> NTSTATUS>;
/// `PFNKSPIN`: `NTSTATUS (*)(PKSPIN)`.
#[crate::kernel_abi]
pub type PFNKSPIN = Option<unsafe extern "system" fn(*mut KSPIN) -> NTSTATUS>;
/// `PFNKSPINVOID`: `void (*)(PKSPIN)`.
#[crate::kernel_abi]
pub type PFNKSPINVOID = Option<unsafe extern "system" fn(*mut KSPIN)>;
/// `PFNKSPINSETDATAFORMAT`: `NTSTATUS (*)(PKSPIN, PKSDATAFORMAT OldFormat, PKSMULTIPLE_ITEM
/// OldAttributeList, const KSDATARANGE *DataRange, const KSATTRIBUTE_LIST *AttributeRange)`.
#[crate::kernel_abi]
pub type PFNKSPINSETDATAFORMAT = Option<
    unsafe extern "system" fn(
        *mut KSPIN,
        *mut c_void,
        *mut c_void,
        *const c_void,
        *const c_void,
    ) -> NTSTATUS,
>;
/// `PFNKSPINSETDEVICESTATE`: `NTSTATUS (*)(PKSPIN, KSSTATE ToState, KSSTATE FromState)`.
#[crate::kernel_abi]
pub type PFNKSPINSETDEVICESTATE =
    Option<unsafe extern "system" fn(*mut KSPIN, KSSTATE, KSSTATE) -> NTSTATUS>;
/// `PFNKSPININITIALIZEALLOCATOR`: `NTSTATUS (*)(PKSPIN, PKSALLOCATOR_FRAMING, PVOID *Context)`.
#[crate::kernel_abi]
pub type PFNKSPININITIALIZEALLOCATOR = Option<
    unsafe extern "system" fn(
        *mut KSPIN,
        *mut crate::ks::KSALLOCATOR_FRAMING,
        *mut *mut c_void,
    ) -> NTSTATUS,
>;

// --- Automation tables ---

/// `KSPROPERTY_ITEM` (72 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSPROPERTY_ITEM {
    /// `PropertyId`.
    pub PropertyId: u32,
    /// `GetPropertyHandler` (a union with `GetSupported`).
    pub GetPropertyHandler: PFNKSHANDLER,
    /// `MinProperty`: the smallest request (KSPROPERTY and what follows).
    pub MinProperty: u32,
    /// `MinData`: the smallest value buffer.
    pub MinData: u32,
    /// `SetPropertyHandler` (a union with `SetSupported`).
    pub SetPropertyHandler: PFNKSHANDLER,
    /// `Values`: the value type, ranges and default ks.sys answers BASICSUPPORT from (NULL:
    /// none).
    pub Values: *const crate::ks::KSPROPERTY_VALUES,
    /// `RelationsCount`.
    pub RelationsCount: u32,
    /// `Relations`.
    pub Relations: *const KSIDENTIFIER,
    /// `SupportHandler`.
    pub SupportHandler: PFNKSHANDLER,
    /// `SerializedSize`.
    pub SerializedSize: u32,
}

/// `KSPROPERTY_SET` (40 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSPROPERTY_SET {
    /// `Set`.
    pub Set: *const GUID,
    /// `PropertiesCount`.
    pub PropertiesCount: u32,
    /// `PropertyItem`.
    pub PropertyItem: *const KSPROPERTY_ITEM,
    /// `FastIoCount`.
    pub FastIoCount: u32,
    /// `FastIoTable`.
    pub FastIoTable: *const c_void,
}

/// `KSMETHOD_ITEM` (40 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSMETHOD_ITEM {
    /// `MethodId`.
    pub MethodId: u32,
    /// `MethodHandler`.
    pub MethodHandler: PFNKSHANDLER,
    /// `MinMethod`.
    pub MinMethod: u32,
    /// `MinData`.
    pub MinData: u32,
    /// `SupportHandler`.
    pub SupportHandler: PFNKSHANDLER,
    /// `Flags` (`KSMETHOD_TYPE_*`).
    pub Flags: u32,
}

/// `KSMETHOD_SET` (40 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSMETHOD_SET {
    /// `Set`.
    pub Set: *const GUID,
    /// `MethodsCount`.
    pub MethodsCount: u32,
    /// `MethodItem`.
    pub MethodItem: *const KSMETHOD_ITEM,
    /// `FastIoCount`.
    pub FastIoCount: u32,
    /// `FastIoTable`.
    pub FastIoTable: *const c_void,
}

/// `KSEVENT_ITEM` (40 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[crate::kernel_abi]
pub struct KSEVENT_ITEM {
    /// `EventId`.
    pub EventId: u32,
    /// `DataInput`.
    pub DataInput: u32,
    /// `ExtraEntryData`.
    pub ExtraEntryData: u32,
    /// `AddHandler`.
    pub AddHandler: Option<unsafe extern "system" fn()>,
    /// `RemoveHandler`.
    pub RemoveHandler: Option<unsafe extern "system" fn()>,
    /// `SupportHandler`.
    pub SupportHandler: PFNKSHANDLER,
}

/// `KSEVENT_SET` (24 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSEVENT_SET {
    /// `Set`.
    pub Set: *const GUID,
    /// `EventsCount`.
    pub EventsCount: u32,
    /// `EventItem`.
    pub EventItem: *const KSEVENT_ITEM,
}

/// `KSAUTOMATION_TABLE` (48 bytes on x64).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSAUTOMATION_TABLE {
    /// `PropertySetsCount`.
    pub PropertySetsCount: u32,
    /// `PropertyItemSize` (`sizeof(KSPROPERTY_ITEM)`).
    pub PropertyItemSize: u32,
    /// `PropertySets`.
    pub PropertySets: *const KSPROPERTY_SET,
    /// `MethodSetsCount`.
    pub MethodSetsCount: u32,
    /// `MethodItemSize`.
    pub MethodItemSize: u32,
    /// `MethodSets`.
    pub MethodSets: *const KSMETHOD_SET,
    /// `EventSetsCount`.
    pub EventSetsCount: u32,
    /// `EventItemSize`.
    pub EventItemSize: u32,
    /// `EventSets`.
    pub EventSets: *const KSEVENT_SET,
}

// --- Dispatch tables ---

/// `KSDEVICE_DISPATCH` (112 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSDEVICE_DISPATCH {
    /// `Add`.
    pub Add: PFNKSDEVICE,
    /// `Start`.
    pub Start: PFNKSDEVICEPNPSTART,
    /// `PostStart`.
    pub PostStart: PFNKSDEVICE,
    /// `QueryStop`.
    pub QueryStop: PFNKSDEVICEIRP,
    /// `CancelStop`.
    pub CancelStop: PFNKSDEVICEIRPVOID,
    /// `Stop`.
    pub Stop: PFNKSDEVICEIRPVOID,
    /// `QueryRemove`.
    pub QueryRemove: PFNKSDEVICEIRP,
    /// `CancelRemove`.
    pub CancelRemove: PFNKSDEVICEIRPVOID,
    /// `Remove`.
    pub Remove: PFNKSDEVICEIRPVOID,
    /// `QueryCapabilities`.
    pub QueryCapabilities: PFNKSDEVICE_OTHER,
    /// `SurpriseRemoval`.
    pub SurpriseRemoval: PFNKSDEVICEIRPVOID,
    /// `QueryPower`.
    pub QueryPower: PFNKSDEVICE_OTHER,
    /// `SetPower`.
    pub SetPower: PFNKSDEVICE_OTHER,
    /// `QueryInterface`.
    pub QueryInterface: PFNKSDEVICEIRP,
}

/// `KSFILTER_DISPATCH` (32 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSFILTER_DISPATCH {
    /// `Create`.
    pub Create: PFNKSFILTERIRP,
    /// `Close`.
    pub Close: PFNKSFILTERIRP,
    /// `Process` (filter-centric processing; avcam is pin-centric and leaves it NULL).
    pub Process: PFNKSFILTERPROCESS,
    /// `Reset`.
    pub Reset: PFNKSFILTERVOID,
}

/// `KSCLOCK_DISPATCH` (32 bytes), opaque entries (avcam provides no clock).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[crate::kernel_abi]
pub struct KSCLOCK_DISPATCH {
    /// `SetTimer`, `CancelTimer`, `CorrelatedTime`, `Resolution`.
    pub Entries: [Option<unsafe extern "system" fn()>; 4],
}

/// `KSALLOCATOR_DISPATCH` (32 bytes): exactly the external-allocator arguments of
/// `KsCreateDefaultAllocatorEx`, with the pin as InitializeAllocator's first argument.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSALLOCATOR_DISPATCH {
    /// `InitializeAllocator`.
    pub InitializeAllocator: PFNKSPININITIALIZEALLOCATOR,
    /// `DeleteAllocator`.
    pub DeleteAllocator: PFNKSDELETEALLOCATOR,
    /// `Allocate`.
    pub Allocate: PFNKSDEFAULTALLOCATE,
    /// `Free`.
    pub Free: PFNKSDEFAULTFREE,
}

/// Unused by the type system but kept for the C spelling: the `KsCreateDefaultAllocatorEx`
/// InitializeAllocator shape (`PVOID` first argument instead of `PKSPIN`).
pub type PFNKSINITIALIZEALLOCATOR_DEFAULT = PFNKSINITIALIZEALLOCATOR;

/// `KSPIN_DISPATCH` (80 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSPIN_DISPATCH {
    /// `Create`.
    pub Create: PFNKSPINIRP,
    /// `Close`.
    pub Close: PFNKSPINIRP,
    /// `Process`: called by ks.sys (or `KsPinAttemptProcessing`) when there is work.
    pub Process: PFNKSPIN,
    /// `Reset`.
    pub Reset: PFNKSPINVOID,
    /// `SetDataFormat`.
    pub SetDataFormat: PFNKSPINSETDATAFORMAT,
    /// `SetDeviceState`.
    pub SetDeviceState: PFNKSPINSETDEVICESTATE,
    /// `Connect`.
    pub Connect: PFNKSPIN,
    /// `Disconnect`.
    pub Disconnect: PFNKSPINVOID,
    /// `Clock`.
    pub Clock: *const KSCLOCK_DISPATCH,
    /// `Allocator`.
    pub Allocator: *const KSALLOCATOR_DISPATCH,
}

// --- Descriptors ---

/// `KSPIN_DESCRIPTOR` (88 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSPIN_DESCRIPTOR {
    /// `InterfacesCount`.
    pub InterfacesCount: u32,
    /// `Interfaces`.
    pub Interfaces: *const KSPIN_INTERFACE,
    /// `MediumsCount`.
    pub MediumsCount: u32,
    /// `Mediums`.
    pub Mediums: *const KSPIN_MEDIUM,
    /// `DataRangesCount`.
    pub DataRangesCount: u32,
    /// `DataRanges`: `const PKSDATARANGE *`.
    pub DataRanges: *const *const c_void,
    /// `DataFlow`.
    pub DataFlow: KSPIN_DATAFLOW,
    /// `Communication`.
    pub Communication: KSPIN_COMMUNICATION,
    /// `Category`: e.g. PINNAME_VIDEO_CAPTURE.
    pub Category: *const GUID,
    /// `Name`.
    pub Name: *const GUID,
    /// `ConstrainedDataRangesCount` (a union with LONGLONG Reserved).
    pub ConstrainedDataRangesCount: u32,
    /// `ConstrainedDataRanges`.
    pub ConstrainedDataRanges: *const *const c_void,
}

/// `KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY`.
pub const KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY: u32 = 0x0001_0000;
/// `KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING` (= `KSFILTER_FLAG_DISPATCH_LEVEL_PROCESSING`): Process may
/// run at DISPATCH_LEVEL.
pub const KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING: u32 = 0x0000_0001;
/// `KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING`.
pub const KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING: u32 = 0x0000_0010;
/// `KSPIN_FLAG_INITIATE_PROCESSING_ON_EVERY_ARRIVAL`: Process is attempted on every frame
/// arrival, not only when data arrives in an empty queue.
pub const KSPIN_FLAG_INITIATE_PROCESSING_ON_EVERY_ARRIVAL: u32 = 0x0000_0020;
/// `KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING`.
pub const KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING: u32 = 0x0000_0040;
/// `KSPIN_FLAG_ASYNCHRONOUS_PROCESSING`.
pub const KSPIN_FLAG_ASYNCHRONOUS_PROCESSING: u32 = 0x0000_0008;

/// `KSPIN_DESCRIPTOR_EX` (136 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSPIN_DESCRIPTOR_EX {
    /// `Dispatch`.
    pub Dispatch: *const KSPIN_DISPATCH,
    /// `AutomationTable`.
    pub AutomationTable: *const KSAUTOMATION_TABLE,
    /// `PinDescriptor`.
    pub PinDescriptor: KSPIN_DESCRIPTOR,
    /// `Flags` (`KSPIN_FLAG_*`).
    pub Flags: u32,
    /// `InstancesPossible`.
    pub InstancesPossible: u32,
    /// `InstancesNecessary`.
    pub InstancesNecessary: u32,
    /// `AllocatorFraming`.
    pub AllocatorFraming: *const KSALLOCATOR_FRAMING_EX,
    /// `IntersectHandler`.
    pub IntersectHandler: PFNKSINTERSECTHANDLEREX,
}

/// `KSFILTER_DESCRIPTOR_VERSION` (`(ULONG)-1`).
pub const KSFILTER_DESCRIPTOR_VERSION: u32 = u32::MAX;
/// `KSDEVICE_DESCRIPTOR_VERSION`.
pub const KSDEVICE_DESCRIPTOR_VERSION: u32 = 0x100;

/// `KSFILTER_DESCRIPTOR` (104 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSFILTER_DESCRIPTOR {
    /// `Dispatch`.
    pub Dispatch: *const KSFILTER_DISPATCH,
    /// `AutomationTable`.
    pub AutomationTable: *const KSAUTOMATION_TABLE,
    /// `Version` (`KSFILTER_DESCRIPTOR_VERSION`).
    pub Version: u32,
    /// `Flags`.
    pub Flags: u32,
    /// `ReferenceGuid`: the reference string of the device interfaces, as a GUID.
    pub ReferenceGuid: *const GUID,
    /// `PinDescriptorsCount`.
    pub PinDescriptorsCount: u32,
    /// `PinDescriptorSize` (`sizeof(KSPIN_DESCRIPTOR_EX)`).
    pub PinDescriptorSize: u32,
    /// `PinDescriptors`.
    pub PinDescriptors: *const KSPIN_DESCRIPTOR_EX,
    /// `CategoriesCount`.
    pub CategoriesCount: u32,
    /// `Categories`: the device interface classes (KSCATEGORY_*).
    pub Categories: *const GUID,
    /// `NodeDescriptorsCount`.
    pub NodeDescriptorsCount: u32,
    /// `NodeDescriptorSize`.
    pub NodeDescriptorSize: u32,
    /// `NodeDescriptors`.
    pub NodeDescriptors: *const c_void,
    /// `ConnectionsCount`.
    pub ConnectionsCount: u32,
    /// `Connections`.
    pub Connections: *const c_void,
    /// `ComponentId`.
    pub ComponentId: *const c_void,
}

/// `KSDEVICE_DESCRIPTOR` (32 bytes; the WDK's `Flags` member sits in what is padding in
/// mingw-w64 10).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSDEVICE_DESCRIPTOR {
    /// `Dispatch`.
    pub Dispatch: *const KSDEVICE_DISPATCH,
    /// `FilterDescriptorsCount`.
    pub FilterDescriptorsCount: u32,
    /// `FilterDescriptors`.
    pub FilterDescriptors: *const *const KSFILTER_DESCRIPTOR,
    /// `Version` (`KSDEVICE_DESCRIPTOR_VERSION`).
    pub Version: u32,
    /// `Flags` (WDK; 0).
    pub Flags: u32,
}

// --- Objects ks.sys hands to the minidriver (their public part) ---

/// `KSOBJECT_BAG`: an opaque pointer.
pub type KSOBJECT_BAG = *mut c_void;

/// `KSDEVICE` (64 bytes).
#[repr(C)]
pub struct KSDEVICE {
    /// `Descriptor`.
    pub Descriptor: *const KSDEVICE_DESCRIPTOR,
    /// `Bag`.
    pub Bag: KSOBJECT_BAG,
    /// `Context`: the minidriver's.
    pub Context: *mut c_void,
    /// `FunctionalDeviceObject`.
    pub FunctionalDeviceObject: *mut DEVICE_OBJECT,
    /// `PhysicalDeviceObject`.
    pub PhysicalDeviceObject: *mut DEVICE_OBJECT,
    /// `NextDeviceObject`.
    pub NextDeviceObject: *mut DEVICE_OBJECT,
    /// `Started`.
    pub Started: u8,
    /// `SystemPowerState`.
    pub SystemPowerState: u32,
    /// `DevicePowerState`.
    pub DevicePowerState: u32,
}

/// `KSFILTERFACTORY` (24 bytes): what `KsCreateFilterFactory` hands back.
#[repr(C)]
pub struct KSFILTERFACTORY {
    /// `FilterDescriptor`.
    pub FilterDescriptor: *const KSFILTER_DESCRIPTOR,
    /// `Bag`.
    pub Bag: KSOBJECT_BAG,
    /// `Context`: the minidriver's.
    pub Context: *mut c_void,
}

/// `PFNKSFILTERFACTORYPOWER`: `void (*)(PKSFILTERFACTORY, DEVICE_POWER_STATE)`.
#[crate::kernel_abi]
pub type PFNKSFILTERFACTORYPOWER = Option<unsafe extern "system" fn(*mut KSFILTERFACTORY, u32)>;

/// `KSFILTER` (24 bytes).
#[repr(C)]
pub struct KSFILTER {
    /// `Descriptor`.
    pub Descriptor: *const KSFILTER_DESCRIPTOR,
    /// `Bag`.
    pub Bag: KSOBJECT_BAG,
    /// `Context`: the minidriver's.
    pub Context: *mut c_void,
}

/// `KSPIN` (136 bytes).
#[repr(C)]
pub struct KSPIN {
    /// `Descriptor`.
    pub Descriptor: *const KSPIN_DESCRIPTOR_EX,
    /// `Bag`.
    pub Bag: KSOBJECT_BAG,
    /// `Context`: the minidriver's.
    pub Context: *mut c_void,
    /// `Id`: the pin factory id.
    pub Id: u32,
    /// `Communication`.
    pub Communication: KSPIN_COMMUNICATION,
    /// `ConnectionIsExternal`.
    pub ConnectionIsExternal: u8,
    /// `ConnectionInterface`.
    pub ConnectionInterface: KSPIN_INTERFACE,
    /// `ConnectionMedium`.
    pub ConnectionMedium: KSPIN_MEDIUM,
    /// `ConnectionPriority`.
    pub ConnectionPriority: KSPRIORITY,
    /// `ConnectionFormat`: the negotiated KSDATAFORMAT (+ specifier).
    pub ConnectionFormat: *mut c_void,
    /// `AttributeList`.
    pub AttributeList: *mut c_void,
    /// `StreamHeaderSize`: 0 = sizeof(KSSTREAM_HEADER); a video pin asks for the extended header.
    pub StreamHeaderSize: u32,
    /// `DataFlow`.
    pub DataFlow: KSPIN_DATAFLOW,
    /// `DeviceState`.
    pub DeviceState: KSSTATE,
    /// `ResetState`.
    pub ResetState: KSRESET,
    /// `ClientState`.
    pub ClientState: KSSTATE,
}

/// `KSSTREAM_POINTER_OFFSET` (16 bytes on x64).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KSSTREAM_POINTER_OFFSET {
    /// `Data` (a union with `Mappings`).
    pub Data: *mut u8,
    /// `Count`.
    pub Count: u32,
    /// `Remaining`.
    pub Remaining: u32,
}

/// `KSSTREAM_POINTER` (64 bytes).
#[repr(C)]
pub struct KSSTREAM_POINTER {
    /// `Context`.
    pub Context: *mut c_void,
    /// `Pin`.
    pub Pin: *mut KSPIN,
    /// `StreamHeader`: the KSSTREAM_HEADER of the frame this pointer is on.
    pub StreamHeader: *mut c_void,
    /// `Offset`: `&OffsetIn` or `&OffsetOut`.
    pub Offset: *mut KSSTREAM_POINTER_OFFSET,
    /// `OffsetIn`.
    pub OffsetIn: KSSTREAM_POINTER_OFFSET,
    /// `OffsetOut`.
    pub OffsetOut: KSSTREAM_POINTER_OFFSET,
}

/// `PFNKSSTREAMPOINTER`: `void (*)(PKSSTREAM_POINTER StreamPointer)` (clone cancel callbacks).
#[crate::kernel_abi]
pub type PFNKSSTREAMPOINTER = Option<unsafe extern "system" fn(*mut KSSTREAM_POINTER)>;

/// `KSSTREAM_POINTER_STATE`: `KSSTREAM_POINTER_STATE_UNLOCKED` (0) / `LOCKED` (1).
pub type KSSTREAM_POINTER_STATE = u32;
/// `KSSTREAM_POINTER_STATE_LOCKED`.
pub const KSSTREAM_POINTER_STATE_LOCKED: KSSTREAM_POINTER_STATE = 1;
/// `KSSTREAM_POINTER_STATE_UNLOCKED`.
pub const KSSTREAM_POINTER_STATE_UNLOCKED: KSSTREAM_POINTER_STATE = 0;

/// Unused directly; keeps the timer types of `nt` close to the clock dispatch they serve.
pub type PKTIMER = *mut KTIMER;
/// See [`PKTIMER`].
pub type PKDPC = *mut KDPC;

#[cfg(target_pointer_width = "64")]
mod layout {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    const _: () = assert!(size_of::<KSPRIORITY>() == 8);
    const _: () = assert!(size_of::<KSPROPERTY_ITEM>() == 72);
    const _: () = assert!(offset_of!(KSPROPERTY_ITEM, SetPropertyHandler) == 24);
    const _: () = assert!(offset_of!(KSPROPERTY_ITEM, SerializedSize) == 64);
    const _: () = assert!(size_of::<KSPROPERTY_SET>() == 40);
    const _: () = assert!(size_of::<KSMETHOD_ITEM>() == 40);
    const _: () = assert!(size_of::<KSMETHOD_SET>() == 40);
    const _: () = assert!(size_of::<KSEVENT_ITEM>() == 40);
    const _: () = assert!(size_of::<KSEVENT_SET>() == 24);
    const _: () = assert!(size_of::<KSAUTOMATION_TABLE>() == 48);
    const _: () = assert!(size_of::<KSDEVICE_DISPATCH>() == 112);
    const _: () = assert!(size_of::<KSFILTER_DISPATCH>() == 32);
    const _: () = assert!(size_of::<KSCLOCK_DISPATCH>() == 32);
    const _: () = assert!(size_of::<KSALLOCATOR_DISPATCH>() == 32);
    const _: () = assert!(size_of::<KSFILTERFACTORY>() == 24);
    const _: () = assert!(size_of::<KSPIN_DISPATCH>() == 80);
    const _: () = assert!(size_of::<KSPIN_DESCRIPTOR>() == 88);
    const _: () = assert!(offset_of!(KSPIN_DESCRIPTOR, DataFlow) == 48);
    const _: () = assert!(offset_of!(KSPIN_DESCRIPTOR, Category) == 56);
    const _: () = assert!(offset_of!(KSPIN_DESCRIPTOR, ConstrainedDataRanges) == 80);
    const _: () = assert!(size_of::<KSPIN_DESCRIPTOR_EX>() == 136);
    const _: () = assert!(offset_of!(KSPIN_DESCRIPTOR_EX, Flags) == 104);
    const _: () = assert!(offset_of!(KSPIN_DESCRIPTOR_EX, AllocatorFraming) == 120);
    const _: () = assert!(size_of::<KSFILTER_DESCRIPTOR>() == 104);
    const _: () = assert!(offset_of!(KSFILTER_DESCRIPTOR, Categories) == 56);
    const _: () = assert!(offset_of!(KSFILTER_DESCRIPTOR, ComponentId) == 96);
    const _: () = assert!(size_of::<KSDEVICE_DESCRIPTOR>() == 32);
    const _: () = assert!(size_of::<KSDEVICE>() == 64);
    const _: () = assert!(size_of::<KSFILTER>() == 24);
    const _: () = assert!(size_of::<KSPIN>() == 136);
    const _: () = assert!(align_of::<KSPIN>() == 8);
    const _: () = assert!(offset_of!(KSPIN, ConnectionInterface) == 40);
    const _: () = assert!(offset_of!(KSPIN, ConnectionFormat) == 96);
    const _: () = assert!(offset_of!(KSPIN, StreamHeaderSize) == 112);
    const _: () = assert!(offset_of!(KSPIN, ClientState) == 128);
    const _: () = assert!(size_of::<KSSTREAM_POINTER_OFFSET>() == 16);
    const _: () = assert!(size_of::<KSSTREAM_POINTER>() == 64);
    const _: () = assert!(offset_of!(KSSTREAM_POINTER, OffsetOut) == 48);
}
