//! What a file sink already holds: at start, the alert ids in its file
//! (after cutting off a line torn by a crash), so that an alert written just
//! before a crash but not confirmed is confirmed instead of written again.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{self, BufRead, Seek, SeekFrom};
use std::path::Path;

/// The alert ids already in a JSON-lines file (kadet alerts or OCSF
/// findings), after cutting off a torn last line.
pub fn ids_in_file(path: &Path) -> io::Result<HashSet<String>> {
    let mut ids = HashSet::new();
    let mut f = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(e),
    };
    let mut good = 0u64;
    {
        let mut r = io::BufReader::new(&mut f);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = r.read_until(b'\n', &mut line)?;
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            good += n as u64;
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) {
                let id = v
                    .get("alert_id")
                    .or_else(|| v.pointer("/finding_info/uid"))
                    .and_then(|v| v.as_str());
                if let Some(id) = id {
                    ids.insert(id.to_string());
                }
            }
        }
    }
    if f.seek(SeekFrom::End(0))? != good {
        f.set_len(good)?;
        f.sync_all()?;
    }
    Ok(ids)
}
