//! ks.sys's side of the device start and of a pin's creation, and the pin properties ks.sys
//! answers from the descriptor, with a minidriver written against `avcam-kernel` whose device,
//! filter and pin callbacks log what they saw: `KSDEVICE.Started` around the Start callback, the
//! connection's interface and medium, `SetDataFormat` offered each matching range in turn, a
//! failing Create, and the descriptor-answered KSPROPSETID_Pin items.
//!
//! The minidriver's switches are process-wide, so the tests of this file take [`SERIAL`] for
//! their whole run.

use std::ffi::c_void;
use std::ptr::{null, null_mut};
use std::sync::{Mutex, MutexGuard, OnceLock};

use avcam_emulation::{File, Kernel};
use avcam_kernel::{
    KsGetDevice, KsGetFilterFromIrp, KsGetObjectFromFileObject, KsGetPinFromIrp, KsInitializeDriver,
};
use ks::avstream::*;
use ks::guid::GUID;
use ks::ks::{IOCTL_KS_PROPERTY, IOCTL_KS_READ_STREAM, KSIDENTIFIER, KSPROPERTY_TYPE_GET};
use ks::nt::{DRIVER_OBJECT, IRP, UNICODE_STRING};
use ks::status::*;
use ks::video::{
    KSINTERFACESETID_Standard, KSMEDIUMSETID_Standard, KSPROPSETID_Connection, KSPROPSETID_Pin,
    KSDATAFORMAT, KSDATAFORMAT_SUBTYPE_NV12, KSDATAFORMAT_TYPE_VIDEO, KSMULTIPLE_ITEM,
    KSPIN_CINSTANCES, KSPIN_CONNECT, KSPROPERTY_CONNECTION_DATAFORMAT, KSPROPERTY_PIN_CATEGORY,
    KSPROPERTY_PIN_CINSTANCES, KSPROPERTY_PIN_COMMUNICATION, KSPROPERTY_PIN_GLOBALCINSTANCES,
    KSPROPERTY_PIN_INTERFACES, KSPROPERTY_PIN_MEDIUMS, KSPROPERTY_PIN_NAME, KSP_PIN,
};
use ks::NTSTATUS;
use zerocopy::{FromBytes, FromZeros, IntoBytes};

/// The filter's category ({65E8773D-8F56-11D0-A3B9-00A0C9223196}, KSCATEGORY_CAPTURE).
const CATEGORY: GUID = GUID::from_u128(0x65E8773D_8F56_11D0_A3B9_00A0C9223196);
/// Pin 1's name GUID.
static PIN_NAME: GUID = GUID::from_u128(0x0BAD_CAFE_1234_5678_9ABC_DEF0_1122_3344);
/// Pin 0's category.
static PIN_CATEGORY: GUID = CATEGORY;
/// Pin 1's only medium.
const PRIVATE_MEDIUM: GUID = GUID::from_u128(0x5EC0_0001_0000_0000_0000_0000_0000_0001);

/// Serialises the tests of this file (the minidriver's switches are process-wide).
static SERIAL: Mutex<()> = Mutex::new(());

/// What the minidriver is told to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetFormat {
    /// Accept the first range offered.
    Accept,
    /// STATUS_NO_MATCH for the first range (NV12), accept the next.
    NoMatchThenAccept,
    /// STATUS_NO_MATCH for every range.
    NeverMatch,
    /// STATUS_INVALID_PARAMETER for the first range: stop looking.
    Refuse,
}

#[derive(Clone, Copy, Debug)]
struct Switches {
    start_fails: bool,
    set_format: SetFormat,
    create_fails: bool,
}

static SWITCHES: Mutex<Switches> = Mutex::new(Switches {
    start_fails: false,
    set_format: SetFormat::Accept,
    create_fails: false,
});

/// What the minidriver's callbacks saw, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    /// Start: `KSDEVICE.Started` and the IRQL.
    Start { started: u8, irql: u8 },
    /// The device's Remove.
    Remove,
    /// The filter's Create: whether `KsGetPinFromIrp` said NULL and `KsGetFilterFromIrp` named
    /// the filter being created.
    FilterCreate { no_pin: bool, this_filter: bool },
    /// SetDataFormat: which range (0: NV12, 1: any video), OldFormat NULL, and the subformat of
    /// the ConnectionFormat already set.
    SetFormat {
        range: usize,
        old_null: bool,
        connection: GUID,
    },
    /// The pin's Create.
    PinCreate,
    /// The pin's Close.
    PinClose,
}

