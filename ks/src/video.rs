//! Video formats and the pin/stream ABI a capture pin speaks (ks.h, ksmedia.h, uuids.h):
//! KSDATAFORMAT / KSDATARANGE, KS_BITMAPINFOHEADER, KS_VIDEOINFOHEADER, KS_DATARANGE_VIDEO,
//! KS_DATAFORMAT_VIDEOINFOHEADER, KSSTREAM_HEADER, KS_FRAME_INFO, KSPIN_CONNECT, KSSTATE, the
//! property sets and ids a camera serves, and the format GUIDs.
//!
//! Every layout is asserted at the bottom of this file against the Windows x64 figures, which
//! were read from the mingw-w64 headers with `x86_64-w64-mingw32-gcc -S` (sizeof/alignof/offsetof).
//! Every GUID carries its registry form above it; a unit test compares each one with the header
//! text when the headers are installed.
//!
//! Pointer-sized C fields (`HANDLE`, `PVOID`) are `u64` here: the values as they sit in a 64-bit
//! request buffer, so the structures stay plain data that zerocopy can read and write.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::guid::GUID;
use crate::ks::KSIDENTIFIER;

// --- Windows geometry types (windef.h) ---

/// `RECT`: a rectangle in pixels, `right`/`bottom` exclusive (16 bytes).
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct RECT {
    /// `left`.
    pub left: i32,
    /// `top`.
    pub top: i32,
    /// `right`.
    pub right: i32,
    /// `bottom`.
    pub bottom: i32,
}

/// `SIZE`: a width and height (8 bytes).
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct SIZE {
    /// `cx`: width.
    pub cx: i32,
    /// `cy`: height.
    pub cy: i32,
}

// --- Data formats and ranges (ks.h) ---

/// `KSDATAFORMAT` (= `KSDATARANGE`): the 64-byte header every format and range starts with;
/// align 8 because the C type is a union with a `LONGLONG`.
#[repr(C, align(8))]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KSDATAFORMAT {
    /// `FormatSize`: bytes of the whole format, this header included.
    pub FormatSize: u32,
    /// `Flags`: `KSDATAFORMAT_TEMPORAL_COMPRESSION` / `KSDATAFORMAT_ATTRIBUTES`.
    pub Flags: u32,
    /// `SampleSize`: bytes per sample for fixed-size samples (the image size for video).
    pub SampleSize: u32,
    /// `Reserved`.
    pub Reserved: u32,
    /// `MajorFormat`: e.g. `KSDATAFORMAT_TYPE_VIDEO`, or the wildcard.
    pub MajorFormat: GUID,
    /// `SubFormat`: e.g. `KSDATAFORMAT_SUBTYPE_NV12`, or the wildcard.
    pub SubFormat: GUID,
    /// `Specifier`: what follows the header, e.g. `KSDATAFORMAT_SPECIFIER_VIDEOINFO`.
    pub Specifier: GUID,
}
/// `KSDATARANGE`: the same 64 bytes as `KSDATAFORMAT`.
pub type KSDATARANGE = KSDATAFORMAT;

/// `KSDATAFORMAT_TEMPORAL_COMPRESSION`.
pub const KSDATAFORMAT_TEMPORAL_COMPRESSION: u32 = 1 << 0;
/// `KSDATAFORMAT_ATTRIBUTES`: a `KSMULTIPLE_ITEM` of attributes follows the format.
pub const KSDATAFORMAT_ATTRIBUTES: u32 = 1 << 1;
/// `KSDATARANGE_ATTRIBUTES`.
pub const KSDATARANGE_ATTRIBUTES: u32 = 1 << 1;
/// `KSDATARANGE_REQUIRED_ATTRIBUTES`.
pub const KSDATARANGE_REQUIRED_ATTRIBUTES: u32 = 1 << 2;

/// `KSMULTIPLE_ITEM` (8 bytes): the header of a list answer (`KSPROPERTY_PIN_DATARANGES`) or of
/// the ranges list in a `KSPROPERTY_PIN_DATAINTERSECTION` request.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KSMULTIPLE_ITEM {
    /// `Size`: bytes of the whole list, this header included.
    pub Size: u32,
    /// `Count`: number of items.
    pub Count: u32,
}

// --- Video formats (ksmedia.h) ---

/// `KS_BI_RGB`: uncompressed RGB in `biCompression`.
pub const KS_BI_RGB: u32 = 0;
/// `KS_BI_BITFIELDS`: RGB with colour masks.
pub const KS_BI_BITFIELDS: u32 = 3;
/// `MAKEFOURCC('N','V','1','2')`: `biCompression` of NV12.
pub const FOURCC_NV12: u32 = u32::from_le_bytes(*b"NV12");
/// `MAKEFOURCC('Y','U','Y','2')`: `biCompression` of YUY2.
pub const FOURCC_YUY2: u32 = u32::from_le_bytes(*b"YUY2");

/// `KS_BITMAPINFOHEADER` (40 bytes): the picture geometry of a video format.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KS_BITMAPINFOHEADER {
    /// `biSize`: 40.
    pub biSize: u32,
    /// `biWidth`: pixels.
    pub biWidth: i32,
    /// `biHeight`: pixels; positive means bottom-up for RGB.
    pub biHeight: i32,
    /// `biPlanes`: 1.
    pub biPlanes: u16,
    /// `biBitCount`: bits per pixel (12 for NV12).
    pub biBitCount: u16,
    /// `biCompression`: `KS_BI_RGB` or a FOURCC.
    pub biCompression: u32,
    /// `biSizeImage`: bytes of one frame.
    pub biSizeImage: u32,
    /// `biXPelsPerMeter`.
    pub biXPelsPerMeter: i32,
    /// `biYPelsPerMeter`.
    pub biYPelsPerMeter: i32,
    /// `biClrUsed`.
    pub biClrUsed: u32,
    /// `biClrImportant`.
    pub biClrImportant: u32,
}

