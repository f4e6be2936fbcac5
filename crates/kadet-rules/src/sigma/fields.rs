//! Log sources kadet serves, and Sigma field names as paths into kadet's
//! canonical event.
//!
//! | logsource | kadet log types | field names |
//! |---|---|---|
//! | `product: kubernetes`, `service: audit` | `Kubernetes.Audit`, `Amazon.EKS.Audit`, `Azure.MonitorActivity`, `GCP.AuditLog` | dotted paths into the audit Event (`objectRef.resource`) |
//! | `product: gcp`, `service: gcp.audit` | `GCP.AuditLog` | `gcp.audit.*` names mapped to the LogEntry ([`GCP_FIELDS`]); other names are paths into the Event, where the LogEntry's own fields stay (`protoPayload.methodName`) |
//!
//! A dotted name descends one object per dot, except below `annotations`,
//! `labels` and `user.extra`, whose keys contain dots themselves: the rest of
//! the name is one key (`annotations.authorization.k8s.io/decision`). A name
//! with `"` or `[` is read as a kadet `KeyPath` (`a."b.c"`, `a[*].b`).
//! Inside `requestObject` and `responseObject` a dotted name reads every
//! element of a list of objects it meets (`requestObject.spec.containers.image`
//! is any container's image), as rsigma does: the name would otherwise load
//! and never match.

use crate::path::{FieldPath, Segment};
use kadet_event::LogType;
use serde_norway::Value as Yaml;
use std::collections::BTreeMap;

/// A log source kadet serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logsource {
    /// `product: kubernetes`, `service: audit`: every Kubernetes source.
    Kubernetes,
    /// `product: gcp`, `service: gcp.audit`: GKE's Cloud Audit Logs.
    Gcp,
}

/// `gcp.audit.*` names and the LogEntry paths they stand for.
pub const GCP_FIELDS: &[(&str, &str)] = &[
    ("method_name", "protoPayload.methodName"),
    ("resource_name", "protoPayload.resourceName"),
    ("service_name", "protoPayload.serviceName"),
    (
        "principal_email",
        "protoPayload.authenticationInfo.principalEmail",
    ),
    (
        "authentication_info.principal_email",
        "protoPayload.authenticationInfo.principalEmail",
    ),
    ("caller_ip", "protoPayload.requestMetadata.callerIp"),
    (
        "request_metadata.caller_ip",
        "protoPayload.requestMetadata.callerIp",
    ),
    (
        "user_agent",
        "protoPayload.requestMetadata.callerSuppliedUserAgent",
    ),
    (
        "caller_supplied_user_agent",
        "protoPayload.requestMetadata.callerSuppliedUserAgent",
    ),
    (
        "request_metadata.caller_supplied_user_agent",
        "protoPayload.requestMetadata.callerSuppliedUserAgent",
    ),
    ("status.code", "protoPayload.status.code"),
    ("status.message", "protoPayload.status.message"),
    (
        "authorization_info.permission",
        "protoPayload.authorizationInfo[*].permission",
    ),
    (
        "authorization_info.granted",
        "protoPayload.authorizationInfo[*].granted",
    ),
    (
        "authorization_info.resource",
        "protoPayload.authorizationInfo[*].resource",
    ),
    ("log_name", "logName"),
    ("severity", "severity"),
    ("resource_type", "resource.type"),
    ("cluster_name", "resource.labels.cluster_name"),
    ("project_id", "resource.labels.project_id"),
    ("location", "resource.labels.location"),
];

/// The `gcp.audit.` prefix of Sigma's GCP field names.
const GCP_PREFIX: &str = "gcp.audit.";

impl Logsource {
    /// Reads a rule's `logsource`; `Err` names what kadet does not serve.
    pub fn parse(value: Option<&Yaml>) -> Result<(Logsource, BTreeMap<String, String>), String> {
        let Some(Yaml::Mapping(m)) = value else {
            return Err("logsource is required (a mapping of product, service, category)".into());
        };
        let mut fields = BTreeMap::new();
        for (k, v) in m {
            let (Some(k), Some(v)) = (k.as_str(), v.as_str()) else {
                continue;
            };
            fields.insert(k.to_string(), v.to_string());
        }
        let get = |k: &str| fields.get(k).map(|s| s.to_ascii_lowercase());
        let (product, service, category) = (get("product"), get("service"), get("category"));
        let served = match (product.as_deref(), service.as_deref(), category.as_deref()) {
            (Some("kubernetes"), Some("audit"), None | Some("application")) => {
                Some(Logsource::Kubernetes)
            }
            (Some("gcp"), Some("gcp.audit"), None) => Some(Logsource::Gcp),
            _ => None,
        };
        match served {
            Some(s) => Ok((s, fields)),
            None => {
                let shown: Vec<String> = ["category", "product", "service"]
                    .iter()
                    .filter_map(|k| fields.get(*k).map(|v| format!("{k}: {v}")))
                    .collect();
                Err(format!(
                    "logsource {{{}}} is not served by kadet (it reads `product: kubernetes, service: audit` and `product: gcp, service: gcp.audit`)",
                    shown.join(", ")
                ))
            }
        }
    }

    /// The kadet log types a rule of this source reads.
    pub fn log_types(self) -> Vec<String> {
        let types: &[LogType] = match self {
            Logsource::Kubernetes => &LogType::ALL,
            Logsource::Gcp => &[LogType::GcpAudit],
        };
        types.iter().map(|t| t.name().to_string()).collect()
    }

