//! Decoders: from a record's bytes to [`RawEvent`]s.
//!
//! A *record* is what the reader hands over: one line of a JSON-lines file, or
//! one top-level JSON value of a pretty-printed document. A record may hold one
//! event (a kube-apiserver log line), many (an `EventList`, a CloudWatch Logs
//! payload, an Azure `{"records": [...]}` batch) or none (a CloudWatch
//! `CONTROL_MESSAGE`). [`Decoder::decode`] recognises the shape of each record
//! (or checks it against a forced [`InputFormat`]) and hands the events to a
//! [`DecodeSink`].

pub mod aks;
pub mod eks;
pub mod gke;
pub mod k8s;
pub mod panther;

use crate::event::{Location, RawEvent};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Which decoder to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// Recognise each record's shape.
    #[default]
    Auto,
    /// kube-apiserver log/webhook events: Event, EventList, array of events.
    K8s,
    /// EKS CloudWatch Logs: subscription payloads (JSON or gzip+base64) and exported lines.
    EksCloudwatch,
    /// Azure Monitor diagnostic records of AKS.
    Aks,
    /// GKE Cloud Audit Logs entries.
    Gke,
    /// Panther-normalised records carrying `p_log_type`.
    Panther,
}

impl InputFormat {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Auto => "auto",
            InputFormat::K8s => "k8s",
            InputFormat::EksCloudwatch => "eks-cloudwatch",
            InputFormat::Aks => "aks",
            InputFormat::Gke => "gke",
            InputFormat::Panther => "panther",
        }
    }

    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Option<InputFormat> {
        [
            InputFormat::Auto,
            InputFormat::K8s,
            InputFormat::EksCloudwatch,
            InputFormat::Aks,
            InputFormat::Gke,
            InputFormat::Panther,
        ]
        .into_iter()
        .find(|f| f.name() == name)
    }

    fn allows(self, detected: InputFormat) -> bool {
        self == InputFormat::Auto || self == detected
    }
}

/// Why a record or event was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// Not valid JSON.
    MalformedJson,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// Nesting deeper than the parser's limit (128).
    TooDeep,
    /// Larger than the configured size limit.
    TooLarge,
    /// Valid JSON that is no audit record kadet knows.
    UnknownShape,
    /// A compressed or base64 payload that could not be decoded.
    BadEncoding,
    /// Reading the input failed (truncated gzip, I/O error).
    ReadError,
}

impl SkipReason {
    /// Kebab-case name used in summaries.
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::MalformedJson => "malformed-json",
            SkipReason::InvalidUtf8 => "invalid-utf8",
            SkipReason::TooDeep => "too-deep",
            SkipReason::TooLarge => "too-large",
            SkipReason::UnknownShape => "unknown-shape",
            SkipReason::BadEncoding => "bad-encoding",
            SkipReason::ReadError => "read-error",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Records deliberately passed over: not errors, but counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IgnoreReason {
    /// CloudWatch Logs `CONTROL_MESSAGE`.
    ControlMessage,
    /// Azure diagnostic record of a category other than kube-audit(-admin).
    NonAuditCategory,
    /// GKE entry of a service other than `k8s.io`.
    NonKubernetesService,
    /// An event discarded by the prefilter before parsing.
    Prefiltered,
}

impl IgnoreReason {
    /// Kebab-case name used in summaries.
    pub fn name(self) -> &'static str {
        match self {
            IgnoreReason::ControlMessage => "control-message",
            IgnoreReason::NonAuditCategory => "non-audit-category",
            IgnoreReason::NonKubernetesService => "non-kubernetes-service",
            IgnoreReason::Prefiltered => "prefiltered",
        }
    }
}

/// A diagnostic for a skipped record: where, why, and what exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Skip {
    /// Where the record is.
    pub location: Location,
    /// The category of the problem.
    pub reason: SkipReason,
    /// A one-line description.
    pub message: String,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.reason, self.message)
    }
}

/// An error while decoding one event.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    /// The category.
    pub reason: SkipReason,
    /// A one-line description.
    pub message: String,
}

impl DecodeError {
    /// Classifies a JSON parser error.
    pub fn from_json(e: serde_json::Error) -> DecodeError {
        let text = e.to_string();
        let reason = if text.contains("recursion limit") {
            SkipReason::TooDeep
        } else if text.contains("unicode") || text.contains("UTF-8") || text.contains("utf-8") {
            SkipReason::InvalidUtf8
        } else if e.is_data() {
            SkipReason::UnknownShape
        } else {
            SkipReason::MalformedJson
        };
        DecodeError {
            reason,
            message: text,
        }
    }

    /// A shape error.
    pub fn shape(message: impl Into<String>) -> DecodeError {
        DecodeError {
            reason: SkipReason::UnknownShape,
            message: message.into(),
        }
    }

    /// Attaches a location.
    pub fn at(self, location: Location) -> Skip {
        Skip {
            location,
            reason: self.reason,
            message: self.message,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.message)
    }
}

