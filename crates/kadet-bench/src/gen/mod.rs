//! The traffic generator: picks request scenarios (a lease renewal, a
//! rollout, a kubectl session, ...) and turns each into one or more audit
//! events, handed to a [`Sink`] that writes them in some log shape.
//!
//! This module has the generator's state and its main loop; the building
//! blocks of requests are in [`request`], and the scenarios in
//! [`components`], [`people`] and [`tokens`].

use std::io;

use rand::{Rng, SeedableRng};

use crate::event::Ev;
use crate::json::day_start_us;
use crate::model::{build_cluster, Cluster, ClusterOpts, Flavor, Rng64};

mod components;
mod people;
mod request;
mod tokens;

/// Receives events in time order.
pub trait Sink {
    /// Called before each request scenario; returns the flavour of cluster
    /// the next events should come from.
    fn begin(&mut self) -> Flavor;
    /// Writes an event.
    fn put(&mut self, ev: &Ev) -> io::Result<()>;
    /// Called after the last event.
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
    /// Events with a request or response body.
    pub with_body: u64,
    /// TokenRequests (`create serviceaccounts/token`) of anyone.
    pub token_requests: u64,
    pub token_kubelet: u64,
    pub token_kcm: u64,
    /// Successful long-lived TokenRequests by humans (what the seed rule flags).
    pub token_human: u64,
    /// Denied requests (403).
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
    /// Seed of the traffic.
    pub seed: u64,
    /// Number of events to generate.
    pub events: u64,
    pub profile: Profile,
    /// Start of the simulated day (µs since the epoch).
    pub start_us: i64,
    /// Length of the simulated period (µs); events are spread evenly over it.
    pub span_us: i64,
    /// Nodes per cluster.
    pub nodes: usize,
    /// Seed of the simulated clusters (names, identities, bodies).
    pub cluster_seed: u64,
}

impl GenOpts {
    /// The benchmark corpus: a day of traffic of the `Bench` profile.
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

/// The generator: the simulated clusters, the traffic's RNG and clock, and
/// the event being built.
pub struct Gen<'a> {
    /// The traffic's RNG (the clusters have their own).
    pub rng: Rng64,
    clusters: [&'static Cluster; 3],
    /// Flavour of the cluster of the current scenario.
    pub cur: Flavor,
    /// The event being built.
    pub ev: Ev,
    /// Time of the next request (µs).
    clock: i64,
    /// Mean time between requests (µs).
    step: i64,
    /// Latest `stageTimestamp` written (µs); they never go back.
    last_stage: i64,
    /// Number of events to generate.
    target: u64,
    /// Event count at which the next long-lived human token comes.
    next_human_token: u64,
    profile: Profile,
    /// Last resourceVersion handed out.
    rv: u64,
    weights: &'static [(Sc, u32)],
    weight_total: u32,
    scratch: Vec<u8>,
    pub stats: Stats,
    sink: &'a mut dyn Sink,
}

impl<'a> Gen<'a> {
    /// A generator writing to `sink`; builds the three clusters.
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

    /// Picks where in block `block` of [`HUMAN_TOKEN_BLOCK`] events the
    /// long-lived human TokenRequest comes (none in a short last block).
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

    /// The cluster of the current scenario.
    pub fn cluster(&self) -> &'static Cluster {
        match self.cur {
            Flavor::Eks => self.clusters[0],
            Flavor::Aks => self.clusters[1],
            Flavor::Gke => self.clusters[2],
        }
    }

    /// Whether all events have been generated.
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

    /// Tells the sink that no events follow.
    pub fn finish_sink(&mut self) -> io::Result<()> {
        self.sink.finish()
    }

    /// A random scenario, by the profile's weights.
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

    /// Runs a scenario.
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
}
