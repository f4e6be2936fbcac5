//! Loading rules: from files and directories, or the built-in pack embedded
//! in the binary. Library files are read first; every rule is then compiled
//! against the library. All problems are collected and reported with file,
//! line and message, and nothing runs if there is one.
//!
//! A file is a Panther rule or library when it has `AnalysisType`, and a
//! Sigma rule when it has `detection`/`logsource` or `correlation` (see
//! [`crate::sigma`]); [`SourceFormat`] can force one. A Sigma file's tests
//! live beside it in `<file>.tests.yml`.

use crate::compile::{CompileError, Compiler, Library};
use crate::model::{LibraryFile, RuleFile};
use crate::rule::Rule;
use crate::set::RuleSet;
use crate::sigma::load::{is_sidecar, sidecar_name};
pub use crate::source::{LoadError, LoadErrors, Source};
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// The pseudo-path that stands for the built-in pack among rule paths
/// (`--rules builtin --rules my-rules/`); a directory of that name is
/// given as `./builtin`.
pub const BUILTIN_PATH: &str = "builtin";

/// How rule files are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceFormat {
    /// Recognise each file by its shape.
    #[default]
    Auto,
    /// Every file is a Panther rule or library.
    Panther,
    /// Every file is a Sigma rule file.
    Sigma,
}

/// Options of [`load_rules_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Keep rules with `Enabled: false` (or Sigma `status: deprecated`).
    pub include_disabled: bool,
    /// How files are read.
    pub format: SourceFormat,
    /// Keep rules that build on a rule that is not loaded (a follower
    /// without its lead, a correlation without its steps): for commands
    /// that look at rules or run their tests rather than detect.
    pub keep_unlinked: bool,
}

/// Loads the rules a command runs: the files and directories in `paths`, or
/// the built-in pack when `paths` is empty (or names [`BUILTIN_PATH`]);
/// rules with `Enabled: false` are dropped unless `include_disabled`.
pub fn load_rules(paths: &[PathBuf], include_disabled: bool) -> Result<RuleSet, LoadErrors> {
    load_rules_with(
        paths,
        &LoadOptions {
            include_disabled,
            format: SourceFormat::Auto,
            keep_unlinked: false,
        },
    )
}

/// [`load_rules`] with every option.
pub fn load_rules_with(paths: &[PathBuf], opts: &LoadOptions) -> Result<RuleSet, LoadErrors> {
    let loaded = if paths.is_empty() {
        load_builtin()
    } else {
        load_paths_with(paths, opts.format)
    };
    let mut set = loaded.map_err(LoadErrors)?;
    set.retain_enabled(opts.include_disabled);
    Ok(set)
}

