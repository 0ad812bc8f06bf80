//! The pin's KSALLOCATOR_FRAMING_EX, as a client reads it (KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX):
//! narrowed at pin create (`KsEdit` of the pin's descriptor) to the negotiated format's
//! `biSizeImage`, per pin, while the static descriptor keeps spanning every range.

mod common;

use avcam_avstream::{FrameSize, PixelFormat, VideoFormat};
use avcam_client::Pin;
use common::*;
use ks::ks::KSALLOCATOR_FRAMING_EX;
use zerocopy::FromBytes;

/// The framing the pin answers.
fn framing_of(pin: &Pin<'_>) -> KSALLOCATOR_FRAMING_EX {
    let bytes = pin.allocator_framing_ex().expect("ALLOCATORFRAMING_EX");
    KSALLOCATOR_FRAMING_EX::read_from_prefix(&bytes)
        .expect("a whole KSALLOCATOR_FRAMING_EX")
        .0
}

/// (PhysicalRange min, max, FramingRange min, max) of the first framing item.
fn frame_sizes(framing: &KSALLOCATOR_FRAMING_EX) -> (u32, u32, u32, u32) {
    let item = framing.FramingItem[0];
    (
        item.PhysicalRange.MinFrameSize,
        item.PhysicalRange.MaxFrameSize,
        item.FramingRange.Range.MinFrameSize,
        item.FramingRange.Range.MaxFrameSize,
    )
}

fn format(pixel: PixelFormat, size: FrameSize) -> VideoFormat {
    VideoFormat::new(pixel, size, 333_333).expect("an offered format")
}

#[test]
fn a_vga_nv12_pin_answers_its_image_size() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let vga = format(PixelFormat::Nv12, FrameSize::VGA);
    let pin = camera.create_pin(0, &negotiate(&camera, &vga)).unwrap();
    let framing = framing_of(&pin);
    assert_eq!(frame_sizes(&framing), (460_800, 460_800, 460_800, 460_800));
    // The rest is the descriptor's declaration: frames of kernel non-paged system memory, as
    // preferences only (avshws declares the same).
    let item = framing.FramingItem[0];
    assert!(item.Frames >= 2);
    assert_eq!(item.MemoryType, ks::guid::KSMEMORY_TYPE_KERNEL_NONPAGED);
    assert_eq!(
        item.Flags,
        ks::ks::KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY
            | ks::ks::KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY
    );
    assert_eq!(framing.CountItems, 1);
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn two_pins_with_other_formats_each_see_their_own_size_and_the_descriptor_is_untouched() {
    let kernel = kernel();
    // One capture pin per filter: two filters, a pin on each, both open at once.
    let first_camera = camera(&kernel);
    let second_camera = camera(&kernel);
    let hd = format(PixelFormat::Yuy2, FrameSize::HD1080);
    let vga = format(PixelFormat::Nv12, FrameSize::VGA);
    let hd_pin = first_camera
        .create_pin(0, &negotiate(&first_camera, &hd))
        .unwrap();
    let vga_pin = second_camera
        .create_pin(0, &negotiate(&second_camera, &vga))
        .unwrap();
    assert_eq!(
        frame_sizes(&framing_of(&hd_pin)),
        (4_147_200, 4_147_200, 4_147_200, 4_147_200)
    );
    assert_eq!(
        frame_sizes(&framing_of(&vga_pin)),
        (460_800, 460_800, 460_800, 460_800)
    );
    // Streaming with the narrowed framing works.
    hd_pin.set_state(ks::avstream::KSSTATE_ACQUIRE).unwrap();
    hd_pin.set_state(ks::avstream::KSSTATE_STOP).unwrap();
    hd_pin.close().unwrap();
    // A new pin on the first filter with a third format gets its own size again: the narrowing
    // edited the pins' copies, never the static descriptor.
    let qvga_rgb = qvga(PixelFormat::Rgb32);
    let third = first_camera
        .create_pin(0, &negotiate(&first_camera, &qvga_rgb))
        .unwrap();
    assert_eq!(
        frame_sizes(&framing_of(&third)),
        (320 * 240 * 4, 320 * 240 * 4, 320 * 240 * 4, 320 * 240 * 4)
    );
    assert_eq!(frame_sizes(&framing_of(&vga_pin)).0, 460_800);
    third.close().unwrap();
    vga_pin.close().unwrap();
    first_camera.close().unwrap();
    second_camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn the_edited_copies_live_in_the_pool_under_our_tag_until_the_pin_closes() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let vga = format(PixelFormat::Nv12, FrameSize::VGA);
    let negotiated = negotiate(&camera, &vga);
    let tag = avcam_emulation::Tag(avcam::identity::POOL_TAG);
    let ours = |kernel: &avcam_emulation::Kernel| {
        kernel
            .pool()
            .outstanding()
            .iter()
            .filter(|block| block.tag == tag)
            .map(|block| block.size)
            .collect::<Vec<_>>()
    };
    let before = kernel.pool().outstanding_bytes();
    // The device's own state (its controls) lives under the tag as long as the device.
    let device_blocks = ours(&kernel);
    let pin = camera.create_pin(0, &negotiated).unwrap();
    let blocks = ours(&kernel);
    let descriptor = std::mem::size_of::<ks::avstream::KSPIN_DESCRIPTOR_EX>();
    let framing = std::mem::size_of::<KSALLOCATOR_FRAMING_EX>();
    assert!(blocks.contains(&descriptor), "{blocks:?}");
    assert!(blocks.contains(&framing), "{blocks:?}");
    pin.close().unwrap();
    assert_eq!(ours(&kernel), device_blocks);
    assert_eq!(kernel.pool().outstanding_bytes(), before);
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}
