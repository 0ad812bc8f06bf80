//! ALLOC and FREE through IOCTL_KS_METHOD and the function table: `Frames` enforced, waiting
//! ALLOCs completed in order, cancelled, or cancelled by close; foreign and double frees refused.

mod common;

use std::collections::HashSet;
use std::ffi::c_void;
use std::time::Duration;

use common::{framing, identifier, Fixture};
use ks::guid::{KSMETHODSETID_StreamAllocator, KSPROPSETID_StreamAllocator};
use ks::ks::*;
use ks::status::*;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn alloc_hands_out_each_frame_once_then_waits_and_free_serves_waiters_in_order() {
    let fixture = Fixture::new();
    let file = fixture
        .create(&framing(2, 4096, file_alignment::B64))
        .unwrap();
    let a = fixture.alloc(file).unwrap();
    let b = fixture.alloc(file).unwrap();
    assert_ne!(a, b);
    assert_eq!(fixture.allocated(file), 2);

    let first = fixture.alloc_async(file).expect_pending();
    let second = fixture.alloc_async(file).expect_pending();
    assert_eq!(first.poll(), None);
    assert_eq!(fixture.allocated(file), 2, "a waiting ALLOC holds no frame");

    assert_eq!(fixture.free(file, b).status, STATUS_SUCCESS);
    let done = first.wait(WAIT).expect("the oldest waiter is served first");
    assert_eq!((done.status, done.information), (STATUS_SUCCESS, 8));
    assert_eq!(
        usize::from_ne_bytes(first.output().unwrap()[..8].try_into().unwrap()),
        b
    );
    assert_eq!(second.poll(), None);
    assert_eq!(fixture.allocated(file), 2);

    assert_eq!(fixture.free(file, a).status, STATUS_SUCCESS);
    assert_eq!(second.wait(WAIT).map(|r| r.status), Some(STATUS_SUCCESS));
    assert_eq!(
        usize::from_ne_bytes(second.output().unwrap()[..8].try_into().unwrap()),
        a
    );

    assert_eq!(fixture.free(file, a).status, STATUS_SUCCESS);
    assert_eq!(fixture.free(file, b).status, STATUS_SUCCESS);
    assert_eq!(fixture.allocated(file), 0);
    assert_eq!(fixture.kernel.close(file), STATUS_SUCCESS);
    fixture.finish();
}

#[test]
fn foreign_and_double_frees_are_refused_and_change_nothing() {
    let fixture = Fixture::new();
    let file = fixture
        .create(&framing(3, 256, file_alignment::B32))
        .unwrap();
    let a = fixture.alloc(file).unwrap();
    let b = fixture.alloc(file).unwrap();
    let before = fixture.status(file);
    for foreign in [0usize, 1, a + 1, a.wrapping_sub(32), usize::MAX] {
        assert_eq!(
            fixture.free(file, foreign).status,
            STATUS_INVALID_PARAMETER,
            "{foreign:#x}"
        );
    }
    assert_eq!(fixture.status(file), before);
    assert_eq!(fixture.free(file, b).status, STATUS_SUCCESS);
    assert_eq!(
        fixture.free(file, b).status,
        STATUS_INVALID_PARAMETER,
        "a double free"
    );
    assert_eq!(fixture.allocated(file), 1);
    // The refused frees did not put anything on the free list twice: exactly 2 frames are free.
    let c = fixture.alloc(file).unwrap();
    let d = fixture.alloc(file).unwrap();
    assert_eq!(HashSet::from([a, c, d]).len(), 3);
    assert!(fixture.alloc_async(file).expect_pending().cancel());
    fixture.kernel.close(file);
    fixture.finish();
}

