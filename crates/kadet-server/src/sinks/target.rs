//! Where a sink sends alerts: a stream (standard output or a file) or a
//! webhook, and how one alert is rendered and delivered there. The outbox
//! loop ([`super::Worker`]) decides what to deliver and when.

use super::signature;
use crate::config::{SignatureScheme, SinkConfig, StreamFormat, WebhookFormat};
use anyhow::{Context, Result};
use kadet_engine::{Alert, JsonLinesSink, OcsfSink, Sink};
use kadet_rules::Rule;
use std::io::{self, Write};
use std::time::Duration;

/// A sink's destination.
pub enum Target {
    /// Standard output or a file, one alert per line.
    Stream {
        /// The writer.
        out: Box<dyn Write + Send>,
        /// Line format.
        format: StreamFormat,
    },
    /// One HTTP POST per alert.
    Webhook(Webhook),
}

/// A webhook destination.
pub struct Webhook {
    client: reqwest::Client,
    url: String,
    format: WebhookFormat,
    token: Option<String>,
    signing_key: Option<Vec<u8>>,
    signature: SignatureScheme,
    /// Deliveries sent at once (`max_in_flight`).
    pub max_in_flight: usize,
    /// Attempts before the alert goes to the dead-letter file.
    pub max_attempts: u32,
    /// First retry delay; doubles each attempt.
    pub backoff_ms: u64,
}

impl Target {
    /// Opens the destination of `cfg` (a file sink's file is created with
    /// mode 0600).
    pub fn open(cfg: &SinkConfig) -> Result<Target> {
        Ok(match cfg {
            SinkConfig::Stdout { format, .. } => Target::Stream {
                out: Box::new(io::stdout()),
                format: *format,
            },
            SinkConfig::File { path, format, .. } => {
                let f = crate::state_dir::open_private_append(path)
                    .with_context(|| format!("cannot open sink file {}", path.display()))?;
                Target::Stream {
                    out: Box::new(f),
                    format: *format,
                }
            }
            SinkConfig::Webhook {
                url,
                format,
                token_file,
                signing_key_file,
                signature,
                max_attempts,
                backoff_ms,
                timeout_secs,
                max_in_flight,
                ..
            } => {
                let token = token_file.as_deref().map(super::read_token).transpose()?;
                let signing_key = signing_key_file
                    .as_deref()
                    .map(|p| super::read_token(p).map(String::into_bytes))
                    .transpose()?;
                // No redirects: a redirect would re-post the alert, and its
                // signature, to wherever the receiver points.
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(*timeout_secs))
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .context("building the webhook HTTP client")?;
                Target::Webhook(Webhook {
                    client,
                    url: url.clone(),
                    format: *format,
                    token,
                    signing_key,
                    signature: *signature,
                    max_in_flight: (*max_in_flight).max(1),
                    max_attempts: *max_attempts,
                    backoff_ms: *backoff_ms,
                })
            }
        })
    }

    /// Delivers one alert; `rules` give OCSF findings their rule metadata.
    pub fn deliver(
        &mut self,
        a: &Alert,
        rules: &[Rule],
        rt: &tokio::runtime::Handle,
    ) -> Result<()> {
        match self {
            Target::Stream { out, format } => {
                let buf = render_stream(a, *format, rules)?;
                out.write_all(&buf)?;
                out.flush()?;
                Ok(())
            }
            Target::Webhook(w) => w.post(a, rules, rt),
        }
    }
}

impl Webhook {
    fn body(&self, a: &Alert, rules: &[Rule]) -> Result<Vec<u8>> {
        render(self.format, a, rules)
    }

    /// POSTs the alert; a 2xx answer confirms it. With a signing key the
    /// request carries a signature over the exact bytes sent.
    fn post(&self, a: &Alert, rules: &[Rule], rt: &tokio::runtime::Handle) -> Result<()> {
        rt.block_on(self.send(a, rules))
    }

    /// [`Webhook::post`], on the runtime: several may be in flight at once
    /// ([`Webhook::max_in_flight`]).
    pub async fn send(&self, a: &Alert, rules: &[Rule]) -> Result<()> {
        let body = self.body(a, rules)?;
        let mut req = self
            .client
            .post(self.url.as_str())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Kadet-Alert-Id", a.alert_id.as_str());
        if let Some(key) = &self.signing_key {
            let t = crate::now_ms() / 1000;
            match self.signature {
                SignatureScheme::Kadet => {
                    req = req.header(signature::HEADER, signature::sign(key, t, &body));
                }
                SignatureScheme::StandardWebhooks => {
                    for (name, value) in signature::standard_webhooks(key, &a.alert_id, t, &body) {
                        req = req.header(name, value);
                    }
                }
            }
        }
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        // Webhook URLs often carry a secret (Slack's do): keep it out of errors and logs.
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", send_failure(e)))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let body = resp.text().await.unwrap_or_default();
        let said: String = body.trim().chars().take(200).collect();
        if said.is_empty() {
            anyhow::bail!("the receiver answered HTTP {status}")
        }
        anyhow::bail!("the receiver answered HTTP {status}: {said:?}")
    }
}

