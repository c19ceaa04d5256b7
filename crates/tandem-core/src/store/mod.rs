//! The store boundary: everything Tandem persists goes through [`Store`].
//!
//! Implementations: `tandem-store-sqlite` (embedded default) and `tandem-store-mongo`.
//! Both run the same scenarios with [`store_conformance!`](crate::store_conformance)
//! (feature `testing`). The contract of each method is written on the method; the
//! conformance suite is its executable form.

mod error;
mod merge;

#[cfg(feature = "testing")]
pub mod conformance;

pub use crate::records::*;
pub use error::StoreError;
pub use merge::{KeyHolders, MergeMoves, absorb, check_merge, merge_order};

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tandem_model::{
    ChannelId, ConversationId, CustomerId, Delivery, DeliveryUpdate, ExternalIdentity,
    InboundMessage, OutboxId, Reachability, Timestamp, TranscriptEntry,
};

/// Every area trait, for code that calls a concrete store's methods:
/// `use tandem_core::store::prelude::*;` (a `DynStore` needs no import).
pub mod prelude {
    pub use super::{
        Conversations, Identities, InboundLog, KeyValue, Reporting, Routing, Store, WorkQueue,
    };
}

/// A shared store handle.
pub type DynStore = Arc<dyn Store>;

/// Durable state of the gateway. Every method is safe to call concurrently.
#[async_trait]
pub trait Store:
    InboundLog + Identities + Conversations + WorkQueue + Reporting + Routing + KeyValue + 'static
{
    /// Succeeds when the store answers (`/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Waits until every write accepted so far is durable. Called at shutdown.
    async fn flush(&self) -> Result<(), StoreError>;
}

/// The inbound log: every accepted message, recorded before it is acknowledged, until a turn processes it.
#[async_trait]
pub trait InboundLog: Send + Sync {
    /// Records an inbound message durably, keyed by `(msg.channel, msg.platform_message_id)`.
    /// A second record with the same key returns the first record's `seq` with
    /// `duplicate = true` and changes nothing. `seq` increases with every new record.
    async fn record_inbound(
        &self,
        msg: &InboundMessage,
        received_at: Timestamp,
    ) -> Result<InboundRecord, StoreError>;

    /// Marks an inbound record processed without a turn (an event that changes nothing,
    /// e.g. for a handoff that no longer exists). Returns false when it was already
    /// processed or is unknown.
    async fn mark_inbound_processed(&self, seq: u64, now: Timestamp) -> Result<bool, StoreError>;

    /// Up to `limit` recorded inbound messages not yet processed (see
    /// [`Conversations::commit_turn`]), in `seq` order.
    async fn pending_inbound(&self, limit: usize) -> Result<Vec<PendingInbound>, StoreError>;

    /// The unprocessed inbound records of sender `subject` on `channel` recorded before
    /// `seq` (smaller `seq`), in `seq` order, at most `limit`: what must be processed
    /// before record `seq` so that a sender's messages are answered in order even when
    /// they were accepted by different processes. The default scans
    /// [`InboundLog::pending_inbound`]; a store shared by processes answers it from an index.
    async fn pending_inbound_before(
        &self,
        channel: &ChannelId,
        subject: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<PendingInbound>, StoreError> {
        let mut out: Vec<PendingInbound> = self
            .pending_inbound(10_000)
            .await?
            .into_iter()
            .filter(|p| {
                p.seq < seq && p.message.channel == *channel && p.message.sender.subject == subject
            })
            .collect();
        out.truncate(limit);
        Ok(out)
    }
}

/// Customers, their identities on each channel, the identity graph (merge, unmerge, links, suggestions), link codes, business events and erasure.
#[async_trait]
pub trait Identities: Send + Sync {
    /// Returns the customer owning `(identity.channel, identity.subject)`, creating the
    /// customer and the identity when unknown. Never creates two customers for one
    /// identity, even under concurrent calls. Updates the display name when given.
    ///
    /// Verified facts ([`VerifiedKey::of`]: the identity's verified email and phone) are
    /// stored on the identity (source `platform`) and are the only merge keys:
    ///
    /// - a **new** identity carrying a key another customer's identity holds joins that
    ///   customer (the oldest one when several hold it) instead of creating one;
    /// - an **existing** identity that newly carries a key held by **another** customer
    ///   merges the two (as [`Identities::merge_customers`], the older customer survives,
    ///   trigger actor `verified_key` with the key and `<channel>/<subject>` as source);
    ///   the survivor is returned. Two customers whose merge was undone
    ///   ([`Identities::unmerge`]) are not merged again: a [`SuggestedLink`] with reason
    ///   `unmerged_before` is recorded instead.
    ///
    /// Concurrent calls carrying the same key from two channels end with one customer.
    async fn resolve_customer(
        &self,
        identity: &ExternalIdentity,
        now: Timestamp,
    ) -> Result<CustomerRecord, StoreError>;

