//! [`MemoryStore`]: every record in one [`State`] behind one mutex. Each trait method
//! locks it once, does all its work on it and returns, so each method is atomic. The
//! identity graph and the erasure are in `identity`.

mod identity;

use crate::store::{
    AgentProfile, AgentRecord, AiAuditRecord, AuditEntry, ConversationActivity, ConversationRecord,
    ConversationState, ConversationStatus, Conversations, CustomerEvent, CustomerRecord,
    EscalationEvent, IdentityRecord, InboundLog, InboundRecord, KeyValue, LinkCode, MergeRecord,
    NewTimer, Notification, NotificationFeed, OutboxEntry, OutboxStatus, PendingInbound,
    QueuedHandoff, Reporting, Routing, Store, StoreError, SuggestedLink, TimerEntry, Turn,
    WorkQueue, delivery_failure_text, priority_rank,
};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tandem_model::{
    ChannelId, ConversationId, CustomerId, Delivery, DeliveryState, DeliveryStatus, DeliveryTarget,
    DeliveryUpdate, InboundMessage, MessageId, OutboxId, Party, Reachability, Timestamp,
    TranscriptEntry,
};
use tokio::sync::mpsc;

/// The longest outbox lease honoured (as the SQLite store: a year).
const MAX_OUTBOX_LEASE: Duration = Duration::from_secs(365 * 24 * 3600);
/// The longest timer claim or named lease honoured (a day).
const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);
/// The longest pacing interval honoured (an hour).
const MAX_PACING_SPAN: Duration = Duration::from_secs(3600);
/// Notifications a feed buffers; a follower further behind misses the newest ones.
const FEED_CAPACITY: usize = 4096;

