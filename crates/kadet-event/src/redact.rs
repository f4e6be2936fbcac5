//! Redaction of secrets: a minted service-account token
//! (`responseObject.status.token` of a TokenRequest, logged at
//! RequestResponse level) and the values of a Secret's `data`/`stringData`.
//! kadet applies it to every event it prints or stores unless told not to:
//! [`redact_event`] on canonical events (`scan`, `cat`, `explain`), and
//! [`redact_document`] on whole records before `serve` stores them, which
//! finds the same events inside every container kadet reads (EventList,
//! arrays, Azure batches with the event as an object or a JSON string,
//! CloudWatch payloads, GKE entries, Panther records).

use crate::value::Value;
use std::borrow::Cow;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Redacts secrets in a canonical event in place; returns how many values
/// were replaced.
pub fn redact_event(event: &mut Value<'_>) -> usize {
    let mut n = 0;
    for key in ["requestObject", "responseObject"] {
        if let Some(Value::Object(obj)) = event.as_object_mut_at(key) {
            n += redact_object(obj);
        }
    }
    n
}

/// Why [`redact_document`] could not check a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreadable {}

/// Redacts secrets in one record of any shape kadet reads; returns the
/// record rewritten and the number of values replaced, or `Ok(None)` when it
/// holds nothing to redact (the record is then stored as it came).
///
/// A record that may name a token or a Secret but cannot be read whole
/// (nested deeper than the JSON parser allows, a number out of range, an
/// event held as JSON text that is such) is an error, not "nothing to
/// redact": the decoders skip what they do not read, so they may still find
/// an event with a secret in it, and the record must not be stored as it
/// came.
pub fn redact_document(doc: &[u8]) -> Result<Option<(Vec<u8>, usize)>, Unreadable> {
    if !may_name_secret(doc) {
        return Ok(None);
    }
    let mut v = Value::from_slice(doc)
        .map_err(|e| Unreadable(format!("record cannot be checked for secrets: {e}")))?;
    let n = redact_within(&mut v, 0)?;
    if n == 0 {
        return Ok(None);
    }
    let bytes = serde_json::to_vec(&v)
        .map_err(|e| Unreadable(format!("redacted record cannot be written: {e}")))?;
    Ok(Some((bytes, n)))
}

/// True unless `doc` certainly names no token and no Secret: it holds one
/// of the words, or a `\u00XX` escape of one of their letters (JSON may
/// spell any character so, `"\u0074oken"` is the key `token`). Go's encoder
/// escapes only `<`, `>` and `&`, so real logs rarely pay for the full parse.
fn may_name_secret(doc: &[u8]) -> bool {
    if memchr::memmem::find(doc, b"token").is_some()
        || memchr::memmem::find(doc, b"Secret").is_some()
    {
        return true;
    }
    memchr::memmem::find_iter(doc, b"\\u00").any(|i| {
        doc.get(i + 4..i + 6)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .is_some_and(|b| b"tokenSecr".contains(&b))
    })
}

/// How deep containers are searched for events.
const MAX_CONTAINER_DEPTH: usize = 8;

/// Redacts the audit events found in `v`, a record or a container of them.
fn redact_within(v: &mut Value<'_>, depth: usize) -> Result<usize, Unreadable> {
    if depth > MAX_CONTAINER_DEPTH {
        return Ok(0);
    }
    match v {
        Value::Array(items) => {
            let mut n = 0;
            for i in items {
                n += redact_within(i, depth + 1)?;
            }
            Ok(n)
        }
        Value::Object(obj) => {
            let mut n = 0;
            // An audit event (or a Panther record holding its fields).
            for key in ["requestObject", "responseObject"] {
                if let Some(Value::Object(o)) = obj.get_mut(key) {
                    n += redact_object(o);
                }
            }
            // A GKE entry: the request and response objects.
            if let Some(Value::Object(proto)) = obj.get_mut("protoPayload") {
                for key in ["request", "response"] {
                    if let Some(Value::Object(o)) = proto.get_mut(key) {
                        n += redact_object(o);
                    }
                }
            }
            // Containers: EventList items, Azure records, CloudWatch events.
            for key in ["items", "records", "logEvents", "properties", "log"] {
                if let Some(inner) = obj.get_mut(key) {
                    n += redact_within(inner, depth + 1)?;
                }
            }
            // An event carried as JSON text (Azure `log`, CloudWatch `message`).
            for key in ["log", "message"] {
                if let Some(Value::String(text)) = obj.get_mut(key) {
                    n += redact_json_text(text, depth)?;
                }
            }
            Ok(n)
        }
        _ => Ok(0),
    }
}

