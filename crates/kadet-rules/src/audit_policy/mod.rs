//! The audit policy the rules need: what each rule must see logged
//! ([`needs`]), the smallest `audit.k8s.io/v1` Policy that logs it
//! ([`write`]), and which rules a user's Policy leaves blind ([`check`]).

pub mod check;
pub mod needs;
pub mod write;

pub use check::{check_policy, Blind, PolicyError};
pub use needs::{needs_of, Level, Need};
pub use write::write_policy;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::{load_rules, BUILTIN_PATH};

    fn builtin_needs() -> Vec<Need> {
        let set = load_rules(&[std::path::PathBuf::from(BUILTIN_PATH)], true)
            .unwrap_or_else(|e| panic!("built-in pack: {e}"));
        set.rules.iter().filter_map(needs_of).collect()
    }

    fn need<'n>(needs: &'n [Need], id: &str) -> &'n Need {
        needs
            .iter()
            .find(|n| n.rule_id == id)
            .unwrap_or_else(|| panic!("{id} has no need"))
    }

    #[test]
    fn the_seed_rule_needs_token_requests_and_fires_on_metadata() {
        let needs = builtin_needs();
        let seed = need(&needs, "Kubernetes.ServiceAccount.TokenCreated");
        assert_eq!(
            seed.resources.as_deref(),
            Some(&["serviceaccounts/token".to_string()][..])
        );
        assert_eq!(seed.verbs.as_deref(), Some(&["create".to_string()][..]));
        assert_eq!(seed.level, Level::Request);
        assert_eq!(seed.fires_at, Level::Metadata);
    }

    #[test]
    fn a_binding_rule_cannot_fire_without_the_body_and_a_public_ip_rule_reads_everything() {
        let needs = builtin_needs();
        let crb = need(&needs, "Kubernetes.ClusterRoleBinding.Privileged");
        assert_eq!(crb.fires_at, Level::Request);
        let public = need(&needs, "Kubernetes.System.Principal.PublicIP");
        assert_eq!(public.resources, None);
        assert_eq!(public.level, Level::Metadata);
    }

    #[test]
    fn the_written_policy_leaves_no_rule_blind() {
        let needs = builtin_needs();
        let text = write_policy(&needs, &[]);
        let blind = check_policy(&text, &needs).expect("our own Policy reads");
        assert!(blind.is_empty(), "{blind:?}\n{text}");
        // Secrets are never asked for above Metadata.
        assert!(!text.contains("\"secrets\""), "{text}");
    }

    #[test]
    fn rbac_at_metadata_blinds_the_binding_rules() {
        let needs = builtin_needs();
        let policy = r#"
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    resources:
      - group: rbac.authorization.k8s.io
  - level: RequestResponse
    resources:
      - group: ""
      - group: apps
      - group: batch
      - group: certificates.k8s.io
      - group: networking.k8s.io
  - level: Metadata
"#;
        let blind = check_policy(policy, &needs).expect("reads");
        let crb = blind
            .iter()
            .find(|b| b.rule_id == "Kubernetes.ClusterRoleBinding.Privileged")
            .expect("blind");
        assert!(
            crb.why
                .contains("clusterrolebindings (create) logged at Metadata"),
            "{}",
            crb.why
        );
        assert!(crb.why.contains("needs Request"), "{}", crb.why);
        let kadet = blind
            .iter()
            .find(|b| b.rule_id == "Kadet.RBAC.PrivilegedBinding")
            .expect("partly blind");
        assert!(
            kadet.why.contains("judges on metadata alone"),
            "{}",
            kadet.why
        );
        assert!(!blind
            .iter()
            .any(|b| b.rule_id == "Kubernetes.Pod.Privileged.Created"));
    }

    #[test]
    fn omitted_stages_and_dropped_reads_are_blindness_too() {
        let needs = builtin_needs();
        let policy = r#"
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseComplete"]
rules:
  - level: None
    verbs: ["get", "list", "watch"]
  - level: RequestResponse
"#;
        let blind = check_policy(policy, &needs).expect("reads");
        let dump = blind
            .iter()
            .find(|b| b.rule_id == "Kubernetes.Secrets.DumpAllNamespaces")
            .expect("blind");
        assert!(dump.why.contains("not logged"), "{}", dump.why);
        let exec = need(&needs, "Kadet.Pod.ExecIntoSystemNamespace");
        assert!(exec.stream);
        // Exec is still seen when its stream opens.
        assert!(
            !blind
                .iter()
                .any(|b| b.rule_id == "Kadet.Pod.ExecIntoSystemNamespace"
                    && b.why.contains("pods/exec (create)")),
            "{blind:?}"
        );
        let binding = blind
            .iter()
            .find(|b| b.rule_id == "Kadet.RBAC.PrivilegedBinding")
            .expect("blind: no ResponseComplete");
        assert!(binding.why.contains("omitted"), "{}", binding.why);
    }

    #[test]
    fn a_rule_reading_every_body_never_opens_secrets() {
        let wide = Need {
            rule_id: "Wide".into(),
            resources: None,
            verbs: None,
            level: Level::RequestResponse,
            fires_at: Level::RequestResponse,
            reads: "the response body",
            stream: false,
        };
        let text = write_policy(std::slice::from_ref(&wide), &[]);
        let secrets = text.find("[\"secrets\"]").expect("a Secrets rule");
        let catch_all = text
            .find("  - level: RequestResponse\n")
            .expect("catch-all");
        assert!(secrets < catch_all, "{text}");
        assert!(
            check_policy(&text, &[wide]).expect("reads").is_empty(),
            "{text}"
        );
    }

    #[test]
    fn a_policy_kube_apiserver_would_refuse_is_an_error() {
        for (text, want) in [
            ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Loud\n", "unknown level"),
            ("apiVersion: audit.k8s.io/v1\nkind: Polcy\nrules: []\n", "kind"),
            ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: None\n    resource: []\n", "unknown field"),
            ("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [Started]\nrules: []\n", "unknown stage"),
        ] {
            let e = check_policy(text, &[]).expect_err(text).to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
