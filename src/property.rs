//! What every filter property handler of avcam needs: the device the request is for, the value
//! buffers read and written (maybe unaligned), the answer, and the `KSPROPERTY_VALUES` from which
//! ks.sys answers basic-support queries (a stepped range and a default per item).
//!
//! KS hands a handler the request (the `KSPROPERTY`, or the `_S` structure it starts) and the
//! value buffer, at least `MinProperty` and `MinData` bytes long (ks.sys checked); a GET writes
//! its value there and sets `IoStatus.Information` to its size, a SET reads it from there.

use core::ffi::c_void;
use core::mem::size_of;

use avcam_kernel::{KsGetDevice, KsGetFilterFromIrp};
use avstream::controls::ValueRange;
use ks::avstream::{KSAUTOMATION_TABLE, KSDEVICE, KSPROPERTY_ITEM, KSPROPERTY_SET, PFNKSHANDLER};
use ks::ks::{
    KSPROPTYPESETID_General, KSIDENTIFIER, KSPROPERTY_MEMBERSHEADER, KSPROPERTY_MEMBERSLIST,
    KSPROPERTY_MEMBER_FLAG_DEFAULT, KSPROPERTY_MEMBER_STEPPEDRANGES, KSPROPERTY_MEMBER_VALUES,
    KSPROPERTY_STEPPING_LONG, KSPROPERTY_VALUES,
};
use ks::nt::{DEVICE_OBJECT, IRP};
use ks::status::STATUS_SUCCESS;
use ks::{GUID, NTSTATUS};

use zerocopy::{FromBytes, IntoBytes};

use crate::device_state::{self, DeviceState};
use crate::error::DriverError;
use crate::ranges::Shared;

/// One call of a property handler: the IRP, the request and the value buffer ks.sys handed it,
/// with the sizes ks.sys checked (the item's `MinProperty` and `MinData`). Everything a handler
/// does with them goes through here, safely: reads and writes are bounded by those sizes.
pub struct Call {
    irp: *mut IRP,
    request: *const c_void,
    request_len: usize,
    data: *mut c_void,
    data_len: usize,
}

impl Call {
    /// The call ks.sys made.
    ///
    /// # Safety
    /// ks.sys's `PFNKSHANDLER` contract for an item of this `MinProperty` and `MinData`: `irp`
    /// is the live property IRP on a filter or pin of this driver, owned by the handler until
    /// it returns; `request` holds `min_property` readable bytes and `data` `min_data` readable
    /// and writable bytes, maybe unaligned, for as long as the `Call` lives.
    pub unsafe fn new(
        irp: *mut IRP,
        request: *const KSIDENTIFIER,
        data: *mut c_void,
        min_property: u32,
        min_data: u32,
    ) -> Call {
        Call {
            irp,
            request: request.cast(),
            request_len: min_property as usize,
            data,
            data_len: min_data as usize,
        }
    }

    /// The KSDEVICE of the filter (or pin) the request is for.
    fn ks_device(&self) -> Result<*mut KSDEVICE, DriverError> {
        // SAFETY: a live property IRP (`Call::new`'s contract).
        let filter = unsafe { KsGetFilterFromIrp(self.irp) };
        if filter.is_null() {
            return Err(DriverError::NoDevice);
        }
        // SAFETY: a live KSFILTER of this driver, alive while its IRP is being handled.
        let device = unsafe { KsGetDevice(filter.cast()) };
        if device.is_null() {
            return Err(DriverError::NoDevice);
        }
        Ok(device)
    }

    /// The device state of the filter (or pin) the request is for.
    pub fn device(&self) -> Result<&DeviceState, DriverError> {
        let device = self.ks_device()?;
        // SAFETY: the live KSDEVICE of the request's filter, which outlives the request.
        unsafe { device_state::of_device(device) }.ok_or(DriverError::NoDevice)
    }

    /// The device's physical device object (for its registry keys).
    pub fn physical_device(&self) -> Result<*mut DEVICE_OBJECT, DriverError> {
        let device = self.ks_device()?;
        // SAFETY: the live KSDEVICE of the request's filter.
        Ok(unsafe { (*device).PhysicalDeviceObject })
    }

    /// The request's property id.
    pub fn id(&self) -> u32 {
        self.request::<KSIDENTIFIER>().map_or(u32::MAX, |r| r.Id)
    }

