//! The embedded SQLite store: Tandem's default, durable, one file.
//!
//! [`SqliteStore`] implements [`tandem_core::store::Store`] on one SQLite database in WAL
//! mode with `synchronous = FULL`: a write's future resolves once the write is on disk.
//!
//! # Layout
//!
//! - `writer`: one OS thread owns the only write connection. Commands
//!   queue on a channel; the thread runs everything queued (up to 256 commands) in one
//!   transaction with a savepoint per command and commits once (group commit: one fsync
//!   per batch, not per message). Claiming outbox entries happens there too, so selecting
//!   and marking them is atomic.
//! - `pool`: a few read connections, each on a reader thread of its own;
//!   WAL lets them read while the writer writes.
//! - `schema`: connection settings and numbered migrations
//!   (`src/migrations/*.sql`, tracked in `PRAGMA user_version`).
//! - `writes`, `outbox`, `delivery`, `reads`: the SQL
//!   of each operation; `rows`: row and JSON conversions.
//!
//! Timestamps are stored as unix milliseconds; documents (messages, conversation state,
//! content) as JSON. Stored data that does not parse is reported as
//! [`StoreError::Corrupt`], never a panic.

mod delivery;
mod identity;
mod link_codes;
mod outbox;
mod pool;
mod profile;
mod reads;
mod routing;
mod rows;
mod schema;
pub mod stats;
mod timers;
mod writer;
mod writes;

pub use schema::SCHEMA_VERSION;
pub use writer::WriteStats;

use async_trait::async_trait;
use pool::ReadPool;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tandem_core::store::{
    AgentProfile, AgentRecord, AiAuditRecord, AuditEntry, ConversationActivity, ConversationRecord,
    Conversations, CustomerEvent, CustomerRecord, CustomerUpdate, ErasureReport, EscalationEvent,
    Identities, IdentityRecord, InboundLog, InboundRecord, KeyValue, LinkCode, LinkCodeIssue,
    LinkCodeRedemption, MergeRecord, MergeTrigger, NewTimer, OutboxEntry, PendingInbound,
    QueuedHandoff, Reporting, Routing, Store, StoreError, SuggestedLink, TimerEntry, Turn,
    VerifiedKey, WorkQueue,
};
use tandem_model::{
    ChannelId, ConversationId, CustomerId, Delivery, DeliveryUpdate, ExternalIdentity,
    InboundMessage, OutboxId, Reachability, Timestamp, TranscriptEntry,
};
use writer::Writer;
use writes::{EncodedInbound, EncodedTurn};

/// Read connections per store.
const READ_CONNECTIONS: usize = 4;

