//! Pulled sources in cluster mode, two instances each:
//!
//! - the same `cloudwatch` source (moto's CloudWatch Logs), read by one
//!   instance at a time by the source's lease. The reader is killed with
//!   `kill -9` mid-stream; the other takes the lease, resumes from the
//!   checkpoint in the state bucket;
//! - the same `kafka` source (tansu) with two group members, each read by
//!   the instance holding its lease; the instance reading the partition the
//!   events go to is killed with `kill -9` mid-stream, the other takes the
//!   member's lease, joins under its name and reads on from its committed
//!   offsets.
//!
//! - the same `pubsub-push` source on both, as behind a load balancer: the
//!   instance Pub/Sub pushed to is killed with `kill -9` mid-stream, and
//!   Pub/Sub's redeliveries of everything land on the other.
//!
//! Either way every event gives its alerts exactly once, as `kadet scan`
//! gives them.

use crate::common::moto::{cloudwatch, put_log_events, Moto, EKS_GROUP as GROUP};
use crate::common::nats::NatsServer;
use crate::common::tansu::Tansu;
use crate::common::*;
use aws_sdk_cloudwatchlogs::Client;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const STREAM: &str = "kube-apiserver-audit-0a1b";

async fn put(c: &Client, events: &[String]) {
    put_log_events(c, STREAM, events).await
}

fn events() -> Vec<String> {
    token_requests_among_reads(1000)
}

