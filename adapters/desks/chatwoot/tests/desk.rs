//! The Chatwoot desk against the fake Chatwoot API (real HTTP on 127.0.0.1) and a
//! recording core: deliveries, idempotency, existing contacts, error classification, and
//! the webhook route (signed and unsigned modes).

use axum::body::Body;
use axum::http::Request;
use serde_json::Value;
use tandem_desk_chatwoot::{ChatwootDesk, ChatwootDeskConfig};
use tandem_sdk::handoff::HandoffClosed;
use tandem_sdk::{
    BuiltDesk, DeskContext, DeskDelivery, DeskEventKind, DeskFactory, DeskOp, ErrorKind, Secret,
};
use tandem_testkit::chatwoot_fake::{ChatwootFake, ChatwootReply, sign, webhook};
use tandem_testkit::desk_ops::{self, appended, line};
use tandem_testkit::desk_recording::RecordingDesk;
use tandem_testkit::slack_fake::now_secs;
use tower::ServiceExt;

const TOKEN: &str = "cw-token";
const SECRET: &str = "test_webhook_secret";

async fn desk(fake: &ChatwootFake, recorder: &RecordingDesk, secret: &str) -> BuiltDesk {
    let config = ChatwootDeskConfig {
        base_url: fake.base_url().to_owned(),
        api_access_token: Secret::new(TOKEN),
        account_id: 7,
        inbox_id: 12,
        webhook_secret: Secret::new(secret),
        allow_unsigned: secret.is_empty(),
    };
    ChatwootDesk::validate(&config).unwrap();
    let cx = DeskContext {
        id: "chatwoot".into(),
        public_base_url: url::Url::parse("http://127.0.0.1:1").unwrap(),
        events: recorder.sink("chatwoot"),
        http: reqwest::Client::new(),
        shutdown: tokio_util::sync::CancellationToken::new(),
    };
    ChatwootDesk::build(config, cx).await.unwrap()
}

/// The usual briefing for customer `customer`, a VIP, with two transcript lines.
fn requested(id: &str, customer: &str) -> DeskDelivery {
    let mut b = desk_ops::briefing(id);
    b.customer.id = customer.into();
    b.customer.segment = Some("vip".into());
    b.transcript = vec![
        line("customer", "hello"),
        line("customer", "I want a refund"),
    ];
    desk_ops::open(b)
}

