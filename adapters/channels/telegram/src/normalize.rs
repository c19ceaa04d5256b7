//! Telegram updates → Tandem's normalized types, pure. The platform message id is the
//! `update_id` (stable across webhook redeliveries and repeated `getUpdates`), the
//! subject the private chat's id (the user's id).
//!
//! - text → `Text`; `/start <payload>` → `Start { payload }` (deep-link identity
//!   linking); a shared contact → `Contact` (the sender's own number is reported as
//!   their verified phone); location, photos, files, audio, voice, video, stickers;
//! - an inline-button tap → `Postback` (the query is answered after recording);
//! - `my_chat_member` kicked/member in a private chat → the customer is unreachable /
//!   reachable again;
//! - edits and group-chat messages → recorded `Event`s; anything else `Unsupported`.

use crate::api::{CallbackQueryId, Update};
use serde_json::Value;
use tandem_sdk::model::{
    ChannelId, Content, ExternalIdentity, InboundMessage, MediaKind, PlatformMessageId,
    Reachability, Timestamp,
};
use teloxide_core::types::{InlineKeyboardButtonKind, Message, UpdateKind, User};

/// What one update means for Tandem.
#[derive(Debug)]
pub(crate) enum Normalized {
    /// A customer message; `callback` is the query to answer once it is recorded.
    Message {
        /// The message (boxed: it is much larger than the other variants).
        message: Box<InboundMessage>,
        /// The callback query to answer, for button taps.
        callback: Option<CallbackQueryId>,
    },
    /// The customer blocked or unblocked the bot.
    Reachability {
        /// The customer's subject.
        subject: String,
        /// The report.
        reachability: Reachability,
    },
    /// Nothing for Tandem (no customer involved, e.g. the bot added to a group).
    Ignored(&'static str),
}

/// Normalizes one update. `raw` is the update's JSON (used to name unknown kinds).
pub(crate) fn update(update: Update, raw: &Value, channel: &ChannelId) -> Normalized {
    let id = update.id.0.to_string();
    let kind_name = kind_key(raw);
    match update.kind {
        UpdateKind::Message(m) => message(&m, id, channel),
        UpdateKind::EditedMessage(m) => match m.from.as_ref() {
            Some(user) => record(
                channel,
                id,
                user,
                at(&m),
                Content::Event {
                    kind: "telegram:edited_message".into(),
                },
                None,
            ),
            None => Normalized::Ignored("edited message without a sender"),
        },
        UpdateKind::CallbackQuery(q) => {
            let content = match q.data.clone() {
                Some(payload) => {
                    let title = q
                        .message
                        .as_ref()
                        .and_then(|m| m.regular_message())
                        .and_then(Message::reply_markup)
                        .and_then(|k| {
                            k.inline_keyboard
                                .iter()
                                .flatten()
                                .find_map(|b| match &b.kind {
                                    InlineKeyboardButtonKind::CallbackData(d) if *d == payload => {
                                        Some(b.text.clone())
                                    }
                                    _ => None,
                                })
                        });
                    Content::Postback { payload, title }
                }
                None => Content::Unsupported {
                    kind: "telegram:callback_query:game".into(),
                },
            };
            let when = q
                .message
                .as_ref()
                .and_then(|m| m.regular_message())
                .map_or_else(tandem_sdk::model::now, at);
            record(channel, id, &q.from, when, content, Some(q.id))
        }
        UpdateKind::MyChatMember(m) => {
            if !m.chat.is_private() {
                return Normalized::Ignored("bot membership in a group");
            }
            let new = &m.new_chat_member.kind;
            let (reachable, reason) = if new.is_banned() {
                (false, "telegram:blocked")
            } else if new.is_present() {
                (true, "telegram:unblocked")
            } else {
                return Normalized::Ignored("membership change without a block");
            };
            Normalized::Reachability {
                subject: m.chat.id.0.to_string(),
                reachability: Reachability {
                    reachable,
                    reason: reason.into(),
                    at: timestamp(m.date.timestamp()),
                },
            }
        }
        _ => match sender_of(raw) {
            Some((user_id, name)) => {
                let mut sender = ExternalIdentity::new(channel.clone(), user_id);
                sender.display_name = name;
                sender.verified = true;
                Normalized::Message {
                    message: Box::new(InboundMessage {
                        channel: channel.clone(),
                        platform_message_id: PlatformMessageId::new(id),
                        sender,
                        sent_at: tandem_sdk::model::now(),
                        content: Content::Unsupported {
                            kind: format!("telegram:{kind_name}"),
                        },
                    }),
                    callback: None,
                }
            }
            None => Normalized::Ignored("update without a user"),
        },
    }
}

fn message(m: &Message, id: String, channel: &ChannelId) -> Normalized {
    let Some(user) = m.from.as_ref() else {
        return Normalized::Ignored("message without a sender");
    };
    if !m.chat.is_private() {
        return record(
            channel,
            id,
            user,
            at(m),
            Content::Event {
                kind: "telegram:group_message".into(),
            },
            None,
        );
    }
    let content = message_content(m, user);
    let own_phone = match &content {
        Content::Contact {
            phone, own: true, ..
        } => Some(phone.clone()),
        _ => None,
    };
    let mut normalized = record(channel, id, user, at(m), content, None);
    if let (Some(phone), Normalized::Message { message, .. }) = (own_phone, &mut normalized) {
        // Telegram asserts the shared contact is the sender's own number.
        message.sender.verified_phone = Some(phone);
    }
    normalized
}

/// The content of a private-chat message.
fn message_content(m: &Message, user: &User) -> Content {
    if let Some(text) = m.text() {
        return start(text).unwrap_or_else(|| Content::Text {
            text: text.to_owned(),
        });
    }
    let caption = m.caption().map(str::to_owned);
    let media = |kind: MediaKind, reference: String, mime: Option<String>| Content::Media {
        kind,
        reference,
        mime_type: mime,
        caption: caption.clone(),
    };
    if let Some(c) = m.contact() {
        let name = [Some(c.first_name.as_str()), c.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        return Content::Contact {
            phone: normalize_phone(&c.phone_number),
            name: Some(name).filter(|n| !n.is_empty()),
            own: c.user_id == Some(user.id),
        };
    }
    if let Some(l) = m.location() {
        return Content::Location {
            latitude: l.latitude,
            longitude: l.longitude,
            name: None,
        };
    }
    if let Some(largest) = m.photo().and_then(|photos| {
        photos
            .iter()
            .max_by_key(|p| u64::from(p.width) * u64::from(p.height))
    }) {
        return media(
            MediaKind::Image,
            largest.file.id.0.clone(),
            Some("image/jpeg".into()),
        );
    }
    if let Some(d) = m.document() {
        return media(
            MediaKind::Document,
            d.file.id.0.clone(),
            d.mime_type.as_ref().map(ToString::to_string),
        );
    }
    if let Some(a) = m.audio() {
        return media(
            MediaKind::Audio,
            a.file.id.0.clone(),
            a.mime_type.as_ref().map(ToString::to_string),
        );
    }
    if let Some(v) = m.voice() {
        return media(
            MediaKind::Audio,
            v.file.id.0.clone(),
            v.mime_type.as_ref().map(ToString::to_string),
        );
    }
    if let Some(v) = m.video() {
        return media(
            MediaKind::Video,
            v.file.id.0.clone(),
            v.mime_type.as_ref().map(ToString::to_string),
        );
    }
    if let Some(v) = m.video_note() {
        return media(MediaKind::Video, v.file.id.0.clone(), None);
    }
    if let Some(s) = m.sticker() {
        return media(MediaKind::Sticker, s.file.id.0.clone(), None);
    }
    Content::Unsupported {
        kind: format!("telegram:message:{}", message_kind(m)),
    }
}

/// `/start`, `/start <payload>` or `/start@bot <payload>` → `Start`.
pub(crate) fn start(text: &str) -> Option<Content> {
    let rest = text.strip_prefix("/start")?;
    let rest = match rest.strip_prefix('@') {
        Some(r) => r.split_once(' ').map_or("", |(_, p)| p),
        None if rest.is_empty() || rest.starts_with(' ') => rest,
        None => return None,
    };
    let payload = rest.trim();
    Some(Content::Start {
        payload: (!payload.is_empty()).then(|| payload.to_owned()),
        source: Some("start".into()),
    })
}

/// `+` and digits: Telegram sends the number with or without `+` and separators.
pub(crate) fn normalize_phone(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    format!("+{digits}")
}

fn record(
    channel: &ChannelId,
    id: String,
    user: &User,
    sent_at: Timestamp,
    content: Content,
    callback: Option<CallbackQueryId>,
) -> Normalized {
    let mut sender = ExternalIdentity::new(channel.clone(), user.id.0.to_string());
    let name = [Some(user.first_name.as_str()), user.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    sender.display_name = Some(name).filter(|n| !n.is_empty());
    sender.verified = true;
    Normalized::Message {
        message: Box::new(InboundMessage {
            channel: channel.clone(),
            platform_message_id: PlatformMessageId::new(id),
            sender,
            sent_at,
            content,
        }),
        callback,
    }
}

fn at(m: &Message) -> Timestamp {
    timestamp(m.date.timestamp())
}

fn timestamp(secs: i64) -> Timestamp {
    Timestamp::from_unix_timestamp(secs).unwrap_or_else(|_| tandem_sdk::model::now())
}

/// The update's kind: its first key other than `update_id`.
fn kind_key(raw: &Value) -> String {
    raw.as_object()
        .and_then(|o| o.keys().find(|k| *k != "update_id").cloned())
        .unwrap_or_else(|| "unknown".into())
}

/// The user behind an update of a kind Tandem does not model (`inline_query`,
/// `poll_answer`, …): `<kind>.from` or `<kind>.user`.
fn sender_of(raw: &Value) -> Option<(String, Option<String>)> {
    let obj = raw.as_object()?.iter().find(|(k, _)| *k != "update_id")?.1;
    let user = obj.get("from").or_else(|| obj.get("user"))?;
    let id = user.get("id")?.as_i64()?;
    let name = user
        .get("first_name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some((id.to_string(), name))
}

/// A short name of an unmodelled message kind (`poll`, `dice`, `venue`, …).
fn message_kind(m: &Message) -> String {
    const COMMON: [&str; 12] = [
        "message_id",
        "from",
        "chat",
        "date",
        "sender_chat",
        "reply_to_message",
        "entities",
        "is_topic_message",
        "message_thread_id",
        "reply_markup",
        "forward_origin",
        "via_bot",
    ];
    serde_json::to_value(m)
        .ok()
        .and_then(|v| {
            v.as_object()
                .and_then(|o| o.keys().find(|k| !COMMON.contains(&k.as_str())).cloned())
        })
        .unwrap_or_else(|| "unknown".into())
}