/// Loads rules as [`load_rules_with`] does, with the tuning files in
/// `tuning` applied (before disabled rules are dropped, so tuning may enable
/// one) as of `today`. Returns the set and the tuning warnings (expired
/// entries, patterns that match no rule).
pub fn load_tuned(
    paths: &[PathBuf],
    tuning: &[PathBuf],
    opts: &LoadOptions,
    today: time::Date,
) -> Result<(RuleSet, Vec<String>), LoadErrors> {
    let all = LoadOptions {
        include_disabled: true,
        format: opts.format,
        keep_unlinked: true,
    };
    let mut set = load_rules_with(paths, &all)?;
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for path in tuning {
        let file = match crate::tuning::TuningFile::load(path) {
            Ok(f) => f,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match crate::tuning::apply(&mut set, &file, today) {
            Ok(a) => warnings.extend(a.warnings),
            Err(es) => errors.extend(es),
        }
    }
    if !errors.is_empty() {
        return Err(LoadErrors(errors));
    }
    set.retain_enabled(opts.include_disabled);
    if !opts.keep_unlinked {
        warnings.extend(set.drop_unlinked());
    }
    Ok((set, warnings))
}

/// Today's date (UTC), for tuning expiry.
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// The built-in pack's files.
pub fn builtin_sources() -> Vec<Source> {
    BUILTIN_RULE_FILES
        .iter()
        .map(|(n, t)| Source {
            name: n.to_string(),
            text: t.to_string(),
        })
        .collect()
}

/// Loads the built-in pack.
pub fn load_builtin() -> Result<RuleSet, Vec<LoadError>> {
    load_sources(Vec::new(), builtin_sources())
}

/// Reads rule and library files from paths (files, or directories walked
/// for `*.yml` / `*.yaml`). The built-in library is always available; a
/// library file given here may redefine its names.
pub fn load_paths(paths: &[PathBuf]) -> Result<RuleSet, Vec<LoadError>> {
    load_paths_with(paths, SourceFormat::Auto)
}

/// [`load_paths`], reading files as `format` says. [`BUILTIN_PATH`] adds the
/// built-in pack's rules; `<file>.tests.yml` sidecars are read with the
/// Sigma file beside them.
pub fn load_paths_with(paths: &[PathBuf], format: SourceFormat) -> Result<RuleSet, Vec<LoadError>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut with_builtin = false;
    for p in paths {
        if p.as_os_str() == BUILTIN_PATH {
            with_builtin = true;
        } else if p.is_dir() {
            walk(p, &mut files);
        } else if p.exists() && is_sidecar(&p.display().to_string()) {
            errors.push(LoadError {
                file: p.display().to_string(),
                line: None,
                column: None,
                message: "this is a sidecar test file; give the rule file beside it".into(),
            });
        } else if p.exists() {
            files.push(p.clone());
        } else {
            errors.push(LoadError {
                file: p.display().to_string(),
                line: None,
                column: None,
                message: "no such file or directory".into(),
            });
        }
    }
    let mut sources = if with_builtin {
        builtin_sources()
    } else {
        Vec::new()
    };
    let mut sidecars = Vec::new();
    let read = |f: &Path, errors: &mut Vec<LoadError>| match std::fs::read_to_string(f) {
        Ok(text) => Some(Source {
            name: f.display().to_string(),
            // A byte-order mark would read as a second YAML document.
            text: match text.strip_prefix('\u{feff}') {
                Some(rest) => rest.to_string(),
                None => text,
            },
        }),
        Err(e) => {
            errors.push(LoadError {
                file: f.display().to_string(),
                line: None,
                column: None,
                message: e.to_string(),
            });
            None
        }
    };
    files.dedup();
    for f in files {
        if let Some(src) = read(&f, &mut errors) {
            let side = sidecar_name(&src.name).map(PathBuf::from);
            if let Some(side) = side.filter(|s| s.is_file()) {
                sidecars.extend(read(&side, &mut errors));
            }
            sources.push(src);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let base: Vec<Source> = builtin_sources()
        .into_iter()
        .filter(|s| is_library(&s.text))
        .collect();
    load_sources_with(base, sources, &sidecars, format)
}

fn is_library(text: &str) -> bool {
    serde_norway::from_str::<serde_norway::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("AnalysisType")
                .and_then(|t| t.as_str().map(|s| s == "library"))
        })
        .unwrap_or(false)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
            && !is_sidecar(&p.display().to_string())
        {
            out.push(p);
        }
    }
}

fn yaml_error(file: &str, e: &serde_norway::Error) -> LoadError {
    let loc = e.location();
    let mut message = e.to_string();
    // The message repeats the position; keep it short.
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    LoadError {
        file: file.to_string(),
        line: loc.as_ref().map(|l| l.line()),
        column: loc.as_ref().map(|l| l.column()),
        message,
    }
}

