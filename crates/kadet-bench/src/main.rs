//! `kadet-bench`: generates realistic Kubernetes audit log corpora for
//! benchmarking kadet, and writes the bundled example.

mod body;
mod event;
mod example;
mod gen;
mod json;
mod model;
mod shapes;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::gen::{Gen, GenOpts, Stats};
use crate::shapes::{Shape, ShapeSink};

#[derive(Parser, Debug)]
#[command(
    name = "kadet-bench",
    version,
    about = "Benchmark corpus generator for kadet"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Generate a synthetic cluster day of audit events.
    Gen {
        /// Number of audit events to generate.
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// RNG seed; the same seed and arguments give byte-identical output.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Log shape to write.
        #[arg(long, value_enum, default_value_t = Shape::Raw)]
        shape: Shape,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Do not print the summary on standard error.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write the bundled example (a small cluster day with one attack) into DIR.
    Example {
        #[arg(long)]
        out: PathBuf,
    },
}

/// Generates `events` events of `shape` into `w`; returns (stats, lines, bytes).
pub fn generate<W: Write>(
    w: W,
    events: u64,
    seed: u64,
    shape: Shape,
) -> io::Result<(Stats, u64, u64, W)> {
    let mut sink = ShapeSink::new(w, shape, seed);
    let stats = {
        let mut g = Gen::new(GenOpts::bench(seed, events), &mut sink);
        g.run()?;
        g.stats.clone()
    };
    let (lines, bytes) = (sink.lines, sink.bytes);
    Ok((stats, lines, bytes, sink.into_inner()))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Gen {
            events,
            seed,
            shape,
            out,
            quiet,
        } => {
            let t0 = Instant::now();
            let (stats, lines, bytes) = match &out {
                Some(path) => {
                    let f = File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    let (s, l, b, w) =
                        generate(BufWriter::with_capacity(1 << 20, f), events, seed, shape)?;
                    w.into_inner().map_err(|e| e.into_error())?;
                    (s, l, b)
                }
                None => {
                    let stdout = io::stdout();
                    let lock = stdout.lock();
                    match generate(BufWriter::with_capacity(1 << 20, lock), events, seed, shape) {
                        Ok((s, l, b, _)) => (s, l, b),
                        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            let secs = t0.elapsed().as_secs_f64();
            if !quiet {
                eprintln!(
                    "kadet-bench: {} events, {} lines, {} bytes ({:.0} B/event) in {:.2}s ({:.0} MB/s); with body {:.1}%; token requests {} (kubelet {}, controller-manager {}, long-lived by humans {}); 403s {}",
                    stats.events,
                    lines,
                    bytes,
                    bytes as f64 / stats.events.max(1) as f64,
                    secs,
                    bytes as f64 / 1e6 / secs.max(1e-9),
                    100.0 * stats.with_body as f64 / stats.events.max(1) as f64,
                    stats.token_requests,
                    stats.token_kubelet,
                    stats.token_kcm,
                    stats.token_human,
                    stats.forbidden,
                );
            }
        }
        Cmd::Example { out } => {
            let s = example::write_example(&out)?;
            eprintln!(
                "kadet-bench: wrote the example into {}: {} raw EKS events (attack on line {}, auditID {}), {} AKS records, {} + {} CloudWatch events",
                out.display(),
                s.eks_events,
                s.attack_line,
                s.attack_audit_id,
                s.aks_records,
                s.cloudwatch_events,
                s.firehose_events
            );
        }
    }
    Ok(())
}
