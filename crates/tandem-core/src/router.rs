//! The router: receives inbound messages from adapters, records them durably, and
//! processes each one in order per sender on a sharded set of workers.
//!
//! Pipeline per message: inbound log (dedupe) → link code → customer (and suggested links
//! from unverified claims, see [`crate::claims`]) → conversation → transcript →
//! escalation hook → bot hook → outbox, the last four committed as one atomic turn
//! (see [`crate::turn`]). The outbox dispatcher ([`crate::outbox`]) then delivers.

use crate::ai::{Bot, IntentClassifier, SentimentAnalyzer, Summarizer};
use crate::clock::Clock;
use crate::config::{DraftsConfig, OutboxConfig, SlaConfig};
use crate::engine::Command;
use crate::metrics::Metrics;
use crate::policy::EscalationPolicy;
use crate::store::{DynStore, PendingInbound, StoreError, Turn};
use async_trait::async_trait;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tandem_model::{
    ChannelId, DeliveryUpdate, ExternalIdentity, InboundMessage, Party, Reachability, Timestamp,
    TranscriptEntry,
};
use tandem_sdk::{
    Accepted, ChannelAdapter, Found, Greeting, InboundError, InboundHandler, Preview, Session,
};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, warn};

/// Tunables of the router.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Number of processing workers; messages of one sender always go to the same one.
    pub shards: usize,
    /// Transcript entries replayed on resume.
    pub history_limit: usize,
    /// Outbox behaviour.
    pub outbox: OutboxConfig,
    /// A conversation the bot owns that is quiet this long is closed by the next message,
    /// which starts a new one.
    pub conversation_timeout: time::Duration,
    /// Handoff SLAs and what a breach does.
    pub sla: SlaConfig,
    /// How long an issued link code stays redeemable.
    pub link_code_ttl: time::Duration,
    /// Agent ids allowed to act on any handoff (take over, reply, transfer) whoever owns
    /// it; every other agent acts only on handoffs they own or that nobody owns yet.
    pub supervisors: Vec<String>,
    /// A conversation a person answers outside Tandem (owner `external`) goes back to
    /// the bot when that person has been quiet this long.
    pub external_release_after: time::Duration,
    /// Customer messages per sender and channel; over it, [`InboundHandler::accept`]
    /// answers "unavailable" (the platform delivers again later). `None`: no limit.
    pub sender_rate_limit: Option<tandem_sdk::limit::RateLimit>,
    /// Draft-only mode: where bot answers wait for an agent's approval, and whether
    /// agents get suggestions (see `drafts`).
    pub drafts: DraftsConfig,
    /// AI audit records keep the texts sent to AI backends and their answers (true), or
    /// only their SHA-256 (false): `[ai] store_prompts`.
    pub store_prompts: bool,
    /// Signs the links under which desks see customers' media (`[media]`); `None`: desks
    /// see the media's kind and caption only.
    pub media_links: Option<tandem_sdk::media::MediaLinks>,
}

/// The default of [`CoreConfig::external_release_after`]: one hour.
pub const DEFAULT_EXTERNAL_RELEASE_AFTER: time::Duration = time::Duration::hours(1);

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            shards: 8,
            history_limit: 50,
            outbox: OutboxConfig::default(),
            conversation_timeout: time::Duration::hours(24),
            sla: SlaConfig::default(),
            link_code_ttl: crate::config::CODE_TTL,
            supervisors: Vec::new(),
            external_release_after: DEFAULT_EXTERNAL_RELEASE_AFTER,
            sender_rate_limit: Some(DEFAULT_SENDER_RATE_LIMIT),
            drafts: DraftsConfig::default(),
            store_prompts: true,
            media_links: None,
        }
    }
}

/// The default [`CoreConfig::sender_rate_limit`]: far above what a person types, far
/// below a flood.
pub const DEFAULT_SENDER_RATE_LIMIT: tandem_sdk::limit::RateLimit =
    tandem_sdk::limit::RateLimit::new(20, 100);

