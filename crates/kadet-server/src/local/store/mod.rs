//! The server's SQLite store: schema and migrations ([`schema`]), the meta
//! keys, dedup windows and the reorder buffer of the detector (this file),
//! and the alert outbox with its per-sink deliveries ([`outbox`]).
//!
//! The detector commits each pass in one transaction ([`Store::commit`]):
//! window changes, buffered matches, new alerts with their deliveries, and
//! the journal offset together, so a crash keeps a pass whole or loses it
//! whole.

mod legacy;
pub mod outbox;
pub mod schema;

use anyhow::{Context, Result};
use kadet_engine::alerter::{Buffered, Changes};
use kadet_engine::window::WINDOW_VERSION;
use kadet_engine::{Alert, AlertWindow, Match};
use kadet_event::EventTime;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::path::Path;
use std::time::Duration;

/// The version of stored buffered matches.
pub const MATCH_VERSION: i64 = 1;

/// Integers the store keeps beside the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    /// Journal offset up to which every record is evaluated and committed.
    JournalOffset,
    /// The event-time watermark (µs).
    Watermark,
    /// The last outbox sequence number given.
    OutboxSeq,
}

impl Meta {
    fn key(self) -> &'static str {
        match self {
            Meta::JournalOffset => "journal_offset",
            Meta::Watermark => "watermark",
            Meta::OutboxSeq => "outbox_seq",
        }
    }
}

/// A stored row kadet could not read, moved out of the way.
#[derive(Debug, Clone)]
pub struct Quarantined {
    /// Which table.
    pub table: &'static str,
    /// Its key, for people.
    pub key: String,
    /// The stored text.
    pub state: String,
    /// Why it could not be read.
    pub reason: String,
}

/// One detector pass, to commit at once.
#[derive(Debug, Default)]
pub struct Pass {
    /// What the alerter changed.
    pub changes: Changes,
    /// Alerts raised, with the windows they come from.
    pub alerts: Vec<(Alert, AlertWindow)>,
    /// The new watermark.
    pub watermark: Option<EventTime>,
    /// The journal offset the pass read up to.
    pub offset: u64,
    /// Digests of the records evaluated in the pass.
    pub applied: Vec<[u8; 32]>,
}

/// How long the digest of an evaluated record is kept: a batch resent
/// within this time (the API server and Firehose retry a request they got
/// no answer for) is recognised and not counted again.
pub const APPLIED_RETENTION_MS: i64 = 24 * 3600 * 1000;

