//! The device's registry keys, as a driver reads them: `IoOpenDeviceRegistryKey` on the device's
//! physical device object, `ZwQueryValueKey` (`KeyValuePartialInformation`) and `ZwClose`.
//!
//! Sources (learn.microsoft.com, ddi/wdm): IoOpenDeviceRegistryKey, ZwQueryValueKey,
//! KEY_VALUE_PARTIAL_INFORMATION; "Introduction to Registry Keys for Drivers" (the hardware key's
//! `Device Parameters`, which an INF's `HKR` AddReg in a `.HW` section writes).
//!
//! - **The keys**: each kernel has one device, so one hardware key (`PLUGPLAY_REGKEY_DEVICE`) and
//!   one software key (`PLUGPLAY_REGKEY_DRIVER`), empty until a test or the viewer writes a value
//!   with [`Kernel::set_device_registry_value`] (standing in for the INF or the installer).
//!   `PLUGPLAY_REGKEY_CURRENT_HWPROFILE` may be added to either and changes nothing (hardware
//!   profiles are deprecated).
//!   The driver's service key, the path `DriverEntry` gets
//!   ([`DRIVER_REGISTRY_PATH`](crate::DRIVER_REGISTRY_PATH), which the INF's `AddService`
//!   creates), is a third key, not one of these: avcam reads nothing from it, and its
//!   `FaultInjection` switch lives in the hardware key, where the INF's `DDInstall.HW` section
//!   writes it (`tests/inf.rs` checks it is written nowhere else).
//! - **`IoOpenDeviceRegistryKey(Pdo, KeyType, Access, &Handle)`**: PASSIVE_LEVEL (above it:
//!   reported); `Pdo` must be the physical device object the device was added with, and `KeyType`
//!   exactly one of DEVICE and DRIVER (plus the profile bit), else STATUS_INVALID_PARAMETER; the
//!   handle is a kernel handle of the driver's: one never closed with `ZwClose` is a leak.
//!   `Access` is not checked (no security is emulated).
//! - **`ZwQueryValueKey(Key, Name, Class, Info, Length, &ResultLength)`**: PASSIVE_LEVEL; a handle
//!   that is no key answers STATUS_INVALID_HANDLE (or STATUS_OBJECT_TYPE_MISMATCH for another
//!   object's handle); value names compare without case; a value not there answers
//!   STATUS_OBJECT_NAME_NOT_FOUND. Only `KeyValuePartialInformation` is emulated (the other classes
//!   answer STATUS_NOT_IMPLEMENTED: a limit). `ResultLength` always receives the size the whole
//!   answer needs; a buffer shorter than the fixed part gets STATUS_BUFFER_TOO_SMALL and nothing;
//!   one with room for the fixed part but not all the data gets STATUS_BUFFER_OVERFLOW and as
//!   much as fits ("only partial data has been written").

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Mutex, MutexGuard};

use ks::nt::{
    KeyValuePartialInformation, DEVICE_OBJECT, HANDLE, KEY_VALUE_INFORMATION_CLASS,
    KEY_VALUE_PARTIAL_INFORMATION_HEADER, PASSIVE_LEVEL, PLUGPLAY_REGKEY_CURRENT_HWPROFILE,
    PLUGPLAY_REGKEY_DEVICE, PLUGPLAY_REGKEY_DRIVER, REG_DWORD, UNICODE_STRING,
};
use ks::status::{
    STATUS_BUFFER_OVERFLOW, STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_PARAMETER,
    STATUS_NOT_IMPLEMENTED, STATUS_OBJECT_NAME_NOT_FOUND, STATUS_SUCCESS,
};
use ks::NTSTATUS;

use crate::kernel::KernelState;
use crate::sync::check_irql;
use crate::Kernel;

/// Which of the device's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceKey {
    /// The hardware key (`PLUGPLAY_REGKEY_DEVICE`): `...\Enum\<instance>\Device Parameters`.
    Hardware,
    /// The software key (`PLUGPLAY_REGKEY_DRIVER`).
    Software,
}

/// One registry value: its `REG_*` type and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryValue {
    /// `REG_DWORD`, `REG_SZ`, ...
    pub kind: u32,
    /// The data.
    pub data: Vec<u8>,
}

