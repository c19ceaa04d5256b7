//! The desk side of the boundary: where handoffs go to human agents (Slack, Chatwoot, a
//! signed webhook, the console).
//!
//! A desk kind is a [`DeskFactory`]; each configured instance is a [`BuiltDesk`]: an
//! [`AgentDesk`] that receives deliveries from the core's outbox (open a thread, append a
//! customer message, close), optional routes for the desk's callbacks (agent replies,
//! button clicks), and an optional worker. Agent actions go back to the core through the
//! [`DeskEventSink`], which records them durably before the desk's webhook is answered.
//!
//! Like channel adapters, desks translate and classify errors ([`AdapterError`]); they do
//! not retry (the outbox does), and keep only their own thread references (through the
//! sink's key-value space).

use crate::channel::WorkerFn;
use crate::handoff::{Agent, HandoffClosed, HandoffMessage, HandoffRequested, HandoffUpdated};
use crate::{Accepted, AdapterError, ConfigErrors, InboundError};
use async_trait::async_trait;
use std::future::Future;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// One configured desk instance. Held as `Arc<dyn AgentDesk>`.
#[async_trait]
pub trait AgentDesk: Send + Sync + 'static {
    /// What the desk supports.
    fn capabilities(&self) -> &DeskCapabilities;

    /// Performs one delivery. `Open` must be idempotent on the handoff id (a retried open
    /// returns the same thread). Do not retry here: classify the failure.
    async fn deliver(&self, delivery: DeskDelivery) -> Result<DeskReceipt, AdapterError>;

    /// How far an agent's reply submitted by this desk got (sent, delivered, read, failed,
    /// undeliverable), for desks that show it next to the reply. Called by the core, in the
    /// process that learnt it, each time the state moves; best effort (the default ignores
    /// it).
    async fn reply_delivery(&self, report: ReplyDelivery) -> Result<(), AdapterError> {
        let _ = report;
        Ok(())
    }

    /// A draft (draft-only mode, see [`DraftView`]) was created, decided or withdrawn,
    /// for desks that show drafts live. Called by the core, in the process that made the
    /// change, after it committed; best effort (the default ignores it). Desks list the
    /// pending drafts with [`DeskEventSink::pending_drafts`], so a missed call only
    /// delays what an agent sees until the next listing.
    async fn draft_changed(&self, update: DraftUpdate) -> Result<(), AdapterError> {
        let _ = update;
        Ok(())
    }
}

/// A reply waiting for an agent's approval (draft-only mode): the bot's answer to a
/// customer, or the bot's suggestion to the agent of a handed-off conversation. Nothing
/// of it reaches the customer until an agent approves it (as written or edited).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DraftView {
    /// The conversation it belongs to.
    pub conversation_id: String,
    /// The draft's id (unique within the conversation).
    pub draft_id: String,
    /// `bot` (the bot's answer, sent as the bot when approved) or `suggestion` (for the
    /// agent of a handed-off conversation, sent as that agent's reply when approved).
    pub source: String,
    /// The text that would be sent.
    pub text: String,
    /// Buttons offered with it.
    pub buttons: Vec<tandem_model::Button>,
    /// The customer message it answers.
    pub question: Option<String>,
    /// The intent the bot recognised, and its confidence.
    pub intent: Option<String>,
    /// The bot's confidence in `intent`, 0 to 1.
    pub confidence: Option<f32>,
    /// The policy category that selected draft-only mode for it, if any.
    pub category: Option<String>,
    /// The queue (policy target) that selected draft-only mode for it, if any.
    pub queue: Option<String>,
    /// The open handoff of a suggestion.
    pub handoff_id: Option<String>,
    /// The channel the customer writes on.
    pub channel: String,
    /// When it was drafted, RFC 3339.
    pub created_at: String,
}

/// What an agent decides about a draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftDecision {
    /// Send it as drafted.
    Approve,
    /// Send this text instead (the edit is recorded).
    Edit(String),
    /// Send nothing.
    Reject,
}

impl DraftDecision {
    /// The stored name: `approved`, `edited` or `rejected`.
    pub fn as_str(&self) -> &'static str {
        match self {
            DraftDecision::Approve => "approved",
            DraftDecision::Edit(_) => "edited",
            DraftDecision::Reject => "rejected",
        }
    }
}

