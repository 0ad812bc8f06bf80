//! The IRP adapter: the only place in the crate with `unsafe`, kept thin.
//!
//! It turns IRPs, file objects and pool blocks into calls on the safe core and back:
//! - [`exports`]: `KsCreateDefaultAllocatorEx`, `KsCreateDefaultAllocator`,
//!   `KsValidateAllocatorCreateRequest`, `KsValidateAllocatorFramingEx` (`#[no_mangle]`, the C
//!   signatures) and the create-item handler [`allocator_create_dispatch`];
//! - [`object`]: the allocator object behind `FsContext`, built at create, taken apart at close;
//! - [`dispatch`]: its `KSDISPATCH_TABLE` and the function table;
//! - [`queue`]: ALLOC IRPs waiting for a frame;
//! - [`memory`]: pool blocks and pool arrays.

pub mod dispatch;
pub mod exports;
pub mod memory;
pub mod object;
pub mod queue;

pub use exports::{
    allocator_create_dispatch, KsCreateDefaultAllocator, KsCreateDefaultAllocatorEx,
    KsValidateAllocatorCreateRequest, KsValidateAllocatorFramingEx,
};