impl RegistryValue {
    /// A `REG_DWORD`.
    pub fn dword(value: u32) -> RegistryValue {
        RegistryValue {
            kind: REG_DWORD,
            data: value.to_le_bytes().to_vec(),
        }
    }
}

/// The device's keys of one kernel: values by key and lower-case name.
#[derive(Default)]
pub(crate) struct Registry {
    values: Mutex<HashMap<(DeviceKey, String), RegistryValue>>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<(DeviceKey, String), RegistryValue>> {
        self.values.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, key: DeviceKey, name: &str) -> Option<RegistryValue> {
        self.lock().get(&(key, name.to_lowercase())).cloned()
    }
}

impl Kernel {
    /// Writes (or, with `None`, deletes) a value of the device's `key`, as an INF's AddReg or an
    /// installer would; the driver sees it at its next `ZwQueryValueKey`.
    pub fn set_device_registry_value(
        &self,
        key: DeviceKey,
        name: &str,
        value: Option<RegistryValue>,
    ) {
        let mut values = self.state.registry.lock();
        let name = (key, name.to_lowercase());
        match value {
            Some(value) => values.insert(name, value),
            None => values.remove(&name),
        };
    }
}

/// `IoOpenDeviceRegistryKey` (see the module docs).
///
/// # Safety
/// `handle` must be writable.
pub(crate) unsafe fn open_device_key(
    state: &KernelState,
    device: *mut DEVICE_OBJECT,
    key_type: u32,
    handle: *mut HANDLE,
) -> NTSTATUS {
    check_irql(state, "IoOpenDeviceRegistryKey", PASSIVE_LEVEL);
    if device != state.io.physical() {
        return STATUS_INVALID_PARAMETER;
    }
    let key = match key_type & !PLUGPLAY_REGKEY_CURRENT_HWPROFILE {
        PLUGPLAY_REGKEY_DEVICE => DeviceKey::Hardware,
        PLUGPLAY_REGKEY_DRIVER => DeviceKey::Software,
        _ => return STATUS_INVALID_PARAMETER,
    };
    let value = state.objects.open_key(key);
    // SAFETY: the caller guarantees `handle` is writable.
    unsafe { handle.write(value) };
    STATUS_SUCCESS
}

/// The characters of a `UNICODE_STRING` (`Length` bytes; NULL or empty: "").
///
/// # Safety
/// `name` must be NULL or a live UNICODE_STRING whose `Buffer` holds `Length` bytes.
unsafe fn name_of(name: *const UNICODE_STRING) -> String {
    // SAFETY: the caller's guarantee.
    let Some(name) = (unsafe { name.as_ref() }) else {
        return String::new();
    };
    if name.Buffer.is_null() {
        return String::new();
    }
    let units = usize::from(name.Length) / 2;
    let text: Vec<u16> = (0..units)
        .map(|i| {
            // SAFETY: unit `i` is within the Length bytes Buffer holds (the caller's guarantee).
            let unit = unsafe { name.Buffer.add(i) };
            // SAFETY: the same unit, maybe unaligned.
            unsafe { unit.read_unaligned() }
        })
        .collect();
    String::from_utf16_lossy(&text)
}