/// A change of a draft (see [`AgentDesk::draft_changed`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DraftUpdate {
    /// The draft as it was created.
    pub draft: DraftView,
    /// `pending` (just created), `approved`, `edited`, `rejected` or `withdrawn` (the
    /// conversation moved on: handed off, or the handoff of a suggestion closed).
    pub state: String,
    /// The agent who decided.
    pub agent: Option<Agent>,
    /// The text sent to the customer (`approved`, `edited`).
    pub final_text: Option<String>,
    /// When it changed, RFC 3339.
    pub at: String,
}

/// What the core answered a draft decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftAnswer {
    /// Decided and committed: an approved or edited text is in the outbox.
    Decided,
    /// Nothing changed. Codes: `unknown_draft`, `already_decided` (a draft is decided
    /// once), `withdrawn` (stale: the conversation moved on), `not_owner` (another agent
    /// owns the suggestion's handoff), `empty_text` (an edit without text).
    Refused(DeskRefusal),
}

/// The delivery state of one agent reply (see [`AgentDesk::reply_delivery`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplyDelivery {
    /// The handoff the reply belongs to.
    pub handoff_id: String,
    /// The dedupe key the desk submitted the reply under ([`DeskEventSink::submit`]).
    pub event_key: String,
    /// `sending`, `sent`, `delivered`, `read`, `failed` or `undeliverable`.
    pub state: String,
    /// Why, for `failed` and `undeliverable` (`window closed`, the platform's reason).
    pub detail: Option<String>,
    /// When it changed, RFC 3339.
    pub at: String,
}

/// An agent account, as desks that sign agents in see it (no password material).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgentAccount {
    /// The agent's id (routing's, and the id desks name them by).
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Email address (a sign-in name besides the id).
    pub email: Option<String>,
    /// Queues the agent serves.
    pub skills: Vec<String>,
    /// A disabled account can't sign in, and its sessions end.
    pub disabled: bool,
}

impl AgentAccount {
    /// The account as the agent acting on handoffs.
    pub fn agent(&self) -> Agent {
        Agent {
            id: self.id.clone(),
            name: self.name.clone(),
        }
    }
}

/// How an agent proves who they are to a desk that signs agents in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// Agent id or email, and password (checked against the account's argon2 hash).
    Password {
        /// Agent id or email.
        login: String,
        /// The password as typed.
        password: String,
    },
    /// A one-time sign-in link's token.
    Link {
        /// The token.
        token: String,
    },
}

/// Builds desk instances of one kind, e.g. `slack`.
pub trait DeskFactory: Send + Sync + 'static {
    /// The kind name, as the config section (`[desks.<KIND>]`) or `type = "<KIND>"`.
    const KIND: &'static str;
    /// The instance's config table; use `#[serde(deny_unknown_fields)]`.
    type Config: serde::de::DeserializeOwned + Send + Sync + 'static;

    /// Pure checks only (runs in `tandem check`); paths relative to the table.
    fn validate(config: &Self::Config) -> Result<(), ConfigErrors>;

    /// Builds the instance. May do I/O.
    fn build(
        config: Self::Config,
        cx: DeskContext,
    ) -> impl Future<Output = Result<BuiltDesk, AdapterError>> + Send;
}

/// Everything a desk instance may use.
#[derive(Clone, Debug)]
pub struct DeskContext {
    /// The instance id (the config table name).
    pub id: String,
    /// Tandem's public base URL.
    pub public_base_url: url::Url,
    /// Where agent actions go.
    pub events: DeskEventSink,
    /// A shared HTTP client.
    pub http: reqwest::Client,
    /// Cancelled at shutdown.
    pub shutdown: CancellationToken,
}

/// What a desk factory returns.
pub struct BuiltDesk {
    /// The delivering half.
    pub desk: Arc<dyn AgentDesk>,
    /// Routes merged into Tandem's HTTP server (callbacks), with absolute paths.
    pub routes: Option<axum::Router>,
    /// A background worker, supervised like a channel's.
    pub worker: Option<WorkerFn>,
}

impl std::fmt::Debug for BuiltDesk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltDesk")
            .field("routes", &self.routes.is_some())
            .finish_non_exhaustive()
    }
}

/// One delivery from the core to a desk.
#[derive(Debug, Clone, PartialEq)]
pub struct DeskDelivery {
    /// Stable across retries of this delivery: send it as an idempotency key.
    pub id: String,
    /// What to do.
    pub op: DeskOp,
}

/// The operations a desk performs.
#[derive(Debug, Clone, PartialEq)]
pub enum DeskOp {
    /// Open a thread/ticket for a new handoff, with its briefing.
    Open(Box<HandoffRequested>),
    /// Append a later customer message to the handoff's thread.
    Append(HandoffMessage),
    /// Tandem closed the handoff (timed out, released by policy).
    Close(HandoffClosed),
    /// Routing changed the handoff (assigned to an agent, re-routed to another queue).
    Update(HandoffUpdated),
}

