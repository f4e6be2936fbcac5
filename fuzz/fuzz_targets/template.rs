//! cargo-fuzz target `template`: see `kadet_fuzz::template` for what it covers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kadet_fuzz::template(data));
