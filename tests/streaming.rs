//! Streaming end to end through the emulation and the client, on the virtual clock: exact
//! timestamps, drop accounting, and what the frames contain.

mod common;

use avcam::frame_pool::{LEASE_WINDOW, POOL_FRAMES};
use avcam_avstream::rate::FrameRate;
use avcam_avstream::PixelFormat;
use common::*;
use ks::video::{KSSTREAM_HEADER_OPTIONSF_DURATIONVALID, KSSTREAM_HEADER_OPTIONSF_TIMEVALID};

/// 30 fps presentation time of frame `n`, computed here: floor(n * 10^7 / 30).
fn pts_30(n: u64) -> i64 {
    (u128::from(n) * 10_000_000 / 30) as i64
}

#[test]
fn thirty_fps_for_a_hundred_frames_has_exact_timestamps() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = qvga(PixelFormat::Nv12);
    let image = format.image_size() as usize;
    let pin = running_pin(&camera, &format);
    let epoch = kernel.clock().now_100ns();
    for n in 0..100u64 {
        let read = pin.read(image);
        // Frame n is due at epoch + pts(n); the first timer fires 100 ns after RUN.
        advance_to(&kernel, epoch + pts_30(n) + 1);
        let frame = read.wait(WAIT).expect("frame delivered");
        assert_eq!(frame.header.PresentationTime.Time, pts_30(n), "frame {n}");
        assert_eq!(frame.header.Duration, pts_30(n + 1) - pts_30(n));
        let flags = KSSTREAM_HEADER_OPTIONSF_TIMEVALID | KSSTREAM_HEADER_OPTIONSF_DURATIONVALID;
        assert_eq!(frame.header.OptionsFlags & flags, flags);
        assert_eq!(frame.info.PictureNumber, n as i64 + 1);
        assert_eq!(frame.info.DropCount, 0);
        assert_eq!(frame.data.len(), image);
    }
    let dropped = pin.dropped_frames().expect("DROPPEDFRAMES");
    assert_eq!(dropped.picture_number, 100);
    assert_eq!(dropped.drop_count, 0);
    assert_eq!(dropped.average_frame_size as usize, image);
    // The rate the clock used is the one the format asked for.
    assert_eq!(FrameRate::from_interval(333_333), FrameRate::new(30, 1));
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn a_starved_client_sees_drop_count_grow_by_exactly_the_missed_frames() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = qvga(PixelFormat::Yuy2);
    let image = format.image_size() as usize;
    let pin = running_pin(&camera, &format);
    let epoch = kernel.clock().now_100ns();
    // Frame 0 delivered on time.
    let read = pin.read(image);
    advance_to(&kernel, epoch + 1);
    let first = read.wait(WAIT).unwrap();
    assert_eq!((first.info.PictureNumber, first.info.DropCount), (1, 0));
    // No buffer for frames 1..=7: they are dropped. The buffer queued while frame 7 is due
    // gets frame 7 (the newest), so 6 missed.
    advance_to(&kernel, epoch + pts_30(7) + 1);
    let counters = pin.dropped_frames().unwrap();
    assert_eq!((counters.picture_number, counters.drop_count), (8, 7));
    let late = pin.read(image).wait(WAIT).unwrap();
    assert_eq!(late.header.PresentationTime.Time, pts_30(7));
    assert_eq!((late.info.PictureNumber, late.info.DropCount), (8, 6));
    // Then on time again: the count stays.
    let read = pin.read(image);
    advance_to(&kernel, epoch + pts_30(8) + 1);
    let next = read.wait(WAIT).unwrap();
    assert_eq!((next.info.PictureNumber, next.info.DropCount), (9, 6));
    let counters = pin.dropped_frames().unwrap();
    assert_eq!((counters.picture_number, counters.drop_count), (9, 6));
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

/// The pin's pool report (white box: the KSPIN behind the client's file).
fn pool_report(
    kernel: &avcam_emulation::Kernel,
    pin: &avcam_client::Pin<'_>,
) -> Option<avcam::capture_pin::PoolReport> {
    let _entered = kernel.enter();
    // SAFETY: the pin's file object is live while the client has it open.
    let ks_pin = unsafe { avcam_kernel::KsGetObjectFromFileObject(kernel.file_object(pin.file())) };
    // SAFETY: a live KSPIN of avcam; the test thread is at PASSIVE_LEVEL.
    unsafe { avcam::capture_pin::pool_report(ks_pin.cast()) }
}

/// KSPROPERTY_STREAMALLOCATOR_STATUS asked of the pin's allocator.
fn allocator_status(
    kernel: &avcam_emulation::Kernel,
    allocator: *mut ks::nt::FILE_OBJECT,
) -> ks::ks::KSSTREAMALLOCATOR_STATUS {
    let _entered = kernel.enter();
    let mut request = ks::ks::KSIDENTIFIER {
        Set: ks::guid::KSPROPSETID_StreamAllocator,
        Id: ks::ks::KSPROPERTY_STREAMALLOCATOR_STATUS,
        Flags: ks::ks::KSPROPERTY_TYPE_GET,
    };
    let mut status = ks::ks::KSSTREAMALLOCATOR_STATUS::default();
    let mut returned = 0u32;
    // SAFETY: a live allocator file object; both buffers live for their sizes.
    let result = unsafe {
        avcam_kernel::KsSynchronousIoControlDevice(
            allocator,
            ks::nt::KernelMode,
            ks::ks::IOCTL_KS_PROPERTY,
            (&raw mut request).cast(),
            std::mem::size_of_val(&request) as u32,
            (&raw mut status).cast(),
            std::mem::size_of_val(&status) as u32,
            &mut returned,
        )
    };
    assert_eq!(result, ks::status::STATUS_SUCCESS);
    status
}