/// `KS_VIDEOINFOHEADER` (88 bytes, align 8).
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KS_VIDEOINFOHEADER {
    /// `rcSource`: the source rectangle (all zero: the whole picture).
    pub rcSource: RECT,
    /// `rcTarget`: the target rectangle (all zero: the whole buffer).
    pub rcTarget: RECT,
    /// `dwBitRate`: bits per second.
    pub dwBitRate: u32,
    /// `dwBitErrorRate`.
    pub dwBitErrorRate: u32,
    /// `AvgTimePerFrame`: the frame interval in 100 ns units (`REFERENCE_TIME`).
    pub AvgTimePerFrame: i64,
    /// `bmiHeader`.
    pub bmiHeader: KS_BITMAPINFOHEADER,
}

/// `KS_DATAFORMAT_VIDEOINFOHEADER` (152 bytes): a complete video format, as set on a pin.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KS_DATAFORMAT_VIDEOINFOHEADER {
    /// `DataFormat`.
    pub DataFormat: KSDATAFORMAT,
    /// `VideoInfoHeader`.
    pub VideoInfoHeader: KS_VIDEOINFOHEADER,
}

/// `KS_AnalogVideo_None`: `VideoStandard` of a digital source.
pub const KS_AnalogVideo_None: u32 = 0;

/// `KS_VIDEO_STREAM_CONFIG_CAPS` (128 bytes): what a range can be configured to.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KS_VIDEO_STREAM_CONFIG_CAPS {
    /// `guid`: the format specifier this describes (`KSDATAFORMAT_SPECIFIER_VIDEOINFO`).
    pub guid: GUID,
    /// `VideoStandard`: `KS_AnalogVideo_*`.
    pub VideoStandard: u32,
    /// `InputSize`.
    pub InputSize: SIZE,
    /// `MinCroppingSize`.
    pub MinCroppingSize: SIZE,
    /// `MaxCroppingSize`.
    pub MaxCroppingSize: SIZE,
    /// `CropGranularityX`.
    pub CropGranularityX: i32,
    /// `CropGranularityY`.
    pub CropGranularityY: i32,
    /// `CropAlignX`.
    pub CropAlignX: i32,
    /// `CropAlignY`.
    pub CropAlignY: i32,
    /// `MinOutputSize`.
    pub MinOutputSize: SIZE,
    /// `MaxOutputSize`.
    pub MaxOutputSize: SIZE,
    /// `OutputGranularityX`.
    pub OutputGranularityX: i32,
    /// `OutputGranularityY`.
    pub OutputGranularityY: i32,
    /// `StretchTapsX`.
    pub StretchTapsX: i32,
    /// `StretchTapsY`.
    pub StretchTapsY: i32,
    /// `ShrinkTapsX`.
    pub ShrinkTapsX: i32,
    /// `ShrinkTapsY`.
    pub ShrinkTapsY: i32,
    /// The C compiler's padding before the 8-byte aligned `MinFrameInterval` (always zero).
    pub _pad: u32,
    /// `MinFrameInterval`: the shortest frame interval, 100 ns units (the highest rate).
    pub MinFrameInterval: i64,
    /// `MaxFrameInterval`: the longest frame interval, 100 ns units (the lowest rate).
    pub MaxFrameInterval: i64,
    /// `MinBitsPerSecond`.
    pub MinBitsPerSecond: i32,
    /// `MaxBitsPerSecond`.
    pub MaxBitsPerSecond: i32,
}

/// `KS_DATARANGE_VIDEO` (296 bytes, `VideoInfoHeader` at 208): one range of a video pin.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KS_DATARANGE_VIDEO {
    /// `DataRange`.
    pub DataRange: KSDATARANGE,
    /// `bFixedSizeSamples` (`WINBOOL`).
    pub bFixedSizeSamples: i32,
    /// `bTemporalCompression` (`WINBOOL`).
    pub bTemporalCompression: i32,
    /// `StreamDescriptionFlags`: `KS_VIDEOSTREAM_*`.
    pub StreamDescriptionFlags: u32,
    /// `MemoryAllocationFlags`: `KS_VIDEO_ALLOC_*`.
    pub MemoryAllocationFlags: u32,
    /// `ConfigCaps`.
    pub ConfigCaps: KS_VIDEO_STREAM_CONFIG_CAPS,
    /// `VideoInfoHeader`: the default format of the range.
    pub VideoInfoHeader: KS_VIDEOINFOHEADER,
}

/// `KS_VIDEOSTREAM_PREVIEW`.
pub const KS_VIDEOSTREAM_PREVIEW: u32 = 0x0001;
/// `KS_VIDEOSTREAM_CAPTURE`.
pub const KS_VIDEOSTREAM_CAPTURE: u32 = 0x0002;
/// `KS_VIDEOSTREAM_STILL`.
pub const KS_VIDEOSTREAM_STILL: u32 = 0x1000;

// --- Streaming (ks.h) ---

/// `KSSTATE`: a C enum (4 bytes); the values below. Kept as a plain integer so a request's
/// value can be read as bytes and validated.
pub type KSSTATE = u32;
/// `KSSTATE_STOP`.
pub const KSSTATE_STOP: KSSTATE = 0;
/// `KSSTATE_ACQUIRE`.
pub const KSSTATE_ACQUIRE: KSSTATE = 1;
/// `KSSTATE_PAUSE`.
pub const KSSTATE_PAUSE: KSSTATE = 2;
/// `KSSTATE_RUN`.
pub const KSSTATE_RUN: KSSTATE = 3;

/// `KSTIME` (16 bytes): a time with its scale.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KSTIME {
    /// `Time`.
    pub Time: i64,
    /// `Numerator`: 100 ns units are `Numerator = Denominator = 1`.
    pub Numerator: u32,
    /// `Denominator`.
    pub Denominator: u32,
}

/// `KSSTREAM_HEADER` (56 bytes on x64): one frame's header in a read/write stream request.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KSSTREAM_HEADER {
    /// `Size`: this header plus any extended header (e.g. `KS_FRAME_INFO`).
    pub Size: u32,
    /// `TypeSpecificFlags`.
    pub TypeSpecificFlags: u32,
    /// `PresentationTime`.
    pub PresentationTime: KSTIME,
    /// `Duration`: 100 ns units.
    pub Duration: i64,
    /// `FrameExtent`: bytes the buffer can hold.
    pub FrameExtent: u32,
    /// `DataUsed`: bytes written.
    pub DataUsed: u32,
    /// `Data` (`PVOID`): the buffer's address.
    pub Data: u64,
    /// `OptionsFlags`: `KSSTREAM_HEADER_OPTIONSF_*`.
    pub OptionsFlags: u32,
    /// `Reserved` (x64 only).
    pub Reserved: u32,
}

