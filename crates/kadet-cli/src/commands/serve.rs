//! `kadet serve`: the command line; the server lives in `kadet-server`.

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
}

/// Runs the server until SIGTERM or Ctrl-C.
pub fn run(a: ServeArgs) -> Result<ExitCode> {
    kadet_server::run(kadet_server::ServeOptions {
        config: a.config,
        insecure_listen: a.insecure_listen,
    })?;
    Ok(ExitCode::SUCCESS)
}
