//! Messenger events → Tandem's normalized types, pure. Echoes of our own sends are
//! ignored (else the bot answers itself); an echo of a message another app sent (someone
//! answering in the Page Inbox) is an [`Content::ExternalReply`]; every other event
//! becomes a message, a delivery report or a recorded event, never dropped. Events
//! without a `mid` get a stable id from their kind, sender and timestamp, so redeliveries
//! deduplicate. An event that cannot be read is kept as `messenger:unparsable`.

use crate::api::{Attachment, Event, Message, Postback};
use serde_json::Value;
use tandem_sdk::model::{
    ChannelId, Content, DeliveryStatus, DeliveryTarget, DeliveryUpdate, ExternalIdentity,
    InboundMessage, MediaKind, PlatformMessageId, Timestamp,
};

/// What one notification carries for Tandem.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Customer messages and events, in order.
    pub(crate) messages: Vec<InboundMessage>,
    /// Delivery and read receipts.
    pub(crate) statuses: Vec<DeliveryUpdate>,
    /// Echoes of our own messages, ignored.
    pub(crate) echoes: usize,
    /// Events without a sender that could not be read (logged, not recorded).
    pub(crate) unreadable: usize,
    /// Policy-enforcement actions on the Page (`block`, `unblock`), logged.
    pub(crate) policy_actions: Vec<String>,
    /// The notification is about another object (not `page`): nothing to record.
    pub(crate) other_object: bool,
}

/// What the normalizer needs from the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings<'a> {
    /// The Get Started payload.
    pub(crate) get_started: &'a str,
    /// Tandem's own Meta app id, when configured: echoes from it are ours.
    pub(crate) app_id: Option<&'a str>,
}

/// Normalizes one raw event of `entry[].messaging` (or `standby`): read on its own, so
/// one unreadable event is kept as `messenger:unparsable` and never loses the batch.
pub(crate) fn raw_event(
    raw: &Value,
    standby: bool,
    channel: &ChannelId,
    settings: Settings<'_>,
    out: &mut Parsed,
) {
    if let Some(p) = raw
        .get("policy-enforcement")
        .or_else(|| raw.get("policy_enforcement"))
    {
        // About the Page, not a customer: nobody to record it for.
        let action =
            tandem_sdk::lenient::str_at(p, &["action"]).unwrap_or_else(|| "unknown".into());
        out.policy_actions.push(action);
        return;
    }
    match tandem_sdk::lenient::event::<Event>(raw) {
        Ok(e) => event(e, standby, channel, settings, out),
        Err(bad) => match tandem_sdk::lenient::str_at(raw, &["sender", "id"]) {
            Some(psid) => {
                let at = millis(raw.get("timestamp").and_then(Value::as_i64));
                out.messages.push(inbound(
                    channel,
                    &psid,
                    bad.id,
                    at,
                    Content::Unsupported {
                        kind: "messenger:unparsable".into(),
                    },
                ));
            }
            None => out.unreadable += 1,
        },
    }
}

