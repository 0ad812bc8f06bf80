//! Bad requests to the camera, each refused with its NTSTATUS and nothing leaked (the
//! emulation's pool, handle and file tracking is checked at the end of every test).

mod common;

use avcam_avstream::PixelFormat;
use avcam_client::{request, ClientError, Status};
use common::*;
use ks::avstream::{KSSTATE_PAUSE, KSSTATE_RUN, KSSTATE_STOP};
use ks::ks::{
    IOCTL_KS_PROPERTY, KSALLOCATOR_FRAMING, KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY,
    KSPROPERTY_TYPE_GET,
};
use ks::status::*;
use ks::video::{
    KSPROPERTY_DROPPEDFRAMES_CURRENT, KSPROPERTY_DROPPEDFRAMES_CURRENT_S,
    PROPSETID_VIDCAP_DROPPEDFRAMES,
};
use ks::GUID;
use zerocopy::{FromBytes, IntoBytes};

fn status_of<T>(result: Result<T, ClientError>) -> NTSTATUS {
    match result {
        Ok(_) => STATUS_SUCCESS,
        Err(error) => error.status().expect("an NTSTATUS"),
    }
}

fn finish(kernel: avcam_emulation::Kernel) {
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn malformed_pin_connects_are_refused() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = negotiate(&camera, &qvga(PixelFormat::Nv12));
    let connect = request::pin_connect(0, &format);
    // Truncated inside the KSPIN_CONNECT, and inside the format.
    assert_eq!(
        status_of(camera.create_pin_raw(&connect[..40])),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        status_of(camera.create_pin_raw(&connect[..connect.len() - 8])),
        STATUS_INVALID_PARAMETER
    );
    // A pin id the filter does not have.
    assert_eq!(
        status_of(camera.create_pin(1, &format)),
        STATUS_INVALID_PARAMETER
    );
    // A format our SetDataFormat refuses: biSizeImage wrong (offset 48 + 72 + 20 in the
    // KS_DATAFORMAT_VIDEOINFOHEADER: KSDATAFORMAT, then rects/rates/time, then biSizeImage).
    let mut bad = format.clone();
    let bi_size_image = 64 + 48 + 20;
    bad[bi_size_image..bi_size_image + 4].copy_from_slice(&12345u32.to_le_bytes());
    assert_eq!(
        status_of(camera.create_pin(0, &bad)),
        STATUS_INVALID_PARAMETER
    );
    // Odd width for 4:2:0 (biWidth at 64 + 48 + 4), and a zero AvgTimePerFrame (at 64 + 40).
    let mut odd = format.clone();
    odd[116..120].copy_from_slice(&321i32.to_le_bytes());
    assert_eq!(status_of(camera.create_pin(0, &odd)), STATUS_NO_MATCH);
    let mut zero = format.clone();
    zero[104..112].copy_from_slice(&0i64.to_le_bytes());
    assert_eq!(
        status_of(camera.create_pin(0, &zero)),
        STATUS_INVALID_PARAMETER
    );
    // The failures left no instance behind: a good pin is still possible.
    let pin = camera.create_pin(0, &format).expect("a good pin");
    pin.close().unwrap();
    camera.close().unwrap();
    finish(kernel);
}

#[test]
fn a_second_pin_beyond_instances_possible_is_refused() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = negotiate(&camera, &qvga(PixelFormat::Nv12));
    let first = camera.create_pin(0, &format).unwrap();
    assert_eq!(
        status_of(camera.create_pin(0, &format)),
        STATUS_TOO_MANY_NODES
    );
    first.close().unwrap();
    let again = camera
        .create_pin(0, &format)
        .expect("the instance is free again");
    again.close().unwrap();
    camera.close().unwrap();
    finish(kernel);
}

#[test]
fn unknown_property_sets_and_short_buffers_are_refused() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = negotiate(&camera, &qvga(PixelFormat::Nv12));
    let pin = camera.create_pin(0, &format).unwrap();
    let unknown = request::property(
        GUID::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0),
        0,
        KSPROPERTY_TYPE_GET,
    );
    let mut out = [0u8; 64];
    let result = kernel.ioctl(pin.file(), IOCTL_KS_PROPERTY, &unknown, &mut out);
    assert_eq!(result.status, STATUS_PROPSET_NOT_FOUND);
    let dropped = request::property(
        PROPSETID_VIDCAP_DROPPEDFRAMES,
        KSPROPERTY_DROPPEDFRAMES_CURRENT,
        KSPROPERTY_TYPE_GET,
    );
    let full = std::mem::size_of::<KSPROPERTY_DROPPEDFRAMES_CURRENT_S>();
    let size = kernel.ioctl(pin.file(), IOCTL_KS_PROPERTY, &dropped, &mut []);
    assert_eq!(
        (size.status, size.information),
        (STATUS_BUFFER_OVERFLOW, full)
    );
    let mut short = vec![0u8; full - 8];
    let result = kernel.ioctl(pin.file(), IOCTL_KS_PROPERTY, &dropped, &mut short);
    assert_eq!(result.status, STATUS_BUFFER_TOO_SMALL);
    // A request shorter than a KSPROPERTY.
    let result = kernel.ioctl(pin.file(), IOCTL_KS_PROPERTY, &dropped[..8], &mut out);
    assert_ne!(result.status, STATUS_SUCCESS);
    // An intersection with a range that is not video.
    let audio = ks::video::KSDATAFORMAT {
        FormatSize: 64,
        MajorFormat: GUID::from_u128(0x73647561_0000_0010_8000_00AA00389B71),
        ..Default::default()
    };
    assert_eq!(
        status_of(camera.intersect(0, audio.as_bytes())),
        STATUS_NO_MATCH
    );
    pin.close().unwrap();
    camera.close().unwrap();
    finish(kernel);
}

