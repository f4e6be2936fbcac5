//! The subcommands.

use crate::summary::print_scan_summary;
use crate::{
    CatArgs, DecodeArgs, EmitArg, ExplainArgs, FormatArg, InputFormatArg, ProgressArg, RuleSource,
    ScanArgs, TestArgs,
};
use anyhow::{bail, Context, Result};
use kadet_engine::pipeline::ScanOptions;
use kadet_engine::{Emit, JsonLinesSink, OcsfSink, Sink, TableSink};
use kadet_event::input::{expand_inputs, open_input, ByteCounter, InputFile};
use kadet_event::{
    Chunk, ChunkReader, CollectSink, DecodeOptions, Decoder, InputFormat, Location, ReadOptions,
    Skip,
};
use kadet_rules::RuleSet;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn input_format(f: InputFormatArg) -> InputFormat {
    match f {
        InputFormatArg::Auto => InputFormat::Auto,
        InputFormatArg::K8s => InputFormat::K8s,
        InputFormatArg::EksCloudwatch => InputFormat::EksCloudwatch,
        InputFormatArg::Aks => InputFormat::Aks,
        InputFormatArg::Gke => InputFormat::Gke,
        InputFormatArg::Panther => InputFormat::Panther,
    }
}

fn decode_options(d: &DecodeArgs) -> DecodeOptions {
    DecodeOptions {
        format: input_format(d.input_format),
        max_event_bytes: d.max_event_bytes.max(1),
    }
}

/// Loads rules, printing every problem; fails before any event is read.
fn load_rules(src: &RuleSource) -> Result<RuleSet> {
    let loaded = if src.rules.is_empty() {
        kadet_rules::load_builtin()
    } else {
        kadet_rules::load_paths(&src.rules)
    };
    match loaded {
        Ok(mut set) => {
            set.retain_enabled(src.include_disabled);
            Ok(set)
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("kadet: rule error: {e}");
            }
            bail!(
                "{} problem(s) in the rules; nothing was scanned",
                errors.len()
            )
        }
    }
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

pub fn scan(a: ScanArgs) -> Result<ExitCode> {
    let set = load_rules(&a.source)?;
    let inputs = expand_inputs(&a.inputs)?;
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let opts = ScanOptions {
        threads,
        decode: decode_options(&a.decode),
        read: ReadOptions::default(),
        redact: !a.decode.no_redact,
        prefilter: !a.no_prefilter,
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
    let mut sink: Box<dyn Sink + '_> = match format {
        FormatArg::Jsonl => Box::new(JsonLinesSink::new(out)),
        FormatArg::Ocsf => Box::new(OcsfSink::new(out, &set.rules)),
        FormatArg::Table => {
            // On a terminal comfy-table finds the width; elsewhere $COLUMNS or 80.
            let width = (!to_terminal).then(|| {
                std::env::var("COLUMNS")
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(80)
            });
            Box::new(TableSink::new(out, to_terminal, width))
        }
    };
    let emit = if a.emit == EmitArg::Matches {
        Emit::Matches
    } else {
        Emit::Alerts
    };
    let counter = Arc::new(ByteCounter::default());
    let progress = (a.progress == ProgressArg::Auto && !a.quiet && io::stderr().is_terminal())
        .then(|| Progress::start(&inputs, counter.clone()));
    let mut reporter = SkipReporter {
        shown: 0,
        quiet: a.quiet,
    };
    let started = Instant::now();
    let report = kadet_engine::scan(
        &inputs,
        &set.rules,
        &opts,
        kadet_engine::Alerting {
            emit,
            lateness_minutes: a.lateness,
        },
        sink.as_mut(),
        &mut |s| reporter.report(s),
        counter.clone(),
    );
    if let Some(p) = progress {
        p.finish();
    }
    let report = report.context("writing output")?;
    if !a.quiet {
        print_scan_summary(
            &report,
            inputs.len(),
            started.elapsed(),
            set.rules.len(),
            threads,
        );
    }
    Ok(ExitCode::SUCCESS)
}

