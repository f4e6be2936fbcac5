//! Golden parity: every row of Panther's own Kubernetes rule tests goes
//! through the same path as `kadet scan --emit matches` (decode, prefilter,
//! parse, evaluate the whole built-in pack), and must give Panther's verdict,
//! title, dedup string and severity, unless `rules/PARITY.md` lists the row
//! with the reason kadet deliberately differs.

use kadet_engine::pipeline::{Evaluator, ScanOptions};
use kadet_event::Chunk;
use std::collections::BTreeMap;
use std::sync::Arc;

const GOLDEN: &str = include_str!("../data/panther-golden/golden.jsonl");
const PARITY: &str = include_str!("../../../../rules/PARITY.md");

/// `| rule_id | test name | reason |` rows of PARITY.md.
fn exceptions() -> BTreeMap<(String, String), String> {
    PARITY
        .lines()
        .filter(|l| {
            l.starts_with('|')
                && !l.starts_with("|--")
                && !l.starts_with("| RuleID")
                && !l.starts_with("|---")
        })
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            if cells.len() < 3 || cells[0].is_empty() || cells[0].starts_with('-') {
                return None;
            }
            let unquote = |s: &str| s.trim_matches('`').to_string();
            Some(((unquote(cells[0]), unquote(cells[1])), cells[2].to_string()))
        })
        .collect()
}

#[test]
fn golden_rows_match_panther() {
    let mut set = kadet_rules::load_builtin().unwrap_or_else(|e| panic!("built-in pack: {e:?}"));
    set.retain_enabled(true);
    let opts = ScanOptions::default();
    let eval = Evaluator::new(&set.rules, &opts);
    let exceptions = exceptions();
    let mut used = BTreeMap::new();
    let mut diffs = Vec::new();
    let mut rows = 0;
    let mut missing_rules = std::collections::BTreeSet::new();
    for line in GOLDEN.lines().filter(|l| !l.trim().is_empty()) {
        rows += 1;
        let row: serde_json::Value = serde_json::from_str(line).expect("golden row is JSON");
        let rule_id = row["rule_id"].as_str().unwrap_or_default().to_string();
        let test = row["test_name"].as_str().unwrap_or_default().to_string();
        if set.get(&rule_id).is_none() {
            missing_rules.insert(rule_id.clone());
            continue;
        }
        // Panther ran each test log as the row's log type; a log that does not
        // carry p_log_type gets it, so it is decoded the way Panther read it.
        let mut log_value = row["log"].clone();
        if let Some(obj) = log_value.as_object_mut() {
            if !obj.contains_key("p_log_type") {
                obj.insert("p_log_type".into(), row["log_type"].clone());
            }
        }
        let log = serde_json::to_vec(&log_value).expect("log serialises");
        let res = eval.process(Chunk::Document {
            file: Arc::from("golden.jsonl"),
            line: rows,
            data: log,
        });
        let got = res.matches.iter().find(|m| set.rules[m.rule].id == rule_id);
        let expected = row["expected"].as_bool().unwrap_or(false);
        let mut problems = Vec::new();
        match (expected, got) {
            (true, None) => problems.push("expected a match, got none".to_string()),
            (false, Some(m)) => {
                problems.push(format!("expected no match, got {:?}", m.outcome.title))
            }
            (true, Some(m)) => {
                let want = |k: &str| row[k].as_str().unwrap_or_default().to_string();
                // kadet trims titles (PARITY.md, "Titles are trimmed").
                if m.outcome.title != want("title").trim() {
                    problems.push(format!(
                        "title: want {:?}, got {:?}",
                        want("title"),
                        m.outcome.title
                    ));
                }
                // A dedup string that defaults to the title is trimmed with it.
                if m.outcome.dedup != want("dedup").trim() {
                    problems.push(format!(
                        "dedup: want {:?}, got {:?}",
                        want("dedup"),
                        m.outcome.dedup
                    ));
                }
                if m.outcome.severity.name() != want("severity") {
                    problems.push(format!(
                        "severity: want {}, got {}",
                        want("severity"),
                        m.outcome.severity
                    ));
                }
            }
            (false, None) => {}
        }
        let key = (rule_id.clone(), test.clone());
        if let Some(reason) = exceptions.get(&key) {
            used.insert(key.clone(), !problems.is_empty());
            if !problems.is_empty() {
                continue;
            }
            let _ = reason;
        }
        if !problems.is_empty() {
            diffs.push(format!("{rule_id} / {test}: {}", problems.join("; ")));
        }
    }
    assert_eq!(rows, 287, "the golden set has 287 rows");
    let stale: Vec<String> = exceptions
        .keys()
        .filter(|k| !used.get(*k).copied().unwrap_or(false))
        .map(|(r, t)| format!("{r} / {t}"))
        .collect();
    let mut report = String::new();
    if !missing_rules.is_empty() {
        report += &format!(
            "rules missing from the pack ({}): {:?}\n",
            missing_rules.len(),
            missing_rules
        );
    }
    if !diffs.is_empty() {
        report += &format!(
            "{} rows differ from Panther:\n  {}\n",
            diffs.len(),
            diffs.join("\n  ")
        );
    }
    if !stale.is_empty() {
        report += &format!(
            "PARITY.md lists rows that agree with Panther or do not exist (remove them):\n  {}\n",
            stale.join("\n  ")
        );
    }
    assert!(report.is_empty(), "{report}");
}
