//! The inbound log: recording accepted messages (deduplicated on their platform key),
//! the pending ones in `seq` order, and marking one processed.

use crate::SqliteStore;
use crate::rows::{self, exec, limit, query_all, query_opt, sql_error, to_i64, to_json, to_ms};
use async_trait::async_trait;
use rusqlite::{Connection, params};
use tandem_core::store::{InboundLog, InboundRecord, PendingInbound, StoreError};
use tandem_model::{InboundMessage, Timestamp};

/// Marks record `seq` processed at `at` (unix milliseconds) unless it already is; the
/// number of records marked (0 or 1).
pub(crate) fn mark_processed(conn: &Connection, seq: i64, at: i64) -> Result<usize, StoreError> {
    exec(
        conn,
        "UPDATE inbound SET processed_at = ?2 WHERE seq = ?1 AND processed_at IS NULL",
        params![seq, at],
    )
}

#[async_trait]
impl InboundLog for SqliteStore {
    async fn record_inbound(
        &self,
        msg: &InboundMessage,
        received_at: Timestamp,
    ) -> Result<InboundRecord, StoreError> {
        // Encoded here, before the command is queued, to keep the writer thread's work small.
        let channel = msg.channel.as_str().to_owned();
        let platform_message_id = msg.platform_message_id.as_str().to_owned();
        let message = to_json("inbound message", msg)?;
        let received_at = to_ms(received_at);
        self.write(move |conn| {
            let inserted: Option<i64> = query_opt(
                conn,
                "INSERT INTO inbound (channel, platform_message_id, message, received_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (channel, platform_message_id) DO NOTHING RETURNING seq",
                params![channel, platform_message_id, message, received_at],
                |row| rows::col(row, 0),
            )?;
            let (seq, duplicate) = match inserted {
                Some(seq) => (seq, false),
                None => {
                    let seq: i64 = conn
                        .prepare_cached(
                            "SELECT seq FROM inbound WHERE channel = ?1 AND platform_message_id = ?2",
                        )
                        .and_then(|mut stmt| {
                            stmt.query_row(params![channel, platform_message_id], |row| row.get(0))
                        })
                        .map_err(sql_error)?;
                    (seq, true)
                }
            };
            let seq = u64::try_from(seq)
                .map_err(|_| StoreError::Corrupt(format!("negative inbound seq {seq}")))?;
            Ok(InboundRecord { seq, duplicate })
        })
        .await
    }

    async fn mark_inbound_processed(&self, seq: u64, now: Timestamp) -> Result<bool, StoreError> {
        let seq = to_i64(seq)?;
        self.write(move |conn| Ok(mark_processed(conn, seq, to_ms(now))? == 1))
            .await
    }

    async fn pending_inbound(&self, max: usize) -> Result<Vec<PendingInbound>, StoreError> {
        let sql = format!(
            "SELECT {} FROM inbound WHERE processed_at IS NULL ORDER BY seq LIMIT ?1",
            rows::INBOUND_COLUMNS
        );
        self.read(move |conn| query_all(conn, &sql, params![limit(max)], rows::pending_inbound))
            .await
    }
}
