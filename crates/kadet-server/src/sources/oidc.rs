//! Checking the OIDC token Pub/Sub attaches to each push
//! (`Authorization: Bearer JWT`): its RS256 signature against the keys
//! published at a JWKS URL (cached), its issuer, audience and expiry, and
//! that it names an allowed, verified service-account email.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Keys are fetched again after this long, even when every `kid` is known.
const KEYS_MAX_AGE: Duration = Duration::from_secs(3600);
/// An unknown `kid` fetches the keys again at most this often, so that
/// forged tokens cannot make kadet hammer the key server.
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(30);
/// The largest key set read.
const MAX_JWKS_BYTES: usize = 1 << 20;
/// Clock skew allowed on `exp`, `nbf` and `iat`.
const LEEWAY_SECS: u64 = 60;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No token, or one that is not genuine or no longer valid (`401`).
    Unauthenticated(String),
    /// A genuine token for someone or something else (`403`).
    Forbidden(String),
    /// The keys could not be fetched (`503`: Pub/Sub retries).
    KeysUnavailable(String),
}

/// What a valid token says.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    /// The service account's email.
    pub email: Option<String>,
    /// Google's flag that the email is the account's.
    pub email_verified: Option<bool>,
}

/// The checks for one push source.
pub struct Verifier {
    validation: Validation,
    emails: BTreeSet<String>,
    keys: KeyCache,
}

impl Verifier {
    /// A verifier accepting tokens from `issuers` for `audience`, naming one
    /// of `emails`, signed by a key published at `jwks_url`.
    pub fn new(
        jwks_url: &str,
        issuers: &[String],
        audience: &str,
        emails: &[String],
    ) -> anyhow::Result<Verifier> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(issuers);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = LEEWAY_SECS;
        Ok(Verifier {
            validation,
            emails: emails.iter().map(|e| e.to_ascii_lowercase()).collect(),
            keys: KeyCache::new(jwks_url)?,
        })
    }

    /// Checks the `Authorization` header's bearer token.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<Claims, Denied> {
        let token = authorization
            .and_then(|h| {
                let (scheme, rest) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Denied::Unauthenticated("no bearer token".into()))?;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| Denied::Unauthenticated(format!("not a JWT: {e}")))?;
        if header.alg != Algorithm::RS256 {
            return Err(Denied::Unauthenticated(format!(
                "token signed with {:?}, not RS256",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| Denied::Unauthenticated("token names no key (kid)".into()))?;
        let key = self.keys.get(&kid).await?;
        let data =
            jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(refusal)?;
        let claims = data.claims;
        let email = claims
            .email
            .as_deref()
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        if claims.email_verified != Some(true) || !self.emails.contains(&email) {
            return Err(Denied::Forbidden(format!(
                "token of {:?}, not an allowed service account",
                claims.email.as_deref().unwrap_or("(no email)")
            )));
        }
        Ok(claims)
    }

    /// Fetches the keys now (`--check-config`, and warming the cache at
    /// start).
    pub async fn fetch_keys(&self) -> Result<usize, String> {
        self.keys.refresh().await.map_err(|e| match e {
            Denied::KeysUnavailable(m) | Denied::Forbidden(m) | Denied::Unauthenticated(m) => m,
        })
    }
}

fn refusal(e: jsonwebtoken::errors::Error) -> Denied {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::InvalidAudience => Denied::Forbidden("token for another audience".into()),
        K::InvalidIssuer => Denied::Forbidden("token from another issuer".into()),
        K::ExpiredSignature => Denied::Unauthenticated("token expired".into()),
        K::ImmatureSignature => Denied::Unauthenticated("token not valid yet".into()),
        K::InvalidSignature => Denied::Unauthenticated("bad signature".into()),
        _ => Denied::Unauthenticated(format!("invalid token: {e}")),
    }
}