struct Progress {
    bar: indicatif::ProgressBar,
    stop: Arc<std::sync::atomic::AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(inputs: &[InputFile], counter: Arc<ByteCounter>) -> Progress {
        let total: Option<u64> = inputs.iter().map(|f| f.size).sum();
        let bar = match total {
            Some(t) => {
                let b = indicatif::ProgressBar::new(t);
                b.set_style(
                    indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                b
            }
            None => indicatif::ProgressBar::new_spinner(),
        };
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (b2, s2) = (bar.clone(), stop.clone());
        let ticker = std::thread::spawn(move || {
            while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                b2.set_position(counter.get());
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
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
    }
}

/// Calls `each` for every event of the inputs, `skipped` for every problem.
fn for_each_event(
    inputs: &[InputFile],
    opts: DecodeOptions,
    mut each: impl FnMut(&mut kadet_event::CanonicalEvent<'_>) -> Result<()>,
    mut skipped: impl FnMut(&Skip),
) -> Result<()> {
    let decoder = Decoder::new(opts);
    for f in inputs {
        let reader = match open_input(f, Arc::new(ByteCounter::default())) {
            Ok(r) => r,
            Err(e) => {
                skipped(&Skip {
                    location: Location::line(f.name.clone(), 0),
                    reason: kadet_event::SkipReason::ReadError,
                    message: format!("cannot open: {e}"),
                });
                continue;
            }
        };
        let mut chunks = ChunkReader::new(f.name.clone(), reader, ReadOptions::default());
        while let Some(chunk) = chunks.next_chunk() {
            let records: Vec<(Location, Vec<u8>)> = match chunk {
                Chunk::Skipped(s) => {
                    skipped(&s);
                    continue;
                }
                Chunk::Document { file, line, data } => vec![(Location::line(file, line), data)],
                Chunk::Lines {
                    file,
                    first_line,
                    data,
                } => data
                    .split(|&b| b == b'\n')
                    .enumerate()
                    .filter(|(_, l)| l.iter().any(|b| !b.is_ascii_whitespace()))
                    .map(|(i, l)| {
                        (
                            Location::line(file.clone(), first_line + i as u64),
                            l.to_vec(),
                        )
                    })
                    .collect(),
            };
            for (loc, bytes) in records {
                let mut sink = CollectSink::default();
                decoder.decode(&bytes, &loc, &mut sink);
                for s in &sink.skipped {
                    skipped(s);
                }
                for raw in &sink.events {
                    match raw.parse() {
                        Ok(mut ev) => each(&mut ev)?,
                        Err(e) => skipped(&e.at(raw.meta.location.clone())),
                    }
                }
            }
        }
    }
    Ok(())
}

pub fn cat(a: CatArgs) -> Result<ExitCode> {
    let inputs = expand_inputs(&a.inputs)?;
    let out = io::stdout();
    let mut out = BufWriter::new(out.lock());
    let redact = !a.decode.no_redact;
    let (mut events, mut skips) = (0u64, std::collections::BTreeMap::<&'static str, u64>::new());
    for_each_event(
        &inputs,
        decode_options(&a.decode),
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

pub fn test(a: TestArgs) -> Result<ExitCode> {
    let set = load_rules(&RuleSource {
        rules: a.paths.clone(),
        include_disabled: true,
    })?;
    let (mut passed, mut failed, mut rules) = (0usize, 0usize, 0usize);
    let out = io::stdout();
    let mut out = out.lock();
    for rule in &set.rules {
        if let Some(f) = &a.filter {
            if !rule.id.contains(f.as_str()) && !rule.tags.iter().any(|t| t.eq_ignore_ascii_case(f))
            {
                continue;
            }
        }
        rules += 1;
        for r in kadet_rules::testing::run_rule_tests(rule) {
            if r.passed {
                passed += 1;
                if !a.quiet {
                    writeln!(out, "PASS  {} / {}", r.rule_id, r.name)?;
                }
            } else {
                failed += 1;
                writeln!(out, "FAIL  {} / {}", r.rule_id, r.name)?;
                for p in &r.problems {
                    writeln!(out, "      {p}")?;
                }
                if let Some(o) = &r.outcome {
                    writeln!(
                        out,
                        "      (rule gave: title {:?}, dedup {:?}, severity {})",
                        o.title, o.dedup, o.severity
                    )?;
                }
                writeln!(out, "      in {}", rule.source)?;
            }
        }
    }
    writeln!(out, "{rules} rules tested")?;
    writeln!(out, "{passed} passed, {failed} failed")?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn rules_list(src: RuleSource) -> Result<ExitCode> {
    let set = load_rules(&RuleSource {
        include_disabled: true,
        ..src
    })?;
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(["RuleID", "Severity", "Log types", "Status", "Tests"]);
    for r in &set.rules {
        let status = match (&r.status, r.enabled) {
            (Some(s), true) => s.clone(),
            (None, true) => "enabled".into(),
            (Some(s), false) => format!("{s} (disabled)"),
            (None, false) => "disabled".into(),
        };
        t.add_row(vec![
            r.id.clone(),
            r.severity.name().to_string(),
            r.log_types.join(", "),
            status,
            r.tests.len().to_string(),
        ]);
    }
    println!("{t}");
    println!("{} rules", set.rules.len());
    Ok(ExitCode::SUCCESS)
}

pub fn rules_show(id: &str, src: RuleSource) -> Result<ExitCode> {
    let set = load_rules(&RuleSource {
        include_disabled: true,
        ..src
    })?;
    let Some(rule) = set.get(id) else {
        bail!("no rule {id:?} (see `kadet rules list`)");
    };
    print!("{}", crate::summary::show_rule(rule));
    Ok(ExitCode::SUCCESS)
}

pub fn explain(a: ExplainArgs) -> Result<ExitCode> {
    let set = load_rules(&RuleSource {
        include_disabled: true,
        ..a.source.clone()
    })?;
    let Some(rule) = set.get(&a.rule) else {
        bail!("no rule {:?} (see `kadet rules list`)", a.rule);
    };
    let inputs = expand_inputs(std::slice::from_ref(&a.event_file))?;
    let mut seen = 0usize;
    let mut problems = Vec::new();
    for_each_event(
        &inputs,
        decode_options(&a.decode),
        |ev| {
            seen += 1;
            if !a.decode.no_redact {
                kadet_event::redact::redact_event(&mut ev.audit);
            }
            println!("event {} ({}):", ev.meta.location, ev.meta.log_type);
            if !rule.applies_to(ev.meta.log_type) {
                println!(
                    "  ✗ rule {} does not read {} events (LogTypes: {})",
                    rule.id,
                    ev.meta.log_type,
                    rule.log_types.join(", ")
                );
                println!("  => NO MATCH");
                return Ok(());
            }
            let mut steps = Vec::new();
            let held = kadet_rules::explain::explain(
                &rule.detection,
                kadet_rules::expr::Scope::Event(ev),
                1,
                &mut steps,
            );
            for s in steps {
                println!(
                    "{}{} {}",
                    "  ".repeat(s.depth),
                    if s.held { "✓" } else { "✗" },
                    s.text
                );
            }
            if held {
                let o = rule.outcome(ev);
                println!("  => MATCH: {}", o.title);
                println!("     dedup: {}", o.dedup);
                println!("     severity: {}", o.severity);
            } else {
                println!("  => NO MATCH");
            }
            Ok(())
        },
        |s| problems.push(s.to_string()),
    )?;
    for p in &problems {
        eprintln!("kadet: skipped {p}");
    }
    if seen == 0 {
        bail!("no event found in {}", a.event_file);
    }
    Ok(ExitCode::SUCCESS)
}
