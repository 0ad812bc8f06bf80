//! avcam's fault-injection property set on the filter (`PROPSETID_AVCAM_FAULTS`): the plan of
//! faults injected into every due frame, one stall, failures of the next requests, and the
//! counters of everything injected (`avstream::faults` decides and counts; the pins apply the
//! device's plan at their next frame, [`crate::frame_path`]).
//!
//! A SET of a plan, a stall or failures is refused with STATUS_ACCESS_DENIED unless the
//! device's registry switch is on (a SET that switches injection off, an empty plan, a stall of 0
//! or no failures, is always accepted, so a plan set while the switch was on can be cleared
//! after it went off): the `REG_DWORD` [`FAULT_INJECTION_VALUE`] of the device's
//! hardware key (`Device Parameters`) is 1. The INF installs it as 0; a tester turns it on with
//! `reg add` (docs/viewer.md) or the installer's switch. It is read at each such SET
//! (`IoOpenDeviceRegistryKey` on the device's PDO, `ZwQueryValueKey`, `ZwClose`, at
//! PASSIVE_LEVEL as property handlers run), so turning it off takes effect at once without
//! restarting the device. GETs answer whatever the switch: `KSPROPERTY_AVCAM_FAULTS_ENABLED`
//! tells a client whether its SETs would be refused.

use avcam_kernel::{IoOpenDeviceRegistryKey, ZwClose, ZwQueryValueKey};
use avstream::controls::ValueRange;
use avstream::faults::{check_stall, FailNext, FaultCounters, FaultPlan, MAX_STALL_MS};
use ks::avcam::{
    AVCAM_FAULT_COUNTERS, AVCAM_FAULT_FAIL, AVCAM_FAULT_PLAN, KSPROPERTY_AVCAM_FAULTS_COUNTERS,
    KSPROPERTY_AVCAM_FAULTS_ENABLED, KSPROPERTY_AVCAM_FAULTS_FAIL, KSPROPERTY_AVCAM_FAULTS_PLAN,
    KSPROPERTY_AVCAM_FAULTS_STALL,
};
use ks::avstream::KSPROPERTY_ITEM;
use ks::ks::{KSIDENTIFIER, VT_UI4};
use ks::nt::{
    KeyValuePartialInformation, DEVICE_OBJECT, HANDLE, KEY_READ, KEY_VALUE_PARTIAL_INFORMATION,
    PLUGPLAY_REGKEY_DEVICE, REG_DWORD, UNICODE_STRING,
};
use ks::status::nt_success;

use crate::error::DriverError;
use crate::identity::{FAULT_INJECTION_VALUE, FAULT_INJECTION_VALUE_UTF16Z};
use crate::property::{handler, item, item_values, size, Call};
use crate::ranges::Shared;

/// Reads the `REG_DWORD` [`FAULT_INJECTION_VALUE`] of `pdo`'s hardware key: `None` when the
/// key cannot be opened or the value is missing or not a DWORD.
fn injection_switch(pdo: *mut DEVICE_OBJECT) -> Option<u32> {
    let mut key: HANDLE = core::ptr::null_mut();
    // SAFETY: the device's PDO, a writable handle; property handlers run at PASSIVE_LEVEL.
    let status =
        unsafe { IoOpenDeviceRegistryKey(pdo, PLUGPLAY_REGKEY_DEVICE, KEY_READ, &mut key) };
    if !nt_success(status) {
        return None;
    }
    let mut name_buffer = FAULT_INJECTION_VALUE_UTF16Z;
    let mut name = UNICODE_STRING {
        Length: (FAULT_INJECTION_VALUE.len() * 2) as u16,
        MaximumLength: (name_buffer.len() * 2) as u16,
        Buffer: name_buffer.as_mut_ptr(),
    };
    let mut info = KEY_VALUE_PARTIAL_INFORMATION::default();
    let mut needed = 0u32;
    // SAFETY: the key just opened; the name, the information buffer (its whole size: the fixed
    // part and four bytes of data) and the length live across the call; PASSIVE_LEVEL.
    let status = unsafe {
        ZwQueryValueKey(
            key,
            &mut name,
            KeyValuePartialInformation,
            (&raw mut info).cast(),
            size::<KEY_VALUE_PARTIAL_INFORMATION>(),
            &mut needed,
        )
    };
    // SAFETY: the handle IoOpenDeviceRegistryKey returned, closed once.
    unsafe { ZwClose(key) };
    (nt_success(status) && info.Type == REG_DWORD && info.DataLength == 4)
        .then(|| u32::from_le_bytes(info.Data))
}

/// Whether the registry switch allows injection (the value is exactly 1).
fn injection_allowed(call: &Call) -> Result<bool, DriverError> {
    Ok(injection_switch(call.physical_device()?) == Some(1))
}

/// Refuses a SET that injects something (`injects`) unless the switch is on.
fn require_switch(call: &Call, injects: bool) -> Result<(), DriverError> {
    if !injects || injection_allowed(call)? {
        Ok(())
    } else {
        Err(DriverError::InjectionDisabled)
    }
}

