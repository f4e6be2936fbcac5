//! cargo-fuzz target `ingest`: see `kadet_fuzz::ingest` for what it covers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kadet_fuzz::ingest(data));
