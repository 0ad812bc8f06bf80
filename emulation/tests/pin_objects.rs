//! ks.sys's objects as avcam's driver depends on them, with a small minidriver written against
//! `avcam-kernel`: filter factories (`KsCreateFilterFactory` from the PnP start, or the device
//! descriptor's own filters), their device interfaces and reference strings, the device mutex,
//! the three create items of a pin's object header, and the allocator create request on a pin
//! served by `KsCreateDefaultAllocatorEx` with the pin's `KSALLOCATOR_DISPATCH`.

use std::ffi::c_void;
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use avcam_emulation::{Bug, File, Kernel};
use avcam_kernel::{
    KsAcquireDevice, KsAddObjectCreateItemToObjectHeader, KsCreateFilterFactory, KsGetDevice,
    KsGetObjectFromFileObject, KsInitializeDriver, KsReleaseDevice,
};
use ks::avstream::*;
use ks::guid::GUID;
use ks::ks::{KSSTRING_Allocator, KSALLOCATOR_FRAMING, KSOBJECT_HEADER};
use ks::nt::{DRIVER_OBJECT, IRP, UNICODE_STRING};
use ks::status::*;
use ks::video::{
    KSINTERFACESETID_Standard, KSMEDIUMSETID_Standard, KSDATAFORMAT, KSDATAFORMAT_SUBTYPE_NV12,
    KSDATAFORMAT_TYPE_VIDEO, KSPIN_CONNECT,
};
use ks::NTSTATUS;
use zerocopy::{FromZeros, IntoBytes};

/// Two categories, as a camera registers several.
const CAPTURE: GUID = GUID::from_u128(0x65E8773D_8F56_11D0_A3B9_00A0C9223196);
const VIDEO: GUID = GUID::from_u128(0x6994AD05_93EF_11D0_A3CC_00A0C9223196);
/// A filter descriptor's `ReferenceGuid` ({9B365890-165F-11D0-A195-0020AFD156E4}, KSNAME_Filter).
static REFERENCE_GUID: GUID = GUID::from_u128(0x9B365890_165F_11D0_A195_0020AFD156E4);
/// "GLOBAL", NUL-terminated.
static GLOBAL: [u16; 7] = [
    b'G' as u16,
    b'L' as u16,
    b'O' as u16,
    b'B' as u16,
    b'A' as u16,
    b'L' as u16,
    0,
];

/// How the test driver's device creates its factory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum How {
    /// `KsCreateFilterFactory` from Start, RefString "GLOBAL", device mutex held.
    StartWithRefString,
    /// The same with a filter whose pin declares no KSALLOCATOR_DISPATCH.
    StartNoAllocator,
    /// `KsCreateFilterFactory` from Start without taking the device mutex first.
    StartWithoutMutex,
    /// Two factories with the same RefString from Start.
    StartTwice,
    /// The device descriptor lists the filter (no RefString), NULL `ReferenceGuid`.
    DescriptorNoGuid,
    /// The device descriptor lists the filter, `ReferenceGuid` set.
    DescriptorWithGuid,
}

/// Tests run in parallel; each kernel's driver reads its mode here, keyed by the KSDEVICE.
static MODES: Mutex<Vec<(usize, How)>> = Mutex::new(Vec::new());
/// The mode the next loaded driver takes (set under LOAD, read by Add).
static NEXT: Mutex<Option<How>> = Mutex::new(None);
static LOAD: Mutex<()> = Mutex::new(());
/// What the start callback's KsCreateFilterFactory calls returned.
static FACTORY_STATUSES: Mutex<Vec<NTSTATUS>> = Mutex::new(Vec::new());

fn mode_of(device: *mut KSDEVICE) -> How {
    MODES
        .lock()
        .unwrap()
        .iter()
        .find(|(d, _)| *d == device as usize)
        .map(|(_, how)| *how)
        .expect("a device of this test")
}