/// `ZwQueryValueKey` (see the module docs).
///
/// # Safety
/// `name` must be a live UNICODE_STRING; `info` NULL or writable for `length` bytes;
/// `result_length` writable.
pub(crate) unsafe fn query_value(
    state: &KernelState,
    key: HANDLE,
    name: *const UNICODE_STRING,
    class: KEY_VALUE_INFORMATION_CLASS,
    info: *mut c_void,
    length: u32,
    result_length: *mut u32,
) -> NTSTATUS {
    check_irql(state, "ZwQueryValueKey", PASSIVE_LEVEL);
    let key = match state.objects.key_of(key) {
        Ok(key) => key,
        Err(status) => return status,
    };
    if class != KeyValuePartialInformation {
        return STATUS_NOT_IMPLEMENTED;
    }
    // SAFETY: the caller's guarantee.
    let name = unsafe { name_of(name) };
    let Some(value) = state.registry.get(key, &name) else {
        return STATUS_OBJECT_NAME_NOT_FOUND;
    };
    let needed = KEY_VALUE_PARTIAL_INFORMATION_HEADER + value.data.len();
    // SAFETY: the caller guarantees `result_length` is writable.
    unsafe { result_length.write(needed as u32) };
    let length = length as usize;
    if info.is_null() || length < KEY_VALUE_PARTIAL_INFORMATION_HEADER {
        return STATUS_BUFFER_TOO_SMALL;
    }
    let mut answer = Vec::with_capacity(needed);
    answer.extend_from_slice(&0u32.to_le_bytes());
    answer.extend_from_slice(&value.kind.to_le_bytes());
    answer.extend_from_slice(&(value.data.len() as u32).to_le_bytes());
    answer.extend_from_slice(&value.data);
    let written = answer.len().min(length);
    // SAFETY: `info` holds `length` writable bytes (the caller's guarantee), `written` at most.
    unsafe { std::ptr::copy_nonoverlapping(answer.as_ptr(), info.cast::<u8>(), written) };
    if written < needed {
        STATUS_BUFFER_OVERFLOW
    } else {
        STATUS_SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::{IoOpenDeviceRegistryKey, ZwClose, ZwQueryValueKey};
    use ks::nt::KEY_READ;
    use ks::status::{STATUS_INVALID_HANDLE, STATUS_OBJECT_TYPE_MISMATCH};

    fn utf16(text: &str) -> Vec<u16> {
        text.encode_utf16().collect()
    }

    fn unicode(units: &mut [u16]) -> UNICODE_STRING {
        UNICODE_STRING {
            Length: (units.len() * 2) as u16,
            MaximumLength: (units.len() * 2) as u16,
            Buffer: units.as_mut_ptr(),
        }
    }

    /// Opens `key_type` on the kernel's PDO (or `device`), returning the status and handle.
    fn open(
        kernel: &Kernel,
        device: Option<*mut DEVICE_OBJECT>,
        key_type: u32,
    ) -> (NTSTATUS, HANDLE) {
        let _entered = kernel.enter();
        let mut handle: HANDLE = std::ptr::null_mut();
        let device = device.unwrap_or(kernel.state.io.physical());
        // SAFETY: a writable handle.
        let status = unsafe { IoOpenDeviceRegistryKey(device, key_type, KEY_READ, &mut handle) };
        (status, handle)
    }

    fn query(kernel: &Kernel, key: HANDLE, name: &str, length: usize) -> (NTSTATUS, u32, Vec<u8>) {
        let _entered = kernel.enter();
        let mut units = utf16(name);
        let mut name = unicode(&mut units);
        let mut info = vec![0xEEu8; length];
        let mut result = 0u32;
        let pointer = if length == 0 {
            std::ptr::null_mut()
        } else {
            info.as_mut_ptr().cast()
        };
        // SAFETY: a live name, a buffer of `length` bytes, a writable result length.
        let status = unsafe {
            ZwQueryValueKey(
                key,
                &mut name,
                KeyValuePartialInformation,
                pointer,
                length as u32,
                &mut result,
            )
        };
        (status, result, info)
    }

    fn close(kernel: &Kernel, handle: HANDLE) -> NTSTATUS {
        let _entered = kernel.enter();
        // SAFETY: ZwClose takes any handle value.
        unsafe { ZwClose(handle) }
    }

    #[test]
    fn a_dword_is_read_whole_partially_or_not_at_all_by_the_buffer_it_gets() {
        let kernel = Kernel::new();
        kernel.set_device_registry_value(
            DeviceKey::Hardware,
            "FaultInjection",
            Some(RegistryValue::dword(1)),
        );
        let (status, key) = open(&kernel, None, PLUGPLAY_REGKEY_DEVICE);
        assert_eq!(status, STATUS_SUCCESS);
        // The whole answer: TitleIndex 0, REG_DWORD, 4 bytes, 1; names compare without case.
        let (status, needed, info) = query(&kernel, key, "faultinjection", 16);
        assert_eq!((status, needed), (STATUS_SUCCESS, 16));
        assert_eq!(
            &info[..16],
            &[0, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0]
        );
        // Room for the fixed part only: the fixed part, STATUS_BUFFER_OVERFLOW.
        let (status, needed, info) = query(&kernel, key, "FaultInjection", 12);
        assert_eq!((status, needed), (STATUS_BUFFER_OVERFLOW, 16));
        assert_eq!(&info[4..8], &REG_DWORD.to_le_bytes());
        // Less than the fixed part: nothing written.
        let (status, needed, info) = query(&kernel, key, "FaultInjection", 8);
        assert_eq!((status, needed), (STATUS_BUFFER_TOO_SMALL, 16));
        assert!(info.iter().all(|&b| b == 0xEE));
        let (status, _, _) = query(&kernel, key, "Missing", 16);
        assert_eq!(status, STATUS_OBJECT_NAME_NOT_FOUND);
        // The software key is another key.
        let (_, software) = open(
            &kernel,
            None,
            PLUGPLAY_REGKEY_DRIVER | PLUGPLAY_REGKEY_CURRENT_HWPROFILE,
        );
        assert_eq!(
            query(&kernel, software, "FaultInjection", 16).0,
            STATUS_OBJECT_NAME_NOT_FOUND
        );
        assert_eq!(close(&kernel, software), STATUS_SUCCESS);
        // A value deleted is gone.
        kernel.set_device_registry_value(DeviceKey::Hardware, "FaultInjection", None);
        assert_eq!(
            query(&kernel, key, "FaultInjection", 16).0,
            STATUS_OBJECT_NAME_NOT_FOUND
        );
        assert_eq!(close(&kernel, key), STATUS_SUCCESS);
        assert!(kernel.objects().leaked_kernel_handles().is_empty());
        kernel.assert_no_leaks();
    }

    #[test]
    fn bad_devices_key_types_and_handles_are_refused_and_an_open_key_is_a_leak() {
        let kernel = Kernel::new();
        let fdo = kernel.state.io.device();
        assert_eq!(
            open(&kernel, Some(fdo), PLUGPLAY_REGKEY_DEVICE).0,
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(
            open(
                &kernel,
                None,
                PLUGPLAY_REGKEY_DEVICE | PLUGPLAY_REGKEY_DRIVER
            )
            .0,
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(open(&kernel, None, 0).0, STATUS_INVALID_PARAMETER);
        assert_eq!(
            query(&kernel, 0x1234 as HANDLE, "x", 16).0,
            STATUS_INVALID_HANDLE
        );
        let event = kernel.create_event();
        assert_eq!(
            query(&kernel, event, "x", 16).0,
            STATUS_OBJECT_TYPE_MISMATCH
        );
        let (status, key) = open(&kernel, None, PLUGPLAY_REGKEY_DEVICE);
        assert_eq!(status, STATUS_SUCCESS);
        assert_eq!(kernel.objects().leaked_kernel_handles(), vec![key as usize]);
        assert_eq!(close(&kernel, key), STATUS_SUCCESS);
        assert_eq!(close(&kernel, key), STATUS_INVALID_HANDLE);
        kernel.close_handle(event);
    }

    #[test]
    fn the_registry_is_read_at_passive_level_only() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        {
            let _entered = kernel.enter();
            crate::kernel::set_irql(ks::nt::DISPATCH_LEVEL);
            let mut handle: HANDLE = std::ptr::null_mut();
            // SAFETY: a writable handle.
            let status = unsafe {
                IoOpenDeviceRegistryKey(
                    kernel.state.io.physical(),
                    PLUGPLAY_REGKEY_DEVICE,
                    KEY_READ,
                    &mut handle,
                )
            };
            crate::kernel::set_irql(PASSIVE_LEVEL);
            assert_eq!(status, STATUS_SUCCESS);
            // SAFETY: the handle just opened.
            unsafe { ZwClose(handle) };
        }
        let bugs = kernel.take_bugs();
        assert!(
            bugs.iter().any(|bug| matches!(
                bug,
                crate::Bug::IrqlTooHigh {
                    service: "IoOpenDeviceRegistryKey",
                    ..
                }
            )),
            "{bugs:?}"
        );
    }
}
