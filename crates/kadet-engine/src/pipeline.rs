//! The scan pipeline: inputs → chunks → decode → prefilter → parse → rules →
//! matches, in parallel, with output order identical to a single thread.
//!
//! There is no reader thread: worker threads take turns cutting the next
//! chunk of whole records from the inputs, then decode and evaluate it while
//! another worker reads. The caller's thread
//! receives the per-chunk results, puts them back in input order, and feeds
//! them to the [`Alerter`](crate::alerter::Alerter) and the sinks. With one
//! thread everything runs inline.

use crate::matches::Match;
use kadet_event::input::{open_input, ByteCounter, InputFile, Inputs, Window};
use kadet_event::{
    BodyShape, Chunk, ChunkReader, DecodeError, DecodeOptions, DecodeSink, Decoder, IgnoreReason,
    Location, LogType, RawEvent, ReadOptions, Skip, SkipReason, SourceMeta,
};
use kadet_rules::{LineHit, LineVerdict, Prefilter, Rule, RuleMask, Verdict};
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// How to run a scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Worker threads (1 = inline).
    pub threads: usize,
    /// Decoder options.
    pub decode: DecodeOptions,
    /// Reader options.
    pub read: ReadOptions,
    /// Redact secrets before anything is printed or stored.
    pub redact: bool,
    /// Use the literal prefilter.
    pub prefilter: bool,
    /// Only events in this time window count (`--since`, `--until`).
    pub window: Window,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: 1,
            decode: DecodeOptions::default(),
            read: ReadOptions::default(),
            redact: true,
            prefilter: true,
            window: Window::default(),
        }
    }
}

/// Counters for the end-of-run summary.
#[derive(Debug, Default, Clone)]
pub struct ScanStats {
    /// Inputs read (files, objects, standard input).
    pub inputs: u64,
    /// Input bytes after decompression.
    pub bytes: u64,
    /// Records (lines or documents) read.
    pub records: u64,
    /// Records dropped by the prefilter before decoding.
    pub records_prefiltered: u64,
    /// Events dropped by the prefilter after decoding their container.
    pub events_prefiltered: u64,
    /// Events parsed, by log type.
    pub events_by_type: BTreeMap<LogType, u64>,
    /// Skipped records, by reason.
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Ignored records, by reason.
    pub ignored: BTreeMap<IgnoreReason, u64>,
    /// Rule matches.
    pub matches: u64,
    /// Matches a tuning exclusion suppressed: (rule index, exclusion index).
    pub suppressed: BTreeMap<(usize, usize), u64>,
}

impl ScanStats {
    fn merge(&mut self, o: &ScanStats) {
        self.inputs += o.inputs;
        self.bytes += o.bytes;
        self.records += o.records;
        self.records_prefiltered += o.records_prefiltered;
        self.events_prefiltered += o.events_prefiltered;
        for (k, v) in &o.events_by_type {
            *self.events_by_type.entry(*k).or_default() += v;
        }
        for (k, v) in &o.skipped {
            *self.skipped.entry(*k).or_default() += v;
        }
        for (k, v) in &o.ignored {
            *self.ignored.entry(*k).or_default() += v;
        }
        self.matches += o.matches;
        for (k, v) in &o.suppressed {
            *self.suppressed.entry(*k).or_default() += v;
        }
    }

    /// Events parsed in total.
    pub fn events(&self) -> u64 {
        self.events_by_type.values().sum()
    }
}

/// What one chunk produced.
#[derive(Debug, Default)]
pub struct ChunkResult {
    /// Matches, in input order.
    pub matches: Vec<Match>,
    /// Latest event time seen among parsed events.
    pub max_time: Option<kadet_event::EventTime>,
    /// Diagnostics, in input order.
    pub skips: Vec<Skip>,
    /// Counters.
    pub stats: ScanStats,
}

/// How many skipped records one result describes in full; the rest are
/// counted in [`ScanStats::skipped`] only. Bounds the memory of a document
/// of millions of unreadable items (kadet's own failures, which become dead
/// letters, are always kept).
pub const MAX_SKIPS_KEPT: usize = 1_000;

fn keep_skip(skips: &mut Vec<Skip>, skip: Skip) {
    if skips.len() < MAX_SKIPS_KEPT || skip.reason == SkipReason::InternalError {
        skips.push(skip);
    }
}