#[test]
fn every_delivered_frame_was_rendered_in_a_frame_of_our_allocator() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = qvga(PixelFormat::Rgb32);
    let image = format.image_size() as usize;
    let pin = running_pin(&camera, &format);
    let report = pool_report(&kernel, &pin).expect("a running pin has its pool");
    assert!(!report.allocator_file.is_null());
    assert_eq!(report.frames_allocated, 0);
    let status = allocator_status(&kernel, report.allocator_file);
    assert_eq!(status.Framing.FrameSize as usize, image);
    assert_eq!(status.Framing.Frames, POOL_FRAMES);
    let epoch = kernel.clock().now_100ns();
    let mut frames_seen = std::collections::HashSet::new();
    for n in 0..10u64 {
        let read = pin.read(image);
        advance_to(&kernel, epoch + pts_30(n) + 1);
        let frame = read.wait(WAIT).unwrap();
        assert_eq!(frame.data.len(), image);
        let report = pool_report(&kernel, &pin).unwrap();
        // One allocator frame per delivered frame, returned right after the copy.
        assert_eq!(report.frames_allocated, n + 1);
        assert_eq!(
            allocator_status(&kernel, report.allocator_file).AllocatedFrames,
            0
        );
        frames_seen.insert(report.last_frame);
    }
    // The allocator recycles its frames: a bounded set of addresses, never more than the pool.
    assert!(frames_seen.len() <= POOL_FRAMES as usize);
    // STOP releases the pool.
    pin.set_state(ks::avstream::KSSTATE_STOP).unwrap();
    assert!(pool_report(&kernel, &pin).is_none());
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn shared_mode_lends_the_allocator_frames_themselves_without_a_copy() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = qvga(PixelFormat::Nv12);
    let image = format.image_size();
    let pin = running_pin(&camera, &format);
    let allocator = pool_report(&kernel, &pin).unwrap().allocator_file;
    let epoch = kernel.clock().now_100ns();
    let mut addresses = std::collections::HashSet::new();
    for n in 0..12u64 {
        let read = pin.read_shared();
        advance_to(&kernel, epoch + pts_30(n) + 1);
        let frame = read.wait(WAIT).unwrap();
        let shared = frame.shared.expect("a lent frame");
        assert!(frame.data.is_empty(), "no copy into a client buffer");
        assert_eq!(frame.header.DataUsed, image);
        assert_eq!(frame.header.PresentationTime.Time, pts_30(n));
        assert_eq!(frame.info.PictureNumber, n as i64 + 1);
        // Pointer identity: the header's Data is the frame the allocator handed out last,
        // still out (lent) while the client has it, with the earlier ones in the lease window.
        let report = pool_report(&kernel, &pin).unwrap();
        assert_eq!(report.last_frame as u64, shared);
        assert_eq!(report.lent.newest().map(|p| p as u64), Some(shared));
        let lent = (n as usize + 1).min(LEASE_WINDOW);
        assert_eq!(report.lent.len(), lent);
        assert_eq!(
            allocator_status(&kernel, allocator).AllocatedFrames as usize,
            lent
        );
        addresses.insert(shared);
        // The lent bytes are the picture: row 120, x 11 of NV12 QVGA is in the white 75% bar.
        // SAFETY: the emulation shares the address space; the lease holds for this read.
        let luma = unsafe { std::slice::from_raw_parts(shared as *const u8, image as usize) };
        let mid = luma[120 * 320 + 11];
        assert_eq!(mid, 180, "white bar at 75%: 16 + 219 * 0.75 rounded");
    }
    // The allocator recycles: the lent frames come from its small pool.
    assert!(addresses.len() <= POOL_FRAMES as usize);
    // STOP ends the last lease: nothing left allocated, pool closed, nothing leaked.
    pin.set_state(ks::avstream::KSSTATE_STOP).unwrap();
    assert!(pool_report(&kernel, &pin).is_none());
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

/// The bytes of a lent frame (`image` bytes at `address`).
///
/// # Safety
/// `address` is a frame the pin lent and whose lease has not ended (or a pool frame still
/// allocated to the pin: the emulation shares the address space).
unsafe fn lent_bytes(address: u64, image: usize) -> Vec<u8> {
    // SAFETY: the caller's guarantee.
    unsafe { std::slice::from_raw_parts(address as *const u8, image) }.to_vec()
}

