//! The allocator's one error type, and its one conversion to NTSTATUS.
//!
//! Every refusal of the crate, from the pure core (request parsing, frame accounting) to the IRP
//! adapter (pool exhaustion, callbacks), is a variant here with the data that explains it.
//! [`Error::status`] is the only place where a variant becomes an NTSTATUS, and
//! [`Error::information`] the only place where one sets `IoStatus.Information`.

use core::fmt;

use ks::status::*;
use ks::{GUID, NTSTATUS};

/// Why the allocator refused a request. See each variant for the NTSTATUS it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    // --- Create requests (KsValidateAllocatorCreateRequest) ---
    /// The create name does not start with `KSSTRING_Allocator\` (`STATUS_OBJECT_NAME_NOT_FOUND`,
    /// what an unmatched create item reports).
    NotAnAllocatorName,
    /// Fewer parameter bytes than a `KSALLOCATOR_FRAMING` follow the name
    /// (`STATUS_INVALID_BUFFER_SIZE`: the size, not a value, is wrong).
    ShortParameters {
        /// The parameter bytes present.
        length: usize,
    },
    /// `FrameSize` is 0 (`STATUS_INVALID_PARAMETER`).
    ZeroFrameSize,
    /// `Frames` is 0 (`STATUS_INVALID_PARAMETER`).
    ZeroFrames,
    /// `OptionsFlags` / `RequirementsFlags` carry bits outside the known ones
    /// (`STATUS_INVALID_PARAMETER`).
    UnknownFlags {
        /// The unknown bits.
        flags: u32,
    },
    /// `KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY` on a create request (`STATUS_INVALID_PARAMETER`).
    PreferencesOnly,
    /// `FileAlignment` is not `2^n - 1` or exceeds `PAGE_SIZE - 1` (`STATUS_INVALID_PARAMETER`).
    BadFileAlignment {
        /// The mask given.
        mask: u32,
    },
    /// More frames than [`MAX_FRAMES`](crate::framing::MAX_FRAMES) (`STATUS_INVALID_PARAMETER`).
    TooManyFrames {
        /// The count given.
        frames: u32,
    },
    /// The frames would take more than [`MAX_TOTAL_BYTES`](crate::framing::MAX_TOTAL_BYTES)
    /// (`STATUS_INVALID_PARAMETER`).
    FramesTooLarge {
        /// `Frames * (FrameSize + FileAlignment)`, computed without overflow.
        total_bytes: u64,
    },
    /// `PoolType` is unknown, obsolete (MustSucceed) or a session pool
    /// (`STATUS_INVALID_PARAMETER`).
    UnsupportedPoolType {
        /// The `POOL_TYPE` given.
        pool_type: u32,
    },

    // --- KsValidateAllocatorFramingEx ---
    /// The `KSALLOCATOR_FRAMING_EX` buffer is smaller than the structure or than its `CountItems`
    /// items (`STATUS_INVALID_DEVICE_REQUEST`).
    FramingExTooSmall {
        /// The buffer size given.
        buffer_size: usize,
        /// The size the buffer needs.
        needed: u64,
    },
    /// A framing item is inconsistent or fits no item of the pin's framing
    /// (`STATUS_INVALID_DEVICE_REQUEST`).
    FramingExMismatch {
        /// The index of the offending item.
        item: u32,
    },

    // --- Property, method and event requests ---
    /// The input is shorter than a `KSPROPERTY`/`KSMETHOD`/`KSEVENT`, or than the `KSEVENTDATA`
    /// an event request needs (`STATUS_INVALID_PARAMETER`).
    ShortInput {
        /// The input bytes present.
        length: usize,
        /// The bytes needed.
        needed: usize,
    },
    /// The set is not one of the allocator's (`STATUS_PROPSET_NOT_FOUND`).
    SetNotFound {
        /// The set asked for.
        set: GUID,
    },
    /// The set is the allocator's but has no item with this id (`STATUS_NOT_FOUND`).
    ItemNotFound {
        /// The id asked for.
        id: u32,
    },
    /// The request type (`Flags`) is not supported for this item, e.g. a property SET
    /// (`STATUS_NOT_SUPPORTED`).
    UnsupportedRequestType {
        /// The `Flags` of the request.
        flags: u32,
    },
    /// The output (or method data) buffer is too small (`STATUS_BUFFER_TOO_SMALL`, with the
    /// needed size as `IoStatus.Information`).
    BufferTooSmall {
        /// The bytes needed.
        needed: usize,
    },
    /// An event notification type other than `KSEVENTF_EVENT_HANDLE`/`KSEVENTF_EVENT_OBJECT`
    /// (`STATUS_NOT_SUPPORTED`).
    UnsupportedNotification {
        /// The `NotificationType` given.
        notification: u32,
    },
    /// Every event registration slot is taken (`STATUS_INSUFFICIENT_RESOURCES`).
    EventTableFull,
    /// An event is already enabled with this `KSEVENTDATA` (`STATUS_INVALID_PARAMETER`).
    EventAlreadyEnabled,
    /// `IOCTL_KS_DISABLE_EVENT` names no enabled event (`STATUS_UNSUCCESSFUL`).
    EventNotEnabled,
    /// The event to signal was refused: `ObReferenceObjectByHandle`'s status for a handle,
    /// `STATUS_INVALID_PARAMETER` for a null `KEVENT` pointer.
    EventObjectRejected {
        /// The status it is reported with.
        status: NTSTATUS,
    },

    // --- Frames ---
    /// All `Frames` are outstanding: the function table's `AllocateFrame` fails with
    /// `STATUS_INSUFFICIENT_RESOURCES`; an ALLOC method waits instead.
    AllFramesOutstanding,
    /// FREE of an address this allocator never handed out (`STATUS_INVALID_PARAMETER`).
    ForeignFrame {
        /// The address given.
        address: usize,
    },
    /// FREE of a frame that is not outstanding, i.e. a double free (`STATUS_INVALID_PARAMETER`).
    FrameNotOutstanding {
        /// The address given.
        address: usize,
    },
    /// An external `DefaultAllocate` returned a frame that does not honour `FileAlignment`
    /// (`STATUS_DATATYPE_MISALIGNMENT_ERROR`).
    MisalignedFrame {
        /// The address returned.
        address: usize,
        /// The `FileAlignment` mask.
        mask: u32,
    },
    /// An external `DefaultAllocate` returned the same frame twice (`STATUS_INVALID_DEVICE_STATE`).
    DuplicateFrame {
        /// The address returned twice.
        address: usize,
    },

    // --- Resources and the IRP edge ---
    /// The pool (or an external `DefaultAllocate`) had no memory (`STATUS_INSUFFICIENT_RESOURCES`).
    OutOfMemory {
        /// The bytes asked for (0 for an external allocator, which is not told a size).
        bytes: usize,
    },
    /// The external `InitializeAllocator` failed; its status is returned unchanged.
    InitializeAllocatorFailed {
        /// Its status.
        status: NTSTATUS,
    },
    /// `DefaultAllocate` without `DefaultFree` or the reverse: frames could not be given back
    /// (`STATUS_INVALID_PARAMETER`).
    IncompleteCallbacks,
    /// A required pointer argument is NULL (`STATUS_INVALID_PARAMETER`).
    NullPointer,
    /// A ks.sys service (`KsAllocateObjectHeader`) failed; its status is returned unchanged.
    ServiceFailed {
        /// Its status.
        status: NTSTATUS,
    },
    /// A request from user mode: METHOD_NEITHER buffers cannot be probed without SEH, so they are
    /// refused (`STATUS_INVALID_DEVICE_REQUEST`).
    UserModeRequest,
    /// An IOCTL or major function the allocator does not handle (`STATUS_INVALID_DEVICE_REQUEST`).
    InvalidDeviceRequest,
    /// A pending ALLOC was cancelled, or the allocator closed under it (`STATUS_CANCELLED`).
    Cancelled,
}

