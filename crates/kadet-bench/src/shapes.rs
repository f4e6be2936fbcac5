//! Output shapes: raw audit NDJSON, CloudWatch Logs subscription payloads
//! (EKS), Azure diagnostic record batches (AKS), Cloud Audit Logs entries
//! (GKE), and a mix of all four.

use std::io::{self, Write};

use rand::{Rng, SeedableRng};

use crate::event::{write_event, Ev, Stage};
use crate::gen::Sink;
use crate::json::{esc, esc_embedded, qstr, ts, uint};
use crate::model::{Flavor, Rng64};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    Raw,
    Eks,
    Aks,
    Gke,
    Mixed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Raw,
    Eks,
    Aks,
    Gke,
}

pub const AWS_ACCOUNT: &str = "123456789012";
pub const AKS_RESOURCE_ID: &str = "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/bench-aks";
pub const GKE_PROJECT: &str = "bench-proj";

const KUBE_APISERVER_LINES: &[&str] = &[
    "controller.go:624] quota admission added evaluator for: leases.coordination.k8s.io",
    "controller.go:624] quota admission added evaluator for: endpointslices.discovery.k8s.io",
    "alloc.go:330] \"allocated clusterIPs\" service=\"shop/cart\" clusterIPs={\"IPv4\":\"10.100.17.42\"}",
    "trace.go:236] Trace[1804289383]: \"List\" accept:application/json, */* total time: 612ms",
    "handler.go:275] Adding GroupVersion metrics.k8s.io v1beta1 to ResourceManager",
    "cacher.go:463] cacher (pods): initialized",
];

/// A [`Sink`] writing one of the shapes to `W`.
pub struct ShapeSink<W: Write> {
    out: W,
    shape: Shape,
    rng: Rng64,
    unit: Unit,
    unit_left: usize,
    buf: Vec<u8>,
    batch: Vec<u8>,
    batch_count: usize,
    seq: u64,
    eks_streams: [String; 2],
    aks_pods: [String; 2],
    aks_container: String,
    pub lines: u64,
    pub bytes: u64,
}

