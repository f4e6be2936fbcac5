//! `kadet serve` configuration: a TOML file, or the embedded defaults.
//!
//! Every table rejects unknown keys, so a typo is an error at start naming
//! the file, the line and the key.

pub mod cluster;
pub mod sources;

use crate::problem::{ConfigText, Problem, Problems};
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to listen.
    #[serde(default)]
    pub listen: Listen,
    /// TLS; absent means plain HTTP.
    pub tls: Option<Tls>,
    /// Client authentication.
    #[serde(default)]
    pub auth: Auth,
    /// Rules.
    #[serde(default)]
    pub rules: Rules,
    /// On-disk state.
    #[serde(default)]
    pub state: State,
    /// Size limits, backpressure and timeouts.
    #[serde(default)]
    pub limits: Limits,
    /// Event-time handling of the detector.
    #[serde(default)]
    pub detection: Detection,
    /// Where alerts go; default: JSON lines on standard output.
    #[serde(default = "default_sinks")]
    pub sinks: Vec<SinkConfig>,
    /// Cluster mode on NATS JetStream; absent: one process, local journal.
    pub cluster: Option<cluster::ClusterConfig>,
    /// Audit logs fetched from, or pushed by, the clouds' log services.
    #[serde(default)]
    pub sources: Vec<sources::SourceConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: Listen::default(),
            tls: None,
            auth: Auth::default(),
            rules: Rules::default(),
            state: State::default(),
            limits: Limits::default(),
            detection: Detection::default(),
            sinks: default_sinks(),
            cluster: None,
            sources: Vec::new(),
        }
    }
}

/// `[listen]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    /// `host:port`.
    #[serde(default = "default_address")]
    pub address: String,
    /// The cluster name given to events whose record names none (raw
    /// kube-apiserver events) when the request names none either; a request
    /// names its cluster with `/v1/audit/NAME` (or `?cluster=NAME`).
    pub cluster: Option<String>,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            address: default_address(),
            cluster: None,
        }
    }
}

fn default_address() -> String {
    "127.0.0.1:9765".into()
}

/// `[tls]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
    /// PEM CA bundle; when set, client certificates are verified against it (mTLS).
    pub client_ca_file: Option<PathBuf>,
    /// When set, a client certificate counts only if its subject common
    /// name or one of its DNS or URI subject alternative names is one of
    /// these (a cluster CA signs every node and user certificate).
    #[serde(default)]
    pub client_names: Vec<String>,
}

/// How the token and client certificate combine when both are configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Require {
    /// Either a valid token or a verified client certificate.
    #[default]
    Any,
    /// Both.
    All,
}

/// `[auth]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// File holding the bearer token (the kubeconfig `token` the API server sends).
    pub token_file: Option<PathBuf>,
    /// With both a token and a client CA: `any` (default) or `all`.
    #[serde(default)]
    pub require: Require,
}

/// `[rules]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Rule files or directories; empty: the built-in pack.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// Also run rules with `Enabled: false`.
    #[serde(default)]
    pub include_disabled: bool,
    /// Tuning files applied to the rules (exclusions, severity, dedup,
    /// threshold, enabled; see docs/tuning.md).
    #[serde(default)]
    pub tuning: Vec<PathBuf>,
    /// How often rule and tuning files are checked for changes, in
    /// milliseconds (they are reloaded when one changes, and on SIGHUP).
    #[serde(default = "d_watch")]
    pub watch_interval_ms: u64,
    /// How rule files are read: `auto` (each file by its shape, the
    /// default), `panther` or `sigma` (as `kadet scan --rule-format`).
    #[serde(default)]
    pub format: RuleFileFormat,
}

/// `[rules] format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleFileFormat {
    /// Each file by its shape.
    #[default]
    Auto,
    /// Panther analysis YAML.
    Panther,
    /// Sigma.
    Sigma,
}

impl RuleFileFormat {
    /// The loader's name for it.
    pub fn source_format(self) -> kadet_rules::SourceFormat {
        match self {
            RuleFileFormat::Auto => kadet_rules::SourceFormat::Auto,
            RuleFileFormat::Panther => kadet_rules::SourceFormat::Panther,
            RuleFileFormat::Sigma => kadet_rules::SourceFormat::Sigma,
        }
    }
}

