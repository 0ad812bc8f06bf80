//! Driver load and device start: `KsInitializeDriver`, ks.sys's AddDevice, the PnP start with
//! its filter factories and device interfaces, unload, and the [`Kernel`] methods that drive them.
//!
//! **Load** ([`Kernel::load_driver`]): DriverEntry runs with the kernel's driver object;
//! `KsInitializeDriver` records the descriptor, routes the major functions to `KsDispatchIrp`
//! and sets `AddDevice`. The PnP start that follows creates the KSDEVICE on the kernel's device
//! object (calling the device dispatch `Add`, `Start` with a zeroed IRP_MJ_PNP IRP and NULL
//! resource lists, then `PostStart`), one filter factory per KSFILTER_DESCRIPTOR, and registers
//! one device interface per factory category, with the reference string `GLOBAL` when
//! `ReferenceGuid` is NULL, else the GUID in registry form (`{...}`, upper case).

use std::ffi::c_void;

use ks::avstream::{KSDEVICE, KSDEVICE_DESCRIPTOR};
use ks::guid::GUID;
use ks::ks::{IOCTL_KS_READ_STREAM, KSOBJECT_HEADER};
use ks::nt::{
    irp_mj, KernelMode, UserMode, DEVICE_OBJECT, DRIVER_OBJECT, IRP, KPROCESSOR_MODE,
    UNICODE_STRING,
};
use ks::status::{
    nt_success, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use ks::NTSTATUS;

use super::objects::create_filter;
use super::{
    create_items, guid_string, slice, utf16, DeviceRecord, Factory, KSSTRING_PIN, OBJECT_TABLE,
};
use crate::kernel::{current, KernelState};
use crate::ks::ObjectHeader;
use crate::memory::RawBox;
use crate::Kernel;

/// `DriverEntry`'s C signature.
pub type DriverEntry =
    unsafe extern "system" fn(*mut DRIVER_OBJECT, *mut UNICODE_STRING) -> NTSTATUS;

/// A device interface the driver registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInterface {
    /// The interface class (a KSFILTER_DESCRIPTOR category).
    pub category: GUID,
    /// The reference string (`GLOBAL` or the ReferenceGuid in registry form).
    pub reference: String,
    /// The index of the filter factory behind it.
    pub factory: usize,
}

/// `KsInitializeDriver`.
///
/// # Safety
/// `driver` must be the kernel's driver object; `descriptor` must live until unload.
pub(crate) unsafe fn initialize_driver(
    state: &KernelState,
    driver: *mut DRIVER_OBJECT,
    descriptor: *const KSDEVICE_DESCRIPTOR,
) -> NTSTATUS {
    if driver != state.io.driver() || descriptor.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    state.avstream.lock().descriptor = descriptor as usize;
    for major in [
        irp_mj::CREATE,
        irp_mj::CLOSE,
        irp_mj::DEVICE_CONTROL,
        irp_mj::READ,
        irp_mj::WRITE,
        irp_mj::FLUSH_BUFFERS,
        irp_mj::QUERY_SECURITY,
        irp_mj::SET_SECURITY,
    ] {
        // SAFETY: the driver object lives as long as the kernel; DriverEntry runs before any
        // request is sent.
        unsafe {
            (*driver).MajorFunction[usize::from(major)] = Some(crate::services::KsDispatchIrp)
        };
    }
    // SAFETY: `driver` is the kernel's driver object (checked above), live with the kernel.
    let extension = unsafe { (*driver).DriverExtension };
    // SAFETY: the extension lives with the driver object.
    unsafe { (*extension).AddDevice = Some(add_device) };
    STATUS_SUCCESS
}

/// ks.sys's AddDevice: creates the KSDEVICE on the kernel's device object and calls `Add`.
unsafe extern "system" fn add_device(
    _driver: *mut DRIVER_OBJECT,
    physical: *mut DEVICE_OBJECT,
) -> NTSTATUS {
    let state = current("KsAddDevice");
    let descriptor = state.avstream.lock().descriptor as *const KSDEVICE_DESCRIPTOR;
    let mut value: KSDEVICE = zeroed_device();
    value.Descriptor = descriptor;
    value.FunctionalDeviceObject = state.io.device();
    value.PhysicalDeviceObject = physical;
    let device = RawBox::new(value);
    let (items, names) = create_items(&[], 0);
    let header = state.ks.new_emulation_header(ObjectHeader {
        items: std::ptr::null_mut(),
        item_count: 0,
        table: &OBJECT_TABLE,
        create_item: std::ptr::null_mut(),
    });
    let pointer = device.as_ptr();
    state.avstream.lock().device = Some(DeviceRecord {
        device,
        factories: Vec::new(),
        header: header as usize,
        _items: items,
        _names: names,
    });
    // SAFETY: the descriptor lives until unload (KsInitializeDriver's contract).
    let dispatch = unsafe { descriptor.as_ref() }.map_or(std::ptr::null(), |d| d.Dispatch);
    // SAFETY: NULL or the descriptor's dispatch table, a static of the driver.
    if let Some(add) = unsafe { dispatch.as_ref() }.and_then(|d| d.Add) {
        // SAFETY: the KSDEVICE is live; the Add contract.
        return unsafe { add(pointer) };
    }
    STATUS_SUCCESS
}

