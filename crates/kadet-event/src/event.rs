//! The canonical audit event and the source metadata that travels with it.

pub use crate::location::Location;
use crate::time::EventTime;
use crate::value::{Deferred, Value};
use std::cell::OnceCell;
use std::fmt;

/// The kind of log an event came from, named as Panther names log types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogType {
    /// kube-apiserver log or webhook backend of a self-managed cluster.
    KubernetesAudit,
    /// EKS control-plane audit log (CloudWatch, or Panther's `Amazon.EKS.Audit`).
    EksAudit,
    /// AKS diagnostic log (`kube-audit`, `kube-audit-admin`) or any Azure Monitor record.
    AzureMonitor,
    /// GKE Cloud Audit Log entry (`GCP.AuditLog`).
    GcpAudit,
}

impl LogType {
    /// All log types, in display order.
    pub const ALL: [LogType; 4] = [
        LogType::KubernetesAudit,
        LogType::EksAudit,
        LogType::AzureMonitor,
        LogType::GcpAudit,
    ];

    /// The Panther-style name (`Amazon.EKS.Audit`, ...).
    pub fn name(self) -> &'static str {
        match self {
            LogType::KubernetesAudit => "Kubernetes.Audit",
            LogType::EksAudit => "Amazon.EKS.Audit",
            LogType::AzureMonitor => "Azure.MonitorActivity",
            LogType::GcpAudit => "GCP.AuditLog",
        }
    }

    /// Parses a Panther-style name.
    pub fn from_name(name: &str) -> Option<LogType> {
        LogType::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl serde::Serialize for LogType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for LogType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        LogType::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown log type {name:?}")))
    }
}

impl fmt::Display for LogType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What kadet knows about an event besides its content.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceMeta {
    /// The log type the decoder recognised.
    pub log_type: LogType,
    /// Cluster name, when the source names it (log group, resourceId, resource labels, p_source_label).
    pub cluster: Option<String>,
    /// A timestamp taken from the envelope (CloudWatch, Azure, GKE), used when the event has none.
    pub source_time: Option<EventTime>,
    /// Where the record is in the input.
    pub location: Location,
}

/// How the body of a [`RawEvent`] must be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyShape {
    /// An `audit.k8s.io` Event (v1, v1beta1 or without apiVersion).
    Audit,
    /// A Cloud Audit Logs `LogEntry` from GKE, mapped to an Event when parsed.
    GkeLogEntry,
    /// A record that is not an audit event (for example an Azure activity log
    /// entry); rules read its own fields.
    Foreign,
}

/// A decoded but not yet parsed event: the bytes of its body plus metadata.
///
/// Decoders produce these cheaply; only events that pass the prefilter are
/// parsed into a [`CanonicalEvent`] with [`RawEvent::parse`].
#[derive(Debug, Clone)]
pub struct RawEvent<'a> {
    /// Source metadata.
    pub meta: SourceMeta,
    /// JSON text of the body.
    pub body: std::borrow::Cow<'a, [u8]>,
    /// How to read `body`.
    pub shape: BodyShape,
    /// The enclosing source record, when it is not the body itself
    /// (the Azure record around `properties.log`, the CloudWatch logEvent).
    pub record: Option<std::borrow::Cow<'a, [u8]>>,
}

impl<'a> RawEvent<'a> {
    /// The bytes the prefilter must look at: the source record when there is
    /// one, else the body.
    pub fn prefilter_bytes(&self) -> &[u8] {
        self.record.as_deref().unwrap_or(&self.body)
    }