/// Best-effort line of a compile error: the first line mentioning its needle,
/// else the line of the top-level key it is under.
fn compile_error(src: &Source, e: CompileError) -> LoadError {
    let top = e.at.split(['[', '.']).next().unwrap_or("").to_string();
    let find = |needle: &str| {
        src.text
            .lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
    };
    let line = e
        .needle
        .as_deref()
        .filter(|n| !n.is_empty())
        .and_then(find)
        .or_else(|| {
            src.text
                .lines()
                .position(|l| l.starts_with(&format!("{top}:")))
                .map(|i| i + 1)
        });
    LoadError {
        file: src.name.clone(),
        line,
        column: None,
        message: format!("{}: {}", e.at, e.message),
    }
}

/// Loads from sources: `base` libraries (which later ones may redefine) and
/// the user's `sources`, each file recognised by its shape.
pub fn load_sources(base: Vec<Source>, sources: Vec<Source>) -> Result<RuleSet, Vec<LoadError>> {
    load_sources_with(base, sources, &[], SourceFormat::Auto)
}

/// What kind of file a source is.
enum FileKind {
    Panther(serde_norway::Value),
    Sigma,
}

/// Recognises a user's file: Panther by `AnalysisType`, Sigma by
/// `detection`/`logsource`/`correlation` (in its first document).
fn classify(src: &Source, format: SourceFormat) -> Result<FileKind, LoadError> {
    if format == SourceFormat::Sigma {
        return Ok(FileKind::Sigma);
    }
    let panther = |src: &Source| {
        serde_norway::from_str(&src.text)
            .map(FileKind::Panther)
            .map_err(|e| yaml_error(&src.name, &e))
    };
    if format == SourceFormat::Panther {
        return panther(src);
    }
    let docs = crate::sigma::document::split(&src.name, &src.text)?;
    match docs.first() {
        Some(d) if crate::sigma::looks_like_sigma(&d.value) => Ok(FileKind::Sigma),
        Some(d) if d.value.get("AnalysisType").is_some() => panther(src),
        _ => Err(LoadError {
            file: src.name.clone(),
            line: Some(1),
            column: None,
            message: "neither a Panther file (AnalysisType: rule or library) nor a Sigma rule (logsource and detection, or correlation)".into(),
        }),
    }
}

