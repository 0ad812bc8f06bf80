//! KSPROPSETID_StreamAllocator through IOCTL_KS_PROPERTY: values, sizes, refusals, support
//! queries; and the rest of the dispatch table (security, read/write/flush, user-mode requests).

mod common;

use avcam_allocator::allocator_create_dispatch;
use avcam_emulation::CreateItem;
use common::{framing, identifier, Fixture, Forwarded};
use ks::guid::{
    KSEVENTSETID_StreamAllocator, KSMETHODSETID_StreamAllocator, KSPROPSETID_StreamAllocator,
};
use ks::ks::*;
use ks::nt::{irp_mj, UserMode};
use ks::status::*;
use ks::GUID;
use zerocopy::FromBytes;

#[test]
fn status_reports_the_framing_and_allocated_frames_going_up_and_down() {
    let fixture = Fixture::new();
    let asked = framing(3, 5000, file_alignment::B128);
    let file = fixture.create(&asked).unwrap();
    assert_eq!(
        fixture.status(file),
        KSSTREAMALLOCATOR_STATUS {
            Framing: asked,
            AllocatedFrames: 0,
            Reserved: 0
        }
    );
    let a = fixture.alloc(file).unwrap();
    let b = fixture.alloc(file).unwrap();
    assert_eq!(fixture.allocated(file), 2);
    fixture.free(file, a);
    assert_eq!(fixture.allocated(file), 1);
    fixture.free(file, b);
    assert_eq!(fixture.allocated(file), 0);
    fixture.kernel.close(file);
    fixture.finish();
}

#[test]
fn short_outputs_get_buffer_too_small_with_the_size_needed() {
    let fixture = Fixture::new();
    let file = fixture.create(&framing(1, 64, 0)).unwrap();
    for (id, needed) in [
        (KSPROPERTY_STREAMALLOCATOR_STATUS, 32),
        (KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE, 16),
    ] {
        for len in [0, 1, needed - 1] {
            let (result, _) = fixture.property(file, id, KSPROPERTY_TYPE_GET, len);
            assert_eq!(
                (result.status, result.information),
                (STATUS_BUFFER_TOO_SMALL, needed),
                "id {id}, {len} bytes"
            );
        }
        let (result, _) = fixture.property(file, id, KSPROPERTY_TYPE_GET, needed + 8);
        assert_eq!(
            (result.status, result.information),
            (STATUS_SUCCESS, needed)
        );
    }
    fixture.kernel.close(file);
    fixture.finish();
}

#[test]
fn set_unknown_ids_sets_and_short_inputs_are_refused() {
    let fixture = Fixture::new();
    let file = fixture.create(&framing(1, 64, 0)).unwrap();
    for id in [
        KSPROPERTY_STREAMALLOCATOR_STATUS,
        KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE,
    ] {
        let (result, _) = fixture.property(file, id, KSPROPERTY_TYPE_SET, 32);
        assert_eq!(result.status, STATUS_NOT_SUPPORTED, "SET of {id}");
    }
    assert_eq!(
        fixture.property(file, 2, KSPROPERTY_TYPE_GET, 32).0.status,
        STATUS_NOT_FOUND
    );
    let other = GUID::from_u128(0x1234);
    assert_eq!(
        fixture
            .property_of_set(file, other, 1, KSPROPERTY_TYPE_GET, 32)
            .0
            .status,
        STATUS_PROPSET_NOT_FOUND
    );
    assert_eq!(
        fixture
            .property_of_set(
                file,
                KSMETHODSETID_StreamAllocator,
                1,
                KSPROPERTY_TYPE_GET,
                32
            )
            .0
            .status,
        STATUS_PROPSET_NOT_FOUND,
        "the method set is not a property set"
    );
    let input = identifier(KSPROPSETID_StreamAllocator, 1, KSPROPERTY_TYPE_GET);
    let short = fixture
        .kernel
        .ioctl(file, IOCTL_KS_PROPERTY, &input[..23], &mut [0u8; 32]);
    assert_eq!(short.status, STATUS_INVALID_PARAMETER);
    let none = fixture
        .kernel
        .ioctl(file, IOCTL_KS_PROPERTY, &[], &mut [0u8; 32]);
    assert_eq!(none.status, STATUS_INVALID_PARAMETER);
    let relations = fixture.property(file, 1, KSPROPERTY_TYPE_RELATIONS, 32).0;
    assert_eq!(relations.status, STATUS_NOT_SUPPORTED);
    fixture.kernel.close(file);
    fixture.finish();
}