impl ChunkResult {
    /// Counts and keeps a record skipped when it was parsed.
    fn skip(&mut self, e: DecodeError, location: &Location) {
        *self.stats.skipped.entry(e.reason).or_default() += 1;
        keep_skip(&mut self.skips, e.at(location.clone()));
    }
}

/// Everything a worker needs, shared read-only.
pub struct Evaluator<'r> {
    rules: &'r [Rule],
    prefilter: Prefilter,
    decoder: Decoder,
    redact: bool,
    window: Window,
}

struct WorkerSink<'p, 'a> {
    prefilter: &'p Prefilter,
    /// The line's verdict: the candidate rules for its events of the
    /// presumed log type, and the line's length.
    line: Option<(&'p RuleMask, usize)>,
    mask: RuleMask,
    events: Vec<(RawEvent<'a>, RuleMask)>,
    skips: &'p mut Vec<Skip>,
    stats: &'p mut ScanStats,
}

impl<'a> DecodeSink<'a> for WorkerSink<'_, 'a> {
    fn admit(&mut self, bytes: &[u8], log_type: LogType) -> bool {
        match self.line {
            // The line is (about) this one event: its verdict holds.
            Some((mask, len))
                if Some(log_type) == self.prefilter.presumed_type() && bytes.len() * 2 >= len =>
            {
                self.mask.clone_from(mask)
            }
            _ => self.prefilter.candidates(bytes, log_type, &mut self.mask),
        }
        if !self.mask.any() {
            self.stats.events_prefiltered += 1;
        }
        self.mask.any()
    }
    fn event(&mut self, event: RawEvent<'a>) {
        self.events.push((event, self.mask.clone()));
    }
    fn skip(&mut self, skip: Skip) {
        *self.stats.skipped.entry(skip.reason).or_default() += 1;
        keep_skip(self.skips, skip);
    }
    fn ignore(&mut self, reason: IgnoreReason) {
        *self.stats.ignored.entry(reason).or_default() += 1;
    }
}

impl<'r> Evaluator<'r> {
    /// An evaluator for `rules`.
    pub fn new(rules: &'r [Rule], opts: &ScanOptions) -> Self {
        let prefilter = if opts.prefilter {
            Prefilter::build_for(rules, opts.decode.format.presumed_log_type())
        } else {
            Prefilter::disabled(rules.len())
        };
        Evaluator {
            rules,
            prefilter,
            decoder: Decoder::new(opts.decode.clone()),
            redact: opts.redact,
            window: opts.window,
        }
    }

    /// The prefilter in use.
    pub fn prefilter(&self) -> &Prefilter {
        &self.prefilter
    }

    /// Decodes and evaluates one document whose sender named its cluster
    /// (`serve`'s `?cluster=`): events whose record names none get it.
    pub fn process_document(
        &self,
        file: Arc<str>,
        line: u64,
        data: &[u8],
        cluster: Option<&str>,
    ) -> ChunkResult {
        let mut res = ChunkResult::default();
        res.stats.bytes += data.len() as u64;
        res.stats.records += 1;
        self.record_isolated(data, &Location::line(file, line), None, cluster, &mut res);
        res
    }

    /// Decodes and evaluates one chunk.
    pub fn process(&self, chunk: Chunk) -> ChunkResult {
        let mut res = ChunkResult::default();
        match chunk {
            Chunk::Skipped(s) => {
                *res.stats.skipped.entry(s.reason).or_default() += 1;
                res.skips.push(s);
            }
            Chunk::Document { file, line, data } => {
                res.stats.bytes += data.len() as u64;
                res.stats.records += 1;
                self.record_isolated(&data, &Location::line(file, line), None, None, &mut res);
            }
            Chunk::Lines {
                file,
                first_line,
                data,
            } => {
                res.stats.bytes += data.len() as u64;
                let mut mask = RuleMask::default();
                // One search over the whole chunk finds where matches may be;
                // lines with no such hit are passed over unparsed.
                let mut hits: Vec<LineHit> = Vec::new();
                let searched = self.prefilter.search_lines(&data, &mut hits);
                let mut next = 0usize;
                let mut line_no = first_line;
                let mut start = 0;
                while start < data.len() {
                    let end =
                        memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |e| start + e);
                    let line = &data[start..end];
                    let (this, line_start) = (line_no, start);
                    start = end + 1;
                    line_no += 1;
                    let Some(first) = line.iter().position(|b| !b.is_ascii_whitespace()) else {
                        continue;
                    };
                    res.stats.records += 1;
                    let mut verdict = LineVerdict::Decode;
                    if searched {
                        let from = next;
                        while next < hits.len() && hits[next].0 < end {
                            next += 1;
                        }
                        // Lines that do not start an object or array are
                        // other shapes (base64 CloudWatch payloads).
                        if matches!(line[first], b'{' | b'[') {
                            verdict = self.prefilter.line_verdict(
                                line,
                                line_start,
                                &hits[from..next],
                                &mut mask,
                            );
                        }
                    }
                    let line_mask = match verdict {
                        LineVerdict::Reject => {
                            res.stats.records_prefiltered += 1;
                            continue;
                        }
                        LineVerdict::Admit => Some((&mask, line.len())),
                        LineVerdict::Decode => None,
                    };
                    self.record_isolated(
                        line,
                        &Location::line(file.clone(), this),
                        line_mask,
                        None,
                        &mut res,
                    );
                }
            }
        }
        res
    }

    /// Decodes and evaluates one record, so that a failure inside kadet
    /// (a panic in a decoder, the evaluator or a template) costs that record
    /// only: what it produced is dropped, and it is reported as skipped with
    /// the reason `internal-error`.
    fn record_isolated(
        &self,
        bytes: &[u8],
        loc: &Location,
        line: Option<(&RuleMask, usize)>,
        cluster: Option<&str>,
        res: &mut ChunkResult,
    ) {
        let (matches, skips) = (res.matches.len(), res.skips.len());
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            fault_injection::check(bytes);
            self.record(bytes, loc, line, cluster, res)
        }));
        if let Err(panic) = outcome {
            res.matches.truncate(matches);
            res.skips.truncate(skips);
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            let skip = Skip {
                location: loc.clone(),
                reason: SkipReason::InternalError,
                message: format!("kadet failed on this record ({what}); please report it"),
            };
            *res.stats.skipped.entry(skip.reason).or_default() += 1;
            res.skips.push(skip);
        }
    }

    fn record(
        &self,
        bytes: &[u8],
        loc: &Location,
        line: Option<(&RuleMask, usize)>,
        cluster: Option<&str>,
        res: &mut ChunkResult,
    ) {
        // An admitted line is almost always one plain event of the presumed
        // log type: parse it in one pass, without the decoder's.
        if let (Some((mask, _)), Some(log_type)) = (line, self.prefilter.presumed_type()) {
            let raw = RawEvent {
                meta: SourceMeta {
                    log_type,
                    // A plain event names no cluster: the default applies.
                    cluster: cluster
                        .map(str::to_string)
                        .or_else(|| self.decoder.options().cluster.clone()),
                    source_time: None,
                    location: loc.clone(),
                },
                body: std::borrow::Cow::Borrowed(bytes.trim_ascii()),
                shape: BodyShape::Audit,
                record: None,
            };
            if self.evaluate(&raw, mask, true, res) {
                return;
            }
        }
        let mut sink = WorkerSink {
            prefilter: &self.prefilter,
            line,
            mask: RuleMask::default(),
            events: Vec::new(),
            skips: &mut res.skips,
            stats: &mut res.stats,
        };
        self.decoder.decode_named(bytes, loc, cluster, &mut sink);
        for (raw, mask) in std::mem::take(&mut sink.events) {
            self.evaluate(&raw, &mask, false, res);
        }
    }

    /// Evaluates the candidate rules in `mask` on one event. With `plain`,
    /// the event's record has not been through the decoder: returns `false`
    /// (having done nothing) when the decoder would not read it as one plain
    /// audit event.
    fn evaluate(
        &self,
        raw: &RawEvent<'_>,
        mask: &RuleMask,
        plain: bool,
        res: &mut ChunkResult,
    ) -> bool {
        // Phase 1: parse only the top-level members the candidate rules
        // read, and decide which rules match.
        let mut keys: Vec<&str> = Vec::new();
        let mut whole = false;
        for i in mask.iter() {
            match &self.rules[i].detection_keys {
                Some(ks) => {
                    for k in ks {
                        if !keys.contains(&k.as_str()) {
                            keys.push(k);
                        }
                    }
                }
                None => whole = true,
            }
        }
        keys.extend_from_slice(&kadet_event::event::TIME_KEYS);
        let parsed = if plain {
            if whole {
                return false;
            }
            match raw.parse_plain_keys(&keys, self.decoder.options().max_event_bytes) {
                Some(ev) => Ok(ev),
                None => return false,
            }
        } else {
            raw.parse_keys(if whole { None } else { Some(&keys) })
        };
        let ev = match parsed {
            Ok(ev) => ev,
            Err(e) => {
                res.skip(e, &raw.meta.location);
                return true;
            }
        };
        if !self.in_window(ev.time) {
            *res.stats
                .ignored
                .entry(IgnoreReason::OutsideWindow)
                .or_default() += 1;
            return true;
        }
        let mut hits: Vec<usize> = Vec::new();
        let mut suppressed: Vec<(usize, usize)> = Vec::new();
        for i in mask.iter() {
            match self.rules[i].verdict(&ev) {
                Verdict::Match => hits.push(i),
                Verdict::Suppressed(x) => suppressed.push((i, x)),
                Verdict::NoMatch => {}
            }
        }
        // A body a rule read would not parse: the record is skipped, as
        // the whole parse would have skipped it.
        if let Some(e) = ev.body_error() {
            res.skip(e, &raw.meta.location);
            return true;
        }
        let (log_type, time) = (ev.meta.log_type, ev.time);
        drop(ev);
        // Phase 2 (rare): the whole event, redacted, for titles and
        // context. It may refuse what the partial parse only scanned (a
        // body no rule read, with a number out of range): the record is
        // then skipped and not counted.
        let whole = if hits.is_empty() {
            None
        } else {
            match raw.parse() {
                Ok(ev) => Some(ev),
                Err(e) => {
                    res.skip(e, &raw.meta.location);
                    return true;
                }
            }
        };
        for key in suppressed {
            *res.stats.suppressed.entry(key).or_default() += 1;
        }
        *res.stats.events_by_type.entry(log_type).or_default() += 1;
        if let Some(t) = time {
            if res.max_time.is_none_or(|m| t > m) {
                res.max_time = Some(t);
            }
        }
        let Some(mut ev) = whole else {
            return true;
        };
        if self.redact {
            kadet_event::redact::redact_event(&mut ev.audit);
        }
        for &i in &hits {
            res.stats.matches += 1;
            res.matches.push(Match::new(i, &self.rules[i], &ev));
        }
        true
    }
}