fn zeroed_device() -> KSDEVICE {
    KSDEVICE {
        Descriptor: std::ptr::null(),
        Bag: std::ptr::null_mut(),
        Context: std::ptr::null_mut(),
        FunctionalDeviceObject: std::ptr::null_mut(),
        PhysicalDeviceObject: std::ptr::null_mut(),
        NextDeviceObject: std::ptr::null_mut(),
        Started: 0,
        SystemPowerState: 0,
        DevicePowerState: 0,
    }
}

/// The PnP start: `Start`, `PostStart`, filter factories and device interfaces.
fn start_device(state: &KernelState) -> NTSTATUS {
    let (device, descriptor) = {
        let inner = state.avstream.lock();
        let Some(device) = inner.device.as_ref() else {
            return STATUS_INVALID_DEVICE_STATE;
        };
        (
            device.device.as_ptr(),
            inner.descriptor as *const KSDEVICE_DESCRIPTOR,
        )
    };
    // SAFETY: the descriptor lives until unload.
    let Some(descriptor) = (unsafe { descriptor.as_ref() }) else {
        return STATUS_INVALID_DEVICE_STATE;
    };
    // SAFETY: the dispatch table is the driver's static.
    let dispatch = unsafe { descriptor.Dispatch.as_ref() };
    if let Some(start) = dispatch.and_then(|d| d.Start) {
        let irp = RawBox::<IRP>::zeroed();
        // SAFETY: a live KSDEVICE and a zeroed IRP_MJ_PNP IRP; NULL resource lists (a root
        // enumerated device has none).
        let status = unsafe {
            start(
                device,
                irp.as_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if !nt_success(status) {
            return status;
        }
    }
    if let Some(post_start) = dispatch.and_then(|d| d.PostStart) {
        // SAFETY: a live KSDEVICE.
        let status = unsafe { post_start(device) };
        if !nt_success(status) {
            return status;
        }
    }
    // SAFETY: FilterDescriptors holds FilterDescriptorsCount pointers (the descriptor's contract).
    let filters = unsafe {
        slice(
            descriptor.FilterDescriptors,
            descriptor.FilterDescriptorsCount,
        )
    };
    let mut factories = Vec::new();
    let mut interfaces = Vec::new();
    let mut entries = Vec::new();
    for (index, &filter) in filters.iter().enumerate() {
        // SAFETY: each filter descriptor lives until unload.
        let Some(filter_descriptor) = (unsafe { filter.as_ref() }) else {
            continue;
        };
        // SAFETY: a non-NULL ReferenceGuid points to a GUID.
        let reference = match unsafe { filter_descriptor.ReferenceGuid.as_ref() } {
            Some(guid) => guid_string(guid),
            None => utf16("GLOBAL"),
        };
        // SAFETY: Categories holds CategoriesCount GUIDs.
        let categories = unsafe {
            slice(
                filter_descriptor.Categories,
                filter_descriptor.CategoriesCount,
            )
        };
        for category in categories {
            interfaces.push(DeviceInterface {
                category: *category,
                reference: String::from_utf16_lossy(&reference),
                factory: index,
            });
        }
        entries.push((
            reference.clone(),
            Some(create_filter as crate::client::DispatchFn),
            index as *mut c_void,
        ));
        factories.push(Factory {
            descriptor: filter as usize,
            reference,
        });
    }
    let (items, names) = create_items(&entries, 0);
    let mut inner = state.avstream.lock();
    let Some(record) = inner.device.as_mut() else {
        return STATUS_INVALID_DEVICE_STATE;
    };
    state
        .ks
        .drop_emulation_header(record.header as KSOBJECT_HEADER);
    let header = state.ks.new_emulation_header(ObjectHeader {
        items: items.as_ptr().cast(),
        item_count: entries.len() as u32,
        table: &OBJECT_TABLE,
        create_item: std::ptr::null_mut(),
    });
    record.header = header as usize;
    record._items = items;
    record._names = names;
    record.factories = factories;
    // SAFETY: the KSDEVICE is live; only ks.sys writes `Started`.
    unsafe { (*device).Started = 1 };
    inner.interfaces = interfaces;
    STATUS_SUCCESS
}

impl Kernel {
    /// Loads a driver: calls `entry` (DriverEntry) with the kernel's driver object and an empty
    /// registry path; if it succeeded and called `KsInitializeDriver`, runs the PnP add and start
    /// (see the module docs). Returns the first failure.
    pub fn load_driver(&self, entry: DriverEntry) -> NTSTATUS {
        let status = {
            let _entered = self.enter();
            let mut path = UNICODE_STRING::EMPTY;
            // SAFETY: the driver object is live; DriverEntry's contract.
            let status = unsafe { entry(self.state.io.driver(), &mut path) };
            if !nt_success(status) {
                status
            } else {
                // SAFETY: the driver object and its extension live with the kernel.
                let extension = unsafe { (*self.state.io.driver()).DriverExtension };
                // SAFETY: the driver extension lives with the driver object, hence the kernel.
                match unsafe { (*extension).AddDevice } {
                    None => status,
                    Some(add) => {
                        let physical = RawBox::<DEVICE_OBJECT>::zeroed();
                        // SAFETY: AddDevice's contract; the PDO stands for the root bus's.
                        let status = unsafe { add(self.state.io.driver(), physical.as_ptr()) };
                        if nt_success(status) {
                            start_device(&self.state)
                        } else {
                            status
                        }
                    }
                }
            }
        };
        self.check();
        status
    }

    /// Unloads the driver: `Remove` on the device (if it has one), then `DriverUnload`; the
    /// device, factories and interfaces are gone afterwards.
    pub fn unload_driver(&self) {
        {
            let _entered = self.enter();
            let device = self.state.avstream.lock().device.take();
            if let Some(device) = device {
                // SAFETY: the KSDEVICE is live until dropped below.
                let descriptor = unsafe { (*device.device.as_ptr()).Descriptor };
                // SAFETY: the descriptor lives until unload.
                let dispatch =
                    unsafe { descriptor.as_ref() }.map_or(std::ptr::null(), |d| d.Dispatch);
                // SAFETY: the driver's static table.
                if let Some(remove) = unsafe { dispatch.as_ref() }.and_then(|d| d.Remove) {
                    let irp = RawBox::<IRP>::zeroed();
                    // SAFETY: a live KSDEVICE and a zeroed IRP_MJ_PNP IRP.
                    unsafe { remove(device.device.as_ptr(), irp.as_ptr()) };
                }
                self.state
                    .ks
                    .drop_emulation_header(device.header as KSOBJECT_HEADER);
            }
            self.state.avstream.lock().interfaces.clear();
            // SAFETY: the driver object lives with the kernel.
            if let Some(unload) = unsafe { (*self.state.io.driver()).DriverUnload } {
                // SAFETY: the unload contract: called once, after the devices are gone.
                unsafe { unload(self.state.io.driver()) };
            }
        }
        self.check();
    }

    /// The device interfaces registered in `category`.
    pub fn device_interfaces(&self, category: &GUID) -> Vec<DeviceInterface> {
        self.state
            .avstream
            .lock()
            .interfaces
            .iter()
            .filter(|i| i.category == *category)
            .cloned()
            .collect()
    }

    /// Opens a device interface as a kernel-mode client (a kernel-mode consumer, as the viewer
    /// on Linux is): an IRP_MJ_CREATE named `\` + its reference string, with no related file
    /// object. Returns the filter's handle; its IRPs, and those of the pins and allocators opened
    /// relative to it, say `KernelMode`.
    pub fn open_interface(&self, interface: &DeviceInterface) -> Result<crate::File, NTSTATUS> {
        self.open_interface_as(interface, KernelMode)
    }

    /// [`Kernel::open_interface`] by a user-mode client (an application): the filter, and the
    /// pins and allocators opened relative to it, are user-mode files whose IRPs say `UserMode`
    /// (so stream headers are captured and their buffers probed, see
    /// [`reads`](crate::avstream::reads)).
    pub fn open_interface_user(
        &self,
        interface: &DeviceInterface,
    ) -> Result<crate::File, NTSTATUS> {
        self.open_interface_as(interface, UserMode)
    }

    fn open_interface_as(
        &self,
        interface: &DeviceInterface,
        mode: KPROCESSOR_MODE,
    ) -> Result<crate::File, NTSTATUS> {
        let name: Vec<u8> = std::iter::once(u16::from(b'\\'))
            .chain(interface.reference.encode_utf16())
            .flat_map(u16::to_le_bytes)
            .collect();
        self.create_root_bytes(&name, mode)
    }

    /// Creates a pin on `filter`: the name `KSSTRING_Pin\` followed by `connect` (a KSPIN_CONNECT
    /// and its KSDATAFORMAT, as raw bytes; malformed ones welcome).
    pub fn create_pin(&self, filter: crate::File, connect: &[u8]) -> Result<crate::File, NTSTATUS> {
        let mut name: Vec<u8> = KSSTRING_PIN
            .encode_utf16()
            .chain([u16::from(b'\\')])
            .flat_map(u16::to_le_bytes)
            .collect();
        name.extend_from_slice(connect);
        self.create_bytes(filter, &name)
    }

    /// An IOCTL_KS_READ_STREAM with `headers` (KSSTREAM_HEADERs whose `Data` point at buffers the
    /// caller keeps alive until the read completes) as the output buffer.
    pub fn read_stream(&self, pin: crate::File, headers: &[u8]) -> crate::AsyncIo {
        self.ioctl_async_with_output(pin, IOCTL_KS_READ_STREAM, headers)
    }
}