/// `KSSTREAM_HEADER_OPTIONSF_SPLICEPOINT`: a key frame.
pub const KSSTREAM_HEADER_OPTIONSF_SPLICEPOINT: u32 = 0x0000_0001;
/// `KSSTREAM_HEADER_OPTIONSF_PREROLL`.
pub const KSSTREAM_HEADER_OPTIONSF_PREROLL: u32 = 0x0000_0002;
/// `KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY`.
pub const KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY: u32 = 0x0000_0004;
/// `KSSTREAM_HEADER_OPTIONSF_TYPECHANGED`.
pub const KSSTREAM_HEADER_OPTIONSF_TYPECHANGED: u32 = 0x0000_0008;
/// `KSSTREAM_HEADER_OPTIONSF_TIMEVALID`: `PresentationTime` is valid.
pub const KSSTREAM_HEADER_OPTIONSF_TIMEVALID: u32 = 0x0000_0010;
/// `KSSTREAM_HEADER_OPTIONSF_TIMEDISCONTINUITY`.
pub const KSSTREAM_HEADER_OPTIONSF_TIMEDISCONTINUITY: u32 = 0x0000_0040;
/// `KSSTREAM_HEADER_OPTIONSF_FLUSHONPAUSE`.
pub const KSSTREAM_HEADER_OPTIONSF_FLUSHONPAUSE: u32 = 0x0000_0080;
/// `KSSTREAM_HEADER_OPTIONSF_DURATIONVALID`: `Duration` is valid.
pub const KSSTREAM_HEADER_OPTIONSF_DURATIONVALID: u32 = 0x0000_0100;
/// `KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM`.
pub const KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM: u32 = 0x0000_0200;
/// `KSSTREAM_HEADER_OPTIONSF_BUFFEREDTRANSFER`.
pub const KSSTREAM_HEADER_OPTIONSF_BUFFEREDTRANSFER: u32 = 0x0000_0400;
/// `KSSTREAM_HEADER_OPTIONSF_VRAM_DATA_TRANSFER`.
pub const KSSTREAM_HEADER_OPTIONSF_VRAM_DATA_TRANSFER: u32 = 0x0000_0800;
/// `KSSTREAM_HEADER_OPTIONSF_LOOPEDDATA`.
pub const KSSTREAM_HEADER_OPTIONSF_LOOPEDDATA: u32 = 0x8000_0000;

/// `KS_VIDEO_FLAG_FRAME`: a whole frame (not a field).
pub const KS_VIDEO_FLAG_FRAME: u32 = 0x0000;
/// `KS_VIDEO_FLAG_FIELD1`.
pub const KS_VIDEO_FLAG_FIELD1: u32 = 0x0001;
/// `KS_VIDEO_FLAG_FIELD2`.
pub const KS_VIDEO_FLAG_FIELD2: u32 = 0x0002;
/// `KS_VIDEO_FLAG_I_FRAME`.
pub const KS_VIDEO_FLAG_I_FRAME: u32 = 0x0000;
/// `KS_VIDEO_FLAG_P_FRAME`.
pub const KS_VIDEO_FLAG_P_FRAME: u32 = 0x0010;
/// `KS_VIDEO_FLAG_B_FRAME`.
pub const KS_VIDEO_FLAG_B_FRAME: u32 = 0x0020;

/// `KS_FRAME_INFO` (72 bytes): the extended header after a video `KSSTREAM_HEADER`.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KS_FRAME_INFO {
    /// `ExtendedHeaderSize`: 72.
    pub ExtendedHeaderSize: u32,
    /// `dwFrameFlags`: `KS_VIDEO_FLAG_*`.
    pub dwFrameFlags: u32,
    /// `PictureNumber`.
    pub PictureNumber: i64,
    /// `DropCount`.
    pub DropCount: i64,
    /// `hDirectDraw` (`HANDLE`).
    pub hDirectDraw: u64,
    /// `hSurfaceHandle` (`HANDLE`).
    pub hSurfaceHandle: u64,
    /// `DirectDrawRect`.
    pub DirectDrawRect: RECT,
    /// `Reserved1` (newer SDKs overlay `lSurfacePitch` here).
    pub Reserved1: u32,
    /// `Reserved2`.
    pub Reserved2: u32,
    /// `Reserved3`.
    pub Reserved3: u32,
    /// `Reserved4`.
    pub Reserved4: u32,
}

impl KS_FRAME_INFO {
    /// `lSurfacePitch`, the signed view of `Reserved1` (a union in newer SDKs): the surface
    /// stride a client asks the driver to honour, 0 for none.
    pub const fn lSurfacePitch(&self) -> i32 {
        self.Reserved1 as i32
    }
}

/// `KSPRIORITY` (8 bytes).
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KSPRIORITY {
    /// `PriorityClass`: `KSPRIORITY_*`.
    pub PriorityClass: u32,
    /// `PrioritySubClass`.
    pub PrioritySubClass: u32,
}
/// `KSPRIORITY_LOW`.
pub const KSPRIORITY_LOW: u32 = 0x0000_0001;
/// `KSPRIORITY_NORMAL`.
pub const KSPRIORITY_NORMAL: u32 = 0x4000_0000;
/// `KSPRIORITY_HIGH`.
pub const KSPRIORITY_HIGH: u32 = 0x8000_0000;
/// `KSPRIORITY_EXCLUSIVE`.
pub const KSPRIORITY_EXCLUSIVE: u32 = 0xFFFF_FFFF;

/// `KSPIN_INTERFACE`: a `KSIDENTIFIER` (set, id, flags).
pub type KSPIN_INTERFACE = KSIDENTIFIER;
/// `KSPIN_MEDIUM`: a `KSIDENTIFIER` (set, id, flags).
pub type KSPIN_MEDIUM = KSIDENTIFIER;

