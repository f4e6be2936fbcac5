//! `kadet scan`: audit logs in, deduplicated alerts (or every match) out.

use super::args::{DecodeArgs, RuleSource};
use super::scan_summary::print_scan_summary;
use super::EXIT_FINDINGS;
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use kadet_engine::pipeline::ScanOptions;
use kadet_engine::{Emit, JsonLinesSink, OcsfSink, Sink, TableSink};
use kadet_event::input::{expand_inputs, ByteCounter, Inputs, Window};
use kadet_event::{ReadOptions, Skip};
use kadet_rules::Rule;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `kadet scan` arguments.
#[derive(Args)]
pub struct ScanArgs {
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
    output: Option<std::path::PathBuf>,
    /// Worker threads (default: number of cores).
    #[arg(long, short = 'j')]
    threads: Option<usize>,
    /// Evaluate every record fully (the prefilter is on by default).
    #[arg(long)]
    no_prefilter: bool,
    /// Event-time disorder handled exactly, in seconds (serve's
    /// `[detection] lateness_secs`).
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    lateness_secs: u64,
    /// Open windows (dedup keys, followed tokens, first-seen values,
    /// correlation state) one rule may hold; at the limit a rule closes its
    /// window that would close first to open a new one (serve's
    /// `[detection] max_keys_per_rule`).
    #[arg(long, default_value_t = kadet_engine::DEFAULT_MAX_KEYS_PER_RULE, value_name = "N")]
    max_keys_per_rule: usize,
    /// Deprecated: the same bound in minutes; use --lateness-secs.
    #[arg(
        long,
        value_name = "MINUTES",
        hide = true,
        conflicts_with = "lateness_secs"
    )]
    lateness: Option<u64>,
    /// Keep detection state in FILE across runs: open alert windows, minted
    /// tokens being followed, correlations in progress. Read at the start
    /// when it exists, written at the end. Alerts are then raised as a
    /// window reaches its threshold (as `kadet serve` does), so a window
    /// that spans two runs alerts once. For daily batch scans.
    #[arg(long, value_name = "FILE")]
    state: Option<std::path::PathBuf>,
    /// Exit with status 1 when an alert (or, with `--emit matches`, a match)
    /// was written; for CI jobs and scripts.
    #[arg(long)]
    fail_on_alerts: bool,
    /// No summary or warnings on standard error.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Only events at or after this time (RFC 3339, or a date
    /// `YYYY-MM-DD` for midnight UTC); objects whose key names an earlier
    /// hour or day are not read.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only events before this time (as `--since`).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Progress bar on standard error when it is a terminal.
    #[arg(long, value_enum, default_value = "auto")]
    progress: ProgressArg,
}

#[derive(Copy, Clone, ValueEnum, PartialEq, Eq)]
enum FormatArg {
    /// One JSON object per line.
    Jsonl,
    /// A table for people.
    Table,
    /// OCSF Detection Findings (class 2004), one per line.
    Ocsf,
}

#[derive(Copy, Clone, ValueEnum, PartialEq, Eq)]
enum EmitArg {
    /// Deduplicated alerts.
    Alerts,
    /// Every (event, rule) match.
    Matches,
}

#[derive(Copy, Clone, ValueEnum, PartialEq, Eq)]
enum ProgressArg {
    /// On a terminal, unless `--quiet`.
    Auto,
    /// Never.
    Never,
}