impl std::error::Error for DecodeError {}

/// Receives what a decoder finds in a record.
pub trait DecodeSink<'a> {
    /// The prefilter: `false` drops the event before it is parsed. `bytes`
    /// is the source record holding the event, `log_type` what it decodes to.
    fn admit(&mut self, bytes: &[u8], log_type: crate::LogType) -> bool;
    /// An event.
    fn event(&mut self, event: RawEvent<'a>);
    /// A record or event that could not be decoded.
    fn skip(&mut self, skip: Skip);
    /// A record passed over on purpose.
    fn ignore(&mut self, reason: IgnoreReason);
}

/// Options shared by all decoders.
#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions {
    /// The decoder to use, or auto-detection.
    pub format: InputFormat,
    /// The largest single event accepted, in bytes.
    pub max_event_bytes: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            format: InputFormat::Auto,
            max_event_bytes: 4 << 20,
        }
    }
}

/// Turns records into events.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    opts: DecodeOptions,
}

/// The top-level keys that tell record shapes apart. Every field is borrowed
/// raw JSON, so recognising a record allocates nothing.
#[derive(Deserialize, Default)]
#[allow(non_snake_case)]
pub(crate) struct Envelope<'a> {
    #[serde(borrow)]
    pub kind: Option<&'a RawValue>,
    #[serde(borrow)]
    pub items: Option<&'a RawValue>,
    #[serde(borrow)]
    pub records: Option<&'a RawValue>,
    #[serde(borrow)]
    pub logEvents: Option<&'a RawValue>,
    #[serde(borrow)]
    pub messageType: Option<&'a RawValue>,
    #[serde(borrow)]
    pub protoPayload: Option<&'a RawValue>,
    #[serde(borrow)]
    pub p_log_type: Option<&'a RawValue>,
    #[serde(borrow)]
    pub category: Option<&'a RawValue>,
    #[serde(borrow)]
    pub properties: Option<&'a RawValue>,
    #[serde(borrow)]
    pub verb: Option<&'a RawValue>,
    #[serde(borrow)]
    pub auditID: Option<&'a RawValue>,
    #[serde(borrow)]
    pub objectRef: Option<&'a RawValue>,
    #[serde(borrow)]
    pub requestURI: Option<&'a RawValue>,
    #[serde(borrow)]
    pub stage: Option<&'a RawValue>,
}

impl Envelope<'_> {
    pub(crate) fn looks_like_audit_event(&self) -> bool {
        self.verb.is_some()
            || self.auditID.is_some()
            || self.objectRef.is_some()
            || self.requestURI.is_some()
            || self.stage.is_some()
    }
}

/// Reads a raw JSON value as a string, if it is one.
pub(crate) fn raw_str<'a>(raw: Option<&'a RawValue>) -> Option<Cow<'a, str>> {
    raw.and_then(|r| serde_json::from_str::<Cow<'a, str>>(r.get()).ok())
}

impl Decoder {
    /// A decoder with the given options.
    pub fn new(opts: DecodeOptions) -> Decoder {
        Decoder { opts }
    }

    /// The options in force.
    pub fn options(&self) -> DecodeOptions {
        self.opts
    }

