//! `kadet man`: manual pages in roff, generated from the same definitions
//! that parse the command line (so they never drift from `--help`).

use anyhow::{Context, Result};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `kadet man`.
#[derive(Args, Debug)]
#[command(after_help = "\
Read it with `kadet man | man -l -`, or install the pages:
  kadet man --dir /usr/local/share/man/man1")]
pub struct ManArgs {
    /// Write a page per command (kadet.1, kadet-scan.1, ...) into this
    /// directory instead of printing kadet(1).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Prints kadet(1), or writes every page into `a.dir`.
pub fn run(a: ManArgs, cli: clap::Command) -> Result<ExitCode> {
    match a.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cli, &dir)
                .with_context(|| format!("cannot write the pages into {}", dir.display()))?;
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cli).render(&mut page)?;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&page)?;
            stdout.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