#[ks::kernel_abi]
unsafe extern "system" fn device_add(device: *mut KSDEVICE) -> NTSTATUS {
    let how = NEXT.lock().unwrap().take().expect("a mode for this load");
    let mut modes = MODES.lock().unwrap();
    // A KSDEVICE of an earlier kernel may have had this address.
    modes.retain(|(d, _)| *d != device as usize);
    modes.push((device as usize, how));
    STATUS_SUCCESS
}

#[ks::kernel_abi]
unsafe extern "system" fn device_start(
    device: *mut KSDEVICE,
    _irp: *mut IRP,
    _a: *mut c_void,
    _b: *mut c_void,
) -> NTSTATUS {
    let how = mode_of(device);
    // SAFETY: a live KSDEVICE (ks.sys's contract).
    assert_eq!(unsafe { (*device).Started }, 0, "not yet started in Start");
    let kind = if how == How::StartNoAllocator {
        Kind::NoAllocator
    } else {
        Kind::Plain
    };
    // SAFETY: a live KSDEVICE (ks.sys's contract): its functional device object.
    let fdo = unsafe { (*device).FunctionalDeviceObject };
    let create = |reference: *const u16| {
        let mut factory = null_mut();
        // SAFETY: the FDO of a live device, a leaked descriptor, a static string or NULL.
        let status = unsafe {
            KsCreateFilterFactory(
                fdo,
                filter_descriptor(kind),
                reference.cast_mut(),
                null_mut(),
                ks::ks::KSCREATE_ITEM_FREEONSTOP,
                None,
                None,
                &mut factory,
            )
        };
        if status == STATUS_SUCCESS {
            // SAFETY: the live KSFILTERFACTORY ks.sys handed back.
            let descriptor = unsafe { (*factory).FilterDescriptor };
            assert_eq!(descriptor, filter_descriptor(kind));
        }
        FACTORY_STATUSES.lock().unwrap().push(status);
        status
    };
    match how {
        How::StartWithRefString | How::StartNoAllocator | How::StartTwice => {
            // SAFETY: a live KSDEVICE at PASSIVE_LEVEL.
            unsafe { KsAcquireDevice(device) };
            let mut status = create(GLOBAL.as_ptr());
            if how == How::StartTwice {
                status = create(GLOBAL.as_ptr());
            }
            // SAFETY: acquired above.
            unsafe { KsReleaseDevice(device) };
            if how == How::StartTwice {
                STATUS_SUCCESS
            } else {
                status
            }
        }
        How::StartWithoutMutex => create(GLOBAL.as_ptr()),
        How::DescriptorNoGuid | How::DescriptorWithGuid => STATUS_SUCCESS,
    }
}

/// Calls to the pin's allocator callbacks: (initialize, allocate, free, delete).
static INITIALIZED_WITH: Mutex<Vec<(usize, u32)>> = Mutex::new(Vec::new());
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static FREED: AtomicUsize = AtomicUsize::new(0);
static DELETED: AtomicUsize = AtomicUsize::new(0);
/// A frame size InitializeAllocator refuses (STATUS_INSUFFICIENT_RESOURCES).
const REFUSED_SIZE: u32 = 1234;

/// The pin's frame store: a frame size; frames from the global allocator.
struct Store {
    size: usize,
}

