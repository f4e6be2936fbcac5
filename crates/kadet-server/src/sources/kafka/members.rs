//! How a Kafka source's consumers join its group, by mode:
//!
//! - single-process mode: one static member named after this instance
//!   (host and state directory), which a restarted kadet takes back at once;
//! - cluster mode: the source's `readers` static members, named after the
//!   source (`NAME-reader-0`, …), each read by the instance holding its
//!   claim (a lease in the cluster). When that instance dies, another takes
//!   the lease, joins under the same name, and the broker hands it the dead
//!   member's partitions at once (KIP-345: a static member rejoining is the
//!   same member). The broker's own expiry of dead members is not relied on;
//! - `static_membership = false`: one dynamic member per instance.

use super::{settings, ReadEnd, Reader, Wiring};
use crate::config::sources::Kafka;
use crate::sources::claim::Held;
use crate::sources::{Health, Places, Sources};
use anyhow::Result;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How a mode's Kafka consumers join their groups by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Members {
    /// Single-process mode: one static member named after this instance.
    OwnName,
    /// Cluster mode: the source's members, each read under a claim.
    Claimed,
}

/// The consumers one instance starts for a source.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// One consumer, a static member of this name or a dynamic one.
    One(Option<String>),
    /// This many members shared by the cluster, each read under its claim.
    Claimed(usize),
}

fn plan(cfg: &Kafka, members: Members, instance: &str) -> Plan {
    if cfg.static_membership == Some(false) {
        return Plan::One(None);
    }
    match members {
        Members::OwnName => Plan::One(Some(format!("{}-{instance}", cfg.name))),
        Members::Claimed => Plan::Claimed(cfg.readers.unwrap_or(1)),
    }
}

/// The claim on member `slot` of a source, and the member's name in the
/// group. (A source's name has no `/`, so no claim meets another source's.)
fn member(source: &str, slot: usize) -> (String, String) {
    (
        format!("{source}/reader-{slot}"),
        format!("{source}-reader-{slot}"),
    )
}

/// Starts this instance's consumers of `cfg`; their health joins `sources`.
pub fn start(
    cfg: &Kafka,
    wiring: Wiring,
    places: &Places,
    sources: &Sources,
    rt: &tokio::runtime::Handle,
    stop: &watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>> {
    // A source that cannot be configured is an error now, not a retry loop.
    settings(cfg)?;
    let health = || {
        let h = Arc::new(Health::new(&cfg.name, cfg.stuck_after_secs));
        sources.watch(h.clone());
        h
    };
    match plan(cfg, places.kafka_members, &places.instance) {
        Plan::One(name) => {
            let reader = {
                let _in_runtime = rt.enter();
                Reader::new(cfg, wiring, name.as_deref(), health(), None)?
            };
            let stop = stop.clone();
            Ok(vec![rt.spawn(async move {
                reader.run(stop).await;
            })])
        }
        Plan::Claimed(n) => {
            let held_here = Arc::new(AtomicUsize::new(0));
            Ok((0..n)
                .map(|slot| {
                    let member = Member {
                        cfg: cfg.clone(),
                        wiring: wiring.clone(),
                        slot,
                        held_here: held_here.clone(),
                        health: health(),
                    };
                    rt.spawn(member.run(stop.clone()))
                })
                .collect())
        }
    }
}

/// One of a source's members in cluster mode, as one instance sees it.
struct Member {
    cfg: Kafka,
    wiring: Wiring,
    slot: usize,
    /// How many of the source's members this instance reads now.
    held_here: Arc<AtomicUsize>,
    health: Arc<Health>,
}

impl Member {
    /// Reads the member whenever this instance holds its claim, until
    /// `stop`; stands by otherwise.
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let (claim, name) = member(&self.cfg.name, self.slot);
        let claims = self.wiring.claims.clone();
        // Since when this instance waits for the member; `None` while the
        // claim is still its own.
        let mut waiting_since = Some(Instant::now());
        while !*stop.borrow() {
            if self.reserve(waiting_since) {
                let ours = claims.hold(&claim).await != Held::Elsewhere;
                if ours {
                    tracing::info!(source = %self.cfg.name, member = %name, "this instance reads the group member");
                    let end = self.read(&name, &claim, &stop).await;
                    // A reader also stops when the claim lapsed and this
                    // instance took it anew (a new consumer is needed):
                    // then it reads again at once, since waiting would let
                    // the claim lapse for good.
                    waiting_since = match end {
                        Some(ReadEnd::ClaimTakenAnew) => None,
                        _ => Some(Instant::now()),
                    };
                }
                self.held_here.fetch_sub(1, Ordering::AcqRel);
                if !ours {
                    // Taken by another instance (perhaps while a consumer
                    // closed, the claim believed still ours): wait from now.
                    waiting_since.get_or_insert_with(Instant::now);
                }
                if ours {
                    // Stopped, or the claim was lost: look again at once.
                    continue;
                }
            }
            // Standing by is not being stuck.
            self.health.progressed();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
        }
        claims.release(&claim).await;
    }

    /// Whether to try for this member now, counted as held while trying
    /// (so that two members of one instance never both try as its first).
    /// An instance reading none of the source's members tries at once; one
    /// reading k waits k claim times first, so that instances started
    /// together each take some, and a dead instance's members still find a
    /// reader. A member whose claim is still this instance's (`None`) is
    /// tried at once.
    fn reserve(&self, waiting_since: Option<Instant>) -> bool {
        reserve(
            &self.held_here,
            self.wiring.claims.lasts(),
            waiting_since.map(|t| t.elapsed()),
        )
    }

    /// Reads as member `name` until stopped or the claim is lost, and says
    /// why it stopped; `None` when it could not join the group (the claim is
    /// given up then).
    async fn read(&self, name: &str, claim: &str, stop: &watch::Receiver<bool>) -> Option<ReadEnd> {
        let reader = Reader::new(
            &self.cfg,
            self.wiring.clone(),
            Some(name),
            self.health.clone(),
            Some(claim.to_string()),
        );
        match reader {
            Ok(r) => Some(r.run(stop.clone()).await),
            Err(e) => {
                let why = format!("cannot join the group as {name}: {e:#}");
                tracing::warn!(source = %self.cfg.name, "{why}");
                self.health.failed(why);
                self.wiring.claims.release(claim).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                None
            }
        }
    }
}