fn d_watch() -> u64 {
    2000
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            paths: Vec::new(),
            include_disabled: false,
            tuning: Vec::new(),
            watch_interval_ms: d_watch(),
            format: RuleFileFormat::Auto,
        }
    }
}

/// `[state]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Journal and SQLite store live here.
    #[serde(default = "default_state_dir")]
    pub dir: PathBuf,
}

impl Default for State {
    fn default() -> Self {
        State {
            dir: default_state_dir(),
        }
    }
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("./kadet-data")
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest request body, in bytes (after gzip decoding too).
    #[serde(default = "d_body")]
    pub max_body_bytes: usize,
    /// Largest single event, in bytes.
    #[serde(default = "d_event")]
    pub max_event_bytes: usize,
    /// Journal bytes not yet evaluated above which requests get 429.
    #[serde(default = "d_backlog")]
    pub max_backlog_bytes: u64,
    /// `Retry-After` sent with 429, in seconds.
    #[serde(default = "d_retry")]
    pub retry_after_secs: u64,
    /// Time allowed for a client to send request headers (and TLS handshake).
    #[serde(default = "d_header")]
    pub header_read_timeout_secs: u64,
    /// Time allowed for a client to send a request body.
    #[serde(default = "d_body_t")]
    pub body_read_timeout_secs: u64,
    /// Journal segment size; processed segments are deleted.
    #[serde(default = "d_segment")]
    pub segment_bytes: u64,
    /// Time given to in-flight requests at shutdown.
    #[serde(default = "d_drain")]
    pub shutdown_grace_secs: u64,
    /// Ingest requests handled at once (each may hold a body in memory);
    /// more get 429 with `Retry-After`.
    #[serde(default = "d_concurrent")]
    pub max_concurrent_requests: usize,
    /// Memory the request bodies in progress may take, decoding included
    /// (each is counted at six times its size, or of `max_body_bytes` when
    /// gzipped or of unknown length); more get 429 with `Retry-After`.
    #[serde(default = "d_intake_memory")]
    pub max_intake_memory_bytes: usize,
}

fn d_body() -> usize {
    16 << 20
}
fn d_event() -> usize {
    4 << 20
}
fn d_backlog() -> u64 {
    1 << 30
}
fn d_retry() -> u64 {
    10
}
fn d_header() -> u64 {
    10
}
fn d_body_t() -> u64 {
    60
}
fn d_segment() -> u64 {
    64 << 20
}
fn d_concurrent() -> usize {
    32
}
fn d_in_flight() -> usize {
    4
}
fn d_intake_memory() -> usize {
    384 << 20
}
fn d_drain() -> u64 {
    30
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: d_body(),
            max_event_bytes: d_event(),
            max_backlog_bytes: d_backlog(),
            retry_after_secs: d_retry(),
            header_read_timeout_secs: d_header(),
            body_read_timeout_secs: d_body_t(),
            segment_bytes: d_segment(),
            shutdown_grace_secs: d_drain(),
            max_concurrent_requests: d_concurrent(),
            max_intake_memory_bytes: d_intake_memory(),
        }
    }
}

/// `[detection]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detection {
    /// Event-time disorder handled exactly, in seconds: matches wait this
    /// long (in event time) before they count, so that windows, and alert
    /// ids, are the ones `kadet scan --lateness-secs` gives for the same
    /// bound over any disorder within it. 0 (the default): matches count in
    /// the order the journal holds them, and an alert leaves in the pass
    /// that evaluated its batch.
    #[serde(default = "d_lateness")]
    pub lateness_secs: u64,
    /// When event time has not moved on for this many seconds of wall clock
    /// (no record newer than the last), buffered matches count anyway: a
    /// quiet or stalled source must not hold an alert back; 0: never. Only
    /// matters with `lateness_secs` above 0.
    #[serde(default = "d_idle_release")]
    pub idle_release_secs: u64,
    /// Evaluation threads of single-process mode; 0 (the default): one per
    /// core. Records of one pass are evaluated side by side and their
    /// matches applied in journal order, so the alerts do not depend on it.
    /// Cluster mode has `[cluster] detect_workers` instead.
    #[serde(default)]
    pub threads: usize,
    /// Open windows (dedup keys, followed tokens, first-seen values,
    /// correlation state) one rule may hold; a rule at the limit closes its
    /// window that would close first to open a new one
    /// (`kadet_alert_windows_evicted_total`). Bounds memory whatever the
    /// input: about 7 KB per window.
    #[serde(default = "d_max_keys_per_rule")]
    pub max_keys_per_rule: usize,
}