/// The pluggable parts of the core.
pub struct CoreDeps {
    /// Durable state.
    pub store: DynStore,
    /// The bot.
    pub bot: Arc<dyn Bot>,
    /// The sentiment analyzer.
    pub sentiment: Arc<dyn SentimentAnalyzer>,
    /// The intent classifier the policy decides with (`None`: the bot's intent only).
    pub intents: Option<Arc<dyn IntentClassifier>>,
    /// The escalation policy.
    pub policy: Arc<dyn EscalationPolicy>,
    /// Writes handoff briefings.
    pub summarizer: Arc<dyn Summarizer>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

/// The running core. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) store: DynStore,
    pub(crate) bot: Arc<dyn Bot>,
    pub(crate) sentiment: Arc<dyn SentimentAnalyzer>,
    pub(crate) intents: Option<Arc<dyn IntentClassifier>>,
    /// The policy in force; replaced as a whole on reload.
    pub(crate) policy: RwLock<Arc<dyn EscalationPolicy>>,
    pub(crate) summarizer: Arc<dyn Summarizer>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) config: CoreConfig,
    pub(crate) channels: RwLock<HashMap<ChannelId, Arc<dyn ChannelAdapter>>>,
    /// Desk instances and the queues (targets) each serves; empty serves every queue.
    pub(crate) desks: RwLock<std::collections::BTreeMap<String, Vec<String>>>,
    pub(crate) outbox_wakeup: Notify,
    /// Wakes the timer worker when a timer is scheduled (see `timers`).
    pub(crate) timer_wakeup: Notify,
    /// Send pacing per channel (see [`crate::pacing`]).
    pub(crate) pacer: crate::pacing::Pacer,
    /// Serializes queue dispatch within this process (see [`crate::routing`]).
    pub(crate) dispatch_lock: tokio::sync::Mutex<()>,
    /// Serializes proactive sends with an idempotency key (see [`crate::messages`]).
    pub(crate) proactive_lock: tokio::sync::Mutex<()>,
    /// Serializes sign-in link redemptions (see [`crate::accounts`]).
    pub(crate) sign_in_lock: tokio::sync::Mutex<()>,
    /// Desk instances by id, told how agents' replies fare (see [`crate::desks`]).
    pub(crate) desk_handles: RwLock<HashMap<String, Arc<dyn tandem_sdk::AgentDesk>>>,
    /// Where uploads are kept (see [`crate::media`]).
    pub(crate) media_files: std::sync::OnceLock<Arc<dyn tandem_sdk::media::MediaFiles>>,
    shards: Vec<mpsc::Sender<PendingInbound>>,
    /// Inbound records queued for a shard worker or being processed, by seq. The recovery
    /// sweep does not queue one of them again: under a backlog older than its threshold it
    /// would otherwise queue every waiting record each time it runs, and the workers would
    /// make each turn many times over (each copy but the first ending `AlreadyProcessed`).
    queued: std::sync::Mutex<std::collections::HashSet<u64>>,
    /// Senders ([`sender_hash`]) a message of whom failed to process here and may still
    /// wait in the inbound log: their next message catches up first, so a failed turn
    /// is not overtaken by a later one (the recovery sweep alone would answer it late,
    /// after the later messages). A hash collision only costs another sender one
    /// catch-up query.
    behind: std::sync::Mutex<std::collections::HashSet<u64>>,
    receivers: std::sync::Mutex<Vec<mpsc::Receiver<PendingInbound>>>,
    /// Token buckets per (channel, sender), from [`CoreConfig::sender_rate_limit`].
    sender_limits: Option<tandem_sdk::limit::KeyedLimiter<(ChannelId, String)>>,
    /// Live updates shared with other processes (see `shared`).
    pub(crate) shared: crate::sharing::Shared,
}