#[tokio::test]
async fn open_append_close_are_idempotent() {
    let fake = ChatwootFake::start(TOKEN, 7).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder, SECRET).await;
    let receipt = built
        .desk
        .deliver(requested("h-1", "cust-1"))
        .await
        .unwrap();
    assert_eq!(receipt.thread.as_deref(), Some("345"));
    assert_eq!(
        built
            .desk
            .deliver(requested("h-1", "cust-1"))
            .await
            .unwrap(),
        receipt
    );
    assert_eq!(
        fake.conversations().len(),
        1,
        "one conversation per handoff"
    );
    let conv = &fake.conversations()[0];
    assert_eq!(conv["status"], "open");
    assert_eq!(conv["custom_attributes"]["tandem_handoff_id"], "h-1");
    let msgs = fake.messages(345);
    assert_eq!(msgs.len(), 2, "briefing and transcript, once");
    assert!(
        msgs.iter()
            .all(|m| m["private"] == true && m["message_type"] == "outgoing")
    );
    assert!(
        msgs[0]["content"]
            .as_str()
            .unwrap()
            .contains("keyword “refund”")
    );
    assert!(
        msgs[1]["content"]
            .as_str()
            .unwrap()
            .contains("I want a refund")
    );
    let auth = fake.requests()[0]
        .header("api_access_token")
        .map(str::to_owned);
    assert_eq!(auth.as_deref(), Some(TOKEN));
    assert_eq!(
        recorder.kv("chatwoot", "handoff:345").as_deref(),
        Some("h-1")
    );

    built
        .desk
        .deliver(appended("h-1", "d-2", "still there?"))
        .await
        .unwrap();
    built
        .desk
        .deliver(appended("h-1", "d-2", "still there?"))
        .await
        .unwrap();
    let msgs = fake.messages(345);
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[2]["message_type"], "incoming");
    assert_eq!(msgs[2]["private"], false);

    // The same customer again: the contact is reused.
    built
        .desk
        .deliver(requested("h-2", "cust-1"))
        .await
        .unwrap();
    assert_eq!(fake.contacts().len(), 1);
    assert_eq!(fake.conversations().len(), 2);

    let close = DeskDelivery {
        id: "d-3".into(),
        op: DeskOp::Close(HandoffClosed {
            version: "1".into(),
            kind: "handoff.closed".into(),
            handoff_id: "h-1".into(),
            conversation_id: "conv-1".into(),
            reason: "timed_out".into(),
        }),
    };
    built.desk.deliver(close).await.unwrap();
    assert_eq!(fake.conversations()[0]["status"], "resolved");
    assert_eq!(
        built
            .desk
            .deliver(appended("h-9", "d-9", "x"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Rejected
    );
}

#[tokio::test]
async fn existing_contacts_are_found_and_failures_classified() {
    let fake = ChatwootFake::start(TOKEN, 7).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder, "").await;
    fake.add_contact("cust-old", "Alice");
    built
        .desk
        .deliver(requested("h-1", "cust-old"))
        .await
        .unwrap();
    assert_eq!(
        fake.contacts().len(),
        1,
        "already exists: found, not duplicated"
    );
    assert_eq!(fake.conversations().len(), 1);

    for (status, kind) in [
        (500, ErrorKind::Transient),
        (503, ErrorKind::Transient),
        (401, ErrorKind::Auth),
        (404, ErrorKind::Rejected),
    ] {
        fake.script(ChatwootReply::Status(status));
        let err = built
            .desk
            .deliver(requested("h-2", "cust-new"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{status}");
    }
    // A failure between steps: the retry resumes without a second conversation.
    fake.script(ChatwootReply::Ok); // contact
    fake.script(ChatwootReply::Ok); // conversation
    fake.script(ChatwootReply::Status(502)); // briefing note
    built
        .desk
        .deliver(requested("h-2", "cust-new"))
        .await
        .unwrap_err();
    built
        .desk
        .deliver(requested("h-2", "cust-new"))
        .await
        .unwrap();
    assert_eq!(fake.conversations().len(), 2);
    assert_eq!(fake.messages(346).len(), 2);
}

async fn post(built: &BuiltDesk, body: &Value, headers: &[(&str, String)]) -> u16 {
    let bytes = serde_json::to_vec(body).unwrap();
    let mut req =
        Request::post("/desks/chatwoot/webhook").header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    built
        .routes
        .clone()
        .unwrap()
        .oneshot(req.body(Body::from(bytes)).unwrap())
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn signed(body: &Value, secret: &str, delivery: &str) -> Vec<(&'static str, String)> {
    let (ts, sig) = sign(secret, now_secs(), &serde_json::to_vec(body).unwrap());
    vec![
        ("x-chatwoot-timestamp", ts),
        ("x-chatwoot-signature", sig),
        ("x-chatwoot-delivery", delivery.to_owned()),
    ]
}

#[tokio::test]
async fn signed_webhooks_become_agent_actions_once() {
    let fake = ChatwootFake::start(TOKEN, 7).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder, SECRET).await;
    built
        .desk
        .deliver(requested("h-1", "cust-1"))
        .await
        .unwrap();

    let reply = webhook::message_created(
        345,
        9001,
        "Hi, I'm Jonas.",
        "outgoing",
        false,
        3,
        "Jonas Weber",
    );
    assert_eq!(
        post(&built, &reply, &signed(&reply, "wrong", "dl-1")).await,
        401,
        "forged"
    );
    assert_eq!(
        post(&built, &reply, &[]).await,
        401,
        "unsigned while a secret is set"
    );
    assert!(recorder.events().is_empty());

    assert_eq!(
        post(&built, &reply, &signed(&reply, SECRET, "dl-1")).await,
        200
    );
    assert_eq!(
        post(&built, &reply, &signed(&reply, SECRET, "dl-1")).await,
        200,
        "Chatwoot retry"
    );
    let events = recorder.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event.handoff_id, "h-1");
    assert_eq!(
        events[0].event.kind,
        DeskEventKind::AgentMessage {
            text: "Hi, I'm Jonas.".into()
        }
    );
    assert_eq!(
        events[0].event.agent.as_ref().unwrap().name.as_deref(),
        Some("Jonas Weber")
    );

    // Private notes, Tandem's own posts (briefing note id 5500; an incoming relay) and other
    // conversations: nothing.
    let note = webhook::message_created(
        345,
        9002,
        "VIP, approve",
        "outgoing",
        true,
        3,
        "Jonas Weber",
    );
    let own = webhook::message_created(345, 5500, "briefing", "outgoing", false, 3, "Jonas Weber");
    let incoming =
        webhook::message_created(345, 9003, "hello", "incoming", false, 3, "Jonas Weber");
    let elsewhere =
        webhook::message_created(999, 9004, "hello", "outgoing", false, 3, "Jonas Weber");
    for (i, hook) in [note, own, incoming, elsewhere].iter().enumerate() {
        assert_eq!(
            post(&built, hook, &signed(hook, SECRET, &format!("dl-x{i}"))).await,
            200
        );
    }
    assert_eq!(recorder.events().len(), 1);

    let assigned = webhook::assigned(345, (3, "Jonas Weber"));
    assert_eq!(
        post(&built, &assigned, &signed(&assigned, SECRET, "dl-2")).await,
        200
    );
    let resolved = webhook::status_changed(345, "open", "resolved", Some((3, "Jonas Weber")));
    assert_eq!(
        post(&built, &resolved, &signed(&resolved, SECRET, "dl-3")).await,
        200
    );
    let kinds: Vec<DeskEventKind> = recorder
        .events()
        .into_iter()
        .map(|e| e.event.kind)
        .collect();
    assert_eq!(
        kinds[1..],
        [DeskEventKind::Accepted, DeskEventKind::Resolved]
    );

    recorder.set_unavailable(true);
    let later = webhook::message_created(345, 9010, "more", "outgoing", false, 3, "Jonas Weber");
    assert_eq!(
        post(&built, &later, &signed(&later, SECRET, "dl-4")).await,
        503
    );
}

#[tokio::test]
async fn without_a_secret_unsigned_webhooks_are_accepted() {
    let fake = ChatwootFake::start(TOKEN, 7).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder, "").await;
    built
        .desk
        .deliver(requested("h-1", "cust-1"))
        .await
        .unwrap();
    let reply = webhook::message_created(345, 9001, "Hello", "outgoing", false, 3, "Jonas Weber");
    assert_eq!(post(&built, &reply, &[]).await, 200);
    assert_eq!(post(&built, &reply, &[]).await, 200);
    let events = recorder.events();
    assert_eq!(
        events.len(),
        1,
        "deduplicated on the message id without a delivery header"
    );
    assert_eq!(events[0].dedupe_key, "message:9001");
}

