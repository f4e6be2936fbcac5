//! cargo-fuzz target `sink_render`: see `kadet_fuzz::sink_render` for what it covers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kadet_fuzz::sink_render(data));
