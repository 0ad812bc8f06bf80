//! Shared set-up of the end-to-end tests: load avcam into the emulation and open the camera.
//!
//! The driver is the Linux build of `src/`, or with `AVCAM_DRIVER_IMAGE=/path/to/avcam.sys` the
//! cross-built image itself, loaded by `avcam-loader` (see [`driver_entry`]).

#![allow(dead_code)] // each test binary uses its own subset

use std::time::Duration;

use avcam_avstream::{FrameSize, PixelFormat, VideoFormat};
use avcam_client::{Camera, Pin, Transport};
use avcam_emulation::{DriverEntry, Kernel};
use ks::guid::KSCATEGORY_VIDEO_CAMERA;
use ks::nt::{DRIVER_OBJECT, UNICODE_STRING};
use ks::status::STATUS_SUCCESS;
use ks::NTSTATUS;
use zerocopy::IntoBytes;

/// How long a test waits for a read the virtual clock already made due (real time; generous,
/// never asserted on).
pub const WAIT: Duration = Duration::from_secs(10);

/// avcam's Linux build, under the emulation's `DriverEntry` signature.
#[ks::kernel_abi]
unsafe extern "system" fn linux_build_entry(
    driver: *mut DRIVER_OBJECT,
    path: *mut UNICODE_STRING,
) -> NTSTATUS {
    // SAFETY: the emulation's loader passes its driver object and registry path.
    unsafe { avcam::driver_entry::DriverEntry(driver, path) }
}

/// The driver under test: the image `AVCAM_DRIVER_IMAGE` names (the cross-built avcam.sys,
/// loaded once per test process), else the Linux build of the same source. Every test here runs
/// the same in both modes: none reads the driver's internals.
pub fn driver_entry() -> DriverEntry {
    match avcam_loader::image_from_env() {
        Some(image) => image.driver_entry(),
        None => linux_build_entry,
    }
}

/// A fresh kernel whose ks.sys serves allocator creates with avcam's `KsCreateDefaultAllocatorEx`
/// (as every avcam kernel does; in image mode too, where the Linux build of the allocator plays
/// ks.sys's part), the default 15.625 ms clock tick, avcam not loaded yet.
pub fn bare_kernel() -> Kernel {
    Kernel::with_default_allocator(avcam_allocator::KsCreateDefaultAllocatorEx)
}

/// A kernel with avcam loaded.
pub fn kernel() -> Kernel {
    let kernel = bare_kernel();
    load(&kernel);
    kernel
}

/// Loads avcam into `kernel` (for a kernel configured first: a tick, concurrency mode).
pub fn load(kernel: &Kernel) {
    assert_eq!(kernel.load_driver(driver_entry()), STATUS_SUCCESS);
}

/// The camera opened through KSCATEGORY_VIDEO_CAMERA by a kernel-mode consumer.
pub fn camera(kernel: &Kernel) -> Camera<'_> {
    Camera::open(kernel, &KSCATEGORY_VIDEO_CAMERA).expect("the camera opens")
}

/// The camera opened through KSCATEGORY_VIDEO_CAMERA by a user-mode application.
pub fn user_camera(kernel: &Kernel) -> Camera<'_> {
    Camera::open_as_application(kernel, &KSCATEGORY_VIDEO_CAMERA).expect("the camera opens")
}

/// The format the pin proposes for a client range asking exactly `format`.
pub fn negotiate<T: Transport>(camera: &Camera<'_, T>, format: &VideoFormat) -> Vec<u8> {
    camera
        .intersect(0, format.to_ks().as_bytes())
        .expect("the pin agrees")
}

/// A small 30 fps format.
pub fn qvga(pixel: PixelFormat) -> VideoFormat {
    VideoFormat::new(pixel, FrameSize::QVGA, 333_333).expect("an offered format")
}

/// A pin in RUN with `format`.
pub fn running_pin<'k, T: Transport>(camera: &Camera<'k, T>, format: &VideoFormat) -> Pin<'k, T> {
    let bytes = negotiate(camera, format);
    let pin = camera.create_pin(0, &bytes).expect("the pin is created");
    for state in [1, 2, 3] {
        pin.set_state(state).expect("state step");
    }
    pin
}

/// Moves the virtual clock to `target` (100 ns interrupt time).
pub fn advance_to(kernel: &Kernel, target: i64) {
    let now = kernel.clock().now_100ns();
    assert!(target >= now, "the clock never goes back");
    kernel.clock().advance(((target - now) as u64) * 100);
}

/// The seven colour bars of EIA-189-A / SMPTE EG 1, left to right, as R'G'B' at 100% (0 or 1;
/// scale by 0.75 for the 75% bars): white, yellow, cyan, green, magenta, red, blue.
pub const BARS: [(f64, f64, f64); 7] = [
    (1.0, 1.0, 1.0),
    (1.0, 1.0, 0.0),
    (0.0, 1.0, 1.0),
    (0.0, 1.0, 0.0),
    (1.0, 0.0, 1.0),
    (1.0, 0.0, 0.0),
    (0.0, 0.0, 1.0),
];