impl Evaluator<'_> {
    /// True when an event at `time` is in the run's window (any event is
    /// when there is no window; one without a time is not when there is).
    fn in_window(&self, time: Option<kadet_event::EventTime>) -> bool {
        let w = &self.window;
        if w.since.is_none() && w.until.is_none() {
            return true;
        }
        time.is_some_and(|t| w.since.is_none_or(|s| t >= s) && w.until.is_none_or(|u| t < u))
    }
}

/// Receives results in input order.
pub trait ResultHandler {
    /// One chunk's results.
    fn handle(&mut self, result: ChunkResult);
}

/// Runs the pipeline over `inputs`, handing results to `handler` in input
/// order. Returns the total counters.
pub fn run(
    inputs: Inputs,
    eval: &Evaluator<'_>,
    opts: &ScanOptions,
    counter: Arc<ByteCounter>,
    handler: &mut dyn ResultHandler,
) -> ScanStats {
    let mut total = ScanStats::default();
    let mut deliver = |r: ChunkResult, total: &mut ScanStats| {
        total.merge(&r.stats);
        handler.handle(r);
    };
    if opts.threads <= 1 {
        for f in inputs {
            let f = match f {
                Ok(f) => f,
                Err(skip) => {
                    deliver(eval.process(Chunk::Skipped(skip)), &mut total);
                    continue;
                }
            };
            total.inputs += 1;
            let mut reader = match open_input(&f, counter.clone()) {
                Ok(r) => ChunkReader::new(f.name.clone(), r, opts.read),
                Err(e) => {
                    deliver(eval.process(Chunk::Skipped(open_skip(&f, e))), &mut total);
                    continue;
                }
            };
            while let Some(chunk) = reader.next_chunk() {
                deliver(eval.process(chunk), &mut total);
            }
        }
        return total;
    }
    let threads = opts.threads;
    // No reader thread: workers take turns cutting the next chunk (the read,
    // its copy and the line cut are the serial part), then decode and
    // evaluate it while another worker reads.
    let source = Mutex::new(ChunkSource {
        inputs,
        opened: 0,
        reader: None,
        seq: 0,
        counter,
        read: opts.read,
    });
    std::thread::scope(|s| {
        let (res_tx, res_rx) = mpsc::sync_channel::<(u64, ChunkResult)>(threads * 4);
        for _ in 0..threads {
            let tx = res_tx.clone();
            let source = &source;
            s.spawn(move || loop {
                let next = match source.lock() {
                    Ok(mut src) => src.next(),
                    Err(_) => return,
                };
                let Some((seq, chunk)) = next else { return };
                if tx.send((seq, eval.process(chunk))).is_err() {
                    return;
                }
            });
        }
        drop(res_tx);
        let mut next = 0u64;
        let mut waiting: BTreeMap<u64, ChunkResult> = BTreeMap::new();
        for (seq, r) in res_rx {
            waiting.insert(seq, r);
            while let Some(r) = waiting.remove(&next) {
                deliver(r, &mut total);
                next += 1;
            }
        }
        for (_, r) in std::mem::take(&mut waiting) {
            deliver(r, &mut total);
        }
    });
    total.inputs += source.lock().map_or(0, |s| s.opened);
    total
}

