//! Driver load and device start: `KsInitializeDriver`, ks.sys's AddDevice, the PnP start,
//! filter factories (`KsCreateFilterFactory`) and their device interfaces, the device mutex
//! (`KsAcquireDevice`), unload, and the [`Kernel`] methods that drive them.
//!
//! **Load** ([`Kernel::load_driver`]): DriverEntry runs with the kernel's driver object;
//! `KsInitializeDriver` records the descriptor, routes the major functions to `KsDispatchIrp`
//! and sets `AddDevice`. AddDevice creates the KSDEVICE on the kernel's device object and one
//! filter factory per KSFILTER_DESCRIPTOR of the device descriptor, before the device dispatch
//! `Add` (ReactOS `KsInitializeDevice`: `RefString` NULL, flags 0). The PnP start that follows
//! calls `Start` (a zeroed IRP_MJ_PNP IRP, NULL resource lists) and `PostStart`, then enables the
//! device interfaces of every factory that exists by then, and sets `KSDEVICE.Started`.
//!
//! **Filter factories** (`KsCreateFilterFactory`, learn.microsoft.com): at PASSIVE_LEVEL, with
//! the device mutex held (the page says the caller must hold it: a bug otherwise). The factory's
//! reference string is `RefString` when given, else the descriptor's `ReferenceGuid` in registry
//! form (`{...}`, upper case), else none (ReactOS `IKsFilterFactory_fnInitialize`: a NULL
//! `ReferenceGuid` with no `RefString` registers the interfaces without a reference string, so
//! the INF's `GLOBAL` interfaces would open nothing). It adds a create item of that name to the
//! device header (a name already there: STATUS_OBJECT_NAME_COLLISION, as ReactOS's create item
//! list answers) and registers one device interface per category of the descriptor (ReactOS
//! `KspRegisterDeviceInterfaces`). Interfaces of factories created by the end of `PostStart` are
//! enabled by AVStream; a factory created later stays disabled (the page: the minidriver then
//! calls `KsFilterFactorySetDeviceClassesState`, which the emulation does not provide).
//! [`Kernel::device_interfaces`] lists enabled interfaces, as SetupDi does for present devices.
//!
//! **The device mutex** (`KsAcquireDevice` / `KsReleaseDevice`): PASSIVE_LEVEL, not recursive
//! (acquiring it twice on one thread is reported: a deadlock on Windows), released only by its
//! holder.

use std::ffi::c_void;

use ks::avstream::{KSDEVICE, KSDEVICE_DESCRIPTOR, KSFILTERFACTORY, KSFILTER_DESCRIPTOR};
use ks::guid::GUID;
use ks::ks::{IOCTL_KS_READ_STREAM, KSOBJECT_HEADER};
use ks::nt::{
    irp_mj, KernelMode, UserMode, DEVICE_OBJECT, DRIVER_OBJECT, IRP, KPROCESSOR_MODE,
    UNICODE_STRING,
};
use ks::status::{
    nt_success, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER,
    STATUS_OBJECT_NAME_COLLISION, STATUS_SUCCESS,
};
use ks::NTSTATUS;

use super::objects::create_filter;
use super::{
    create_items, guid_string, slice, AvState, DeviceRecord, Factory, RegisteredInterface,
    KSSTRING_PIN, OBJECT_TABLE,
};
use crate::bugs::Bug;
use crate::kernel::{current, KernelState};
use crate::ks::ObjectHeader;
use crate::memory::RawBox;
use crate::Kernel;

/// The registry path the I/O manager passes to `DriverEntry`: the driver's service key,
/// `\Registry\Machine\System\CurrentControlSet\Services\` + the INF's `AddService` name
/// (avcam's: `avcam`; the DriverEntry page: "a pointer to a counted Unicode string specifying the
/// path to the driver's registry key"). Not NUL-terminated, as on Windows (`Length` counts it).
pub const DRIVER_REGISTRY_PATH: &str =
    "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\avcam";

/// `DriverEntry`'s C signature.
#[ks::kernel_abi]
pub type DriverEntry =
    unsafe extern "system" fn(*mut DRIVER_OBJECT, *mut UNICODE_STRING) -> NTSTATUS;

