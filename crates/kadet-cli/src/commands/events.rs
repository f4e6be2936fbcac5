//! Reading canonical events one by one, for the commands that look at
//! single events (`cat`, `explain`) rather than run the parallel pipeline.

use anyhow::Result;
use kadet_event::input::{open_input, ByteCounter, Inputs};
use kadet_event::{
    CanonicalEvent, Chunk, ChunkReader, CollectSink, DecodeOptions, Decoder, Location, ReadOptions,
    Skip, SkipReason,
};
use std::sync::Arc;

/// Calls `each` for every event of the inputs, `skipped` for every record
/// that could not be read or decoded. Stops at the first error of `each`.
pub fn for_each_event(
    inputs: Inputs,
    opts: DecodeOptions,
    mut each: impl FnMut(&mut CanonicalEvent<'_>) -> Result<()>,
    mut skipped: impl FnMut(&Skip),
) -> Result<()> {
    let decoder = Decoder::new(opts);
    for f in inputs {
        let f = match f {
            Ok(f) => f,
            Err(skip) => {
                skipped(&skip);
                continue;
            }
        };
        let reader = match open_input(&f, Arc::new(ByteCounter::default())) {
            Ok(r) => r,
            Err(e) => {
                skipped(&Skip {
                    location: Location::line(f.name.clone(), 0),
                    reason: SkipReason::ReadError,
                    message: format!("cannot open: {e}"),
                });
                continue;
            }
        };
        let mut chunks = ChunkReader::new(f.name.clone(), reader, ReadOptions::default());
        while let Some(chunk) = chunks.next_chunk() {
            for (loc, bytes) in records(chunk, &mut skipped) {
                let mut sink = CollectSink::default();
                decoder.decode(&bytes, &loc, &mut sink);
                for s in &sink.skipped {
                    skipped(s);
                }
                for raw in &sink.events {
                    match raw.parse() {
                        Ok(mut ev) => each(&mut ev)?,
                        Err(e) => skipped(&e.at(raw.meta.location.clone())),
                    }
                }
            }
        }
    }
    Ok(())
}

/// The records of a chunk with their locations (blank lines dropped).
fn records(chunk: Chunk, skipped: &mut impl FnMut(&Skip)) -> Vec<(Location, Vec<u8>)> {
    match chunk {
        Chunk::Skipped(s) => {
            skipped(&s);
            Vec::new()
        }
        Chunk::Document { file, line, data } => vec![(Location::line(file, line), data)],
        Chunk::Lines {
            file,
            first_line,
            data,
        } => data
            .split(|&b| b == b'\n')
            .enumerate()
            .filter(|(_, l)| l.iter().any(|b| !b.is_ascii_whitespace()))
            .map(|(i, l)| {
                (
                    Location::line(file.clone(), first_line + i as u64),
                    l.to_vec(),
                )
            })
            .collect(),
    }
}