impl Error {
    /// The NTSTATUS this error is reported as: the one conversion of the crate.
    pub const fn status(&self) -> NTSTATUS {
        match self {
            Error::NotAnAllocatorName => STATUS_OBJECT_NAME_NOT_FOUND,
            Error::ShortParameters { .. } => STATUS_INVALID_BUFFER_SIZE,
            Error::ZeroFrameSize
            | Error::ZeroFrames
            | Error::UnknownFlags { .. }
            | Error::PreferencesOnly
            | Error::BadFileAlignment { .. }
            | Error::TooManyFrames { .. }
            | Error::FramesTooLarge { .. }
            | Error::UnsupportedPoolType { .. } => STATUS_INVALID_PARAMETER,
            Error::FramingExTooSmall { .. } | Error::FramingExMismatch { .. } => {
                STATUS_INVALID_DEVICE_REQUEST
            }
            Error::ShortInput { .. } => STATUS_INVALID_PARAMETER,
            Error::SetNotFound { .. } => STATUS_PROPSET_NOT_FOUND,
            Error::ItemNotFound { .. } => STATUS_NOT_FOUND,
            Error::UnsupportedRequestType { .. } => STATUS_NOT_SUPPORTED,
            Error::BufferTooSmall { .. } => STATUS_BUFFER_TOO_SMALL,
            Error::UnsupportedNotification { .. } => STATUS_NOT_SUPPORTED,
            Error::EventTableFull => STATUS_INSUFFICIENT_RESOURCES,
            Error::EventAlreadyEnabled => STATUS_INVALID_PARAMETER,
            Error::EventNotEnabled => STATUS_UNSUCCESSFUL,
            Error::EventObjectRejected { status } => *status,
            Error::AllFramesOutstanding => STATUS_INSUFFICIENT_RESOURCES,
            Error::ForeignFrame { .. } | Error::FrameNotOutstanding { .. } => {
                STATUS_INVALID_PARAMETER
            }
            Error::MisalignedFrame { .. } => STATUS_DATATYPE_MISALIGNMENT_ERROR,
            Error::DuplicateFrame { .. } => STATUS_INVALID_DEVICE_STATE,
            Error::OutOfMemory { .. } => STATUS_INSUFFICIENT_RESOURCES,
            Error::InitializeAllocatorFailed { status } | Error::ServiceFailed { status } => {
                *status
            }
            Error::IncompleteCallbacks | Error::NullPointer => STATUS_INVALID_PARAMETER,
            Error::UserModeRequest | Error::InvalidDeviceRequest => STATUS_INVALID_DEVICE_REQUEST,
            Error::Cancelled => STATUS_CANCELLED,
        }
    }

