//! The conversation replay behind `tandem policy test`: each JSON line is a conversation;
//! its messages are folded through the same `understand` + `decide_message` the gateway
//! runs (same bot, same sentiment analyser, same policy), stopping at the first
//! escalation, and the decision is compared with the line's `expect`.
//!
//! Input line (docs/INTERFACE.md, plus optional `history`, `events`, `idle_secs`, `note`):
//!
//! ```json
//! {"id":"c1","customer":{"segment":"vip","attributes":{}},
//!  "messages":[{"text":"I was double billed!!","channel":"whatsapp","at":"2026-01-01T10:00:00Z"}],
//!  "history":[{"intent":"order_status","at":"2025-12-30T10:00:00Z"}],
//!  "events":[{"type":"payment_failed","at":"2026-01-01T08:00:00Z"}],
//!  "idle_secs":150,
//!  "expect":{"escalate":true,"category":"revenue","priority":"high","target":"billing",
//!            "at_message":0,"reasons":["keyword"],"offers":["human_button"],"intent":"billing_problem"}}
//! ```
//!
//! `events` are evaluated first (at the latest event's time), then the messages, then,
//! when nothing escalated and `idle_secs` is set, the customer's silence after the last
//! bot reply. Output: one JSON line per conversation; the returned [`Summary`] counts
//! expectations (lines without `expect` are not counted; a line that cannot be read counts
//! as failed), which `tandem policy test` prints as `N passed, M failed`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;
use tandem_core::ai::{Bot, IntentClassifier, SentimentAnalyzer};
use tandem_core::policy::{
    BusinessEvent, Decision, EscalationPolicy, EventsInput, InactivityInput, PastContact,
};
use tandem_core::store::{ConversationState, CustomerRecord, Reason};
use tandem_core::turn::{BotScope, MessageFacts, decide_message, understand};
use tandem_model::{ChannelId, CustomerId, Timestamp};
use time::format_description::well_known::Rfc3339;

/// One conversation to replay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// The conversation's id, echoed in the output.
    pub id: String,
    /// Free text for the reader of the test file.
    #[serde(default)]
    pub note: Option<String>,
    /// What the conversation is about (an intent name, or `routine`): `tandem policy
    /// eval` reports its scores per label.
    #[serde(default)]
    pub label: Option<String>,
    /// The customer.
    #[serde(default)]
    pub customer: CaseCustomer,
    /// Customer messages, in order.
    #[serde(default)]
    pub messages: Vec<CaseMessage>,
    /// The customer's earlier conversations (for `repeat_contact`).
    #[serde(default)]
    pub history: Vec<PastContact>,
    /// Business events about the customer (for `event`).
    #[serde(default)]
    pub events: Vec<BusinessEvent>,
    /// Seconds of silence after the bot's last reply (for `inactivity`).
    #[serde(default)]
    pub idle_secs: Option<u64>,
    /// What the decision must be.
    #[serde(default)]
    pub expect: Option<Expect>,
}

/// The customer of a [`Case`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseCustomer {
    /// Segment (`vip`, `free`, ...).
    #[serde(default)]
    pub segment: Option<String>,
    /// Attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// One customer message of a [`Case`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseMessage {
    /// The text.
    pub text: String,
    /// The channel instance (default `webchat`).
    #[serde(default)]
    pub channel: Option<String>,
    /// When sent, RFC 3339 (default: 30 s after the previous message).
    #[serde(default)]
    pub at: Option<String>,
}

/// Expectations; every field given must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Whether the conversation escalates.
    pub escalate: Option<bool>,
    /// The chosen category.
    pub category: Option<String>,
    /// The chosen priority.
    pub priority: Option<String>,
    /// The chosen target.
    pub target: Option<String>,
    /// The index of the message that escalated.
    pub at_message: Option<usize>,
    /// Trigger codes that must be among the reasons.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Offer kinds that must have been made (`rephrase`, `human_button`, `check_in`, `bot_first`).
    #[serde(default)]
    pub offers: Vec<String>,
    /// The bot's intent for the last message replayed (`null`: a fallback).
    #[serde(default, deserialize_with = "some")]
    pub intent: Option<Option<String>>,
}

