//! The desk side of the boundary: where handoffs go to human agents.
//!
//! The handoff lifecycle and the desk adapters are built on this trait; the shapes here
//! are the stable part (open is idempotent on the handoff id; append; close).

use async_trait::async_trait;
use std::borrow::Cow;

/// An agent desk (Slack, Chatwoot, a signed webhook, the console).
#[async_trait]
pub trait AgentDesk: Send + Sync + 'static {
    /// What the desk supports.
    fn capabilities(&self) -> &DeskCapabilities;

    /// Opens a thread for a handoff. Idempotent on `handoff_id`: a retried open returns
    /// the same thread. `body` is the handoff-v1 JSON document.
    async fn open(
        &self,
        handoff_id: &str,
        body: &serde_json::Value,
    ) -> Result<DeskThread, DeskError>;

    /// Appends a later customer message (a handoff-v1 `handoff.message` document).
    async fn append(&self, thread: &DeskThread, body: &serde_json::Value) -> Result<(), DeskError>;

    /// Closes the thread.
    async fn close(&self, thread: &DeskThread, reason: CloseReason) -> Result<(), DeskError>;
}

/// What a desk supports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeskCapabilities {
    /// Whether agents can accept a handoff explicitly.
    pub accept: bool,
}

/// A desk's reference to the thread/ticket of one handoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskThread {
    /// The desk's id for it (Slack `ts`, Chatwoot conversation id, delivery id).
    pub reference: String,
}

/// Why a handoff thread is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// An agent resolved it.
    Resolved,
    /// An agent gave it back to the bot.
    Released,
    /// Nobody accepted it in time.
    TimedOut,
}

/// A desk failure, classified like [`crate::AdapterError`].
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DeskError {
    /// Whether a retry may succeed.
    pub retryable: bool,
    /// What happened.
    pub message: Cow<'static, str>,
}