/// Why a request could not be sent, with its cause: "cannot connect:
/// Connection refused", "timed out", a TLS certificate problem. reqwest's
/// own message is only "error sending request"; the cause is in its chain
/// of sources. The URL is left out (webhook URLs often hold a secret).
fn send_failure(e: reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "cannot send"
    };
    let e = e.without_url();
    let mut causes: Vec<String> = Vec::new();
    let mut next = std::error::Error::source(&e);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !text.is_empty() && !causes.iter().any(|c| c.contains(&text)) {
            causes.push(text);
        }
        next = cause.source();
    }
    match causes.last() {
        Some(root) => format!("{what}: {root}"),
        None => format!("{what}: {e}"),
    }
}

/// The body a webhook sink of `format` POSTs for an alert.
pub fn render(format: WebhookFormat, a: &Alert, rules: &[Rule]) -> Result<Vec<u8>> {
    let body = match format {
        WebhookFormat::Json => serde_json::to_value(a)?,
        WebhookFormat::Ocsf => {
            kadet_engine::ocsf::detection_finding(a, kadet_rules::by_id(rules, &a.rule_id))
        }
        WebhookFormat::Slack => serde_json::json!({ "text": slack_text(a) }),
    };
    Ok(serde_json::to_vec(&body)?)
}

/// Renders an alert for a stream sink with the engine's sinks.
fn render_stream(a: &Alert, format: StreamFormat, rules: &[Rule]) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    match format {
        StreamFormat::Jsonl => {
            let mut s = JsonLinesSink::new(&mut buf);
            s.alert(a)?;
            s.finish()?;
        }
        StreamFormat::Ocsf => {
            let mut s = OcsfSink::new(&mut buf, rules);
            s.alert(a)?;
            s.finish()?;
        }
    }
    Ok(buf)
}

/// An alert as Slack text. Every field interpolated comes from event data
/// an attacker may shape (a username, a resource name, a cluster name), so
/// each is escaped as Slack documents (`&`, `<`, `>`: no mention, no link)
/// and kept to one line (no forged extra lines).
fn slack_text(a: &Alert) -> String {
    let e = slack_escape;
    let mut t = format!(
        "*[{}]* {}\nrule: `{}`  events: {}",
        a.severity.name(),
        e(&a.title),
        e(&a.rule_id),
        a.event_count
    );
    if let Some(c) = &a.cluster {
        t.push_str(&format!("  cluster: {}", e(c)));
    }
    if let Some(f) = &a.first_seen {
        t.push_str(&format!("\nfirst seen: {}", e(f)));
    }
    t.push_str(&format!("\nalert_id: {}", e(&a.alert_id)));
    t
}

/// One field as literal Slack text: `&`, `<` and `>` escaped (so `<!channel>`
/// or `<http://x|text>` show as written, with no mention and no disguised
/// link; Slack still links a bare URL as it is), line breaks and other control
/// characters shown as `␤`/`�`, and backticks made plain (no code span to
/// break out of).
pub fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => out.push('\u{2424}'),
            '`' => out.push('\''),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_render_as_literal_text_on_one_line_each() {
        let hostile = "<!channel> <http://evil.example|Click to re-authenticate> & co\n*[CRITICAL]* fake line`x`";
        let t = slack_escape(hostile);
        assert!(!t.contains('<') && !t.contains('>') && !t.contains('\n') && !t.contains('`'));
        assert!(
            t.starts_with("&lt;!channel&gt; &lt;http://evil.example|Click"),
            "{t}"
        );
        assert!(t.contains("&amp; co\u{2424}*[CRITICAL]*"), "{t}");
        assert_eq!(slack_escape("plain-name_1.2:3"), "plain-name_1.2:3");
    }

    #[tokio::test]
    async fn a_failed_send_names_its_cause_and_not_the_url() {
        // A port nobody listens on: refused.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let client = reqwest::Client::new();
        let e = client
            .post(format!("http://127.0.0.1:{port}/hooks/SECRET"))
            .send()
            .await
            .unwrap_err();
        let why = send_failure(e);
        assert!(why.starts_with("cannot connect: "), "{why}");
        assert!(why.to_lowercase().contains("refused"), "{why}");
        assert!(!why.contains("SECRET"), "{why}");
        // A listener that never answers: timed out.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let e = client
            .post(format!("http://{addr}/"))
            .timeout(std::time::Duration::from_millis(200))
            .send()
            .await
            .unwrap_err();
        assert!(send_failure(e).starts_with("timed out"));
        // TLS to a plain-text listener: the TLS cause is named.
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = plain.local_addr().unwrap();
        std::thread::spawn(move || {
            use std::io::Write;
            if let Ok((mut c, _)) = plain.accept() {
                let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            }
        });
        let e = client
            .post(format!("https://{addr}/"))
            .send()
            .await
            .unwrap_err();
        let why = send_failure(e);
        assert!(why.starts_with("cannot connect: "), "{why}");
        assert_ne!(why, "cannot connect: error sending request", "{why}");
    }
}
