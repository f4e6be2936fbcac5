//! The traffic generator: picks request scenarios (a lease renewal, a
//! rollout, a kubectl session, ...) and turns each into one or more audit
//! events, handed to a [`Sink`] that writes them in some log shape.

use std::io;

use rand::{Rng, SeedableRng};

use crate::body::Template;
use crate::event::{Ev, Level, Stage};
use crate::json::{day_start_us, ts, uuid_into};
use crate::model::*;

/// Receives events in time order.
pub trait Sink {
    /// Called before each request scenario; returns the flavour of cluster
    /// the next events should come from.
    fn begin(&mut self) -> Flavor;
    fn put(&mut self, ev: &Ev) -> io::Result<()>;
    fn finish(&mut self) -> io::Result<()>;
}

/// What kind of traffic may appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// The benchmark corpus: everything, including rare suspicious-looking
    /// but ordinary things (human exec, secret reads, 403s) and about one
    /// long-lived human TokenRequest per 100,000 events.
    Bench,
    /// Only benign traffic; the bundled example scripts its special events.
    Benign,
}

/// Counters the generator keeps.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub events: u64,
    pub with_body: u64,
    pub token_requests: u64,
    pub token_kubelet: u64,
    pub token_kcm: u64,
    /// Successful long-lived TokenRequests by humans (what the seed rule flags).
    pub token_human: u64,
    pub forbidden: u64,
    /// Requests by people (kubectl, CI) rather than components.
    pub human_requests: u64,
}

/// Block size for scheduling the rare long-lived human TokenRequest.
pub const HUMAN_TOKEN_BLOCK: u64 = 100_000;

/// Identifiers of scenarios, so the example can script them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sc {
    NodeLease,
    LeaderLease,
    Kubelet,
    KcmInformers,
    Scheduler,
    Addon,
    Platform,
    App,
    Endpoints,
    OtherCtrl,
    EventsCreate,
    Rollout,
    Job,
    KubectlSession,
    CiDeploy,
    Metrics,
    NotFound,
    HumanSecret,
    HumanExec,
    Forbidden,
    TokenKubelet,
    TokenKcm,
}

const BENCH_WEIGHTS: &[(Sc, u32)] = &[
    (Sc::NodeLease, 3000),
    (Sc::LeaderLease, 1000),
    (Sc::Kubelet, 1800),
    (Sc::KcmInformers, 1000),
    (Sc::Scheduler, 400),
    (Sc::Addon, 2200),
    (Sc::Platform, 400),
    (Sc::App, 900),
    (Sc::Endpoints, 500),
    (Sc::OtherCtrl, 300),
    (Sc::EventsCreate, 500),
    (Sc::Rollout, 220),
    (Sc::Job, 40),
    (Sc::KubectlSession, 90),
    (Sc::CiDeploy, 60),
    (Sc::Metrics, 120),
    (Sc::NotFound, 40),
    (Sc::HumanSecret, 25),
    (Sc::HumanExec, 6),
    (Sc::Forbidden, 50),
    (Sc::TokenKubelet, 13),
    (Sc::TokenKcm, 3),
];

const BENIGN_WEIGHTS: &[(Sc, u32)] = &[
    (Sc::NodeLease, 3000),
    (Sc::LeaderLease, 1000),
    (Sc::Kubelet, 1800),
    (Sc::KcmInformers, 1000),
    (Sc::Scheduler, 400),
    (Sc::Addon, 2200),
    (Sc::Platform, 400),
    (Sc::App, 900),
    (Sc::Endpoints, 500),
    (Sc::OtherCtrl, 300),
    (Sc::EventsCreate, 500),
    (Sc::Rollout, 150),
    (Sc::Metrics, 120),
];

/// Generator settings.
#[derive(Clone, Copy, Debug)]
pub struct GenOpts {
    pub seed: u64,
    pub events: u64,
    pub profile: Profile,
    /// Start of the simulated day (µs since the epoch).
    pub start_us: i64,
    /// Length of the simulated period (µs); events are spread evenly over it.
    pub span_us: i64,
    pub nodes: usize,
    /// Seed of the simulated clusters (names, identities, bodies).
    pub cluster_seed: u64,
}

impl GenOpts {
    pub fn bench(seed: u64, events: u64) -> GenOpts {
        GenOpts {
            seed,
            events,
            profile: Profile::Bench,
            start_us: day_start_us(2026, 11, 2),
            span_us: 86_400_000_000 - 1_000_000,
            nodes: 12,
            cluster_seed: seed,
        }
    }
}

pub struct Gen<'a> {
    pub rng: Rng64,
    clusters: [&'static Cluster; 3],
    pub cur: Flavor,
    pub ev: Ev,
    clock: i64,
    step: i64,
    last_stage: i64,
    target: u64,
    next_human_token: u64,
    profile: Profile,
    rv: u64,
    weights: &'static [(Sc, u32)],
    weight_total: u32,
    scratch: Vec<u8>,
    pub stats: Stats,
    sink: &'a mut dyn Sink,
}

fn push_u64(s: &mut String, v: u64) {
    let mut b = Vec::with_capacity(20);
    crate::json::uint(&mut b, v);
    s.push_str(std::str::from_utf8(&b).unwrap());
}