/// `KSPIN_CONNECT` (72 bytes): the create request of a pin; the `KSDATAFORMAT` follows it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct KSPIN_CONNECT {
    /// `Interface`: usually `KSINTERFACESETID_Standard` / `KSINTERFACE_STANDARD_STREAMING`.
    pub Interface: KSPIN_INTERFACE,
    /// `Medium`: usually `KSMEDIUMSETID_Standard` / `KSMEDIUM_TYPE_ANYINSTANCE`.
    pub Medium: KSPIN_MEDIUM,
    /// `PinId`: the pin factory.
    pub PinId: u32,
    /// The C compiler's padding before the pointer-aligned `PinToHandle` (always zero).
    pub _pad: u32,
    /// `PinToHandle` (`HANDLE`): the pin to connect to, or null for a client-facing pin.
    pub PinToHandle: u64,
    /// `Priority`.
    pub Priority: KSPRIORITY,
}

/// `KSINTERFACE_STANDARD_STREAMING`.
pub const KSINTERFACE_STANDARD_STREAMING: u32 = 0;
/// `KSINTERFACE_STANDARD_LOOPED_STREAMING`.
pub const KSINTERFACE_STANDARD_LOOPED_STREAMING: u32 = 1;
/// `KSINTERFACE_STANDARD_CONTROL`.
pub const KSINTERFACE_STANDARD_CONTROL: u32 = 2;
/// `KSMEDIUM_TYPE_ANYINSTANCE` (= `KSMEDIUM_STANDARD_DEVIO`).
pub const KSMEDIUM_TYPE_ANYINSTANCE: u32 = 0;

/// `KSP_PIN` (32 bytes): a property request addressed to one pin factory.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct KSP_PIN {
    /// `Property`.
    pub Property: KSIDENTIFIER,
    /// `PinId`.
    pub PinId: u32,
    /// `Reserved`.
    pub Reserved: u32,
}

/// `KSPIN_CINSTANCES` (8 bytes).
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KSPIN_CINSTANCES {
    /// `PossibleCount`.
    pub PossibleCount: u32,
    /// `CurrentCount`.
    pub CurrentCount: u32,
}

/// `KSPIN_DATAFLOW_IN`.
pub const KSPIN_DATAFLOW_IN: u32 = 1;
/// `KSPIN_DATAFLOW_OUT`: a capture pin.
pub const KSPIN_DATAFLOW_OUT: u32 = 2;
/// `KSPIN_COMMUNICATION_NONE`.
pub const KSPIN_COMMUNICATION_NONE: u32 = 0;
/// `KSPIN_COMMUNICATION_SINK`: the pin accepts connections (a capture pin).
pub const KSPIN_COMMUNICATION_SINK: u32 = 1;
/// `KSPIN_COMMUNICATION_SOURCE`.
pub const KSPIN_COMMUNICATION_SOURCE: u32 = 2;
/// `KSPIN_COMMUNICATION_BOTH`.
pub const KSPIN_COMMUNICATION_BOTH: u32 = 3;
/// `KSPIN_COMMUNICATION_BRIDGE`.
pub const KSPIN_COMMUNICATION_BRIDGE: u32 = 4;
/// `KSINSTANCE_INDETERMINATE`.
pub const KSINSTANCE_INDETERMINATE: u32 = u32::MAX;

/// `KSPROPERTY_DROPPEDFRAMES_CURRENT_S` (48 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct KSPROPERTY_DROPPEDFRAMES_CURRENT_S {
    /// `Property`.
    pub Property: KSIDENTIFIER,
    /// `PictureNumber`: frames the camera has produced (dropped ones included).
    pub PictureNumber: i64,
    /// `DropCount`: frames dropped.
    pub DropCount: i64,
    /// `AverageFrameSize`: bytes.
    pub AverageFrameSize: u32,
    /// The C compiler's tail padding to 8-byte alignment (always zero).
    pub _pad: u32,
}

// --- Property sets and ids ---

/// {8C134960-51AD-11CF-878A-94F801C10000}
pub const KSPROPSETID_Pin: GUID = GUID::from_u128(0x8C134960_51AD_11CF_878A_94F801C10000);
/// `KSPROPERTY_PIN_CINSTANCES`.
pub const KSPROPERTY_PIN_CINSTANCES: u32 = 0;
/// `KSPROPERTY_PIN_CTYPES`.
pub const KSPROPERTY_PIN_CTYPES: u32 = 1;
/// `KSPROPERTY_PIN_DATAFLOW`.
pub const KSPROPERTY_PIN_DATAFLOW: u32 = 2;
/// `KSPROPERTY_PIN_DATARANGES`.
pub const KSPROPERTY_PIN_DATARANGES: u32 = 3;
/// `KSPROPERTY_PIN_DATAINTERSECTION`.
pub const KSPROPERTY_PIN_DATAINTERSECTION: u32 = 4;
/// `KSPROPERTY_PIN_INTERFACES`.
pub const KSPROPERTY_PIN_INTERFACES: u32 = 5;
/// `KSPROPERTY_PIN_MEDIUMS`.
pub const KSPROPERTY_PIN_MEDIUMS: u32 = 6;
/// `KSPROPERTY_PIN_COMMUNICATION`.
pub const KSPROPERTY_PIN_COMMUNICATION: u32 = 7;
/// `KSPROPERTY_PIN_GLOBALCINSTANCES`.
pub const KSPROPERTY_PIN_GLOBALCINSTANCES: u32 = 8;
/// `KSPROPERTY_PIN_NECESSARYINSTANCES`.
pub const KSPROPERTY_PIN_NECESSARYINSTANCES: u32 = 9;
/// `KSPROPERTY_PIN_PHYSICALCONNECTION`.
pub const KSPROPERTY_PIN_PHYSICALCONNECTION: u32 = 10;
/// `KSPROPERTY_PIN_CATEGORY`.
pub const KSPROPERTY_PIN_CATEGORY: u32 = 11;
/// `KSPROPERTY_PIN_NAME`.
pub const KSPROPERTY_PIN_NAME: u32 = 12;
/// `KSPROPERTY_PIN_CONSTRAINEDDATARANGES`.
pub const KSPROPERTY_PIN_CONSTRAINEDDATARANGES: u32 = 13;
/// `KSPROPERTY_PIN_PROPOSEDATAFORMAT`.
pub const KSPROPERTY_PIN_PROPOSEDATAFORMAT: u32 = 14;

