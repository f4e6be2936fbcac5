//! cargo-fuzz target `scan_prefilter`: see `kadet_fuzz::scan_prefilter` for what it covers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kadet_fuzz::scan_prefilter(data));
