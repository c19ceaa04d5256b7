//! Teams activities → Tandem's normalized types, pure (docs/platform-contracts.md §4.1).
//!
//! - `message` in a 1:1 chat: text (the bot's `<at>` mention removed, other mentions
//!   kept as plain names, `xml` text reduced to its text), an Adaptive Card
//!   `Action.Submit` (`value`) as a postback, images and files as media. In group chats
//!   and channels a message that @mentions the bot is answered there (the mention
//!   removed; `group_replies` / `group_overrides` can turn this off per team, channel or
//!   chat); every other activity from a user is recorded as an event, not answered.
//! - `invoke`: `adaptiveCard/action` (`Action.Execute`) is a postback; every invoke gets
//!   a synchronous InvokeResponse body; other invokes are `Unsupported`.
//! - `conversationUpdate` in a 1:1 chat: the bot added is a conversation start (greeted
//!   by the core), the bot removed makes the user unreachable; team and group-chat
//!   membership changes concern no customer conversation and are only acknowledged.
//! - `installationUpdate` in a 1:1 chat: reachability; `messageReaction`: reactions;
//!   `messageUpdate` and `messageDelete`: edits and deletions of the customer's message;
//!   `event`, `endOfConversation`, `typing`, the `fileConsent/invoke`: recorded events.
//! - Anything else: `Unsupported { kind: "teams:<type>" }`. Our own echoes are ignored.
//!
//! The platform message id is the activity `id` (one derived from the body when absent).
//! The subject is the sender's Entra object id (`aadObjectId`), else their `29:` id.

use crate::api::{Account, Activity, Attachment};
use crate::state::ConversationRef;
use serde_json::Value;
use tandem_sdk::model::{
    ChannelId, Content, ExternalIdentity, InboundMessage, MediaKind, PlatformMessageId,
    Reachability, Timestamp,
};

/// The answer body of an `adaptiveCard/action` invoke.
pub(crate) const CARD_ACTION_RESPONSE: &str =
    r#"{"statusCode":200,"type":"application/vnd.microsoft.activity.message","value":"Received."}"#;
/// The answer body of any other invoke.
pub(crate) const INVOKE_RESPONSE: &str = r#"{"status":200}"#;

/// What one activity carries for Tandem.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Messages and events to record, in order.
    pub(crate) messages: Vec<Pending>,
    /// Reachability reports (subject, report).
    pub(crate) reachability: Vec<(String, Reachability)>,
    /// The 1:1 conversation reference to store for a subject.
    pub(crate) reference: Option<(String, ConversationRef)>,
    /// The synchronous answer of an invoke.
    pub(crate) invoke_response: Option<&'static str>,
    /// Why nothing is recorded (our echo, no customer), for the DEBUG log.
    pub(crate) ignored: Option<&'static str>,
}

/// One message, and where to look its sender up.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) message: InboundMessage,
    /// Set for 1:1 chats: the member lookup of the sender.
    pub(crate) lookup: Option<Lookup>,
}

/// Where the connector answers who a user is.
#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    pub(crate) service_url: String,
    pub(crate) conversation_id: String,
    pub(crate) user_id: String,
}

/// The subject of an account: the Entra object id, else the `29:` id.
///
/// The object id is the user's stable identity in their tenant: the same for every bot
/// and installation, and what operators know from Entra. `29:` ids are unique per bot
/// registration, so a second bot (or a new app id) would see another id for one person.
pub(crate) fn subject(account: &Account) -> Option<String> {
    account
        .aad_object_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .or_else(|| Some(account.id.trim()).filter(|s| !s.is_empty()))
        .map(str::to_owned)
}

/// The conversation scope: `personal`, `groupChat` or `channel`.
pub(crate) fn scope(a: &Activity) -> &str {
    match a.conversation.conversation_type.as_deref() {
        Some(s) if !s.is_empty() => s,
        _ if a.conversation.is_group == Some(true) => "groupChat",
        _ => "personal",
    }
}