/// An in-memory [`Store`] for tests (see the [module docs](crate::testing)).
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore {
            state: Mutex::new(State::default()),
        }
    }

    /// Fault injection: the next `n` calls of [`Conversations::commit_turn`] return
    /// [`StoreError::Unavailable`] and change nothing (replacing any count set before).
    pub fn fail_commits(&self, n: usize) {
        self.lock().failing_commits = n;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

/// An inbound record.
struct Inbound {
    message: InboundMessage,
    received_at: Timestamp,
    processed_at: Option<Timestamp>,
}

/// A customer and, once merged away, the customer it was merged into.
struct Customer {
    record: CustomerRecord,
    merged_into: Option<CustomerId>,
}

/// A merge as recorded; `erased` once the erasure of one of its customers removed the
/// details it needs to be undone.
struct Merge {
    record: MergeRecord,
    erased: bool,
}

/// A link code and its use.
struct LinkCodeRow {
    code: LinkCode,
    used: Option<(Timestamp, String)>,
}

/// An outbox entry and when it was finished (sent or failed): delivery watermarks read it.
struct Outbox {
    entry: OutboxEntry,
    finished_at: Option<Timestamp>,
}

impl Outbox {
    fn unfinished(&self) -> bool {
        matches!(
            self.entry.status,
            OutboxStatus::Pending | OutboxStatus::InFlight
        )
    }

    /// When a claim could take it: its next attempt (pending) or its lease's end (in flight).
    fn due_at(&self) -> Option<Timestamp> {
        match self.entry.status {
            OutboxStatus::Pending => Some(self.entry.next_attempt_at),
            OutboxStatus::InFlight => self.entry.claim_expires_at,
            OutboxStatus::Sent | OutboxStatus::Failed => None,
        }
    }

    /// Whether `claim` is its current claim.
    fn claimed_by(&self, claim: &str) -> bool {
        self.entry.status == OutboxStatus::InFlight && self.entry.claim.as_deref() == Some(claim)
    }

    fn release(&mut self, status: OutboxStatus) {
        self.entry.status = status;
        self.entry.claim = None;
        self.entry.claim_expires_at = None;
    }
}

/// A timer: `available_at` is its due time while unclaimed, its lease's end while claimed.
struct Timer {
    timer: NewTimer,
    available_at: Timestamp,
    claim: Option<String>,
    attempts: u32,
}

/// An agent: the profile and the handoffs held, oldest first.
struct Agent {
    profile: AgentProfile,
    active: Vec<String>,
    updated_at: Timestamp,
}

impl Agent {
    fn record(&self) -> AgentRecord {
        AgentRecord {
            profile: self.profile.clone(),
            active: self.active.clone(),
            updated_at: self.updated_at,
        }
    }
}

/// A shared send budget: the theoretical arrival time of the next send and a pause.
#[derive(Default)]
struct Budget {
    tat: Option<Timestamp>,
    paused_until: Option<Timestamp>,
}

/// Everything the store holds.
#[derive(Default)]
struct State {
    inbound: BTreeMap<u64, Inbound>,
    inbound_keys: HashMap<(ChannelId, String), u64>,
    last_inbound_seq: u64,
    customers: HashMap<CustomerId, Customer>,
    /// Oldest first (a customer's identities are listed in this order).
    identities: Vec<IdentityRecord>,
    events: Vec<CustomerEvent>,
    /// Oldest first.
    audit: Vec<AuditEntry>,
    merges: Vec<Merge>,
    suggestions: Vec<SuggestedLink>,
    link_codes: HashMap<String, LinkCodeRow>,
    conversations: HashMap<ConversationId, ConversationRecord>,
    transcript: HashMap<ConversationId, BTreeMap<u64, TranscriptEntry>>,
    entry_ids: HashSet<MessageId>,
    /// In insertion order.
    escalations: Vec<EscalationEvent>,
    /// In insertion order.
    ai_audit: Vec<AiAuditRecord>,
    /// By insertion order (`ord`): lanes are ordered by it.
    outbox: BTreeMap<u64, Outbox>,
    outbox_ids: HashMap<OutboxId, u64>,
    last_outbox_ord: u64,
    timers: HashMap<String, Timer>,
    reachability: HashMap<(ChannelId, String), Reachability>,
    agents: BTreeMap<String, Agent>,
    queue: HashMap<String, QueuedHandoff>,
    kv: HashMap<(String, String), String>,
    leases: HashMap<String, (String, Timestamp)>,
    pacing: HashMap<String, Budget>,
    feeds: Vec<mpsc::Sender<Notification>>,
    failing_commits: usize,
}

fn conflict(why: impl Into<String>) -> StoreError {
    StoreError::Conflict(why.into())
}

/// A fresh claim token.
fn token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// `t + span` with `span` capped at `cap` (and `t` itself should the sum overflow).
fn after(t: Timestamp, span: Duration, cap: Duration) -> Timestamp {
    time::Duration::try_from(span.min(cap))
        .ok()
        .and_then(|d| t.checked_add(d))
        .unwrap_or(t)
}

/// Whether every item is untaken and they are distinct (a unique index on them).
fn all_new<'a, T: Eq + Hash + ?Sized + 'a>(
    items: impl IntoIterator<Item = &'a T>,
    taken: impl Fn(&T) -> bool,
) -> bool {
    let mut seen = HashSet::new();
    items.into_iter().all(|i| !taken(i) && seen.insert(i))
}

/// The newest `limit` of `items` (oldest first), still oldest first.
fn newest<T>(mut items: Vec<T>, limit: usize) -> Vec<T> {
    let excess = items.len().saturating_sub(limit);
    items.drain(..excess);
    items
}

impl State {
    /// Up to `limit` unprocessed inbound records before `seq` (of one sender, if given).
    fn pending(
        &self,
        seq: u64,
        sender: Option<(&ChannelId, &str)>,
        limit: usize,
    ) -> Vec<PendingInbound> {
        self.inbound
            .range(..seq)
            .filter(|(_, r)| r.processed_at.is_none())
            .filter(|(_, r)| {
                sender.is_none_or(|(channel, subject)| {
                    r.message.channel == *channel && r.message.sender.subject == subject
                })
            })
            .take(limit)
            .map(|(seq, r)| PendingInbound {
                seq: *seq,
                message: r.message.clone(),
                received_at: r.received_at,
            })
            .collect()
    }

    fn open_conversation_of(&self, customer: &CustomerId) -> Option<&ConversationRecord> {
        self.conversations
            .values()
            .find(|c| c.customer_id == *customer && c.status == ConversationStatus::Open)
    }

    fn open_conversation(
        &mut self,
        customer: &CustomerId,
        channel: &ChannelId,
        id: Option<&ConversationId>,
        now: Timestamp,
    ) -> Result<ConversationRecord, StoreError> {
        if let Some(open) = self.open_conversation_of(customer) {
            return Ok(open.clone());
        }
        if !self.customers.contains_key(customer) {
            return Err(conflict(format!("unknown customer {customer}")));
        }
        let id = match id {
            Some(id) if !self.conversations.contains_key(id) => id.clone(),
            _ => ConversationId::generate(),
        };
        let record = ConversationRecord {
            id: id.clone(),
            customer_id: customer.clone(),
            channel: channel.clone(),
            status: ConversationStatus::Open,
            state: ConversationState::default(),
            next_seq: 0,
            version: 0,
            opened_at: now,
            updated_at: now,
        };
        self.conversations.insert(id, record.clone());
        Ok(record)
    }

    /// Checks everything a turn needs before it changes anything, then applies it all.
    fn commit_turn(&mut self, turn: Turn) -> Result<(), StoreError> {
        if self.failing_commits > 0 {
            self.failing_commits -= 1;
            return Err(StoreError::Unavailable(
                "injected failure (MemoryStore::fail_commits)".into(),
            ));
        }
        if let Some(seq) = turn.inbound_seq {
            match self.inbound.get(&seq) {
                None => return Err(conflict(format!("no inbound record with seq {seq}"))),
                Some(r) if r.processed_at.is_some() => return Err(StoreError::AlreadyProcessed),
                Some(_) => {}
            }
        }
        let conv = &turn.conversation;
        let stored = match self.conversations.get(&conv.id) {
            Some(stored) if stored.version == conv.version => stored,
            _ => {
                return Err(conflict(format!(
                    "conversation {} is not at version {} (changed concurrently, or unknown)",
                    conv.id, conv.version
                )));
            }
        };
        if conv.status == ConversationStatus::Open
            && self
                .open_conversation_of(&stored.customer_id)
                .is_some_and(|open| open.id != conv.id)
        {
            return Err(conflict("the customer has another open conversation"));
        }
        let known = |id: &ConversationId| self.conversations.contains_key(id);
        if !turn.entries.iter().all(|e| known(&e.conversation_id))
            || !turn.escalations.iter().all(|e| known(&e.conversation_id))
            || !turn
                .outbox
                .iter()
                .all(|o| known(&o.message.conversation_id))
        {
            return Err(conflict(
                "a record of the turn names an unknown conversation",
            ));
        }
        let seqs: Vec<(&ConversationId, u64)> = turn
            .entries
            .iter()
            .map(|e| (&e.conversation_id, e.seq))
            .collect();
        let seq_taken = |(c, seq): &(&ConversationId, u64)| {
            self.transcript.get(*c).is_some_and(|t| t.contains_key(seq))
        };
        if !all_new(&seqs, seq_taken) {
            return Err(conflict("a transcript (conversation, seq) exists already"));
        }
        if !all_new(turn.entries.iter().map(|e| &e.id), |id| {
            self.entry_ids.contains(id)
        }) || !all_new(turn.escalations.iter().map(|e| &e.id), |id| {
            self.escalations.iter().any(|e| e.id == *id)
        }) || !all_new(turn.outbox.iter().map(|o| &o.message.outbox_id), |id| {
            self.outbox_ids.contains_key(id)
        }) || !all_new(turn.ai_audit.iter().map(|r| r.id.as_str()), |id| {
            self.ai_audit.iter().any(|r| r.id == id)
        }) {
            return Err(conflict("a record of the turn exists already (same id)"));
        }

        let Turn {
            inbound_seq,
            conversation,
            entries,
            escalations,
            outbox,
            timers,
            ai_audit,
        } = turn;
        if let Some(r) = inbound_seq.and_then(|seq| self.inbound.get_mut(&seq)) {
            r.processed_at = Some(conversation.updated_at);
        }
        if let Some(stored) = self.conversations.get_mut(&conversation.id) {
            // Id, customer and opening time are the store's (a merge may have moved it).
            stored.channel = conversation.channel;
            stored.status = conversation.status;
            stored.state = conversation.state;
            stored.next_seq = conversation.next_seq;
            stored.updated_at = conversation.updated_at;
            stored.version += 1;
        }
        for e in entries {
            self.entry_ids.insert(e.id.clone());
            self.transcript
                .entry(e.conversation_id.clone())
                .or_default()
                .insert(e.seq, e);
        }
        self.escalations.extend(escalations);
        for o in outbox {
            self.last_outbox_ord += 1;
            let ord = self.last_outbox_ord;
            self.outbox_ids.insert(o.message.outbox_id.clone(), ord);
            let entry = OutboxEntry {
                id: o.message.outbox_id.clone(),
                status: OutboxStatus::Pending,
                attempts: 0,
                next_attempt_at: o.next_attempt_at,
                claim: None,
                claim_expires_at: None,
                last_error: None,
                platform_message_id: None,
                delivery_state: None,
                created_at: o.message.created_at,
                message: o.message,
            };
            let finished_at = None;
            self.outbox.insert(ord, Outbox { entry, finished_at });
        }
        for timer in timers {
            self.schedule_timer(timer);
        }
        self.ai_audit.extend(ai_audit);
        Ok(())
    }

    fn outbox_mut(&mut self, id: &OutboxId) -> Option<&mut Outbox> {
        let ord = self.outbox_ids.get(id)?;
        self.outbox.get_mut(ord)
    }

    /// The oldest unfinished entry of each (conversation, destination) lane, in order.
    fn outbox_heads(&self) -> impl Iterator<Item = (&u64, &Outbox)> {
        let mut lanes = HashSet::new();
        self.outbox.iter().filter(move |(_, o)| {
            o.unfinished()
                && lanes.insert((&o.entry.message.conversation_id, &o.entry.message.channel))
        })
    }

    /// Changes the entry `id` claimed under `claim` with `change`; false when the claim is
    /// not (or no longer) the entry's.
    fn with_claim(&mut self, id: &OutboxId, claim: &str, change: impl FnOnce(&mut Outbox)) -> bool {
        match self.outbox_mut(id) {
            Some(o) if o.claimed_by(claim) => {
                change(o);
                true
            }
            _ => false,
        }
    }

    fn schedule_timer(&mut self, timer: NewTimer) {
        let available_at = timer.due_at;
        let id = timer.id.clone();
        self.timers.insert(
            id,
            Timer {
                timer,
                available_at,
                claim: None,
                attempts: 0,
            },
        );
    }

    fn record_delivery_status(&mut self, update: &DeliveryUpdate) -> Vec<OutboxEntry> {
        // Which delivery states a report moves on from, and what it makes of the entry.
        let applies: fn(Option<DeliveryState>) -> bool = match &update.status {
            DeliveryStatus::Sent => return Vec::new(),
            DeliveryStatus::Delivered => |s| {
                matches!(
                    s,
                    None | Some(DeliveryState::Sent) | Some(DeliveryState::Stored)
                )
            },
            DeliveryStatus::Read => |s| s != Some(DeliveryState::Read),
            DeliveryStatus::Failed { .. } => |_| true,
        };
        if matches!(update.status, DeliveryStatus::Failed { .. })
            && matches!(update.target, DeliveryTarget::UpTo { .. })
        {
            return Vec::new(); // A failure is always about one message.
        }
        let mut changed = Vec::new();
        for o in self.outbox.values_mut() {
            let e = &o.entry;
            let targeted = match &update.target {
                DeliveryTarget::Message {
                    platform_message_id,
                } => e.platform_message_id.as_deref() == Some(platform_message_id.as_str()),
                DeliveryTarget::UpTo {
                    recipient,
                    watermark,
                } => {
                    e.message.recipient == *recipient
                        && o.finished_at.is_some_and(|at| at <= *watermark)
                }
            };
            if !(targeted
                && e.status == OutboxStatus::Sent
                && e.message.channel == update.channel
                && applies(e.delivery_state))
            {
                continue;
            }
            match &update.status {
                DeliveryStatus::Delivered => {
                    o.entry.delivery_state = Some(DeliveryState::Delivered)
                }
                DeliveryStatus::Read => o.entry.delivery_state = Some(DeliveryState::Read),
                DeliveryStatus::Failed { kind, code, reason } => {
                    o.entry.status = OutboxStatus::Failed;
                    o.entry.last_error =
                        Some(delivery_failure_text(*kind, code.as_deref(), reason));
                }
                DeliveryStatus::Sent => {}
            }
            changed.push(o.entry.clone());
        }
        changed
    }

    fn holder_of(&self, handoff: &str) -> Option<String> {
        self.agents
            .values()
            .find(|a| a.active.iter().any(|h| h == handoff))
            .map(|a| a.profile.id.clone())
    }

    /// Gives `handoff` to `agent`, taking it from whoever held it.
    fn hold(&mut self, agent: &str, handoff: &str, now: Timestamp) {
        if let Some(previous) = self.holder_of(handoff)
            && let Some(a) = self.agents.get_mut(&previous)
        {
            a.active.retain(|h| h != handoff);
            a.updated_at = now;
        }
        if let Some(a) = self.agents.get_mut(agent) {
            a.active.push(handoff.to_owned());
            a.updated_at = now;
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Every write is applied when its method returns: nothing to wait for.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl InboundLog for MemoryStore {
    async fn record_inbound(
        &self,
        msg: &InboundMessage,
        received_at: Timestamp,
    ) -> Result<InboundRecord, StoreError> {
        let mut s = self.lock();
        let key = (
            msg.channel.clone(),
            msg.platform_message_id.as_str().to_owned(),
        );
        if let Some(seq) = s.inbound_keys.get(&key) {
            return Ok(InboundRecord {
                seq: *seq,
                duplicate: true,
            });
        }
        s.last_inbound_seq += 1;
        let seq = s.last_inbound_seq;
        s.inbound_keys.insert(key, seq);
        let record = Inbound {
            message: msg.clone(),
            received_at,
            processed_at: None,
        };
        s.inbound.insert(seq, record);
        Ok(InboundRecord {
            seq,
            duplicate: false,
        })
    }

    async fn mark_inbound_processed(&self, seq: u64, now: Timestamp) -> Result<bool, StoreError> {
        Ok(match self.lock().inbound.get_mut(&seq) {
            Some(r) if r.processed_at.is_none() => {
                r.processed_at = Some(now);
                true
            }
            _ => false,
        })
    }

    async fn pending_inbound(&self, limit: usize) -> Result<Vec<PendingInbound>, StoreError> {
        Ok(self.lock().pending(u64::MAX, None, limit))
    }

    async fn pending_inbound_before(
        &self,
        channel: &ChannelId,
        subject: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<PendingInbound>, StoreError> {
        Ok(self.lock().pending(seq, Some((channel, subject)), limit))
    }
}

#[async_trait]
impl Conversations for MemoryStore {
    async fn conversations_of(
        &self,
        customer: &CustomerId,
        limit: usize,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        let s = self.lock();
        let mut found: Vec<ConversationRecord> = s
            .conversations
            .values()
            .filter(|c| c.customer_id == *customer)
            .cloned()
            .collect();
        found.sort_by_key(|c| std::cmp::Reverse((c.opened_at, c.id.clone())));
        found.truncate(limit);
        Ok(found)
    }

    async fn open_conversation(
        &self,
        customer: &CustomerId,
        channel: &ChannelId,
        now: Timestamp,
    ) -> Result<ConversationRecord, StoreError> {
        self.lock().open_conversation(customer, channel, None, now)
    }

    async fn open_conversation_as(
        &self,
        customer: &CustomerId,
        channel: &ChannelId,
        id: &ConversationId,
        now: Timestamp,
    ) -> Result<ConversationRecord, StoreError> {
        self.lock()
            .open_conversation(customer, channel, Some(id), now)
    }

    async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        Ok(self.lock().conversations.get(id).cloned())
    }

    /// Bumps the version, so that a turn planned on the open conversation conflicts
    /// instead of reopening it.
    async fn close_conversation(
        &self,
        id: &ConversationId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(match self.lock().conversations.get_mut(id) {
            Some(c) if c.status == ConversationStatus::Open => {
                c.status = ConversationStatus::Closed;
                c.updated_at = now;
                c.version += 1;
                true
            }
            _ => false,
        })
    }

    async fn transcript(
        &self,
        conversation: &ConversationId,
        limit: usize,
    ) -> Result<Vec<TranscriptEntry>, StoreError> {
        let s = self.lock();
        let all = s
            .transcript
            .get(conversation)
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default();
        Ok(newest(all, limit))
    }

    async fn commit_turn(&self, turn: Turn) -> Result<(), StoreError> {
        self.lock().commit_turn(turn)
    }

    async fn ai_audit(
        &self,
        conversation: &ConversationId,
        limit: usize,
    ) -> Result<Vec<AiAuditRecord>, StoreError> {
        let s = self.lock();
        let all = s
            .ai_audit
            .iter()
            .filter(|r| r.conversation_id == *conversation)
            .cloned()
            .collect();
        Ok(newest(all, limit))
    }
}

#[async_trait]
impl WorkQueue for MemoryStore {
    async fn claim_outbox(
        &self,
        now: Timestamp,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut s = self.lock();
        let due: Vec<u64> = s
            .outbox_heads()
            .filter(|(_, o)| o.due_at().is_some_and(|at| at <= now))
            .map(|(ord, _)| *ord)
            .take(limit)
            .collect();
        let expires = after(now, lease, MAX_OUTBOX_LEASE);
        let mut claimed = Vec::with_capacity(due.len());
        for ord in due {
            if let Some(o) = s.outbox.get_mut(&ord) {
                o.entry.status = OutboxStatus::InFlight;
                o.entry.attempts = o.entry.attempts.saturating_add(1);
                o.entry.claim = Some(token());
                o.entry.claim_expires_at = Some(expires);
                claimed.push(o.entry.clone());
            }
        }
        Ok(claimed)
    }

    async fn complete_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        delivery: &Delivery,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(self.lock().with_claim(id, claim, |o| {
            o.release(OutboxStatus::Sent);
            o.entry.platform_message_id = delivery.platform_message_id.clone();
            o.entry.delivery_state = Some(delivery.state);
            o.finished_at = Some(now);
        }))
    }

    async fn renew_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(self.lock().with_claim(id, claim, |o| {
            o.entry.claim_expires_at = Some(expires_at);
        }))
    }

    async fn retry_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.lock().with_claim(id, claim, |o| {
            o.release(OutboxStatus::Pending);
            o.entry.next_attempt_at = next_attempt_at;
            o.entry.last_error = Some(error.to_owned());
        }))
    }

    async fn fail_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        error: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(self.lock().with_claim(id, claim, |o| {
            o.release(OutboxStatus::Failed);
            o.entry.last_error = Some(error.to_owned());
            o.finished_at = Some(now);
        }))
    }

    async fn outbox_entry(&self, id: &OutboxId) -> Result<Option<OutboxEntry>, StoreError> {
        Ok(self.lock().outbox_mut(id).map(|o| o.entry.clone()))
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        let s = self.lock();
        Ok(s.outbox.values().filter(|o| o.unfinished()).count() as u64)
    }

    async fn next_outbox_due(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(self
            .lock()
            .outbox_heads()
            .filter_map(|(_, o)| o.due_at())
            .min())
    }

    async fn schedule_timer(&self, timer: &NewTimer) -> Result<(), StoreError> {
        self.lock().schedule_timer(timer.clone());
        Ok(())
    }

    async fn claim_timers(
        &self,
        now: Timestamp,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<TimerEntry>, StoreError> {
        let mut s = self.lock();
        let mut due: Vec<(Timestamp, String)> = s
            .timers
            .iter()
            .filter(|(_, t)| t.available_at <= now)
            .map(|(id, t)| (t.available_at, id.clone()))
            .collect();
        due.sort();
        let expires = after(now, lease, MAX_LEASE);
        let mut claimed = Vec::new();
        for (_, id) in due.into_iter().take(limit) {
            if let Some(t) = s.timers.get_mut(&id) {
                let claim = token();
                t.available_at = expires;
                t.claim = Some(claim.clone());
                t.attempts = t.attempts.saturating_add(1);
                claimed.push(TimerEntry {
                    id,
                    kind: t.timer.kind.clone(),
                    payload: t.timer.payload.clone(),
                    due_at: t.timer.due_at,
                    attempts: t.attempts,
                    claim,
                });
            }
        }
        Ok(claimed)
    }

    async fn finish_timer(&self, id: &str, claim: &str) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let mine = s
            .timers
            .get(id)
            .is_some_and(|t| t.claim.as_deref() == Some(claim));
        if mine {
            s.timers.remove(id);
        }
        Ok(mine)
    }

    async fn next_timer_due(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.lock().timers.values().map(|t| t.available_at).min())
    }

    async fn record_delivery_status(
        &self,
        update: &DeliveryUpdate,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        Ok(self.lock().record_delivery_status(update))
    }

    async fn set_reachability(
        &self,
        channel: &ChannelId,
        subject: &str,
        reachability: &Reachability,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let key = (channel.clone(), subject.to_owned());
        if s.reachability
            .get(&key)
            .is_some_and(|stored| stored.at > reachability.at)
        {
            return Ok(false);
        }
        s.reachability.insert(key, reachability.clone());
        Ok(true)
    }

    async fn reachability(
        &self,
        channel: &ChannelId,
        subject: &str,
    ) -> Result<Option<Reachability>, StoreError> {
        let key = (channel.clone(), subject.to_owned());
        Ok(self.lock().reachability.get(&key).cloned())
    }
}

