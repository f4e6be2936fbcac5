//! `kadet serve --check-config`: everything `serve` would check at start,
//! without starting: the config file, TLS material, token and key files,
//! the rules, the sinks' files and the state directory. Every problem is
//! listed with its file and line, not only the first.

use crate::config::{Config, SinkConfig};
use crate::{server, sinks, ServeOptions};
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `file:line`, or the file alone.
    pub at: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// What a successful check found, for the summary line.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// Rules loaded.
    pub rules: usize,
    /// Sink names.
    pub sinks: Vec<String>,
}

/// Checks the configuration `opts` names (or the defaults).
pub fn check(opts: &ServeOptions) -> Result<Checked, Vec<Problem>> {
    let (origin, text) = match &opts.config {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => (p.display().to_string(), t),
            Err(e) => {
                return Err(vec![Problem {
                    at: p.display().to_string(),
                    message: format!("cannot read: {e}"),
                }])
            }
        },
        None => ("(built-in defaults)".to_string(), String::new()),
    };
    let cfg = match Config::parse(&text, &origin) {
        Ok(c) => c,
        // The message already starts with `file:line:`.
        Err(e) => {
            let text = format!("{e:#}");
            let (at, message) = match text.strip_prefix(&format!("{origin}:")) {
                Some(rest) => {
                    let (place, msg) = rest.split_once(": ").unwrap_or(("", rest));
                    (format!("{origin}:{place}"), msg.to_string())
                }
                None => (origin, text.clone()),
            };
            return Err(vec![Problem { at, message }]);
        }
    };
    let at = |section: &str, nth: usize| Problem::at(&origin, &text, section, nth);
    let mut problems = Vec::new();
    let mut fail = |p: Problem, msg: String| {
        problems.push(Problem {
            at: p.at,
            message: msg,
        })
    };
    if let Ok(addr) = cfg.address() {
        if let Err(e) = server::check_exposure(&cfg, addr, opts.insecure_listen) {
            fail(at("[listen]", 0), e.to_string());
        }
    }
    if let Some(tls) = &cfg.tls {
        if let Err(e) = server::tls_config(tls) {
            fail(at("[tls]", 0), format!("{e:#}"));
        }
    }
    if let Some(p) = &cfg.auth.token_file {
        if let Err(e) = sinks::read_token(p) {
            fail(at("[auth]", 0), format!("{e:#}"));
        }
    }
    for (i, s) in cfg.sinks.iter().enumerate() {
        for message in sink_problems(s) {
            fail(
                at("[[sinks]]", i),
                format!("sink {:?}: {message}", s.name()),
            );
        }
    }
    if let Some(c) = &cfg.cluster {
        for m in cluster_file_problems(c) {
            fail(at("[cluster]", 0), m);
        }
    }
    if let Some(m) = state_dir_problem(&cfg.state.dir) {
        fail(at("[state]", 0), m);
    }
    let rules = match kadet_rules::load_tuned(
        &cfg.rules.paths,
        &cfg.rules.tuning,
        &kadet_rules::LoadOptions {
            include_disabled: cfg.rules.include_disabled,
            format: kadet_rules::SourceFormat::Auto,
        },
        kadet_rules::loader::today(),
    ) {
        Ok((set, _)) => set.rules.len(),
        Err(errors) => {
            problems.extend(errors.0.into_iter().map(|e| {
                let s = e.to_string();
                let (at, message) = s.split_once(": ").unwrap_or(("rules", &s));
                Problem {
                    at: at.to_string(),
                    message: message.to_string(),
                }
            }));
            0
        }
    };
    if problems.is_empty() {
        Ok(Checked {
            rules,
            sinks: cfg.sink_names(),
        })
    } else {
        Err(problems)
    }
}

impl Problem {
    /// A place in the config: the line of the `nth` header `section`
    /// (`[tls]`, `[[sinks]]`), or the file alone when it has none.
    fn at(origin: &str, text: &str, section: &str, nth: usize) -> Problem {
        let line = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == section)
            .nth(nth)
            .map(|(i, _)| i + 1);
        Problem {
            at: match line {
                Some(l) => format!("{origin}:{l}"),
                None => origin.to_string(),
            },
            message: String::new(),
        }
    }
}

