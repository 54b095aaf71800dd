//! Fuzz target: see `leukolens::fuzz::image`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leukolens::fuzz::image(data));
