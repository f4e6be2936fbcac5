//! Fuzz harnesses for kadet.
//!
//! Each public function here is the body of one cargo-fuzz target in
//! `fuzz/fuzz_targets/<name>.rs` and takes the fuzzer's bytes. The same
//! functions replay the checked-in corpora (`fuzz/corpus/<name>/`) and the
//! crash reproducers (`fuzz/artifacts/<name>/`) in this crate's
//! `tests/corpus.rs`, so a regression shows up in `cargo test` without
//! cargo-fuzz or a nightly compiler.
//!
//! A harness panics only when kadet misbehaves: kadet itself panicked, or an
//! invariant the harness checks failed (say, the prefilter dropped an event
//! that a rule matches). Every input, well-formed or not, must otherwise
//! run to the end. [`TARGETS`] lists the harnesses by target name.

#![warn(missing_docs)]

use base64::Engine;
use kadet_engine::{Evaluator, ScanOptions};
use kadet_event::input::{open_stream, ByteCounter};
use kadet_event::{
    BodyShape, Chunk, ChunkReader, CollectSink, DecodeOptions, Decoder, InputFormat, Location,
    LogType, RawEvent, ReadOptions, SkipReason, SourceMeta, Value,
};
use kadet_rules::expr::Scope;
use kadet_rules::loader::{load_sources, Source};
use kadet_rules::template::Template;
use kadet_rules::{Rule, RuleMask};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::{Arc, OnceLock};

/// A harness: takes the fuzzer's bytes.
pub type Harness = fn(&[u8]);

/// Every target, by the name of its file in `fuzz/fuzz_targets/` and its
/// corpus directory.
pub const TARGETS: &[(&str, Harness)] = &[
    ("decode", decode),
    ("redact", redact),
    ("chunk_reader", chunk_reader),
    ("scan_prefilter", scan_prefilter),
    ("rules_load", rules_load),
    ("template", template),
    ("ingest", ingest),
    ("sink_render", sink_render),
];

/// Top-level keys asked of a partial parse, as the scan pipeline asks for
/// the keys its candidate rules read.
/// (the pipeline adds [`kadet_event::event::TIME_KEYS`] to them, as here).
const SOME_KEYS: [&str; 9] = [
    "verb",
    "objectRef",
    "user",
    "requestObject",
    "responseStatus",
    "stageTimestamp",
    "requestReceivedTimestamp",
    "timestamp",
    "p_event_time",
];

/// Events the rule and template harnesses evaluate against when the input
/// brings none: a plain audit event, a TokenRequest with a minted token, a
/// GKE entry, an Azure record with the event as JSON text.
const SAMPLE_EVENTS: [&str; 4] = [
    r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/kube-system/pods/p/exec?command=sh&stdin=true","verb":"create","user":{"username":"system:serviceaccount:default:app","groups":["system:serviceaccounts","system:authenticated"]},"sourceIPs":["203.0.113.7","10.0.0.1"],"userAgent":"kubectl/v1.29.0","objectRef":{"resource":"pods","namespace":"kube-system","name":"p","apiVersion":"v1","subresource":"exec"},"responseStatus":{"metadata":{},"code":101},"requestObject":{"kind":"Pod","spec":{"hostNetwork":true,"containers":[{"name":"c","image":"alpine","securityContext":{"privileged":true,"capabilities":{"add":["SYS_ADMIN","NET_RAW","SYS_ADMIN"]}}}],"volumes":[{"name":"h","hostPath":{"path":"/"}}]}},"requestReceivedTimestamp":"2024-05-01T10:00:00.000000Z","stageTimestamp":"2024-05-01T10:00:00.100000Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding"}}"#,
    r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a2","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/serviceaccounts/app/token","verb":"create","user":{"username":"alice","groups":["system:masters"]},"sourceIPs":["198.51.100.4"],"objectRef":{"resource":"serviceaccounts","namespace":"default","name":"app","subresource":"token"},"responseStatus":{"code":201},"responseObject":{"kind":"TokenRequest","status":{"token":"eyJhbGciOiJSUzI1NiJ9.x.y","expirationTimestamp":"2055-01-01T00:00:00Z"}},"stageTimestamp":"2024-05-01T10:00:01Z"}"#,
    r#"{"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{"principalEmail":"bob@example.com"},"requestMetadata":{"callerIp":"203.0.113.9","callerSuppliedUserAgent":"kubectl"},"serviceName":"k8s.io","methodName":"io.k8s.core.v1.secrets.get","resourceName":"core/v1/namespaces/default/secrets/db","status":{"code":7}},"insertId":"i1","resource":{"type":"k8s_cluster","labels":{"cluster_name":"gke-1","location":"us-central1"}},"timestamp":"2024-05-01T10:00:02Z","logName":"projects/p/logs/cloudaudit.googleapis.com%2Fdata_access"}"#,
    r#"{"records":[{"category":"kube-audit","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-1","time":"2024-05-01T10:00:03Z","properties":{"log":"{\"kind\":\"Event\",\"verb\":\"delete\",\"auditID\":\"a3\",\"objectRef\":{\"resource\":\"events\",\"namespace\":\"default\"},\"user\":{\"username\":\"carol\"}}"}}]}"#,
];

