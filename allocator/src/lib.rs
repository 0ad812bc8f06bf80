//! The KS default allocator: `KsCreateDefaultAllocatorEx` and the allocator object it creates.
//!
//! The crate is in two layers, like smoltcp's `wire`/`iface` over `phy/sys`:
//! - the pure core, safe and `no_std`, with no OS call and no global allocator:
//!   [`framing`] (create requests and the `KsValidateAllocator*` rules), [`frames`] (frame
//!   accounting: O(1) alloc, expected O(1) free, recycling), [`requests`] (property, method and
//!   event requests on byte slices), [`events`] (enabled events) and [`state`] (what ALLOC and
//!   FREE do), all reporting one [`Error`] converted to NTSTATUS in one place;
//! - the IRP adapter ([`adapter`]), the only place with `unsafe`: the exported ks.sys functions,
//!   the allocator object in pool memory, its `KSDISPATCH_TABLE` and function table, over the
//!   kernel services of `avcam-kernel` (ntoskrnl/ks.sys on Windows, the emulation elsewhere).
#![no_std]
#![deny(unsafe_code)]
#![allow(non_snake_case)] // the exports keep their C parameter names

#[allow(unsafe_code)]
pub mod adapter;
pub mod error;
pub mod events;
pub mod frames;
pub mod framing;
pub mod requests;
pub mod state;

pub use adapter::{
    allocator_create_dispatch, KsCreateDefaultAllocator, KsCreateDefaultAllocatorEx,
    KsValidateAllocatorCreateRequest, KsValidateAllocatorFramingEx,
};
pub use error::Error;
