//! The store's schema and its numbered migrations. `PRAGMA user_version`
//! holds the schema version; every row that holds state also carries the
//! version of its stored form (column `v`).
//!
//! - version 0: kadet 0.1.0, before versions (no `v` columns; windows in
//!   that release's JSON, a separate table of distinct values; deliveries
//!   keyed by the sink's position in the config);
//! - version 1: windows, buffered matches and the outbox in the versioned
//!   forms of [`AlertWindow`](kadet_engine::AlertWindow) and
//!   [`Match`](kadet_engine::Match); deliveries keyed by sink name; the
//!   digests of the records already evaluated (a resent batch counts once);
//! - version 2: windows keyed by their window key (the dedup string and the
//!   cluster, [`window_key`](kadet_engine::window::window_key)), column
//!   `window_key` instead of `dedup`, so the same attack in two clusters is
//!   two windows.
//!
//! A newer kadet migrates an older state directory at start; an older kadet
//! refuses a newer one.

use super::legacy;
use anyhow::{bail, Context, Result};
use rusqlite::{params, Connection, Transaction};

/// The schema version this kadet writes.
pub const SCHEMA_VERSION: i64 = 2;

/// The version of delivery rows.
pub const DELIVERY_VERSION: i64 = 1;

const V1: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE windows (
    rule_id TEXT NOT NULL, dedup TEXT NOT NULL, v INTEGER NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL, state TEXT NOT NULL,
    PRIMARY KEY (rule_id, dedup));
CREATE TABLE buffered (
    seq INTEGER PRIMARY KEY, v INTEGER NOT NULL, rule_id TEXT NOT NULL, state TEXT NOT NULL);