    /// The request as a `T` (the `KSPROPERTY` or the `_S` structure it starts); a `T` longer
    /// than the item's `MinProperty` is a descriptor bug: [`DriverError::UnknownProperty`].
    pub fn request<T: FromBytes>(&self) -> Result<T, DriverError> {
        if size_of::<T>() > self.request_len {
            return Err(DriverError::UnknownProperty);
        }
        // SAFETY: `request_len` (>= size_of::<T>()) readable bytes (`Call::new`'s contract);
        // any bytes are a valid `T` (FromBytes); read unaligned.
        Ok(unsafe { self.request.cast::<T>().read_unaligned() })
    }

    /// The value buffer as a `T` (a SET's value), bounded as [`Call::request`] is by `MinData`.
    pub fn value<T: FromBytes>(&self) -> Result<T, DriverError> {
        if size_of::<T>() > self.data_len {
            return Err(DriverError::UnknownProperty);
        }
        // SAFETY: `data_len` (>= size_of::<T>()) readable bytes (`Call::new`'s contract); any
        // bytes are a valid `T`; read unaligned.
        Ok(unsafe { self.data.cast::<T>().read_unaligned() })
    }

    /// Writes a GET's value into the value buffer; its size, for `Information`.
    pub fn write<T: IntoBytes>(&self, value: T) -> Result<usize, DriverError> {
        if size_of::<T>() > self.data_len {
            return Err(DriverError::UnknownProperty);
        }
        // SAFETY: `data_len` (>= size_of::<T>()) writable bytes (`Call::new`'s contract),
        // written unaligned.
        unsafe { self.data.cast::<T>().write_unaligned(value) };
        Ok(size_of::<T>())
    }

    /// Finishes the call: on success `Information` is the bytes written (0 for a SET) and the
    /// status STATUS_SUCCESS; on failure the error's status, nothing written.
    pub fn answer(self, result: Result<usize, DriverError>) -> NTSTATUS {
        match result {
            Ok(written) => {
                // SAFETY: the handler owns the live IRP's IoStatus (`Call::new`'s contract).
                unsafe { (*self.irp).IoStatus.Information = written };
                STATUS_SUCCESS
            }
            Err(error) => error.status(),
        }
    }
}

/// A property item: `id`, its handlers, the sizes ks.sys checks before calling them (the
/// request and value types of the handlers, see `handler!`) and its `KSPROPERTY_VALUES` (NULL:
/// no basic support).
pub const fn item(
    id: u32,
    get: PFNKSHANDLER,
    set: PFNKSHANDLER,
    min_property: u32,
    min_data: u32,
    values: *const KSPROPERTY_VALUES,
) -> KSPROPERTY_ITEM {
    KSPROPERTY_ITEM {
        PropertyId: id,
        GetPropertyHandler: get,
        MinProperty: min_property,
        MinData: min_data,
        SetPropertyHandler: set,
        Values: values,
        RelationsCount: 0,
        Relations: core::ptr::null(),
        SupportHandler: None,
        SerializedSize: 0,
    }
}

/// A property set of `items` (no fast I/O).
pub const fn property_set<const N: usize>(
    set: &'static GUID,
    items: &'static Shared<[KSPROPERTY_ITEM; N]>,
) -> KSPROPERTY_SET {
    KSPROPERTY_SET {
        Set: set,
        PropertiesCount: N as u32,
        PropertyItem: (&raw const items.0).cast(),
        FastIoCount: 0,
        FastIoTable: core::ptr::null_mut(),
    }
}

/// An automation table of property `sets` alone (no methods, no events).
pub const fn automation<const N: usize>(
    sets: &'static Shared<[KSPROPERTY_SET; N]>,
) -> KSAUTOMATION_TABLE {
    KSAUTOMATION_TABLE {
        PropertySetsCount: N as u32,
        PropertyItemSize: size::<KSPROPERTY_ITEM>(),
        PropertySets: (&raw const sets.0).cast(),
        MethodSetsCount: 0,
        MethodItemSize: 0,
        MethodSets: core::ptr::null_mut(),
        EventSetsCount: 0,
        EventItemSize: 0,
        EventSets: core::ptr::null_mut(),
    }
}

/// `sizeof(T)` as a `MinProperty` / `MinData`.
pub const fn size<T>() -> u32 {
    size_of::<T>() as u32
}

