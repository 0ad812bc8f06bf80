//! KSEVENTSETID_StreamAllocator: FREEFRAME and INTERNAL_FREEFRAME, by event handle and by
//! kernel KEVENT, enabled and disabled with real KSEVENTDATA, released at close.

mod common;

use std::time::Duration;

use common::{event_data, framing, identifier, Fixture};
use ks::guid::{KSEVENTSETID_StreamAllocator, KSPROPSETID_StreamAllocator};
use ks::ks::*;
use ks::nt::{NotificationEvent, KEVENT, LIST_ENTRY};
use ks::status::*;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn freeframe_is_signalled_on_each_free_until_disabled() {
    let fixture = Fixture::new();
    let file = fixture.create(&framing(2, 64, 0)).unwrap();
    let event = fixture.kernel.create_event();
    let mut data = event_data(KSEVENTF_EVENT_HANDLE, event as u64);
    assert_eq!(
        fixture.enable_event(file, KSEVENT_STREAMALLOCATOR_FREEFRAME, &mut data),
        STATUS_SUCCESS
    );
    let a = fixture.alloc(file).unwrap();
    let b = fixture.alloc(file).unwrap();
    assert!(
        !fixture.kernel.event_signalled(event),
        "allocating signals nothing"
    );
    assert_eq!(fixture.free(file, a).status, STATUS_SUCCESS);
    assert!(fixture.kernel.event_signalled(event));
    fixture.kernel.reset_event(event);
    assert_eq!(fixture.free(file, a).status, STATUS_INVALID_PARAMETER);
    assert!(
        !fixture.kernel.event_signalled(event),
        "a refused free signals nothing"
    );
    assert_eq!(fixture.disable_event(file, Some(&mut data)), STATUS_SUCCESS);
    assert_eq!(fixture.free(file, b).status, STATUS_SUCCESS);
    assert!(!fixture.kernel.event_signalled(event), "disabled");
    assert_eq!(
        fixture.disable_event(file, Some(&mut data)),
        STATUS_UNSUCCESSFUL,
        "already disabled"
    );
    fixture.kernel.close(file);
    assert!(fixture.kernel.close_handle(event));
    fixture.finish();
}

#[test]
fn internal_freeframe_is_signalled_only_when_a_frame_stays_free() {
    let fixture = Fixture::new();
    let file = fixture.create(&framing(1, 64, 0)).unwrap();
    let internal = fixture.kernel.create_event();
    let every = fixture.kernel.create_event();
    let mut internal_data = event_data(KSEVENTF_EVENT_HANDLE, internal as u64);
    let mut every_data = event_data(KSEVENTF_EVENT_HANDLE, every as u64);
    assert_eq!(
        fixture.enable_event(
            file,
            KSEVENT_STREAMALLOCATOR_INTERNAL_FREEFRAME,
            &mut internal_data
        ),
        STATUS_SUCCESS
    );
    assert_eq!(
        fixture.enable_event(file, KSEVENT_STREAMALLOCATOR_FREEFRAME, &mut every_data),
        STATUS_SUCCESS
    );
    let frame = fixture.alloc(file).unwrap();
    let waiting = fixture.alloc_async(file).expect_pending();
    assert_eq!(fixture.free(file, frame).status, STATUS_SUCCESS);
    assert_eq!(waiting.wait(WAIT).map(|r| r.status), Some(STATUS_SUCCESS));
    assert!(fixture.kernel.event_signalled(every));
    assert!(
        !fixture.kernel.event_signalled(internal),
        "the frame went straight to the waiter"
    );
    fixture.kernel.reset_event(every);
    assert_eq!(fixture.free(file, frame).status, STATUS_SUCCESS);
    assert!(fixture.kernel.event_signalled(every));
    assert!(
        fixture.kernel.event_signalled(internal),
        "now the frame stays free"
    );
    // Disable everything at once (no input), then nothing is signalled.
    assert_eq!(fixture.disable_event(file, None), STATUS_SUCCESS);
    fixture.kernel.reset_event(every);
    let frame = fixture.alloc(file).unwrap();
    fixture.free(file, frame);
    assert!(!fixture.kernel.event_signalled(every));
    fixture.kernel.close(file);
    fixture.kernel.close_handle(internal);
    fixture.kernel.close_handle(every);
    fixture.finish();
}