impl Core {
    /// Builds the core. Nothing runs until [`Core::run`].
    pub fn new(deps: CoreDeps, config: CoreConfig) -> Self {
        let shards = config.shards.max(1);
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..shards).map(|_| mpsc::channel(1024)).unzip();
        let sender_limits = config
            .sender_rate_limit
            .map(tandem_sdk::limit::KeyedLimiter::new);
        let core = Self {
            inner: Arc::new(Inner {
                sender_limits,
                store: deps.store,
                bot: deps.bot,
                sentiment: deps.sentiment,
                intents: deps.intents,
                policy: RwLock::new(deps.policy),
                summarizer: deps.summarizer,
                clock: deps.clock,
                metrics: deps.metrics,
                config,
                channels: RwLock::new(HashMap::new()),
                desks: RwLock::new(std::collections::BTreeMap::new()),
                outbox_wakeup: Notify::new(),
                timer_wakeup: Notify::new(),
                pacer: crate::pacing::Pacer::new(),
                dispatch_lock: tokio::sync::Mutex::new(()),
                proactive_lock: tokio::sync::Mutex::new(()),
                sign_in_lock: tokio::sync::Mutex::new(()),
                desk_handles: RwLock::new(HashMap::new()),
                media_files: std::sync::OnceLock::new(),
                shards: senders,
                queued: std::sync::Mutex::new(std::collections::HashSet::new()),
                behind: std::sync::Mutex::new(std::collections::HashSet::new()),
                receivers: std::sync::Mutex::new(receivers),
                shared: crate::sharing::Shared::new(),
            }),
        };
        core.register_policy_metrics(core.policy().as_ref());
        core
    }

    /// Registers a built channel so that the outbox can deliver through it.
    pub fn register_channel(&self, id: ChannelId, adapter: Arc<dyn ChannelAdapter>) {
        // Customer channels' series start at zero; a desk's pseudo-channel has no
        // customer messages to count.
        if crate::handoff::desk_of(&id).is_none() {
            self.inner.metrics.register_channel(id.as_str());
        }
        self.inner
            .channels
            .write()
            .expect("channel registry lock poisoned")
            .insert(id, adapter);
    }

    /// The escalation policy in force.
    pub fn policy(&self) -> Arc<dyn EscalationPolicy> {
        self.inner
            .policy
            .read()
            .expect("policy lock poisoned")
            .clone()
    }

    /// Replaces the escalation policy (reload). Messages already being processed finish
    /// with the policy they started with.
    pub fn set_policy(&self, policy: Arc<dyn EscalationPolicy>) {
        self.register_policy_metrics(policy.as_ref());
        *self.inner.policy.write().expect("policy lock poisoned") = policy;
    }

    fn register_policy_metrics(&self, policy: &dyn EscalationPolicy) {
        let names = policy.category_names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.inner.metrics.register_policy(&names);
    }

    /// The store.
    pub fn store(&self) -> &DynStore {
        &self.inner.store
    }

    /// The current time by the core's clock.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Runs the processing workers, the recovery sweep and the outbox dispatcher until
    /// `shutdown` is cancelled, then drains: in-flight processing and sends finish.
    pub async fn run(&self, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        let receivers = std::mem::take(
            &mut *self
                .inner
                .receivers
                .lock()
                .expect("receivers lock poisoned"),
        );
        for rx in receivers {
            let core = self.clone();
            let stop = shutdown.clone();
            tracker.spawn(async move { core.shard_worker(rx, stop).await });
        }
        {
            let core = self.clone();
            let stop = shutdown.clone();
            tracker.spawn(async move { core.recovery_sweep(stop).await });
        }
        {
            let core = self.clone();
            let stop = shutdown.clone();
            tracker.spawn(async move { core.run_dispatcher(stop).await });
        }
        {
            let core = self.clone();
            let stop = shutdown.clone();
            tracker.spawn(async move { core.run_timers(stop).await });
        }
        {
            // Handoffs waiting for an agent across a restart get their SLA timers back.
            let core = self.clone();
            tracker.spawn(async move {
                match core.resume_sla_timers().await {
                    Ok(n) => debug!(handoffs = n, "SLA timers resumed."),
                    Err(error) => warn!(%error, "Resuming SLA timers failed."),
                }
            });
        }
        tracker.close();
        tracker.wait().await;
    }

    async fn shard_worker(&self, mut rx: mpsc::Receiver<PendingInbound>, stop: CancellationToken) {
        loop {
            let next = tokio::select! {
                biased;
                item = rx.recv() => item,
                () = stop.cancelled() => None,
            };
            let Some(pending) = next else { break };
            self.process_queued(pending).await;
        }
        // Drain what was already queued: those messages were acknowledged to platforms.
        while let Ok(pending) = rx.try_recv() {
            self.process_queued(pending).await;
        }
    }

    async fn process_queued(&self, pending: PendingInbound) {
        let seq = pending.seq;
        self.process_logged(pending).await;
        self.queued().remove(&seq);
    }

    fn behind(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<u64>> {
        self.inner.behind.lock().expect("behind lock poisoned")
    }

    fn queued(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<u64>> {
        self.inner.queued.lock().expect("queued lock poisoned")
    }

    async fn process_logged(&self, pending: PendingInbound) {
        let span = tracing::debug_span!(
            "inbound",
            channel.id = %pending.message.channel,
            message.platform_id = %pending.message.platform_message_id,
            inbound.seq = pending.seq,
        );
        let sender = sender_hash(&pending.message.sender);
        if let Err(error) = self.process(pending).instrument(span).await {
            self.behind().insert(sender);
            self.inner.metrics.processing_error();
            warn!(%error, "Processing an inbound message failed; it stays pending and will be retried.");
        }
    }

    /// Re-dispatches inbound records that were recorded but not processed: at start-up
    /// (a crash between the durable write and the commit) and periodically after a
    /// processing failure.
    async fn recovery_sweep(&self, stop: CancellationToken) {
        let mut first = true;
        loop {
            match self.inner.store.pending_inbound(1000).await {
                Ok(pending) => {
                    let now = self.inner.clock.now();
                    for p in pending {
                        // Fresh records are already queued by `accept`; only old ones are stuck.
                        if first || now - p.received_at > time::Duration::seconds(10) {
                            self.dispatch(p).await;
                        }
                    }
                }
                Err(error) => warn!(%error, "Reading pending inbound messages failed."),
            }
            first = false;
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(5)) => {}
                () = stop.cancelled() => break,
            }
        }
    }

    async fn dispatch(&self, pending: PendingInbound) {
        let seq = pending.seq;
        if !self.queued().insert(seq) {
            // Already queued, or being processed.
            return;
        }
        // Until the record is in the queue, a drop of this future (a webhook whose client
        // gave up while the queue was full) or a closed queue takes the mark back, so the
        // sweep queues the record later.
        struct Unmark<'a>(&'a Core, u64);
        impl Drop for Unmark<'_> {
            fn drop(&mut self) {
                self.0.queued().remove(&self.1);
            }
        }
        let unmark = Unmark(self, seq);
        let shard = shard_of(&pending.message.sender, self.inner.shards.len());
        // The receiver lives as long as the worker; after shutdown the record stays
        // pending and is picked up at the next start.
        if self.inner.shards[shard].send(pending).await.is_ok() {
            std::mem::forget(unmark);
        }
    }

    async fn process(&self, pending: PendingInbound) -> Result<(), StoreError> {
        if crate::handoff::desk_of(&pending.message.channel).is_some() {
            return self.execute(Command::DeskEvent(pending)).await.map(drop);
        }
        // Order per sender across processes: within a process the sender's shard keeps
        // it, but another process may have accepted an earlier message of this sender
        // that is still unprocessed (its process is slow, or died after the durable
        // write). Process those first, oldest first; a turn another process commits
        // meanwhile makes ours `AlreadyProcessed`, which changes nothing. A single
        // process does the same for a sender whose earlier message failed here.
        let sender = sender_hash(&pending.message.sender);
        let behind = self.behind().contains(&sender);
        if self.inner.shared.is_following() || behind {
            // The sender's waiting records up to this one, oldest first.
            let waiting = self
                .inner
                .store
                .pending_inbound_before(
                    &pending.message.channel,
                    &pending.message.sender.subject,
                    pending.seq + 1,
                    CATCH_UP_LIMIT,
                )
                .await?;
            if waiting.len() < CATCH_UP_LIMIT && !waiting.iter().any(|r| r.seq == pending.seq) {
                // Processed meanwhile (by another process, or here as an earlier record of
                // a later message): making the turn again would only end `AlreadyProcessed`.
                debug!("Inbound message already processed.");
                return Ok(());
            }
            for record in waiting.into_iter().filter(|r| r.seq < pending.seq) {
                self.execute(Command::CustomerMessage(record)).await?;
            }
        }
        self.execute(Command::CustomerMessage(pending))
            .await
            .map(drop)
    }

    /// The adapter registered for `channel` (to fetch a customer's media from its
    /// platform, say).
    pub fn channel_adapter(&self, channel: &ChannelId) -> Option<Arc<dyn ChannelAdapter>> {
        self.adapter(channel)
    }

    pub(crate) fn adapter(&self, channel: &ChannelId) -> Option<Arc<dyn ChannelAdapter>> {
        self.inner
            .channels
            .read()
            .expect("channel registry lock poisoned")
            .get(channel)
            .cloned()
    }
}

