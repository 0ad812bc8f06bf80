//! NTSTATUS values (ntstatus.h) used by avcam.

/// `NTSTATUS`: a signed 32-bit status; negative values are errors.
pub type NTSTATUS = i32;

/// `NT_SUCCESS(s)`: success and informational statuses are non-negative.
#[inline]
pub const fn nt_success(status: NTSTATUS) -> bool {
    status >= 0
}

/// `NT_ERROR(s)`: the error severity (the top two bits set); warnings are not errors.
#[inline]
pub const fn nt_error(status: NTSTATUS) -> bool {
    (status as u32) >> 30 == 3
}

macro_rules! statuses {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)*) => {
        $($(#[$doc])* pub const $name: NTSTATUS = $value as u32 as i32;)*

        /// The C name of a known status, for messages and test output.
        pub fn status_name(status: NTSTATUS) -> Option<&'static str> {
            match status {
                $(x if x == $name => Some(stringify!($name)),)*
                _ => None,
            }
        }
    };
}

statuses! {
    /// The operation completed successfully.
    STATUS_SUCCESS = 0x0000_0000u32;
    /// The operation will complete later; the IRP was marked pending.
    STATUS_PENDING = 0x0000_0103u32;
    /// More data is available than fits the buffer (a warning: the size was returned).
    STATUS_BUFFER_OVERFLOW = 0x8000_0005u32;
    /// No more entries in an enumeration.
    STATUS_NO_MORE_ENTRIES = 0x8000_001Au32;
    /// Unspecified failure.
    STATUS_UNSUCCESSFUL = 0xC000_0001u32;
    /// The request is not implemented.
    STATUS_NOT_IMPLEMENTED = 0xC000_0002u32;
    /// An invalid address was accessed (a user-mode buffer that cannot be probed and locked).
    STATUS_ACCESS_VIOLATION = 0xC000_0005u32;
    /// An invalid handle was given.
    STATUS_INVALID_HANDLE = 0xC000_0008u32;
    /// The caller may not do this (fault injection while the device's switch is off).
    STATUS_ACCESS_DENIED = 0xC000_0022u32;
    /// A parameter is invalid.
    STATUS_INVALID_PARAMETER = 0xC000_000Du32;
    /// The request is not valid for this device or object.
    STATUS_INVALID_DEVICE_REQUEST = 0xC000_0010u32;
    /// Not enough virtual memory.
    STATUS_NO_MEMORY = 0xC000_0017u32;
    /// The buffer is too small; IoStatus.Information holds the size needed.
    STATUS_BUFFER_TOO_SMALL = 0xC000_0023u32;
    /// The handle names an object of another type than the one asked for.
    STATUS_OBJECT_TYPE_MISMATCH = 0xC000_0024u32;
    /// The object has no security descriptor (security queries on a KS object without one).
    STATUS_NO_SECURITY_ON_OBJECT = 0xC000_00D7u32;
    /// The object name was not found (no create item matches).
    STATUS_OBJECT_NAME_NOT_FOUND = 0xC000_0034u32;
    /// The object name already exists (a create item of that name is there already).
    STATUS_OBJECT_NAME_COLLISION = 0xC000_0035u32;
    /// An integer overflow occurred.
    STATUS_INTEGER_OVERFLOW = 0xC000_0095u32;
    /// Not enough system resources (pool) to complete the request.
    STATUS_INSUFFICIENT_RESOURCES = 0xC000_009Au32;
    /// The device is not ready.
    STATUS_DEVICE_NOT_READY = 0xC000_00A3u32;
    /// The request is not supported.
    STATUS_NOT_SUPPORTED = 0xC000_00BBu32;
    /// The I/O request was cancelled.
    STATUS_CANCELLED = 0xC000_0120u32;
    /// The object is in a state that does not allow the request.
    STATUS_INVALID_DEVICE_STATE = 0xC000_0184u32;
    /// The buffer size is invalid for this request.
    STATUS_INVALID_BUFFER_SIZE = 0xC000_0206u32;
    /// The item (property, method, event, set) was not found.
    STATUS_NOT_FOUND = 0xC000_0225u32;
    /// KS: the property, method or event *set* is not supported by the object (ntstatus.h).
    STATUS_PROPSET_NOT_FOUND = 0xC000_0230u32;
    /// A datum is not aligned as the request requires (ntstatus.h).
    STATUS_DATATYPE_MISALIGNMENT_ERROR = 0xC000_02C5u32;
    /// No data range matched (data intersection).
    STATUS_NO_MATCH = 0xC000_0272u32;
    /// The device is busy.
    STATUS_DEVICE_BUSY = 0x8000_0011u32;
    /// Too many instances of an object (pin instances beyond the limit).
    STATUS_TOO_MANY_NODES = 0xC000_020Eu32;
    /// The handle was closed while the request was pending.
    STATUS_HANDLES_CLOSED = 0x8000_000Au32;
    /// The end of the stream (or file) was reached.
    STATUS_END_OF_FILE = 0xC000_0011u32;
    /// No room left (no empty create-item slot for KsAddObjectCreateItemToObjectHeader).
    STATUS_ALLOTTED_SPACE_EXCEEDED = 0xC000_0099u32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_negative_and_successes_are_not() {
        assert!(nt_success(STATUS_SUCCESS));
        assert!(nt_success(STATUS_PENDING));
        assert!(!nt_success(STATUS_INVALID_PARAMETER));
        // Warnings (severity 2) are not successes either.
        assert!(!nt_success(STATUS_BUFFER_OVERFLOW));
        assert!(
            !nt_error(STATUS_BUFFER_OVERFLOW),
            "a warning is not an error"
        );
        assert!(nt_error(STATUS_CANCELLED) && !nt_error(STATUS_SUCCESS));
        assert_eq!(STATUS_BUFFER_TOO_SMALL as u32, 0xC000_0023);
        assert_eq!(status_name(STATUS_NOT_FOUND), Some("STATUS_NOT_FOUND"));
        assert_eq!(status_name(0x1234), None);
    }
}
