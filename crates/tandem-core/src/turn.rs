//! Plans the turn for one customer message: transcript entries, state changes, the
//! escalation decision and the replies to send. Pure apart from calling the bot and
//! sentiment hooks; the router commits the result atomically.

use crate::ai::{Bot, BotQuestion, IntentClassifier, SentimentAnalyzer};
use crate::audit::AuditScope;
use crate::drafts::{self, DraftParts};
use crate::executor::Step;
use crate::router::Core;
use crate::store::DraftSource;
use crate::store::{
    ConversationRecord, ConversationState, CustomerRecord, Owner, PendingInbound, StoreError, Turn,
};
use crate::{csat, handoff};
use std::time::Instant;
use tandem_model::{Content, MessageId, OutboundContent, Party, Timestamp, TranscriptEntry};
use tandem_sdk::DeskOp;
use tracing::debug;

/// How a click on the "talk to a person" button reads to the bot and the policy.
pub const HUMAN_REQUEST_TEXT: &str = "I want to talk to a person";

/// What the customer is told when the platform delivered something nobody can read (a
/// message type the platform itself does not support, an unknown kind).
pub const UNREADABLE_NOTICE: &str =
    "Sorry, I couldn't open that message. Could you send it again, or tell me in words?";

/// The earlier wording, answered to every non-text message before edits, orders, taps
/// and platform events were understood. Kept so tests can assert it is never sent.
pub const TEXT_ONLY_APOLOGY: &str =
    "Sorry, I can only read text messages for now. Could you type your question?";

/// What the customer is told when they send a picture, file, voice note or video without
/// words while the bot has the conversation (the desks get the media reference).
pub const MEDIA_NOTICE: &str = "Thanks, I've got it. Tell me in a few words what it's about and I'll help, or ask for a person.";

pub use crate::ai::{Understanding, UnderstandingTrace};
use crate::engine::message::{Answer, respond};
pub use crate::engine::message::{
    BOT_FIRST_REPLY, HANDOFF_NOTICE, HUMAN_PAYLOAD, MessageFacts, decide, decide_message,
    human_button, release_external_if_quiet, tapped,
};
pub(crate) use crate::shape::remember_buttons;
pub use crate::shape::{OFFERED_BUTTONS_KEPT, outbox_entries};

