//! The HTTP(S) front: accept loop, TLS and client certificates, timeouts,
//! authentication, the ingest endpoints, metrics and health.

use crate::config::{Config, Limits, Require};
use crate::ingest::{self, Prepared, Refusal};
use crate::intake::StoreError;
use crate::journal::{Entry, Source};
use crate::metrics::{Counter, Gauge, Metrics};
use crate::now_ms;
use anyhow::{bail, Context, Result};
use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// What the client proved at the TLS layer.
#[derive(Clone, Copy, Debug)]
struct Peer {
    cert_verified: bool,
}

/// Credentials the server accepts.
pub struct AuthCheck {
    token: Option<Vec<u8>>,
    mtls: bool,
    require_all: bool,
}

impl AuthCheck {
    /// From the config (reads the token file).
    pub fn from_config(cfg: &Config) -> Result<AuthCheck> {
        let token = match &cfg.auth.token_file {
            Some(p) => Some(crate::sinks::read_token(p)?.into_bytes()),
            None => None,
        };
        let mtls = cfg.tls.as_ref().is_some_and(|t| t.client_ca_file.is_some());
        Ok(AuthCheck {
            token,
            mtls,
            require_all: cfg.auth.require == Require::All,
        })
    }

    fn allows(&self, headers: &HeaderMap, peer: Peer, firehose: bool) -> bool {
        let token_ok = self.token.as_ref().map(|expected| {
            let bearer = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim().as_bytes());
            let access_key = firehose
                .then(|| {
                    headers
                        .get("x-amz-firehose-access-key")
                        .map(|v| v.as_bytes())
                })
                .flatten();
            [bearer, access_key]
                .into_iter()
                .flatten()
                .any(|given| constant_time_eq(given, expected))
        });
        let cert_ok = self.mtls.then_some(peer.cert_verified);
        match (token_ok, cert_ok) {
            (Some(t), Some(c)) => {
                if self.require_all {
                    t && c
                } else {
                    t || c
                }
            }
            (Some(t), None) => t,
            (None, Some(c)) => c,
            (None, None) => true,
        }
    }
}

/// Compares in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Shared request state.
pub struct App {
    /// Where accepted batches are stored.
    pub intake: crate::intake::Intake,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Limits.
    pub limits: Limits,
    /// Authentication.
    pub auth: AuthCheck,
    /// False while starting and while shutting down.
    pub ready: AtomicBool,
    /// False while the detector cannot commit to its store.
    pub detector_up: Arc<AtomicBool>,
    /// Outbox size probe for metrics.
    pub outbox_pending: Box<dyn Fn() -> i64 + Send + Sync>,
    /// Bounds the ingest requests in progress (and so the bodies in memory).
    pub inflight: tokio::sync::Semaphore,
    /// The cluster name for requests that name none (`[listen] cluster`).
    pub cluster: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Audit,
    Firehose,
    Aks,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::Audit => "/v1/audit",
            Endpoint::Firehose => "/v1/eks/firehose",
            Endpoint::Aks => "/v1/aks",
        }
    }
    fn source(self) -> Source {
        match self {
            Endpoint::Audit => Source::Audit,
            Endpoint::Firehose => Source::Firehose,
            Endpoint::Aks => Source::Aks,
        }
    }
}

