//! The NATS JetStream features the cluster mode of `kadet serve` builds on,
//! each one a short example of the async-nats API run against a real
//! `nats-server` (2.9.10 on CI) that the test starts (`common::nats`):
//!
//! a. a file-backed stream with a duplicate window: a message id published
//!    twice is stored once;
//! b. a durable pull consumer shared by two clients: explicit acks,
//!    redelivery after `ack_wait`, the max-deliveries advisory;
//! c. consumer info for lag and backpressure;
//! d. an ordered consumer reading a stream from a sequence;
//! e. a KV bucket: create, compare-and-set, revisions, delete/purge, keys,
//!    expiry by `max_age`;
//! f. a 3-node cluster with R3 stream, consumer and KV surviving kill -9;
//! g. one server stopped and restarted: what survives, what a publish does
//!    meanwhile, how the client reconnects.
//!
//! Lines starting `timing:` are measurements (run with `--nocapture`);
//! docs/internal/jetstream-notes.md records them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::nats::{NatsCluster, NatsServer};
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, kv, stream, Context, Message};
use async_nats::{ConnectOptions, Event};
use futures_util::{StreamExt, TryStreamExt};

/// A file-backed stream over `<subject>.>` with a 2-minute duplicate window.
fn stream_config(name: &str, subject: &str, replicas: usize) -> stream::Config {
    stream::Config {
        name: name.to_string(),
        subjects: vec![format!("{subject}.>")],
        storage: stream::StorageType::File,
        num_replicas: replicas,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    }
}

/// Publishes with a `Nats-Msg-Id` header and waits for the PubAck.
async fn publish_with_id(
    js: &Context,
    subject: &str,
    id: &str,
    payload: &str,
) -> Result<jetstream::publish::PublishAck, async_nats::jetstream::context::PublishError> {
    let publish = PublishMessage::build()
        .message_id(id)
        .payload(payload.to_string().into());
    js.send_publish(subject.to_string(), publish).await?.await
}

/// The next message of a pull consumer, waiting up to `wait` for one.
async fn next_message(consumer: &PullConsumer, wait: Duration) -> Option<Message> {
    let mut batch = consumer
        .batch()
        .max_messages(1)
        .expires(wait)
        .messages()
        .await
        .expect("pull request");
    batch.next().await.map(|m| m.expect("pulled message"))
}

/// A client that retries the connection every 100 ms once it is lost
/// (the default backs off up to 4 s).
async fn connect(urls: Vec<String>) -> async_nats::Client {
    ConnectOptions::new()
        .reconnect_delay_callback(|_attempts| Duration::from_millis(100))
        .connect(urls)
        .await
        .expect("connecting to nats-server")
}

/// Creates a KV bucket as `Context::create_key_value` would, minus its
/// account-info request: async-nats 0.51 cannot parse server 2.9's account
/// info (no `reserved_memory`), so `create_key_value` fails there. A bucket
/// is a stream `KV_<bucket>` over `$KV.<bucket>.>` keeping `history`
/// messages per key, with rollups (purge), no message deletes, direct gets
/// and discard-new; `get_key_value` then binds to it.
async fn create_kv(js: &Context, config: kv::Config) -> kv::Store {
    js.create_stream(stream::Config {
        name: format!("KV_{}", config.bucket),
        description: Some(config.description.clone()),
        subjects: vec![format!("$KV.{}.>", config.bucket)],
        max_messages_per_subject: config.history.max(1),
        max_age: config.max_age,
        max_bytes: config.max_bytes,
        max_message_size: config.max_value_size,
        storage: config.storage,
        num_replicas: config.num_replicas.max(1),
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .expect("create the bucket's stream");
    js.get_key_value(&config.bucket)
        .await
        .expect("bind to the bucket")
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() - 1) * p / 100]
}

/// Publishes `n` messages one at a time, each waiting for its PubAck, and
/// returns the p50 and p99 latencies.
async fn ack_latency(js: &Context, subject: &str, n: usize) -> (Duration, Duration) {
    let mut took = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        publish_with_id(js, subject, &format!("lat-{i}"), "x")
            .await
            .expect("publish");
        took.push(t.elapsed());
    }
    took.sort();
    (percentile(&took, 50), percentile(&took, 99))
}