handler! {
    /// GET `KSPROPERTY_AVCAM_FAULTS_PLAN`: the plan injected now.
    plan_get(KSIDENTIFIER, AVCAM_FAULT_PLAN) => |call: &Call| {
        call.write(call.device()?.settings().faults.to_ks())
    }
}

handler! {
    /// SET `KSPROPERTY_AVCAM_FAULTS_PLAN`: checked, injected from each pin's next frame; the
    /// counters start again from zero.
    plan_set(KSIDENTIFIER, AVCAM_FAULT_PLAN) => |call: &Call| {
        let plan = FaultPlan::from_ks(&call.value::<AVCAM_FAULT_PLAN>()?)?;
        require_switch(call, plan != FaultPlan::NONE)?;
        call.device()?.change(|s| {
            s.faults = plan;
            s.counters = FaultCounters::ZERO;
            Ok::<(), DriverError>(())
        })?;
        Ok(0)
    }
}

handler! {
    /// GET `KSPROPERTY_AVCAM_FAULTS_STALL`: the stall asked for and not started yet (0 none).
    stall_get(KSIDENTIFIER, u32) => |call: &Call| {
        call.write(call.device()?.settings().stall_ms)
    }
}

handler! {
    /// SET `KSPROPERTY_AVCAM_FAULTS_STALL`: one stall of this many milliseconds, taken by the
    /// first pin to deliver a frame after it (0 cancels one not started).
    stall_set(KSIDENTIFIER, u32) => |call: &Call| {
        let ms = check_stall(call.value::<u32>()?)?;
        require_switch(call, ms != 0)?;
        call.device()?.change(|s| {
            s.stall_ms = ms;
            Ok::<(), DriverError>(())
        })?;
        Ok(0)
    }
}

handler! {
    /// GET `KSPROPERTY_AVCAM_FAULTS_FAIL`: the failures not spent yet.
    fail_get(KSIDENTIFIER, AVCAM_FAULT_FAIL) => |call: &Call| {
        call.write(call.device()?.settings().fail.to_ks())
    }
}

handler! {
    /// SET `KSPROPERTY_AVCAM_FAULTS_FAIL`: fail the next request of each kind with its status.
    fail_set(KSIDENTIFIER, AVCAM_FAULT_FAIL) => |call: &Call| {
        let fail = FailNext::from_ks(&call.value::<AVCAM_FAULT_FAIL>()?)?;
        require_switch(call, fail != FailNext::default())?;
        call.device()?.change(|s| {
            s.fail = fail;
            Ok::<(), DriverError>(())
        })?;
        Ok(0)
    }
}

handler! {
    /// GET `KSPROPERTY_AVCAM_FAULTS_COUNTERS`: everything injected since the plan was set.
    counters_get(KSIDENTIFIER, AVCAM_FAULT_COUNTERS) => |call: &Call| {
        call.write(call.device()?.settings().counters.to_ks())
    }
}

handler! {
    /// GET `KSPROPERTY_AVCAM_FAULTS_ENABLED`: 1 when the registry switch allows injection.
    enabled_get(KSIDENTIFIER, u32) => |call: &Call| {
        call.write(u32::from(injection_allowed(call)?))
    }
}

/// The stall's range: 0 (none) to [`MAX_STALL_MS`], default 0.
const STALL_RANGE: ValueRange = ValueRange::new(0, MAX_STALL_MS as i64, 0);
item_values!(stall, STALL_RANGE, VT_UI4);

/// The fault set's items (structure-valued but the stall: no `Values`).
pub static FAULT_ITEMS: Shared<[KSPROPERTY_ITEM; 5]> = Shared([
    item(
        KSPROPERTY_AVCAM_FAULTS_PLAN,
        Some(plan_get),
        Some(plan_set),
        size::<KSIDENTIFIER>(),
        size::<AVCAM_FAULT_PLAN>(),
        core::ptr::null(),
    ),
    item(
        KSPROPERTY_AVCAM_FAULTS_STALL,
        Some(stall_get),
        Some(stall_set),
        size::<KSIDENTIFIER>(),
        size::<u32>(),
        &raw const stall::VALUES.0,
    ),
    item(
        KSPROPERTY_AVCAM_FAULTS_FAIL,
        Some(fail_get),
        Some(fail_set),
        size::<KSIDENTIFIER>(),
        size::<AVCAM_FAULT_FAIL>(),
        core::ptr::null(),
    ),
    item(
        KSPROPERTY_AVCAM_FAULTS_COUNTERS,
        Some(counters_get),
        None,
        size::<KSIDENTIFIER>(),
        size::<AVCAM_FAULT_COUNTERS>(),
        core::ptr::null(),
    ),
    item(
        KSPROPERTY_AVCAM_FAULTS_ENABLED,
        Some(enabled_get),
        None,
        size::<KSIDENTIFIER>(),
        size::<u32>(),
        core::ptr::null(),
    ),
]);
