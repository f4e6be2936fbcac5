//! kube-apiserver audit events: log backend lines, webhook `EventList` bodies,
//! arrays of events and single pretty-printed events.

use super::{raw_str, DecodeError, DecodeSink, Decoder, Envelope};
use crate::event::{BodyShape, Location, SourceMeta};
use crate::LogType;
use serde_json::value::RawValue;

/// Emits one Event whose envelope has been read.
pub(crate) fn decode_event<'a>(
    dec: &Decoder,
    bytes: &'a [u8],
    env: &Envelope<'a>,
    log_type: LogType,
    loc: &Location,
    sink: &mut dyn DecodeSink<'a>,
) {
    if let Some(kind) = raw_str(env.kind) {
        if kind != "Event" {
            return sink.skip(
                DecodeError::shape(format!("object has kind {kind:?}, not an audit Event"))
                    .at(loc.clone()),
            );
        }
    } else if env.kind.is_some() {
        return sink.skip(DecodeError::shape("\"kind\" is not a string").at(loc.clone()));
    }
    let meta = SourceMeta {
        log_type,
        cluster: None,
        source_time: None,
        location: loc.clone(),
    };
    dec.emit_whole(bytes, meta, BodyShape::Audit, sink);
}

/// Emits the items of an `EventList` (the audit webhook body).
pub(crate) fn decode_event_list<'a>(
    dec: &Decoder,
    env: &Envelope<'a>,
    loc: &Location,
    sink: &mut dyn DecodeSink<'a>,
) {
    if let Some(kind) = raw_str(env.kind) {
        if kind != "EventList" {
            return sink.skip(
                DecodeError::shape(format!(
                    "object with \"items\" has kind {kind:?}, not EventList"
                ))
                .at(loc.clone()),
            );
        }
    }
    let Some(items) = env.items else { return };
    let items: Vec<&'a RawValue> = match serde_json::from_str(items.get()) {
        Ok(v) => v,
        Err(_) => {
            return sink
                .skip(DecodeError::shape("EventList \"items\" is not an array").at(loc.clone()))
        }
    };
    for (i, item) in items.into_iter().enumerate() {
        let item_loc = loc.with_record(i);
        let bytes = item.get().as_bytes();
        let env: Envelope<'a> = match serde_json::from_slice(bytes) {
            Ok(e) => e,
            Err(e) => {
                sink.skip(
                    DecodeError::shape(format!("EventList item is not an object: {e}"))
                        .at(item_loc),
                );
                continue;
            }
        };
        decode_event(dec, bytes, &env, LogType::KubernetesAudit, &item_loc, sink);
    }
}