#[ks::kernel_abi]
unsafe extern "system" fn initialize_allocator(
    pin: *mut KSPIN,
    framing: *mut KSALLOCATOR_FRAMING,
    context: *mut *mut c_void,
) -> NTSTATUS {
    // SAFETY: the validated framing of the create request (maybe unaligned).
    let framing = unsafe { framing.read_unaligned() };
    INITIALIZED_WITH
        .lock()
        .unwrap()
        .push((pin as usize, framing.FrameSize));
    if framing.FrameSize == REFUSED_SIZE {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    let store = Box::new(Store {
        size: framing.FrameSize as usize,
    });
    // SAFETY: `context` is writable (the callback's contract).
    unsafe { context.write(Box::into_raw(store).cast()) };
    STATUS_SUCCESS
}

#[ks::kernel_abi]
unsafe extern "system" fn allocate(context: *mut c_void) -> *mut c_void {
    ALLOCATED.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the store `initialize_allocator` boxed.
    let store = unsafe { &*context.cast::<Store>() };
    Box::into_raw(vec![0u8; store.size].into_boxed_slice()).cast()
}

#[ks::kernel_abi]
unsafe extern "system" fn free(context: *mut c_void, buffer: *mut c_void) {
    FREED.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the store `initialize_allocator` boxed.
    let store = unsafe { &*context.cast::<Store>() };
    let slice = std::ptr::slice_from_raw_parts_mut(buffer.cast::<u8>(), store.size);
    // SAFETY: boxed by `allocate` with this size, freed once.
    drop(unsafe { Box::from_raw(slice) });
}

#[ks::kernel_abi]
unsafe extern "system" fn delete_allocator(context: *mut c_void) {
    DELETED.fetch_add(1, Ordering::SeqCst);
    // SAFETY: boxed by `initialize_allocator`, freed once.
    drop(unsafe { Box::from_raw(context.cast::<Store>()) });
}

static PIN_ALLOCATOR: KSALLOCATOR_DISPATCH = KSALLOCATOR_DISPATCH {
    InitializeAllocator: Some(initialize_allocator),
    DeleteAllocator: Some(delete_allocator),
    Allocate: Some(allocate),
    Free: Some(free),
};

static RANGE: KSDATAFORMAT = KSDATAFORMAT {
    FormatSize: 64,
    Flags: 0,
    SampleSize: 0,
    Reserved: 0,
    MajorFormat: KSDATAFORMAT_TYPE_VIDEO,
    SubFormat: KSDATAFORMAT_SUBTYPE_NV12,
    Specifier: GUID::NULL,
};

struct Leaked<T>(*const T);
// SAFETY: leaked, immutable descriptors, only read.
unsafe impl<T> Send for Leaked<T> {}
// SAFETY: leaked, immutable descriptors, only read.
unsafe impl<T> Sync for Leaked<T> {}

fn leak<T>(value: T) -> *const T {
    Box::leak(Box::new(value))
}

/// The filter descriptor: one pin, with a KSALLOCATOR_DISPATCH when `allocator` (the default),
/// `ReferenceGuid` set when `with_guid`.
fn make_filter(allocator: bool, with_guid: bool) -> *const KSFILTER_DESCRIPTOR {
    let ranges = leak([(&raw const RANGE).cast::<c_void>()]);
    let dispatch = leak(KSPIN_DISPATCH {
        Create: None,
        Close: None,
        Process: None,
        Reset: None,
        SetDataFormat: None,
        SetDeviceState: None,
        Connect: None,
        Disconnect: None,
        Clock: null(),
        Allocator: if allocator { &PIN_ALLOCATOR } else { null() },
    });
    let pins = leak([KSPIN_DESCRIPTOR_EX {
        Dispatch: dispatch,
        AutomationTable: null(),
        PinDescriptor: KSPIN_DESCRIPTOR {
            InterfacesCount: 0,
            Interfaces: null(),
            MediumsCount: 0,
            Mediums: null(),
            DataRangesCount: 1,
            DataRanges: ranges.cast(),
            DataFlow: KSPIN_DATAFLOW_OUT,
            Communication: KSPIN_COMMUNICATION_BOTH,
            Category: &CAPTURE,
            Name: null(),
            ConstrainedDataRangesCount: 0,
            ConstrainedDataRanges: null_mut(),
        },
        Flags: 0,
        InstancesPossible: 2,
        InstancesNecessary: 0,
        AllocatorFraming: null(),
        IntersectHandler: None,
    }]);
    let categories = leak([CAPTURE, VIDEO]);
    leak(KSFILTER_DESCRIPTOR {
        Dispatch: null(),
        AutomationTable: null(),
        Version: KSFILTER_DESCRIPTOR_VERSION,
        Flags: 0,
        ReferenceGuid: if with_guid { &REFERENCE_GUID } else { null() },
        PinDescriptorsCount: 1,
        PinDescriptorSize: std::mem::size_of::<KSPIN_DESCRIPTOR_EX>() as u32,
        PinDescriptors: pins.cast(),
        CategoriesCount: 2,
        Categories: categories.cast(),
        NodeDescriptorsCount: 0,
        NodeDescriptorSize: 0,
        NodeDescriptors: null_mut(),
        ConnectionsCount: 0,
        Connections: null_mut(),
        ComponentId: null_mut(),
    })
}

/// The test's filter descriptors.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// A pin with a KSALLOCATOR_DISPATCH, no ReferenceGuid.
    Plain,
    /// A pin without a KSALLOCATOR_DISPATCH, no ReferenceGuid.
    NoAllocator,
    /// A pin with a KSALLOCATOR_DISPATCH, and a ReferenceGuid.
    WithGuid,
}

