//! The bundled example: a small day of an EKS cluster with one attack in it
//! (Stratus Red Team `k8s.persistence.create-token`), plus small AKS and
//! CloudWatch samples of benign traffic in their delivery envelopes.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::body::{a, n, o, s, J};
use crate::event::{write_event, Ev, Stage};
use crate::gen::{Gen, GenOpts, Profile, Sink};
use crate::json::{day_start_us, ts};
use crate::model::{principal, user_json, Flavor, Kind, Principal};
use crate::shapes::{cloudwatch_id, Shape, ShapeSink};

/// Seed of the simulated clusters of the example (same cluster in every EKS file).
const CLUSTER_SEED: u64 = 20_261_102;
const HOUR: i64 = 3_600_000_000;
const MINUTE: i64 = 60_000_000;

pub const ATTACK_USER: &str = "arn:aws:sts::123456789012:assumed-role/dev-ops/mallory";
pub const ATTACK_IP: &str = "198.51.100.23";
pub const ATTACK_SA: &str = "clusterrole-aggregation-controller";

/// Facts about the generated example, used for the README and the tests.
#[derive(Debug, Default, Clone)]
pub struct ExampleSummary {
    pub eks_events: usize,
    pub kubelet_tokens: usize,
    pub kcm_tokens: usize,
    pub forbidden: usize,
    pub attack_audit_id: String,
    pub attack_time: String,
    pub attack_line: usize,
    pub aks_records: usize,
    pub cloudwatch_events: usize,
    pub firehose_events: usize,
}

/// All example files, as (file name, contents).
pub struct Example {
    pub files: Vec<(&'static str, Vec<u8>)>,
    pub summary: ExampleSummary,
}

fn opts(seed: u64, events: u64, start_us: i64, span_us: i64) -> GenOpts {
    GenOpts {
        seed,
        events,
        profile: Profile::Benign,
        start_us,
        span_us,
        nodes: 4,
        cluster_seed: CLUSTER_SEED,
    }
}

/// Steps scripted into the benign traffic of the main file.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Kubelet refreshing the projected token of a pod of workload `i`.
    KubeletToken(usize),
    /// kube-controller-manager requesting a token for controller `i` in kube-system.
    KcmToken(usize),
    /// Developer `i` running kubectl.
    Session(usize),
    /// Developer `i` trying something RBAC denies.
    Forbidden(usize),
    Attack,
}

fn mallory() -> &'static Principal {
    let uj = user_json(
        ATTACK_USER,
        Some("aws-iam-authenticator:123456789012:AROAEXAMPLEDEVOPS0001"),
        &["system:authenticated"],
        &[
            ("accessKeyId", "ASIAEXAMPLEMLRY1".to_string()),
            ("arn", ATTACK_USER.to_string()),
            (
                "canonicalArn",
                "arn:aws:iam::123456789012:role/dev-ops".to_string(),
            ),
            ("principalId", "AROAEXAMPLEDEVOPS0001".to_string()),
            ("sessionName", "mallory".to_string()),
        ],
    );
    principal(
        ATTACK_USER,
        uj,
        ATTACK_IP,
        "kubectl/v1.29.3 (linux/amd64) kubernetes/6813625",
        "EKS Access Policy: allowed by ClusterRoleBinding \"arn:aws:iam::123456789012:role/dev-ops+arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy\" of ClusterRole \"arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy\" to User \"mallory\"".to_string(),
        Kind::Human,
    )
}

