//! Durable timers as the engine sees them: what each kind does when it is due. The
//! runtime stores them with the turn that sets them and claims them under a lease
//! (`crate::timers`); when one is due it becomes [`Command::TimerDue`](super::Command).

use serde::{Deserialize, Serialize};
use tandem_model::ConversationId;

/// What a timer does when it is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Timer {
    /// Look at `conversation_id` again: if nothing happened since the bot's reply
    /// (`next_seq` unchanged), ask the policy about the silence (check-in or handoff).
    Inactivity {
        /// The conversation.
        conversation_id: ConversationId,
        /// Its `next_seq` right after the bot's reply.
        next_seq: u64,
    },
    /// Look at handoff `handoff_id` of `conversation_id` again: if it is still waiting
    /// and its SLA has run out, it is breached (alert, back to the bot, or re-route).
    Sla {
        /// The conversation.
        conversation_id: ConversationId,
        /// The handoff.
        handoff_id: String,
    },
}

impl Timer {
    /// The timer's key: one pending timer per kind and conversation.
    pub fn id(&self) -> String {
        match self {
            Self::Inactivity {
                conversation_id, ..
            } => format!("inactivity:{conversation_id}"),
            Self::Sla { handoff_id, .. } => format!("sla:{handoff_id}"),
        }
    }

    /// The timer's kind as stored (`inactivity`, `sla`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Inactivity { .. } => "inactivity",
            Self::Sla { .. } => "sla",
        }
    }
}