/// The handoff a planned conversation opened (one it did not have before), if any.
pub(crate) fn opened_handoff(
    before: Option<&str>,
    next: &crate::store::ConversationRecord,
) -> Option<crate::store::HandoffState> {
    next.state
        .handoff
        .as_ref()
        .filter(|h| Some(h.id.as_str()) != before)
        .cloned()
}

/// How many of a sender's waiting records a worker looks at before processing one of them
/// (see [`Core::process`]).
const CATCH_UP_LIMIT: usize = 100;

fn shard_of(sender: &ExternalIdentity, shards: usize) -> usize {
    (sender_hash(sender) % shards as u64) as usize
}

/// A sender's (channel, subject) as a number: its shard, and its place in `behind`.
fn sender_hash(sender: &ExternalIdentity) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    sender.channel.hash(&mut h);
    sender.subject.hash(&mut h);
    h.finish()
}

fn unavailable(e: StoreError) -> InboundError {
    InboundError::Unavailable(e.to_string())
}

#[async_trait]
impl InboundHandler for Core {
    async fn upload(
        &self,
        channel: &ChannelId,
        sender: &ExternalIdentity,
        file: tandem_sdk::media::FetchedMedia,
    ) -> Result<String, InboundError> {
        self.upload_from_customer(channel, sender, file).await
    }

