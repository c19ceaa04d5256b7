//! Conversations and turns: opening (one open conversation per customer, enforced by a
//! partial unique index), closing, the transcript, the AI audit records, and the atomic
//! commit of a turn. Every write runs on the writer's connection inside its own savepoint
//! (see [`crate::writer`]), so an `Err` undoes everything the command did.
//!
//! Documents are encoded to JSON before the command is queued, to keep the writer
//! thread's work small.

use crate::SqliteStore;
use crate::rows::{self, exec, limit, query_all, query_opt, sql_error, to_i64, to_json, to_ms};
use async_trait::async_trait;
use rusqlite::{Connection, params};
use tandem_core::store::{
    AiAuditRecord, ConversationRecord, ConversationState, Conversations, StoreError, Turn,
};
use tandem_model::{ChannelId, ConversationId, CustomerId, Timestamp, TranscriptEntry};

/// A conversation by id. Takes any connection: the writer's too, when a write command
/// needs to return the record.
fn conversation(
    conn: &Connection,
    id: &ConversationId,
) -> Result<Option<ConversationRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM conversations WHERE id = ?1",
        rows::CONVERSATION_COLUMNS
    );
    query_opt(conn, &sql, params![id.as_str()], rows::conversation)
}

/// The customer's open conversation, if any (on any connection).
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

impl SqliteStore {
    /// The customer's open conversation, or a new one that gets `id` unless that is taken.
    /// The open conversation, when there is one, is a read (the writer checks again).
    async fn open_conversation_with(
        &self,
        customer: &CustomerId,
        channel: &ChannelId,
        id: Option<&ConversationId>,
        now: Timestamp,
    ) -> Result<ConversationRecord, StoreError> {
        let read = customer.clone();
        if let Some(open) = self.read(move |c| open_conversation(c, &read)).await? {
            return Ok(open);
        }
        let (customer, channel, id) = (customer.clone(), channel.clone(), id.cloned());
        self.write(move |conn| {
            if let Some(open) = open_conversation(conn, &customer)? {
                return Ok(open);
            }
            let now = to_ms(now);
            let id = match id {
                Some(id) if conversation(conn, &id)?.is_none() => id,
                _ => ConversationId::generate(),
            };
            let state = to_json("conversation state", &ConversationState::default())?;
            exec(
                conn,
                "INSERT INTO conversations (id, customer_id, channel, status, state, next_seq, version, opened_at, updated_at)
                 VALUES (?1, ?2, ?3, 'open', ?4, 0, 0, ?5, ?5)",
                params![id.as_str(), customer.as_str(), channel.as_str(), state, now],
            )?;
            conversation(conn, &id)?.ok_or_else(|| {
                StoreError::Unavailable(format!("conversation {id} vanished after insert"))
            })
        })
        .await
    }
}