fn config(dir: &Path, i: usize, nats: &str, hook: &str) -> PathBuf {
    let text = format!(
        "[listen]\naddress = \"127.0.0.1:0\"\n[state]\ndir = {:?}\n\
         [detection]\nlateness_secs = 2\nidle_release_secs = 1\n\
         [cluster]\nnats_url = {nats:?}\nreplicas = 1\nack_wait_secs = 3\nmax_deliver = 4\n\
         lease_secs = 3\nsnapshot_interval_ms = 200\npublish_timeout_ms = 15000\n\
         [[sinks]]\ntype = \"webhook\"\nurl = {hook:?}\nbackoff_ms = 50\n\
         [[sources]]\nname = \"eks\"\ntype = \"cloudwatch\"\ncluster = \"eks-prod\"\n\
         start = \"oldest\"\npoll_interval_ms = 100\ndiscover_interval_secs = 1\n",
        dir.join(format!("state-{i}")),
    );
    let p = dir.join(format!("kadet-{i}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn reading(s: &Server) -> bool {
    s.log().contains("took the source's lease")
}

#[test]
fn the_reader_dies_and_the_other_instance_reads_on_without_loss_or_repeat() {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"));
    let moto = Moto::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let c = rt.block_on(cloudwatch(&moto));
    rt.block_on(c.create_log_group().log_group_name(GROUP).send())
        .unwrap();
    rt.block_on(
        c.create_log_stream()
            .log_group_name(GROUP)
            .log_stream_name(STREAM)
            .send(),
    )
    .unwrap();
    let evs = events();
    let want = scan_ids_of_lines(dir.path(), &evs, "eks-prod");
    assert!(want.len() > 10, "{}", want.len());

    let (hook, rx) = receiver_with_headers();
    let env: Vec<(&str, String)> = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut servers: Vec<Option<Server>> = (0..2)
        .map(|i| {
            Some(Server::start_with(
                &config(dir.path(), i, &nats.url(), &hook),
                dir.path(),
                &env,
                None,
            ))
        })
        .collect();
    let (first, rest) = evs.split_at(evs.len() / 3);
    for chunk in first.chunks(50) {
        rt.block_on(put(&c, chunk));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let reader = loop {
        if let Some(i) = (0..2).find(|i| servers[*i].as_ref().is_some_and(reading)) {
            break i;
        }
        assert!(Instant::now() < deadline, "no instance took the source");
        std::thread::sleep(Duration::from_millis(50));
    };
    let (during, after) = rest.split_at(rest.len() / 2);
    for chunk in during.chunks(25) {
        rt.block_on(put(&c, chunk));
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(s) = servers[reader].take() {
        s.kill9();
    }
    for chunk in after.chunks(50) {
        rt.block_on(put(&c, chunk));
    }
    let other = servers[1 - reader].as_ref().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !reading(other) {
        assert!(
            Instant::now() < deadline,
            "the other instance did not take over:\n{}",
            other.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        while let Ok((_, body)) = rx.try_recv() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
                if let Some(id) = v["alert_id"].as_str() {
                    *got.entry(id.to_string()).or_default() += 1;
                }
            }
        }
        let ids: BTreeSet<String> = got.keys().cloned().collect();
        if ids == want || Instant::now() > deadline {
            std::thread::sleep(Duration::from_secs(2));
            while let Ok((_, body)) = rx.try_recv() {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
                    if let Some(id) = v["alert_id"].as_str() {
                        *got.entry(id.to_string()).or_default() += 1;
                    }
                }
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_alerts_once(&got, &want, "");
}

/// Alert ids delivered to the hook until they are `want` (or time runs
/// out), with how often each came.
fn wait_for_alerts(
    rx: &std::sync::mpsc::Receiver<Received>,
    want: &BTreeSet<String>,
    within: Duration,
) -> BTreeMap<String, usize> {
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    let take = |got: &mut BTreeMap<String, usize>| {
        while let Ok((_, body)) = rx.try_recv() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
                if let Some(id) = v["alert_id"].as_str() {
                    *got.entry(id.to_string()).or_default() += 1;
                }
            }
        }
    };
    let deadline = Instant::now() + within;
    loop {
        take(&mut got);
        let ids: BTreeSet<String> = got.keys().cloned().collect();
        if ids == *want || Instant::now() > deadline {
            std::thread::sleep(Duration::from_secs(2));
            take(&mut got);
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn kafka_config(dir: &Path, i: usize, nats: &str, hook: &str, broker: &str) -> PathBuf {
    let text = format!(
        "[listen]\naddress = \"127.0.0.1:0\"\n[state]\ndir = {:?}\n\
         [detection]\nlateness_secs = 2\nidle_release_secs = 1\n\
         [cluster]\nnats_url = {nats:?}\nreplicas = 1\nack_wait_secs = 3\nmax_deliver = 4\n\
         lease_secs = 3\nsnapshot_interval_ms = 200\npublish_timeout_ms = 15000\n\
         [[sinks]]\ntype = \"webhook\"\nurl = {hook:?}\nbackoff_ms = 50\n\
         [[sources]]\nname = \"aks\"\ntype = \"kafka\"\ncluster = \"aks-prod\"\n\
         brokers = [\"{broker}\"]\ntopics = [\"aks-audit\"]\nstart = \"oldest\"\nreaders = 2\n",
        dir.join(format!("state-{i}")),
    );
    let p = dir.join(format!("kadet-{i}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn the_kafka_reader_dies_and_the_other_instance_takes_its_member() {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use rdkafka::ClientConfig;
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"));
    let tansu = Tansu::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let admin: AdminClient<_> = ClientConfig::new()
        .set("bootstrap.servers", &tansu.broker)
        .create()
        .unwrap();
    let topic = NewTopic::new("aks-audit", 4, TopicReplication::Fixed(1));
    for r in rt
        .block_on(admin.create_topics([&topic], &AdminOptions::new()))
        .unwrap()
    {
        r.unwrap();
    }
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &tansu.broker)
        .create()
        .unwrap();
    let evs = events();
    let want = scan_ids_of_lines(dir.path(), &evs, "aks-prod");
    // One key: one partition, in order (across partitions, order is only
    // as good as the lateness allowed).
    let produce = |msgs: &[String]| {
        for m in msgs {
            rt.block_on(producer.send(
                FutureRecord::to("aks-audit").key("aks-prod").payload(m),
                Duration::from_secs(10),
            ))
            .map_err(|(e, _)| e)
            .unwrap();
        }
    };
    let (hook, rx) = receiver_with_headers();
    let mut servers: Vec<Option<Server>> = (0..2)
        .map(|i| {
            Some(Server::start(
                &kafka_config(dir.path(), i, &nats.url(), &hook, &tansu.broker),
                dir.path(),
            ))
        })
        .collect();
    let (first, rest) = evs.split_at(evs.len() / 3);
    produce(first);
    let deadline = Instant::now() + Duration::from_secs(60);
    let reader = loop {
        let read = |s: &Server| {
            reqwest::blocking::Client::new()
                .get(s.url("/metrics"))
                .send()
                .and_then(|r| r.text())
                .ok()
                .and_then(|t| metric(&t, "kadet_source_records_total{source=\"aks\"}"))
                .unwrap_or(0.0)
        };
        if let Some(i) = (0..2).find(|i| servers[*i].as_ref().is_some_and(|s| read(s) > 0.0)) {
            break i;
        }
        assert!(Instant::now() < deadline, "no instance reads the partition");
        std::thread::sleep(Duration::from_millis(50));
    };
    let (during, after) = rest.split_at(rest.len() / 2);
    for chunk in during.chunks(25) {
        produce(chunk);
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(s) = servers[reader].take() {
        s.kill9();
    }
    produce(after);
    let got = wait_for_alerts(&rx, &want, Duration::from_secs(150));
    // The survivor reads both members now: the dead instance's under its
    // name, taken with its lease.
    let survivor = servers.iter().flatten().next().expect("a survivor").log();
    for member in ["aks-reader-0", "aks-reader-1"] {
        assert!(
            survivor
                .lines()
                .any(|l| l.contains("reads the group member") && l.contains(member)),
            "{member}:\n{survivor}"
        );
    }
    let logs: String = servers.iter().flatten().map(|s| s.log()).collect();
    assert_alerts_once(&got, &want, &logs);
}

#[test]
fn the_pushed_instance_dies_and_redeliveries_to_the_other_alert_once() {
    use crate::common::pubsub::*;
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"));
    let signer = Signer::new(KID);
    let jwks = serve_jwks(signer.jwks.clone());
    let entries = log_entries();
    let want = scan_ids_of_lines(dir.path(), &entries, "gke-demo");
    assert!(want.len() >= 4, "the entries should give alerts: {want:?}");
    let (hook, rx) = receiver_with_headers();
    let start = |i: usize| {
        let text = format!(
            "[listen]\naddress = \"127.0.0.1:0\"\n[state]\ndir = {:?}\n\
             [detection]\nlateness_secs = 2\nidle_release_secs = 1\n\
             [cluster]\nnats_url = {:?}\nreplicas = 1\nack_wait_secs = 3\nmax_deliver = 4\n\
             lease_secs = 3\nsnapshot_interval_ms = 200\npublish_timeout_ms = 15000\n\
             [[sinks]]\ntype = \"webhook\"\nurl = {hook:?}\nbackoff_ms = 50\n\
             [[sources]]\nname = \"gke\"\ntype = \"pubsub-push\"\ncluster = \"gke-demo\"\n\
             audience = \"{AUDIENCE}\"\nservice_accounts = [\"{PUSHER}\"]\njwks_url = \"{jwks}\"\n",
            dir.path().join(format!("state-{i}")),
            nats.url(),
        );
        let p = dir.path().join(format!("kadet-{i}.toml"));
        std::fs::write(&p, text).unwrap();
        Server::start(&p, dir.path())
    };
    let (first, second) = (start(0), start(1));
    let token = signer.token(|_| {});
    for (i, e) in entries[..entries.len() / 2].iter().enumerate() {
        let (code, text) = push(&first, "gke", Some(&token), &envelope(&format!("m{i}"), e));
        assert_eq!(code, 200, "{text}");
    }
    first.kill9();
    // Pub/Sub saw no answer to what was in flight and redelivers; the load
    // balancer sends it all to the instance still up.
    for (i, e) in entries.iter().enumerate() {
        let (code, text) = push(&second, "gke", Some(&token), &envelope(&format!("m{i}"), e));
        assert_eq!(code, 200, "{text}");
    }
    let got = wait_for_alerts(&rx, &want, Duration::from_secs(120));
    assert_alerts_once(&got, &want, &second.log());
}