    /// A customer by id.
    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerRecord>, StoreError>;

    /// The identities of a customer, oldest first.
    async fn identities(&self, customer: &CustomerId) -> Result<Vec<IdentityRecord>, StoreError>;

    /// The customer owning `(channel, subject)`, without creating anything.
    async fn customer_by_identity(
        &self,
        channel: &ChannelId,
        subject: &str,
    ) -> Result<Option<CustomerRecord>, StoreError>;

    /// Customers one of whose identities carries this verified email (case-insensitive).
    async fn customers_by_email(&self, email: &str) -> Result<Vec<CustomerRecord>, StoreError>;

    /// Applies a profile update; `None` when the customer is unknown.
    async fn update_customer(
        &self,
        id: &CustomerId,
        update: CustomerUpdate,
        now: Timestamp,
    ) -> Result<Option<CustomerRecord>, StoreError>;

    /// Records a business event. Recording the same `id` twice changes nothing.
    /// Returns false for a duplicate.
    async fn record_customer_event(&self, event: &CustomerEvent) -> Result<bool, StoreError>;

    /// A customer's events at or after `since`, oldest first.
    async fn customer_events(
        &self,
        customer: &CustomerId,
        since: Timestamp,
    ) -> Result<Vec<CustomerEvent>, StoreError>;

    /// Merges customer `merged` into `survivor` atomically: every identity and conversation
    /// of `merged` moves to `survivor`; when both have an open conversation, `merged`'s is
    /// closed (recorded in the merge; its `updated_at` is kept). The merged customer's record stays (without
    /// identities) so that [`Identities::unmerge`] can restore it. Records an
    /// [`AuditKind::Merge`] entry for both customers and returns the merge; `None` when
    /// either customer is unknown. Merging a customer with itself, or a customer that was
    /// already merged away, is a [`StoreError::Conflict`].
    async fn merge_customers(
        &self,
        survivor: &CustomerId,
        merged: &CustomerId,
        trigger: &MergeTrigger,
        now: Timestamp,
    ) -> Result<Option<MergeRecord>, StoreError>;

    /// Undoes a merge atomically: the identities and conversations it moved go back to the
    /// merged customer (identities linked to the survivor later stay), and the
    /// conversation the merge closed is reopened (with its `updated_at` as before the
    /// merge) when the merged customer has no open one. Records an [`AuditKind::Unmerge`] entry for both customers and returns the
    /// merge with `unmerged_at` set; `None` when unknown; [`StoreError::Conflict`] when
    /// already undone. The two customers are not merged automatically again.
    async fn unmerge(
        &self,
        merge_id: &str,
        now: Timestamp,
    ) -> Result<Option<MergeRecord>, StoreError>;

    /// Links an identity to a customer as verified with `source` (`admin`, `link_code`),
    /// storing its verified facts. When one of them is held by another customer, the two
    /// are merged as in [`Identities::resolve_customer`] (trigger actor `source`). Records an
    /// [`AuditKind::Link`] entry. Returns the identity; `None` when the customer is
    /// unknown; [`StoreError::Conflict`] when the identity belongs to another customer.
    /// Linking an identity the customer already has marks it verified.
    async fn link_identity(
        &self,
        customer: &CustomerId,
        identity: &ExternalIdentity,
        source: &str,
        now: Timestamp,
    ) -> Result<Option<IdentityRecord>, StoreError>;

    /// Moves one identity of `customer` to a new customer (source `unlink`) and records an
    /// [`AuditKind::Unlink`] entry for both. Returns the new customer; `None` when the
    /// customer does not own that identity.
    async fn unlink_identity(
        &self,
        customer: &CustomerId,
        channel: &ChannelId,
        subject: &str,
        now: Timestamp,
    ) -> Result<Option<CustomerRecord>, StoreError>;