/// {1D58C920-AC9B-11CF-A5D6-28DB04C10000}
pub const KSPROPSETID_Connection: GUID = GUID::from_u128(0x1D58C920_AC9B_11CF_A5D6_28DB04C10000);
/// `KSPROPERTY_CONNECTION_STATE`.
pub const KSPROPERTY_CONNECTION_STATE: u32 = 0;
/// `KSPROPERTY_CONNECTION_PRIORITY`.
pub const KSPROPERTY_CONNECTION_PRIORITY: u32 = 1;
/// `KSPROPERTY_CONNECTION_DATAFORMAT`.
pub const KSPROPERTY_CONNECTION_DATAFORMAT: u32 = 2;
/// `KSPROPERTY_CONNECTION_ALLOCATORFRAMING`.
pub const KSPROPERTY_CONNECTION_ALLOCATORFRAMING: u32 = 3;
/// `KSPROPERTY_CONNECTION_PROPOSEDATAFORMAT`.
pub const KSPROPERTY_CONNECTION_PROPOSEDATAFORMAT: u32 = 4;
/// `KSPROPERTY_CONNECTION_ACQUIREORDERING`.
pub const KSPROPERTY_CONNECTION_ACQUIREORDERING: u32 = 5;
/// `KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX`.
pub const KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX: u32 = 6;
/// `KSPROPERTY_CONNECTION_STARTAT`.
pub const KSPROPERTY_CONNECTION_STARTAT: u32 = 7;

/// {65AABA60-98AE-11CF-A10D-0020AFD156E4}
pub const KSPROPSETID_Stream: GUID = GUID::from_u128(0x65AABA60_98AE_11CF_A10D_0020AFD156E4);
/// `KSPROPERTY_STREAM_ALLOCATOR`: the pin's allocator handle.
pub const KSPROPERTY_STREAM_ALLOCATOR: u32 = 0;
/// `KSPROPERTY_STREAM_QUALITY`.
pub const KSPROPERTY_STREAM_QUALITY: u32 = 1;
/// `KSPROPERTY_STREAM_DEGRADATION`.
pub const KSPROPERTY_STREAM_DEGRADATION: u32 = 2;
/// `KSPROPERTY_STREAM_MASTERCLOCK`.
pub const KSPROPERTY_STREAM_MASTERCLOCK: u32 = 3;
/// `KSPROPERTY_STREAM_TIMEFORMAT`.
pub const KSPROPERTY_STREAM_TIMEFORMAT: u32 = 4;
/// `KSPROPERTY_STREAM_PRESENTATIONTIME`.
pub const KSPROPERTY_STREAM_PRESENTATIONTIME: u32 = 5;
/// `KSPROPERTY_STREAM_PRESENTATIONEXTENT`.
pub const KSPROPERTY_STREAM_PRESENTATIONEXTENT: u32 = 6;
/// `KSPROPERTY_STREAM_FRAMETIME`.
pub const KSPROPERTY_STREAM_FRAMETIME: u32 = 7;
/// `KSPROPERTY_STREAM_RATECAPABILITY`.
pub const KSPROPERTY_STREAM_RATECAPABILITY: u32 = 8;
/// `KSPROPERTY_STREAM_RATE`.
pub const KSPROPERTY_STREAM_RATE: u32 = 9;
/// `KSPROPERTY_STREAM_PIPE_ID`.
pub const KSPROPERTY_STREAM_PIPE_ID: u32 = 10;

/// {C6E13344-30AC-11D0-A18C-00A0C9118956}
pub const PROPSETID_VIDCAP_DROPPEDFRAMES: GUID =
    GUID::from_u128(0xC6E13344_30AC_11D0_A18C_00A0C9118956);
/// `KSPROPERTY_DROPPEDFRAMES_CURRENT`.
pub const KSPROPERTY_DROPPEDFRAMES_CURRENT: u32 = 0;

/// {C6E13360-30AC-11D0-A18C-00A0C9118956}
pub const PROPSETID_VIDCAP_VIDEOPROCAMP: GUID =
    GUID::from_u128(0xC6E13360_30AC_11D0_A18C_00A0C9118956);
/// `KSPROPERTY_VIDEOPROCAMP_BRIGHTNESS`: black level, IRE x 100 (-10000..=10000, default 750).
pub const KSPROPERTY_VIDEOPROCAMP_BRIGHTNESS: u32 = 0;
/// `KSPROPERTY_VIDEOPROCAMP_CONTRAST`: luma gain x 100 (0..=10000, default 100).
pub const KSPROPERTY_VIDEOPROCAMP_CONTRAST: u32 = 1;
/// `KSPROPERTY_VIDEOPROCAMP_HUE`: degrees x 100 (-18000..=18000, default 0).
pub const KSPROPERTY_VIDEOPROCAMP_HUE: u32 = 2;
/// `KSPROPERTY_VIDEOPROCAMP_SATURATION`: chroma gain x 100 (0..=10000, default 100).
pub const KSPROPERTY_VIDEOPROCAMP_SATURATION: u32 = 3;
/// `KSPROPERTY_VIDEOPROCAMP_SHARPNESS`.
pub const KSPROPERTY_VIDEOPROCAMP_SHARPNESS: u32 = 4;
/// `KSPROPERTY_VIDEOPROCAMP_GAMMA`: gamma x 100 (1..=500).
pub const KSPROPERTY_VIDEOPROCAMP_GAMMA: u32 = 5;
/// `KSPROPERTY_VIDEOPROCAMP_COLORENABLE`.
pub const KSPROPERTY_VIDEOPROCAMP_COLORENABLE: u32 = 6;
/// `KSPROPERTY_VIDEOPROCAMP_WHITEBALANCE`.
pub const KSPROPERTY_VIDEOPROCAMP_WHITEBALANCE: u32 = 7;
/// `KSPROPERTY_VIDEOPROCAMP_BACKLIGHT_COMPENSATION`.
pub const KSPROPERTY_VIDEOPROCAMP_BACKLIGHT_COMPENSATION: u32 = 8;
/// `KSPROPERTY_VIDEOPROCAMP_GAIN`.
pub const KSPROPERTY_VIDEOPROCAMP_GAIN: u32 = 9;
/// `KSPROPERTY_VIDEOPROCAMP_POWERLINE_FREQUENCY`: 0 disabled, 1 50 Hz, 2 60 Hz, 3 auto.
pub const KSPROPERTY_VIDEOPROCAMP_POWERLINE_FREQUENCY: u32 = 13;
/// `KSPROPERTY_VIDEOPROCAMP_FLAGS_AUTO`.
pub const KSPROPERTY_VIDEOPROCAMP_FLAGS_AUTO: u32 = 0x0001;
/// `KSPROPERTY_VIDEOPROCAMP_FLAGS_MANUAL`.
pub const KSPROPERTY_VIDEOPROCAMP_FLAGS_MANUAL: u32 = 0x0002;