/// A refused request.
struct Refused {
    status: StatusCode,
    reason: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl Refused {
    fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Refused {
        Refused {
            status,
            reason,
            message: message.into(),
            retry_after: None,
        }
    }
}

/// The router.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/audit", post(audit))
        .route("/v1/audit/{cluster}", post(audit))
        .route("/v1/eks/firehose", post(firehose))
        .route("/v1/eks/firehose/{cluster}", post(firehose))
        .route("/v1/aks", post(aks))
        .route("/v1/aks/{cluster}", post(aks))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(app)
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    if app.ready.load(Ordering::Acquire)
        && app.detector_up.load(Ordering::Acquire)
        && app.intake.ready()
    {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
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

/// Before refusing a body, reads and drops a little more of it (at most
/// 4 MiB, at most 1 s), so that a client still sending gets to read the
/// answer instead of a connection reset.
async fn linger(body: &mut Body) {
    let drain = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(d) = frame.into_data() {
                seen += d.len();
                if seen > 4 << 20 {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Checks that need only the headers; returns whether the body is gzip'd.
fn check_headers(
    app: &App,
    peer: Peer,
    headers: &HeaderMap,
    ep: Endpoint,
) -> Result<bool, Refused> {
    let limits = &app.limits;
    if !app.auth.allows(headers, peer, ep == Endpoint::Firehose) {
        return Err(Refused::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "missing or wrong credentials",
        ));
    }
    if !is_json(headers) {
        return Err(Refused::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Content-Type must be application/json",
        ));
    }
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_ascii_lowercase())
    {
        None => false,
        Some(e) if e == "identity" || e.is_empty() => false,
        Some(e) if e == "gzip" => true,
        Some(_) => {
            return Err(Refused::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-encoding",
                "Content-Encoding must be gzip or identity",
            ))
        }
    };
    if let Some(message) = app.intake.backpressure() {
        return Err(Refused {
            status: StatusCode::TOO_MANY_REQUESTS,
            reason: "backpressure",
            message,
            retry_after: Some(limits.retry_after_secs),
        });
    }
    Ok(gzip)
}

async fn ingest_request(
    app: &App,
    peer: Peer,
    req: Request,
    ep: Endpoint,
) -> Result<(Option<String>, Prepared), Refused> {
    let limits = &app.limits;
    let (parts, mut body) = req.into_parts();
    let headers = &parts.headers;
    let cluster = match cluster_of(parts.uri.path(), parts.uri.query(), ep) {
        Ok(c) => c.or_else(|| app.cluster.clone()),
        Err(r) => {
            linger(&mut body).await;
            return Err(r);
        }
    };
    // Refusals before the body is read still read a little of it (linger),
    // so the client sees the answer rather than a reset connection.
    let gzip = match check_headers(app, peer, headers, ep) {
        Ok(g) => g,
        Err(r) => {
            linger(&mut body).await;
            return Err(r);
        }
    };
    let Ok(_permit) = app.inflight.try_acquire() else {
        linger(&mut body).await;
        return Err(Refused {
            status: StatusCode::TOO_MANY_REQUESTS,
            reason: "too-many-requests",
            message: format!(
                "more than {} requests in progress; retry later",
                limits.max_concurrent_requests
            ),
            retry_after: Some(limits.retry_after_secs),
        });
    };
    let max = limits.max_body_bytes;
    let too_large = || {
        Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!("request body over the limit of {max} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        linger(&mut body).await;
        return Err(too_large());
    }
    let read = async {
        let mut buf: Vec<u8> = Vec::with_capacity(declared.unwrap_or(0).min(max as u64) as usize);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                Refused::new(
                    StatusCode::BAD_REQUEST,
                    "read-error",
                    format!("reading the body: {e}"),
                )
            })?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > max {
                    linger(&mut body).await;
                    return Err(too_large());
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf)
    };
    let body = match tokio::time::timeout(Duration::from_secs(limits.body_read_timeout_secs), read)
        .await
    {
        Ok(r) => r?,
        Err(_) => {
            return Err(Refused::new(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "request body not received in time",
            ))
        }
    };
    let max_event = limits.max_event_bytes;
    let prepared =
        tokio::task::spawn_blocking(move || -> Result<(Option<String>, Prepared), Refusal> {
            let body = if gzip {
                ingest::gunzip_limited(&body, max)?
            } else {
                body
            };
            let (id, mut prepared) = match ep {
                Endpoint::Firehose => {
                    ingest::prepare_firehose(&body, max_event, max.saturating_mul(4))
                        .map(|(id, p)| (Some(id), p))
                }
                _ => ingest::prepare_body(&body, max_event).map(|p| (None, p)),
            }?;
            prepared.redact()?;
            Ok((id, prepared))
        })
        .await
        .map_err(|e| {
            Refused::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("decoding task failed: {e}"),
            )
        })?;
    let (id, mut prepared) = prepared.map_err(|r| match r {
        Refusal::Malformed(m) => Refused::new(StatusCode::BAD_REQUEST, "malformed-json", m),
        Refusal::TooLarge(m) => Refused::new(StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", m),
    })?;
    let docs: Vec<Entry> = std::mem::take(&mut prepared.docs)
        .into_iter()
        .map(|doc| Entry {
            source: ep.source(),
            cluster: cluster.clone(),
            doc,
        })
        .collect();
    if !docs.is_empty() {
        let bytes: usize = docs.iter().map(|d| d.doc.len()).sum();
        app.intake.store(docs).await.map_err(|e| match e {
            StoreError::Unavailable(m) => {
                Refused::new(StatusCode::SERVICE_UNAVAILABLE, "store-error", m)
            }
            StoreError::TooLarge(m) => {
                Refused::new(StatusCode::PAYLOAD_TOO_LARGE, "batch-over-nats-limit", m)
            }
        })?;
        app.metrics
            .add(Counter::JournalAppendedBytes, &[], bytes as u64);
        app.metrics
            .add(Counter::IntakeRedactions, &[], prepared.redacted);
    }
    Ok((id, prepared))
}

