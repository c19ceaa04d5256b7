//! A fake Chatwoot Application API for the Chatwoot desk (`docs/platform-contracts.md` §6):
//! `POST /api/v1/accounts/{a}/contacts` (422 when the identifier is taken),
//! `GET …/contacts/search`, `POST …/contacts/{id}/contact_inboxes`,
//! `POST …/conversations`, `POST …/conversations/{id}/messages`,
//! `PATCH …/conversations/{id}/messages/{message_id}` (a message's delivery status, as
//! newer Chatwoot takes it for API-channel inboxes: `sent`, `delivered`, `read`, `failed`
//! with `external_error`; `read` never moves back),
//! `POST …/conversations/{id}/toggle_status` and `…/assignments`, checking the
//! `api_access_token` header, recording every request, keeping contacts, conversations and
//! messages in memory, and answering from a script of [`ChatwootReply`]s (first in, first
//! out; an empty script answers normally).
//!
//! [`sign`] signs a webhook the way newer Chatwoot does; [`webhook`] builds the payloads
//! Chatwoot posts (agent reply, private note, status change, assignment).

use crate::fake::{Core, Recorded, Server, answer, incoming, serve};
use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

/// How the fake answers the next API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatwootReply {
    /// Normal behaviour.
    Ok,
    /// A bare HTTP status (401, 500, 503, …) with a Chatwoot-style error body.
    Status(u16),
    /// 429 with a `Retry-After` header (Chatwoot's Rack::Attack throttling).
    RateLimited {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
}

#[derive(Debug, Default)]
struct Data {
    contacts: Vec<Value>,
    conversations: BTreeMap<u64, Value>,
    messages: BTreeMap<u64, Vec<Value>>,
    next_contact: u64,
    next_conversation: u64,
    next_message: u64,
    /// Older Chatwoot has no message status API (404).
    no_status_api: bool,
}

#[derive(Debug)]
struct CwState {
    core: Core,
    token: String,
    account_id: u64,
    script: Mutex<VecDeque<ChatwootReply>>,
    data: Mutex<Data>,
}

/// A running fake Chatwoot.
#[derive(Debug)]
pub struct ChatwootFake {
    server: Server,
    state: Arc<CwState>,
}

impl ChatwootFake {
    /// Starts a fake for `account_id` accepting `api_access_token`.
    pub async fn start(token: &str, account_id: u64) -> Self {
        let state = Arc::new(CwState {
            core: Core::default(),
            token: token.to_owned(),
            account_id,
            script: Mutex::new(VecDeque::new()),
            data: Mutex::new(Data {
                next_contact: 901,
                next_conversation: 345,
                next_message: 5500,
                ..Data::default()
            }),
        });
        let app = Router::new().fallback(handle).with_state(state.clone());
        ChatwootFake {
            server: serve(app).await,
            state,
        }
    }

    /// The `base_url` to configure.
    pub fn base_url(&self) -> &str {
        &self.server.base
    }

    /// Queues the answer to the next API call.
    pub fn script(&self, reply: ChatwootReply) {
        self.state
            .script
            .lock()
            .expect("fake lock")
            .push_back(reply);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.core.requests()
    }

    /// The contacts created.
    pub fn contacts(&self) -> Vec<Value> {
        self.state.data.lock().expect("fake lock").contacts.clone()
    }

    /// The conversations created (`id` is the display id), in order.
    pub fn conversations(&self) -> Vec<Value> {
        self.state
            .data
            .lock()
            .expect("fake lock")
            .conversations
            .values()
            .cloned()
            .collect()
    }

    /// The messages posted to conversation `id`, in order.
    pub fn messages(&self, id: u64) -> Vec<Value> {
        self.state
            .data
            .lock()
            .expect("fake lock")
            .messages
            .get(&id)
            .cloned()
            .unwrap_or_default()
    }

    /// An agent's reply typed in Chatwoot into conversation `id` (outgoing, not private,
    /// status `sent`), as the webhook `message_created` then reports it; its id.
    pub fn add_agent_message(&self, id: u64, content: &str) -> u64 {
        let mut d = self.state.data.lock().expect("fake lock");
        let mid = d.next_message;
        d.next_message += 1;
        let msg = json!({"id": mid, "content": content, "conversation_id": id,
                         "message_type": "outgoing", "private": false, "content_type": "text",
                         "status": "sent", "created_at": 1_767_261_725,
                         "sender": {"id": 3, "name": "Jonas Weber", "type": "user"}});
        d.messages.entry(id).or_default().push(msg);
        mid
    }