fn filter_descriptor(kind: Kind) -> *const KSFILTER_DESCRIPTOR {
    static PLAIN: OnceLock<Leaked<KSFILTER_DESCRIPTOR>> = OnceLock::new();
    static NO_ALLOCATOR: OnceLock<Leaked<KSFILTER_DESCRIPTOR>> = OnceLock::new();
    static WITH_GUID: OnceLock<Leaked<KSFILTER_DESCRIPTOR>> = OnceLock::new();
    match kind {
        Kind::Plain => PLAIN.get_or_init(|| Leaked(make_filter(true, false))).0,
        Kind::NoAllocator => {
            NO_ALLOCATOR
                .get_or_init(|| Leaked(make_filter(false, false)))
                .0
        }
        Kind::WithGuid => WITH_GUID.get_or_init(|| Leaked(make_filter(true, true))).0,
    }
}

/// The device descriptor: no filters (created at Start), or `filter` listed.
fn device_descriptor(filter: Option<*const KSFILTER_DESCRIPTOR>) -> *const KSDEVICE_DESCRIPTOR {
    let dispatch = leak(KSDEVICE_DISPATCH {
        Add: Some(device_add),
        Start: Some(device_start),
        PostStart: None,
        QueryStop: None,
        CancelStop: None,
        Stop: None,
        QueryRemove: None,
        CancelRemove: None,
        Remove: None,
        QueryCapabilities: None,
        SurpriseRemoval: None,
        QueryPower: None,
        SetPower: None,
        QueryInterface: None,
    });
    let filters = filter.map(|f| leak([f]));
    leak(KSDEVICE_DESCRIPTOR {
        Dispatch: dispatch,
        FilterDescriptorsCount: u32::from(filters.is_some()),
        FilterDescriptors: filters.map_or(null(), |f| f.cast()),
        Version: KSDEVICE_DESCRIPTOR_VERSION,
        Flags: 0,
    })
}

static DEVICE_DESCRIPTOR: Mutex<usize> = Mutex::new(0);

#[ks::kernel_abi]
unsafe extern "system" fn driver_entry(
    driver: *mut DRIVER_OBJECT,
    path: *mut UNICODE_STRING,
) -> NTSTATUS {
    let descriptor = *DEVICE_DESCRIPTOR.lock().unwrap() as *const KSDEVICE_DESCRIPTOR;
    // SAFETY: DriverEntry's arguments; the descriptor is leaked, so it lives forever.
    unsafe { KsInitializeDriver(driver, path, descriptor) }
}