/// a: create the stream, publish one id twice, see it stored once.
async fn publish_twice_stored_once(js: &Context, replicas: usize) -> stream::Stream {
    let mut stream = js
        .create_stream(stream_config("EVENTS", "events", replicas))
        .await
        .expect("create stream");
    let config = &stream.cached_info().config;
    assert_eq!(config.num_replicas, replicas);
    assert_eq!(config.duplicate_window, Duration::from_secs(120));

    let first = publish_with_id(js, "events.batch", "batch-1", "hello")
        .await
        .unwrap();
    assert!(!first.duplicate);
    let second = publish_with_id(js, "events.batch", "batch-1", "hello")
        .await
        .unwrap();
    assert!(second.duplicate, "same Nats-Msg-Id within the window");
    assert_eq!(
        second.sequence, first.sequence,
        "the ack names the stored copy"
    );
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_id_published_twice_is_stored_once() {
    let _serial = crate::one_at_a_time_async().await;
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let client = connect(vec![server.url()]).await;
    assert!(client.server_info().jetstream);
    let js = jetstream::new(client.clone());

    publish_twice_stored_once(&js, 1).await;

    // Limits: 1 MiB payload (headers included) by default, checked by the
    // client before sending.
    assert_eq!(client.server_info().max_payload, 1024 * 1024);
    let too_big = vec![b'x'; 1024 * 1024 + 1];
    let err = js
        .publish("events.big", too_big.into())
        .await
        .expect_err("over max_payload");
    assert_eq!(err.kind(), PublishErrorKind::MaxPayloadExceeded);

    let (p50, p99) = ack_latency(&js, "events.latency", 500).await;
    println!("timing: single node R1 file publish+ack: p50 {p50:?} p99 {p99:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_durable_pull_consumer_shared_redelivered_and_max_deliver_advised() {
    let _serial = crate::one_at_a_time_async().await;
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let client = connect(vec![server.url()]).await;
    let js = jetstream::new(client.clone());
    let stream = js
        .create_stream(stream_config("JOBS", "jobs", 1))
        .await
        .unwrap();
    publish_with_id(&js, "jobs.a", "job-1", "one")
        .await
        .unwrap();
    publish_with_id(&js, "jobs.a", "job-2", "two")
        .await
        .unwrap();

    stream
        .create_consumer(pull::Config {
            durable_name: Some("workers".to_string()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(1),
            max_deliver: 2,
            ..Default::default()
        })
        .await
        .unwrap();

    // The server announces a message that reached max_deliver on this
    // subject; subscribe before it can happen (core NATS: no replay).
    let mut advisories = client
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.workers")
        .await
        .unwrap();

    // Two workers, each its own connection, bound to the same durable: the
    // server hands each pull a different message.
    let worker = |url: String| async move {
        let js = jetstream::new(connect(vec![url]).await);
        let stream = js.get_stream("JOBS").await.unwrap();
        stream
            .get_consumer::<pull::Config>("workers")
            .await
            .unwrap()
    };
    let worker_a = worker(server.url()).await;
    let worker_b = worker(server.url()).await;
    let wait = Duration::from_secs(5);
    let a = next_message(&worker_a, wait)
        .await
        .expect("a message for a");
    let b = next_message(&worker_b, wait)
        .await
        .expect("a message for b");
    let b_delivered = Instant::now();
    let (a_seq, b_seq) = (
        a.info().unwrap().stream_sequence,
        b.info().unwrap().stream_sequence,
    );
    assert_ne!(a_seq, b_seq);
    assert_eq!(a.info().unwrap().delivered, 1);
    a.double_ack().await.unwrap(); // double_ack: waits for the server's confirmation

    // b is never acked: after ack_wait it is delivered again, to any worker,
    // with the delivery count in its info.
    let again = next_message(&worker_a, wait).await.expect("redelivery");
    let info = again.info().unwrap();
    assert_eq!(info.stream_sequence, b_seq);
    assert_eq!(info.delivered, 2);
    let redelivered_after = b_delivered.elapsed();
    assert!(redelivered_after >= Duration::from_millis(800));
    println!("timing: redelivered after {redelivered_after:?} (ack_wait 1 s)");

    // Not acked again: max_deliver (2) is reached, the message is not
    // delivered a third time, and the advisory names its stream sequence.
    // Server 2.9 only notices while a pull request is waiting when ack_wait
    // runs out (no pull, no advisory: the message just stays ack-pending),
    // so keep one open.
    let advisory = tokio::select! {
        m = next_message(&worker_b, Duration::from_secs(10)) => {
            panic!("delivered past max_deliver, or no advisory: {:?}", m.map(|m| m.info().unwrap().delivered))
        }
        a = advisories.next() => a.expect("advisory subscription"),
    };
    let advisory: serde_json::Value = serde_json::from_slice(&advisory.payload).unwrap();
    assert_eq!(
        advisory["type"],
        "io.nats.jetstream.advisory.v1.max_deliver"
    );
    assert_eq!(advisory["stream"], "JOBS");
    assert_eq!(advisory["consumer"], "workers");
    assert_eq!(advisory["stream_seq"].as_u64(), Some(b_seq));
    assert_eq!(advisory["deliveries"].as_u64(), Some(2));
    println!(
        "timing: max_deliver advisory {:?} after the first delivery",
        b_delivered.elapsed()
    );
    assert!(next_message(&worker_a, Duration::from_secs(1))
        .await
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_consumer_info_gives_pending_ack_pending_and_redelivered() {
    let _serial = crate::one_at_a_time_async().await;
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let js = jetstream::new(connect(vec![server.url()]).await);
    let stream = js
        .create_stream(stream_config("LAG", "lag", 1))
        .await
        .unwrap();
    for i in 0..10 {
        publish_with_id(&js, "lag.x", &format!("m{i}"), "m")
            .await
            .unwrap();
    }
    let mut consumer: PullConsumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("lag".to_string()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(1),
            ..Default::default()
        })
        .await
        .unwrap();

    let info = consumer.info().await.unwrap();
    // num_pending: in the stream, not yet delivered (the lag).
    assert_eq!(
        (info.num_pending, info.num_ack_pending, info.num_redelivered),
        (10, 0, 0)
    );

    let fetched: Vec<Message> = consumer
        .batch()
        .max_messages(4)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(fetched.len(), 4);
    fetched[0].double_ack().await.unwrap();
    let info = consumer.info().await.unwrap();
    // num_ack_pending: delivered, not yet acked (in flight: backpressure).
    assert_eq!(
        (info.num_pending, info.num_ack_pending, info.num_redelivered),
        (6, 3, 0)
    );
    assert_eq!(info.ack_floor.stream_sequence, 1);
    assert_eq!(info.delivered.stream_sequence, 4);

    // The 3 unacked come back once ack_wait has passed (a pull before that
    // would get the next new messages); num_redelivered counts the unacked
    // messages delivered more than once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again: Vec<Message> = consumer
        .batch()
        .max_messages(3)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(again.len(), 3);
    let seqs: Vec<(u64, i64)> = again
        .iter()
        .map(|m| {
            let info = m.info().unwrap();
            (info.stream_sequence, info.delivered)
        })
        .collect();
    assert_eq!(seqs, [(2, 2), (3, 2), (4, 2)]);
    let info = consumer.info().await.unwrap();
    assert_eq!(
        (info.num_pending, info.num_ack_pending, info.num_redelivered),
        (6, 3, 3)
    );
    for m in &again {
        m.double_ack().await.unwrap();
    }
    let info = consumer.info().await.unwrap();
    assert_eq!(
        (info.num_pending, info.num_ack_pending, info.num_redelivered),
        (6, 0, 0)
    );
    assert_eq!(info.ack_floor.stream_sequence, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d_ordered_consumer_reads_from_a_sequence_in_order() {
    let _serial = crate::one_at_a_time_async().await;
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let js = jetstream::new(connect(vec![server.url()]).await);
    let stream = js
        .create_stream(stream_config("LOG", "log", 1))
        .await
        .unwrap();
    for i in 1..=20 {
        publish_with_id(&js, "log.x", &format!("e{i}"), &i.to_string())
            .await
            .unwrap();
    }

    // Ordered pull consumer: ephemeral, no acks, recreated by the client
    // from the last sequence it saw if it misses one.
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 11 },
            ..Default::default()
        })
        .await
        .unwrap();
    let read: Vec<(u64, String)> = consumer
        .messages()
        .await
        .unwrap()
        .take(10)
        .map(|m| {
            let m = m.unwrap();
            let seq = m.info().unwrap().stream_sequence;
            (seq, String::from_utf8(m.payload.to_vec()).unwrap())
        })
        .collect()
        .await;
    let expected: Vec<(u64, String)> = (11..=20).map(|i| (i, i.to_string())).collect();
    assert_eq!(read, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_kv_create_compare_and_set_revisions_delete_keys_and_expiry() {
    let _serial = crate::one_at_a_time_async().await;
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let client = connect(vec![server.url()]).await;
    let js = jetstream::new(client.clone());
    let config = kv::Config {
        bucket: "state".to_string(),
        history: 5,
        storage: stream::StorageType::File,
        num_replicas: 1,
        ..Default::default()
    };
    // create_key_value first asks for the account info, which async-nats
    // 0.51 cannot parse from server 2.9 (it lacks `reserved_memory`).
    let created = js.create_key_value(config.clone()).await;
    if client.server_info().version.starts_with("2.9.") {
        let err = created.expect_err("async-nats 0.51 on server 2.9");
        assert_eq!(
            err.kind(),
            async_nats::jetstream::context::CreateKeyValueErrorKind::JetStream
        );
        assert!(js.query_account().await.is_err());
    } else {
        created.expect("create_key_value on server 2.10+");
        js.delete_key_value("state").await.unwrap();
    }
    let kv = create_kv(&js, config).await;

    // create: only when the key does not exist.
    let rev1 = kv.create("shard.0", "owner-a".into()).await.unwrap();
    let err = kv.create("shard.0", "owner-b".into()).await.unwrap_err();
    assert_eq!(err.kind(), kv::CreateErrorKind::AlreadyExists);

    // update: compare-and-set on the revision.
    let rev2 = kv.update("shard.0", "owner-b".into(), rev1).await.unwrap();
    let err = kv
        .update("shard.0", "owner-c".into(), rev1)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), kv::UpdateErrorKind::WrongLastRevision);

    let entry = kv.entry("shard.0").await.unwrap().expect("entry");
    assert_eq!(
        (entry.revision, &entry.value[..], entry.operation),
        (rev2, &b"owner-b"[..], kv::Operation::Put)
    );
    let old = kv.entry_for_revision("shard.0", rev1).await.unwrap();
    assert_eq!(&old.expect("history 5 keeps it").value[..], b"owner-a");

    kv.put("shard.1", "owner-a".into()).await.unwrap();
    kv.put("shard.2", "owner-a".into()).await.unwrap();
    let mut keys: Vec<String> = kv.keys().await.unwrap().try_collect().await.unwrap();
    keys.sort();
    assert_eq!(keys, ["shard.0", "shard.1", "shard.2"]);

    // delete: a tombstone (history kept); purge: a tombstone that drops the
    // key's history. Both hide the key from get and keys; create works again.
    kv.delete("shard.1").await.unwrap();
    let tomb = kv.entry("shard.1").await.unwrap().expect("tombstone");
    assert_eq!(tomb.operation, kv::Operation::Delete);
    assert_eq!(kv.get("shard.1").await.unwrap(), None);
    kv.purge("shard.2").await.unwrap();
    let history: Vec<kv::Entry> = kv
        .history("shard.2")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].operation, kv::Operation::Purge);
    let keys: Vec<String> = kv.keys().await.unwrap().try_collect().await.unwrap();
    assert_eq!(keys, ["shard.0"]);
    kv.create("shard.1", "owner-b".into()).await.unwrap();

    // max_age: every value expires that long after it was written (bucket
    // wide; a per-key TTL needs server 2.11).
    let leases = create_kv(
        &js,
        kv::Config {
            bucket: "leases".to_string(),
            history: 1,
            max_age: Duration::from_secs(1),
            storage: stream::StorageType::File,
            ..Default::default()
        },
    )
    .await;
    leases.put("node.a", "alive".into()).await.unwrap();
    let written = Instant::now();
    assert!(leases.get("node.a").await.unwrap().is_some());
    while leases.get("node.a").await.unwrap().is_some() {
        assert!(written.elapsed() < Duration::from_secs(15), "never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let expired_after = written.elapsed();
    assert!(expired_after >= Duration::from_millis(900));
    println!("timing: KV value with max_age 1 s gone after {expired_after:?}");
}

/// Publishes with the same message id until a PubAck comes back; returns
/// the time it took and how often each error kind came meanwhile.
async fn publish_until_acked(js: &Context, id: &str) -> (Duration, BTreeMap<String, usize>) {
    let start = Instant::now();
    let mut errors = BTreeMap::new();
    loop {
        match publish_with_id(js, "events.failover", id, "x").await {
            Ok(_) => return (start.elapsed(), errors),
            Err(err) => *errors.entry(format!("{:?}", err.kind())).or_insert(0) += 1,
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{errors:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f_cluster_r3_survives_kill_9_of_a_node() {
    let _serial = crate::one_at_a_time_async().await;
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut cluster = NatsCluster::start(dir.path(), 3);
    println!("timing: 3-node cluster ready in {:?}", started.elapsed());
    // All URLs: the client fails over to any live node.
    let client = connect(cluster.urls()).await;
    // A 2 s bound on API requests and PubAcks so that retries come quickly.
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .build(client.clone());

    let mut stream = publish_twice_stored_once(&js, 3).await;
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("workers".to_string()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(5),
            ..Default::default() // num_replicas 0: as many as the stream
        })
        .await
        .unwrap();
    let kv = create_kv(
        &js,
        kv::Config {
            bucket: "state".to_string(),
            history: 5,
            num_replicas: 3,
            storage: stream::StorageType::File,
            ..Default::default()
        },
    )
    .await;
    let rev = kv.create("shard.0", "owner-a".into()).await.unwrap();
    let (p50, p99) = ack_latency(&js, "events.latency", 300).await;
    println!("timing: 3-node R3 file publish+ack: p50 {p50:?} p99 {p99:?}");

    // kill -9 the stream's leader; publishing resumes once the two others
    // elect a new one.
    let cluster_info = stream.info().await.unwrap().cluster.clone().unwrap();
    assert_eq!(cluster_info.replicas.len(), 2, "R3: leader and 2 replicas");
    let leader = cluster_info.leader.expect("stream leader");
    let victim = cluster.index_of(&leader).unwrap();
    let connected_to = client.server_info().server_name;
    tokio::task::block_in_place(|| cluster.kill9(victim));
    // Until then a publish gets "no responders" at once, which async-nats
    // reports as StreamNotFound: retry it (same id) during a failover.
    let (took, errors) = publish_until_acked(&js, "after-kill").await;
    println!(
        "timing: stream leader {leader} killed (client was on {connected_to}): \
         publish acked again after {took:?}; errors meanwhile {errors:?}"
    );
    let now = stream.info().await.unwrap().cluster.clone().unwrap();
    assert_ne!(now.leader.as_deref(), Some(leader.as_str()));

    // The consumer and the KV bucket are raft groups of their own, each
    // electing its leader on its own: until then pulls get nothing and KV
    // writes fail like the publishes above.
    let (_, took) = wait_for_leader("consumer", &leader, || async {
        let info = stream.consumer_info("workers").await.ok()?;
        info.cluster?.leader
    })
    .await;
    println!("timing: consumer leader known {took:?} after the first PubAck");
    let (_, took) = wait_for_leader("KV bucket", &leader, || async {
        let kv_stream = js.get_stream("KV_state").await.ok()?;
        kv_stream.cached_info().cluster.clone()?.leader
    })
    .await;
    println!("timing: KV stream leader known {took:?} after that");

    // Fetching and the KV work on the two survivors.
    let mut got = 0;
    while let Some(m) = next_message(&consumer, Duration::from_secs(5)).await {
        m.double_ack().await.unwrap();
        got += 1;
        if got == 302 {
            break;
        }
    }
    assert_eq!(got, 302, "batch-1, 300 latency probes, after-kill");
    let rev2 = kv.update("shard.0", "owner-b".into(), rev).await.unwrap();
    let err = kv
        .update("shard.0", "owner-c".into(), rev)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), kv::UpdateErrorKind::WrongLastRevision);

    // Back in with its store: its stream replicas catch up (stream info
    // lists it as a current replica again).
    let started = Instant::now();
    tokio::task::block_in_place(|| cluster.restart(victim));
    let serving = started.elapsed();
    for name in ["EVENTS", "KV_state"] {
        wait_for_current_replica(&js, name, &leader).await;
    }
    println!(
        "timing: killed node serving again in {serving:?}, its stream replicas current after {:?}",
        started.elapsed()
    );
    let entry = kv.entry("shard.0").await.unwrap().unwrap();
    assert_eq!(entry.revision, rev2);

    // kill -9 the meta leader: stream and consumer creation (meta
    // operations) wait for a new one.
    let meta = tokio::task::block_in_place(|| cluster.wait_meta_leader());
    let victim = cluster.index_of(&meta).unwrap();
    let killed = Instant::now();
    tokio::task::block_in_place(|| cluster.kill9(victim));
    loop {
        match js.create_stream(stream_config("AFTER", "after", 3)).await {
            Ok(_) => break,
            Err(err) => assert!(killed.elapsed() < Duration::from_secs(60), "{err}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "timing: meta leader {meta} killed: an R3 stream created again after {:?}",
        killed.elapsed()
    );
}

/// Polls `leader` (a raft group's current leader, `None` when unknown or
/// unreachable) until it names a node other than `killed`; returns it and
/// the time it took.
async fn wait_for_leader<F, Fut>(what: &str, killed: &str, mut leader: F) -> (String, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let start = Instant::now();
    loop {
        if let Some(name) = leader().await.filter(|name| name != killed) {
            return (name, start.elapsed());
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what}: no new leader"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls the stream's info until `node` is its leader or a current replica.
async fn wait_for_current_replica(js: &Context, stream: &str, node: &str) {
    let start = Instant::now();
    loop {
        if let Ok(s) = js.get_stream(stream).await {
            if let Some(cluster) = &s.cached_info().cluster {
                let leads = cluster.leader.as_deref() == Some(node);
                if leads || cluster.replicas.iter().any(|r| r.name == node && r.current) {
                    return;
                }
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{stream}: {node} never current"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (10 s at most) for the first connection event matching `wanted`,
/// skipping others.
async fn wait_event(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    wanted: fn(&Event) -> bool,
) -> Event {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = events.recv().await.expect("event channel open");
            if wanted(&event) {
                return event;
            }
        }
    })
    .await
    .expect("connection event in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g_single_node_restart_keeps_acked_messages_and_the_client_reconnects() {
    let _serial = crate::one_at_a_time_async().await;
    use async_nats::connection::State;

    let dir = tempfile::tempdir().unwrap();
    let mut server = NatsServer::start(dir.path());

    // Connection events arrive through a callback; connection_state() is
    // the synchronous view (Connected / Disconnected / Pending).
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let client = ConnectOptions::new()
        .reconnect_delay_callback(|_attempts| Duration::from_millis(100))
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event);
            }
        })
        .connect(server.url())
        .await
        .unwrap();
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_millis(500))
        .build(client.clone());
    let mut stream = js
        .create_stream(stream_config("EVENTS", "events", 1))
        .await
        .unwrap();
    for i in 0..10 {
        publish_with_id(&js, "events.x", &format!("m{i}"), "acked")
            .await
            .unwrap();
    }
    let mut consumer: PullConsumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("workers".to_string()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();

    // nats-server exits with status 1 after a clean SIGTERM shutdown.
    tokio::task::block_in_place(|| server.stop()).expect("was running");
    assert!(server.log().contains("Server Exiting.."));
    wait_event(&mut events, |e| matches!(e, Event::Disconnected)).await;
    assert_eq!(client.connection_state(), State::Disconnected);

    // While down: the publish is queued in the client and its PubAck times
    // out after the context timeout (500 ms here, 5 s by default).
    let started = Instant::now();
    let err = publish_with_id(&js, "events.x", "while-down", "maybe")
        .await
        .unwrap_err();
    let failed_after = started.elapsed();
    assert_eq!(err.kind(), PublishErrorKind::TimedOut);
    println!("timing: publish while the server is down: {err:?} after {failed_after:?}");

    let started = Instant::now();
    tokio::task::block_in_place(|| server.restart());
    let restarted = started.elapsed();
    wait_event(&mut events, |e| matches!(e, Event::Connected)).await;
    assert_eq!(client.connection_state(), State::Connected);
    println!(
        "timing: SIGTERM'd server ready again (same store) in {restarted:?}, \
         client reconnected {:?} after that",
        started.elapsed() - restarted
    );

    // The 10 acked messages survived. The timed-out publish may still have
    // gone out on reconnect: a retry with the same id stores it once anyway.
    let before_retry = stream.info().await.unwrap().state.messages;
    let retry = publish_with_id(&js, "events.x", "while-down", "maybe")
        .await
        .unwrap();
    println!(
        "fact: after reconnect the stream held {before_retry} messages; \
         retry of the timed-out id: duplicate = {}",
        retry.duplicate
    );
    assert!(before_retry == 10 || (before_retry == 11 && retry.duplicate));
    assert_eq!(stream.info().await.unwrap().state.messages, 11);

    // kill -9 keeps acked messages too: the file store has written each one
    // to the OS before the PubAck (fsync is periodic, so only a machine crash
    // could lose the latest). A consumer's acks are written a little later:
    // kill -9 right after them can lose them, and the messages come again
    // after ack_wait (at-least-once: processing must be idempotent).
    let acked: Vec<Message> = consumer
        .batch()
        .max_messages(3)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    for m in &acked {
        m.double_ack().await.unwrap();
    }
    tokio::task::block_in_place(|| {
        server.kill9();
        server.restart();
    });
    wait_event(&mut events, |e| matches!(e, Event::Connected)).await;
    let mut stream = js.get_stream("EVENTS").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 11);
    let info = consumer.info().await.unwrap();
    let acks_kept = info.ack_floor.stream_sequence == 3;
    assert!(acks_kept || info.num_ack_pending == 3, "{info:?}");
    assert_eq!(info.delivered.stream_sequence, 3);
    println!("fact: acks sent just before kill -9 survived: {acks_kept}");
}

/// Pulls and acks (double ack) until `n` messages came or a pull brings
/// nothing; returns how many came.
async fn drain(consumer: &PullConsumer, n: usize) -> usize {
    let mut got = 0;
    while got < n {
        let batch = consumer
            .batch()
            .max_messages(100)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .unwrap();
        let messages: Vec<Message> = batch.filter_map(|m| async { m.ok() }).collect().await;
        if messages.is_empty() {
            break;
        }
        for m in &messages {
            m.double_ack().await.unwrap();
        }
        got += messages.len();
    }
    got
}

/// Server 2.9.10 fails this in about one round in two: after kill -9 of a
/// durable consumer's leader, acks on its new leader and a restart of the
/// killed node, that node's replica of the consumer stays "not current"
/// (its `/healthz` said so for 150 s and more, new acks or not, and its
/// `/jsz` showed the consumer at delivered 0, ack floor 0). Run it with
/// `--ignored` against a newer server before relying on `/healthz` or on
/// that replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fails on nats-server 2.9.10 (restarted consumer replica stays not current)"]
async fn h_restarted_node_consumer_replica_becomes_current() {
    let _serial = crate::one_at_a_time_async().await;
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let mut cluster = NatsCluster::start(dir.path(), 3);
        let client = connect(cluster.urls()).await;
        let js = jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(2))
            .build(client);
        let stream = js
            .create_stream(stream_config("EVENTS", "events", 3))
            .await
            .unwrap();
        let consumer: PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some("workers".to_string()),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 0..300 {
            publish_with_id(&js, "events.x", &format!("m{i}"), "x")
                .await
                .unwrap();
        }
        // kill -9 the consumer's leader.
        let info = stream.consumer_info("workers").await.unwrap();
        let leader = info.cluster.unwrap().leader.unwrap();
        let victim = cluster.index_of(&leader).unwrap();
        tokio::task::block_in_place(|| cluster.kill9(victim));
        publish_until_acked(&js, "after-kill").await;
        wait_for_leader("consumer", &leader, || async {
            stream.consumer_info("workers").await.ok()?.cluster?.leader
        })
        .await;
        assert_eq!(drain(&consumer, 301).await, 301);
        tokio::task::block_in_place(|| cluster.restart(victim));
        let (healthy, last) =
            tokio::task::block_in_place(|| cluster.wait_healthy(victim, Duration::from_secs(20)));
        assert!(
            healthy,
            "round {round}: {leader} restarted, /healthz: {last}"
        );
    }
}
