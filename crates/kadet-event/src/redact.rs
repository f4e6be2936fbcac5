//! Redaction of secrets: every field of the Kubernetes API that carries a
//! credential ([`CREDENTIAL_FIELDS`]: a minted service-account token, a
//! token under review, a Secret's values and the copy of them `kubectl
//! apply` keeps in an annotation), in the request and response bodies of an
//! audit event, whatever their shape: the object, a list of them, a merge
//! patch (no `kind`: the request's resource decides) or a JSON patch (an
//! array: every operation's value). kadet applies it to every event it prints or stores unless told not to:
//! [`redact_event`] on canonical events (`scan`, `cat`, `explain`), and
//! [`redact_document`] on whole records before `serve` stores them, which
//! finds the same events inside every container kadet reads (EventList,
//! arrays, Azure batches with the event as an object or a JSON string,
//! CloudWatch payloads, GKE entries, Panther records).

use crate::value::Value;
use std::borrow::Cow;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// One place an object of the Kubernetes API carries a credential.
#[derive(Debug)]
pub struct CredentialField {
    /// The kinds of object that carry it; empty: any object.
    pub kinds: &'static [&'static str],
    /// The request's resource (`resource` or `resource/subresource`) whose
    /// bodies carry it whatever their kind says (a patch has none).
    pub resource: &'static str,
    /// Where it is; `*` stands for every member of an object.
    pub path: &'static [&'static str],
    /// Why it is a credential.
    pub why: &'static str,
}

/// Every credential field kadet redacts. docs/serve.md has the same table,
/// with what is left out and why.
pub const CREDENTIAL_FIELDS: &[CredentialField] = &[
    CredentialField {
        kinds: &[],
        resource: "serviceaccounts/token",
        path: &["status", "token"],
        why: "the service-account token a TokenRequest minted",
    },
    CredentialField {
        kinds: &["TokenReview"],
        resource: "tokenreviews",
        path: &["spec", "token"],
        why: "the bearer token a webhook or proxy asks the API server to check",
    },
    CredentialField {
        kinds: &["Secret"],
        resource: "secrets",
        path: &["data", "*"],
        why: "a Secret's values (base64)",
    },
    CredentialField {
        kinds: &["Secret"],
        resource: "secrets",
        path: &["stringData", "*"],
        why: "a Secret's values as text (write-only)",
    },
    CredentialField {
        kinds: &["Secret"],
        resource: "secrets",
        path: &[
            "metadata",
            "annotations",
            "kubectl.kubernetes.io/last-applied-configuration",
        ],
        why: "kubectl apply keeps the whole applied Secret, its data included, here",
    },
];

/// Redacts secrets in a canonical event in place; returns how many values
/// were replaced.
pub fn redact_event(event: &mut Value<'_>) -> usize {
    let Value::Object(obj) = event else {
        return 0;
    };
    let resource = resource_of(obj);
    redact_bodies(
        obj,
        &["requestObject", "responseObject"],
        resource.as_deref(),
    )
}

/// Redacts the bodies under `keys` of an event, every copy of each (a
/// record read from a file may repeat a key; `serve` refuses such records).
fn redact_bodies(obj: &mut crate::value::Map<'_>, keys: &[&str], resource: Option<&str>) -> usize {
    obj.0
        .iter_mut()
        .filter(|(k, _)| keys.contains(&k.as_ref()))
        .map(|(_, body)| redact_body(body, resource))
        .sum()
}

/// The request's resource as [`CredentialField::resource`] names it, from
/// `objectRef`.
fn resource_of(event: &crate::value::Map<'_>) -> Option<String> {
    let o = event.get("objectRef")?;
    let resource = o.get("resource").and_then(Value::as_str)?;
    Some(match o.get("subresource").and_then(Value::as_str) {
        Some(sub) if !sub.is_empty() => format!("{resource}/{sub}"),
        _ => resource.to_string(),
    })
}

/// The resource of a GKE entry, from its `resourceName`
/// (`core/v1/namespaces/ns/secrets/name`): the table's resources, found by
/// their segments.
fn gke_resource(resource_name: &str) -> Option<String> {
    let parts: Vec<&str> = resource_name.split('/').collect();
    CREDENTIAL_FIELDS.iter().find_map(|f| {
        let (resource, sub) = f.resource.split_once('/').unwrap_or((f.resource, ""));
        let found = parts.iter().position(|p| *p == resource)?;
        if sub.is_empty() {
            return Some(resource.to_string());
        }
        (parts.len() > found + 2 && parts.last() == Some(&sub)).then(|| f.resource.to_string())
    })
}

/// Redacts a request or response body of a request on `resource`.
fn redact_body(body: &mut Value<'_>, resource: Option<&str>) -> usize {
    match body {
        Value::Object(o) => redact_object_for(o, resource),
        // A JSON patch on a resource that carries credentials: any
        // operation may set one (`/data/k`, `/metadata/annotations/...`,
        // or `/` itself), so every value goes.
        Value::Array(ops) if carries_credentials(resource) => {
            let mut n = 0;
            for op in ops {
                if let Some(v) = op.as_object_mut_at("value") {
                    if !v.is_null() {
                        *v = Value::String(Cow::Borrowed(REDACTED));
                        n += 1;
                    }
                }
            }
            n
        }
        _ => 0,
    }
}