/// The cluster a request names: the last path segment after the endpoint
/// (`/v1/audit/NAME`; kube-apiserver's webhook client keeps a URL's path but
/// not its query), else `?cluster=NAME`. Letters, digits, `.`, `_`, `-`,
/// `:`; at most 100.
fn cluster_of(path: &str, query: Option<&str>, ep: Endpoint) -> Result<Option<String>, Refused> {
    let in_path = path
        .strip_prefix(ep.path())
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|name| !name.is_empty());
    let in_query = || {
        query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|kv| kv.strip_prefix("cluster="))
    };
    let Some(value) = in_path.or_else(in_query) else {
        return Ok(None);
    };
    let ok = !value.is_empty()
        && value.len() <= 100
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c));
    if ok {
        Ok(Some(value.to_string()))
    } else {
        Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "bad-cluster-name",
            "a cluster name (/v1/audit/NAME or ?cluster=NAME) is 1 to 100 letters, digits, '.', '_', '-' or ':'",
        ))
    }
}

/// Builds the rustls server config. Client certificates are requested when a
/// client CA is set; a client without one is answered 401 at the HTTP layer
/// (and counted), one with a bad one fails the handshake.
pub fn tls_config(cfg: &crate::config::Tls) -> Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cfg.cert_file)
        .with_context(|| format!("cannot read {}", cfg.cert_file.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad PEM in {}", cfg.cert_file.display()))?;
    if certs.is_empty() {
        bail!("no certificate in {}", cfg.cert_file.display());
    }
    let key = PrivateKeyDer::from_pem_file(&cfg.key_file)
        .with_context(|| format!("cannot read a private key from {}", cfg.key_file.display()))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match &cfg.client_ca_file {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca)
                .with_context(|| format!("cannot read {}", ca.display()))?
            {
                roots.add(c.with_context(|| format!("bad PEM in {}", ca.display()))?)?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()
            .context("client CA")?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut sc = builder
        .with_single_cert(certs, key)
        .context("server certificate and key")?;
    sc.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(sc)
}

/// Accepts connections until `shutdown` resolves, then lets in-flight
/// requests finish (up to the grace period).
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let router = router(app.clone());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let header_timeout = Duration::from_secs(app.limits.header_read_timeout_secs);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, remote) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let router = router.clone();
                let tls = tls.clone();
                let watcher = graceful.watcher();
                let metrics = app.metrics.clone();
                tokio::spawn(async move {
                    match tls {
                        None => serve_conn(TokioIo::new(tcp), Peer { cert_verified: false }, router, header_timeout, watcher).await,
                        Some(acceptor) => match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => {
                                let cert_verified = stream.get_ref().1.peer_certificates().is_some_and(|c| !c.is_empty());
                                serve_conn(TokioIo::new(stream), Peer { cert_verified }, router, header_timeout, watcher).await
                            }
                            Ok(Err(e)) => {
                                metrics.inc(Counter::TlsHandshakeFailures, &[]);
                                tracing::debug!(%remote, error = %e, "TLS handshake failed");
                            }
                            Err(_) => {
                                metrics.inc(Counter::TlsHandshakeFailures, &[]);
                                tracing::debug!(%remote, "TLS handshake timed out");
                            }
                        },
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    app.ready.store(false, Ordering::Release);
    tracing::info!("shutting down: finishing in-flight requests");
    let grace = Duration::from_secs(app.limits.shutdown_grace_secs);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "in-flight requests did not finish within {} s",
            grace.as_secs()
        );
    }
    Ok(())
}

