//! libFuzzer target: the allocator core's parsers (see `avcam_fuzz::allocator_requests`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| avcam_fuzz::allocator_requests::run(data));