/// What is wrong with one sink's files.
fn sink_problems(s: &SinkConfig) -> Vec<String> {
    let mut out = Vec::new();
    match s {
        SinkConfig::Stdout { .. } => {}
        SinkConfig::File { path, .. } => {
            if let Some(m) = writable_dir_problem(path) {
                out.push(format!("path {}: {m}", path.display()));
            }
        }
        SinkConfig::Webhook {
            token_file,
            signing_key_file,
            dead_letter,
            ..
        } => {
            for (what, file) in [
                ("token_file", token_file),
                ("signing_key_file", signing_key_file),
            ] {
                if let Some(f) = file {
                    if let Err(e) = sinks::read_token(f) {
                        out.push(format!("{what}: {e:#}"));
                    }
                }
            }
            if let Some(p) = dead_letter {
                if let Some(m) = writable_dir_problem(p) {
                    out.push(format!("dead_letter {}: {m}", p.display()));
                }
            }
        }
    }
    out
}

/// The `[cluster]` files (credentials, TLS) that cannot be read. Whether
/// NATS accepts them is learnt on connecting.
fn cluster_file_problems(c: &crate::cluster::ClusterConfig) -> Vec<String> {
    [
        ("credentials_file", &c.credentials_file),
        ("tls_ca_file", &c.tls_ca_file),
        ("tls_cert_file", &c.tls_cert_file),
        ("tls_key_file", &c.tls_key_file),
    ]
    .into_iter()
    .filter_map(|(what, file)| {
        let f = file.as_ref()?;
        match std::fs::read(f) {
            Ok(bytes) if bytes.is_empty() => Some(format!("{what} {}: empty", f.display())),
            Ok(_) => None,
            Err(e) => Some(format!("{what} {}: {e}", f.display())),
        }
    })
    .collect()
}

/// Whether a file can be created at `path`: its directory must exist.
fn writable_dir_problem(path: &Path) -> Option<String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => None,
        Ok(_) => Some(format!("{} is not a directory", dir.display())),
        Err(e) => Some(format!("directory {}: {e}", dir.display())),
    }
}

/// The state directory, when it exists, must be private to kadet.
fn state_dir_problem(dir: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(dir).ok()?;
    if !meta.is_dir() {
        return Some(format!("{} is not a directory", dir.display()));
    }
    let mode = meta.permissions().mode();
    (mode & 0o022 != 0).then(|| {
        format!(
            "{} is writable by other users (mode {:o}); `chmod 700` it",
            dir.display(),
            mode & 0o777
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_listed_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("k.toml");
        std::fs::write(
            &cfg,
            format!(
                "[listen]\naddress = \"127.0.0.1:1\"\n\n[rules]\npaths = [{:?}]\n\n\
                 [[sinks]]\ntype = \"file\"\npath = \"/no/such/dir/a.jsonl\"\n\n\
                 [[sinks]]\ntype = \"webhook\"\nurl = \"https://h/x\"\nsigning_key_file = \"/no/key\"\n\n\
                 [cluster]\nnats_url = \"nats://n:4222\"\ncredentials_file = \"/no/kadet.creds\"\n",
                dir.path().join("rules")
            ),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        std::fs::write(
            dir.path().join("rules/bad.yml"),
            "AnalysisType: rule\nRuleID: X\nSeverty: Low\n",
        )
        .unwrap();
        let problems = check(&ServeOptions {
            config: Some(cfg.clone()),
            insecure_listen: false,
        })
        .unwrap_err();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let origin = cfg.display().to_string();
        assert!(
            text.iter()
                .any(|t| t.starts_with(&format!("{origin}:7: sink \"file\": path"))),
            "{text:#?}"
        );
        assert!(text.iter().any(|t| t.starts_with(&format!("{origin}:11: sink \"webhook\": signing_key_file"))), "{text:#?}");
        assert!(
            text.iter()
                .any(|t| t.contains("bad.yml:3") && t.contains("Severty")),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with(&format!("{origin}:16: credentials_file /no/kadet.creds"))),
            "{text:#?}"
        );
        assert_eq!(problems.len(), 4, "{text:#?}");
        let ok = check(&ServeOptions::default()).unwrap();
        assert!(ok.rules > 40);
        assert_eq!(ok.sinks, ["stdout"]);
    }
}