/// `KSPROPERTY_VIDEOPROCAMP_S` (40 bytes): the request and the value of a ProcAmp property.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct KSPROPERTY_VIDEOPROCAMP_S {
    /// `Property`.
    pub Property: KSIDENTIFIER,
    /// `Value`.
    pub Value: i32,
    /// `Flags`: `KSPROPERTY_VIDEOPROCAMP_FLAGS_*`.
    pub Flags: u32,
    /// `Capabilities`: the `KSPROPERTY_VIDEOPROCAMP_FLAGS_*` the property supports.
    pub Capabilities: u32,
    /// The C compiler's tail padding to 8-byte alignment (always zero).
    pub _pad: u32,
}

/// {6A2E0670-28E4-11D0-A18C-00A0C9118956}
pub const PROPSETID_VIDCAP_VIDEOCONTROL: GUID =
    GUID::from_u128(0x6A2E0670_28E4_11D0_A18C_00A0C9118956);
/// `KSPROPERTY_VIDEOCONTROL_CAPS`: the `KS_VideoControlFlag_*` a stream supports.
pub const KSPROPERTY_VIDEOCONTROL_CAPS: u32 = 0;
/// `KSPROPERTY_VIDEOCONTROL_ACTUAL_FRAME_RATE`.
pub const KSPROPERTY_VIDEOCONTROL_ACTUAL_FRAME_RATE: u32 = 1;
/// `KSPROPERTY_VIDEOCONTROL_FRAME_RATES`.
pub const KSPROPERTY_VIDEOCONTROL_FRAME_RATES: u32 = 2;
/// `KSPROPERTY_VIDEOCONTROL_MODE`: the `KS_VideoControlFlag_*` in effect.
pub const KSPROPERTY_VIDEOCONTROL_MODE: u32 = 3;
/// `KS_VideoControlFlag_FlipHorizontal`.
pub const KS_VideoControlFlag_FlipHorizontal: u32 = 0x0001;
/// `KS_VideoControlFlag_FlipVertical`.
pub const KS_VideoControlFlag_FlipVertical: u32 = 0x0002;
/// `KS_VideoControlFlag_ExternalTriggerEnable`.
pub const KS_VideoControlFlag_ExternalTriggerEnable: u32 = 0x0004;
/// `KS_VideoControlFlag_Trigger`.
pub const KS_VideoControlFlag_Trigger: u32 = 0x0008;

/// `KSPROPERTY_VIDEOCONTROL_CAPS_S` (32 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct KSPROPERTY_VIDEOCONTROL_CAPS_S {
    /// `Property`.
    pub Property: KSIDENTIFIER,
    /// `StreamIndex`: the pin factory id.
    pub StreamIndex: u32,
    /// `VideoControlCaps`: `KS_VideoControlFlag_*`.
    pub VideoControlCaps: u32,
}

/// `KSPROPERTY_VIDEOCONTROL_MODE_S` (32 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct KSPROPERTY_VIDEOCONTROL_MODE_S {
    /// `Property`.
    pub Property: KSIDENTIFIER,
    /// `StreamIndex`: the pin factory id.
    pub StreamIndex: u32,
    /// `Mode`: `KS_VideoControlFlag_*`.
    pub Mode: i32,
}

/// {1A8766A0-62CE-11CF-A5D6-28DB04C10000}
pub const KSINTERFACESETID_Standard: GUID = GUID::from_u128(0x1A8766A0_62CE_11CF_A5D6_28DB04C10000);
/// {4747B320-62CE-11CF-A5D6-28DB04C10000}
pub const KSMEDIUMSETID_Standard: GUID = GUID::from_u128(0x4747B320_62CE_11CF_A5D6_28DB04C10000);

// --- Format GUIDs ---

/// {73646976-0000-0010-8000-00AA00389B71} ('vids')
pub const KSDATAFORMAT_TYPE_VIDEO: GUID = GUID::from_u128(0x73646976_0000_0010_8000_00AA00389B71);
/// {3231564E-0000-0010-8000-00AA00389B71} (uuids.h `MEDIASUBTYPE_NV12`)
pub const KSDATAFORMAT_SUBTYPE_NV12: GUID = GUID::from_u128(0x3231564E_0000_0010_8000_00AA00389B71);
/// {32595559-0000-0010-8000-00AA00389B71} (uuids.h `MEDIASUBTYPE_YUY2`)
pub const KSDATAFORMAT_SUBTYPE_YUY2: GUID = GUID::from_u128(0x32595559_0000_0010_8000_00AA00389B71);
/// {E436EB7D-524F-11CE-9F53-0020AF0BA770} (uuids.h `MEDIASUBTYPE_RGB24`)
pub const KSDATAFORMAT_SUBTYPE_RGB24: GUID =
    GUID::from_u128(0xE436EB7D_524F_11CE_9F53_0020AF0BA770);
