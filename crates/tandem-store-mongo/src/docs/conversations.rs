//! Conversations (`conversations`) and the turn journal kept inside them.
//!
//! A conversation's `_id` is its id. At most one conversation per customer is open: a
//! unique index on `customer_id` partial on `status: "open"`. `version` is the optimistic
//! concurrency check: every write that changes the conversation filters on the version it
//! read and bumps it.
//!
//! `journal` holds a turn that is committed but not yet fully applied, on deployments
//! without transactions (see the crate docs, "Atomicity"): the turn's transcript entries,
//! escalation events and outbox entries, and the inbound record it processes. It is
//! written in the same single-document update that bumps the version, then applied by
//! idempotent writes and removed.

use super::escalations::EscalationDoc;
use super::outbox::OutboxDoc;
use super::transcript::TranscriptDoc;
use super::{SCHEMA_VERSION, check_schema, encode, from_datetime, to_datetime, to_i64, to_u64};
use bson::{Bson, DateTime, Document, doc};
use mongodb::IndexModel;
use mongodb::options::IndexOptions;
use serde::{Deserialize, Serialize};
use tandem_core::store::{ConversationRecord, ConversationState, ConversationStatus, StoreError};
use tandem_model::{ChannelId, ConversationId, CustomerId, Timestamp};

/// The conversations collection.
pub(crate) const CONVERSATIONS: &str = "conversations";

/// A conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ConversationDoc {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    pub(crate) schema_version: i32,
    pub(crate) customer_id: String,
    pub(crate) channel: String,
    pub(crate) status: ConversationStatus,
    pub(crate) state: ConversationState,
    pub(crate) next_seq: i64,
    pub(crate) version: i64,
    pub(crate) opened_at: DateTime,
    pub(crate) updated_at: DateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) closed_at: Option<DateTime>,
    /// A committed turn still being applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) journal: Option<JournalDoc>,
}

/// A committed turn not yet fully applied (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct JournalDoc {
    /// Unique per commit; the journal is removed only by the token that applied it.
    pub(crate) token: String,
    /// Wall-clock time of the commit: journals older than a few seconds are applied by
    /// the store's maintenance (their writer died).
    pub(crate) started_at: DateTime,
    /// The inbound record the turn processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) inbound_seq: Option<i64>,
    /// When the inbound record counts as processed.
    pub(crate) processed_at: DateTime,
    #[serde(default)]
    pub(crate) entries: Vec<TranscriptDoc>,
    #[serde(default)]
    pub(crate) escalations: Vec<EscalationDoc>,
    #[serde(default)]
    pub(crate) outbox: Vec<OutboxDoc>,
    /// AI audit records to insert.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) ai_audit: Vec<super::ai_audit::AiAuditDoc>,
    /// Timer documents to upsert (`timers` collection, by `_id`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) timers: Vec<bson::Document>,
}

impl ConversationDoc {
    /// A new open conversation of `customer` on `channel`.
    pub(crate) fn open(
        id: &ConversationId,
        customer: &CustomerId,
        channel: &ChannelId,
        now: Timestamp,
    ) -> Self {
        Self {
            id: id.as_str().to_owned(),
            schema_version: SCHEMA_VERSION,
            customer_id: customer.as_str().to_owned(),
            channel: channel.as_str().to_owned(),
            status: ConversationStatus::Open,
            state: ConversationState::default(),
            next_seq: 0,
            version: 0,
            opened_at: to_datetime(now),
            updated_at: to_datetime(now),
            closed_at: None,
            journal: None,
        }
    }

    /// The document of a record.
    pub(crate) fn from_record(record: &ConversationRecord) -> Result<Self, StoreError> {
        // Exhaustive on purpose: a new record field must be given a place here.
        let ConversationRecord {
            id,
            customer_id,
            channel,
            status,
            state,
            next_seq,
            version,
            opened_at,
            updated_at,
        } = record;
        Ok(Self {
            id: id.as_str().to_owned(),
            schema_version: SCHEMA_VERSION,
            customer_id: customer_id.as_str().to_owned(),
            channel: channel.as_str().to_owned(),
            status: *status,
            state: state.clone(),
            next_seq: to_i64(*next_seq, "conversation next_seq")?,
            version: to_i64(*version, "conversation version")?,
            opened_at: to_datetime(*opened_at),
            updated_at: to_datetime(*updated_at),
            closed_at: (*status == ConversationStatus::Closed).then(|| to_datetime(*updated_at)),
            journal: None,
        })
    }

    /// The record as the core sees it.
    pub(crate) fn into_record(self) -> Result<ConversationRecord, StoreError> {
        check_schema("conversation", self.schema_version)?;
        Ok(ConversationRecord {
            id: self.id.into(),
            customer_id: self.customer_id.into(),
            channel: self.channel.into(),
            status: self.status,
            state: self.state,
            next_seq: to_u64(self.next_seq, "conversation next_seq")?,
            version: to_u64(self.version, "conversation version")?,
            opened_at: from_datetime(self.opened_at)?,
            updated_at: from_datetime(self.updated_at)?,
        })
    }

    /// The conversation `id`.
    pub(crate) fn by_id(id: &ConversationId) -> Document {
        doc! { "_id": id.as_str() }
    }

