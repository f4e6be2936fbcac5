//! cargo-fuzz target `rules_load`: see `kadet_fuzz::rules_load` for what it covers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kadet_fuzz::rules_load(data));
