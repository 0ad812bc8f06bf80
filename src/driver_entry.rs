//! `DriverEntry`, the image's entry point (the `DriverEntry` symbol itself is defined in
//! `runtime`, so that the driver does not export it).
//!
//! PLACEHOLDER, completed by the camera issue: there it calls `KsInitializeDriver` with the device
//! descriptor, whose filter takes its categories and reference string from [`crate::identity`].
//! Until then it only installs an unload routine and succeeds, so that a test-signed build can be
//! loaded and unloaded as a plain service (`sc create ... type= kernel`) to prove the loader
//! accepts the image. Installed through the INF it does not start a device (no AddDevice yet).

use ks::nt::{DRIVER_OBJECT, UNICODE_STRING};
use ks::status::{STATUS_INVALID_PARAMETER, STATUS_SUCCESS};
use ks::NTSTATUS;

/// `NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)`.
///
/// Placeholder (see the module docs): sets `DriverUnload` and returns `STATUS_SUCCESS`;
/// `STATUS_INVALID_PARAMETER` for a null driver object.
///
/// # Safety
/// `driver` is null or points to a `DRIVER_OBJECT` nobody else accesses during the call, as the
/// I/O manager guarantees. `registry_path` is not read.
#[allow(non_snake_case)]
pub unsafe extern "system" fn DriverEntry(
    driver: *mut DRIVER_OBJECT,
    registry_path: *const UNICODE_STRING,
) -> NTSTATUS {
    let _ = registry_path;
    // SAFETY: by this function's contract `driver` is null or valid and exclusively ours for the
    // call; `as_mut` turns null into `None`.
    let Some(driver) = (unsafe { driver.as_mut() }) else {
        return STATUS_INVALID_PARAMETER;
    };
    driver.DriverUnload = Some(driver_unload);
    STATUS_SUCCESS
}

/// `DRIVER_UNLOAD`: nothing to release yet.
unsafe extern "system" fn driver_unload(driver: *mut DRIVER_OBJECT) {
    let _ = driver;
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::MaybeUninit;
    use core::ptr;

    fn zeroed_driver_object() -> DRIVER_OBJECT {
        // SAFETY: every field of DRIVER_OBJECT is an integer, a raw pointer or an `Option` of a
        // function pointer, for all of which all-zero bytes are a valid value (0 / null / None).
        unsafe { MaybeUninit::<DRIVER_OBJECT>::zeroed().assume_init() }
    }

    #[test]
    fn placeholder_installs_an_unload_routine_and_succeeds() {
        let mut driver = zeroed_driver_object();
        assert!(driver.DriverUnload.is_none());
        // SAFETY: `driver` is a valid DRIVER_OBJECT owned by this test for the call.
        let status = unsafe { DriverEntry(&mut driver, ptr::null()) };
        assert_eq!(status, STATUS_SUCCESS);
        let unload = driver.DriverUnload.expect("DriverUnload set");
        // SAFETY: the unload routine accepts the driver object DriverEntry was given.
        unsafe { unload(&mut driver) };
        // Nothing else was touched.
        assert!(driver.MajorFunction.iter().all(Option::is_none));
    }

    #[test]
    fn null_driver_object_is_rejected() {
        // SAFETY: null is allowed by the contract.
        let status = unsafe { DriverEntry(ptr::null_mut(), ptr::null()) };
        assert_eq!(status, STATUS_INVALID_PARAMETER);
    }
}
