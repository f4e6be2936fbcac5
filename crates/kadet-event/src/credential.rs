//! Which token a request came with, and which token a TokenRequest issued:
//! `p_credential_id` and `p_issued_credential_id`.
//!
//! Since Kubernetes 1.29 the API server writes the id (`JTI=<uuid>`) of
//! every service-account token it issues into the TokenRequest's audit
//! annotations (`authentication.kubernetes.io/issued-credential-id`), and
//! the id of the token a request authenticated with into the user's extra
//! fields (`authentication.kubernetes.io/credential-id`). The same string on
//! both sides ties a minted token to its use. Earlier releases wrote the
//! annotation under `authentication.k8s.io/`; both spellings are read.

use crate::value::Value;

/// Annotation keys a TokenRequest's issued token id is written under,
/// newest first.
pub const ISSUED_CREDENTIAL_ID_KEYS: [&str; 2] = [
    "authentication.kubernetes.io/issued-credential-id",
    "authentication.k8s.io/issued-credential-id",
];

/// `user.extra` keys the id of the token a request used is written under,
/// newest first.
pub const CREDENTIAL_ID_KEYS: [&str; 2] = [
    "authentication.kubernetes.io/credential-id",
    "authentication.k8s.io/credential-id",
];

/// Longest id kept: real ids are `JTI=` and a UUID (40 bytes); anything
/// much longer is not one and is not carried through the pipeline.
pub const MAX_CREDENTIAL_ID_BYTES: usize = 256;

/// The id of the token a TokenRequest issued (`p_issued_credential_id`).
pub fn issued_credential_id<'v>(audit: &'v Value<'_>) -> Option<&'v str> {
    let annotations = audit.get("annotations")?;
    ISSUED_CREDENTIAL_ID_KEYS
        .iter()
        .find_map(|k| annotations.get(k).and_then(Value::as_str))
        .filter(|id| usable(id))
}

/// The id of the token the request authenticated with (`p_credential_id`):
/// the first value of the user's credential-id extra field.
pub fn credential_id<'v>(audit: &'v Value<'_>) -> Option<&'v str> {
    let extra = audit.get("user")?.get("extra")?;
    CREDENTIAL_ID_KEYS
        .iter()
        .find_map(|k| {
            let v = extra.get(k)?;
            v.as_array().and_then(|a| a.first()).unwrap_or(v).as_str()
        })
        .filter(|id| usable(id))
}

fn usable(id: &str) -> bool {
    !id.trim().is_empty() && id.len() <= MAX_CREDENTIAL_ID_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(json: &str) -> Value<'_> {
        Value::from_slice(json.as_bytes()).expect("test JSON")
    }

    #[test]
    fn the_issued_id_is_read_from_either_annotation_spelling() {
        let new =
            ev(r#"{"annotations":{"authentication.kubernetes.io/issued-credential-id":"JTI=a"}}"#);
        assert_eq!(issued_credential_id(&new), Some("JTI=a"));
        let old = ev(r#"{"annotations":{"authentication.k8s.io/issued-credential-id":"JTI=b"}}"#);
        assert_eq!(issued_credential_id(&old), Some("JTI=b"));
        assert_eq!(issued_credential_id(&ev(r#"{"annotations":{}}"#)), None);
        assert_eq!(issued_credential_id(&ev(r#"{}"#)), None);
    }

    #[test]
    fn the_used_id_is_the_first_value_of_the_extra_field() {
        let e = ev(
            r#"{"user":{"username":"system:serviceaccount:a:b","extra":{"authentication.kubernetes.io/credential-id":["JTI=c","JTI=d"]}}}"#,
        );
        assert_eq!(credential_id(&e), Some("JTI=c"));
        let scalar =
            ev(r#"{"user":{"extra":{"authentication.kubernetes.io/credential-id":"JTI=e"}}}"#);
        assert_eq!(credential_id(&scalar), Some("JTI=e"));
        assert_eq!(credential_id(&ev(r#"{"user":{"extra":{}}}"#)), None);
        assert_eq!(credential_id(&ev(r#"{"user":{"username":"alice"}}"#)), None);
    }

    #[test]
    fn empty_odd_or_oversized_ids_are_not_ids() {
        let empty =
            ev(r#"{"user":{"extra":{"authentication.kubernetes.io/credential-id":[" "]}}}"#);
        assert_eq!(credential_id(&empty), None);
        let number = ev(r#"{"user":{"extra":{"authentication.kubernetes.io/credential-id":[7]}}}"#);
        assert_eq!(credential_id(&number), None);
        let long = format!(
            r#"{{"annotations":{{"authentication.kubernetes.io/issued-credential-id":"{}"}}}}"#,
            "x".repeat(MAX_CREDENTIAL_ID_BYTES + 1)
        );
        assert_eq!(issued_credential_id(&ev(&long)), None);
    }
}