#[test]
fn frames_held_within_the_lease_window_stay_unchanged_while_the_pin_delivers() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = qvga(PixelFormat::Nv12);
    let image = format.image_size() as usize;
    let pin = running_pin(&camera, &format);
    let allocator = pool_report(&kernel, &pin).unwrap().allocator_file;
    let epoch = kernel.clock().now_100ns();
    let calls_before = kernel.pool().allocation_calls();
    // The client keeps LEASE_WINDOW reads queued and holds every frame it received: each
    // (address, bytes when delivered), oldest first.
    let mut held: std::collections::VecDeque<(u64, Vec<u8>)> = Default::default();
    let mut reads: std::collections::VecDeque<_> =
        (0..LEASE_WINDOW).map(|_| pin.read_shared()).collect();
    let frames = 4 * POOL_FRAMES as u64;
    for n in 0..frames {
        advance_to(&kernel, epoch + pts_30(n) + 1);
        let frame = reads.pop_front().unwrap().wait(WAIT).unwrap();
        assert_eq!(frame.info.PictureNumber, n as i64 + 1);
        assert_eq!(frame.info.DropCount, 0, "the pin always had a read queued");
        let address = frame.shared.expect("a lent frame");
        // SAFETY: just lent.
        let bytes = unsafe { lent_bytes(address, image) };
        if let Some((_, previous)) = held.back() {
            assert_ne!(&bytes, previous, "each frame is a new picture");
        }
        held.push_back((address, bytes));
        // Every frame held within the window is still byte for byte what was delivered.
        if held.len() > LEASE_WINDOW {
            // Beyond the window: the oldest lease ended when this frame was lent.
            let (ended, _) = held.pop_front().unwrap();
            let report = pool_report(&kernel, &pin).unwrap();
            assert!(
                !report.lent.frames().contains(&(ended as *mut u8)),
                "the lease of a frame {LEASE_WINDOW} frames old has ended"
            );
        }
        for (address, bytes) in &held {
            // SAFETY: within the lease window.
            let now = unsafe { lent_bytes(*address, image) };
            assert!(now == *bytes, "frame {n}: a held frame changed");
        }
        let report = pool_report(&kernel, &pin).unwrap();
        assert_eq!(report.lent.len(), held.len());
        assert_eq!(
            allocator_status(&kernel, allocator).AllocatedFrames as usize,
            held.len()
        );
        reads.push_back(pin.read_shared());
    }
    // The pool recycles its frames: a frame whose lease ended is rendered into again, so its
    // bytes are those of a later picture (the documented behaviour beyond the window).
    let addresses: std::collections::HashSet<u64> = held.iter().map(|(a, _)| *a).collect();
    assert_eq!(
        addresses.len(),
        LEASE_WINDOW,
        "distinct frames within the window"
    );
    // No pool allocation per frame: the frames all came from the pool made at ACQUIRE.
    assert_eq!(kernel.pool().allocation_calls(), calls_before);
    drop(reads);
    pin.set_state(ks::avstream::KSSTATE_STOP).unwrap();
    assert!(pool_report(&kernel, &pin).is_none());
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn a_frame_beyond_the_lease_window_is_rendered_into_again() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = qvga(PixelFormat::Nv12);
    let image = format.image_size() as usize;
    let pin = running_pin(&camera, &format);
    let epoch = kernel.clock().now_100ns();
    let mut delivered = Vec::new();
    // One read at a time; frame 0 is kept (address and bytes) while LEASE_WINDOW + 1 more come.
    for n in 0..=(LEASE_WINDOW as u64 + 1) {
        let read = pin.read_shared();
        advance_to(&kernel, epoch + pts_30(n) + 1);
        let frame = read.wait(WAIT).unwrap();
        let address = frame.shared.unwrap();
        // SAFETY: just lent.
        delivered.push((address, unsafe { lent_bytes(address, image) }));
    }
    let (first, first_bytes) = &delivered[0];
    // Frame K ended frame 0's lease; frame K + 1 was rendered into the only free pool frame,
    // frame 0's.
    let (last, last_bytes) = &delivered[LEASE_WINDOW + 1];
    assert_eq!(first, last, "the pool frame came back after the window");
    assert_ne!(first_bytes, last_bytes, "and holds a later picture now");
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn on_the_virtual_clock_a_due_frame_is_delivered_before_advance_returns() {
    // The frame timer's DPC asks for processing asynchronously; the emulation runs it right
    // after the DPC on the advancing thread (as ks.sys's work item would run after the DPC),
    // not on a new thread per frame, so the read is complete when `advance` returns.
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = qvga(PixelFormat::Nv12);
    let pin = running_pin(&camera, &format);
    let epoch = kernel.clock().now_100ns();
    for n in 0..6u64 {
        let headers = avcam_client::request::read_headers(&mut []);
        let read = kernel.read_stream(pin.file(), &headers).expect_pending();
        // Frame 0 is due at RUN: the read itself gets it. Later ones wait for their timer.
        assert_eq!(read.poll().is_none(), n > 0, "frame {n}");
        advance_to(&kernel, epoch + pts_30(n) + 1);
        let result = read.poll().expect("delivered inside advance");
        assert_eq!(result.status, ks::status::STATUS_SUCCESS);
    }
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}