#[tokio::test]
async fn oversized_webhooks_are_refused_before_they_are_read() {
    let fake = ChatwootFake::start(TOKEN, 7).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder, SECRET).await;
    let big = serde_json::json!({"event": "message_created", "content": "x".repeat(tandem_sdk::http::DESK_EVENT_MAX_BODY)});
    let headers = signed(&big, SECRET, "dl-big");
    assert_eq!(post(&built, &big, &headers).await, 413);
    assert!(recorder.events().is_empty());
}

/// Issue 18 item 6: ids sent as strings are read; a message without a conversation id
/// and events the desk does not use are acknowledged (200), never refused.
#[tokio::test]
async fn string_ids_are_read_and_unusable_webhooks_get_200() {
    let fake = ChatwootFake::start(TOKEN, 7).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder, SECRET).await;
    built
        .desk
        .deliver(requested("h-1", "cust-1"))
        .await
        .unwrap();
    let mut reply = webhook::message_created(
        345,
        9001,
        "Hi, I'm Jonas.",
        "outgoing",
        false,
        3,
        "Jonas Weber",
    );
    reply["id"] = serde_json::json!("9001");
    reply["conversation"]["id"] = serde_json::json!("345");
    reply["sender"]["id"] = serde_json::json!("3");
    assert_eq!(
        post(&built, &reply, &signed(&reply, SECRET, "dl-s1")).await,
        200
    );
    let events = recorder.events();
    assert_eq!(events.len(), 1, "string ids are ids");
    assert!(
        matches!(&events[0].event.kind, DeskEventKind::AgentMessage { text } if text == "Hi, I'm Jonas.")
    );

    let mut orphan = reply.clone();
    orphan["id"] = serde_json::json!(9002);
    orphan.as_object_mut().unwrap().remove("conversation");
    let mut no_id = reply.clone();
    no_id["id"] = serde_json::json!(9003);
    no_id["conversation"] = serde_json::json!({"inbox_id": 12});
    let contact =
        serde_json::json!({"event": "contact_updated", "id": "77", "name": "Lena", "email": null});
    let odd = serde_json::json!({"event": {"nested": true}, "id": [1]});
    for (i, hook) in [orphan, no_id, contact, odd].iter().enumerate() {
        assert_eq!(
            post(&built, hook, &signed(hook, SECRET, &format!("dl-u{i}"))).await,
            200,
            "{hook}"
        );
    }
    assert_eq!(recorder.events().len(), 1, "nothing else recorded");
}