/// Redacts an event held as JSON text, rewriting the text when needed.
fn redact_json_text(text: &mut Cow<'_, str>, depth: usize) -> Result<usize, Unreadable> {
    if !text.trim_start().starts_with('{') || !may_name_secret(text.as_bytes()) {
        return Ok(0);
    }
    let rewritten = {
        let mut inner = Value::parse_str(text).map_err(|e| {
            Unreadable(format!(
                "an event held as JSON text cannot be checked for secrets: {e}"
            ))
        })?;
        let n = redact_within(&mut inner, depth + 1)?;
        if n == 0 {
            return Ok(0);
        }
        let s = serde_json::to_string(&inner)
            .map_err(|e| Unreadable(format!("redacted event cannot be written: {e}")))?;
        (s, n)
    };
    *text = Cow::Owned(rewritten.0);
    Ok(rewritten.1)
}

/// Redacts one Kubernetes object (a request or response body).
pub fn redact_object(obj: &mut crate::value::Map<'_>) -> usize {
    let mut n = 0;
    // TokenRequest status.token, whatever the kind says.
    if let Some(Value::Object(status)) = obj.get_mut("status") {
        if let Some(tok) = status.get_mut("token") {
            if tok.as_str().is_some_and(|t| !t.is_empty()) {
                *tok = Value::String(Cow::Borrowed(REDACTED));
                n += 1;
            }
        }
    }
    let kind = obj.get("kind").and_then(Value::as_str).map(str::to_owned);
    match kind.as_deref() {
        Some("Secret") => n += redact_secret(obj),
        Some("SecretList") | Some("List") => {
            if let Some(Value::Array(items)) = obj.get_mut("items") {
                for item in items {
                    if let Value::Object(o) = item {
                        if kind.as_deref() == Some("SecretList")
                            || o.get("kind").and_then(Value::as_str) == Some("Secret")
                        {
                            n += redact_secret(o);
                        }
                    }
                }
            }
        }
        _ => {}
    }
    n
}

fn redact_secret(obj: &mut crate::value::Map<'_>) -> usize {
    let mut n = 0;
    for field in ["data", "stringData"] {
        if let Some(Value::Object(data)) = obj.get_mut(field) {
            for (_, v) in data.0.iter_mut() {
                if !v.is_null() {
                    *v = Value::String(Cow::Borrowed(REDACTED));
                    n += 1;
                }
            }
        }
    }
    n
}

