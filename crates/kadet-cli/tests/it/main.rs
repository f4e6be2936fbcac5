//! kadet-cli's integration tests: the real `kadet` binary, run as a user runs it.
//!
//! One binary per group of tests, with a module per topic: each test binary is linked once.

mod alert_text;
mod attack_chain;
mod cli;
mod common;
mod correlation;
mod explain_state;
mod first_hour;
mod first_seen;
mod intrusion;
mod large_input;
mod minted_token;
mod objects;
mod policy;
mod rsigma_parity;
mod sigma;
mod snapshots_output;
mod state_bounds;
mod stratus;
mod tuning;
