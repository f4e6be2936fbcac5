//! Who may send: a bearer token (also as Firehose's access key), a
//! verified client certificate, or both; compared in constant time. And
//! the rule that refuses to expose an unauthenticated plain listener.

use crate::config::{Config, Require};
use anyhow::{bail, Result};
use axum::http::{header, HeaderMap};
use std::net::SocketAddr;

/// What the client proved at the TLS layer.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    /// A client certificate was presented and verified.
    pub cert_verified: bool,
}

/// The names a certificate gives its holder: the subject's common names,
/// then its DNS and URI subject alternative names. None when it does not
/// parse (the handshake verified it, so that does not happen).
fn certificate_names(der: &[u8]) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_string))
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => names.push(d.to_string()),
                GeneralName::URI(u) => names.push(u.to_string()),
                _ => {}
            }
        }
    }
    names
}

/// Credentials the server accepts.
pub struct AuthCheck {
    token: Option<Vec<u8>>,
    mtls: bool,
    client_names: Vec<String>,
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
        let client_names = cfg
            .tls
            .as_ref()
            .map(|t| t.client_names.clone())
            .unwrap_or_default();
        Ok(AuthCheck {
            token,
            mtls,
            client_names,
            require_all: cfg.auth.require == Require::All,
        })
    }

    /// Whether a client certificate the TLS handshake verified counts: with
    /// `[tls] client_names`, only when its subject common name or a DNS or
    /// URI subject alternative name is listed.
    pub fn certificate_allowed(&self, der: &[u8]) -> bool {
        if self.client_names.is_empty() {
            return true;
        }
        let names = certificate_names(der);
        let allowed = names
            .iter()
            .any(|n| self.client_names.iter().any(|a| a == n));
        if !allowed {
            tracing::warn!(
                ?names,
                "client certificate not in [tls] client_names; treated as none"
            );
        }
        allowed
    }

    /// True when the request's credentials are enough; `firehose` also
    /// accepts the token as `X-Amz-Firehose-Access-Key`.
    pub fn allows(&self, headers: &HeaderMap, peer: Peer, firehose: bool) -> bool {
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
    use axum::http::HeaderValue;

    #[test]
    fn auth_rules() {
        let mut h = HeaderMap::new();
        let a = AuthCheck {
            token: Some(b"s3cret".to_vec()),
            mtls: false,
            client_names: Vec::new(),
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
            client_names: Vec::new(),
            require_all: true,
        };
        assert!(!both.allows(&f, no, true));
        assert!(both.allows(&f, yes, true));
        let either = AuthCheck {
            token: Some(b"s3cret".to_vec()),
            mtls: true,
            client_names: Vec::new(),
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