    /// The open conversation of `customer`.
    pub(crate) fn open_of(customer: &CustomerId) -> Document {
        doc! { "customer_id": customer.as_str(), "status": "open" }
    }

    /// Every conversation of `customer`; newest first with [`ConversationDoc::newest_first`].
    pub(crate) fn of_customer(customer: &CustomerId) -> Document {
        doc! { "customer_id": customer.as_str() }
    }

    /// Newest first (by opening time).
    pub(crate) fn newest_first() -> Document {
        doc! { "opened_at": -1, "_id": -1 }
    }

    /// Conversations changed at or after `since` and opened before `until` (the health
    /// figures' scan, on the `conversations_updated` index).
    pub(crate) fn active_between(since: Timestamp, until: Timestamp) -> Document {
        doc! {
            "updated_at": { "$gte": to_datetime(since) },
            "opened_at": { "$lt": to_datetime(until) },
        }
    }

    /// By last change, then id.
    pub(crate) fn by_update() -> Document {
        doc! { "updated_at": 1, "_id": 1 }
    }

    /// The conversation `id` while open.
    pub(crate) fn open_by_id(id: &ConversationId) -> Document {
        doc! { "_id": id.as_str(), "status": "open" }
    }

    /// Closes a conversation, bumping its version so that a turn planned on the open
    /// conversation conflicts instead of reopening it.
    pub(crate) fn close(now: Timestamp) -> Document {
        let now = to_datetime(now);
        doc! {
            "$set": { "status": "closed", "closed_at": now, "updated_at": now },
            "$inc": { "version": 1_i64 },
        }
    }

    /// The conversation `id` at `version`, with no journal.
    pub(crate) fn at_version(id: &ConversationId, version: u64) -> Result<Document, StoreError> {
        Ok(doc! {
            "_id": id.as_str(),
            "version": to_i64(version, "conversation version")?,
            "journal": { "$exists": false },
        })
    }

    /// Stores a turn's record at `version + 1`. `closed_at` keeps the stored one when the
    /// conversation was already closed; `journal` is set on deployments without
    /// transactions.
    pub(crate) fn commit(
        &self,
        stored_closed_at: Option<DateTime>,
        journal: Option<&JournalDoc>,
    ) -> Result<Document, StoreError> {
        let next_version = self
            .version
            .checked_add(1)
            .ok_or_else(|| StoreError::Unavailable("conversation version overflow".to_owned()))?;
        let mut set = doc! {
            "channel": self.channel.as_str(),
            "status": if self.status == ConversationStatus::Open { "open" } else { "closed" },
            "state": encode("conversation state", &self.state)?,
            "next_seq": self.next_seq,
            "version": next_version,
            "updated_at": self.updated_at,
        };
        let mut update = Document::new();
        match self.status {
            ConversationStatus::Closed => {
                set.insert("closed_at", stored_closed_at.unwrap_or(self.updated_at));
            }
            ConversationStatus::Open => {
                update.insert("$unset", doc! { "closed_at": "" });
            }
        }
        if let Some(journal) = journal {
            set.insert("journal", encode("turn journal", journal)?);
        }
        update.insert("$set", set);
        Ok(update)
    }

    /// The conversation `id` while it holds the journal `token`.
    pub(crate) fn with_journal(id: &ConversationId, token: &str) -> Document {
        doc! { "_id": id.as_str(), "journal.token": token }
    }

    /// Removes the journal.
    pub(crate) fn clear_journal() -> Document {
        doc! { "$unset": { "journal": "" } }
    }

    /// Conversations whose journal was written at or before `before`.
    pub(crate) fn journals_before(before: DateTime) -> Document {
        doc! { "journal.started_at": { "$lte": before } }
    }

    /// The stored `version` of a raw document, if readable.
    pub(crate) fn version_of(doc: &Document) -> Option<i64> {
        doc.get_i64("version").ok()
    }

    /// The stored `closed_at` of a raw document.
    pub(crate) fn closed_at_of(doc: &Document) -> Option<DateTime> {
        match doc.get("closed_at") {
            Some(Bson::DateTime(d)) => Some(*d),
            _ => None,
        }
    }
}

/// Index models of the conversations collection.
pub(crate) fn conversation_indexes() -> Vec<IndexModel> {
    vec![
        IndexModel::builder()
            .keys(doc! { "customer_id": 1 })
            .options(
                IndexOptions::builder()
                    .name("conversations_one_open".to_owned())
                    .unique(true)
                    .partial_filter_expression(doc! { "status": "open" })
                    .build(),
            )
            .build(),
        IndexModel::builder()
            .keys(doc! { "customer_id": 1, "opened_at": -1, "_id": -1 })
            .options(
                IndexOptions::builder()
                    .name("conversations_customer".to_owned())
                    .build(),
            )
            .build(),
        IndexModel::builder()
            .keys(doc! { "updated_at": 1, "_id": 1 })
            .options(
                IndexOptions::builder()
                    .name("conversations_updated".to_owned())
                    .build(),
            )
            .build(),
        IndexModel::builder()
            .keys(doc! { "journal.started_at": 1 })
            .options(
                IndexOptions::builder()
                    .name("conversations_journal_started".to_owned())
                    .build(),
            )
            .build(),
    ]
}
