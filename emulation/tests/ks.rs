//! The ks.sys subset: create routing by create-item name, object headers, dispatch through the
//! file object's table, security.

mod common;

use avcam_emulation::ks::OBJECT_HEADER_TAG;
use avcam_emulation::{Bug, CreateItem, Kernel, Tag};
use common::*;
use ks::ks::{KSCREATE_ITEM_SECURITYCHANGED, KSCREATE_ITEM_WILDCARD};
use ks::nt::irp_mj;
use ks::status::*;

#[test]
fn a_create_reaches_the_item_named_before_the_first_backslash() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent(&[
        CreateItem::new("Alpha", observe_create),
        CreateItem::new("Beta", observe_create),
    ]);
    assert_eq!(
        kernel.create(parent, &utf16("Beta\\params\\more")),
        Err(OBSERVED_CREATE_STATUS)
    );
    let seen = created().expect("Beta's handler ran");
    assert_eq!(seen.item_class, "Beta");
    assert!(seen.has_parent);
    assert_eq!(seen.name_length, 2 * 16);
    assert_eq!(
        kernel.create(parent, &utf16("alpha")),
        Err(OBSERVED_CREATE_STATUS),
        "case-insensitive"
    );
    assert_eq!(created().expect("Alpha's handler ran").item_class, "Alpha");
    kernel.close(parent);
    kernel.check();
}

#[test]
fn no_matching_item_is_object_name_not_found() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent(&[CreateItem::new("Alpha", observe_create)]);
    for name in ["Alph", "Alphabet", "Alpha2\\x", "", "\\Alpha"] {
        assert_eq!(
            kernel.create(parent, &utf16(name)),
            Err(STATUS_OBJECT_NAME_NOT_FOUND),
            "{name:?}"
        );
    }
    assert!(created().is_none(), "no handler ran");
    let empty = kernel.create_parent(&[]);
    assert_eq!(
        kernel.create(empty, &utf16("Alpha")),
        Err(STATUS_OBJECT_NAME_NOT_FOUND)
    );
    kernel.close(empty);
    kernel.close(parent);
    kernel.check();
}

#[test]
fn a_wildcard_item_takes_what_no_named_item_matches() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent(&[
        CreateItem::new("*", observe_create).with_flags(KSCREATE_ITEM_WILDCARD),
        CreateItem::new("Named", observe_create),
    ]);
    assert_eq!(
        kernel.create(parent, &utf16("NAMED\\x")),
        Err(OBSERVED_CREATE_STATUS)
    );
    assert_eq!(
        created().unwrap().item_class,
        "Named",
        "a named match wins over the wildcard"
    );
    assert_eq!(
        kernel.create(parent, &utf16("other")),
        Err(OBSERVED_CREATE_STATUS)
    );
    assert_eq!(created().unwrap().item_class, "*");
    kernel.close(parent);
    kernel.check();
}

#[test]
fn an_odd_length_name_is_passed_as_is_and_still_routed() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent(&[CreateItem::new("Odd", observe_create)]);
    let mut name: Vec<u8> = "Odd\\".encode_utf16().flat_map(u16::to_le_bytes).collect();
    name.extend_from_slice(&[1, 2, 3]);
    assert_eq!(
        kernel.create_bytes(parent, &name),
        Err(OBSERVED_CREATE_STATUS)
    );
    let seen = created().unwrap();
    assert_eq!(seen.name_length, 11);
    assert_eq!(seen.name_bytes, name);
    kernel.close(parent);
    kernel.check();
}

#[test]
fn a_created_object_has_a_pool_header_freed_at_close() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent(&[CreateItem::new("Echo", echo_create)]);
    let file = kernel.create(parent, &utf16("Echo")).unwrap();
    let tags: Vec<Tag> = kernel.pool().outstanding().iter().map(|a| a.tag).collect();
    assert!(tags.contains(&OBJECT_HEADER_TAG), "{tags:?}");
    assert!(tags.contains(&Tag(ECHO_TAG)), "{tags:?}");
    assert_eq!(kernel.close(file), STATUS_SUCCESS);
    assert_eq!(kernel.close(parent), STATUS_SUCCESS);
    kernel.assert_no_leaks();
    kernel.check();
}

#[test]
fn the_header_remembers_the_create_item() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent(&[
        CreateItem::new("Other", observe_create),
        CreateItem::new("Echo", echo_create),
    ]);
    let file = kernel.create(parent, &utf16("echo")).unwrap();
    let mut output = [0u8; 8];
    let result = kernel.ioctl(file, QUERY_CREATE_ITEM, &[], &mut output);
    assert_eq!(result.status, STATUS_SUCCESS);
    let item = usize::from_le_bytes(output) as *const ks::ks::KSOBJECT_CREATE_ITEM;
    assert!(!item.is_null());
    // SAFETY: the item lives with the parent, which is open; read only.
    let class = unsafe { (*item).ObjectClass };
    // SAFETY: as above; ObjectClass holds Length bytes.
    let units = unsafe { std::slice::from_raw_parts(class.Buffer, usize::from(class.Length) / 2) };
    assert_eq!(String::from_utf16_lossy(units), "Echo");
    kernel.close(file);
    kernel.close(parent);
    kernel.assert_no_leaks();
}