#[test]
fn cancelling_a_waiting_alloc_completes_it_and_frees_go_elsewhere() {
    let fixture = Fixture::new();
    let file = fixture.create(&framing(1, 64, 0)).unwrap();
    let frame = fixture.alloc(file).unwrap();
    let cancelled = fixture.alloc_async(file).expect_pending();
    let kept = fixture.alloc_async(file).expect_pending();
    assert!(cancelled.cancel(), "a waiting ALLOC has a cancel routine");
    assert_eq!(
        cancelled.wait(WAIT).map(|r| (r.status, r.information)),
        Some((STATUS_CANCELLED, 0))
    );
    assert!(
        !cancelled.cancel(),
        "a completed IRP has no cancel routine any more"
    );
    assert_eq!(fixture.free(file, frame).status, STATUS_SUCCESS);
    assert_eq!(
        kept.wait(WAIT).map(|r| r.status),
        Some(STATUS_SUCCESS),
        "the frame went to the next waiter"
    );
    assert_eq!(fixture.allocated(file), 1);
    fixture.kernel.close(file);
    fixture.finish();
}

#[test]
fn close_waits_for_the_waiting_allocs_then_gives_back_outstanding_frames() {
    let fixture = Fixture::new();
    let file = fixture
        .create(&framing(2, 1 << 16, file_alignment::B512))
        .unwrap();
    let _a = fixture.alloc(file).unwrap();
    let _b = fixture.alloc(file).unwrap();
    let waiting: Vec<_> = (0..3)
        .map(|_| fixture.alloc_async(file).expect_pending())
        .collect();
    assert!(fixture.kernel.pool().outstanding_bytes() >= 2 << 16);
    // Closing the handle sends IRP_MJ_CLEANUP (which KS does not act on); the allocator's
    // IRP_MJ_CLOSE waits for the requests in flight.
    assert_eq!(fixture.kernel.close(file), STATUS_SUCCESS);
    for irp in &waiting {
        assert_eq!(irp.poll(), None, "still waiting for a frame");
    }
    assert!(fixture.kernel.pool().outstanding_bytes() >= 2 << 16);
    // Cancelled (CancelIoEx, or the process dying), they complete; the CLOSE follows the last.
    for irp in &waiting {
        assert!(irp.cancel());
        assert_eq!(irp.poll().map(|r| r.status), Some(STATUS_CANCELLED));
    }
    // Frames still outstanding went back with the allocator: nothing is left in the pool.
    fixture.kernel.pool().assert_no_leaks();
    fixture.finish();
}

#[test]
fn a_dying_client_leaves_no_allocator_behind() {
    let fixture = Fixture::new();
    let file = fixture
        .create(&framing(2, 1 << 16, file_alignment::B512))
        .unwrap();
    let _a = fixture.alloc(file).unwrap();
    let _b = fixture.alloc(file).unwrap();
    let waiting = fixture.alloc_async(file).expect_pending();
    fixture.kernel.kill_client();
    assert_eq!(
        waiting.poll().map(|r| r.status),
        Some(STATUS_CANCELLED),
        "cancelled with the client"
    );
    assert_eq!(fixture.kernel.open_files(), 0);
    fixture.kernel.pool().assert_no_leaks();
    drop(waiting);
    fixture.finish();
}

