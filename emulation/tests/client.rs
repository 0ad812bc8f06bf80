//! The client API: allocator create requests as KsCreateAllocator sends them, events through
//! handles, misuse of the API.

mod common;

use std::time::Duration;

use avcam_emulation::client::allocator_create_name;
use avcam_emulation::{CreateItem, Kernel};
use common::*;
use ks::ks::{KSSTRING_Allocator, KSALLOCATOR_FRAMING};
use ks::nt::SynchronizationEvent;
use ks::status::*;
use zerocopy::IntoBytes;

#[test]
fn create_allocator_sends_the_guid_a_backslash_and_the_framing_bytes() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent(&[CreateItem::allocator(observe_create)]);
    let framing = KSALLOCATOR_FRAMING {
        Flags: 2,
        PoolType: 512,
        Frames: 4,
        FrameSize: 0x1234_5678,
        FileAlignment: 0x3F,
        Reserved: 0xDEAD_BEEF,
    };
    assert_eq!(
        kernel.create_allocator(parent, &framing),
        Err(OBSERVED_CREATE_STATUS)
    );
    let seen = created().expect("the allocator item's handler ran");
    assert_eq!(seen.item_class, KSSTRING_Allocator);
    assert_eq!(seen.name_length, 38 * 2 + 2 + 24);
    let units: Vec<u16> = seen.name_bytes[..78]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(
        String::from_utf16(&units).unwrap(),
        format!("{KSSTRING_Allocator}\\")
    );
    assert_eq!(&seen.name_bytes[78..], framing.as_bytes());
    kernel.close(parent);
    kernel.check();
}

#[test]
fn raw_allocator_requests_carry_any_parameter_length() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent(&[CreateItem::allocator(observe_create)]);
    for length in [0usize, 10, 23, 24, 25, 40] {
        let parameters: Vec<u8> = (0..length as u8).collect();
        assert_eq!(
            kernel.create_allocator_raw(parent, &parameters),
            Err(OBSERVED_CREATE_STATUS)
        );
        let seen = created().unwrap();
        assert_eq!(
            usize::from(seen.name_length),
            78 + length,
            "FileName.Length is exact"
        );
        assert_eq!(seen.name_bytes, allocator_create_name(&parameters));
    }
    kernel.close(parent);
}

#[test]
fn the_allocator_name_is_matched_case_insensitively() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent(&[CreateItem::allocator(observe_create)]);
    let lower = format!("{}\\", KSSTRING_Allocator.to_lowercase());
    assert_eq!(
        kernel.create(parent, &utf16(&lower)),
        Err(OBSERVED_CREATE_STATUS)
    );
    kernel.close(parent);
}

#[test]
fn the_driver_signals_an_event_through_its_handle() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent(&[CreateItem::new("Echo", echo_create)]);
    let file = kernel.create(parent, &utf16("Echo")).unwrap();
    let event = kernel.create_event_of(SynchronizationEvent, false);
    assert!(!kernel.event_signalled(event));
    let handle_bytes = (event as usize).to_le_bytes();
    assert_eq!(
        kernel
            .ioctl(file, SIGNAL_HANDLE, &handle_bytes, &mut [])
            .status,
        STATUS_SUCCESS
    );
    assert!(kernel.wait_event(event, Duration::from_secs(60)));
    assert!(
        !kernel.event_signalled(event),
        "a synchronization event is consumed by the wait"
    );
    assert!(kernel.objects().leaked_references().is_empty());
    assert!(kernel.close_handle(event));
    assert_eq!(
        kernel
            .ioctl(file, SIGNAL_HANDLE, &handle_bytes, &mut [])
            .status,
        STATUS_INVALID_HANDLE
    );
    kernel.close(file);
    kernel.close(parent);
    kernel.assert_no_leaks();
}

#[test]
#[should_panic(expected = "Event object")]
fn a_reference_the_driver_keeps_is_a_leak() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent(&[CreateItem::new("Echo", echo_create)]);
    let file = kernel.create(parent, &utf16("Echo")).unwrap();
    let event = kernel.create_event();
    kernel.ioctl(
        file,
        KEEP_REFERENCE,
        &(event as usize).to_le_bytes(),
        &mut [],
    );
    kernel.close(file);
    kernel.close(parent);
    kernel.assert_no_leaks();
}

#[test]
fn a_closed_handle_answers_invalid_handle_everywhere() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent(&[CreateItem::new("Echo", echo_create)]);
    assert_eq!(kernel.close(parent), STATUS_SUCCESS);
    assert_eq!(kernel.close(parent), STATUS_INVALID_HANDLE);
    assert_eq!(
        kernel.create(parent, &utf16("Echo")),
        Err(STATUS_INVALID_HANDLE)
    );
    assert_eq!(
        kernel.ioctl(parent, ECHO, &[], &mut []).status,
        STATUS_INVALID_HANDLE
    );
    let done = kernel.ioctl_async(parent, ECHO, &[], 0).expect_done();
    assert_eq!(done.result.status, STATUS_INVALID_HANDLE);
    assert_eq!(kernel.query_security(parent).status, STATUS_INVALID_HANDLE);
    assert!(kernel.file_object(parent).is_null());
    // Another kernel's handle is no handle here.
    let other = Kernel::new();
    assert_eq!(other.close(parent), STATUS_INVALID_HANDLE);
    kernel.assert_no_leaks();
}

#[test]
#[should_panic(expected = "pool tag 'Echo'")]
fn an_object_never_closed_leaks_its_context() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent(&[CreateItem::new("Echo", echo_create)]);
    let _file = kernel.create(parent, &utf16("Echo")).unwrap();
    kernel.assert_no_leaks();
}
