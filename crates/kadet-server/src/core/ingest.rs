//! Turning request bodies into journal documents, before anything is
//! journaled: the JSON is checked whole (a bad body is refused with the line
//! and column), oversized single events are dropped from their batch and
//! counted, and Firehose records are unwrapped (base64, gzip) with bounded
//! memory. Only what passes is journaled.

use kadet_event::decode::{EnvelopeError, BATCH_FIELDS};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// The most events one body (or one source message) may hold. Real
/// senders stay far below it (the API server's webhook batches hold at most
/// 400, Firehose requests 500 records), while a body of tiny items (`[0,0,…]`:
/// 16 MiB of them is 8 million) would make every later stage keep millions
/// of entries: it is refused with `413` as it is read.
pub const MAX_EVENTS_PER_BODY: u64 = 100_000;

/// Why a body was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400, with a message saying where.
    Malformed(String),
    /// 413: larger than the limit once decoded.
    TooLarge(String),
}

/// Documents ready to journal, and event counts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Prepared {
    /// Secret values redacted (see [`Prepared::redact`]).
    pub redacted: u64,
    /// The documents.
    pub docs: Vec<Vec<u8>>,
    /// Events in the body.
    pub received: u64,
    /// Events kept.
    pub accepted: u64,
    /// Events dropped for exceeding the single-event limit.
    pub too_large: u64,
}

impl Prepared {
    /// Redacts minted tokens and Secret data in every document before it is
    /// stored, with the same redaction `scan` applies to what it prints. A
    /// document that may hold a secret but cannot be read whole (nested
    /// past the parser's limit, a number out of range) refuses the body:
    /// it must not reach the journal as it came.
    pub fn redact(&mut self) -> Result<(), Refusal> {
        for doc in &mut self.docs {
            match kadet_event::redact::redact_document(doc) {
                Ok(Some((clean, n))) => {
                    *doc = clean;
                    self.redacted += n as u64;
                }
                Ok(None) => {}
                Err(e) => return Err(Refusal::Malformed(e.to_string())),
            }
        }
        Ok(())
    }
}

fn malformed(what: &str, e: &serde_json::Error) -> Refusal {
    let msg = e.to_string();
    // serde_json appends " at line L column C"; say it our way.
    let bare = msg.split(" at line ").next().unwrap_or(&msg);
    Refusal::Malformed(format!(
        "{what}malformed JSON at line {}, column {}: {bare}",
        e.line(),
        e.column()
    ))
}

fn utf8(what: &str, body: &[u8]) -> Result<(), Refusal> {
    match std::str::from_utf8(body) {
        Ok(_) => Ok(()),
        Err(e) => {
            let at = e.valid_up_to();
            let line = body[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            let col = at
                - body[..at]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1)
                + 1;
            Err(Refusal::Malformed(format!(
                "{what}invalid UTF-8 at line {line}, column {col} (byte {at})"
            )))
        }
    }
}

/// The items of a JSON array, refusing the body as soon as the events of
/// the whole body would pass [`MAX_EVENTS_PER_BODY`] (`seen` so far).
fn bounded_items<'a>(text: &'a str, seen: u64, what: &str) -> Result<Vec<&'a RawValue>, Refusal> {
    use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
    struct Items {
        room: u64,
    }
    impl<'de> Visitor<'de> for Items {
        type Value = Vec<&'de RawValue>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON array")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<&'de RawValue>()? {
                if items.len() as u64 >= self.room {
                    return Err(A::Error::custom(TOO_MANY));
                }
                items.push(item);
            }
            Ok(items)
        }
    }
    impl<'de> DeserializeSeed<'de> for Items {
        type Value = Vec<&'de RawValue>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
    }
    const TOO_MANY: &str = "too many events";
    let mut de = serde_json::Deserializer::from_str(text);
    let room = MAX_EVENTS_PER_BODY.saturating_sub(seen);
    let items = Items { room }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    items.map_err(|e| {
        if e.to_string().starts_with(TOO_MANY) {
            Refusal::TooLarge(format!(
                "{what}more than {MAX_EVENTS_PER_BODY} events in one body; send smaller batches"
            ))
        } else {
            malformed(what, &e)
        }
    })
}

/// The most top-level fields one object may have (an audit event has about
/// twenty; a batch wrapper one or two).
const MAX_FIELDS: usize = 10_000;