fn loc() -> Location {
    Location::line(Arc::from("fuzz"), 1)
}

/// The input as text, invalid UTF-8 sequences replaced: the harnesses that
/// take text (rules, templates) still see every byte pattern nearby.
fn lossy(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// `data` gzip-compressed.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// **`decode`**: one record through [`Decoder::decode`] with every
/// [`InputFormat`] (with and without a default cluster, and with an event
/// size limit the input may exceed), then every event through
/// [`RawEvent::parse`], [`RawEvent::parse_keys`] and
/// [`RawEvent::parse_plain_keys`], the canonical event's accessors, and
/// [`kadet_event::redact::redact_event`]. The same bytes are also wrapped as
/// a CloudWatch Logs payload delivered by Kinesis or Firehose
/// (base64 of gzip) and decoded as `Auto` and `EksCloudwatch`, so the fuzzer
/// reaches the payload decoder behind the compression.
///
/// Checks: a partial parse agrees with the whole parse on the keys it keeps.
pub fn decode(data: &[u8]) {
    for (i, format) in InputFormat::ALL.into_iter().enumerate() {
        let opts = DecodeOptions {
            format,
            cluster: (i % 2 == 1).then(|| "fuzz-cluster".to_string()),
            ..DecodeOptions::default()
        };
        decode_with(data, opts);
    }
    // Events over the size limit are skipped, not cut.
    decode_with(
        data,
        DecodeOptions {
            max_event_bytes: data.len() / 2,
            ..DecodeOptions::default()
        },
    );
    let wrapped = b64(&gzip(data));
    for format in [InputFormat::Auto, InputFormat::EksCloudwatch] {
        decode_with(
            wrapped.as_bytes(),
            DecodeOptions {
                format,
                ..DecodeOptions::default()
            },
        );
    }
}

fn decode_with(data: &[u8], opts: DecodeOptions) {
    let max = opts.max_event_bytes;
    let decoder = Decoder::new(opts);
    let mut sink = CollectSink::default();
    decoder.decode(data, &loc(), &mut sink);
    for raw in &sink.events {
        exercise_event(raw, max);
    }
}

/// Parses one decoded event every way the pipeline does.
fn exercise_event(raw: &RawEvent<'_>, max_event_bytes: usize) {
    let _ = raw.prefilter_bytes();
    let whole = raw.parse();
    if let Ok(ev) = &whole {
        touch_event(ev);
        let mut audit = ev.audit.clone();
        kadet_event::redact::redact_event(&mut audit);
        // What `scan` prints must serialise.
        if let Err(e) = serde_json::to_vec(&audit) {
            panic!("a parsed event does not serialise: {e}");
        }
    }
    let partial = raw.parse_keys(Some(&SOME_KEYS));
    if let (Ok(w), Ok(p)) = (&whole, &partial) {
        if raw.shape == BodyShape::Audit {
            for k in SOME_KEYS {
                assert_eq!(
                    w.audit.get(k),
                    p.member(k),
                    "partial parse disagrees with the whole parse on {k:?}"
                );
            }
            assert_eq!(w.time, p.time, "partial parse disagrees on the event time");
        }
    }
    if let Some(plain) = raw.parse_plain_keys(&SOME_KEYS, max_event_bytes) {
        touch_event(&plain);
        if let Ok(w) = &whole {
            for k in SOME_KEYS {
                assert_eq!(
                    w.audit.get(k),
                    plain.member(k),
                    "one-pass parse disagrees with the whole parse on {k:?}"
                );
            }
        }
    }
}

/// Reads what rules and outputs read of a canonical event.
fn touch_event(ev: &kadet_event::CanonicalEvent<'_>) {
    for key in [
        "p_log_type",
        "p_source_label",
        "p_event_time",
        "category",
        "verb",
    ] {
        let _ = ev.lookup_root(key);
    }
    let _ = ev.record();
    let _ = ev.audit_id();
    let _ = ev.cluster();
    let _ = ev.str_at(&["objectRef", "resource"]);
    if let Some(t) = ev.time {
        let _ = t.to_rfc3339();
        let _ = t.plus_minutes(60).unix_millis();
    }
    let _ = ev.audit.to_display_string();
}

/// **`redact`**: [`kadet_event::redact::redact_document`] on the bytes as a
/// record of any shape, and [`kadet_event::redact::redact_event`] on them
/// parsed as an event.
///
/// Checks: a rewritten record is still JSON; and what `serve` stores holds
/// no secret `scan` would redact: every event decoded from the record as
/// `redact_document` left it is unchanged by `redact_event`.
pub fn redact(data: &[u8]) {
    let stored: Cow<'_, [u8]> = match kadet_event::redact::redact_document(data) {
        Ok(Some((out, n))) => {
            assert!(
                n > 0,
                "redact_document rewrote a record but counted nothing"
            );
            if let Err(e) = serde_json::from_slice::<serde_json::Value>(&out) {
                panic!("redact_document produced invalid JSON: {e}");
            }
            Cow::Owned(out)
        }
        Ok(None) => Cow::Borrowed(data),
        // Refused: `serve` does not store it.
        Err(_) => return,
    };
    assert_no_secret(&stored);
    if let Ok(mut v) = Value::from_slice(data) {
        let n = kadet_event::redact::redact_event(&mut v);
        if n > 0 {
            if let Err(e) = serde_json::to_vec(&v) {
                panic!("a redacted event does not serialise: {e}");
            }
        }
    }
}

