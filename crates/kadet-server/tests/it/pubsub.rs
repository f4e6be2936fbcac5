//! `pubsub-push` sources (GKE through a Cloud Logging sink and a Pub/Sub
//! push subscription), through the real binary. The test makes its own RSA
//! key, serves its JWKS on loopback and signs tokens shaped like Google's:
//! only a genuine, current token for the right audience, from the right
//! issuer and an allowed service account is let in; a redelivered message
//! counts once, also across a `kill -9`; the alerts are `kadet scan`'s.

use crate::common::*;
use base64::Engine;
use jsonwebtoken::{encode, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

const AUDIENCE: &str = "https://kadet.test/v1/gke/pubsub/gke";
const PUSHER: &str = "pubsub-push@demo-proj.iam.gserviceaccount.com";
const KID: &str = "test-key-1";

/// A signing key and the JWKS that publishes it.
struct Signer {
    key: EncodingKey,
    jwks: String,
}

impl Signer {
    fn new(kid: &str) -> Signer {
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
    fn token(&self, edit: impl FnOnce(&mut serde_json::Value)) -> String {
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
fn serve_jwks(body: String) -> String {
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
fn log_entries() -> Vec<String> {
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

fn envelope(id: &str, data: &str) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(data);
    serde_json::json!({
        "message": {"data": data, "messageId": id, "publishTime": "2026-12-06T10:00:00.123Z",
                    "attributes": {"logging.googleapis.com/timestamp": "2026-12-06T10:00:00Z"}},
        "subscription": "projects/demo-proj/subscriptions/kadet-push",
    })
    .to_string()
}

fn push(s: &Server, source: &str, token: Option<&str>, body: &str) -> (u16, String) {
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

fn config(dir: &Path, jwks_url: &str) -> std::path::PathBuf {
    plain_config(
        dir,
        &format!(
            "\n[[sources]]\nname = \"gke\"\ntype = \"pubsub-push\"\ncluster = \"gke-demo\"\n\
             audience = \"{AUDIENCE}\"\nservice_accounts = [\"{PUSHER}\"]\njwks_url = \"{jwks_url}\"\n"
        ),
    )
}

#[test]
fn only_genuine_tokens_for_the_source_get_in() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::new(KID);
    let cfg = config(dir.path(), &serve_jwks(signer.jwks.clone()));
    let server = Server::start(&cfg, dir.path());
    let body = envelope("1", &log_entries()[0]);
    let stranger = Signer::new(KID);
    let cases: Vec<(&str, Option<String>, u16)> = vec![
        ("no token", None, 401),
        ("not a JWT", Some("abc".into()), 401),
        (
            "another audience",
            Some(signer.token(|c| c["aud"] = "https://elsewhere/".into())),
            403,
        ),
        (
            "another issuer",
            Some(signer.token(|c| c["iss"] = "https://evil.example".into())),
            403,
        ),
        (
            "expired",
            Some(signer.token(|c| {
                let now = c["iat"].as_u64().unwrap();
                c["exp"] = (now - 3600).into();
            })),
            401,
        ),
        (
            "signed by another key under the same kid",
            Some(stranger.token(|_| {})),
            401,
        ),
        (
            "another service account",
            Some(signer.token(|c| c["email"] = "intruder@p.iam.gserviceaccount.com".into())),
            403,
        ),
        (
            "an unverified email",
            Some(signer.token(|c| c["email_verified"] = false.into())),
            403,
        ),
    ];
    for (what, token, want) in cases {
        let (got, text) = push(&server, "gke", token.as_deref(), &body);
        assert_eq!(got, want, "{what}: {text}");
    }
    let good = signer.token(|_| {});
    assert_eq!(push(&server, "nope", Some(&good), &body).0, 404);
    assert_eq!(push(&server, "gke", Some(&good), "{\"message\": 1}").0, 400);
    let (code, text) = push(&server, "gke", Some(&good), &body);
    assert_eq!(code, 200, "{text}");
    // kadet's own token is not what lets a push in: the webhook endpoints
    // still refuse nothing here (no [auth]), and the push endpoint asked
    // for the OIDC token above.
    assert!(
        !server.log().contains(&good),
        "the token must not be logged"
    );
}

#[test]
fn pushes_give_the_alerts_of_a_scan_once_across_redeliveries_and_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::new(KID);
    let cfg = config(dir.path(), &serve_jwks(signer.jwks.clone()));
    let entries = log_entries();
    let all = dir.path().join("all.jsonl");
    std::fs::write(
        &all,
        entries.iter().map(|e| format!("{e}\n")).collect::<String>(),
    )
    .unwrap();
    let want: BTreeSet<String> = scan_ids(&all).into_iter().collect();
    assert!(want.len() >= 4, "the entries should give alerts: {want:?}");

    let token = signer.token(|_| {});
    let server = Server::start(&cfg, dir.path());
    let half = entries.len() / 2;
    for (i, e) in entries[..half].iter().enumerate() {
        let (code, text) = push(&server, "gke", Some(&token), &envelope(&format!("m{i}"), e));
        assert_eq!(code, 200, "{text}");
    }
    // Pub/Sub redelivers what it has not seen acknowledged in time.
    let (code, text) = push(&server, "gke", Some(&token), &envelope("m0", &entries[0]));
    assert_eq!(code, 200);
    assert!(text.contains("\"redelivery\":true"), "{text}");
    server.kill9();

    // After the crash, Pub/Sub redelivers everything from the start.
    let server = Server::start(&cfg, dir.path());
    for (i, e) in entries.iter().enumerate() {
        let (code, text) = push(&server, "gke", Some(&token), &envelope(&format!("m{i}"), e));
        assert_eq!(code, 200, "{text}");
    }
    let metrics = wait_idle(&reqwest::blocking::Client::new(), &server, None);
    assert_eq!(
        metric(&metrics, "kadet_source_records_total{source=\"gke\"}"),
        Some(entries.len() as f64),
        "{metrics}"
    );
    server.terminate();
    let got = ids_of(&std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap());
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(
        got.len(),
        unique.len(),
        "an alert was raised twice: {got:?}"
    );
    assert_eq!(unique, want);
}
