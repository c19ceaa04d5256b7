//! The outbox (`outbox`): one document per message to deliver, `_id` the outbox id.
//!
//! # Order per (conversation, destination)
//!
//! Entries of a conversation are ordered by `ord` ([`turn_ord`]): turns
//! commit one at a time per conversation, so a later turn's entries always have larger
//! keys and become visible after the earlier ones. Of the unfinished (`pending` or
//! `in_flight`) entries of a conversation for one destination (`message.channel`: the
//! customer's channel or a desk's `desk:<id>`), only the one with the smallest `ord` may
//! be claimed; that entry carries `head: true`. A desk being retried thus never holds
//! back the customer's replies, nor the reverse. `due_at` is when a head becomes claimable:
//! its `next_attempt_at` while pending, its lease expiry while in flight, absent once
//! finished. Claiming is then one atomic `findOneAndUpdate` on
//! `{head: true, due_at <= now}` (partial index `outbox_due`), which moves `due_at` past
//! `now`, so two claimers can never take the same entry.
//!
//! `head` is maintained by [`OutboxDoc::promote`]: after entries are inserted and after
//! an entry finishes, the oldest unfinished entry of that conversation and destination
//! gets `head: true`
//! (idempotent; see the crate docs for why it never marks a wrong entry and how a crash
//! between the two steps is repaired).

use super::{
    SCHEMA_VERSION, check_schema, from_datetime, from_opt_datetime, to_datetime, turn_ord,
};
use bson::{Bson, DateTime, Document, doc};
use mongodb::IndexModel;
use mongodb::options::IndexOptions;
use serde::{Deserialize, Serialize};
use tandem_core::store::{
    NewOutboxEntry, OutboxEntry, OutboxStatus, StoreError, delivery_failure_text,
};
use tandem_model::{
    ConversationId, Delivery, DeliveryState, DeliveryStatus, DeliveryTarget, DeliveryUpdate,
    OutboundContent, OutboundMessage, OutboxId, Party, Timestamp,
};

/// The outbox collection.
pub(crate) const OUTBOX: &str = "outbox";

/// One outbox entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OutboxDoc {
    /// The outbox id (also the message's `outbox_id`).
    #[serde(rename = "_id")]
    pub(crate) id: String,
    pub(crate) schema_version: i32,
    pub(crate) conversation_id: String,
    /// Order within the conversation.
    pub(crate) ord: i64,
    pub(crate) status: OutboxStatus,
    /// `pending` or `in_flight`.
    pub(crate) unfinished: bool,
    /// The oldest unfinished entry of its conversation: the only claimable one.
    pub(crate) head: bool,
    /// When a head becomes claimable; absent once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) due_at: Option<DateTime>,
    pub(crate) attempts: i64,
    pub(crate) next_attempt_at: DateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) claim_expires_at: Option<DateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) platform_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) delivery_state: Option<DeliveryState>,
    pub(crate) message: OutboundDoc,
    pub(crate) created_at: DateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) finished_at: Option<DateTime>,
}

/// The message of an outbox entry (its `outbox_id` and `conversation_id` live on the entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OutboundDoc {
    pub(crate) channel: String,
    pub(crate) recipient: String,
    pub(crate) from: Party,
    pub(crate) content: OutboundContent,
    pub(crate) message_id: String,
    pub(crate) created_at: DateTime,
}

impl OutboxDoc {
    /// The document of entry number `position` of a turn planned at `version`.
    pub(crate) fn new(
        entry: &NewOutboxEntry,
        version: u64,
        position: usize,
    ) -> Result<Self, StoreError> {
        let NewOutboxEntry {
            message,
            next_attempt_at,
        } = entry;
        // Exhaustive on purpose: a new message field must be given a place here.
        let OutboundMessage {
            outbox_id,
            channel,
            recipient,
            conversation_id,
            from,
            content,
            message_id,
            created_at,
        } = message;
        let due = to_datetime(*next_attempt_at);
        Ok(Self {
            id: outbox_id.as_str().to_owned(),
            schema_version: SCHEMA_VERSION,
            conversation_id: conversation_id.as_str().to_owned(),
            ord: turn_ord(version, position)?,
            status: OutboxStatus::Pending,
            unfinished: true,
            head: false,
            due_at: Some(due),
            attempts: 0,
            next_attempt_at: due,
            claim: None,
            claim_expires_at: None,
            last_error: None,
            platform_message_id: None,
            delivery_state: None,
            message: OutboundDoc {
                channel: channel.as_str().to_owned(),
                recipient: recipient.clone(),
                from: *from,
                content: content.clone(),
                message_id: message_id.as_str().to_owned(),
                created_at: to_datetime(*created_at),
            },
            created_at: to_datetime(*created_at),
            finished_at: None,
        })
    }

