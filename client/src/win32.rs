//! The portable half of the Windows transport: how Win32 answers are read, kept apart from the
//! system calls (`windows`, Windows builds only) so that it is tested on every host.
//!
//! - [`status_from_win32`]: a `GetLastError` code as the client's [`Status`], and
//!   [`win32_from_hresult`] to get that code out of the `windows` crate's errors;
//! - [`detail_path`]: the device path out of an `SP_DEVICE_INTERFACE_DETAIL_DATA_W` buffer;
//! - [`multi_sz_contains`]: whether a `REG_MULTI_SZ` (a device's hardware IDs) lists an ID;
//! - [`registry_form`]: a GUID as `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}`.

use ks::status::STATUS_CANCELLED;
use ks::GUID;

use crate::transport::Status;

/// `ERROR_SUCCESS`.
pub const ERROR_SUCCESS: u32 = 0;
/// `ERROR_INSUFFICIENT_BUFFER`: the size query of `SetupDiGetDeviceInterfaceDetailW` and
/// `SetupDiGetDeviceRegistryPropertyW`.
pub const ERROR_INSUFFICIENT_BUFFER: u32 = 122;
/// `ERROR_MORE_DATA`: what `RtlNtStatusToDosError` makes of `STATUS_BUFFER_OVERFLOW`.
pub const ERROR_MORE_DATA: u32 = 234;
/// `ERROR_NO_MORE_ITEMS`: `SetupDiEnumDeviceInterfaces` past the last interface.
pub const ERROR_NO_MORE_ITEMS: u32 = 259;
/// `ERROR_OPERATION_ABORTED`: what `RtlNtStatusToDosError` makes of `STATUS_CANCELLED`.
pub const ERROR_OPERATION_ABORTED: u32 = 995;
/// `ERROR_IO_PENDING`: an overlapped request was queued.
pub const ERROR_IO_PENDING: u32 = 997;

/// The client's status for a Win32 result code: success, and the two NTSTATUS values the client
/// acts on (the size protocol's `STATUS_BUFFER_OVERFLOW`, a cancelled read's
/// `STATUS_CANCELLED`), are recovered from the codes `RtlNtStatusToDosError` maps them to;
/// every other code is kept as it is ([`Status::Win32`]), since that mapping is many-to-one.
pub fn status_from_win32(code: u32) -> Status {
    match code {
        ERROR_SUCCESS => Status::SUCCESS,
        ERROR_MORE_DATA => Status::BUFFER_OVERFLOW,
        ERROR_OPERATION_ABORTED => Status::Nt(STATUS_CANCELLED),
        other => Status::Win32(other),
    }
}

/// The Win32 code inside an `HRESULT_FROM_WIN32` value (`0x8007xxxx`), which is how the
/// `windows` crate reports `GetLastError`; any other HRESULT is returned unchanged.
pub fn win32_from_hresult(hresult: u32) -> u32 {
    if hresult & 0xFFFF_0000 == 0x8007_0000 {
        hresult & 0xFFFF
    } else {
        hresult
    }
}

/// `offsetof(SP_DEVICE_INTERFACE_DETAIL_W, DevicePath)`: after the `DWORD cbSize`.
const DEVICE_PATH_OFFSET: usize = 4;

/// The `DevicePath` of an `SP_DEVICE_INTERFACE_DETAIL_DATA_W` as filled by
/// `SetupDiGetDeviceInterfaceDetailW` (`bytes`: the whole buffer), NUL-terminated for
/// `CreateFileW`; `None` if the buffer holds no path.
pub fn detail_path(bytes: &[u8]) -> Option<Vec<u16>> {
    let units = bytes.get(DEVICE_PATH_OFFSET..)?;
    let mut path: Vec<u16> = units
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .take_while(|&unit| unit != 0)
        .collect();
    if path.is_empty() {
        return None;
    }
    path.push(0);
    Some(path)
}

/// Whether the `REG_MULTI_SZ` in `bytes` (UTF-16LE strings, each NUL-terminated, an empty one
/// last) lists `id`, compared without regard to ASCII case as Windows compares hardware IDs.
pub fn multi_sz_contains(bytes: &[u8], id: &str) -> bool {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    units
        .split(|&unit| unit == 0)
        .take_while(|entry| !entry.is_empty())
        .any(|entry| String::from_utf16(entry).is_ok_and(|entry| entry.eq_ignore_ascii_case(id)))
}