impl DeskOp {
    /// The handoff the operation is about.
    pub fn handoff_id(&self) -> &str {
        match self {
            DeskOp::Open(h) => &h.handoff_id,
            DeskOp::Append(m) => &m.handoff_id,
            DeskOp::Close(c) => &c.handoff_id,
            DeskOp::Update(u) => &u.handoff_id,
        }
    }
}

/// What a desk reports after a delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeskReceipt {
    /// The desk's reference of the thread (Slack ts, Chatwoot conversation id), if any.
    pub thread: Option<String>,
}

/// What the desk supports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeskCapabilities {
    /// Whether agents accept handoffs explicitly (otherwise the first reply accepts).
    pub accept: bool,
}

/// An agent action reported by a desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskEvent {
    /// The handoff it is about.
    pub handoff_id: String,
    /// What happened.
    pub kind: DeskEventKind,
    /// The agent acting, when known.
    pub agent: Option<Agent>,
}

/// Kinds of agent actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskEventKind {
    /// An agent took the handoff.
    Accepted,
    /// An agent wrote to the customer.
    AgentMessage {
        /// The text.
        text: String,
    },
    /// An agent sent an image or file (uploaded with [`DeskEventSink::upload`], or any
    /// public URL), with `text` as its caption (may be empty).
    AgentMedia {
        /// The caption.
        text: String,
        /// The image or file.
        media: tandem_model::OutboundMedia,
    },
    /// An agent resolved it: back to the bot, then CSAT.
    Resolved,
    /// An agent gave it back to the bot without resolving.
    Released,
    /// The owner (or a supervisor) handed it to another agent or queue.
    Transferred {
        /// Where it goes.
        to: TransferTarget,
    },
}

/// Where a transferred handoff goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// Straight to this agent, who owns it from then on.
    Agent(Agent),
    /// Back to a queue (a policy target), where routing gives it to the next agent.
    Queue(String),
}

/// The transfer command agents type in a chat-based desk's thread (Slack, Teams):
/// `!transfer queue <name>` sends the handoff back to a queue; `!transfer <agent>` hands
/// it to an agent, named by the desk's id for them or a Slack mention (`<@U123>`).
/// `None` when `text` is not a transfer command (then it is an ordinary reply).
pub fn parse_transfer_command(text: &str) -> Option<TransferTarget> {
    let rest = text.trim().strip_prefix("!transfer")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let mut words = rest.split_whitespace();
    let first = words.next()?;
    let target = if first.eq_ignore_ascii_case("queue") {
        TransferTarget::Queue(words.next()?.to_owned())
    } else {
        let id = first
            .strip_prefix("<@")
            .and_then(|m| m.strip_suffix('>'))
            .map_or(first, |m| m.split('|').next().unwrap_or(m));
        if id.is_empty() {
            return None;
        }
        TransferTarget::Agent(Agent {
            id: id.to_owned(),
            name: None,
        })
    };
    words.next().is_none().then_some(target)
}

/// What the core answered a desk event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskAnswer {
    /// Recorded durably (or recognised as recorded before); it will be applied.
    Recorded(Accepted),
    /// Refused: nothing was recorded, nothing reaches the customer. The desk shows the
    /// refusal to the agent who acted (an error frame, an ephemeral message, a note).
    Refused(DeskRefusal),
}

/// Why an agent action was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskRefusal {
    /// Stable code: `not_owner` (another agent holds the handoff), `no_agent` (a
    /// transfer named no agent and no queue), `not_open` (nothing to transfer).
    pub code: String,
    /// A sentence for the agent (names no customer data).
    pub message: String,
    /// The agent holding the handoff, when that is the reason.
    pub owner: Option<Agent>,
}

