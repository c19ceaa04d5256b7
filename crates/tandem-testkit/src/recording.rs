//! [`RecordingInbound`]: an [`InboundHandler`] that records what an adapter hands over,
//! for adapter tests without the core. It deduplicates like the core (on channel +
//! platform message id), can be told to fail (to check that adapters answer 5xx when
//! nothing was recorded), and can hold every `accept` until released (to check that an
//! adapter acknowledges only after the durable write).

use async_trait::async_trait;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tandem_model::{
    ChannelId, ConversationId, CustomerId, DeliveryUpdate, ExternalIdentity, InboundMessage,
    Reachability,
};
use tandem_sdk::{Accepted, InboundError, InboundHandler, InboundSink, Session};
use tokio::sync::Semaphore;

/// One reachability report as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachabilityReport {
    /// The channel.
    pub channel: ChannelId,
    /// The customer's subject on it.
    pub subject: String,
    /// The report.
    pub reachability: Reachability,
}

#[derive(Default)]
struct State {
    accepted: Vec<InboundMessage>,
    seen: HashSet<(ChannelId, String)>,
    duplicates: usize,
    deliveries: Vec<DeliveryUpdate>,
    reachability: Vec<ReachabilityReport>,
    kv: BTreeMap<(ChannelId, String), String>,
}

/// A recording, deduplicating inbound handler. Cheap to clone; clones share records.
#[derive(Clone, Default)]
pub struct RecordingInbound {
    state: Arc<Mutex<State>>,
    failing: Arc<AtomicBool>,
    gate: Option<Arc<Semaphore>>,
}

impl std::fmt::Debug for RecordingInbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingInbound")
            .field("accepted", &self.accepted().len())
            .finish_non_exhaustive()
    }
}

impl RecordingInbound {
    /// A handler that records everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// A handler whose every write fails with [`InboundError::Unavailable`] (a store
    /// outage) until [`RecordingInbound::set_failing`]`(false)`.
    pub fn failing() -> Self {
        let h = Self::default();
        h.set_failing(true);
        h
    }

    /// A handler whose `accept` waits until [`RecordingInbound::release`] is called once
    /// per message (a slow durable write).
    pub fn gated() -> Self {
        Self {
            gate: Some(Arc::new(Semaphore::new(0))),
            ..Self::default()
        }
    }

    /// Lets one held `accept` finish.
    pub fn release(&self) {
        if let Some(gate) = &self.gate {
            gate.add_permits(1);
        }
    }

    /// Makes every write fail (or succeed again).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// A sink for `channel` backed by this handler.
    pub fn sink(&self, channel: ChannelId) -> InboundSink {
        InboundSink::new(channel, Arc::new(self.clone()))
    }

    /// Messages accepted (first deliveries only), in order.
    pub fn accepted(&self) -> Vec<InboundMessage> {
        self.lock().accepted.clone()
    }

    /// How many redeliveries were answered as duplicates.
    pub fn duplicates(&self) -> usize {
        self.lock().duplicates
    }

    /// Delivery reports recorded, in order.
    pub fn deliveries(&self) -> Vec<DeliveryUpdate> {
        self.lock().deliveries.clone()
    }

    /// Reachability reports recorded, in order.
    pub fn reachability_reports(&self) -> Vec<ReachabilityReport> {
        self.lock().reachability.clone()
    }

    /// A value of the key-value space.
    pub fn kv(&self, channel: &ChannelId, key: &str) -> Option<String> {
        self.lock()
            .kv
            .get(&(channel.clone(), key.to_owned()))
            .cloned()
    }

    /// Sets a value of the key-value space directly (e.g. to simulate a crash before
    /// a polling offset was stored).
    pub fn set_kv(&self, channel: &ChannelId, key: &str, value: &str) {
        self.lock()
            .kv
            .insert((channel.clone(), key.to_owned()), value.to_owned());
    }

    /// Whether nothing at all was recorded (messages, reports, key-value writes).
    pub fn is_empty(&self) -> bool {
        let s = self.lock();
        s.accepted.is_empty()
            && s.deliveries.is_empty()
            && s.reachability.is_empty()
            && s.kv.is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("recording lock poisoned")
    }

    fn check(&self) -> Result<(), InboundError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(InboundError::Unavailable(
                "recording handler set to fail".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl InboundHandler for RecordingInbound {
    async fn accept(&self, msg: InboundMessage) -> Result<Accepted, InboundError> {
        if let Some(gate) = &self.gate {
            gate.acquire()
                .await
                .map_err(|_| InboundError::Unavailable("gate closed".into()))?
                .forget();
        }
        self.check()?;
        if msg.platform_message_id.as_str().is_empty() || msg.sender.subject.is_empty() {
            return Err(InboundError::Rejected(
                "platform message id and sender are required".into(),
            ));
        }
        let mut s = self.lock();
        let key = (
            msg.channel.clone(),
            msg.platform_message_id.as_str().to_owned(),
        );
        if !s.seen.insert(key) {
            s.duplicates += 1;
            return Ok(Accepted { duplicate: true });
        }
        s.accepted.push(msg);
        Ok(Accepted { duplicate: false })
    }

    async fn resume(
        &self,
        identity: ExternalIdentity,
        _history_limit: usize,
    ) -> Result<Session, InboundError> {
        self.check()?;
        Ok(Session {
            customer_id: CustomerId::new(format!("cus_{}", identity.subject)),
            conversation_id: ConversationId::new(format!("conv_{}", identity.subject)),
            history: Vec::new(),
        })
    }

    async fn kv_get(&self, channel: &ChannelId, key: &str) -> Result<Option<String>, InboundError> {
        self.check()?;
        Ok(self.kv(channel, key))
    }

    async fn kv_put(
        &self,
        channel: &ChannelId,
        key: &str,
        value: &str,
    ) -> Result<(), InboundError> {
        self.check()?;
        self.lock()
            .kv
            .insert((channel.clone(), key.to_owned()), value.to_owned());
        Ok(())
    }

    async fn delivery_status(&self, update: DeliveryUpdate) -> Result<(), InboundError> {
        self.check()?;
        self.lock().deliveries.push(update);
        Ok(())
    }

    async fn reachability(
        &self,
        channel: &ChannelId,
        subject: &str,
        reachability: Reachability,
    ) -> Result<(), InboundError> {
        self.check()?;
        self.lock().reachability.push(ReachabilityReport {
            channel: channel.clone(),
            subject: subject.to_owned(),
            reachability,
        });
        Ok(())
    }
}
