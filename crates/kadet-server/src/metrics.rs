//! Prometheus text exposition, written by hand: counters with labels, a few
//! gauges and one latency histogram.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Latency histogram bucket bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Declares a family of metric names, each with its help text, so that a
/// name is written once.
macro_rules! metric_names {
    ($(#[$doc:meta])* $kind:ident { $($(#[$vdoc:meta])* $id:ident = $name:literal, $help:literal;)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $kind { $($(#[$vdoc])* $id),* }

        impl $kind {
            /// Every metric of the family, in exposition order.
            pub const ALL: &'static [$kind] = &[$($kind::$id),*];
            /// The Prometheus name.
            pub fn name(self) -> &'static str {
                match self { $($kind::$id => $name),* }
            }
            /// The `# HELP` text.
            pub fn help(self) -> &'static str {
                match self { $($kind::$id => $help),* }
            }
        }
    };
}

metric_names! {
    /// Counters.
    Counter {
        /// HTTP requests.
        Requests = "kadet_requests_total", "HTTP requests by endpoint and status code.";
        /// Requests without valid credentials.
        Unauthenticated = "kadet_unauthenticated_total", "Requests refused for missing or wrong credentials.";
        /// Events in request bodies.
        EventsReceived = "kadet_events_received_total", "Events received, by endpoint.";
        /// Events journaled.
        EventsAccepted = "kadet_events_accepted_total", "Events journaled, by endpoint.";
        /// Events refused.
        EventsRejected = "kadet_events_rejected_total", "Events refused, by reason.";
        /// Whole requests refused.
        BatchesRejected = "kadet_batches_rejected_total", "Requests refused whole, by reason.";
        /// Failed TLS handshakes.
        TlsHandshakeFailures = "kadet_tls_handshake_failures_total", "TLS handshakes that failed or timed out.";
        /// Journal bytes written.
        JournalAppendedBytes = "kadet_journal_appended_bytes_total", "Bytes appended to the journal.";
        /// Secrets redacted before the journal.
        IntakeRedactions = "kadet_intake_redactions_total", "Secret values (minted tokens, Secret data) redacted before anything was stored.";
        /// Events evaluated.
        EventsEvaluated = "kadet_events_evaluated_total", "Events decoded and evaluated, by log type.";
        /// Journaled records skipped.
        RecordsSkipped = "kadet_records_skipped_total", "Journaled records the decoder skipped, by reason.";
        /// Records already evaluated, passed over.
        DuplicateRecords = "kadet_duplicate_records_total", "Journaled records identical to one evaluated in the last 24 hours (a batch resent by its client), passed over.";
        /// Records whose evaluation failed, quarantined.
        PoisonRecords = "kadet_poison_records_total", "Records whose decoding or evaluation failed inside kadet, written to the dead-letter file and passed over.";
        /// Stored rows that could not be read, quarantined.
        QuarantinedState = "kadet_quarantined_state_total", "Stored windows or buffered matches that could not be read, written to the dead-letter file and dropped, by table.";
        /// Windows closed early at the per-rule limit.
        WindowsEvicted = "kadet_alert_windows_evicted_total", "Alert windows (dedup keys, followed tokens, first-seen values, correlation state) closed early because their rule held [detection] max_keys_per_rule of them and a new key came.";
        /// Rule matches.
        Matches = "kadet_matches_total", "Rule matches, by rule.";
        /// Matches a tuning exclusion suppressed.
        TuningSuppressed = "kadet_tuning_suppressed_total", "Matches a tuning exclusion suppressed, by rule and tuning entry (file:line).";
        /// Alerts raised.
        Alerts = "kadet_alerts_total", "Alerts raised (threshold reached), by rule.";
        /// Alerts delivered.
        SinkDeliveries = "kadet_sink_deliveries_total", "Alerts delivered, by sink.";
        /// Failed delivery attempts.
        SinkFailures = "kadet_sink_failures_total", "Failed delivery attempts, by sink.";
        /// Alerts given up on.
        SinkDeadLetters = "kadet_sink_dead_letters_total", "Alerts written to the dead-letter file, by sink.";
        /// Rule reload attempts.
        RuleReloads = "kadet_rule_reloads_total", "Rule reload attempts, by result (ok, failed).";
        /// Batches delivered again.
        ClusterRedeliveries = "kadet_cluster_redeliveries_total", "Batches or alerts this instance received more than once (another instance died, or an ack came late), by stream.";
        /// Compare-and-set conflicts.
        ClusterCasConflicts = "kadet_cluster_cas_conflicts_total", "Writes of the alert state or lease refused because another instance wrote first.";
        /// Dead letters in cluster mode.
        ClusterDeadLetters = "kadet_cluster_dead_letters_total", "Records and batches sent to the dead-letter stream, by kind.";
        /// Matches of a rule the applier does not have (rule sets differ
        /// across instances during a reload).
        ClusterUnknownRuleMatches = "kadet_cluster_unknown_rule_matches_total", "Matches of a rule the applier's rule set does not have (instances reloaded at different times), dropped, by rule.";
        /// Store failures of the detector.
        StoreErrors = "kadet_store_errors_total", "Detector passes that failed because the store could not be written.";
        /// Records a source stored.
        SourceRecords = "kadet_source_records_total", "Records read from a source and stored, by source.";
        /// Bytes a source read.
        SourceBytes = "kadet_source_bytes_total", "Bytes of records read from a source, by source.";
        /// Failures of a source.
        SourceErrors = "kadet_source_errors_total", "Failed reads, refused pushes and unreadable records of a source, by source and reason.";
        /// Throttled calls of a source.
        SourceThrottles = "kadet_source_throttles_total", "Calls a cloud API refused for their rate (kadet backs off), by source.";
        /// Messages pushed again.
        SourceRedeliveries = "kadet_source_redeliveries_total", "Pushed messages already stored (the sender retried), answered at once, by source.";
    }
}