fn some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// An offer made during the replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfferRecord {
    /// The message it answered.
    pub at_message: usize,
    /// `rephrase`, `human_button`, `check_in` or `bot_first`.
    pub kind: &'static str,
    /// The trigger code.
    pub code: String,
    /// The evidence.
    pub evidence: String,
}

/// The decision for one conversation, as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The conversation's id.
    pub id: String,
    /// Whether it escalated.
    pub escalate: bool,
    /// The chosen category.
    pub category: Option<String>,
    /// The chosen priority.
    pub priority: Option<String>,
    /// The target queue.
    pub target: Option<String>,
    /// The index of the message that escalated (`null` for an event-triggered handoff).
    pub at_message: Option<usize>,
    /// Every trigger that fired, strongest first.
    pub reasons: Vec<Reason>,
    /// Offers made while the bot kept the conversation.
    pub offers: Vec<OfferRecord>,
    /// The bot's intent for the last message replayed (`null` for a fallback).
    pub intent: Option<String>,
    /// Whether the expectations held (absent without `expect`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    /// What did not hold.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

/// Counts of conversations whose expectations held or failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Conversations whose expectations held.
    pub passed: usize,
    /// Conversations whose expectations failed, or lines that could not be read.
    pub failed: usize,
}

/// The hooks a replay decides with: the same ones the gateway is built with.
#[derive(Clone, Copy)]
pub struct Replay<'a> {
    /// The bot.
    pub bot: &'a dyn Bot,
    /// The sentiment analyser.
    pub sentiment: &'a dyn SentimentAnalyzer,
    /// The intent classifier (`None`: the policy goes by the bot's intent).
    pub intents: Option<&'a dyn IntentClassifier>,
    /// The policy.
    pub policy: &'a dyn EscalationPolicy,
}

fn start_time() -> Timestamp {
    time::macros::datetime!(2026-01-01 09:00 UTC)
}

fn parse_time(s: &str, what: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s, &Rfc3339).map_err(|e| format!("{what}: not an RFC 3339 time ({e})"))
}

impl Replay<'_> {
    /// Replays one conversation.
    pub async fn run_case(&self, case: &Case) -> Result<Outcome, String> {
        let mut out = Outcome {
            id: case.id.clone(),
            escalate: false,
            category: None,
            priority: None,
            target: None,
            at_message: None,
            reasons: Vec::new(),
            offers: Vec::new(),
            intent: None,
            passed: None,
            failures: Vec::new(),
        };
        let latest_event = case.events.iter().map(|e| e.at).max();
        let customer = CustomerRecord {
            id: CustomerId::new(format!("test_{}", case.id)),
            display_name: None,
            segment: case.customer.segment.clone(),
            attributes: case.customer.attributes.clone(),
            created_at: start_time(),
        };
        if let Some(now) = latest_event {
            let d = self.policy.evaluate_events(&EventsInput {
                customer: &customer,
                events: &case.events,
                now,
            });
            if d.escalate {
                apply(&mut out, d, None);
                return Ok(out);
            }
        }
        let mut state = ConversationState::default();
        let mut at = latest_event.map_or_else(start_time, |t| t + Duration::from_secs(60));
        for (i, msg) in case.messages.iter().enumerate() {
            if let Some(s) = &msg.at {
                at = parse_time(s, &format!("messages[{i}].at"))?;
            } else if i > 0 {
                at += Duration::from_secs(30);
            }
            let channel = ChannelId::new(msg.channel.clone().unwrap_or_else(|| "webchat".into()));
            let understanding = understand(
                self.bot,
                self.sentiment,
                self.intents,
                &state,
                &msg.text,
                BotScope {
                    channel: channel.as_str(),
                    conversation: "",
                },
            )
            .await;
            out.intent = understanding
                .answer
                .intent
                .clone()
                .filter(|_| !understanding.answer.fallback);
            let facts = MessageFacts {
                customer: &customer,
                channel: &channel,
                text: &msg.text,
                history: &case.history,
                now: at,
            };
            let d = decide_message(self.policy, &mut state, &facts, &understanding);
            if d.escalate {
                apply(&mut out, d, Some(i));
                return Ok(out);
            }
            record_offers(&mut out, &d, i);
        }
        if let (Some(idle), Some(last)) = (case.idle_secs, case.messages.len().checked_sub(1)) {
            let idle = Duration::from_secs(idle);
            let d = self.policy.evaluate_inactivity(&InactivityInput {
                state: &state,
                customer: &customer,
                idle,
                now: at + idle,
            });
            if d.escalate {
                apply(&mut out, d, Some(last));
            } else {
                record_offers(&mut out, &d, last);
            }
        }
        Ok(out)
    }

    /// Replays every JSON line of `input` and writes one JSON line per conversation to
    /// `out`; returns the count of expectations held and failed.
    pub async fn run(&self, input: &str, out: &mut dyn Write) -> std::io::Result<Summary> {
        let mut summary = Summary::default();
        for (n, line) in input.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let case = match serde_json::from_str::<Case>(line) {
                Ok(case) => case,
                Err(e) => {
                    summary.failed += 1;
                    let error = format!("not a conversation: {e}");
                    writeln!(
                        out,
                        "{}",
                        serde_json::json!({"line": n + 1, "error": error})
                    )?;
                    continue;
                }
            };
            let outcome = self.run_case(&case).await;
            let mut outcome = match outcome {
                Ok(o) => o,
                Err(error) => {
                    summary.failed += 1;
                    let line = serde_json::json!({"line": n + 1, "id": case.id, "error": error});
                    writeln!(out, "{line}")?;
                    continue;
                }
            };
            if let Some(expect) = &case.expect {
                outcome.failures = check(expect, &outcome);
                let passed = outcome.failures.is_empty();
                outcome.passed = Some(passed);
                if passed {
                    summary.passed += 1;
                } else {
                    summary.failed += 1;
                }
            }
            let json = serde_json::to_string(&outcome).map_err(std::io::Error::other)?;
            writeln!(out, "{json}")?;
        }
        Ok(summary)
    }
}

