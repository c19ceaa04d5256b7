//! The outbox: claiming (in the writer, so that selecting the due heads and marking them
//! in flight is one atomic step), completing, retrying and failing entries, and the
//! outbox's read queries.
//!
//! Order per (conversation, destination): an entry is claimable only when no unfinished
//! entry of its conversation for the same destination (`message.channel`: the customer's
//! channel or `desk:<id>`) has a smaller `ord` (the `outbox_unfinished_destination` index
//! answers that). A desk that is down never holds back the customer's replies.

use crate::rows::{self, col, col_opt_ts, col_u64, limit, query_all, query_opt, sql_error, to_ms};
use rusqlite::{Connection, params};
use std::time::Duration;
use tandem_core::store::{OutboxEntry, StoreError};
use tandem_model::{Delivery, OutboxId, Timestamp};

/// The longest lease honoured (a year); longer ones are capped.
const MAX_LEASE_MS: i64 = 365 * 24 * 3600 * 1000;

/// Due entries (pending and due, or in flight with an expired lease) that are the oldest
/// unfinished entry of their conversation and destination, oldest first.
///
/// `INDEXED BY`: left to itself, SQLite answers `ORDER BY due.ord` by walking the whole
/// table in `ord` order (sent entries included, so every claim got slower as the outbox
/// grew); the partial indexes hold only the pending and in-flight entries.
const CLAIMABLE: &str = "
    SELECT due.ord FROM (
        SELECT ord, conversation_id, json_extract(message, '$.channel') AS destination
        FROM outbox INDEXED BY outbox_pending_due
        WHERE status = 'pending' AND next_attempt_at <= ?1
        UNION ALL
        SELECT ord, conversation_id, json_extract(message, '$.channel') AS destination
        FROM outbox INDEXED BY outbox_lease
        WHERE status = 'in_flight' AND claim_expires_at <= ?1
    ) AS due
    WHERE NOT EXISTS (
        SELECT 1 FROM outbox AS earlier
        WHERE earlier.conversation_id = due.conversation_id
          AND json_extract(earlier.message, '$.channel') = due.destination
          AND earlier.status IN ('pending', 'in_flight')
          AND earlier.ord < due.ord
    )
    ORDER BY due.ord
    LIMIT ?2";

/// Claims up to `max` due entries under a lease of `lease`.
///
/// An entry whose stored message cannot be read is parked as `failed` (with the reason in
/// `last_error`) instead of failing the claim, so one bad row cannot block the outbox.
pub(crate) fn claim(
    conn: &Connection,
    now: Timestamp,
    max: usize,
    lease: Duration,
) -> Result<Vec<OutboxEntry>, StoreError> {
    let now = to_ms(now);
    let lease = i64::try_from(lease.as_millis())
        .unwrap_or(i64::MAX)
        .min(MAX_LEASE_MS);
    let expires = now.saturating_add(lease);
    let due: Vec<i64> = query_all(conn, CLAIMABLE, params![now, limit(max)], |row| col(row, 0))?;
    let update = format!(
        "UPDATE outbox SET status = 'in_flight', attempts = attempts + 1, claim = ?2, claim_expires_at = ?3
         WHERE ord = ?1 RETURNING {}",
        rows::OUTBOX_COLUMNS
    );
    let mut claimed = Vec::with_capacity(due.len());
    for ord in due {
        let token = uuid::Uuid::new_v4().simple().to_string();
        match query_opt(
            conn,
            &update,
            params![ord, token, expires],
            rows::outbox_entry,
        ) {
            Ok(Some(entry)) => claimed.push(entry),
            Ok(None) => {}
            Err(StoreError::Corrupt(reason)) => park_corrupt(conn, ord, now, &reason)?,
            Err(e) => return Err(e),
        }
    }
    Ok(claimed)
}

fn park_corrupt(conn: &Connection, ord: i64, now: i64, reason: &str) -> Result<(), StoreError> {
    tracing::error!(outbox.ord = ord, %reason, "Outbox entry is unreadable; parked as failed.");
    conn.prepare_cached(
        "UPDATE outbox SET status = 'failed', claim = NULL, claim_expires_at = NULL, finished_at = ?2,
                           last_error = ?3
         WHERE ord = ?1",
    )
    .and_then(|mut stmt| stmt.execute(params![ord, now, format!("unreadable stored entry: {reason}")]))
    .map_err(sql_error)?;
    Ok(())
}