    /// The identity audit trail of a customer (entries where it is either customer),
    /// oldest first.
    async fn identity_audit(&self, customer: &CustomerId) -> Result<Vec<AuditEntry>, StoreError>;

    /// Records that `customer` claims `key` without verification. When another customer
    /// holds the key as a verified fact, a [`SuggestedLink`] (reason `unverified_claim`)
    /// is recorded once and returned; never merges.
    async fn suggest_link(
        &self,
        customer: &CustomerId,
        key: &VerifiedKey,
        now: Timestamp,
    ) -> Result<Option<SuggestedLink>, StoreError>;

    /// Suggested links where the customer is either side, oldest first.
    async fn suggested_links(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<SuggestedLink>, StoreError>;

    /// Erases a customer's personal data everywhere, atomically (GDPR): profile (name,
    /// segment, attributes), identities and their verified facts, reachability, the
    /// inbound records of its identities (processed ones are kept as redacted dedupe keys,
    /// unprocessed ones deleted), transcript contents (replaced by [`ERASED_TEXT`]),
    /// the personal parts of conversation state (slots, offered choices, CSAT comments),
    /// outbox messages (text and recipient; unfinished ones fail with `erased`), event
    /// data, desk key-value entries naming its handoffs or conversations, suggested links,
    /// its link codes, the details of its audit entries, and its conversations' AI audit
    /// records (deleted: they hold prompts and answers). Ids, timestamps, escalation
    /// events and counts stay. Records an [`AuditKind::Erase`] entry holding counts only.
    /// `None` when the customer is unknown.
    async fn erase_customer(
        &self,
        customer: &CustomerId,
        now: Timestamp,
    ) -> Result<Option<ErasureReport>, StoreError>;

    /// Stores a new link code. The customer must exist ([`LinkCodeIssue::UnknownCustomer`])
    /// and have fewer than `max_active` active (unused, unexpired at `code.created_at`)
    /// codes ([`LinkCodeIssue::TooMany`]). A code that exists already (used or not) is a
    /// [`StoreError::Conflict`]: the caller draws another one.
    async fn create_link_code(
        &self,
        code: &LinkCode,
        max_active: usize,
    ) -> Result<LinkCodeIssue, StoreError>;

    /// Uses a code once, atomically: the first redemption before `expires_at` returns
    /// [`LinkCodeRedemption::Redeemed`] and marks it used at `now` by `redeemer` (an
    /// opaque key of who sent it); a later one by the **same** redeemer returns
    /// `Redeemed` again, even after expiry (so that a retry after a crash between the
    /// redemption and the link completes the link), by anyone else
    /// [`LinkCodeRedemption::AlreadyUsed`]; one after expiry of an unused code
    /// [`LinkCodeRedemption::Expired`]. Codes are exact (compare after the caller's
    /// normalization); unknown ones are [`LinkCodeRedemption::Unknown`]. A store may delete
    /// expired codes (MongoDB's TTL index does), which then read as unknown.
    async fn redeem_link_code(
        &self,
        code: &str,
        redeemer: &str,
        now: Timestamp,
    ) -> Result<LinkCodeRedemption, StoreError>;
}

/// Conversations and their turns: the transcript, the state, and the atomic commit of everything a turn decided.
#[async_trait]
pub trait Conversations: Send + Sync {
    /// A customer's conversations, newest first, at most `limit`.
    async fn conversations_of(
        &self,
        customer: &CustomerId,
        limit: usize,
    ) -> Result<Vec<ConversationRecord>, StoreError>;

    /// The customer's open conversation, or a new one opened on `channel` when there is
    /// none. A customer has at most one open conversation, even under concurrent calls.
    async fn open_conversation(
        &self,
        customer: &CustomerId,
        channel: &ChannelId,
        now: Timestamp,
    ) -> Result<ConversationRecord, StoreError>;

    /// As [`Conversations::open_conversation`], but a conversation it opens gets the id `id`
    /// (announced before it existed, see `InboundHandler::find`); when `id` is already
    /// taken, a generated one.
    async fn open_conversation_as(
        &self,
        customer: &CustomerId,
        channel: &ChannelId,
        id: &ConversationId,
        now: Timestamp,
    ) -> Result<ConversationRecord, StoreError>;