#[async_trait]
impl Conversations for SqliteStore {
    async fn conversations_of(
        &self,
        customer: &CustomerId,
        max: usize,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM conversations WHERE customer_id = ?1 ORDER BY opened_at DESC, id DESC LIMIT ?2",
            rows::CONVERSATION_COLUMNS
        );
        let customer = customer.clone();
        self.read(move |conn| {
            let params = params![customer.as_str(), limit(max)];
            query_all(conn, &sql, params, rows::conversation)
        })
        .await
    }

    async fn open_conversation(
        &self,
        customer: &CustomerId,
        channel: &ChannelId,
        now: Timestamp,
    ) -> Result<ConversationRecord, StoreError> {
        self.open_conversation_with(customer, channel, None, now)
            .await
    }

    async fn open_conversation_as(
        &self,
        customer: &CustomerId,
        channel: &ChannelId,
        id: &ConversationId,
        now: Timestamp,
    ) -> Result<ConversationRecord, StoreError> {
        self.open_conversation_with(customer, channel, Some(id), now)
            .await
    }

    async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        let id = id.clone();
        self.read(move |conn| conversation(conn, &id)).await
    }

    /// Bumps the version, so that a turn planned on the open conversation conflicts
    /// instead of reopening it.
    async fn close_conversation(
        &self,
        id: &ConversationId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let id = id.clone();
        self.write(move |conn| {
            let changed = exec(
                conn,
                "UPDATE conversations SET status = 'closed', closed_at = ?2, updated_at = ?2, version = version + 1
                 WHERE id = ?1 AND status = 'open'",
                params![id.as_str(), to_ms(now)],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn transcript(
        &self,
        conversation: &ConversationId,
        max: usize,
    ) -> Result<Vec<TranscriptEntry>, StoreError> {
        let sql = format!(
            "SELECT {cols} FROM (
                 SELECT {cols} FROM transcript WHERE conversation_id = ?1 ORDER BY seq DESC LIMIT ?2
             ) ORDER BY seq",
            cols = rows::TRANSCRIPT_COLUMNS
        );
        let conversation = conversation.clone();
        self.read(move |conn| {
            let params = params![conversation.as_str(), limit(max)];
            query_all(conn, &sql, params, rows::transcript_entry)
        })
        .await
    }

    /// Inbound check, version check, then every insert; the writer's savepoint makes it
    /// all-or-nothing.
    async fn commit_turn(&self, turn: Turn) -> Result<(), StoreError> {
        let state = to_json("conversation state", &turn.conversation.state)?;
        // Per entry: content and buttons.
        let entries: Vec<(String, String)> = turn
            .entries
            .iter()
            .map(|e| {
                Ok((
                    to_json("transcript content", &e.content)?,
                    to_json("transcript buttons", &e.buttons)?,
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        // Per escalation: reasons and their distinct labels.
        let escalations: Vec<(String, Vec<String>)> = turn
            .escalations
            .iter()
            .map(|e| Ok((to_json("escalation reasons", &e.reasons)?, e.count_labels())))
            .collect::<Result<_, StoreError>>()?;
        // Per outbox entry: the message.
        let outbox: Vec<String> = turn
            .outbox
            .iter()
            .map(|o| to_json("outbox message", &o.message))
            .collect::<Result<_, StoreError>>()?;
        // Per AI audit record: the record.
        let ai_audit: Vec<String> = turn
            .ai_audit
            .iter()
            .map(|r| to_json("AI audit record", r))
            .collect::<Result<_, StoreError>>()?;
        self.write(move |conn| {
            let conv = &turn.conversation;
            let updated_at = to_ms(conv.updated_at);

            if let Some(seq) = turn.inbound_seq {
                let seq = to_i64(seq)?;
                if crate::inbound::mark_processed(conn, seq, updated_at)? == 0 {
                    let exists = conn
                        .prepare_cached("SELECT 1 FROM inbound WHERE seq = ?1")
                        .and_then(|mut stmt| stmt.exists(params![seq]))
                        .map_err(sql_error)?;
                    return Err(if exists {
                        StoreError::AlreadyProcessed
                    } else {
                        StoreError::Conflict(format!("no inbound record with seq {seq}"))
                    });
                }
            }

            let status = rows::status_str(conv.status);
            let (version, next_seq) = (to_i64(conv.version)?, to_i64(conv.next_seq)?);
            // A second open conversation of the customer violates the partial unique index:
            // Conflict.
            let updated = exec(
                conn,
                "UPDATE conversations
                 SET channel = ?3, status = ?4, state = ?5, next_seq = ?6, version = version + 1, updated_at = ?7,
                     closed_at = CASE WHEN ?4 = 'closed' THEN COALESCE(closed_at, ?7) ELSE NULL END
                 WHERE id = ?1 AND version = ?2",
                params![
                    conv.id.as_str(),
                    version,
                    conv.channel.as_str(),
                    status,
                    state,
                    next_seq,
                    updated_at,
                ],
            )?;
            if updated == 0 {
                return Err(StoreError::Conflict(format!(
                    "conversation {} is not at version {} (changed concurrently, or unknown)",
                    conv.id, conv.version
                )));
            }
            let mut insert_entry = conn
                .prepare_cached(
                    "INSERT INTO transcript (conversation_id, seq, id, customer_id, party, channel, at, content, buttons,
                                             platform_message_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(sql_error)?;
            for (e, (content, buttons)) in turn.entries.iter().zip(&entries) {
                insert_entry
                    .execute(params![
                        e.conversation_id.as_str(),
                        to_i64(e.seq)?,
                        e.id.as_str(),
                        e.customer_id.as_str(),
                        e.from.as_str(),
                        e.channel.as_str(),
                        to_ms(e.at),
                        content,
                        buttons,
                        e.platform_message_id.as_ref().map(|p| p.as_str()),
                    ])
                    .map_err(sql_error)?;
            }

            let mut insert_escalation = conn
                .prepare_cached(
                    "INSERT INTO escalations (id, conversation_id, customer_id, at, message_seq, escalate, reasons, category,
                                              priority, target, policy_version)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(sql_error)?;
            let mut insert_label = conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO escalation_labels (escalation_seq, label) VALUES (?1, ?2)",
                )
                .map_err(sql_error)?;
            for (e, (reasons, labels)) in turn.escalations.iter().zip(&escalations) {
                insert_escalation
                    .execute(params![
                        e.id.as_str(),
                        e.conversation_id.as_str(),
                        e.customer_id.as_str(),
                        to_ms(e.at),
                        to_i64(e.message_seq)?,
                        e.escalate,
                        reasons,
                        e.category,
                        e.priority,
                        e.target,
                        e.policy_version,
                    ])
                    .map_err(sql_error)?;
                let escalation_seq = conn.last_insert_rowid();
                for label in labels {
                    insert_label
                        .execute(params![escalation_seq, label])
                        .map_err(sql_error)?;
                }
            }

            let mut insert_outbox = conn
                .prepare_cached(
                    "INSERT INTO outbox (id, conversation_id, status, attempts, next_attempt_at, message, created_at)
                     VALUES (?1, ?2, 'pending', 0, ?3, ?4, ?5)",
                )
                .map_err(sql_error)?;
            for (o, message) in turn.outbox.iter().zip(&outbox) {
                insert_outbox
                    .execute(params![
                        o.message.outbox_id.as_str(),
                        o.message.conversation_id.as_str(),
                        to_ms(o.next_attempt_at),
                        message,
                        to_ms(o.message.created_at),
                    ])
                    .map_err(sql_error)?;
            }
            for timer in &turn.timers {
                crate::work_queue::schedule_timer(conn, timer)?;
            }
            let mut insert_audit = conn
                .prepare_cached(
                    "INSERT INTO ai_audit (id, conversation_id, at, kind, record) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(sql_error)?;
            for (r, record) in turn.ai_audit.iter().zip(&ai_audit) {
                insert_audit
                    .execute(params![
                        r.id,
                        r.conversation_id.as_str(),
                        to_ms(r.at),
                        r.kind.as_str(),
                        record,
                    ])
                    .map_err(sql_error)?;
            }
            Ok(())
        })
        .await
    }

    async fn ai_audit(
        &self,
        conversation: &ConversationId,
        max: usize,
    ) -> Result<Vec<AiAuditRecord>, StoreError> {
        let conversation = conversation.clone();
        self.read(move |conn| {
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
        })
        .await
    }
}
