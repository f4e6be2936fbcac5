//! cargo-fuzz target `decode`: see `kadet_fuzz::decode` for what it covers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kadet_fuzz::decode(data));
