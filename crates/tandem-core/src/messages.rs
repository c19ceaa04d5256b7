//! Messages a business sends on its own initiative (order shipped, payment failed): the
//! admin API's `POST /api/v1/messages`.
//!
//! The message goes out on the first channel of the caller's preferred order where the
//! customer has an identity, the channel is running, and the channel's window lets it
//! through now: as free text while the window is open, as the caller's template (or the
//! channel's configured one) where the window is closed and the channel takes templates.
//! Otherwise the answer is `undeliverable`, with the reason for each channel tried, and
//! nothing is recorded.
//!
//! A delivered request becomes a `System` transcript entry and its outbox entries in one
//! committed turn, so the outbox's retries, pacing and order (per conversation and destination) apply. It
//! neither changes the conversation's owner nor asks the policy: a person who owns the
//! conversation sees the message in the transcript.
//!
//! **Idempotency.** With an idempotency key (scoped to the customer), a repeated request
//! answers what the first one answered and has no second effect. Before committing, the
//! planned message id is recorded under the key; a retry that finds such a pending record
//! (the process died in between) looks for that message in the transcript and either
//! reports it or commits it under the same id, so a crash never sends twice.

use crate::executor::Step;
use crate::router::Core;
use crate::store::{ConversationRecord, StoreError, Turn};
use crate::turn;
use crate::window::{self, WindowState};
use serde::{Deserialize, Serialize};
use tandem_model::{
    ChannelId, CustomerId, MessageId, OutboundContent, Party, TemplateMessage, WindowPolicy,
};

/// Key-value namespace of idempotency records.
const KV_NAMESPACE: &str = "proactive";

/// How many transcript entries a retry reads to find a message committed before a crash.
const RETRY_LOOKBACK: usize = 200;

/// A message a business asks Tandem to deliver.
#[derive(Debug, Clone)]
pub struct ProactiveMessage {
    /// The customer.
    pub customer: CustomerId,
    /// The text (always kept in the transcript; sent as is where the window is open).
    pub text: String,
    /// An approved template for channels whose window is closed (WhatsApp).
    pub template: Option<TemplateMessage>,
    /// Channels in order of preference; empty = the customer's channels, most recently
    /// used first.
    pub channels: Vec<ChannelId>,
    /// Repeats with the same key (for this customer) have no second effect.
    pub idempotency_key: Option<String>,
}

/// How a message was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Free text.
    Text,
    /// An approved template (the window was closed).
    Template,
}

/// Why one channel could not take the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The channel.
    pub channel: ChannelId,
    /// `no_identity`, `channel_unavailable` or `window_closed`.
    pub reason: String,
}

/// What happened to a [`ProactiveMessage`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ProactiveOutcome {
    /// Committed for delivery on `channel`.
    Queued {
        /// Where it goes.
        channel: ChannelId,
        /// As text or as a template.
        via: Via,
        /// The conversation it was recorded in.
        conversation_id: String,
        /// The transcript entry's id.
        message_id: String,
        /// Channels tried before, and why they were passed over.
        skipped: Vec<Skipped>,
    },
    /// No channel could take it now; nothing was recorded.
    Undeliverable {
        /// Every channel tried, and why it was passed over.
        skipped: Vec<Skipped>,
    },
}

/// The record kept under an idempotency key.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum KeyRecord {
    /// About to commit this message; a retry checks whether it was.
    Pending {
        conversation_id: String,
        message_id: String,
        outcome: ProactiveOutcome,
    },
    /// Decided: answer this again.
    Done { outcome: ProactiveOutcome },
}

/// A chosen channel.
struct Choice {
    channel: ChannelId,
    recipient: String,
    content: OutboundContent,
    via: Via,
}