    async fn accept(&self, msg: InboundMessage) -> Result<Accepted, InboundError> {
        if msg.platform_message_id.as_str().is_empty() || msg.sender.subject.is_empty() {
            return Err(InboundError::Rejected(
                "platform message id and sender are required".into(),
            ));
        }
        if let Some(limits) = &self.inner.sender_limits
            && !limits.check(&(msg.channel.clone(), msg.sender.subject.clone()))
        {
            static LIMITED: tandem_sdk::telemetry::Throttle =
                tandem_sdk::telemetry::Throttle::new(Duration::from_secs(10));
            self.inner
                .metrics
                .rate_limited(msg.channel.as_str(), "sender");
            if let Some(suppressed) = LIMITED.check() {
                warn!(channel.id = %msg.channel, suppressed, "A sender is over the rate limit; its messages are refused for now.");
            }
            return Err(InboundError::Unavailable(
                "rate limited: too many messages from this sender; deliver again later".into(),
            ));
        }
        let received_at = self.inner.clock.now();
        let record = self
            .inner
            .store
            .record_inbound(&msg, received_at)
            .await
            .map_err(unavailable)?;
        if record.duplicate {
            self.inner.metrics.duplicate(msg.channel.as_str());
            debug!(channel.id = %msg.channel, "Duplicate inbound message ignored.");
            return Ok(Accepted { duplicate: true });
        }
        if crate::handoff::desk_of(&msg.channel).is_none() {
            // Agents' actions share the inbound log; only customers' messages count here.
            self.inner.metrics.message_in(msg.channel.as_str());
        }
        self.dispatch(PendingInbound {
            seq: record.seq,
            message: msg,
            received_at,
        })
        .await;
        Ok(Accepted { duplicate: false })
    }