    /// A conversation by id.
    async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError>;

    /// Closes a conversation (status `closed`, `closed_at = now`). Returns false when it
    /// was not open. The customer's next message opens a new one.
    async fn close_conversation(
        &self,
        id: &ConversationId,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// The newest `limit` transcript entries of a conversation, oldest first (by `seq`).
    async fn transcript(
        &self,
        conversation: &ConversationId,
        limit: usize,
    ) -> Result<Vec<TranscriptEntry>, StoreError>;

    /// Applies one turn atomically: all of it or nothing.
    ///
    /// - `turn.conversation.version` must equal the stored version, else
    ///   [`StoreError::Conflict`]; on success the stored version becomes `version + 1` and
    ///   the stored record equals `turn.conversation` otherwise.
    /// - Entries are appended; `(conversation_id, seq)` is unique ([`StoreError::Conflict`]).
    /// - When `turn.inbound_seq` is set, that inbound record must be unprocessed (else
    ///   [`StoreError::AlreadyProcessed`]) and becomes processed.
    /// - Escalation events, AI audit records and outbox entries are inserted; outbox
    ///   entries become claimable at their `next_attempt_at`.
    async fn commit_turn(&self, turn: Turn) -> Result<(), StoreError>;

    /// The newest `limit` AI audit records of a conversation, oldest first: by turn, and
    /// within a turn in the order the turn lists them.
    async fn ai_audit(
        &self,
        conversation: &ConversationId,
        limit: usize,
    ) -> Result<Vec<AiAuditRecord>, StoreError>;
}

/// Durable work: the outbox (sends to customers and operations to desks, ordered per conversation and destination), leased timers, and what delivery reports tell about both.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// Claims up to `limit` due entries for sending, under a lease of `lease`.
    ///
    /// An entry is due when it is `pending` with `next_attempt_at <= now`, or `in_flight`
    /// with an expired lease (its sender died). Order per (conversation, destination): only
    /// the oldest unfinished (`pending` or `in_flight`) entry of a conversation for one
    /// destination (`message.channel`: the customer's channel, or `desk:<id>` for desk
    /// operations) can be claimed, so a later message never overtakes an earlier one to
    /// the same place, and a desk being retried never holds back the customer's replies
    /// (or the reverse). A claimed entry gets a fresh
    /// `claim` token and `attempts + 1`.
    async fn claim_outbox(
        &self,
        now: Timestamp,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Marks a claimed entry sent. Returns false (and changes nothing) when `claim` is no
    /// longer the entry's current claim. A sent entry is never claimed again.
    async fn complete_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        delivery: &Delivery,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Extends a claim's lease to `expires_at` (the heartbeat of a send still in flight).
    /// Returns false (and changes nothing) when `claim` is no longer the entry's claim.
    async fn renew_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Gives a claimed entry back for another attempt at `next_attempt_at`. Returns false
    /// when `claim` is stale.
    async fn retry_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<bool, StoreError>;

    /// Marks a claimed entry failed for good (not retried; the conversation's next entry
    /// becomes claimable). Returns false when `claim` is stale.
    async fn fail_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        error: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// An outbox entry by id.
    async fn outbox_entry(&self, id: &OutboxId) -> Result<Option<OutboxEntry>, StoreError>;

    /// Number of unfinished (`pending` or `in_flight`) entries.
    async fn outbox_depth(&self) -> Result<u64, StoreError>;

    /// The earliest `next_attempt_at` of a pending entry, or the earliest lease expiry of an
    /// in-flight one: when the dispatcher should look again. Only the oldest unfinished
    /// entry of each conversation and destination counts (the others cannot be claimed
    /// before it finishes).
    async fn next_outbox_due(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Schedules timer `timer.id` to fire at `timer.due_at`. Scheduling an id that exists
    /// replaces it (its due time, kind and payload; a claim on it is dropped), so a
    /// timer is rescheduled by scheduling it again.
    async fn schedule_timer(&self, timer: &NewTimer) -> Result<(), StoreError>;

    /// Claims up to `limit` timers due at `now` (or whose claim's lease has expired: the
    /// process that claimed them died) under a lease of `lease`, earliest first. A claimed
    /// timer gets a fresh claim token and `attempts + 1`; two claimers never get the same
    /// timer while a lease runs.
    async fn claim_timers(
        &self,
        now: Timestamp,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<TimerEntry>, StoreError>;

    /// Removes a fired timer. Returns false (and changes nothing) when `claim` is no longer
    /// its claim (it was rescheduled, or its lease ran out and another process took it).
    async fn finish_timer(&self, id: &str, claim: &str) -> Result<bool, StoreError>;

    /// When a claim could next return a timer (the earliest due time or lease expiry).
    async fn next_timer_due(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Applies a platform's delivery report to the **sent** outbox entries it names and
    /// returns the entries it changed, as they are after the change (empty when nothing
    /// matched or nothing moved: reports are idempotent).
    ///
    /// - Target [`DeliveryTarget::Message`](tandem_model::DeliveryTarget::Message): the
    ///   entry with `status = sent` whose `message.channel` is `update.channel` and whose
    ///   `platform_message_id` equals the target's.
    /// - Target [`DeliveryTarget::UpTo`](tandem_model::DeliveryTarget::UpTo): every sent
    ///   entry of `update.channel` whose `message.recipient` is the target's and which was
    ///   marked sent at or before the watermark.
    /// - `Delivered` moves `delivery_state` from none/`sent`/`stored` to `delivered`;
    ///   `Read` moves anything but `read` to `read`; `Sent` changes nothing.
    /// - `Failed` (message targets only) makes the entry `failed` with `last_error` =
    ///   [`delivery_failure_text`]; `delivery_state` is kept.
    async fn record_delivery_status(
        &self,
        update: &DeliveryUpdate,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Records whether `subject` can be reached on `channel`. A report older (by `at`)
    /// than the stored one changes nothing; returns whether it was applied.
    async fn set_reachability(
        &self,
        channel: &ChannelId,
        subject: &str,
        reachability: &Reachability,
    ) -> Result<bool, StoreError>;

    /// The newest reachability report of `subject` on `channel`, if any.
    async fn reachability(
        &self,
        channel: &ChannelId,
        subject: &str,
    ) -> Result<Option<Reachability>, StoreError>;
}

/// Escalation decisions and activity, for reports and metrics.
#[async_trait]
pub trait Reporting: Send + Sync {
    /// Escalation events of a conversation, oldest first.
    async fn escalations(
        &self,
        conversation: &ConversationId,
    ) -> Result<Vec<EscalationEvent>, StoreError>;

    /// The conversations the escalation health figures of a period read: every
    /// conversation with `updated_at >= since` and `opened_at < until`, by `updated_at`
    /// then id, at most `limit`, each with the times of its agent transcript entries
    /// (oldest first). Index-backed on `updated_at`; the caller treats `limit` results as
    /// a truncated scan.
    async fn conversation_activity(
        &self,
        since: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<ConversationActivity>, StoreError>;

    /// Number of recorded policy decisions (escalation events) over the whole store:
    /// `(escalating, not escalating)`. Restores `tandem_policy_decisions` at start-up, so
    /// it and the restored escalation counts stay in step across restarts.
    async fn decision_counts(&self) -> Result<(u64, u64), StoreError>;

    /// Number of escalation events per reason code, over the whole store.
    async fn escalation_counts(&self) -> Result<Vec<(String, u64)>, StoreError>;
}

/// Agents, their capacity, and the queue of handoffs waiting for one.
#[async_trait]
pub trait Routing: Send + Sync {
    /// Creates or updates an agent's profile; the handoffs they hold are kept.
    async fn put_agent(
        &self,
        profile: &AgentProfile,
        now: Timestamp,
    ) -> Result<AgentRecord, StoreError>;

    /// An agent by id.
    async fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError>;

    /// Every agent, by id.
    async fn agents(&self) -> Result<Vec<AgentRecord>, StoreError>;

    /// Deletes an agent; returns it as it was (with the handoffs it held), `None` when
    /// unknown.
    async fn delete_agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError>;

    /// Atomically gives `handoff_id` to an agent that [`AgentRecord::can_take`] `skill`:
    /// the least loaded, ties broken by id. Idempotent: when an agent already holds the
    /// handoff, returns that agent unchanged. `None` when nobody can take it.
    async fn claim_agent(
        &self,
        skill: &str,
        handoff_id: &str,
        now: Timestamp,
    ) -> Result<Option<AgentRecord>, StoreError>;

    /// Gives `handoff_id` to agent `agent_id` whatever their status and load (they took
    /// it at the desk), taking it from any other agent. `None` when the agent is unknown
    /// (nothing changes then).
    async fn bind_agent(
        &self,
        agent_id: &str,
        handoff_id: &str,
        now: Timestamp,
    ) -> Result<Option<AgentRecord>, StoreError>;

    /// Takes `handoff_id` from whichever agent holds it; returns that agent's id.
    async fn release_agent(
        &self,
        handoff_id: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError>;

    /// Puts a handoff in its queue (idempotent on the handoff id: a second call changes
    /// nothing).
    async fn enqueue_handoff(&self, entry: &QueuedHandoff) -> Result<(), StoreError>;

    /// Removes a handoff from the queue; returns whether it was there.
    async fn dequeue_handoff(&self, handoff_id: &str) -> Result<bool, StoreError>;

    /// Every waiting handoff, in queue order: by [`priority_rank`], then oldest first,
    /// then by handoff id.
    async fn queued_handoffs(&self) -> Result<Vec<QueuedHandoff>, StoreError>;
}

/// A small key-value space (channel state, indexes, console records) and what processes sharing the store coordinate through: leases, shared send pacing, notifications.
#[async_trait]
pub trait KeyValue: Send + Sync {
    /// A value of a channel's key-value space (session keys, polling offsets).
    async fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<String>, StoreError>;

    /// Sets a value of a channel's key-value space (last write wins).
    async fn kv_put(&self, namespace: &str, key: &str, value: &str) -> Result<(), StoreError>;

    /// Sets a value only if it is still `expected` (`None`: only if there is none), and
    /// returns whether it did: a compare-and-set for records that several processes
    /// read, change and write back. Of concurrent swaps from one value, one succeeds.
    async fn kv_swap(
        &self,
        namespace: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError>;

    /// Records a notification for every process sharing this store (see
    /// [`KeyValue::notification_feed`]). Resolves once it is written. The default, for a
    /// store one process holds (SQLite), does nothing: that process already knows.
    async fn publish_notification(&self, notification: &Notification) -> Result<(), StoreError> {
        let _ = notification;
        Ok(())
    }

    /// Starts following the notifications that any process publishes from now on, in the
    /// order they were written; `None` for a store one process holds (the default). The
    /// feed ends when the store is dropped. Notifications are short-lived: a follower
    /// that falls more than a few minutes behind may miss some.
    async fn notification_feed(&self) -> Result<Option<NotificationFeed>, StoreError> {
        Ok(None)
    }

    /// Takes the next slot of the send budget `key`, a generic cell rate kept in the
    /// store: one send every `interval`, up to `burst` of them at once. Returns how long
    /// from `now` to wait before using the slot, the longer of the rate's wait and a
    /// pause set by [`KeyValue::pause_pacing`] on the same key. The slot is taken whether or
    /// not the caller waits. `None` (the default, for a store one process holds) means the
    /// store keeps no shared budgets: the caller paces in memory.
    async fn reserve_pacing(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
        now: Timestamp,
    ) -> Result<Option<Duration>, StoreError> {
        let _ = (key, interval, burst, now);
        Ok(None)
    }

    /// Holds every slot of the send budget `key` until `until` (a platform asked to
    /// wait); an earlier pause than the one in force changes nothing. The default does
    /// nothing (see [`KeyValue::reserve_pacing`]).
    async fn pause_pacing(&self, key: &str, until: Timestamp) -> Result<(), StoreError> {
        let _ = (key, until);
        Ok(())
    }

    /// Takes or renews the lease `name` for `holder` until `ttl` from `now`: true when
    /// `holder` holds it afterwards (it was free, expired, or already `holder`'s).
    /// Exactly one of concurrent callers for a free lease gets it.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Gives up lease `name` if `holder` holds it (anyone may take it at once); returns
    /// whether it did.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError>;
}

/// A receiver of [`Notification`]s (see [`KeyValue::notification_feed`]).
pub type NotificationFeed = tokio::sync::mpsc::Receiver<Notification>;
