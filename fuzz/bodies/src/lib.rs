//! avcam's fuzz target bodies: each takes the fuzzer's bytes and asserts the invariants of the
//! code it drives (not only "no panic"). cargo-fuzz calls them from `fuzz/targets/`; the
//! tests in `tests/` replay the seed corpus (`fuzz/seeds/<target>/`) and bounded proptest
//! mutations of it on stable, inside `cargo test --workspace`.
//!
//! - [`allocator_requests::run`]: the allocator core's parsers (create name and parameters,
//!   `KSALLOCATOR_FRAMING_EX`, property / method / event requests);
//! - [`camera_formats::run`]: the camera's format parser, intersection and pin connect parser;
//! - [`driver_requests::run`]: the whole driver in the emulation, fed IOCTLs on a filter, a pin
//!   and an allocator built from the input, then closed and checked for bugs and leaks.
//!
//! [`seeds`] builds the valid requests the seed corpus is made of.

pub mod allocator_requests;
pub mod camera_formats;
pub mod driver_requests;
mod input;
pub mod seeds;
pub mod stream_reads;

/// A fuzz target body: takes any bytes, panics when an invariant breaks.
pub type Body = fn(&[u8]);

/// The fuzz targets: `(name, body)`, the name being the cargo-fuzz target and corpus directory.
pub const TARGETS: [(&str, Body); 3] = [
    ("allocator_requests", allocator_requests::run),
    ("camera_formats", camera_formats::run),
    ("driver_requests", driver_requests::run),
];
