//! What a delivery report decides: a message the platform refused because the
//! messaging window was closed goes again as the channel's window template.

use crate::records::{ConversationRecord, NewOutboxEntry, Turn};
use crate::window;
use tandem_model::{Capabilities, OutboundMessage, OutboxId, Timestamp};

/// The turn that queues the channel's window template in place of `failed` (refused
/// for a closed window, reported asynchronously), filled with the customer's `name`.
/// `None` when the channel has no template, or `failed` already was one.
pub fn resend_as_template(
    conv: ConversationRecord,
    failed: &OutboundMessage,
    caps: &Capabilities,
    name: Option<String>,
    now: Timestamp,
) -> Option<Turn> {
    if failed.content.template.is_some() {
        return None;
    }
    let content = window::template_for(caps, &failed.content, name.as_deref())?;
    Some(Turn {
        outbox: vec![NewOutboxEntry {
            message: OutboundMessage {
                outbox_id: OutboxId::generate(),
                content,
                created_at: now,
                ..failed.clone()
            },
            next_attempt_at: now,
        }],
        ..Turn::of(conv)
    })
}