fn apply(out: &mut Outcome, d: Decision, at_message: Option<usize>) {
    out.escalate = true;
    out.category = d.category;
    out.priority = d.priority;
    out.target = d.target;
    out.at_message = at_message;
    out.reasons = d.reasons;
}

fn record_offers(out: &mut Outcome, d: &Decision, at_message: usize) {
    out.offers.extend(d.offers.iter().map(|o| OfferRecord {
        at_message,
        kind: o.kind.as_str(),
        code: o.reason.code.clone(),
        evidence: o.reason.evidence.clone(),
    }));
}

/// What of `expect` does not hold for `got`.
pub fn check(expect: &Expect, got: &Outcome) -> Vec<String> {
    let mut failures = Vec::new();
    let mut eq = |what: &str, want: Option<&str>, have: Option<&str>| {
        if let Some(want) = want
            && have != Some(want)
        {
            failures.push(format!(
                "{what}: expected {want:?}, got {}",
                have.map_or("none".into(), |h| format!("{h:?}"))
            ));
        }
    };
    eq(
        "category",
        expect.category.as_deref(),
        got.category.as_deref(),
    );
    eq(
        "priority",
        expect.priority.as_deref(),
        got.priority.as_deref(),
    );
    eq("target", expect.target.as_deref(), got.target.as_deref());
    if let Some(want) = expect.escalate
        && want != got.escalate
    {
        failures.push(format!("escalate: expected {want}, got {}", got.escalate));
    }
    if let Some(want) = expect.at_message
        && got.at_message != Some(want)
    {
        failures.push(format!(
            "at_message: expected {want}, got {:?}",
            got.at_message
        ));
    }
    for code in &expect.reasons {
        if !got.reasons.iter().any(|r| &r.code == code) {
            failures.push(format!("reasons: expected {code:?} among them"));
        }
    }
    for kind in &expect.offers {
        if !got.offers.iter().any(|o| o.kind == kind) {
            failures.push(format!("offers: expected {kind:?} among them"));
        }
    }
    if let Some(want) = &expect.intent
        && *want != got.intent
    {
        failures.push(format!("intent: expected {want:?}, got {:?}", got.intent));
    }
    failures
}