    /// The message `message_id` of conversation `id`.
    pub fn message(&self, id: u64, message_id: u64) -> Option<Value> {
        self.messages(id)
            .into_iter()
            .find(|m| m["id"].as_u64() == Some(message_id))
    }

    /// Emulates a Chatwoot without the message status API (it answers 404).
    pub fn set_status_api(&self, available: bool) {
        self.state.data.lock().expect("fake lock").no_status_api = !available;
    }

    /// Pre-creates a contact, as if another integration had made it.
    pub fn add_contact(&self, identifier: &str, name: &str) -> u64 {
        let mut d = self.state.data.lock().expect("fake lock");
        let id = d.next_contact;
        d.next_contact += 1;
        d.contacts
            .push(json!({"id": id, "name": name, "identifier": identifier, "contact_inboxes": []}));
        id
    }
}

/// Newer Chatwoot's webhook signature headers for `body` at `timestamp`:
/// `(X-Chatwoot-Timestamp, X-Chatwoot-Signature)`.
pub fn sign(webhook_secret: &str, timestamp: i64, body: &[u8]) -> (String, String) {
    let ts = timestamp.to_string();
    let sig = tandem_sdk::signature::hmac_sha256_hex(
        webhook_secret.as_bytes(),
        &[ts.as_bytes(), b".", body],
    );
    (ts, format!("sha256={sig}"))
}

/// Webhook payloads as Chatwoot posts them (trimmed to the fields that matter, shapes as
/// in the fixtures).
pub mod webhook {
    use serde_json::{Value, json};

    fn agent(id: u64, name: &str) -> Value {
        json!({"id": id, "name": name, "email": format!("agent{id}@acme.example"), "type": "user"})
    }

    fn conversation(id: u64, status: &str, assignee: Option<(u64, &str)>) -> Value {
        json!({
            "id": id, "inbox_id": 12, "channel": "Channel::Api", "can_reply": true, "status": status,
            "custom_attributes": {}, "labels": [], "messages": [],
            "meta": {"assignee": assignee.map(|(i, n)| json!({"id": i, "name": n, "type": "user"})),
                     "assignee_type": assignee.map(|_| "User"), "team": null, "hmac_verified": false},
            "timestamp": 1_767_261_725
        })
    }

    /// `message_created` for a message in conversation `conversation_id`.
    pub fn message_created(
        conversation_id: u64,
        message_id: u64,
        content: &str,
        message_type: &str,
        private: bool,
        agent_id: u64,
        agent_name: &str,
    ) -> Value {
        json!({
            "event": "message_created", "id": message_id, "content": content,
            "created_at": "2026-01-01T10:02:05.321Z", "message_type": message_type,
            "content_type": "text", "content_attributes": {}, "source_id": null, "private": private,
            "sender": agent(agent_id, agent_name), "inbox": {"id": 12, "name": "Gateway API"},
            "account": {"id": 7, "name": "Acme Support"},
            "conversation": conversation(conversation_id, "open", Some((agent_id, agent_name)))
        })
    }

    /// `conversation_status_changed` to `status`.
    pub fn status_changed(
        conversation_id: u64,
        previous: &str,
        status: &str,
        assignee: Option<(u64, &str)>,
    ) -> Value {
        let mut v = conversation(conversation_id, status, assignee);
        v["event"] = json!("conversation_status_changed");
        v["changed_attributes"] =
            json!([{"status": {"previous_value": previous, "current_value": status}}]);
        v
    }

    /// `conversation_updated` after an assignment to `assignee`.
    pub fn assigned(conversation_id: u64, assignee: (u64, &str)) -> Value {
        let mut v = conversation(conversation_id, "open", Some(assignee));
        v["event"] = json!("conversation_updated");
        v["changed_attributes"] =
            json!([{"assignee_id": {"previous_value": null, "current_value": assignee.0}}]);
        v
    }
}

type Answer = (u16, Value);

async fn handle(State(st): State<Arc<CwState>>, req: Request) -> Response {
    let inc = incoming(req).await;
    let authorized = inc
        .headers
        .get("api_access_token")
        .and_then(|v| v.to_str().ok())
        == Some(st.token.as_str());
    let scripted = st
        .script
        .lock()
        .expect("fake lock")
        .pop_front()
        .unwrap_or(ChatwootReply::Ok);
    let mut headers = Vec::new();
    let (status, body) = if !authorized {
        (
            401,
            json!({"errors": ["You need to sign in or sign up before continuing."]}),
        )
    } else if let ChatwootReply::Status(s) = scripted {
        (s, json!({"error": format!("scripted {s}")}))
    } else if let ChatwootReply::RateLimited { retry_after_secs } = scripted {
        headers.push(("retry-after", retry_after_secs.to_string()));
        (429, json!({"error": "Too many requests"}))
    } else {
        let path = inc.uri.path().to_owned();
        let query = inc.uri.query().unwrap_or_default().to_owned();
        route(&st, inc.method.as_str(), &path, &query, &inc.json())
    };
    st.core.record(inc.recorded(status));
    answer(status, body, &headers)
}