/// Moves the virtual clock a frame period at a time (four at most) until `read` is done.
fn advance_until_done(
    kernel: &avcam_emulation::Kernel,
    read: &avcam_client::PendingRead<avcam_emulation::Kernel>,
    period_ns: u64,
) {
    for _ in 0..4 {
        if read.is_done() {
            return;
        }
        kernel.clock().advance(period_ns);
    }
}

#[test]
fn unknown_states_reads_queued_while_stopped_and_close_while_running() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = qvga(PixelFormat::Nv12);
    let bytes = negotiate(&camera, &format);
    let pin = camera.create_pin(0, &bytes).unwrap();
    let period_ns = 333_333 * 100;
    // Not a KSSTATE.
    assert_eq!(status_of(pin.set_state(7)), STATUS_INVALID_PARAMETER);
    assert_eq!(pin.state().unwrap(), KSSTATE_STOP);
    // A read while stopped is queued, not refused (ks.sys queues reads in any state); the pin
    // fills it once it runs.
    let early = pin.read(format.image_size() as usize);
    assert!(!early.is_done(), "queued while stopped");
    // A jump STOP -> RUN is stepped through ACQUIRE and PAUSE by ks.sys.
    pin.set_state(KSSTATE_RUN).unwrap();
    assert_eq!(pin.state().unwrap(), KSSTATE_RUN);
    advance_until_done(&kernel, &early, period_ns);
    early
        .wait(WAIT)
        .expect("the read queued while stopped gets a frame");
    pin.set_state(KSSTATE_PAUSE).unwrap();
    pin.set_state(KSSTATE_RUN).unwrap();
    // Resuming makes the next frame due at once: the first read gets it.
    pin.read(format.image_size() as usize)
        .wait(WAIT)
        .expect("the resumed frame");
    // Close while running with a read queued: closing the handle sends IRP_MJ_CLEANUP, which
    // KS does not act on, so the read stays queued and the pin keeps running; the next frame
    // completes it, and the pin's IRP_MJ_CLOSE (whose Close dispatch must stop the frame timer
    // itself: ks.sys does not step the pin down to STOP) follows the last reference.
    let queued = pin.read(format.image_size() as usize);
    assert!(!queued.is_done());
    pin.close().unwrap();
    assert!(
        !queued.is_done(),
        "closing the handle does not cancel a read"
    );
    advance_until_done(&kernel, &queued, period_ns);
    queued.wait(WAIT).expect("a frame due after the close");
    assert_eq!(
        kernel.clock().armed_timers(),
        0,
        "the frame timer is cancelled by the pin's Close"
    );
    camera.close().unwrap();
    finish(kernel);
}

#[test]
fn a_client_dying_while_streaming_leaves_nothing_behind() {
    // The process dies: its reads are cancelled, then its handles closed (pin, filter), in
    // whatever state the pin is. Everything must go: no handle of the driver's own may keep the
    // pin (and its frames and timer) alive.
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = qvga(PixelFormat::Nv12);
    let pin = running_pin(&camera, &format);
    let reads: Vec<_> = (0..3)
        .map(|_| pin.read(format.image_size() as usize))
        .collect();
    kernel.kill_client();
    for read in reads {
        let (status, _) = read.cancel(WAIT);
        let status = status.expect("every read completed");
        assert!(
            matches!(status, Status::Nt(STATUS_CANCELLED | STATUS_SUCCESS)),
            "{status:?}"
        );
    }
    assert_eq!(kernel.open_files(), 0);
    assert_eq!(kernel.clock().armed_timers(), 0, "the frame timer is gone");
    // The handles are closed already: closing them again is refused.
    assert!(pin.close().is_err());
    assert!(camera.close().is_err());
    finish(kernel);
}

