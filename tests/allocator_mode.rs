//! Allocator mode end to end, as a kernel-mode consumer uses the camera: it creates an allocator
//! on the pin (ks.sys serves the create with avcam's `KsCreateDefaultAllocatorEx` and the pin's
//! `KSALLOCATOR_DISPATCH`), takes frames from it, queues them as the reads' buffers, and gives
//! them back after use. The pin renders into the very frames; nothing leaks.

mod common;

use std::collections::HashSet;

use avcam_avstream::PixelFormat;
use avcam_emulation::Tag;
use common::*;
use ks::avstream::KSSTATE_STOP;

/// The allocator frames' pool tag (`avcf`): the pin's frame store allocates them.
fn frame_tag() -> Tag {
    Tag(avcam::identity::FRAME_POOL_TAG)
}

fn frames_in_pool(kernel: &avcam_emulation::Kernel) -> usize {
    kernel
        .pool()
        .outstanding()
        .iter()
        .filter(|block| block.tag == frame_tag())
        .count()
}

#[test]
fn frames_from_the_pins_allocator_are_rendered_into_and_given_back() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = qvga(PixelFormat::Nv12);
    let image = format.image_size();
    let pin = running_pin(&camera, &format);
    let allocator = pin
        .create_frame_allocator()
        .expect("a kernel-mode consumer's allocator");
    let frames = allocator.framing().Frames as usize;
    assert_eq!(allocator.framing().FrameSize, image);
    // The pin's frame store gave the allocator every frame at create.
    assert_eq!(frames_in_pool(&kernel), frames);
    let epoch = kernel.clock().now_100ns();
    let mut addresses = HashSet::new();
    let mut reads: std::collections::VecDeque<_> = (0..frames - 1)
        .map(|_| pin.read_into_frame(allocator.take_frame().unwrap()))
        .collect();
    assert_eq!(
        allocator.status().unwrap().AllocatedFrames as usize,
        frames - 1
    );
    for n in 0..12u64 {
        advance_to(&kernel, epoch + (n as i64 * 10_000_000) / 30 + 1);
        let frame = reads.pop_front().unwrap().wait(WAIT).expect("a frame");
        assert!(frame.data.is_empty(), "no copy into a client buffer");
        assert_eq!(frame.header.DataUsed, image);
        assert_eq!(frame.info.PictureNumber, n as i64 + 1);
        assert_eq!(frame.info.DropCount, 0);
        let buffer = frame.frame.expect("the allocator frame comes back");
        // The read's header still names the consumer's frame: the pin wrote no address.
        assert_eq!(frame.header.Data, buffer.address());
        addresses.insert(buffer.address());
        // The picture is in the allocator frame itself: row 120, x 11 of NV12 QVGA is in the
        // white 75% bar.
        let bytes = allocator
            .frame_bytes(&buffer, frame.header.DataUsed as usize)
            .expect("a frame of this allocator");
        assert_eq!(bytes[120 * 320 + 11], 180, "16 + 219 * 0.75, rounded");
        // Used: give it back, take one (maybe the same) for the next read.
        allocator.give_back(buffer).unwrap();
        reads.push_back(pin.read_into_frame(allocator.take_frame().unwrap()));
    }
    // The consumer cycles through the allocator's frames, never more.
    assert!(addresses.len() <= frames, "{addresses:?}");
    // STOP cancels the queued reads; their frames come back to the consumer, who gives them
    // back; closing the allocator then frees every frame through the pin's frame store.
    pin.set_state(KSSTATE_STOP).unwrap();
    for read in reads {
        let (status, frame) = read.cancel(WAIT);
        assert_eq!(
            status,
            Some(avcam_client::Status::Nt(ks::status::STATUS_CANCELLED))
        );
        allocator
            .give_back(frame.expect("the frame of a cancelled read"))
            .unwrap();
    }
    assert_eq!(allocator.status().unwrap().AllocatedFrames, 0);
    allocator.close().unwrap();
    assert_eq!(frames_in_pool(&kernel), 0);
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn the_allocator_outlives_its_pin_and_a_dying_consumer_leaves_nothing() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let format = qvga(PixelFormat::Yuy2);
    let pin = running_pin(&camera, &format);
    let allocator = pin.create_frame_allocator().unwrap();
    let read = pin.read_into_frame(allocator.take_frame().unwrap());
    advance_to(&kernel, kernel.clock().now_100ns() + 1);
    let frame = read.wait(WAIT).unwrap();
    // The pin closes first: its Close frees its own state; the allocator's frame store does not
    // depend on the pin, so the allocator and the frame the consumer holds stay usable.
    pin.close().unwrap();
    let held = frame.frame.unwrap();
    assert!(allocator.frame_bytes(&held, 16).is_some());
    allocator.give_back(held).unwrap();
    assert_eq!(allocator.status().unwrap().AllocatedFrames, 0);
    // The consumer dies holding a frame and with its allocator and filter open: everything goes.
    let _still_held = allocator.take_frame().unwrap();
    kernel.kill_client();
    assert_eq!(frames_in_pool(&kernel), 0);
    // The filter went with the client too: its wrapper is only a handle now.
    assert!(camera.close().is_err());
    kernel.unload_driver();
    kernel.assert_no_leaks();
}
