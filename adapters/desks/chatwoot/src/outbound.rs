//! Deliveries to Chatwoot: `Open` finds or creates the contact, creates an open
//! conversation in the API inbox (custom attributes carry the handoff id), and posts the
//! briefing and the transcript as private notes; `Append` posts the customer's message as
//! an incoming message; `Close` adds a private note and resolves the conversation. How an
//! agent's reply fared is set on it (`delivery`).
//!
//! Each step is remembered, so a retried delivery resumes where the previous attempt
//! stopped and never creates a second conversation for a handoff.

use crate::api::{ChatwootApi, ContactRef};
use crate::delivery::{Reporter, Shower};
use crate::refs::Refs;
use crate::render;
use async_trait::async_trait;
use tandem_sdk::handoff::{HandoffClosed, HandoffMessage, HandoffRequested, HandoffUpdated};
use tandem_sdk::{
    AdapterError, AgentDesk, DeskCapabilities, DeskDelivery, DeskOp, DeskReceipt, ReplyDelivery,
};
use tracing::debug;

/// The delivering half of the Chatwoot desk.
pub(crate) struct ChatwootDeskClient {
    api: ChatwootApi,
    refs: Refs,
    inbox_id: u64,
    caps: DeskCapabilities,
    reporter: Reporter,
}

impl ChatwootDeskClient {
    pub(crate) fn new(api: ChatwootApi, refs: Refs, inbox_id: u64) -> Self {
        let reporter = Reporter::start(Shower {
            api: api.clone(),
            refs: refs.clone(),
        });
        Self {
            api,
            refs,
            inbox_id,
            caps: DeskCapabilities { accept: true },
            reporter,
        }
    }

    async fn contact(&self, h: &HandoffRequested) -> Result<ContactRef, AdapterError> {
        if let Some(c) = self.refs.contact(&h.customer.id).await? {
            return Ok(c);
        }
        let c = match self
            .api
            .create_contact(&render::contact(h, self.inbox_id))
            .await?
        {
            Some(c) => c,
            None => self.api.existing_contact(&h.customer.id).await?,
        };
        self.refs.set_contact(&h.customer.id, &c).await?;
        Ok(c)
    }

    async fn note(&self, conversation: u64, text: &str) -> Result<(), AdapterError> {
        let id = self
            .api
            .message(conversation, text, "outgoing", true)
            .await?;
        self.refs.own_message(id).await
    }

    async fn open(&self, h: &HandoffRequested) -> Result<DeskReceipt, AdapterError> {
        let conversation = match self.refs.conversation(&h.handoff_id).await? {
            Some(c) => c,
            None => {
                let contact = self.contact(h).await?;
                let body = render::conversation(h, self.inbox_id, contact.id, &contact.source_id);
                let c = self.api.create_conversation(&body).await?;
                self.refs.link(&h.handoff_id, c).await?;
                debug!(handoff = %h.handoff_id, conversation = c, "Chatwoot conversation opened.");
                c
            }
        };
        let briefed = format!("briefing:{}", h.handoff_id);
        if !self.refs.done(&briefed).await? {
            self.note(conversation, &render::briefing(h)).await?;
            self.refs.mark_done(&briefed).await?;
        }
        let transcribed = format!("transcript:{}", h.handoff_id);
        if let Some(text) = render::transcript(&h.transcript)
            && !self.refs.done(&transcribed).await?
        {
            self.note(conversation, &text).await?;
            self.refs.mark_done(&transcribed).await?;
        }
        Ok(DeskReceipt {
            thread: Some(conversation.to_string()),
        })
    }

    async fn conversation_of(&self, handoff_id: &str) -> Result<u64, AdapterError> {
        self.refs
            .conversation(handoff_id)
            .await?
            .ok_or_else(|| AdapterError::rejected("no Chatwoot conversation for this handoff"))
    }

    async fn append(&self, id: &str, m: &HandoffMessage) -> Result<DeskReceipt, AdapterError> {
        let conversation = self.conversation_of(&m.handoff_id).await?;
        let step = format!("delivery:{id}");
        if !self.refs.done(&step).await? {
            let text = if m.message.text.trim().is_empty() {
                "(empty message)"
            } else {
                m.message.text.as_str()
            };
            let mid = self
                .api
                .message(conversation, text, "incoming", false)
                .await?;
            self.refs.own_message(mid).await?;
            self.refs.mark_done(&step).await?;
        }
        Ok(DeskReceipt {
            thread: Some(conversation.to_string()),
        })
    }

    async fn close(&self, id: &str, c: &HandoffClosed) -> Result<DeskReceipt, AdapterError> {
        let conversation = self.conversation_of(&c.handoff_id).await?;
        let noted = format!("delivery:{id}:note");
        if !self.refs.done(&noted).await? {
            let text = if c.reason == "rerouted" {
                "Tandem moved this handoff to a queue another desk serves (nobody accepted it in time); replies here no longer reach the customer.".to_owned()
            } else {
                format!(
                    "Tandem closed this handoff ({}). The bot has the conversation again; replies here no longer reach the customer.",
                    c.reason.replace('_', " ")
                )
            };
            self.note(conversation, &text).await?;
            self.refs.mark_done(&noted).await?;
        }
        self.api.toggle_status(conversation, "resolved").await?;
        Ok(DeskReceipt {
            thread: Some(conversation.to_string()),
        })
    }

    /// Routing changed the handoff: a private note says who has it or where it went.
    async fn update(&self, id: &str, u: &HandoffUpdated) -> Result<DeskReceipt, AdapterError> {
        let conversation = self.conversation_of(&u.handoff_id).await?;
        let noted = format!("delivery:{id}:note");
        if !self.refs.done(&noted).await? {
            let text = match (u.change.as_str(), &u.assignee) {
                ("assigned", Some(agent)) => format!(
                    "Assigned by Tandem routing to {} (agent id {}, queue {}).",
                    agent.name.as_deref().unwrap_or(&agent.id),
                    agent.id,
                    u.target.as_deref().unwrap_or("default")
                ),
                ("transferred", Some(agent)) => format!(
                    "Transferred to {} (agent id {}): only they (or a supervisor) can reply now.",
                    agent.name.as_deref().unwrap_or(&agent.id),
                    agent.id
                ),
                ("transferred", None) => format!(
                    "Transferred back to the {} queue: the next agent can take it.",
                    u.target.as_deref().unwrap_or("default")
                ),
                _ => format!(
                    "Not accepted in time: Tandem re-routed this handoff to the {} queue.",
                    u.target.as_deref().unwrap_or("default")
                ),
            };
            self.note(conversation, &text).await?;
            self.refs.mark_done(&noted).await?;
        }
        Ok(DeskReceipt {
            thread: Some(conversation.to_string()),
        })
    }
}

#[async_trait]
impl AgentDesk for ChatwootDeskClient {
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

    /// Queued, and set on the reply by the desk's reporter (`delivery`).
    async fn reply_delivery(&self, report: ReplyDelivery) -> Result<(), AdapterError> {
        self.reporter.offer(report)
    }
}
