//! Conversions between SQLite rows and the store's records: timestamps (unix
//! milliseconds), JSON documents, enums stored as text, and error mapping.
//!
//! Nothing here panics on stored data: a value that does not parse becomes
//! [`StoreError::Corrupt`].

use rusqlite::types::FromSql;
use rusqlite::{ErrorCode, Row};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tandem_core::store::{
    ConversationRecord, ConversationStatus, CustomerRecord, EscalationEvent, IdentityRecord,
    OutboxEntry, OutboxStatus, PendingInbound, StoreError,
};
use tandem_model::{DeliveryState, Party, PlatformMessageId, Timestamp, TranscriptEntry};

/// Maps a SQLite error to the store's error kinds.
pub(crate) fn sql_error(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::ConstraintViolation => StoreError::Conflict(e.to_string()),
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                StoreError::Corrupt(e.to_string())
            }
            _ => StoreError::Unavailable(e.to_string()),
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

/// Column `i` of a row.
pub(crate) fn col<T: FromSql>(row: &Row<'_>, i: usize) -> Result<T, StoreError> {
    row.get(i).map_err(sql_error)
}

/// A timestamp as unix milliseconds (sub-millisecond digits dropped).
pub(crate) fn to_ms(t: Timestamp) -> i64 {
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms).expect("OffsetDateTime's range fits in i64 milliseconds")
}

/// A stored unix-milliseconds value as a timestamp.
pub(crate) fn from_ms(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {ms}: {e}")))
}

/// Column `i` as a timestamp.
pub(crate) fn col_ts(row: &Row<'_>, i: usize) -> Result<Timestamp, StoreError> {
    from_ms(col(row, i)?)
}

/// Column `i` as an optional timestamp.
pub(crate) fn col_opt_ts(row: &Row<'_>, i: usize) -> Result<Option<Timestamp>, StoreError> {
    col::<Option<i64>>(row, i)?.map(from_ms).transpose()
}

/// Column `i` as a non-negative counter.
pub(crate) fn col_u64(row: &Row<'_>, i: usize) -> Result<u64, StoreError> {
    let v: i64 = col(row, i)?;
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative counter {v}")))
}

/// A counter as a SQLite integer.
pub(crate) fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v)
        .map_err(|_| StoreError::Unavailable(format!("{v} exceeds SQLite's integer range")))
}

/// A `usize` limit as a SQLite integer (saturating).
pub(crate) fn limit(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A lease's length in milliseconds, capped at `max_ms`.
pub(crate) fn lease_ms(lease: std::time::Duration, max_ms: i64) -> i64 {
    i64::try_from(lease.as_millis())
        .unwrap_or(i64::MAX)
        .min(max_ms)
}

/// A document as JSON text.
pub(crate) fn to_json<T: Serialize>(what: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Unavailable(format!("encoding {what}: {e}")))
}

/// Column `i` parsed as a JSON document.
pub(crate) fn col_json<T: DeserializeOwned>(
    row: &Row<'_>,
    i: usize,
    what: &str,
) -> Result<T, StoreError> {
    let text: String = col(row, i)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Parses a stored party name.
fn party(s: &str) -> Result<Party, StoreError> {
    Ok(match s {
        "customer" => Party::Customer,
        "bot" => Party::Bot,
        "agent" => Party::Agent,
        "system" => Party::System,
        other => return Err(StoreError::Corrupt(format!("unknown party `{other}`"))),
    })
}

/// The stored name of a delivery state.
pub(crate) fn delivery_state(s: DeliveryState) -> &'static str {
    match s {
        DeliveryState::Sent => "sent",
        DeliveryState::Stored => "stored",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Read => "read",
    }
}

/// Parses a stored delivery state.
pub(crate) fn parse_delivery_state(s: &str) -> Result<DeliveryState, StoreError> {
    Ok(match s {
        "sent" => DeliveryState::Sent,
        "stored" => DeliveryState::Stored,
        "delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Read,
        other => {
            return Err(StoreError::Corrupt(format!(
                "unknown delivery state `{other}`"
            )));
        }
    })
}

/// The stored name of a conversation status.
pub(crate) fn status_str(s: ConversationStatus) -> &'static str {
    match s {
        ConversationStatus::Open => "open",
        ConversationStatus::Closed => "closed",
    }
}

fn status(s: &str) -> Result<ConversationStatus, StoreError> {
    match s {
        "open" => Ok(ConversationStatus::Open),
        "closed" => Ok(ConversationStatus::Closed),
        other => Err(StoreError::Corrupt(format!(
            "unknown conversation status `{other}`"
        ))),
    }
}

/// Columns of [`pending_inbound`].
pub(crate) const INBOUND_COLUMNS: &str = "seq, message, received_at";

/// A row of [`INBOUND_COLUMNS`].
pub(crate) fn pending_inbound(row: &Row<'_>) -> Result<PendingInbound, StoreError> {
    Ok(PendingInbound {
        seq: col_u64(row, 0)?,
        message: col_json(row, 1, "inbound message")?,
        received_at: col_ts(row, 2)?,
    })
}

/// Columns of [`customer`].
pub(crate) const CUSTOMER_COLUMNS: &str = "id, display_name, segment, attributes, created_at";

/// A row of [`CUSTOMER_COLUMNS`].
pub(crate) fn customer(row: &Row<'_>) -> Result<CustomerRecord, StoreError> {
    Ok(CustomerRecord {
        id: col::<String>(row, 0)?.into(),
        display_name: col(row, 1)?,
        segment: col(row, 2)?,
        attributes: col_json(row, 3, "customer attributes")?,
        created_at: col_ts(row, 4)?,
    })
}

