//! Platform payload → Tandem's normalized types, pure: every message type becomes typed
//! [`Content`] (orders and completed Flows `Structured`, edits and deletions, number
//! and identity changes recorded `Event`s; unknown ones `Unsupported { kind:
//! "whatsapp:<type>" }`, never dropped), every status a [`DeliveryUpdate`], every echo
//! of a message the business sent from the WhatsApp Business app an `ExternalReply`.
//! Each message, status and echo is read on its own: one that cannot be read is kept as
//! `whatsapp:unparsable` (or skipped when it names nobody) and never loses the others.

use crate::api::{Echo, GraphErrorItem, Message, MessagesValue, Status};
use serde_json::Value;
use std::collections::BTreeMap;
use tandem_sdk::lenient;
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
    /// Items naming no sender or id that could not be read (logged, not recorded).
    pub(crate) unreadable: usize,
}

/// Normalizes one `messages` change.
pub(crate) fn messages_value(value: MessagesValue, channel: &ChannelId, out: &mut Parsed) {
    let names: Vec<(String, Option<String>)> = value
        .contacts
        .into_iter()
        .map(|c| (c.wa_id, c.profile.name))
        .collect();
    for raw in &value.messages {
        let m = match lenient::event::<Message>(raw) {
            Ok(m) => m,
            Err(bad) => {
                // Kept, with whatever names the customer and the message.
                let mut m = Message {
                    from: lenient::str_at(raw, &["from"]).unwrap_or_default(),
                    id: lenient::str_at(raw, &["id"]).unwrap_or(bad.id),
                    timestamp: lenient::str_at(raw, &["timestamp"]).unwrap_or_default(),
                    ..Message::default()
                };
                m.kind = "unparsable".into();
                m
            }
        };
        if m.id.is_empty() || m.from.is_empty() {
            out.unreadable += 1;
            continue;
        }
        let name = names
            .iter()
            .find(|(wa_id, _)| *wa_id == m.from)
            .and_then(|(_, n)| n.clone());
        out.messages.push(message(m, name, channel));
    }
    for raw in &value.message_echoes {
        match lenient::event::<Echo>(raw) {
            Ok(e) if !e.id.is_empty() && !e.to.is_empty() => out.messages.push(echo(e, channel)),
            _ => out.unreadable += 1,
        }
    }
    for raw in &value.statuses {
        match lenient::event::<Status>(raw) {
            Ok(s) => out.statuses.extend(status(s, channel)),
            Err(_) => out.unreadable += 1,
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

/// A message the business sent from the WhatsApp Business app: a person answers outside
/// Tandem. The sender is the customer it went to.
fn echo(e: Echo, channel: &ChannelId) -> InboundMessage {
    let mut sender = ExternalIdentity::new(channel.clone(), e.to.clone());
    sender.verified = true;
    InboundMessage {
        channel: channel.clone(),
        platform_message_id: PlatformMessageId::new(e.id),
        sender,
        sent_at: seconds(&e.timestamp),
        content: Content::ExternalReply {
            text: e.text.map(|t| t.body),
        },
    }
}

/// A catalog order: the items, readable, and by field.
fn order(o: crate::api::Order) -> Content {
    let mut fields = BTreeMap::new();
    if let Some(c) = &o.catalog_id {
        fields.insert("catalog_id".to_owned(), c.clone());
    }
    let mut items = Vec::new();
    for (i, item) in o.product_items.iter().enumerate() {
        let currency = item.currency.clone().unwrap_or_default();
        let line = format!(
            "{} x {} ({} {currency})",
            item.quantity, item.product_retailer_id, item.item_price
        );
        fields.insert(format!("item_{}", i + 1), line.trim().to_owned());
        items.push(line.trim().to_owned());
    }
    let mut summary = format!("order: {}", items.join(", "));
    if let Some(text) = o.text.filter(|t| !t.is_empty()) {
        summary.push_str(&format!("; note: {text}"));
        fields.insert("text".to_owned(), text);
    }
    Content::Structured {
        kind: "whatsapp:order".into(),
        summary,
        fields,
    }
}

/// A completed WhatsApp Flow: its answers (the business's `flow_token` left out).
fn flow(f: crate::api::FlowReply) -> Content {
    let answers: BTreeMap<String, Value> = f
        .response_json
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    let fields: BTreeMap<String, String> = answers
        .into_iter()
        .filter(|(k, _)| k != "flow_token")
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect();
    let answers = fields
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let name = f
        .name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "flow".into());
    Content::Structured {
        kind: "whatsapp:flow".into(),
        summary: format!("{name} answered: {answers}"),
        fields,
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
                ("nfm_reply", _, _) => match i.nfm_reply {
                    Some(f) => flow(f),
                    None => unsupported("interactive:nfm_reply"),
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
        "order" => match m.order {
            Some(o) => order(o),
            None => unsupported("order"),
        },
        // Number and identity changes: recorded for the desks, never answered.
        "system" => Content::Event {
            kind: format!(
                "whatsapp:system:{}",
                m.system
                    .map(|s| s.kind)
                    .filter(|k| !k.is_empty())
                    .unwrap_or_else(|| "unknown".into())
            ),
        },
        "edit" => {
            let edit = m.edit.unwrap_or_default();
            let text = edit.message.and_then(|n| {
                let n = *n;
                n.text.map(|t| t.body).or(n.image.and_then(|i| i.caption))
            });
            Content::Edited {
                of: edit.original_message_id,
                text,
            }
        }
        "revoke" => Content::Deleted {
            of: m.revoke.and_then(|r| r.original_message_id),
        },
        // The customer opened the chat from a "message us" entry point.
        "request_welcome" => Content::Start {
            payload: None,
            source: Some("request_welcome".into()),
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