#[async_trait]
impl Reporting for MemoryStore {
    async fn escalations(
        &self,
        conversation: &ConversationId,
    ) -> Result<Vec<EscalationEvent>, StoreError> {
        let s = self.lock();
        let mut found: Vec<EscalationEvent> = s
            .escalations
            .iter()
            .filter(|e| e.conversation_id == *conversation)
            .cloned()
            .collect();
        found.sort_by_key(|e| e.at); // stable: insertion order within one instant
        Ok(found)
    }

    async fn conversation_activity(
        &self,
        since: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<ConversationActivity>, StoreError> {
        let s = self.lock();
        let mut found: Vec<&ConversationRecord> = s
            .conversations
            .values()
            .filter(|c| c.updated_at >= since && c.opened_at < until)
            .collect();
        found.sort_by_key(|c| (c.updated_at, c.id.clone()));
        Ok(found
            .into_iter()
            .take(limit)
            .map(|c| ConversationActivity {
                conversation: c.clone(),
                agent_replies: s
                    .transcript
                    .get(&c.id)
                    .into_iter()
                    .flat_map(|t| t.values())
                    .filter(|e| e.from == Party::Agent)
                    .map(|e| e.at)
                    .collect(),
            })
            .collect())
    }

    async fn decision_counts(&self) -> Result<(u64, u64), StoreError> {
        let s = self.lock();
        let escalating = s.escalations.iter().filter(|e| e.escalate).count() as u64;
        Ok((escalating, s.escalations.len() as u64 - escalating))
    }

    async fn escalation_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for label in self
            .lock()
            .escalations
            .iter()
            .flat_map(|e| e.count_labels())
        {
            *counts.entry(label).or_default() += 1;
        }
        Ok(counts.into_iter().collect())
    }
}

