//! `kadet completions SHELL`: the shell completion script, generated from
//! the same definitions that parse the command line.

use anyhow::Result;
use clap::Args;
use clap_complete::Shell;
use std::io::Write;
use std::process::ExitCode;

/// Arguments of `kadet completions`.
#[derive(Args, Debug)]
#[command(after_help = "\
Install, for example:
  bash: kadet completions bash > ~/.local/share/bash-completion/completions/kadet
  zsh:  kadet completions zsh > \"${fpath[1]}/_kadet\"
  fish: kadet completions fish > ~/.config/fish/completions/kadet.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Prints the completion script for `a.shell` to standard output.
pub fn run(a: CompletionsArgs, mut cli: clap::Command) -> Result<ExitCode> {
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cli, "kadet", &mut out);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