/// The stepped range of a `ValueRange` (unsigned values keep their bit patterns).
pub const fn stepping(range: ValueRange) -> KSPROPERTY_STEPPING_LONG {
    KSPROPERTY_STEPPING_LONG {
        SteppingDelta: range.step,
        Reserved: 0,
        SignedMinimum: range.min as i32,
        SignedMaximum: range.max as i32,
    }
}

/// The two members lists of an item: its stepped range and its default.
pub const fn members(
    stepping: &'static KSPROPERTY_STEPPING_LONG,
    default: &'static i32,
) -> [KSPROPERTY_MEMBERSLIST; 2] {
    [
        KSPROPERTY_MEMBERSLIST {
            MembersHeader: KSPROPERTY_MEMBERSHEADER {
                MembersFlags: KSPROPERTY_MEMBER_STEPPEDRANGES,
                MembersSize: size::<KSPROPERTY_STEPPING_LONG>(),
                MembersCount: 1,
                Flags: 0,
            },
            Members: (stepping as *const KSPROPERTY_STEPPING_LONG).cast(),
        },
        KSPROPERTY_MEMBERSLIST {
            MembersHeader: KSPROPERTY_MEMBERSHEADER {
                MembersFlags: KSPROPERTY_MEMBER_VALUES,
                MembersSize: size::<i32>(),
                MembersCount: 1,
                Flags: KSPROPERTY_MEMBER_FLAG_DEFAULT,
            },
            Members: (default as *const i32).cast(),
        },
    ]
}

/// `KSPROPERTY_VALUES` of type `vt` (a `VT_*` of `KSPROPTYPESETID_General`) over `count` lists.
pub const fn values(
    vt: u32,
    lists: *const KSPROPERTY_MEMBERSLIST,
    count: u32,
) -> KSPROPERTY_VALUES {
    KSPROPERTY_VALUES {
        PropTypeSet: KSIDENTIFIER {
            Set: KSPROPTYPESETID_General,
            Id: vt,
            Flags: 0,
        },
        MembersListCount: count,
        MembersList: lists,
    }
}

/// Declares `mod $name` holding the `KSPROPERTY_VALUES` of an item with range `$range` and type
/// `$vt` (`$name::VALUES`), and the statics it points to.
macro_rules! item_values {
    ($name:ident, $range:expr, $vt:expr) => {
        mod $name {
            use super::*;
            static STEPPING: ks::ks::KSPROPERTY_STEPPING_LONG = $crate::property::stepping($range);
            static DEFAULT: i32 = ($range).default as i32;
            static LISTS: Shared<[ks::ks::KSPROPERTY_MEMBERSLIST; 2]> =
                Shared($crate::property::members(&STEPPING, &DEFAULT));
            pub static VALUES: Shared<ks::ks::KSPROPERTY_VALUES> = Shared(
                $crate::property::values($vt, (&raw const LISTS.0).cast(), 2),
            );
        }
    };
}
pub(crate) use item_values;

/// Declares `pub unsafe extern "system" fn $name` (a `PFNKSHANDLER`) for items whose request is
/// a `$request` and whose value a `$value`: it wraps ks.sys's arguments in a [`Call`] of those
/// sizes, runs `$body` (a `fn(&Call) -> Result<usize, DriverError>`: the bytes written) and
/// answers. Declare the item with the same two types ([`item`] with [`size`]).
macro_rules! handler {
    ($(#[$doc:meta])* $name:ident($request:ty, $value:ty) => $body:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// ks.sys's `PFNKSHANDLER` contract for an item whose `MinProperty` and `MinData` are
        /// the sizes of the request and value types above (`Call::new`).
        #[ks::kernel_abi]
        pub unsafe extern "system" fn $name(
            irp: *mut ks::nt::IRP,
            request: *mut ks::ks::KSIDENTIFIER,
            data: *mut core::ffi::c_void,
        ) -> ks::NTSTATUS {
            // SAFETY: ks.sys checked the request and value buffers against the item's
            // MinProperty and MinData, the sizes of these types (the function's contract).
            let call = unsafe {
                $crate::property::Call::new(
                    irp,
                    request,
                    data,
                    $crate::property::size::<$request>(),
                    $crate::property::size::<$value>(),
                )
            };
            let result = ($body)(&call);
            call.answer(result)
        }
    };
}
pub(crate) use handler;