    /// Parses the body into a canonical event.
    pub fn parse(&self) -> Result<CanonicalEvent<'_>, crate::DecodeError> {
        self.parse_keys(None)
    }

    /// For a record read whole as a plain audit Event of `meta`'s log type
    /// (a line the prefilter admitted): parses the members in `keys` (plus
    /// the timestamps) in one pass and checks the decoder would agree.
    /// `None` when it would not (another shape, a bad `kind`, malformed
    /// JSON, too large): decode the record the usual way instead.
    pub fn parse_plain_keys(
        &self,
        keys: &[&str],
        max_event_bytes: usize,
    ) -> Option<CanonicalEvent<'_>> {
        if self.shape != BodyShape::Audit || self.body.len() > max_event_bytes {
            return None;
        }
        let (audit, deferred, plain) =
            Value::from_slice_keys_plain(&self.body, keys, &BODY_KEYS).ok()?;
        if !plain.is_plain() {
            return None;
        }
        let time = event_time_of(&audit).or(self.meta.source_time);
        Some(CanonicalEvent {
            meta: &self.meta,
            shape: self.shape,
            time,
            audit,
            deferred,
            record_bytes: self.record.as_deref(),
            record: OnceCell::new(),
        })
    }

    /// Parses the body, keeping only the top-level Event members in `keys`
    /// (plus the timestamps) when given, the request and response bodies
    /// among them parsed only when read ([`BODY_KEYS`]). GKE and foreign
    /// records are always parsed whole, since their canonical form is built
    /// from many fields.
    pub fn parse_keys(
        &self,
        keys: Option<&[&str]>,
    ) -> Result<CanonicalEvent<'_>, crate::DecodeError> {
        let (parsed, deferred) = match (keys, self.shape) {
            (Some(keys), BodyShape::Audit) => Value::from_slice_keys(&self.body, keys, &BODY_KEYS),
            _ => Value::from_slice(&self.body).map(|v| (v, Vec::new())),
        }
        .map_err(crate::DecodeError::from_json)?;
        if !matches!(parsed, Value::Object(_)) {
            return Err(crate::DecodeError::shape("event is not a JSON object"));
        }
        let audit = match self.shape {
            BodyShape::Audit | BodyShape::Foreign => parsed,
            BodyShape::GkeLogEntry => crate::gke_audit::to_audit_event(parsed)?,
        };
        let time = event_time_of(&audit).or(self.meta.source_time);
        Ok(CanonicalEvent {
            meta: &self.meta,
            shape: self.shape,
            time,
            audit,
            deferred,
            record_bytes: self.record.as_deref(),
            record: OnceCell::new(),
        })
    }
}

/// The top-level Event members a partial parse keeps as text until a rule
/// reads them: the request and response bodies. They hold most of an
/// event's bytes when they are logged, and most rules that name them refuse
/// the event on its verb, resource or user first.
pub const BODY_KEYS: [&str; 2] = ["requestObject", "responseObject"];

/// Fields kadet derives from an event, each with the top-level Event keys
/// it is computed from (what a partial parse must read for it):
/// `p_exec_command` ([`crate::exec_command`]), `p_credential_id` and
/// `p_issued_credential_id` ([`crate::credential`]).
pub const DERIVED_FIELDS: [(&str, &[&str]); 3] = [
    ("p_exec_command", &["requestURI", "requestObject"]),
    ("p_credential_id", &["user"]),
    ("p_issued_credential_id", &["annotations"]),
];

/// The top-level Event keys a derived field is computed from, or `None`
/// when `key` is not a derived field.
pub fn derived_from(key: &str) -> Option<&'static [&'static str]> {
    DERIVED_FIELDS
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, from)| *from)
}

/// The top-level keys event time is read from, in order of preference.
pub const TIME_KEYS: [&str; 4] = [
    "stageTimestamp",
    "requestReceivedTimestamp",
    "timestamp",
    "p_event_time",
];

fn event_time_of(audit: &Value<'_>) -> Option<EventTime> {
    TIME_KEYS
        .iter()
        .filter_map(|k| audit.get(k).and_then(Value::as_str))
        .find_map(EventTime::parse)
}

/// One audit event in kadet's canonical form.
///
/// `audit` holds the fields of an `audit.k8s.io/v1` Event whatever the source
/// was: rules address it by dotted path (`objectRef.subresource`). Fields that
/// only the source record has (`category`, `protoPayload.methodName`,
/// `p_source_label`) are still reachable through [`CanonicalEvent::lookup_root`].
#[derive(Debug)]
pub struct CanonicalEvent<'a> {
    /// Source metadata.
    pub meta: &'a SourceMeta,
    /// How the body was shaped at the source.
    pub shape: BodyShape,
    /// Event time: the Event's stageTimestamp, else requestReceivedTimestamp,
    /// else the source envelope's timestamp.
    pub time: Option<EventTime>,
    /// The canonical Event. After a partial parse, the members in
    /// [`BODY_KEYS`] are not here but in `deferred`: read top-level
    /// members with [`CanonicalEvent::member`].
    pub audit: Value<'a>,
    deferred: Vec<Deferred<'a>>,
    record_bytes: Option<&'a [u8]>,
    record: OnceCell<Option<Value<'a>>>,
}