#[test]
fn a_client_creates_our_allocator_on_the_pin_and_uses_it() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = qvga(PixelFormat::Nv12);
    let pin = camera.create_pin(0, &negotiate(&camera, &format)).unwrap();
    // The pin's framing requirements: narrowed to the format's image size, preferences only
    // (as avshws declares its own), which an allocator create request may not carry.
    let framing = pin.allocator_framing_ex().unwrap();
    let (framing, _) = ks::ks::KSALLOCATOR_FRAMING_EX::read_from_prefix(&framing).unwrap();
    let item = framing.FramingItem[0];
    assert!(item.Frames >= 2);
    assert_ne!(item.Flags & KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY, 0);
    let range = item.FramingRange.Range;
    assert_eq!(
        (range.MinFrameSize, range.MaxFrameSize),
        (format.image_size(), format.image_size())
    );
    // Taken literally, that framing is refused; the consumer strips the flag.
    let literal = KSALLOCATOR_FRAMING {
        Flags: item.Flags,
        PoolType: 0,
        Frames: item.Frames,
        FrameSize: format.image_size(),
        FileAlignment: 0,
        Reserved: 0,
    };
    assert_eq!(
        status_of(pin.create_allocator(&literal)),
        STATUS_INVALID_PARAMETER
    );
    let allocator = pin.create_frame_allocator().unwrap();
    let status = allocator.status().unwrap();
    assert_eq!(
        (
            status.Framing.Frames,
            status.Framing.FrameSize,
            status.AllocatedFrames
        ),
        (item.Frames, format.image_size(), 0)
    );
    let a = allocator.allocate().unwrap();
    let b = allocator.allocate().unwrap();
    assert_ne!(a, b);
    assert_eq!(allocator.status().unwrap().AllocatedFrames, 2);
    allocator.free(a).unwrap();
    // A second free of the same frame, and a frame it never handed out, are refused and change
    // nothing.
    assert!(allocator.free(a).is_err());
    assert!(allocator.free(a + 16).is_err());
    assert_eq!(allocator.status().unwrap().AllocatedFrames, 1);
    allocator.free(b).unwrap();
    assert_eq!(allocator.status().unwrap().AllocatedFrames, 0);
    allocator.close().unwrap();
    // Frames smaller than the pin's image: the pin's InitializeAllocator refuses them.
    let small = KSALLOCATOR_FRAMING {
        FrameSize: format.image_size() - 1,
        Flags: 0,
        ..literal
    };
    assert_eq!(
        status_of(pin.create_allocator(&small)),
        STATUS_BUFFER_TOO_SMALL
    );
    // A malformed framing is refused by the allocator's validation.
    let zero = KSALLOCATOR_FRAMING {
        Frames: 0,
        FrameSize: 0,
        Flags: 0,
        ..literal
    };
    assert!(pin.create_allocator(&zero).is_err());
    pin.close().unwrap();
    camera.close().unwrap();
    finish(kernel);
}

#[test]
fn pool_failures_while_acquiring_fail_the_step_and_leak_nothing() {
    // Count the pool calls STOP -> ACQUIRE makes (the allocator object, its frames, IRPs...).
    let calls = {
        let kernel = kernel();
        let camera = camera(&kernel);
        let pin = camera
            .create_pin(0, &negotiate(&camera, &qvga(PixelFormat::Nv12)))
            .unwrap();
        let before = kernel.pool().allocation_calls();
        pin.set_state(ks::avstream::KSSTATE_ACQUIRE).unwrap();
        let calls = kernel.pool().allocation_calls() - before;
        pin.close().unwrap();
        camera.close().unwrap();
        finish(kernel);
        calls
    };
    assert!(calls > 0, "the pool comes from the kernel pool");
    for n in 1..=calls {
        let kernel = kernel();
        let camera = camera(&kernel);
        let pin = camera
            .create_pin(0, &negotiate(&camera, &qvga(PixelFormat::Nv12)))
            .unwrap();
        kernel.pool().fail_nth_allocation(n);
        let result = pin.set_state(ks::avstream::KSSTATE_ACQUIRE);
        kernel.pool().fail_nth_allocation(0);
        if kernel.pool().injected_failures() > 0 {
            assert!(result.is_err(), "failure {n} of {calls} reported");
            assert_eq!(pin.state().unwrap(), KSSTATE_STOP);
        }
        // Whatever happened, the pin can still stream and closes clean.
        pin.set_state(KSSTATE_RUN).unwrap();
        pin.close().unwrap();
        camera.close().unwrap();
        finish(kernel);
    }
}

#[test]
fn the_pin_state_lives_in_the_tracked_pool_and_pool_failures_at_create_leak_nothing() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = negotiate(&camera, &qvga(PixelFormat::Nv12));
    let before = kernel.pool().outstanding_bytes();
    let calls_before = kernel.pool().allocation_calls();
    let pin = camera.create_pin(0, &format).unwrap();
    let calls = kernel.pool().allocation_calls() - calls_before;
    assert!(
        kernel.pool().outstanding_bytes() > before,
        "CapturePin is in the pool"
    );
    pin.set_state(KSSTATE_RUN).unwrap();
    pin.close().unwrap();
    assert_eq!(kernel.pool().outstanding_bytes(), before);
    for n in 1..=calls {
        kernel.pool().fail_nth_allocation(n);
        let result = camera.create_pin(0, &format);
        kernel.pool().fail_nth_allocation(0);
        if let Ok(pin) = result {
            pin.close().unwrap();
        } else {
            assert_ne!(status_of(result), STATUS_SUCCESS);
        }
        assert_eq!(kernel.pool().outstanding_bytes(), before, "failure {n}");
    }
    camera.close().unwrap();
    finish(kernel);
}