#[test]
fn method_requests_check_their_buffers_and_ids() {
    let fixture = Fixture::new();
    let file = fixture.create(&framing(1, 64, 0)).unwrap();
    let alloc = identifier(
        KSMETHODSETID_StreamAllocator,
        KSMETHOD_STREAMALLOCATOR_ALLOC,
        KSMETHOD_TYPE_WRITE,
    );
    let short = fixture
        .kernel
        .ioctl(file, IOCTL_KS_METHOD, &alloc, &mut [0u8; 7]);
    assert_eq!(
        (short.status, short.information),
        (STATUS_BUFFER_TOO_SMALL, 8)
    );
    assert_eq!(fixture.allocated(file), 0, "a refused ALLOC takes no frame");
    let free = identifier(
        KSMETHODSETID_StreamAllocator,
        KSMETHOD_STREAMALLOCATOR_FREE,
        KSMETHOD_TYPE_READ,
    );
    assert_eq!(
        fixture
            .kernel
            .ioctl(file, IOCTL_KS_METHOD, &free, &mut [])
            .status,
        STATUS_BUFFER_TOO_SMALL
    );
    assert_eq!(
        fixture
            .kernel
            .ioctl(file, IOCTL_KS_METHOD, &alloc[..23], &mut [0u8; 8])
            .status,
        STATUS_INVALID_PARAMETER
    );
    let unknown = identifier(KSMETHODSETID_StreamAllocator, 2, KSMETHOD_TYPE_NONE);
    assert_eq!(
        fixture
            .kernel
            .ioctl(file, IOCTL_KS_METHOD, &unknown, &mut [0u8; 8])
            .status,
        STATUS_NOT_FOUND
    );
    let other_set = identifier(KSPROPSETID_StreamAllocator, 0, KSMETHOD_TYPE_NONE);
    assert_eq!(
        fixture
            .kernel
            .ioctl(file, IOCTL_KS_METHOD, &other_set, &mut [0u8; 8])
            .status,
        STATUS_PROPSET_NOT_FOUND
    );
    let bad_type = identifier(KSMETHODSETID_StreamAllocator, 0, 0x80);
    assert_eq!(
        fixture
            .kernel
            .ioctl(file, IOCTL_KS_METHOD, &bad_type, &mut [0u8; 8])
            .status,
        STATUS_NOT_SUPPORTED
    );

    let support = identifier(
        KSMETHODSETID_StreamAllocator,
        KSMETHOD_STREAMALLOCATOR_FREE,
        KSMETHOD_TYPE_BASICSUPPORT,
    );
    let mut flags = [0u8; 4];
    let result = fixture
        .kernel
        .ioctl(file, IOCTL_KS_METHOD, &support, &mut flags);
    assert_eq!(
        (result.status, result.information, u32::from_le_bytes(flags)),
        (STATUS_SUCCESS, 4, KSMETHOD_TYPE_READ)
    );
    let set_support = identifier(KSMETHODSETID_StreamAllocator, 99, KSMETHOD_TYPE_SETSUPPORT);
    assert_eq!(
        fixture
            .kernel
            .ioctl(file, IOCTL_KS_METHOD, &set_support, &mut [])
            .status,
        STATUS_SUCCESS
    );
    assert_eq!(fixture.allocated(file), 0);
    assert_eq!(
        fixture
            .kernel
            .ioctl(file, IOCTL_KS_READ_STREAM, &[], &mut [])
            .status,
        STATUS_INVALID_DEVICE_REQUEST
    );
    fixture.kernel.close(file);
    fixture.finish();
}

#[test]
fn the_function_table_allocates_frees_and_serves_waiting_allocs() {
    let fixture = Fixture::new();
    let file = fixture
        .create(&framing(2, 128, file_alignment::OCTA))
        .unwrap();
    let (allocate, free) = fixture.function_table(file);
    let object = fixture.kernel.file_object(file);
    let _entered = fixture.kernel.enter();
    let mut frames = [std::ptr::null_mut::<c_void>(); 3];
    let statuses: Vec<_> = frames
        .iter_mut()
        .map(|f| {
            // SAFETY: `object` is the live allocator's file object; `f` is writable.
            unsafe { allocate(object, f) }
        })
        .collect();
    assert_eq!(
        statuses,
        [
            STATUS_SUCCESS,
            STATUS_SUCCESS,
            STATUS_INSUFFICIENT_RESOURCES
        ]
    );
    assert!(frames[2].is_null(), "a failed AllocateFrame returns NULL");
    assert_ne!(frames[0], frames[1]);
    // SAFETY: as above; NULL output pointers are refused without taking a frame.
    let null_out = unsafe { allocate(object, std::ptr::null_mut()) };
    assert_eq!(null_out, STATUS_INVALID_PARAMETER);
    drop(_entered);

    let waiting = fixture.alloc_async(file).expect_pending();
    let _entered = fixture.kernel.enter();
    // SAFETY: as above; a foreign pointer changes nothing.
    unsafe { free(object, 0x1234 as *mut c_void) };
    assert_eq!(waiting.poll(), None);
    // SAFETY: as above.
    unsafe { free(object, frames[1]) };
    drop(_entered);
    assert_eq!(waiting.wait(WAIT).map(|r| r.status), Some(STATUS_SUCCESS));
    assert_eq!(
        waiting.output().unwrap()[..8],
        (frames[1] as usize).to_ne_bytes()
    );
    assert_eq!(fixture.allocated(file), 2);
    fixture.kernel.close(file);
    fixture.finish();
}