impl<W: Write> ShapeSink<W> {
    pub fn new(out: W, shape: Shape, seed: u64) -> Self {
        let mut rng = Rng64::seed_from_u64(seed ^ 0x5eed_5a1e_0000_0001);
        let hex = |n: usize, rng: &mut Rng64| crate::model::hexstr(rng, n);
        let eks_streams = [
            format!("kube-apiserver-audit-{}", hex(32, &mut rng)),
            format!("kube-apiserver-audit-{}", hex(32, &mut rng)),
        ];
        let aks_pods = [
            format!(
                "kube-apiserver-{}-{}",
                hex(10, &mut rng),
                crate::model::k8s_suffix(&mut rng, 5)
            ),
            format!(
                "kube-apiserver-{}-{}",
                hex(10, &mut rng),
                crate::model::k8s_suffix(&mut rng, 5)
            ),
        ];
        let aks_container = hex(64, &mut rng);
        ShapeSink {
            out,
            shape,
            rng,
            unit: Unit::Raw,
            unit_left: 0,
            buf: Vec::with_capacity(64 * 1024),
            batch: Vec::with_capacity(256 * 1024),
            batch_count: 0,
            seq: 0,
            eks_streams,
            aks_pods,
            aks_container,
            lines: 0,
            bytes: 0,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn write_line(&mut self, which_batch: bool) -> io::Result<()> {
        let b = if which_batch {
            &mut self.batch
        } else {
            &mut self.buf
        };
        b.push(b'\n');
        self.out.write_all(b)?;
        self.lines += 1;
        self.bytes += b.len() as u64;
        b.clear();
        Ok(())
    }

    fn flush_batch(&mut self) -> io::Result<()> {
        if self.batch_count == 0 {
            return Ok(());
        }
        self.batch.extend_from_slice(b"]}");
        self.batch_count = 0;
        self.write_line(true)
    }

    fn new_unit(&mut self) {
        self.unit = match self.shape {
            Shape::Raw => Unit::Raw,
            Shape::Eks => Unit::Eks,
            Shape::Aks => Unit::Aks,
            Shape::Gke => Unit::Gke,
            Shape::Mixed => match self.rng.random_range(0..100) {
                0..=79 => Unit::Raw,
                80..=86 => Unit::Eks,
                87..=93 => Unit::Aks,
                _ => Unit::Gke,
            },
        };
        self.unit_left = match self.unit {
            Unit::Raw | Unit::Gke => 1,
            _ => {
                if self.rng.random_bool(0.7) {
                    self.rng.random_range(30..=50)
                } else {
                    self.rng.random_range(1..30)
                }
            }
        };
        self.batch.clear();
        self.batch_count = 0;
    }

    fn eks_event(&mut self, ev: &Ev) {
        if self.batch_count == 0 {
            let stream = self.rng.random_range(0..2);
            self.batch
                .extend_from_slice(b"{\"messageType\":\"DATA_MESSAGE\",\"owner\":\"");
            self.batch.extend_from_slice(AWS_ACCOUNT.as_bytes());
            self.batch.extend_from_slice(
                b"\",\"logGroup\":\"/aws/eks/bench-cluster/cluster\",\"logStream\":\"",
            );
            self.batch
                .extend_from_slice(self.eks_streams[stream].as_bytes());
            self.batch
                .extend_from_slice(b"\",\"subscriptionFilters\":[\"kadet\"],\"logEvents\":[");
        } else {
            self.batch.push(b',');
        }
        self.batch_count += 1;
        let ms = ev.stage_us.div_euclid(1000) as u64;
        self.seq += 1;
        self.batch.extend_from_slice(b"{\"id\":\"");
        cloudwatch_id(&mut self.batch, ms, self.seq, self.rng.random());
        self.batch.extend_from_slice(b"\",\"timestamp\":");
        uint(&mut self.batch, ms + self.rng.random_range(0..400));
        self.batch.extend_from_slice(b",\"message\":\"");
        self.buf.clear();
        write_event(&mut self.buf, ev);
        esc_embedded(&mut self.batch, &self.buf);
        self.buf.clear();
        self.batch.extend_from_slice(b"\"}");
    }

    fn aks_record_head(&mut self, time_us: i64, category: &str) {
        if self.batch_count == 0 {
            self.batch.extend_from_slice(b"{\"records\":[");
        } else {
            self.batch.push(b',');
        }
        self.batch_count += 1;
        self.batch.extend_from_slice(b"{\"time\":\"");
        ts(&mut self.batch, time_us, 7);
        self.batch.extend_from_slice(b"\",\"resourceId\":\"");
        self.batch.extend_from_slice(AKS_RESOURCE_ID.as_bytes());
        self.batch.extend_from_slice(b"\",\"category\":\"");
        self.batch.extend_from_slice(category.as_bytes());
        self.batch.extend_from_slice(b"\",\"operationName\":\"Microsoft.ContainerService/managedClusters/diagnosticLogs/Read\",\"properties\":{\"log\":\"");
    }

    fn aks_record_tail(&mut self) {
        let pod = self.rng.random_range(0..2);
        self.batch
            .extend_from_slice(b"\",\"stream\":\"stdout\",\"pod\":\"");
        self.batch.extend_from_slice(self.aks_pods[pod].as_bytes());
        self.batch.extend_from_slice(b"\",\"containerID\":\"");
        self.batch.extend_from_slice(self.aks_container.as_bytes());
        self.batch.extend_from_slice(b"\"}}");
    }

    fn aks_event(&mut self, ev: &Ev) {
        if self.rng.random_bool(0.02) {
            // A kube-apiserver log record, which is not audit and must be ignored.
            self.aks_record_head(ev.stage_us, "kube-apiserver");
            // klog header: "Immdd hh:mm:ss.uuuuuu"
            let mut t = Vec::with_capacity(32);
            ts(&mut t, ev.stage_us, 6);
            let mut line = Vec::with_capacity(160);
            line.push(b'I');
            line.extend_from_slice(&t[5..7]);
            line.extend_from_slice(&t[8..10]);
            line.push(b' ');
            line.extend_from_slice(&t[11..26]);
            line.extend_from_slice(b"      11 ");
            line.extend_from_slice(
                KUBE_APISERVER_LINES[self.rng.random_range(0..KUBE_APISERVER_LINES.len())]
                    .as_bytes(),
            );
            line.push(b'\n');
            esc_embedded(&mut self.batch, &line);
            self.aks_record_tail();
        }
        let read = matches!(ev.verb, "get" | "list" | "watch");
        let category = if !read && self.rng.random_bool(0.5) {
            "kube-audit-admin"
        } else {
            "kube-audit"
        };
        self.aks_record_head(ev.stage_us, category);
        self.buf.clear();
        write_event(&mut self.buf, ev);
        esc_embedded(&mut self.batch, &self.buf);
        self.buf.clear();
        self.aks_record_tail();
    }

    fn gke_event(&mut self, ev: &Ev) -> io::Result<()> {
        self.buf.clear();
        write_gke(&mut self.buf, ev, self.rng.random_range(200..3000));
        self.write_line(false)
    }
}

fn padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut tmp = Vec::with_capacity(20);
    uint(&mut tmp, v);
    for _ in tmp.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(&tmp);
}

/// A 56-digit CloudWatch Logs event id: a time-ordered prefix and random digits.
pub fn cloudwatch_id(out: &mut Vec<u8>, ms: u64, seq: u64, r: u64) {
    out.push(b'3');
    padded(out, ms % 10_000_000_000_000, 13);
    padded(out, seq % 10_000_000_000, 10);
    padded(out, r % 10_000_000_000_000_000, 16);
    padded(out, r.rotate_left(29) % 10_000_000_000_000_000, 16);
}

/// GKE method name, e.g. `io.k8s.core.v1.pods.get`, `io.k8s.coordination.v1.leases.update`.
pub fn gke_method(out: &mut Vec<u8>, ev: &Ev) {
    let Some(res) = ev.res else {
        out.extend_from_slice(b"io.k8s.");
        out.extend_from_slice(ev.verb.as_bytes());
        return;
    };
    if res.group.is_empty() {
        out.extend_from_slice(b"io.k8s.core");
    } else if !res.group.contains('.') {
        // Built-in groups without a domain (apps, batch, policy, autoscaling).
        out.extend_from_slice(b"io.k8s.");
        out.extend_from_slice(res.group.as_bytes());
    } else {
        for (i, part) in res.group.rsplit('.').enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            out.extend_from_slice(part.as_bytes());
        }
    }
    out.push(b'.');
    out.extend_from_slice(res.version.as_bytes());
    out.push(b'.');
    out.extend_from_slice(res.resource.as_bytes());
    if !ev.sub.is_empty() {
        out.push(b'.');
        out.extend_from_slice(ev.sub.as_bytes());
    }
    out.push(b'.');
    out.extend_from_slice(ev.verb.as_bytes());
}

