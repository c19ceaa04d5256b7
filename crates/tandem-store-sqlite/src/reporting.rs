//! Reporting reads: a conversation's escalation events, conversation activity for
//! reports, and the decision and escalation counts behind the metrics.

use crate::SqliteStore;
use crate::rows::{self, col, col_u64, limit, query_all, sql_error};
use async_trait::async_trait;
use rusqlite::params;
use tandem_core::store::{ConversationActivity, EscalationEvent, Reporting, StoreError};
use tandem_model::{ConversationId, Timestamp};

#[async_trait]
impl Reporting for SqliteStore {
    async fn escalations(
        &self,
        conversation: &ConversationId,
    ) -> Result<Vec<EscalationEvent>, StoreError> {
        let sql = format!(
            "SELECT {} FROM escalations WHERE conversation_id = ?1 ORDER BY at, seq",
            rows::ESCALATION_COLUMNS
        );
        let conversation = conversation.clone();
        self.read(move |conn| {
            query_all(conn, &sql, params![conversation.as_str()], rows::escalation)
        })
        .await
    }

    async fn conversation_activity(
        &self,
        since: Timestamp,
        until: Timestamp,
        max: usize,
    ) -> Result<Vec<ConversationActivity>, StoreError> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {} FROM conversations INDEXED BY conversations_updated
                 WHERE updated_at >= ?1 AND opened_at < ?2 ORDER BY updated_at, id LIMIT ?3",
                rows::CONVERSATION_COLUMNS
            );
            let conversations = query_all(
                conn,
                &sql,
                params![rows::to_ms(since), rows::to_ms(until), limit(max)],
                rows::conversation,
            )?;
            let mut replies = conn
                .prepare_cached(
                    "SELECT at FROM transcript WHERE conversation_id = ?1 AND party = 'agent' ORDER BY seq",
                )
                .map_err(sql_error)?;
            conversations
                .into_iter()
                .map(|conversation| {
                    let agent_replies = replies
                        .query_map(params![conversation.id.as_str()], |row| {
                            row.get::<_, i64>(0)
                        })
                        .map_err(sql_error)?
                        .map(|ms| rows::from_ms(ms.map_err(sql_error)?))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(ConversationActivity {
                        conversation,
                        agent_replies,
                    })
                })
                .collect()
        })
        .await
    }

    async fn decision_counts(&self) -> Result<(u64, u64), StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT COALESCE(SUM(escalate != 0), 0), COALESCE(SUM(escalate = 0), 0) FROM escalations",
                [],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
            )
            .map(|(yes, no)| (yes.max(0) as u64, no.max(0) as u64))
            .map_err(sql_error)
        })
        .await
    }

    async fn escalation_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.read(|conn| {
            query_all(
                conn,
                "SELECT label, COUNT(*) FROM escalation_labels GROUP BY label ORDER BY label",
                [],
                |row| Ok((col(row, 0)?, col_u64(row, 1)?)),
            )
        })
        .await
    }
}