/// Normalizes one event; `standby` when the thread belongs to another app.
pub(crate) fn event(
    e: Event,
    standby: bool,
    channel: &ChannelId,
    settings: Settings<'_>,
    out: &mut Parsed,
) {
    let get_started = settings.get_started;
    let ts = e.timestamp.unwrap_or_default();
    let at = millis(e.timestamp);
    if let Some(m) = &e.message
        && m.is_echo
    {
        let ours = m
            .metadata
            .as_deref()
            .is_some_and(|d| d.starts_with("tandem:"))
            || settings.app_id.is_some_and(|a| a == m.app_id);
        // The customer is the recipient of an echo.
        let customer = e.recipient.id.clone();
        if ours || m.mid.is_empty() || customer.is_empty() {
            out.echoes += 1;
            return;
        }
        // A person answered in the Page Inbox (or another app): the conversation is theirs.
        out.messages.push(inbound(
            channel,
            &customer,
            m.mid.clone(),
            at,
            Content::ExternalReply {
                text: m.text.clone(),
            },
        ));
        return;
    }
    let psid = e.sender.id.clone();
    if psid.is_empty() {
        out.unreadable += 1;
        return;
    }
    let mut push = |id: String, content: Content| {
        let content = if standby {
            Content::Event {
                kind: format!("messenger:standby:{}", content.kind()),
            }
        } else {
            content
        };
        out.messages.push(inbound(channel, &psid, id, at, content));
    };
    if let Some(m) = e.message {
        for (id, content) in message(m) {
            push(id, content);
        }
    } else if let Some(edit) = e.message_edit {
        let id = format!("edit:{}:{}", edit.mid, edit.num_edit.unwrap_or_default());
        push(
            id,
            Content::Edited {
                of: Some(edit.mid).filter(|m| !m.is_empty()),
                text: edit.text,
            },
        );
    } else if e.optin.is_some() {
        push(
            format!("optin:{psid}:{ts}"),
            Content::Event {
                kind: "messenger:optin".into(),
            },
        );
    } else if let Some(p) = e.payment {
        let amount = p.amount.unwrap_or_default();
        let currency = amount.currency.unwrap_or_default();
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("amount".to_owned(), amount.amount.clone());
        fields.insert("currency".to_owned(), currency.clone());
        if let Some(payload) = p.payload.clone() {
            fields.insert("payload".to_owned(), payload);
        }
        push(
            format!("payment:{psid}:{ts}"),
            Content::Structured {
                kind: "messenger:payment".into(),
                summary: format!("payment of {} {currency}", amount.amount)
                    .trim()
                    .to_owned(),
                fields,
            },
        );
    } else if let Some(p) = e.postback {
        let (id, content) = postback(p, &psid, ts, get_started);
        push(id, content);
    } else if let Some(r) = e.referral {
        push(
            format!("referral:{psid}:{ts}"),
            Content::Start {
                payload: r.reference,
                source: r.source,
            },
        );
    } else if let Some(r) = e.reaction {
        let to = r.mid.clone();
        let action = r.action.clone().unwrap_or_default();
        let emoji = if action == "unreact" {
            String::new()
        } else {
            r.emoji.unwrap_or_default()
        };
        push(
            format!(
                "reaction:{}:{action}:{ts}",
                to.as_deref().unwrap_or_default()
            ),
            Content::Reaction { emoji, to },
        );
    } else if let Some(d) = e.delivery {
        for mid in d.mids {
            out.statuses.push(update(
                channel,
                DeliveryTarget::Message {
                    platform_message_id: mid,
                },
                DeliveryStatus::Delivered,
                at,
            ));
        }
        if let Some(w) = d.watermark {
            out.statuses.push(update(
                channel,
                up_to(&psid, w),
                DeliveryStatus::Delivered,
                at,
            ));
        }
    } else if let Some(r) = e.read {
        if let Some(w) = r.watermark {
            out.statuses
                .push(update(channel, up_to(&psid, w), DeliveryStatus::Read, at));
        }
    } else {
        let key = e
            .other
            .keys()
            .find(|k| !matches!(k.as_str(), "recipient" | "timestamp"))
            .cloned()
            .unwrap_or_else(|| "unknown".into());
        // Platform events about the thread, known by name, are recorded; anything else
        // is kept as unsupported.
        const EVENTS: [&str; 8] = [
            "account_linking",
            "checkout_update",
            "pre_checkout",
            "game_play",
            "app_roles",
            "request_thread_control",
            "messaging_feedback",
            "response_feedback",
        ];
        let content = if key.ends_with("_thread_control") || EVENTS.contains(&key.as_str()) {
            Content::Event {
                kind: format!("messenger:{key}"),
            }
        } else {
            Content::Unsupported {
                kind: format!("messenger:{key}"),
            }
        };
        push(format!("{key}:{psid}:{ts}"), content);
    }
}

fn inbound(
    channel: &ChannelId,
    psid: &str,
    id: String,
    at: Timestamp,
    content: Content,
) -> InboundMessage {
    let mut sender = ExternalIdentity::new(channel.clone(), psid);
    sender.verified = true;
    InboundMessage {
        channel: channel.clone(),
        platform_message_id: PlatformMessageId::new(id),
        sender,
        sent_at: at,
        content,
    }
}