impl Core {
    /// Delivers `msg` on the customer's first reachable channel (see the module docs).
    /// `Ok(None)` when the customer does not exist.
    pub async fn send_proactive(
        &self,
        msg: ProactiveMessage,
    ) -> Result<Option<ProactiveOutcome>, StoreError> {
        let store = &self.inner.store;
        if store.customer(&msg.customer).await?.is_none() {
            return Ok(None);
        }
        let Some(key) = msg.idempotency_key.clone() else {
            return self.deliver_proactive(&msg, None).await.map(Some);
        };
        let kv_key = format!("{}:{key}", msg.customer);
        // One request per key at a time in this process; the pending record covers a crash.
        let _guard = self.inner.proactive_lock.lock().await;
        match read_record(store.kv_get(KV_NAMESPACE, &kv_key).await?) {
            Some(KeyRecord::Done { outcome }) => return Ok(Some(outcome)),
            Some(KeyRecord::Pending {
                conversation_id,
                message_id,
                outcome,
            }) => {
                let conversation = tandem_model::ConversationId::new(conversation_id);
                let committed = store
                    .transcript(&conversation, RETRY_LOOKBACK)
                    .await?
                    .iter()
                    .any(|e| e.id.as_str() == message_id);
                if committed {
                    put_record(
                        self,
                        &kv_key,
                        &KeyRecord::Done {
                            outcome: outcome.clone(),
                        },
                    )
                    .await?;
                    return Ok(Some(outcome));
                }
                let outcome = self
                    .deliver_proactive(&msg, Some((&kv_key, MessageId::new(message_id))))
                    .await?;
                return Ok(Some(outcome));
            }
            None => {}
        }
        let outcome = self
            .deliver_proactive(&msg, Some((&kv_key, MessageId::generate())))
            .await?;
        Ok(Some(outcome))
    }

    async fn deliver_proactive(
        &self,
        msg: &ProactiveMessage,
        key: Option<(&str, MessageId)>,
    ) -> Result<ProactiveOutcome, StoreError> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let identities = store.identities(&msg.customer).await?;
        let order = if msg.channels.is_empty() {
            self.channels_by_recency(&msg.customer, &identities).await?
        } else {
            msg.channels.clone()
        };
        let mut skipped = Vec::new();
        let mut chosen = None;
        for channel in order {
            let Some(identity) = identities.iter().find(|i| i.channel == channel) else {
                skipped.push(skip(&channel, "no_identity"));
                continue;
            };
            let Some(adapter) = self.adapter(&channel) else {
                skipped.push(skip(&channel, "channel_unavailable"));
                continue;
            };
            let caps = adapter.capabilities().clone();
            let conversation = store
                .open_conversation(&msg.customer, &channel, now)
                .await?;
            let window = match caps.window {
                WindowPolicy::None => WindowState::Unrestricted,
                policy => window::state(
                    &policy,
                    window::last_customer_message(&conversation.state, &channel),
                    now,
                ),
            };
            let text = OutboundContent::text(msg.text.clone());
            let (content, via) = if window.is_open() {
                (text, Via::Text)
            } else if let Some(t) = msg
                .template
                .as_ref()
                .filter(|_| caps.window_template.is_some())
            {
                let content = OutboundContent {
                    template: Some(t.clone()),
                    ..text
                };
                (content, Via::Template)
            } else {
                let name = store
                    .customer(&msg.customer)
                    .await?
                    .and_then(|c| c.display_name);
                match window::template_for(&caps, &text, name.as_deref()) {
                    Some(content) => (content, Via::Template),
                    None => {
                        skipped.push(skip(&channel, "window_closed"));
                        continue;
                    }
                }
            };
            chosen = Some((
                Choice {
                    channel,
                    recipient: identity.subject.clone(),
                    content,
                    via,
                },
                caps,
            ));
            break;
        }
        let Some((choice, caps)) = chosen else {
            let outcome = ProactiveOutcome::Undeliverable { skipped };
            return finish(self, key.as_ref().map(|(k, _)| *k), outcome).await;
        };
        let message_id = key
            .as_ref()
            .map(|(_, id)| id.clone())
            .unwrap_or_else(MessageId::generate);
        let (choice, caps, skipped, message_id, key) =
            (&choice, &caps, &skipped, &message_id, &key);
        let decide = |conv: ConversationRecord| async move {
            let outcome = ProactiveOutcome::Queued {
                channel: choice.channel.clone(),
                via: choice.via,
                conversation_id: conv.id.to_string(),
                message_id: message_id.to_string(),
                skipped: skipped.clone(),
            };
            if let Some((kv_key, _)) = key {
                let pending = KeyRecord::Pending {
                    conversation_id: conv.id.to_string(),
                    message_id: message_id.to_string(),
                    outcome: outcome.clone(),
                };
                put_record(self, kv_key, &pending).await?;
            }
            let turn = message_turn(conv, choice, message_id, caps, now);
            Ok(Step::Commit(turn, outcome))
        };
        let load = || async move {
            store
                .open_conversation(&msg.customer, &choice.channel, now)
                .await
                .map(Some)
        };
        let outcome = self
            .apply("sending a proactive message", load, decide)
            .await?
            .ok_or_else(|| StoreError::Unavailable("no conversation to send in".into()))?;
        finish(self, key.as_ref().map(|(k, _)| *k), outcome).await
    }

    /// The customer's channels, the one of their latest conversation first, then the
    /// others in the order their identities were created.
    async fn channels_by_recency(
        &self,
        customer: &CustomerId,
        identities: &[crate::store::IdentityRecord],
    ) -> Result<Vec<ChannelId>, StoreError> {
        let mut order: Vec<ChannelId> = Vec::new();
        if let Some(latest) = self
            .inner
            .store
            .conversations_of(customer, 1)
            .await?
            .into_iter()
            .next()
        {
            let mut by_last: Vec<(&String, &i64)> =
                latest.state.last_customer_message_at.iter().collect();
            by_last.sort_by(|a, b| b.1.cmp(a.1));
            order.extend(by_last.into_iter().map(|(c, _)| ChannelId::new(c.clone())));
            order.push(latest.channel);
        }
        for identity in identities {
            order.push(identity.channel.clone());
        }
        let mut seen = std::collections::HashSet::new();
        order.retain(|c| seen.insert(c.clone()));
        Ok(order)
    }
}

