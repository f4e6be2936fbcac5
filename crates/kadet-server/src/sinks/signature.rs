//! Signed deliveries: a webhook sink with a signing key sends
//! `X-Kadet-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` with each
//! POST, where the MAC is over `<t>.<body>` with the shared key. A receiver
//! recomputes it over the raw body it got, compares in constant time, and
//! rejects a `t` too far from its clock (a replay), as `docs/serve.md`
//! describes.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header name.
pub const HEADER: &str = "X-Kadet-Signature";

/// The signature scheme's version tag in the header.
pub const SCHEME: &str = "v1";

fn mac(key: &[u8], t: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The header value for `body` sent at unix time `t`.
pub fn sign(key: &[u8], t: i64, body: &[u8]) -> String {
    let tag = mac(key, t, body).finalize().into_bytes();
    format!("t={t},{SCHEME}={}", hex::encode(tag))
}

/// The Standard Webhooks (standardwebhooks.com) headers for a delivery of
/// message `id` at unix time `t`: `webhook-id`, `webhook-timestamp`, and
/// `webhook-signature: v1,<base64 HMAC-SHA256 of "id.t.body">`. A key
/// written as the spec's `whsec_<base64>` is used decoded; any other key
/// as its bytes.
pub fn standard_webhooks(key: &[u8], id: &str, t: i64, body: &[u8]) -> [(&'static str, String); 3] {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let decoded = std::str::from_utf8(key)
        .ok()
        .and_then(|k| k.strip_prefix("whsec_"))
        .and_then(|k| b64.decode(k).ok());
    let key = decoded.as_deref().unwrap_or(key);
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(format!("{id}.{t}.").as_bytes());
    m.update(body);
    let tag = b64.encode(m.finalize().into_bytes());
    [
        ("webhook-id", id.to_string()),
        ("webhook-timestamp", t.to_string()),
        ("webhook-signature", format!("v1,{tag}")),
    ]
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The header is not `t=...,v1=...`.
    Malformed,
    /// `t` is further than the tolerance from the receiver's clock.
    Stale,
    /// No `v1` value matches the body.
    Mismatch,
}

/// Verifies a header against the raw body at unix time `now`, accepting a
/// timestamp at most `tolerance_secs` away (the receiver's side; kadet uses
/// it in its tests and documents the same steps for other languages).
pub fn verify(
    key: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), Refused> {
    let mut t = None;
    let mut tags = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some((SCHEME, v)) => tags.push(hex::decode(v).map_err(|_| Refused::Malformed)?),
            _ => {}
        }
    }
    let t = t.ok_or(Refused::Malformed)?;
    if tags.is_empty() {
        return Err(Refused::Malformed);
    }
    if (now - t).abs() > tolerance_secs {
        return Err(Refused::Stale);
    }
    let expected = mac(key, t, body);
    if tags
        .iter()
        .any(|tag| expected.clone().verify_slice(tag).is_ok())
    {
        Ok(())
    } else {
        Err(Refused::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let key = b"whsec-test-key";
        let body = br#"{"alert_id":"abc"}"#;
        let h = sign(key, 1_790_000_000, body);
        assert!(h.starts_with("t=1790000000,v1="), "{h}");
        assert_eq!(h.len(), "t=1790000000,v1=".len() + 64);
        assert_eq!(verify(key, &h, body, 1_790_000_100, 300), Ok(()));
        assert_eq!(
            verify(key, &h, br#"{"alert_id":"abd"}"#, 1_790_000_100, 300),
            Err(Refused::Mismatch)
        );
        assert_eq!(
            verify(b"other", &h, body, 1_790_000_100, 300),
            Err(Refused::Mismatch)
        );
        assert_eq!(
            verify(key, &h, body, 1_790_000_000 + 301, 300),
            Err(Refused::Stale)
        );
        assert_eq!(verify(key, "v1=00", body, 0, 300), Err(Refused::Malformed));
    }

    #[test]
    fn standard_webhooks_sign_the_id_with_the_body() {
        // The spec's example: secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw,
        // id msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330, body
        // {"test": 2432232314}.
        let h = standard_webhooks(
            b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(h[0], ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".into()));
        assert_eq!(h[1], ("webhook-timestamp", "1614265330".into()));
        assert_eq!(
            h[2],
            (
                "webhook-signature",
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".into()
            )
        );
        // Another id, another signature: the id is signed.
        let other = standard_webhooks(b"k", "a", 1, b"{}");
        assert_ne!(other[2], standard_webhooks(b"k", "b", 1, b"{}")[2]);
    }

    #[test]
    fn a_known_vector() {
        // python3 -c 'import hmac, hashlib;
        //   print(hmac.new(b"key", b"1.{}", hashlib.sha256).hexdigest())'
        assert_eq!(
            sign(b"key", 1, b"{}"),
            "t=1,v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
    }
}