impl<'a> Value<'a> {
    /// A mutable reference to an object member.
    pub fn as_object_mut_at(&mut self, key: &str) -> Option<&mut Value<'a>> {
        match self {
            Value::Object(m) => m.get_mut(key),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_and_secret_values_are_redacted() {
        let text = r#"{"responseObject":{"kind":"TokenRequest","status":{"token":"eyJhbGciOiJSUzI1NiJ9.x.y","expirationTimestamp":"2055-01-01T00:00:00Z"}},"requestObject":{"kind":"Secret","data":{"password":"aHVudGVyMg=="},"stringData":{"k":"v"},"metadata":{"name":"db"}}}"#;
        let mut v = Value::parse_str(text).unwrap();
        assert_eq!(redact_event(&mut v), 3);
        let out = serde_json::to_string(&v).unwrap();
        assert!(!out.contains("eyJhbGci"));
        assert!(!out.contains("aHVudGVyMg"));
        assert!(out.contains("\"name\":\"db\""));
        assert!(out.contains("2055-01-01"));
    }

    const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.planted.token";

    fn token_event() -> String {
        format!(
            r#"{{"kind":"Event","verb":"create","objectRef":{{"resource":"serviceaccounts","subresource":"token"}},"responseObject":{{"kind":"TokenRequest","status":{{"token":"{TOKEN}"}}}}}}"#
        )
    }

    #[test]
    fn documents_of_every_shape_lose_their_secrets() {
        let ev = token_event();
        let escaped = serde_json::to_string(&ev).unwrap();
        let shapes = [
            ev.clone(),
            format!(r#"{{"kind":"EventList","items":[{ev},{ev}]}}"#),
            format!("[{ev}]"),
            format!(
                r#"{{"records":[{{"category":"kube-audit","properties":{{"log":{escaped}}}}}]}}"#
            ),
            format!(r#"{{"records":[{{"category":"kube-audit","properties":{{"log":{ev}}}}}]}}"#),
            format!(
                r#"{{"messageType":"DATA_MESSAGE","logEvents":[{{"id":"1","message":{escaped}}}]}}"#
            ),
            format!(
                r#"{{"protoPayload":{{"serviceName":"k8s.io","response":{{"kind":"TokenRequest","status":{{"token":"{TOKEN}"}}}}}}}}"#
            ),
        ];
        for doc in shapes {
            let (out, n) = redact_document(doc.as_bytes())
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("{doc}"));
            assert!(n >= 1, "{doc}");
            let text = String::from_utf8(out).unwrap();
            assert!(!text.contains(TOKEN), "{text}");
            assert!(text.contains(REDACTED), "{text}");
            serde_json::from_str::<serde_json::Value>(&text).expect("still JSON");
        }
        assert_eq!(
            redact_document(br#"{"kind":"Event","verb":"get"}"#),
            Ok(None)
        );
        assert_eq!(redact_document(b"not json, no secret"), Ok(None));
        assert!(redact_document(b"not json, token").is_err());
    }

    #[test]
    fn escaped_names_do_not_hide_a_secret() {
        // The quick check looked for the words as written, and JSON may
        // escape any letter (found reviewing the redact fuzz target's
        // finding below).
        for doc in [
            r#"{"kind":"Event","responseObject":{"kind":"TokenRequest","status":{"\u0074oken":"eyJ.planted"}}}"#,
            r#"{"kind":"Event","requestObject":{"kind":"S\u0065cret","data":{"k":"cGxhbnRlZA=="}}}"#,
            r#"{"records":[{"category":"kube-audit","properties":{"log":"{\"requestObject\":{\"kind\":\"Secr\\u0065t\",\"data\":{\"k\":\"cGxhbnRlZA==\"}}}"}}]}"#,
        ] {
            let (out, n) = redact_document(doc.as_bytes())
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("not redacted: {doc}"));
            assert_eq!(n, 1, "{doc}");
            let out = String::from_utf8(out).unwrap();
            assert!(
                !out.contains("planted") && !out.contains("cGxhbnRlZA"),
                "{out}"
            );
        }
        // Escapes of other letters (Go writes `&` as \u0026) stay cheap.
        assert_eq!(
            redact_document(br#"{"requestURI":"/api/v1/pods?limit=5\u0026watch=1"}"#),
            Ok(None)
        );
    }

    #[test]
    fn records_too_deep_or_odd_to_check_are_errors() {
        // Found by the redact fuzz target: the decoders skip what they do
        // not read, so they found the event beside a member that stopped
        // the whole-record parse (invalid UTF-8, which serve's intake refuses
        // first; nesting past the parser's limit; a number out of range),
        // while redaction gave up and kept the record as it came.
        let ev = token_event();
        let escaped = serde_json::to_string(&ev).unwrap();
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for doc in [
            format!(
                r#"{{"records":[{{"category":"kube-audit","x":{deep},"properties":{{"log":{escaped}}}}}]}}"#
            ),
            format!(r#"{{"kind":"EventList","x":1e400,"items":[{ev}]}}"#),
            format!(
                r#"{{"records":[{{"category":"kube-audit","properties":{{"log":{}}}}}]}}"#,
                serde_json::to_string(&format!("{}, \"x\": {deep}}}", &ev[..ev.len() - 1]))
                    .unwrap()
            ),
        ] {
            assert!(redact_document(doc.as_bytes()).is_err(), "{doc}");
        }
        let mut bad_utf8 = br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1"#.to_vec();
        bad_utf8.push(0xff);
        bad_utf8.extend_from_slice(format!(r#"","items":[{ev}]}}"#).as_bytes());
        assert!(redact_document(&bad_utf8).is_err());
        // Without a token or Secret in sight, such a record is left alone.
        assert_eq!(
            redact_document(format!(r#"{{"x":{deep}}}"#).as_bytes()),
            Ok(None)
        );
    }

    #[test]
    fn secret_lists_are_redacted() {
        let text = r#"{"responseObject":{"kind":"SecretList","items":[{"data":{"a":"b"}},{"data":{"c":"d"}}]}}"#;
        let mut v = Value::parse_str(text).unwrap();
        assert_eq!(redact_event(&mut v), 2);
    }
}
