//! `kadet serve --check-config`: the start path ([`crate::start::prepare`])
//! run dry. Everything `serve` would check at start is checked, and every
//! problem is listed with its file and line, not only the first.

use crate::problem::Problem;
use crate::ServeOptions;

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
    match crate::start::prepare(opts) {
        Ok(p) => Ok(Checked {
            rules: p.rules.rules.len(),
            sinks: p.cfg.sink_names(),
        }),
        Err(problems) => Err(problems.0),
    }
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