/// The registry form of `guid`, e.g. `{E5323777-F976-4F5B-9B55-B94699C46E44}`.
pub fn registry_form(guid: &GUID) -> String {
    let d = guid.Data4;
    format!(
        "{{{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}}}",
        guid.Data1, guid.Data2, guid.Data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ks::guid::KSCATEGORY_VIDEO_CAMERA;

    fn utf16le(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn the_device_path_follows_cbsize_and_ends_at_its_nul() {
        let path = r"\\?\root#camera#0000#{e5323777-f976-4f5b-9b55-b94699c46e44}\global";
        let mut buffer = 8u32.to_le_bytes().to_vec(); // cbSize as x64 callers set it
        buffer.extend(utf16le(path));
        buffer.extend([0, 0, 0xAA, 0xBB]); // NUL, then stale bytes of a larger buffer
        let parsed = detail_path(&buffer).unwrap();
        assert_eq!(parsed.last(), Some(&0));
        assert_eq!(
            String::from_utf16(&parsed[..parsed.len() - 1]).unwrap(),
            path
        );
        // A path that fills the buffer to its end is still NUL-terminated for CreateFileW.
        let mut full = 8u32.to_le_bytes().to_vec();
        full.extend(utf16le("ab"));
        assert_eq!(
            detail_path(&full),
            Some(vec![u16::from(b'a'), u16::from(b'b'), 0])
        );
    }

    #[test]
    fn a_buffer_without_a_path_gives_none() {
        assert_eq!(detail_path(&[]), None);
        assert_eq!(detail_path(&8u32.to_le_bytes()), None);
        assert_eq!(detail_path(&[8, 0, 0, 0, 0, 0, 0x41, 0]), None);
    }

    #[test]
    fn hardware_ids_are_matched_whole_and_without_case() {
        let mut ids = utf16le(r"ROOT\AVCAM");
        ids.extend([0, 0]);
        ids.extend(utf16le(r"Camera\Generic"));
        ids.extend([0, 0, 0, 0]);
        assert!(multi_sz_contains(&ids, r"Root\avcam"));
        assert!(multi_sz_contains(&ids, r"camera\generic"));
        assert!(!multi_sz_contains(&ids, r"Root\avca"));
        assert!(!multi_sz_contains(&ids, ""));
        // Nothing after the terminating empty string counts.
        let mut after_end = utf16le("A");
        after_end.extend([0, 0, 0, 0]);
        after_end.extend(utf16le("B"));
        assert!(!multi_sz_contains(&after_end, "B"));
    }

    #[test]
    fn win32_codes_become_statuses_only_where_the_mapping_is_one_to_one() {
        assert_eq!(status_from_win32(ERROR_SUCCESS), Status::SUCCESS);
        assert_eq!(status_from_win32(ERROR_MORE_DATA), Status::BUFFER_OVERFLOW);
        assert_eq!(
            status_from_win32(ERROR_OPERATION_ABORTED),
            Status::Nt(STATUS_CANCELLED)
        );
        assert_eq!(status_from_win32(2), Status::Win32(2));
        assert_eq!(
            status_from_win32(ERROR_INSUFFICIENT_BUFFER),
            Status::Win32(ERROR_INSUFFICIENT_BUFFER)
        );
    }

    #[test]
    fn hresults_from_win32_give_their_code_back() {
        assert_eq!(win32_from_hresult(0x8007_0103), ERROR_NO_MORE_ITEMS);
        assert_eq!(win32_from_hresult(0x8007_03E5), ERROR_IO_PENDING);
        assert_eq!(win32_from_hresult(0x8000_4005), 0x8000_4005); // E_FAIL is no Win32 code
    }

    #[test]
    fn guids_print_in_registry_form() {
        assert_eq!(
            registry_form(&KSCATEGORY_VIDEO_CAMERA),
            "{E5323777-F976-4F5B-9B55-B94699C46E44}"
        );
    }
}