/// Marks a claimed entry sent; false when `claim` is not its current claim.
pub(crate) fn complete(
    conn: &Connection,
    id: &OutboxId,
    claim: &str,
    delivery: &Delivery,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE outbox SET status = 'sent', claim = NULL, claim_expires_at = NULL, platform_message_id = ?3,
                               delivery_state = ?4, finished_at = ?5
             WHERE id = ?1 AND claim = ?2 AND status = 'in_flight'",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                id.as_str(),
                claim,
                delivery.platform_message_id,
                rows::delivery_state(delivery.state),
                to_ms(now),
            ])
        })
        .map_err(sql_error)?;
    Ok(changed == 1)
}

/// Extends a claim's lease to `expires_at`; false when stale.
pub(crate) fn renew(
    conn: &Connection,
    id: &OutboxId,
    claim: &str,
    expires_at: Timestamp,
) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE outbox SET claim_expires_at = ?3 WHERE id = ?1 AND claim = ?2 AND status = 'in_flight'",
        )
        .and_then(|mut stmt| stmt.execute(params![id.as_str(), claim, to_ms(expires_at)]))
        .map_err(sql_error)?;
    Ok(changed == 1)
}

/// Gives a claimed entry back for an attempt at `next_attempt_at`; false when stale.
pub(crate) fn retry(
    conn: &Connection,
    id: &OutboxId,
    claim: &str,
    next_attempt_at: Timestamp,
    error: &str,
) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE outbox SET status = 'pending', claim = NULL, claim_expires_at = NULL, next_attempt_at = ?3,
                               last_error = ?4
             WHERE id = ?1 AND claim = ?2 AND status = 'in_flight'",
        )
        .and_then(|mut stmt| stmt.execute(params![id.as_str(), claim, to_ms(next_attempt_at), error]))
        .map_err(sql_error)?;
    Ok(changed == 1)
}

/// Marks a claimed entry failed for good; false when stale.
pub(crate) fn fail(
    conn: &Connection,
    id: &OutboxId,
    claim: &str,
    error: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE outbox SET status = 'failed', claim = NULL, claim_expires_at = NULL, last_error = ?3,
                               finished_at = ?4
             WHERE id = ?1 AND claim = ?2 AND status = 'in_flight'",
        )
        .and_then(|mut stmt| stmt.execute(params![id.as_str(), claim, error, to_ms(now)]))
        .map_err(sql_error)?;
    Ok(changed == 1)
}

/// An entry by id.
pub(crate) fn entry(conn: &Connection, id: &OutboxId) -> Result<Option<OutboxEntry>, StoreError> {
    let sql = format!("SELECT {} FROM outbox WHERE id = ?1", rows::OUTBOX_COLUMNS);
    query_opt(conn, &sql, params![id.as_str()], rows::outbox_entry)
}

/// Number of unfinished entries.
pub(crate) fn depth(conn: &Connection) -> Result<u64, StoreError> {
    query_opt(
        conn,
        "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'in_flight')",
        [],
        |row| col_u64(row, 0),
    )
    .map(Option::unwrap_or_default)
}

/// When a claim could next return something: the earliest due time (pending) or lease
/// expiry (in flight) among the oldest unfinished entry of each conversation and
/// destination.
pub(crate) fn next_due(conn: &Connection) -> Result<Option<Timestamp>, StoreError> {
    query_opt(
        conn,
        "SELECT MIN(CASE head.status WHEN 'pending' THEN head.next_attempt_at ELSE head.claim_expires_at END)
         FROM outbox AS head
         WHERE head.status IN ('pending', 'in_flight')
           AND NOT EXISTS (
               SELECT 1 FROM outbox AS earlier
               WHERE earlier.conversation_id = head.conversation_id
                 AND json_extract(earlier.message, '$.channel') = json_extract(head.message, '$.channel')
                 AND earlier.status IN ('pending', 'in_flight')
                 AND earlier.ord < head.ord
           )",
        [],
        |row| col_opt_ts(row, 0),
    )
    .map(Option::flatten)
}
