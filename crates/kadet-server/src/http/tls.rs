//! The TLS server config: the certificate chain and key, and client
//! certificates verified against a CA when one is configured (mTLS).

use anyhow::{bail, Context, Result};
use std::sync::Arc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

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
    if !cfg.client_names.is_empty() && cfg.client_ca_file.is_none() {
        bail!(
            "client_names needs client_ca_file: names are read from verified client certificates"
        );
    }
    if cfg.client_names.iter().any(|n| n.trim().is_empty()) {
        bail!("client_names holds an empty name");
    }
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
