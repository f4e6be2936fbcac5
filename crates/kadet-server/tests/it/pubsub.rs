//! `pubsub-push` sources (GKE through a Cloud Logging sink and a Pub/Sub
//! push subscription), through the real binary. The test makes its own RSA
//! key, serves its JWKS on loopback and signs tokens shaped like Google's:
//! only a genuine, current token for the right audience, from the right
//! issuer and an allowed service account is let in; a redelivered message
//! counts once, also across a `kill -9`; the alerts are `kadet scan`'s.

use crate::common::pubsub::*;
use crate::common::*;
use std::collections::BTreeSet;
use std::path::Path;

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
