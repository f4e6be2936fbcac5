//! EKS control-plane audit logs from CloudWatch Logs: subscription payloads
//! (decoded JSON, or gzip+base64 as Kinesis and Firehose deliver them) and
//! exported lines (`<timestamp> <message>` or the bare message).

use super::envelope::EnvelopeError;
use super::{
    classify_error, preview, raw_str, DecodeError, DecodeSink, Decoder, IgnoreReason, SkipReason,
};
use crate::event::{BodyShape, Location, RawEvent, SourceMeta};
use crate::time::EventTime;
use crate::LogType;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct Payload<'a> {
    #[serde(borrow)]
    messageType: Option<&'a RawValue>,
    #[serde(borrow)]
    logGroup: Option<&'a RawValue>,
    #[serde(borrow, default)]
    logEvents: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct LogEvent<'a> {
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(borrow)]
    message: Cow<'a, str>,
}

/// The cluster name in an EKS log group, `/aws/eks/<cluster>/cluster`.
pub fn cluster_from_log_group(group: &str) -> Option<String> {
    let rest = group.strip_prefix("/aws/eks/")?;
    let name = rest.strip_suffix("/cluster").unwrap_or(rest);
    if name.is_empty() || name.contains('/') {
        return None;
    }
    crate::cluster::from_record(name)
}

/// Emits the audit events of a decoded CloudWatch Logs subscription payload.
pub(crate) fn decode_payload<'a>(
    dec: &Decoder,
    bytes: &'a [u8],
    loc: &Location,
    sink: &mut dyn DecodeSink<'a>,
) {
    let payload: Payload<'a> = match serde_json::from_slice(bytes) {
        Ok(p) => p,
        Err(e) => return sink.skip(classify_error(bytes, e).at(loc.clone())),
    };
    if raw_str(payload.messageType).as_deref() == Some("CONTROL_MESSAGE") {
        return sink.ignore(IgnoreReason::ControlMessage);
    }
    let cluster = raw_str(payload.logGroup).and_then(|g| cluster_from_log_group(&g));
    let Some(events) = payload.logEvents else {
        return sink.skip(
            DecodeError::shape("CloudWatch payload has no \"logEvents\" array").at(loc.clone()),
        );
    };
    for (i, raw) in events.into_iter().enumerate() {
        let item_loc = loc.with_record(i);
        let record = raw.get().as_bytes();
        if !sink.admit(record, LogType::EksAudit) {
            continue;
        }
        let ev: LogEvent<'_> = match serde_json::from_slice(record) {
            Ok(e) => e,
            Err(e) => {
                sink.skip(
                    DecodeError::shape(format!("logEvent has no string \"message\": {e}"))
                        .at(item_loc),
                );
                continue;
            }
        };
        let body: Vec<u8> = ev.message.into_owned().into_bytes();
        if !dec.check_size(&body, &item_loc, sink) {
            continue;
        }
        sink.event(RawEvent {
            meta: SourceMeta {
                log_type: LogType::EksAudit,
                cluster: cluster.clone(),
                source_time: ev.timestamp.map(EventTime::from_millis),
                location: item_loc,
            },
            body: Cow::Owned(body),
            shape: BodyShape::Audit,
            record: Some(Cow::Borrowed(record)),
        });
    }
}

/// True when `bytes` starts like base64 of a gzip stream (`H4sI`).
pub(crate) fn looks_like_base64_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"H4sI")
}

/// For an exported CloudWatch line `2024-01-02T03:04:05.000Z {"kind":...}`,
/// the message part.
pub(crate) fn strip_export_prefix(bytes: &[u8]) -> Option<&[u8]> {
    let head = &bytes[..bytes.len().min(64)];
    let space = head.iter().position(|&b| b == b' ')?;
    let stamp = std::str::from_utf8(&head[..space]).ok()?;
    EventTime::parse(stamp)?;
    let rest = &bytes[space..];
    let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    matches!(rest[start], b'{').then_some(&rest[start..])
}

/// Decodes a gzip+base64 CloudWatch Logs payload (as Kinesis and Firehose
/// deliver it). The payload may hold several JSON documents back to back.
pub(crate) fn decode_base64_payload<'a>(
    dec: &Decoder,
    bytes: &'a [u8],
    loc: &Location,
    sink: &mut dyn DecodeSink<'a>,
) {
    let limit = dec.options().max_event_bytes.saturating_mul(64);
    let plain = match super::envelope::open_base64(bytes, limit) {
        Ok(p) => p,
        Err(e) => {
            let reason = match e {
                EnvelopeError::TooLarge(_) => SkipReason::TooLarge,
                EnvelopeError::NotBase64(_) | EnvelopeError::BadGzip(_) => SkipReason::BadEncoding,
            };
            let message = match e {
                EnvelopeError::NotBase64(_) => format!("{e}: {}", preview(bytes)),
                _ => e.to_string(),
            };
            return sink.skip(DecodeError { reason, message }.at(loc.clone()));
        }
    };
    decode_owned_documents(dec, plain, loc, sink);
}

/// Decodes JSON documents held in an owned buffer (a decompressed payload).
/// Events found are copied out so they outlive the buffer.
pub(crate) fn decode_owned_documents<'a>(
    dec: &Decoder,
    plain: Vec<u8>,
    loc: &Location,
    sink: &mut dyn DecodeSink<'a>,
) {
    let mut docs = serde_json::Deserializer::from_slice(&plain).into_iter::<&RawValue>();
    let mut index = 0usize;
    loop {
        match docs.next() {
            None => break,
            Some(Ok(doc)) => {
                let doc_loc = if index == 0 {
                    loc.clone()
                } else {
                    loc.with_record(index)
                };
                let mut owned = OwningSink { inner: sink };
                dec.decode(doc.get().as_bytes(), &doc_loc, &mut owned);
                index += 1;
            }
            Some(Err(e)) => {
                sink.skip(classify_error(&plain, e).at(loc.clone()));
                break;
            }
        }
    }
}

/// Adapts a sink for events that borrow from a short-lived buffer by copying them.
struct OwningSink<'s, 'a> {
    inner: &'s mut dyn DecodeSink<'a>,
}

impl<'b> DecodeSink<'b> for OwningSink<'_, '_> {
    fn admit(&mut self, bytes: &[u8], log_type: LogType) -> bool {
        self.inner.admit(bytes, log_type)
    }
    fn event(&mut self, event: RawEvent<'b>) {
        self.inner.event(RawEvent {
            meta: event.meta,
            body: Cow::Owned(event.body.into_owned()),
            shape: event.shape,
            record: event.record.map(|r| Cow::Owned(r.into_owned())),
        });
    }
    fn skip(&mut self, skip: super::Skip) {
        self.inner.skip(skip);
    }
    fn ignore(&mut self, reason: IgnoreReason) {
        self.inner.ignore(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_group_names_the_cluster() {
        assert_eq!(
            cluster_from_log_group("/aws/eks/prod-1/cluster").as_deref(),
            Some("prod-1")
        );
        assert_eq!(cluster_from_log_group("/aws/lambda/x/y"), None);
    }

    #[test]
    fn export_prefix_is_stripped() {
        let line = br#"2024-01-02T03:04:05.000Z {"kind":"Event"}"#;
        assert_eq!(strip_export_prefix(line), Some(&br#"{"kind":"Event"}"#[..]));
        assert_eq!(strip_export_prefix(b"hello world {"), None);
    }
}