/// GKE resource name, e.g. `core/v1/namespaces/default/pods/x`.
pub fn gke_resource_name(out: &mut Vec<u8>, ev: &Ev) {
    let Some(res) = ev.res else {
        let path = ev.uri.split('?').next().unwrap_or("");
        esc(out, path);
        return;
    };
    esc(
        out,
        if res.group.is_empty() {
            "core"
        } else {
            res.group
        },
    );
    out.push(b'/');
    esc(out, res.version);
    if !ev.namespace.is_empty() {
        out.extend_from_slice(b"/namespaces/");
        esc(out, ev.namespace);
    }
    out.push(b'/');
    esc(out, res.resource);
    if !ev.name.is_empty() {
        out.push(b'/');
        esc(out, &ev.name);
    }
    if !ev.sub.is_empty() {
        out.push(b'/');
        esc(out, ev.sub);
    }
}

fn grpc_status(code: u16) -> (u64, &'static str) {
    match code {
        400 | 422 => (3, "INVALID_ARGUMENT"),
        401 => (16, "UNAUTHENTICATED"),
        403 => (7, "PERMISSION_DENIED"),
        404 => (5, "NOT_FOUND"),
        409 => (10, "ABORTED"),
        429 => (8, "RESOURCE_EXHAUSTED"),
        _ => (13, "INTERNAL"),
    }
}

