//! The engine: what Tandem decides, as pure functions over plain records.
//!
//! Everything that reaches Tandem and may change a conversation is a [`Command`]. For
//! each kind the runtime (`Core`, in the rest of this crate) gathers the facts (the
//! conversation as stored, the customer, the channel's capabilities, the bot's and the
//! AI hooks' answers), asks the engine, and commits the [`Turn`](crate::records::Turn)
//! it answers atomically (`Core::apply`: load, decide, commit, retry on conflict). The
//! engine itself reads no clock (`now` is passed in), touches no store, spawns nothing
//! and awaits nothing; `tests/layering.rs` checks that of this module and of every
//! module it uses (`records`, `policy`, `intent`, `config`, `shape`, `window`).
//!
//! | command | decided by |
//! |---|---|
//! | [`Command::CustomerMessage`] | [`message::decide_message`] (state and policy), then [`message::respond`] (the answer) |
//! | [`Command::DeskEvent`] | [`desk::event`] |
//! | [`Command::DeskDeliveryResult`] | [`desk::opened`] |
//! | [`Command::TimerDue`] | [`sla::breach`], [`proactive::idle`] + [`proactive::silence`] |
//! | [`Command::BusinessEvent`] | [`proactive::bot_owns`] + the policy's `evaluate_events` |
//! | [`Command::Assignment`] | [`routing::assign`] |
//! | [`Command::DeliveryReport`] | [`delivery::resend_as_template`] |
//! | [`Command::AdminAction`] | [`ownership::release_external`] |
//!
//! Who may act on a handoff ([`ownership::authorize`]), the handoff's lifecycle and the
//! desk briefing ([`handoff`]), satisfaction surveys ([`csat`]), drafts ([`drafts`]) and
//! what a customer's words claim about who they are ([`claims`]: typed emails and phone
//! numbers, link codes) are engine rules as well.
//!
//! Not yet pure: new ids (`MessageId::generate` and the like) are drawn inside the
//! engine; and the runtime (`crate::turn`) still assembles a customer message's turn
//! around the engine's decision and answer (the transcript entry, what a tap or a
//! numbered choice means, survey answers, the copy to the desk of a conversation a
//! person owns, the notices of media and link codes).

pub mod claims;
pub mod csat;
pub mod delivery;
pub mod desk;
pub mod drafts;
pub mod handoff;
pub mod message;
pub mod ownership;
pub mod proactive;
pub mod routing;
pub mod sla;
pub mod timers;

use crate::records::{AgentRecord, PendingInbound};
use tandem_model::{Capabilities, ConversationId, CustomerId, DeliveryUpdate};

pub use timers::Timer;

/// Everything that may change a conversation: the closed set of inputs the runtime
/// executes (`Core::execute`).
#[derive(Debug, Clone)]
pub enum Command {
    /// A customer wrote: a message recorded in the inbound log.
    CustomerMessage(PendingInbound),
    /// An agent acted at a desk (accepted, replied, transferred, resolved, released): an
    /// event recorded in the inbound log on the desk's pseudo-channel `desk:<id>`.
    DeskEvent(PendingInbound),
    /// A desk confirmed it has the thread of handoff `handoff_id` (its `handoff.requested`
    /// was delivered).
    DeskDeliveryResult {
        /// The conversation handed off.
        conversation: ConversationId,
        /// The handoff.
        handoff_id: String,
    },
    /// A durable timer is due (an SLA, an inactivity check-in).
    TimerDue(Timer),
    /// Business events were recorded for a customer (the admin API's `/events`).
    BusinessEvent(CustomerId),
    /// Routing claimed `agent` for waiting handoff `handoff_id`.
    Assignment {
        /// The conversation handed off.
        conversation: ConversationId,
        /// The handoff.
        handoff_id: String,
        /// The agent routing claimed.
        agent: AgentRecord,
    },
    /// A platform reported how sent messages fare (delivered, read, failed).
    DeliveryReport(DeliveryUpdate),
    /// An operator acted through the admin API.
    AdminAction(AdminAction),
}

/// Where replies to a conversation's customer go: their address on the conversation's
/// channel (`None`: none known, replies are kept in the transcript only) and that
/// channel's capabilities (`None`: its adapter is not running; replies are not shaped).
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// The customer's address (subject) on the channel.
    pub recipient: Option<String>,
    /// The channel's capabilities.
    pub caps: Option<Capabilities>,
}

/// What an operator may do to a conversation through the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminAction {
    /// Give a conversation a person was answering outside Tandem back to the bot now.
    ReleaseExternal(ConversationId),
}

impl Command {
    /// The command's kind, as logs and metrics name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::CustomerMessage(_) => "customer_message",
            Command::DeskEvent(_) => "desk_event",
            Command::DeskDeliveryResult { .. } => "desk_delivery_result",
            Command::TimerDue(_) => "timer_due",
            Command::BusinessEvent(_) => "business_event",
            Command::Assignment { .. } => "assignment",
            Command::DeliveryReport(_) => "delivery_report",
            Command::AdminAction(_) => "admin_action",
        }
    }
}

#[cfg(test)]
mod tests;
