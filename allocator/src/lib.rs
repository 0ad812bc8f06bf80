//! The KS default allocator: `KsCreateDefaultAllocatorEx` and the allocator object it creates.
//!
//! The crate is in two layers, like smoltcp's `wire`/`iface` over `phy/sys`:
//! - the pure core, safe and `no_std`, with no OS call and no global allocator:
//!   [`framing`] (create requests and the `KsValidateAllocator*` rules), [`frames`] (frame
//!   accounting: O(1) alloc, expected O(1) free, recycling), [`requests`] (property, method and
//!   event requests on byte slices), [`events`] (enabled events) and [`state`] (what ALLOC and
//!   FREE do), all reporting one [`Error`] converted to NTSTATUS in one place;
//! - the IRP adapter, the only place with `unsafe`: the exported ks.sys functions, the allocator
//!   object in pool memory and its `KSDISPATCH_TABLE` (added with the kernel services).
#![no_std]
#![deny(unsafe_code)]

pub mod error;
pub mod events;
pub mod frames;
pub mod framing;
pub mod requests;
pub mod state;

pub use error::Error;
