//! kadet-engine's integration tests: Panther parity and prefilter soundness.
//!
//! One binary per group of tests, with a module per topic: each test binary is linked once.

mod golden_parity;
mod prefilter_soundness;