static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

fn seen(event: Seen) {
    SEEN.lock().unwrap().push(event);
}

fn switches() -> Switches {
    *SWITCHES.lock().unwrap()
}

#[ks::kernel_abi]
unsafe extern "system" fn device_start(
    device: *mut KSDEVICE,
    _irp: *mut IRP,
    _translated: *mut c_void,
    _untranslated: *mut c_void,
) -> NTSTATUS {
    seen(Seen::Start {
        // SAFETY: a live KSDEVICE (ks.sys's contract).
        started: unsafe { (*device).Started },
        irql: avcam_emulation::current_irql(),
    });
    if switches().start_fails {
        STATUS_DEVICE_NOT_READY
    } else {
        STATUS_SUCCESS
    }
}

#[ks::kernel_abi]
unsafe extern "system" fn device_remove(_device: *mut KSDEVICE, _irp: *mut IRP) {
    seen(Seen::Remove);
}

#[ks::kernel_abi]
unsafe extern "system" fn filter_create(filter: *mut KSFILTER, irp: *mut IRP) -> NTSTATUS {
    seen(Seen::FilterCreate {
        // SAFETY: the filter's live create IRP.
        no_pin: unsafe { KsGetPinFromIrp(irp) }.is_null(),
        // SAFETY: as above.
        this_filter: unsafe { KsGetFilterFromIrp(irp) } == filter,
    });
    STATUS_SUCCESS
}

static RANGE_NV12: KSDATAFORMAT = KSDATAFORMAT {
    FormatSize: 64,
    Flags: 0,
    SampleSize: 0,
    Reserved: 0,
    MajorFormat: KSDATAFORMAT_TYPE_VIDEO,
    SubFormat: KSDATAFORMAT_SUBTYPE_NV12,
    Specifier: GUID::NULL,
};

/// Any video subformat (GUID_NULL, the KSDATAFORMAT_SUBTYPE_WILDCARD value).
static RANGE_ANY_VIDEO: KSDATAFORMAT = KSDATAFORMAT {
    FormatSize: 64,
    Flags: 0,
    SampleSize: 0,
    Reserved: 0,
    MajorFormat: KSDATAFORMAT_TYPE_VIDEO,
    SubFormat: GUID::NULL,
    Specifier: GUID::NULL,
};

#[ks::kernel_abi]
unsafe extern "system" fn pin_set_format(
    pin: *mut KSPIN,
    old: *mut c_void,
    _old_attributes: *mut c_void,
    range: *const c_void,
    _attribute_range: *const c_void,
) -> NTSTATUS {
    let index = if std::ptr::eq(range.cast(), &RANGE_NV12) {
        0
    } else {
        assert!(
            std::ptr::eq(range.cast(), &RANGE_ANY_VIDEO),
            "a range of ours"
        );
        1
    };
    // SAFETY: a live KSPIN whose ConnectionFormat ks.sys set before this call.
    let format = unsafe { (*pin).ConnectionFormat }.cast::<KSDATAFORMAT>();
    // SAFETY: the connection format holds at least a KSDATAFORMAT.
    let connection = unsafe { format.read_unaligned() }.SubFormat;
    seen(Seen::SetFormat {
        range: index,
        old_null: old.is_null(),
        connection,
    });
    match (switches().set_format, index) {
        (SetFormat::Accept, _) | (SetFormat::NoMatchThenAccept, 1) => STATUS_SUCCESS,
        (SetFormat::NoMatchThenAccept, _) | (SetFormat::NeverMatch, _) => STATUS_NO_MATCH,
        (SetFormat::Refuse, _) => STATUS_INVALID_PARAMETER,
    }
}

#[ks::kernel_abi]
unsafe extern "system" fn pin_create(_pin: *mut KSPIN, _irp: *mut IRP) -> NTSTATUS {
    seen(Seen::PinCreate);
    if switches().create_fails {
        STATUS_INSUFFICIENT_RESOURCES
    } else {
        STATUS_SUCCESS
    }
}

#[ks::kernel_abi]
unsafe extern "system" fn pin_close(_pin: *mut KSPIN, _irp: *mut IRP) -> NTSTATUS {
    seen(Seen::PinClose);
    STATUS_SUCCESS
}