/// A device interface the driver registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInterface {
    /// The interface class (a KSFILTER_DESCRIPTOR category).
    pub category: GUID,
    /// The reference string (the factory's `RefString`, or its `ReferenceGuid` in registry
    /// form), `None` when it was registered without one.
    pub reference: Option<String>,
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
#[ks::kernel_abi]
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
        started: false,
    });
    // SAFETY: the descriptor lives until unload (KsInitializeDriver's contract).
    let descriptor = unsafe { descriptor.as_ref() };
    // The descriptor's own filters get their factories now, before `Add` (ReactOS
    // KsInitializeDevice), with no RefString and no create item flags.
    // SAFETY: FilterDescriptors holds FilterDescriptorsCount pointers (the descriptor's contract).
    let filters = descriptor.map_or(&[][..], |d| unsafe {
        slice(d.FilterDescriptors, d.FilterDescriptorsCount)
    });
    for &filter in filters {
        if let Err(status) = add_factory(&state, filter, None) {
            return status;
        }
    }
    let dispatch = descriptor.map_or(std::ptr::null(), |d| d.Dispatch);
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

/// The PnP start: `Start`, `PostStart`, then the factories' device interfaces are enabled and
/// the device is marked started.
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
    let mut inner = state.avstream.lock();
    for registered in &mut inner.interfaces {
        registered.enabled = true;
    }
    if let Some(record) = inner.device.as_mut() {
        record.started = true;
    }
    // SAFETY: the KSDEVICE is live; only ks.sys writes `Started`.
    unsafe { (*device).Started = 1 };
    STATUS_SUCCESS
}

/// Registers a filter factory for `descriptor` with the reference string `reference` (or the
/// descriptor's `ReferenceGuid`, or none): its create item on the device header and one device
/// interface per category, enabled once the start sequence is over only if it ran before.
fn add_factory(
    state: &KernelState,
    descriptor: *const KSFILTER_DESCRIPTOR,
    reference: Option<Vec<u16>>,
) -> Result<*mut KSFILTERFACTORY, NTSTATUS> {
    // SAFETY: a filter descriptor of the driver, live until unload (the caller's contract).
    let Some(filter) = (unsafe { descriptor.as_ref() }) else {
        return Err(STATUS_INVALID_PARAMETER);
    };
    // SAFETY: a non-NULL ReferenceGuid points to a GUID of the driver's.
    let reference = reference.or_else(|| unsafe { filter.ReferenceGuid.as_ref() }.map(guid_string));
    // SAFETY: Categories holds CategoriesCount GUIDs.
    let categories = unsafe { slice(filter.Categories, filter.CategoriesCount) };
    let mut inner = state.avstream.lock();
    let inner = &mut *inner;
    let Some(record) = inner.device.as_mut() else {
        return Err(STATUS_INVALID_DEVICE_STATE);
    };
    let taken = record
        .factories
        .iter()
        .any(|f| match (&f.reference, &reference) {
            (Some(a), Some(b)) => crate::ks::equal_ignoring_case(a, b),
            (None, None) => true,
            _ => false,
        });
    if taken {
        return Err(STATUS_OBJECT_NAME_COLLISION);
    }
    let index = record.factories.len();
    let object = RawBox::new(KSFILTERFACTORY {
        FilterDescriptor: descriptor,
        Bag: std::ptr::null_mut(),
        Context: std::ptr::null_mut(),
    });
    let pointer = object.as_ptr();
    record.factories.push(Factory {
        descriptor: descriptor as usize,
        reference: reference.clone(),
        _object: object,
    });
    let entries: Vec<_> = record
        .factories
        .iter()
        .enumerate()
        .map(|(i, f)| {
            (
                f.reference.clone().unwrap_or_default(),
                Some(create_filter as crate::client::DispatchFn),
                i as *mut c_void,
            )
        })
        .collect();
    let (items, names) = create_items(&entries, 0);
    state
        .ks
        .drop_emulation_header(record.header as KSOBJECT_HEADER);
    record.header = state.ks.new_emulation_header(ObjectHeader {
        items: items.as_ptr().cast(),
        item_count: entries.len() as u32,
        table: &OBJECT_TABLE,
        create_item: std::ptr::null_mut(),
    }) as usize;
    record._items = items;
    record._names = names;
    // Enabled at the end of the start sequence (if it is still to come).
    for category in categories {
        inner.interfaces.push(RegisteredInterface {
            interface: DeviceInterface {
                category: *category,
                reference: reference.as_deref().map(String::from_utf16_lossy),
                factory: index,
            },
            enabled: false,
        });
    }
    Ok(pointer)
}

/// The longest reference string the emulation reads (a device interface's reference string is
/// a path component; 255 characters at most, else STATUS_INVALID_PARAMETER).
const MAX_REFERENCE: usize = 255;