/// {E436EB7E-524F-11CE-9F53-0020AF0BA770} (uuids.h `MEDIASUBTYPE_RGB32`)
pub const KSDATAFORMAT_SUBTYPE_RGB32: GUID =
    GUID::from_u128(0xE436EB7E_524F_11CE_9F53_0020AF0BA770);
/// {05589F80-C356-11CE-BF01-00AA0055595A}
pub const KSDATAFORMAT_SPECIFIER_VIDEOINFO: GUID =
    GUID::from_u128(0x05589F80_C356_11CE_BF01_00AA0055595A);
/// {00000000-0000-0000-0000-000000000000} (`GUID_NULL`)
pub const KSDATAFORMAT_TYPE_WILDCARD: GUID = GUID::NULL;
/// {00000000-0000-0000-0000-000000000000} (`GUID_NULL`)
pub const KSDATAFORMAT_SUBTYPE_WILDCARD: GUID = GUID::NULL;
/// {00000000-0000-0000-0000-000000000000} (`GUID_NULL`)
pub const KSDATAFORMAT_SPECIFIER_WILDCARD: GUID = GUID::NULL;

// --- Pin names ---

/// {FB6C4281-0353-11D1-905F-0000C0CC16BA} (= `PINNAME_CAPTURE`)
pub const PINNAME_VIDEO_CAPTURE: GUID = GUID::from_u128(0xFB6C4281_0353_11D1_905F_0000C0CC16BA);
/// {FB6C4282-0353-11D1-905F-0000C0CC16BA} (= `PINNAME_PREVIEW`)
pub const PINNAME_VIDEO_PREVIEW: GUID = GUID::from_u128(0xFB6C4282_0353_11D1_905F_0000C0CC16BA);
/// {FB6C428A-0353-11D1-905F-0000C0CC16BA}
pub const PINNAME_VIDEO_STILL: GUID = GUID::from_u128(0xFB6C428A_0353_11D1_905F_0000C0CC16BA);

// --- Layout assertions (Windows x64 figures from the mingw-w64 headers) ---

#[cfg(target_pointer_width = "64")]
mod layout {

    use super::*;

    assert_layout!(RECT, size 16, align 4);
    assert_layout!(SIZE, size 8, align 4);
    assert_layout!(KSDATAFORMAT, size 64, align 8);
    assert_offset!(KSDATAFORMAT, MajorFormat, 16);
    assert_offset!(KSDATAFORMAT, SubFormat, 32);
    assert_offset!(KSDATAFORMAT, Specifier, 48);
    assert_layout!(KSMULTIPLE_ITEM, size 8, align 4);
    assert_layout!(KS_BITMAPINFOHEADER, size 40, align 4);
    assert_offset!(KS_BITMAPINFOHEADER, biSizeImage, 20);
    assert_layout!(KS_VIDEOINFOHEADER, size 88, align 8);
    assert_offset!(KS_VIDEOINFOHEADER, dwBitRate, 32);
    assert_offset!(KS_VIDEOINFOHEADER, AvgTimePerFrame, 40);
    assert_offset!(KS_VIDEOINFOHEADER, bmiHeader, 48);
    assert_layout!(KS_DATAFORMAT_VIDEOINFOHEADER, size 152, align 8);
    assert_offset!(KS_DATAFORMAT_VIDEOINFOHEADER, VideoInfoHeader, 64);
    assert_layout!(KS_VIDEO_STREAM_CONFIG_CAPS, size 128, align 8);
    assert_offset!(KS_VIDEO_STREAM_CONFIG_CAPS, MinOutputSize, 60);
    assert_offset!(KS_VIDEO_STREAM_CONFIG_CAPS, MinFrameInterval, 104);
    assert_offset!(KS_VIDEO_STREAM_CONFIG_CAPS, MaxFrameInterval, 112);
    assert_offset!(KS_VIDEO_STREAM_CONFIG_CAPS, MinBitsPerSecond, 120);
    assert_layout!(KS_DATARANGE_VIDEO, size 296, align 8);
    assert_offset!(KS_DATARANGE_VIDEO, bFixedSizeSamples, 64);
    assert_offset!(KS_DATARANGE_VIDEO, ConfigCaps, 80);
    assert_offset!(KS_DATARANGE_VIDEO, VideoInfoHeader, 208);
    assert_layout!(KSTIME, size 16, align 8);
    assert_layout!(KSSTREAM_HEADER, size 56, align 8);
    assert_offset!(KSSTREAM_HEADER, PresentationTime, 8);
    assert_offset!(KSSTREAM_HEADER, Duration, 24);
    assert_offset!(KSSTREAM_HEADER, FrameExtent, 32);
    assert_offset!(KSSTREAM_HEADER, DataUsed, 36);
    assert_offset!(KSSTREAM_HEADER, Data, 40);
    assert_offset!(KSSTREAM_HEADER, OptionsFlags, 48);
    assert_layout!(KS_FRAME_INFO, size 72, align 8);
    assert_offset!(KS_FRAME_INFO, PictureNumber, 8);
    assert_offset!(KS_FRAME_INFO, DropCount, 16);
    assert_offset!(KS_FRAME_INFO, hDirectDraw, 24);
    assert_offset!(KS_FRAME_INFO, DirectDrawRect, 40);
    assert_offset!(KS_FRAME_INFO, Reserved1, 56);
    assert_layout!(KSPRIORITY, size 8, align 4);
    assert_layout!(KSPIN_CONNECT, size 72, align 8);
    assert_offset!(KSPIN_CONNECT, Medium, 24);
    assert_offset!(KSPIN_CONNECT, PinId, 48);
    assert_offset!(KSPIN_CONNECT, PinToHandle, 56);
    assert_offset!(KSPIN_CONNECT, Priority, 64);
    assert_layout!(KSP_PIN, size 32, align 8);
    assert_offset!(KSP_PIN, PinId, 24);
    assert_layout!(KSPIN_CINSTANCES, size 8, align 4);
    assert_layout!(KSPROPERTY_DROPPEDFRAMES_CURRENT_S, size 48, align 8);
    assert_offset!(KSPROPERTY_DROPPEDFRAMES_CURRENT_S, PictureNumber, 24);
    assert_offset!(KSPROPERTY_DROPPEDFRAMES_CURRENT_S, DropCount, 32);
    assert_offset!(KSPROPERTY_DROPPEDFRAMES_CURRENT_S, AverageFrameSize, 40);
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::string::String;
    use std::vec::Vec;

