//! Fuzz target: see `leukolens::fuzz::journal`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leukolens::fuzz::journal(data));
