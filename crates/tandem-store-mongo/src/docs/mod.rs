//! The stored document shapes: one `*Doc` type per collection, the conversions between
//! documents and the core's records, and the filters, updates and index models that name
//! document fields. Nothing outside this module knows a field name.
//!
//! Conventions shared by every collection:
//!
//! - Every document carries `schema_version` ([`SCHEMA_VERSION`]). A document from a newer
//!   schema, or one that does not decode, is [`StoreError::Corrupt`], never a panic.
//! - Timestamps are BSON `DateTime`s (unix milliseconds, the core's precision).
//! - Counters (`seq`, `version`, `attempts`) are BSON `Int64`; values beyond `i64::MAX`
//!   cannot be stored and are refused.
//! - Leaf values whose shape belongs to `tandem-model` or `tandem-core` (message content,
//!   buttons, identities as platforms report them, conversation state, escalation reasons)
//!   are embedded through their serde derive, so they follow those crates' compatibility
//!   rules (`#[serde(default)]` on later fields).

pub(crate) mod ai_audit;
pub(crate) mod conversations;
pub(crate) mod customers;
pub(crate) mod escalations;
pub(crate) mod graph;
pub(crate) mod inbound;
pub(crate) mod kv;
pub(crate) mod outbox;
pub(crate) mod profiles;
pub(crate) mod transcript;

#[cfg(test)]
mod edge_tests;
#[cfg(test)]
mod index_tests;
#[cfg(test)]
mod query_tests;
#[cfg(test)]
mod tests;

use crate::error::classify;
use bson::{DateTime, Document};
use futures::TryStreamExt;
use mongodb::Cursor;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tandem_core::store::StoreError;
use tandem_model::Timestamp;

/// The document schema version this build writes and the newest it reads.
pub(crate) const SCHEMA_VERSION: i32 = 1;

/// A timestamp as a BSON `DateTime` (sub-millisecond digits dropped).
pub(crate) fn to_datetime(t: Timestamp) -> DateTime {
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    // `OffsetDateTime`'s range (±9999 years) fits in i64 milliseconds.
    DateTime::from_millis(i64::try_from(ms).unwrap_or(i64::MAX))
}

/// A stored BSON `DateTime` as a timestamp.
pub(crate) fn from_datetime(d: DateTime) -> Result<Timestamp, StoreError> {
    let ms = d.timestamp_millis();
    Timestamp::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {ms} ms: {e}")))
}

/// An optional stored `DateTime` as a timestamp.
pub(crate) fn from_opt_datetime(d: Option<DateTime>) -> Result<Option<Timestamp>, StoreError> {
    d.map(from_datetime).transpose()
}

/// A counter as a BSON `Int64`.
pub(crate) fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v)
        .map_err(|_| StoreError::Unavailable(format!("{what} {v} exceeds MongoDB's Int64 range")))
}

/// A stored `Int64` counter as a non-negative number.
pub(crate) fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what} {v}")))
}

/// Serializes a document type into a BSON document.
pub(crate) fn encode<T: Serialize>(what: &str, value: &T) -> Result<Document, StoreError> {
    bson::serialize_to_document(value)
        .map_err(|e| StoreError::Unavailable(format!("encoding {what}: {e}")))
}

/// Deserializes a stored document; anything unreadable is [`StoreError::Corrupt`].
pub(crate) fn decode<T: DeserializeOwned>(what: &str, doc: Document) -> Result<T, StoreError> {
    let id = doc.get("_id").map(ToString::to_string).unwrap_or_default();
    bson::deserialize_from_document(doc)
        .map_err(|e| StoreError::Corrupt(format!("{what} {id}: {e}")))
}

/// Drains a cursor, converting every document.
pub(crate) async fn collect<T>(
    cursor: Cursor<Document>,
    convert: impl Fn(Document) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let docs: Vec<Document> = cursor.try_collect().await.map_err(classify)?;
    docs.into_iter().map(convert).collect()
}

/// A `usize` limit as a MongoDB limit (positive; callers handle 0 themselves).
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Projection of `_id` only (every collection keys its documents by `_id`).
pub(crate) fn id_only() -> Document {
    bson::doc! { "_id": 1 }
}

/// Refuses documents written by a newer schema than this build understands.
pub(crate) fn check_schema(what: &str, version: i32) -> Result<(), StoreError> {
    if (1..=SCHEMA_VERSION).contains(&version) {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "{what} has schema_version {version}; this build reads 1..={SCHEMA_VERSION}"
        )))
    }
}

/// The per-turn order key of entries a turn inserts (outbox entries, escalation events):
/// the conversation version the turn was planned at, then the position in the turn.
/// Versions serialize turns, so the key orders a conversation's entries by commit.
pub(crate) fn turn_ord(version: u64, position: usize) -> Result<i64, StoreError> {
    const PER_TURN: u64 = 1 << 20;
    let position = u64::try_from(position).unwrap_or(u64::MAX);
    if position >= PER_TURN {
        return Err(StoreError::Unavailable(format!(
            "a turn may insert at most {PER_TURN} entries of a kind"
        )));
    }
    version
        .checked_mul(PER_TURN)
        .and_then(|v| v.checked_add(position))
        .ok_or_else(|| StoreError::Unavailable(format!("version {version} is too large")))
        .and_then(|ord| to_i64(ord, "order key"))
}
