//! Who the driver is to Windows: the names and GUIDs that `inf/avcam.inx` registers and the
//! driver itself uses, in one place.
//!
//! An INF cannot import Rust, so `tests/inf.rs` parses the INF and checks it against these
//! constants. The filter descriptor (written with the camera) must take its categories and its
//! reference string from here: a category or reference-string mismatch between the INF and the
//! driver is the classic reason an AVStream camera installs but never shows up.

use ks::guid::{
    CLSID_Proxy, GUID_DEVCLASS_CAMERA, KSCATEGORY_CAPTURE, KSCATEGORY_VIDEO,
    KSCATEGORY_VIDEO_CAMERA,
};
use ks::GUID;

/// The root-enumerated hardware ID of the one virtual device (`devcon install avcam.inf
/// Root\avcam`); Windows compares hardware IDs without regard to case.
pub const HARDWARE_ID: &str = r"Root\avcam";

/// The service name: the INF's `AddService` name and the key under
/// `HKLM\SYSTEM\CurrentControlSet\Services`.
pub const SERVICE_NAME: &str = "avcam";

/// The driver image the service loads (the INF copies it and names it in `ServiceBinary`).
pub const SERVICE_BINARY: &str = "avcam.sys";

/// The setup class name (`Class=` in the INF).
pub const DEVICE_CLASS_NAME: &str = "Camera";

/// The setup class GUID (`ClassGuid=` in the INF): the Camera class.
pub const DEVICE_CLASS: GUID = GUID_DEVCLASS_CAMERA;

/// The reference string of the filter's device interfaces; it must equal the `RefString` the
/// filter factory is created with, or the interfaces open nothing.
pub const REFERENCE_STRING: &str = "GLOBAL";

/// [`REFERENCE_STRING`] as the NUL-terminated UTF-16 string the KS functions take.
pub const REFERENCE_STRING_UTF16Z: [u16; 7] = ascii_utf16z(REFERENCE_STRING);

/// The filter's categories (`KSFILTER_DESCRIPTOR.Categories`), which are exactly the device
/// interfaces the INF registers: capture, video, and video camera (what the Camera app and Media
/// Foundation's frame server enumerate).
pub const FILTER_CATEGORIES: [GUID; 3] = [
    KSCATEGORY_CAPTURE,
    KSCATEGORY_VIDEO,
    KSCATEGORY_VIDEO_CAMERA,
];

/// The `CLSID` value under every interface's registry key: the KS proxy (ksproxy.ax).
pub const INTERFACE_CLSID: GUID = CLSID_Proxy;

/// The name applications show for the camera (the interfaces' `FriendlyName`).
pub const FRIENDLY_NAME: &str = "avcam Virtual Camera";

/// The pool tag of the shell's allocations: reads `avcm` in a pool dump (the tag is stored
/// little-endian, so the first character is the low byte).
pub const POOL_TAG: u32 = u32::from_le_bytes(*b"avcm");

/// The pool tag of the frames the pin's allocator hands a kernel-mode consumer (`avcf`), apart
/// from the shell's own state so a pool dump tells them apart.
pub const FRAME_POOL_TAG: u32 = u32::from_le_bytes(*b"avcf");

/// The oldest Windows build the driver can load on: 19041, Windows 10 version 2004, the first to
/// export `ExAllocatePool2` (see `scripts/check_driver.py` for the import list). The INF's models
/// section is decorated with this build so older systems refuse the package.
pub const MINIMUM_WINDOWS_BUILD: u32 = 19041;

/// The device parameter (a `REG_DWORD` in the device's hardware key, `Device Parameters`) that
/// allows fault injection (`PROPSETID_AVCAM_FAULTS`) when it is 1. The INF writes it as
/// [`FAULT_INJECTION_DEFAULT`]: off, so a camera installed for real use never misbehaves on
/// request.
pub const FAULT_INJECTION_VALUE: &str = ks::avcam::AVCAM_FAULT_INJECTION_VALUE;

/// [`FAULT_INJECTION_VALUE`] as the UTF-16 the registry functions take (with a NUL, not counted
/// in the `UNICODE_STRING`).
pub const FAULT_INJECTION_VALUE_UTF16Z: [u16; FAULT_INJECTION_VALUE.len() + 1] =
    ascii_utf16z(FAULT_INJECTION_VALUE);

/// The value the INF installs for [`FAULT_INJECTION_VALUE`]: 0, injection refused.
pub const FAULT_INJECTION_DEFAULT: u32 = 0;

/// Encodes an ASCII string as NUL-terminated UTF-16 at compile time; `N` must be its length + 1.
const fn ascii_utf16z<const N: usize>(text: &str) -> [u16; N] {
    let bytes = text.as_bytes();
    assert!(
        bytes.len() + 1 == N,
        "N must be the length of the text plus the NUL"
    );
    let mut out = [0u16; N];
    let mut i = 0;
    while i < bytes.len() {
        assert!(
            bytes[i].is_ascii() && bytes[i] != 0,
            "ASCII text without NUL only"
        );
        out[i] = bytes[i] as u16;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_reference_string_matches_the_text_and_ends_with_nul() {
        let (text, nul) = REFERENCE_STRING_UTF16Z.split_at(REFERENCE_STRING.len());
        assert!(text.iter().copied().eq(REFERENCE_STRING.encode_utf16()));
        assert_eq!(nul, &[0]);
    }

    #[test]
    fn categories_are_distinct_and_include_the_camera_app_one() {
        for (i, a) in FILTER_CATEGORIES.iter().enumerate() {
            for b in &FILTER_CATEGORIES[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert!(FILTER_CATEGORIES.contains(&KSCATEGORY_VIDEO_CAMERA));
    }

    #[test]
    fn service_binary_is_the_service_name_dot_sys() {
        assert_eq!(SERVICE_BINARY.strip_suffix(".sys"), Some(SERVICE_NAME));
        assert!(HARDWARE_ID.to_ascii_lowercase().ends_with(SERVICE_NAME));
    }

    #[test]
    fn pool_tag_reads_avcm_in_memory_order() {
        assert_eq!(&POOL_TAG.to_le_bytes(), b"avcm");
    }
}