/// Normalizes one (authenticated) activity; `raw` is its body, for derived ids;
/// `answer_group` whether a group message mentioning the bot is answered here.
pub(crate) fn activity(
    a: &Activity,
    raw: &[u8],
    channel: &ChannelId,
    bot_id: &str,
    answer_group: bool,
) -> Parsed {
    let mut out = Parsed::default();
    if a.kind == "invoke" {
        out.invoke_response = Some(if a.name.as_deref() == Some("adaptiveCard/action") {
            CARD_ACTION_RESPONSE
        } else {
            INVOKE_RESPONSE
        });
    }
    if a.from.id == bot_id {
        out.ignored = Some("our own activity");
        return out;
    }
    let Some(subject) = subject(&a.from) else {
        out.ignored = Some("no sender");
        return out;
    };
    let personal = scope(a) == "personal";
    let id = if a.id.trim().is_empty() {
        derived_id(raw)
    } else {
        a.id.clone()
    };
    let at = timestamp(a.timestamp.as_deref());
    if personal && !a.service_url.is_empty() && !a.from.id.is_empty() {
        out.reference = Some((
            subject.clone(),
            ConversationRef {
                service_url: a.service_url.clone(),
                conversation_id: Some(a.conversation.id.clone()).filter(|c| !c.is_empty()),
                tenant_id: a.tenant().map(str::to_owned),
                bot_id: bot_id.to_owned(),
                user_id: a.from.id.clone(),
            },
        ));
    }
    let lookup =
        (personal && !a.conversation.id.is_empty() && !a.from.id.is_empty()).then(|| Lookup {
            service_url: a.service_url.clone(),
            conversation_id: a.conversation.id.clone(),
            user_id: a.from.id.clone(),
        });
    let mut sender = ExternalIdentity::new(channel.clone(), &subject);
    sender.verified = true;
    sender.display_name = a.from.name.clone().filter(|n| !n.trim().is_empty());
    let mut push = |id: String, content: Content, lookup: Option<Lookup>| {
        out.messages.push(Pending {
            message: InboundMessage {
                channel: channel.clone(),
                platform_message_id: PlatformMessageId::new(id),
                sender: sender.clone(),
                sent_at: at,
                content,
            },
            lookup,
        });
    };
    let kind = if a.kind.is_empty() {
        "unknown"
    } else {
        a.kind.as_str()
    };
    let mentioned = a
        .entities
        .iter()
        .any(|e| e.kind == "mention" && e.mentioned.id == bot_id);
    match kind {
        // In a group chat or channel, a message mentioning the bot is answered there:
        // the person in this chat (or channel thread) is a conversation of its own.
        "message" if !personal && mentioned && answer_group && !a.service_url.is_empty() => {
            let group_subject = format!("{subject}#{}", a.conversation.id);
            out.reference = Some((
                group_subject.clone(),
                ConversationRef {
                    service_url: a.service_url.clone(),
                    conversation_id: Some(a.conversation.id.clone()),
                    tenant_id: a.tenant().map(str::to_owned),
                    bot_id: bot_id.to_owned(),
                    user_id: a.from.id.clone(),
                },
            ));
            let mut sender = ExternalIdentity::new(channel.clone(), &group_subject);
            sender.verified = true;
            sender.display_name = a.from.name.clone().filter(|n| !n.trim().is_empty());
            for (i, content) in message(a, bot_id).into_iter().enumerate() {
                let id = if i == 0 {
                    id.clone()
                } else {
                    format!("{id}#{i}")
                };
                out.messages.push(Pending {
                    message: InboundMessage {
                        channel: channel.clone(),
                        platform_message_id: PlatformMessageId::new(id),
                        sender: sender.clone(),
                        sent_at: at,
                        content,
                    },
                    lookup: None,
                });
            }
        }
        "message" if personal => {
            for (i, content) in message(a, bot_id).into_iter().enumerate() {
                let id = if i == 0 {
                    id.clone()
                } else {
                    format!("{id}#{i}")
                };
                push(id, content, lookup.clone());
            }
        }
        // Other group-chat and channel activities are recorded, never answered.
        _ if !personal && !matches!(kind, "conversationUpdate" | "installationUpdate") => push(
            id,
            Content::Event {
                kind: format!("teams:{}:{kind}", scope(a)),
            },
            None,
        ),
        "invoke" => {
            let name = a.name.as_deref().unwrap_or_default();
            let content = match (name, card_action(a.value.as_ref())) {
                ("adaptiveCard/action", Some(postback)) => postback,
                // The customer accepted or declined a file upload Tandem never offers;
                // recorded, answered 200, nothing else.
                ("fileConsent/invoke", _) => Content::Event {
                    kind: "teams:invoke:fileConsent/invoke".into(),
                },
                _ => Content::Unsupported {
                    kind: format!(
                        "teams:invoke:{}",
                        if name.is_empty() { "unknown" } else { name }
                    ),
                },
            };
            push(id, content, lookup);
        }
        "conversationUpdate" => {
            if !personal {
                out.ignored = Some("team or group-chat membership change");
                return out;
            }
            let bot_added = a.members_added.iter().any(|m| m.id == bot_id);
            let bot_removed = a.members_removed.iter().any(|m| m.id == bot_id);
            if bot_added {
                out.reachability
                    .push((subject.clone(), reachability(true, "teams:installed", at)));
                push(
                    id,
                    Content::Start {
                        payload: None,
                        source: Some("install".into()),
                    },
                    lookup,
                );
            } else if bot_removed {
                out.reachability.push((
                    subject.clone(),
                    reachability(false, "teams:uninstalled", at),
                ));
            } else if !a.members_added.is_empty() || !a.members_removed.is_empty() {
                let kind = if a.members_added.is_empty() {
                    "teams:members_removed"
                } else {
                    "teams:members_added"
                };
                push(id, Content::Event { kind: kind.into() }, None);
            } else {
                out.ignored = Some("conversation update without members");
            }
        }
        "installationUpdate" => {
            if !personal {
                out.ignored = Some("team or group-chat installation");
                return out;
            }
            let action = a.action.as_deref().unwrap_or_default();
            if action.starts_with("remove") {
                out.reachability
                    .push((subject, reachability(false, "teams:uninstalled", at)));
            } else if action.starts_with("add") {
                out.reachability
                    .push((subject, reachability(true, "teams:installed", at)));
            } else {
                out.ignored = Some("installation update without action");
            }
        }
        "messageReaction" => {
            let (added, emoji) = match (a.reactions_added.first(), a.reactions_removed.first()) {
                (Some(r), _) => (true, r.kind.clone()),
                (None, Some(r)) => (false, r.kind.clone()),
                (None, None) => (true, String::new()),
            };
            let id = if a.id.is_empty() {
                format!(
                    "reaction:{}:{}:{emoji}:{}",
                    a.reply_to_id.as_deref().unwrap_or_default(),
                    if added { "add" } else { "remove" },
                    at.unix_timestamp()
                )
            } else {
                id
            };
            push(
                id,
                Content::Reaction {
                    emoji: if added { emoji } else { String::new() },
                    to: a.reply_to_id.clone(),
                },
                None,
            );
        }
        // Edits and deletions name the message by its id (the activity's own id), so
        // the record's id says what happened, else it would dedupe as the original.
        "messageUpdate" => {
            let at_ms = at.unix_timestamp_nanos() / 1_000_000;
            let text = a
                .text
                .as_deref()
                .map(|t| clean_text(t, a.text_format.as_deref(), a, bot_id))
                .filter(|t| !t.is_empty());
            push(
                format!("edit:{id}:{at_ms}"),
                Content::Edited {
                    of: Some(id.clone()),
                    text,
                },
                None,
            );
        }
        "messageDelete" => push(
            format!("delete:{id}"),
            Content::Deleted {
                of: Some(id.clone()),
            },
            None,
        ),
        "endOfConversation" | "typing" => push(
            id,
            Content::Event {
                kind: format!("teams:{kind}"),
            },
            None,
        ),
        "event" => push(
            id,
            Content::Event {
                kind: format!(
                    "teams:event:{}",
                    a.name
                        .as_deref()
                        .filter(|n| !n.is_empty())
                        .unwrap_or("unknown")
                ),
            },
            None,
        ),
        other => push(
            id,
            Content::Unsupported {
                kind: format!("teams:{other}"),
            },
            lookup,
        ),
    }
    out
}