/// The published keys, by `kid`.
struct KeyCache {
    url: String,
    client: reqwest::Client,
    state: tokio::sync::Mutex<Keys>,
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    fetched: Option<Instant>,
    tried: Option<Instant>,
}

impl KeyCache {
    fn new(url: &str) -> anyhow::Result<KeyCache> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(KeyCache {
            url: url.to_string(),
            client,
            state: tokio::sync::Mutex::new(Keys::default()),
        })
    }

    /// The key `kid`, fetching the set when it is old or lacks the key
    /// (at most every [`REFETCH_AT_MOST_EVERY`]). When fetching fails, keys
    /// already known still serve.
    async fn get(&self, kid: &str) -> Result<DecodingKey, Denied> {
        let mut keys = self.state.lock().await;
        let stale = keys.fetched.is_none_or(|t| t.elapsed() > KEYS_MAX_AGE);
        let may_try = keys
            .tried
            .is_none_or(|t| t.elapsed() > REFETCH_AT_MOST_EVERY);
        if (stale || !keys.by_kid.contains_key(kid)) && may_try {
            keys.tried = Some(Instant::now());
            match self.fetch().await {
                Ok(fresh) => {
                    keys.by_kid = fresh;
                    keys.fetched = Some(Instant::now());
                }
                Err(m) if keys.by_kid.is_empty() => return Err(Denied::KeysUnavailable(m)),
                Err(m) => {
                    tracing::warn!(url = %self.url, "fetching the OIDC keys: {m}; the known keys still serve")
                }
            }
        }
        match keys.by_kid.get(kid) {
            Some(k) => Ok(k.clone()),
            None if keys.fetched.is_none() => Err(Denied::KeysUnavailable(
                "the OIDC keys could not be fetched yet".into(),
            )),
            None => Err(Denied::Unauthenticated(format!(
                "token signed by an unknown key {kid:?}"
            ))),
        }
    }

    async fn refresh(&self) -> Result<usize, Denied> {
        let fresh = self.fetch().await.map_err(Denied::KeysUnavailable)?;
        let n = fresh.len();
        let mut keys = self.state.lock().await;
        keys.by_kid = fresh;
        keys.fetched = Some(Instant::now());
        keys.tried = keys.fetched;
        Ok(n)
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, String> {
        let resp = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| format!("GET {}: {e}", self.url))?;
        if !resp.status().is_success() {
            return Err(format!("GET {}: {}", self.url, resp.status()));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(format!("GET {}: key set over 1 MiB", self.url));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| format!("GET {}: {e}", self.url))?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(format!("GET {}: key set over 1 MiB", self.url));
        }
        parse_key_set(&body).map_err(|e| format!("{}: {e}", self.url))
    }
}

/// The RSA signing keys of a JWKS document, by `kid`; other keys are
/// passed over.
fn parse_key_set(body: &[u8]) -> Result<HashMap<String, DecodingKey>, String> {
    let set: JwkSet = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut out = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if let Ok(key) = DecodingKey::from_jwk(jwk) {
            out.insert(kid, key);
        }
    }
    if out.is_empty() {
        return Err("no usable key in the set".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_sets_without_usable_keys_are_refused() {
        assert!(parse_key_set(b"{}").is_err());
        assert!(parse_key_set(b"{\"keys\": []}").is_err());
        assert!(parse_key_set(b"not json").is_err());
    }

    #[tokio::test]
    async fn missing_and_malformed_tokens_are_unauthenticated() {
        let v = Verifier::new(
            "http://127.0.0.1:9/certs",
            &["https://accounts.google.com".to_string()],
            "aud",
            &["a@b".to_string()],
        )
        .unwrap();
        for h in [
            None,
            Some("Basic abc"),
            Some("Bearer "),
            Some("Bearer x.y.z"),
        ] {
            assert!(
                matches!(v.verify(h).await, Err(Denied::Unauthenticated(_))),
                "{h:?}"
            );
        }
    }
}
