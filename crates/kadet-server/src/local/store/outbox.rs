//! The alert outbox: each raised alert once (by `alert_id`), owed to every
//! configured sink (by name) until that sink confirms or dead-letters it.

use super::schema::DELIVERY_VERSION;
use anyhow::Result;
use kadet_engine::window::WINDOW_VERSION;
use kadet_engine::{Alert, AlertWindow};
use rusqlite::{params, Connection, Transaction};

/// Records a raised alert and the deliveries it is owed; false when this
/// alert id was raised before (a replayed pass).
pub fn enqueue(
    tx: &Transaction<'_>,
    alert: &Alert,
    window: &AlertWindow,
    sinks: &[String],
    seq: &mut i64,
) -> Result<bool> {
    let new = tx.execute(
        "INSERT OR IGNORE INTO alerts (alert_id, rule_id, raised_at) VALUES (?1, ?2, strftime('%s','now'))",
        params![alert.alert_id, alert.rule_id],
    )? > 0;
    if !new {
        return Ok(false);
    }
    *seq += 1;
    tx.execute(
        "INSERT OR IGNORE INTO outbox (alert_id, v, state, seq) VALUES (?1, ?2, ?3, ?4)",
        params![alert.alert_id, WINDOW_VERSION, window.to_stored(), *seq],
    )?;
    for sink in sinks {
        tx.execute(
            "INSERT OR IGNORE INTO deliveries (alert_id, sink, v, attempts, next_at, seq) VALUES (?1, ?2, ?3, 0, 0, ?4)",
            params![alert.alert_id, sink, DELIVERY_VERSION, *seq],
        )?;
    }
    Ok(true)
}

/// A delivery that is due: the alert id, its window as stored, and the
/// attempts made so far.
pub struct Due {
    /// The alert id.
    pub alert_id: String,
    /// The stored window (read with [`AlertWindow::from_stored`]).
    pub state: String,
    /// Attempts made so far.
    pub attempts: i64,
}

/// Up to `limit` deliveries owed to `sink` and due at `now_ms`, oldest first.
pub fn due(conn: &Connection, sink: &str, now_ms: i64, limit: usize) -> Result<Vec<Due>> {
    let mut st = conn.prepare_cached(
        "SELECT d.alert_id, o.state, d.attempts FROM deliveries d JOIN outbox o ON o.alert_id = d.alert_id
         WHERE d.sink = ?1 AND d.next_at <= ?2 ORDER BY d.seq LIMIT ?3",
    )?;
    let rows = st.query_map(params![sink, now_ms, limit as i64], |r| {
        Ok(Due {
            alert_id: r.get(0)?,
            state: r.get(1)?,
            attempts: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// When the next delivery owed to `sink` is due (ms since the epoch).
pub fn next_due(conn: &Connection, sink: &str) -> Result<Option<i64>> {
    Ok(conn.query_row(
        "SELECT MIN(next_at) FROM deliveries WHERE sink = ?1",
        [sink],
        |r| r.get(0),
    )?)
}

/// The alert ids owed to `sink`.
pub fn owed_to(conn: &Connection, sink: &str) -> Result<Vec<String>> {
    let mut st = conn.prepare("SELECT alert_id FROM deliveries WHERE sink = ?1")?;
    let rows = st.query_map([sink], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Puts a failed delivery off until `next_at_ms`.
pub fn retry_later(
    conn: &Connection,
    alert_id: &str,
    sink: &str,
    attempts: i64,
    next_at_ms: i64,
) -> Result<()> {
    conn.execute(
        "UPDATE deliveries SET attempts = ?3, next_at = ?4 WHERE alert_id = ?1 AND sink = ?2",
        params![alert_id, sink, attempts, next_at_ms],
    )?;
    Ok(())
}

/// Marks an alert delivered to `sink`; drops it from the outbox when no sink
/// waits for it. Both deletes are one transaction: a crash between them
/// would otherwise leave an outbox entry that no sink waits for.
pub fn confirm(conn: &Connection, alert_id: &str, sink: &str) -> Result<()> {
    let tx = conn.unchecked_transaction()?;
    tx.execute(
        "DELETE FROM deliveries WHERE alert_id = ?1 AND sink = ?2",
        params![alert_id, sink],
    )?;
    tx.execute(
        "DELETE FROM outbox WHERE alert_id = ?1 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE alert_id = ?1)",
        [alert_id],
    )?;
    tx.commit()?;
    Ok(())
}

/// Brings the outbox in line with the configured sinks at start:
/// deliveries owed to sinks no longer configured are dropped, and so are
/// outbox entries no sink waits for. Returns how many of each.
pub fn repair(conn: &mut Connection, sinks: &[String]) -> Result<(usize, usize)> {
    let tx = conn.transaction()?;
    let mut gone = 0;
    let owed: Vec<String> = {
        let mut st = tx.prepare("SELECT DISTINCT sink FROM deliveries")?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for sink in owed.iter().filter(|s| !sinks.contains(s)) {
        gone += tx.execute("DELETE FROM deliveries WHERE sink = ?1", [sink])?;
    }
    let orphans = tx.execute(
        "DELETE FROM outbox WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = outbox.alert_id)",
        [],
    )?;
    tx.commit()?;
    Ok((gone, orphans))
}

/// Alerts waiting in the outbox (-1 when the store cannot be read).
pub fn pending(conn: &Connection) -> i64 {
    conn.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))
        .unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::store::Store;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.sqlite"), &["a".into(), "b".into()]).unwrap();
        (dir, s)
    }

    fn owe(conn: &Connection, id: &str, sinks: &[&str]) {
        conn.execute(
            "INSERT INTO outbox (alert_id, v, state, seq) VALUES (?1, 1, '{}', 1)",
            [id],
        )
        .unwrap();
        for s in sinks {
            conn.execute(
                "INSERT INTO deliveries (alert_id, sink, v, attempts, next_at, seq) VALUES (?1, ?2, 1, 0, 0, 1)",
                params![id, s],
            )
            .unwrap();
        }
    }

    #[test]
    fn confirm_drops_the_outbox_entry_with_the_last_delivery() {
        let (_d, s) = store();
        owe(s.conn(), "x", &["a", "b"]);
        confirm(s.conn(), "x", "a").unwrap();
        assert_eq!(pending(s.conn()), 1, "sink b still waits");
        confirm(s.conn(), "x", "b").unwrap();
        assert_eq!(pending(s.conn()), 0);
    }

    #[test]
    fn repair_drops_orphans_and_deliveries_for_removed_sinks() {
        let (_d, mut s) = store();
        owe(s.conn(), "orphan", &[]);
        owe(s.conn(), "removed-sink-only", &["gone"]);
        owe(s.conn(), "kept", &["a", "gone"]);
        let (gone, orphans) = repair(&mut s.conn, &["a".into(), "b".into()]).unwrap();
        assert_eq!((gone, orphans), (2, 2));
        assert_eq!(pending(s.conn()), 1);
        assert_eq!(owed_to(s.conn(), "a").unwrap(), vec!["kept".to_string()]);
        assert_eq!(repair(&mut s.conn, &["a".into()]).unwrap(), (0, 0));
    }
}
