//! Property tests for the decoders and the reader: arbitrary or mangled bytes
//! never panic, and the reader never loses or invents a byte.

use kadet_event::input::{ChunkReader, ReadOptions};
use kadet_event::{Chunk, CollectSink, DecodeOptions, Decoder, InputFormat, Location};
use proptest::prelude::*;
use std::sync::Arc;

const SEEDS: &[&str] = &[
    r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"create","user":{"username":"a"},"objectRef":{"resource":"serviceaccounts","subresource":"token"},"stageTimestamp":"2026-01-01T00:00:00Z"}"#,
    r#"{"kind":"EventList","items":[{"kind":"Event","verb":"get"},{"kind":"Event","verb":"list"}]}"#,
    r#"{"records":[{"category":"kube-audit","resourceId":"/x/managedClusters/c","properties":{"log":"{\"kind\":\"Event\",\"verb\":\"get\"}"}}]}"#,
    r#"{"messageType":"DATA_MESSAGE","logGroup":"/aws/eks/c/cluster","logEvents":[{"id":"1","timestamp":1,"message":"{\"verb\":\"get\"}"}]}"#,
    r#"{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.pods.get","resourceName":"core/v1/namespaces/a/pods/b"},"resource":{"labels":{"cluster_name":"g"}}}"#,
    r#"{"p_log_type":"Azure.MonitorActivity","category":"kube-audit","properties":{"log":"{\"verb\":\"create\"}"}}"#,
    r#"[{"kind":"Event","verb":"get"},{"verb":"watch"}]"#,
    "H4sIAAAAAAAA/6tWKkktLlGyUlAqS8wpTVWqBQBE5pmSEgAAAA==",
];

fn decode_all(bytes: &[u8], format: InputFormat) {
    let decoder = Decoder::new(DecodeOptions {
        format,
        max_event_bytes: 1 << 16,
        cluster: None,
    });
    let mut sink = CollectSink::default();
    decoder.decode(bytes, &Location::line(Arc::from("p"), 1), &mut sink);
    for raw in &sink.events {
        if let Ok(mut ev) = raw.parse() {
            kadet_event::redact::redact_event(&mut ev.audit);
            let _ = ev.record();
            let _ = ev.lookup_root("p_source_label");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), f in 0usize..6) {
        decode_all(&bytes, InputFormat::ALL[f]);
    }

    #[test]
    fn mangled_records_never_panic(seed in 0usize..SEEDS.len(), cut in any::<prop::sample::Index>(),
                                   flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6), f in 0usize..6) {
        let mut bytes = SEEDS[seed].as_bytes().to_vec();
        for (i, b) in flips {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
        let keep = cut.index(bytes.len() + 1);
        decode_all(&bytes, InputFormat::ALL[f]);
        decode_all(&bytes[..keep], InputFormat::ALL[f]);
    }

    #[test]
    fn reader_keeps_every_byte(lines in proptest::collection::vec("[a-z{}\\[\\]\" ]{0,40}", 0..50), chunk in 1usize..64) {
        let text = lines.join("\n");
        let mut r = ChunkReader::new(Arc::from("p"), Box::new(std::io::Cursor::new(text.clone().into_bytes())),
                                     ReadOptions { chunk_bytes: chunk, max_record_bytes: 1 << 20 });
        let mut out = Vec::new();
        while let Some(c) = r.next_chunk() {
            match c {
                Chunk::Lines { data, .. } => out.extend_from_slice(&data),
                Chunk::Document { data, .. } => { out.extend_from_slice(&data); }
                Chunk::Skipped(_) => {}
            }
        }
        // Line mode gives the bytes back exactly; document mode drops only
        // whitespace and array punctuation between values.
        let squeeze = |s: &[u8]| s.iter().filter(|b| !b" \n,[]".contains(b)).copied().collect::<Vec<u8>>();
        prop_assert_eq!(squeeze(&out), squeeze(text.as_bytes()));
    }
}