/// Scans the inputs and writes alerts or matches.
pub fn run(a: ScanArgs) -> Result<ExitCode> {
    let set = a.source.load()?;
    let window = window(&a)?;
    let inputs = expand_inputs(&a.inputs, window)?;
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let opts = ScanOptions {
        threads,
        decode: a.decode.options(),
        read: ReadOptions::default(),
        redact: !a.decode.no_redact,
        prefilter: !a.no_prefilter,
        window,
    };
    let to_terminal = a.output.is_none() && io::stdout().is_terminal();
    let format = a.format.unwrap_or(if to_terminal {
        FormatArg::Table
    } else {
        FormatArg::Jsonl
    });
    if format == FormatArg::Ocsf && a.emit == EmitArg::Matches {
        bail!("--format ocsf writes alerts; use --format jsonl with --emit matches");
    }
    let out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };
    let mut sink = make_sink(format, out, &set.rules, to_terminal);
    let emit = match a.emit {
        EmitArg::Matches => Emit::Matches,
        EmitArg::Alerts => Emit::Alerts,
    };
    if emit == Emit::Matches && a.state.is_some() {
        anyhow::bail!("--state keeps alert state: it goes with --emit alerts, not matches");
    }
    let counter = Arc::new(ByteCounter::default());
    let progress = (a.progress == ProgressArg::Auto && !a.quiet && io::stderr().is_terminal())
        .then(|| Progress::start(&inputs, counter.clone()));
    let mut reporter = SkipReporter {
        shown: 0,
        quiet: a.quiet,
    };
    let started = Instant::now();
    let incomplete = inputs.incomplete();
    let report = kadet_engine::scan(
        inputs,
        &set.rules,
        &opts,
        kadet_engine::Alerting {
            emit,
            lateness: lateness(&a),
            state: a.state.clone(),
            max_keys_per_rule: a.max_keys_per_rule,
        },
        sink.as_mut(),
        &mut |s| reporter.report(s),
        counter,
    );
    if let Some(p) = progress {
        p.finish();
    }
    let report = report.context("writing output")?;
    if !a.quiet {
        print_scan_summary(
            &report,
            report.stats.inputs as usize,
            started.elapsed(),
            &set.rules,
            threads,
        );
    }
    if incomplete.load(std::sync::atomic::Ordering::Acquire) {
        anyhow::bail!(
            "the scan is incomplete: listing object storage failed part way (see above), and the objects after that point were not read"
        );
    }
    if holds_no_audit_event(&report.stats) {
        anyhow::bail!(
            "none of the {} record(s) read is an audit event (every one was skipped: see above); \
             is this the right file? kadet reads kube-apiserver audit logs, EKS, AKS, GKE and \
             Panther records",
            report.stats.records
        );
    }
    let found = match emit {
        Emit::Alerts => report.alerts_by_severity.values().sum::<u64>() > 0,
        Emit::Matches => report.stats.matches > 0,
    };
    Ok(if a.fail_on_alerts && found {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}

/// True when the input held records and not one was an audit event: each
/// was skipped (malformed, another shape). Records the prefilter passed
/// over, and records ignored on purpose (CloudWatch control messages), are
/// audit log and do not count against it; an empty input is not an error.
fn holds_no_audit_event(stats: &kadet_engine::ScanStats) -> bool {
    use kadet_event::SkipReason as R;
    // Only records of another shape say "wrong file": an audit log whose
    // records were too large or unreadable is a real audit log.
    let of_another_shape = |r: &R| {
        matches!(
            r,
            R::MalformedJson | R::UnknownShape | R::InvalidUtf8 | R::BadEncoding
        )
    };
    stats.records > 0
        && stats.events() == 0
        && stats.records_prefiltered == 0
        && stats.events_prefiltered == 0
        && stats.ignored.is_empty()
        && !stats.skipped.is_empty()
        && stats.skipped.keys().all(of_another_shape)
}

fn make_sink<'r>(
    format: FormatArg,
    out: Box<dyn Write>,
    rules: &'r [Rule],
    to_terminal: bool,
) -> Box<dyn Sink + 'r> {
    match format {
        FormatArg::Jsonl => Box::new(JsonLinesSink::new(out)),
        FormatArg::Ocsf => Box::new(OcsfSink::new(out, rules)),
        FormatArg::Table => {
            // On a terminal comfy-table finds the width; elsewhere $COLUMNS or 80.
            let width = if to_terminal {
                None
            } else {
                Some(table_width().unwrap_or(80))
            };
            Box::new(TableSink::new(out, to_terminal, width))
        }
    }
}

/// The table width `$COLUMNS` asks for, when set.
pub fn table_width() -> Option<u16> {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok())
}

/// Prints skip diagnostics, the first 20 in full.
struct SkipReporter {
    shown: usize,
    quiet: bool,
}

impl SkipReporter {
    const LIMIT: usize = 20;
    fn report(&mut self, s: &Skip) {
        if self.quiet {
            return;
        }
        self.shown += 1;
        if self.shown <= Self::LIMIT {
            eprintln!("kadet: skipped {s}");
        } else if self.shown == Self::LIMIT + 1 {
            eprintln!("kadet: more records skipped; counts are in the summary");
        }
    }
}

/// A progress bar on standard error, fed from the byte counter.
struct Progress {
    bar: indicatif::ProgressBar,
    stop: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(inputs: &Inputs, counter: Arc<ByteCounter>) -> Progress {
        let total: Option<u64> = inputs.known_size();
        let bar = match total {
            Some(t) => {
                let b = indicatif::ProgressBar::new(t);
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                b
            }
            None => {
                let b = indicatif::ProgressBar::new_spinner();
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {bytes} read, {bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                );
                b
            }
        };
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        let stop = Arc::new(AtomicBool::new(false));
        let (b2, s2) = (bar.clone(), stop.clone());
        let ticker = std::thread::spawn(move || {
            while !s2.load(Ordering::Relaxed) {
                b2.set_position(counter.get());
                b2.tick();
                std::thread::sleep(Duration::from_millis(150));
            }
        });
        Progress {
            bar,
            stop,
            ticker: Some(ticker),
        }
    }

    fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
    }
}

/// The time window `--since` and `--until` give.
fn window(a: &ScanArgs) -> Result<Window> {
    let bound = |flag: &str, v: &Option<String>| -> Result<Option<kadet_event::EventTime>> {
        v.as_deref()
            .map(|t| {
                kadet_event::EventTime::parse_bound(t).with_context(|| {
                    format!("{flag} {t:?}: not a time (RFC 3339, like 2024-05-01T10:00:00Z, or a date, like 2024-05-01)")
                })
            })
            .transpose()
    };
    let w = Window {
        since: bound("--since", &a.since)?,
        until: bound("--until", &a.until)?,
    };
    if let (Some(s), Some(u)) = (w.since, w.until) {
        if s >= u {
            bail!("--since must come before --until");
        }
    }
    Ok(w)
}

/// The lateness bound: `--lateness-secs`, or the deprecated `--lateness`
/// in minutes (with a warning).
fn lateness(a: &ScanArgs) -> std::time::Duration {
    match a.lateness {
        Some(minutes) => {
            if !a.quiet {
                eprintln!(
                    "kadet: --lateness MINUTES is deprecated; use --lateness-secs {}",
                    minutes.saturating_mul(60)
                );
            }
            std::time::Duration::from_secs(minutes.saturating_mul(60))
        }
        None => std::time::Duration::from_secs(a.lateness_secs),
    }
}
