//! Fuzz target: see `leukolens::fuzz::import_csv`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leukolens::fuzz::import_csv(data));
