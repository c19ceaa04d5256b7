//! Customer satisfaction: "How did we do?" with 1–5, and a free-text follow-up for low
//! scores. After a resolved handoff the answer is stored with the handoff; in a
//! conversation the bot handled alone, the customer thanking the bot ([`bot_survey_due`])
//! gets the same survey once, its answer stored as `ConversationState::bot_csat`. The
//! dashboard compares the two (`crate::health`).

use crate::engine::handoff::ms;
use crate::records::{ConversationState, Csat, CsatPending, CsatStage};
use tandem_model::{Button, OutboundContent, Timestamp};

/// Scores at or below this get the follow-up question.
pub const LOW_SCORE: u8 = 2;

/// The survey question, with one button per score.
pub fn prompt() -> OutboundContent {
    OutboundContent::with_buttons(
        "How did we do? Rate this conversation from 1 (poor) to 5 (great).",
        (1..=5)
            .map(|n| Button {
                title: n.to_string(),
                payload: format!("csat:{n}"),
            })
            .collect(),
    )
}

/// The `handoff_id` of a pending survey about the bot's own handling (no handoff).
pub const BOT_SURVEY: &str = "bot";

/// The intent (classifier's or bot's) of a customer thanking.
pub const THANKS_INTENT: &str = "thanks";

/// Lowest classifier confidence at which a thanks asks for the bot-only survey.
pub const THANKS_MIN_CONFIDENCE: f32 = 0.6;

/// Whether a message the bot answers should be followed by the bot-only survey: the
/// customer thanks the bot (classifier intent `thanks` at [`THANKS_MIN_CONFIDENCE`], or
/// without a classifier the bot's own `thanks` intent) after at least one earlier
/// exchange, in a conversation that was never handed off and was not surveyed yet.
pub fn bot_survey_due(
    state: &ConversationState,
    earlier_entries: u64,
    classifier: Option<(&str, f32)>,
    bot_intent: Option<&str>,
) -> bool {
    let thanks = match classifier {
        Some((intent, confidence)) => {
            intent == THANKS_INTENT && confidence >= THANKS_MIN_CONFIDENCE
        }
        None => bot_intent == Some(THANKS_INTENT),
    };
    thanks
        && earlier_entries >= 2
        && state.handoff.is_none()
        && state.past_handoffs.is_empty()
        && state.bot_csat.is_none()
        && state.csat_pending.is_none()
}

/// Starts the survey for `handoff_id` (a closed handoff of this conversation, or
/// [`BOT_SURVEY`]).
pub fn start(state: &mut ConversationState, handoff_id: &str) {
    state.csat_pending = Some(CsatPending {
        handoff_id: handoff_id.to_owned(),
        awaiting: CsatStage::Score,
    });
}

/// Takes the customer's answer to a pending survey. Returns the reply when `text` answered
/// it; `None` (and the survey dropped) when the customer moved on to something else.
pub fn answer(
    state: &mut ConversationState,
    text: &str,
    now: Timestamp,
) -> Option<OutboundContent> {
    let pending = state.csat_pending.clone()?;
    let slot = if pending.handoff_id == BOT_SURVEY {
        Some(&mut state.bot_csat)
    } else {
        state
            .past_handoffs
            .iter_mut()
            .rev()
            .find(|h| h.id == pending.handoff_id)
            .map(|h| &mut h.csat)
    };
    let Some(slot) = slot else {
        state.csat_pending = None;
        return None;
    };
    let csat = slot.get_or_insert_with(Csat::default);
    match pending.awaiting {
        CsatStage::Score => {
            let Some(score) = parse_score(text) else {
                state.csat_pending = None;
                return None;
            };
            csat.score = Some(score);
            csat.at_ms = Some(ms(now));
            if score <= LOW_SCORE {
                state.csat_pending = Some(CsatPending {
                    awaiting: CsatStage::Comment,
                    ..pending
                });
                Some(OutboundContent::text(
                    "Thank you. What could we have done better?",
                ))
            } else {
                state.csat_pending = None;
                Some(OutboundContent::text("Thank you for your feedback!"))
            }
        }
        CsatStage::Comment => {
            csat.comment = Some(text.trim().chars().take(2000).collect());
            state.csat_pending = None;
            Some(OutboundContent::text(
                "Thank you, we'll use this to improve.",
            ))
        }
    }
}