fn d_max_keys_per_rule() -> usize {
    kadet_engine::DEFAULT_MAX_KEYS_PER_RULE
}

fn d_lateness() -> u64 {
    0
}

fn d_idle_release() -> u64 {
    60
}

impl Default for Detection {
    fn default() -> Self {
        Detection {
            lateness_secs: d_lateness(),
            idle_release_secs: d_idle_release(),
            threads: 0,
            max_keys_per_rule: d_max_keys_per_rule(),
        }
    }
}

/// How a webhook sink signs its deliveries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureScheme {
    /// `X-Kadet-Signature: t=<unix seconds>,v1=<hex HMAC of "t.body">`.
    #[default]
    Kadet,
    /// The Standard Webhooks headers: the HMAC covers `id.t.body`.
    StandardWebhooks,
}

/// Alert format of a stream sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamFormat {
    /// kadet's alert JSON, one per line.
    #[default]
    Jsonl,
    /// OCSF Detection Finding, one per line.
    Ocsf,
}

/// Body of a webhook sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The alert JSON.
    #[default]
    Json,
    /// OCSF Detection Finding.
    Ocsf,
    /// `{"text": "..."}`, as Slack incoming webhooks take.
    Slack,
}

/// One `[[sinks]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SinkConfig {
    /// Standard output.
    Stdout {
        /// The sink's name (default: its type, when it is the only one).
        name: Option<String>,
        /// `jsonl` or `ocsf`.
        #[serde(default)]
        format: StreamFormat,
    },
    /// A file, appended to.
    File {
        /// The sink's name (default: its type, when it is the only one).
        name: Option<String>,
        /// The file.
        path: PathBuf,
        /// `jsonl` or `ocsf`.
        #[serde(default)]
        format: StreamFormat,
    },
    /// An HTTP(S) endpoint receiving one POST per alert.
    Webhook {
        /// The sink's name (default: its type, when it is the only one).
        name: Option<String>,
        /// URL.
        url: String,
        /// `json`, `ocsf` or `slack`.
        #[serde(default)]
        format: WebhookFormat,
        /// File holding a bearer token to send.
        token_file: Option<PathBuf>,
        /// File holding a key (first line) to sign each delivery with
        /// (HMAC-SHA256).
        signing_key_file: Option<PathBuf>,
        /// How deliveries are signed: `kadet` (`X-Kadet-Signature`) or
        /// `standard-webhooks` (`webhook-id`, `webhook-timestamp`,
        /// `webhook-signature`, the id signed with the body).
        #[serde(default)]
        signature: SignatureScheme,
        /// Attempts before the alert goes to the dead-letter file.
        #[serde(default = "d_attempts")]
        max_attempts: u32,
        /// First retry delay in milliseconds; doubles each attempt (capped at 5 minutes).
        #[serde(default = "d_backoff")]
        backoff_ms: u64,
        /// Per-request timeout in seconds.
        #[serde(default = "d_timeout")]
        timeout_secs: u64,
        /// Deliveries sent at once, so that a receiver slow to answer one
        /// alert does not hold every other behind it.
        #[serde(default = "d_in_flight")]
        max_in_flight: usize,
        /// Where undeliverable alerts are written (JSON lines); default
        /// `<state dir>/dead-letter.jsonl`.
        dead_letter: Option<PathBuf>,
    },
}

fn d_attempts() -> u32 {
    8
}
fn d_backoff() -> u64 {
    1000
}
fn d_timeout() -> u64 {
    10
}

fn default_sinks() -> Vec<SinkConfig> {
    vec![SinkConfig::Stdout {
        name: Some("stdout".into()),
        format: StreamFormat::Jsonl,
    }]
}

impl SinkConfig {
    /// The sink's type as written in the config.
    pub fn kind(&self) -> &'static str {
        match self {
            SinkConfig::Stdout { .. } => "stdout",
            SinkConfig::File { .. } => "file",
            SinkConfig::Webhook { .. } => "webhook",
        }
    }

    /// The sink's name: what the outbox owes deliveries to, and the `sink`
    /// label of metrics. Set for every sink once the config is loaded.
    pub fn name(&self) -> &str {
        let (SinkConfig::Stdout { name, .. }
        | SinkConfig::File { name, .. }
        | SinkConfig::Webhook { name, .. }) = self;
        name.as_deref().unwrap_or_else(|| self.kind())
    }

    fn name_slot(&mut self) -> &mut Option<String> {
        let (SinkConfig::Stdout { name, .. }
        | SinkConfig::File { name, .. }
        | SinkConfig::Webhook { name, .. }) = self;
        name
    }
}