/// The top-level fields of a JSON object, refusing an object of more than
/// [`MAX_FIELDS`] fields as soon as it is read that far.
fn bounded_fields<'a>(
    text: &'a str,
    what: &str,
) -> Result<BTreeMap<String, &'a RawValue>, Refusal> {
    use serde::de::{DeserializeSeed, Error as _, MapAccess, Visitor};
    struct Fields;
    impl<'de> Visitor<'de> for Fields {
        type Value = BTreeMap<String, &'de RawValue>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut fields = BTreeMap::new();
            while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                if fields.len() >= MAX_FIELDS {
                    return Err(A::Error::custom(TOO_MANY));
                }
                fields.insert(k, v);
            }
            Ok(fields)
        }
    }
    impl<'de> DeserializeSeed<'de> for Fields {
        type Value = BTreeMap<String, &'de RawValue>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }
    const TOO_MANY: &str = "too many fields";
    let mut de = serde_json::Deserializer::from_str(text);
    let fields = Fields
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    fields.map_err(|e| {
        if e.to_string().starts_with(TOO_MANY) {
            Refusal::TooLarge(format!(
                "{what}an object with more than {MAX_FIELDS} fields is not an audit event or batch"
            ))
        } else {
            malformed(what, &e)
        }
    })
}

/// Checks one JSON document and drops oversized events from its batch.
fn prepare_doc(
    text: &str,
    max_event: usize,
    what: &str,
    out: &mut Prepared,
) -> Result<(), Refusal> {
    let trimmed = text.trim_start();
    match trimmed.as_bytes().first() {
        Some(b'[') => {
            let items = bounded_items(text, out.received, what)?;
            let (kept, dropped) = filter(items, max_event, out);
            if kept.is_empty() {
                return Ok(());
            }
            if dropped == 0 {
                out.docs.push(text.as_bytes().to_vec());
            } else {
                out.docs.push(to_bytes(&kept));
            }
        }
        Some(b'{') => {
            let map = bounded_fields(text, what)?;
            let field = BATCH_FIELDS
                .iter()
                .find(|f| map.get(**f).is_some_and(|v| v.get().starts_with('[')));
            match field {
                Some(field) => {
                    let raw = map.get(*field).map_or("[]", |v| v.get());
                    let items = bounded_items(raw, out.received, what)?;
                    let (kept, dropped) = filter(items, max_event, out);
                    if kept.is_empty() {
                        return Ok(());
                    }
                    if dropped == 0 {
                        out.docs.push(text.as_bytes().to_vec());
                    } else {
                        let items = to_bytes(&kept);
                        let items = String::from_utf8(items).unwrap_or_default();
                        let new_items: Box<RawValue> =
                            RawValue::from_string(items).map_err(|e| malformed(what, &e))?;
                        let mut obj: BTreeMap<&str, &RawValue> =
                            map.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                        obj.insert(field, &new_items);
                        out.docs
                            .push(serde_json::to_vec(&obj).map_err(|e| malformed(what, &e))?);
                    }
                }
                None => {
                    if out.received >= MAX_EVENTS_PER_BODY {
                        return Err(Refusal::TooLarge(format!(
                            "{what}more than {MAX_EVENTS_PER_BODY} events in one body; send smaller batches"
                        )));
                    }
                    out.received += 1;
                    if text.len() > max_event {
                        out.too_large += 1;
                    } else {
                        out.accepted += 1;
                        out.docs.push(text.as_bytes().to_vec());
                    }
                }
            }
        }
        _ => {
            // Let serde_json say what is wrong, and where.
            if let Err(e) = serde_json::from_str::<&RawValue>(text) {
                return Err(malformed(what, &e));
            }
            return Err(Refusal::Malformed(format!(
                "{what}expected a JSON object or array"
            )));
        }
    }
    Ok(())
}

/// The items no larger than `max_event`, and how many were dropped;
/// counted in `out`.
fn filter<'a>(
    items: Vec<&'a RawValue>,
    max_event: usize,
    out: &mut Prepared,
) -> (Vec<&'a RawValue>, usize) {
    let n = items.len();
    let kept: Vec<&RawValue> = items
        .into_iter()
        .filter(|v| v.get().len() <= max_event)
        .collect();
    let dropped = n - kept.len();
    out.received += n as u64;
    out.accepted += kept.len() as u64;
    out.too_large += dropped as u64;
    (kept, dropped)
}

fn to_bytes(items: &[&RawValue]) -> Vec<u8> {
    let mut v = Vec::with_capacity(items.iter().map(|i| i.get().len() + 1).sum::<usize>() + 2);
    v.push(b'[');
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            v.push(b',');
        }
        v.extend_from_slice(it.get().as_bytes());
    }
    v.push(b']');
    v
}