impl<'a> Gen<'a> {
    pub fn new(opts: GenOpts, sink: &'a mut dyn Sink) -> Gen<'a> {
        let mut rng = Rng64::seed_from_u64(opts.seed);
        // Each flavour's cluster comes from its own RNG stream so that
        // adding traffic never changes the cluster's names.
        let crng = |salt: u64| {
            Rng64::seed_from_u64(opts.cluster_seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        };
        let big = opts.profile == Profile::Bench;
        let clusters = [
            build_cluster(
                &mut crng(1),
                ClusterOpts {
                    flavor: Flavor::Eks,
                    nodes: opts.nodes,
                    big_workloads: big,
                },
            ),
            build_cluster(
                &mut crng(2),
                ClusterOpts {
                    flavor: Flavor::Aks,
                    nodes: opts.nodes,
                    big_workloads: big,
                },
            ),
            build_cluster(
                &mut crng(3),
                ClusterOpts {
                    flavor: Flavor::Gke,
                    nodes: opts.nodes,
                    big_workloads: big,
                },
            ),
        ];
        let step = (opts.span_us / opts.events.max(1) as i64).max(1);
        let weights = match opts.profile {
            Profile::Bench => BENCH_WEIGHTS,
            Profile::Benign => BENIGN_WEIGHTS,
        };
        let weight_total = weights.iter().map(|w| w.1).sum();
        let mut g = Gen {
            clock: opts.start_us + rng.random_range(0..step.min(1_000_000)),
            rng,
            clusters,
            cur: Flavor::Eks,
            ev: Ev::default(),
            step,
            last_stage: 0,
            target: opts.events,
            next_human_token: u64::MAX,
            profile: opts.profile,
            rv: 48_000_000,
            weights,
            weight_total,
            scratch: Vec::with_capacity(64),
            stats: Stats::default(),
            sink,
        };
        g.schedule_human_token(0);
        g
    }

    fn schedule_human_token(&mut self, block: u64) {
        self.next_human_token = u64::MAX;
        if self.profile != Profile::Bench {
            return;
        }
        let start = block * HUMAN_TOKEN_BLOCK;
        if start >= self.target {
            return;
        }
        let len = (self.target - start).min(HUMAN_TOKEN_BLOCK);
        if len < 1000 {
            return;
        }
        self.next_human_token = start + self.rng.random_range(0..len - 10);
    }

    pub fn cluster(&self) -> &'static Cluster {
        match self.cur {
            Flavor::Eks => self.clusters[0],
            Flavor::Aks => self.clusters[1],
            Flavor::Gke => self.clusters[2],
        }
    }

    pub fn done(&self) -> bool {
        self.stats.events >= self.target
    }

    /// Generates events until the target count is reached, then finishes the sink.
    pub fn run(&mut self) -> io::Result<()> {
        while !self.done() {
            self.cur = self.sink.begin();
            if self.stats.events >= self.next_human_token {
                let block = self.stats.events / HUMAN_TOKEN_BLOCK + 1;
                self.human_long_lived_token(None)?;
                self.schedule_human_token(block);
                continue;
            }
            let sc = self.pick_scenario();
            self.scenario(sc)?;
        }
        self.sink.finish()
    }

    /// Asks the sink for the flavour of the next scenario.
    pub fn begin(&mut self) {
        self.cur = self.sink.begin();
    }

    pub fn finish_sink(&mut self) -> io::Result<()> {
        self.sink.finish()
    }

    pub fn pick_scenario(&mut self) -> Sc {
        let mut r = self.rng.random_range(0..self.weight_total);
        for &(sc, w) in self.weights {
            if r < w {
                return sc;
            }
            r -= w;
        }
        self.weights[0].0
    }

    pub fn scenario(&mut self, sc: Sc) -> io::Result<()> {
        match sc {
            Sc::NodeLease => self.node_lease(),
            Sc::LeaderLease => self.leader_lease(),
            Sc::Kubelet => self.kubelet(),
            Sc::KcmInformers => self.kcm_informers(),
            Sc::Scheduler => self.scheduler(),
            Sc::Addon => self.actor_access(0),
            Sc::Platform => self.actor_access(1),
            Sc::App => self.actor_access(2),
            Sc::Endpoints => self.endpoints(),
            Sc::OtherCtrl => self.other_ctrl(),
            Sc::EventsCreate => self.events_create(),
            Sc::Rollout => self.rollout(),
            Sc::Job => self.job(),
            Sc::KubectlSession => self.kubectl_session(None),
            Sc::CiDeploy => self.ci_deploy(),
            Sc::Metrics => self.metrics(),
            Sc::NotFound => self.not_found(),
            Sc::HumanSecret => self.human_secret(),
            Sc::HumanExec => self.human_exec(),
            Sc::Forbidden => self.forbidden(None),
            Sc::TokenKubelet => self.token_kubelet(None),
            Sc::TokenKcm => self.token_kcm(None),
        }
    }

    // ----- building blocks -------------------------------------------------

    fn next_rv(&mut self) -> u64 {
        self.rv += self.rng.random_range(1..40);
        self.rv
    }

    fn ts_string(&mut self, us: i64, frac: u32) -> String {
        self.scratch.clear();
        ts(&mut self.scratch, us, frac);
        String::from_utf8(self.scratch.clone()).unwrap()
    }

    /// Starts a resource request: fills in the event and a default URI.
    pub fn start(
        &mut self,
        p: &'static Principal,
        verb: &'static str,
        res: &'static Res,
        ns: &'static str,
        name: &str,
        sub: &'static str,
    ) {
        let ev = &mut self.ev;
        ev.flavor = self.cur;
        ev.level = Level::Metadata;
        ev.stage = Stage::ResponseComplete;
        ev.verb = verb;
        ev.user = p;
        ev.ip = p.ip;
        ev.ua = p.ua;
        ev.res = Some(res);
        ev.namespace = if res.namespaced { ns } else { "" };
        ev.name.clear();
        ev.name.push_str(name);
        ev.sub = sub;
        ev.code = if verb == "create" { 201 } else { 200 };
        ev.fail_msg.clear();
        ev.req = None;
        ev.resp = None;
        ev.obj_uid.clear();
        ev.created.clear();
        ev.rv.clear();
        ev.node = "";
        ev.aux.clear();
        ev.allow = true;
        ev.reason = p.reason;
        ev.psa = None;
        ev.webhook = false;
        ev.pair = false;
        ev.recv_us = self.clock;
        self.clock += self.rng.random_range(1..=2 * self.step);
        self.build_path();
        match verb {
            "list" => self.ev.uri.push_str("?limit=500&resourceVersion=0"),
            "watch" => self.watch_query(None),
            _ => {}
        }
    }

    /// Starts a non-resource request (`/readyz`, `/api`, `/metrics`).
    pub fn start_nonresource(&mut self, p: &'static Principal, path: &str) {
        self.start(p, "get", &PODS, "", "", "");
        self.ev.res = None;
        self.ev.uri.clear();
        self.ev.uri.push_str(path);
    }

    fn build_path(&mut self) {
        let ev = &mut self.ev;
        let res = ev.res.unwrap();
        ev.uri.clear();
        if res.group.is_empty() {
            ev.uri.push_str("/api/v1");
        } else {
            ev.uri.push_str("/apis/");
            ev.uri.push_str(res.group);
            ev.uri.push('/');
            ev.uri.push_str(res.version);
        }
        if !ev.namespace.is_empty() {
            ev.uri.push_str("/namespaces/");
            ev.uri.push_str(ev.namespace);
        }
        ev.uri.push('/');
        ev.uri.push_str(res.resource);
        // Creates POST to the collection; the name is only in the body.
        let post_to_collection = ev.verb == "create" && ev.sub.is_empty();
        if !ev.name.is_empty() && !post_to_collection {
            ev.uri.push('/');
            ev.uri.push_str(&ev.name);
        }
        if !ev.sub.is_empty() {
            ev.uri.push('/');
            ev.uri.push_str(ev.sub);
        }
    }

    fn watch_query(&mut self, field_name: Option<&str>) {
        let rv = self.next_rv() - self.rng.random_range(0..5000);
        let t = self.rng.random_range(300..600u64);
        let u = &mut self.ev.uri;
        u.push_str("?allowWatchBookmarks=true");
        if let Some(n_) = field_name {
            u.push_str("&fieldSelector=metadata.name%3D");
            u.push_str(n_);
        }
        u.push_str("&resourceVersion=");
        push_u64(u, rv);
        u.push_str("&timeout=");
        push_u64(u, t / 60);
        u.push('m');
        push_u64(u, t % 60);
        u.push_str("s&timeoutSeconds=");
        push_u64(u, t);
        u.push_str("&watch=true");
    }

    fn set_fail(&mut self, code: u16) {
        let ev = &mut self.ev;
        ev.code = code;
        ev.fail_msg.clear();
        let res = ev.res.map(|r| r.resource).unwrap_or("");
        let group = ev.res.map(|r| r.group).unwrap_or("");
        match code {
            403 => {
                ev.allow = false;
                let what = if ev.name.is_empty() {
                    res.to_string()
                } else {
                    format!("{res} \"{}\"", ev.name)
                };
                let scope = if ev.namespace.is_empty() {
                    "at the cluster scope".to_string()
                } else {
                    format!("in the namespace \"{}\"", ev.namespace)
                };
                let resource = if ev.sub.is_empty() {
                    res.to_string()
                } else {
                    format!("{res}/{}", ev.sub)
                };
                ev.fail_msg = format!(
                    "{what} is forbidden: User \"{}\" cannot {} resource \"{resource}\" in API group \"{group}\" {scope}",
                    ev.user.username, ev.verb
                );
            }
            404 => ev.fail_msg = format!("{res} \"{}\" not found", ev.name),
            409 => {
                let full = if group.is_empty() {
                    res.to_string()
                } else {
                    format!("{res}.{group}")
                };
                ev.fail_msg = format!(
                    "Operation cannot be fulfilled on {full} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                    ev.name
                );
            }
            _ => {
                ev.fail_msg = format!(
                "{res} \"{}\" is invalid: spec.template.spec.containers[0].image: Required value",
                ev.name
            )
            }
        }
    }

    fn latency(&mut self) -> i64 {
        let base = match self.ev.verb {
            "get" => self.rng.random_range(300..2_500),
            "list" => self.rng.random_range(1_500..25_000),
            "watch" => self.rng.random_range(400..3_000),
            "create" | "update" | "patch" => self.rng.random_range(2_000..12_000),
            _ => self.rng.random_range(1_000..8_000),
        };
        // Keep timestamps of consecutive events close together at high
        // event rates.
        base.min(self.step * 20 + 800)
    }

    /// Emits the current request: a RequestReceived event if `ev.pair` is set
    /// (and the flavour logs stages), then the ResponseComplete event.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.done() {
            return Ok(());
        }
        let hi: u64 = self.rng.random();
        let lo: u64 = self.rng.random();
        uuid_into(&mut self.ev.audit_id, hi, lo);
        let lat = self.latency();
        if self.ev.recv_us < self.last_stage - 1_000_000 {
            self.ev.recv_us = self.last_stage;
        }
        if self.ev.pair && self.cur != Flavor::Gke {
            self.ev.stage = Stage::RequestReceived;
            self.ev.stage_us = self.ev.recv_us.max(self.last_stage);
            self.last_stage = self.ev.stage_us;
            self.stats.events += 1;
            self.sink.put(&self.ev)?;
            if self.done() {
                return Ok(());
            }
        }
        self.ev.stage = Stage::ResponseComplete;
        self.ev.stage_us = (self.ev.recv_us + lat).max(self.last_stage + 1);
        self.last_stage = self.ev.stage_us;
        self.stats.events += 1;
        if self.ev.request_object().is_some() || self.ev.response_object().is_some() {
            self.stats.with_body += 1;
        }
        if self.ev.res.map(|r| r.resource) == Some("serviceaccounts")
            && self.ev.sub == "token"
            && self.ev.verb == "create"
        {
            self.stats.token_requests += 1;
        }
        if self.ev.code == 403 {
            self.stats.forbidden += 1;
        }
        if self.ev.user.kind == Kind::Human {
            self.stats.human_requests += 1;
        }
        self.sink.put(&self.ev)
    }

    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.rng.random_range(0..v.len())]
    }

    fn set_uid(&mut self) {
        let mut b = [0u8; 36];
        uuid_into(&mut b, self.rng.random(), self.rng.random());
        self.ev.obj_uid.clear();
        self.ev.obj_uid.push_str(std::str::from_utf8(&b).unwrap());
    }

    fn set_body_args(&mut self) {
        self.set_uid();
        let rv = self.next_rv();
        self.ev.rv.clear();
        push_u64(&mut self.ev.rv, rv);
        let c = self.ts_string(self.ev.recv_us, 0);
        self.ev.created = c;
    }

    fn body(
        &mut self,
        req: Option<&'static Template>,
        resp: Option<&'static Template>,
        p_request: f64,
        p_response: f64,
    ) {
        let r: f64 = self.rng.random();
        if r < p_response && (req.is_some() || resp.is_some()) {
            self.ev.level = Level::RequestResponse;
        } else if r < p_response + p_request && req.is_some() {
            self.ev.level = Level::Request;
        } else {
            return;
        }
        self.ev.req = req;
        self.ev.resp = resp;
        self.set_body_args();
    }

    fn random_node(&mut self) -> &'static Node {
        let c = self.cluster();
        &c.nodes[self.rng.random_range(0..c.nodes.len())]
    }

    fn random_user_workload(&mut self) -> &'static Workload {
        let c = self.cluster();
        loop {
            let w = &c.workloads[self.rng.random_range(0..c.workloads.len())];
            if !w.system {
                return w;
            }
        }
    }

    fn random_workload(&mut self) -> &'static Workload {
        let c = self.cluster();
        &c.workloads[self.rng.random_range(0..c.workloads.len())]
    }

    // ----- scenarios ------------------------------------------------------

    fn node_lease(&mut self) -> io::Result<()> {
        let node = self.random_node();
        if self.rng.random_bool(0.06) {
            self.start(
                node.kubelet,
                "get",
                &LEASES,
                "kube-node-lease",
                node.name,
                "",
            );
            self.ev.uri.push_str("?timeout=10s");
            self.finish()?;
        }
        self.start(
            node.kubelet,
            "update",
            &LEASES,
            "kube-node-lease",
            node.name,
            "",
        );
        self.ev.uri.push_str("?timeout=10s");
        let c = self.cluster();
        self.body(Some(&c.lease_body), Some(&c.lease_body), 0.04, 0.02);
        self.ev.aux.push_str(node.name);
        self.finish()
    }

    fn leader_lease(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let (name, p) = self.pick(&c.leader_leases);
        self.start(p, "get", &LEASES, "kube-system", name, "");
        self.ev.uri.push_str("?timeout=5s");
        self.finish()?;
        self.start(p, "update", &LEASES, "kube-system", name, "");
        self.ev.uri.push_str("?timeout=5s");
        self.ev.aux.push_str(name);
        self.ev.aux.push_str("-leader_");
        self.ev.aux.push_str(p.ip);
        if self.profile == Profile::Bench && self.rng.random_bool(0.01) {
            self.set_fail(409);
        } else {
            self.body(Some(&c.lease_body), Some(&c.lease_body), 0.15, 0.05);
        }
        self.finish()
    }

    fn kubelet(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let ni = self.rng.random_range(0..c.nodes.len());
        let node = &c.nodes[ni];
        let k = node.kubelet;
        match self.rng.random_range(0..12) {
            0 | 1 => {
                self.start(k, "get", &NODES, "", node.name, "");
                self.ev.uri.push_str("?resourceVersion=0&timeout=10s");
            }
            2 => {
                self.start(k, "patch", &NODES, "", node.name, "status");
                self.ev.uri.push_str("?timeout=10s");
            }
            3 => {
                let w = self.random_workload();
                let pi = self.rng.random_range(0..w.pods.len());
                self.start(k, "get", &PODS, w.ns, w.pods[pi], "");
            }
            4 => {
                let w = self.random_workload();
                let pi = self.rng.random_range(0..w.pods.len());
                self.start(k, "patch", &PODS, w.ns, w.pods[pi], "status");
            }
            5 | 6 => {
                let cm = &c.configmaps[self.rng.random_range(0..c.configmaps.len())];
                self.start(k, "watch", &CONFIGMAPS, cm.ns, "", "");
                self.build_path();
                self.watch_query(Some(cm.name));
            }
            7 if self.profile == Profile::Bench => {
                let (ns, name) = self.pick(&c.secrets);
                self.start(k, "watch", &SECRETS, ns, "", "");
                self.build_path();
                self.watch_query(Some(name));
            }
            8 => self.start(k, "list", &SERVICES, "", "", ""),
            9 => self.start(k, "get", &CSINODES, "", node.name, ""),
            10 => {
                self.start(k, "watch", &PODS, "", "", "");
                self.ev.uri.clear();
                self.ev.uri.push_str(
                    "/api/v1/pods?allowWatchBookmarks=true&fieldSelector=spec.nodeName%3D",
                );
                self.ev.uri.push_str(node.name);
                self.ev.uri.push_str("&resourceVersion=");
                let rv = self.next_rv();
                push_u64(&mut self.ev.uri, rv);
                self.ev.uri.push_str("&timeoutSeconds=");
                let t = self.rng.random_range(300..600u64);
                push_u64(&mut self.ev.uri, t);
                self.ev.uri.push_str("&watch=true");
            }
            _ => {
                let ns = self.pick(&c.user_namespaces);
                self.start(k, "get", &CONFIGMAPS, ns, "kube-root-ca.crt", "");
            }
        }
        self.finish()
    }

    fn kcm_informers(&mut self) -> io::Result<()> {
        const RES: &[&Res] = &[
            &PODS,
            &SERVICES,
            &CONFIGMAPS,
            &SECRETS,
            &ENDPOINTS,
            &SERVICEACCOUNTS,
            &PVCS,
            &RESOURCEQUOTAS,
            &LIMITRANGES,
            &NODES,
            &NAMESPACES,
            &PVS,
            &DEPLOYMENTS,
            &REPLICASETS,
            &DAEMONSETS,
            &STATEFULSETS,
            &CONTROLLERREVISIONS,
            &ENDPOINTSLICES,
            &LEASES,
            &JOBS,
            &CRONJOBS,
            &INGRESSES,
            &NETWORKPOLICIES,
            &PDBS,
            &HPAS,
            &CSINODES,
            &CSIDRIVERS,
            &STORAGECLASSES,
            &VOLUMEATTACHMENTS,
            &CSISTORAGECAPACITIES,
            &RUNTIMECLASSES,
            &PRIORITYCLASSES,
            &CRDS,
            &APISERVICES,
            &MUTATINGWEBHOOKS,
            &VALIDATINGWEBHOOKS,
            &CLUSTERROLES,
            &CLUSTERROLEBINDINGS,
            &ROLES,
            &ROLEBINDINGS,
            &FLOWSCHEMAS,
            &PRIORITYLEVELS,
            &CSRS,
        ];
        let c = self.cluster();
        let mut res = self.pick(RES);
        if self.profile == Profile::Benign && res.resource == "secrets" {
            res = &CONFIGMAPS;
        }
        let verb = if self.rng.random_bool(0.85) {
            "watch"
        } else {
            "list"
        };
        self.start(c.kcm_informers, verb, res, "", "", "");
        self.finish()
    }

    fn scheduler(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let p = c.scheduler_informers;
        match self.rng.random_range(0..5) {
            0 => {
                self.start(p, "watch", &PODS, "", "", "");
                self.ev.uri.clear();
                self.ev.uri.push_str("/api/v1/pods?allowWatchBookmarks=true&fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed&resourceVersion=");
                let rv = self.next_rv();
                push_u64(&mut self.ev.uri, rv);
                self.ev.uri.push_str("&timeoutSeconds=497&watch=true");
            }
            1 => self.start(p, "watch", &NODES, "", "", ""),
            2 => self.start(p, "watch", &CSINODES, "", "", ""),
            3 => self.start(p, "watch", &PVCS, "", "", ""),
            _ => self.start(p, "watch", &PDBS, "", "", ""),
        }
        self.finish()
    }

    fn actor_access(&mut self, group: usize) -> io::Result<()> {
        let c = self.cluster();
        let actors = match group {
            0 => &c.addons,
            1 => &c.platform,
            _ => &c.apps,
        };
        let total: u32 = actors.iter().map(|a| a.weight).sum();
        let mut r = self.rng.random_range(0..total);
        let mut actor = &actors[0];
        for a_ in actors {
            if r < a_.weight {
                actor = a_;
                break;
            }
            r -= a_.weight;
        }
        let mut acc = self.pick(&actor.accesses);
        while self.profile == Profile::Benign && acc.res.resource == "secrets" {
            acc = self.pick(&actor.accesses);
        }
        let ns: &'static str = match acc.ns {
            NsSel::None => "",
            NsSel::Fixed(n_) => n_,
            NsSel::User => self.pick(&c.user_namespaces),
        };
        let mut name_buf = String::new();
        let name: &str = match acc.name {
            NameSel::None => "",
            NameSel::Fixed(n_) => n_,
            NameSel::Node => self.random_node().name,
            NameSel::Workload => self.random_user_workload().name,
            NameSel::Secret => {
                let list: Vec<&(&str, &str)> = c
                    .secrets
                    .iter()
                    .filter(|(sns, _)| ns.is_empty() || *sns == ns)
                    .collect();
                if list.is_empty() {
                    name_buf.push_str("app-credentials");
                    &name_buf
                } else {
                    list[self.rng.random_range(0..list.len())].1
                }
            }
        };
        let name = name.to_string();
        self.start(actor.p, acc.verb, acc.res, ns, &name, acc.sub);
        if acc.res.resource == "configmaps" && matches!(acc.verb, "update" | "patch") {
            if let Some(cm) = c.configmaps.iter().find(|cm| cm.name == name) {
                self.body(Some(&cm.body), Some(&cm.body), 0.3, 0.1);
            }
        }
        if acc.res.resource == "leases" && acc.verb == "update" {
            self.ev.aux.push_str(actor.p.username);
            self.body(Some(&c.lease_body), Some(&c.lease_body), 0.15, 0.05);
        }
        self.finish()
    }

    fn endpoints(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let w = self.random_workload();
        if self.rng.random_bool(0.5) {
            self.start(c.ep_ctrl, "update", &ENDPOINTS, w.ns, w.name, "");
        } else {
            let name = format!("{}-{}", w.name, k8s_suffix(&mut self.rng, 5));
            self.start(c.eps_ctrl, "update", &ENDPOINTSLICES, w.ns, &name, "");
        }
        self.finish()
    }

    fn other_ctrl(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let p = self.pick(&c.other_ctrls);
        let user = p.username.rsplit(':').next().unwrap_or("");
        match user {
            "namespace-controller" => self.start(p, "list", &NAMESPACES, "", "", ""),
            "node-controller" => {
                let n_ = self.random_node().name;
                self.start(p, "get", &NODES, "", n_, "");
            }
            "resourcequota-controller" => {
                let ns = self.pick(&c.user_namespaces);
                self.start(p, "list", &RESOURCEQUOTAS, ns, "", "");
            }
            "horizontal-pod-autoscaler" => {
                let w = self.random_user_workload();
                if self.rng.random_bool(0.5) {
                    self.start(p, "get", &DEPLOYMENTS, w.ns, w.name, "scale");
                } else {
                    self.start(p, "update", &HPAS, w.ns, w.name, "status");
                }
            }
            "root-ca-cert-publisher" => {
                let ns = self.pick(&c.user_namespaces);
                self.start(p, "get", &CONFIGMAPS, ns, "kube-root-ca.crt", "");
            }
            "service-account-controller" => {
                let ns = self.pick(&c.user_namespaces);
                self.start(p, "get", &SERVICEACCOUNTS, ns, "default", "");
            }
            "disruption-controller" => {
                let w = self.random_user_workload();
                self.start(p, "get", &PDBS, w.ns, w.name, "");
            }
            _ => {
                let ns = self.pick(&c.user_namespaces);
                self.start(p, "list", &PODS, ns, "", "");
            }
        }
        self.finish()
    }

    fn events_create(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let w = self.random_workload();
        let pi = self.rng.random_range(0..w.pods.len());
        let node = &c.nodes[w.pod_node[pi]];
        let (p, res) = match self.rng.random_range(0..4) {
            0 => (c.rs_ctrl, &EVENTS),
            1 => (c.scheduler, &EVENTS_V1),
            _ => (node.kubelet, &EVENTS),
        };
        self.start(p, "create", res, w.ns, "", "");
        self.ev.name.push_str(w.pods[pi]);
        self.ev.name.push_str(".17a3f0c2d5e8b901");
        self.ev.node = node.name;
        self.ev.aux.push_str(w.pods[pi]);
        self.body(Some(&c.event_body), Some(&c.event_body), 0.15, 0.05);
        self.finish()
    }

    /// A deployment rollout step: status update, a new pod created by the
    /// replicaset controller, scheduled, started, and an old pod deleted.
    fn rollout(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let w = if self.profile == Profile::Benign {
            self.random_user_workload()
        } else {
            self.random_workload()
        };
        let pi = self.rng.random_range(0..w.pods.len());
        let node = &c.nodes[w.pod_node[pi]];
        let new_pod = format!("{}-{}", w.rs_name, k8s_suffix(&mut self.rng, 5));
        if !w.daemonset {
            self.start(
                c.deploy_ctrl,
                "update",
                &DEPLOYMENTS,
                w.ns,
                w.name,
                "status",
            );
            self.body(Some(&w.deploy_obj), Some(&w.deploy_obj), 0.1, 0.1);
            self.finish()?;
        }
        let creator = if w.daemonset { c.ds_ctrl } else { c.rs_ctrl };
        self.start(creator, "create", &PODS, w.ns, &new_pod, "");
        self.ev.node = node.name;
        self.ev.aux.push_str(&k8s_suffix(&mut self.rng, 5));
        self.body(Some(&w.pod_req), Some(&w.pod_resp), 0.3, 0.55);
        self.ev.psa = Some(if w.system {
            c.psa_privileged
        } else if w.ns == "payments" {
            c.psa_restricted
        } else {
            c.psa_baseline
        });
        self.ev.webhook = c.flavor == Flavor::Eks;
        self.finish()?;
        self.start(
            c.scheduler_informers,
            "create",
            &PODS,
            w.ns,
            &new_pod,
            "binding",
        );
        self.finish()?;
        self.start(node.kubelet, "patch", &PODS, w.ns, &new_pod, "status");
        self.finish()?;
        if self.rng.random_bool(0.6) {
            self.start(creator, "delete", &PODS, w.ns, w.pods[pi], "");
            self.finish()?;
        }
        if !w.daemonset && self.rng.random_bool(0.1) {
            // The garbage collector removing a replicaset of an old revision.
            let old = format!("{}-{}", w.name, k8s_suffix(&mut self.rng, 10));
            self.start(c.gc_ctrl, "delete", &REPLICASETS, w.ns, &old, "");
            self.finish()?;
        }
        Ok(())
    }

    fn job(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let node = self.random_node();
        let job = format!(
            "nightly-report-{}",
            29_000_000 + self.rng.random_range(0..100_000u32)
        );
        self.start(c.cronjob_ctrl, "create", &JOBS, "data", &job, "");
        self.finish()?;
        let pod = format!("{job}-{}", k8s_suffix(&mut self.rng, 5));
        self.start(c.job_ctrl, "create", &PODS, "data", &pod, "");
        self.ev.node = node.name;
        self.ev.psa = Some(c.psa_baseline);
        self.finish()?;
        self.start(c.job_ctrl, "update", &JOBS, "data", &job, "status");
        self.finish()
    }

    /// A developer running a few kubectl commands in a namespace.
    pub fn kubectl_session(&mut self, who: Option<&'static Principal>) -> io::Result<()> {
        let c = self.cluster();
        let h = who.unwrap_or_else(|| self.pick(&c.humans));
        let w = self.random_user_workload();
        let pi = self.rng.random_range(0..w.pods.len());
        if self.rng.random_bool(0.5) {
            self.start_nonresource(h, "/api?timeout=32s");
            self.ev.reason = "RBAC: allowed by ClusterRoleBinding \"system:discovery\" of ClusterRole \"system:discovery\" to Group \"system:authenticated\"";
            self.finish()?;
            self.start_nonresource(h, "/apis?timeout=32s");
            self.ev.reason = "RBAC: allowed by ClusterRoleBinding \"system:discovery\" of ClusterRole \"system:discovery\" to Group \"system:authenticated\"";
            self.finish()?;
        }
        self.start(h, "list", &PODS, w.ns, "", "");
        self.ev.uri.clear();
        self.ev.uri.push_str("/api/v1/namespaces/");
        self.ev.uri.push_str(w.ns);
        self.ev.uri.push_str("/pods?limit=500");
        self.finish()?;
        match self.rng.random_range(0..6) {
            0 | 1 => {
                self.start(h, "get", &PODS, w.ns, w.pods[pi], "log");
                self.ev.uri.push_str("?container=");
                self.ev.uri.push_str(w.container);
                self.ev.uri.push_str("&tailLines=200");
                self.finish()?;
            }
            2 => {
                self.start(h, "get", &DEPLOYMENTS, w.ns, w.name, "");
                self.finish()?;
                self.start(h, "list", &EVENTS, w.ns, "", "");
                self.ev.uri.clear();
                self.ev.uri.push_str("/api/v1/namespaces/");
                self.ev.uri.push_str(w.ns);
                self.ev
                    .uri
                    .push_str("/events?fieldSelector=involvedObject.name%3D");
                self.ev.uri.push_str(w.name);
                self.ev.uri.push_str("%2CinvolvedObject.namespace%3D");
                self.ev.uri.push_str(w.ns);
                self.ev.uri.push_str("&limit=500");
                self.finish()?;
            }
            3 => {
                // kubectl apply -f deployment.yaml
                self.start(h, "get", &DEPLOYMENTS, w.ns, w.name, "");
                self.finish()?;
                self.start(h, "patch", &DEPLOYMENTS, w.ns, w.name, "");
                self.ev
                    .uri
                    .push_str("?fieldManager=kubectl-client-side-apply&fieldValidation=Strict");
                self.ev.pair = true;
                self.body(Some(&w.deploy_patch), Some(&w.deploy_obj), 0.5, 0.5);
                self.finish()?;
            }
            4 => {
                let cm = c
                    .configmaps
                    .iter()
                    .find(|cm| cm.ns == w.ns)
                    .unwrap_or(&c.configmaps[0]);
                self.start(h, "get", &CONFIGMAPS, cm.ns, cm.name, "");
                self.finish()?;
                self.start(h, "update", &CONFIGMAPS, cm.ns, cm.name, "");
                self.ev
                    .uri
                    .push_str("?fieldManager=kubectl-edit&fieldValidation=Strict");
                self.ev.pair = true;
                self.body(Some(&cm.body), Some(&cm.body), 0.5, 0.5);
                self.finish()?;
            }
            _ => {
                self.start(h, "get", &SERVICES, w.ns, w.name, "");
                self.finish()?;
            }
        }
        Ok(())
    }

    fn ci_deploy(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let w = self.random_user_workload();
        self.start(c.ci, "get", &DEPLOYMENTS, w.ns, w.name, "");
        self.finish()?;
        self.start(c.ci, "patch", &DEPLOYMENTS, w.ns, w.name, "");
        self.ev
            .uri
            .push_str("?fieldManager=kubectl-client-side-apply&fieldValidation=Strict");
        self.body(Some(&w.deploy_patch), Some(&w.deploy_obj), 0.4, 0.4);
        self.finish()?;
        if self.rng.random_bool(0.5) {
            if let Some(cm) = c
                .configmaps
                .iter()
                .find(|cm| cm.ns == w.ns && cm.name != "kube-root-ca.crt")
            {
                self.start(c.ci, "patch", &CONFIGMAPS, cm.ns, cm.name, "");
                self.ev
                    .uri
                    .push_str("?fieldManager=kubectl-client-side-apply&fieldValidation=Strict");
                self.body(Some(&cm.body), Some(&cm.body), 0.4, 0.4);
                self.finish()?;
            }
        }
        Ok(())
    }

    fn metrics(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let prom = c
            .apps
            .iter()
            .find(|a_| a_.p.username.ends_with(":prometheus"))
            .map(|a_| a_.p)
            .unwrap_or(c.kcm);
        let path = self.pick(&["/metrics", "/readyz?verbose", "/livez"]);
        self.start_nonresource(prom, path);
        self.ev.reason = "RBAC: allowed by ClusterRoleBinding \"prometheus\" of ClusterRole \"prometheus\" to ServiceAccount \"prometheus/monitoring\"";
        self.finish()
    }

    fn not_found(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let a_ = &c.apps[self.rng.random_range(0..c.apps.len())];
        let ns = self.pick(&c.user_namespaces);
        self.start(a_.p, "get", &CONFIGMAPS, ns, "feature-overrides", "");
        self.set_fail(404);
        self.finish()
    }

    fn human_secret(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let h = self.pick(&c.humans);
        let (ns, name) = self.pick(&c.secrets);
        if self.rng.random_bool(0.7) {
            self.start(h, "get", &SECRETS, ns, name, "");
        } else {
            self.start(h, "list", &SECRETS, ns, "", "");
            self.ev.uri.clear();
            self.ev.uri.push_str("/api/v1/namespaces/");
            self.ev.uri.push_str(ns);
            self.ev.uri.push_str("/secrets?limit=500");
        }
        self.finish()
    }

    fn human_exec(&mut self) -> io::Result<()> {
        let c = self.cluster();
        let h = self.pick(&c.humans);
        let w = self.random_user_workload();
        let pi = self.rng.random_range(0..w.pods.len());
        self.start(h, "create", &PODS, w.ns, w.pods[pi], "exec");
        self.ev.uri.push_str("?command=sh&container=");
        self.ev.uri.push_str(w.container);
        self.ev.uri.push_str("&stdin=true&stdout=true&tty=true");
        self.ev.code = 101;
        self.ev.pair = true;
        self.finish()
    }

    /// A denied request by a developer.
    pub fn forbidden(&mut self, who: Option<&'static Principal>) -> io::Result<()> {
        let c = self.cluster();
        let h = who.unwrap_or_else(|| self.pick(&c.humans));
        let choice = if self.profile == Profile::Benign {
            self.rng.random_range(0..2)
        } else if self.rng.random_bool(0.05) {
            4
        } else {
            [0, 1, 2, 3, 5][self.rng.random_range(0..5)]
        };
        match choice {
            0 => self.start(h, "list", &NODES, "", "", ""),
            1 => {
                let w = self.random_user_workload();
                self.start(h, "delete", &DEPLOYMENTS, "payments", w.name, "");
            }
            2 => self.start(h, "list", &CLUSTERROLEBINDINGS, "", "", ""),
            3 => self.start(h, "list", &SECRETS, "kube-system", "", ""),
            4 => self.start(
                h,
                "create",
                &SERVICEACCOUNTS,
                "kube-system",
                "clusterrole-aggregation-controller",
                "token",
            ),
            _ => self.start(
                h,
                "get",
                &SECRETS,
                "kube-system",
                "aws-load-balancer-tls",
                "",
            ),
        }
        self.set_fail(403);
        self.finish()
    }

    /// The kubelet requesting a bound, short-lived token for a pod.
    pub fn token_kubelet(&mut self, pick: Option<usize>) -> io::Result<()> {
        let c = self.cluster();
        let w = match pick {
            Some(i) => &c.workloads[i % c.workloads.len()],
            None => {
                if self.rng.random_bool(0.8) {
                    self.random_user_workload()
                } else {
                    self.random_workload()
                }
            }
        };
        let pi = self.rng.random_range(0..w.pods.len());
        let node = &c.nodes[w.pod_node[pi]];
        self.start(
            node.kubelet,
            "create",
            &SERVICEACCOUNTS,
            w.ns,
            w.sa,
            "token",
        );
        self.ev.aux.push_str(w.pods[pi]);
        self.ev.node = node.name;
        let irsa = c.flavor == Flavor::Eks
            && w.system
            && matches!(w.name, "aws-node" | "ebs-csi-controller");
        let req = if irsa {
            &c.token_irsa
        } else {
            &c.token_kubelet
        };
        self.body(Some(req), Some(&c.token_kubelet_resp), 0.4, 0.2);
        if self.ev.level == Level::Metadata {
            self.set_body_args();
        }
        // The expiration shows up in the response body.
        let exp = self.ev.recv_us + 3607 * 1_000_000;
        self.ev.created = self.ts_string(exp, 0);
        self.stats.token_kubelet += 1;
        self.finish()
    }

    /// kube-controller-manager requesting a token for one of its controllers.
    pub fn token_kcm(&mut self, pick: Option<usize>) -> io::Result<()> {
        let c = self.cluster();
        let ctrl = match pick {
            Some(i) => c.other_ctrls[i % c.other_ctrls.len()],
            None => self.pick(&c.other_ctrls),
        };
        let sa = ctrl
            .username
            .rsplit(':')
            .next()
            .unwrap_or("default")
            .to_string();
        self.start(
            c.kcm_informers,
            "create",
            &SERVICEACCOUNTS,
            "kube-system",
            &sa,
            "token",
        );
        self.ev.ua = c.kcm.ua;
        self.body(Some(&c.token_kcm), Some(&c.token_kcm_resp), 0.4, 0.2);
        let exp = self.ev.recv_us + 3600 * 1_000_000;
        self.ev.created = self.ts_string(exp, 0);
        self.stats.token_kcm += 1;
        self.finish()
    }

    /// A human creating a token that is valid for 30 years: the event the
    /// seed rule is about (Stratus Red Team k8s.persistence.create-token).
    pub fn human_long_lived_token(
        &mut self,
        who: Option<(&'static Principal, &'static str, &'static str)>,
    ) -> io::Result<()> {
        let c = self.cluster();
        let (h, ns, sa) = match who {
            Some(x) => x,
            None => {
                let hs: Vec<&'static Principal> = c
                    .humans
                    .iter()
                    .copied()
                    .chain(std::iter::once(c.admin))
                    .collect();
                let h = self.pick(&hs);
                let (ns, sa) = self.pick(&[
                    ("kube-system", "clusterrole-aggregation-controller"),
                    ("shop", "default"),
                    ("argocd", "argocd-application-controller"),
                    ("kube-system", "generic-garbage-collector"),
                ]);
                (h, ns, sa)
            }
        };
        self.start(h, "create", &SERVICEACCOUNTS, ns, sa, "token");
        self.ev.level = Level::Request;
        self.ev.req = Some(&c.token_longlived);
        self.ev.pair = true;
        self.stats.token_human += 1;
        self.finish()
    }
}
