//! kadet-server's integration tests of single-process `kadet serve`, through the real binary.
//!
//! One binary per group of tests, with a module per topic: each test binary is linked once.

mod cloudwatch;
#[path = "../common/mod.rs"]
mod common;
mod crash;
mod crash_loop;
mod day_two;
mod equivalence;
mod follow;
mod hardening;
mod kafka;
mod memory;
mod pubsub;
mod serve;
mod upgrade;
