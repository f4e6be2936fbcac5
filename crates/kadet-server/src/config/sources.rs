//! `[[sources]]`: audit logs kadet fetches or is pushed from the clouds'
//! log services, each with a name, a type and the cluster its events
//! belong to (docs/sources.md).

use serde::Deserialize;
use std::path::PathBuf;

/// One `[[sources]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SourceConfig {
    /// GKE: a Cloud Logging sink to a Pub/Sub topic whose push
    /// subscription posts to `/v1/gke/pubsub/NAME`, with an OIDC token.
    PubsubPush(PubsubPush),
    /// EKS: the control plane's audit log in CloudWatch Logs, pulled.
    Cloudwatch(Cloudwatch),
    /// AKS through Azure Event Hubs' Kafka endpoint, or any Kafka topic of
    /// audit events, read in a consumer group.
    Kafka(Kafka),
}

/// `type = "kafka"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kafka {
    /// The source's name.
    pub name: String,
    /// The cluster of events whose record names none.
    pub cluster: Option<String>,
    /// Bootstrap brokers (`host:port`); with an Event Hubs connection
    /// string, its namespace on port 9093 by default.
    #[serde(default)]
    pub brokers: Vec<String>,
    /// The topics (with Event Hubs: the event hub; default its
    /// `EntityPath`).
    #[serde(default)]
    pub topics: Vec<String>,
    /// The consumer group; offsets are committed in it.
    #[serde(default = "d_group")]
    pub group: String,
    /// A file holding an Event Hubs connection string (SAS): SASL PLAIN
    /// over TLS, as Event Hubs' Kafka endpoint wants.
    pub connection_string_file: Option<PathBuf>,
    /// `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl` (default:
    /// `sasl_ssl` with a connection string or a username, else `plaintext`).
    pub security_protocol: Option<String>,
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    #[serde(default = "d_mechanism")]
    pub sasl_mechanism: String,
    /// The SASL username.
    pub username: Option<String>,
    /// A file holding the SASL password (first line).
    pub password_file: Option<PathBuf>,
    /// CA bundle for the brokers' certificates (default: the system's).
    pub ca_file: Option<PathBuf>,
    /// Where a group without committed offsets starts: `now` or `oldest`.
    #[serde(default)]
    pub start: StartAt,
    /// Join the group as a static member (KIP-345), so that partitions
    /// change hands at once instead of after the session timeout (default
    /// on). Single-process mode: one member named after the host and state
    /// directory, which a restarted kadet takes back. Cluster mode: the
    /// source's `readers` members, named after the source, each read by the
    /// instance that holds its lease; when that instance dies another takes
    /// the lease and the member, and with it its partitions. `false`: every
    /// instance joins as a dynamic member, and a dead one's partitions move
    /// after the session timeout (30 s), where the broker expires it.
    pub static_membership: Option<bool>,
    /// Cluster mode: how many members of the group the cluster runs for
    /// this source (default 1), spread over the instances; more than the
    /// topics' partitions leaves some idle.
    pub readers: Option<usize>,
    /// Not ready when the brokers cannot be reached for this long; 0: never.
    #[serde(default = "d_stuck")]
    pub stuck_after_secs: u64,
}

/// `type = "pubsub-push"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PubsubPush {
    /// The source's name: the last part of its endpoint's path.
    pub name: String,
    /// The cluster of events whose record names none.
    pub cluster: Option<String>,
    /// The audience the push subscription puts in its tokens (by default
    /// Pub/Sub uses the endpoint URL).
    pub audience: String,
    /// Service accounts whose tokens are accepted (the push subscription's
    /// `--push-auth-service-account`).
    pub service_accounts: Vec<String>,
    /// Issuers accepted.
    #[serde(default = "d_issuers")]
    pub issuers: Vec<String>,
    /// Where the signing keys are published.
    #[serde(default = "d_jwks_url")]
    pub jwks_url: String,
    /// Not ready when nothing has arrived for this long; 0: never.
    #[serde(default)]
    pub stuck_after_secs: u64,
}