fn skip(channel: &ChannelId, reason: &str) -> Skipped {
    Skipped {
        channel: channel.clone(),
        reason: reason.to_owned(),
    }
}

fn read_record(raw: Option<String>) -> Option<KeyRecord> {
    serde_json::from_str(&raw?).ok()
}

/// Records `outcome` as the answer to the idempotency key, if there is one, and answers it.
async fn finish(
    core: &Core,
    key: Option<&str>,
    outcome: ProactiveOutcome,
) -> Result<ProactiveOutcome, StoreError> {
    if let Some(key) = key {
        let done = KeyRecord::Done {
            outcome: outcome.clone(),
        };
        put_record(core, key, &done).await?;
    }
    Ok(outcome)
}

async fn put_record(core: &Core, key: &str, record: &KeyRecord) -> Result<(), StoreError> {
    let value = serde_json::to_string(record)
        .map_err(|e| StoreError::Corrupt(format!("idempotency record: {e}")))?;
    core.inner.store.kv_put(KV_NAMESPACE, key, &value).await
}

/// The turn that records and queues one proactive message.
fn message_turn(
    conv: ConversationRecord,
    choice: &Choice,
    message_id: &MessageId,
    caps: &tandem_model::Capabilities,
    now: tandem_model::Timestamp,
) -> Turn {
    let mut next = conv;
    let mut entry = crate::engine::handoff::system_entry(&next, &choice.content.text, now);
    entry.id = message_id.clone();
    entry.channel = choice.channel.clone();
    entry.from = Party::System;
    next.next_seq += 1;
    next.updated_at = now;
    let outbox = turn::outbox_entries(&entry, &choice.recipient, &choice.content, Some(caps), now);
    Turn {
        entries: vec![entry],
        outbox,
        ..Turn::of(next)
    }
}