/// A kernel (with avcam's allocator as ks.sys's) with the test driver loaded as `how` says.
fn load(how: How, kernel: Kernel) -> (Kernel, NTSTATUS) {
    let _serial = LOAD.lock().unwrap_or_else(|e| e.into_inner());
    let filter = match how {
        How::DescriptorNoGuid => Some(filter_descriptor(Kind::NoAllocator)),
        How::DescriptorWithGuid => Some(filter_descriptor(Kind::WithGuid)),
        _ => None,
    };
    *DEVICE_DESCRIPTOR.lock().unwrap() = device_descriptor(filter) as usize;
    *NEXT.lock().unwrap() = Some(how);
    let status = kernel.load_driver(driver_entry);
    (kernel, status)
}

fn with_allocator() -> Kernel {
    Kernel::with_default_allocator(avcam_allocator::KsCreateDefaultAllocatorEx)
}

fn connect() -> Vec<u8> {
    let connect = KSPIN_CONNECT {
        Interface: ks::ks::KSIDENTIFIER {
            Set: KSINTERFACESETID_Standard,
            Id: 0,
            Flags: 0,
        },
        Medium: ks::ks::KSIDENTIFIER {
            Set: KSMEDIUMSETID_Standard,
            Id: 0,
            Flags: 0,
        },
        PinId: 0,
        ..KSPIN_CONNECT::new_zeroed()
    };
    let format = KSDATAFORMAT {
        FormatSize: 64,
        MajorFormat: KSDATAFORMAT_TYPE_VIDEO,
        SubFormat: KSDATAFORMAT_SUBTYPE_NV12,
        ..Default::default()
    };
    let mut bytes = connect.as_bytes().to_vec();
    bytes.extend_from_slice(format.as_bytes());
    bytes
}

/// The filter of the first enabled CAPTURE interface and a pin on it.
fn filter_and_pin(kernel: &Kernel) -> (File, File) {
    let interfaces = kernel.device_interfaces(&CAPTURE);
    let filter = kernel
        .open_interface(&interfaces[0])
        .expect("the filter opens");
    let pin = kernel
        .create_pin(filter, &connect())
        .expect("the pin opens");
    (filter, pin)
}

fn framing(frames: u32, frame_size: u32) -> KSALLOCATOR_FRAMING {
    KSALLOCATOR_FRAMING {
        Flags: 0,
        PoolType: 0,
        Frames: frames,
        FrameSize: frame_size,
        FileAlignment: 0,
        Reserved: 0,
    }
}

