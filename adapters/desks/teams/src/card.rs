//! Rendering handoff documents for Teams: the Adaptive Card briefing that starts a
//! handoff's thread (with Accept / Resolve / Return-to-bot `Action.Submit` buttons), the
//! plain-text relays of later customer messages and the notes Tandem posts in the thread.
//!
//! Relays and notes go out with `textFormat: plain`, so customer text cannot format,
//! link or mention anything; card text is clipped to keep the card under the connector's
//! size limit.

use serde_json::{Value, json};
use tandem_sdk::handoff::{HandoffClosed, HandoffRequested, HandoffUpdated, TranscriptLine};

/// The `tandem` value of the Accept button.
pub const ACTION_ACCEPT: &str = "accept";
/// The `tandem` value of the Resolve button.
pub const ACTION_RESOLVE: &str = "resolve";
/// The `tandem` value of the Return-to-bot button.
pub const ACTION_RELEASE: &str = "release";

/// The Adaptive Card content type.
pub(crate) const CARD_CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";
/// How many of the last transcript lines the card shows.
pub(crate) const CARD_TRANSCRIPT_LINES: usize = 8;
/// Longest text of one relay or note (the connector refuses activities over ~28 KB).
pub(crate) const MAX_TEXT_CHARS: usize = tandem_channel_teams::MAX_TEXT_LEN;
/// Longest text of one card text block or fact.
const MAX_BLOCK_CHARS: usize = 1_000;

/// The first `max` characters of `text`, with `…` when cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn priority_mark(priority: &str) -> &'static str {
    match priority {
        "immediate" => "🔴",
        "high" => "🟠",
        "medium" => "🟡",
        _ => "⚪",
    }
}

fn customer_name(h: &HandoffRequested) -> String {
    h.customer
        .display_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "Unknown customer".to_owned())
}

/// `text` with the Markdown that card text blocks and facts render (emphasis, lists,
/// headings, links) escaped: customer-written text shows as written, and a customer can't
/// dress a link up as something else in the agent's briefing.
pub(crate) fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '[' | ']' | '#' | '`' | '>') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn text_block(text: &str) -> Value {
    json!({"type": "TextBlock", "text": escape_markdown(&clip(text, MAX_BLOCK_CHARS)), "wrap": true})
}

fn fact(title: &str, value: &str) -> Value {
    json!({"title": title, "value": escape_markdown(&clip(value, MAX_BLOCK_CHARS))})
}

/// The notification text of the thread's first post.
pub(crate) fn summary_text(h: &HandoffRequested) -> String {
    let category = h.reason.category.as_deref().unwrap_or("handoff");
    format!(
        "Handoff ({category}, {} priority): {} on {}",
        h.reason.priority,
        customer_name(h),
        h.channel
    )
}

/// The Adaptive Card briefing of a handoff (the `content` of the attachment).
pub(crate) fn briefing(h: &HandoffRequested) -> Value {
    let category = h.reason.category.as_deref().unwrap_or("general");
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": clip(&format!("{} {category} · {} priority", priority_mark(&h.reason.priority), h.reason.priority), 150),
        "size": "Medium",
        "weight": "Bolder",
        "wrap": true,
    })];
    let reasons: Vec<String> = h
        .reason
        .triggers
        .iter()
        .map(|t| format!("{} “{}”", t.code, t.evidence))
        .collect();
    let why = if reasons.is_empty() {
        "requested".to_owned()
    } else {
        reasons.join(", ")
    };
    body.push(text_block(&format!("Why: {why}")));

    let segment = h
        .customer
        .segment
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let identities: Vec<String> = h
        .customer
        .identities
        .iter()
        .map(|i| {
            let mark = if i.verified { " ✓" } else { "" };
            format!("{}: {}{mark}", i.channel, i.external_id)
        })
        .collect();
    let window = if !h.window.open {
        "window closed".to_owned()
    } else if let Some(until) = &h.window.expires_at {
        format!("window open until {until}")
    } else {
        "window open".to_owned()
    };
    let tried = if h.summary.attempted.is_empty() {
        "nothing yet".to_owned()
    } else {
        h.summary.attempted.join("; ")
    };
    body.push(json!({
        "type": "FactSet",
        "facts": [
            fact("Queue", &h.reason.target),
            fact("Category", category),
            fact("Priority", &h.reason.priority),
            fact("Customer", &format!("{}{segment}", customer_name(h))),
            fact("Identities", &if identities.is_empty() { "none".to_owned() } else { identities.join(", ") }),
            fact("Channel", &format!("{} · {window}", h.channel)),
            fact("Intent", h.summary.intent.as_deref().unwrap_or(category)),
            fact("Sentiment", &h.summary.sentiment),
            fact("Bot tried", &tried),
            fact("Stalled at", &h.summary.status),
        ]
    }));
    if !h.summary.text.trim().is_empty() {
        body.push(text_block(&format!("Summary: {}", h.summary.text)));
    }
    let skip = h.transcript.len().saturating_sub(CARD_TRANSCRIPT_LINES);
    let lines: Vec<&TranscriptLine> = h.transcript.iter().skip(skip).collect();
    if !lines.is_empty() {
        body.push(json!({
            "type": "TextBlock",
            "text": "Last messages",
            "weight": "Bolder",
            "separator": true,
            "wrap": true,
        }));
        for l in lines {
            body.push(text_block(&line(l)));
        }
    }
    body.push(json!({
        "type": "TextBlock",
        "text": clip(&format!(
            "Handoff {} · conversation {} · {} · replies in this thread go to the customer",
            h.handoff_id, h.conversation_id, h.created_at
        ), MAX_BLOCK_CHARS),
        "size": "Small",
        "isSubtle": true,
        "wrap": true,
    }));
    json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
        "actions": [
            button(ACTION_ACCEPT, "Accept", &h.handoff_id),
            button(ACTION_RESOLVE, "Resolve", &h.handoff_id),
            button(ACTION_RELEASE, "Return to bot", &h.handoff_id),
        ],
    })
}

