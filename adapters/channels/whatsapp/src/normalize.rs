//! Platform payload → Tandem's normalized types, pure: every message type becomes typed
//! [`Content`] (unknown ones `Unsupported { kind: "whatsapp:<type>" }`, never dropped),
//! every status a [`DeliveryUpdate`].

use crate::api::{GraphErrorItem, Message, MessagesValue, Status};
use tandem_sdk::model::{
    ChannelId, Content, DeliveryStatus, DeliveryTarget, DeliveryUpdate, ExternalIdentity,
    FailureKind, InboundMessage, MediaKind, PlatformMessageId, Timestamp,
};

/// What one notification carries for Tandem.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Customer messages, in order.
    pub(crate) messages: Vec<InboundMessage>,
    /// Status reports of messages we sent.
    pub(crate) statuses: Vec<DeliveryUpdate>,
    /// Error codes not tied to a message (`value.errors[]`).
    pub(crate) platform_errors: Vec<u64>,
    /// Changes of fields this channel does not handle (templates, account updates).
    pub(crate) ignored_fields: Vec<String>,
    /// Changes for another business number.
    pub(crate) other_numbers: usize,
}

/// Normalizes one `messages` change.
pub(crate) fn messages_value(value: MessagesValue, channel: &ChannelId, out: &mut Parsed) {
    let names: Vec<(String, Option<String>)> = value
        .contacts
        .into_iter()
        .map(|c| (c.wa_id, c.profile.name))
        .collect();
    for m in value.messages {
        if m.id.is_empty() || m.from.is_empty() {
            continue;
        }
        let name = names
            .iter()
            .find(|(wa_id, _)| *wa_id == m.from)
            .and_then(|(_, n)| n.clone());
        out.messages.push(message(m, name, channel));
    }
    for s in value.statuses {
        if let Some(update) = status(s, channel) {
            out.statuses.push(update);
        }
    }
    out.platform_errors
        .extend(value.errors.iter().map(|e| e.code.unwrap_or_default()));
}

fn message(m: Message, name: Option<String>, channel: &ChannelId) -> InboundMessage {
    let mut sender = ExternalIdentity::new(channel.clone(), m.from.clone());
    sender.display_name = name;
    // WhatsApp verified the number when the user registered; `from` is that number.
    sender.verified_phone = Some(format!("+{}", m.from));
    sender.verified = true;
    let sent_at = seconds(&m.timestamp);
    let platform_message_id = PlatformMessageId::new(m.id.clone());
    InboundMessage {
        channel: channel.clone(),
        platform_message_id,
        sender,
        sent_at,
        content: content(m),
    }
}

/// The typed content of one message.
pub(crate) fn content(m: Message) -> Content {
    let unsupported = |kind: &str| Content::Unsupported {
        kind: format!("whatsapp:{kind}"),
    };
    match m.kind.as_str() {
        "text" => match m.text {
            Some(t) => Content::Text { text: t.body },
            None => unsupported("text"),
        },
        "interactive" => match m.interactive {
            Some(i) => match (i.kind.as_str(), i.button_reply, i.list_reply) {
                ("button_reply", Some(r), _) | ("list_reply", _, Some(r)) => Content::Postback {
                    payload: r.id,
                    title: r.title,
                },
                (other, _, _) => unsupported(&format!("interactive:{other}")),
            },
            None => unsupported("interactive"),
        },
        "button" => match m.button {
            Some(b) => Content::Postback {
                payload: b.payload,
                title: b.text,
            },
            None => unsupported("button"),
        },
        "location" => match m.location {
            Some(l) => match (l.latitude, l.longitude) {
                (Some(latitude), Some(longitude))
                    if latitude.is_finite() && longitude.is_finite() =>
                {
                    Content::Location {
                        latitude,
                        longitude,
                        name: l.name,
                    }
                }
                _ => unsupported("location"),
            },
            None => unsupported("location"),
        },
        "image" => media(MediaKind::Image, m.image, "image"),
        "video" => media(MediaKind::Video, m.video, "video"),
        "audio" => media(MediaKind::Audio, m.audio, "audio"),
        "document" => media(MediaKind::Document, m.document, "document"),
        "sticker" => media(MediaKind::Sticker, m.sticker, "sticker"),
        "contacts" => {
            let first = m.contacts.and_then(|c| c.into_iter().next());
            let phone = first.as_ref().and_then(|c| {
                c.phones
                    .iter()
                    .find_map(|p| p.phone.clone().or_else(|| p.wa_id.clone()))
            });
            match (first, phone) {
                (Some(c), Some(phone)) => Content::Contact {
                    phone,
                    name: c.name.formatted_name,
                    own: false,
                },
                _ => unsupported("contacts"),
            }
        }
        "reaction" => match m.reaction {
            Some(r) => Content::Reaction {
                emoji: r.emoji.unwrap_or_default(),
                to: r.message_id,
            },
            None => unsupported("reaction"),
        },
        "" => unsupported("unknown"),
        other => unsupported(other),
    }
}

fn media(kind: MediaKind, m: Option<crate::api::Media>, name: &str) -> Content {
    match m {
        Some(m) if !m.id.is_empty() => Content::Media {
            kind,
            reference: m.id,
            mime_type: m.mime_type,
            caption: m.caption,
        },
        _ => Content::Unsupported {
            kind: format!("whatsapp:{name}"),
        },
    }
}

fn status(s: Status, channel: &ChannelId) -> Option<DeliveryUpdate> {
    if s.id.is_empty() {
        return None;
    }
    let status = match s.status.as_str() {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" => failed(s.errors.first()),
        // `deleted`, `warning` and future statuses change nothing Tandem tracks.
        _ => return None,
    };
    Some(DeliveryUpdate {
        channel: channel.clone(),
        target: DeliveryTarget::Message {
            platform_message_id: s.id,
        },
        status,
        at: seconds(&s.timestamp),
    })
}

fn failed(error: Option<&GraphErrorItem>) -> DeliveryStatus {
    let code = error.and_then(|e| e.code);
    let kind = match code {
        Some(131_047 | 470) => FailureKind::WindowClosed,
        Some(131_026) => FailureKind::Unreachable,
        _ => FailureKind::Other,
    };
    DeliveryStatus::Failed {
        kind,
        code: code.map(|c| c.to_string()),
        reason: error
            .and_then(|e| e.title.clone())
            .unwrap_or_else(|| "failed".into()),
    }
}

/// A string of Unix seconds; the receive time when absent or malformed.
pub(crate) fn seconds(s: &str) -> Timestamp {
    s.parse::<i64>()
        .ok()
        .and_then(|n| Timestamp::from_unix_timestamp(n).ok())
        .unwrap_or_else(tandem_sdk::model::now)
}