/// A body for `/v1/audit` (EventList, Event or array of events) or
/// `/v1/aks` (`{"records": [...]}`): exactly one JSON value.
pub fn prepare_body(body: &[u8], max_event: usize) -> Result<Prepared, Refusal> {
    let body = kadet_event::input::strip_bom(body).unwrap_or(body);
    utf8("", body)?;
    let text = std::str::from_utf8(body).unwrap_or("");
    let mut out = Prepared::default();
    prepare_doc(text, max_event, "", &mut out)?;
    Ok(out)
}

impl From<EnvelopeError> for Refusal {
    fn from(e: EnvelopeError) -> Refusal {
        match e {
            EnvelopeError::TooLarge(_) => Refusal::TooLarge(e.to_string()),
            EnvelopeError::NotBase64(_) | EnvelopeError::BadGzip(_) => {
                Refusal::Malformed(e.to_string())
            }
        }
    }
}

/// Decompresses a gzip body (all members) into at most `limit` bytes.
pub fn gunzip_limited(data: &[u8], limit: usize) -> Result<Vec<u8>, Refusal> {
    Ok(kadet_event::decode::gunzip_limited(data, limit)?)
}

#[derive(Deserialize)]
struct FirehoseRequest {
    #[serde(rename = "requestId")]
    request_id: String,
    #[serde(default)]
    records: Vec<FirehoseRecord>,
}

#[derive(Deserialize)]
struct FirehoseRecord {
    data: String,
}

/// Pulls `requestId` out of a Firehose body even when the rest is bad.
pub fn firehose_request_id(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Id {
        #[serde(rename = "requestId")]
        request_id: String,
    }
    serde_json::from_slice::<Id>(body)
        .ok()
        .map(|i| i.request_id)
}

