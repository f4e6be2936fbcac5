//! What several of these tests share: running `kadet scan` for JSON lines.

use assert_cmd::Command;
use serde_json::Value;
use std::ffi::OsStr;

/// Runs `kadet scan -q --format jsonl` with `args` (options and inputs),
/// fails the test unless it succeeds, and returns the alerts it wrote.
pub fn scan_alerts<I, S>(args: I) -> Vec<Value>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::cargo_bin("kadet")
        .expect("binary builds")
        .env_remove("RUST_LOG")
        .args(["scan", "-q", "--format", "jsonl"])
        .args(args)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out.stdout)
}

/// Each line of `out` as JSON.
pub fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}
