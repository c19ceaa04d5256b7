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
//! - edits → `Edited`; reactions → `Reaction`; inline, shipping and pre-checkout
//!   queries → recorded `Event`s; group-chat messages → recorded `Event`s; channel posts
//!   and group membership changes concern no customer; anything else `Unsupported`.
//!
//! Lenient: an update teloxide cannot read (an older media shape, a chat without
//! `type`) is read again from its JSON ([`raw_update`]): what is known (the sender, the
//! text, the caption, a file id) is kept, never the whole message dropped.

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
        UpdateKind::Message(m) => message(&m, raw.get("message"), id, channel),
        UpdateKind::EditedMessage(m) => match m.from.as_ref() {
            Some(user) if m.chat.is_private() => record(
                channel,
                id,
                user,
                at(&m),
                Content::Edited {
                    of: Some(m.id.0.to_string()),
                    text: m.text().or(m.caption()).map(str::to_owned),
                },
                None,
            ),
            Some(user) => record(
                channel,
                id,
                user,
                at(&m),
                Content::Event {
                    kind: "telegram:group_edited_message".into(),
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
        // Kinds teloxide does not model, and updates it could not read.
        _ => raw_update(raw, id, &kind_name, channel),
    }
}

/// An update teloxide could not read at all, from its JSON.
pub(crate) fn untyped(raw: &Value, channel: &ChannelId) -> Normalized {
    let id = tandem_sdk::lenient::str_at(raw, &["update_id"])
        .unwrap_or_else(|| tandem_sdk::lenient::derived_id(raw));
    raw_update(raw, id, &kind_key(raw), channel)
}

/// Reads an update from its JSON alone: kinds teloxide does not model (reactions,
/// queries) and updates it could not read (older shapes, missing fields). Keeps what is
/// known.
pub(crate) fn raw_update(raw: &Value, id: String, kind: &str, channel: &ChannelId) -> Normalized {
    let obj = raw.get(kind).unwrap_or(&Value::Null);
    let Some(sender) = raw_sender(obj, channel) else {
        return Normalized::Ignored("update without a user");
    };
    let when = obj
        .get("date")
        .and_then(Value::as_i64)
        .map_or_else(tandem_sdk::model::now, timestamp);
    let private = raw_private(obj, &sender.subject);
    let content = match kind {
        "message" | "business_message" if private => raw_message(obj),
        "message" | "business_message" => Content::Event {
            kind: "telegram:group_message".into(),
        },
        "edited_message" | "edited_business_message" if private => Content::Edited {
            of: tandem_sdk::lenient::str_at(obj, &["message_id"]),
            text: str_of(obj, "text").or_else(|| str_of(obj, "caption")),
        },
        "edited_message" | "edited_business_message" => Content::Event {
            kind: "telegram:group_edited_message".into(),
        },
        "channel_post"
        | "edited_channel_post"
        | "chat_member"
        | "chat_join_request"
        | "message_reaction_count"
        | "chat_boost"
        | "removed_chat_boost" => {
            return Normalized::Ignored("channel or group administration: no customer");
        }
        "callback_query" => {
            let callback = obj
                .get("id")
                .and_then(Value::as_str)
                .map(|q| CallbackQueryId(q.to_owned()));
            let content = match str_of(obj, "data") {
                Some(payload) => Content::Postback {
                    payload,
                    title: None,
                },
                None => Content::Unsupported {
                    kind: "telegram:callback_query:game".into(),
                },
            };
            return Normalized::Message {
                message: Box::new(InboundMessage {
                    channel: channel.clone(),
                    platform_message_id: PlatformMessageId::new(id),
                    sender,
                    sent_at: when,
                    content,
                }),
                callback,
            };
        }
        "message_reaction" => Content::Reaction {
            emoji: obj
                .get("new_reaction")
                .and_then(Value::as_array)
                .and_then(|r| r.first())
                .and_then(|r| str_of(r, "emoji").or_else(|| str_of(r, "custom_emoji_id")))
                .unwrap_or_default(),
            to: tandem_sdk::lenient::str_at(obj, &["message_id"]),
        },
        // Queries the bot did not invite (inline mode, payments): recorded, not answered.
        "inline_query"
        | "chosen_inline_result"
        | "shipping_query"
        | "pre_checkout_query"
        | "purchased_paid_media"
        | "business_connection"
        | "deleted_business_messages" => Content::Event {
            kind: format!("telegram:{kind}"),
        },
        other => Content::Unsupported {
            kind: format!("telegram:{other}"),
        },
    };
    Normalized::Message {
        message: Box::new(InboundMessage {
            channel: channel.clone(),
            platform_message_id: PlatformMessageId::new(id),
            sender,
            sent_at: when,
            content,
        }),
        callback: None,
    }
}

/// The sender of an update object: `from`, else `user` (reactions, poll answers).
fn raw_sender(obj: &Value, channel: &ChannelId) -> Option<ExternalIdentity> {
    let user = obj.get("from").or_else(|| obj.get("user"))?;
    let id = tandem_sdk::lenient::str_at(user, &["id"])?;
    let mut sender = ExternalIdentity::new(channel.clone(), id);
    let name = [str_of(user, "first_name"), str_of(user, "last_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    sender.display_name = Some(name).filter(|n| !n.is_empty());
    sender.verified = true;
    Some(sender)
}

/// Whether the update's chat is the private chat with the sender: `type: private`, or
/// no `type` and the chat id is the user's id (as in every private chat).
fn raw_private(obj: &Value, subject: &str) -> bool {
    let Some(chat) = obj.get("chat") else {
        return true;
    };
    match chat.get("type").and_then(Value::as_str) {
        Some(t) => t == "private",
        None => tandem_sdk::lenient::str_at(chat, &["id"]).is_none_or(|id| id == subject),
    }
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The content of a private message read from its JSON: text (or `/start`), a shared
/// contact or location, media of any shape that has a `file_id`, else unsupported.
fn raw_message(m: &Value) -> Content {
    if let Some(text) = str_of(m, "text") {
        return start(&text).unwrap_or(Content::Text { text });
    }
    let caption = str_of(m, "caption");
    if let Some(c) = m.get("contact")
        && let Some(phone) = str_of(c, "phone_number")
    {
        let name = [str_of(c, "first_name"), str_of(c, "last_name")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let own = tandem_sdk::lenient::str_at(c, &["user_id"])
            .is_some_and(|u| Some(u) == tandem_sdk::lenient::str_at(m, &["from", "id"]));
        return Content::Contact {
            phone: normalize_phone(&phone),
            name: Some(name).filter(|n| !n.is_empty()),
            own,
        };
    }
    if let Some(l) = m.get("location")
        && let (Some(latitude), Some(longitude)) = (
            l.get("latitude").and_then(Value::as_f64),
            l.get("longitude").and_then(Value::as_f64),
        )
    {
        return Content::Location {
            latitude,
            longitude,
            name: None,
        };
    }
    // `photo` is an array of sizes (the largest wins); older payloads sent one object.
    let photo = match m.get("photo") {
        Some(Value::Array(sizes)) => sizes
            .iter()
            .max_by_key(|p| {
                let dim = |k: &str| p.get(k).and_then(Value::as_u64).unwrap_or(0);
                dim("width") * dim("height")
            })
            .cloned(),
        Some(one @ Value::Object(_)) => Some(one.clone()),
        _ => None,
    };
    let kinds = [
        ("document", MediaKind::Document),
        ("animation", MediaKind::Video),
        ("audio", MediaKind::Audio),
        ("voice", MediaKind::Audio),
        ("video", MediaKind::Video),
        ("video_note", MediaKind::Video),
        ("sticker", MediaKind::Sticker),
    ];
    let found = photo
        .map(|p| (MediaKind::Image, p, Some("image/jpeg".to_owned())))
        .or_else(|| {
            kinds.iter().find_map(|(key, kind)| {
                let v = m.get(*key)?;
                Some((*kind, v.clone(), str_of(v, "mime_type")))
            })
        });
    if let Some((kind, v, mime_type)) = found
        && let Some(reference) = str_of(&v, "file_id")
    {
        return Content::Media {
            kind,
            reference,
            mime_type,
            caption,
        };
    }
    if let Some(text) = caption {
        // Unreadable media with words: the words are kept.
        return Content::Text { text };
    }
    let kind = m
        .as_object()
        .and_then(|o| {
            o.keys()
                .find(|k| {
                    !matches!(
                        k.as_str(),
                        "message_id" | "from" | "chat" | "date" | "entities" | "reply_markup"
                    )
                })
                .cloned()
        })
        .unwrap_or_else(|| "unknown".into());
    Content::Unsupported {
        kind: format!("telegram:message:{kind}"),
    }
}

fn message(m: &Message, raw: Option<&Value>, id: String, channel: &ChannelId) -> Normalized {
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
    let content = match message_content(m, user) {
        // teloxide read the message but not its content (an older media shape): the JSON
        // may still name a file, a caption or a text.
        Content::Unsupported { kind } => raw
            .map(raw_message)
            .filter(|c| !matches!(c, Content::Unsupported { .. }))
            .unwrap_or(Content::Unsupported { kind }),
        content => content,
    };
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
