//! From a request to stored batches: the checks that need only the
//! headers (credentials, content type, encoding, backpressure), the body
//! read with a size and time limit, decoding ([`super::ingest`]) off the
//! async threads, and the store of the mode. A refused body is drained a
//! little (linger) so the client reads the answer.

use super::auth::Peer;
use super::{App, Endpoint, Refused};
use crate::config::Limits;
use crate::core::batch::Batch;
use crate::core::ingest::{self, Prepared, Refusal};
use crate::core::intake::StoreError;
use crate::metrics::Counter;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use http_body_util::BodyExt;
use std::time::Duration;

/// Before refusing a body, reads and drops a little more of it (at most
/// 4 MiB, at most 1 s), so that a client still sending gets to read the
/// answer instead of a connection reset.
pub(super) async fn linger(body: &mut Body) {
    drain(body, 4 << 20, Duration::from_secs(1)).await;
}

/// Reads and drops up to `bytes` of the body within `time`: memory stays
/// flat, and the client reads the answer.
async fn drain(body: &mut Body, bytes: usize, time: Duration) {
    let drain = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(d) = frame.into_data() {
                seen += d.len();
                if seen > bytes {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(time, drain).await;
}

/// Before a `429` for a body that may be sent again, drains it whole (up
/// to the body limit, within the body's time), so that the client reads
/// "retry later" rather than a reset connection while it is still sending.
pub(super) async fn postpone(limits: &Limits, body: &mut Body) {
    drain(
        body,
        limits.max_body_bytes,
        Duration::from_secs(limits.body_read_timeout_secs.min(10)),
    )
    .await;
}

pub(super) fn is_json(headers: &HeaderMap) -> bool {
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

/// Takes one ingest request: headers checked, body read and decoded, the
/// batches stored by the mode's intake. `Ok` means stored durably.
pub(super) async fn ingest_request(
    app: &App,
    peer: Peer,
    req: Request,
    ep: Endpoint,
) -> Result<(Option<String>, Prepared), Refused> {
    let (parts, mut body) = req.into_parts();
    // Credentials first: an unauthenticated request learns nothing more
    // than 401. Refusals before the body is read still read a little of it
    // (linger), so the client sees the answer rather than a reset
    // connection.
    let checked = check_headers(app, peer, &parts.headers, ep)
        .and_then(|gzip| Ok((cluster_of(parts.uri.path(), parts.uri.query(), ep)?, gzip)));
    let (cluster, gzip) = match checked {
        Ok((c, gzip)) => (c.or_else(|| app.cluster.clone()), gzip),
        Err(r) => {
            linger(&mut body).await;
            return Err(r);
        }
    };
    let _admitted = match admit(app, &parts.headers, gzip) {
        Ok(a) => a,
        Err(r) => {
            postpone(&app.limits, &mut body).await;
            return Err(r);
        }
    };
    let bytes = read_body(&app.limits, &parts.headers, body).await?;
    let (id, mut prepared) = decode_body(&app.limits, bytes, gzip, ep).await?;
    let batches: Vec<Batch> = std::mem::take(&mut prepared.docs)
        .into_iter()
        .map(|doc| Batch {
            source: ep.source(),
            cluster: cluster.clone(),
            accepted_ms: None,
            doc,
        })
        .collect();
    store(app, batches, prepared.redacted).await?;
    Ok((id, prepared))
}

/// Each body is counted at this many times its size while it is decoded,
/// checked, redacted and stored (the copies measured: the body, its
/// decoded form, the checked documents, their redacted form, the batches).
const INTAKE_MEMORY_FACTOR: u64 = 6;

/// What a request holds while its body is in memory: its place among the
/// requests in progress, and its share of the intake memory.
pub(super) struct Admitted<'a> {
    _request: tokio::sync::SemaphorePermit<'a>,
    _memory: tokio::sync::SemaphorePermit<'a>,
}

/// Admits a request whose body is about to be read, or refuses it with
/// `429`: too many requests in progress, or their bodies would take more
/// memory than `max_intake_memory_bytes`. A body is counted at
/// [`INTAKE_MEMORY_FACTOR`] times its declared length, or of
/// `max_body_bytes` when gzipped (it decodes to at most that) or of unknown
/// length.
pub(super) fn admit<'a>(
    app: &'a App,
    headers: &HeaderMap,
    gzip: bool,
) -> Result<Admitted<'a>, Refused> {
    let refuse = |reason: &'static str, message: String| Refused {
        status: StatusCode::TOO_MANY_REQUESTS,
        reason,
        message,
        retry_after: Some(app.limits.retry_after_secs),
    };
    let Ok(request) = app.inflight.try_acquire() else {
        return Err(refuse(
            "too-many-requests",
            format!(
                "more than {} requests in progress; retry later",
                app.limits.max_concurrent_requests
            ),
        ));
    };
    let max = app.limits.max_body_bytes as u64;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|_| !gzip)
        .unwrap_or(max)
        .min(max);
    let kib = (declared.saturating_mul(INTAKE_MEMORY_FACTOR) / 1024 + 1)
        .min(u64::from(super::intake_memory_kib(&app.limits)));
    let Ok(memory) = app.intake_memory.try_acquire_many(kib as u32) else {
        return Err(refuse(
            "intake-memory",
            format!(
                "the bodies in progress would take more than {} bytes (max_intake_memory_bytes); retry later",
                app.limits.max_intake_memory_bytes
            ),
        ));
    };
    Ok(Admitted {
        _request: request,
        _memory: memory,
    })
}

