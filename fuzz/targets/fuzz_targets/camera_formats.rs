//! libFuzzer target: the camera's format, intersection and pin connect parsers (see `avcam_fuzz::camera_formats`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| avcam_fuzz::camera_formats::run(data));
