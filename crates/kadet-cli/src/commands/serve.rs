//! `kadet serve`: the command line; the server lives in `kadet-server`.

use super::EXIT_FINDINGS;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// `kadet serve` arguments.
#[derive(Args)]
pub struct ServeArgs {
    /// Configuration file (TOML); without it: 127.0.0.1:9765, the built-in
    /// rules, state in ./kadet-data/, alerts as JSON lines on standard output.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Allow listening on a non-loopback address without TLS and client authentication.
    #[arg(long)]
    pub insecure_listen: bool,
    /// Check the configuration, rules, TLS files, token and key files and
    /// sinks without starting; list every problem with its file and line
    /// (exit status 1 when there is one).
    #[arg(long)]
    pub check_config: bool,
}

/// Runs the server until SIGTERM or Ctrl-C, or checks its configuration.
pub fn run(a: ServeArgs) -> Result<ExitCode> {
    let opts = kadet_server::ServeOptions {
        config: a.config,
        insecure_listen: a.insecure_listen,
    };
    if a.check_config {
        return Ok(check(&opts));
    }
    kadet_server::run(opts)?;
    Ok(ExitCode::SUCCESS)
}

fn check(opts: &kadet_server::ServeOptions) -> ExitCode {
    match kadet_server::check::check(opts) {
        Ok(c) => {
            println!(
                "configuration OK: {} rules, sinks: {}",
                c.rules,
                c.sinks.join(", ")
            );
            for s in &c.sources {
                println!("source {s}");
            }
            for w in &c.warnings {
                eprintln!("kadet: config warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for p in &problems {
                eprintln!("kadet: config problem: {p}");
            }
            eprintln!("kadet: {} problem(s); not started", problems.len());
            ExitCode::from(EXIT_FINDINGS)
        }
    }
}
