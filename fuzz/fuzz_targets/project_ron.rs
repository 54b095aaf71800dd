//! Fuzz target: see `leukolens::fuzz::project_ron`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leukolens::fuzz::project_ron(data));
