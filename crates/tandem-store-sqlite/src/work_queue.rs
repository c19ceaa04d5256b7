//! The work queue: the outbox, durable timers, delivery reports and reachability.
//!
//! **Outbox.** Claiming runs in the writer, so that selecting the due heads and marking
//! them in flight is one atomic step. Order per (conversation, destination): an entry is
//! claimable only when no unfinished entry of its conversation for the same destination
//! (`message.channel`: the customer's channel or `desk:<id>`) has a smaller `ord` (the
//! `outbox_unfinished_destination` index answers that). A desk that is down never holds
//! back the customer's replies.
//!
//! **Timers.** Scheduling is an upsert on the timer's id; claiming under a lease runs in
//! the writer, so selecting and marking is one atomic step. `available_at` is the due time
//! while unclaimed and the lease expiry while claimed, so one index answers both "due" and
//! "claimed by a process that died".
//!
//! **Delivery reports** apply a platform's report to sent outbox entries (by platform id,
//! or by recipient up to a watermark); **reachability** is one record per identity, the
//! newest report winning. Both run on the writer connection.

use crate::SqliteStore;
use crate::rows::{
    self, col, col_opt_ts, col_ts, col_u64, exec, lease_ms, limit, query_all, query_opt, to_ms,
};
use async_trait::async_trait;
use rusqlite::{Connection, params};
use std::time::Duration;
use tandem_core::store::{
    NewTimer, OutboxEntry, StoreError, TimerEntry, WorkQueue, delivery_failure_text,
};
use tandem_model::{
    ChannelId, Delivery, DeliveryStatus, DeliveryTarget, DeliveryUpdate, OutboxId, Reachability,
    Timestamp,
};

/// The longest lease honoured (a year); longer ones are capped.
const MAX_OUTBOX_LEASE_MS: i64 = 365 * 24 * 3600 * 1000;

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

/// The longest timer lease honoured (a day); longer ones are capped.
const MAX_TIMER_LEASE_MS: i64 = 24 * 3600 * 1000;

fn park_corrupt(conn: &Connection, ord: i64, now: i64, reason: &str) -> Result<(), StoreError> {
    tracing::error!(outbox.ord = ord, %reason, "Outbox entry is unreadable; parked as failed.");
    exec(
        conn,
        "UPDATE outbox SET status = 'failed', claim = NULL, claim_expires_at = NULL, finished_at = ?2,
                           last_error = ?3
         WHERE ord = ?1",
        params![ord, now, format!("unreadable stored entry: {reason}")],
    )?;
    Ok(())
}

/// Schedules (or reschedules) a timer: [`WorkQueue::schedule_timer`], also run by a turn's
/// commit.
pub(crate) fn schedule_timer(conn: &Connection, timer: &NewTimer) -> Result<(), StoreError> {
    let due = to_ms(timer.due_at);
    exec(
        conn,
        "INSERT INTO timers (id, kind, payload, due_at, available_at, claim, attempts)
         VALUES (?1, ?2, ?3, ?4, ?4, NULL, 0)
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, payload = excluded.payload,
             due_at = excluded.due_at, available_at = excluded.available_at, claim = NULL,
             attempts = 0",
        params![timer.id, timer.kind, timer.payload, due],
    )?;
    Ok(())
}

#[async_trait]
impl WorkQueue for SqliteStore {
    /// An entry whose stored message cannot be read is parked as `failed` (with the reason
    /// in `last_error`) instead of failing the claim, so one bad row cannot block the outbox.
    async fn claim_outbox(
        &self,
        now: Timestamp,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.write(move |conn| {
            let now = to_ms(now);
            let lease = lease_ms(lease, MAX_OUTBOX_LEASE_MS);
            let expires = now.saturating_add(lease);
            let due: Vec<i64> =
                query_all(conn, CLAIMABLE, params![now, limit(max)], |row| col(row, 0))?;
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
        })
        .await
    }

