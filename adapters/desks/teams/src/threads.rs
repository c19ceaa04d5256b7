//! The desk's own references, kept in its durable key-value space:
//!
//! - `thread:<handoff id>` → the thread's conversation id (`19:…;messageid=…`);
//! - `handoff:<thread conversation id>` → the handoff id (written first, so a thread
//!   that is found always leads back to its handoff);
//! - `done:<delivery id>`: the delivery was performed (a retried delivery whose first
//!   attempt succeeded posts nothing twice).

use tandem_sdk::{AdapterError, DeskEventSink, InboundError};

/// Access to the desk's key-value space.
#[derive(Clone, Debug)]
pub(crate) struct Threads {
    sink: DeskEventSink,
}

impl Threads {
    pub(crate) fn new(sink: DeskEventSink) -> Self {
        Self { sink }
    }

    /// The thread (conversation id) of a handoff.
    pub(crate) async fn thread(&self, handoff_id: &str) -> Result<Option<String>, AdapterError> {
        Ok(self
            .sink
            .delivery_kv_get(&format!("thread:{handoff_id}"))
            .await?
            .filter(|t| !t.is_empty()))
    }

    /// Remembers the thread of a handoff, both ways.
    pub(crate) async fn remember(
        &self,
        handoff_id: &str,
        thread: &str,
    ) -> Result<(), AdapterError> {
        self.sink
            .delivery_kv_put(&format!("handoff:{thread}"), handoff_id)
            .await?;
        self.sink
            .delivery_kv_put(&format!("thread:{handoff_id}"), thread)
            .await
    }

    /// The handoff whose thread is the conversation `thread`.
    pub(crate) async fn handoff_of(&self, thread: &str) -> Result<Option<String>, InboundError> {
        Ok(self
            .sink
            .kv_get(&format!("handoff:{thread}"))
            .await?
            .filter(|h| !h.is_empty()))
    }

    /// The thread of a handoff, for the inbound side.
    pub(crate) async fn thread_of(&self, handoff_id: &str) -> Result<Option<String>, InboundError> {
        Ok(self
            .sink
            .kv_get(&format!("thread:{handoff_id}"))
            .await?
            .filter(|t| !t.is_empty()))
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