#[async_trait]
impl Routing for MemoryStore {
    async fn put_agent(
        &self,
        profile: &AgentProfile,
        now: Timestamp,
    ) -> Result<AgentRecord, StoreError> {
        let mut s = self.lock();
        let agent = s.agents.entry(profile.id.clone()).or_insert_with(|| Agent {
            profile: profile.clone(),
            active: Vec::new(),
            updated_at: now,
        });
        agent.profile = profile.clone();
        agent.updated_at = now;
        Ok(agent.record())
    }

    async fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        Ok(self.lock().agents.get(id).map(Agent::record))
    }

    async fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        Ok(self.lock().agents.values().map(Agent::record).collect())
    }

    async fn delete_agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        Ok(self.lock().agents.remove(id).map(|a| a.record()))
    }

    async fn claim_agent(
        &self,
        skill: &str,
        handoff_id: &str,
        now: Timestamp,
    ) -> Result<Option<AgentRecord>, StoreError> {
        let mut s = self.lock();
        if let Some(holder) = s.holder_of(handoff_id) {
            return Ok(s.agents.get(&holder).map(Agent::record));
        }
        let chosen = s
            .agents
            .values()
            .filter(|a| a.record().can_take(skill))
            .min_by(|a, b| (a.active.len(), &a.profile.id).cmp(&(b.active.len(), &b.profile.id)))
            .map(|a| a.profile.id.clone());
        let Some(chosen) = chosen else {
            return Ok(None);
        };
        s.hold(&chosen, handoff_id, now);
        Ok(s.agents.get(&chosen).map(Agent::record))
    }

    async fn bind_agent(
        &self,
        agent_id: &str,
        handoff_id: &str,
        now: Timestamp,
    ) -> Result<Option<AgentRecord>, StoreError> {
        let mut s = self.lock();
        if !s.agents.contains_key(agent_id) {
            return Ok(None);
        }
        if s.holder_of(handoff_id).as_deref() != Some(agent_id) {
            s.hold(agent_id, handoff_id, now);
        }
        Ok(s.agents.get(agent_id).map(Agent::record))
    }

    async fn release_agent(
        &self,
        handoff_id: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let mut s = self.lock();
        let holder = s.holder_of(handoff_id);
        if let Some(a) = holder.as_ref().and_then(|h| s.agents.get_mut(h)) {
            a.active.retain(|h| h != handoff_id);
            a.updated_at = now;
        }
        Ok(holder)
    }

    async fn enqueue_handoff(&self, entry: &QueuedHandoff) -> Result<(), StoreError> {
        self.lock()
            .queue
            .entry(entry.handoff_id.clone())
            .or_insert_with(|| entry.clone());
        Ok(())
    }

    async fn dequeue_handoff(&self, handoff_id: &str) -> Result<bool, StoreError> {
        Ok(self.lock().queue.remove(handoff_id).is_some())
    }

    async fn queued_handoffs(&self) -> Result<Vec<QueuedHandoff>, StoreError> {
        let mut queued: Vec<QueuedHandoff> = self.lock().queue.values().cloned().collect();
        queued.sort_by_key(|q| {
            (
                priority_rank(&q.priority),
                q.queued_at,
                q.handoff_id.clone(),
            )
        });
        Ok(queued)
    }
}

