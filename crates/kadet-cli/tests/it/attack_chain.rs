//! A whole compromise, end to end: the built-in pack raises exactly the
//! alerts `tests/attack-chain/expected.tsv` lists (rule and severity), and
//! none for the benign control-plane traffic around them.

use std::collections::BTreeMap;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/attack-chain")
}

/// (rule, severity) → how many alerts.
type Tally = BTreeMap<(String, String), usize>;

fn expected() -> Tally {
    let text = std::fs::read_to_string(dir().join("expected.tsv")).expect("expected.tsv");
    let mut out = Tally::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let mut cells = line.split('\t');
        let rule = cells.next().expect("rule").to_string();
        let severity = cells.next().expect("severity").to_string();
        *out.entry((rule, severity)).or_default() += 1;
    }
    out
}

#[test]
fn the_built_in_pack_catches_every_step_and_nothing_else() {
    let mut got = Tally::new();
    for a in crate::common::scan_alerts([dir().join("compromise.jsonl")]) {
        let key = (
            a["rule_id"].as_str().unwrap_or_default().to_string(),
            a["severity"].as_str().unwrap_or_default().to_string(),
        );
        *got.entry(key).or_default() += 1;
    }
    assert_eq!(got, expected());
}
