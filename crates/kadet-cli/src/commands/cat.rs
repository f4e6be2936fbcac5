//! `kadet cat`: the canonical events rules see, as JSON lines.

use super::args::DecodeArgs;
use super::events::for_each_event;
use anyhow::Result;
use clap::Args;
use kadet_event::input::expand_inputs;
use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

/// `kadet cat` arguments.
#[derive(Args)]
pub struct CatArgs {
    /// Files, directories (read recursively) or `-` for standard input.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    #[command(flatten)]
    decode: DecodeArgs,
}

/// Prints every event with its log type, cluster, time and location.
pub fn run(a: CatArgs) -> Result<ExitCode> {
    let inputs = expand_inputs(&a.inputs, Default::default())?;
    let mut out = BufWriter::new(io::stdout().lock());
    let redact = !a.decode.no_redact;
    let mut events = 0u64;
    let mut skips = BTreeMap::<&'static str, u64>::new();
    for_each_event(
        inputs,
        a.decode.options(),
        |ev| {
            if redact {
                kadet_event::redact::redact_event(&mut ev.audit);
            }
            events += 1;
            let line = serde_json::json!({
                "log_type": ev.meta.log_type.name(),
                "cluster": ev.cluster(),
                "event_time": ev.time.map(|t| t.to_rfc3339()),
                "location": ev.meta.location.to_string(),
                "event": ev.audit.to_json(),
            });
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
            Ok(())
        },
        |s| {
            eprintln!("kadet: skipped {s}");
            *skips.entry(s.reason.name()).or_default() += 1;
        },
    )?;
    out.flush()?;
    let skipped: Vec<String> = skips.iter().map(|(k, v)| format!("{k} {v}")).collect();
    eprintln!(
        "kadet: {events} events{}",
        if skipped.is_empty() {
            String::new()
        } else {
            format!("; skipped: {}", skipped.join(", "))
        }
    );
    Ok(ExitCode::SUCCESS)
}
