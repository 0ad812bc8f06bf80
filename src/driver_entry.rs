//! `DriverEntry`, the image's entry point (the `DriverEntry` symbol itself is defined in
//! `runtime`, so that the driver does not export it): hands the camera's device descriptor
//! ([`crate::device::DEVICE_DESCRIPTOR`]) to `KsInitializeDriver`, which routes every IRP to
//! ks.sys and sets AddDevice; on PnP start the device's Start callback
//! ([`crate::device::device_start`]) creates the capture filter factory, whose device
//! interfaces (KSCATEGORY_VIDEO, _CAPTURE, _VIDEO_CAMERA, reference string "GLOBAL") AVStream
//! registers and enables.

use avcam_kernel::KsInitializeDriver;
use ks::nt::{DRIVER_OBJECT, UNICODE_STRING};
use ks::status::STATUS_INVALID_PARAMETER;
use ks::NTSTATUS;

use crate::device::DEVICE_DESCRIPTOR;

/// `NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)`.
///
/// `STATUS_INVALID_PARAMETER` for a null driver object, else what `KsInitializeDriver` says.
///
/// # Safety
/// `driver` is null or the DRIVER_OBJECT the I/O manager passes, `registry_path` its registry
/// path (or null), as the I/O manager guarantees.
#[allow(non_snake_case)]
#[ks::kernel_abi]
pub unsafe extern "system" fn DriverEntry(
    driver: *mut DRIVER_OBJECT,
    registry_path: *const UNICODE_STRING,
) -> NTSTATUS {
    if driver.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: the I/O manager's arguments, forwarded; the descriptor is static and immutable.
    unsafe { KsInitializeDriver(driver, registry_path.cast_mut(), &DEVICE_DESCRIPTOR.0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::ptr;

    #[test]
    fn null_driver_object_is_rejected() {
        // SAFETY: null is allowed by the contract.
        let status = unsafe { DriverEntry(ptr::null_mut(), ptr::null()) };
        assert_eq!(status, STATUS_INVALID_PARAMETER);
    }
}