/// A score from a button payload (`csat:4`) or a typed answer (`4`, `4/5`, `5 stars`).
pub fn parse_score(text: &str) -> Option<u8> {
    let t = text.trim();
    let t = t.strip_prefix("csat:").unwrap_or(t);
    let first = t.chars().next()?;
    let rest: String = t.chars().skip(1).collect();
    let rest = rest.trim().to_lowercase();
    let tail_ok =
        rest.is_empty() || rest == "/5" || rest.starts_with("star") || rest == "!" || rest == ".";
    match first.to_digit(10) {
        Some(d @ 1..=5) if tail_ok => Some(d as u8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{HandoffState, HandoffStatus};

    fn state_with_closed_handoff() -> ConversationState {
        let mut s = ConversationState::default();
        s.past_handoffs.push(HandoffState {
            id: "ho_1".into(),
            desk: "webhook".into(),
            status: HandoffStatus::Resolved,
            category: None,
            priority: None,
            target: None,
            agent: None,
            transitions: vec![],
            csat: None,
            sla_breached_at_ms: None,
            assignee: None,
            routing: vec![],
        });
        start(&mut s, "ho_1");
        s
    }

    #[test]
    fn scores_parse() {
        assert_eq!(parse_score("csat:4"), Some(4));
        assert_eq!(parse_score(" 5 "), Some(5));
        assert_eq!(parse_score("3/5"), Some(3));
        assert_eq!(parse_score("1 star"), Some(1));
        assert_eq!(parse_score("6"), None);
        assert_eq!(parse_score("12345"), None);
        assert_eq!(parse_score("where is my order"), None);
    }

    #[test]
    fn high_score_is_stored_and_closes_the_survey() {
        let mut s = state_with_closed_handoff();
        assert!(answer(&mut s, "csat:5", tandem_model::now()).is_some());
        assert_eq!(
            s.past_handoffs[0].csat.as_ref().and_then(|c| c.score),
            Some(5)
        );
        assert!(s.csat_pending.is_none());
    }

    #[test]
    fn low_score_asks_why_and_keeps_the_comment() {
        let mut s = state_with_closed_handoff();
        let reply = answer(&mut s, "1", tandem_model::now()).unwrap();
        assert!(reply.text.contains("better"));
        assert!(answer(&mut s, "the agent was slow", tandem_model::now()).is_some());
        let csat = s.past_handoffs[0].csat.clone().unwrap();
        assert_eq!(
            (csat.score, csat.comment.as_deref()),
            (Some(1), Some("the agent was slow"))
        );
        assert!(s.csat_pending.is_none());
    }

    #[test]
    fn a_bot_only_survey_is_stored_on_the_conversation() {
        let mut s = ConversationState::default();
        assert!(bot_survey_due(&s, 2, Some(("thanks", 0.9)), None));
        assert!(
            !bot_survey_due(&s, 0, Some(("thanks", 0.9)), None),
            "not on a first message"
        );
        assert!(!bot_survey_due(&s, 2, Some(("thanks", 0.4)), None));
        assert!(!bot_survey_due(
            &s,
            2,
            Some(("order_status", 0.9)),
            Some("thanks")
        ));
        assert!(
            bot_survey_due(&s, 2, None, Some("thanks")),
            "the bot's intent without a classifier"
        );
        start(&mut s, BOT_SURVEY);
        assert!(!bot_survey_due(&s, 4, Some(("thanks", 0.9)), None), "once");
        assert!(answer(&mut s, "csat:4", tandem_model::now()).is_some());
        assert_eq!(s.bot_csat.as_ref().and_then(|c| c.score), Some(4));
        assert!(s.csat_pending.is_none());
        assert!(
            !bot_survey_due(&s, 6, Some(("thanks", 0.9)), None),
            "answered already"
        );
        let handed_off = state_with_closed_handoff();
        assert!(!bot_survey_due(
            &ConversationState {
                csat_pending: None,
                ..handed_off
            },
            4,
            Some(("thanks", 0.9)),
            None
        ));
    }

    #[test]
    fn moving_on_drops_the_survey() {
        let mut s = state_with_closed_handoff();
        assert!(answer(&mut s, "where is my order?", tandem_model::now()).is_none());
        assert!(s.csat_pending.is_none());
    }
}
