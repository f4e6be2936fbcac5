//! AKS audit logs: Azure Monitor diagnostic records of category `kube-audit`
//! or `kube-audit-admin`, alone or in an Event Hub / storage `{"records": [...]}`
//! batch. `properties.log` holds the Event as a JSON string or as an object.

use super::{classify_error, raw_str, DecodeError, DecodeSink, Decoder, Envelope, IgnoreReason};
use crate::event::{BodyShape, Location, RawEvent, SourceMeta};
use crate::time::EventTime;
use crate::LogType;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct Record<'a> {
    #[serde(borrow)]
    category: Option<&'a RawValue>,
    #[serde(borrow)]
    resourceId: Option<&'a RawValue>,
    #[serde(borrow)]
    time: Option<&'a RawValue>,
    #[serde(borrow)]
    properties: Option<Properties<'a>>,
}

#[derive(Deserialize)]
struct Properties<'a> {
    #[serde(borrow)]
    log: Option<&'a RawValue>,
}

/// True for the diagnostic categories that carry audit events.
pub fn is_audit_category(category: &str) -> bool {
    category.eq_ignore_ascii_case("kube-audit") || category.eq_ignore_ascii_case("kube-audit-admin")
}

/// The cluster name in an AKS resource id
/// (`/SUBSCRIPTIONS/…/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/<name>`).
pub fn cluster_from_resource_id(id: &str) -> Option<String> {
    let parts: Vec<&str> = id.split('/').filter(|p| !p.is_empty()).collect();
    let pos = parts.iter().position(|p| {
        p.eq_ignore_ascii_case("managedClusters") || p.eq_ignore_ascii_case("connectedClusters")
    });
    match pos {
        Some(i) => parts
            .get(i + 1)
            .and_then(|s| crate::cluster::from_record(s)),
        None => None,
    }
}

/// Decodes a record or a `{"records": [...]}` batch.
pub(crate) fn decode<'a>(
    dec: &Decoder,
    bytes: &'a [u8],
    env: &Envelope<'a>,
    loc: &Location,
    sink: &mut dyn DecodeSink<'a>,
) {
    match env.records {
        Some(records) => {
            let records: Vec<&'a RawValue> = match serde_json::from_str(records.get()) {
                Ok(r) => r,
                Err(_) => {
                    return sink
                        .skip(DecodeError::shape("\"records\" is not an array").at(loc.clone()))
                }
            };
            for (i, r) in records.into_iter().enumerate() {
                decode_record(
                    dec,
                    r.get().as_bytes(),
                    LogType::AzureMonitor,
                    None,
                    &loc.with_record(i),
                    sink,
                );
            }
        }
        None => decode_record(dec, bytes, LogType::AzureMonitor, None, loc, sink),
    }
}

/// Decodes one diagnostic record. `cluster` overrides the name taken from
/// `resourceId` (Panther's `p_source_label`).
pub(crate) fn decode_record<'a>(
    dec: &Decoder,
    bytes: &'a [u8],
    log_type: LogType,
    cluster: Option<String>,
    loc: &Location,
    sink: &mut dyn DecodeSink<'a>,
) {
    let rec: Record<'a> = match serde_json::from_slice(bytes) {
        Ok(r) => r,
        Err(e) => return sink.skip(classify_error(bytes, e).at(loc.clone())),
    };
    let category = raw_str(rec.category);
    match category.as_deref() {
        Some(c) if is_audit_category(c) => {}
        Some(_) => return sink.ignore(IgnoreReason::NonAuditCategory),
        None => {
            return sink
                .skip(DecodeError::shape("Azure record has no \"category\"").at(loc.clone()))
        }
    }
    let Some(log) = rec.properties.and_then(|p| p.log) else {
        return sink.skip(
            DecodeError::shape("kube-audit record has no \"properties.log\"").at(loc.clone()),
        );
    };
    if !sink.admit(bytes, log_type) {
        return;
    }
    let body: Cow<'a, [u8]> = match log.get().as_bytes().first() {
        Some(b'"') => match serde_json::from_str::<Cow<'a, str>>(log.get()) {
            Ok(Cow::Borrowed(s)) => Cow::Borrowed(s.as_bytes()),
            Ok(Cow::Owned(s)) => Cow::Owned(s.into_bytes()),
            Err(e) => return sink.skip(classify_error(bytes, e).at(loc.clone())),
        },
        Some(b'{') => Cow::Borrowed(log.get().as_bytes()),
        _ => {
            return sink.skip(
                DecodeError::shape("\"properties.log\" is neither a string nor an object")
                    .at(loc.clone()),
            )
        }
    };
    if !dec.check_size(&body, loc, sink) {
        return;
    }
    let cluster =
        cluster.or_else(|| raw_str(rec.resourceId).and_then(|id| cluster_from_resource_id(&id)));
    let source_time = raw_str(rec.time).and_then(|t| EventTime::parse(&t));
    sink.event(RawEvent {
        meta: SourceMeta {
            log_type,
            cluster,
            source_time,
            location: loc.clone(),
        },
        body,
        shape: BodyShape::Audit,
        record: Some(Cow::Borrowed(bytes)),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_id_names_the_cluster() {
        let id = "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/prod-aks";
        assert_eq!(cluster_from_resource_id(id).as_deref(), Some("prod-aks"));
        assert_eq!(cluster_from_resource_id("/subscriptions/x"), None);
    }
}
