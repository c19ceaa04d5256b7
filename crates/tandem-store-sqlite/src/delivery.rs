//! Delivery reports and reachability: applying a platform's report to sent outbox
//! entries (by platform id, or by recipient up to a watermark), and the per-identity
//! reachability record. Both run on the writer connection.

use crate::rows::{self, col, col_ts, query_all, query_opt, sql_error, to_ms};
use rusqlite::{Connection, params};
use tandem_core::store::{OutboxEntry, StoreError, delivery_failure_text};
use tandem_model::{ChannelId, DeliveryStatus, DeliveryTarget, DeliveryUpdate, Reachability};

/// Applies one report; returns the changed entries.
pub(crate) fn record_status(
    conn: &Connection,
    update: &DeliveryUpdate,
) -> Result<Vec<OutboxEntry>, StoreError> {
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
}

/// Stores a reachability report unless a newer one is stored.
pub(crate) fn set_reachability(
    conn: &Connection,
    channel: &ChannelId,
    subject: &str,
    r: &Reachability,
) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "INSERT INTO reachability (channel, subject, reachable, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (channel, subject) DO UPDATE
                SET reachable = excluded.reachable, reason = excluded.reason, at = excluded.at
                WHERE excluded.at >= reachability.at",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![channel.as_str(), subject, r.reachable, r.reason, to_ms(r.at)])
        })
        .map_err(sql_error)?;
    Ok(changed == 1)
}

/// The stored reachability report.
pub(crate) fn reachability(
    conn: &Connection,
    channel: &ChannelId,
    subject: &str,
) -> Result<Option<Reachability>, StoreError> {
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
}