    /// The entry as the core sees it.
    pub(crate) fn into_entry(self) -> Result<OutboxEntry, StoreError> {
        check_schema("outbox entry", self.schema_version)?;
        let id = OutboxId::new(self.id);
        let m = self.message;
        Ok(OutboxEntry {
            message: OutboundMessage {
                outbox_id: id.clone(),
                channel: m.channel.into(),
                recipient: m.recipient,
                conversation_id: self.conversation_id.into(),
                from: m.from,
                content: m.content,
                message_id: m.message_id.into(),
                created_at: from_datetime(m.created_at)?,
            },
            id,
            status: self.status,
            attempts: u32::try_from(self.attempts)
                .map_err(|_| StoreError::Corrupt(format!("outbox attempts {}", self.attempts)))?,
            next_attempt_at: from_datetime(self.next_attempt_at)?,
            claim: self.claim,
            claim_expires_at: from_opt_datetime(self.claim_expires_at)?,
            last_error: self.last_error,
            platform_message_id: self.platform_message_id,
            delivery_state: self.delivery_state,
            created_at: from_datetime(self.created_at)?,
        })
    }

    /// The entry `id`.
    pub(crate) fn by_id(id: &OutboxId) -> Document {
        doc! { "_id": id.as_str() }
    }

    /// The id, conversation and destination of a stored document, read without decoding
    /// the rest (for parking an unreadable entry). An unreadable destination reads as
    /// empty: parking then promotes no other entry (the repair at start-up does).
    pub(crate) fn id_and_lane(doc: &Document) -> Option<(OutboxId, ConversationId, String)> {
        let channel = doc
            .get_document("message")
            .and_then(|m| m.get_str("channel"))
            .unwrap_or_default();
        Some((
            OutboxId::new(doc.get_str("_id").ok()?),
            ConversationId::new(doc.get_str("conversation_id").ok()?),
            channel.to_owned(),
        ))
    }

    /// Claimable heads at `now`, except those in `taken` (claimed earlier in this call).
    pub(crate) fn claimable(now: Timestamp, taken: &[String]) -> Document {
        let mut filter = doc! { "head": true, "due_at": { "$lte": to_datetime(now) } };
        if !taken.is_empty() {
            filter.insert("_id", doc! { "$nin": taken });
        }
        filter
    }

    /// Claim order: the longest-due first.
    pub(crate) fn due_first() -> Document {
        doc! { "due_at": 1, "_id": 1 }
    }

    /// Claims an entry with `token` until `expires`.
    pub(crate) fn claim(token: &str, expires: DateTime) -> Document {
        doc! {
            "$set": {
                "status": OutboxStatus::InFlight.as_str(),
                "claim": token,
                "claim_expires_at": expires,
                "due_at": expires,
            },
            "$inc": { "attempts": 1_i64 },
        }
    }

    /// The entry `id` while `claim` is its live claim.
    pub(crate) fn claimed(id: &OutboxId, claim: &str) -> Document {
        doc! { "_id": id.as_str(), "claim": claim, "status": OutboxStatus::InFlight.as_str() }
    }

    /// Extends a claim's lease (it stays due for takeover when the lease ends).
    pub(crate) fn renew(expires_at: Timestamp) -> Document {
        let expires = to_datetime(expires_at);
        doc! { "$set": { "claim_expires_at": expires, "due_at": expires } }
    }

    /// Marks a claimed entry sent.
    pub(crate) fn complete(delivery: &Delivery, now: Timestamp) -> Document {
        let state = delivery_state_name(delivery.state);
        let platform_id = delivery
            .platform_message_id
            .as_deref()
            .map_or(Bson::Null, Bson::from);
        doc! {
            "$set": {
                "status": OutboxStatus::Sent.as_str(),
                "unfinished": false,
                "head": false,
                "platform_message_id": platform_id,
                "delivery_state": state,
                "finished_at": to_datetime(now),
            },
            "$unset": { "claim": "", "claim_expires_at": "", "due_at": "" },
        }
    }