/// The SQLite implementation of [`Store`]. Cheap to share behind an `Arc`; dropping it
/// finishes the queued writes and stops the writer thread.
pub struct SqliteStore {
    path: PathBuf,
    // Declared before `writer` so that readers close first; the writer then checkpoints.
    reads: Arc<ReadPool>,
    writer: Writer,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`, creating parent directories, and applies
    /// pending migrations. Blocks while it does so.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!("creating directory {}: {e}", parent.display()))
            })?;
        }
        let mut conn = rusqlite::Connection::open(&path).map_err(rows::sql_error)?;
        schema::configure_writer(&conn)?;
        schema::migrate(&mut conn)?;
        let reads = Arc::new(ReadPool::new(path.clone(), READ_CONNECTIONS)?);
        reads.warm_up()?;
        let writer = Writer::spawn(conn)?;
        tracing::debug!(path = %path.display(), "Opened the SQLite store.");
        Ok(SqliteStore {
            path,
            reads,
            writer,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Group-commit counters of the writer.
    pub fn write_stats(&self) -> WriteStats {
        self.writer.stats()
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.reads
            .call(|c| {
                c.query_row("SELECT 1", [], |_| Ok(()))
                    .map_err(rows::sql_error)
            })
            .await?;
        self.writer.flush().await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.writer.flush().await
    }
}

#[async_trait]
impl InboundLog for SqliteStore {
    async fn record_inbound(
        &self,
        msg: &InboundMessage,
        received_at: Timestamp,
    ) -> Result<InboundRecord, StoreError> {
        let encoded = EncodedInbound::new(msg, received_at)?;
        self.writer
            .call(move |c| writes::record_inbound(c, &encoded))
            .await
    }

    async fn pending_inbound(&self, limit: usize) -> Result<Vec<PendingInbound>, StoreError> {
        self.reads
            .call(move |c| reads::pending_inbound(c, limit))
            .await
    }

    async fn mark_inbound_processed(&self, seq: u64, now: Timestamp) -> Result<bool, StoreError> {
        self.writer
            .call(move |c| writes::mark_inbound_processed(c, seq, now))
            .await
    }
}

#[async_trait]
impl Identities for SqliteStore {
    async fn resolve_customer(
        &self,
        identity: &ExternalIdentity,
        now: Timestamp,
    ) -> Result<CustomerRecord, StoreError> {
        // A returning customer with nothing new: answered by a reader, no write.
        let read = identity.clone();
        if let Some(customer) = self
            .reads
            .call(move |c| identity::resolved_unchanged(c, &read))
            .await?
        {
            return Ok(customer);
        }
        let identity = identity.clone();
        self.writer
            .call(move |c| identity::resolve_customer(c, &identity, now))
            .await
    }

    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerRecord>, StoreError> {
        let id = id.clone();
        self.reads.call(move |c| reads::customer(c, &id)).await
    }

    async fn identities(&self, customer: &CustomerId) -> Result<Vec<IdentityRecord>, StoreError> {
        let customer = customer.clone();
        self.reads
            .call(move |c| reads::identities(c, &customer))
            .await
    }

    async fn merge_customers(
        &self,
        survivor: &CustomerId,
        merged: &CustomerId,
        trigger: &MergeTrigger,
        now: Timestamp,
    ) -> Result<Option<MergeRecord>, StoreError> {
        let (survivor, merged, trigger) = (survivor.clone(), merged.clone(), trigger.clone());
        self.writer
            .call(move |c| identity::merge(c, &survivor, &merged, &trigger, now))
            .await
    }

    async fn unmerge(
        &self,
        merge_id: &str,
        now: Timestamp,
    ) -> Result<Option<MergeRecord>, StoreError> {
        let merge_id = merge_id.to_owned();
        self.writer
            .call(move |c| identity::unmerge(c, &merge_id, now))
            .await
    }

    async fn link_identity(
        &self,
        customer: &CustomerId,
        identity: &ExternalIdentity,
        source: &str,
        now: Timestamp,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        let (customer, ident, source) = (customer.clone(), identity.clone(), source.to_owned());
        self.writer
            .call(move |c| identity::link_identity(c, &customer, &ident, &source, now))
            .await
    }

    async fn unlink_identity(
        &self,
        customer: &CustomerId,
        channel: &ChannelId,
        subject: &str,
        now: Timestamp,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        let (customer, channel, subject) = (customer.clone(), channel.clone(), subject.to_owned());
        self.writer
            .call(move |c| identity::unlink_identity(c, &customer, &channel, &subject, now))
            .await
    }

    async fn identity_audit(&self, customer: &CustomerId) -> Result<Vec<AuditEntry>, StoreError> {
        let customer = customer.clone();
        self.reads
            .call(move |c| identity::identity_audit(c, &customer))
            .await
    }

    async fn suggest_link(
        &self,
        customer: &CustomerId,
        key: &VerifiedKey,
        now: Timestamp,
    ) -> Result<Option<SuggestedLink>, StoreError> {
        let (customer, key) = (customer.clone(), key.clone());
        self.writer
            .call(move |c| identity::suggest_link(c, &customer, &key, now))
            .await
    }

    async fn suggested_links(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<SuggestedLink>, StoreError> {
        let customer = customer.clone();
        self.reads
            .call(move |c| identity::suggested_links(c, &customer))
            .await
    }

    async fn erase_customer(
        &self,
        customer: &CustomerId,
        now: Timestamp,
    ) -> Result<Option<ErasureReport>, StoreError> {
        let customer = customer.clone();
        self.writer
            .call(move |c| identity::erase_customer(c, &customer, now))
            .await
    }

    async fn create_link_code(
        &self,
        code: &LinkCode,
        max_active: usize,
    ) -> Result<LinkCodeIssue, StoreError> {
        let code = code.clone();
        self.writer
            .call(move |c| link_codes::create(c, &code, max_active))
            .await
    }

    async fn redeem_link_code(
        &self,
        code: &str,
        redeemer: &str,
        now: Timestamp,
    ) -> Result<LinkCodeRedemption, StoreError> {
        let (code, redeemer) = (code.to_owned(), redeemer.to_owned());
        self.writer
            .call(move |c| link_codes::redeem(c, &code, &redeemer, now))
            .await
    }

    async fn customer_by_identity(
        &self,
        channel: &ChannelId,
        subject: &str,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        let (channel, subject) = (channel.clone(), subject.to_owned());
        self.reads
            .call(move |c| profile::customer_by_identity(c, &channel, &subject))
            .await
    }

    async fn customers_by_email(&self, email: &str) -> Result<Vec<CustomerRecord>, StoreError> {
        let email = email.to_owned();
        self.reads
            .call(move |c| profile::customers_by_email(c, &email))
            .await
    }

    async fn update_customer(
        &self,
        id: &CustomerId,
        update: CustomerUpdate,
        now: Timestamp,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        let id = id.clone();
        self.writer
            .call(move |c| profile::update_customer(c, &id, &update, now))
            .await
    }

    async fn record_customer_event(&self, event: &CustomerEvent) -> Result<bool, StoreError> {
        let event = event.clone();
        self.writer
            .call(move |c| profile::record_customer_event(c, &event))
            .await
    }

    async fn customer_events(
        &self,
        customer: &CustomerId,
        since: Timestamp,
    ) -> Result<Vec<CustomerEvent>, StoreError> {
        let customer = customer.clone();
        self.reads
            .call(move |c| profile::customer_events(c, &customer, since))
            .await
    }
}

#[async_trait]
impl Conversations for SqliteStore {
    async fn open_conversation(
        &self,
        customer: &CustomerId,
        channel: &ChannelId,
        now: Timestamp,
    ) -> Result<ConversationRecord, StoreError> {
        // The open conversation, when there is one, is a read (the writer checks again).
        let read = customer.clone();
        if let Some(open) = self
            .reads
            .call(move |c| reads::open_conversation(c, &read))
            .await?
        {
            return Ok(open);
        }
        let (customer, channel) = (customer.clone(), channel.clone());
        self.writer
            .call(move |c| writes::open_conversation(c, &customer, &channel, now))
            .await
    }

    async fn open_conversation_as(
        &self,
        customer: &CustomerId,
        channel: &ChannelId,
        id: &ConversationId,
        now: Timestamp,
    ) -> Result<ConversationRecord, StoreError> {
        let read = customer.clone();
        if let Some(open) = self
            .reads
            .call(move |c| reads::open_conversation(c, &read))
            .await?
        {
            return Ok(open);
        }
        let (customer, channel, id) = (customer.clone(), channel.clone(), id.clone());
        self.writer
            .call(move |c| writes::open_conversation_as(c, &customer, &channel, Some(&id), now))
            .await
    }

    async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        let id = id.clone();
        self.reads.call(move |c| reads::conversation(c, &id)).await
    }

    async fn close_conversation(
        &self,
        id: &ConversationId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let id = id.clone();
        self.writer
            .call(move |c| writes::close_conversation(c, &id, now))
            .await
    }

    async fn transcript(
        &self,
        conversation: &ConversationId,
        limit: usize,
    ) -> Result<Vec<TranscriptEntry>, StoreError> {
        let conversation = conversation.clone();
        self.reads
            .call(move |c| reads::transcript(c, &conversation, limit))
            .await
    }

    async fn conversations_of(
        &self,
        customer: &CustomerId,
        limit: usize,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        let customer = customer.clone();
        self.reads
            .call(move |c| profile::conversations_of(c, &customer, limit))
            .await
    }

    async fn commit_turn(&self, turn: Turn) -> Result<(), StoreError> {
        let encoded = EncodedTurn::new(turn)?;
        self.writer
            .call(move |c| writes::commit_turn(c, &encoded))
            .await
    }

    async fn ai_audit(
        &self,
        conversation: &ConversationId,
        limit: usize,
    ) -> Result<Vec<AiAuditRecord>, StoreError> {
        let conversation = conversation.clone();
        self.reads
            .call(move |c| reads::ai_audit(c, &conversation, limit))
            .await
    }
}

#[async_trait]
impl WorkQueue for SqliteStore {
    async fn claim_outbox(
        &self,
        now: Timestamp,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.writer
            .call(move |c| outbox::claim(c, now, limit, lease))
            .await
    }

    async fn complete_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        delivery: &Delivery,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let (id, claim, delivery) = (id.clone(), claim.to_owned(), delivery.clone());
        self.writer
            .call(move |c| outbox::complete(c, &id, &claim, &delivery, now))
            .await
    }

    async fn renew_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let (id, claim) = (id.clone(), claim.to_owned());
        self.writer
            .call(move |c| outbox::renew(c, &id, &claim, expires_at))
            .await
    }

    async fn retry_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<bool, StoreError> {
        let (id, claim, error) = (id.clone(), claim.to_owned(), error.to_owned());
        self.writer
            .call(move |c| outbox::retry(c, &id, &claim, next_attempt_at, &error))
            .await
    }

    async fn fail_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        error: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let (id, claim, error) = (id.clone(), claim.to_owned(), error.to_owned());
        self.writer
            .call(move |c| outbox::fail(c, &id, &claim, &error, now))
            .await
    }

    async fn outbox_entry(&self, id: &OutboxId) -> Result<Option<OutboxEntry>, StoreError> {
        let id = id.clone();
        self.reads.call(move |c| outbox::entry(c, &id)).await
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.reads.call(outbox::depth).await
    }

    async fn next_outbox_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.reads.call(outbox::next_due).await
    }

    async fn schedule_timer(&self, timer: &NewTimer) -> Result<(), StoreError> {
        let timer = timer.clone();
        self.writer.call(move |c| timers::schedule(c, &timer)).await
    }

    async fn claim_timers(
        &self,
        now: Timestamp,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<TimerEntry>, StoreError> {
        self.writer
            .call(move |c| timers::claim(c, now, limit, lease))
            .await
    }

    async fn finish_timer(&self, id: &str, claim: &str) -> Result<bool, StoreError> {
        let (id, claim) = (id.to_owned(), claim.to_owned());
        self.writer
            .call(move |c| timers::finish(c, &id, &claim))
            .await
    }

    async fn next_timer_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.reads.call(timers::next_due).await
    }

    async fn record_delivery_status(
        &self,
        update: &DeliveryUpdate,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let update = update.clone();
        self.writer
            .call(move |c| delivery::record_status(c, &update))
            .await
    }

    async fn set_reachability(
        &self,
        channel: &ChannelId,
        subject: &str,
        reachability: &Reachability,
    ) -> Result<bool, StoreError> {
        let (channel, subject, r) = (channel.clone(), subject.to_owned(), reachability.clone());
        self.writer
            .call(move |c| delivery::set_reachability(c, &channel, &subject, &r))
            .await
    }

    async fn reachability(
        &self,
        channel: &ChannelId,
        subject: &str,
    ) -> Result<Option<Reachability>, StoreError> {
        let (channel, subject) = (channel.clone(), subject.to_owned());
        self.reads
            .call(move |c| delivery::reachability(c, &channel, &subject))
            .await
    }
}

#[async_trait]
impl Reporting for SqliteStore {
    async fn escalations(
        &self,
        conversation: &ConversationId,
    ) -> Result<Vec<EscalationEvent>, StoreError> {
        let conversation = conversation.clone();
        self.reads
            .call(move |c| reads::escalations(c, &conversation))
            .await
    }

    async fn conversation_activity(
        &self,
        since: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<ConversationActivity>, StoreError> {
        self.reads
            .call(move |c| reads::conversation_activity(c, since, until, limit))
            .await
    }

    async fn decision_counts(&self) -> Result<(u64, u64), StoreError> {
        self.reads.call(reads::decision_counts).await
    }

    async fn escalation_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.reads.call(reads::escalation_counts).await
    }
}

#[async_trait]
impl Routing for SqliteStore {
    async fn put_agent(
        &self,
        profile: &AgentProfile,
        now: Timestamp,
    ) -> Result<AgentRecord, StoreError> {
        let profile = profile.clone();
        self.writer
            .call(move |c| routing::put_agent(c, &profile, now))
            .await
    }

    async fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        let id = id.to_owned();
        self.reads.call(move |c| routing::agent(c, &id)).await
    }

    async fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        self.reads.call(routing::agents).await
    }

    async fn delete_agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        let id = id.to_owned();
        self.writer
            .call(move |c| routing::delete_agent(c, &id))
            .await
    }

    async fn claim_agent(
        &self,
        skill: &str,
        handoff_id: &str,
        now: Timestamp,
    ) -> Result<Option<AgentRecord>, StoreError> {
        let (skill, handoff) = (skill.to_owned(), handoff_id.to_owned());
        self.writer
            .call(move |c| routing::claim_agent(c, &skill, &handoff, now))
            .await
    }

    async fn bind_agent(
        &self,
        agent_id: &str,
        handoff_id: &str,
        now: Timestamp,
    ) -> Result<Option<AgentRecord>, StoreError> {
        let (agent, handoff) = (agent_id.to_owned(), handoff_id.to_owned());
        self.writer
            .call(move |c| routing::bind_agent(c, &agent, &handoff, now))
            .await
    }

    async fn release_agent(
        &self,
        handoff_id: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let handoff = handoff_id.to_owned();
        self.writer
            .call(move |c| routing::release_agent(c, &handoff, now))
            .await
    }

    async fn enqueue_handoff(&self, entry: &QueuedHandoff) -> Result<(), StoreError> {
        let entry = entry.clone();
        self.writer.call(move |c| routing::enqueue(c, &entry)).await
    }

    async fn dequeue_handoff(&self, handoff_id: &str) -> Result<bool, StoreError> {
        let handoff = handoff_id.to_owned();
        self.writer
            .call(move |c| routing::dequeue(c, &handoff))
            .await
    }

    async fn queued_handoffs(&self) -> Result<Vec<QueuedHandoff>, StoreError> {
        self.reads.call(routing::queued).await
    }
}

#[async_trait]
impl KeyValue for SqliteStore {
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.writer
            .call(move |c| timers::try_lease(c, &name, &holder, ttl, now))
            .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.writer
            .call(move |c| timers::release_lease(c, &name, &holder))
            .await
    }

    async fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<String>, StoreError> {
        let (namespace, key) = (namespace.to_owned(), key.to_owned());
        self.reads
            .call(move |c| reads::kv_get(c, &namespace, &key))
            .await
    }

    async fn kv_put(&self, namespace: &str, key: &str, value: &str) -> Result<(), StoreError> {
        let (namespace, key, value) = (namespace.to_owned(), key.to_owned(), value.to_owned());
        self.writer
            .call(move |c| writes::kv_put(c, &namespace, &key, &value))
            .await
    }

    async fn kv_swap(
        &self,
        namespace: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        let (namespace, key, value) = (namespace.to_owned(), key.to_owned(), value.to_owned());
        let expected = expected.map(str::to_owned);
        self.writer
            .call(move |c| writes::kv_swap(c, &namespace, &key, expected.as_deref(), &value))
            .await
    }
}
