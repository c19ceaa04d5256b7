//! The built-in agent console: a desk that needs no external service. Agents sign in at
//! `GET /console/login` with their own account (password or one-time link; see [`auth`])
//! and work the queue over a WebSocket at `/console/ws` (JSON frames, see [`protocol`]),
//! with the closed handoffs' history at `GET /console/api/history`.
//!
//! What it does: keeps every open handoff durably in the desk's key-value space (the
//! briefing, later customer messages, the agent replies it relayed, routing changes, who
//! accepted) with an index of open handoffs; applies each delivery once (by delivery id);
//! pushes every change to the connected agents; turns agent frames into desk events,
//! deduplicated on the agent's own action id, and acknowledges them once recorded.
//!
//! Trust: a signed-in agent acts as their account, never as a name they type. The older
//! shared tokens (`tokens`) still admit programs: whoever holds one says who they are in
//! `hello`, trusted as given.

mod auth;
mod config;
mod protocol;
mod state;
mod ws;

#[cfg(test)]
mod tests;

pub use auth::signed_in_agent;
pub use config::{ConsoleDeskConfig, MIN_TOKEN_LEN};

use async_trait::async_trait;
use std::sync::Arc;
use tandem_sdk::{
    AdapterError, AgentDesk, BuiltDesk, ConfigErrors, DeskCapabilities, DeskContext, DeskDelivery,
    DeskFactory, DeskReceipt,
};
use tokio::sync::broadcast;

/// Largest frame accepted from an agent, in bytes; larger ones get an `error` frame with
/// code `frame_too_large`.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// The `console` desk kind.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleDesk;

impl DeskFactory for ConsoleDesk {
    const KIND: &'static str = "console";
    type Config = ConsoleDeskConfig;

    fn validate(config: &Self::Config) -> Result<(), ConfigErrors> {
        config.validate()
    }

    async fn build(config: Self::Config, cx: DeskContext) -> Result<BuiltDesk, AdapterError> {
        let shared = Arc::new(Shared {
            secure_cookies: config
                .secure_cookies
                .unwrap_or(cx.public_base_url.scheme() == "https"),
            public_url: cx.public_base_url.clone(),
            config,
            store: state::Store::new(cx.events.clone()),
            live: broadcast::channel(256).0,
            shutdown: cx.shutdown.clone(),
        });
        if let Some(updates) = cx.events.shared_updates() {
            tokio::spawn(shared.clone().follow_shared(updates));
        }
        Ok(BuiltDesk {
            desk: Arc::new(Console {
                shared: shared.clone(),
                caps: DeskCapabilities { accept: true },
            }),
            routes: Some(ws::routes(shared)),
            worker: None,
        })
    }
}

/// What the delivering half and the WebSocket sessions share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ConsoleDeskConfig,
    /// Whether session cookies are `Secure`.
    pub(crate) secure_cookies: bool,
    /// Tandem's public base URL (an accepted `Origin`).
    pub(crate) public_url: url::Url,
    pub(crate) store: state::Store,
    /// Frames for every connected agent.
    pub(crate) live: broadcast::Sender<String>,
    pub(crate) shutdown: tokio_util::sync::CancellationToken,
}

impl Shared {
    /// Pushes a change to every connected agent (none connected is fine), here and, by
    /// a small notification naming the handoff (no customer data), in the other Tandem
    /// processes sharing the store: they read the record and push it to their agents.
    pub(crate) async fn push(&self, change: &state::Change) {
        let (frame, shared) = match change {
            state::Change::Updated(r) => (
                protocol::handoff(r.view()),
                SharedChange::Updated(r.briefing.handoff_id.clone()),
            ),
            state::Change::Closed(id) => (protocol::closed(id), SharedChange::Closed(id.clone())),
            state::Change::Unchanged => return,
        };
        let _ = self.live.send(frame);
        let payload = serde_json::to_string(&shared).unwrap_or_default();
        if let Err(error) = self.store.sink().share(&payload).await {
            tracing::warn!(%error, "A console update could not be shared with other replicas.");
        }
    }

    /// Pushes the changes other processes shared to the agents connected here, until
    /// `updates` ends or shutdown.
    async fn follow_shared(
        self: Arc<Self>,
        mut updates: futures::stream::BoxStream<'static, String>,
    ) {
        use futures::StreamExt;
        loop {
            let next = tokio::select! {
                next = updates.next() => next,
                () = self.shutdown.cancelled() => return,
            };
            let Some(payload) = next else { return };
            let frame = match serde_json::from_str::<SharedChange>(&payload) {
                Ok(SharedChange::Updated(id)) => match self.store.get(&id).await {
                    Ok(Some(record)) => protocol::handoff(record.view()),
                    Ok(None) => continue,
                    Err(error) => {
                        tracing::debug!(%error, "A shared console update could not be read.");
                        continue;
                    }
                },
                Ok(SharedChange::Closed(id)) => protocol::closed(&id),
                Ok(SharedChange::Frame(frame)) => frame,
                Err(_) => {
                    tracing::debug!("A shared console update was not understood; skipped.");
                    continue;
                }
            };
            let _ = self.live.send(frame);
        }
    }
}

/// What the console shares with other processes: which handoff changed.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum SharedChange {
    Updated(String),
    Closed(String),
    /// A frame pushed as it is (drafts: created, decided).
    Frame(String),
}

struct Console {
    shared: Arc<Shared>,
    caps: DeskCapabilities,
}

#[async_trait]
impl AgentDesk for Console {
    fn capabilities(&self) -> &DeskCapabilities {
        &self.caps
    }

    async fn deliver(&self, delivery: DeskDelivery) -> Result<DeskReceipt, AdapterError> {
        let change = self
            .shared
            .store
            .apply(&delivery, &now())
            .await
            .map_err(|e| match e {
                state::ApplyError::Store(e) => {
                    AdapterError::transient("the console's records are unavailable").with_source(e)
                }
                state::ApplyError::UnknownHandoff => {
                    AdapterError::rejected("no console record for this handoff")
                }
            })?;
        self.shared.push(&change).await;
        Ok(DeskReceipt {
            thread: Some(delivery.op.handoff_id().to_owned()),
        })
    }

    async fn draft_changed(&self, update: tandem_sdk::DraftUpdate) -> Result<(), AdapterError> {
        let frame = protocol::draft_update(&update);
        let _ = self.shared.live.send(frame.clone());
        let payload = serde_json::to_string(&SharedChange::Frame(frame)).unwrap_or_default();
        if let Err(error) = self.shared.store.sink().share(&payload).await {
            tracing::warn!(%error, "A draft update could not be shared with other replicas.");
        }
        Ok(())
    }

    async fn reply_delivery(&self, report: tandem_sdk::ReplyDelivery) -> Result<(), AdapterError> {
        let change = self
            .shared
            .store
            .reply_delivery(&report)
            .await
            .map_err(|e| {
                AdapterError::transient("the console's records are unavailable").with_source(e)
            })?;
        self.shared.push(&change).await;
        Ok(())
    }
}

/// Now, RFC 3339 (UTC).
pub(crate) fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
