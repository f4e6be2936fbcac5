//! Redaction of secrets: a minted service-account token
//! (`responseObject.status.token` of a TokenRequest, logged at
//! RequestResponse level) and the values of a Secret's `data`/`stringData`.
//! kadet applies it to every event it prints or stores unless told not to.

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

fn redact_object(obj: &mut crate::value::Map<'_>) -> usize {
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

    #[test]
    fn secret_lists_are_redacted() {
        let text = r#"{"responseObject":{"kind":"SecretList","items":[{"data":{"a":"b"}},{"data":{"c":"d"}}]}}"#;
        let mut v = Value::parse_str(text).unwrap();
        assert_eq!(redact_event(&mut v), 2);
    }
}