fn report(key: &str, state: &str, detail: Option<&str>) -> tandem_sdk::ReplyDelivery {
    tandem_sdk::ReplyDelivery {
        handoff_id: "h-1".into(),
        event_key: key.into(),
        state: state.into(),
        detail: detail.map(str::to_owned),
        at: "2026-01-01T10:05:00Z".into(),
    }
}

/// How far an agent's reply got is the reply's own status in Chatwoot (delivered, read;
/// failed with why), set through the message status API; nothing else is posted.
#[tokio::test]
async fn a_replys_delivery_state_is_its_chatwoot_status() {
    let fake = ChatwootFake::start(TOKEN, 7).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder, SECRET).await;
    built
        .desk
        .deliver(requested("h-1", "cust-1"))
        .await
        .unwrap();
    let conv = fake.conversations()[0]["id"].as_u64().unwrap();
    let ok = fake.add_agent_message(conv, "Hi, I'm Jonas.");
    let lost = fake.add_agent_message(conv, "One more thing.");
    let before = fake.messages(conv).len();
    for r in [
        report(&format!("message:{ok}"), "sent", None),
        report(&format!("message:{ok}"), "delivered", None),
        report(&format!("message:{ok}"), "read", None),
        report(
            &format!("message:{lost}"),
            "undeliverable",
            Some("window closed"),
        ),
        report("not-a-message-key", "failed", None),
    ] {
        built.desk.reply_delivery(r).await.unwrap();
    }
    tandem_testkit::eventually(5, "both statuses", || async {
        (fake.message(conv, ok).unwrap()["status"] == "read"
            && fake.message(conv, lost).unwrap()["status"] == "failed")
            .then_some(())
    })
    .await;
    assert_eq!(
        fake.message(conv, lost).unwrap()["content_attributes"]["external_error"],
        "Not delivered to the customer: window closed"
    );
    let patch = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(
        patch.path,
        format!("/api/v1/accounts/7/conversations/{conv}/messages/{ok}")
    );
    assert_eq!(patch.json(), serde_json::json!({"status": "sent"}));
    assert_eq!(patch.header("api_access_token"), Some(TOKEN));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        fake.messages(conv).len(),
        before,
        "no note when the status shows it"
    );
}

/// A Chatwoot without the message status API: a failure becomes a private note, once.
#[tokio::test]
async fn without_the_status_api_a_failure_is_a_private_note() {
    let fake = ChatwootFake::start(TOKEN, 7).await;
    fake.set_status_api(false);
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder, SECRET).await;
    built
        .desk
        .deliver(requested("h-1", "cust-1"))
        .await
        .unwrap();
    let conv = fake.conversations()[0]["id"].as_u64().unwrap();
    let lost = fake.add_agent_message(conv, "Hi");
    let before = fake.messages(conv).len();
    for state in ["delivered", "undeliverable", "undeliverable"] {
        built
            .desk
            .reply_delivery(report(
                &format!("message:{lost}"),
                state,
                Some("window closed").filter(|_| state != "delivered"),
            ))
            .await
            .unwrap();
    }
    let notes = tandem_testkit::eventually(5, "the note", || async {
        let notes: Vec<Value> = fake.messages(conv).into_iter().skip(before).collect();
        (!notes.is_empty()).then_some(notes)
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(fake.messages(conv).len(), before + 1, "once");
    assert_eq!(notes[0]["private"], true);
    assert_eq!(notes[0]["message_type"], "outgoing");
    assert_eq!(
        notes[0]["content"],
        "⚠️ Not delivered to the customer: window closed. The agent reply above did not reach them."
    );
}