fn carries_credentials(resource: Option<&str>) -> bool {
    resource.is_some_and(|r| CREDENTIAL_FIELDS.iter().any(|f| f.resource == r))
}

/// Why [`redact_document`] could not check a record./// Why [`redact_document`] could not check a record.
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
    refuse_duplicate_keys(&v)?;
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
    if [&b"token"[..], b"Token", b"Secret", b"secret"]
        .iter()
        .any(|w| memchr::memmem::find(doc, w).is_some())
    {
        return true;
    }
    memchr::memmem::find_iter(doc, b"\\u00").any(|i| {
        doc.get(i + 4..i + 6)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .is_some_and(|b| b"tokenTSecrs".contains(&b))
    })
}

/// A record with a key twice in one object cannot be redacted safely: JSON
/// does not say which copy counts, and readers differ (kadet's decoder and
/// redactor read the first, other tools the last), so a secret could hide
/// in the copy one of them skips. Such a record is refused.
fn refuse_duplicate_keys(v: &Value<'_>) -> Result<(), Unreadable> {
    match v {
        Value::Object(m) => {
            let keys = &m.0;
            let repeated = if keys.len() <= 16 {
                keys.iter()
                    .enumerate()
                    .find(|(i, (k, _))| keys[..*i].iter().any(|(seen, _)| seen == k))
                    .map(|(_, (k, _))| k)
            } else {
                let mut seen: std::collections::HashSet<&str> =
                    std::collections::HashSet::with_capacity(keys.len());
                let mut repeated = None;
                for (k, _) in keys {
                    if !seen.insert(k.as_ref()) {
                        repeated = Some(k);
                        break;
                    }
                }
                repeated
            };
            if let Some(k) = repeated {
                return Err(Unreadable(format!(
                    "the key {k:?} appears twice in one object; which copy counts is ambiguous, so the record cannot be checked for secrets"
                )));
            }
            keys.iter().try_for_each(|(_, v)| refuse_duplicate_keys(v))
        }
        Value::Array(items) => items.iter().try_for_each(refuse_duplicate_keys),
        _ => Ok(()),
    }
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
            let resource = resource_of(obj);
            n += redact_bodies(
                obj,
                &["requestObject", "responseObject"],
                resource.as_deref(),
            );
            // A GKE entry: the request and response objects.
            if let Some(Value::Object(proto)) = obj.get_mut("protoPayload") {
                let resource = proto
                    .get("resourceName")
                    .and_then(Value::as_str)
                    .and_then(gke_resource);
                n += redact_bodies(proto, &["request", "response"], resource.as_deref());
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
        refuse_duplicate_keys(&inner)?;
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

/// Redacts one Kubernetes object (a request or response body), by its kind.
pub fn redact_object(obj: &mut crate::value::Map<'_>) -> usize {
    redact_object_for(obj, None)
}

/// Redacts one object of a request on `resource`: the table's fields for
/// its kind, or for the resource when its kind is not one that carries
/// them (a patch has no kind); the items of a list, each by its kind or the
/// list's.
fn redact_object_for(obj: &mut crate::value::Map<'_>, resource: Option<&str>) -> usize {
    let kind = obj.get("kind").and_then(Value::as_str).map(str::to_owned);
    let mut n = 0;
    if let Some(item_kind) = kind.as_deref().and_then(|k| k.strip_suffix("List")) {
        if let Some(Value::Array(items)) = obj.get_mut("items") {
            for item in items {
                if let Value::Object(o) = item {
                    n += redact_fields(o, Some(item_kind).filter(|k| !k.is_empty()), resource);
                }
            }
        }
        return n;
    }
    redact_fields(obj, kind.as_deref(), resource)
}

/// Redacts the table's fields that apply to an object of `kind` in a body
/// of a request on `resource`. An object's own kind goes first: a Status
/// or a Scale returned for a Secret is not a Secret.
fn redact_fields(
    obj: &mut crate::value::Map<'_>,
    kind: Option<&str>,
    resource: Option<&str>,
) -> usize {
    let own_kind = obj.get("kind").and_then(Value::as_str).map(str::to_owned);
    let kind = own_kind.as_deref().or(kind);
    let mut n = 0;
    for f in CREDENTIAL_FIELDS {
        let by_kind = f.kinds.is_empty() || kind.is_some_and(|k| f.kinds.contains(&k));
        let by_resource = kind.is_none() && resource == Some(f.resource);
        if by_kind || by_resource {
            n += redact_path(obj, f.path);
        }
    }
    n
}

/// Replaces what is at `path` (`*`: every member) with [`REDACTED`],
/// leaving nulls and empty strings (nothing to hide) alone.
fn redact_path(obj: &mut crate::value::Map<'_>, path: &[&str]) -> usize {
    let Some((first, rest)) = path.split_first() else {
        return 0;
    };
    let targets: Vec<&mut Value<'_>> = if *first == "*" {
        obj.0.iter_mut().map(|(_, v)| v).collect()
    } else {
        obj.0
            .iter_mut()
            .filter(|(k, _)| k == first)
            .map(|(_, v)| v)
            .collect()
    };
    let mut n = 0;
    for v in targets {
        if rest.is_empty() {
            let empty = v.is_null() || v.as_str() == Some("");
            if !empty {
                *v = Value::String(Cow::Borrowed(REDACTED));
                n += 1;
            }
        } else if let Value::Object(inner) = v {
            n += redact_path(inner, rest);
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
        assert_eq!(redact_document(b"not json, nothing to hide"), Ok(None));
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

    /// Redacts `doc` (an audit event) and says what is left of `planted`.
    fn redacted(doc: &str) -> String {
        let (out, _) = redact_document(doc.as_bytes())
            .unwrap_or_else(|e| panic!("{e}: {doc}"))
            .unwrap_or_else(|| panic!("nothing redacted: {doc}"));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_secret_is_redacted_in_every_shape_a_request_body_takes() {
        let p = "cGxhbnRlZA==";
        let ev = |object_ref: &str, body: &str| {
            format!(
                r#"{{"kind":"Event","verb":"patch","objectRef":{object_ref},"requestObject":{body}}}"#
            )
        };
        let secrets = r#"{"resource":"secrets","namespace":"a","name":"db"}"#;
        let last_applied = serde_json::to_string(&format!(
            r#"{{"apiVersion":"v1","kind":"Secret","data":{{"k":"{p}"}}}}"#
        ))
        .unwrap();
        for doc in [
            // credential_secret_merge_patch: a patch body has no kind.
            ev(
                secrets,
                &format!(r#"{{"data":{{"k":"{p}"}},"stringData":{{"t":"planted"}}}}"#),
            ),
            // credential_secret_json_patch: an array of operations.
            ev(
                secrets,
                &format!(
                    r#"[{{"op":"replace","path":"/data/k","value":"{p}"}},{{"op":"add","path":"/","value":{{"data":{{"k":"{p}"}}}}}}]"#
                ),
            ),
            // credential_secret_last_applied: the annotation holds it all.
            ev(
                secrets,
                &format!(
                    r#"{{"kind":"Secret","metadata":{{"name":"db","annotations":{{"kubectl.kubernetes.io/last-applied-configuration":{last_applied}}}}}}}"#
                ),
            ),
            ev(
                secrets,
                &format!(
                    r#"{{"metadata":{{"annotations":{{"kubectl.kubernetes.io/last-applied-configuration":{last_applied}}}}}}}"#
                ),
            ),
            // credential_secret_list: SecretList items carry no kind.
            format!(
                r#"{{"kind":"Event","verb":"list","objectRef":{secrets},"responseObject":{{"kind":"SecretList","items":[{{"metadata":{{"name":"a"}},"data":{{"k":"{p}"}}}}]}}}}"#
            ),
            // credential_tokenreview: the token under review.
            r#"{"kind":"Event","verb":"create","objectRef":{"resource":"tokenreviews","apiGroup":"authentication.k8s.io"},"requestObject":{"kind":"TokenReview","spec":{"token":"planted.jwt"}}}"#.to_string(),
            // credential_gke_patch: GKE names the resource in resourceName.
            format!(
                r#"{{"protoPayload":{{"resourceName":"core/v1/namespaces/a/secrets/db","methodName":"io.k8s.core.v1.secrets.patch","request":{{"data":{{"k":"{p}"}}}}}}}}"#
            ),
        ] {
            let out = redacted(&doc);
            assert!(!out.contains(p) && !out.contains("planted"), "{out}");
            serde_json::from_str::<serde_json::Value>(&out).expect("still JSON");
        }
        // What is not a credential stays: a ConfigMap's data, a Status.
        let configmap = ev(
            r#"{"resource":"configmaps"}"#,
            r#"{"data":{"token":"not-a-secret"}}"#,
        );
        assert_eq!(redact_document(configmap.as_bytes()), Ok(None));
        let status = format!(
            r#"{{"kind":"Event","objectRef":{secrets},"responseObject":{{"kind":"Status","status":"Success","details":{{"name":"db"}}}}}}"#
        );
        assert_eq!(redact_document(status.as_bytes()), Ok(None));
    }

    #[test]
    fn a_key_twice_in_one_object_is_refused() {
        for doc in [
            r#"{"kind":"Event","objectRef":{"resource":"secrets"},"requestObject":{"kind":"Secret","data":{"k":"[REDACTED]"},"data":{"k":"cGxhbnRlZA=="}}}"#,
            r#"{"kind":"Event","requestObject":{"kind":"Secret"},"requestObject":{"kind":"Secret","data":{"k":"x"}}}"#,
        ] {
            let e = redact_document(doc.as_bytes()).unwrap_err();
            assert!(e.0.contains("appears twice"), "{e}");
        }
    }

    #[test]
    fn the_table_names_each_field_once_with_a_reason() {
        let mut seen = std::collections::HashSet::new();
        for f in CREDENTIAL_FIELDS {
            assert!(seen.insert((f.resource, f.path)), "{f:?}");
            assert!(!f.why.is_empty());
        }
    }
}
