//! cargo-fuzz target `chunk_reader`: see `kadet_fuzz::chunk_reader` for what it covers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kadet_fuzz::chunk_reader(data));
