//! The KS / NT ABI that avcam shares with Windows.
//!
//! Every type here is `#[repr(C)]` with fixed-width fields (a Windows `ULONG` is `u32`, never
//! `c_long`), laid out as on Windows x64, with zerocopy derives on the plain-data types so request
//! bytes can be parsed without `unsafe`. C spellings live only in this crate; the cores use Rust
//! names and cite the C name in their docs.
//!
//! Sizes and alignments are asserted at compile time against the figures in the public headers:
//! by hand in `layout` (from `../shared/notes/ks-allocator.md`), and in `header_layouts`, which
//! `scripts/gen-layouts.sh` generates from the mingw-w64 headers (table: `ks/header-layouts.txt`).
//!
//! Modules:
//! - [`status`]: NTSTATUS values;
//! - [`guid`]: the GUID type and the GUIDs avcam uses;
//! - [`nt`]: the NT kernel objects the driver touches (IRP, IO_STACK_LOCATION, FILE_OBJECT, ...);
//! - [`ks`]: kernel-streaming structures, flags and IOCTL codes;
//! - [`avstream`]: the AVStream object model (descriptors, dispatch and automation tables, KSPIN, ...);
//! - [`video`]: video formats (KS_VIDEOINFOHEADER, KS_DATARANGE_VIDEO, ...) and the video capture
//!   property sets (DROPPEDFRAMES, VIDEOPROCAMP, VIDEOCONTROL);
//! - [`avcam`]: avcam's own property sets (pattern and overlays, fault injection);
//! - [`services`]: the one list of the ntoskrnl / ks.sys services the driver imports
//!   ([`kernel_services!`]), and [`kernel_abi`], the calling convention at that boundary.
#![no_std]
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]

/// Compile-time size and alignment check of a Windows x64 layout (used by `layout` and `video`).
macro_rules! assert_layout {
    ($t:ty, size $size:expr, align $align:expr) => {
        const _: () = assert!(
            core::mem::size_of::<$t>() == $size,
            concat!("size of ", stringify!($t))
        );
        const _: () = assert!(
            core::mem::align_of::<$t>() == $align,
            concat!("align of ", stringify!($t))
        );
    };
}
/// Compile-time field offset check of a Windows x64 layout.
macro_rules! assert_offset {
    ($t:ty, $field:ident, $offset:expr) => {
        const _: () = assert!(
            core::mem::offset_of!($t, $field) == $offset,
            concat!("offset of ", stringify!($t), ".", stringify!($field))
        );
    };
}

pub mod avcam;
pub mod avstream;
pub mod guid;
// Generated from the mingw-w64 headers by scripts/gen-layouts.sh (x64 figures).
#[cfg(target_pointer_width = "64")]
mod header_layouts;
pub mod ks;
mod layout;
pub mod nt;
pub mod services;
pub mod status;
pub mod video;

/// The calling convention at the driver/kernel boundary: see [`avcam_abi`]. Every function type
/// and function that crosses between driver code and ntoskrnl / ks.sys carries
/// `#[ks::kernel_abi]`.
pub use avcam_abi::kernel_abi;
pub use guid::GUID;
pub use status::NTSTATUS;
