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
    fn a_known_vector() {
        // python3 -c 'import hmac, hashlib;
        //   print(hmac.new(b"key", b"1.{}", hashlib.sha256).hexdigest())'
        assert_eq!(
            sign(b"key", 1, b"{}"),
            "t=1,v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
    }
}