pub(crate) async fn plan(
    core: &Core,
    pending: &PendingInbound,
    customer: &CustomerRecord,
    conversation: ConversationRecord,
) -> Turn {
    let inner = &core.inner;
    let policy = core.policy();
    let now = inner.clock.now();
    let msg = &pending.message;
    let mut next = conversation.clone();
    next.channel = msg.channel.clone();
    next.updated_at = now;
    next.state.checked_in = false;
    let external = matches!(msg.content, Content::ExternalReply { .. });
    release_external_if_quiet(&mut next.state, now, inner.config.external_release_after);
    if msg.content.is_customer_act() {
        // Anything the customer did (not a platform event) opens the messaging window.
        next.state.last_customer_message_at.insert(
            msg.channel.as_str().to_owned(),
            (msg.sent_at.unix_timestamp_nanos() / 1_000_000) as i64,
        );
    }

    let mut seq = conversation.next_seq;
    let mut entries = vec![TranscriptEntry {
        id: MessageId::generate(),
        conversation_id: conversation.id.clone(),
        customer_id: customer.id.clone(),
        seq,
        // A person answering outside Tandem is on the business's side.
        from: if external {
            Party::Agent
        } else {
            Party::Customer
        },
        channel: msg.channel.clone(),
        at: msg.sent_at,
        content: msg.content.clone(),
        buttons: Vec::new(),
        platform_message_id: Some(msg.platform_message_id.clone()),
    }];
    let customer_seq = seq;
    seq += 1;
    let audit_scope = AuditScope {
        conversation: &conversation.id,
        customer: &customer.id,
        message_seq: customer_seq,
        at: now,
        store_prompts: inner.config.store_prompts,
    };
    let mut ai_audit = Vec::new();
    let mut escalations = Vec::new();
    let mut replies: Vec<(Party, OutboundContent)> = Vec::new();

    let text = match &msg.content {
        // The "talk to a person" button asks for a person in words every policy knows.
        Content::Postback { payload, .. } if payload == HUMAN_PAYLOAD => {
            Some(HUMAN_REQUEST_TEXT.to_owned())
        }
        // A tap is a value, not words: only a button Tandem offered means something, and
        // then its payload (Tandem's own text) is what the customer chose.
        Content::Postback { payload, .. } => {
            tapped(&conversation.state, payload).map(|b| b.payload.clone())
        }
        // Edits, deletions, orders and forms are recorded (the desks see them), not
        // read as a new question.
        Content::Edited { .. }
        | Content::Deleted { .. }
        | Content::Structured { .. }
        | Content::ExternalReply { .. } => None,
        // "2" answers choices that were offered as numbered text.
        Content::Text { text } => Some(
            crate::shape::choice_answer(text, &conversation.state.offered_choices)
                .map_or_else(|| text.clone(), |b| b.payload.clone()),
        ),
        other => other.text().map(str::to_owned),
    };
    // Desk operations go after the customer-facing replies of this turn, in order.
    let mut desk_ops: Vec<(String, DeskOp)> = Vec::new();

    if external && matches!(next.state.owner, Owner::Bot | Owner::External) {
        // A person answers outside Tandem: theirs until they go quiet or are released.
        next.state.owner = Owner::External;
        next.state.external_at_ms = Some(crate::handoff::ms(now));
    } else if next.state.owner != Owner::Bot {
        // A human owns the conversation: the bot is silent, the desk gets the message.
        if let Some(text) = text
            .as_deref()
            .filter(|t| !external && !t.trim().is_empty())
        {
            let started = Instant::now();
            let score = inner.sentiment.analyze(text).await;
            ai_audit.push(audit_scope.sentiment(&score, started.elapsed()));
            crate::engine::message::push_sentiment(&mut next.state, score.compound);
        }
        if let Some(h) = &next.state.handoff {
            desk_ops.push((
                h.desk.clone(),
                DeskOp::Append(handoff::message(h, &entries[0])),
            ));
        }
        if !external && let Some(text) = text.as_deref() {
            suggest(core, &mut next, text, now).await;
        }
    } else if let Some(reply) = text
        .as_deref()
        .and_then(|t| csat::answer(&mut next.state, t, now))
    {
        replies.push((Party::Bot, reply));
    } else {
        match text {
            Some(text) if !text.trim().is_empty() => {
                let understanding = understand(
                    inner.bot.as_ref(),
                    inner.sentiment.as_ref(),
                    inner.intents.as_deref(),
                    &conversation.state,
                    &text,
                    BotScope {
                        channel: msg.channel.as_str(),
                        conversation: conversation.id.as_str(),
                    },
                )
                .await;
                ai_audit.extend(audit_scope.understanding(&understanding));
                let history = match &conversation.state.past_contacts {
                    Some(known) => known.clone(),
                    None => {
                        // Kept only when read: a store hiccup is retried on the next message.
                        let read = core.past_contacts(customer, &conversation.id).await;
                        next.state.past_contacts.clone_from(&read);
                        read.unwrap_or_default()
                    }
                };
                let facts = MessageFacts {
                    customer,
                    channel: &msg.channel,
                    text: &text,
                    history: &history,
                    now,
                };
                let decision =
                    decide_message(policy.as_ref(), &mut next.state, &facts, &understanding);
                escalations.push(decision.record(
                    &conversation.id,
                    &customer.id,
                    customer_seq,
                    policy.version(),
                    now,
                ));
                // Draft-only mode: the bot's answer waits for an agent (see `drafts`).
                let drafted = inner.config.drafts.applies(
                    decision.category.iter().map(String::as_str).chain(
                        decision
                            .reasons
                            .iter()
                            .chain(decision.offers.iter().map(|o| &o.reason))
                            .filter_map(|r| r.category.as_deref()),
                    ),
                    decision.target.as_deref(),
                );
                let opened = if decision.escalate {
                    // Hand off: the queue owns the conversation until an agent takes it.
                    core.start_handoff(
                        &mut next,
                        customer,
                        &decision,
                        &entries[0],
                        now,
                        &mut ai_audit,
                    )
                    .await
                } else {
                    None
                };
                let answer = Answer {
                    question: &text,
                    understanding: &understanding,
                    decision: &decision,
                    handoff_opened: opened.is_some(),
                    handoff_requested_before: conversation.state.handoff_requested,
                    drafted,
                    seq_before: conversation.next_seq,
                };
                replies.extend(respond(&mut next.state, &answer, now));
                desk_ops.extend(opened);
            }
            _ => match &msg.content {
                // A link code was redeemed (or was stale) before this turn.
                Content::Start {
                    source: Some(s), ..
                } if s == crate::linking::LINKED_SOURCE => {
                    replies.push((
                        Party::System,
                        OutboundContent::text(crate::linking::LINKED_NOTICE),
                    ));
                }
                Content::Start {
                    source: Some(s), ..
                } if s == crate::linking::EXPIRED_SOURCE => {
                    replies.push((
                        Party::System,
                        OutboundContent::text(crate::linking::EXPIRED_NOTICE),
                    ));
                }
                Content::Start {
                    source: Some(s), ..
                } if s == crate::linking::USED_SOURCE => {
                    replies.push((
                        Party::System,
                        OutboundContent::text(crate::linking::USED_NOTICE),
                    ));
                }
                // A new conversation opened by a deep link or Get Started is greeted.
                Content::Start { .. } => {
                    if conversation.next_seq == 0
                        && let Some(greeting) = inner.bot.greeting()
                    {
                        replies.push((Party::Bot, OutboundContent::text(greeting)));
                    }
                }
                // Words-free media: the desks get the reference; the customer is asked
                // what it is about (stickers are like reactions).
                Content::Media { kind, .. } if *kind != tandem_model::MediaKind::Sticker => {
                    replies.push((Party::System, OutboundContent::text(MEDIA_NOTICE)));
                }
                // Only what nobody can read gets the notice.
                Content::Unsupported { .. } => {
                    replies.push((Party::System, OutboundContent::text(UNREADABLE_NOTICE)));
                }
                // Reactions, edits, deletions, orders and forms, locations, contact cards,
                // taps on buttons Tandem did not offer and platform events are recorded
                // (the desks see them) and need no answer.
                _ => {}
            },
        }
    }

    let caps = core.adapter(&msg.channel).map(|a| a.capabilities().clone());
    if !replies.is_empty() {
        // Remember choices the channel shows as numbered text, so "2" can be mapped back.
        next.state.offered_choices = replies
            .iter()
            .rev()
            .find(|(_, c)| !c.buttons.is_empty())
            .filter(|(_, c)| {
                caps.as_ref()
                    .is_some_and(|caps| crate::shape::choice_style(&c.buttons, caps).is_none())
            })
            .map(|(_, c)| c.buttons.clone())
            .unwrap_or_default();
    }
    remember_buttons(&mut next.state, &replies);
    let mut outbox = Vec::new();
    for (from, content) in replies {
        let entry = TranscriptEntry {
            id: MessageId::generate(),
            conversation_id: conversation.id.clone(),
            customer_id: customer.id.clone(),
            seq,
            from,
            channel: msg.channel.clone(),
            at: now,
            content: Content::Text {
                text: content.text.clone(),
            },
            buttons: content.buttons.clone(),
            platform_message_id: None,
        };
        seq += 1;
        outbox.extend(outbox_entries(
            &entry,
            &msg.sender.subject,
            &content,
            caps.as_ref(),
            now,
        ));
        entries.push(entry);
    }
    next.next_seq = seq;
    // A handoff this turn opened makes the bot's pending drafts stale.
    drafts::withdraw_stale(&mut next.state, now);
    for (desk, op) in desk_ops {
        outbox.push(handoff::desk_entry(&next, &desk, op, now));
    }
    Turn {
        inbound_seq: Some(pending.seq),
        conversation: next,
        entries,
        escalations,
        outbox,
        timers: Vec::new(),
        ai_audit,
    }
}

