//! The AVStream subset end to end with a tiny minidriver written against `avcam-kernel`
//! (`support/avstream_driver.rs`): device, filter and pin objects, properties, state, queue and
//! stream pointers, driven only through client requests.

#[path = "support/avstream_driver.rs"]
mod driver;

use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::atomic::Ordering;

use avcam_emulation::{File, Kernel};
use avcam_kernel::{
    KsGetDevice, KsPinGetLeadingEdgeStreamPointer, KsPinGetParentFilter, KsStreamPointerDelete,
    KsStreamPointerUnlock,
};
use ks::avstream::*;
use ks::guid::GUID;
use ks::ks::{IOCTL_KS_PROPERTY, KSIDENTIFIER, KSPROPERTY_TYPE_GET, KSPROPERTY_TYPE_SET};
use ks::status::*;
use ks::video::{
    KSINTERFACESETID_Standard, KSPROPSETID_Connection, KSPROPSETID_Pin, KSDATAFORMAT,
    KSDATAFORMAT_SUBTYPE_NV12, KSDATAFORMAT_SUBTYPE_YUY2, KSDATAFORMAT_TYPE_VIDEO, KSMULTIPLE_ITEM,
    KSPIN_CINSTANCES, KSPROPERTY_CONNECTION_STATE, KSPROPERTY_DROPPEDFRAMES_CURRENT,
    KSPROPERTY_PIN_CATEGORY, KSPROPERTY_PIN_CINSTANCES, KSPROPERTY_PIN_CTYPES,
    KSPROPERTY_PIN_DATAFLOW, KSPROPERTY_PIN_DATARANGES,
};
use zerocopy::{FromBytes, IntoBytes};

use driver::*;

#[test]
fn load_enumerate_open_and_query_the_pin_factories() {
    let (kernel, filter) = loaded();
    let calls = CALLS.lock().unwrap().clone();
    assert!(calls.contains(&"add") && calls.contains(&"start"));
    let mut count = [0u8; 4];
    let result = kernel.ioctl(
        filter,
        IOCTL_KS_PROPERTY,
        &property(KSPROPSETID_Pin, KSPROPERTY_PIN_CTYPES, KSPROPERTY_TYPE_GET),
        &mut count,
    );
    assert_eq!(result.status, STATUS_SUCCESS);
    assert_eq!(u32::from_le_bytes(count), 1);
    // DATARANGES with the size-query protocol.
    let request = pin_property(KSPROPERTY_PIN_DATARANGES, 0);
    let size = kernel.ioctl(filter, IOCTL_KS_PROPERTY, &request, &mut []);
    assert_eq!(size.status, STATUS_BUFFER_OVERFLOW);
    assert_eq!(size.information, 8 + 64);
    let mut short = [0u8; 16];
    assert_eq!(
        kernel
            .ioctl(filter, IOCTL_KS_PROPERTY, &request, &mut short)
            .status,
        STATUS_BUFFER_TOO_SMALL
    );
    let mut ranges = vec![0u8; size.information];
    assert_eq!(
        kernel
            .ioctl(filter, IOCTL_KS_PROPERTY, &request, &mut ranges)
            .status,
        STATUS_SUCCESS
    );
    let (list, rest) = KSMULTIPLE_ITEM::read_from_prefix(&ranges).unwrap();
    assert_eq!((list.Size, list.Count), (72, 1));
    let (range, _) = KSDATAFORMAT::read_from_prefix(rest).unwrap();
    assert_eq!(range.SubFormat, KSDATAFORMAT_SUBTYPE_NV12);
    // DATAFLOW, CATEGORY, and the errors.
    let mut flow = [0u8; 4];
    kernel.ioctl(
        filter,
        IOCTL_KS_PROPERTY,
        &pin_property(KSPROPERTY_PIN_DATAFLOW, 0),
        &mut flow,
    );
    assert_eq!(u32::from_le_bytes(flow), KSPIN_DATAFLOW_OUT);
    let mut category = [0u8; 16];
    kernel.ioctl(
        filter,
        IOCTL_KS_PROPERTY,
        &pin_property(KSPROPERTY_PIN_CATEGORY, 0),
        &mut category,
    );
    assert_eq!(category, *CATEGORY.as_bytes());
    let mut interfaces = [0u8; 32];
    let result = kernel.ioctl(
        filter,
        IOCTL_KS_PROPERTY,
        &pin_property(ks::video::KSPROPERTY_PIN_INTERFACES, 0),
        &mut interfaces,
    );
    assert_eq!((result.status, result.information), (STATUS_SUCCESS, 32));
    let (list, rest) = KSMULTIPLE_ITEM::read_from_prefix(&interfaces).unwrap();
    assert_eq!(list.Count, 1);
    let (standard, _) = KSIDENTIFIER::read_from_prefix(rest).unwrap();
    assert_eq!(standard.Set, KSINTERFACESETID_Standard);
    let mut out = [0u8; 8];
    assert_eq!(
        kernel
            .ioctl(
                filter,
                IOCTL_KS_PROPERTY,
                &pin_property(KSPROPERTY_PIN_DATAFLOW, 7),
                &mut out
            )
            .status,
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        kernel
            .ioctl(filter, IOCTL_KS_PROPERTY, &pin_property(99, 0), &mut out)
            .status,
        STATUS_NOT_FOUND
    );
    assert_eq!(
        kernel
            .ioctl(
                filter,
                IOCTL_KS_PROPERTY,
                &property(DROPPED, 0, KSPROPERTY_TYPE_GET),
                &mut out
            )
            .status,
        STATUS_PROPSET_NOT_FOUND
    );
    assert_eq!(kernel.close(filter), STATUS_SUCCESS);
    kernel.unload_driver();
    assert!(kernel.device_interfaces(&CATEGORY).is_empty());
    kernel.assert_no_leaks();
}

