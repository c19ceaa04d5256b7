//! Deliveries to Teams: `Open` starts a thread in the configured channel whose first post
//! is the Adaptive Card briefing; `Append` relays a customer message into the thread;
//! `Close` and `Update` post notes there; an agent reply that did not reach the customer
//! is noted there too (`delivery`).
//!
//! Every operation is idempotent: `Open` returns the existing thread when the handoff has
//! one, and finished deliveries are remembered by their stable delivery id. Failures are
//! the connector's classification (429 rate limited with `Retry-After`, 401/403 auth,
//! 412/5xx transient); nothing is retried here.

use crate::card;
use crate::config::TeamsDeskConfig;
use crate::delivery::{Reporter, Shower};
use crate::threads::Threads;
use async_trait::async_trait;
use std::sync::Arc;
use tandem_channel_teams::botframework::Connector;
use tandem_sdk::handoff::HandoffRequested;
use tandem_sdk::{
    AdapterError, AgentDesk, DeskCapabilities, DeskDelivery, DeskOp, DeskReceipt, ReplyDelivery,
};
use tracing::debug;

/// The delivering half of the Teams desk.
pub(crate) struct TeamsDeskClient {
    config: Arc<TeamsDeskConfig>,
    connector: Arc<Connector>,
    threads: Threads,
    caps: DeskCapabilities,
    reporter: Reporter,
}

impl TeamsDeskClient {
    pub(crate) fn new(
        config: Arc<TeamsDeskConfig>,
        connector: Arc<Connector>,
        threads: Threads,
    ) -> Self {
        let reporter = Reporter::start(Shower {
            config: config.clone(),
            connector: connector.clone(),
            threads: threads.clone(),
        });
        Self {
            config,
            connector,
            threads,
            caps: DeskCapabilities { accept: true },
            reporter,
        }
    }

    async fn open(&self, h: &HandoffRequested) -> Result<DeskReceipt, AdapterError> {
        if let Some(thread) = self.threads.thread(&h.handoff_id).await? {
            return Ok(DeskReceipt {
                thread: Some(thread),
            });
        }
        let activity = card::briefing_activity(h, &self.config.bot_id());
        let created = self
            .connector
            .create_channel_thread(
                &self.config.service_url,
                &self.config.channel_id,
                self.config.tenant_id.as_deref(),
                &activity,
            )
            .await?;
        self.threads.remember(&h.handoff_id, &created.id).await?;
        debug!(handoff = %h.handoff_id, "Teams thread started.");
        Ok(DeskReceipt {
            thread: Some(created.id),
        })
    }

    async fn thread_of(&self, handoff_id: &str) -> Result<String, AdapterError> {
        self.threads
            .thread(handoff_id)
            .await?
            .ok_or_else(|| AdapterError::rejected("no Teams thread for this handoff"))
    }

    /// Posts `text` in the handoff's thread once per delivery id.
    async fn note(
        &self,
        delivery_id: &str,
        handoff_id: &str,
        text: &str,
    ) -> Result<DeskReceipt, AdapterError> {
        let thread = self.thread_of(handoff_id).await?;
        if !self.threads.done(delivery_id).await? {
            let bot_id = self.config.bot_id();
            for piece in card::split_chars(text, card::MAX_TEXT_CHARS) {
                self.connector
                    .send_activity(
                        &self.config.service_url,
                        &thread,
                        &card::text_activity(&piece, &bot_id),
                    )
                    .await?;
            }
            self.threads.mark_done(delivery_id).await?;
        }
        Ok(DeskReceipt {
            thread: Some(thread),
        })
    }
}

#[async_trait]
impl AgentDesk for TeamsDeskClient {
    fn capabilities(&self) -> &DeskCapabilities {
        &self.caps
    }

    async fn deliver(&self, delivery: DeskDelivery) -> Result<DeskReceipt, AdapterError> {
        let id = delivery.id.as_str();
        match &delivery.op {
            DeskOp::Open(h) => self.open(h).await,
            DeskOp::Append(m) => self.note(id, &m.handoff_id, &card::line(&m.message)).await,
            DeskOp::Close(c) => self.note(id, &c.handoff_id, &card::closed_note(c)).await,
            DeskOp::Update(u) => self.note(id, &u.handoff_id, &card::updated_note(u)).await,
        }
    }

    /// Queued, and a failure noted in the thread by the desk's reporter (`delivery`).
    async fn reply_delivery(&self, report: ReplyDelivery) -> Result<(), AdapterError> {
        self.reporter.offer(report)
    }
}
