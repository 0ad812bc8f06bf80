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
//!
//! # Using it
//! - A pin whose allocator create item (`KSSTRING_Allocator`) should get the default allocator
//!   routes it to [`allocator_create_dispatch`], which calls [`KsCreateDefaultAllocator`] and
//!   completes the create IRP with its status.
//! - A pin with its own frame memory calls [`KsCreateDefaultAllocatorEx`] from its create
//!   handler with its `InitializeAllocator`/`DeleteAllocator`/`DefaultAllocate`/`DefaultFree`
//!   (a `KSALLOCATOR_DISPATCH`'s functions) and completes the IRP itself.
//! - Clients then use the allocator file object: `KSPROPERTY_STREAMALLOCATOR_STATUS`,
//!   `KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE` (`AllocateFrame`/`FreeFrame`, for kernel callers
//!   at IRQL <= DISPATCH_LEVEL), `KSMETHOD_STREAMALLOCATOR_ALLOC`/`FREE` and the FREEFRAME events.
//!
//! Frames: all `Frames` are obtained at create (pool or `DefaultAllocate`) and given back at
//! close, so ALLOC and FREE never call the pool; `Frames` is the most outstanding at once, and an
//! ALLOC beyond it waits (STATUS_PENDING) for a FREE, in arrival order. Requests from user mode
//! are refused (see [`adapter::dispatch`]).
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
