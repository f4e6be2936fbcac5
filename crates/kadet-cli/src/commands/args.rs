//! Argument groups several subcommands share: where rules come from and how
//! inputs are decoded.

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use kadet_event::{DecodeOptions, InputFormat};
use kadet_rules::{LoadOptions, RuleSet, SourceFormat};
use std::path::PathBuf;

/// Where rules come from.
#[derive(Args, Clone)]
pub struct RuleSource {
    /// Rule files or directories, Panther or Sigma (default: the built-in
    /// pack); `builtin` adds the built-in pack to the others.
    #[arg(long = "rules", short = 'r', value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Also run rules with `Enabled: false` (and Sigma rules whose status is
    /// deprecated or unsupported).
    #[arg(long)]
    pub include_disabled: bool,
    /// Tuning files: exclusions, severity, dedup and threshold changes for
    /// shipped rules, without editing them (repeatable; see docs/tuning.md).
    #[arg(long, value_name = "FILE")]
    pub tuning: Vec<PathBuf>,
    /// How rule files are read: recognised by their shape, or all as one
    /// format.
    #[arg(long, value_enum, default_value = "auto")]
    pub rule_format: RuleFormatArg,
    /// Keep rules that build on rules not loaded (set by commands that look
    /// at rules or run their tests, not by detection).
    #[arg(skip)]
    pub keep_unlinked: bool,
}

/// `--rule-format`.
#[derive(Copy, Clone, ValueEnum)]
pub enum RuleFormatArg {
    /// Panther files have `AnalysisType`; Sigma files `detection` and
    /// `logsource`, or `correlation`.
    Auto,
    /// Every file is a Panther rule or library.
    Panther,
    /// Every file is a Sigma rule file.
    Sigma,
}

impl From<RuleFormatArg> for SourceFormat {
    fn from(f: RuleFormatArg) -> SourceFormat {
        match f {
            RuleFormatArg::Auto => SourceFormat::Auto,
            RuleFormatArg::Panther => SourceFormat::Panther,
            RuleFormatArg::Sigma => SourceFormat::Sigma,
        }
    }
}

impl RuleSource {
    /// Loads the rules with the tuning applied, printing every problem with
    /// its file and line (and tuning warnings, such as expired entries);
    /// fails before any event is read.
    pub fn load(&self) -> Result<RuleSet> {
        let opts = LoadOptions {
            include_disabled: self.include_disabled,
            format: self.rule_format.into(),
            keep_unlinked: self.keep_unlinked,
        };
        let today = kadet_rules::loader::today();
        match kadet_rules::load_tuned(&self.rules, &self.tuning, &opts, today) {
            Ok((set, warnings)) => {
                for w in warnings {
                    eprintln!("kadet: warning: {w}");
                }
                Ok(set)
            }
            Err(errors) => {
                for e in &errors.0 {
                    eprintln!("kadet: rule error: {e}");
                }
                bail!(
                    "{} problem(s) in the rules; nothing was run",
                    errors.0.len()
                )
            }
        }
    }

    /// The same source with disabled rules included (for `test`, `rules`,
    /// `explain`, which look at rules rather than run them).
    pub fn with_disabled(&self) -> RuleSource {
        RuleSource {
            include_disabled: true,
            keep_unlinked: true,
            ..self.clone()
        }
    }
}

/// How inputs are decoded.
#[derive(Args, Clone)]
pub struct DecodeArgs {
    /// Input format: auto-detect per record, or force one decoder.
    #[arg(long, value_enum, default_value = "auto")]
    pub input_format: InputFormatArg,
    /// Largest single event accepted, in bytes.
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES")]
    pub max_event_bytes: usize,
    /// Print secrets (minted tokens, Secret data) instead of redacting them.
    #[arg(long)]
    pub no_redact: bool,
    /// Cluster name for records that carry none (raw kube-apiserver logs);
    /// EKS, AKS and GKE records name their cluster themselves.
    #[arg(long, value_name = "NAME", value_parser = cluster_name)]
    pub cluster: Option<String>,
}

/// A `--cluster` value: the rule every cluster name follows.
fn cluster_name(s: &str) -> Result<String, String> {
    if s.is_empty() || kadet_event::cluster::is_valid(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "1 to {} letters, digits, '.', '_', '-' or ':'",
            kadet_event::cluster::MAX_CLUSTER_NAME
        ))
    }
}

impl DecodeArgs {
    /// The decoder's options.
    pub fn options(&self) -> DecodeOptions {
        DecodeOptions {
            format: self.input_format.0,
            max_event_bytes: self.max_event_bytes.max(1),
            cluster: self.cluster.clone().filter(|c| !c.is_empty()),
        }
    }
}

/// `--input-format`: a decoder of [`InputFormat::ALL`], by its name.
#[derive(Copy, Clone)]
pub struct InputFormatArg(pub InputFormat);

impl ValueEnum for InputFormatArg {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: std::sync::LazyLock<Vec<InputFormatArg>> =
            std::sync::LazyLock::new(|| InputFormat::ALL.into_iter().map(InputFormatArg).collect());
        &ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.0.name()).help(self.0.description()))
    }
}