fn reachability(reachable: bool, reason: &str, at: Timestamp) -> Reachability {
    Reachability {
        reachable,
        reason: reason.into(),
        at,
    }
}

/// The contents of a 1:1 `message`: a postback, media, text, or unsupported.
fn message(a: &Activity, bot_id: &str) -> Vec<Content> {
    let text = a
        .text
        .as_deref()
        .map(|t| clean_text(t, a.text_format.as_deref(), a, bot_id))
        .unwrap_or_default();
    if let Some(value) = a.value.as_ref().filter(|v| !v.is_null()) {
        let (payload, title) = submit(value);
        return vec![Content::Postback {
            payload,
            title: title.or_else(|| (!text.is_empty()).then(|| text.clone())),
        }];
    }
    let media: Vec<(MediaKind, String, Option<String>)> =
        a.attachments.iter().filter_map(media).collect();
    if !media.is_empty() {
        return media
            .into_iter()
            .enumerate()
            .map(|(i, (kind, reference, mime_type))| Content::Media {
                kind,
                reference,
                mime_type,
                caption: (i == 0 && !text.is_empty()).then(|| text.clone()),
            })
            .collect();
    }
    if !text.is_empty() {
        return vec![Content::Text { text }];
    }
    let kind = a
        .attachments
        .iter()
        .map(|x| x.content_type.as_str())
        .find(|t| !t.is_empty() && *t != "text/html")
        .map(|t| format!("teams:attachment:{t}"))
        .unwrap_or_else(|| "teams:message".into());
    vec![Content::Unsupported { kind }]
}