/// Panics when an event decoded from `stored` still holds a value
/// [`kadet_event::redact::redact_event`] would replace: a secret `serve`
/// would have written to its journal.
fn assert_no_secret(stored: &[u8]) {
    let mut sink = CollectSink::default();
    Decoder::default().decode(stored, &loc(), &mut sink);
    for raw in &sink.events {
        if let Ok(ev) = raw.parse() {
            let mut again = ev.audit.clone();
            if kadet_event::redact::redact_event(&mut again) > 0 && again != ev.audit {
                panic!(
                    "a secret survived redaction: {}",
                    String::from_utf8_lossy(stored)
                );
            }
        }
    }
}

/// The built-in pack, loaded once per process.
fn builtin_rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| match kadet_rules::load_builtin() {
        Ok(set) => set.rules,
        Err(errors) => panic!("the built-in pack does not load: {errors:?}"),
    })
}

/// The scan pipeline's evaluator over the built-in pack, built once per
/// process for each input format with a fast path, with the prefilter on
/// and off.
fn evaluator(format: InputFormat, prefilter: bool) -> &'static Evaluator<'static> {
    static EVALUATORS: OnceLock<Vec<Evaluator<'static>>> = OnceLock::new();
    let all = EVALUATORS.get_or_init(|| {
        let mut v = Vec::new();
        for format in [InputFormat::Auto, InputFormat::EksCloudwatch] {
            for prefilter in [true, false] {
                let opts = ScanOptions {
                    decode: DecodeOptions {
                        format,
                        ..DecodeOptions::default()
                    },
                    prefilter,
                    ..ScanOptions::default()
                };
                v.push(Evaluator::new(builtin_rules(), &opts));
            }
        }
        v
    });
    let i = usize::from(format == InputFormat::EksCloudwatch) * 2 + usize::from(!prefilter);
    &all[i]
}

/// Panics on a record the pipeline reported as an internal error: the
/// pipeline isolates panics, so they surface here (under libFuzzer the panic
/// hook aborts first anyway).
fn no_internal_error(res: &kadet_engine::pipeline::ChunkResult) {
    if let Some(s) = res
        .skips
        .iter()
        .find(|s| s.reason == SkipReason::InternalError)
    {
        panic!("kadet failed on a record: {}", s.message);
    }
}

/// How much decompressed input the chunk reader harness reads at most: a
/// compression bomb is kadet's legitimate work (it streams), but not the
/// fuzzer's.
const MAX_STREAM_BYTES: u64 = 8 << 20;

