//! Micro-benchmarks of the hot path: decoding, the prefilter, and each rule's
//! evaluation, on the bundled example's EKS audit log (realistic events).
//! Run: `cargo bench -p kadet-engine --bench pipeline`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kadet_engine::pipeline::{Evaluator, ScanOptions};
use kadet_event::{Chunk, CollectSink, Decoder, Location};
use kadet_rules::RuleMask;
use std::sync::Arc;

fn corpus() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/eks-cluster-audit.jsonl"
    );
    let one = std::fs::read(path).expect("examples/eks-cluster-audit.jsonl");
    // About 1.5 MB: big enough to hide per-call overhead.
    one.repeat(4)
}

fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

fn decode(c: &mut Criterion) {
    let data = corpus();
    let ls = lines(&data);
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(data.len() as u64));
    let decoder = Decoder::default();
    let loc = Location::line(Arc::from("bench"), 1);
    g.bench_function("recognise (envelope only)", |b| {
        b.iter(|| {
            for l in &ls {
                let mut sink = CollectSink::default();
                decoder.decode(l, &loc, &mut sink);
                black_box(sink.events.len());
            }
        })
    });
    g.bench_function("recognise + parse whole event", |b| {
        b.iter(|| {
            for l in &ls {
                let mut sink = CollectSink::default();
                decoder.decode(l, &loc, &mut sink);
                for e in &sink.events {
                    black_box(e.parse().map(|ev| ev.time).ok());
                }
            }
        })
    });
    g.bench_function("recognise + parse verb,user,objectRef", |b| {
        b.iter(|| {
            for l in &ls {
                let mut sink = CollectSink::default();
                decoder.decode(l, &loc, &mut sink);
                for e in &sink.events {
                    black_box(
                        e.parse_keys(Some(&["verb", "user", "objectRef"]))
                            .map(|ev| ev.time)
                            .ok(),
                    );
                }
            }
        })
    });
    g.finish();
}

fn prefilter(c: &mut Criterion) {
    let data = corpus();
    let ls = lines(&data);
    let pack = kadet_rules::load_builtin().expect("pack");
    let seed: Vec<_> = pack
        .rules
        .iter()
        .filter(|r| r.id == "Kubernetes.ServiceAccount.TokenCreated")
        .cloned()
        .collect();
    let mut g = c.benchmark_group("prefilter");
    g.throughput(Throughput::Bytes(data.len() as u64));
    for (name, rules) in [("seed rule", &seed[..]), ("built-in pack", &pack.rules[..])] {
        let pf = kadet_rules::Prefilter::build(rules);
        g.bench_with_input(
            BenchmarkId::new("whole-chunk line search", name),
            &pf,
            |b, pf| {
                let mut out = Vec::new();
                b.iter(|| black_box(pf.search_lines(&data, &mut out)))
            },
        );
        g.bench_with_input(
            BenchmarkId::new("line search and verdicts", name),
            &pf,
            |b, pf| {
                let mut hits = Vec::new();
                let mut mask = RuleMask::default();
                b.iter(|| {
                    pf.search_lines(&data, &mut hits);
                    let (mut next, mut start, mut admitted) = (0, 0, 0usize);
                    for l in data.split(|&b| b == b'\n') {
                        let end = start + l.len();
                        let from = next;
                        while next < hits.len() && hits[next].0 < end {
                            next += 1;
                        }
                        if pf.line_verdict(l, start, &hits[from..next], &mut mask)
                            != kadet_rules::LineVerdict::Reject
                        {
                            admitted += 1;
                        }
                        start = end + 1;
                    }
                    black_box(admitted)
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("per-event candidates (containers)", name),
            &pf,
            |b, pf| {
                let mut mask = RuleMask::default();
                b.iter(|| {
                    for l in &ls {
                        pf.candidates(l, kadet_event::LogType::KubernetesAudit, &mut mask);
                        black_box(mask.any());
                    }
                })
            },
        );
    }
    g.finish();
}

fn evaluate(c: &mut Criterion) {
    let data = corpus();
    let ls = lines(&data);
    let pack = kadet_rules::load_builtin().expect("pack");
    let decoder = Decoder::default();
    let loc = Location::line(Arc::from("bench"), 1);
    let mut raws = Vec::new();
    for l in &ls[..ls.len() / 4] {
        let mut sink = CollectSink::default();
        decoder.decode(l, &loc, &mut sink);
        raws.extend(sink.events);
    }
    let events: Vec<_> = raws.iter().filter_map(|r| r.parse().ok()).collect();
    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(events.len() as u64));
    for rule in &pack.rules {
        g.bench_with_input(BenchmarkId::new("rule", &rule.id), rule, |b, rule| {
            b.iter(|| events.iter().filter(|e| rule.matches(e)).count())
        });
    }
    g.finish();
}

fn end_to_end(c: &mut Criterion) {
    let data = corpus();
    let pack = kadet_rules::load_builtin().expect("pack");
    let seed: Vec<_> = pack
        .rules
        .iter()
        .filter(|r| r.id == "Kubernetes.ServiceAccount.TokenCreated")
        .cloned()
        .collect();
    let mut g = c.benchmark_group("chunk");
    g.throughput(Throughput::Bytes(data.len() as u64));
    for (name, rules) in [("seed rule", &seed[..]), ("built-in pack", &pack.rules[..])] {
        let eval = Evaluator::new(rules, &ScanOptions::default());
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = eval.process(Chunk::Lines {
                    file: Arc::from("bench"),
                    first_line: 1,
                    data: data.clone(),
                });
                black_box(r.matches.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, decode, prefilter, evaluate, end_to_end);
criterion_main!(benches);
