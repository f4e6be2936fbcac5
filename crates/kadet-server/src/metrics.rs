//! Prometheus text exposition, written by hand: counters with labels, a few
//! gauges and one latency histogram.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Latency histogram bucket bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// (name, help) of every counter family.
const COUNTERS: &[(&str, &str)] = &[
    (
        "kadet_requests_total",
        "HTTP requests by endpoint and status code.",
    ),
    (
        "kadet_unauthenticated_total",
        "Requests refused for missing or wrong credentials.",
    ),
    (
        "kadet_events_received_total",
        "Events received, by endpoint.",
    ),
    (
        "kadet_events_accepted_total",
        "Events journaled, by endpoint.",
    ),
    ("kadet_events_rejected_total", "Events refused, by reason."),
    (
        "kadet_batches_rejected_total",
        "Requests refused whole, by reason.",
    ),
    (
        "kadet_tls_handshake_failures_total",
        "TLS handshakes that failed or timed out.",
    ),
    (
        "kadet_journal_appended_bytes_total",
        "Bytes appended to the journal.",
    ),
    (
        "kadet_events_evaluated_total",
        "Events decoded and evaluated, by log type.",
    ),
    (
        "kadet_records_skipped_total",
        "Journaled records the decoder skipped, by reason.",
    ),
    ("kadet_matches_total", "Rule matches, by rule."),
    (
        "kadet_alerts_total",
        "Alerts raised (threshold reached), by rule.",
    ),
    ("kadet_sink_deliveries_total", "Alerts delivered, by sink."),
    (
        "kadet_sink_failures_total",
        "Failed delivery attempts, by sink.",
    ),
    (
        "kadet_sink_dead_letters_total",
        "Alerts written to the dead-letter file, by sink.",
    ),
];

#[derive(Default)]
struct Hist {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    counters: BTreeMap<(&'static str, String), u64>,
    gauges: BTreeMap<&'static str, f64>,
    latency: BTreeMap<String, Hist>,
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
    pub fn add(&self, name: &'static str, pairs: &[(&str, &str)], n: u64) {
        if n == 0 {
            return;
        }
        let key = (name, labels(pairs));
        self.with(|i| *i.counters.entry(key).or_default() += n);
    }

    /// Adds one.
    pub fn inc(&self, name: &'static str, pairs: &[(&str, &str)]) {
        self.add(name, pairs, 1);
    }

    /// Sets a gauge.
    pub fn set_gauge(&self, name: &'static str, v: f64) {
        self.with(|i| {
            i.gauges.insert(name, v);
        });
    }

    /// Current value of a counter (tests, readiness).
    pub fn get(&self, name: &'static str, pairs: &[(&str, &str)]) -> u64 {
        let key = (name, labels(pairs));
        self.with(|i| i.counters.get(&key).copied().unwrap_or(0))
    }

    /// Records a request latency.
    pub fn observe_latency(&self, endpoint: &str, secs: f64) {
        self.with(|i| {
            let h = i.latency.entry(endpoint.to_string()).or_default();
            for (b, bound) in h.buckets.iter_mut().zip(BUCKETS) {
                if secs <= bound {
                    *b += 1;
                }
            }
            h.count += 1;
            h.sum += secs;
        });
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        self.with(|i| {
            let mut out = String::new();
            for (name, help) in COUNTERS {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                for ((n, l), v) in i.counters.range((*name, String::new())..) {
                    if n != name {
                        break;
                    }
                    let _ = writeln!(out, "{name}{l} {v}");
                }
            }
            for (name, v) in &i.gauges {
                let _ = writeln!(out, "# TYPE {name} gauge\n{name} {v}");
            }
            let name = "kadet_request_duration_seconds";
            let _ = writeln!(
                out,
                "# HELP {name} Time from request start to answer.\n# TYPE {name} histogram"
            );
            for (ep, h) in &i.latency {
                let ep = escape(ep);
                for (b, bound) in h.buckets.iter().zip(BUCKETS) {
                    let _ = writeln!(out, "{name}_bucket{{endpoint=\"{ep}\",le=\"{bound}\"}} {b}");
                }
                let _ = writeln!(
                    out,
                    "{name}_bucket{{endpoint=\"{ep}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(out, "{name}_sum{{endpoint=\"{ep}\"}} {}", h.sum);
                let _ = writeln!(out, "{name}_count{{endpoint=\"{ep}\"}} {}", h.count);
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
        m.inc("kadet_events_rejected_total", &[("reason", "too-large")]);
        m.add("kadet_matches_total", &[("rule", "A\"b")], 3);
        m.set_gauge("kadet_journal_backlog_bytes", 12.0);
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
        assert_eq!(m.get("kadet_matches_total", &[("rule", "A\"b")]), 3);
    }
}