#[async_trait]
impl KeyValue for MemoryStore {
    async fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<String>, StoreError> {
        let key = (namespace.to_owned(), key.to_owned());
        Ok(self.lock().kv.get(&key).cloned())
    }

    async fn kv_put(&self, namespace: &str, key: &str, value: &str) -> Result<(), StoreError> {
        let key = (namespace.to_owned(), key.to_owned());
        self.lock().kv.insert(key, value.to_owned());
        Ok(())
    }

    async fn kv_swap(
        &self,
        namespace: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let key = (namespace.to_owned(), key.to_owned());
        if s.kv.get(&key).map(String::as_str) != expected {
            return Ok(false);
        }
        s.kv.insert(key, value.to_owned());
        Ok(true)
    }

    /// Hands the notification to every live feed; a feed whose buffer is full (its
    /// follower fell far behind) misses it, one whose receiver was dropped is forgotten.
    async fn publish_notification(&self, notification: &Notification) -> Result<(), StoreError> {
        self.lock().feeds.retain(|feed| {
            !matches!(
                feed.try_send(notification.clone()),
                Err(mpsc::error::TrySendError::Closed(_))
            )
        });
        Ok(())
    }

    async fn notification_feed(&self) -> Result<Option<NotificationFeed>, StoreError> {
        let (tx, rx) = mpsc::channel(FEED_CAPACITY);
        self.lock().feeds.push(tx);
        Ok(Some(rx))
    }

