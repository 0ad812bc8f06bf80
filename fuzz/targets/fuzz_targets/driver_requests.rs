//! libFuzzer target: the whole driver in the emulation, fed IOCTLs on a filter, a pin and an allocator (see `avcam_fuzz::driver_requests`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| avcam_fuzz::driver_requests::run(data));