/// Pin 0's KSPROPERTY_CONNECTION_DATAFORMAT: the minidriver's own answer (8 bytes of 0x5A).
#[ks::kernel_abi]
unsafe extern "system" fn own_data_format(
    irp: *mut IRP,
    _request: *mut KSIDENTIFIER,
    data: *mut c_void,
) -> NTSTATUS {
    // SAFETY: MinData guarantees 8 writable bytes.
    unsafe { std::ptr::write_bytes(data.cast::<u8>(), 0x5A, 8) };
    // SAFETY: the handler owns the IRP's IoStatus.
    unsafe { (*irp).IoStatus.Information = 8 };
    STATUS_SUCCESS
}

struct Leaked(*const KSDEVICE_DESCRIPTOR);
// SAFETY: leaked descriptors, never written after they are built.
unsafe impl Send for Leaked {}
// SAFETY: as above: shared reads only.
unsafe impl Sync for Leaked {}

fn leak<T>(value: T) -> *const T {
    Box::leak(Box::new(value))
}

fn pin_descriptor(
    index: usize,
    dispatch: *const KSPIN_DISPATCH,
    automation: *const KSAUTOMATION_TABLE,
) -> KSPIN_DESCRIPTOR_EX {
    let (ranges, interfaces, mediums, name, category, communication): (
        *const [*const c_void],
        *const KSPIN_INTERFACE,
        *const KSPIN_MEDIUM,
        *const GUID,
        *const GUID,
        u32,
    ) = if index == 0 {
        (
            leak([
                (&raw const RANGE_NV12).cast::<c_void>(),
                (&raw const RANGE_ANY_VIDEO).cast::<c_void>(),
            ]),
            null(),
            null(),
            null(),
            &PIN_CATEGORY,
            KSPIN_COMMUNICATION_SINK,
        )
    } else {
        (
            leak([(&raw const RANGE_NV12).cast::<c_void>()]),
            leak(KSIDENTIFIER {
                Set: KSINTERFACESETID_Standard,
                Id: 0,
                Flags: 0,
            }),
            leak(KSIDENTIFIER {
                Set: PRIVATE_MEDIUM,
                Id: 7,
                Flags: 0,
            }),
            &PIN_NAME,
            null(),
            KSPIN_COMMUNICATION_BOTH,
        )
    };
    let count = ranges.len() as u32;
    KSPIN_DESCRIPTOR_EX {
        Dispatch: dispatch,
        AutomationTable: if index == 0 { automation } else { null() },
        PinDescriptor: KSPIN_DESCRIPTOR {
            InterfacesCount: u32::from(!interfaces.is_null()),
            Interfaces: interfaces.cast_mut(),
            MediumsCount: u32::from(!mediums.is_null()),
            Mediums: mediums.cast_mut(),
            DataRangesCount: count,
            DataRanges: ranges.cast(),
            DataFlow: KSPIN_DATAFLOW_OUT,
            Communication: communication,
            Category: category,
            Name: name,
            ConstrainedDataRangesCount: 0,
            ConstrainedDataRanges: null_mut(),
        },
        Flags: 0,
        InstancesPossible: 1,
        InstancesNecessary: 0,
        AllocatorFraming: null(),
        IntersectHandler: None,
    }
}