    /// A generic cell rate as the MongoDB store keeps it: `tat = max(tat, now) +
    /// interval`; the slot starts one interval before the new `tat`, `burst` slots ahead.
    async fn reserve_pacing(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
        now: Timestamp,
    ) -> Result<Option<Duration>, StoreError> {
        let mut s = self.lock();
        let budget = s.pacing.entry(key.to_owned()).or_default();
        let interval = interval.min(MAX_PACING_SPAN);
        let tat = after(
            budget.tat.unwrap_or(now).max(now),
            interval,
            MAX_PACING_SPAN,
        );
        budget.tat = Some(tat);
        let ahead = interval.saturating_mul(burst.max(1) - 1);
        let allowed_at = time::Duration::try_from(interval.saturating_add(ahead))
            .ok()
            .and_then(|back| tat.checked_sub(back))
            .unwrap_or(now);
        let until = allowed_at.max(budget.paused_until.unwrap_or(now));
        Ok(Some(Duration::try_from(until - now).unwrap_or_default()))
    }

    async fn pause_pacing(&self, key: &str, until: Timestamp) -> Result<(), StoreError> {
        let mut s = self.lock();
        let budget = s.pacing.entry(key.to_owned()).or_default();
        budget.paused_until = Some(budget.paused_until.map_or(until, |p| p.max(until)));
        Ok(())
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let free = s
            .leases
            .get(name)
            .is_none_or(|(h, expires)| h == holder || *expires <= now);
        if free {
            let expires = after(now, ttl, MAX_LEASE);
            s.leases
                .insert(name.to_owned(), (holder.to_owned(), expires));
        }
        Ok(free)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let mine = s.leases.get(name).is_some_and(|(h, _)| h == holder);
        if mine {
            s.leases.remove(name);
        }
        Ok(mine)
    }
}
