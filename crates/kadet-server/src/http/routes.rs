//! The endpoints: ingest (`/v1/audit`, `/v1/eks/firehose`, `/v1/aks`, each
//! with an optional `/NAME` of the cluster), Pub/Sub pushes
//! (`/v1/gke/pubsub/SOURCE`), `/metrics`, `/healthz` and
//! `/readyz`, and how each answer is counted and shaped (Firehose's answers
//! follow its HTTP endpoint contract).

use super::auth::Peer;
use super::body::ingest_request;
use super::{App, Endpoint};
use crate::metrics::{Counter, Gauge};
use crate::now_ms;
use axum::extract::{Extension, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// The router.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/audit", post(audit))
        .route("/v1/audit/{cluster}", post(audit))
        .route("/v1/eks/firehose", post(firehose))
        .route("/v1/eks/firehose/{cluster}", post(firehose))
        .route("/v1/aks", post(aks))
        .route("/v1/aks/{cluster}", post(aks))
        .route("/v1/gke/pubsub/{source}", post(pubsub))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(app)
}

/// `200 ready`, or `503` with every reason on its own line.
async fn readyz(State(app): State<Arc<App>>) -> Response {
    let mut why = Vec::new();
    if !app.ready.load(Ordering::Acquire) {
        why.push("starting or stopping".to_string());
    }
    if !app.detector_up.load(Ordering::Acquire) {
        why.push("the detector cannot write its store".to_string());
    }
    if !app.intake.ready() {
        why.push(app.intake.not_ready_reason());
    }
    why.extend(app.sources.stuck());
    if why.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let body = format!("not ready\n{}\n", why.join("\n"));
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

async fn metrics(
    State(app): State<Arc<App>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Response {
    if !app.auth.allows(&headers, peer, false) {
        app.metrics
            .inc(Counter::Unauthenticated, &[("endpoint", "/metrics")]);
        return (StatusCode::UNAUTHORIZED, "unauthorized\n").into_response();
    }
    app.intake.gauges(&app.metrics);
    app.sources.gauges(&app.metrics);
    app.metrics.set_gauge(
        Gauge::OutboxPendingAlerts,
        &[],
        (app.outbox_pending)() as f64,
    );
    let mut r = app.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

async fn audit(
    State(app): State<Arc<App>>,
    Extension(peer): Extension<Peer>,
    req: Request,
) -> Response {
    handle(app, peer, req, Endpoint::Audit).await
}

async fn aks(
    State(app): State<Arc<App>>,
    Extension(peer): Extension<Peer>,
    req: Request,
) -> Response {
    handle(app, peer, req, Endpoint::Aks).await
}

async fn pubsub(State(app): State<Arc<App>>, Path(source): Path<String>, req: Request) -> Response {
    super::pubsub::handle(app, source, req).await
}

async fn firehose(
    State(app): State<Arc<App>>,
    Extension(peer): Extension<Peer>,
    req: Request,
) -> Response {
    handle(app, peer, req, Endpoint::Firehose).await
}

async fn handle(app: Arc<App>, peer: Peer, req: Request, ep: Endpoint) -> Response {
    let started = Instant::now();
    let header_id = req
        .headers()
        .get("x-amz-firehose-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let result = ingest_request(&app, peer, req, ep).await;
    let m = &app.metrics;
    let resp = match result {
        Ok((request_id, p)) => {
            m.add(
                Counter::EventsReceived,
                &[("endpoint", ep.path())],
                p.received,
            );
            m.add(
                Counter::EventsAccepted,
                &[("endpoint", ep.path())],
                p.accepted,
            );
            m.add(
                Counter::EventsRejected,
                &[("reason", "too-large")],
                p.too_large,
            );
            let body = match ep {
                Endpoint::Firehose => {
                    serde_json::json!({ "requestId": request_id.or(header_id), "timestamp": now_ms() })
                }
                _ => serde_json::json!({ "accepted": p.accepted, "rejected": p.too_large }),
            };
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Err(r) => {
            m.inc(Counter::BatchesRejected, &[("reason", r.reason)]);
            if r.status == StatusCode::UNAUTHORIZED {
                m.inc(Counter::Unauthenticated, &[("endpoint", ep.path())]);
            }
            if r.status.is_server_error() {
                tracing::error!(
                    endpoint = ep.path(),
                    status = r.status.as_u16(),
                    reason = r.reason,
                    "{}",
                    r.message
                );
            } else {
                // Counted in the metrics; at debug level so that a flood of
                // refusals (backpressure, scanners) cannot flood the log.
                tracing::debug!(
                    endpoint = ep.path(),
                    status = r.status.as_u16(),
                    reason = r.reason,
                    "{}",
                    r.message
                );
            }
            let body = match ep {
                Endpoint::Firehose => {
                    serde_json::json!({ "requestId": header_id, "timestamp": now_ms(), "errorMessage": r.message })
                }
                _ => serde_json::json!({ "error": r.message }),
            };
            let mut resp = (r.status, axum::Json(body)).into_response();
            if let Some(s) = r.retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(s));
            }
            resp
        }
    };
    m.inc(
        Counter::Requests,
        &[("endpoint", ep.path()), ("code", resp.status().as_str())],
    );
    m.observe_latency(ep.path(), started.elapsed().as_secs_f64());
    resp
}