#[test]
fn a_failed_header_allocation_fails_the_create_without_leaks() {
    // Sweep: fail each pool allocation of the create in turn.
    let mut failed_runs = 0;
    for n in 1.. {
        let kernel = Kernel::new();
        let parent = kernel.create_parent(&[CreateItem::new("Echo", echo_create)]);
        kernel.pool().fail_nth_allocation(n);
        let result = kernel.create(parent, &utf16("Echo"));
        if kernel.pool().injected_failures() == 0 {
            let file = result.expect("no failure injected: created");
            kernel.close(file);
            kernel.close(parent);
            break;
        }
        assert_eq!(
            result,
            Err(STATUS_INSUFFICIENT_RESOURCES),
            "failing allocation {n}"
        );
        failed_runs += 1;
        kernel.close(parent);
        kernel.assert_no_leaks();
        kernel.check();
    }
    assert_eq!(failed_runs, 2, "the echo context and the object header");
}

#[test]
fn an_empty_dispatch_slot_is_an_invalid_device_request() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent(&[]);
    let result = kernel.ioctl(parent, ECHO, b"x", &mut [0]);
    assert_eq!(result.status, STATUS_INVALID_DEVICE_REQUEST);
    kernel.close(parent);
    kernel.check();
}

#[test]
fn security_goes_through_the_create_item() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent(&[
        CreateItem::new("Plain", echo_create),
        CreateItem::new("Guarded", echo_create).with_security_descriptor(),
    ]);
    let plain = kernel.create(parent, &utf16("Plain")).unwrap();
    let guarded = kernel.create(parent, &utf16("Guarded")).unwrap();
    assert_eq!(
        kernel.query_security(plain).status,
        STATUS_NO_SECURITY_ON_OBJECT
    );
    assert_eq!(
        kernel.set_security(plain).status,
        STATUS_NO_SECURITY_ON_OBJECT
    );
    assert_eq!(kernel.query_security(guarded).status, STATUS_SUCCESS);
    assert_eq!(kernel.set_security(guarded).status, STATUS_SUCCESS);
    let mut output = [0u8; 8];
    kernel.ioctl(guarded, QUERY_CREATE_ITEM, &[], &mut output);
    let item = usize::from_le_bytes(output) as *const ks::ks::KSOBJECT_CREATE_ITEM;
    // SAFETY: the item lives with the parent, which is open.
    let flags = unsafe { (*item).Flags };
    assert_eq!(
        flags & KSCREATE_ITEM_SECURITYCHANGED,
        KSCREATE_ITEM_SECURITYCHANGED
    );
    kernel.close(plain);
    kernel.close(guarded);
    kernel.close(parent);
    kernel.assert_no_leaks();
    kernel.check();
}

#[test]
fn freeing_a_header_twice_is_detected() {
    let kernel = Kernel::new();
    kernel.expect_bugs();
    let parent = kernel.create_parent(&[CreateItem::new("Echo", echo_create)]);
    let file = kernel.create(parent, &utf16("Echo")).unwrap();
    kernel.ioctl(file, BUG_FREE_HEADER_TWICE, &[], &mut []);
    let bugs = kernel.take_bugs();
    assert!(
        matches!(bugs.as_slice(), [Bug::ObjectHeaderUnknown { .. }]),
        "{bugs:?}"
    );
    kernel.close(file);
    kernel.close(parent);
    kernel.assert_no_leaks();
    assert_eq!(kernel.take_bugs(), []);
}

/// A create handler that "succeeds" without giving the file object a KS context.
#[ks::kernel_abi]
unsafe extern "system" fn create_without_context(
    _device: *mut ks::nt::DEVICE_OBJECT,
    irp: *mut ks::nt::IRP,
) -> ks::NTSTATUS {
    // SAFETY: ks.sys hands over a live create IRP; completed once.
    unsafe { avcam_kernel::irp::complete(irp, STATUS_SUCCESS, 0) };
    STATUS_SUCCESS
}

#[test]
fn an_object_without_fs_context_is_detected_at_its_next_request() {
    let kernel = Kernel::new();
    kernel.expect_bugs();
    let parent = kernel.create_parent(&[CreateItem::new("Bare", create_without_context)]);
    let file = kernel.create(parent, &utf16("Bare")).unwrap();
    // Closing a handle cannot fail; the CLOSE ks.sys cannot route is the driver's bug.
    assert_eq!(kernel.close(file), STATUS_SUCCESS);
    assert_eq!(
        kernel.take_bugs(),
        [Bug::NoFsContext {
            major: irp_mj::CLOSE
        }]
    );
    kernel.close(parent);
}
