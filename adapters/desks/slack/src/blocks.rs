//! Rendering handoff documents as Slack messages: the Block Kit briefing of the root
//! message (readable in three seconds), the transcript as thread replies chunked to Slack's
//! limits, and the one-line relays of later customer messages.
//!
//! Customer-supplied text is escaped (`&`, `<`, `>`) so it cannot ping channels or users.

use serde_json::{Value, json};
use tandem_sdk::handoff::{HandoffRequested, TranscriptLine};

/// `action_id` of the Accept button.
pub const ACTION_ACCEPT: &str = "tandem_accept";
/// `action_id` of the Resolve button.
pub const ACTION_RESOLVE: &str = "tandem_resolve";
/// `action_id` of the Return-to-bot button.
pub const ACTION_RELEASE: &str = "tandem_release";
/// `block_id` of the buttons.
pub(crate) const ACTIONS_BLOCK: &str = "tandem_actions";

/// Longest text of one thread reply (Slack advises at most 4,000 characters).
pub(crate) const MAX_REPLY_CHARS: usize = 3_500;
/// Longest `mrkdwn` text of a section block (Slack's limit is 3,000).
const MAX_SECTION_CHARS: usize = 2_900;
/// Longest `plain_text` of a header block (Slack's limit is 150).
const MAX_HEADER_CHARS: usize = 150;

/// Escapes the three characters Slack treats as control sequences in message text.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The first `max` characters of `text`, with `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn section(text: String) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&text, MAX_SECTION_CHARS)}})
}

fn priority_mark(priority: &str) -> &'static str {
    match priority {
        "immediate" => "🔴",
        "high" => "🟠",
        "medium" => "🟡",
        _ => "⚪",
    }
}

/// The customer's display name, or a neutral placeholder.
fn customer_name(h: &HandoffRequested) -> String {
    h.customer
        .display_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "Unknown customer".to_owned())
}

/// The notification / screen-reader fallback of the root message.
pub(crate) fn fallback_text(h: &HandoffRequested) -> String {
    let category = h.reason.category.as_deref().unwrap_or("handoff");
    format!(
        "Handoff ({category}, {}): {} on {}",
        h.reason.priority,
        customer_name(h),
        h.channel
    )
}

/// The Block Kit briefing of a handoff, with the Accept / Resolve / Return-to-bot buttons.
pub(crate) fn briefing(h: &HandoffRequested) -> Value {
    let category = h.reason.category.as_deref().unwrap_or("general");
    let header = format!(
        "{} {} · {} priority",
        priority_mark(&h.reason.priority),
        category,
        h.reason.priority
    );
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": clip(&header, MAX_HEADER_CHARS), "emoji": true}
    })];

    let reasons: Vec<String> = h
        .reason
        .triggers
        .iter()
        .map(|t| format!("`{}` “{}”", escape(&t.code), escape(&t.evidence)))
        .collect();
    let reason = if reasons.is_empty() {
        "requested".to_owned()
    } else {
        reasons.join(", ")
    };
    blocks.push(section(format!(
        "*Why:* {reason}\n*Intent:* {} · *Sentiment:* {} · *Queue:* {}",
        escape(h.summary.intent.as_deref().unwrap_or(category)),
        escape(&h.summary.sentiment),
        escape(&h.reason.target),
    )));

    let segment = h
        .customer
        .segment
        .as_deref()
        .map(|s| format!(" ({})", escape(s)))
        .unwrap_or_default();
    let identities: Vec<String> = h
        .customer
        .identities
        .iter()
        .map(|i| {
            let mark = if i.verified { " ✓" } else { "" };
            format!("{}: {}{mark}", escape(&i.channel), escape(&i.external_id))
        })
        .collect();
    let window = if !h.window.open {
        "window closed".to_owned()
    } else if let Some(until) = &h.window.expires_at {
        format!("window open until {}", escape(until))
    } else {
        "window open".to_owned()
    };
    blocks.push(json!({
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": clip(&format!("*Customer*\n{}{segment}", escape(&customer_name(h))), 1_900)},
            {"type": "mrkdwn", "text": clip(&format!("*Channel*\n{} · {window}", escape(&h.channel)), 1_900)},
            {"type": "mrkdwn", "text": clip(&format!("*Identities*\n{}", if identities.is_empty() { "none".to_owned() } else { identities.join("\n") }), 1_900)},
            {"type": "mrkdwn", "text": clip(&format!("*Customer id*\n`{}`", escape(&h.customer.id)), 1_900)},
        ]
    }));

    if !h.summary.text.trim().is_empty() {
        blocks.push(section(format!("*Summary:* {}", escape(&h.summary.text))));
    }
    let tried = if h.summary.attempted.is_empty() {
        "nothing yet".to_owned()
    } else {
        h.summary
            .attempted
            .iter()
            .map(|a| format!("• {}", escape(a)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    blocks.push(section(format!(
        "*Bot tried:*\n{tried}\n*Stalled at:* {}",
        escape(&h.summary.status)
    )));

    blocks.push(json!({
        "type": "actions",
        "block_id": ACTIONS_BLOCK,
        "elements": [
            button(ACTION_ACCEPT, "Accept", &h.handoff_id, Some("primary")),
            button(ACTION_RESOLVE, "Resolve", &h.handoff_id, None),
            button(ACTION_RELEASE, "Return to bot", &h.handoff_id, Some("danger")),
        ]
    }));
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(&format!(
            "Handoff `{}` · conversation `{}` · {} · replies in this thread go to the customer",
            escape(&h.handoff_id), escape(&h.conversation_id), escape(&h.created_at)
        ), 1_900)}]
    }));
    Value::Array(blocks)
}

