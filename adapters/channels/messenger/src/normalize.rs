//! Messenger events → Tandem's normalized types, pure. Echoes of our own sends are
//! ignored (else the bot answers itself); every other event becomes a message, a
//! delivery report or a recorded event, never dropped. Events without a `mid` get a
//! stable id from their kind, sender and timestamp, so redeliveries deduplicate.

use crate::api::{Attachment, Event, Message, Postback};
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
}

/// Normalizes one event; `standby` when the thread belongs to another app.
pub(crate) fn event(
    e: Event,
    standby: bool,
    channel: &ChannelId,
    get_started: &str,
    out: &mut Parsed,
) {
    let psid = e.sender.id.clone();
    if psid.is_empty() {
        return;
    }
    let ts = e.timestamp.unwrap_or_default();
    let at = millis(e.timestamp);
    if let Some(m) = &e.message
        && m.is_echo
    {
        out.echoes += 1;
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
        let content = if key.ends_with("_thread_control") {
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
