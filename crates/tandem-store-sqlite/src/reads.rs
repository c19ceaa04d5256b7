//! Read queries. Each takes any connection: the read pool's for the `Store` read
//! methods, the writer's when a write command needs to return a record.

use crate::rows::{self, col, col_u64, limit, query_all, query_opt, sql_error};
use rusqlite::{Connection, OptionalExtension, params};
use tandem_core::store::{
    AiAuditRecord, ConversationActivity, ConversationRecord, CustomerRecord, EscalationEvent,
    IdentityRecord, PendingInbound, StoreError,
};
use tandem_model::{ConversationId, CustomerId, Timestamp, TranscriptEntry};

/// Unprocessed inbound records, in `seq` order.
pub(crate) fn pending_inbound(
    conn: &Connection,
    max: usize,
) -> Result<Vec<PendingInbound>, StoreError> {
    let sql = format!(
        "SELECT {} FROM inbound WHERE processed_at IS NULL ORDER BY seq LIMIT ?1",
        rows::INBOUND_COLUMNS
    );
    query_all(conn, &sql, params![limit(max)], rows::pending_inbound)
}

/// A customer by id.
pub(crate) fn customer(
    conn: &Connection,
    id: &CustomerId,
) -> Result<Option<CustomerRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM customers WHERE id = ?1",
        rows::CUSTOMER_COLUMNS
    );
    query_opt(conn, &sql, params![id.as_str()], rows::customer)
}

/// A customer's identities, oldest first.
pub(crate) fn identities(
    conn: &Connection,
    customer: &CustomerId,
) -> Result<Vec<IdentityRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM identities WHERE customer_id = ?1 ORDER BY id",
        rows::IDENTITY_COLUMNS
    );
    query_all(conn, &sql, params![customer.as_str()], rows::identity)
}

/// A conversation by id.
pub(crate) fn conversation(
    conn: &Connection,
    id: &ConversationId,
) -> Result<Option<ConversationRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM conversations WHERE id = ?1",
        rows::CONVERSATION_COLUMNS
    );
    query_opt(conn, &sql, params![id.as_str()], rows::conversation)
}

/// The customer's open conversation, if any.
pub(crate) fn open_conversation(
    conn: &Connection,
    customer: &CustomerId,
) -> Result<Option<ConversationRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM conversations WHERE customer_id = ?1 AND status = 'open'",
        rows::CONVERSATION_COLUMNS
    );
    query_opt(conn, &sql, params![customer.as_str()], rows::conversation)
}

/// The newest `max` transcript entries, oldest first.
pub(crate) fn transcript(
    conn: &Connection,
    conversation: &ConversationId,
    max: usize,
) -> Result<Vec<TranscriptEntry>, StoreError> {
    let sql = format!(
        "SELECT {cols} FROM (
             SELECT {cols} FROM transcript WHERE conversation_id = ?1 ORDER BY seq DESC LIMIT ?2
         ) ORDER BY seq",
        cols = rows::TRANSCRIPT_COLUMNS
    );
    query_all(
        conn,
        &sql,
        params![conversation.as_str(), limit(max)],
        rows::transcript_entry,
    )
}

/// Conversations changed since `since` and opened before `until`, by `updated_at`, at
/// most `max`, each with the times of its agent transcript entries.
pub(crate) fn conversation_activity(
    conn: &Connection,
    since: Timestamp,
    until: Timestamp,
    max: usize,
) -> Result<Vec<ConversationActivity>, StoreError> {
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
}

/// A conversation's escalation events, oldest first.
pub(crate) fn escalations(
    conn: &Connection,
    conversation: &ConversationId,
) -> Result<Vec<EscalationEvent>, StoreError> {
    let sql = format!(
        "SELECT {} FROM escalations WHERE conversation_id = ?1 ORDER BY at, seq",
        rows::ESCALATION_COLUMNS
    );
    query_all(conn, &sql, params![conversation.as_str()], rows::escalation)
}

/// The newest `max` AI audit records of a conversation, oldest first.
pub(crate) fn ai_audit(
    conn: &Connection,
    conversation: &ConversationId,
    max: usize,
) -> Result<Vec<AiAuditRecord>, StoreError> {
    query_all(
        conn,
        "SELECT record FROM (
             SELECT seq, record FROM ai_audit WHERE conversation_id = ?1 ORDER BY seq DESC LIMIT ?2
         ) ORDER BY seq",
        params![conversation.as_str(), limit(max)],
        |row| {
            let record: String = row.get(0).map_err(sql_error)?;
            serde_json::from_str(&record)
                .map_err(|e| StoreError::Corrupt(format!("AI audit record: {e}")))
        },
    )
}

/// Policy decisions recorded: (escalating, not escalating).
pub(crate) fn decision_counts(conn: &Connection) -> Result<(u64, u64), StoreError> {
    conn.query_row(
        "SELECT COALESCE(SUM(escalate != 0), 0), COALESCE(SUM(escalate = 0), 0) FROM escalations",
        [],
        |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
    )
    .map(|(yes, no)| (yes.max(0) as u64, no.max(0) as u64))
    .map_err(sql_error)
}

/// Escalation events per reason label, by label.
pub(crate) fn escalation_counts(conn: &Connection) -> Result<Vec<(String, u64)>, StoreError> {
    query_all(
        conn,
        "SELECT label, COUNT(*) FROM escalation_labels GROUP BY label ORDER BY label",
        [],
        |row| Ok((col(row, 0)?, col_u64(row, 1)?)),
    )
}

/// A key-value entry.
pub(crate) fn kv_get(
    conn: &Connection,
    namespace: &str,
    key: &str,
) -> Result<Option<String>, StoreError> {
    conn.prepare_cached("SELECT value FROM kv WHERE namespace = ?1 AND key = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![namespace, key], |row| row.get(0))
                .optional()
        })
        .map_err(sql_error)
}
