//! avcam: the Windows kernel shell of the virtual camera.
//!
//! On Windows this crate is the driver (`avcam.sys`); on other hosts the same code is linked
//! against the emulation (through `avcam-kernel`) and driven by the tests in `tests/`.
#![no_std]

// On the host, std (pulled in by the emulation) provides the panic handler and global allocator.
#[cfg(not(windows))]
extern crate std;
