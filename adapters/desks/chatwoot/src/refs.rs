//! The desk's own references, kept in its durable key-value space: handoff id ↔ Chatwoot
//! conversation display id both ways, Tandem customer id → contact (id + source id), which
//! steps of an `Open` are done, which deliveries are done, and the ids of the messages
//! Tandem posted (their webhooks are dropped).

use crate::api::ContactRef;
use tandem_sdk::{AdapterError, DeskEventSink, InboundError};

/// Access to the desk's key-value space.
#[derive(Clone, Debug)]
pub(crate) struct Refs {
    sink: DeskEventSink,
}

impl Refs {
    pub(crate) fn new(sink: DeskEventSink) -> Self {
        Self { sink }
    }

    /// The conversation of a handoff.
    pub(crate) async fn conversation(&self, handoff_id: &str) -> Result<Option<u64>, AdapterError> {
        Ok(self
            .sink
            .delivery_kv_get(&format!("conversation:{handoff_id}"))
            .await?
            .and_then(|v| v.parse().ok()))
    }

    /// Links a handoff and its conversation (the reverse link first).
    pub(crate) async fn link(
        &self,
        handoff_id: &str,
        conversation: u64,
    ) -> Result<(), AdapterError> {
        self.sink
            .delivery_kv_put(&format!("handoff:{conversation}"), handoff_id)
            .await?;
        self.sink
            .delivery_kv_put(
                &format!("conversation:{handoff_id}"),
                &conversation.to_string(),
            )
            .await
    }

    /// The handoff of a conversation.
    pub(crate) async fn handoff_of(
        &self,
        conversation: u64,
    ) -> Result<Option<String>, InboundError> {
        self.sink.kv_get(&format!("handoff:{conversation}")).await
    }

    /// The contact of a Tandem customer.
    pub(crate) async fn contact(
        &self,
        customer_id: &str,
    ) -> Result<Option<ContactRef>, AdapterError> {
        Ok(self
            .sink
            .delivery_kv_get(&format!("contact:{customer_id}"))
            .await?
            .and_then(|v| {
                let (id, source_id) = v.split_once('|')?;
                Some(ContactRef {
                    id: id.parse().ok()?,
                    source_id: source_id.to_owned(),
                })
            }))
    }

    /// Remembers the contact of a Tandem customer.
    pub(crate) async fn set_contact(
        &self,
        customer_id: &str,
        c: &ContactRef,
    ) -> Result<(), AdapterError> {
        self.sink
            .delivery_kv_put(
                &format!("contact:{customer_id}"),
                &format!("{}|{}", c.id, c.source_id),
            )
            .await
    }

    /// Whether `step` (`briefing`, `transcript`, a delivery id) is done.
    pub(crate) async fn done(&self, step: &str) -> Result<bool, AdapterError> {
        self.sink.is_done(step).await
    }

    /// Marks `step` done.
    pub(crate) async fn mark_done(&self, step: &str) -> Result<(), AdapterError> {
        self.sink.mark_done(step).await
    }

    /// Remembers a message Tandem posted.
    pub(crate) async fn own_message(&self, id: u64) -> Result<(), AdapterError> {
        self.sink.delivery_kv_put(&format!("own:{id}"), "1").await
    }

    /// Whether Tandem posted message `id`.
    pub(crate) async fn is_own_message(&self, id: u64) -> Result<bool, InboundError> {
        Ok(self.sink.kv_get(&format!("own:{id}")).await?.is_some())
    }
}
