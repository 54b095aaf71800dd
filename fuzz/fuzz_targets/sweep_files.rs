//! Fuzz target: see `leukolens::fuzz::sweep_files`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leukolens::fuzz::sweep_files(data));