/// An attachment the customer sent, as media: images and files. The `text/html` copy
/// of the text and cards are not media.
fn media(x: &Attachment) -> Option<(MediaKind, String, Option<String>)> {
    let t = x.content_type.as_str();
    if t.starts_with("image/") {
        let url = x.content_url.clone().filter(|u| !u.is_empty())?;
        return Some((MediaKind::Image, url, Some(t.to_owned())));
    }
    if t == "application/vnd.microsoft.teams.file.download.info" {
        let content = x.content.as_ref()?;
        let url = content
            .get("downloadUrl")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())?;
        return Some((MediaKind::Document, url.to_owned(), None));
    }
    None
}

/// The payload and title of `Action.Submit` data. Tandem's own cards submit
/// `{"payload", "title"}`; any other data is kept as compact JSON.
fn submit(value: &Value) -> (String, Option<String>) {
    let title = value
        .get("title")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .filter(|t| !t.is_empty());
    match value {
        Value::String(s) => (s.clone(), None),
        _ => match value.get("payload").and_then(Value::as_str) {
            Some(p) if !p.is_empty() => (p.to_owned(), title),
            _ => (value.to_string(), title),
        },
    }
}

/// An `Action.Execute` (`adaptiveCard/action` invoke) as a postback.
fn card_action(value: Option<&Value>) -> Option<Content> {
    let action = value?.get("action")?;
    let (payload, title) = match action.get("data") {
        Some(data) if !data.is_null() => submit(data),
        _ => (action.get("verb").and_then(Value::as_str)?.to_owned(), None),
    };
    let title = title.or_else(|| {
        action
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    Some(Content::Postback { payload, title })
}

/// The text as the customer meant it: the bot's mention removed, other mentions as
/// names, `xml` reduced to text, whitespace trimmed.
pub(crate) fn clean_text(text: &str, format: Option<&str>, a: &Activity, bot_id: &str) -> String {
    let mut text = text.to_owned();
    for e in &a.entities {
        if e.kind == "mention"
            && e.mentioned.id == bot_id
            && let Some(mention) = e.text.as_deref().filter(|m| !m.is_empty())
        {
            text = text.replace(mention, " ");
        }
    }
    let text = if format == Some("xml") {
        decode_entities(&strip_tags(&text))
    } else {
        strip_at_tags(&text)
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `<at>Name</at>` → `Name`.
fn strip_at_tags(text: &str) -> String {
    text.replace("<at>", "").replace("</at>", "")
}

/// Removes every `<…>` tag.
fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn decode_entities(text: &str) -> String {
    text.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// ISO-8601 UTC (7 fractional digits in Teams) to milliseconds; the receive time when
/// absent or unreadable.
pub(crate) fn timestamp(ts: Option<&str>) -> Timestamp {
    ts.and_then(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    })
    .map(|t| tandem_sdk::model::truncate_to_millis(t.to_offset(time::UtcOffset::UTC)))
    .unwrap_or_else(tandem_sdk::model::now)
}

/// A stable id for an activity without one: a digest of its body.
fn derived_id(raw: &[u8]) -> String {
    let digest = tandem_sdk::signature::hmac_sha256_hex(b"tandem-teams-activity", &[raw]);
    format!("derived:{}", &digest[..32])
}
