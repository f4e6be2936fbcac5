//! `kadet explain` shows the state a verdict depends on: the lead window a
//! `Follows` rule needs, the learning period and known values of a
//! `FirstSeen` rule, the dedup window; from the events before, or from a
//! `scan --state` file.

use crate::common::kadet_ok;
use std::ffi::OsStr;

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn explain(args: &[&str]) -> String {
    let out = kadet_ok(["explain"].iter().chain(args), None);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The block of output about the event on `line` of the file.
fn block(out: &str, line: u32) -> &str {
    let start = out
        .find(&format!(":{line} ("))
        .unwrap_or_else(|| panic!("no event on line {line}:\n{out}"));
    let rest = &out[start..];
    let end = rest[1..].find("\nevent ").map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

#[test]
fn a_followed_use_names_the_lead_window_it_joins_or_misses() {
    let out = explain(&[
        "--rule",
        "Kadet.ServiceAccount.MintedTokenUsed",
        &data("minted_token.jsonl"),
    ]);
    let used = block(&out, 5);
    assert!(
        used.contains(r#"follows Kadet.ServiceAccount.TokenMinted: its window for "JTI=6f3a2c1e-0b5d-4e8f-9a7c-1d2e3f4a5b6c" is open"#),
        "{used}"
    );
    assert!(used.contains("=> ALERT:"), "{used}");
    let never_minted = block(&out, 7);
    assert!(
        never_minted.contains(r#"no open window for "JTI=11111111-2222-4333-8444-555555555555""#),
        "{never_minted}"
    );
    assert!(
        never_minted.contains("=> no alert from this event"),
        "{never_minted}"
    );
}

#[test]
fn the_state_of_a_scan_is_where_explain_starts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.json");
    let mints = dir.path().join("mints.jsonl");
    let uses = dir.path().join("uses.jsonl");
    let text = std::fs::read_to_string(data("minted_token.jsonl")).expect("reads");
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&mints, lines[..2].join("\n")).expect("writes");
    std::fs::write(&uses, lines[2..].join("\n")).expect("writes");
    kadet_ok(
        [OsStr::new("scan"), OsStr::new("-q"), OsStr::new("--state")]
            .into_iter()
            .chain([state.as_os_str(), mints.as_os_str()]),
        None,
    );
    let rule = "Kadet.ServiceAccount.MintedTokenUsed";
    let uses = uses.to_string_lossy().into_owned();
    let without = explain(&["--rule", rule, &uses]);
    assert!(block(&without, 1).contains("no open window"), "{without}");
    let with = explain(&["--rule", rule, "--state", &state.to_string_lossy(), &uses]);
    assert!(block(&with, 1).contains("is open"), "{with}");
    assert!(block(&with, 1).contains("=> ALERT:"), "{with}");
}

#[test]
fn a_first_seen_match_shows_the_learning_period_and_the_known_value() {
    let out = explain(&[
        "--rule",
        "Kadet.ServiceAccount.NewPublicSourceAddress",
        &data("first_seen.jsonl"),
    ]);
    assert!(out.contains("still learning until"), "{out}");
    assert!(out.contains("learning (1440 min) over"), "{out}");
    assert!(out.contains("is known for"), "{out}");
    assert!(out.contains("was not seen for"), "{out}");
    assert!(out.contains("=> ALERT:"), "{out}");
}
