//! Deliveries to Slack: `Open` posts the Block Kit briefing as a root message in the
//! configured channel and the transcript as thread replies; `Append` relays a customer
//! message into the thread; `Close` notes the end in the thread and settles the root.
//! How an agent's reply fared is shown on it (`delivery`).
//!
//! Every operation is idempotent: `Open` returns the existing thread when the handoff has
//! one, and finished deliveries are remembered by their stable delivery id.

use crate::api::{Posted, SlackApi};
use crate::blocks;
use crate::delivery::{Reporter, Shower};
use crate::threads::Threads;
use async_trait::async_trait;
use tandem_sdk::handoff::{HandoffClosed, HandoffMessage, HandoffRequested, HandoffUpdated};
use tandem_sdk::{
    AdapterError, AgentDesk, DeskCapabilities, DeskDelivery, DeskOp, DeskReceipt, ReplyDelivery,
};
use tracing::{debug, warn};

/// The delivering half of the Slack desk.
pub(crate) struct SlackDeskClient {
    api: SlackApi,
    threads: Threads,
    caps: DeskCapabilities,
    reporter: Reporter,
}

impl SlackDeskClient {
    pub(crate) fn new(api: SlackApi, threads: Threads) -> Self {
        let reporter = Reporter::start(Shower {
            api: api.clone(),
            threads: threads.clone(),
        });
        Self {
            api,
            threads,
            caps: DeskCapabilities { accept: true },
            reporter,
        }
    }

    async fn open(&self, h: &HandoffRequested) -> Result<DeskReceipt, AdapterError> {
        let root = match self.threads.root(&h.handoff_id).await? {
            Some(root) => root,
            None => {
                let blocks = blocks::briefing(h);
                let root = self
                    .api
                    .post(&blocks::fallback_text(h), Some(&blocks), None, None)
                    .await?;
                self.threads.remember_root(&h.handoff_id, &root).await?;
                self.threads
                    .remember_root_blocks(&h.handoff_id, &blocks)
                    .await;
                debug!(handoff = %h.handoff_id, "Slack thread opened.");
                root
            }
        };
        let chunks = blocks::transcript_chunks(&h.transcript);
        let sent = self.threads.transcript_sent(&h.handoff_id).await?;
        for (i, chunk) in chunks.iter().enumerate().skip(sent) {
            self.api
                .post(chunk, None, Some(&root.ts), Some(&root.channel))
                .await?;
            self.threads
                .set_transcript_sent(&h.handoff_id, i + 1)
                .await?;
        }
        Ok(DeskReceipt {
            thread: Some(root.ts),
        })
    }

    async fn thread_of(&self, handoff_id: &str) -> Result<Posted, AdapterError> {
        self.threads
            .root(handoff_id)
            .await?
            .ok_or_else(|| AdapterError::rejected("no Slack thread for this handoff"))
    }

    async fn append(&self, id: &str, m: &HandoffMessage) -> Result<DeskReceipt, AdapterError> {
        let root = self.thread_of(&m.handoff_id).await?;
        if !self.threads.done(id).await? {
            let text = blocks::line(&m.message);
            for piece in blocks::split_chars(&text, blocks::MAX_REPLY_CHARS) {
                self.api
                    .post(&piece, None, Some(&root.ts), Some(&root.channel))
                    .await?;
            }
            self.threads.mark_done(id).await?;
        }
        Ok(DeskReceipt {
            thread: Some(root.ts),
        })
    }

    async fn close(&self, id: &str, c: &HandoffClosed) -> Result<DeskReceipt, AdapterError> {
        let root = self.thread_of(&c.handoff_id).await?;
        if !self.threads.done(id).await? {
            let reason = c.reason.replace('_', " ");
            let text = if c.reason == "rerouted" {
                "Tandem moved this handoff to a queue another desk serves (nobody accepted it in time); replies here no longer reach the customer.".to_owned()
            } else {
                format!(
                    "Tandem closed this handoff ({}). The bot has the conversation again; replies here no longer reach the customer.",
                    blocks::escape(&reason)
                )
            };
            self.api
                .post(&text, None, Some(&root.ts), Some(&root.channel))
                .await?;
            self.threads.mark_done(id).await?;
            settle_root(
                &self.api,
                &self.threads,
                &c.handoff_id,
                &root,
                &format!("Closed by Tandem: {reason}"),
            )
            .await;
        }
        Ok(DeskReceipt {
            thread: Some(root.ts),
        })
    }
}

impl SlackDeskClient {
    /// Routing changed the handoff: says so in its thread.
    async fn update(&self, id: &str, u: &HandoffUpdated) -> Result<DeskReceipt, AdapterError> {
        let root = self.thread_of(&u.handoff_id).await?;
        if !self.threads.done(id).await? {
            let text = match (u.change.as_str(), &u.assignee) {
                ("assigned", Some(agent)) => format!(
                    "Assigned to <@{}> by routing (skill `{}`).",
                    blocks::escape(&agent.id),
                    blocks::escape(u.target.as_deref().unwrap_or("any"))
                ),
                ("transferred", Some(agent)) => format!(
                    "Transferred to <@{}>: only they (or a supervisor) can reply now.",
                    blocks::escape(&agent.id)
                ),
                ("transferred", None) => format!(
                    "Transferred back to the `{}` queue: the next agent can take it.",
                    blocks::escape(u.target.as_deref().unwrap_or("default"))
                ),
                _ => format!(
                    "Not accepted in time: re-routed to the `{}` queue.",
                    blocks::escape(u.target.as_deref().unwrap_or("default"))
                ),
            };
            self.api
                .post(&text, None, Some(&root.ts), Some(&root.channel))
                .await?;
            self.threads.mark_done(id).await?;
        }
        Ok(DeskReceipt {
            thread: Some(root.ts),
        })
    }
}

/// Replaces the root's buttons with `note` (best effort: the thread already says it).
pub(crate) async fn settle_root(
    api: &SlackApi,
    threads: &Threads,
    handoff_id: &str,
    root: &Posted,
    note: &str,
) {
    let Some(blocks) = threads.root_blocks(handoff_id).await else {
        return;
    };
    let settled = blocks::settled(&blocks, &blocks::escape(note));
    if let Err(e) = api.update(root, note, &settled).await {
        warn!(handoff = %handoff_id, error.kind = %e.kind(), "Updating the Slack root message failed.");
    }
}

#[async_trait]
impl AgentDesk for SlackDeskClient {
    fn capabilities(&self) -> &DeskCapabilities {
        &self.caps
    }

    async fn deliver(&self, delivery: DeskDelivery) -> Result<DeskReceipt, AdapterError> {
        match &delivery.op {
            DeskOp::Open(h) => self.open(h).await,
            DeskOp::Append(m) => self.append(&delivery.id, m).await,
            DeskOp::Close(c) => self.close(&delivery.id, c).await,
            DeskOp::Update(u) => self.update(&delivery.id, u).await,
        }
    }

    /// Queued, and shown on the reply by the desk's reporter (see `delivery`).
    async fn reply_delivery(&self, report: ReplyDelivery) -> Result<(), AdapterError> {
        self.reporter.offer(report)
    }
}