/// The inputs, cut into numbered chunks one at a time.
struct ChunkSource {
    inputs: Inputs,
    /// Inputs opened (or failed to open) so far.
    opened: u64,
    reader: Option<ChunkReader>,
    seq: u64,
    counter: Arc<ByteCounter>,
    read: ReadOptions,
}

impl ChunkSource {
    /// The next chunk and its sequence number.
    fn next(&mut self) -> Option<(u64, Chunk)> {
        let chunk = loop {
            if let Some(r) = &mut self.reader {
                if let Some(c) = r.next_chunk() {
                    break c;
                }
                self.reader = None;
            }
            let f = match self.inputs.next()? {
                Ok(f) => f,
                Err(skip) => break Chunk::Skipped(skip),
            };
            self.opened += 1;
            match open_input(&f, self.counter.clone()) {
                Ok(r) => self.reader = Some(ChunkReader::new(f.name.clone(), r, self.read)),
                Err(e) => break Chunk::Skipped(open_skip(&f, e)),
            }
        };
        self.seq += 1;
        Some((self.seq - 1, chunk))
    }
}

fn open_skip(f: &InputFile, e: std::io::Error) -> Skip {
    Skip {
        location: Location::line(f.name.clone(), 0),
        reason: SkipReason::ReadError,
        message: format!("cannot open: {e}"),
    }
}