impl<'a> CanonicalEvent<'a> {
    /// The original source record, parsed on first use.
    pub fn record(&self) -> Option<&Value<'a>> {
        self.record
            .get_or_init(|| self.record_bytes.and_then(|b| Value::from_slice(b).ok()))
            .as_ref()
    }

    /// The top-level member `key` of the canonical Event, parsing it first
    /// if a partial parse kept it as text.
    pub fn member(&self, key: &str) -> Option<&Value<'a>> {
        self.audit.get(key).or_else(|| {
            self.deferred
                .iter()
                .find(|d| d.key() == key)
                .and_then(Deferred::value)
        })
    }

    /// After a partial parse: why a body a rule read could not be parsed
    /// (nested too deep for a tree), if one could not. The record must then
    /// be skipped with that reason, as a whole parse would have.
    pub fn body_error(&self) -> Option<crate::DecodeError> {
        self.deferred
            .iter()
            .find_map(Deferred::error)
            .map(crate::DecodeError::from_json_ref)
    }

    /// Resolves the first key of a path: the canonical Event first, then
    /// kadet's source fields (`p_log_type`, `p_source_label`, `p_event_time`)
    /// and derived ones ([`DERIVED_FIELDS`]), then the source record.
    pub fn lookup_root(&self, key: &str) -> Option<std::borrow::Cow<'_, Value<'a>>> {
        use std::borrow::Cow;
        if let Some(v) = self.member(key) {
            return Some(Cow::Borrowed(v));
        }
        match key {
            "p_log_type" => return Some(Cow::Owned(Value::from(self.meta.log_type.name()))),
            "p_source_label" => {
                if let Some(c) = &self.meta.cluster {
                    return Some(Cow::Owned(Value::from(c.as_str())));
                }
            }
            "p_event_time" => {
                if let Some(t) = self.time {
                    return Some(Cow::Owned(Value::from(t.to_rfc3339().as_str())));
                }
            }
            "p_exec_command" => {
                if let Some(c) = crate::exec_command::exec_command(
                    self.member("requestURI"),
                    self.member("requestObject"),
                ) {
                    return Some(Cow::Owned(Value::from(c.as_str())));
                }
            }
            "p_credential_id" => {
                if let Some(c) = crate::credential::credential_id(&self.audit) {
                    return Some(Cow::Owned(Value::from(c)));
                }
            }
            "p_issued_credential_id" => {
                if let Some(c) = crate::credential::issued_credential_id(&self.audit) {
                    return Some(Cow::Owned(Value::from(c)));
                }
            }
            _ => {}
        }
        self.record().and_then(|r| r.get(key)).map(Cow::Borrowed)
    }

    /// The canonical Event as a root value.
    pub fn root(&self) -> &Value<'a> {
        &self.audit
    }

    /// A string field of the Event by path of object keys.
    pub fn str_at(&self, keys: &[&str]) -> Option<&str> {
        let (first, rest) = keys.split_first()?;
        self.member(first)?.pointer(rest).and_then(Value::as_str)
    }

    /// `auditID`, when the source has one.
    pub fn audit_id(&self) -> Option<&str> {
        self.str_at(&["auditID"])
    }

    /// The cluster name, when known.
    pub fn cluster(&self) -> Option<&str> {
        self.meta.cluster.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(body: &'static str) -> RawEvent<'static> {
        RawEvent {
            meta: SourceMeta {
                log_type: LogType::KubernetesAudit,
                cluster: None,
                source_time: None,
                location: Location::line(std::sync::Arc::from("t"), 1),
            },
            body: std::borrow::Cow::Borrowed(body.as_bytes()),
            shape: BodyShape::Audit,
            record: None,
        }
    }

    #[test]
    fn a_partial_parse_reads_the_bodies_only_when_asked_and_agrees_with_the_whole() {
        let r = raw(
            r#"{"kind":"Event","verb":"create","requestURI":"/api/v1/namespaces/a/pods/b/exec","requestObject":{"command":["nc","-e","/bin/sh"],"metadata":{"name":"b"}},"stageTimestamp":"2024-05-01T10:00:00Z"}"#,
        );
        let whole = r.parse().unwrap();
        let keys = ["verb", "requestURI", "requestObject", "stageTimestamp"];
        for partial in [
            r.parse_keys(Some(&keys)).unwrap(),
            r.parse_plain_keys(&keys, 1 << 20).unwrap(),
        ] {
            assert!(partial.audit.get("requestObject").is_none());
            assert_eq!(
                partial.member("requestObject"),
                whole.audit.get("requestObject")
            );
            assert_eq!(
                partial.str_at(&["requestObject", "metadata", "name"]),
                Some("b")
            );
            assert_eq!(
                partial.lookup_root("p_exec_command").unwrap().as_str(),
                Some("nc -e /bin/sh")
            );
            assert_eq!(partial.time, whole.time);
            assert!(partial.member("responseObject").is_none());
        }
    }
}