impl Config {
    /// Reads and checks a config file; the error lists every problem.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        Ok(Config::parse(&text, &path.display().to_string())?)
    }

    /// Parses config text; `origin` names it in problems. A file that does
    /// not parse gives its one problem (at its line and column); one that
    /// parses gives every problem of its values, each at its line.
    pub fn parse(text: &str, origin: &str) -> Result<Config, Problems> {
        let mut cfg: Config = match toml::from_str(text) {
            Ok(c) => c,
            Err(e) => {
                let place = e
                    .span()
                    .map(|s| line_col(text, s.start))
                    .map(|(l, c)| format!(":{l}:{c}"))
                    .unwrap_or_default();
                return Err(Problems(vec![Problem::new(
                    format!("{origin}{place}"),
                    e.message(),
                )]));
            }
        };
        let at = ConfigText { origin, text };
        let mut problems = cfg.name_sinks(&at);
        problems.extend(cfg.check(&at));
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(Problems(problems))
        }
    }

    /// Gives every sink its name: the one written, or its type when it is
    /// the only sink of that type. Deliveries are owed to names, so that
    /// reordering the sinks never sends an alert to the wrong place.
    fn name_sinks(&mut self, at: &ConfigText<'_>) -> Vec<Problem> {
        let mut problems = Vec::new();
        let kinds: Vec<&'static str> = self.sinks.iter().map(SinkConfig::kind).collect();
        for (i, s) in self.sinks.iter_mut().enumerate() {
            if s.name_slot().is_none() {
                let kind = s.kind();
                if kinds.iter().filter(|k| **k == kind).count() > 1 {
                    problems.push(Problem::new(
                        at.section("[[sinks]]", i),
                        format!("sinks: there are several {kind} sinks; give each a `name`"),
                    ));
                }
                *s.name_slot() = Some(kind.to_string());
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, s) in self.sinks.iter().enumerate() {
            let name = s.name();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                problems.push(Problem::new(
                    at.section("[[sinks]]", i),
                    format!("sinks: name {name:?} must be letters, digits, '-', '_' or '.'"),
                ));
            } else if !seen.insert(name.to_string()) {
                problems.push(Problem::new(
                    at.section("[[sinks]]", i),
                    format!("sinks: two sinks are named {name:?}"),
                ));
            }
        }
        problems
    }

    /// The sink names, in config order.
    pub fn sink_names(&self) -> Vec<String> {
        self.sinks.iter().map(|s| s.name().to_string()).collect()
    }

    fn check(&self, at: &ConfigText<'_>) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Err(e) = self.address() {
            problems.push(Problem::new(
                at.key("[listen]", "address"),
                format!("listen.address: {e:#}"),
            ));
        }
        let l = &self.limits;
        if l.max_body_bytes == 0
            || l.max_event_bytes == 0
            || l.segment_bytes < 4096
            || l.max_concurrent_requests == 0
        {
            problems.push(Problem::new(
                at.section("[limits]", 0),
                "limits: max_body_bytes, max_event_bytes and max_concurrent_requests must be positive, segment_bytes at least 4096",
            ));
        }
        if self.sinks.is_empty() {
            problems.push(Problem::new(
                at.origin,
                "at least one [[sinks]] entry is needed",
            ));
        }
        if let Some(c) = &self.cluster {
            for (key, message) in c.problems() {
                problems.push(Problem::new(
                    at.key("[cluster]", key),
                    format!("cluster.{key}: {message}"),
                ));
            }
        }
        problems.extend(self.source_problems(at));
        for (i, s) in self.sinks.iter().enumerate() {
            if let SinkConfig::Webhook {
                url, max_attempts, ..
            } = s
            {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    // The URL itself is not printed: it may hold a secret.
                    problems.push(Problem::new(
                        at.section("[[sinks]]", i),
                        "sinks: a webhook url must start with http:// or https://",
                    ));
                }
                if *max_attempts == 0 {
                    problems.push(Problem::new(
                        at.section("[[sinks]]", i),
                        "sinks: max_attempts must be at least 1",
                    ));
                }
            }
        }
        problems
    }

    fn source_problems(&self, at: &ConfigText<'_>) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, s) in self.sources.iter().enumerate() {
            let place = at.section("[[sources]]", i);
            for message in s.problems() {
                problems.push(Problem::new(
                    place.clone(),
                    format!("sources {:?}: {message}", s.name()),
                ));
            }
            if !seen.insert(s.name()) {
                problems.push(Problem::new(
                    place,
                    format!("sources: two sources are named {:?}", s.name()),
                ));
            }
        }
        problems
    }

    /// The listen address.
    pub fn address(&self) -> Result<SocketAddr> {
        use std::net::ToSocketAddrs;
        let mut addrs = self
            .listen
            .address
            .to_socket_addrs()
            .with_context(|| format!("bad address {:?}", self.listen.address))?;
        match addrs.next() {
            Some(a) => Ok(a),
            None => bail!("address {:?} resolves to nothing", self.listen.address),
        }
    }

    /// True when clients must authenticate somehow.
    pub fn has_auth(&self) -> bool {
        self.auth.token_file.is_some()
            || self
                .tls
                .as_ref()
                .is_some_and(|t| t.client_ca_file.is_some())
    }
}

