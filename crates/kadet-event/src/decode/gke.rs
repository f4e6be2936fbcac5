//! GKE audit logs: Cloud Audit Logs `LogEntry` records whose `protoPayload`
//! is an AuditLog of `serviceName: k8s.io`, decoded into events;
//! [`crate::gke_audit`] maps each entry to the canonical Event.
//!
//! The cluster name is `resource.labels.cluster_name`. The entry itself stays
//! reachable: a rule may still read `protoPayload.methodName`.

use super::{classify_error, DecodeSink, Decoder};
use crate::error::{DecodeError, IgnoreReason};
use crate::event::{BodyShape, Location, SourceMeta};
use crate::time::EventTime;
use crate::LogType;
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct Entry<'a> {
    #[serde(borrow)]
    protoPayload: Option<Proto<'a>>,
    #[serde(borrow)]
    resource: Option<Resource<'a>>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct Proto<'a> {
    #[serde(borrow)]
    serviceName: Option<Cow<'a, str>>,
    #[serde(borrow)]
    methodName: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Resource<'a> {
    #[serde(borrow)]
    labels: Option<Labels<'a>>,
}

#[derive(Deserialize)]
struct Labels<'a> {
    #[serde(borrow)]
    cluster_name: Option<Cow<'a, str>>,
}

/// True when the entry is a Kubernetes API audit entry.
fn is_kubernetes(proto: &Proto<'_>) -> bool {
    match proto.serviceName.as_deref() {
        Some(s) => s == "k8s.io",
        None => proto
            .methodName
            .as_deref()
            .is_some_and(|m| m.starts_with("io.k8s.")),
    }
}

/// Emits a GKE LogEntry as an event (`foreign_ok` keeps non-Kubernetes
/// entries as foreign records, for Panther's `GCP.AuditLog`).
pub(crate) fn decode_entry<'a>(
    dec: &Decoder,
    bytes: &'a [u8],
    cluster_override: Option<String>,
    foreign_ok: bool,
    loc: &Location,
    sink: &mut dyn DecodeSink<'a>,
) {
    let entry: Entry<'a> = match serde_json::from_slice(bytes) {
        Ok(e) => e,
        Err(e) => return sink.skip(classify_error(bytes, e).at(loc.clone())),
    };
    let Some(proto) = entry.protoPayload else {
        if foreign_ok {
            let meta = SourceMeta {
                log_type: LogType::GcpAudit,
                cluster: cluster_override,
                source_time: None,
                location: loc.clone(),
            };
            return dec.emit_whole(bytes, meta, BodyShape::Foreign, sink);
        }
        return sink.skip(DecodeError::shape("LogEntry has no \"protoPayload\"").at(loc.clone()));
    };
    let shape = if is_kubernetes(&proto) {
        BodyShape::GkeLogEntry
    } else if foreign_ok {
        BodyShape::Foreign
    } else {
        return sink.ignore(IgnoreReason::NonKubernetesService);
    };
    let cluster = cluster_override.or_else(|| {
        entry
            .resource
            .and_then(|r| r.labels)
            .and_then(|l| l.cluster_name)
            .and_then(|c| crate::cluster::from_record(&c))
    });
    let time = entry.timestamp.and_then(|t| EventTime::parse(&t));
    let meta = SourceMeta {
        log_type: LogType::GcpAudit,
        cluster,
        source_time: time,
        location: loc.clone(),
    };
    dec.emit_whole(bytes, meta, shape, sink);
}

/// Decodes a GKE LogEntry for the `gke` format.
pub(crate) fn decode<'a>(
    dec: &Decoder,
    bytes: &'a [u8],
    loc: &Location,
    sink: &mut dyn DecodeSink<'a>,
) {
    decode_entry(dec, bytes, None, false, loc, sink)
}