    /// Gives a claimed entry back, due at `next_attempt_at`. It stays its conversation's head.
    pub(crate) fn retry(next_attempt_at: Timestamp, error: &str) -> Document {
        let due = to_datetime(next_attempt_at);
        doc! {
            "$set": {
                "status": OutboxStatus::Pending.as_str(),
                "next_attempt_at": due,
                "due_at": due,
                "last_error": error,
            },
            "$unset": { "claim": "", "claim_expires_at": "" },
        }
    }

    /// Marks an entry failed for good.
    pub(crate) fn fail(error: &str, now: Timestamp) -> Document {
        doc! {
            "$set": {
                "status": OutboxStatus::Failed.as_str(),
                "unfinished": false,
                "head": false,
                "last_error": error,
                "finished_at": to_datetime(now),
            },
            "$unset": { "claim": "", "claim_expires_at": "", "due_at": "" },
        }
    }

    /// The unfinished entries of a conversation; with [`OutboxDoc::oldest`] its head.
    pub(crate) fn unfinished_of(conversation: &ConversationId, destination: &str) -> Document {
        doc! {
            "conversation_id": conversation.as_str(),
            "message.channel": destination,
            "unfinished": true,
        }
    }

    /// Oldest first within a conversation.
    pub(crate) fn oldest() -> Document {
        doc! { "ord": 1 }
    }

    /// Makes an entry its conversation's head (see the module docs).
    pub(crate) fn promote() -> Document {
        doc! { "$set": { "head": true } }
    }

    /// Every unfinished entry.
    pub(crate) fn unfinished() -> Document {
        doc! { "unfinished": true }
    }

    /// Every head.
    pub(crate) fn heads() -> Document {
        doc! { "head": true }
    }

    /// Projection of the conversation and destination only (to promote after finishing
    /// an entry).
    pub(crate) fn lane_projection() -> Document {
        doc! { "conversation_id": 1, "message.channel": 1 }
    }

    /// Projection of `due_at` only.
    pub(crate) fn due_projection() -> Document {
        doc! { "due_at": 1 }
    }

    /// Order of entries a delivery report changes: by send time.
    pub(crate) fn sent_first() -> Document {
        doc! { "finished_at": 1, "_id": 1 }
    }

    /// A head's `due_at`.
    pub(crate) fn due_at_of(doc: &Document) -> Result<Timestamp, StoreError> {
        let due = doc
            .get_datetime("due_at")
            .map_err(|e| StoreError::Corrupt(format!("outbox head without due_at: {e}")))?;
        from_datetime(*due)
    }

    /// Conversations that have unfinished entries but no head (left by a crash between
    /// a write and its promotion): `{ _id: conversation_id }` rows.
    pub(crate) fn headless_conversations() -> Vec<Document> {
        vec![
            doc! { "$match": { "unfinished": true } },
            doc! { "$group": {
                "_id": { "conversation_id": "$conversation_id", "channel": "$message.channel" },
                "heads": { "$sum": { "$cond": [ "$head", 1, 0 ] } },
            } },
            doc! { "$match": { "heads": 0 } },
            doc! { "$project": {
                "_id": 0,
                "conversation_id": "$_id.conversation_id",
                "channel": "$_id.channel",
            } },
        ]
    }

    /// The conversation and destination of a row of
    /// [`OutboxDoc::headless_conversations`] or of an entry (read with
    /// [`OutboxDoc::lane_projection`]).
    pub(crate) fn lane_of(doc: &Document) -> Result<(ConversationId, String), StoreError> {
        let conversation = doc
            .get_str("conversation_id")
            .map(ConversationId::from)
            .map_err(|e| StoreError::Corrupt(format!("outbox conversation id: {e}")))?;
        let channel = doc
            .get_document("message")
            .and_then(|m| m.get_str("channel"))
            .or_else(|_| doc.get_str("channel"))
            .map_err(|e| StoreError::Corrupt(format!("outbox destination: {e}")))?;
        Ok((conversation, channel.to_owned()))
    }

    /// Any stored entry with the id of one of `docs`.
    pub(crate) fn collisions(docs: &[OutboxDoc]) -> Document {
        let ids: Vec<Bson> = docs.iter().map(|d| Bson::from(d.id.as_str())).collect();
        doc! { "_id": { "$in": ids } }
    }