/// Reads the body, within the size limit and the time allowed.
pub(super) async fn read_body(
    limits: &Limits,
    headers: &HeaderMap,
    mut body: Body,
) -> Result<Vec<u8>, Refused> {
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
    match tokio::time::timeout(Duration::from_secs(limits.body_read_timeout_secs), read).await {
        Ok(r) => r,
        Err(_) => Err(Refused::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "request body not received in time",
        )),
    }
}

/// Decompresses, checks, unwraps and redacts the body off the async
/// threads: the documents to store, and Firehose's request id.
async fn decode_body(
    limits: &Limits,
    body: Vec<u8>,
    gzip: bool,
    ep: Endpoint,
) -> Result<(Option<String>, Prepared), Refused> {
    let (max, max_event) = (limits.max_body_bytes, limits.max_event_bytes);
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
    prepared.map_err(|r| match r {
        Refusal::Malformed(m) => Refused::new(StatusCode::BAD_REQUEST, "malformed-json", m),
        Refusal::TooLarge(m) => Refused::new(StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", m),
    })
}

/// Stores the batches with the mode's intake, and counts them.
pub(super) async fn store(app: &App, batches: Vec<Batch>, redacted: u64) -> Result<(), Refused> {
    if batches.is_empty() {
        return Ok(());
    }
    let bytes: usize = batches.iter().map(|d| d.doc.len()).sum();
    app.intake.store(batches).await.map_err(|e| match e {
        StoreError::Unavailable(m) => {
            Refused::new(StatusCode::SERVICE_UNAVAILABLE, "store-error", m)
        }
        StoreError::TooLarge(m) => {
            Refused::new(StatusCode::PAYLOAD_TOO_LARGE, "batch-over-nats-limit", m)
        }
    })?;
    app.metrics
        .add(Counter::JournalAppendedBytes, &[], bytes as u64);
    app.metrics.add(Counter::IntakeRedactions, &[], redacted);
    Ok(())
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
    if crate::config::valid_cluster_name(value) {
        Ok(Some(value.to_string()))
    } else {
        Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "bad-cluster-name",
            "a cluster name (/v1/audit/NAME or ?cluster=NAME) is 1 to 100 letters, digits, '.', '_', '-' or ':'",
        ))
    }
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
}
