//! The camera's device: its `KSDEVICE_DESCRIPTOR` (no filter descriptors), its `Add` and
//! `Remove` (the device-wide state of [`crate::device_state`]) and its PnP start callback, which creates the capture filter factory with `KsCreateFilterFactory` and the
//! reference string [`REFERENCE_STRING`], as avshws does (`CCaptureDevice::PnpStart`).
//!
//! The reference string is documented end to end this way: `KsCreateFilterFactory` uses its
//! `RefString` argument for the factory's device interfaces when one is given (else the
//! descriptor's `ReferenceGuid`), and the INF registers the same interfaces with the same
//! reference string (`inf/avcam.inx`, cross-checked by `tests/inf.rs`). A factory created in
//! the Start callback, before PostStart, has its interfaces enabled by AVStream itself.

use core::ptr::null_mut;

use avcam_kernel::{KsAcquireDevice, KsCreateFilterFactory, KsReleaseDevice};
use ks::avstream::{KSDEVICE, KSDEVICE_DESCRIPTOR, KSDEVICE_DESCRIPTOR_VERSION, KSDEVICE_DISPATCH};
use ks::ks::KSCREATE_ITEM_FREEONSTOP;
use ks::nt::IRP;
use ks::status::{STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER, STATUS_SUCCESS};
use ks::NTSTATUS;

use crate::device_state::DeviceState;
use crate::filter::{Shared, FILTER_DESCRIPTOR};
use crate::identity::{REFERENCE_STRING, REFERENCE_STRING_UTF16Z};
use crate::pool_box::PoolBox;

/// [`REFERENCE_STRING`] for `KsCreateFilterFactory` (it takes a `PWSTR` it only reads).
static REFERENCE: Shared<[u16; REFERENCE_STRING.len() + 1]> = Shared(REFERENCE_STRING_UTF16Z);

/// `PFNKSDEVICEPNPSTART`: on the first start, creates the capture filter factory (device mutex
/// held, as `KsCreateFilterFactory` requires). Its create item is freed on PnP stop
/// (`KSCREATE_ITEM_FREEONSTOP`), so a later start creates it again, as `KSDEVICE.Started`
/// tells.
///
/// # Safety
/// ks.sys's contract: a live KSDEVICE at PASSIVE_LEVEL, its functional device object set.
#[ks::kernel_abi]
pub unsafe extern "system" fn device_start(
    device: *mut KSDEVICE,
    _irp: *mut IRP,
    _translated: *mut core::ffi::c_void,
    _untranslated: *mut core::ffi::c_void,
) -> NTSTATUS {
    if device.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: a live KSDEVICE (ks.sys's contract).
    if unsafe { (*device).Started } != 0 {
        return STATUS_SUCCESS;
    }
    // SAFETY: a live KSDEVICE at PASSIVE_LEVEL.
    unsafe { KsAcquireDevice(device) };
    // SAFETY: a live KSDEVICE: its functional device object.
    let fdo = unsafe { (*device).FunctionalDeviceObject };
    // SAFETY: the device's FDO, a static descriptor and reference string that outlive the
    // factory, no security descriptor, no power callbacks, no factory pointer wanted; the
    // device mutex is held (acquired above).
    let status = unsafe {
        KsCreateFilterFactory(
            fdo,
            &FILTER_DESCRIPTOR.0,
            REFERENCE.0.as_ptr().cast_mut(),
            null_mut(),
            KSCREATE_ITEM_FREEONSTOP,
            None,
            None,
            null_mut(),
        )
    };
    // SAFETY: acquired above on this device.
    unsafe { KsReleaseDevice(device) };
    status
}

/// `PFNKSDEVICECREATE` (`Add`): the device's [`DeviceState`] (its controls and fault plan, at
/// their defaults) in pool memory behind `KSDEVICE.Context`, which ks.sys initialises to NULL.
/// avshws allocates its device object here the same way (`CCaptureDevice::DispatchCreate`).
///
/// # Safety
/// ks.sys's contract: a live KSDEVICE at PASSIVE_LEVEL, before any filter exists.
#[ks::kernel_abi]
pub unsafe extern "system" fn device_add(device: *mut KSDEVICE) -> NTSTATUS {
    if device.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    let Some(state) = PoolBox::new(DeviceState::new()) else {
        return STATUS_INSUFFICIENT_RESOURCES;
    };
    // SAFETY: a live KSDEVICE; Context is the minidriver's.
    unsafe { (*device).Context = PoolBox::into_raw(state).cast() };
    STATUS_SUCCESS
}

/// `PFNKSDEVICEIRPVOID` (`Remove`): frees the [`DeviceState`]; every filter and pin is closed by
/// then (IRP_MN_REMOVE_DEVICE comes after the last handle).
///
/// # Safety
/// ks.sys's contract: a live KSDEVICE at PASSIVE_LEVEL whose `Add` ran; no filter or pin left.
#[ks::kernel_abi]
pub unsafe extern "system" fn device_remove(device: *mut KSDEVICE, _irp: *mut IRP) {
    if device.is_null() {
        return;
    }
    // SAFETY: a live KSDEVICE; Context is the minidriver's.
    let context = core::mem::take(unsafe { &mut (*device).Context });
    if !context.is_null() {
        // SAFETY: boxed by `device_add`, freed once here, no user left (function contract).
        drop(unsafe { PoolBox::from_raw(context.cast::<DeviceState>()) });
    }
}

static DEVICE_DISPATCH: Shared<KSDEVICE_DISPATCH> = Shared(KSDEVICE_DISPATCH {
    Add: Some(device_add),
    Start: Some(device_start),
    PostStart: None,
    QueryStop: None,
    CancelStop: None,
    Stop: None,
    QueryRemove: None,
    CancelRemove: None,
    Remove: Some(device_remove),
    QueryCapabilities: None,
    SurpriseRemoval: None,
    QueryPower: None,
    SetPower: None,
    QueryInterface: None,
});

/// The device descriptor handed to `KsInitializeDriver`: no filter descriptors (the factory is
/// created at PnP start), the dispatch above.
pub static DEVICE_DESCRIPTOR: Shared<KSDEVICE_DESCRIPTOR> = Shared(KSDEVICE_DESCRIPTOR {
    Dispatch: &raw const DEVICE_DISPATCH.0,
    FilterDescriptorsCount: 0,
    FilterDescriptors: core::ptr::null(),
    Version: KSDEVICE_DESCRIPTOR_VERSION,
    Flags: 0,
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_creates_its_factory_at_start_with_the_inf_reference_string() {
        let descriptor = &DEVICE_DESCRIPTOR.0;
        assert_eq!(descriptor.FilterDescriptorsCount, 0);
        // SAFETY: the static dispatch table.
        let dispatch = unsafe { &*descriptor.Dispatch };
        assert!(dispatch.Start.is_some());
        let text: std::string::String =
            char::decode_utf16(REFERENCE.0[..REFERENCE_STRING.len()].iter().copied())
                .map(|c| c.unwrap())
                .collect();
        assert_eq!(text, REFERENCE_STRING);
        assert_eq!(REFERENCE.0[REFERENCE_STRING.len()], 0);
    }
}
