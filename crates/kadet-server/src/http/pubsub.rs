//! `POST /v1/gke/pubsub/NAME`: a Pub/Sub push subscription's delivery to
//! the `pubsub-push` source NAME. The OIDC token Pub/Sub attaches is the
//! credential (kadet's own token is not asked for: Pub/Sub cannot send
//! it). The answer is 2xx only once the message is stored, so Pub/Sub
//! retries anything else; a message id already stored is answered at once.

use super::body::{is_json, linger, read_body, store};
use super::{App, Refused};
use crate::core::batch::{Batch, Source};
use crate::core::ingest::{prepare_body, Prepared, Refusal};
use crate::metrics::{Counter, Gauge};
use crate::now_ms;
use crate::sources::oidc::Denied;
use crate::sources::pubsub_push::{parse_envelope, PushSource};
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;

/// What a stored push gave.
struct Pushed {
    accepted: u64,
    redelivered: bool,
}

/// Answers one push.
pub(super) async fn handle(app: Arc<App>, name: String, req: Request) -> Response {
    let started = Instant::now();
    let endpoint = "/v1/gke/pubsub";
    let m = &app.metrics;
    let resp = match push(&app, &name, req).await {
        Ok(p) => {
            let body = serde_json::json!({ "accepted": p.accepted, "redelivery": p.redelivered });
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Err(r) => {
            m.inc(Counter::BatchesRejected, &[("reason", r.reason)]);
            if app.sources.push(&name).is_some() {
                m.inc(
                    Counter::SourceErrors,
                    &[("source", &name), ("reason", r.reason)],
                );
            }
            if r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::FORBIDDEN {
                m.inc(Counter::Unauthenticated, &[("endpoint", endpoint)]);
            }
            let level_error = r.status.is_server_error();
            if level_error {
                tracing::error!(source = %name, status = r.status.as_u16(), reason = r.reason, "{}", r.message);
            } else {
                tracing::debug!(source = %name, status = r.status.as_u16(), reason = r.reason, "{}", r.message);
            }
            let mut resp = (
                r.status,
                axum::Json(serde_json::json!({ "error": r.message })),
            )
                .into_response();
            if let Some(s) = r.retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(s));
            }
            resp
        }
    };
    m.inc(
        Counter::Requests,
        &[("endpoint", endpoint), ("code", resp.status().as_str())],
    );
    m.observe_latency(endpoint, started.elapsed().as_secs_f64());
    resp
}

async fn push(app: &App, name: &str, req: Request) -> Result<Pushed, Refused> {
    let (parts, mut body) = req.into_parts();
    let Some(source) = app.sources.push(name).cloned() else {
        linger(&mut body).await;
        return Err(Refused::new(
            StatusCode::NOT_FOUND,
            "unknown-source",
            "no pubsub-push source of this name",
        ));
    };
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Err(denied) = source.verifier.verify(authorization).await {
        linger(&mut body).await;
        return Err(refused(denied, app.limits.retry_after_secs));
    }
    if !is_json(&parts.headers) {
        linger(&mut body).await;
        return Err(Refused::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Content-Type must be application/json",
        ));
    }
    if let Some(message) = app.intake.backpressure() {
        linger(&mut body).await;
        return Err(Refused {
            status: StatusCode::TOO_MANY_REQUESTS,
            reason: "backpressure",
            message,
            retry_after: Some(app.limits.retry_after_secs),
        });
    }
    let _admitted = match super::body::admit(app, &parts.headers, false) {
        Ok(a) => a,
        Err(r) => {
            super::body::postpone(&app.limits, &mut body).await;
            return Err(r);
        }
    };
    let bytes = read_body(&app.limits, &parts.headers, body).await?;
    let message = parse_envelope(&bytes)
        .map_err(|m| Refused::new(StatusCode::BAD_REQUEST, "malformed-envelope", m))?;
    if source.seen(&message.id) {
        app.metrics
            .inc(Counter::SourceRedeliveries, &[("source", name)]);
        return Ok(Pushed {
            accepted: 0,
            redelivered: true,
        });
    }
    let data_len = message.data.len() as u64;
    let prepared = prepare(&message.data, app.limits.max_event_bytes).await?;
    let accepted = prepared.accepted;
    stored(app, &source, prepared).await?;
    source.stored(message.id);
    source.health.progressed();
    let m = &app.metrics;
    m.add(Counter::SourceRecords, &[("source", name)], accepted);
    m.add(Counter::SourceBytes, &[("source", name)], data_len);
    if let Some(t) = message.publish_ms {
        let lag = (now_ms() - t).max(0) as f64 / 1000.0;
        m.set_gauge(Gauge::SourceLag, &[("source", name)], lag);
    }
    Ok(Pushed {
        accepted,
        redelivered: false,
    })
}

/// Checks and redacts the message's LogEntry off the async threads.
async fn prepare(data: &[u8], max_event: usize) -> Result<Prepared, Refused> {
    let data = data.to_vec();
    let prepared = tokio::task::spawn_blocking(move || -> Result<Prepared, Refusal> {
        let mut p = prepare_body(&data, max_event)?;
        p.redact()?;
        Ok(p)
    })
    .await
    .map_err(|e| {
        Refused::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("decoding task failed: {e}"),
        )
    })?;
    prepared.map_err(|r| match r {
        Refusal::Malformed(m) => Refused::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            format!("message.data: {m}"),
        ),
        Refusal::TooLarge(m) => Refused::new(StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", m),
    })
}

/// Stores the message's documents as batches of the source.
async fn stored(app: &App, source: &PushSource, prepared: Prepared) -> Result<(), Refused> {
    let batches = prepared
        .docs
        .into_iter()
        .map(|doc| Batch {
            source: Source::PubSub,
            cluster: source.cluster.clone(),
            accepted_ms: None,
            doc,
        })
        .collect();
    store(app, batches, prepared.redacted).await
}

fn refused(denied: Denied, retry_after: u64) -> Refused {
    match denied {
        Denied::Unauthenticated(m) => Refused::new(StatusCode::UNAUTHORIZED, "unauthenticated", m),
        Denied::Forbidden(m) => Refused::new(StatusCode::FORBIDDEN, "forbidden", m),
        Denied::KeysUnavailable(m) => Refused {
            status: StatusCode::SERVICE_UNAVAILABLE,
            reason: "oidc-keys-unavailable",
            message: m,
            retry_after: Some(retry_after),
        },
    }
}