/// The main file: ~250 raw events of an EKS cluster day with one attack.
fn eks_day(summary: &mut ExampleSummary) -> Result<Vec<u8>> {
    const TOTAL: u64 = 250;
    let script: &[(u64, Step)] = &[
        (12, Step::KubeletToken(1)),
        (21, Step::KcmToken(6)),
        (30, Step::Session(0)),
        (44, Step::KubeletToken(9)),
        (58, Step::Forbidden(2)),
        (66, Step::KcmToken(3)),
        (75, Step::KubeletToken(0)),
        (88, Step::Session(0)),
        (101, Step::KubeletToken(6)),
        (112, Step::Session(1)),
        (124, Step::KcmToken(10)),
        (133, Step::Forbidden(0)),
        (141, Step::KubeletToken(2)),
        (163, Step::Attack),
        (172, Step::KubeletToken(9)),
        (181, Step::Session(2)),
        (194, Step::KcmToken(6)),
        (203, Step::KubeletToken(1)),
        (214, Step::Forbidden(3)),
        (222, Step::Session(0)),
        (231, Step::KubeletToken(3)),
        (238, Step::KcmToken(3)),
    ];
    let mut sink = ShapeSink::new(Vec::new(), Shape::Raw, CLUSTER_SEED);
    let attacker = mallory();
    {
        let start = day_start_us(2026, 11, 2) + 4 * MINUTE;
        let mut g = Gen::new(opts(7, TOTAL, start, 24 * HOUR - 10 * MINUTE), &mut sink);
        for &(at, step) in script {
            while g.stats.events < at {
                g.begin();
                let sc = g.pick_scenario();
                g.scenario(sc)?;
            }
            g.begin();
            let c = g.cluster();
            match step {
                Step::KubeletToken(i) => g.token_kubelet(Some(i))?,
                Step::KcmToken(i) => g.token_kcm(Some(i))?,
                Step::Session(i) => g.kubectl_session(Some(c.humans[i % c.humans.len()]))?,
                Step::Forbidden(i) => g.forbidden(Some(c.humans[i % c.humans.len()]))?,
                Step::Attack => {
                    let before = g.stats.events;
                    g.human_long_lived_token(Some((attacker, "kube-system", ATTACK_SA)))?;
                    summary.attack_line = before as usize + 2;
                    summary.attack_audit_id = String::from_utf8(g.ev.audit_id.to_vec()).unwrap();
                    let mut t = Vec::new();
                    ts(&mut t, g.ev.stage_us, 6);
                    summary.attack_time = String::from_utf8(t).unwrap();
                }
            }
        }
        while !g.done() {
            g.begin();
            let sc = g.pick_scenario();
            g.scenario(sc)?;
        }
        g.finish_sink()?;
        summary.eks_events = g.stats.events as usize;
        summary.kubelet_tokens = g.stats.token_kubelet as usize;
        summary.kcm_tokens = g.stats.token_kcm as usize;
        summary.forbidden = g.stats.forbidden as usize;
    }
    Ok(sink.into_inner())
}

/// Collects rendered events for hand-built envelopes.
struct Collect {
    flavor: Flavor,
    events: Vec<(i64, bool, Vec<u8>)>,
}

impl Sink for Collect {
    fn begin(&mut self) -> Flavor {
        self.flavor
    }