/// A message: text, quick-reply tap, or one entry per attachment.
fn message(m: Message) -> Vec<(String, Content)> {
    if m.mid.is_empty() {
        return Vec::new();
    }
    if m.is_deleted {
        return vec![(
            format!("deleted:{}", m.mid),
            Content::Deleted { of: Some(m.mid) },
        )];
    }
    if let Some(q) = m.quick_reply {
        return vec![(
            m.mid,
            Content::Postback {
                payload: q.payload,
                title: m.text,
            },
        )];
    }
    if m.attachments.is_empty() {
        let content = match m.text {
            Some(text) => Content::Text { text },
            None => Content::Unsupported {
                kind: "messenger:message".into(),
            },
        };
        return vec![(m.mid, content)];
    }
    // A shared link arrives as the text plus a `fallback` attachment describing it.
    if m.text.is_some() && m.attachments.iter().all(|a| a.kind == "fallback") {
        return vec![(
            m.mid,
            Content::Text {
                text: m.text.unwrap_or_default(),
            },
        )];
    }
    let caption = m.text;
    m.attachments
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let id = if i == 0 {
                m.mid.clone()
            } else {
                format!("{}#{i}", m.mid)
            };
            (id, attachment(a, caption.clone()))
        })
        .collect()
}

fn attachment(a: Attachment, caption: Option<String>) -> Content {
    let kind = match a.kind.as_str() {
        "image" if a.payload.sticker_id.is_some() => Some(MediaKind::Sticker),
        "image" => Some(MediaKind::Image),
        "video" => Some(MediaKind::Video),
        "audio" => Some(MediaKind::Audio),
        "file" => Some(MediaKind::Document),
        _ => None,
    };
    if a.kind == "fallback" {
        // A link shared without words: its title and URL, as the text.
        let parts: Vec<String> = [
            a.title.or(a.payload.title),
            a.url.or(a.payload.url),
            caption,
        ]
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .collect();
        return if parts.is_empty() {
            Content::Unsupported {
                kind: "messenger:attachment:fallback".into(),
            }
        } else {
            Content::Text {
                text: parts.join(" "),
            }
        };
    }
    match (kind, a.payload.url, a.payload.coordinates) {
        (Some(kind), Some(url), _) => Content::Media {
            kind,
            reference: url,
            mime_type: None,
            caption,
        },
        (None, _, Some(c)) if a.kind == "location" => match (c.lat, c.long) {
            (Some(latitude), Some(longitude)) if latitude.is_finite() && longitude.is_finite() => {
                Content::Location {
                    latitude,
                    longitude,
                    name: None,
                }
            }
            _ => Content::Unsupported {
                kind: "messenger:attachment:location".into(),
            },
        },
        _ => Content::Unsupported {
            kind: format!("messenger:attachment:{}", a.kind),
        },
    }
}

/// A postback: Get Started (with its referral) is a conversation start.
fn postback(p: Postback, psid: &str, ts: i64, get_started: &str) -> (String, Content) {
    let id = p
        .mid
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("postback:{psid}:{ts}"));
    if p.payload == get_started || p.referral.is_some() {
        let (payload, source) = match p.referral {
            Some(r) => (r.reference, r.source),
            None => (None, Some("get_started".to_owned())),
        };
        return (id, Content::Start { payload, source });
    }
    (
        id,
        Content::Postback {
            payload: p.payload,
            title: p.title,
        },
    )
}

fn up_to(psid: &str, watermark: i64) -> DeliveryTarget {
    DeliveryTarget::UpTo {
        recipient: psid.to_owned(),
        watermark: millis(Some(watermark)),
    }
}

fn update(
    channel: &ChannelId,
    target: DeliveryTarget,
    status: DeliveryStatus,
    at: Timestamp,
) -> DeliveryUpdate {
    DeliveryUpdate {
        channel: channel.clone(),
        target,
        status,
        at,
    }
}

/// Unix milliseconds; the receive time when absent or out of range.
pub(crate) fn millis(ms: Option<i64>) -> Timestamp {
    ms.and_then(|ms| Timestamp::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .unwrap_or_else(tandem_sdk::model::now)
}
