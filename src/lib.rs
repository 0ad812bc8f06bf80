//! avcam: the Windows kernel shell of the virtual camera.
//!
//! Built in kernel mode (`--cfg avcam_kernel_mode`, as `scripts/build-driver.sh` and the official
//! Windows path do; see docs/windows.md) this crate is the driver (`avcam.sys`); in every other
//! build, on Linux or as part of a Windows user-mode program, the same code is linked against the
//! emulation (through `avcam-kernel`) and driven by the tests in `tests/` or by the viewer.
//!
//! Modules, leaves first (no module imports one after it):
//! - [`identity`]: the names and GUIDs Windows knows the driver by, shared with `inf/avcam.inx`;
//! - [`error`]: the shell's error type and its NTSTATUS;
//! - [`pool_box`]: pool-backed values and buffers for the camera's own state;
//! - [`pool`]: the global allocator over the kernel pool (installed in kernel mode only);
//! - [`ranges`]: the capture pin's `KSDATARANGE*` table;
//! - [`device_state`]: the device-wide controls and fault plan (`KSDEVICE.Context`);
//! - [`property`]: what every filter property handler needs (the call, the item's values);
//! - [`picture_properties`]: VIDEOPROCAMP, VIDEOCONTROL and avcam's pattern set;
//! - [`fault_properties`]: avcam's fault-injection set, behind the registry switch;
//! - [`framing`]: the pin's allocator framing and its narrowing to the negotiated frame size;
//! - [`pin`]: what one capture pin owns ([`pin::CapturePin`]) and its locking discipline;
//! - [`pin_allocator`]: the pin's kernel-level allocator (`KSPIN_DISPATCH.Allocator`);
//! - [`frame_path`]: the frame timer and Process: how a due frame reaches the buffer at the
//!   leading edge;
//! - [`capture_pin`]: the capture pin's dispatch, intersect and property handlers;
//! - [`filter`]: the filter and capture pin descriptors;
//! - [`device`]: the device descriptor and its PnP start, which creates the filter factory;
//! - [`driver_entry`]: `DriverEntry` (`KsInitializeDriver` with [`device::DEVICE_DESCRIPTOR`]);
//! - `runtime` (kernel mode only): what a freestanding kernel image must provide itself: the entry
//!   point symbol, the panic handler, `_fltused`, `__chkstk` and the global allocator instance;
//! - `wdk_layouts` (official Windows path only): our ABI types asserted equal to wdk-sys's.
#![no_std]

// Outside kernel mode, std (pulled in by the emulation) provides the panic handler and global
// allocator.
#[cfg(not(avcam_kernel_mode))]
extern crate std;

// Link the allocator: its `#[no_mangle]` exports (KsCreateDefaultAllocatorEx & co) must reach the
// .sys even before the shell calls into it.
use avcam_allocator as _;

// The camera core, under its short name in every module.
extern crate avcam_avstream as avstream;

pub mod capture_pin;
pub mod device;
pub mod device_state;
pub mod driver_entry;
pub mod error;
pub mod fault_properties;
pub mod filter;
pub mod frame_path;
pub mod framing;
pub mod identity;
pub mod picture_properties;
pub mod pin;
pub mod pin_allocator;
pub mod pool;
pub mod pool_box;
pub mod property;
pub mod ranges;

#[cfg(avcam_kernel_mode)]
mod runtime;

#[cfg(all(windows, feature = "wdk"))]
mod wdk_layouts;
