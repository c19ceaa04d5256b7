//! The desk's own references, kept in its durable key-value space: handoff id ↔ root
//! message (channel + ts) both ways, the root's blocks (to settle it later), how much of
//! the transcript went out, where each agent reply is (to show its delivery state on it),
//! and which deliveries are done (so a retried delivery whose
//! first attempt succeeded posts nothing twice).

use crate::api::Posted;
use crate::delivery::ReplyRef;
use tandem_sdk::{AdapterError, DeskEventSink, InboundError};
use tracing::debug;

/// Access to the desk's key-value space.
#[derive(Clone, Debug)]
pub(crate) struct Threads {
    sink: DeskEventSink,
}

impl Threads {
    pub(crate) fn new(sink: DeskEventSink) -> Self {
        Self { sink }
    }

    /// The root message of a handoff.
    pub(crate) async fn root(&self, handoff_id: &str) -> Result<Option<Posted>, AdapterError> {
        Ok(self
            .sink
            .delivery_kv_get(&format!("thread:{handoff_id}"))
            .await?
            .and_then(|v| {
                v.split_once(':').map(|(channel, ts)| Posted {
                    channel: channel.to_owned(),
                    ts: ts.to_owned(),
                })
            }))
    }

    /// Remembers the root message of a handoff (the reverse link first, so a thread that
    /// is found always leads back to its handoff).
    pub(crate) async fn remember_root(
        &self,
        handoff_id: &str,
        root: &Posted,
    ) -> Result<(), AdapterError> {
        self.sink
            .delivery_kv_put(&format!("handoff:{}:{}", root.channel, root.ts), handoff_id)
            .await?;
        self.sink
            .delivery_kv_put(
                &format!("thread:{handoff_id}"),
                &format!("{}:{}", root.channel, root.ts),
            )
            .await
    }

    /// The handoff whose root message is `ts` in `channel`.
    pub(crate) async fn handoff_of(
        &self,
        channel: &str,
        ts: &str,
    ) -> Result<Option<String>, InboundError> {
        self.sink.kv_get(&format!("handoff:{channel}:{ts}")).await
    }

    /// The root's blocks, as posted.
    pub(crate) async fn root_blocks(&self, handoff_id: &str) -> Option<serde_json::Value> {
        self.sink
            .kv_get(&format!("blocks:{handoff_id}"))
            .await
            .ok()
            .flatten()
            .and_then(|v| serde_json::from_str(&v).ok())
    }

    /// Keeps the root's blocks (best effort: only used to settle the root later).
    pub(crate) async fn remember_root_blocks(&self, handoff_id: &str, blocks: &serde_json::Value) {
        let _ = self
            .sink
            .kv_put(&format!("blocks:{handoff_id}"), &blocks.to_string())
            .await;
    }

    /// Remembers where the agent reply recorded under `event_id` is, to show its delivery
    /// state on it later (best effort: without it nothing is shown).
    pub(crate) async fn remember_reply(&self, event_id: &str, reply: &ReplyRef) {
        let Ok(value) = serde_json::to_string(reply) else {
            return;
        };
        if let Err(error) = self.sink.kv_put(&format!("reply:{event_id}"), &value).await {
            debug!(%error, "Remembering a Slack reply failed; its delivery state won't show.");
        }
    }

    /// Where the agent reply recorded under `event_id` is.
    pub(crate) async fn reply(&self, event_id: &str) -> Option<ReplyRef> {
        self.sink
            .kv_get(&format!("reply:{event_id}"))
            .await
            .ok()
            .flatten()
            .and_then(|v| serde_json::from_str(&v).ok())
    }

    /// How many transcript replies of a handoff went out.
    pub(crate) async fn transcript_sent(&self, handoff_id: &str) -> Result<usize, AdapterError> {
        Ok(self
            .sink
            .delivery_kv_get(&format!("transcript:{handoff_id}"))
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Records that `count` transcript replies went out.
    pub(crate) async fn set_transcript_sent(
        &self,
        handoff_id: &str,
        count: usize,
    ) -> Result<(), AdapterError> {
        self.sink
            .delivery_kv_put(&format!("transcript:{handoff_id}"), &count.to_string())
            .await
    }

    /// Whether delivery `id` was performed already.
    pub(crate) async fn done(&self, delivery_id: &str) -> Result<bool, AdapterError> {
        self.sink.is_done(delivery_id).await
    }

    /// Marks delivery `id` performed.
    pub(crate) async fn mark_done(&self, delivery_id: &str) -> Result<(), AdapterError> {
        self.sink.mark_done(delivery_id).await
    }
}
