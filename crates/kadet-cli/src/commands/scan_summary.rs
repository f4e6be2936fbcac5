//! The end-of-scan summary `kadet scan` prints on standard error.

use kadet_engine::ScanReport;
use kadet_rules::{Rule, Severity};
use std::time::Duration;

/// `1536` → `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// The summary on stderr at the end of a scan.
pub fn print_scan_summary(
    r: &ScanReport,
    files: usize,
    elapsed: Duration,
    rule_set: &[Rule],
    threads: usize,
) {
    let rules = rule_set.len();
    let s = &r.stats;
    let secs = elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "kadet: {} records ({}) from {} input(s), {} rules, {} thread(s), {:.2} s: {:.1} MB/s, {:.0} records/s",
        s.records,
        human_bytes(s.bytes),
        files,
        rules,
        threads,
        secs,
        s.bytes as f64 / 1e6 / secs,
        s.records as f64 / secs
    );
    let by_type: Vec<String> = s
        .events_by_type
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    eprintln!(
        "  events parsed: {}",
        if by_type.is_empty() {
            "none".into()
        } else {
            by_type.join(", ")
        }
    );
    if s.records_prefiltered + s.events_prefiltered > 0 {
        eprintln!(
            "  passed over by the prefilter, unparsed: {} records, {} batched events",
            s.records_prefiltered, s.events_prefiltered
        );
    }
    if !s.skipped.is_empty() {
        let v: Vec<String> = s.skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
        eprintln!("  skipped: {}", v.join(", "));
    }
    if !s.ignored.is_empty() {
        let v: Vec<String> = s
            .ignored
            .iter()
            .map(|(k, v)| format!("{} {v}", k.name()))
            .collect();
        eprintln!("  ignored: {}", v.join(", "));
    }
    let alerts: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .filter_map(|sev| r.alerts_by_severity.get(sev).map(|n| format!("{sev} {n}")))
        .collect();
    let total: u64 = r.alerts_by_severity.values().sum();
    eprintln!(
        "  matches: {}; alerts: {}{}{}",
        s.matches,
        total,
        if alerts.is_empty() {
            String::new()
        } else {
            format!(" ({})", alerts.join(", "))
        },
        if r.alert_stats.signals > 0 {
            format!("; signals: {}", r.alert_stats.signals)
        } else {
            String::new()
        }
    );
    if r.alert_stats.known_values > 0 {
        eprintln!(
            "  matches of FirstSeen rules with a known value, or while learning (dropped): {}",
            r.alert_stats.known_values
        );
    }
    if r.alert_stats.unfollowed > 0 {
        eprintln!(
            "  matches of Follows rules with no open lead (dropped): {}",
            r.alert_stats.unfollowed
        );
    }
    if r.alert_stats.evicted > 0 {
        eprintln!(
            "  windows closed early, their rule at --max-keys-per-rule: {}",
            r.alert_stats.evicted
        );
    }
    if !s.suppressed.is_empty() {
        let v: Vec<String> = s
            .suppressed
            .iter()
            .filter_map(|((r, x), n)| {
                let rule = rule_set.get(*r)?;
                let label = rule.exclusions.get(*x).map_or("?", |e| e.label.as_str());
                Some(format!("{} by {label} {n}", rule.id))
            })
            .collect();
        eprintln!("  suppressed by tuning: {}", v.join(", "));
    }
    if let Some(mib) = peak_rss_mib() {
        eprintln!("  peak memory: {mib:.1} MiB");
    }
    if r.alert_stats.late_matches > 0 {
        eprintln!(
            "  matches later than the lateness bound: {}",
            r.alert_stats.late_matches
        );
    }
}

/// Peak resident memory of this process (Linux `VmHWM`), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