/// The SQLite store.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating it private to this user) and migrates the store.
    /// `sinks` are the configured sink names, in config order.
    pub fn open(path: &Path, sinks: &[String]) -> Result<Store> {
        let mut store = Store::connect(path)?;
        schema::migrate(&mut store.conn, sinks)
            .with_context(|| format!("store {}", path.display()))?;
        Ok(store)
    }

    /// Another connection to an open store (sink workers, probes).
    pub fn connect(path: &Path) -> Result<Store> {
        crate::state_dir::create_private_file(path)?;
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open the store {}", path.display()))?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")?;
        Ok(Store { conn })
    }

    /// A store over an open connection (tests: a read-only one fails every
    /// write, as a full disk would).
    #[cfg(test)]
    pub(crate) fn from_connection(conn: Connection) -> Store {
        Store { conn }
    }

    /// The SQLite connection.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Reads a meta integer.
    pub fn meta(&self, key: Meta) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key.key()], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// The journal offset already evaluated.
    pub fn journal_offset(&self) -> Result<u64> {
        Ok(self.meta(Meta::JournalOffset)?.unwrap_or(0).max(0) as u64)
    }

    /// The stored watermark.
    pub fn watermark(&self) -> Result<Option<EventTime>> {
        Ok(self.meta(Meta::Watermark)?.map(EventTime))
    }

    /// Every open window. Rows that cannot be read are deleted and returned
    /// separately, so one bad row never stops detection.
    pub fn load_windows(&mut self) -> Result<(Vec<AlertWindow>, Vec<Quarantined>)> {
        let rows: Vec<(String, String, String)> = {
            let mut st = self
                .conn
                .prepare("SELECT rule_id, window_key, state FROM windows")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut windows = Vec::with_capacity(rows.len());
        let mut bad = Vec::new();
        for (rule_id, key, state) in rows {
            match AlertWindow::from_stored(&state) {
                Ok(w) => windows.push(w),
                Err(e) => {
                    self.conn.execute(
                        "DELETE FROM windows WHERE rule_id = ?1 AND window_key = ?2",
                        params![rule_id, key],
                    )?;
                    bad.push(Quarantined {
                        table: "windows",
                        key: format!("{rule_id} / {key}"),
                        state,
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok((windows, bad))
    }

    /// The matches waiting in the reorder buffer: (sequence, rule id, match).
    pub fn load_buffered(&mut self) -> Result<(Vec<Buffered>, Vec<Quarantined>)> {
        let rows: Vec<(i64, i64, String, String)> = {
            let mut st = self
                .conn
                .prepare("SELECT seq, v, rule_id, state FROM buffered ORDER BY seq")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::with_capacity(rows.len());
        let mut bad = Vec::new();
        for (seq, v, rule_id, state) in rows {
            let parsed = if v == MATCH_VERSION {
                serde_json::from_str::<Match>(&state).map_err(|e| e.to_string())
            } else {
                Err(format!(
                    "stored match version {v}; this kadet reads {MATCH_VERSION}"
                ))
            };
            match parsed {
                Ok(m) => out.push((seq as u64, rule_id, m)),
                Err(reason) => {
                    self.conn
                        .execute("DELETE FROM buffered WHERE seq = ?1", [seq])?;
                    bad.push(Quarantined {
                        table: "buffered",
                        key: format!("{rule_id} #{seq}"),
                        state,
                        reason,
                    });
                }
            }
        }
        Ok((out, bad))
    }

    /// True when a record with this digest was evaluated recently.
    pub fn applied(&self, digest: &[u8; 32]) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM applied WHERE digest = ?1")?
            .exists([&digest[..]])?)
    }

    /// See [`outbox::repair`].
    pub fn repair_outbox(&mut self, sinks: &[String]) -> Result<(usize, usize)> {
        outbox::repair(&mut self.conn, sinks)
    }

    /// Commits one detector pass; returns how many new alerts entered the
    /// outbox (an alert id already raised is not raised again).
    pub fn commit(&mut self, pass: &Pass, sinks: &[String]) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        write_changes(&tx, &pass.changes)?;
        let now = crate::now_ms();
        for d in &pass.applied {
            tx.execute(
                "INSERT OR IGNORE INTO applied (digest, at) VALUES (?1, ?2)",
                params![&d[..], now],
            )?;
        }
        tx.execute(
            "DELETE FROM applied WHERE at < ?1",
            [now - APPLIED_RETENTION_MS],
        )?;
        let mut seq = meta_in(&tx, Meta::OutboxSeq)?.unwrap_or(0);
        let mut raised = 0;
        for (alert, window) in &pass.alerts {
            if outbox::enqueue(&tx, alert, window, sinks, &mut seq)? {
                raised += 1;
            }
        }
        if let Some(w) = pass.watermark {
            set_meta(&tx, Meta::Watermark, w.0)?;
        }
        set_meta(&tx, Meta::OutboxSeq, seq)?;
        set_meta(&tx, Meta::JournalOffset, pass.offset as i64)?;
        tx.commit()?;
        Ok(raised)
    }
}

fn write_changes(tx: &Transaction<'_>, c: &Changes) -> Result<()> {
    // Closed first: a window may close and its key open a new one in the
    // same pass.
    for (rule_id, key) in &c.closed {
        tx.execute(
            "DELETE FROM windows WHERE rule_id = ?1 AND window_key = ?2",
            params![rule_id, key],
        )?;
    }
    for w in &c.windows {
        tx.execute(
            "INSERT INTO windows (rule_id, window_key, v, start, end, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(rule_id, window_key) DO UPDATE SET v = excluded.v, start = excluded.start,
             end = excluded.end, state = excluded.state",
            params![w.rule_id, w.key(), WINDOW_VERSION, w.start.0, w.end.0, w.to_stored()],
        )?;
    }
    for (seq, rule_id, m) in &c.buffered {
        tx.execute(
            "INSERT OR REPLACE INTO buffered (seq, v, rule_id, state) VALUES (?1, ?2, ?3, ?4)",
            params![
                *seq as i64,
                MATCH_VERSION,
                rule_id,
                serde_json::to_string(m)?
            ],
        )?;
    }
    for seq in &c.released {
        tx.execute("DELETE FROM buffered WHERE seq = ?1", [*seq as i64])?;
    }
    Ok(())
}

fn meta_in(tx: &Transaction<'_>, key: Meta) -> Result<Option<i64>> {
    Ok(tx
        .query_row("SELECT value FROM meta WHERE key = ?1", [key.key()], |r| {
            r.get(0)
        })
        .optional()?)
}

fn set_meta(tx: &Transaction<'_>, key: Meta, v: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key.key(), v],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kadet_rules::Severity;

    fn window(start: i64) -> AlertWindow {
        AlertWindow {
            rule_id: "R".into(),
            rule_name: "R".into(),
            dedup: "d".into(),
            start: EventTime(start),
            end: EventTime(start + 10),
            last_time: EventTime(start),
            count: 1,
            distinct: Default::default(),
            severity: Severity::Low,
            title: "t".into(),
            events: Vec::new(),
            log_types: Default::default(),
            summary: Vec::new(),
            any_time: true,
            cluster: None,
            context: Default::default(),
            actor: Default::default(),
            target: Default::default(),
            notified: false,
            seen_addresses: Default::default(),
            seen_user_agents: Default::default(),
            sliding: Default::default(),
        }
    }

    #[test]
    fn a_window_closed_and_reopened_in_one_pass_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("s.sqlite"), &["x".into()]).unwrap();
        let mut pass = Pass::default();
        pass.changes.windows.push(window(0));
        s.commit(&pass, &["x".into()]).unwrap();
        let mut pass = Pass::default();
        pass.changes.closed.push(("R".into(), "d".into()));
        pass.changes.windows.push(window(20));
        pass.offset = 7;
        s.commit(&pass, &["x".into()]).unwrap();
        let (windows, bad) = s.load_windows().unwrap();
        assert!(bad.is_empty());
        assert_eq!(windows, vec![window(20)]);
        assert_eq!(s.journal_offset().unwrap(), 7);
    }

    #[test]
    fn a_version_1_store_is_keyed_by_cluster_after_migrating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(schema::V1_FOR_TESTS).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            let mut w = window(0);
            w.cluster = Some("prod-a".into());
            conn.execute(
                "INSERT INTO windows (rule_id, dedup, v, start, end, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![w.rule_id, w.dedup, WINDOW_VERSION, w.start.0, w.end.0, w.to_stored()],
            )
            .unwrap();
        }
        let mut s = Store::open(&path, &["x".into()]).unwrap();
        let (windows, bad) = s.load_windows().unwrap();
        assert!(bad.is_empty());
        assert_eq!(windows.len(), 1);
        // Closing it by its window key removes the migrated row.
        let mut pass = Pass::default();
        pass.changes.closed.push(("R".into(), windows[0].key()));
        s.commit(&pass, &["x".into()]).unwrap();
        assert!(s.load_windows().unwrap().0.is_empty());
        let version: i64 = s
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema::SCHEMA_VERSION);
    }
}