/// [`Member::reserve`]: `held_here` members held (or being tried for) by
/// this instance, claims lasting `lasts`, this member waited `waited`
/// (`None`: its claim is this instance's still).
fn reserve(held_here: &AtomicUsize, lasts: Duration, waited: Option<Duration>) -> bool {
    let held = held_here.load(Ordering::Acquire);
    let patient = waited.is_none_or(|w| held == 0 || w >= lasts * held as u32);
    patient
        && held_here
            .compare_exchange(held, held + 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kafka(extra: &str) -> Kafka {
        let text = format!(
            "[[sources]]\nname = \"aks\"\ntype = \"kafka\"\nbrokers = [\"b:9092\"]\ntopics = [\"t\"]\n{extra}"
        );
        let cfg = crate::config::Config::parse(&text, "k").unwrap();
        match &cfg.sources[0] {
            crate::config::sources::SourceConfig::Kafka(k) => k.clone(),
            _ => panic!("not kafka"),
        }
    }

    #[test]
    fn each_mode_joins_the_group_as_documented() {
        let k = kafka("");
        assert_eq!(
            plan(&k, Members::OwnName, "host-1a2b"),
            Plan::One(Some("aks-host-1a2b".into()))
        );
        assert_eq!(plan(&k, Members::Claimed, "host-1a2b"), Plan::Claimed(1));
        let k = kafka("readers = 3\n");
        assert_eq!(plan(&k, Members::Claimed, "h"), Plan::Claimed(3));
        let k = kafka("static_membership = false\nreaders = 3\n");
        assert_eq!(plan(&k, Members::Claimed, "h"), Plan::One(None));
        assert_eq!(plan(&k, Members::OwnName, "h"), Plan::One(None));
        assert_eq!(
            member("aks", 2),
            ("aks/reader-2".into(), "aks-reader-2".into())
        );
    }

    #[test]
    fn an_instance_tries_for_a_first_member_at_once_and_for_more_after_waiting() {
        let held = AtomicUsize::new(0);
        let lasts = Duration::from_secs(10);
        let waited = |secs| Some(Duration::from_secs(secs));
        assert!(reserve(&held, lasts, waited(0)));
        // The other members of the instance, started with it, must wait.
        assert!(!reserve(&held, lasts, waited(0)));
        assert!(!reserve(&held, lasts, waited(9)));
        assert!(reserve(&held, lasts, waited(10)));
        assert_eq!(held.load(Ordering::Acquire), 2);
        assert!(!reserve(&held, lasts, waited(19)));
        assert!(reserve(&held, lasts, waited(20)));
    }

    #[test]
    fn a_member_whose_claim_is_still_held_is_tried_again_at_once() {
        // Its reader stopped because the claim lapsed and was taken anew:
        // waiting the patience of a member not held would let it lapse.
        let held = AtomicUsize::new(2);
        let lasts = Duration::from_secs(10);
        assert!(reserve(&held, lasts, None));
        assert_eq!(held.load(Ordering::Acquire), 3);
    }

    #[test]
    fn readers_out_of_range_are_a_config_problem() {
        let text = "[[sources]]\nname = \"aks\"\ntype = \"kafka\"\nbrokers = [\"b:9092\"]\ntopics = [\"t\"]\nreaders = 0\n";
        let e = crate::config::Config::parse(text, "k")
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(e.contains("readers must be 1 to 64"), "{e}");
    }
}
