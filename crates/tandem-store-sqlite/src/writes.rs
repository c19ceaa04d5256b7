//! Write commands other than the outbox's: the inbound log, customers, conversations,
//! turns and the key-value space. Each runs on the writer's connection inside its own
//! savepoint (see [`crate::writer`]), so an `Err` undoes everything the command did.
//!
//! Documents are encoded to JSON by the caller, before the command is queued, to keep
//! the writer thread's work small.

use crate::reads;
use crate::rows::{self, sql_error, to_i64, to_json, to_ms};
use rusqlite::{Connection, OptionalExtension, params};
use tandem_core::store::{ConversationRecord, ConversationState, InboundRecord, StoreError, Turn};
use tandem_model::{ChannelId, ConversationId, CustomerId, InboundMessage, Timestamp};

/// An inbound message ready to be recorded.
pub(crate) struct EncodedInbound {
    channel: String,
    platform_message_id: String,
    message: String,
    received_at: i64,
}

impl EncodedInbound {
    /// Encodes `msg`.
    pub(crate) fn new(msg: &InboundMessage, received_at: Timestamp) -> Result<Self, StoreError> {
        Ok(Self {
            channel: msg.channel.as_str().to_owned(),
            platform_message_id: msg.platform_message_id.as_str().to_owned(),
            message: to_json("inbound message", msg)?,
            received_at: to_ms(received_at),
        })
    }
}

/// Records an inbound message unless its key is known.
pub(crate) fn record_inbound(
    conn: &Connection,
    msg: &EncodedInbound,
) -> Result<InboundRecord, StoreError> {
    let inserted: Option<i64> = conn
        .prepare_cached(
            "INSERT INTO inbound (channel, platform_message_id, message, received_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (channel, platform_message_id) DO NOTHING RETURNING seq",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![msg.channel, msg.platform_message_id, msg.message, msg.received_at], |row| {
                row.get(0)
            })
            .optional()
        })
        .map_err(sql_error)?;
    let (seq, duplicate) = match inserted {
        Some(seq) => (seq, false),
        None => {
            let seq: i64 = conn
                .prepare_cached(
                    "SELECT seq FROM inbound WHERE channel = ?1 AND platform_message_id = ?2",
                )
                .and_then(|mut stmt| {
                    stmt.query_row(params![msg.channel, msg.platform_message_id], |row| {
                        row.get(0)
                    })
                })
                .map_err(sql_error)?;
            (seq, true)
        }
    };
    let seq = u64::try_from(seq)
        .map_err(|_| StoreError::Corrupt(format!("negative inbound seq {seq}")))?;
    Ok(InboundRecord { seq, duplicate })
}

/// The customer's open conversation, or a new one.
pub(crate) fn open_conversation(
    conn: &Connection,
    customer: &CustomerId,
    channel: &ChannelId,
    now: Timestamp,
) -> Result<ConversationRecord, StoreError> {
    open_conversation_as(conn, customer, channel, None, now)
}

/// As [`open_conversation`]; a conversation it opens gets `id` unless that is taken.
pub(crate) fn open_conversation_as(
    conn: &Connection,
    customer: &CustomerId,
    channel: &ChannelId,
    id: Option<&ConversationId>,
    now: Timestamp,
) -> Result<ConversationRecord, StoreError> {
    if let Some(open) = reads::open_conversation(conn, customer)? {
        return Ok(open);
    }
    let now = to_ms(now);
    let id = match id {
        Some(id) if reads::conversation(conn, id)?.is_none() => id.clone(),
        _ => ConversationId::generate(),
    };
    let state = to_json("conversation state", &ConversationState::default())?;
    conn.prepare_cached(
        "INSERT INTO conversations (id, customer_id, channel, status, state, next_seq, version, opened_at, updated_at)
         VALUES (?1, ?2, ?3, 'open', ?4, 0, 0, ?5, ?5)",
    )
    .and_then(|mut stmt| stmt.execute(params![id.as_str(), customer.as_str(), channel.as_str(), state, now]))
    .map_err(sql_error)?;
    reads::conversation(conn, &id)?
        .ok_or_else(|| StoreError::Unavailable(format!("conversation {id} vanished after insert")))
}

/// Closes an open conversation. Bumps its version, so that a turn planned on the open
/// conversation conflicts instead of reopening it.
pub(crate) fn close_conversation(
    conn: &Connection,
    id: &ConversationId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE conversations SET status = 'closed', closed_at = ?2, updated_at = ?2, version = version + 1
             WHERE id = ?1 AND status = 'open'",
        )
        .and_then(|mut stmt| stmt.execute(params![id.as_str(), to_ms(now)]))
        .map_err(sql_error)?;
    Ok(changed == 1)
}

/// A turn with its documents encoded.
pub(crate) struct EncodedTurn {
    turn: Turn,
    state: String,
    /// Per entry: content and buttons.
    entries: Vec<(String, String)>,
    /// Per escalation: reasons and their distinct labels.
    escalations: Vec<(String, Vec<String>)>,
    /// Per outbox entry: the message.
    outbox: Vec<String>,
    /// Per AI audit record: the record.
    ai_audit: Vec<String>,
}