#[test]
fn pin_creation_is_validated_and_instances_are_limited() {
    let (kernel, filter) = loaded();
    assert_eq!(
        kernel.create_pin(filter, &connect(3, KSDATAFORMAT_SUBTYPE_NV12)),
        Err(STATUS_INVALID_PARAMETER)
    );
    assert_eq!(
        kernel.create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_YUY2)),
        Err(STATUS_NO_MATCH)
    );
    assert_eq!(
        kernel.create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12)[..40]),
        Err(STATUS_INVALID_PARAMETER)
    );
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .expect("pin");
    assert_eq!(
        kernel.create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12)),
        Err(STATUS_TOO_MANY_NODES)
    );
    let mut instances = [0u8; 8];
    kernel.ioctl(
        filter,
        IOCTL_KS_PROPERTY,
        &pin_property(KSPROPERTY_PIN_CINSTANCES, 0),
        &mut instances,
    );
    let (counts, _) = KSPIN_CINSTANCES::read_from_prefix(&instances).unwrap();
    assert_eq!((counts.PossibleCount, counts.CurrentCount), (1, 1));
    let ks_pin = ks_pin(&kernel, pin);
    {
        let _entered = kernel.enter();
        // SAFETY: a live pin.
        let parent = unsafe { KsPinGetParentFilter(ks_pin) };
        // SAFETY: a live filter.
        assert!(!unsafe { KsGetDevice(parent.cast()) }.is_null());
        // SAFETY: the pin's ConnectionFormat is the emulation's copy of the format.
        let connection_format = unsafe { (*ks_pin).ConnectionFormat };
        // SAFETY: it holds at least a KSDATAFORMAT.
        let format = unsafe { connection_format.cast::<KSDATAFORMAT>().read() };
        assert_eq!(format.SubFormat, KSDATAFORMAT_SUBTYPE_NV12);
        // SAFETY: as above.
        assert_eq!(unsafe { (*ks_pin).DeviceState }, KSSTATE_STOP);
    }
    assert_eq!(kernel.close(pin), STATUS_SUCCESS);
    let again = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .expect("slot freed");
    kernel.close(again);
    kernel.close(filter);
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn state_steps_one_at_a_time_and_stops_at_the_last_good_state() {
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let ks_pin = ks_pin(&kernel, pin);
    assert_eq!(set_state(&kernel, pin, KSSTATE_RUN), STATUS_SUCCESS);
    assert_eq!(
        pin_state(ks_pin).transitions,
        vec![
            (KSSTATE_STOP, KSSTATE_ACQUIRE),
            (KSSTATE_ACQUIRE, KSSTATE_PAUSE),
            (KSSTATE_PAUSE, KSSTATE_RUN)
        ]
    );
    let mut now = [0u8; 4];
    kernel.ioctl(
        pin,
        IOCTL_KS_PROPERTY,
        &property(
            KSPROPSETID_Connection,
            KSPROPERTY_CONNECTION_STATE,
            KSPROPERTY_TYPE_GET,
        ),
        &mut now,
    );
    assert_eq!(u32::from_le_bytes(now), KSSTATE_RUN);
    pin_state(ks_pin).fail_at = Some(KSSTATE_ACQUIRE);
    assert_eq!(
        set_state(&kernel, pin, KSSTATE_STOP),
        STATUS_INSUFFICIENT_RESOURCES
    );
    kernel.ioctl(
        pin,
        IOCTL_KS_PROPERTY,
        &property(
            KSPROPSETID_Connection,
            KSPROPERTY_CONNECTION_STATE,
            KSPROPERTY_TYPE_GET,
        ),
        &mut now,
    );
    assert_eq!(u32::from_le_bytes(now), KSSTATE_PAUSE);
    pin_state(ks_pin).fail_at = None;
    assert_eq!(
        set_state(&kernel, pin, 7),
        STATUS_INVALID_PARAMETER,
        "no such state"
    );
    kernel.close(pin);
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn queued_reads_are_cancelled_by_cancel_and_the_pin_closes_after_the_last() {
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    pin_state(ks_pin(&kernel, pin)).mode = Mode::Hold;
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut a = vec![0u8; 32];
    let mut b = vec![0u8; 32];
    let first = kernel
        .read_stream(pin, &header_for(&mut a))
        .expect_pending();
    let second = kernel
        .read_stream(pin, &header_for(&mut b))
        .expect_pending();
    assert!(first.poll().is_none());
    assert!(first.cancel());
    assert_eq!(first.poll().unwrap().status, STATUS_CANCELLED);
    assert!(second.poll().is_none());
    let serial = pin_state(ks_pin(&kernel, pin)).serial;
    assert_eq!(kernel.close(pin), STATUS_SUCCESS);
    assert!(
        second.poll().is_none(),
        "closing the handle sends IRP_MJ_CLEANUP, which KS does not act on: the read stays queued"
    );
    assert_eq!(
        closed(serial),
        None,
        "no IRP_MJ_CLOSE while a read is in flight"
    );
    assert!(second.cancel());
    assert_eq!(second.poll().unwrap().status, STATUS_CANCELLED);
    assert!(
        closed(serial).is_some(),
        "the pin's Close came with the last reference"
    );
    drop((first, second));
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn a_clone_keeps_its_read_alive_until_deleted() {
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let ks_pin = ks_pin(&kernel, pin);
    pin_state(ks_pin).mode = Mode::Clone;
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut buffer = vec![0u8; 32];
    let read = kernel
        .read_stream(pin, &header_for(&mut buffer))
        .expect_pending();
    let clone = pin_state(ks_pin).clone;
    assert!(!clone.is_null());
    assert!(read.poll().is_none(), "the clone holds the frame");
    {
        let _entered = kernel.enter();
        // SAFETY: the clone made in Process, deleted once.
        unsafe { KsStreamPointerDelete(clone) };
    }
    assert_eq!(read.poll().unwrap().status, STATUS_SUCCESS);
    drop(read);
    kernel.close(pin);
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn basic_support_answers_from_the_items_values_with_the_documented_buffer_sizes() {
    use ks::ks::*;
    use zerocopy::FromBytes;
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let support = property(DROPPED, driver::RANGED_ID, KSPROPERTY_TYPE_BASICSUPPORT);
    // Description 40 + (header 16 + stepping 16) + (header 16 + LONG 4).
    let total = 40 + 32 + 20;
    let size = kernel.ioctl(pin, IOCTL_KS_PROPERTY, &support, &mut []);
    assert_eq!(
        (size.status, size.information),
        (STATUS_BUFFER_OVERFLOW, total)
    );
    // A description-sized buffer: the description alone, telling the whole size.
    let mut head = [0u8; 40];
    let result = kernel.ioctl(pin, IOCTL_KS_PROPERTY, &support, &mut head);
    assert_eq!((result.status, result.information), (STATUS_SUCCESS, 40));
    let description = KSPROPERTY_DESCRIPTION::read_from_bytes(&head).unwrap();
    assert_eq!(description.DescriptionSize as usize, total);
    assert_eq!(
        (description.PropTypeSet.Set, description.PropTypeSet.Id),
        (KSPROPTYPESETID_General, VT_I4)
    );
    assert_eq!(description.MembersListCount, 2);
    assert_eq!(
        description.AccessFlags,
        KSPROPERTY_TYPE_BASICSUPPORT | KSPROPERTY_TYPE_GET
    );
    // Between the description and the whole: refused with the size.
    let mut between = vec![0u8; total - 1];
    let result = kernel.ioctl(pin, IOCTL_KS_PROPERTY, &support, &mut between);
    assert_eq!(
        (result.status, result.information),
        (STATUS_BUFFER_TOO_SMALL, total)
    );
    // The whole answer: the range, then the default.
    let mut whole = vec![0u8; total + 8];
    let result = kernel.ioctl(pin, IOCTL_KS_PROPERTY, &support, &mut whole);
    assert_eq!((result.status, result.information), (STATUS_SUCCESS, total));
    assert_eq!(&whole[..40], &head[..]);
    let ranges = KSPROPERTY_MEMBERSHEADER::read_from_bytes(&whole[40..56]).unwrap();
    assert_eq!(
        (
            ranges.MembersFlags,
            ranges.MembersSize,
            ranges.MembersCount,
            ranges.Flags
        ),
        (KSPROPERTY_MEMBER_STEPPEDRANGES, 16, 1, 0)
    );
    let stepping = KSPROPERTY_STEPPING_LONG::read_from_bytes(&whole[56..72]).unwrap();
    assert_eq!(stepping, driver::RANGED_RANGE);
    let default = KSPROPERTY_MEMBERSHEADER::read_from_bytes(&whole[72..88]).unwrap();
    assert_eq!(
        (default.MembersFlags, default.Flags),
        (KSPROPERTY_MEMBER_VALUES, KSPROPERTY_MEMBER_FLAG_DEFAULT)
    );
    assert_eq!(
        i32::from_le_bytes(whole[88..92].try_into().unwrap()),
        driver::RANGED_DEFAULT
    );
    // A ULONG: the access flags; a short odd buffer: refused.
    let mut flags = [0u8; 4];
    kernel.ioctl(pin, IOCTL_KS_PROPERTY, &support, &mut flags);
    assert_eq!(u32::from_le_bytes(flags), description.AccessFlags);
    assert_eq!(
        kernel
            .ioctl(pin, IOCTL_KS_PROPERTY, &support, &mut [0u8; 3])
            .status,
        STATUS_BUFFER_TOO_SMALL
    );
    kernel.close(pin);
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn the_minidriver_automation_table_is_consulted_with_size_checks() {
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let request = property(
        DROPPED,
        KSPROPERTY_DROPPEDFRAMES_CURRENT,
        KSPROPERTY_TYPE_GET,
    );
    let query = kernel.ioctl(pin, IOCTL_KS_PROPERTY, &request, &mut []);
    assert_eq!(
        (query.status, query.information),
        (STATUS_BUFFER_OVERFLOW, 8)
    );
    let mut short = [0u8; 4];
    assert_eq!(
        kernel
            .ioctl(pin, IOCTL_KS_PROPERTY, &request, &mut short)
            .status,
        STATUS_BUFFER_TOO_SMALL
    );
    assert_eq!(
        kernel
            .ioctl(pin, IOCTL_KS_PROPERTY, &request[..16], &mut [0u8; 8])
            .status,
        STATUS_INVALID_BUFFER_SIZE
    );
    let mut data = [0u8; 8];
    let result = kernel.ioctl(pin, IOCTL_KS_PROPERTY, &request, &mut data);
    assert_eq!((result.status, result.information), (STATUS_SUCCESS, 8));
    assert_eq!(u64::from_le_bytes(data), 42);
    assert_eq!(
        kernel
            .ioctl(
                pin,
                IOCTL_KS_PROPERTY,
                &property(DROPPED, 5, KSPROPERTY_TYPE_GET),
                &mut data
            )
            .status,
        STATUS_NOT_FOUND
    );
    let support = property(
        DROPPED,
        KSPROPERTY_DROPPEDFRAMES_CURRENT,
        ks::ks::KSPROPERTY_TYPE_BASICSUPPORT,
    );
    let mut flags = [0u8; 4];
    let result = kernel.ioctl(pin, IOCTL_KS_PROPERTY, &support, &mut flags);
    assert_eq!((result.status, result.information), (STATUS_SUCCESS, 4));
    assert_eq!(
        u32::from_le_bytes(flags),
        ks::ks::KSPROPERTY_TYPE_BASICSUPPORT | KSPROPERTY_TYPE_GET
    );
    let mut description = [0u8; 40];
    let result = kernel.ioctl(pin, IOCTL_KS_PROPERTY, &support, &mut description);
    assert_eq!((result.status, result.information), (STATUS_SUCCESS, 40));
    let state_support = property(
        KSPROPSETID_Connection,
        KSPROPERTY_CONNECTION_STATE,
        ks::ks::KSPROPERTY_TYPE_BASICSUPPORT,
    );
    kernel.ioctl(pin, IOCTL_KS_PROPERTY, &state_support, &mut flags);
    assert_eq!(
        u32::from_le_bytes(flags),
        ks::ks::KSPROPERTY_TYPE_BASICSUPPORT | KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_SET
    );
    let set_support = |set: GUID| {
        kernel
            .ioctl(
                pin,
                IOCTL_KS_PROPERTY,
                &property(set, 0, ks::ks::KSPROPERTY_TYPE_SETSUPPORT),
                &mut [],
            )
            .status
    };
    assert_eq!(set_support(DROPPED), STATUS_SUCCESS);
    assert_eq!(set_support(KSPROPSETID_Connection), STATUS_SUCCESS);
    assert_eq!(set_support(GUID::from_u128(7)), STATUS_PROPSET_NOT_FOUND);
    kernel.close(pin);
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn data_intersection_goes_to_the_pins_handler_with_the_size_protocol() {
    let (kernel, filter) = loaded();
    let mut request = pin_property(ks::video::KSPROPERTY_PIN_DATAINTERSECTION, 0);
    let client_range = KSDATAFORMAT {
        FormatSize: 64,
        MajorFormat: KSDATAFORMAT_TYPE_VIDEO,
        ..Default::default()
    };
    request.extend_from_slice(
        KSMULTIPLE_ITEM {
            Size: 8 + 64,
            Count: 1,
        }
        .as_bytes(),
    );
    request.extend_from_slice(client_range.as_bytes());
    let query = kernel.ioctl(filter, IOCTL_KS_PROPERTY, &request, &mut []);
    assert_eq!(
        (query.status, query.information),
        (STATUS_BUFFER_OVERFLOW, 64)
    );
    let mut format = [0u8; 64];
    let result = kernel.ioctl(filter, IOCTL_KS_PROPERTY, &request, &mut format);
    assert_eq!((result.status, result.information), (STATUS_SUCCESS, 64));
    assert_eq!(format, *RANGE.as_bytes());
    // A client range no pin range matches.
    let mut other = pin_property(ks::video::KSPROPERTY_PIN_DATAINTERSECTION, 0);
    other.extend_from_slice(KSMULTIPLE_ITEM { Size: 72, Count: 1 }.as_bytes());
    other.extend_from_slice(
        KSDATAFORMAT {
            FormatSize: 64,
            MajorFormat: GUID::from_u128(1),
            ..Default::default()
        }
        .as_bytes(),
    );
    assert_eq!(
        kernel
            .ioctl(filter, IOCTL_KS_PROPERTY, &other, &mut format)
            .status,
        STATUS_NO_MATCH
    );
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn framing_and_the_stream_allocator_property() {
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let request = property(
        KSPROPSETID_Connection,
        ks::video::KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX,
        KSPROPERTY_TYPE_GET,
    );
    let size = kernel.ioctl(pin, IOCTL_KS_PROPERTY, &request, &mut []);
    assert_eq!(size.status, STATUS_BUFFER_OVERFLOW);
    let mut bytes = vec![0u8; size.information];
    assert_eq!(
        kernel
            .ioctl(pin, IOCTL_KS_PROPERTY, &request, &mut bytes)
            .status,
        STATUS_SUCCESS
    );
    assert_eq!(bytes, framing().as_bytes());
    let mut format = [0u8; 64];
    let result = kernel.ioctl(
        pin,
        IOCTL_KS_PROPERTY,
        &property(
            KSPROPSETID_Connection,
            ks::video::KSPROPERTY_CONNECTION_DATAFORMAT,
            KSPROPERTY_TYPE_GET,
        ),
        &mut format,
    );
    assert_eq!((result.status, result.information), (STATUS_SUCCESS, 64));
    assert_eq!(&format[..], &connect(0, KSDATAFORMAT_SUBTYPE_NV12)[72..]);
    let get = property(
        ks::video::KSPROPSETID_Stream,
        ks::video::KSPROPERTY_STREAM_ALLOCATOR,
        KSPROPERTY_TYPE_GET,
    );
    let set = property(
        ks::video::KSPROPSETID_Stream,
        ks::video::KSPROPERTY_STREAM_ALLOCATOR,
        KSPROPERTY_TYPE_SET,
    );
    let mut handle = [0xFFu8; 8];
    kernel.ioctl(pin, IOCTL_KS_PROPERTY, &get, &mut handle);
    assert_eq!(u64::from_le_bytes(handle), 0);
    let mut value = 0x1234u64.to_le_bytes();
    assert_eq!(
        kernel
            .ioctl(pin, IOCTL_KS_PROPERTY, &set, &mut value)
            .status,
        STATUS_SUCCESS
    );
    // "The returned value is always a NULL handle": a SET does not change what GET answers.
    handle = [0xFF; 8];
    let result = kernel.ioctl(pin, IOCTL_KS_PROPERTY, &get, &mut handle);
    assert_eq!((result.status, result.information), (STATUS_SUCCESS, 8));
    assert_eq!(u64::from_le_bytes(handle), 0);
    assert_eq!(
        kernel
            .ioctl(pin, IOCTL_KS_PROPERTY, &set, &mut [0u8; 4])
            .status,
        STATUS_BUFFER_TOO_SMALL,
        "a SET carries a whole HANDLE"
    );
    kernel.close(pin);
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn run_state_only_pins_queue_in_pause_and_process_in_run() {
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let ks_pin = ks_pin(&kernel, pin);
    assert_eq!(set_state(&kernel, pin, KSSTATE_PAUSE), STATUS_SUCCESS);
    let mut buffer = vec![0u8; 16];
    let read = kernel
        .read_stream(pin, &header_for(&mut buffer))
        .expect_pending();
    assert!(read.poll().is_none());
    assert_eq!(pin_state(ks_pin).processed, 0, "no Process outside RUN");
    assert_eq!(set_state(&kernel, pin, KSSTATE_RUN), STATUS_SUCCESS);
    assert_eq!(read.poll().unwrap().status, STATUS_SUCCESS);
    assert_eq!(pin_state(ks_pin).processed, 1);
    drop(read);
    kernel.close(pin);
    kernel.close(filter);
    kernel.assert_no_leaks();
}

/// A timer DPC that asks for processing (the avshws pattern).
#[ks::kernel_abi]
unsafe extern "system" fn tick(
    _dpc: *mut ks::nt::KDPC,
    context: *mut c_void,
    _a: *mut c_void,
    _b: *mut c_void,
) {
    // SAFETY: the context is the live pin the test armed the timer for.
    unsafe { avcam_kernel::KsPinAttemptProcessing(context.cast(), 0) };
}

/// A periodic KTIMER whose DPC ([`tick`]) asks for a pin's processing every 33 ms.
struct Ticker {
    timer: Box<ks::nt::KTIMER>,
    dpc: Box<ks::nt::KDPC>,
}

impl Ticker {
    /// First expiry in 33 ms, then every 33 ms.
    fn start(kernel: &Kernel, pin: *mut KSPIN) -> Ticker {
        let mut ticker = Ticker {
            timer: Box::new(ks::nt::KTIMER { Opaque: [0; 8] }),
            dpc: Box::new(ks::nt::KDPC { Opaque: [0; 8] }),
        };
        let _entered = kernel.enter();
        // SAFETY: boxes that stay put until `stop`; the pin outlives the timer.
        unsafe { avcam_kernel::KeInitializeDpc(&mut *ticker.dpc, Some(tick), pin.cast()) };
        // SAFETY: a live box, not set.
        unsafe { avcam_kernel::KeInitializeTimerEx(&mut *ticker.timer, ks::nt::NotificationTimer) };
        // SAFETY: the timer and DPC initialised just above.
        unsafe { avcam_kernel::KeSetTimerEx(&mut *ticker.timer, -330_000, 33, &mut *ticker.dpc) };
        ticker
    }

    /// Cancels the timer and waits for its DPCs (the boxes may go then).
    fn stop(mut self, kernel: &Kernel) {
        let _entered = kernel.enter();
        // SAFETY: the timer set in `start`, still set (periodic).
        assert_eq!(unsafe { avcam_kernel::KeCancelTimer(&mut *self.timer) }, 1);
        // SAFETY: PASSIVE_LEVEL.
        unsafe { avcam_kernel::KeFlushQueuedDpcs() };
    }
}

#[test]
fn a_periodic_timer_on_the_virtual_clock_drives_one_frame_per_tick() {
    let (kernel, filter) = loaded();
    // A 1 ms clock tick (an application raised the timer resolution): the 33 ms due times below
    // are multiples of it, so each expiry is exactly where the test expects it. What this test
    // is about is the processing each expiry drives, not the tick.
    kernel.clock().set_tick(10_000);
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let ks_pin = ks_pin(&kernel, pin);
    pin_state(ks_pin).mode = Mode::OnePerCall;
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut buffers = vec![vec![0u8; 16]; 3];
    let reads: Vec<_> = buffers
        .iter_mut()
        .map(|b| kernel.read_stream(pin, &header_for(b)).expect_pending())
        .collect();
    // Each read was offered to Process on arrival: one frame per call, so all three are done
    // only if every call consumed one. Re-queue three more, served by the timer alone.
    let served = reads.iter().filter(|r| r.poll().is_some()).count();
    assert_eq!(served, 3);
    drop(reads);
    pin_state(ks_pin).mode = Mode::Hold;
    let mut more = vec![vec![0u8; 16]; 3];
    let reads: Vec<_> = more
        .iter_mut()
        .map(|b| kernel.read_stream(pin, &header_for(b)).expect_pending())
        .collect();
    pin_state(ks_pin).mode = Mode::OnePerCall;
    let ticker = Ticker::start(&kernel, ks_pin);
    kernel.clock().advance(33_000_000);
    assert_eq!(reads.iter().filter(|r| r.poll().is_some()).count(), 1);
    kernel.clock().advance(66_000_000);
    assert_eq!(reads.iter().filter(|r| r.poll().is_some()).count(), 3);
    ticker.stop(&kernel);
    drop(reads);
    kernel.close(pin);
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn in_concurrency_mode_a_timer_dpc_drives_processing_on_the_worker_thread() {
    let (kernel, filter) = loaded();
    kernel.clock().set_tick(10_000);
    kernel.clock().run_dpcs_concurrently(2);
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let ks_pin = ks_pin(&kernel, pin);
    pin_state(ks_pin).mode = Mode::Hold;
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut buffers = vec![vec![0u8; 16]; 3];
    let reads: Vec<_> = buffers
        .iter_mut()
        .map(|b| kernel.read_stream(pin, &header_for(b)).expect_pending())
        .collect();
    // Requests from DPCs that follow one another closely may be served by one work item (ks.sys
    // does not queue its work item twice either): Process fills every queued frame at once.
    pin_state(ks_pin).mode = Mode::Fill;
    let ticker = Ticker::start(&kernel, ks_pin);
    // Three expiries: their DPCs run on the processors, the processing they defer on the
    // worker thread, after `advance` may have returned: the reads complete asynchronously.
    // Nothing else runs the deferred processing in this mode.
    kernel.clock().advance(99_000_000);
    for read in &reads {
        let result = read
            .wait(std::time::Duration::from_secs(20))
            .expect("served by the worker");
        assert_eq!(result.status, STATUS_SUCCESS);
    }
    ticker.stop(&kernel);
    drop(reads);
    kernel.close(pin);
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn the_processing_mutex_excludes_process() {
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let ks_pin = ks_pin(&kernel, pin);
    set_state(&kernel, pin, KSSTATE_RUN);
    let address = ks_pin as usize;
    {
        let _entered = kernel.enter();
        // SAFETY: a live pin.
        unsafe { avcam_kernel::KsPinAcquireProcessingMutex(ks_pin) };
    }
    let mut buffer = vec![0u8; 16];
    // While the mutex is held, the read queues but Process does not run...
    let read = kernel
        .read_stream(pin, &header_for(&mut buffer))
        .expect_pending();
    assert_eq!(pin_state(ks_pin).processed, 0);
    let waiter = kernel.spawn(move || {
        // ...and another thread's acquire waits for the release.
        // SAFETY: the pin stays open until after the join.
        unsafe { avcam_kernel::KsPinAcquireProcessingMutex(address as *mut KSPIN) };
        // SAFETY: acquired just above.
        unsafe { avcam_kernel::KsPinReleaseProcessingMutex(address as *mut KSPIN) };
    });
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(!waiter.is_finished());
    {
        let _entered = kernel.enter();
        // SAFETY: held by this thread.
        unsafe { avcam_kernel::KsPinReleaseProcessingMutex(ks_pin) };
        // SAFETY: a live pin.
        unsafe { avcam_kernel::KsPinAttemptProcessing(ks_pin, 0) };
    }
    waiter.join().unwrap();
    assert_eq!(read.poll().unwrap().status, STATUS_SUCCESS);
    drop(read);
    kernel.close(pin);
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn the_processing_mutex_is_not_recursive_and_only_its_holder_releases_it() {
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let ks_pin = ks_pin(&kernel, pin);
    let address = ks_pin as usize;
    kernel.expect_bugs();
    {
        let _entered = kernel.enter();
        // SAFETY: a live pin at PASSIVE_LEVEL.
        unsafe { avcam_kernel::KsPinAcquireProcessingMutex(ks_pin) };
        // SAFETY: a live pin; taking it again on this thread is the bug under test (a deadlock
        // on Windows: reported instead of hanging).
        unsafe { avcam_kernel::KsPinAcquireProcessingMutex(ks_pin) };
        assert_eq!(
            kernel.take_bugs(),
            vec![avcam_emulation::Bug::ProcessingMutexRecursive { pin: address }]
        );
    }
    kernel
        .spawn(move || {
            // SAFETY: a live pin; this thread does not hold its mutex (the bug under test).
            unsafe { avcam_kernel::KsPinReleaseProcessingMutex(address as *mut KSPIN) };
        })
        .join()
        .unwrap();
    assert_eq!(
        kernel.take_bugs(),
        vec![avcam_emulation::Bug::ProcessingMutexNotOwned { pin: address }]
    );
    {
        let _entered = kernel.enter();
        // SAFETY: held by this thread since the first acquire (the refused release left it so).
        unsafe { avcam_kernel::KsPinReleaseProcessingMutex(ks_pin) };
    }
    assert!(kernel.take_bugs().is_empty());
    kernel.close(pin);
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn unknown_stream_pointers_are_bugs_and_unclosed_pins_are_leaks() {
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    kernel.expect_bugs();
    let mut fake = std::mem::MaybeUninit::<KSSTREAM_POINTER>::zeroed();
    {
        let _entered = kernel.enter();
        // SAFETY: the emulation checks the pointer before using it.
        unsafe { KsStreamPointerDelete(fake.as_mut_ptr()) };
    }
    assert_eq!(
        kernel.take_bugs(),
        vec![avcam_emulation::Bug::ObjectUnknown {
            object: fake.as_mut_ptr() as usize
        }]
    );
    let leaks = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| kernel.assert_no_leaks()));
    let message = *leaks.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("KSPIN"), "{message}");
    assert!(message.contains("KSFILTER"), "{message}");
    kernel.close(pin);
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn a_kernel_client_opens_the_pin_by_handle_creates_its_allocator_and_asks_its_state() {
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let _entered = kernel.enter();
    let mut connection = null_mut();
    // SAFETY: the pin's file object is live; `connection` is writable.
    let status = unsafe {
        avcam_kernel::ObOpenObjectByPointer(
            kernel.file_object(pin).cast(),
            ks::nt::OBJ_KERNEL_HANDLE,
            null_mut(),
            0,
            avcam_kernel::file_object_type(),
            ks::nt::KernelMode,
            &mut connection,
        )
    };
    assert_eq!(status, STATUS_SUCCESS);
    let mut framing = ks::ks::KSALLOCATOR_FRAMING {
        Flags: 0,
        PoolType: 0,
        Frames: 2,
        FrameSize: 4096,
        FileAlignment: 0,
        Reserved: 0,
    };
    let mut allocator = null_mut();
    // SAFETY: all pointers are live.
    let status =
        unsafe { avcam_kernel::KsCreateAllocator(connection, &mut framing, &mut allocator) };
    // ks.sys's allocator create item on the pin (which declares no allocator dispatch): the
    // default allocator, avcam's KsCreateDefaultAllocatorEx (pin_objects.rs tests the rest).
    assert_eq!(status, STATUS_SUCCESS);
    // KsSynchronousIoControlDevice on the pin: KSPROPERTY_CONNECTION_STATE.
    let mut request = property(
        KSPROPSETID_Connection,
        KSPROPERTY_CONNECTION_STATE,
        KSPROPERTY_TYPE_GET,
    );
    let mut value = 0xFFFF_FFFFu32;
    let mut returned = 0u32;
    // SAFETY: the buffers are live for their sizes.
    let status = unsafe {
        avcam_kernel::KsSynchronousIoControlDevice(
            kernel.file_object(pin),
            ks::nt::KernelMode,
            IOCTL_KS_PROPERTY,
            request.as_mut_ptr().cast(),
            request.len() as u32,
            (&raw mut value).cast(),
            4,
            &mut returned,
        )
    };
    assert_eq!((status, returned, value), (STATUS_SUCCESS, 4, KSSTATE_STOP));
    // SAFETY: handles opened above, closed once.
    assert_eq!(unsafe { avcam_kernel::ZwClose(allocator) }, STATUS_SUCCESS);
    // SAFETY: as above.
    assert_eq!(unsafe { avcam_kernel::ZwClose(connection) }, STATUS_SUCCESS);
    drop(_entered);
    kernel.close(pin);
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn asynchronous_attempt_processing_runs_process_on_a_worker() {
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let ks_pin = ks_pin(&kernel, pin);
    pin_state(ks_pin).mode = Mode::Hold;
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut buffer = vec![0u8; 16];
    let read = kernel
        .read_stream(pin, &header_for(&mut buffer))
        .expect_pending();
    assert!(read.poll().is_none());
    pin_state(ks_pin).mode = Mode::Fill;
    {
        let _entered = kernel.enter();
        // SAFETY: a live pin.
        unsafe { avcam_kernel::KsPinAttemptProcessing(ks_pin, 1) };
    }
    let result = read
        .wait(std::time::Duration::from_secs(60))
        .expect("the worker processed the frame");
    assert_eq!(result.status, STATUS_SUCCESS);
    drop(read);
    kernel.close(pin);
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn deleting_the_leading_edge_and_a_mutex_at_dispatch_level_are_bugs() {
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let ks_pin = ks_pin(&kernel, pin);
    pin_state(ks_pin).mode = Mode::Hold;
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut buffer = vec![0u8; 16];
    let read = kernel
        .read_stream(pin, &header_for(&mut buffer))
        .expect_pending();
    kernel.expect_bugs();
    {
        let _entered = kernel.enter();
        // SAFETY: a live pin with a queued frame.
        let leading =
            unsafe { KsPinGetLeadingEdgeStreamPointer(ks_pin, KSSTREAM_POINTER_STATE_LOCKED) };
        assert!(!leading.is_null());
        // SAFETY: the emulation checks the pointer first (this is the bug under test).
        unsafe { KsStreamPointerDelete(leading) };
        assert_eq!(
            kernel.take_bugs(),
            vec![avcam_emulation::Bug::LeadingEdgeDeleted {
                pointer: leading as usize
            }]
        );
        let mut lock = 0usize;
        // SAFETY: a live spin lock on this frame, released below.
        let old = unsafe { avcam_kernel::KeAcquireSpinLockRaiseToDpc(&mut lock) };
        // SAFETY: a live pin (at the wrong IRQL: the bug under test).
        unsafe { avcam_kernel::KsPinAcquireProcessingMutex(ks_pin) };
        // SAFETY: held above.
        unsafe { avcam_kernel::KsPinReleaseProcessingMutex(ks_pin) };
        // SAFETY: acquired above.
        unsafe { avcam_kernel::KeReleaseSpinLock(&mut lock, old) };
        let bugs = kernel.take_bugs();
        assert_eq!(bugs.len(), 2, "{bugs:?}");
        assert!(bugs
            .iter()
            .all(|b| matches!(b, avcam_emulation::Bug::IrqlTooHigh { .. })));
        // SAFETY: the leading edge locked above.
        unsafe { KsStreamPointerUnlock(leading, 0) };
    }
    // Reaching STOP cancels the queued reads.
    set_state(&kernel, pin, KSSTATE_STOP);
    assert_eq!(read.poll().unwrap().status, STATUS_CANCELLED);
    kernel.close(pin);
    drop(read);
    kernel.close(filter);
    kernel.assert_no_leaks();
}

/// The pin's framing as KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX answers it.
fn framing_answer(kernel: &Kernel, pin: File) -> ks::ks::KSALLOCATOR_FRAMING_EX {
    let request = property(
        KSPROPSETID_Connection,
        ks::video::KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX,
        KSPROPERTY_TYPE_GET,
    );
    let mut bytes = [0u8; std::mem::size_of::<ks::ks::KSALLOCATOR_FRAMING_EX>()];
    let result = kernel.ioctl(pin, IOCTL_KS_PROPERTY, &request, &mut bytes);
    assert_eq!(result.status, STATUS_SUCCESS);
    ks::ks::KSALLOCATOR_FRAMING_EX::read_from_bytes(&bytes).unwrap()
}

#[test]
fn ks_edit_gives_the_pin_its_own_descriptor_which_the_framing_property_answers() {
    use avcam_kernel::_KsEdit;
    use ks::ks::KSALLOCATOR_FRAMING_EX;
    const TAG: u32 = u32::from_le_bytes(*b"Test");
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let ks_pin = ks_pin(&kernel, pin);
    // SAFETY: a live pin.
    let declared = unsafe { (*ks_pin).Descriptor };
    let descriptor_size = std::mem::size_of::<KSPIN_DESCRIPTOR_EX>() as u32;
    let framing_size = std::mem::size_of::<KSALLOCATOR_FRAMING_EX>() as u32;
    // SAFETY: a live pin.
    let bag = unsafe { (*ks_pin).Bag };
    // SAFETY: a live pin: the address of a field, nothing read.
    let descriptor_field = unsafe { &raw mut (*ks_pin).Descriptor }.cast();
    {
        let _entered = kernel.enter();
        // SAFETY: a live pin's Bag and its Descriptor field, as the KsEdit macro passes them.
        let status =
            unsafe { _KsEdit(bag, descriptor_field, descriptor_size, descriptor_size, TAG) };
        assert_eq!(status, STATUS_SUCCESS);
    }
    // SAFETY: a live pin.
    let copy = unsafe { (*ks_pin).Descriptor }.cast_mut();
    assert_ne!(copy.cast_const(), declared, "the pin has its own copy");
    // SAFETY: a whole KSPIN_DESCRIPTOR_EX in a live pool block.
    let copy_bytes =
        unsafe { std::slice::from_raw_parts(copy.cast::<u8>(), descriptor_size as usize) };
    // SAFETY: the test driver's descriptor, live forever.
    let declared_bytes =
        unsafe { std::slice::from_raw_parts(declared.cast::<u8>(), descriptor_size as usize) };
    assert_eq!(copy_bytes, declared_bytes, "copied");
    {
        let _entered = kernel.enter();
        let calls = kernel.pool().allocation_calls();
        // SAFETY: as above: a second edit of the same (already copied) descriptor.
        let status =
            unsafe { _KsEdit(bag, descriptor_field, descriptor_size, descriptor_size, TAG) };
        assert_eq!(status, STATUS_SUCCESS);
        assert_eq!(kernel.pool().allocation_calls(), calls, "not copied again");
        // SAFETY: a live pin.
        assert_eq!(unsafe { (*ks_pin).Descriptor }, copy.cast_const());
        // SAFETY: the copy is a live descriptor: the address of a field, nothing read.
        let framing_field = unsafe { &raw mut (*copy).AllocatorFraming }.cast();
        // SAFETY: the pin's bag and the copy's AllocatorFraming field.
        let status = unsafe { _KsEdit(bag, framing_field, framing_size, framing_size, TAG) };
        assert_eq!(status, STATUS_SUCCESS);
    }
    // SAFETY: the descriptor copy is live.
    let framing_copy = unsafe { (*copy).AllocatorFraming }.cast_mut();
    // SAFETY: the framing copy is a live, writable pool block owned by the pin.
    unsafe { (*framing_copy).FramingItem[0].PhysicalRange.MaxFrameSize = 1234 };
    assert_eq!(
        framing_answer(&kernel, pin).FramingItem[0]
            .PhysicalRange
            .MaxFrameSize,
        1234
    );
    // SAFETY: the declared descriptor is the test driver's, live forever.
    let declared_framing = unsafe { (*declared).AllocatorFraming };
    // SAFETY: as above.
    let declared_framing = unsafe { declared_framing.read() };
    assert_eq!(
        declared_framing,
        framing(),
        "the declared framing is untouched"
    );
    assert_eq!(
        kernel.pool().outstanding().len(),
        2,
        "the two copies, under the caller's tag"
    );
    assert!(kernel
        .pool()
        .outstanding()
        .iter()
        .all(|block| block.tag == avcam_emulation::Tag(TAG)));
    kernel.close(pin);
    assert!(kernel.pool().outstanding().is_empty(), "freed at close");
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn ks_edit_of_a_bag_that_is_no_live_objects_is_a_bug() {
    let (kernel, filter) = loaded();
    kernel.expect_bugs();
    let mut item = null_mut::<c_void>();
    let mut not_a_bag = 0u64;
    {
        let _entered = kernel.enter();
        // SAFETY: the emulation checks the bag before using anything.
        let status =
            unsafe { avcam_kernel::_KsEdit((&raw mut not_a_bag).cast(), &mut item, 8, 8, 0) };
        assert_eq!(status, STATUS_INVALID_PARAMETER);
    }
    assert!(item.is_null());
    assert_eq!(
        kernel.take_bugs(),
        vec![avcam_emulation::Bug::ObjectBagUnknown {
            bag: (&raw const not_a_bag) as usize
        }]
    );
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn the_pin_context_starts_as_the_filter_context() {
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let serial = pin_state(ks_pin(&kernel, pin)).serial;
    let seen = PIN_CONTEXT_SEEN
        .lock()
        .unwrap()
        .iter()
        .find(|(s, _, _)| *s == serial)
        .copied()
        .unwrap();
    let filter_context = (&raw const FILTER_CONTEXT) as usize;
    assert_eq!(
        seen.1, filter_context,
        "SetDataFormat saw the filter's context"
    );
    assert_eq!(seen.2, filter_context, "Create saw the filter's context");
    kernel.close(pin);
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[test]
fn a_pin_closes_in_the_state_it_is_in() {
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let ks_pin = ks_pin(&kernel, pin);
    set_state(&kernel, pin, KSSTATE_RUN);
    let serial = pin_state(ks_pin).serial;
    let steps = pin_state(ks_pin).transitions.len();
    assert_eq!(steps, 3);
    assert_eq!(kernel.close(pin), STATUS_SUCCESS);
    assert_eq!(
        closed(serial),
        Some(ClosedPin {
            serial,
            device_state: KSSTATE_RUN,
            client_state: KSSTATE_RUN,
        }),
        "no step down to STOP before the Close dispatch; both states consistent"
    );
    // A pin whose step down failed half way closes where it stopped, both states agreeing.
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let ks_pin = self::ks_pin(&kernel, pin);
    set_state(&kernel, pin, KSSTATE_RUN);
    pin_state(ks_pin).fail_at = Some(KSSTATE_ACQUIRE);
    assert_eq!(
        set_state(&kernel, pin, KSSTATE_STOP),
        STATUS_INSUFFICIENT_RESOURCES
    );
    let serial = pin_state(ks_pin).serial;
    kernel.close(pin);
    assert_eq!(
        closed(serial).map(|c| (c.device_state, c.client_state)),
        Some((KSSTATE_PAUSE, KSSTATE_PAUSE))
    );
    kernel.close(filter);
    kernel.assert_no_leaks();
}

/// Asks for processing at DISPATCH_LEVEL (deferred to a PASSIVE_LEVEL work item, run after the
/// next DPC).
fn attempt_processing_at_dispatch(kernel: &Kernel, pin: *mut KSPIN) {
    let _entered = kernel.enter();
    let mut lock = 0usize;
    // SAFETY: a live spin lock on this frame, released below.
    let old = unsafe { avcam_kernel::KeAcquireSpinLockRaiseToDpc(&mut lock) };
    // SAFETY: a live pin; at DISPATCH_LEVEL without KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING the
    // attempt is deferred to a PASSIVE_LEVEL work item.
    unsafe { avcam_kernel::KsPinAttemptProcessing(pin, 0) };
    // SAFETY: acquired above.
    unsafe { avcam_kernel::KeReleaseSpinLock(&mut lock, old) };
}

/// Fires a one-shot timer with an empty DPC (after which deferred work runs).
fn run_a_dpc(kernel: &Kernel) {
    let mut timer = Box::new(ks::nt::KTIMER { Opaque: [0; 8] });
    let mut dpc = Box::new(ks::nt::KDPC { Opaque: [0; 8] });
    {
        let _entered = kernel.enter();
        // SAFETY: live boxes that outlive the one-shot timer (it fires below).
        unsafe { avcam_kernel::KeInitializeDpc(&mut *dpc, Some(nothing), null_mut()) };
        // SAFETY: a live box that outlives the one-shot timer (it fires below).
        unsafe { avcam_kernel::KeInitializeTimerEx(&mut *timer, ks::nt::NotificationTimer) };
        // SAFETY: the timer and DPC initialised above, live until it has fired: due in 1 ms, once.
        unsafe { avcam_kernel::KeSetTimerEx(&mut *timer, -10_000, 0, &mut *dpc) };
    }
    // Due 1 ms after the last tick: it expires at the next one, within one default tick.
    kernel.clock().advance(2 * 15_625_000);
}

#[test]
fn processing_deferred_for_a_pin_closed_meanwhile_is_dropped() {
    // Processing without frames, so that a deferred attempt reaches Process.
    let (kernel, filter) = loaded_with(KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING);
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let ks_pin = ks_pin(&kernel, pin);
    set_state(&kernel, pin, KSSTATE_RUN);
    pin_state(ks_pin).mode = Mode::Hold;
    let processed = pin_state(ks_pin).processed;
    attempt_processing_at_dispatch(&kernel, ks_pin);
    run_a_dpc(&kernel);
    assert_eq!(
        pin_state(ks_pin).processed,
        processed + 1,
        "an open pin's deferred attempt runs after the DPC"
    );
    attempt_processing_at_dispatch(&kernel, ks_pin);
    let before = PROCESS_AFTER_CLOSE.load(Ordering::Relaxed);
    kernel.close(pin);
    run_a_dpc(&kernel);
    assert_eq!(
        PROCESS_AFTER_CLOSE.load(Ordering::Relaxed),
        before,
        "no Process on a closed pin"
    );
    kernel.close(filter);
    kernel.assert_no_leaks();
}

#[ks::kernel_abi]
unsafe extern "system" fn nothing(
    _dpc: *mut ks::nt::KDPC,
    _context: *mut c_void,
    _a: *mut c_void,
    _b: *mut c_void,
) {
}

#[test]
fn a_pin_keeps_its_filter_object_after_the_filters_close() {
    let (kernel, filter) = loaded();
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .unwrap();
    let ks_pin = ks_pin(&kernel, pin);
    let parent = {
        let _entered = kernel.enter();
        // SAFETY: a live pin.
        unsafe { KsPinGetParentFilter(ks_pin) }
    };
    // The filter's handle closes first: no reference on it from the pin's file object, so its
    // CLOSE comes now; the KSFILTER the pin points to stays readable.
    assert_eq!(kernel.close(filter), STATUS_SUCCESS);
    {
        let _entered = kernel.enter();
        // SAFETY: a live pin.
        assert_eq!(unsafe { KsPinGetParentFilter(ks_pin) }, parent);
    }
    // SAFETY: the KSFILTER the pin's record keeps alive.
    let context = unsafe { (*parent).Context } as usize;
    assert_eq!(context, (&raw const FILTER_CONTEXT) as usize);
    kernel.close(pin);
    kernel.assert_no_leaks();
}

/// The driver object and registry path the last [`records_its_arguments`] call saw.
static ENTRY_ARGUMENTS: std::sync::Mutex<Option<(usize, String)>> = std::sync::Mutex::new(None);

/// A DriverEntry that records its arguments and does nothing else (no KsInitializeDriver: no
/// AddDevice, so the load ends after it).
#[ks::kernel_abi]
unsafe extern "system" fn records_its_arguments(
    driver: *mut ks::nt::DRIVER_OBJECT,
    path: *mut ks::nt::UNICODE_STRING,
) -> NTSTATUS {
    // SAFETY: the emulation passes a live counted string whose buffer holds Length bytes.
    let path = unsafe { &*path };
    // SAFETY: as above: Length bytes of UTF-16.
    let units = unsafe { std::slice::from_raw_parts(path.Buffer, usize::from(path.Length) / 2) };
    *ENTRY_ARGUMENTS.lock().unwrap() = Some((driver as usize, String::from_utf16_lossy(units)));
    STATUS_SUCCESS
}

#[test]
fn driver_entry_gets_a_real_driver_object_and_the_services_registry_key() {
    let kernel = Kernel::new();
    assert_eq!(kernel.load_driver(records_its_arguments), STATUS_SUCCESS);
    let (driver, path) = ENTRY_ARGUMENTS
        .lock()
        .unwrap()
        .take()
        .expect("DriverEntry ran");
    assert_ne!(driver, 0);
    // SAFETY: the kernel's driver object lives as long as the kernel.
    let object = unsafe { &*(driver as *const ks::nt::DRIVER_OBJECT) };
    assert_eq!(
        object.Size as usize,
        std::mem::size_of::<ks::nt::DRIVER_OBJECT>()
    );
    assert!(!object.DriverExtension.is_null());
    assert_eq!(
        path,
        "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\avcam"
    );
    assert_eq!(path, avcam_emulation::DRIVER_REGISTRY_PATH);
}