metric_names! {
    /// Gauges.
    Gauge {
        /// Journal bytes not yet evaluated.
        JournalBacklogBytes = "kadet_journal_backlog_bytes", "Journal bytes written but not yet evaluated.";
        /// Alerts waiting for a sink.
        OutboxPendingAlerts = "kadet_outbox_pending_alerts", "Alerts some sink has not confirmed yet.";
        /// Matches in the reorder buffer.
        BufferedMatches = "kadet_detector_buffered_matches", "Matches waiting in the event-time reorder buffer.";
        /// The rule set in force.
        RulesInfo = "kadet_rules_info", "1, labelled with the hash of the rule set in force and its rule count: compare across instances.";
        /// Reloads so far plus one.
        RulesGeneration = "kadet_rules_generation", "The rule set in force: 1 at start, one more per successful reload.";
        /// 1 when the last reload failed.
        RulesReloadFailed = "kadet_rules_reload_failed", "1 when the last reload failed and the previous rules still run.";
        /// Batches waiting for evaluation.
        ClusterPending = "kadet_cluster_pending_batches", "Batches in the audit stream not yet evaluated or in flight (consumer lag).";
        /// 1 on the instance applying results.
        ClusterApplier = "kadet_cluster_applier", "1 on the instance that holds the applier lease (applies results, raises alerts).";
        /// 1 while connected to NATS.
        ClusterConnected = "kadet_cluster_connected", "1 while this instance is connected to NATS.";
        /// 1 while the detector can write its store.
        DetectorUp = "kadet_detector_up", "1 while the detector commits its passes, 0 while the store fails.";
        /// How far behind a source is.
        SourceLag = "kadet_source_lag_seconds", "Now minus the time of the newest record a source read, by source.";
        /// 1 while a source is stuck.
        SourceStuck = "kadet_source_stuck", "1 while a source has made no progress for longer than its stuck_after_secs, by source.";
    }
}

#[derive(Default)]
struct Hist {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    counters: BTreeMap<(Counter, String), u64>,
    gauges: BTreeMap<(Gauge, String), f64>,
    latency: BTreeMap<String, Hist>,
    publish: Hist,
}

