//! Rendering handoff documents for Chatwoot: the briefing as a private note (Chatwoot
//! renders Markdown), the transcript as a second private note, and the contact and
//! conversation attributes Tandem sets.

use serde_json::{Value, json};
use tandem_sdk::handoff::{HandoffRequested, TranscriptLine};

/// Longest note Tandem posts (Chatwoot accepts far more; agents read less).
const MAX_NOTE_CHARS: usize = 20_000;

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The customer's name, or a neutral placeholder.
pub(crate) fn customer_name(h: &HandoffRequested) -> String {
    h.customer
        .display_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "Customer".to_owned())
}

/// `POST …/contacts` body.
pub(crate) fn contact(h: &HandoffRequested, inbox_id: u64) -> Value {
    let mut attributes = json!({"tandem_customer_id": h.customer.id, "tandem_channel": h.channel});
    if let Some(segment) = &h.customer.segment {
        attributes["tandem_segment"] = json!(segment);
    }
    json!({
        "inbox_id": inbox_id,
        "name": customer_name(h),
        "identifier": h.customer.id,
        "custom_attributes": attributes,
    })
}

/// `POST …/conversations` body.
pub(crate) fn conversation(
    h: &HandoffRequested,
    inbox_id: u64,
    contact_id: u64,
    source_id: &str,
) -> Value {
    json!({
        "source_id": source_id,
        "inbox_id": inbox_id,
        "contact_id": contact_id,
        "status": "open",
        "custom_attributes": {
            "tandem_handoff_id": h.handoff_id,
            "tandem_conversation_id": h.conversation_id,
            "tandem_channel": h.channel,
            "tandem_priority": h.reason.priority,
            "tandem_category": h.reason.category,
        },
    })
}

/// The briefing note.
pub(crate) fn briefing(h: &HandoffRequested) -> String {
    let category = h.reason.category.as_deref().unwrap_or("general");
    let mut out = format!(
        "**Handoff: {category} · {} priority** (queue {})\n\n",
        h.reason.priority, h.reason.target
    );
    let why: Vec<String> = h
        .reason
        .triggers
        .iter()
        .map(|t| format!("{} “{}”", t.code, t.evidence))
        .collect();
    out.push_str(&format!(
        "**Why:** {}\n**Intent:** {} · **Sentiment:** {}\n",
        if why.is_empty() {
            "requested".to_owned()
        } else {
            why.join(", ")
        },
        h.summary.intent.as_deref().unwrap_or(category),
        h.summary.sentiment
    ));
    let segment = h
        .customer
        .segment
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    out.push_str(&format!(
        "**Customer:** {}{segment} · id `{}`\n",
        customer_name(h),
        h.customer.id
    ));
    for i in &h.customer.identities {
        let mark = if i.verified { " ✓" } else { "" };
        out.push_str(&format!("- {}: {}{mark}\n", i.channel, i.external_id));
    }
    let window = if !h.window.open {
        "window closed".to_owned()
    } else if let Some(until) = &h.window.expires_at {
        format!("window open until {until}")
    } else {
        "window open".to_owned()
    };
    out.push_str(&format!("**Channel:** {} · {window}\n\n", h.channel));
    if !h.summary.text.trim().is_empty() {
        out.push_str(&format!("**Summary:** {}\n\n", h.summary.text));
    }
    out.push_str("**Bot tried:**\n");
    if h.summary.attempted.is_empty() {
        out.push_str("- nothing yet\n");
    }
    for a in &h.summary.attempted {
        out.push_str(&format!("- {a}\n"));
    }
    out.push_str(&format!("**Stalled at:** {}\n\n", h.summary.status));
    out.push_str(&format!(
        "Handoff `{}` · conversation `{}`. Reply normally to answer the customer; private notes stay here. Resolve the conversation to hand it back to the bot.",
        h.handoff_id, h.conversation_id
    ));
    clip(&out, MAX_NOTE_CHARS)
}

