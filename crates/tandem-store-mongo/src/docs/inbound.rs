//! The inbound log (`inbound`) and the counter documents (`counters`) that number it.
//!
//! An inbound document's `_id` is its `seq`, taken from the `inbound_seq` counter with one
//! atomic `$inc`. The dedupe key `(channel, platform_message_id)` has a unique index;
//! unprocessed records are found through a partial index on `processed = false`.

use super::{SCHEMA_VERSION, check_schema, from_datetime, to_datetime, to_i64, to_u64};
use bson::{DateTime, Document, doc};
use mongodb::IndexModel;
use mongodb::options::IndexOptions;
use serde::{Deserialize, Serialize};
use tandem_core::store::{PendingInbound, StoreError};
use tandem_model::{Content, ExternalIdentity, InboundMessage, Timestamp};

/// The inbound log collection.
pub(crate) const INBOUND: &str = "inbound";
/// The counters collection.
pub(crate) const COUNTERS: &str = "counters";
/// The counter document numbering the inbound log.
pub(crate) const INBOUND_SEQ_COUNTER: &str = "inbound_seq";

/// One recorded inbound message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct InboundDoc {
    /// The record's `seq`.
    #[serde(rename = "_id")]
    pub(crate) seq: i64,
    pub(crate) schema_version: i32,
    pub(crate) channel: String,
    pub(crate) platform_message_id: String,
    /// The sender as the platform asserted it.
    pub(crate) sender: ExternalIdentity,
    pub(crate) sent_at: DateTime,
    pub(crate) content: Content,
    pub(crate) received_at: DateTime,
    pub(crate) processed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) processed_at: Option<DateTime>,
}

impl InboundDoc {
    /// The document recording `msg` as record `seq`.
    pub(crate) fn new(
        seq: u64,
        msg: &InboundMessage,
        received_at: Timestamp,
    ) -> Result<Self, StoreError> {
        // Exhaustive on purpose: a new message field must be given a place here.
        let InboundMessage {
            channel,
            platform_message_id,
            sender,
            sent_at,
            content,
        } = msg;
        Ok(Self {
            seq: to_i64(seq, "inbound seq")?,
            schema_version: SCHEMA_VERSION,
            channel: channel.as_str().to_owned(),
            platform_message_id: platform_message_id.as_str().to_owned(),
            sender: sender.clone(),
            sent_at: to_datetime(*sent_at),
            content: content.clone(),
            received_at: to_datetime(received_at),
            processed: false,
            processed_at: None,
        })
    }

    /// The record as the core sees it.
    pub(crate) fn into_pending(self) -> Result<PendingInbound, StoreError> {
        check_schema("inbound record", self.schema_version)?;
        Ok(PendingInbound {
            seq: to_u64(self.seq, "inbound seq")?,
            message: InboundMessage {
                channel: self.channel.into(),
                platform_message_id: self.platform_message_id.into(),
                sender: self.sender,
                sent_at: from_datetime(self.sent_at)?,
                content: self.content,
            },
            received_at: from_datetime(self.received_at)?,
        })
    }

    /// The record with dedupe key `(channel, platform_message_id)`.
    pub(crate) fn by_key(channel: &str, platform_message_id: &str) -> Document {
        doc! { "channel": channel, "platform_message_id": platform_message_id }
    }

    /// Projection of the `seq` only.
    pub(crate) fn seq_projection() -> Document {
        doc! { "_id": 1 }
    }

    /// The `seq` of a projected or full document.
    pub(crate) fn seq_of(doc: &Document) -> Result<u64, StoreError> {
        let seq = doc.get_i64("_id").map_err(|e| {
            StoreError::Corrupt(format!("inbound record without an Int64 seq: {e}"))
        })?;
        to_u64(seq, "inbound seq")
    }

    /// Whether a stored record is processed.
    pub(crate) fn is_processed(doc: &Document) -> Result<bool, StoreError> {
        doc.get_bool("processed")
            .map_err(|e| StoreError::Corrupt(format!("inbound record without `processed`: {e}")))
    }

    /// Projection of `processed` only.
    pub(crate) fn processed_projection() -> Document {
        doc! { "processed": 1 }
    }

    /// The log's newest record first (to find the highest `seq`).
    pub(crate) fn newest_first() -> Document {
        doc! { "_id": -1 }
    }

    /// Raises counter `value` to at least `seq` (the log's highest), creating it.
    pub(crate) fn counter_at_least(seq: i64) -> Document {
        doc! {
            "$max": { "value": seq },
            "$setOnInsert": { "schema_version": SCHEMA_VERSION },
        }
    }

    /// The record `seq`.
    pub(crate) fn by_seq(seq: i64) -> Document {
        doc! { "_id": seq }
    }

    /// The record `seq` while it is unprocessed.
    pub(crate) fn unprocessed(seq: i64) -> Document {
        doc! { "_id": seq, "processed": false }
    }

    /// Marks a record processed.
    pub(crate) fn mark_processed(at: DateTime) -> Document {
        doc! { "$set": { "processed": true, "processed_at": at } }
    }

    /// Every unprocessed record (served by the partial index `inbound_pending`).
    pub(crate) fn pending() -> Document {
        doc! { "processed": false }
    }

    /// Sort order of the inbound log.
    pub(crate) fn by_seq_order() -> Document {
        doc! { "_id": 1 }
    }
}

/// A named counter, advanced with `$inc`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CounterDoc {
    #[serde(rename = "_id")]
    pub(crate) name: String,
    pub(crate) schema_version: i32,
    /// The last value handed out.
    pub(crate) value: i64,
}

impl CounterDoc {
    /// The counter `name`.
    pub(crate) fn by_name(name: &str) -> Document {
        doc! { "_id": name }
    }

    /// Takes the next value (creating the counter at 1).
    pub(crate) fn next() -> Document {
        doc! {
            "$inc": { "value": 1_i64 },
            "$setOnInsert": { "schema_version": SCHEMA_VERSION },
        }
    }

    /// The value of an updated counter document.
    pub(crate) fn value_of(doc: Document) -> Result<u64, StoreError> {
        let counter: CounterDoc = super::decode("counter", doc)?;
        check_schema("counter", counter.schema_version)?;
        to_u64(counter.value, "counter value")
    }
}

/// Index models of the inbound log.
pub(crate) fn inbound_indexes() -> Vec<IndexModel> {
    vec![
        IndexModel::builder()
            .keys(doc! { "channel": 1, "platform_message_id": 1 })
            .options(
                IndexOptions::builder()
                    .name("inbound_dedupe".to_owned())
                    .unique(true)
                    .build(),
            )
            .build(),
        IndexModel::builder()
            .keys(doc! { "processed": 1, "_id": 1 })
            .options(
                IndexOptions::builder()
                    .name("inbound_pending".to_owned())
                    .partial_filter_expression(doc! { "processed": false })
                    .build(),
            )
            .build(),
    ]
}

/// The name of the TTL index that removes processed inbound records.
pub(crate) const INBOUND_TTL: &str = "inbound_processed_ttl";

/// The TTL index removing processed inbound records (with their dedupe keys) `retention`
/// after they were processed. Pending records have no `processed_at`: never removed.
pub(crate) fn inbound_ttl_index(retention: std::time::Duration) -> IndexModel {
    IndexModel::builder()
        .keys(doc! { "processed_at": 1 })
        .options(
            IndexOptions::builder()
                .name(INBOUND_TTL.to_owned())
                .expire_after(retention)
                .build(),
        )
        .build()
}
