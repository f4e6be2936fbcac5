//! `kafka` sources (AKS through Event Hubs' Kafka endpoint, or any Kafka
//! topic), through the real binary, against a real Kafka-protocol broker:
//! tansu, in memory. AKS diagnostic batches (`{"records": [...]}`) and raw
//! events go to a topic while kadet reads (under one key, so to one
//! partition, in event-time order as `kadet scan` reads the file: across
//! partitions, order is only as good as the lateness allowed); kadet is
//! killed with `kill -9` mid-stream and restarted. Every message must then
//! give its alerts exactly once, the alerts of `kadet scan` over the same
//! messages.

use crate::common::tansu::Tansu;
use crate::common::*;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

const TOPIC: &str = "aks-audit";
const RESOURCE: &str = "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-PROD";

/// Messages: every third a raw audit event, the others AKS diagnostic
/// batches of four events each.
fn messages() -> Vec<String> {
    let events: Vec<serde_json::Value> = (0..1200u64)
        .map(|i| {
            let t = ts(i * 9, i % 1000);
            if i % 4 == 0 {
                let user = format!("aks-user-{}", (i / 4) % 5);
                token_event(i, &user, "default", &format!("sa{}", i % 3), &t)
            } else {
                benign_event(i, &t)
            }
        })
        .collect();
    let mut out = Vec::new();
    for (n, chunk) in events.chunks(4).enumerate() {
        if n % 3 == 0 {
            out.extend(chunk.iter().map(|e| e.to_string()));
        } else {
            let records: Vec<serde_json::Value> = chunk
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "time": e["stageTimestamp"], "resourceId": RESOURCE, "category": "kube-audit",
                        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
                        "properties": { "log": e.to_string(), "stream": "stdout", "pod": "kube-apiserver-0" },
                    })
                })
                .collect();
            out.push(serde_json::json!({ "records": records }).to_string());
        }
    }
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn create_topic(rt: &tokio::runtime::Runtime, broker: &str) {
    let admin: AdminClient<_> = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .create()
        .unwrap();
    let topic = NewTopic::new(TOPIC, 3, TopicReplication::Fixed(1));
    let done = rt
        .block_on(admin.create_topics([&topic], &AdminOptions::new()))
        .unwrap();
    for r in done {
        r.unwrap();
    }
}

fn producer(broker: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("message.timeout.ms", "10000")
        .create()
        .unwrap()
}

fn produce(rt: &tokio::runtime::Runtime, p: &FutureProducer, msgs: &[String]) {
    for m in msgs {
        rt.block_on(p.send(
            FutureRecord::to(TOPIC).key("aks-prod").payload(m),
            Duration::from_secs(10),
        ))
        .map_err(|(e, _)| e)
        .unwrap();
    }
}

fn config(dir: &Path, broker: &str) -> std::path::PathBuf {
    plain_config(
        dir,
        &format!(
            "\n[[sources]]\nname = \"aks\"\ntype = \"kafka\"\ncluster = \"aks-prod\"\n\
             brokers = [\"{broker}\"]\ntopics = [\"{TOPIC}\"]\nstart = \"oldest\"\n"
        ),
    )
}

fn records_read(s: &Server) -> f64 {
    reqwest::blocking::Client::new()
        .get(s.url("/metrics"))
        .send()
        .and_then(|r| r.text())
        .ok()
        .and_then(|t| metric(&t, "kadet_source_records_total{source=\"aks\"}"))
        .unwrap_or(0.0)
}

#[test]
fn kill_9_mid_stream_then_every_message_alerts_once_as_scan_does() {
    let tansu = Tansu::start();
    let rt = runtime();
    create_topic(&rt, &tansu.broker);
    let msgs = messages();
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.jsonl");
    std::fs::write(
        &all,
        msgs.iter().map(|m| format!("{m}\n")).collect::<String>(),
    )
    .unwrap();
    let want: BTreeSet<String> = scan_ids_in_cluster(&all, "aks-prod").into_iter().collect();
    assert!(
        want.len() > 10,
        "the messages should give alerts: {}",
        want.len()
    );

    let p = producer(&tansu.broker);
    let (first, rest) = msgs.split_at(msgs.len() / 3);
    produce(&rt, &p, first);
    let cfg = config(dir.path(), &tansu.broker);
    let server = Server::start(&cfg, dir.path());
    let deadline = Instant::now() + Duration::from_secs(60);
    while records_read(&server) < 1.0 {
        assert!(Instant::now() < deadline, "nothing read:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let (during, after) = rest.split_at(rest.len() / 2);
    for chunk in during.chunks(20) {
        produce(&rt, &p, chunk);
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill9();
    produce(&rt, &p, after);
    let server = Server::start(&cfg, dir.path());
    let http = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let _ = wait_idle(&http, &server, None);
        let got =
            ids_of(&std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap_or_default());
        let have: BTreeSet<String> = got.into_iter().collect();
        if have.len() >= want.len() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let read_after_restart = records_read(&server);
    let log = server.log();
    server.terminate();
    eprintln!(
        "records read after the restart: {read_after_restart}; messages: {}\n{log}",
        msgs.len()
    );
    let got = ids_of(&std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap());
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(got.len(), unique.len(), "an alert was raised twice");
    assert_eq!(unique, want);
}