#[test]
fn a_factory_created_at_start_registers_enabled_interfaces_with_its_reference_string() {
    let (kernel, status) = load(How::StartWithRefString, Kernel::new());
    assert_eq!(status, STATUS_SUCCESS);
    for category in [CAPTURE, VIDEO] {
        let interfaces = kernel.device_interfaces(&category);
        assert_eq!(interfaces.len(), 1, "{category:?}");
        assert_eq!(interfaces[0].reference.as_deref(), Some("GLOBAL"));
    }
    assert!(kernel.registered_interfaces().iter().all(|(_, on)| *on));
    // The interface opens the factory's filter: the create is routed by the reference string.
    let (filter, pin) = filter_and_pin(&kernel);
    assert_eq!(kernel.close(pin), STATUS_SUCCESS);
    assert_eq!(kernel.close(filter), STATUS_SUCCESS);
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn descriptor_factories_take_their_reference_guid_or_get_no_reference_string() {
    let (kernel, status) = load(How::DescriptorWithGuid, Kernel::new());
    assert_eq!(status, STATUS_SUCCESS);
    let interfaces = kernel.device_interfaces(&CAPTURE);
    assert_eq!(
        interfaces[0].reference.as_deref(),
        Some("{9B365890-165F-11D0-A195-0020AFD156E4}")
    );
    let (filter, pin) = filter_and_pin(&kernel);
    kernel.close(pin);
    kernel.close(filter);
    kernel.unload_driver();
    // A NULL ReferenceGuid and no RefString: registered without a reference string, so an INF
    // registering "GLOBAL" interfaces would point at nothing (ReactOS's filter factory).
    let (kernel, status) = load(How::DescriptorNoGuid, Kernel::new());
    assert_eq!(status, STATUS_SUCCESS);
    let interfaces = kernel.device_interfaces(&CAPTURE);
    assert_eq!(interfaces.len(), 1);
    assert_eq!(interfaces[0].reference, None);
    assert!(kernel
        .device_interfaces(&CAPTURE)
        .iter()
        .all(|i| i.reference.as_deref() != Some("GLOBAL")));
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn a_factory_needs_the_device_mutex_and_a_reference_string_of_its_own() {
    let kernel = Kernel::new();
    kernel.expect_bugs();
    let (kernel, _) = load(How::StartWithoutMutex, kernel);
    let bugs = kernel.take_bugs();
    assert!(
        bugs.contains(&Bug::DeviceMutexNotHeld {
            service: "KsCreateFilterFactory"
        }),
        "{bugs:?}"
    );
    kernel.unload_driver();
    let (kernel, status) = load(How::StartTwice, Kernel::new());
    assert_eq!(status, STATUS_SUCCESS);
    let statuses = FACTORY_STATUSES.lock().unwrap().clone();
    assert!(
        statuses
            .windows(2)
            .any(|w| w == [STATUS_SUCCESS, STATUS_OBJECT_NAME_COLLISION]),
        "{statuses:?}"
    );
    assert_eq!(kernel.device_interfaces(&CAPTURE).len(), 1);
    kernel.unload_driver();
}

#[test]
fn a_factory_created_after_the_start_sequence_stays_disabled() {
    let (kernel, status) = load(How::StartWithRefString, Kernel::new());
    assert_eq!(status, STATUS_SUCCESS);
    let (filter, pin) = filter_and_pin(&kernel);
    let second: Vec<u16> = "SECOND".encode_utf16().chain([0]).collect();
    {
        let _entered = kernel.enter();
        // SAFETY: the pin's file object is live while the client has it open.
        let ks_pin = unsafe { KsGetObjectFromFileObject(kernel.file_object(pin)) };
        // SAFETY: a live KSPIN: KsGetDevice gives its KSDEVICE.
        let device = unsafe { KsGetDevice(ks_pin) };
        // SAFETY: a live KSDEVICE at PASSIVE_LEVEL.
        unsafe { KsAcquireDevice(device) };
        // SAFETY: a live KSDEVICE: its functional device object.
        let fdo = unsafe { (*device).FunctionalDeviceObject };
        // SAFETY: the device's FDO, a leaked descriptor, a live string.
        let status = unsafe {
            KsCreateFilterFactory(
                fdo,
                filter_descriptor(Kind::WithGuid),
                second.as_ptr().cast_mut(),
                null_mut(),
                0,
                None,
                None,
                null_mut(),
            )
        };
        assert_eq!(status, STATUS_SUCCESS);
        // The device mutex is not recursive, and only its holder releases it.
        // SAFETY: a live KSDEVICE; the second acquire is the bug under test.
        unsafe { KsAcquireDevice(device) };
        // SAFETY: acquired above.
        unsafe { KsReleaseDevice(device) };
        // SAFETY: a live KSDEVICE; this release by a non-holder is the bug under test.
        unsafe { KsReleaseDevice(device) };
    }
    kernel.expect_bugs();
    assert_eq!(
        kernel.take_bugs(),
        vec![Bug::DeviceMutexRecursive, Bug::DeviceMutexNotOwned]
    );
    let registered = kernel.registered_interfaces();
    let second_factory: Vec<_> = registered
        .iter()
        .filter(|(i, _)| i.reference.as_deref() == Some("SECOND"))
        .collect();
    assert_eq!(second_factory.len(), 2, "one per category");
    assert!(second_factory.iter().all(|(_, enabled)| !enabled));
    assert!(kernel
        .device_interfaces(&CAPTURE)
        .iter()
        .all(|i| i.reference.as_deref() == Some("GLOBAL")));
    kernel.close(pin);
    kernel.close(filter);
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

/// The object header behind a pin's file object.
fn pin_header(kernel: &Kernel, pin: File) -> KSOBJECT_HEADER {
    // SAFETY: the pin's file object is live while the client has it open.
    let fs_context = unsafe { (*kernel.file_object(pin)).FsContext };
    // SAFETY: by the KS convention FsContext starts with the object header.
    unsafe { fs_context.cast::<KSOBJECT_HEADER>().read() }
}

#[ks::kernel_abi]
unsafe extern "system" fn never_called(
    _device: *mut ks::nt::DEVICE_OBJECT,
    _irp: *mut IRP,
) -> NTSTATUS {
    panic!("a create item the test added was routed to");
}

#[test]
fn a_pins_object_header_has_the_allocator_clock_and_node_items_and_no_spare_slot() {
    let (kernel, _) = load(How::StartWithRefString, Kernel::new());
    let (filter, pin) = filter_and_pin(&kernel);
    let header = pin_header(&kernel, pin);
    let class: Vec<u16> = "{12345678-0000-0000-0000-000000000000}"
        .encode_utf16()
        .chain([0])
        .collect();
    let allocator: Vec<u16> = KSSTRING_Allocator.encode_utf16().chain([0]).collect();
    {
        let _entered = kernel.enter();
        for name in [&class, &allocator] {
            // SAFETY: a live header; the class strings outlive the calls.
            let status = unsafe {
                KsAddObjectCreateItemToObjectHeader(
                    header,
                    Some(never_called),
                    null_mut(),
                    name.as_ptr().cast_mut(),
                    null_mut(),
                )
            };
            let expected = if std::ptr::eq(name, &allocator) {
                STATUS_OBJECT_NAME_COLLISION
            } else {
                STATUS_ALLOTTED_SPACE_EXCEEDED
            };
            assert_eq!(status, expected);
        }
    }
    // The clock and topology node items exist and answer as ReactOS's stubs do.
    for object_class in [
        "{53172480-4791-11D0-A5D6-28DB04C10000}",
        "{0621061A-EE75-11D0-B915-00A0C9223196}",
    ] {
        let name: Vec<u16> = object_class
            .encode_utf16()
            .chain("\\".encode_utf16())
            .collect();
        assert_eq!(kernel.create(pin, &name), Err(STATUS_NOT_IMPLEMENTED));
    }
    // Without a KsCreateDefaultAllocatorEx handed to ks.sys, allocator creates fail the same way.
    assert_eq!(
        kernel.create_allocator(pin, &framing(2, 4096)),
        Err(STATUS_NOT_IMPLEMENTED)
    );
    kernel.close(pin);
    kernel.close(filter);
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn an_allocator_create_on_the_pin_runs_the_pins_allocator_dispatch() {
    let (kernel, _) = load(How::StartWithRefString, with_allocator());
    let (filter, pin) = filter_and_pin(&kernel);
    let ks_pin = {
        let _entered = kernel.enter();
        // SAFETY: the pin's file object is live.
        unsafe { KsGetObjectFromFileObject(kernel.file_object(pin)) }
    };
    let (allocated, freed, deleted) = (
        ALLOCATED.load(Ordering::SeqCst),
        FREED.load(Ordering::SeqCst),
        DELETED.load(Ordering::SeqCst),
    );
    let allocator = kernel
        .create_allocator(pin, &framing(3, 6000))
        .expect("the allocator is created");
    // InitializeAllocator got the pin and the request's framing; every frame came from Allocate.
    assert!(INITIALIZED_WITH
        .lock()
        .unwrap()
        .contains(&(ks_pin as usize, 6000)));
    assert!(ALLOCATED.load(Ordering::SeqCst) >= allocated + 3);
    let status = avcam_client_status(&kernel, allocator);
    assert_eq!((status.Framing.Frames, status.Framing.FrameSize), (3, 6000));
    // The allocator outlives nothing of the pin: closing the pin first is fine, and closing the
    // allocator gives every frame back through Free and calls DeleteAllocator once.
    kernel.close(pin);
    kernel.close(allocator);
    assert!(FREED.load(Ordering::SeqCst) >= freed + 3);
    assert!(DELETED.load(Ordering::SeqCst) > deleted);
    kernel.close(filter);
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn a_failing_initialize_allocator_fails_the_create_and_a_pin_without_dispatch_gets_the_default() {
    let (kernel, _) = load(How::StartWithRefString, with_allocator());
    let (filter, pin) = filter_and_pin(&kernel);
    let outstanding = kernel.pool().outstanding().len();
    assert_eq!(
        kernel.create_allocator(pin, &framing(2, REFUSED_SIZE)),
        Err(STATUS_INSUFFICIENT_RESOURCES)
    );
    assert_eq!(
        kernel.pool().outstanding().len(),
        outstanding,
        "nothing kept"
    );
    kernel.close(pin);
    kernel.close(filter);
    kernel.unload_driver();
    kernel.assert_no_leaks();
    // A pin that declares no allocator dispatch gets the default allocator: its frames come
    // from the pool (and the pin's callbacks are not called for it).
    let (kernel, _) = load(How::StartNoAllocator, with_allocator());
    let (filter, pin) = filter_and_pin(&kernel);
    let ks_pin = {
        let _entered = kernel.enter();
        // SAFETY: the pin's file object is live.
        unsafe { KsGetObjectFromFileObject(kernel.file_object(pin)) }
    };
    let before = kernel.pool().outstanding().len();
    // A frame size no other test asks for: the pin's InitializeAllocator never sees it.
    let allocator = kernel
        .create_allocator(pin, &framing(3, 4100))
        .expect("the default allocator");
    assert!(
        kernel.pool().outstanding().len() >= before + 3,
        "three pool frames"
    );
    assert!(!INITIALIZED_WITH
        .lock()
        .unwrap()
        .contains(&(ks_pin as usize, 4100)));
    kernel.close(allocator);
    kernel.close(pin);
    kernel.close(filter);
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn without_a_reference_string_the_inf_s_global_interface_opens_nothing() {
    let (kernel, _) = load(How::DescriptorNoGuid, Kernel::new());
    let interfaces = kernel.device_interfaces(&CAPTURE);
    // The interface ks.sys registered (no reference string) opens the filter...
    let filter = kernel
        .open_interface(&interfaces[0])
        .expect("the bare interface");
    kernel.close(filter);
    // ...but the one an INF registers with reference string GLOBAL names no create item.
    let global = avcam_emulation::DeviceInterface {
        reference: Some("GLOBAL".into()),
        ..interfaces[0].clone()
    };
    assert_eq!(
        kernel.open_interface(&global),
        Err(STATUS_OBJECT_NAME_NOT_FOUND)
    );
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

/// KSPROPERTY_STREAMALLOCATOR_STATUS of an allocator file.
fn avcam_client_status(kernel: &Kernel, allocator: File) -> ks::ks::KSSTREAMALLOCATOR_STATUS {
    let request = ks::ks::KSIDENTIFIER {
        Set: ks::guid::KSPROPSETID_StreamAllocator,
        Id: ks::ks::KSPROPERTY_STREAMALLOCATOR_STATUS,
        Flags: ks::ks::KSPROPERTY_TYPE_GET,
    };
    let mut answer = ks::ks::KSSTREAMALLOCATOR_STATUS::default();
    let result = kernel.ioctl(
        allocator,
        ks::ks::IOCTL_KS_PROPERTY,
        request.as_bytes(),
        answer.as_mut_bytes(),
    );
    assert_eq!(result.status, STATUS_SUCCESS);
    answer
}