/// The device descriptor, built once: one filter (listed, no reference string) with two pins.
fn device_descriptor() -> *const KSDEVICE_DESCRIPTOR {
    static BUILT: OnceLock<Leaked> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let pin_dispatch = leak(KSPIN_DISPATCH {
                Create: Some(pin_create),
                Close: Some(pin_close),
                Process: None,
                Reset: None,
                SetDataFormat: Some(pin_set_format),
                SetDeviceState: None,
                Connect: None,
                Disconnect: None,
                Clock: null(),
                Allocator: null(),
            });
            let items = leak([KSPROPERTY_ITEM {
                PropertyId: KSPROPERTY_CONNECTION_DATAFORMAT,
                GetPropertyHandler: Some(own_data_format),
                MinProperty: std::mem::size_of::<KSIDENTIFIER>() as u32,
                MinData: 8,
                SetPropertyHandler: None,
                Values: std::ptr::null(),
                RelationsCount: 0,
                Relations: null_mut(),
                SupportHandler: None,
                SerializedSize: 0,
            }]);
            let sets = leak([KSPROPERTY_SET {
                Set: &KSPROPSETID_Connection,
                PropertiesCount: 1,
                PropertyItem: items.cast(),
                FastIoCount: 0,
                FastIoTable: null_mut(),
            }]);
            let automation = leak(KSAUTOMATION_TABLE {
                PropertySetsCount: 1,
                PropertyItemSize: std::mem::size_of::<KSPROPERTY_ITEM>() as u32,
                PropertySets: sets.cast(),
                MethodSetsCount: 0,
                MethodItemSize: 0,
                MethodSets: null_mut(),
                EventSetsCount: 0,
                EventItemSize: 0,
                EventSets: null_mut(),
            });
            let pins = leak([
                pin_descriptor(0, pin_dispatch, automation),
                pin_descriptor(1, pin_dispatch, automation),
            ]);
            let categories = leak([CATEGORY]);
            let filter_dispatch = leak(KSFILTER_DISPATCH {
                Create: Some(filter_create),
                Close: None,
                Process: None,
                Reset: None,
            });
            let filter = leak(KSFILTER_DESCRIPTOR {
                Dispatch: filter_dispatch,
                AutomationTable: null(),
                Version: KSFILTER_DESCRIPTOR_VERSION,
                Flags: 0,
                ReferenceGuid: null(),
                PinDescriptorsCount: 2,
                PinDescriptorSize: std::mem::size_of::<KSPIN_DESCRIPTOR_EX>() as u32,
                PinDescriptors: pins.cast(),
                CategoriesCount: 1,
                Categories: categories.cast(),
                NodeDescriptorsCount: 0,
                NodeDescriptorSize: 0,
                NodeDescriptors: null_mut(),
                ConnectionsCount: 0,
                Connections: null_mut(),
                ComponentId: null_mut(),
            });
            let dispatch = leak(KSDEVICE_DISPATCH {
                Add: None,
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
            let filters = leak([filter]);
            Leaked(leak(KSDEVICE_DESCRIPTOR {
                Dispatch: dispatch,
                FilterDescriptorsCount: 1,
                FilterDescriptors: filters.cast(),
                Version: KSDEVICE_DESCRIPTOR_VERSION,
                Flags: 0,
            }))
        })
        .0
}

#[ks::kernel_abi]
unsafe extern "system" fn driver_entry(
    driver: *mut DRIVER_OBJECT,
    path: *mut UNICODE_STRING,
) -> NTSTATUS {
    // SAFETY: DriverEntry's arguments, forwarded; the descriptor is leaked, so it lives forever.
    unsafe { KsInitializeDriver(driver, path, device_descriptor()) }
}

/// Takes the file's lock, resets the switches and the log.
fn serial() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    *SWITCHES.lock().unwrap() = Switches {
        start_fails: false,
        set_format: SetFormat::Accept,
        create_fails: false,
    };
    SEEN.lock().unwrap().clear();
    guard
}

/// The driver loaded; its filter opened.
fn loaded() -> (Kernel, File) {
    let kernel = Kernel::new();
    assert_eq!(kernel.load_driver(driver_entry), STATUS_SUCCESS);
    let interfaces = kernel.device_interfaces(&CATEGORY);
    assert_eq!(interfaces.len(), 1);
    let filter = kernel.open_interface(&interfaces[0]).expect("the filter");
    (kernel, filter)
}

fn identifier(set: GUID, id: u32) -> KSIDENTIFIER {
    KSIDENTIFIER {
        Set: set,
        Id: id,
        Flags: 0,
    }
}

/// KSPIN_CONNECT for `pin_id` through `interface` and `medium`, then an NV12 KSDATAFORMAT.
fn connect_through(pin_id: u32, interface: KSIDENTIFIER, medium: KSIDENTIFIER) -> Vec<u8> {
    let connect = KSPIN_CONNECT {
        Interface: interface,
        Medium: medium,
        PinId: pin_id,
        ..KSPIN_CONNECT::new_zeroed()
    };
    let mut bytes = connect.as_bytes().to_vec();
    bytes.extend_from_slice(RANGE_NV12.as_bytes());
    bytes
}

/// A connection to pin 0 through the standard interface and medium.
fn standard(pin_id: u32) -> Vec<u8> {
    connect_through(
        pin_id,
        identifier(KSINTERFACESETID_Standard, 0),
        identifier(KSMEDIUMSETID_Standard, 0),
    )
}

