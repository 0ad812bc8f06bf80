//! The whole frame path through the emulation: frames per second delivered to a client (timer,
//! DPC, Process, allocator frame, synthesis, copy or lend, read completion) per format at 1080p and 4K,
//! copy mode vs shared mode, on the virtual clock (as fast as the host can go).
//!
//! `cargo bench -p avcam --bench frame_path [-- FRAMES]`

use std::time::{Duration, Instant};

use avcam_avstream::{FrameSize, PixelFormat, VideoFormat};
use avcam_client::Camera;
use avcam_emulation::Kernel;
use ks::guid::KSCATEGORY_VIDEO_CAMERA;
use ks::nt::{DRIVER_OBJECT, UNICODE_STRING};
use ks::NTSTATUS;
use zerocopy::IntoBytes;

unsafe extern "system" fn entry(driver: *mut DRIVER_OBJECT, path: *mut UNICODE_STRING) -> NTSTATUS {
    // SAFETY: the emulation's loader passes its driver object and registry path.
    unsafe { avcam::driver_entry::DriverEntry(driver, path) }
}

fn run(pixel: PixelFormat, size: FrameSize, frames: u64, shared: bool) -> f64 {
    let kernel = Kernel::new();
    assert_eq!(kernel.load_driver(entry), 0);
    let camera = Camera::open(&kernel, &KSCATEGORY_VIDEO_CAMERA).unwrap();
    let format = VideoFormat::new(pixel, size, 333_333).unwrap();
    let bytes = camera.intersect(0, format.to_ks().as_bytes()).unwrap();
    let pin = camera.create_pin(0, &bytes).unwrap();
    pin.set_state(3).unwrap();
    let image = format.image_size() as usize;
    let start = Instant::now();
    for _ in 0..frames {
        let read = if shared {
            pin.read_shared()
        } else {
            pin.read(image)
        };
        kernel.clock().advance(33_333_400);
        read.wait(Duration::from_secs(10)).unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    frames as f64 / elapsed
}

fn main() {
    let frames: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    println!("frame path through the emulation, {frames} frames each");
    println!(
        "{:<8} {:<10} {:>12} {:>12}",
        "format", "size", "copy fps", "shared fps"
    );
    for pixel in PixelFormat::ALL {
        for size in [FrameSize::HD1080, FrameSize::UHD] {
            let copy = run(pixel, size, frames, false);
            let shared = run(pixel, size, frames, true);
            println!(
                "{:<8} {:<10} {:>12.1} {:>12.1}",
                format!("{pixel:?}"),
                format!("{}x{}", size.width, size.height),
                copy,
                shared
            );
        }
    }
}
