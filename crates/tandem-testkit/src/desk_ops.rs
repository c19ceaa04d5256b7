//! Desk operations for desk adapters' tests: a typical `handoff.requested` briefing (Alice
//! on the generic webhook channel wants a refund) that a test adjusts to its case, and the
//! later `handoff.message` deliveries.

use std::collections::BTreeMap;
use tandem_sdk::handoff::{
    Customer, HandoffMessage, HandoffRequested, Identity, Reason, Summary, TranscriptLine, Trigger,
    Window,
};
use tandem_sdk::{DeskDelivery, DeskOp};

/// A transcript line on the webhook channel at a fixed time.
pub fn line(from: &str, text: &str) -> TranscriptLine {
    TranscriptLine {
        from: from.into(),
        channel: "webhook".into(),
        at: "2026-01-01T10:00:00Z".into(),
        text: text.into(),
        media: None,
    }
}

/// The briefing of handoff `id`: Alice (customer `cust-1`, conversation `conv-1`) asked
/// for a refund; revenue, high priority, queue `billing`, triggered by the keyword
/// `refund`; three transcript lines.
pub fn briefing(id: &str) -> HandoffRequested {
    HandoffRequested {
        version: "1".into(),
        kind: "handoff.requested".into(),
        handoff_id: id.into(),
        conversation_id: "conv-1".into(),
        created_at: "2026-01-01T10:00:00Z".into(),
        channel: "webhook".into(),
        customer: Customer {
            id: "cust-1".into(),
            display_name: Some("Alice".into()),
            segment: None,
            attributes: BTreeMap::new(),
            identities: vec![Identity {
                channel: "webhook".into(),
                external_id: "alice".into(),
                verified: false,
            }],
        },
        reason: Reason {
            category: Some("revenue".into()),
            priority: "high".into(),
            target: "billing".into(),
            triggers: vec![Trigger {
                code: "keyword".into(),
                evidence: "refund".into(),
            }],
        },
        summary: Summary {
            intent: None,
            attempted: vec![],
            status: "I want a refund".into(),
            sentiment: "neutral".into(),
            text: "Alice wants a refund.".into(),
        },
        window: Window {
            open: true,
            expires_at: None,
        },
        transcript: vec![
            line("customer", "hello"),
            line("bot", "Hi!"),
            line("customer", "I want a refund"),
        ],
    }
}

/// The delivery opening `briefing` (delivery id `open-<handoff id>`).
pub fn open(briefing: HandoffRequested) -> DeskDelivery {
    DeskDelivery {
        id: format!("open-{}", briefing.handoff_id),
        op: DeskOp::Open(Box::new(briefing)),
    }
}

/// A later customer message of handoff `id`, as delivery `delivery`.
pub fn appended(id: &str, delivery: &str, text: &str) -> DeskDelivery {
    DeskDelivery {
        id: delivery.into(),
        op: DeskOp::Append(HandoffMessage {
            version: "1".into(),
            kind: "handoff.message".into(),
            handoff_id: id.into(),
            conversation_id: "conv-1".into(),
            message: line("customer", text),
        }),
    }
}