/// `type = "cloudwatch"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cloudwatch {
    /// The source's name.
    pub name: String,
    /// The EKS cluster: names the log group (`/aws/eks/CLUSTER/cluster`)
    /// and the events.
    pub cluster: Option<String>,
    /// The log group, when not the EKS default.
    pub log_group: Option<String>,
    /// The streams read: those whose name starts with this.
    #[serde(default = "d_stream_prefix")]
    pub stream_prefix: String,
    /// The AWS region; default: from the environment or profile.
    pub region: Option<String>,
    /// Where a stream without a checkpoint starts: `now` or `oldest`.
    #[serde(default)]
    pub start: StartAt,
    /// Pause between polls of a stream that had nothing new.
    #[serde(default = "d_poll_ms")]
    pub poll_interval_ms: u64,
    /// How often the group is listed for new streams.
    #[serde(default = "d_discover_secs")]
    pub discover_interval_secs: u64,
    /// Not ready when no call has succeeded for this long; 0: never.
    #[serde(default = "d_stuck")]
    pub stuck_after_secs: u64,
}

/// Where a stream without a checkpoint starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// New events only (the default: a first start does not replay weeks).
    #[default]
    Now,
    /// Everything the stream still holds.
    Oldest,
}

fn d_group() -> String {
    "kadet".into()
}
fn d_mechanism() -> String {
    "PLAIN".into()
}
fn d_issuers() -> Vec<String> {
    vec![
        "https://accounts.google.com".into(),
        "accounts.google.com".into(),
    ]
}
fn d_jwks_url() -> String {
    "https://www.googleapis.com/oauth2/v3/certs".into()
}
fn d_stream_prefix() -> String {
    "kube-apiserver-audit-".into()
}
fn d_poll_ms() -> u64 {
    1000
}
fn d_discover_secs() -> u64 {
    60
}
fn d_stuck() -> u64 {
    300
}

impl SourceConfig {
    /// The source's name.
    pub fn name(&self) -> &str {
        match self {
            SourceConfig::PubsubPush(s) => &s.name,
            SourceConfig::Cloudwatch(s) => &s.name,
            SourceConfig::Kafka(s) => &s.name,
        }
    }

    /// The type as written in the config.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::PubsubPush(_) => "pubsub-push",
            SourceConfig::Cloudwatch(_) => "cloudwatch",
            SourceConfig::Kafka(_) => "kafka",
        }
    }

    /// The cluster of events whose record names none.
    pub fn cluster(&self) -> Option<&str> {
        match self {
            SourceConfig::PubsubPush(s) => s.cluster.as_deref(),
            SourceConfig::Cloudwatch(s) => s.cluster.as_deref(),
            SourceConfig::Kafka(s) => s.cluster.as_deref(),
        }
    }

    /// Not ready after this long without progress; `None`: never.
    pub fn stuck_after_secs(&self) -> Option<u64> {
        let secs = match self {
            SourceConfig::PubsubPush(s) => s.stuck_after_secs,
            SourceConfig::Cloudwatch(s) => s.stuck_after_secs,
            SourceConfig::Kafka(s) => s.stuck_after_secs,
        };
        (secs > 0).then_some(secs)
    }

    /// What is wrong with the entry, without reaching anything.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let name = self.name();
        if name.is_empty()
            || name.len() > 100
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            out.push(format!(
                "name {name:?} must be 1 to 100 letters, digits, '-', '_' or '.'"
            ));
        }
        if let Some(c) = self.cluster() {
            if !crate::config::valid_cluster_name(c) {
                out.push(format!(
                    "cluster {c:?} must be 1 to 100 letters, digits, '.', '_', '-' or ':'"
                ));
            }
        }
        match self {
            SourceConfig::PubsubPush(p) => out.extend(p.problems()),
            SourceConfig::Cloudwatch(c) => out.extend(c.problems()),
            SourceConfig::Kafka(k) => out.extend(k.problems()),
        }
        out
    }
}

impl PubsubPush {
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.audience.is_empty() {
            out.push("audience must be set (the push subscription's audience)".into());
        }
        if self.service_accounts.is_empty() {
            out.push("service_accounts must name the push subscription's service account".into());
        }
        if self.issuers.is_empty() {
            out.push("issuers must not be empty".into());
        }
        match url::Url::parse(&self.jwks_url) {
            Ok(u) if u.scheme() == "https" => {}
            Ok(u) if u.scheme() == "http" && is_loopback(&u) => {}
            Ok(_) => out.push("jwks_url must be https:// (http:// only on loopback)".into()),
            Err(e) => out.push(format!("jwks_url: {e}")),
        }
        out
    }
}

