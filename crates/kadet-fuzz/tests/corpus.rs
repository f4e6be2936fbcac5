//! Replays the fuzz corpora and crash reproducers through the harnesses:
//! every file of `fuzz/corpus/<target>/` and `fuzz/artifacts/<target>/`
//! for each target of `kadet_fuzz::TARGETS`. This is how CI runs what the
//! fuzzers found, without cargo-fuzz or a nightly compiler.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, harness: kadet_fuzz::Harness) -> usize {
    let mut n = 0;
    for kind in ["corpus", "artifacts"] {
        for file in files_in(&fuzz_dir().join(kind).join(target)) {
            let data = std::fs::read(&file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            let outcome = std::panic::catch_unwind(|| harness(&data));
            assert!(outcome.is_ok(), "{target}: {} fails", file.display());
            n += 1;
        }
    }
    n
}

#[test]
fn every_target_has_a_corpus() {
    for (target, _) in kadet_fuzz::TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        assert!(
            !files_in(&dir).is_empty(),
            "{} holds no seed for target {target}",
            dir.display()
        );
        let source = fuzz_dir().join("fuzz_targets").join(format!("{target}.rs"));
        assert!(
            source.is_file(),
            "no cargo-fuzz target {}",
            source.display()
        );
    }
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let harness = kadet_fuzz::TARGETS
                    .iter()
                    .find(|(t, _)| *t == stringify!($name))
                    .map(|(_, h)| *h)
                    .expect("a target of that name");
                let n = replay(stringify!($name), harness);
                eprintln!("{}: {n} inputs replayed", stringify!($name));
            }
        )*
    };
}

replay_tests!(
    decode,
    redact,
    chunk_reader,
    scan_prefilter,
    rules_load,
    template,
    ingest,
    sink_render
);

#[test]
fn replay_tests_cover_every_target() {
    let named = [
        "decode",
        "redact",
        "chunk_reader",
        "scan_prefilter",
        "rules_load",
        "template",
        "ingest",
        "sink_render",
    ];
    let targets: Vec<&str> = kadet_fuzz::TARGETS.iter().map(|(t, _)| *t).collect();
    assert_eq!(targets, named);
}