/// [`load_sources`] with the sidecar test files of Sigma sources and the
/// way files are read.
pub fn load_sources_with(
    base: Vec<Source>,
    sources: Vec<Source>,
    sidecars: &[Source],
    format: SourceFormat,
) -> Result<RuleSet, Vec<LoadError>> {
    let mut errors = Vec::new();
    let mut library = Library::default();
    let mut rule_files = Vec::new();
    let mut correlation_files = Vec::new();
    let mut sigma_files = Vec::new();
    let base_count = base.len();
    for (idx, src) in base.iter().chain(sources.iter()).enumerate() {
        let is_base = idx < base_count;
        let kind = if is_base {
            classify(src, SourceFormat::Panther)
        } else {
            classify(src, format)
        };
        let head = match kind {
            Ok(FileKind::Panther(v)) => v,
            Ok(FileKind::Sigma) => {
                sigma_files.push(src);
                continue;
            }
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let kind = head
            .get("AnalysisType")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        match kind.as_deref() {
            Some("library") => match serde_norway::from_str::<LibraryFile>(&src.text) {
                Ok(lib) => add_library(&mut library, lib, src, is_base, &mut errors),
                Err(e) => errors.push(yaml_error(&src.name, &e)),
            },
            Some("rule") => {
                if !is_base {
                    rule_files.push(src);
                }
            }
            Some("correlation_rule") => {
                if !is_base {
                    correlation_files.push(src);
                }
            }
            Some(other) => errors.push(LoadError {
                file: src.name.clone(),
                line: src.text.lines().position(|l| l.starts_with("AnalysisType")).map(|i| i + 1),
                column: None,
                message: format!("AnalysisType {other:?} is not supported (kadet runs `rule`, `correlation_rule` and `library` files)"),
            }),
            None => errors.push(LoadError { file: src.name.clone(), line: Some(1), column: None, message: "missing AnalysisType (rule or library)".into() }),
        }
    }
    let mut rules: Vec<Rule> = Vec::new();
    for src in rule_files {
        let file: RuleFile = match serde_norway::from_str(&src.text) {
            Ok(f) => f,
            Err(e) => {
                errors.push(yaml_error(&src.name, &e));
                continue;
            }
        };
        let mut compiler = Compiler::new(&library);
        match Rule::compile(file, &src.name, &mut compiler) {
            Ok(rule) => match crate::rule::by_id(&rules, &rule.id) {
                Some(prev) => errors.push(duplicate_id(src, &rule, prev)),
                None => rules.push(rule),
            },
            Err(e) => errors.push(compile_error(src, e)),
        }
    }
    for src in correlation_files {
        let file: crate::correlation_file::CorrelationFile = match serde_norway::from_str(&src.text)
        {
            Ok(f) => f,
            Err(e) => {
                errors.push(yaml_error(&src.name, &e));
                continue;
            }
        };
        match crate::correlation_file::compile(file, &src.name) {
            Ok(rule) => match crate::rule::by_id(&rules, &rule.id) {
                Some(prev) => errors.push(duplicate_id(src, &rule, prev)),
                None => rules.push(rule),
            },
            Err(e) => errors.push(compile_error(src, e)),
        }
    }
    errors.extend(unknown_leads(&rules, &sources));
    let (sigma_rules, sigma_errors) = crate::sigma::load::load(&sigma_files, sidecars);
    errors.extend(sigma_errors);
    for rule in sigma_rules {
        if let Some(prev) = crate::rule::by_id(&rules, &rule.id) {
            errors.push(LoadError {
                file: rule.source.clone(),
                line: None,
                column: None,
                message: format!(
                    "rule id {:?} is already defined in {}",
                    rule.id, prev.source
                ),
            });
        } else {
            rules.push(rule);
        }
    }
    errors.extend(link_correlations(&mut rules, &sources));
    if errors.is_empty() {
        Ok(RuleSet { rules, library })
    } else {
        Err(errors)
    }
}

fn add_library(
    lib: &mut Library,
    file: LibraryFile,
    src: &Source,
    is_base: bool,
    errors: &mut Vec<LoadError>,
) {
    let line_of = |name: &str| {
        src.text
            .lines()
            .position(|l| l.trim_start().starts_with(&format!("{name}:")))
            .map(|i| i + 1)
    };
    for (name, values) in file.Lists {
        if let Some(prev) = lib.origin.get(&format!("list:{name}")) {
            if !prev.starts_with(BUILTIN_MARK) || is_base {
                errors.push(LoadError {
                    file: src.name.clone(),
                    line: line_of(&name),
                    column: None,
                    message: format!("list {name:?} is already defined in {prev}"),
                });
                continue;
            }
        }
        lib.origin
            .insert(format!("list:{name}"), origin_name(src, is_base));
        lib.lists.insert(name, values);
    }
    for (name, cond) in file.Conditions {
        if let Some(prev) = lib.origin.get(&format!("condition:{name}")) {
            if !prev.starts_with(BUILTIN_MARK) || is_base {
                errors.push(LoadError {
                    file: src.name.clone(),
                    line: line_of(&name),
                    column: None,
                    message: format!("condition {name:?} is already defined in {prev}"),
                });
                continue;
            }
        }
        lib.origin
            .insert(format!("condition:{name}"), origin_name(src, is_base));
        lib.conditions.insert(name, cond);
    }
}

/// Marks library names that come from the built-in pack and may be redefined.
const BUILTIN_MARK: &str = "built-in ";

fn origin_name(src: &Source, is_base: bool) -> String {
    if is_base {
        format!("{BUILTIN_MARK}{}", src.name)
    } else {
        src.name.clone()
    }
}

/// `Follows.RuleID` entries that name no rule among those loaded: a typo,
/// or the lead's file was not given.
fn unknown_leads(rules: &[Rule], sources: &[Source]) -> Vec<LoadError> {
    rules
        .iter()
        .filter_map(|r| {
            let lead = &r.follows.as_ref()?.rule_id;
            if crate::rule::index_of(rules, lead).is_some() {
                return None;
            }
            let src = sources.iter().find(|s| s.name == r.source);
            Some(LoadError {
                file: r.source.clone(),
                line: src.and_then(|s| {
                    s.text
                        .lines()
                        .position(|l| l.starts_with("Follows"))
                        .map(|i| i + 1)
                }),
                column: None,
                message: format!(
                    "Follows.RuleID: no rule {lead:?} is loaded (give the file that defines it too)"
                ),
            })
        })
        .collect()
}

/// A rule whose RuleID an earlier file already defines.
fn duplicate_id(src: &Source, rule: &Rule, prev: &Rule) -> LoadError {
    LoadError {
        file: src.name.clone(),
        line: src
            .text
            .lines()
            .position(|l| l.starts_with("RuleID"))
            .map(|i| i + 1),
        column: None,
        message: format!("RuleID {:?} is already defined in {}", rule.id, prev.source),
    }
}

/// Tells each rule which event fields correlation rules read from its
/// matches, and refuses a correlation step that names another correlation
/// rule. A step naming no loaded rule is not an error here (a correlation's
/// tests need only the rule itself); such a correlation is left out of
/// detection with a warning ([`RuleSet::drop_unlinked`]).
fn link_correlations(rules: &mut [Rule], sources: &[Source]) -> Vec<LoadError> {
    let mut errors = Vec::new();
    let mut wanted: Vec<(usize, crate::path::FieldPath)> = Vec::new();
    for r in rules.iter() {
        let Some(c) = r.correlation.as_deref() else {
            continue;
        };
        for step in c.steps() {
            let Some(i) = crate::rule::index_of(rules, &step.rule_id) else {
                continue;
            };
            if rules[i].correlation.is_some() {
                let src = sources.iter().find(|s| s.name == r.source);
                errors.push(LoadError {
                    file: r.source.clone(),
                    line: src.and_then(|s| {
                        s.text.lines().position(|l| l.contains(&step.rule_id)).map(|i| i + 1)
                    }),
                    column: None,
                    message: format!(
                        "step {:?} names correlation rule {:?}: kadet correlates rules, not correlations",
                        step.id, step.rule_id
                    ),
                });
                continue;
            }
            wanted.extend(c.event_fields_of(&step.rule_id).into_iter().map(|p| (i, p)));
        }
    }
    for (i, p) in wanted {
        if !rules[i].join_fields.contains(&p) {
            rules[i].join_fields.push(p);
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_one(text: String) -> Result<RuleSet, Vec<LoadError>> {
        load_sources(
            Vec::new(),
            vec![Source {
                name: "r.yml".into(),
                text,
            }],
        )
    }

    #[test]
    fn yaml_alias_bombs_and_deep_nesting_are_refused_quickly() {
        // The rules_load fuzz target's seeds: nine levels of nine aliases
        // (387 million strings if expanded), and nesting past the limit.
        let mut bomb = String::from("AnalysisType: rule\nRuleID: bomb\na: &a [");
        bomb.push_str(&["\"lol\""; 9].join(","));
        bomb.push_str("]\n");
        let mut prev = 'a';
        for c in 'b'..='i' {
            bomb.push_str(&format!(
                "{c}: &{c} [{}]\n",
                vec![format!("*{prev}"); 9].join(",")
            ));
            prev = c;
        }
        bomb.push_str("Detection:\n  - Key: verb\n    Condition: IsIn\n    Values: *i\n");
        let deep = format!(
            "AnalysisType: rule\nRuleID: deep\nTags: {}{}\n",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        for (text, why) in [
            (bomb, "repetition limit exceeded"),
            (deep, "recursion limit exceeded"),
        ] {
            let started = std::time::Instant::now();
            let errors = load_one(text).expect_err("refused");
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].message, why);
            assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
        }
    }
}
