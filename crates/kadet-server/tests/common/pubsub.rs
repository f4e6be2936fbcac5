//! Pub/Sub push as Google sends it, for the `pubsub-push` tests: an RSA
//! key the test makes, its JWKS served on loopback (standing in for
//! Google's `oauth2/v3/certs`), tokens signed with it and shaped like
//! Google's, push envelopes, and GKE LogEntries that give alerts.

use super::{ts, Server};
use base64::Engine;
use jsonwebtoken::{encode, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The audience the push subscription puts in its tokens.
pub const AUDIENCE: &str = "https://kadet.test/v1/gke/pubsub/gke";
/// The push subscription's service account.
pub const PUSHER: &str = "pubsub-push@demo-proj.iam.gserviceaccount.com";
/// The signing key's id.
pub const KID: &str = "test-key-1";

/// A signing key and the JWKS that publishes it.
pub struct Signer {
    key: EncodingKey,
    /// The JWKS that publishes the key.
    pub jwks: String,
}

impl Signer {
    /// A new key, published under `kid`.
    pub fn new(kid: &str) -> Signer {
        let private = rsa::RsaPrivateKey::new(&mut rand08::thread_rng(), 2048).unwrap();
        let der = private.to_pkcs1_der().unwrap();
        let b64 = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwks = serde_json::json!({"keys": [{
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
            "n": b64(private.n().to_bytes_be()), "e": b64(private.e().to_bytes_be()),
        }]})
        .to_string();
        Signer {
            key: EncodingKey::from_rsa_der(der.as_bytes()),
            jwks,
        }
    }

    /// A token as Pub/Sub's push sends it, with `edit` applied to its claims.
    pub fn token(&self, edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims = serde_json::json!({
            "aud": AUDIENCE, "azp": "1234567890", "email": PUSHER, "email_verified": true,
            "exp": now + 3600, "iat": now, "iss": "https://accounts.google.com", "sub": "1234567890",
        });
        edit(&mut claims);
        let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(KID.into());
        encode(&header, &claims, &self.key).unwrap()
    }
}

/// Serves `body` to every GET, on a loopback port; the URL.
pub fn serve_jwks(body: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/oauth2/v3/certs", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// GKE LogEntries: CronJobs created by several users, 20 minutes apart
/// (an enabled GCP rule), and reads in between.
pub fn log_entries() -> Vec<String> {
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../kadet-cli/tests/data/gke-token.json"),
    )
    .unwrap();
    let base: serde_json::Value = serde_json::from_str(template.trim()).unwrap();
    (0..60u64)
        .map(|i| {
            let mut e = base.clone();
            let t = ts(i * 400, i);
            e["insertId"] = format!("entry-{i:04}").into();
            e["timestamp"] = t.clone().into();
            e["receiveTimestamp"] = t.into();
            e["protoPayload"]["authenticationInfo"]["principalEmail"] =
                format!("user{}@example.com", i % 4).into();
            let method = if i % 3 == 2 {
                "io.k8s.core.v1.pods.list"
            } else {
                "io.k8s.batch.v1.cronjobs.create"
            };
            e["protoPayload"]["methodName"] = method.into();
            e["protoPayload"]["authorizationInfo"][0]["permission"] = method.into();
            e.to_string()
        })
        .collect()
}

pub fn envelope(id: &str, data: &str) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(data);
    serde_json::json!({
        "message": {"data": data, "messageId": id, "publishTime": "2026-12-06T10:00:00.123Z",
                    "attributes": {"logging.googleapis.com/timestamp": "2026-12-06T10:00:00Z"}},
        "subscription": "projects/demo-proj/subscriptions/kadet-push",
    })
    .to_string()
}

pub fn push(s: &Server, source: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut req = reqwest::blocking::Client::new()
        .post(s.url(&format!("/v1/gke/pubsub/{source}")))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match req.send() {
        Ok(r) => (r.status().as_u16(), r.text().unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}