    async fn complete_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        delivery: &Delivery,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let (id, claim, delivery) = (id.clone(), claim.to_owned(), delivery.clone());
        self.write(move |conn| {
            let changed = exec(
                conn,
                "UPDATE outbox SET status = 'sent', claim = NULL, claim_expires_at = NULL, platform_message_id = ?3,
                                   delivery_state = ?4, finished_at = ?5
                 WHERE id = ?1 AND claim = ?2 AND status = 'in_flight'",
                params![
                    id.as_str(),
                    claim,
                    delivery.platform_message_id,
                    rows::delivery_state(delivery.state),
                    to_ms(now),
                ],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn renew_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let (id, claim) = (id.clone(), claim.to_owned());
        self.write(move |conn| {
            let changed = exec(
                conn,
                "UPDATE outbox SET claim_expires_at = ?3 WHERE id = ?1 AND claim = ?2 AND status = 'in_flight'",
                params![id.as_str(), claim, to_ms(expires_at)],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn retry_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<bool, StoreError> {
        let (id, claim, error) = (id.clone(), claim.to_owned(), error.to_owned());
        self.write(move |conn| {
            let changed = exec(
                conn,
                "UPDATE outbox SET status = 'pending', claim = NULL, claim_expires_at = NULL, next_attempt_at = ?3,
                                   last_error = ?4
                 WHERE id = ?1 AND claim = ?2 AND status = 'in_flight'",
                params![id.as_str(), claim, to_ms(next_attempt_at), error],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn fail_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        error: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let (id, claim, error) = (id.clone(), claim.to_owned(), error.to_owned());
        self.write(move |conn| {
            let changed = exec(
                conn,
                "UPDATE outbox SET status = 'failed', claim = NULL, claim_expires_at = NULL, last_error = ?3,
                                   finished_at = ?4
                 WHERE id = ?1 AND claim = ?2 AND status = 'in_flight'",
                params![id.as_str(), claim, error, to_ms(now)],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn outbox_entry(&self, id: &OutboxId) -> Result<Option<OutboxEntry>, StoreError> {
        let sql = format!("SELECT {} FROM outbox WHERE id = ?1", rows::OUTBOX_COLUMNS);
        let id = id.clone();
        self.read(move |conn| query_opt(conn, &sql, params![id.as_str()], rows::outbox_entry))
            .await
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            query_opt(
                conn,
                "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'in_flight')",
                [],
                |row| col_u64(row, 0),
            )
            .map(Option::unwrap_or_default)
        })
        .await
    }

    /// The earliest due time (pending) or lease expiry (in flight) among the oldest
    /// unfinished entry of each conversation and destination.
    async fn next_outbox_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.read(|conn| {
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
        })
        .await
    }

    async fn schedule_timer(&self, timer: &NewTimer) -> Result<(), StoreError> {
        let timer = timer.clone();
        self.write(move |conn| schedule_timer(conn, &timer)).await
    }

    async fn claim_timers(
        &self,
        now: Timestamp,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<TimerEntry>, StoreError> {
        self.write(move |conn| {
            let now = to_ms(now);
            let lease = lease_ms(lease, MAX_TIMER_LEASE_MS);
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
        })
        .await
    }

    async fn finish_timer(&self, id: &str, claim: &str) -> Result<bool, StoreError> {
        let (id, claim) = (id.to_owned(), claim.to_owned());
        self.write(move |conn| {
            let removed = exec(
                conn,
                "DELETE FROM timers WHERE id = ?1 AND claim = ?2",
                params![id, claim],
            )?;
            Ok(removed > 0)
        })
        .await
    }

    async fn next_timer_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.read(|conn| {
            query_opt(conn, "SELECT MIN(available_at) FROM timers", [], |row| {
                col_opt_ts(row, 0)
            })
            .map(Option::flatten)
        })
        .await
    }

    async fn record_delivery_status(
        &self,
        update: &DeliveryUpdate,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let update = update.clone();
        self.write(move |conn| {
            let channel = update.channel.as_str();
            let (set, allowed_from) = match &update.status {
                DeliveryStatus::Sent => return Ok(Vec::new()),
                DeliveryStatus::Delivered => (
                    "delivery_state = 'delivered'",
                    "(delivery_state IS NULL OR delivery_state IN ('sent', 'stored'))",
                ),
                DeliveryStatus::Read => (
                    "delivery_state = 'read'",
                    "(delivery_state IS NULL OR delivery_state <> 'read')",
                ),
                DeliveryStatus::Failed { .. } => ("status = 'failed', last_error = ?3", "1 = 1"),
            };
            match &update.target {
                DeliveryTarget::Message {
                    platform_message_id,
                } => {
                    let sql = format!(
                        "UPDATE outbox SET {set}
                         WHERE json_extract(message, '$.channel') = ?1 AND platform_message_id = ?2
                           AND status = 'sent' AND {allowed_from}
                         RETURNING {}",
                        rows::OUTBOX_COLUMNS
                    );
                    match &update.status {
                        DeliveryStatus::Failed { kind, code, reason } => {
                            let error = delivery_failure_text(*kind, code.as_deref(), reason);
                            query_all(
                                conn,
                                &sql,
                                params![channel, platform_message_id, error],
                                rows::outbox_entry,
                            )
                        }
                        _ => query_all(
                            conn,
                            &sql,
                            params![channel, platform_message_id],
                            rows::outbox_entry,
                        ),
                    }
                }
                DeliveryTarget::UpTo {
                    recipient,
                    watermark,
                } => {
                    if matches!(update.status, DeliveryStatus::Failed { .. }) {
                        // A failure is always about one message.
                        return Ok(Vec::new());
                    }
                    let sql = format!(
                        "UPDATE outbox SET {set}
                         WHERE json_extract(message, '$.channel') = ?1
                           AND json_extract(message, '$.recipient') = ?2
                           AND status = 'sent' AND finished_at <= ?3 AND {allowed_from}
                         RETURNING {}",
                        rows::OUTBOX_COLUMNS
                    );
                    query_all(
                        conn,
                        &sql,
                        params![channel, recipient, to_ms(*watermark)],
                        rows::outbox_entry,
                    )
                }
            }
        })
        .await
    }

    /// Stores the report unless a newer one is stored.
    async fn set_reachability(
        &self,
        channel: &ChannelId,
        subject: &str,
        r: &Reachability,
    ) -> Result<bool, StoreError> {
        let (channel, subject, r) = (channel.clone(), subject.to_owned(), r.clone());
        self.write(move |conn| {
            let changed = exec(
                conn,
                "INSERT INTO reachability (channel, subject, reachable, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (channel, subject) DO UPDATE
                    SET reachable = excluded.reachable, reason = excluded.reason, at = excluded.at
                    WHERE excluded.at >= reachability.at",
                params![channel.as_str(), subject, r.reachable, r.reason, to_ms(r.at)],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn reachability(
        &self,
        channel: &ChannelId,
        subject: &str,
    ) -> Result<Option<Reachability>, StoreError> {
        let (channel, subject) = (channel.clone(), subject.to_owned());
        self.read(move |conn| {
            query_opt(
                conn,
                "SELECT reachable, reason, at FROM reachability WHERE channel = ?1 AND subject = ?2",
                params![channel.as_str(), subject],
                |row| {
                    Ok(Reachability {
                        reachable: col(row, 0)?,
                        reason: col(row, 1)?,
                        at: col_ts(row, 2)?,
                    })
                },
            )
        })
        .await
    }
}
