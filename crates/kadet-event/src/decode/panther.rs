//! Panther-normalised records: the record carries `p_log_type`
//! (`Amazon.EKS.Audit`, `Azure.MonitorActivity`, `GCP.AuditLog`) and
//! `p_source_label`, which becomes the cluster name. This is the form of the
//! logs in Panther's rule tests.

use super::{raw_str, DecodeError, DecodeSink, Decoder, Envelope};
use crate::event::{BodyShape, Location, SourceMeta};
use crate::time::EventTime;
use crate::LogType;
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize)]
struct PantherFields<'a> {
    #[serde(borrow)]
    p_source_label: Option<Cow<'a, str>>,
    #[serde(borrow)]
    p_event_time: Option<Cow<'a, str>>,
}

/// Decodes a record with `p_log_type`.
pub(crate) fn decode<'a>(
    dec: &Decoder,
    bytes: &'a [u8],
    env: &Envelope<'a>,
    loc: &Location,
    sink: &mut dyn DecodeSink<'a>,
) {
    let fields: Option<PantherFields<'_>> = serde_json::from_slice(bytes).ok();
    let cluster = fields
        .as_ref()
        .and_then(|f| f.p_source_label.as_ref())
        .and_then(|c| crate::cluster::from_record(c));
    let time = fields
        .as_ref()
        .and_then(|f| f.p_event_time.as_ref())
        .and_then(|t| EventTime::parse(t));
    let log_type = raw_str(env.p_log_type);
    match log_type.as_deref().and_then(LogType::from_name) {
        Some(LogType::EksAudit) | Some(LogType::KubernetesAudit) => {
            let lt = log_type
                .as_deref()
                .and_then(LogType::from_name)
                .unwrap_or(LogType::EksAudit);
            dec.emit_whole(
                bytes,
                SourceMeta {
                    log_type: lt,
                    cluster,
                    source_time: time,
                    location: loc.clone(),
                },
                BodyShape::Audit,
                sink,
            );
        }
        Some(LogType::AzureMonitor) => {
            let is_audit = raw_str(env.category).is_some_and(|c| super::aks::is_audit_category(&c));
            if is_audit && env.properties.is_some() {
                super::aks::decode_record(dec, bytes, LogType::AzureMonitor, cluster, loc, sink);
            } else {
                dec.emit_whole(
                    bytes,
                    SourceMeta {
                        log_type: LogType::AzureMonitor,
                        cluster,
                        source_time: time,
                        location: loc.clone(),
                    },
                    BodyShape::Foreign,
                    sink,
                );
            }
        }
        Some(LogType::GcpAudit) => super::gke::decode_entry(dec, bytes, cluster, true, loc, sink),
        None => sink.skip(
            DecodeError::shape(format!(
                "unsupported p_log_type {}",
                env.p_log_type.map(|r| r.get()).unwrap_or("null")
            ))
            .at(loc.clone()),
        ),
    }
}