fn pin_property(id: u32, pin_id: u32) -> Vec<u8> {
    KSP_PIN {
        Property: KSIDENTIFIER {
            Set: KSPROPSETID_Pin,
            Id: id,
            Flags: KSPROPERTY_TYPE_GET,
        },
        PinId: pin_id,
        Reserved: 0,
    }
    .as_bytes()
    .to_vec()
}

/// KSPROPERTY_PIN_CINSTANCES' CurrentCount of `pin_id`.
fn instances(kernel: &Kernel, filter: File, pin_id: u32) -> u32 {
    let mut answer = [0u8; 8];
    let result = kernel.ioctl(
        filter,
        IOCTL_KS_PROPERTY,
        &pin_property(KSPROPERTY_PIN_CINSTANCES, pin_id),
        &mut answer,
    );
    assert_eq!(result.status, STATUS_SUCCESS);
    KSPIN_CINSTANCES::read_from_bytes(&answer)
        .unwrap()
        .CurrentCount
}

fn seen_log() -> Vec<Seen> {
    SEEN.lock().unwrap().clone()
}

#[test]
fn start_runs_at_passive_level_before_started_is_set_and_remove_comes_at_unload() {
    let _serial = serial();
    let (kernel, filter) = loaded();
    assert_eq!(
        seen_log()[..2],
        [
            Seen::Start {
                started: 0,
                irql: ks::nt::PASSIVE_LEVEL
            },
            Seen::FilterCreate {
                no_pin: true,
                this_filter: true
            }
        ],
        "Start sees Started FALSE (avshws creates its factory on !Started); a filter's IRP has no pin"
    );
    {
        let _entered = kernel.enter();
        // SAFETY: the filter's file object is live while the client has it open.
        let object = unsafe { KsGetObjectFromFileObject(kernel.file_object(filter)) };
        // SAFETY: a live KSFILTER.
        let device = unsafe { KsGetDevice(object) };
        // SAFETY: the live KSDEVICE; ks.sys writes `Started` only during the start.
        let started = unsafe { (*device).Started };
        assert_eq!(started, 1, "started once Start succeeded");
    }
    kernel.close(filter);
    kernel.unload_driver();
    assert_eq!(seen_log().last(), Some(&Seen::Remove));
    assert!(kernel.device_interfaces(&CATEGORY).is_empty());
    kernel.assert_no_leaks();
}

