//! The cluster's alert state in JetStream KV against a real `nats-server`:
//! two appliers that both believe they hold the lease (one was paused past
//! it) must never leave a state that cannot be read, and the paused one must
//! not overwrite the state of the one that took over.

use crate::common::nats::NatsServer;
use kadet_server::cluster::state::{self, Body, SaveError};
use kadet_server::cluster::{ClusterConfig, Nats};

fn cluster(url: &str) -> ClusterConfig {
    toml::from_str(&format!("nats_url = {url:?}\nreplicas = 1\n")).expect("config")
}

fn body(tag: &str) -> Body {
    Body {
        windows: vec![tag.to_string()],
        buffered: Vec::new(),
    }
}

/// A NATS server (kept running while the returned guards live) and a
/// connection with kadet's streams and buckets created.
async fn start() -> (tempfile::TempDir, NatsServer, Nats) {
    let dir = tempfile::tempdir().unwrap();
    let server = tokio::task::spawn_blocking({
        let d = dir.path().to_path_buf();
        move || NatsServer::start(&d)
    })
    .await
    .unwrap();
    let nats = Nats::connect(&cluster(&server.url())).await.unwrap();
    nats.ensure(&[]).await.unwrap();
    (dir, server, nats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_paused_past_its_lease_cannot_break_or_overwrite_the_state() {
    let _serial = crate::one_at_a_time_async().await;
    let (_dir, _server, nats) = start().await;
    let kv = nats.state().await.unwrap();

    // A takes over and saves once.
    let mut a = state::load(&kv).await.unwrap();
    let a_token = state::applier_token();
    state::claim(&kv, &mut a, &a_token).await.unwrap();
    let mut a_header = a.header.clone();
    let a_rev = state::save(&kv, &mut a_header, &body("a1"), a.revision)
        .await
        .unwrap();

    // A pauses; its lease runs out and B takes over.
    let mut b = state::load(&kv).await.unwrap();
    assert_eq!(b.body.windows, vec!["a1".to_string()]);
    let b_token = state::applier_token();
    assert_ne!(a_token, b_token);
    state::claim(&kv, &mut b, &b_token).await.unwrap();

    // A wakes up and saves from the revision it knew: refused.
    let refused = state::save(&kv, &mut a_header, &body("a2"), a_rev).await;
    assert!(
        matches!(refused, Err(SaveError::Conflict)),
        "A's save passed"
    );

    // The state is whole: A's last accepted save, held by B.
    let now = state::load(&kv).await.unwrap();
    assert_eq!(now.body.windows, vec!["a1".to_string()]);
    assert_eq!(now.header.holder, b_token);

    // B saves on: accepted, and readable.
    let mut b_header = b.header.clone();
    state::save(&kv, &mut b_header, &body("b1"), b.revision)
        .await
        .unwrap();
    let now = state::load(&kv).await.unwrap();
    assert_eq!(now.body.windows, vec!["b1".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_save_deletes_none_of_the_accepted_chunks() {
    let _serial = crate::one_at_a_time_async().await;
    let (_dir, _server, nats) = start().await;
    let kv = nats.state().await.unwrap();

    // Both load the same revision (no claim between them): both write the
    // next generation's chunks, one header update wins.
    let first = state::load(&kv).await.unwrap();
    let mut a = first.header.clone();
    a.holder = state::applier_token();
    let mut b = first.header.clone();
    b.holder = state::applier_token();
    state::save(&kv, &mut a, &body("a"), first.revision)
        .await
        .unwrap();
    let refused = state::save(&kv, &mut b, &body("b"), first.revision).await;
    assert!(matches!(refused, Err(SaveError::Conflict)));
    let now = state::load(&kv).await.expect("the accepted state is whole");
    assert_eq!(now.body.windows, vec!["a".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_configuration_reaches_existing_streams_and_the_consumer() {
    let _serial = crate::one_at_a_time_async().await;
    let (_dir, server, _first) = start().await;
    // The same cluster started again with other settings.
    let text = format!(
        "nats_url = {:?}\nreplicas = 1\nduplicate_window_secs = 42\n\
         results_retention_secs = 7200\nack_wait_secs = 9\nmax_deliver = 7\nlease_secs = 11\n",
        server.url()
    );
    let changed: ClusterConfig = toml::from_str(&text).unwrap();
    let second = Nats::connect(&changed).await.unwrap();
    second.ensure(&[]).await.unwrap();
    let info = |name: String| {
        let js = second.js.clone();
        async move {
            js.get_stream(name)
                .await
                .unwrap()
                .info()
                .await
                .unwrap()
                .config
                .clone()
        }
    };
    let audit = info(changed.stream.clone()).await;
    assert_eq!(audit.duplicate_window.as_secs(), 42);
    let results = info(changed.results_stream.clone()).await;
    assert_eq!(results.max_age.as_secs(), 7200);
    let lease = info(format!("KV_{}", second.lease_bucket())).await;
    assert_eq!(lease.max_age.as_secs(), 11);
    let mut consumer = second.detect_consumer().await.unwrap();
    let c = consumer.info().await.unwrap().config.clone();
    assert_eq!((c.ack_wait.as_secs(), c.max_deliver), (9, 7));
}