/// With `[drafts] suggest`: the bot's answer to a customer message in a handed-off
/// conversation, kept as a suggestion draft for the agent (never sent on its own). A
/// fallback suggests nothing.
async fn suggest(core: &Core, next: &mut ConversationRecord, text: &str, now: Timestamp) {
    let inner = &core.inner;
    let Some(h) = next
        .state
        .handoff
        .as_ref()
        .filter(|h| !h.status.is_closed())
    else {
        return;
    };
    if text.trim().is_empty() {
        return;
    }
    let Some(selection) = inner
        .config
        .drafts
        .suggests(h.category.as_deref(), h.target.as_deref())
    else {
        return;
    };
    let handoff_id = h.id.clone();
    let answer = inner
        .bot
        .answer(BotQuestion {
            text,
            slots: &next.state.slots,
            last_intent: next.state.last_intent.as_deref(),
            channel: next.channel.as_str(),
            conversation: next.id.as_str(),
        })
        .await;
    if answer.fallback || answer.text.trim().is_empty() {
        return;
    }
    let parts = DraftParts {
        text: answer.text,
        buttons: answer.buttons,
        question: Some(text.to_owned()),
        intent: answer.intent,
        confidence: Some(answer.confidence),
        selection,
        handoff_id: Some(handoff_id),
    };
    drafts::add(&mut next.state, DraftSource::Suggestion, parts, now);
}