fn button(action_id: &str, label: &str, handoff_id: &str, style: Option<&str>) -> Value {
    let mut b = json!({
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label, "emoji": true},
        "value": handoff_id,
    });
    if let Some(style) = style {
        b["style"] = Value::String(style.to_owned());
    }
    b
}

/// The root's blocks once the handoff is over: the buttons replaced by a note.
pub(crate) fn settled(blocks: &Value, note: &str) -> Value {
    let mut out: Vec<Value> = blocks
        .as_array()
        .map(|b| {
            b.iter()
                .filter(|b| b["block_id"] != ACTIONS_BLOCK)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    out.push(
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(note, 1_900)}]}),
    );
    Value::Array(out)
}

/// One transcript line as thread text.
pub(crate) fn line(l: &TranscriptLine) -> String {
    let who = match l.from.as_str() {
        "customer" => "Customer",
        "bot" => "Bot",
        "agent" => "Agent",
        _ => "System",
    };
    format!("*{who}* ({}): {}", escape(&l.channel), escape(&l.text))
}

/// The transcript as thread replies of at most [`MAX_REPLY_CHARS`] characters each, lines
/// kept whole unless a single line is longer than that.
pub(crate) fn transcript_chunks(lines: &[TranscriptLine]) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::from("*Transcript*");
    let mut current_len = current.chars().count();
    for l in lines {
        let text = line(l);
        for piece in split_chars(&text, MAX_REPLY_CHARS - 1) {
            let len = piece.chars().count();
            if current_len + 1 + len > MAX_REPLY_CHARS && !current.is_empty() {
                chunks.push(std::mem::take(&mut current));
                current_len = 0;
            }
            if !current.is_empty() {
                current.push('\n');
                current_len += 1;
            }
            current.push_str(&piece);
            current_len += len;
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
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
    use tandem_sdk::handoff::{Customer, Identity, Reason, Summary, Trigger, Window};

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
                display_name: Some("Lena <Müller>".into()),
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
            transcript: vec![TranscriptLine {
                from: "customer".into(),
                channel: "whatsapp".into(),
                at: "2026-01-01T10:00:00Z".into(),
                text: "I want a refund <!channel>".into(),
                media: None,
            }],
        }
    }

    #[test]
    fn briefing_carries_what_the_agent_needs() {
        let h = sample();
        let blocks = briefing(&h);
        let text = blocks.to_string();
        for needle in [
            "revenue",
            "high priority",
            "refund",
            "Lena &lt;Müller&gt; (vip)",
            "4915112345678",
            "window open until",
            "Lena wants a refund",
            "answered: refund policy",
            "Stalled at",
            ACTION_ACCEPT,
            ACTION_RESOLVE,
            ACTION_RELEASE,
        ] {
            assert!(text.contains(needle), "missing {needle}: {text}");
        }
        let arr = blocks.as_array().unwrap();
        assert!(arr.len() <= 50);
        assert_eq!(arr[0]["type"], "header");
        let actions = arr.iter().find(|b| b["type"] == "actions").unwrap();
        for el in actions["elements"].as_array().unwrap() {
            assert_eq!(el["value"], "h-1");
        }
        assert!(fallback_text(&h).contains("revenue"));
        let done = settled(&blocks, "Resolved");
        assert!(!done.to_string().contains(ACTION_ACCEPT));
        assert!(done.to_string().contains("Resolved"));
    }

    #[test]
    fn customer_text_cannot_ping() {
        let l = &sample().transcript[0];
        assert!(line(l).contains("&lt;!channel&gt;"));
    }

    #[test]
    fn transcript_is_chunked_to_slack_limits() {
        let mut lines = Vec::new();
        for i in 0..60 {
            let mut l = sample().transcript[0].clone();
            l.text = format!("{i} {}", "x".repeat(200));
            lines.push(l);
        }
        let mut long = sample().transcript[0].clone();
        long.text = "y".repeat(9_000);
        lines.push(long);
        let chunks = transcript_chunks(&lines);
        assert!(chunks.len() > 3);
        for c in &chunks {
            assert!(c.chars().count() <= MAX_REPLY_CHARS, "{}", c.len());
        }
        let joined = chunks.concat();
        assert!(joined.contains("59 x"));
        assert_eq!(joined.matches('y').count(), 9_000);
    }
}
