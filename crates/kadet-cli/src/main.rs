//! `kadet`: detection for Kubernetes audit logs. This binary only parses the
//! command line and dispatches; each subcommand lives in `commands/<name>.rs`
//! with the arguments it owns, and the work is done by the library crates.

mod commands;

use clap::{CommandFactory, Parser, Subcommand};
use commands::{cat, completions, explain, man, policy, rules, scan, serve, test};
use std::process::ExitCode;

/// Detection engine for Kubernetes audit logs: scan log files, serve live
/// webhook and cloud feeds, test rules offline.
///
/// Exit status: 0 when the command did its job, 1 for findings the command
/// was asked to fail on (failed rule tests, alerts with `scan
/// --fail-on-alerts`), 2 for an error. A closed output pipe (`kadet ... |
/// head`) is a normal way to stop reading: kadet then exits 0, quietly.
#[derive(Parser)]
#[command(name = "kadet", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan audit logs and print deduplicated alerts (or every match).
    Scan(scan::ScanArgs),
    /// Print the canonical events kadet reads from audit logs, as JSON lines.
    Cat(cat::CatArgs),
    /// Run rules' unit tests offline.
    Test(test::TestArgs),
    /// List or show rules.
    Rules {
        #[command(subcommand)]
        command: rules::RulesCommand,
    },
    /// Show, condition by condition, why an event matches a rule or not.
    Explain(explain::ExplainArgs),
    /// Print the smallest audit Policy under which every loaded rule can fire,
    /// or, with --check, the rules a given Policy leaves blind.
    Policy(policy::PolicyArgs),
    /// Receive and pull audit events live (API server webhook; EKS, AKS and GKE log services) and alert in real time.
    Serve(serve::ServeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print the manual page, or write one per command into a directory.
    Man(man::ManArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(a) => scan::run(a),
        Command::Cat(a) => cat::run(a),
        Command::Test(a) => test::run(a),
        Command::Rules { command } => rules::run(command),
        Command::Explain(a) => explain::run(a),
        Command::Policy(a) => policy::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Completions(a) => completions::run(a, Cli::command()),
        Command::Man(a) => man::run(a, Cli::command()),
    };
    commands::exit_code(result)
}