#[test]
fn a_failing_start_fails_the_load_and_enables_no_interface() {
    let _serial = serial();
    SWITCHES.lock().unwrap().start_fails = true;
    let kernel = Kernel::new();
    assert_eq!(kernel.load_driver(driver_entry), STATUS_DEVICE_NOT_READY);
    assert!(kernel.device_interfaces(&CATEGORY).is_empty());
    let registered = kernel.registered_interfaces();
    assert_eq!(
        registered.len(),
        1,
        "the factory's interface is registered..."
    );
    assert!(!registered[0].1, "...and stays disabled");
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn a_connection_names_an_interface_and_a_medium_the_pin_offers() {
    let _serial = serial();
    let (kernel, filter) = loaded();
    // Pin 0 lists none: only the standard interface and medium connect.
    let looped = connect_through(
        0,
        identifier(KSINTERFACESETID_Standard, 1),
        identifier(KSMEDIUMSETID_Standard, 0),
    );
    assert_eq!(kernel.create_pin(filter, &looped), Err(STATUS_NO_MATCH));
    let private = connect_through(
        0,
        identifier(KSINTERFACESETID_Standard, 0),
        identifier(PRIVATE_MEDIUM, 7),
    );
    assert_eq!(kernel.create_pin(filter, &private), Err(STATUS_NO_MATCH));
    // Pin 1 lists its own medium: the standard one no longer connects, its own does.
    assert_eq!(
        kernel.create_pin(filter, &standard(1)),
        Err(STATUS_NO_MATCH)
    );
    let wrong_id = connect_through(
        1,
        identifier(KSINTERFACESETID_Standard, 0),
        identifier(PRIVATE_MEDIUM, 8),
    );
    assert_eq!(kernel.create_pin(filter, &wrong_id), Err(STATUS_NO_MATCH));
    assert_eq!(
        instances(&kernel, filter, 0),
        0,
        "refused before any instance"
    );
    assert!(
        !seen_log()
            .iter()
            .any(|s| matches!(s, Seen::SetFormat { .. })),
        "refused before the format is offered"
    );
    let own = connect_through(
        1,
        identifier(KSINTERFACESETID_Standard, 0),
        identifier(PRIVATE_MEDIUM, 7),
    );
    let pin = kernel.create_pin(filter, &own).expect("its own medium");
    let zero = kernel
        .create_pin(filter, &standard(0))
        .expect("the standard ones");
    kernel.close(pin);
    kernel.close(zero);
    kernel.close(filter);
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn set_data_format_is_offered_each_matching_range_until_one_is_taken() {
    let _serial = serial();
    let (kernel, filter) = loaded();
    let offered = || -> Vec<usize> {
        seen_log()
            .iter()
            .filter_map(|s| match s {
                Seen::SetFormat {
                    range,
                    old_null,
                    connection,
                } => {
                    assert!(old_null, "OldFormat NULL at creation");
                    assert_eq!(
                        *connection, KSDATAFORMAT_SUBTYPE_NV12,
                        "ConnectionFormat set"
                    );
                    Some(*range)
                }
                _ => None,
            })
            .collect()
    };
    // STATUS_NO_MATCH asks for the next matching range; its SUCCESS creates the pin.
    SWITCHES.lock().unwrap().set_format = SetFormat::NoMatchThenAccept;
    SEEN.lock().unwrap().clear();
    let pin = kernel
        .create_pin(filter, &standard(0))
        .expect("the second range");
    assert_eq!(offered(), [0, 1]);
    assert_eq!(
        seen_log().last(),
        Some(&Seen::PinCreate),
        "Create after the format"
    );
    kernel.close(pin);
    // Every range declined: STATUS_NO_MATCH, no Create.
    SWITCHES.lock().unwrap().set_format = SetFormat::NeverMatch;
    SEEN.lock().unwrap().clear();
    assert_eq!(
        kernel.create_pin(filter, &standard(0)),
        Err(STATUS_NO_MATCH)
    );
    assert_eq!(offered(), [0, 1]);
    // Any other failure ends the search at once.
    SWITCHES.lock().unwrap().set_format = SetFormat::Refuse;
    SEEN.lock().unwrap().clear();
    assert_eq!(
        kernel.create_pin(filter, &standard(0)),
        Err(STATUS_INVALID_PARAMETER)
    );
    assert_eq!(offered(), [0]);
    assert!(!seen_log().contains(&Seen::PinCreate));
    assert_eq!(
        instances(&kernel, filter, 0),
        0,
        "each failure gave its instance back"
    );
    kernel.close(filter);
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn a_failing_create_dispatch_fails_the_create_without_a_close() {
    let _serial = serial();
    let (kernel, filter) = loaded();
    SWITCHES.lock().unwrap().create_fails = true;
    SEEN.lock().unwrap().clear();
    assert_eq!(
        kernel.create_pin(filter, &standard(0)),
        Err(STATUS_INSUFFICIENT_RESOURCES)
    );
    let log = seen_log();
    assert!(log.contains(&Seen::PinCreate));
    assert!(
        !log.contains(&Seen::PinClose),
        "a pin never created is never closed"
    );
    assert_eq!(instances(&kernel, filter, 0), 0);
    SWITCHES.lock().unwrap().create_fails = false;
    let pin = kernel
        .create_pin(filter, &standard(0))
        .expect("the instance is free");
    kernel.close(pin);
    assert_eq!(seen_log().last(), Some(&Seen::PinClose));
    kernel.close(filter);
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

/// The registry form of a GUID as KSPROPERTY_PIN_NAME answers it: `{...}`, NUL-terminated UTF-16.
fn name_of(guid: &GUID) -> Vec<u8> {
    let text = format!("{{{}}}", String::from_utf16(&guid.to_utf16()).unwrap()).to_uppercase();
    text.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

#[test]
fn pin_properties_answer_from_the_descriptor_and_the_pins_table_comes_first() {
    let _serial = serial();
    let (kernel, filter) = loaded();
    let get = |id: u32, pin_id: u32, output: &mut [u8]| {
        kernel.ioctl(filter, IOCTL_KS_PROPERTY, &pin_property(id, pin_id), output)
    };
    let mut word = [0u8; 4];
    assert_eq!(
        get(KSPROPERTY_PIN_COMMUNICATION, 0, &mut word).status,
        STATUS_SUCCESS
    );
    assert_eq!(u32::from_le_bytes(word), KSPIN_COMMUNICATION_SINK);
    assert_eq!(
        get(KSPROPERTY_PIN_COMMUNICATION, 1, &mut word).status,
        STATUS_SUCCESS
    );
    assert_eq!(u32::from_le_bytes(word), KSPIN_COMMUNICATION_BOTH);
    // NAME: the Name GUID's string, else the category's; a pin without a category: none.
    let mut name = vec![0u8; 128];
    let result = get(KSPROPERTY_PIN_NAME, 1, &mut name);
    assert_eq!(result.status, STATUS_SUCCESS);
    assert_eq!(name[..result.information], name_of(&PIN_NAME)[..]);
    let result = get(KSPROPERTY_PIN_NAME, 0, &mut name);
    assert_eq!(name[..result.information], name_of(&CATEGORY)[..]);
    let mut guid = [0u8; 16];
    assert_eq!(
        get(KSPROPERTY_PIN_CATEGORY, 1, &mut guid).status,
        STATUS_NOT_FOUND
    );
    // MEDIUMS and INTERFACES: the pin's lists, or the standard one.
    let list = |id: u32, pin_id: u32| -> Vec<KSIDENTIFIER> {
        let mut bytes = [0u8; 64];
        let result = get(id, pin_id, &mut bytes);
        assert_eq!(result.status, STATUS_SUCCESS);
        let (header, mut rest) = KSMULTIPLE_ITEM::read_from_prefix(&bytes).unwrap();
        assert_eq!(header.Size as usize, result.information);
        (0..header.Count)
            .map(|_| {
                let (item, tail) = KSIDENTIFIER::read_from_prefix(rest).unwrap();
                rest = tail;
                item
            })
            .collect()
    };
    let sets = |items: Vec<KSIDENTIFIER>| -> Vec<(GUID, u32)> {
        items.iter().map(|i| (i.Set, i.Id)).collect()
    };
    assert_eq!(
        sets(list(KSPROPERTY_PIN_MEDIUMS, 0)),
        [(KSMEDIUMSETID_Standard, 0)]
    );
    assert_eq!(sets(list(KSPROPERTY_PIN_MEDIUMS, 1)), [(PRIVATE_MEDIUM, 7)]);
    assert_eq!(
        sets(list(KSPROPERTY_PIN_INTERFACES, 1)),
        [(KSINTERFACESETID_Standard, 0)]
    );
    // An item of the set ks.sys does not answer: no support claimed, not found.
    let mut support = pin_property(KSPROPERTY_PIN_GLOBALCINSTANCES, 0);
    support[20..24].copy_from_slice(&ks::ks::KSPROPERTY_TYPE_BASICSUPPORT.to_le_bytes());
    let result = kernel.ioctl(filter, IOCTL_KS_PROPERTY, &support, &mut word);
    assert_eq!(result.status, STATUS_NOT_FOUND);
    assert_eq!(
        get(KSPROPERTY_PIN_GLOBALCINSTANCES, 0, &mut [0u8; 8]).status,
        STATUS_NOT_FOUND
    );
    // Pin 0's automation table answers KSPROPERTY_CONNECTION_DATAFORMAT itself: it supersedes
    // ks.sys's (which would answer the 64-byte connection format).
    let pin = kernel.create_pin(filter, &standard(0)).expect("pin 0");
    let request = KSIDENTIFIER {
        Set: KSPROPSETID_Connection,
        Id: KSPROPERTY_CONNECTION_DATAFORMAT,
        Flags: KSPROPERTY_TYPE_GET,
    };
    let mut format = [0u8; 64];
    let result = kernel.ioctl(pin, IOCTL_KS_PROPERTY, request.as_bytes(), &mut format);
    assert_eq!((result.status, result.information), (STATUS_SUCCESS, 8));
    assert_eq!(format[..8], [0x5A; 8]);
    // Requests no object answers.
    let mut header = [0u8; 56];
    assert_eq!(
        kernel
            .ioctl(filter, IOCTL_KS_READ_STREAM, &[], &mut header)
            .status,
        STATUS_INVALID_DEVICE_REQUEST,
        "a filter has no stream"
    );
    assert_eq!(
        kernel.ioctl(pin, 0x002F_0FFF, &[], &mut []).status,
        STATUS_INVALID_DEVICE_REQUEST,
        "an IOCTL KS does not know"
    );
    kernel.close(pin);
    kernel.close(filter);
    kernel.unload_driver();
    kernel.assert_no_leaks();
}
