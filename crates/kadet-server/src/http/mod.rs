//! The HTTP(S) front, shared by both modes: the accept loop with TLS and
//! timeouts ([`serve`]), who may send ([`auth`], [`tls`]), the endpoints
//! ([`routes`]), and from a request body to stored batches ([`body`],
//! [`pubsub`] for Pub/Sub pushes). Where batches are stored is the mode's
//! [`Intake`](crate::core::intake::Intake).

pub mod auth;
pub mod body;
pub mod pubsub;
pub mod routes;
pub mod tls;

pub use auth::{check_exposure, AuthCheck};
pub use tls::tls_config;

use crate::config::Limits;
use crate::core::batch::Source;
use crate::core::intake::Intake;
use crate::metrics::{Counter, Metrics};
use anyhow::Result;
use auth::Peer;
use axum::body::Body;
use axum::http::StatusCode;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Shared request state.
pub struct App {
    /// Where accepted batches are stored.
    pub intake: Arc<dyn Intake>,
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
    /// Bounds the ingest requests in progress.
    pub inflight: tokio::sync::Semaphore,
    /// Bounds the memory their bodies take ([`body::admit`]), in KiB.
    pub intake_memory: tokio::sync::Semaphore,
    /// The cluster name for requests that name none (`[listen] cluster`).
    pub cluster: Option<String>,
    /// The `[[sources]]`: push endpoints, and every source's health.
    pub sources: Arc<crate::sources::Sources>,
}

/// The intake memory budget in KiB (the unit of [`App::intake_memory`]),
/// at least one maximal body's share so any allowed body can be admitted.
pub fn intake_memory_kib(limits: &Limits) -> u32 {
    let kib = (limits.max_intake_memory_bytes / 1024).max(limits.max_body_bytes / 1024 + 1);
    u32::try_from(kib).unwrap_or(u32::MAX >> 4)
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

/// Accepts connections until `shutdown` resolves, then lets in-flight
/// requests finish (up to the grace period).
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let router = routes::router(app.clone());
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
                let app = app.clone();
                tokio::spawn(async move {
                    match tls {
                        None => serve_conn(TokioIo::new(tcp), Peer { cert_verified: false }, router, header_timeout, watcher).await,
                        Some(acceptor) => match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => {
                                let cert_verified = stream.get_ref().1.peer_certificates().and_then(|c| c.first()).is_some_and(|leaf| app.auth.certificate_allowed(leaf));
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
