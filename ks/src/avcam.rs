//! avcam's own property sets: the test pattern and its overlays, and fault injection. No
//! Windows header defines them; the driver (`src/`), the KS client (`client/`) and the docs
//! (docs/avstream-guide.md, "avcam's property sets") share these values.
//!
//! Both sets are answered on the filter (any filter instance: the values are the device's).
//! Every request is a bare `KSPROPERTY` (`MinProperty` = 24); the data is the value: a `LONG`
//! or `ULONG` (4 bytes), [`AVCAM_CAPTION`], or one of the structures below.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::guid::GUID;
use crate::status::NTSTATUS;

// --- The pattern set ---

/// {E18B25EE-5E68-4BAC-9528-C1EEDAC0BD61}: the test pattern, its overlays, colour, noise seed and
/// caption.
pub const PROPSETID_AVCAM_PATTERN: GUID = GUID::from_u128(0xE18B25EE_5E68_4BAC_9528_C1EEDAC0BD61);
/// The pattern, a `LONG`: one of `AVCAM_PATTERN_*`.
pub const KSPROPERTY_AVCAM_PATTERN: u32 = 0;
/// The overlays, a `ULONG` mask of `AVCAM_OVERLAY_*`.
pub const KSPROPERTY_AVCAM_OVERLAYS: u32 = 1;
/// The solid pattern's colour, a `ULONG` `0x00RRGGBB` (full-range R'G'B').
pub const KSPROPERTY_AVCAM_SOLID_COLOUR: u32 = 2;
/// The noise strip's seed, a `ULONG` (the same seed renders the same noise).
pub const KSPROPERTY_AVCAM_NOISE_SEED: u32 = 3;
/// The caption overlay's text: an [`AVCAM_CAPTION`].
pub const KSPROPERTY_AVCAM_CAPTION: u32 = 4;

/// 75% colour bars (EIA-189-A), castellations, a grey ramp and a black band: the default.
pub const AVCAM_PATTERN_BARS75: i32 = 0;
/// 100% colour bars, full height.
pub const AVCAM_PATTERN_BARS100: i32 = 1;
/// A horizontal grey ramp, black to white.
pub const AVCAM_PATTERN_RAMP: i32 = 2;
/// Black and white squares.
pub const AVCAM_PATTERN_CHECKERBOARD: i32 = 3;
/// One colour: `KSPROPERTY_AVCAM_SOLID_COLOUR`.
pub const AVCAM_PATTERN_SOLID: i32 = 4;
/// A moving circular zone plate (rings whose frequency rises to the Nyquist limit at the
/// picture's half width, drifting inwards frame by frame).
pub const AVCAM_PATTERN_ZONE_PLATE: i32 = 5;

/// Overlay: the `FRAME` line (picture number).
pub const AVCAM_OVERLAY_FRAME_COUNTER: u32 = 0x01;
/// Overlay: the `T` line (stream time).
pub const AVCAM_OVERLAY_TIME: u32 = 0x02;
/// Overlay: the `DROP` line (drop count).
pub const AVCAM_OVERLAY_DROP_COUNT: u32 = 0x04;
/// Overlay: the moving white square.
pub const AVCAM_OVERLAY_MOVING_BOX: u32 = 0x08;
/// Overlay: the noise strip (bottom right).
pub const AVCAM_OVERLAY_NOISE: u32 = 0x10;
/// Overlay: the caption line.
pub const AVCAM_OVERLAY_CAPTION: u32 = 0x20;

/// Bytes of [`AVCAM_CAPTION`]: up to 31 characters and a NUL.
pub const AVCAM_CAPTION_BYTES: usize = 32;

/// `AVCAM_CAPTION` (32 bytes): printable ASCII (0x20..=0x7E), NUL-terminated; the bytes after the
/// NUL are ignored.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct AVCAM_CAPTION {
    /// The text.
    pub Text: [u8; AVCAM_CAPTION_BYTES],
}

// --- The fault-injection set ---

/// {3AD53278-AEE7-41F8-A587-B7376BDEDBA2}: fault injection, refused (STATUS_ACCESS_DENIED) unless
/// the device's registry value `FaultInjection` is 1.
pub const PROPSETID_AVCAM_FAULTS: GUID = GUID::from_u128(0x3AD53278_AEE7_41F8_A587_B7376BDEDBA2);
/// The plan: an [`AVCAM_FAULT_PLAN`] (GET, SET; a SET zeroes the counters).
pub const KSPROPERTY_AVCAM_FAULTS_PLAN: u32 = 0;
/// One stall: a `ULONG` of milliseconds (GET: the stall not started yet, 0 none; SET).
pub const KSPROPERTY_AVCAM_FAULTS_STALL: u32 = 1;
/// Failures of the next requests: an [`AVCAM_FAULT_FAIL`] (GET: those not spent yet; SET).
pub const KSPROPERTY_AVCAM_FAULTS_FAIL: u32 = 2;
/// What was injected so far: an [`AVCAM_FAULT_COUNTERS`] (GET).
pub const KSPROPERTY_AVCAM_FAULTS_COUNTERS: u32 = 3;
/// Whether the registry switch is on: a `ULONG`, 1 or 0 (GET).
pub const KSPROPERTY_AVCAM_FAULTS_ENABLED: u32 = 4;