    /// What a delivery report changes: the filter of the sent entries it names and moves
    /// forward, and the update. `None` when the report can change nothing (`Sent`, or a
    /// failure reported for a watermark).
    pub(crate) fn reported(update: &DeliveryUpdate) -> Option<(Document, Document)> {
        let sent = OutboxStatus::Sent.as_str();
        let mut filter = match &update.target {
            DeliveryTarget::Message {
                platform_message_id,
            } => doc! {
                "message.channel": update.channel.as_str(),
                "platform_message_id": platform_message_id.as_str(),
                "status": sent,
            },
            DeliveryTarget::UpTo { .. }
                if matches!(update.status, DeliveryStatus::Failed { .. }) =>
            {
                return None;
            }
            DeliveryTarget::UpTo {
                recipient,
                watermark,
            } => doc! {
                "message.channel": update.channel.as_str(),
                "message.recipient": recipient.as_str(),
                "status": sent,
                "finished_at": { "$lte": to_datetime(*watermark) },
            },
        };
        let change = match &update.status {
            DeliveryStatus::Sent => return None,
            DeliveryStatus::Delivered => {
                let earlier = [DeliveryState::Sent, DeliveryState::Stored].map(delivery_state_name);
                filter.insert(
                    "delivery_state",
                    doc! { "$in": [ Bson::Null, earlier[0], earlier[1] ] },
                );
                doc! { "$set": { "delivery_state": delivery_state_name(DeliveryState::Delivered) } }
            }
            DeliveryStatus::Read => {
                let read = delivery_state_name(DeliveryState::Read);
                filter.insert("delivery_state", doc! { "$ne": read });
                doc! { "$set": { "delivery_state": read } }
            }
            DeliveryStatus::Failed { kind, code, reason } => doc! {
                "$set": {
                    "status": OutboxStatus::Failed.as_str(),
                    "last_error": delivery_failure_text(*kind, code.as_deref(), reason),
                },
            },
        };
        Some((filter, change))
    }

    /// The id of a stored entry.
    pub(crate) fn id_of(doc: &Document) -> Result<OutboxId, StoreError> {
        doc.get_str("_id")
            .map(OutboxId::from)
            .map_err(|e| StoreError::Corrupt(format!("outbox entry id: {e}")))
    }
}

/// The stored name of a delivery state (its serde name).
pub(crate) fn delivery_state_name(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Sent => "sent",
        DeliveryState::Stored => "stored",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Read => "read",
    }
}

/// Index models of the outbox.
pub(crate) fn outbox_indexes() -> Vec<IndexModel> {
    vec![
        // Claiming and the next due time: heads by due time.
        IndexModel::builder()
            .keys(doc! { "head": 1, "due_at": 1 })
            .options(
                IndexOptions::builder()
                    .name("outbox_due".to_owned())
                    .partial_filter_expression(doc! { "head": true })
                    .build(),
            )
            .build(),
        // A conversation's oldest unfinished entry for one destination (head promotion).
        IndexModel::builder()
            .keys(doc! { "conversation_id": 1, "message.channel": 1, "ord": 1 })
            .options(
                IndexOptions::builder()
                    .name("outbox_unfinished_destination".to_owned())
                    .partial_filter_expression(doc! { "unfinished": true })
                    .build(),
            )
            .build(),
        // A conversation's unfinished entries; the depth count.
        IndexModel::builder()
            .keys(doc! { "conversation_id": 1, "ord": 1 })
            .options(
                IndexOptions::builder()
                    .name("outbox_unfinished".to_owned())
                    .partial_filter_expression(doc! { "unfinished": true })
                    .build(),
            )
            .build(),
        // Delivery reports naming one message.
        IndexModel::builder()
            .keys(doc! { "message.channel": 1, "platform_message_id": 1 })
            .options(
                IndexOptions::builder()
                    .name("outbox_platform_message".to_owned())
                    .build(),
            )
            .build(),
        // Delivery reports up to a watermark (Messenger).
        IndexModel::builder()
            .keys(doc! { "message.channel": 1, "message.recipient": 1, "finished_at": 1 })
            .options(
                IndexOptions::builder()
                    .name("outbox_sent_recipient".to_owned())
                    .partial_filter_expression(doc! { "status": "sent" })
                    .build(),
            )
            .build(),
    ]
}