    fn put(&mut self, ev: &Ev) -> io::Result<()> {
        debug_assert_eq!(ev.stage, Stage::ResponseComplete);
        let mut v = Vec::new();
        write_event(&mut v, ev);
        let read = matches!(ev.verb, "get" | "list" | "watch");
        self.events.push((ev.stage_us, read, v));
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn collect(
    flavor: Flavor,
    seed: u64,
    count: u64,
    start_us: i64,
    span_us: i64,
    kubelet_token_at: Option<u64>,
) -> Result<Vec<(i64, bool, Vec<u8>)>> {
    let mut sink = Collect {
        flavor,
        events: Vec::new(),
    };
    {
        let mut g = Gen::new(opts(seed, count, start_us, span_us), &mut sink);
        while !g.done() {
            g.begin();
            if Some(g.stats.events) == kubelet_token_at {
                g.token_kubelet(Some(1))?;
                continue;
            }
            let sc = g.pick_scenario();
            // Keep the small samples to single-request scenarios without stage pairs.
            match sc {
                crate::gen::Sc::Rollout | crate::gen::Sc::LeaderLease => continue,
                _ => g.scenario(sc)?,
            }
        }
    }
    Ok(sink.events)
}

fn ts_string(us: i64, frac: u32) -> String {
    let mut v = Vec::new();
    ts(&mut v, us, frac);
    String::from_utf8(v).unwrap()
}

fn pretty(j: &J) -> Vec<u8> {
    let mut v = Vec::new();
    j.write_pretty(&mut v, 0);
    v.push(b'\n');
    v
}

const AKS_RESOURCE_ID: &str = "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/DEMO-RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/DEMO-AKS";
const AKS_OPERATION: &str = "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read";

fn aks_batch(summary: &mut ExampleSummary) -> Result<Vec<u8>> {
    let start = day_start_us(2026, 11, 2) + 9 * HOUR;
    let events = collect(Flavor::Aks, 11, 21, start, 40 * MINUTE, Some(6))?;
    let mut records = Vec::new();
    for (i, (stage_us, read, json)) in events.iter().enumerate() {
        let category = if !read && i % 2 == 0 {
            "kube-audit-admin"
        } else {
            "kube-audit"
        };
        let log = if i == 14 {
            // Some pipelines hand the event over already decoded.
            J::Raw(json.clone())
        } else {
            s(String::from_utf8(json.clone()).unwrap())
        };
        records.push(o([
            ("time", s(ts_string(*stage_us, 7))),
            ("resourceId", s(AKS_RESOURCE_ID)),
            ("category", s(category)),
            ("operationName", s(AKS_OPERATION)),
            (
                "properties",
                o([
                    ("log", log),
                    ("stream", s("stdout")),
                    ("pod", s("kube-apiserver-7b9c6d5f4d-q8x2m")),
                ]),
            ),
        ]));
        if i == 9 {
            records.push(o([
                ("time", s(ts_string(stage_us + 150_000, 7))),
                ("resourceId", s(AKS_RESOURCE_ID)),
                ("category", s("kube-apiserver")),
                ("operationName", s(AKS_OPERATION)),
                (
                    "properties",
                    o([
                        (
                            "log",
                            s(format!(
                                "I1102 {}       1 controller.go:624] quota admission added evaluator for: leases.coordination.k8s.io\n",
                                &ts_string(stage_us + 150_000, 6)[11..26]
                            )),
                        ),
                        ("stream", s("stderr")),
                        ("pod", s("kube-apiserver-7b9c6d5f4d-q8x2m")),
                    ]),
                ),
            ]));
        }
    }
    summary.aks_records = records.len();
    Ok(pretty(&o([("records", a(records))])))
}

fn cloudwatch_payload(stream: &str, events: &[(i64, bool, Vec<u8>)]) -> J {
    let log_events = events
        .iter()
        .enumerate()
        .map(|(i, (stage_us, _, json))| {
            let ms = (stage_us / 1000) as u64;
            let mut id = Vec::new();
            cloudwatch_id(
                &mut id,
                ms,
                i as u64,
                ms.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            );
            o([
                ("id", s(String::from_utf8(id).unwrap())),
                ("timestamp", n(ms as i64 + 180)),
                ("message", s(String::from_utf8(json.clone()).unwrap())),
            ])
        })
        .collect();
    o([
        ("messageType", s("DATA_MESSAGE")),
        ("owner", s("123456789012")),
        ("logGroup", s("/aws/eks/demo-eks/cluster")),
        ("logStream", s(stream)),
        ("subscriptionFilters", a(vec![s("kadet-audit")])),
        ("logEvents", a(log_events)),
    ])
}

fn gzip_b64(data: &[u8]) -> Result<String> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data)?;
    let gz = enc.finish()?;
    Ok(base64::engine::general_purpose::STANDARD.encode(gz))
}

fn cloudwatch(summary: &mut ExampleSummary) -> Result<(Vec<u8>, Vec<u8>)> {
    let day = day_start_us(2026, 11, 2);
    let ev1 = collect(Flavor::Eks, 21, 20, day + 6 * HOUR, 10 * MINUTE, None)?;
    summary.cloudwatch_events = ev1.len();
    let json = pretty(&cloudwatch_payload(
        "kube-apiserver-audit-4c1f0e9a2b7d48e6a3f5c2d1e0b9a8f7",
        &ev1,
    ));

    let ev2 = collect(Flavor::Eks, 22, 10, day + 18 * HOUR, 5 * MINUTE, None)?;
    summary.firehose_events = ev2.len();
    let data = cloudwatch_payload(
        "kube-apiserver-audit-9e8d7c6b5a4f43e2b1a0f9e8d7c6b5a4",
        &ev2,
    )
    .to_vec();
    let control = o([
        ("messageType", s("CONTROL_MESSAGE")),
        ("owner", s("CloudwatchLogs")),
        ("logGroup", s("")),
        ("logStream", s("")),
        ("subscriptionFilters", a(vec![])),
        (
            "logEvents",
            a(vec![o([
                ("id", s("")),
                ("timestamp", n((day + 18 * HOUR + 10 * MINUTE) / 1000)),
                (
                    "message",
                    s("CWL CONTROL MESSAGE: Checking health of destination Firehose."),
                ),
            ])]),
        ),
    ])
    .to_vec();
    let mut txt = Vec::new();
    txt.extend_from_slice(gzip_b64(&data)?.as_bytes());
    txt.push(b'\n');
    txt.extend_from_slice(gzip_b64(&control)?.as_bytes());
    txt.push(b'\n');
    Ok((json, txt))
}