/// The core's side of the desk boundary. Implemented by `tandem-core`.
#[async_trait]
pub trait DeskEventHandler: Send + Sync + 'static {
    /// Records an agent action durably, deduplicated on `(desk, dedupe_key)`, then
    /// schedules its processing; or refuses it when the acting agent may not act on the
    /// handoff (another agent owns it). Answer the desk 2xx only after `Ok`.
    ///
    /// `dedupe_key` must come from what the desk signed (an event id inside the signed
    /// body, or the signed timestamp with a digest of the body), never from an unsigned
    /// header: a replayed request must map to the same key.
    async fn desk_event(
        &self,
        desk: &str,
        dedupe_key: &str,
        event: DeskEvent,
    ) -> Result<DeskAnswer, InboundError>;

    /// Reads from the desk's durable key-value space (thread references).
    async fn kv_get(&self, desk: &str, key: &str) -> Result<Option<String>, InboundError>;

    /// Writes to the desk's durable key-value space.
    async fn kv_put(&self, desk: &str, key: &str, value: &str) -> Result<(), InboundError>;

    /// Writes `value` only if the stored value is still `expected` (`None`: only if there
    /// is none); whether it did. Records that several replicas read, change and write
    /// back go through this: on `false`, read again and redo the change.
    async fn kv_swap(
        &self,
        desk: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, InboundError>;

    /// The agent account `id`, if there is one (the default knows no accounts).
    async fn agent_account(&self, id: &str) -> Result<Option<AgentAccount>, InboundError> {
        let _ = id;
        Ok(None)
    }

    /// Every agent account, disabled ones included.
    async fn agent_accounts(&self) -> Result<Vec<AgentAccount>, InboundError> {
        Ok(Vec::new())
    }

    /// The account `sign_in` proves, if it proves one (wrong password, unknown or used
    /// link, disabled account: `None`). A link works once.
    async fn sign_in(&self, sign_in: SignIn) -> Result<Option<AgentAccount>, InboundError> {
        let _ = sign_in;
        Ok(None)
    }

    /// The drafts waiting for an agent's decision, oldest first (the default has none).
    async fn pending_drafts(&self) -> Result<Vec<DraftView>, InboundError> {
        Ok(Vec::new())
    }

    /// Applies an agent's decision about a draft, exactly once: an approved or edited
    /// text goes to the customer, a rejected one never does; the decision, the final text
    /// and the approver are recorded on the conversation.
    async fn decide_draft(
        &self,
        conversation_id: &str,
        draft_id: &str,
        agent: Agent,
        decision: DraftDecision,
    ) -> Result<DraftAnswer, InboundError> {
        let _ = (conversation_id, draft_id, agent, decision);
        Ok(DraftAnswer::Refused(DeskRefusal {
            code: "unknown_draft".into(),
            message: "drafts are not supported here".into(),
            owner: None,
        }))
    }

    /// Keeps a file an agent uploads for the customer of `handoff_id` and returns it as
    /// media to send ([`DeskEventKind::AgentMedia`]), under a signed Tandem link. The
    /// default: uploads are off.
    async fn upload(
        &self,
        desk: &str,
        handoff_id: &str,
        file: crate::media::FetchedMedia,
    ) -> Result<tandem_model::OutboundMedia, InboundError> {
        let _ = (desk, handoff_id, file);
        Err(InboundError::Rejected("uploads are off".into()))
    }

    /// See [`super::InboundHandler::share`] (`topic` is `desk:<id>`).
    async fn share(&self, topic: &str, payload: &str) -> Result<(), InboundError> {
        let _ = (topic, payload);
        Ok(())
    }

    /// See [`super::InboundHandler::shared_updates`].
    fn shared_updates(&self, topic: &str) -> Option<futures::stream::BoxStream<'static, String>> {
        let _ = topic;
        None
    }
}

/// A cheap handle desks use to reach the core.
#[derive(Clone)]
pub struct DeskEventSink {
    desk: String,
    handler: Arc<dyn DeskEventHandler>,
}

impl std::fmt::Debug for DeskEventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeskEventSink")
            .field("desk", &self.desk)
            .finish_non_exhaustive()
    }
}

impl DeskEventSink {
    /// A sink for desk instance `desk`.
    pub fn new(desk: impl Into<String>, handler: Arc<dyn DeskEventHandler>) -> Self {
        Self {
            desk: desk.into(),
            handler,
        }
    }

    /// The desk instance id.
    pub fn desk(&self) -> &str {
        &self.desk
    }

    /// See [`DeskEventHandler::desk_event`].
    pub async fn submit(
        &self,
        dedupe_key: &str,
        event: DeskEvent,
    ) -> Result<DeskAnswer, InboundError> {
        self.handler.desk_event(&self.desk, dedupe_key, event).await
    }

    /// Reads from this desk's key-value space.
    pub async fn kv_get(&self, key: &str) -> Result<Option<String>, InboundError> {
        self.handler.kv_get(&self.desk, key).await
    }

    /// Writes to this desk's key-value space.
    pub async fn kv_put(&self, key: &str, value: &str) -> Result<(), InboundError> {
        self.handler.kv_put(&self.desk, key, value).await
    }