#[test]
fn kernel_clients_can_have_their_kevent_signalled() {
    let fixture = Fixture::new();
    let file = fixture.create(&framing(1, 64, 0)).unwrap();
    let mut event = Box::new(KEVENT {
        Header: 0,
        SignalState: 0,
        WaitListHead: LIST_ENTRY {
            Flink: std::ptr::null_mut(),
            Blink: std::ptr::null_mut(),
        },
    });
    let pointer: *mut KEVENT = &mut *event;
    // SAFETY: `pointer` is a live KEVENT owned by the test until the end.
    unsafe { avcam_kernel::KeInitializeEvent(pointer, NotificationEvent, 0) };
    let mut data = event_data(KSEVENTF_EVENT_OBJECT, pointer as u64);
    assert_eq!(
        fixture.enable_event(file, KSEVENT_STREAMALLOCATOR_FREEFRAME, &mut data),
        STATUS_SUCCESS
    );
    let frame = fixture.alloc(file).unwrap();
    fixture.free(file, frame);
    // SAFETY: the KEVENT lives until the end of the test.
    let signalled = unsafe { fixture.kernel.wait_kevent(pointer, Duration::ZERO) };
    assert!(signalled);
    // A copy of the KSEVENTDATA (another address) still names the registration.
    let mut copy = data;
    assert_eq!(fixture.disable_event(file, Some(&mut copy)), STATUS_SUCCESS);
    fixture.kernel.close(file);
    fixture.finish();
    drop(event);
}

#[test]
fn enable_requests_are_checked() {
    let fixture = Fixture::new();
    let file = fixture.create(&framing(1, 64, 0)).unwrap();
    let event = fixture.kernel.create_event();
    let freeframe = KSEVENT_STREAMALLOCATOR_FREEFRAME;
    let mut data = event_data(KSEVENTF_EVENT_HANDLE, 0xDEAD_0000);
    assert_eq!(
        fixture.enable_event(file, freeframe, &mut data),
        STATUS_INVALID_HANDLE
    );
    for unsupported in [
        KSEVENTF_SEMAPHORE_HANDLE,
        KSEVENTF_SEMAPHORE_OBJECT,
        KSEVENTF_DPC,
        KSEVENTF_WORKITEM,
        KSEVENTF_KSWORKITEM,
    ] {
        let mut data = event_data(unsupported, event as u64);
        assert_eq!(
            fixture.enable_event(file, freeframe, &mut data),
            STATUS_NOT_SUPPORTED,
            "{unsupported:#x}"
        );
    }
    let mut null_object = event_data(KSEVENTF_EVENT_OBJECT, 0);
    assert_eq!(
        fixture.enable_event(file, freeframe, &mut null_object),
        STATUS_INVALID_PARAMETER
    );
    let mut good = event_data(KSEVENTF_EVENT_HANDLE, event as u64);
    assert_eq!(
        fixture.enable_event_with_flags(file, freeframe, KSEVENT_TYPE_ONESHOT, &mut good),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(fixture.enable_event(file, 2, &mut good), STATUS_NOT_FOUND);
    assert_eq!(
        fixture.enable_event_with_flags(file, freeframe, KSEVENT_TYPE_BASICSUPPORT, &mut good),
        STATUS_SUCCESS
    );
    assert_eq!(
        fixture.enable_event_with_flags(file, 55, KSEVENT_TYPE_SETSUPPORT, &mut good),
        STATUS_SUCCESS
    );

    let mut other_set = identifier(KSPROPSETID_StreamAllocator, 1, KSEVENT_TYPE_ENABLE);
    let (status, _) = fixture.kernel_ioctl(
        file,
        IOCTL_KS_ENABLE_EVENT,
        &mut other_set,
        zerocopy::IntoBytes::as_mut_bytes(&mut good),
    );
    assert_eq!(status, STATUS_PROPSET_NOT_FOUND);
    let mut enable = identifier(KSEVENTSETID_StreamAllocator, freeframe, KSEVENT_TYPE_ENABLE);
    let (status, _) =
        fixture.kernel_ioctl(file, IOCTL_KS_ENABLE_EVENT, &mut enable, &mut [0u8; 16]);
    assert_eq!(
        status, STATUS_INVALID_PARAMETER,
        "a KSEVENTDATA shorter than 32 bytes"
    );
    let (status, _) = fixture.kernel_ioctl(file, IOCTL_KS_DISABLE_EVENT, &mut [0u8; 16], &mut []);
    assert_eq!(
        status, STATUS_INVALID_PARAMETER,
        "a disable with a short KSEVENTDATA"
    );

    assert_eq!(
        fixture.enable_event(file, freeframe, &mut good),
        STATUS_SUCCESS
    );
    assert_eq!(
        fixture.enable_event(file, freeframe, &mut good),
        STATUS_INVALID_PARAMETER,
        "enabled twice"
    );
    // Fill the table: 8 registrations in all, then a ninth is refused and its reference dropped.
    let mut more: Vec<_> = (0..8)
        .map(|_| event_data(KSEVENTF_EVENT_HANDLE, event as u64))
        .collect();
    let statuses: Vec<_> = more
        .iter_mut()
        .map(|d| fixture.enable_event(file, freeframe, d))
        .collect();
    assert_eq!(statuses[..7], [STATUS_SUCCESS; 7]);
    assert_eq!(statuses[7], STATUS_INSUFFICIENT_RESOURCES);
    // Close with 8 events enabled: every reference on the event is dropped (checked by finish).
    fixture.kernel.close(file);
    fixture.kernel.close_handle(event);
    fixture.finish();
}