/// **`chunk_reader`**: the bytes as a whole input file:
/// [`open_stream`] (gzip and zstd recognised by their magic bytes, so the
/// fuzzer finds truncated and corrupt streams) and [`ChunkReader`] with
/// small chunk and record limits taken from the first input byte, then every
/// chunk through the scan pipeline's [`Evaluator`] with the built-in rules
/// (prefilter, decoders, rules, titles, redaction), as `kadet scan` does.
///
/// Checks: no record is reported as an internal error; a plain (not
/// compressed) line-oriented input comes back whole, line numbers
/// consecutive.
pub fn chunk_reader(data: &[u8]) {
    let (sizes, body) = match data.split_first() {
        Some((&b, rest)) => (b, rest),
        None => (0, data),
    };
    // Low nibble: chunk size 16 B .. 512 KiB; high nibble: record limit.
    let chunk_bytes = 16usize << (sizes & 0x0f);
    let max_record_bytes = 64usize << (sizes >> 4);
    let opts = ReadOptions {
        chunk_bytes,
        max_record_bytes,
    };
    let raw: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(body.to_vec()));
    let stream = match open_stream(raw, Arc::new(ByteCounter::default())) {
        Ok(s) => s,
        // Opening reads the head; a corrupt zstd frame header fails here.
        Err(_) => return,
    };
    let mut reader = ChunkReader::new(
        Arc::from("fuzz"),
        Box::new(stream.take(MAX_STREAM_BYTES)),
        opts,
    );
    let eval = evaluator(InputFormat::Auto, true);
    let plain = !body.starts_with(&[0x1f, 0x8b]) && !body.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    let mut lines_seen = Vec::new();
    let mut next_line = 1u64;
    let mut any_doc_or_skip = false;
    while let Some(chunk) = reader.next_chunk() {
        match &chunk {
            Chunk::Lines {
                first_line, data, ..
            } => {
                // Skipped lines are not counted here: check until one.
                if !any_doc_or_skip {
                    assert_eq!(*first_line, next_line, "line numbers are not consecutive");
                }
                let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
                next_line += newlines.max(u64::from(!data.ends_with(b"\n")));
                lines_seen.extend_from_slice(data);
            }
            Chunk::Document { .. } | Chunk::Skipped(_) => any_doc_or_skip = true,
        }
        no_internal_error(&eval.process(chunk));
    }
    if plain && !any_doc_or_skip {
        let expect = kadet_event::input::strip_bom(body).unwrap_or(body);
        assert!(
            lines_seen == expect,
            "the chunks of a line-oriented input do not add up to it"
        );
    }
}

/// **`scan_prefilter`**: the bytes as lines of an input, evaluated with the
/// built-in rules twice — with the literal prefilter and the one-pass parse
/// of admitted lines, and without them (every record decoded and every rule
/// evaluated) — for each input format that has a fast path.
///
/// Checks: both give the same matches (rule, location, title, dedup). The
/// prefilter promises never to drop a record that full evaluation matches
/// (docs/prefilter.md, "Soundness").
pub fn scan_prefilter(data: &[u8]) {
    let rules = builtin_rules();
    for format in [InputFormat::Auto, InputFormat::EksCloudwatch] {
        let run = |prefilter: bool| {
            let eval = evaluator(format, prefilter);
            let res = eval.process(Chunk::Lines {
                file: Arc::from("fuzz"),
                first_line: 1,
                data: data.to_vec(),
            });
            no_internal_error(&res);
            let mut found: Vec<String> = res
                .matches
                .iter()
                .map(|m| {
                    format!(
                        "{} at {:?}: {:?} / {:?}",
                        rules[m.rule].id, m.location, m.outcome.title, m.outcome.dedup
                    )
                })
                .collect();
            found.sort();
            found
        };
        let fast = run(true);
        let full = run(false);
        assert_eq!(
            fast,
            full,
            "the prefilter changed what matched ({} input)",
            format.name()
        );
    }
}

/// The rule and template harnesses' input: pieces separated by NUL bytes.
fn pieces(data: &[u8]) -> Vec<Cow<'_, str>> {
    data.split(|&b| b == 0).map(lossy).collect()
}

/// Parses the sample events (and `extra`, when it is JSON) as the
/// decoder would and hands each to `f`.
fn with_events(
    extra: Option<&[u8]>,
    mut f: impl FnMut(&RawEvent<'_>, &kadet_event::CanonicalEvent<'_>),
) {
    let decoder = Decoder::default();
    let mut sink = CollectSink::default();
    for (i, text) in SAMPLE_EVENTS.iter().enumerate() {
        decoder.decode(
            text.as_bytes(),
            &Location::line(Arc::from("sample"), i as u64 + 1),
            &mut sink,
        );
    }
    if let Some(extra) = extra {
        decoder.decode(extra, &loc(), &mut sink);
        // What `kadet test` does with an object of unknown shape.
        if sink.events.is_empty() && extra.trim_ascii_start().starts_with(b"{") {
            sink.events.push(RawEvent {
                meta: SourceMeta {
                    log_type: LogType::KubernetesAudit,
                    cluster: None,
                    source_time: None,
                    location: loc(),
                },
                body: Cow::Borrowed(extra),
                shape: BodyShape::Foreign,
                record: None,
            });
        }
    }
    for raw in &sink.events {
        if let Ok(ev) = raw.parse() {
            f(raw, &ev);
        }
    }
}

