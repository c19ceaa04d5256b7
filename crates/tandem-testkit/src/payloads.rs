//! Platform payloads as the platforms send them, for adapter drivers and e2e tests:
//! Meta webhook bodies in their wire form (compact JSON, non-ASCII as `\u` escapes of four hex digits, `/` as
//! `\/`) with their `X-Hub-Signature-256`, Telegram updates and Teams activities.

use serde_json::{Value, json};
use tandem_sdk::signature::hmac_sha256_hex;

/// `sha256=<hex HMAC-SHA256(app_secret, body)>`, the `X-Hub-Signature-256` value.
pub fn meta_signature(app_secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hmac_sha256_hex(app_secret.as_bytes(), &[body]))
}

/// Serializes `value` the way Meta sends it: compact, non-ASCII escaped as `\u` plus four hex digits
/// (surrogate pairs above the BMP), `/` escaped as `\/`.
pub fn meta_wire(value: &Value) -> String {
    let compact = value.to_string();
    let mut out = String::with_capacity(compact.len() + 16);
    for c in compact.chars() {
        match c {
            '/' => out.push_str("\\/"),
            c if c.is_ascii() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out
}

/// A WhatsApp webhook carrying one text message.
pub fn whatsapp_text(
    phone_number_id: &str,
    from: &str,
    name: &str,
    text: &str,
    wamid: &str,
    timestamp: i64,
) -> String {
    whatsapp_message(
        phone_number_id,
        from,
        name,
        json!({
            "from": from, "id": wamid, "timestamp": timestamp.to_string(),
            "type": "text", "text": {"body": text},
        }),
    )
}

/// A WhatsApp webhook carrying one message object (`value.messages[0]`).
pub fn whatsapp_message(phone_number_id: &str, from: &str, name: &str, message: Value) -> String {
    meta_wire(&json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102938475610293",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550101234", "phone_number_id": phone_number_id},
                    "contacts": [{"profile": {"name": name}, "wa_id": from}],
                    "messages": [message],
                },
            }],
        }],
    }))
}

/// A WhatsApp status webhook (`sent`, `delivered`, `read`, or `failed` with `error`).
pub fn whatsapp_status(
    phone_number_id: &str,
    wamid: &str,
    recipient: &str,
    status: &str,
    error: Option<u64>,
) -> String {
    let mut item = json!({
        "id": wamid,
        "status": status,
        "timestamp": time::OffsetDateTime::now_utc().unix_timestamp().to_string(),
        "recipient_id": recipient,
    });
    if let Some(code) = error {
        item["errors"] = json!([{
            "code": code,
            "title": "Scripted failure",
            "message": "Scripted failure",
            "error_data": {"details": "Failure reported by the fake"},
        }]);
    }
    meta_wire(&json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102938475610293",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550101234", "phone_number_id": phone_number_id},
                    "statuses": [item],
                },
            }],
        }],
    }))
}

/// A Messenger webhook carrying one `messaging` event from `psid` to `page_id`.
pub fn messenger_event(page_id: &str, psid: &str, timestamp_ms: i64, event: Value) -> String {
    let mut messaging = json!({
        "sender": {"id": psid},
        "recipient": {"id": page_id},
        "timestamp": timestamp_ms,
    });
    if let (Some(obj), Value::Object(extra)) = (messaging.as_object_mut(), event) {
        obj.extend(extra);
    }
    meta_wire(&json!({
        "object": "page",
        "entry": [{"id": page_id, "time": timestamp_ms, "messaging": [messaging]}],
    }))
}

/// A Messenger webhook carrying one text message.
pub fn messenger_text(
    page_id: &str,
    psid: &str,
    text: &str,
    mid: &str,
    timestamp_ms: i64,
) -> String {
    messenger_event(
        page_id,
        psid,
        timestamp_ms,
        json!({"message": {"mid": mid, "text": text}}),
    )
}

/// A Telegram private chat user.
pub fn telegram_user(id: i64, first_name: &str) -> Value {
    json!({"id": id, "is_bot": false, "first_name": first_name, "language_code": "en"})
}

/// A Telegram update with a text message in the private chat of `user_id`.
pub fn telegram_text(update_id: i64, user_id: i64, text: &str, date: i64) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id % 1_000_000,
            "from": telegram_user(user_id, "Customer"),
            "chat": {"id": user_id, "first_name": "Customer", "type": "private"},
            "date": date,
            "text": text,
        },
    })
}

/// A Telegram update of `kind` with `payload` (any update kind, e.g. `poll`).
pub fn telegram_update(update_id: i64, kind: &str, payload: Value) -> Value {
    let mut update = json!({"update_id": update_id});
    update[kind] = payload;
    update
}

/// A Teams activity of `kind` from `user` to the bot `app_id` in the user's 1:1 chat
/// `conversation_id`, shaped like the recorded fixtures (`activity_message_personal.json`):
/// tenant, `channelId: msteams`, `serviceUrl`. Add the type's own fields to it.
pub fn teams_activity(
    kind: &str,
    service_url: &str,
    app_id: &str,
    user: &crate::fake::TeamsUser,
    conversation_id: &str,
    id: &str,
) -> Value {
    let tenant = crate::fake::TEAMS_TENANT;
    json!({
        "type": kind,
        "id": id,
        "timestamp": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": user.account(),
        "conversation": {"conversationType": "personal", "tenantId": tenant, "id": conversation_id},
        "recipient": {"id": format!("28:{app_id}"), "name": "Tandem"},
        "channelData": {"tenant": {"id": tenant}},
        "locale": "en-US",
    })
}

/// A Teams text message from `user` in their 1:1 chat (`a:<user id>` as conversation).
pub fn teams_text(
    service_url: &str,
    app_id: &str,
    user: &crate::fake::TeamsUser,
    text: &str,
    id: &str,
) -> Value {
    let mut activity = teams_activity(
        "message",
        service_url,
        app_id,
        user,
        &teams_conversation(user),
        id,
    );
    activity["text"] = json!(text);
    activity["textFormat"] = json!("plain");
    activity
}

/// The 1:1 conversation id the Teams payload builders give `user`.
pub fn teams_conversation(user: &crate::fake::TeamsUser) -> String {
    format!("a:1{}", user.id.trim_start_matches("29:"))
}