fn button(action: &str, title: &str, handoff_id: &str) -> Value {
    json!({
        "type": "Action.Submit",
        "title": title,
        "data": {"tandem": action, "handoff_id": handoff_id},
    })
}

/// The first activity of a handoff's thread: the summary text and the briefing card.
pub(crate) fn briefing_activity(h: &HandoffRequested, bot_id: &str) -> Value {
    json!({
        "type": "message",
        "from": {"id": bot_id},
        "text": summary_text(h),
        "textFormat": "plain",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": briefing(h)}],
    })
}

/// A plain-text reply in a thread.
pub(crate) fn text_activity(text: &str, bot_id: &str) -> Value {
    json!({
        "type": "message",
        "from": {"id": bot_id},
        "text": text,
        "textFormat": "plain",
    })
}

/// One transcript line as text.
pub(crate) fn line(l: &TranscriptLine) -> String {
    let who = match l.from.as_str() {
        "customer" => "Customer",
        "bot" => "Bot",
        "agent" => "Agent",
        _ => "System",
    };
    format!("{who} ({}): {}", l.channel, l.text)
}

/// The note of a closed handoff.
pub(crate) fn closed_note(c: &HandoffClosed) -> String {
    if c.reason == "rerouted" {
        "Tandem moved this handoff to a queue another desk serves (nobody accepted it in time); replies here no longer reach the customer.".to_owned()
    } else {
        format!(
            "Tandem closed this handoff ({}). The bot has the conversation again; replies here no longer reach the customer.",
            c.reason.replace('_', " ")
        )
    }
}

/// The note of a routing change: "Assigned to <name>" or "Re-routed to <queue>".
pub(crate) fn updated_note(u: &HandoffUpdated) -> String {
    match (u.change.as_str(), &u.assignee) {
        ("assigned", Some(agent)) => format!(
            "Assigned to {} by routing (queue {}).",
            agent
                .name
                .as_deref()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or(&agent.id),
            u.target.as_deref().unwrap_or("any")
        ),
        ("transferred", Some(agent)) => format!(
            "Transferred to {}: only they (or a supervisor) can reply now.",
            agent
                .name
                .as_deref()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or(&agent.id)
        ),
        ("transferred", None) => format!(
            "Transferred back to the {} queue: the next agent can take it.",
            u.target.as_deref().unwrap_or("default")
        ),
        _ => format!(
            "Not accepted in time: re-routed to {}.",
            u.target.as_deref().unwrap_or("the default queue")
        ),
    }
}

