//! The kadet pipeline, from records to alerts:
//!
//! bytes → [decoder](kadet_event::Decoder) → [prefilter](kadet_rules::Prefilter)
//! → [`CanonicalEvent`](kadet_event::CanonicalEvent) → [rules](kadet_rules::Rule)
//! → [`Match`] → [`Alerter`] (dedup windows, thresholds) → [`Sink`]s.
//!
//! - [`pipeline`]: parallel decoding and evaluation in input order;
//! - [`window`]: one dedup window, the unit of alerting in every mode;
//! - [`alerter`]: the [`Alerter`]: windows on event time, in event-time order;
//! - [`alert`]: the [`Alert`] every output format renders;
//! - [`sink`] and [`ocsf`]: JSON lines, tables and OCSF Detection Findings;
//! - [`scan`]: the whole `kadet scan` job as one call.

#![warn(missing_docs)]

pub mod alert;
pub mod alerter;
pub mod attack;
pub mod correlation_test;
pub mod follow;
pub mod matches;
pub mod ocsf;
pub mod pipeline;
pub mod scan;
pub mod sink;
pub mod state_file;
pub mod window;

pub use alert::Alert;
pub use alerter::{Alerter, EmitAt, DEFAULT_MAX_KEYS_PER_RULE};
pub use matches::Match;
pub use pipeline::{Evaluator, ScanOptions, ScanStats};
pub use scan::{scan, Alerting, Emit, ScanReport};
pub use sink::{JsonLinesSink, OcsfSink, Sink, TableSink};
pub use window::AlertWindow;