/// Writes a Cloud Audit Logs LogEntry for the event (no newline).
pub fn write_gke(out: &mut Vec<u8>, ev: &Ev, receive_delay_us: i64) {
    let read = matches!(ev.verb, "get" | "list" | "watch");
    let mut method = Vec::with_capacity(64);
    gke_method(&mut method, ev);
    let mut rname = Vec::with_capacity(96);
    gke_resource_name(&mut rname, ev);
    out.extend_from_slice(b"{\"insertId\":\"");
    out.extend_from_slice(&ev.audit_id);
    out.extend_from_slice(b"\",\"labels\":{\"authorization.k8s.io/decision\":\"");
    out.extend_from_slice(if ev.allow {
        b"allow" as &[u8]
    } else {
        b"forbid"
    });
    out.extend_from_slice(b"\",\"authorization.k8s.io/reason\":");
    qstr(out, if ev.allow { ev.reason } else { "" });
    out.extend_from_slice(b"},\"logName\":\"projects/");
    out.extend_from_slice(GKE_PROJECT.as_bytes());
    out.extend_from_slice(if read {
        b"/logs/cloudaudit.googleapis.com%2Fdata_access\"" as &[u8]
    } else {
        b"/logs/cloudaudit.googleapis.com%2Factivity\""
    });
    out.extend_from_slice(b",\"operation\":{\"first\":true,\"id\":\"");
    out.extend_from_slice(&ev.audit_id);
    out.extend_from_slice(b"\",\"last\":true,\"producer\":\"k8s.io\"}");
    out.extend_from_slice(b",\"protoPayload\":{\"@type\":\"type.googleapis.com/google.cloud.audit.AuditLog\",\"authenticationInfo\":{\"principalEmail\":");
    qstr(out, ev.user.username);
    out.extend_from_slice(b"},\"authorizationInfo\":[{\"granted\":");
    out.extend_from_slice(if ev.allow { b"true" as &[u8] } else { b"false" });
    out.extend_from_slice(b",\"permission\":\"");
    out.extend_from_slice(&method);
    out.extend_from_slice(b"\",\"resource\":\"");
    out.extend_from_slice(&rname);
    out.extend_from_slice(b"\"}],\"methodName\":\"");
    out.extend_from_slice(&method);
    out.extend_from_slice(b"\"");
    let args = ev.args();
    if let Some(t) = ev.request_object() {
        out.extend_from_slice(b",\"request\":");
        t.write_gke(out, &args);
    }
    out.extend_from_slice(b",\"requestMetadata\":{\"callerIp\":");
    qstr(out, ev.ip);
    out.extend_from_slice(b",\"callerSuppliedUserAgent\":");
    qstr(out, ev.ua);
    out.extend_from_slice(b"},\"resourceName\":\"");
    out.extend_from_slice(&rname);
    out.push(b'"');
    if let Some(t) = ev.response_object() {
        out.extend_from_slice(b",\"response\":");
        t.write_gke(out, &args);
    }
    out.extend_from_slice(b",\"serviceName\":\"k8s.io\",\"status\":");
    if ev.failed() {
        let (code, _) = grpc_status(ev.code);
        out.extend_from_slice(b"{\"code\":");
        uint(out, code);
        out.extend_from_slice(b",\"message\":");
        qstr(out, crate::event::status_reason(ev.code));
        out.push(b'}');
    } else {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"},\"receiveTimestamp\":\"");
    ts(out, ev.stage_us + receive_delay_us, 9);
    out.extend_from_slice(b"\",\"resource\":{\"type\":\"k8s_cluster\",\"labels\":{\"cluster_name\":\"bench-gke\",\"location\":\"us-central1\",\"project_id\":\"");
    out.extend_from_slice(GKE_PROJECT.as_bytes());
    out.extend_from_slice(b"\"}},\"severity\":\"");
    out.extend_from_slice(if ev.failed() {
        b"WARNING" as &[u8]
    } else if read {
        b"INFO"
    } else {
        b"NOTICE"
    });
    out.extend_from_slice(b"\",\"timestamp\":\"");
    ts(out, ev.stage_us, 6);
    out.extend_from_slice(b"\"}");
}

impl<W: Write> Sink for ShapeSink<W> {
    fn begin(&mut self) -> Flavor {
        if self.unit_left == 0 {
            if self.batch_count > 0 {
                // Errors surface on the next put/finish through the writer.
                let _ = self.flush_batch();
            }
            self.new_unit();
        }
        match self.unit {
            Unit::Raw | Unit::Eks => Flavor::Eks,
            Unit::Aks => Flavor::Aks,
            Unit::Gke => Flavor::Gke,
        }
    }

    fn put(&mut self, ev: &Ev) -> io::Result<()> {
        self.unit_left = self.unit_left.saturating_sub(1);
        match self.unit {
            Unit::Raw => {
                self.buf.clear();
                write_event(&mut self.buf, ev);
                self.write_line(false)
            }
            Unit::Gke => {
                if ev.stage == Stage::RequestReceived {
                    // GKE logs one entry per request; never reached because
                    // the generator emits no stage pairs for GKE.
                    return Ok(());
                }
                self.gke_event(ev)
            }
            Unit::Eks => {
                self.eks_event(ev);
                Ok(())
            }
            Unit::Aks => {
                self.aks_event(ev);
                Ok(())
            }
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.flush_batch()?;
        self.out.flush()
    }
}
