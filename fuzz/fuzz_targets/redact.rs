//! cargo-fuzz target `redact`: see `kadet_fuzz::redact` for what it covers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kadet_fuzz::redact(data));
