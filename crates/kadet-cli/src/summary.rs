//! What kadet prints for people: the end-of-scan summary and `rules show`.

use kadet_engine::ScanReport;
use kadet_rules::explain::{exclusions, indicators, render};
use kadet_rules::rule::ContextValue;
use kadet_rules::{Rule, Severity};
use std::fmt::Write;
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
    rules: usize,
    threads: usize,
) {
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
        if r.signals > 0 {
            format!("; signals: {}", r.signals)
        } else {
            String::new()
        }
    );
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

fn table(rows: &[kadet_rules::explain::FieldRow], out: &mut String) {
    if rows.is_empty() {
        out.push_str("(none)\n");
        return;
    }
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(["Field", "Kind", "Values"]);
    for r in rows {
        t.add_row(vec![r.field.clone(), r.kind.clone(), r.values.clone()]);
    }
    let _ = writeln!(out, "{t}");
}

/// A rule presented like a detection catalog page.
pub fn show_rule(rule: &Rule) -> String {
    let mut o = String::new();
    let pf = kadet_rules::Prefilter::build(std::slice::from_ref(rule));
    let _ = writeln!(o, "{}\n", rule.display_name.as_deref().unwrap_or(&rule.id));
    let _ = writeln!(o, "RuleID       {}", rule.id);
    let _ = writeln!(
        o,
        "Status       {}{}",
        rule.status.as_deref().unwrap_or("-"),
        if rule.enabled { "" } else { " (disabled)" }
    );
    let _ = writeln!(o, "Severity     {}", rule.severity);
    let _ = writeln!(o, "Log types    {}", rule.log_types.join(", "));
    let _ = writeln!(o, "Tags         {}", rule.tags.join(", "));
    let _ = writeln!(
        o,
        "Dedup        {} minutes, threshold {}",
        rule.dedup_period_minutes, rule.threshold
    );
    if let Some(r) = &rule.reference {
        let _ = writeln!(o, "Reference    {r}");
    }
    let _ = writeln!(o, "Source       {}", rule.source);
    for (k, ids) in &rule.reports {
        let _ = writeln!(o, "Reports      {k}: {}", ids.join(", "));
    }
    if let Some(d) = &rule.description {
        let _ = writeln!(o, "\n{}", d.trim());
    }
    let _ = writeln!(o, "\nDetection logic\n");
    match pf.rule_literals.first().cloned().flatten() {
        Some(clauses) => {
            let text: Vec<String> = clauses
                .iter()
                .map(|c| format!("({})", c.join(" | ")))
                .collect();
            let _ = writeln!(o, "Prefilter: a record must contain {}", text.join(" and "));
        }
        None => {
            let _ = writeln!(o, "Prefilter: none (every record is evaluated)");
        }
    }
    let _ = writeln!(o, "{}", render(&rule.detection));
    if !rule.dynamic_severities.is_empty() {
        let _ = writeln!(o, "\nDynamic severity\n");
        for (sev, e) in &rule.dynamic_severities {
            let _ = writeln!(o, "{sev} when {}", render(e));
        }
    }
    let _ = writeln!(
        o,
        "\nExclusions (conditions under a top-level None: what the rule suppresses)\n"
    );
    table(&exclusions(&rule.detection), &mut o);
    let _ = writeln!(o, "\nIndicators (what the rule looks for)\n");
    table(&indicators(&rule.detection), &mut o);
    let _ = writeln!(o, "\nOutput fields\n");
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(["Field", "Source"]);
    t.add_row(vec![
        "title".to_string(),
        rule.title
            .as_ref()
            .map_or_else(|| "DisplayName".to_string(), |t| t.text.clone()),
    ]);
    t.add_row(vec![
        "dedup".to_string(),
        rule.dedup
            .as_ref()
            .map_or_else(|| "title".to_string(), |t| t.text.clone()),
    ]);
    for (k, v) in &rule.context {
        let src = match v {
            ContextValue::Path(p) => p.to_string(),
            ContextValue::Template(t) => format!("template {:?}", t.text),
            ContextValue::Literal(l) => format!("literal {l}"),
        };
        t.add_row(vec![k.clone(), src]);
    }
    let _ = writeln!(o, "{t}");
    if let Some(rb) = &rule.runbook {
        let _ = writeln!(o, "\nRunbook\n\n{}", rb.trim());
    }
    let _ = writeln!(o, "\nTests: {}", rule.tests.len());
    o
}

/// Peak resident memory of this process (Linux `VmHWM`), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