/// **`rules_load`**: the bytes as rule and library files (separated by NUL
/// bytes; invalid UTF-8 replaced) through
/// [`kadet_rules::loader::load_sources`]: YAML parsing (alias bombs, deep
/// nesting), the models, compilation of detections, templates and key
/// paths. A set that loads is then used: each rule's own `Tests` run, its
/// detection is explained, the prefilter is built and every rule evaluated
/// on sample events with titles and context rendered.
///
/// Checks: the prefilter admits every sample event a rule matches.
pub fn rules_load(data: &[u8]) {
    let sources: Vec<Source> = pieces(data)
        .into_iter()
        .enumerate()
        .map(|(i, text)| Source {
            name: format!("fuzz-{i}.yml"),
            text: text.into_owned(),
        })
        .collect();
    let Ok(set) = load_sources(Vec::new(), sources) else {
        return;
    };
    for rule in &set.rules {
        let _ = kadet_rules::testing::run_rule_tests(rule);
        let _ = kadet_rules::explain::render(&rule.detection);
        let _ = kadet_rules::explain::exclusions(&rule.detection);
        let _ = kadet_rules::explain::indicators(&rule.detection);
    }
    let prefilter = set.prefilter();
    let mut mask = RuleMask::default();
    with_events(None, |raw, ev| {
        prefilter.candidates(raw.prefilter_bytes(), ev.meta.log_type, &mut mask);
        for (i, rule) in set.rules.iter().enumerate() {
            if rule.matches(ev) {
                assert!(
                    mask.contains(i),
                    "the prefilter dropped an event rule {} matches",
                    rule.id
                );
                let _ = rule.outcome(ev);
            }
        }
    });
}

/// Lists the `template` harness offers to `!only:NAME`.
fn template_lists() -> BTreeMap<String, Vec<serde_norway::Value>> {
    let mut lists = BTreeMap::new();
    lists.insert(
        "danger".to_string(),
        vec![
            serde_norway::Value::String("SYS_ADMIN".into()),
            serde_norway::Value::Number(403.into()),
            serde_norway::Value::Bool(true),
        ],
    );
    lists.insert("empty".to_string(), Vec::new());
    lists
}

/// **`template`**: the bytes up to the first NUL as an `AlertTitle`-style
/// template through [`Template::parse_with`] (placeholders, alternatives,
/// literals, filters including `!regex` and `!only`), rendered with
/// [`Template::render`] against each sample event and, when the bytes after
/// the NUL are a record, against its events; also against a bare JSON value
/// as a list element scope.
pub fn template(data: &[u8]) {
    let (text, event) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let text = lossy(text);
    let Ok(t) = Template::parse_with(&text, &template_lists()) else {
        return;
    };
    let _ = t.paths();
    with_events(event, |_, ev| {
        let _ = t.render(Scope::Event(ev));
    });
    if let Some(Ok(v)) = event.map(Value::from_slice) {
        let _ = t.render(Scope::Element(&v));
    }
}