fn route(st: &CwState, method: &str, path: &str, query: &str, body: &Value) -> Answer {
    let prefix = format!("/api/v1/accounts/{}/", st.account_id);
    let Some(rest) = path.strip_prefix(&prefix) else {
        return (404, json!({"error": "Resource could not be found"}));
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let mut d = st.data.lock().expect("fake lock");
    match (method, parts.as_slice()) {
        ("POST", ["contacts"]) => {
            let identifier = body["identifier"].as_str().unwrap_or_default().to_owned();
            if body["inbox_id"].as_u64().is_none() {
                return (422, json!({"message": "Inbox can't be blank"}));
            }
            if !identifier.is_empty()
                && d.contacts
                    .iter()
                    .any(|c| c["identifier"] == identifier.as_str())
            {
                return (
                    422,
                    json!({"message": "Identifier has already been taken", "attributes": ["identifier"]}),
                );
            }
            let id = d.next_contact;
            d.next_contact += 1;
            let source_id = format!("src-{id}");
            let inbox = json!({"id": body["inbox_id"], "name": "Gateway API", "channel_type": "Channel::Api"});
            let contact = json!({"id": id, "name": body["name"], "identifier": identifier,
                                 "custom_attributes": body["custom_attributes"],
                                 "contact_inboxes": [{"source_id": source_id, "inbox": inbox}]});
            d.contacts.push(contact.clone());
            (
                200,
                json!({"payload": {"contact": contact, "contact_inbox": {"inbox": inbox, "source_id": source_id}}}),
            )
        }
        ("GET", ["contacts", "search"]) => {
            let q = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "q")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let found: Vec<Value> = d
                .contacts
                .iter()
                .filter(|c| c["identifier"] == q.as_str() || c["name"] == q.as_str())
                .cloned()
                .collect();
            (
                200,
                json!({"meta": {"count": found.len(), "current_page": 1}, "payload": found}),
            )
        }
        ("POST", ["contacts", id, "contact_inboxes"]) => {
            let wanted = id.parse::<u64>().ok();
            let Some(c) = d.contacts.iter_mut().find(|c| c["id"].as_u64() == wanted) else {
                return (404, json!({"error": "Resource could not be found"}));
            };
            let source_id = format!("src-{id}-{}", body["inbox_id"]);
            let inbox = json!({"id": body["inbox_id"], "name": "Gateway API", "channel_type": "Channel::Api"});
            if let Some(list) = c["contact_inboxes"].as_array_mut() {
                list.push(json!({"source_id": source_id, "inbox": inbox}));
            }
            (200, json!({"source_id": source_id, "inbox": inbox}))
        }
        ("POST", ["conversations"]) => {
            let source = body["source_id"].as_str().unwrap_or_default();
            let known = d.contacts.iter().any(|c| {
                c["contact_inboxes"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|ci| ci["source_id"] == source))
            });
            if !known || body["inbox_id"].as_u64().is_none() {
                return (
                    422,
                    json!({"message": "source_id and inbox_id are required"}),
                );
            }
            let id = d.next_conversation;
            d.next_conversation += 1;
            let conv = json!({"id": id, "inbox_id": body["inbox_id"], "status": body["status"].as_str().unwrap_or("open"),
                              "custom_attributes": body["custom_attributes"], "contact_id": body["contact_id"],
                              "account_id": st.account_id, "messages": []});
            d.conversations.insert(id, conv.clone());
            (200, conv)
        }
        ("POST", ["conversations", id, "messages"]) => {
            let Some(id) = id
                .parse::<u64>()
                .ok()
                .filter(|id| d.conversations.contains_key(id))
            else {
                return (404, json!({"error": "Resource could not be found"}));
            };
            if body["content"].as_str().is_none_or(str::is_empty) {
                return (422, json!({"message": "Content can't be blank"}));
            }
            let mid = d.next_message;
            d.next_message += 1;
            let msg = json!({"id": mid, "content": body["content"], "conversation_id": id,
                             "message_type": body["message_type"].as_str().unwrap_or("outgoing"),
                             "private": body["private"].as_bool().unwrap_or(false), "content_type": "text",
                             "created_at": 1_767_261_725});
            d.messages.entry(id).or_default().push(msg.clone());
            (200, msg)
        }
        ("PATCH", ["conversations", id, "messages", mid]) if !d.no_status_api => {
            let (Some(id), Some(mid)) = (id.parse::<u64>().ok(), mid.parse::<u64>().ok()) else {
                return (404, json!({"error": "Resource could not be found"}));
            };
            let Some(msg) = d
                .messages
                .get_mut(&id)
                .and_then(|l| l.iter_mut().find(|m| m["id"].as_u64() == Some(mid)))
            else {
                return (404, json!({"error": "Resource could not be found"}));
            };
            let status = body["status"].as_str().unwrap_or_default();
            if !matches!(status, "sent" | "delivered" | "read" | "failed") {
                return (422, json!({"error": "Invalid status"}));
            }
            if msg["status"] == "read" && matches!(status, "sent" | "delivered") {
                return (422, json!({"error": "A read message can't move back"}));
            }
            msg["status"] = json!(status);
            if status == "failed" {
                msg["content_attributes"] = json!({"external_error": body["external_error"]});
            }
            (200, msg.clone())
        }
        ("POST", ["conversations", id, "toggle_status"]) => {
            let Some((id, conv)) = id
                .parse::<u64>()
                .ok()
                .and_then(|i| d.conversations.get_mut(&i).map(|c| (i, c)))
            else {
                return (404, json!({"error": "Resource could not be found"}));
            };
            let status = body["status"].as_str().unwrap_or("open").to_owned();
            conv["status"] = json!(status);
            (
                200,
                json!({"meta": {}, "payload": {"success": true, "conversation_id": id, "current_status": status, "current_snoozed_until": null}}),
            )
        }
        ("POST", ["conversations", id, "assignments"]) => {
            let Some(conv) = id
                .parse::<u64>()
                .ok()
                .and_then(|i| d.conversations.get_mut(&i))
            else {
                return (404, json!({"error": "Resource could not be found"}));
            };
            conv["assignee_id"] = body["assignee_id"].clone();
            (
                200,
                json!({"id": body["assignee_id"], "name": "Agent", "type": "user"}),
            )
        }
        _ => (404, json!({"error": "Resource could not be found"})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_contacts_conversations_and_messages() {
        let fake = ChatwootFake::start("tok", 7).await;
        let http = reqwest::Client::new();
        let url = |p: &str| format!("{}/api/v1/accounts/7/{p}", fake.base_url());
        let post = |p: &str, token: &str, body: Value| {
            http.post(url(p))
                .header("api_access_token", token)
                .json(&body)
                .send()
        };
        assert_eq!(
            post("contacts", "bad", json!({})).await.unwrap().status(),
            401
        );
        let c: Value = post(
            "contacts",
            "tok",
            json!({"inbox_id": 12, "name": "Lena", "identifier": "cust-1"}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let source = c["payload"]["contact_inbox"]["source_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let again = post(
            "contacts",
            "tok",
            json!({"inbox_id": 12, "identifier": "cust-1"}),
        )
        .await
        .unwrap();
        assert_eq!(again.status(), 422);
        let conv: Value = post(
            "conversations",
            "tok",
            json!({"source_id": source, "inbox_id": 12, "status": "open"}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(conv["id"], 345);
        let m: Value = post(
            "conversations/345/messages",
            "tok",
            json!({"content": "hi", "message_type": "incoming"}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(m["id"], 5500);
        fake.script(ChatwootReply::Status(503));
        assert_eq!(
            post(
                "conversations/345/toggle_status",
                "tok",
                json!({"status": "resolved"})
            )
            .await
            .unwrap()
            .status(),
            503
        );
        post(
            "conversations/345/toggle_status",
            "tok",
            json!({"status": "resolved"}),
        )
        .await
        .unwrap();
        assert_eq!(fake.conversations()[0]["status"], "resolved");
        assert_eq!(fake.messages(345).len(), 1);
    }

    #[test]
    fn signs_like_chatwoot() {
        let (ts, sig) = sign("test_webhook_secret", 1_767_261_726, b"{}");
        assert_eq!(ts, "1767261726");
        assert!(sig.starts_with("sha256=") && sig.len() == 71);
        assert_eq!(
            webhook::status_changed(345, "open", "resolved", None)["changed_attributes"][0]["status"]
                ["current_value"],
            "resolved"
        );
    }
}