/// A cluster name as kadet takes it, from a request or a config: 1 to 100
/// letters, digits, `.`, `_`, `-` or `:`.
pub fn valid_cluster_name(name: &str) -> bool {
    kadet_event::cluster::is_valid(name)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::parse("", "x.toml").unwrap();
        assert_eq!(c.listen.address, "127.0.0.1:9765");
        assert_eq!(c.limits.max_body_bytes, 16 << 20);
        assert!(matches!(
            c.sinks[..],
            [SinkConfig::Stdout {
                format: StreamFormat::Jsonl,
                ..
            }]
        ));
        assert_eq!(c.sink_names(), ["stdout"]);
        assert_eq!(c.detection.lateness_secs, 0, "alerts at once");
        assert_eq!(c.detection.threads, 0, "one evaluation thread per core");
        assert_eq!(c.detection.idle_release_secs, 60);
        let c = Config::parse("[detection]\nthreads = 3\n", "x.toml").unwrap();
        assert_eq!(c.detection.threads, 3);
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let e = Config::parse(
            "[listen]\naddress = \"127.0.0.1:1\"\n\n[limits]\nmax_bdy_bytes = 3\n",
            "k.toml",
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("k.toml:5:"), "{msg}");
        assert!(msg.contains("max_bdy_bytes"), "{msg}");
    }

    #[test]
    fn bad_value_names_line() {
        let e = Config::parse("[limits]\nmax_body_bytes = \"big\"\n", "k.toml").unwrap_err();
        assert!(e.to_string().starts_with("k.toml:2:"), "{e}");
        let e = Config::parse("[[sinks]]\ntype = \"carrier-pigeon\"\n", "k.toml").unwrap_err();
        assert!(e.to_string().contains("carrier-pigeon"), "{e}");
    }

    #[test]
    fn sinks_parse() {
        let c = Config::parse(
            "[[sinks]]\ntype = \"file\"\npath = \"a.jsonl\"\nformat = \"ocsf\"\n[[sinks]]\ntype = \"webhook\"\nurl = \"https://h/x\"\nformat = \"slack\"\n",
            "k",
        )
        .unwrap();
        assert_eq!(c.sinks.len(), 2);
        assert_eq!(c.sink_names(), ["file", "webhook"]);
    }

    #[test]
    fn sinks_are_named_and_names_are_needed_when_types_repeat() {
        let two =
            "[[sinks]]\ntype = \"file\"\npath = \"a\"\n[[sinks]]\ntype = \"file\"\npath = \"b\"\n";
        let e = Config::parse(two, "k").unwrap_err().to_string();
        assert!(e.contains("several file sinks; give each a `name`"), "{e}");
        let named = "[[sinks]]\ntype = \"file\"\nname = \"audit-trail\"\npath = \"a\"\n[[sinks]]\ntype = \"file\"\nname = \"siem\"\npath = \"b\"\n";
        assert_eq!(
            Config::parse(named, "k").unwrap().sink_names(),
            ["audit-trail", "siem"]
        );
        let same = named.replace("siem", "audit-trail");
        assert!(Config::parse(&same, "k")
            .unwrap_err()
            .to_string()
            .contains("two sinks are named"));
    }
}