impl EncodedTurn {
    /// Encodes `turn`.
    pub(crate) fn new(turn: Turn) -> Result<Self, StoreError> {
        let state = to_json("conversation state", &turn.conversation.state)?;
        let entries = turn
            .entries
            .iter()
            .map(|e| {
                Ok((
                    to_json("transcript content", &e.content)?,
                    to_json("transcript buttons", &e.buttons)?,
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        let escalations = turn
            .escalations
            .iter()
            .map(|e| Ok((to_json("escalation reasons", &e.reasons)?, e.count_labels())))
            .collect::<Result<_, StoreError>>()?;
        let outbox = turn
            .outbox
            .iter()
            .map(|o| to_json("outbox message", &o.message))
            .collect::<Result<_, StoreError>>()?;
        let ai_audit = turn
            .ai_audit
            .iter()
            .map(|r| to_json("AI audit record", r))
            .collect::<Result<_, StoreError>>()?;
        Ok(Self {
            turn,
            state,
            entries,
            escalations,
            outbox,
            ai_audit,
        })
    }
}

/// Marks an unprocessed inbound record processed; false when already processed or unknown.
pub(crate) fn mark_inbound_processed(
    conn: &Connection,
    seq: u64,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let seq = to_i64(seq)?;
    let marked = conn
        .prepare_cached(
            "UPDATE inbound SET processed_at = ?2 WHERE seq = ?1 AND processed_at IS NULL",
        )
        .and_then(|mut stmt| stmt.execute(params![seq, to_ms(now)]))
        .map_err(sql_error)?;
    Ok(marked == 1)
}

/// Applies a turn: inbound check, version check, then every insert. The caller's
/// savepoint makes it all-or-nothing.
pub(crate) fn commit_turn(conn: &Connection, encoded: &EncodedTurn) -> Result<(), StoreError> {
    let turn = &encoded.turn;
    let conv = &turn.conversation;
    let updated_at = to_ms(conv.updated_at);

    if let Some(seq) = turn.inbound_seq {
        let seq = to_i64(seq)?;
        let marked = conn
            .prepare_cached(
                "UPDATE inbound SET processed_at = ?2 WHERE seq = ?1 AND processed_at IS NULL",
            )
            .and_then(|mut stmt| stmt.execute(params![seq, updated_at]))
            .map_err(sql_error)?;
        if marked == 0 {
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
    // A second open conversation of the customer violates the partial unique index: Conflict.
    let updated = conn
        .prepare_cached(
            "UPDATE conversations
             SET channel = ?3, status = ?4, state = ?5, next_seq = ?6, version = version + 1, updated_at = ?7,
                 closed_at = CASE WHEN ?4 = 'closed' THEN COALESCE(closed_at, ?7) ELSE NULL END
             WHERE id = ?1 AND version = ?2",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                conv.id.as_str(),
                version,
                conv.channel.as_str(),
                status,
                encoded.state,
                next_seq,
                updated_at,
            ])
        })
        .map_err(sql_error)?;
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
    for (e, (content, buttons)) in turn.entries.iter().zip(&encoded.entries) {
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
    for (e, (reasons, labels)) in turn.escalations.iter().zip(&encoded.escalations) {
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
    for (o, message) in turn.outbox.iter().zip(&encoded.outbox) {
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
        crate::timers::schedule(conn, timer)?;
    }
    let mut insert_audit = conn
        .prepare_cached(
            "INSERT INTO ai_audit (id, conversation_id, at, kind, record) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(sql_error)?;
    for (r, record) in turn.ai_audit.iter().zip(&encoded.ai_audit) {
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
}

/// Sets a key-value pair (last write wins).
/// See [`KeyValue::kv_swap`](tandem_core::store::KeyValue::kv_swap): one statement, so
/// atomic under the writer connection.
pub(crate) fn kv_swap(
    conn: &Connection,
    namespace: &str,
    key: &str,
    expected: Option<&str>,
    value: &str,
) -> Result<bool, StoreError> {
    let changed = match expected {
        None => conn
            .prepare_cached(
                "INSERT INTO kv (namespace, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (namespace, key) DO NOTHING",
            )
            .and_then(|mut stmt| stmt.execute(params![namespace, key, value])),
        Some(old) => conn
            .prepare_cached(
                "UPDATE kv SET value = ?3 WHERE namespace = ?1 AND key = ?2 AND value = ?4",
            )
            .and_then(|mut stmt| stmt.execute(params![namespace, key, value, old])),
    }
    .map_err(sql_error)?;
    Ok(changed == 1)
}

pub(crate) fn kv_put(
    conn: &Connection,
    namespace: &str,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO kv (namespace, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
    )
    .and_then(|mut stmt| stmt.execute(params![namespace, key, value]))
    .map_err(sql_error)?;
    Ok(())
}
