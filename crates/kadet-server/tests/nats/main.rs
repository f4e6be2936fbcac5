//! kadet-server's cluster-mode tests, against real `nats-server`s started on free loopback ports. They are their own binary so that they run after, not beside, the single-process tests: node-loss drills are sensitive to a starved CPU.
//!
//! One binary per group of tests, with a module per topic: each test binary is linked once.

mod cluster;
mod cluster_state;
#[path = "../common/mod.rs"]
mod common;
mod joining;
mod nats_harness;
mod sources;

/// The tests of this binary run one at a time: each starts NATS servers
/// (and often several kadet instances), and on a 2-core machine running
/// them side by side starves them of CPU (leader elections and leases time
/// out). Synchronous tests take [`one_at_a_time`], async ones
/// [`one_at_a_time_async`].
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits for the other tests of this binary to finish (synchronous tests).
pub fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.blocking_lock()
}

/// Waits for the other tests of this binary to finish (async tests).
pub async fn one_at_a_time_async() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}
