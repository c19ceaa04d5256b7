//! Durable timers: scheduling (an upsert on the timer's id), claiming under a lease (in
//! the writer, so selecting and marking is one atomic step), finishing, and the next due
//! time; and named leases ([`try_lease`], [`release_lease`]). `available_at` is the due time while unclaimed and the lease expiry while
//! claimed, so one index answers both "due" and "claimed by a process that died".

use crate::rows::{col, col_opt_ts, col_ts, limit, query_all, query_opt, sql_error, to_ms};
use rusqlite::{Connection, params};
use std::time::Duration;
use tandem_core::store::{NewTimer, StoreError, TimerEntry};
use tandem_model::Timestamp;

/// The longest lease honoured (a day); longer ones are capped.
const MAX_LEASE_MS: i64 = 24 * 3600 * 1000;

pub(crate) fn schedule(conn: &Connection, timer: &NewTimer) -> Result<(), StoreError> {
    let due = to_ms(timer.due_at);
    conn.prepare_cached(
        "INSERT INTO timers (id, kind, payload, due_at, available_at, claim, attempts)
         VALUES (?1, ?2, ?3, ?4, ?4, NULL, 0)
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, payload = excluded.payload,
             due_at = excluded.due_at, available_at = excluded.available_at, claim = NULL,
             attempts = 0",
    )
    .and_then(|mut stmt| stmt.execute(params![timer.id, timer.kind, timer.payload, due]))
    .map_err(sql_error)?;
    Ok(())
}

pub(crate) fn claim(
    conn: &Connection,
    now: Timestamp,
    max: usize,
    lease: Duration,
) -> Result<Vec<TimerEntry>, StoreError> {
    let now = to_ms(now);
    let lease = i64::try_from(lease.as_millis())
        .unwrap_or(i64::MAX)
        .min(MAX_LEASE_MS);
    let expires = now.saturating_add(lease);
    let due: Vec<String> = query_all(
        conn,
        "SELECT id FROM timers WHERE available_at <= ?1 ORDER BY available_at LIMIT ?2",
        params![now, limit(max)],
        |row| col(row, 0),
    )?;
    let mut claimed = Vec::with_capacity(due.len());
    for id in due {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let entry = query_opt(
            conn,
            "UPDATE timers SET available_at = ?2, claim = ?3, attempts = attempts + 1
             WHERE id = ?1 RETURNING id, kind, payload, due_at, attempts, claim",
            params![id, expires, token],
            |row| {
                Ok(TimerEntry {
                    id: col(row, 0)?,
                    kind: col(row, 1)?,
                    payload: col(row, 2)?,
                    due_at: col_ts(row, 3)?,
                    attempts: u32::try_from(col::<i64>(row, 4)?).unwrap_or(u32::MAX),
                    claim: col(row, 5)?,
                })
            },
        )?;
        claimed.extend(entry);
    }
    Ok(claimed)
}

pub(crate) fn finish(conn: &Connection, id: &str, claim: &str) -> Result<bool, StoreError> {
    let removed = conn
        .prepare_cached("DELETE FROM timers WHERE id = ?1 AND claim = ?2")
        .and_then(|mut stmt| stmt.execute(params![id, claim]))
        .map_err(sql_error)?;
    Ok(removed > 0)
}

pub(crate) fn next_due(conn: &Connection) -> Result<Option<Timestamp>, StoreError> {
    query_opt(conn, "SELECT MIN(available_at) FROM timers", [], |row| {
        col_opt_ts(row, 0)
    })
    .map(Option::flatten)
}

/// See [`KeyValue::try_lease`](tandem_core::store::KeyValue::try_lease): one upsert that only
/// overwrites an expired row or the holder's own.
pub(crate) fn try_lease(
    conn: &Connection,
    name: &str,
    holder: &str,
    ttl: Duration,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let now = to_ms(now);
    let ttl = i64::try_from(ttl.as_millis())
        .unwrap_or(i64::MAX)
        .min(MAX_LEASE_MS);
    let changed = conn
        .prepare_cached(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                 expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at <= ?4",
        )
        .and_then(|mut stmt| stmt.execute(params![name, holder, now.saturating_add(ttl), now]))
        .map_err(sql_error)?;
    Ok(changed > 0)
}

/// See [`KeyValue::release_lease`](tandem_core::store::KeyValue::release_lease).
pub(crate) fn release_lease(
    conn: &Connection,
    name: &str,
    holder: &str,
) -> Result<bool, StoreError> {
    let removed = conn
        .prepare_cached("DELETE FROM leases WHERE name = ?1 AND holder = ?2")
        .and_then(|mut stmt| stmt.execute(params![name, holder]))
        .map_err(sql_error)?;
    Ok(removed > 0)
}
