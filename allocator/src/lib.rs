//! The KS default allocator: `KsCreateDefaultAllocatorEx` and the allocator object it creates.
#![no_std]
