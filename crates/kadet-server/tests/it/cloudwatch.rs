//! `cloudwatch` sources (EKS), through the real binary, against a real
//! CloudWatch Logs API: moto in server mode. Events go into two
//! `kube-apiserver-audit-*` streams (one created while kadet reads) in
//! small puts while kadet reads; kadet is killed with `kill -9` mid-stream
//! and restarted. Every event must then give its alerts exactly once, the
//! alerts of `kadet scan` over the same events.

use crate::common::moto::{cloudwatch, put_log_events, Moto, EKS_GROUP as GROUP};
use crate::common::*;
use aws_sdk_cloudwatchlogs::Client;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn put(c: &Client, stream: &str, events: &[String]) {
    put_log_events(c, stream, events).await
}

fn events() -> Vec<String> {
    token_requests_among_reads(1200)
}

fn config(dir: &Path) -> std::path::PathBuf {
    plain_config(
        dir,
        "\n[[sources]]\nname = \"eks\"\ntype = \"cloudwatch\"\ncluster = \"eks-prod\"\n\
         start = \"oldest\"\npoll_interval_ms = 100\ndiscover_interval_secs = 1\n",
    )
}

fn records_read(s: &Server) -> f64 {
    reqwest::blocking::Client::new()
        .get(s.url("/metrics"))
        .send()
        .and_then(|r| r.text())
        .ok()
        .and_then(|t| metric(&t, "kadet_source_records_total{source=\"eks\"}"))
        .unwrap_or(0.0)
}

#[test]
fn kill_9_mid_stream_then_every_event_alerts_once_as_scan_does() {
    let moto = Moto::start();
    let rt = runtime();
    let c = rt.block_on(cloudwatch(&moto));
    rt.block_on(c.create_log_group().log_group_name(GROUP).send())
        .unwrap();
    let evs = events();
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.jsonl");
    std::fs::write(
        &all,
        evs.iter().map(|e| format!("{e}\n")).collect::<String>(),
    )
    .unwrap();
    let want: BTreeSet<String> = scan_ids_in_cluster(&all, "eks-prod").into_iter().collect();
    assert!(
        want.len() > 10,
        "the events should give alerts: {}",
        want.len()
    );

    // Half of the events before kadet starts, in the first stream.
    let (first, second) = evs.split_at(evs.len() / 2);
    for chunk in first.chunks(100) {
        rt.block_on(put(&c, "kube-apiserver-audit-aaa", chunk));
    }
    let cfg = config(dir.path());
    let env: Vec<(&str, String)> = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start_with(&cfg, dir.path(), &env, None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while records_read(&server) < 1.0 {
        assert!(Instant::now() < deadline, "nothing read:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The rest in a new stream, in small puts, with a kill -9 among them.
    let (during, after) = second.split_at(second.len() / 2);
    for chunk in during.chunks(50) {
        rt.block_on(put(&c, "kube-apiserver-audit-bbb", chunk));
        std::thread::sleep(Duration::from_millis(30));
    }
    server.kill9();
    assert!(
        dir.path().join("state/sources/eks.json").exists(),
        "a checkpoint should have been written"
    );
    for chunk in after.chunks(50) {
        rt.block_on(put(&c, "kube-apiserver-audit-bbb", chunk));
    }
    let server = Server::start_with(&cfg, dir.path(), &env, None);
    let http = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut got;
    loop {
        let _ = wait_idle(&http, &server, None);
        got = ids_of(&std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap_or_default());
        let have: BTreeSet<String> = got.iter().cloned().collect();
        if have.len() >= want.len() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    server.terminate();
    let got = ids_of(&std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap());
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(got.len(), unique.len(), "an alert was raised twice");
    assert_eq!(unique, want);
}

#[test]
fn check_config_reaches_the_log_group_and_names_what_is_wrong() {
    let moto = Moto::start();
    let rt = runtime();
    let c = rt.block_on(cloudwatch(&moto));
    rt.block_on(c.create_log_group().log_group_name(GROUP).send())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let run = |cfg: &Path| {
        let mut cmd = std::process::Command::new(kadet_bin());
        cmd.args(["serve", "--check-config", "--config"]).arg(cfg);
        for (k, v) in moto.env() {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let ok = run(&cfg);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        out.contains("source eks (log group /aws/eks/eks-prod/cluster readable)"),
        "{out}"
    );
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("eks-prod", "no-such-cluster");
    std::fs::write(&cfg, text).unwrap();
    let bad = run(&cfg);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{err}");
    assert!(err.contains("sources \"eks\": cannot reach it"), "{err}");
    assert!(err.contains("ResourceNotFound"), "{err}");
}
