//! `kadet serve --check-config`: the start path ([`crate::start::prepare`])
//! run dry. Everything `serve` would check at start is checked, and every
//! problem is listed with its file and line, not only the first. Then each
//! `[[sources]]` entry is reached with its credentials (the OIDC keys of a
//! push source, the log group of a CloudWatch source).

use crate::problem::{ConfigText, Problem};
use crate::ServeOptions;

/// What a successful check found, for the summary line.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// Rules loaded.
    pub rules: usize,
    /// Sink names.
    pub sinks: Vec<String>,
    /// Each source, with what reaching it found.
    pub sources: Vec<String>,
    /// What is allowed but unwise, at its file and line.
    pub warnings: Vec<Problem>,
}

/// Checks the configuration `opts` names (or the defaults).
pub fn check(opts: &ServeOptions) -> Result<Checked, Vec<Problem>> {
    let p = crate::start::prepare(opts).map_err(|problems| problems.0)?;
    let text = match &opts.config {
        Some(path) => std::fs::read_to_string(path).unwrap_or_default(),
        None => String::new(),
    };
    let origin = opts.config.as_ref().map_or_else(
        || "(built-in defaults)".to_string(),
        |c| c.display().to_string(),
    );
    let at = ConfigText {
        origin: &origin,
        text: &text,
    };
    let (sources, problems) = reach_sources(&p.cfg.sources, &at);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Checked {
        rules: p.rules.rules.len(),
        sinks: p.cfg.sink_names(),
        sources,
        warnings: p.warnings,
    })
}

/// Reaches every source; what each gave, and the problems at their lines.
fn reach_sources(
    cfgs: &[crate::config::sources::SourceConfig],
    at: &ConfigText<'_>,
) -> (Vec<String>, Vec<Problem>) {
    if cfgs.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return (
            Vec::new(),
            vec![Problem::new(
                at.origin,
                "cannot start a runtime to reach the sources",
            )],
        );
    };
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for (i, s) in cfgs.iter().enumerate() {
        match rt.block_on(crate::sources::reach(s)) {
            Ok(what) => found.push(format!("{} ({})", s.name(), what)),
            Err(why) => problems.push(Problem::new(
                at.section("[[sources]]", i),
                format!("sources {:?}: cannot reach it: {why}", s.name()),
            )),
        }
    }
    (found, problems)
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
                .any(|t| t.starts_with(&format!("{origin}:18: credentials_file /no/kadet.creds"))),
            "{text:#?}"
        );
        assert_eq!(problems.len(), 4, "{text:#?}");
        let ok = check(&ServeOptions::default()).unwrap();
        assert!(ok.rules > 40);
        assert_eq!(ok.sinks, ["stdout"]);
    }
}