CREATE TABLE alerts (alert_id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, raised_at INTEGER NOT NULL);
CREATE TABLE outbox (
    alert_id TEXT PRIMARY KEY, v INTEGER NOT NULL, state TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE deliveries (
    alert_id TEXT NOT NULL, sink TEXT NOT NULL, v INTEGER NOT NULL, attempts INTEGER NOT NULL,
    next_at INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (alert_id, sink));
CREATE INDEX deliveries_due ON deliveries (sink, next_at);
CREATE TABLE applied (digest BLOB PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX applied_at ON applied (at);
";

/// The version 1 tables, for tests that make a version 1 store.
#[cfg(test)]
pub const V1_FOR_TESTS: &str = V1;

/// Version 1 → 2: the windows' key column names what it holds.
const V2_RENAME: &str = "ALTER TABLE windows RENAME COLUMN dedup TO window_key;";

/// Brings the database to [`SCHEMA_VERSION`]. `sinks` are the configured
/// sink names in config order, which is how version 0 named them.
pub fn migrate(conn: &mut Connection, sinks: &[String]) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        bail!(
            "the state was written by a newer kadet (schema version {version}; this kadet reads up to {SCHEMA_VERSION}): \
             run that newer version, or start this one with an empty state directory"
        );
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    let fresh = !table_exists(&tx, "windows")?;
    if fresh {
        tx.execute_batch(V1)?;
        tx.execute_batch(V2_RENAME)?;
    } else {
        if version < 1 {
            from_v0(&tx, sinks).context("migrating the state from schema version 0")?;
        }
        from_v1(&tx).context("migrating the state from schema version 1")?;
        tracing::info!(from = version, to = SCHEMA_VERSION, "migrated the state");
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Version 1 → 2: each window is keyed by its window key (the dedup string
/// and, when the window has one, its cluster).
fn from_v1(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(V2_RENAME)?;
    let rows: Vec<(String, String, String)> = {
        let mut st = tx.prepare("SELECT rule_id, window_key, state FROM windows")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (rule_id, old_key, state) in rows {
        // An unreadable row stays as it is: loading quarantines it.
        let Ok(w) = kadet_engine::AlertWindow::from_stored(&state) else {
            continue;
        };
        let key = w.key();
        if key != old_key {
            tx.execute(
                "UPDATE windows SET window_key = ?1 WHERE rule_id = ?2 AND window_key = ?3",
                params![key, rule_id, old_key],
            )?;
        }
    }
    Ok(())
}

fn table_exists(tx: &Transaction<'_>, name: &str) -> Result<bool> {
    Ok(tx.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )? > 0)
}

/// Version 0 → 1: the old tables are renamed away, the new ones made, and
/// every row converted.
fn from_v0(tx: &Transaction<'_>, sinks: &[String]) -> Result<()> {
    for t in ["windows", "alerts", "outbox", "deliveries"] {
        tx.execute_batch(&format!("ALTER TABLE {t} RENAME TO old_{t}"))?;
    }
    tx.execute_batch("DROP INDEX IF EXISTS windows_end")?;
    tx.execute_batch(V1)?;
    let windows: Vec<(String, String, i64, String)> = {
        let mut st = tx.prepare("SELECT rule_id, dedup, start, state FROM old_windows")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (rule_id, dedup, start, state) in windows {
        let distinct = old_distinct_values(tx, &rule_id, &dedup, start)?;
        let notified: bool = tx.query_row(
            "SELECT notified FROM old_windows WHERE rule_id = ?1 AND dedup = ?2",
            params![rule_id, dedup],
            |r| r.get::<_, i64>(0).map(|n| n != 0),
        )?;
        match legacy::window(&state, distinct, notified) {
            Ok(w) => {
                tx.execute(
                    "INSERT INTO windows (rule_id, dedup, v, start, end, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![w.rule_id, w.dedup, kadet_engine::window::WINDOW_VERSION, w.start.0, w.end.0, w.to_stored()],
                )?;
            }
            Err(e) => {
                tracing::warn!(rule = %rule_id, error = %e, "dropped an unreadable window while migrating")
            }
        }
    }
    tx.execute_batch(
        "INSERT INTO alerts (alert_id, rule_id, raised_at) SELECT alert_id, rule_id, raised_at FROM old_alerts",
    )?;
    let outbox: Vec<(String, String, i64)> = {
        let mut st = tx.prepare("SELECT alert_id, state, seq FROM old_outbox")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (id, state, seq) in outbox {
        match legacy::window(&state, Default::default(), true) {
            Ok(w) => {
                tx.execute(
                    "INSERT INTO outbox (alert_id, v, state, seq) VALUES (?1, ?2, ?3, ?4)",
                    params![id, kadet_engine::window::WINDOW_VERSION, w.to_stored(), seq],
                )?;
            }
            Err(e) => {
                tracing::warn!(alert_id = %id, error = %e, "dropped an unreadable outbox entry while migrating")
            }
        }
    }
    migrate_deliveries(tx, sinks)?;
    tx.execute_batch(
        "DROP TABLE old_windows; DROP TABLE old_alerts; DROP TABLE old_outbox; DROP TABLE old_deliveries;
         DROP TABLE IF EXISTS distinct_values;
         DELETE FROM outbox WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = outbox.alert_id);",
    )?;
    Ok(())
}

fn old_distinct_values(
    tx: &Transaction<'_>,
    rule_id: &str,
    dedup: &str,
    start: i64,
) -> Result<std::collections::BTreeSet<String>> {
    if !table_exists(tx, "distinct_values")? {
        return Ok(Default::default());
    }
    let mut st = tx.prepare(
        "SELECT value FROM distinct_values WHERE rule_id = ?1 AND dedup = ?2 AND start = ?3",
    )?;
    let rows = st.query_map(params![rule_id, dedup, start], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Version 0 named sinks by position; the position is looked up in the
/// config this kadet starts with. Deliveries owed to a position the config
/// no longer has are dropped, as version 0 did.
fn migrate_deliveries(tx: &Transaction<'_>, sinks: &[String]) -> Result<()> {
    let rows: Vec<(String, i64, i64, i64, i64)> = {
        let mut st =
            tx.prepare("SELECT alert_id, sink, attempts, next_at, seq FROM old_deliveries")?;
        let rows = st.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (id, index, attempts, next_at, seq) in rows {
        let Some(name) = usize::try_from(index).ok().and_then(|i| sinks.get(i)) else {
            tracing::warn!(alert_id = %id, sink = index, "dropped a delivery owed to a sink the config no longer has");
            continue;
        };
        tx.execute(
            "INSERT INTO deliveries (alert_id, sink, v, attempts, next_at, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, name, DELIVERY_VERSION, attempts, next_at, seq],
        )?;
    }
    Ok(())
}
