//! Single-process mode, the default: everything on one machine, nothing
//! installed.
//!
//! 1. [`intake`]: an accepted batch is fsynced to the [`journal`] (group
//!    commit) before the client gets its `200`;
//! 2. [`detector`]: reads the journal in order, evaluates it with the same
//!    decoders and rules as `kadet scan`, and keeps windows, thresholds and
//!    the alert outbox in the SQLite [`store`], committed together with the
//!    journal offset;
//! 3. [`deliver`]: one worker per sink delivers the outbox at least once,
//!    with the shared delivery policy;
//! 4. [`node`]: starts and stops it all.
//!
//! Nothing here refers to cluster mode: the two modes share
//! [`crate::core`] and nothing else.

pub mod crash_marker;
pub mod deliver;
pub mod detector;
pub mod intake;
pub mod journal;
pub mod node;
pub mod store;