/// The registry value (`REG_DWORD`, in the device's hardware key, `Device Parameters`) that
/// allows fault injection when it is 1.
pub const AVCAM_FAULT_INJECTION_VALUE: &str = "FaultInjection";

/// `AVCAM_FAULT_PLAN` (80 bytes): the faults applied to every due frame from now on, each
/// decided from `Seed` and the frame's index alone, so a run with the same plan repeats exactly.
/// Zero switches a fault off.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct AVCAM_FAULT_PLAN {
    /// The seed of every random decision.
    pub Seed: u64,
    /// Drop this share of due frames, in hundredths of a percent (0..=10000).
    pub DropBasisPoints: u32,
    /// Drop bursts of this many consecutive frames ...
    pub BurstLength: u32,
    /// ... every this many frames (`BurstLength` <= `BurstPeriod`; both 0 or both set).
    pub BurstPeriod: u32,
    /// Complete every frame this late (microseconds, at most 1,000,000).
    pub DelayMicroseconds: u32,
    /// Plus a uniform random 0..=this (microseconds, at most 1,000,000).
    pub JitterMicroseconds: u32,
    /// Plus this (microseconds, at most 1,000,000) ...
    pub SpikeMicroseconds: u32,
    /// ... on every this-many-th frame (both 0 or both set).
    pub SpikeEvery: u32,
    /// Deliver every this-many-th frame empty (`DataUsed` 0).
    pub EmptyEvery: u32,
    /// Flag every this-many-th frame `KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY`.
    pub DiscontinuityEvery: u32,
    /// Must be 0.
    pub Reserved: u32,
    /// Add this to every `PresentationTime` (100 ns units).
    pub TimeOffset: i64,
    /// Then take `PresentationTime` modulo this (100 ns units; 0 = no wrap).
    pub TimeWrap: u64,
    /// Add this to every `PictureNumber`.
    pub PictureOffset: i64,
    /// Then take `PictureNumber` modulo this (0 = no wrap).
    pub PictureWrap: u64,
}

/// `AVCAM_FAULT_FAIL` (16 bytes): fail the next request of each kind with this NTSTATUS (an error
/// status, or 0 for none).
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct AVCAM_FAULT_FAIL {
    /// The next pin create.
    pub PinCreate: NTSTATUS,
    /// The next pin state change.
    pub StateChange: NTSTATUS,
    /// The next allocator create on a pin.
    pub AllocatorCreate: NTSTATUS,
    /// Must be 0.
    pub Reserved: u32,
}

/// `AVCAM_FAULT_COUNTERS` (120 bytes): every fault injected since the plan was last set.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct AVCAM_FAULT_COUNTERS {
    /// Frames dropped by `DropBasisPoints`.
    pub FramesDropped: u64,
    /// Frames dropped by bursts.
    pub FramesBurstDropped: u64,
    /// Frames dropped during stalls.
    pub FramesStallDropped: u64,
    /// Stalls started.
    pub Stalls: u64,
    /// Frames completed late.
    pub FramesDelayed: u64,
    /// Their delays, summed (microseconds).
    pub DelayMicroseconds: u64,
    /// Frames delivered empty.
    pub FramesEmpty: u64,
    /// Frames flagged as a discontinuity.
    pub FramesDiscontinuity: u64,
    /// Frames whose `PresentationTime` was offset or wrapped.
    pub FramesTimeShifted: u64,
    /// Frames whose `PresentationTime` went backwards against the pin's previous frame.
    pub TimeWraps: u64,
    /// Frames whose `PictureNumber` was offset or wrapped.
    pub FramesPictureShifted: u64,
    /// Frames whose `PictureNumber` went backwards against the pin's previous frame.
    pub PictureWraps: u64,
    /// Pin creates failed.
    pub FailedPinCreates: u64,
    /// Pin state changes failed.
    pub FailedStateChanges: u64,
    /// Allocator creates failed.
    pub FailedAllocatorCreates: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_structures_have_their_documented_sizes() {
        assert_eq!(core::mem::size_of::<AVCAM_CAPTION>(), 32);
        assert_eq!(core::mem::size_of::<AVCAM_FAULT_PLAN>(), 80);
        assert_eq!(core::mem::offset_of!(AVCAM_FAULT_PLAN, TimeOffset), 48);
        assert_eq!(core::mem::size_of::<AVCAM_FAULT_FAIL>(), 16);
        assert_eq!(core::mem::size_of::<AVCAM_FAULT_COUNTERS>(), 120);
        assert_ne!(PROPSETID_AVCAM_PATTERN, PROPSETID_AVCAM_FAULTS);
    }
}
