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
pub mod envelope;
pub mod gke;
pub mod k8s;
pub mod panther;

pub use crate::error::{DecodeError, IgnoreReason, Skip, SkipReason};
use crate::event::{Location, RawEvent};
pub use envelope::{gunzip_limited, open_base64, EnvelopeError, BATCH_FIELDS};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

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
    /// Every format, `Auto` first.
    pub const ALL: [InputFormat; 6] = [
        InputFormat::Auto,
        InputFormat::K8s,
        InputFormat::EksCloudwatch,
        InputFormat::Aks,
        InputFormat::Gke,
        InputFormat::Panther,
    ];

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

    /// What it reads, in a few words (the command line's help).
    pub fn description(self) -> &'static str {
        match self {
            InputFormat::Auto => "Recognise each record's shape",
            InputFormat::K8s => "kube-apiserver audit events (JSON lines, EventList, arrays)",
            InputFormat::EksCloudwatch => "EKS control-plane logs from CloudWatch Logs",
            InputFormat::Aks => "AKS diagnostic records",
            InputFormat::Gke => "GKE Cloud Audit Log entries",
            InputFormat::Panther => "Panther-normalised records",
        }
    }

    /// The log type a plain audit-event line of this format decodes to,
    /// when there is one: what the prefilter presumes of a line it has not
    /// decoded.
    pub fn presumed_log_type(self) -> Option<crate::LogType> {
        match self {
            InputFormat::Auto | InputFormat::K8s => Some(crate::LogType::KubernetesAudit),
            InputFormat::EksCloudwatch => Some(crate::LogType::EksAudit),
            InputFormat::Aks | InputFormat::Gke | InputFormat::Panther => None,
        }
    }

    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Option<InputFormat> {
        InputFormat::ALL.into_iter().find(|f| f.name() == name)
    }

    fn allows(self, detected: InputFormat) -> bool {
        self == InputFormat::Auto || self == detected
    }
}

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
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// The decoder to use, or auto-detection.
    pub format: InputFormat,
    /// The largest single event accepted, in bytes.
    pub max_event_bytes: usize,
    /// The cluster name given to events whose record names none (a raw
    /// kube-apiserver log carries no cluster name; EKS, AKS and GKE records do).
    pub cluster: Option<String>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            format: InputFormat::Auto,
            max_event_bytes: 4 << 20,
            cluster: None,
        }
    }
}

/// Passes events on, naming the cluster of those whose record names none.
struct DefaultCluster<'s, 'a> {
    name: &'s str,
    inner: &'s mut dyn DecodeSink<'a>,
}

impl<'a> DecodeSink<'a> for DefaultCluster<'_, 'a> {
    fn admit(&mut self, bytes: &[u8], log_type: crate::LogType) -> bool {
        self.inner.admit(bytes, log_type)
    }
    fn event(&mut self, mut event: RawEvent<'a>) {
        if event.meta.cluster.is_none() {
            event.meta.cluster = Some(self.name.to_string());
        }
        self.inner.event(event)
    }
    fn skip(&mut self, skip: Skip) {
        self.inner.skip(skip)
    }
    fn ignore(&mut self, reason: IgnoreReason) {
        self.inner.ignore(reason)
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
    pub fn options(&self) -> &DecodeOptions {
        &self.opts
    }

    /// Decodes one record (a line or a document).
    pub fn decode<'a>(&self, record: &'a [u8], loc: &Location, sink: &mut dyn DecodeSink<'a>) {
        self.decode_named(record, loc, None, sink)
    }

    /// Decodes one record whose sender named its cluster: `cluster` (else
    /// the options' default) names the events whose record names none.
    pub fn decode_named<'a>(
        &self,
        record: &'a [u8],
        loc: &Location,
        cluster: Option<&str>,
        sink: &mut dyn DecodeSink<'a>,
    ) {
        match cluster.or(self.opts.cluster.as_deref()) {
            Some(name) => {
                self.decode_record(record, loc, &mut DefaultCluster { name, inner: sink })
            }
            None => self.decode_record(record, loc, sink),
        }
    }

    fn decode_record<'a>(&self, record: &'a [u8], loc: &Location, sink: &mut dyn DecodeSink<'a>) {
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