async fn serve_conn<S>(
    io: TokioIo<S>,
    peer: Peer,
    router: Router,
    header_timeout: Duration,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(peer);
        let router = router.clone();
        async move { router.oneshot(req.map(Body::new)).await }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true)
        .serve_connection(io, svc);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Refuses a listener that would expose an unauthenticated plain endpoint.
pub fn check_exposure(cfg: &Config, addr: SocketAddr, insecure: bool) -> Result<()> {
    if addr.ip().is_loopback() || insecure {
        return Ok(());
    }
    if cfg.tls.is_none() || !cfg.has_auth() {
        bail!(
            "refusing to listen on {addr} without TLS and client authentication ([tls] and [auth] token_file or tls.client_ca_file); \
             pass --insecure-listen to do it anyway"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_name_comes_from_the_path_then_the_query() {
        let name = |p, q| cluster_of(p, q, Endpoint::Audit).ok().flatten();
        assert_eq!(name("/v1/audit/prod", None).as_deref(), Some("prod"));
        assert_eq!(
            name("/v1/audit/prod", Some("cluster=other")).as_deref(),
            Some("prod")
        );
        assert_eq!(
            name("/v1/audit", Some("a=1&cluster=eu")).as_deref(),
            Some("eu")
        );
        assert_eq!(name("/v1/audit", None), None);
        assert!(cluster_of("/v1/audit/a%20b", None, Endpoint::Audit).is_err());
        let aks = cluster_of("/v1/aks/aks-1", None, Endpoint::Aks);
        assert_eq!(aks.ok().flatten().as_deref(), Some("aks-1"));
    }

    #[test]
    fn auth_rules() {
        let mut h = HeaderMap::new();
        let a = AuthCheck {
            token: Some(b"s3cret".to_vec()),
            mtls: false,
            require_all: false,
        };
        let no = Peer {
            cert_verified: false,
        };
        let yes = Peer {
            cert_verified: true,
        };
        assert!(!a.allows(&h, no, false));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert!(a.allows(&h, no, false));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cre"),
        );
        assert!(!a.allows(&h, no, false));
        let mut f = HeaderMap::new();
        f.insert(
            "x-amz-firehose-access-key",
            HeaderValue::from_static("s3cret"),
        );
        assert!(a.allows(&f, no, true));
        assert!(!a.allows(&f, no, false));
        let both = AuthCheck {
            token: Some(b"s3cret".to_vec()),
            mtls: true,
            require_all: true,
        };
        assert!(!both.allows(&f, no, true));
        assert!(both.allows(&f, yes, true));
        let either = AuthCheck {
            token: Some(b"s3cret".to_vec()),
            mtls: true,
            require_all: false,
        };
        assert!(either.allows(&HeaderMap::new(), yes, false));
        assert!(!either.allows(&HeaderMap::new(), no, false));
    }

    #[test]
    fn exposure() {
        let cfg = Config::default();
        assert!(check_exposure(&cfg, "127.0.0.1:1".parse().unwrap(), false).is_ok());
        assert!(check_exposure(&cfg, "0.0.0.0:1".parse().unwrap(), false).is_err());
        assert!(check_exposure(&cfg, "0.0.0.0:1".parse().unwrap(), true).is_ok());
    }
}
