//! The built-in, deterministic briefing summarizer: always available, offline, and the
//! fallback of any model-backed summarizer.

use async_trait::async_trait;
use tandem_core::ai::{AiCall, BriefingInput, BriefingSummary, Summarizer};
use tandem_model::{Party, TranscriptEntry};

/// Longest quoted customer text in a briefing.
const QUOTE_CHARS: usize = 120;

/// Summarizes from the conversation state, the decision and the transcript alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltinSummarizer;

#[async_trait]
impl Summarizer for BuiltinSummarizer {
    async fn summarize(&self, input: BriefingInput<'_>) -> BriefingSummary {
        summarize(input)
    }
}

/// The deterministic summary (also used as the fallback of other summarizers).
pub fn summarize(input: BriefingInput<'_>) -> BriefingSummary {
    let intent = input
        .state
        .last_intent
        .clone()
        .or_else(|| input.decision.category.clone());
    let attempted = attempted(input.transcript);
    let last_customer = input
        .transcript
        .iter()
        .rev()
        .find(|e| e.from == Party::Customer)
        .and_then(|e| e.content.text())
        .map(quote)
        .unwrap_or_default();
    let status = if input.state.fallback_count > 0 {
        format!(
            "The bot could not answer {} message(s) in a row; last: \"{last_customer}\"",
            input.state.fallback_count
        )
    } else if last_customer.is_empty() {
        "Waiting for an agent.".to_owned()
    } else {
        format!("Stalled on: \"{last_customer}\"")
    };
    let sentiment = trend(&input.state.sentiment_history).to_owned();
    let who = input.customer_name.unwrap_or("The customer");
    let about = intent
        .as_deref()
        .map(|i| i.replace('_', " "))
        .unwrap_or_else(|| "an unclear request".into());
    let why: Vec<String> = input
        .decision
        .reasons
        .iter()
        .map(|r| {
            if r.evidence.is_empty() {
                r.code.clone()
            } else {
                format!("{} ({})", r.code.replace('_', " "), r.evidence)
            }
        })
        .collect();
    let mut text = format!(
        "{who} needs help with {about}. The bot gave {} answer(s) before handing off because of {}. Sentiment: {sentiment}.",
        attempted.len(),
        if why.is_empty() {
            "an explicit request".to_owned()
        } else {
            why.join(", ")
        },
    );
    if !last_customer.is_empty() {
        text.push_str(&format!(" Last message: \"{last_customer}\""));
    }
    BriefingSummary {
        intent,
        attempted,
        status,
        sentiment,
        text,
        call: Some(AiCall::new("builtin")),
    }
}

fn attempted(transcript: &[TranscriptEntry]) -> Vec<String> {
    let mut out = Vec::new();
    for e in transcript.iter().filter(|e| e.from == Party::Bot) {
        if let Some(t) = e.content.text() {
            out.push(quote(t));
        }
        if !e.buttons.is_empty() {
            let titles: Vec<&str> = e.buttons.iter().map(|b| b.title.as_str()).collect();
            out.push(format!("Offered buttons: {}", titles.join(", ")));
        }
    }
    // The newest attempts matter most; keep the briefing short.
    let skip = out.len().saturating_sub(5);
    out.split_off(skip)
}

/// `negative`, `worsening`, `positive` or `neutral` from the newest scores.
fn trend(history: &[f32]) -> &'static str {
    let Some(&last) = history.last() else {
        return "neutral";
    };
    let n = history.len();
    if n >= 3 && last < -0.05 && history[n - 3] > history[n - 2] && history[n - 2] > last {
        "worsening"
    } else if last <= -0.3 {
        "negative"
    } else if last >= 0.3 {
        "positive"
    } else {
        "neutral"
    }
}

fn quote(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= QUOTE_CHARS {
        one_line
    } else {
        let mut t: String = one_line.chars().take(QUOTE_CHARS - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_core::policy::Decision;
    use tandem_core::store::{ConversationState, Reason};
    use tandem_model::{Button, ChannelId, Content, ConversationId, CustomerId, MessageId, now};

    fn entry(from: Party, text: &str, buttons: Vec<Button>) -> TranscriptEntry {
        TranscriptEntry {
            id: MessageId::generate(),
            conversation_id: ConversationId::new("c"),
            customer_id: CustomerId::new("u"),
            seq: 0,
            from,
            channel: ChannelId::new("webchat"),
            at: now(),
            content: Content::Text { text: text.into() },
            buttons,
            platform_message_id: None,
        }
    }

    #[test]
    fn briefing_names_intent_attempts_stall_and_trend() {
        let transcript = vec![
            entry(Party::Customer, "where is my order", vec![]),
            entry(Party::Bot, "What's your order number?", vec![]),
            entry(
                Party::Customer,
                "I already told you, this is useless",
                vec![],
            ),
            entry(
                Party::Bot,
                "Sorry, I didn't get that.",
                vec![Button {
                    title: "Talk to a person".into(),
                    payload: "human".into(),
                }],
            ),
            entry(Party::Customer, "I want a refund now", vec![]),
        ];
        let state = ConversationState {
            last_intent: Some("order_status".into()),
            fallback_count: 1,
            sentiment_history: vec![0.0, -0.4, -0.6],
            ..ConversationState::default()
        };
        let decision = Decision {
            escalate: true,
            reasons: vec![Reason {
                code: "keyword".into(),
                category: Some("revenue".into()),
                evidence: "refund".into(),
            }],
            category: Some("revenue".into()),
            ..Decision::default()
        };
        let s = summarize(BriefingInput {
            transcript: &transcript,
            state: &state,
            decision: &decision,
            customer_name: Some("Ada"),
        });
        assert_eq!(s.intent.as_deref(), Some("order_status"));
        assert_eq!(s.sentiment, "worsening");
        assert!(s.attempted.iter().any(|a| a.contains("order number")));
        assert!(
            s.attempted
                .iter()
                .any(|a| a == "Offered buttons: Talk to a person")
        );
        assert!(s.status.contains("I want a refund now"));
        assert!(
            s.text.starts_with("Ada needs help with order status."),
            "{}",
            s.text
        );
        assert!(s.text.contains("keyword (refund)"));
    }

    #[test]
    fn trend_labels() {
        assert_eq!(trend(&[]), "neutral");
        assert_eq!(trend(&[0.5]), "positive");
        assert_eq!(trend(&[-0.5]), "negative");
        assert_eq!(trend(&[0.2, -0.1, -0.2]), "worsening");
    }
}
