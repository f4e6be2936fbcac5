//! `kadet`: detection for Kubernetes audit logs. This binary only parses the
//! command line and wires the library crates together.

mod commands;
mod serve;
mod summary;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Detection engine for Kubernetes audit logs.
#[derive(Parser)]
#[command(name = "kadet", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan audit logs and print deduplicated alerts (or every match).
    Scan(ScanArgs),
    /// Print the canonical events kadet reads from audit logs, as JSON lines.
    Cat(CatArgs),
    /// Run rules' unit tests offline.
    Test(TestArgs),
    /// List or show rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Show, condition by condition, why an event matches a rule or not.
    Explain(ExplainArgs),
    /// Receive audit events over HTTPS (API server webhook, EKS Firehose, AKS) and alert in real time.
    Serve(serve::ServeArgs),
}

#[derive(Subcommand)]
enum RulesCommand {
    /// One line per rule: id, severity, log types, status, tests.
    List(RuleSource),
    /// A rule in words: metadata, logic, exclusions, indicators, outputs.
    Show {
        /// RuleID.
        id: String,
        #[command(flatten)]
        source: RuleSource,
    },
}

#[derive(Args, Clone)]
struct RuleSource {
    /// Rule files or directories (default: the built-in pack).
    #[arg(long = "rules", short = 'r', value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Also run rules with `Enabled: false`.
    #[arg(long)]
    include_disabled: bool,
}

#[derive(Args, Clone)]
struct DecodeArgs {
    /// Input format: auto-detect per record, or force one decoder.
    #[arg(long, value_enum, default_value = "auto")]
    input_format: InputFormatArg,
    /// Largest single event accepted, in bytes.
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES")]
    max_event_bytes: usize,
    /// Print secrets (minted tokens, Secret data) instead of redacting them.
    #[arg(long)]
    no_redact: bool,
}

#[derive(Copy, Clone, ValueEnum)]
enum InputFormatArg {
    Auto,
    K8s,
    EksCloudwatch,
    Aks,
    Gke,
    Panther,
}

#[derive(Copy, Clone, ValueEnum, PartialEq, Eq)]
enum FormatArg {
    Jsonl,
    Table,
    Ocsf,
}

#[derive(Copy, Clone, ValueEnum, PartialEq, Eq)]
enum EmitArg {
    Alerts,
    Matches,
}

#[derive(Args)]
struct ScanArgs {
    /// Files, directories (read recursively) or `-` for standard input.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    #[command(flatten)]
    source: RuleSource,
    #[command(flatten)]
    decode: DecodeArgs,
    /// Output format (default: table on a terminal, else jsonl).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Deduplicated alerts, or every (event, rule) match.
    #[arg(long, value_enum, default_value = "alerts")]
    emit: EmitArg,
    /// Write output here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Worker threads (default: number of cores).
    #[arg(long, short = 'j')]
    threads: Option<usize>,
    /// Evaluate every record fully (the prefilter is on by default).
    #[arg(long)]
    no_prefilter: bool,
    /// Event-time disorder handled exactly, in minutes.
    #[arg(long, default_value_t = 10, value_name = "MINUTES")]
    lateness: u32,
    /// No summary or warnings on standard error.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Progress bar on a terminal.
    #[arg(long, value_enum, default_value = "auto")]
    progress: ProgressArg,
}

#[derive(Copy, Clone, ValueEnum, PartialEq, Eq)]
enum ProgressArg {
    Auto,
    Never,
}

#[derive(Args)]
struct CatArgs {
    /// Files, directories or `-`.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    #[command(flatten)]
    decode: DecodeArgs,
}

#[derive(Args)]
struct TestArgs {
    /// Rule files or directories (default: the built-in pack).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Only rules whose RuleID contains this, or that have this tag.
    #[arg(long)]
    filter: Option<String>,
    /// Print only failures and the summary.
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Args)]
struct ExplainArgs {
    /// RuleID.
    #[arg(long)]
    rule: String,
    /// A file with one event (any supported shape); `-` for stdin.
    event_file: String,
    #[command(flatten)]
    source: RuleSource,
    #[command(flatten)]
    decode: DecodeArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(a) => commands::scan(a),
        Command::Cat(a) => commands::cat(a),
        Command::Test(a) => commands::test(a),
        Command::Rules {
            command: RulesCommand::List(s),
        } => commands::rules_list(s),
        Command::Rules {
            command: RulesCommand::Show { id, source },
        } => commands::rules_show(&id, source),
        Command::Explain(a) => commands::explain(a),
        Command::Serve(a) => serve::serve(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kadet: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