    async fn resume(
        &self,
        identity: ExternalIdentity,
        history_limit: usize,
    ) -> Result<Session, InboundError> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        // An identity seen for the first time gets the ids `find` announced for it.
        let first = store
            .customer_by_identity(&identity.channel, &identity.subject)
            .await
            .map_err(unavailable)?
            .is_none()
            .then(|| FirstIds::of(&identity));
        let customer = store
            .resolve_customer(&identity, now)
            .await
            .map_err(unavailable)?;
        let mut conversation = match &first {
            Some(ids) => {
                store
                    .open_conversation_as(&customer.id, &identity.channel, &ids.conversation, now)
                    .await
            }
            None => {
                store
                    .open_conversation(&customer.id, &identity.channel, now)
                    .await
            }
        }
        .map_err(unavailable)?;
        if conversation.next_seq == 0 {
            // A brand-new conversation: the greeting is part of the history the channel
            // replays, so it needs no outbox entry.
            if let Some(greeting) = self.inner.bot.greeting() {
                let mut next = conversation.clone();
                next.next_seq = 1;
                next.updated_at = now;
                let id = match &first {
                    Some(ids) if ids.conversation == conversation.id => ids.greeting.clone(),
                    _ => tandem_model::MessageId::generate(),
                };
                let entry = TranscriptEntry {
                    id,
                    conversation_id: conversation.id.clone(),
                    customer_id: customer.id.clone(),
                    seq: 0,
                    from: Party::Bot,
                    channel: identity.channel.clone(),
                    at: now,
                    content: tandem_model::Content::Text { text: greeting },
                    buttons: Vec::new(),
                    platform_message_id: None,
                };
                let turn = Turn {
                    entries: vec![entry],
                    ..Turn::of(next)
                };
                match store.commit_turn(turn).await {
                    // Someone else wrote first: their history stands.
                    Ok(()) | Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(unavailable(e)),
                }
                conversation.next_seq = 1;
            }
        }
        let history = store
            .transcript(&conversation.id, history_limit)
            .await
            .map_err(unavailable)?;
        Ok(Session {
            customer_id: customer.id,
            conversation_id: conversation.id,
            history,
        })
    }

    async fn find(
        &self,
        identity: ExternalIdentity,
        history_limit: usize,
    ) -> Result<Found, InboundError> {
        let known = self
            .inner
            .store
            .customer_by_identity(&identity.channel, &identity.subject)
            .await
            .map_err(unavailable)?;
        if known.is_some() {
            return self
                .resume(identity, history_limit)
                .await
                .map(Found::Session);
        }
        let ids = FirstIds::of(&identity);
        Ok(Found::New(Preview {
            conversation_id: ids.conversation,
            greeting: self.inner.bot.greeting().map(|text| Greeting {
                id: ids.greeting,
                text,
            }),
        }))
    }

    fn rate_limited(&self, channel: &ChannelId, scope: &str) {
        self.inner.metrics.rate_limited(channel.as_str(), scope);
    }

    async fn kv_get(&self, channel: &ChannelId, key: &str) -> Result<Option<String>, InboundError> {
        self.inner
            .store
            .kv_get(channel.as_str(), key)
            .await
            .map_err(unavailable)
    }

    async fn kv_put(
        &self,
        channel: &ChannelId,
        key: &str,
        value: &str,
    ) -> Result<(), InboundError> {
        self.inner
            .store
            .kv_put(channel.as_str(), key, value)
            .await
            .map_err(unavailable)
    }

    async fn share(&self, topic: &str, payload: &str) -> Result<(), InboundError> {
        Core::share(self, topic, payload).await
    }

    fn shared_updates(&self, topic: &str) -> Option<futures::stream::BoxStream<'static, String>> {
        Core::shared_updates(self, topic)
    }

    async fn try_lease(&self, name: &str, ttl: Duration) -> Result<bool, InboundError> {
        // A store one process holds (no notification feed): that process holds every
        // lease, also right after a restart that followed a crash.
        if !self.inner.shared.is_following() {
            return Ok(true);
        }
        self.inner
            .store
            .try_lease(name, &self.inner.shared.origin, ttl, self.inner.clock.now())
            .await
            .map_err(unavailable)
    }

    async fn release_lease(&self, name: &str) -> Result<(), InboundError> {
        if !self.inner.shared.is_following() {
            return Ok(());
        }
        self.inner
            .store
            .release_lease(name, &self.inner.shared.origin)
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn delivery_status(&self, update: DeliveryUpdate) -> Result<(), InboundError> {
        self.execute(Command::DeliveryReport(update))
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn reachability(
        &self,
        channel: &ChannelId,
        subject: &str,
        reachability: Reachability,
    ) -> Result<(), InboundError> {
        self.mark_reachability(channel, subject, reachability)
            .await
            .map_err(unavailable)
    }
}

/// The ids of an identity's first conversation and its greeting, fixed in advance so that
/// `find` can announce them before `resume` creates them: derived from the channel and
/// subject (an anonymous subject is random; a verified one is created once).
struct FirstIds {
    conversation: tandem_model::ConversationId,
    greeting: tandem_model::MessageId,
}

impl FirstIds {
    fn of(identity: &ExternalIdentity) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(identity.channel.as_str())
            .chain_update([0])
            .chain_update(&identity.subject)
            .finalize();
        let hex = hex::encode(&digest[..16]);
        Self {
            conversation: tandem_model::ConversationId::new(format!("conv_{hex}")),
            greeting: tandem_model::MessageId::new(format!("msg_{hex}")),
        }
    }
}