/// Where a message was written, for bots that answer per channel or keep their own
/// dialogue state ([`BotQuestion::channel`], [`BotQuestion::conversation`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct BotScope<'a> {
    /// The channel instance id; empty when there is none.
    pub channel: &'a str,
    /// The conversation id; empty when there is none.
    pub conversation: &'a str,
}

/// Asks the sentiment analyzer, the intent classifier (when there is one) and the bot
/// about `text`, given the conversation so far.
pub async fn understand(
    bot: &dyn Bot,
    sentiment: &dyn SentimentAnalyzer,
    intents: Option<&dyn IntentClassifier>,
    state: &ConversationState,
    text: &str,
    scope: BotScope<'_>,
) -> Understanding {
    let started = Instant::now();
    let score = sentiment.analyze(text).await;
    let sentiment_took = started.elapsed();
    let started = Instant::now();
    let intent = match intents {
        Some(classifier) => classifier.classify(text).await,
        None => None,
    };
    let intent_took = started.elapsed();
    let started = Instant::now();
    let answer = bot
        .answer(BotQuestion {
            text,
            slots: &state.slots,
            last_intent: state.last_intent.as_deref(),
            channel: scope.channel,
            conversation: scope.conversation,
        })
        .await;
    Understanding {
        sentiment: score.compound,
        answer,
        intent,
        trace: UnderstandingTrace {
            sentiment_call: score.call,
            sentiment: sentiment_took,
            intent: intent_took,
            bot: started.elapsed(),
        },
    }
}

impl Core {
    /// Processes one customer message (see [`Core::process`]).
    pub(crate) async fn process_message(&self, pending: PendingInbound) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let mut pending = pending;
        self.redeem_if_code(&mut pending, now).await?;
        let customer = store.resolve_customer(&pending.message.sender, now).await?;
        if let tandem_model::Content::Text { text } = &pending.message.content {
            self.suggest_from_claims(&customer.id, &pending.message.sender, text, now)
                .await;
        }
        // What the sender's client claims without proof (a web visitor's email or phone)
        // is a claim like one typed in a message: a suggested link at most.
        let sender = &pending.message.sender;
        let claimed: Vec<&str> = [&sender.claimed_email, &sender.claimed_phone]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if !claimed.is_empty() {
            self.suggest_from_claims(&customer.id, sender, &claimed.join(" "), now)
                .await;
        }
        let (pending, customer) = (&pending, &customer);
        let load = || async move {
            let conversation = store
                .open_conversation(&customer.id, &pending.message.channel, now)
                .await?;
            // A conversation the bot owns that has been quiet for long is over: this
            // message starts a new one (what repeat-contact counts).
            if conversation.state.owner == crate::store::Owner::Bot
                && conversation.next_seq > 0
                && now - conversation.updated_at > self.inner.config.conversation_timeout
            {
                store.close_conversation(&conversation.id, now).await?;
                return store
                    .open_conversation(&customer.id, &pending.message.channel, now)
                    .await
                    .map(Some);
            }
            Ok(Some(conversation))
        };
        let decide = |conversation| async move {
            let mut plan = plan(self, pending, customer, conversation).await;
            let bot_spoke_last = plan
                .entries
                .last()
                .is_some_and(|e| e.from == tandem_model::Party::Bot)
                && plan.conversation.state.owner == crate::store::Owner::Bot;
            if bot_spoke_last {
                // The check-in is scheduled by the turn's own commit: no window where the
                // answer is stored and its timer is not.
                let timer =
                    self.inactivity_timer(&plan.conversation.id, plan.conversation.next_seq);
                plan.timers.extend(timer);
            }
            Ok(Step::Commit(plan, ()))
        };
        match self.apply("processing a message", load, decide).await {
            Ok(_) => {
                debug!("Inbound message processed.");
                Ok(())
            }
            Err(StoreError::AlreadyProcessed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