    /// Decodes one record (a line or a document).
    pub fn decode<'a>(&self, record: &'a [u8], loc: &Location, sink: &mut dyn DecodeSink<'a>) {
        let trimmed = trim_ascii(record);
        let Some(&first) = trimmed.first() else {
            return;
        };
        match first {
            b'{' => self.decode_object(trimmed, loc, sink),
            b'[' => self.decode_array(trimmed, loc, sink),
            _ => self.decode_other(trimmed, loc, sink),
        }
    }

    fn decode_array<'a>(&self, bytes: &'a [u8], loc: &Location, sink: &mut dyn DecodeSink<'a>) {
        let items: Vec<&'a RawValue> = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => return sink.skip(classify_error(bytes, e).at(loc.clone())),
        };
        for (i, item) in items.into_iter().enumerate() {
            let item_loc = loc.with_record(i);
            self.decode_object(item.get().as_bytes(), &item_loc, sink);
        }
    }

    fn decode_other<'a>(&self, bytes: &'a [u8], loc: &Location, sink: &mut dyn DecodeSink<'a>) {
        if eks::looks_like_base64_gzip(bytes) && self.opts.format.allows(InputFormat::EksCloudwatch)
            || self.opts.format == InputFormat::EksCloudwatch
        {
            if let Some(rest) = eks::strip_export_prefix(bytes) {
                return self.decode_object(rest, loc, sink);
            }
            return eks::decode_base64_payload(self, bytes, loc, sink);
        }
        if let Some(rest) = eks::strip_export_prefix(bytes) {
            return self.decode_object(rest, loc, sink);
        }
        let err = if std::str::from_utf8(bytes).is_err() {
            DecodeError {
                reason: SkipReason::InvalidUtf8,
                message: "record is not valid UTF-8".into(),
            }
        } else {
            DecodeError {
                reason: SkipReason::MalformedJson,
                message: format!("record does not start with '{{' or '[': {}", preview(bytes)),
            }
        };
        sink.skip(err.at(loc.clone()));
    }

    /// Decodes one JSON object of any supported shape.
    pub(crate) fn decode_object<'a>(
        &self,
        bytes: &'a [u8],
        loc: &Location,
        sink: &mut dyn DecodeSink<'a>,
    ) {
        let env: Envelope<'a> = match serde_json::from_slice(bytes) {
            Ok(env) => env,
            Err(e) => return sink.skip(classify_error(bytes, e).at(loc.clone())),
        };
        let format = self.opts.format;
        let detected = if env.p_log_type.is_some() {
            InputFormat::Panther
        } else if env.items.is_some() {
            InputFormat::K8s
        } else if env.logEvents.is_some() || env.messageType.is_some() {
            InputFormat::EksCloudwatch
        } else if env.records.is_some() || (env.category.is_some() && env.properties.is_some()) {
            InputFormat::Aks
        } else if env.protoPayload.is_some() {
            InputFormat::Gke
        } else if env.looks_like_audit_event() || raw_str(env.kind).as_deref() == Some("Event") {
            InputFormat::K8s
        } else {
            let what = match env.kind {
                Some(k) => format!("object has \"kind\": {}, and is not an audit Event", k.get()),
                None => "object is not an audit Event, EventList, CloudWatch payload, Azure record or GKE LogEntry".to_string(),
            };
            return sink.skip(DecodeError::shape(what).at(loc.clone()));
        };
        // A plain exported CloudWatch line is just an Event.
        let accepted = format.allows(detected)
            || (format == InputFormat::EksCloudwatch
                && detected == InputFormat::K8s
                && env.items.is_none());
        if !accepted {
            return sink.skip(
                DecodeError::shape(format!(
                    "record looks like {} input, not {}",
                    detected.name(),
                    format.name()
                ))
                .at(loc.clone()),
            );
        }
        match detected {
            InputFormat::Panther => panther::decode(self, bytes, &env, loc, sink),
            InputFormat::K8s if env.items.is_some() => {
                k8s::decode_event_list(self, &env, loc, sink)
            }
            InputFormat::K8s => {
                let log_type = if format == InputFormat::EksCloudwatch {
                    crate::LogType::EksAudit
                } else {
                    crate::LogType::KubernetesAudit
                };
                k8s::decode_event(self, bytes, &env, log_type, loc, sink)
            }
            InputFormat::EksCloudwatch => eks::decode_payload(self, bytes, loc, sink),
            InputFormat::Aks => aks::decode(self, bytes, &env, loc, sink),
            InputFormat::Gke => gke::decode(self, bytes, loc, sink),
            InputFormat::Auto => unreachable_auto(loc, sink),
        }
    }

    /// Emits a record that is itself the event body, after the size check
    /// and the prefilter.
    pub(crate) fn emit_whole<'a>(
        &self,
        bytes: &'a [u8],
        meta: crate::event::SourceMeta,
        shape: crate::event::BodyShape,
        sink: &mut dyn DecodeSink<'a>,
    ) {
        if !self.check_size(bytes, &meta.location, sink) || !sink.admit(bytes, meta.log_type) {
            return;
        }
        sink.event(RawEvent {
            meta,
            body: Cow::Borrowed(bytes),
            shape,
            record: None,
        });
    }

    pub(crate) fn check_size(
        &self,
        bytes: &[u8],
        loc: &Location,
        sink: &mut dyn DecodeSink<'_>,
    ) -> bool {
        if bytes.len() > self.opts.max_event_bytes {
            sink.skip(
                DecodeError {
                    reason: SkipReason::TooLarge,
                    message: format!(
                        "event of {} bytes is over the limit of {} bytes",
                        bytes.len(),
                        self.opts.max_event_bytes
                    ),
                }
                .at(loc.clone()),
            );
            return false;
        }
        true
    }
}

fn unreachable_auto(loc: &Location, sink: &mut dyn DecodeSink<'_>) {
    sink.skip(DecodeError::shape("internal: no decoder chosen").at(loc.clone()));
}

/// Classifies a parse failure of `bytes`.
pub(crate) fn classify_error(bytes: &[u8], e: serde_json::Error) -> DecodeError {
    if std::str::from_utf8(bytes).is_err() {
        return DecodeError {
            reason: SkipReason::InvalidUtf8,
            message: format!("record is not valid UTF-8 ({e})"),
        };
    }
    let mut err = DecodeError::from_json(e);
    if err.reason == SkipReason::UnknownShape {
        err.reason = SkipReason::MalformedJson;
    }
    err
}

/// The start of a record, for messages.
pub(crate) fn preview(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(40)];
    let text = String::from_utf8_lossy(cut);
    let mut s: String = text.chars().filter(|c| !c.is_control()).collect();
    if bytes.len() > 40 {
        s.push('…');
    }
    format!("{s:?}")
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}