impl Hist {
    fn observe(&mut self, secs: f64) {
        for (b, bound) in self.buckets.iter_mut().zip(BUCKETS) {
            if secs <= bound {
                *b += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }

    fn render(&self, out: &mut String, name: &str, label: &str) {
        let sep = if label.is_empty() { "" } else { "," };
        for (b, bound) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(out, "{name}_bucket{{{label}{sep}le=\"{bound}\"}} {b}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{label}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if label.is_empty() {
            String::new()
        } else {
            format!("{{{label}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// All metrics.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders `{k="v",...}`.
pub fn labels(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        match self.inner.lock() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// Adds `n` to a counter.
    pub fn add(&self, c: Counter, pairs: &[(&str, &str)], n: u64) {
        if n == 0 {
            return;
        }
        let key = (c, labels(pairs));
        self.with(|i| *i.counters.entry(key).or_default() += n);
    }

    /// Adds one.
    pub fn inc(&self, c: Counter, pairs: &[(&str, &str)]) {
        self.add(c, pairs, 1);
    }

    /// Sets a gauge.
    pub fn set_gauge(&self, g: Gauge, pairs: &[(&str, &str)], v: f64) {
        let key = (g, labels(pairs));
        self.with(|i| {
            i.gauges.insert(key, v);
        });
    }

    /// Removes every labelled value of a gauge (for info-style gauges whose
    /// labels change).
    pub fn clear_gauge(&self, g: Gauge) {
        self.with(|i| i.gauges.retain(|(k, _), _| *k != g));
    }

    /// Current value of a counter (tests, readiness).
    pub fn get(&self, c: Counter, pairs: &[(&str, &str)]) -> u64 {
        let key = (c, labels(pairs));
        self.with(|i| i.counters.get(&key).copied().unwrap_or(0))
    }

    /// Records a request latency.
    pub fn observe_latency(&self, endpoint: &str, secs: f64) {
        self.with(|i| {
            i.latency
                .entry(endpoint.to_string())
                .or_default()
                .observe(secs)
        });
    }

    /// Records how long JetStream took to acknowledge a publish (cluster mode).
    pub fn observe_publish(&self, secs: f64) {
        self.with(|i| i.publish.observe(secs));
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        self.with(|i| {
            let mut out = String::new();
            for &c in Counter::ALL {
                let (name, help) = (c.name(), c.help());
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                for ((_, l), v) in i
                    .counters
                    .range((c, String::new())..)
                    .take_while(|((k, _), _)| *k == c)
                {
                    let _ = writeln!(out, "{name}{l} {v}");
                }
            }
            for &g in Gauge::ALL {
                let mut values = i
                    .gauges
                    .range((g, String::new())..)
                    .take_while(|((k, _), _)| *k == g)
                    .peekable();
                if values.peek().is_none() {
                    continue;
                }
                let (name, help) = (g.name(), g.help());
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
                for ((_, l), v) in values {
                    let _ = writeln!(out, "{name}{l} {v}");
                }
            }
            let name = "kadet_request_duration_seconds";
            let _ = writeln!(
                out,
                "# HELP {name} Time from request start to answer.\n# TYPE {name} histogram"
            );
            for (ep, h) in &i.latency {
                h.render(&mut out, name, &format!("endpoint=\"{}\"", escape(ep)));
            }
            if i.publish.count > 0 {
                let name = "kadet_jetstream_publish_seconds";
                let _ = writeln!(
                    out,
                    "# HELP {name} Time from publishing a batch to JetStream's acknowledgement (cluster mode).\n# TYPE {name} histogram"
                );
                i.publish.render(&mut out, name, "");
            }
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders() {
        let m = Metrics::default();
        m.inc(Counter::EventsRejected, &[("reason", "too-large")]);
        m.add(Counter::Matches, &[("rule", "A\"b")], 3);
        m.set_gauge(Gauge::JournalBacklogBytes, &[], 12.0);
        m.observe_latency("/v1/audit", 0.003);
        let t = m.render();
        assert!(
            t.contains("kadet_events_rejected_total{reason=\"too-large\"} 1"),
            "{t}"
        );
        assert!(t.contains("kadet_matches_total{rule=\"A\\\"b\"} 3"), "{t}");
        assert!(t.contains("kadet_journal_backlog_bytes 12"), "{t}");
        assert!(
            t.contains(
                "kadet_request_duration_seconds_bucket{endpoint=\"/v1/audit\",le=\"0.005\"} 1"
            ),
            "{t}"
        );
        assert_eq!(m.get(Counter::Matches, &[("rule", "A\"b")]), 3);
    }
}