/// A Kinesis Data Firehose HTTP endpoint delivery: each record's `data` is
/// base64; its content is a (usually gzip'd) CloudWatch Logs subscription
/// payload, or several back to back. `limit` bounds the decoded total.
pub fn prepare_firehose(
    body: &[u8],
    max_event: usize,
    limit: usize,
) -> Result<(String, Prepared), Refusal> {
    let body = kadet_event::input::strip_bom(body).unwrap_or(body);
    utf8("", body)?;
    let req: FirehoseRequest = serde_json::from_slice(body).map_err(|e| malformed("", &e))?;
    let mut out = Prepared::default();
    let mut total = 0usize;
    for (i, rec) in req.records.iter().enumerate() {
        let what = format!("record {i}: ");
        let content =
            kadet_event::decode::open_base64(rec.data.as_bytes(), limit.saturating_sub(total))
                .map_err(|e| match Refusal::from(e) {
                    Refusal::Malformed(m) => Refusal::Malformed(format!("{what}{m}")),
                    other => other,
                })?;
        total += content.len();
        if total > limit {
            return Err(Refusal::TooLarge(format!(
                "records decode to more than {limit} bytes"
            )));
        }
        utf8(&what, &content)?;
        let text = std::str::from_utf8(&content).unwrap_or("");
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
        let mut any = false;
        loop {
            match stream.next() {
                None => break,
                Some(Ok(v)) => {
                    any = true;
                    prepare_doc(v.get(), max_event, &what, &mut out)?;
                }
                Some(Err(e)) => return Err(malformed(&what, &e)),
            }
        }
        if !any {
            return Err(Refusal::Malformed(format!("{what}no JSON in the record")));
        }
    }
    Ok((req.request_id, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use std::io::Write;

    fn ev(n: usize) -> String {
        format!(
            r#"{{"kind":"Event","verb":"get","auditID":"{}","pad":"{}"}}"#,
            n,
            "x".repeat(n)
        )
    }

    #[test]
    fn eventlist_kept_whole() {
        let body = format!(
            r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{},{}]}}"#,
            ev(1),
            ev(2)
        );
        let p = prepare_body(body.as_bytes(), 1000).unwrap();
        assert_eq!((p.received, p.accepted, p.too_large), (2, 2, 0));
        assert_eq!(p.docs, vec![body.into_bytes()]);
    }

    #[test]
    fn oversized_event_dropped_rest_kept() {
        let body = format!(
            r#"{{"kind":"EventList","items":[{},{},{}]}}"#,
            ev(1),
            ev(500),
            ev(3)
        );
        let p = prepare_body(body.as_bytes(), 200).unwrap();
        assert_eq!((p.received, p.accepted, p.too_large), (3, 2, 1));
        let v: serde_json::Value = serde_json::from_slice(&p.docs[0]).unwrap();
        assert_eq!(v["kind"], "EventList");
        assert_eq!(v["items"].as_array().unwrap().len(), 2);
        assert_eq!(v["items"][1]["auditID"], "3");
    }

    #[test]
    fn malformed_says_where() {
        let e = prepare_body(b"{\"items\": [\n  {\"a\": 1},\n  {\"b\" 2}\n]}", 100).unwrap_err();
        match e {
            Refusal::Malformed(m) => assert!(m.contains("line 3, column 8"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            prepare_body(b"42", 100),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            prepare_body(b"{\"a\":1} {}", 100),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            prepare_body(b"{\"a\":\"\xff\"}", 100),
            Err(Refusal::Malformed(_))
        ));
        let deep = "[".repeat(100_000);
        assert!(matches!(
            prepare_body(deep.as_bytes(), 1 << 20),
            Err(Refusal::Malformed(_))
        ));
    }

    #[test]
    fn bodies_that_cannot_be_checked_for_secrets_are_refused() {
        let token = r#"{"kind":"Event","verb":"create","responseObject":{"kind":"TokenRequest","status":{"token":"eyJ.planted"}}}"#;
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let body = format!(r#"{{"kind":"EventList","x":{deep},"items":[{token}]}}"#);
        let mut p = prepare_body(body.as_bytes(), 1 << 20).unwrap();
        assert_eq!(p.accepted, 1);
        match p.redact() {
            Err(Refusal::Malformed(m)) => assert!(m.contains("secrets"), "{m}"),
            other => panic!("{other:?}"),
        }
        // The same body without the deep member is redacted and kept.
        let body = format!(r#"{{"kind":"EventList","items":[{token}]}}"#);
        let mut p = prepare_body(body.as_bytes(), 1 << 20).unwrap();
        p.redact().unwrap();
        assert_eq!(p.redacted, 1);
        assert!(!String::from_utf8_lossy(&p.docs[0]).contains("planted"));
    }

    #[test]
    fn firehose_records() {
        let payload = format!(
            r#"{{"messageType":"DATA_MESSAGE","logGroup":"/aws/eks/c/cluster","logEvents":[{{"id":"1","timestamp":1,"message":{}}}]}}"#,
            serde_json::to_string(&ev(1)).unwrap()
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(payload.as_bytes()).unwrap();
        let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let body =
            format!(r#"{{"requestId":"r-1","timestamp":5,"records":[{{"data":"{data}"}}]}}"#);
        let (id, p) = prepare_firehose(body.as_bytes(), 1000, 1 << 20).unwrap();
        assert_eq!(id, "r-1");
        assert_eq!((p.received, p.accepted), (1, 1));
        assert_eq!(p.docs, vec![payload.into_bytes()]);
        assert!(matches!(
            prepare_firehose(br#"{"requestId":"x","records":[{"data":"!!"}]}"#, 10, 10),
            Err(Refusal::Malformed(_))
        ));
        // A gzip bomb is cut at the limit.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b' '; 1 << 20]).unwrap();
        let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let body = format!(r#"{{"requestId":"r","records":[{{"data":"{data}"}}]}}"#);
        assert!(matches!(
            prepare_firehose(body.as_bytes(), 10, 1000),
            Err(Refusal::TooLarge(_))
        ));
    }

    #[test]
    fn a_body_of_too_many_events_or_fields_is_refused_as_it_is_read() {
        let many = format!("[{}0]", "0,".repeat(MAX_EVENTS_PER_BODY as usize));
        match prepare_body(many.as_bytes(), 100) {
            Err(Refusal::TooLarge(m)) => assert!(m.contains("100000 events"), "{m}"),
            other => panic!("{other:?}"),
        }
        let wrapped = format!("{{\"records\":{many}}}");
        assert!(matches!(
            prepare_body(wrapped.as_bytes(), 100),
            Err(Refusal::TooLarge(_))
        ));
        let just_under = format!("[{}0]", "0,".repeat(MAX_EVENTS_PER_BODY as usize - 1));
        assert_eq!(
            prepare_body(just_under.as_bytes(), 100).unwrap().received,
            MAX_EVENTS_PER_BODY
        );
        let fields: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("\"k{i}\":0")).collect();
        let wide = format!("{{{}}}", fields.join(","));
        assert!(matches!(
            prepare_body(wide.as_bytes(), 1 << 30),
            Err(Refusal::TooLarge(_))
        ));
        // Still malformed JSON is malformed, with its place.
        assert!(matches!(
            prepare_body(b"[1,2", 100),
            Err(Refusal::Malformed(_))
        ));
    }
}