fn readme(s: &ExampleSummary) -> String {
    format!(
        r#"# kadet example data

A small, synthetic day (2026-11-02) of Kubernetes audit logs with exactly one
attack in it. Everything here was written by `kadet-bench example --out examples`
and is deterministic: running it again gives the same bytes.

No value in these files is a real credential: access key ids contain
`EXAMPLE`, tokens are never logged, IP addresses are private ranges except
one documentation address (`{ip}`, RFC 5737) used only by the attacker.

## Files

| file | format | content |
| --- | --- | --- |
| `eks-cluster-audit.jsonl` | raw audit events (`audit.k8s.io/v1` `Event`), one per line, as kube-apiserver writes them | {eks} events of an EKS cluster over the day: node and leader-election lease renewals, kubelet and controller reads and watches, add-ons (coredns, kube-proxy, aws-node, EBS CSI, cluster-autoscaler), `eks:*` platform users, Argo CD and Prometheus, deployment rollouts, developers using kubectl from VPN addresses (10.8.x.x), {forbidden} requests denied by RBAC (403), {kubelet} kubelet token refreshes and {kcm} kube-controller-manager token requests, and the attack |
| `aks-diagnostics.json` | one Azure Monitor diagnostic-settings batch (`{{"records": [...]}}`, as sent to Event Hubs), pretty-printed | {aks} records of benign AKS traffic: `kube-audit` and `kube-audit-admin` records whose `properties.log` is the event as a JSON string; one record whose `properties.log` is the event as an object; one `kube-apiserver` record (a component log line, not audit: must be ignored) |
| `eks-cloudwatch.json` | one decoded CloudWatch Logs subscription payload (`messageType: DATA_MESSAGE`, log group `/aws/eks/demo-eks/cluster`), pretty-printed | {cw} benign events as `logEvents[].message` strings |
| `eks-cloudwatch-firehose.txt` | CloudWatch Logs subscription payloads as Kinesis Data Firehose delivers them: gzip, then base64, one per line | line 1: a `DATA_MESSAGE` with {fh} benign events; line 2: a `CONTROL_MESSAGE` (health check, no events) |

## What should be found

`kadet scan examples/` should report **one** finding, from the seed rule
`rules/kubernetes/k8s_serviceaccount_token_created.yml`:

* line {line} of `eks-cluster-audit.jsonl`, auditID `{id}`, at {time}:
  `{user}` from `{ip}` (kubectl) creates a token for the service account
  `kube-system/{sa}` with `expirationSeconds: 946080000` (30 years), the
  persistence technique of Stratus Red Team `k8s.persistence.create-token`.
  The line before it is the `RequestReceived` stage of the same request
  (same auditID): it must not produce a second finding.

Things that look similar and must **not** be reported:

* kubelets (`system:node:...`) creating short-lived, pod-bound tokens
  (`expirationSeconds: 3607`, `boundObjectRef` a Pod) for pods in `default`,
  `shop`, `web` and so on;
* `system:kube-controller-manager` creating tokens for its controllers'
  service accounts in `kube-system`;
* everything in the AKS and CloudWatch samples, which are benign.
"#,
        ip = ATTACK_IP,
        eks = s.eks_events,
        forbidden = s.forbidden,
        kubelet = s.kubelet_tokens,
        kcm = s.kcm_tokens,
        aks = s.aks_records,
        cw = s.cloudwatch_events,
        fh = s.firehose_events,
        line = s.attack_line,
        id = s.attack_audit_id,
        time = s.attack_time,
        user = ATTACK_USER,
        sa = ATTACK_SA,
    )
}

/// Builds all example files in memory.
pub fn build_example() -> Result<Example> {
    let mut summary = ExampleSummary::default();
    let eks = eks_day(&mut summary)?;
    let aks = aks_batch(&mut summary)?;
    let (cw, fh) = cloudwatch(&mut summary)?;
    let files = vec![
        ("README.md", readme(&summary).into_bytes()),
        ("eks-cluster-audit.jsonl", eks),
        ("aks-diagnostics.json", aks),
        ("eks-cloudwatch.json", cw),
        ("eks-cloudwatch-firehose.txt", fh),
    ];
    Ok(Example { files, summary })
}

/// Writes the example into `dir`.
pub fn write_example(dir: &Path) -> Result<ExampleSummary> {
    let ex = build_example()?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, data) in &ex.files {
        let p = dir.join(name);
        fs::write(&p, data).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(ex.summary)
}