    use super::*;

    const INCLUDE: &str = "/usr/x86_64-w64-mingw32/include";

    /// Every GUID of this module with the header name that defines it.
    const GUIDS: &[(&str, GUID)] = &[
        ("KSPROPSETID_Pin", KSPROPSETID_Pin),
        ("KSPROPSETID_Connection", KSPROPSETID_Connection),
        ("KSPROPSETID_Stream", KSPROPSETID_Stream),
        (
            "PROPSETID_VIDCAP_DROPPEDFRAMES",
            PROPSETID_VIDCAP_DROPPEDFRAMES,
        ),
        (
            "PROPSETID_VIDCAP_VIDEOPROCAMP",
            PROPSETID_VIDCAP_VIDEOPROCAMP,
        ),
        (
            "PROPSETID_VIDCAP_VIDEOCONTROL",
            PROPSETID_VIDCAP_VIDEOCONTROL,
        ),
        ("KSINTERFACESETID_Standard", KSINTERFACESETID_Standard),
        ("KSMEDIUMSETID_Standard", KSMEDIUMSETID_Standard),
        ("KSDATAFORMAT_TYPE_VIDEO", KSDATAFORMAT_TYPE_VIDEO),
        (
            "KSDATAFORMAT_SPECIFIER_VIDEOINFO",
            KSDATAFORMAT_SPECIFIER_VIDEOINFO,
        ),
        ("PINNAME_VIDEO_CAPTURE", PINNAME_VIDEO_CAPTURE),
        ("PINNAME_VIDEO_PREVIEW", PINNAME_VIDEO_PREVIEW),
        ("PINNAME_VIDEO_STILL", PINNAME_VIDEO_STILL),
        ("MEDIASUBTYPE_NV12", KSDATAFORMAT_SUBTYPE_NV12),
        ("MEDIASUBTYPE_YUY2", KSDATAFORMAT_SUBTYPE_YUY2),
        ("MEDIASUBTYPE_RGB24", KSDATAFORMAT_SUBTYPE_RGB24),
        ("MEDIASUBTYPE_RGB32", KSDATAFORMAT_SUBTYPE_RGB32),
    ];

    fn registry_form(guid: &GUID) -> String {
        let mut text = [0u8; 36];
        guid.write_ascii(&mut text);
        String::from_utf8(text.to_vec()).unwrap()
    }

    /// Finds `NAME`'s value in the header text: either `DEFINE_GUIDSTRUCT("xxxxxxxx-...",NAME)`
    /// (ks.h, ksmedia.h) or `OUR_GUID_ENTRY(NAME,0x...,0x...,...)` (uuids.h).
    fn header_guid(text: &str, name: &str) -> Option<String> {
        for line in text.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("DEFINE_GUIDSTRUCT(\"") {
                let (value, tail) = rest.split_once('"')?;
                if tail.trim_start_matches(',').trim().strip_prefix(name) == Some(");") {
                    return Some(value.to_ascii_uppercase());
                }
            }
            if let Some(rest) = line.strip_prefix("OUR_GUID_ENTRY(") {
                let mut parts = rest.trim_end_matches(')').split(',');
                if parts.next()?.trim() != name {
                    continue;
                }
                let numbers: Vec<u64> = parts
                    .map(|p| u64::from_str_radix(p.trim().trim_start_matches("0x"), 16).unwrap())
                    .collect();
                let [d1, d2, d3, rest @ ..] = numbers.as_slice() else {
                    return None;
                };
                let mut out = std::format!("{d1:08X}-{d2:04X}-{d3:04X}-");
                for (i, b) in rest.iter().enumerate() {
                    if i == 2 {
                        out.push('-');
                    }
                    out.push_str(&std::format!("{b:02X}"));
                }
                return Some(out);
            }
        }
        None
    }

    #[test]
    fn every_guid_matches_the_public_headers() {
        let mut text = String::new();
        for header in ["ks.h", "ksmedia.h", "uuids.h"] {
            match std::fs::read_to_string(std::format!("{INCLUDE}/{header}")) {
                Ok(t) => text.push_str(&t),
                Err(_) => {
                    std::eprintln!("skipped: mingw-w64 headers not installed under {INCLUDE}");
                    return;
                }
            }
        }
        for (name, guid) in GUIDS {
            let expected =
                header_guid(&text, name).unwrap_or_else(|| panic!("{name} not in headers"));
            assert_eq!(registry_form(guid), expected, "{name}");
        }
    }

    #[test]
    fn fourccs_are_little_endian_ascii() {
        assert_eq!(FOURCC_NV12, 0x3231_564E);
        assert_eq!(FOURCC_YUY2, 0x3259_5559);
        // The FOURCC subtypes carry the FOURCC in Data1.
        assert_eq!(KSDATAFORMAT_SUBTYPE_NV12.Data1, FOURCC_NV12);
        assert_eq!(KSDATAFORMAT_SUBTYPE_YUY2.Data1, FOURCC_YUY2);
    }

    #[test]
    fn a_range_round_trips_through_bytes() {
        use zerocopy::FromBytes;
        let mut range = KS_DATARANGE_VIDEO::default();
        range.DataRange.FormatSize = 296;
        range.VideoInfoHeader.bmiHeader.biWidth = 640;
        range.ConfigCaps.MaxFrameInterval = 10_000_000;
        let bytes = range.as_bytes();
        assert_eq!(bytes.len(), 296);
        assert_eq!(&bytes[0..4], &296u32.to_le_bytes());
        // biWidth sits at 208 + 48 + 4.
        assert_eq!(&bytes[260..264], &640i32.to_le_bytes());
        let back = KS_DATARANGE_VIDEO::read_from_bytes(bytes).unwrap();
        assert_eq!(back, range);
    }
}