impl Cloudwatch {
    /// The log group read.
    pub fn group(&self) -> Option<String> {
        self.log_group.clone().or_else(|| {
            self.cluster
                .as_ref()
                .map(|c| format!("/aws/eks/{c}/cluster"))
        })
    }

    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.group().is_none() {
            out.push(
                "set cluster (the log group is then /aws/eks/CLUSTER/cluster) or log_group".into(),
            );
        }
        if self.poll_interval_ms == 0 || self.discover_interval_secs == 0 {
            out.push("poll_interval_ms and discover_interval_secs must be positive".into());
        }
        out
    }
}

impl Kafka {
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let with_string = self.connection_string_file.is_some();
        if self.brokers.is_empty() && !with_string {
            out.push(
                "brokers must name at least one host:port (or set connection_string_file)".into(),
            );
        }
        if self.topics.is_empty() && !with_string {
            out.push("topics must name at least one topic".into());
        }
        if self.group.is_empty() {
            out.push("group must not be empty".into());
        }
        if let Some(p) = &self.security_protocol {
            if !["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"]
                .contains(&p.to_ascii_lowercase().as_str())
            {
                out.push(format!(
                    "security_protocol {p:?} must be plaintext, ssl, sasl_plaintext or sasl_ssl"
                ));
            }
        }
        if !["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"].contains(&self.sasl_mechanism.as_str()) {
            out.push(format!(
                "sasl_mechanism {:?} must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
                self.sasl_mechanism
            ));
        }
        if with_string && (self.username.is_some() || self.password_file.is_some()) {
            out.push(
                "a connection string is the credential: leave username and password_file out"
                    .into(),
            );
        }
        if self.username.is_some() != self.password_file.is_some() {
            out.push("username and password_file go together".into());
        }
        if self.readers.is_some_and(|n| !(1..=64).contains(&n)) {
            out.push("readers must be 1 to 64".into());
        }
        out
    }
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn sources_parse_with_defaults() {
        let c = Config::parse(
            "[[sources]]\nname = \"gke\"\ntype = \"pubsub-push\"\ncluster = \"prod\"\naudience = \"https://k/v1/gke/pubsub/gke\"\nservice_accounts = [\"push@p.iam.gserviceaccount.com\"]\n\n[[sources]]\nname = \"eks\"\ntype = \"cloudwatch\"\ncluster = \"prod-eks\"\n",
            "k",
        )
        .unwrap();
        assert_eq!(c.sources.len(), 2);
        assert_eq!(c.sources[0].kind(), "pubsub-push");
        let super::SourceConfig::Cloudwatch(cw) = &c.sources[1] else {
            panic!("not cloudwatch")
        };
        assert_eq!(cw.group().as_deref(), Some("/aws/eks/prod-eks/cluster"));
        assert_eq!(cw.stream_prefix, "kube-apiserver-audit-");
        assert_eq!(c.sources[1].stuck_after_secs(), Some(300));
        assert_eq!(c.sources[0].stuck_after_secs(), None);
    }

    #[test]
    fn bad_sources_name_their_line() {
        let text = "[listen]\naddress = \"127.0.0.1:1\"\n\n[[sources]]\nname = \"a b\"\ntype = \"cloudwatch\"\n\n[[sources]]\nname = \"p\"\ntype = \"pubsub-push\"\naudience = \"x\"\nservice_accounts = []\njwks_url = \"http://keys.example.com/certs\"\n";
        let e = Config::parse(text, "k.toml").unwrap_err().to_string();
        assert!(e.contains("k.toml:4: sources \"a b\": name"), "{e}");
        assert!(e.contains("log_group"), "{e}");
        assert!(
            e.contains("k.toml:8: sources \"p\": service_accounts"),
            "{e}"
        );
        assert!(e.contains("jwks_url must be https://"), "{e}");
        let twice = "[[sources]]\nname = \"a\"\ntype = \"cloudwatch\"\ncluster = \"c\"\n[[sources]]\nname = \"a\"\ntype = \"cloudwatch\"\ncluster = \"d\"\n";
        let e = Config::parse(twice, "k").unwrap_err().to_string();
        assert!(e.contains("two sources are named \"a\""), "{e}");
    }
}