#[test]
fn basic_support_and_set_support_are_answered_like_ks_property_sets() {
    let fixture = Fixture::new();
    let file = fixture.create(&framing(1, 64, 0)).unwrap();
    for id in [
        KSPROPERTY_STREAMALLOCATOR_STATUS,
        KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE,
    ] {
        let (result, output) = fixture.property(file, id, KSPROPERTY_TYPE_BASICSUPPORT, 4);
        assert_eq!((result.status, result.information), (STATUS_SUCCESS, 4));
        assert_eq!(
            u32::from_le_bytes(output[..4].try_into().unwrap()),
            KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_BASICSUPPORT
        );
        let (result, output) = fixture.property(file, id, KSPROPERTY_TYPE_BASICSUPPORT, 40);
        assert_eq!((result.status, result.information), (STATUS_SUCCESS, 40));
        let description = KSPROPERTY_DESCRIPTION::read_from_bytes(&output).unwrap();
        assert_eq!(
            description.AccessFlags,
            KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_BASICSUPPORT
        );
        assert_eq!(
            (description.DescriptionSize, description.MembersListCount),
            (40, 0)
        );
        assert_eq!(description.PropTypeSet.Set, KSPROPTYPESETID_General);
        let (result, _) = fixture.property(file, id, KSPROPERTY_TYPE_BASICSUPPORT, 0);
        assert_eq!(
            (result.status, result.information),
            (STATUS_BUFFER_TOO_SMALL, 40)
        );
    }
    assert_eq!(
        fixture.property(file, 77, KSPROPERTY_TYPE_SETSUPPORT, 0).0,
        avcam_emulation::IoResult {
            status: STATUS_SUCCESS,
            information: 0
        }
    );
    let other = GUID::from_u128(0x1234);
    assert_eq!(
        fixture
            .property_of_set(file, other, 0, KSPROPERTY_TYPE_SETSUPPORT, 0)
            .0
            .status,
        STATUS_PROPSET_NOT_FOUND
    );
    assert_eq!(
        fixture
            .property(file, 9, KSPROPERTY_TYPE_BASICSUPPORT, 4)
            .0
            .status,
        STATUS_NOT_FOUND
    );
    fixture.kernel.close(file);
    fixture.finish();
}

#[test]
fn security_requests_go_through_the_create_item_recorded_in_the_header() {
    let with_descriptor = Fixture::with_item(
        CreateItem::allocator(allocator_create_dispatch).with_security_descriptor(),
    );
    let file = with_descriptor.create(&framing(1, 64, 0)).unwrap();
    assert_eq!(
        with_descriptor.kernel.query_security(file).status,
        STATUS_SUCCESS
    );
    assert_eq!(
        with_descriptor.kernel.set_security(file).status,
        STATUS_SUCCESS
    );
    with_descriptor.kernel.close(file);
    with_descriptor.finish();

    let without = Fixture::new();
    let file = without.create(&framing(1, 64, 0)).unwrap();
    assert_eq!(
        without.kernel.query_security(file).status,
        STATUS_NO_SECURITY_ON_OBJECT
    );
    without.kernel.close(file);
    without.finish();
}

#[test]
fn read_write_flush_and_unknown_ioctls_are_invalid_device_requests() {
    let fixture = Fixture::new();
    let file = fixture.create(&framing(1, 64, 0)).unwrap();
    for major in [irp_mj::READ, irp_mj::WRITE, irp_mj::FLUSH_BUFFERS] {
        let done = fixture.forward(file, Forwarded::ioctl(0, &[], &[], 16).as_major(major));
        assert_eq!(
            done.result.status, STATUS_INVALID_DEVICE_REQUEST,
            "major {major:#x}"
        );
    }
    for code in [
        IOCTL_KS_READ_STREAM,
        IOCTL_KS_WRITE_STREAM,
        IOCTL_KS_RESET_STATE,
        0,
    ] {
        assert_eq!(
            fixture.kernel.ioctl(file, code, &[], &mut []).status,
            STATUS_INVALID_DEVICE_REQUEST
        );
    }
    fixture.kernel.close(file);
    fixture.finish();
}

#[test]
fn user_mode_requests_are_refused_before_any_buffer_is_touched() {
    let fixture = Fixture::new();
    let file = fixture.create(&framing(1, 64, 0)).unwrap();
    let requests = [
        (
            IOCTL_KS_PROPERTY,
            identifier(KSPROPSETID_StreamAllocator, 1, KSPROPERTY_TYPE_GET),
            32,
        ),
        (
            IOCTL_KS_METHOD,
            identifier(KSMETHODSETID_StreamAllocator, 0, KSMETHOD_TYPE_WRITE),
            8,
        ),
        (
            IOCTL_KS_ENABLE_EVENT,
            identifier(KSEVENTSETID_StreamAllocator, 1, KSEVENT_TYPE_ENABLE),
            32,
        ),
        (IOCTL_KS_DISABLE_EVENT, Vec::new(), 0),
    ];
    for (code, input, output_len) in &requests {
        let mut input = input.clone();
        let mut output = vec![0u8; *output_len];
        let (status, returned) =
            fixture.ioctl_in_mode(file, UserMode, *code, &mut input, &mut output);
        assert_eq!(status, STATUS_INVALID_DEVICE_REQUEST, "{code:#x}");
        assert_eq!(returned, 0, "{code:#x}");
        assert!(
            output.iter().all(|&b| b == 0),
            "nothing written for {code:#x}"
        );
    }
    assert_eq!(
        fixture.allocated(file),
        0,
        "the user-mode ALLOC took no frame"
    );
    // The same requests from kernel mode are served.
    for (code, input, output_len) in &requests[..2] {
        let done = fixture.forward(file, Forwarded::ioctl(*code, input, &[], *output_len));
        assert_eq!(done.result.status, STATUS_SUCCESS, "{code:#x}");
    }
    fixture.kernel.close(file);
    fixture.finish();
}