fn who(l: &TranscriptLine) -> &'static str {
    match l.from.as_str() {
        "customer" => "Customer",
        "bot" => "Bot",
        "agent" => "Agent",
        _ => "System",
    }
}

/// The transcript note, newest lines kept when it is too long.
pub(crate) fn transcript(lines: &[TranscriptLine]) -> Option<String> {
    if lines.is_empty() {
        return None;
    }
    let mut rendered: Vec<String> = Vec::new();
    let mut total = 0;
    for l in lines.iter().rev() {
        let line = format!("**{}** ({}, {}): {}", who(l), l.channel, l.at, l.text);
        total += line.chars().count() + 1;
        if total > MAX_NOTE_CHARS - 100 && !rendered.is_empty() {
            rendered.push("…".to_owned());
            break;
        }
        rendered.push(clip(&line, MAX_NOTE_CHARS - 100));
    }
    rendered.push("**Transcript**".to_owned());
    rendered.reverse();
    Some(rendered.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tandem_sdk::handoff::{Customer, Identity, Reason, Summary, Trigger, Window};

    fn sample() -> HandoffRequested {
        HandoffRequested {
            version: "1".into(),
            kind: "handoff.requested".into(),
            handoff_id: "h-1".into(),
            conversation_id: "conv-1".into(),
            created_at: "2026-01-01T10:00:00Z".into(),
            channel: "whatsapp".into(),
            customer: Customer {
                id: "cust-1".into(),
                display_name: Some("Lena Müller".into()),
                segment: Some("vip".into()),
                attributes: BTreeMap::new(),
                identities: vec![Identity {
                    channel: "whatsapp".into(),
                    external_id: "4915112345678".into(),
                    verified: true,
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
                attempted: vec!["answered: refund policy".into()],
                status: "asked for a refund".into(),
                sentiment: "negative".into(),
                text: "Lena wants a refund.".into(),
            },
            window: Window {
                open: true,
                expires_at: None,
            },
            transcript: (0..400)
                .map(|i| TranscriptLine {
                    from: "customer".into(),
                    channel: "whatsapp".into(),
                    at: "2026-01-01T10:00:00Z".into(),
                    text: format!("line {i} {}", "x".repeat(100)),
                    media: None,
                })
                .collect(),
        }
    }

    #[test]
    fn briefing_and_bodies() {
        let h = sample();
        let b = briefing(&h);
        for needle in [
            "revenue",
            "high priority",
            "keyword “refund”",
            "Lena Müller (vip)",
            "4915112345678 ✓",
            "window open",
            "Lena wants a refund.",
            "answered: refund policy",
            "Stalled at",
        ] {
            assert!(b.contains(needle), "missing {needle}: {b}");
        }
        let c = contact(&h, 12);
        assert_eq!(c["identifier"], "cust-1");
        assert_eq!(c["inbox_id"], 12);
        let conv = conversation(&h, 12, 901, "src");
        assert_eq!(conv["custom_attributes"]["tandem_handoff_id"], "h-1");
        assert_eq!(conv["status"], "open");
        // The request fixtures' required keys are all sent.
        for (fixture, ours) in [
            (
                include_str!("../tests/fixtures/create_contact_request.json"),
                &c,
            ),
            (
                include_str!("../tests/fixtures/create_conversation_request.json"),
                &conv,
            ),
        ] {
            let f: Value = serde_json::from_str(fixture).unwrap();
            for key in f
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "phone_number")
            {
                assert!(ours.get(key).is_some(), "{key} missing from {ours}");
            }
        }
    }

    #[test]
    fn transcript_keeps_the_newest_lines() {
        let t = transcript(&sample().transcript).unwrap();
        assert!(t.chars().count() <= MAX_NOTE_CHARS);
        assert!(t.contains("line 399"));
        assert!(!t.contains("line 0 "));
        assert!(transcript(&[]).is_none());
    }
}