    /// The `IoStatus.Information` that goes with the status: the needed size for
    /// [`Error::BufferTooSmall`], 0 otherwise.
    pub const fn information(&self) -> usize {
        match self {
            Error::BufferTooSmall { needed } => *needed,
            _ => 0,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.status();
        match status_name(status) {
            Some(name) => write!(f, "{self:?} ({name})"),
            None => write!(f, "{self:?} (0x{:08X})", status as u32),
        }
    }
}

/// A failure status passed through from a callback or service must still be a failure: a
/// misbehaving callback that "fails" with a success code is reported as `STATUS_UNSUCCESSFUL`.
#[allow(dead_code)] // used by the IRP adapter
pub(crate) const fn failure_or_unsuccessful(status: NTSTATUS) -> NTSTATUS {
    if nt_success(status) {
        STATUS_UNSUCCESSFUL
    } else {
        status
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::*;

    #[test]
    fn only_buffer_too_small_carries_information() {
        let small = Error::BufferTooSmall { needed: 32 };
        assert_eq!(small.status(), STATUS_BUFFER_TOO_SMALL);
        assert_eq!(small.information(), 32);
        assert_eq!(Error::ZeroFrames.information(), 0);
    }

    #[test]
    fn passthrough_statuses_are_returned_unchanged() {
        let status = STATUS_DEVICE_NOT_READY;
        assert_eq!(Error::InitializeAllocatorFailed { status }.status(), status);
        assert_eq!(
            Error::EventObjectRejected {
                status: STATUS_INVALID_HANDLE
            }
            .status(),
            STATUS_INVALID_HANDLE
        );
        assert_eq!(failure_or_unsuccessful(STATUS_SUCCESS), STATUS_UNSUCCESSFUL);
        assert_eq!(failure_or_unsuccessful(status), status);
    }

    #[test]
    fn display_names_the_status() {
        let text = format!("{}", Error::SetNotFound { set: GUID::NULL });
        assert!(text.contains("STATUS_PROPSET_NOT_FOUND"), "{text}");
    }
}