/// `KsCreateFilterFactory` (see the module docs).
///
/// # Safety
/// `descriptor` must live until unload; `ref_string` NULL or a NUL-terminated UTF-16 string;
/// `factory` NULL or writable.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn create_filter_factory(
    state: &KernelState,
    device_object: *mut DEVICE_OBJECT,
    descriptor: *const KSFILTER_DESCRIPTOR,
    ref_string: *const u16,
    factory: *mut *mut KSFILTERFACTORY,
) -> NTSTATUS {
    if device_object != state.io.device() || descriptor.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    if !state.avstream.device_mutex_held() {
        state.report(Bug::DeviceMutexNotHeld {
            service: "KsCreateFilterFactory",
        });
    }
    let reference = if ref_string.is_null() {
        None
    } else {
        let mut units = Vec::new();
        loop {
            // Unit by unit up to the NUL: never past the string (the caller's guarantee).
            let at = ref_string.wrapping_add(units.len());
            // SAFETY: `at` is inside the NUL-terminated string (the caller's guarantee) at or
            // before its NUL, since the loop stops there.
            let unit = unsafe { at.read_unaligned() };
            if unit == 0 {
                break;
            }
            if units.len() == MAX_REFERENCE {
                return STATUS_INVALID_PARAMETER;
            }
            units.push(unit);
        }
        Some(units)
    };
    match add_factory(state, descriptor, reference) {
        Ok(created) => {
            if !factory.is_null() {
                // SAFETY: a non-NULL `factory` is writable (the caller's guarantee).
                unsafe { factory.write(created) };
            }
            STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

impl AvState {
    /// Whether the calling thread holds the device mutex.
    fn device_mutex_held(&self) -> bool {
        *self.device_mutex.lock().unwrap_or_else(|e| e.into_inner())
            == Some(std::thread::current().id())
    }
}

/// `KsAcquireDevice`: waits for the device mutex and takes it.
pub(crate) fn acquire_device(state: &KernelState) {
    let me = std::thread::current().id();
    let avstream = &state.avstream;
    let mut owner = avstream
        .device_mutex
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if *owner == Some(me) {
        drop(owner);
        state.report(Bug::DeviceMutexRecursive);
        return;
    }
    while owner.is_some() {
        owner = avstream
            .device_mutex_free
            .wait(owner)
            .unwrap_or_else(|e| e.into_inner());
    }
    *owner = Some(me);
}

/// `KsReleaseDevice`: gives the device mutex back (only its holder may).
pub(crate) fn release_device(state: &KernelState) {
    let avstream = &state.avstream;
    let mut owner = avstream
        .device_mutex
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if *owner != Some(std::thread::current().id()) {
        drop(owner);
        state.report(Bug::DeviceMutexNotOwned);
        return;
    }
    *owner = None;
    avstream.device_mutex_free.notify_one();
}

impl Kernel {
    /// Loads a driver: calls `entry` (DriverEntry) with the kernel's driver object and the
    /// driver's registry path ([`DRIVER_REGISTRY_PATH`]); if it succeeded and called
    /// `KsInitializeDriver`, runs the PnP add and start (see the module docs). Returns the first
    /// failure.
    pub fn load_driver(&self, entry: DriverEntry) -> NTSTATUS {
        let status = {
            let _entered = self.enter();
            let mut units: Vec<u16> = DRIVER_REGISTRY_PATH.encode_utf16().collect();
            let bytes = u16::try_from(units.len() * 2).expect("a short path");
            let mut path = UNICODE_STRING {
                Length: bytes,
                MaximumLength: bytes,
                Buffer: units.as_mut_ptr(),
            };
            // SAFETY: the driver object is live; the path's buffer outlives the call;
            // DriverEntry's contract.
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
                        // SAFETY: AddDevice's contract; the PDO stands for the root bus's and
                        // lives as long as the kernel.
                        let status =
                            unsafe { add(self.state.io.driver(), self.state.io.physical()) };
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
            .filter(|r| r.enabled && r.interface.category == *category)
            .map(|r| r.interface.clone())
            .collect()
    }

    /// Every device interface registered, enabled or not, with whether it is enabled.
    pub fn registered_interfaces(&self) -> Vec<(DeviceInterface, bool)> {
        self.state
            .avstream
            .lock()
            .interfaces
            .iter()
            .map(|r| (r.interface.clone(), r.enabled))
            .collect()
    }

    /// Opens a device interface as a kernel-mode client (a kernel-mode consumer, as the viewer
    /// on Linux is): an IRP_MJ_CREATE named `\` + its reference string (an empty name when it
    /// has none), with no related file object. Returns the filter's handle; its IRPs, and those
    /// of the pins and allocators opened relative to it, say `KernelMode`.
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
        let name: Vec<u8> = match &interface.reference {
            Some(reference) => std::iter::once(u16::from(b'\\'))
                .chain(reference.encode_utf16())
                .flat_map(u16::to_le_bytes)
                .collect(),
            None => Vec::new(),
        };
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