/// **`ingest`**: the bytes as an HTTP request body of `kadet serve`:
/// [`kadet_server::core::ingest::prepare_body`] (`/v1/audit`, `/v1/aks`) and
/// [`kadet_server::core::ingest::prepare_firehose`] (`/v1/firehose`), each with a
/// single-event limit the input may exceed; the bytes as a gzip body through
/// [`kadet_server::core::ingest::gunzip_limited`]; the bytes wrapped as one
/// Firehose record (base64 of gzip, and base64 alone) so the fuzzer reaches
/// the record contents; and [`kadet_server::core::ingest::Prepared::redact`] on
/// every accepted body.
///
/// Checks: counts add up (`received = accepted + too_large`); every kept
/// document is valid JSON no larger than the decoded input and, once
/// redacted, holds no secret; decompression stays within its limit.
pub fn ingest(data: &[u8]) {
    use kadet_server::core::ingest::{gunzip_limited, prepare_body, prepare_firehose, Prepared};
    let check = |mut p: Prepared, input_len: usize| {
        assert_eq!(
            p.received,
            p.accepted + p.too_large,
            "ingest counts do not add up"
        );
        for doc in &p.docs {
            if let Err(e) = serde_json::from_slice::<&serde_json::value::RawValue>(doc) {
                panic!("ingest kept a document that is not JSON: {e}");
            }
            assert!(doc.len() <= input_len, "a kept document grew");
        }
        // A document that cannot be checked for secrets refuses the body.
        if p.redact().is_err() {
            return;
        }
        for doc in &p.docs {
            if let Err(e) = serde_json::from_slice::<serde_json::Value>(doc) {
                panic!("redaction made a kept document invalid: {e}");
            }
            assert_no_secret(doc);
        }
    };
    for max_event in [64usize, 1 << 20] {
        if let Ok(p) = prepare_body(data, max_event) {
            check(p, data.len());
        }
        if let Ok((_, p)) = prepare_firehose(data, max_event, 1 << 20) {
            check(p, 1 << 20);
        }
    }
    for limit in [0usize, 100, 1 << 20] {
        if let Ok(out) = gunzip_limited(data, limit) {
            assert!(out.len() <= limit, "gunzip_limited went over its limit");
        }
    }
    for record in [b64(&gzip(data)), b64(data)] {
        let body = format!(r#"{{"requestId":"fuzz","records":[{{"data":"{record}"}}]}}"#);
        for limit in [data.len() / 2, 1 << 20] {
            if let Ok((id, p)) = prepare_firehose(body.as_bytes(), 1 << 20, limit) {
                assert_eq!(id, "fuzz");
                check(p, data.len().max(limit));
            }
        }
    }
}

/// `sink_render`: an alert whose every text field comes from the fuzzer
/// (they come from event data an attacker shapes: user names, resource
/// names, cluster names from records) rendered for each webhook format.
/// JSON and OCSF bodies must be JSON that holds the values as given; the
/// Slack text must keep its shape: its lines, its one code span, and no
/// `<`, `>` or bare `&` from any field (no mention, no disguised link).
pub fn sink_render(data: &[u8]) {
    use kadet_server::config::WebhookFormat;
    use kadet_server::sinks::target::render;
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{0}').map(str::to_string);
    let mut next = || parts.next().unwrap_or_default();
    let (title, rule_id, cluster, first_seen, user, name) =
        (next(), next(), next(), next(), next(), next());
    let alert = kadet_engine::Alert {
        alert_id: "0123456789abcdef0123456789abcdef".into(),
        rule_id: rule_id.clone(),
        rule_name: title.clone(),
        severity: kadet_rules::Severity::High,
        title: title.clone(),
        dedup: user.clone(),
        event_count: 1,
        first_seen: Some(first_seen.clone()),
        last_seen: None,
        log_types: vec!["Kubernetes.Audit"],
        cluster: Some(cluster.clone()),
        context: serde_json::Map::from_iter([("name".to_string(), name.clone().into())]),
        summary: BTreeMap::new(),
        reports: BTreeMap::new(),
        reference: None,
        runbook: None,
        sigma: None,
        events: Vec::new(),
        events_cap: 10,
        events_truncated: false,
        signal: false,
        actor: kadet_engine::matches::Actor {
            user: Some(user),
            source_ips: Vec::new(),
            user_agent: None,
        },
        target: kadet_engine::matches::Target {
            name: Some(name),
            ..Default::default()
        },
        window_start: kadet_event::EventTime(0),
    };
    for format in [WebhookFormat::Json, WebhookFormat::Ocsf] {
        let body = render(format, &alert, &[]).expect("an alert renders");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("the body is JSON");
        assert!(v.is_object(), "{v}");
    }
    let body = render(WebhookFormat::Slack, &alert, &[]).expect("an alert renders");
    let v: serde_json::Value = serde_json::from_slice(&body).expect("the body is JSON");
    let slack = v["text"].as_str().expect("a text");
    assert_eq!(
        slack.matches('\n').count(),
        3,
        "one line per part: {slack:?}"
    );
    assert_eq!(slack.matches('`').count(), 2, "one code span: {slack:?}");
    assert!(!slack.contains('<') && !slack.contains('>'), "{slack:?}");
    let bare_amp = slack.match_indices('&').any(|(i, _)| {
        let rest = &slack[i..];
        !(rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;"))
    });
    assert!(!bare_amp, "{slack:?}");
}