    /// Compare-and-set in this desk's key-value space (see
    /// [`DeskEventHandler::kv_swap`]).
    pub async fn kv_swap(
        &self,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, InboundError> {
        self.handler.kv_swap(&self.desk, key, expected, value).await
    }

    /// See [`DeskEventHandler::agent_account`].
    pub async fn agent_account(&self, id: &str) -> Result<Option<AgentAccount>, InboundError> {
        self.handler.agent_account(id).await
    }

    /// See [`DeskEventHandler::agent_accounts`].
    pub async fn agent_accounts(&self) -> Result<Vec<AgentAccount>, InboundError> {
        self.handler.agent_accounts().await
    }

    /// See [`DeskEventHandler::upload`].
    pub async fn upload(
        &self,
        handoff_id: &str,
        file: crate::media::FetchedMedia,
    ) -> Result<tandem_model::OutboundMedia, InboundError> {
        self.handler.upload(&self.desk, handoff_id, file).await
    }

    /// See [`DeskEventHandler::sign_in`].
    pub async fn sign_in(&self, sign_in: SignIn) -> Result<Option<AgentAccount>, InboundError> {
        self.handler.sign_in(sign_in).await
    }

    /// See [`DeskEventHandler::pending_drafts`].
    pub async fn pending_drafts(&self) -> Result<Vec<DraftView>, InboundError> {
        self.handler.pending_drafts().await
    }

    /// See [`DeskEventHandler::decide_draft`].
    pub async fn decide_draft(
        &self,
        conversation_id: &str,
        draft_id: &str,
        agent: Agent,
        decision: DraftDecision,
    ) -> Result<DraftAnswer, InboundError> {
        self.handler
            .decide_draft(conversation_id, draft_id, agent, decision)
            .await
    }

    /// Tells the other Tandem processes sharing the store about a live update of this
    /// desk (e.g. "handoff X changed", for agents connected to another process). See
    /// [`crate::InboundSink::share`].
    pub async fn share(&self, payload: &str) -> Result<(), InboundError> {
        self.handler
            .share(&format!("desk:{}", self.desk), payload)
            .await
    }

    /// The updates other processes [`Self::share`]d for this desk; `None` when no other
    /// process can share the store.
    pub fn shared_updates(&self) -> Option<futures::stream::BoxStream<'static, String>> {
        self.handler.shared_updates(&format!("desk:{}", self.desk))
    }

    /// [`Self::kv_get`] while delivering: a store failure is a transient
    /// [`AdapterError`], so the outbox retries the delivery.
    pub async fn delivery_kv_get(&self, key: &str) -> Result<Option<String>, AdapterError> {
        self.kv_get(key).await.map_err(kv_unavailable)
    }

    /// [`Self::kv_put`] while delivering (a store failure is transient, see
    /// [`Self::delivery_kv_get`]).
    pub async fn delivery_kv_put(&self, key: &str, value: &str) -> Result<(), AdapterError> {
        self.kv_put(key, value).await.map_err(kv_unavailable)
    }

    /// Whether `step` (a delivery id, or a step of one) was marked done with
    /// [`Self::mark_done`]: a retried delivery whose first attempt got that far performs
    /// nothing twice.
    pub async fn is_done(&self, step: &str) -> Result<bool, AdapterError> {
        Ok(self
            .delivery_kv_get(&format!("done:{step}"))
            .await?
            .is_some())
    }

    /// Marks `step` done (see [`Self::is_done`]).
    pub async fn mark_done(&self, step: &str) -> Result<(), AdapterError> {
        self.delivery_kv_put(&format!("done:{step}"), "1").await
    }
}

fn kv_unavailable(e: InboundError) -> AdapterError {
    AdapterError::transient("the desk's references are unavailable").with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_commands() {
        let agent = |id: &str| {
            Some(TransferTarget::Agent(Agent {
                id: id.into(),
                name: None,
            }))
        };
        assert_eq!(parse_transfer_command("!transfer <@U0B>"), agent("U0B"));
        assert_eq!(
            parse_transfer_command(" !transfer <@U0B|bea> "),
            agent("U0B")
        );
        assert_eq!(
            parse_transfer_command("!transfer agent-7"),
            agent("agent-7")
        );
        assert_eq!(
            parse_transfer_command("!transfer queue billing"),
            Some(TransferTarget::Queue("billing".into()))
        );
        for not_one in [
            "please transfer me",
            "!transfer",
            "!transferqueue billing",
            "!transfer queue",
            "!transfer <@>",
            "!transfer a b",
        ] {
            assert_eq!(parse_transfer_command(not_one), None, "{not_one}");
        }
    }
}
