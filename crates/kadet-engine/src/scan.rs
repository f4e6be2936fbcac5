//! `kadet scan` as a library call: run the pipeline, deduplicate, write.

use crate::alerter::{AlertStats, Alerter, EmitAt};
use crate::pipeline::{self, ChunkResult, Evaluator, ResultHandler, ScanOptions, ScanStats};
use crate::sink::Sink;
use kadet_event::input::{ByteCounter, Inputs};
use kadet_event::Skip;
use kadet_rules::{Rule, Severity};
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

/// What to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    /// Deduplicated alerts.
    Alerts,
    /// Every (event, rule) match, no deduplication.
    Matches,
}

/// What to do with matches.
#[derive(Debug, Clone)]
pub struct Alerting {
    /// Alerts or raw matches.
    pub emit: Emit,
    /// Event-time disorder handled exactly (see [`crate::alerter`]).
    pub lateness: std::time::Duration,
    /// Keep the alerter's state in this file across runs
    /// ([`crate::state_file`]): alerts are then raised as windows reach their
    /// threshold, as in `serve`, and open windows carry over to the next run.
    pub state: Option<std::path::PathBuf>,
    /// Open windows one rule may hold ([`Alerter::with_max_keys_per_rule`]).
    pub max_keys_per_rule: usize,
}

/// Totals of a finished scan.
#[derive(Debug, Default, Clone)]
pub struct ScanReport {
    /// Pipeline counters.
    pub stats: ScanStats,
    /// Alerts written, by severity.
    pub alerts_by_severity: BTreeMap<Severity, u64>,
    /// Alerter counters.
    pub alert_stats: AlertStats,
}

struct Handler<'a, 'r> {
    rules: &'r [Rule],
    emit: Emit,
    alerter: Alerter<'r>,
    sink: &'a mut dyn Sink,
    on_skip: &'a mut dyn FnMut(&Skip),
    report: ScanReport,
    error: Option<io::Error>,
}

impl Handler<'_, '_> {
    fn write_alerts(&mut self, alerts: Vec<crate::alert::Alert>) {
        for a in alerts {
            *self
                .report
                .alerts_by_severity
                .entry(a.severity)
                .or_default() += 1;
            if self.error.is_none() {
                if let Err(e) = self.sink.alert(&a) {
                    self.error = Some(e);
                }
            }
        }
    }
}

impl ResultHandler for Handler<'_, '_> {
    fn handle(&mut self, r: ChunkResult) {
        for s in &r.skips {
            (self.on_skip)(s);
        }
        match self.emit {
            Emit::Matches => {
                for m in &r.matches {
                    if self.error.is_none() {
                        if let Err(e) = self.sink.matched(m, &self.rules[m.rule]) {
                            self.error = Some(e);
                        }
                    }
                }
            }
            Emit::Alerts => self.alerter.feed(r.matches, r.max_time),
        }
        let ready = self.alerter.drain_alerts();
        self.write_alerts(ready);
    }
}

/// Scans `inputs` with `rules`, writing to `sink`; `on_skip` hears about
/// every skipped record as it happens. `alerting.lateness` bounds the event
/// time disorder handled exactly (see [`crate::alerter`]).
pub fn scan(
    inputs: Inputs,
    rules: &[Rule],
    opts: &ScanOptions,
    alerting: Alerting,
    sink: &mut dyn Sink,
    on_skip: &mut dyn FnMut(&Skip),
    counter: Arc<ByteCounter>,
) -> io::Result<ScanReport> {
    let eval = Evaluator::new(rules, opts);
    let alerter = match &alerting.state {
        None => Alerter::new(rules, alerting.lateness)
            .with_max_keys_per_rule(alerting.max_keys_per_rule),
        Some(path) => {
            let kept = crate::state_file::load(path).map_err(io::Error::other)?;
            let (watermark, windows, buffered) = kept.unwrap_or_default();
            Alerter::with(rules, alerting.lateness, EmitAt::Threshold)
                .with_max_keys_per_rule(alerting.max_keys_per_rule)
                .restore(watermark, windows, buffered)
                .without_tracking()
        }
    };
    let mut h = Handler {
        rules,
        emit: alerting.emit,
        alerter,
        sink,
        on_skip,
        report: ScanReport::default(),
        error: None,
    };
    let stats = pipeline::run(inputs, &eval, opts, counter, &mut h);
    match &alerting.state {
        None => {
            let rest = h.alerter.finish_all();
            h.write_alerts(rest);
        }
        Some(path) => {
            h.alerter.apply_buffered();
            let raised = h.alerter.drain_alerts();
            h.write_alerts(raised);
            crate::state_file::save(path, h.alerter.state()).map_err(io::Error::other)?;
        }
    }
    h.report.stats = stats;
    h.report.alert_stats = h.alerter.stats;
    if let Some(e) = h.error.take() {
        return Err(e);
    }
    h.sink.finish()?;
    Ok(h.report)
}
