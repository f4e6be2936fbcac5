//! What several of these tests share: running `kadet` (`kadet scan` for
//! JSON lines).

use assert_cmd::Command;
use serde_json::Value;
use std::ffi::OsStr;

/// Runs `kadet` with `args` (and `stdin`, if any), fails the test unless it
/// succeeds, and returns what it wrote.
pub fn kadet_ok<I, S>(args: I, stdin: Option<&str>) -> std::process::Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::cargo_bin("kadet").expect("binary builds");
    cmd.env_remove("RUST_LOG").args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input.to_string());
    }
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `kadet scan -q --format jsonl` with `args` (options and inputs),
/// fails the test unless it succeeds, and returns the alerts it wrote.
pub fn scan_alerts<I, S>(args: I) -> Vec<Value>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let scan = ["scan", "-q", "--format", "jsonl"].map(OsStr::new);
    let args: Vec<std::ffi::OsString> = scan
        .iter()
        .map(|a| a.to_os_string())
        .chain(args.into_iter().map(|a| a.as_ref().to_os_string()))
        .collect();
    json_lines(&kadet_ok(args, None).stdout)
}

/// Each line of `out` as JSON.
pub fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}