/// Fault-injection points for tests of the isolation above: when the
/// environment variable `KADET_FAULT_INJECT_PANIC` is set, a record that
/// contains its value panics as a bug would; with `KADET_FAULT_INJECT_ABORT`,
/// the process aborts as it would on a failed allocation (no unwinding, no
/// cleanup: what `serve`'s crash-loop guard must survive). Unset (always, in
/// production), they cost one check of a flag per record.
mod fault_injection {
    use memchr::memmem::Finder;
    use std::sync::OnceLock;

    static PANIC: OnceLock<Option<Finder<'static>>> = OnceLock::new();
    static ABORT: OnceLock<Option<Finder<'static>>> = OnceLock::new();

    fn marker(
        cell: &'static OnceLock<Option<Finder<'static>>>,
        var: &str,
    ) -> Option<&'static Finder<'static>> {
        cell.get_or_init(|| {
            std::env::var(var)
                .ok()
                .filter(|m| !m.is_empty())
                .map(|m| Finder::new(m.as_bytes()).into_owned())
        })
        .as_ref()
    }

    pub(super) fn check(record: &[u8]) {
        if let Some(f) = marker(&PANIC, "KADET_FAULT_INJECT_PANIC") {
            if f.find(record).is_some() {
                panic!("fault injected (KADET_FAULT_INJECT_PANIC)");
            }
        }
        if let Some(f) = marker(&ABORT, "KADET_FAULT_INJECT_ABORT") {
            if f.find(record).is_some() {
                eprintln!("kadet: fault injected (KADET_FAULT_INJECT_ABORT): aborting");
                std::process::abort();
            }
        }
    }
}