/// Columns of [`identity`].
pub(crate) const IDENTITY_COLUMNS: &str =
    "customer_id, channel, subject, verified, created_at, source, email, phone";

/// A row of [`IDENTITY_COLUMNS`].
pub(crate) fn identity(row: &Row<'_>) -> Result<IdentityRecord, StoreError> {
    Ok(IdentityRecord {
        customer_id: col::<String>(row, 0)?.into(),
        channel: col::<String>(row, 1)?.into(),
        subject: col(row, 2)?,
        verified: col(row, 3)?,
        created_at: col_ts(row, 4)?,
        source: col(row, 5)?,
        verified_email: col(row, 6)?,
        verified_phone: col(row, 7)?,
    })
}

/// Columns of [`conversation`].
pub(crate) const CONVERSATION_COLUMNS: &str =
    "id, customer_id, channel, status, state, next_seq, version, opened_at, updated_at";

/// A row of [`CONVERSATION_COLUMNS`].
pub(crate) fn conversation(row: &Row<'_>) -> Result<ConversationRecord, StoreError> {
    Ok(ConversationRecord {
        id: col::<String>(row, 0)?.into(),
        customer_id: col::<String>(row, 1)?.into(),
        channel: col::<String>(row, 2)?.into(),
        status: status(&col::<String>(row, 3)?)?,
        state: col_json(row, 4, "conversation state")?,
        next_seq: col_u64(row, 5)?,
        version: col_u64(row, 6)?,
        opened_at: col_ts(row, 7)?,
        updated_at: col_ts(row, 8)?,
    })
}

/// Columns of [`transcript_entry`].
pub(crate) const TRANSCRIPT_COLUMNS: &str = "id, conversation_id, customer_id, seq, party, channel, at, content, buttons, platform_message_id";

/// A row of [`TRANSCRIPT_COLUMNS`].
pub(crate) fn transcript_entry(row: &Row<'_>) -> Result<TranscriptEntry, StoreError> {
    Ok(TranscriptEntry {
        id: col::<String>(row, 0)?.into(),
        conversation_id: col::<String>(row, 1)?.into(),
        customer_id: col::<String>(row, 2)?.into(),
        seq: col_u64(row, 3)?,
        from: party(&col::<String>(row, 4)?)?,
        channel: col::<String>(row, 5)?.into(),
        at: col_ts(row, 6)?,
        content: col_json(row, 7, "transcript content")?,
        buttons: col_json(row, 8, "transcript buttons")?,
        platform_message_id: col::<Option<String>>(row, 9)?.map(PlatformMessageId::new),
    })
}

/// Columns of [`escalation`].
pub(crate) const ESCALATION_COLUMNS: &str = "id, conversation_id, customer_id, at, message_seq, escalate, \
     reasons, category, priority, target, policy_version";

/// A row of [`ESCALATION_COLUMNS`].
pub(crate) fn escalation(row: &Row<'_>) -> Result<EscalationEvent, StoreError> {
    Ok(EscalationEvent {
        id: col::<String>(row, 0)?.into(),
        conversation_id: col::<String>(row, 1)?.into(),
        customer_id: col::<String>(row, 2)?.into(),
        at: col_ts(row, 3)?,
        message_seq: col_u64(row, 4)?,
        escalate: col(row, 5)?,
        reasons: col_json(row, 6, "escalation reasons")?,
        category: col(row, 7)?,
        priority: col(row, 8)?,
        target: col(row, 9)?,
        policy_version: col(row, 10)?,
    })
}

/// Columns of [`outbox_entry`].
pub(crate) const OUTBOX_COLUMNS: &str = "id, message, status, attempts, next_attempt_at, claim, \
     claim_expires_at, last_error, platform_message_id, created_at, delivery_state";

/// A row of [`OUTBOX_COLUMNS`].
pub(crate) fn outbox_entry(row: &Row<'_>) -> Result<OutboxEntry, StoreError> {
    let status_name: String = col(row, 2)?;
    let attempts: i64 = col(row, 3)?;
    Ok(OutboxEntry {
        id: col::<String>(row, 0)?.into(),
        message: col_json(row, 1, "outbox message")?,
        status: OutboxStatus::parse(&status_name)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown outbox status `{status_name}`")))?,
        attempts: u32::try_from(attempts)
            .map_err(|_| StoreError::Corrupt(format!("outbox attempts {attempts}")))?,
        next_attempt_at: col_ts(row, 4)?,
        claim: col(row, 5)?,
        claim_expires_at: col_opt_ts(row, 6)?,
        last_error: col(row, 7)?,
        platform_message_id: col(row, 8)?,
        created_at: col_ts(row, 9)?,
        delivery_state: col::<Option<String>>(row, 10)?
            .map(|s| parse_delivery_state(&s))
            .transpose()?,
    })
}

/// Runs a query and converts every row with `convert`.
pub(crate) fn query_all<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    convert: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(sql_error)?;
    let mut rows = stmt.query(params).map_err(sql_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        out.push(convert(row)?);
    }
    Ok(out)
}

/// Runs a statement that returns no rows; the number of rows it changed.
pub(crate) fn exec(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<usize, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(params))
        .map_err(sql_error)
}

/// Runs a query expected to return at most one row.
pub(crate) fn query_opt<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    convert: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(sql_error)?;
    let mut rows = stmt.query(params).map_err(sql_error)?;
    match rows.next().map_err(sql_error)? {
        Some(row) => convert(row).map(Some),
        None => Ok(None),
    }
}