    /// The path a Sigma field name stands for.
    pub fn field(self, name: &str) -> Result<FieldPath, String> {
        if let (Logsource::Gcp, Some(rest)) = (self, name.strip_prefix(GCP_PREFIX)) {
            let Some((_, path)) = GCP_FIELDS.iter().find(|(n, _)| *n == rest) else {
                let known: Vec<String> = GCP_FIELDS
                    .iter()
                    .map(|(n, _)| format!("{GCP_PREFIX}{n}"))
                    .collect();
                return Err(format!(
                    "unknown GCP audit field {name:?} (kadet maps {}; or name the LogEntry field, like protoPayload.methodName)",
                    known.join(", ")
                ));
            };
            let mut p = FieldPath::parse(path)?;
            p.text = name.to_string();
            return Ok(p);
        }
        field_path(name)
    }
}

/// Keys below which the rest of a dotted name is one key.
fn takes_rest(segments: &[Segment]) -> bool {
    match segments {
        [.., Segment::Key(k)] if k == "annotations" || k == "labels" => true,
        [.., Segment::Key(u), Segment::Key(e)] if u == "user" && e == "extra" => true,
        _ => false,
    }
}

/// True when the next key of a dotted name is read inside a request or
/// response body, where lists of objects (containers, volumes, rules,
/// subjects) are: there a dotted name reads every element, as rsigma does.
/// Elsewhere in the Event no list holds objects.
fn looks_into_arrays(segments: &[Segment]) -> bool {
    matches!(segments.first(), Some(Segment::Key(root)) if root == "requestObject" || root == "responseObject")
}

/// A Sigma field name as a path (see the module docs).
pub fn field_path(name: &str) -> Result<FieldPath, String> {
    if name.is_empty() {
        return Err("empty field name".into());
    }
    if name.contains(['"', '[']) {
        return FieldPath::parse(name);
    }
    let mut segments = Vec::new();
    let mut rest = name;
    loop {
        if takes_rest(&segments) {
            segments.push(Segment::Key(rest.to_string()));
            break;
        }
        let (head, tail) = match rest.split_once('.') {
            Some((h, t)) => (h, Some(t)),
            None => (rest, None),
        };
        if head.is_empty() {
            return Err(format!("empty key in field name {name:?}"));
        }
        if looks_into_arrays(&segments) {
            segments.push(Segment::Each);
        }
        segments.push(Segment::Key(head.to_string()));
        match tail {
            Some("") => return Err(format!("field name {name:?} ends with a dot")),
            Some(t) => rest = t,
            None => break,
        }
    }
    Ok(FieldPath {
        segments,
        text: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: &FieldPath) -> Vec<String> {
        p.segments
            .iter()
            .filter(|s| **s != Segment::Each)
            .map(|s| match s {
                Segment::Key(k) => k.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn dotted_names() {
        assert_eq!(
            keys(&field_path("objectRef.resource").unwrap()),
            ["objectRef", "resource"]
        );
        assert_eq!(
            keys(&field_path("annotations.authorization.k8s.io/decision").unwrap()),
            ["annotations", "authorization.k8s.io/decision"]
        );
        assert_eq!(
            keys(&field_path("requestObject.metadata.labels.app.kubernetes.io/name").unwrap()),
            [
                "requestObject",
                "metadata",
                "labels",
                "app.kubernetes.io/name"
            ]
        );
        assert_eq!(
            keys(&field_path("user.extra.iam.gke.io/user-assertion").unwrap()),
            ["user", "extra", "iam.gke.io/user-assertion"]
        );
        assert_eq!(keys(&field_path("a.\"b.c\"").unwrap()), ["a", "b.c"]);
        // Inside a body, each step may look into a list of objects.
        let image = field_path("requestObject.spec.containers.image").unwrap();
        assert_eq!(image.segments.len(), 7);
        assert_eq!(image.segments[5], Segment::Each);
        let plain = field_path("objectRef.resource").unwrap();
        assert!(!plain.segments.contains(&Segment::Each));
        assert!(field_path("a..b").is_err());
        assert!(field_path("a.").is_err());
    }

    #[test]
    fn gcp_names() {
        let p = Logsource::Gcp.field("gcp.audit.method_name").unwrap();
        assert_eq!(keys(&p), ["protoPayload", "methodName"]);
        assert_eq!(p.text, "gcp.audit.method_name");
        assert!(Logsource::Gcp.field("gcp.audit.nonsense").is_err());
        // Kubernetes rules take gcp.audit.* literally.
        assert_eq!(
            keys(&Logsource::Kubernetes.field("gcp.audit.x").unwrap()).len(),
            3
        );
    }

    #[test]
    fn logsources() {
        let y = |t: &str| serde_norway::from_str::<Yaml>(t).unwrap();
        let k = y("{product: kubernetes, service: audit, category: application}");
        assert_eq!(Logsource::parse(Some(&k)).unwrap().0, Logsource::Kubernetes);
        let g = y("{product: gcp, service: gcp.audit}");
        assert_eq!(Logsource::parse(Some(&g)).unwrap().0, Logsource::Gcp);
        let w = y("{product: windows, category: process_creation}");
        let e = Logsource::parse(Some(&w)).unwrap_err();
        assert!(e.contains("product: windows"), "{e}");
        assert!(Logsource::parse(None).is_err());
    }
}