/// Splits `text` into pieces of at most `max` characters.
pub(crate) fn split_chars(text: &str, max: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars
        .chunks(max.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tandem_sdk::handoff::{Agent, Customer, Identity, Reason, Summary, Trigger, Window};

    pub(crate) fn sample() -> HandoffRequested {
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
                intent: Some("refund".into()),
                attempted: vec!["answered: refund policy".into()],
                status: "asked for a refund of order 12345".into(),
                sentiment: "negative".into(),
                text: "Lena wants a refund for order 12345.".into(),
            },
            window: Window {
                open: true,
                expires_at: Some("2026-01-02T10:00:00Z".into()),
            },
            transcript: (0..12)
                .map(|i| TranscriptLine {
                    from: if i % 2 == 0 { "customer" } else { "bot" }.into(),
                    channel: "whatsapp".into(),
                    at: "2026-01-01T10:00:00Z".into(),
                    text: format!("line {i}"),
                    media: None,
                })
                .collect(),
        }
    }

    #[test]
    fn briefing_carries_what_the_agent_needs() {
        let h = sample();
        let card = briefing(&h);
        let text = card.to_string();
        for needle in [
            "revenue · high priority",
            "Why: keyword “refund”",
            "\"Queue\"",
            "billing",
            "Lena Müller (vip)",
            "whatsapp: 4915112345678 ✓",
            "whatsapp · window open until 2026-01-02T10:00:00Z",
            "refund",
            "negative",
            "answered: refund policy",
            "asked for a refund of order 12345",
            "Summary: Lena wants a refund for order 12345.",
            "Customer (whatsapp): line 10",
            "Bot (whatsapp): line 11",
        ] {
            assert!(text.contains(needle), "card lacks {needle}: {text}");
        }
        // Only the last lines.
        assert!(!text.contains("line 3\""), "{text}");
        assert!(text.contains("line 4"));
        assert_eq!(card["type"], "AdaptiveCard");
        let actions = card["actions"].as_array().unwrap();
        let data: Vec<(&str, &str)> = actions
            .iter()
            .map(|a| {
                assert_eq!(a["type"], "Action.Submit");
                (
                    a["data"]["tandem"].as_str().unwrap(),
                    a["data"]["handoff_id"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            data,
            [("accept", "h-1"), ("resolve", "h-1"), ("release", "h-1")]
        );
        let activity = briefing_activity(&h, "28:app");
        assert_eq!(activity["attachments"][0]["contentType"], CARD_CONTENT_TYPE);
        assert_eq!(activity["from"]["id"], "28:app");
        assert!(activity["text"].as_str().unwrap().contains("Lena Müller"));
    }

    #[test]
    fn customer_markdown_is_shown_as_written() {
        let mut h = sample();
        h.summary.text = "pay at [your bank](http://evil.example) **now**".into();
        let card = briefing(&h).to_string();
        assert!(
            !card.contains("[your bank](http"),
            "no disguised link: {card}"
        );
        assert_eq!(
            escape_markdown("[a](b) *c* _d_ # e"),
            r"\[a\](b) \*c\* \_d\_ \# e"
        );
        assert_eq!(
            escape_markdown("order 12345, thanks."),
            "order 12345, thanks."
        );
    }

    #[test]
    fn long_text_is_clipped_and_split() {
        let mut h = sample();
        h.summary.text = "x".repeat(5_000);
        let card = briefing(&h).to_string();
        assert!(card.contains('…'));
        assert!(card.len() < 8_000);
        let parts = split_chars(&"y".repeat(MAX_TEXT_CHARS + 5), MAX_TEXT_CHARS);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].len(), 5);
    }

    #[test]
    fn notes_say_what_changed() {
        let mut u = HandoffUpdated {
            version: "1".into(),
            kind: "handoff.updated".into(),
            handoff_id: "h-1".into(),
            conversation_id: "conv-1".into(),
            change: "assigned".into(),
            target: Some("billing".into()),
            priority: None,
            assignee: Some(Agent {
                id: "a-1".into(),
                name: Some("Jonas".into()),
            }),
            at: "2026-01-01T10:00:00Z".into(),
        };
        assert!(updated_note(&u).starts_with("Assigned to Jonas"));
        u.change = "rerouted".into();
        u.assignee = None;
        assert_eq!(
            updated_note(&u),
            "Not accepted in time: re-routed to billing."
        );
        let c = HandoffClosed {
            version: "1".into(),
            kind: "handoff.closed".into(),
            handoff_id: "h-1".into(),
            conversation_id: "conv-1".into(),
            reason: "timed_out".into(),
        };
        assert!(closed_note(&c).contains("(timed out)"));
    }
}
