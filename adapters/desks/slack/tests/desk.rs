//! The Slack desk against the fake Slack Web API (real HTTP on 127.0.0.1) and a recording
//! core: deliveries, idempotency, error classification, and the signed inbound routes.

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use std::time::Duration;
use tandem_desk_slack::{ACTION_RESOLVE, SlackDesk, SlackDeskConfig};
use tandem_sdk::handoff::HandoffClosed;
use tandem_sdk::{
    BuiltDesk, DeskContext, DeskDelivery, DeskEventKind, DeskFactory, DeskOp, ErrorKind, Secret,
};
use tandem_testkit::desk_ops::{self, appended};
use tandem_testkit::desk_recording::RecordingDesk;
use tandem_testkit::slack_fake::{SlackFake, SlackReply, now_secs, sign};
use tower::ServiceExt;

const TOKEN: &str = "xoxb-test-token";
const SECRET: &str = "test_signing_secret";

async fn desk(fake: &SlackFake, recorder: &RecordingDesk) -> BuiltDesk {
    let config = SlackDeskConfig {
        bot_token: Secret::new(TOKEN),
        signing_secret: Secret::new(SECRET),
        channel_id: "C0SUPPORT1".into(),
        api_base: fake.base_url().to_owned(),
    };
    SlackDesk::validate(&config).unwrap();
    let cx = DeskContext {
        id: "slack".into(),
        public_base_url: url::Url::parse("http://127.0.0.1:1").unwrap(),
        events: recorder.sink("slack"),
        http: reqwest::Client::new(),
        shutdown: tokio_util::sync::CancellationToken::new(),
    };
    SlackDesk::build(config, cx).await.unwrap()
}

fn requested(id: &str) -> DeskDelivery {
    desk_ops::open(desk_ops::briefing(id))
}

#[tokio::test]
async fn open_is_idempotent_and_threads_everything() {
    let fake = SlackFake::start(TOKEN).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder).await;
    let receipt = built.desk.deliver(requested("h-1")).await.unwrap();
    let root_ts = SlackFake::ts_of(0);
    assert_eq!(receipt.thread.as_deref(), Some(root_ts.as_str()));
    let roots = fake.roots();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0]["channel"], "C0SUPPORT1");
    assert!(roots[0]["text"].as_str().unwrap().contains("revenue"));
    assert!(roots[0]["blocks"].to_string().contains("refund"));
    let auth = fake.calls("chat.postMessage")[0]
        .header("authorization")
        .unwrap()
        .to_owned();
    assert_eq!(auth, format!("Bearer {TOKEN}"));
    let transcript = fake.replies(&root_ts);
    assert_eq!(transcript.len(), 1);
    assert!(
        transcript[0]["text"]
            .as_str()
            .unwrap()
            .contains("I want a refund")
    );
    // The request fixtures' fields are all sent (thread reply; root with buttons).
    let reply_fixture: Value =
        serde_json::from_str(include_str!("fixtures/chat_postMessage_request.json")).unwrap();
    for key in reply_fixture.as_object().unwrap().keys() {
        assert!(transcript[0].get(key).is_some(), "reply lacks {key}");
    }
    let root_fixture: Value = serde_json::from_str(include_str!(
        "fixtures/chat_postMessage_request_root_with_blocks.json"
    ))
    .unwrap();
    for key in ["channel", "text", "blocks"] {
        assert!(root_fixture.get(key).is_some() && roots[0].get(key).is_some());
    }
    let fixture_button = &root_fixture["blocks"][1]["elements"][0];
    let ours = roots[0]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap();
    for key in fixture_button.as_object().unwrap().keys() {
        assert!(ours["elements"][0].get(key).is_some(), "button lacks {key}");
    }
    assert_eq!(
        recorder
            .kv("slack", &format!("handoff:C0SUPPORT1:{root_ts}"))
            .as_deref(),
        Some("h-1")
    );
    assert_eq!(
        recorder.kv("slack", "thread:h-1"),
        Some(format!("C0SUPPORT1:{root_ts}"))
    );

    // A retried open posts nothing.
    let again = built.desk.deliver(requested("h-1")).await.unwrap();
    assert_eq!(again, receipt);
    assert_eq!(fake.posted().len(), 2);

    built
        .desk
        .deliver(appended("h-1", "d-2", "<!channel> still there?"))
        .await
        .unwrap();
    built
        .desk
        .deliver(appended("h-1", "d-2", "<!channel> still there?"))
        .await
        .unwrap();
    let replies = fake.replies(&root_ts);
    assert_eq!(replies.len(), 2, "a redelivered append posts once");
    assert!(
        replies[1]["text"]
            .as_str()
            .unwrap()
            .contains("&lt;!channel&gt; still there?")
    );

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
    assert!(
        fake.replies(&root_ts)[2]["text"]
            .as_str()
            .unwrap()
            .contains("timed out")
    );
    let updates = fake.updates();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["ts"], root_ts.as_str());
    assert!(
        !updates[0]["blocks"].to_string().contains("tandem_accept"),
        "buttons removed"
    );

    let unknown = built
        .desk
        .deliver(appended("h-unknown", "d-9", "x"))
        .await
        .unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::Rejected);
}

#[tokio::test]
async fn slack_failures_are_classified_for_the_outbox() {
    let fake = SlackFake::start(TOKEN).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder).await;
    let cases = [
        (
            SlackReply::Error("not_in_channel".into()),
            ErrorKind::Rejected,
        ),
        (
            SlackReply::Error("channel_not_found".into()),
            ErrorKind::Rejected,
        ),
        (SlackReply::Error("invalid_auth".into()), ErrorKind::Auth),
        (SlackReply::Error("token_revoked".into()), ErrorKind::Auth),
        (
            SlackReply::Error("internal_error".into()),
            ErrorKind::Transient,
        ),
        (SlackReply::Status(503), ErrorKind::Transient),
        (
            SlackReply::RateLimited {
                retry_after_secs: 7,
            },
            ErrorKind::RateLimited {
                retry_after: Some(Duration::from_secs(7)),
            },
        ),
        (
            SlackReply::Error("ratelimited".into()),
            ErrorKind::RateLimited { retry_after: None },
        ),
    ];
    for (i, (reply, kind)) in cases.into_iter().enumerate() {
        fake.script(reply.clone());
        let err = built
            .desk
            .deliver(requested(&format!("h-{i}")))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{reply:?}");
    }
    assert!(fake.roots().is_empty());
    // After a failure the retry opens the thread once.
    built.desk.deliver(requested("h-0")).await.unwrap();
    assert_eq!(fake.roots().len(), 1);
    // A transcript reply failing after the root: the retry posts only what is missing.
    fake.script(SlackReply::Ok);
    fake.script(SlackReply::Status(500));
    built.desk.deliver(requested("h-x")).await.unwrap_err();
    built.desk.deliver(requested("h-x")).await.unwrap();
    assert_eq!(fake.roots().len(), 2);
    assert_eq!(fake.replies(&SlackFake::ts_of(2)).len(), 1);
}

async fn post(
    built: &BuiltDesk,
    path: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> (u16, Value) {
    let mut req = Request::post(path);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let response = built
        .routes
        .clone()
        .unwrap()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn signed(body: &[u8], secret: &str) -> Vec<(&'static str, String)> {
    let (ts, sig) = sign(secret, now_secs(), body);
    vec![
        ("x-slack-request-timestamp", ts),
        ("x-slack-signature", sig),
    ]
}

fn agent_reply(event_id: &str, thread_ts: &str, text: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_str(include_str!(
        "fixtures/event_message_in_thread_from_agent.json"
    ))
    .unwrap();
    v["event_id"] = json!(event_id);
    v["event"]["thread_ts"] = json!(thread_ts);
    v["event"]["text"] = json!(text);
    serde_json::to_vec(&v).unwrap()
}

#[tokio::test]
async fn signed_events_and_clicks_become_agent_actions_once() {
    let fake = SlackFake::start(TOKEN).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder).await;
    built.desk.deliver(requested("h-1")).await.unwrap();
    let root_ts = SlackFake::ts_of(0);

    let challenge = include_bytes!("fixtures/url_verification.json").to_vec();
    let (status, body) = post(
        &built,
        "/desks/slack/events",
        challenge.clone(),
        &signed(&challenge, SECRET),
    )
    .await;
    assert_eq!(
        (status, body["challenge"].as_str()),
        (
            200,
            Some("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
        )
    );

    let reply = agent_reply("Ev1", &root_ts, "Hi, I'm Jonas.");
    let (status, _) = post(
        &built,
        "/desks/slack/events",
        reply.clone(),
        &signed(&reply, "wrong-secret"),
    )
    .await;
    assert_eq!(status, 401, "forged");
    let mut stale = signed(&reply, SECRET);
    let (ts, sig) = sign(SECRET, now_secs() - 301, &reply);
    stale[0].1 = ts;
    stale[1].1 = sig;
    assert_eq!(
        post(&built, "/desks/slack/events", reply.clone(), &stale)
            .await
            .0,
        401,
        "replayed"
    );
    assert!(recorder.events().is_empty());

    assert_eq!(
        post(
            &built,
            "/desks/slack/events",
            reply.clone(),
            &signed(&reply, SECRET)
        )
        .await
        .0,
        200
    );
    let mut retry = signed(&reply, SECRET);
    retry.push(("x-slack-retry-num", "1".into()));
    retry.push(("x-slack-retry-reason", "http_timeout".into()));
    assert_eq!(
        post(&built, "/desks/slack/events", reply.clone(), &retry)
            .await
            .0,
        200
    );
    let events = recorder.events();
    assert_eq!(events.len(), 1, "one effect for a redelivery");
    assert_eq!(events[0].dedupe_key, "Ev1");
    assert_eq!(events[0].event.handoff_id, "h-1");
    assert_eq!(
        events[0].event.kind,
        DeskEventKind::AgentMessage {
            text: "Hi, I'm Jonas.".into()
        }
    );
    assert_eq!(events[0].event.agent.as_ref().unwrap().id, "U0AGENT001");

    // The desk's own post coming back, and replies in unrelated threads: nothing.
    let mut echo: Value =
        serde_json::from_str(include_str!("fixtures/event_message_own_bot_echo.json")).unwrap();
    echo["event"]["thread_ts"] = json!(root_ts);
    let echo = serde_json::to_vec(&echo).unwrap();
    assert_eq!(
        post(
            &built,
            "/desks/slack/events",
            echo.clone(),
            &signed(&echo, SECRET)
        )
        .await
        .0,
        200
    );
    let elsewhere = agent_reply("Ev2", "1700000000.000001", "hello");
    assert_eq!(
        post(
            &built,
            "/desks/slack/events",
            elsewhere.clone(),
            &signed(&elsewhere, SECRET)
        )
        .await
        .0,
        200
    );
    assert_eq!(recorder.events().len(), 1);

    // Resolve button, signed over the raw form body; redelivered once.
    let mut payload: Value = serde_json::from_str(include_str!(
        "fixtures/interactivity_block_actions_payload.json"
    ))
    .unwrap();
    payload["actions"][0]["action_id"] = json!(ACTION_RESOLVE);
    payload["actions"][0]["value"] = json!("h-1");
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let form = form.into_bytes();
    let mut headers = signed(&form, SECRET);
    headers.push(("content-type", "application/x-www-form-urlencoded".into()));
    assert_eq!(
        post(&built, "/desks/slack/interactions", form.clone(), &headers)
            .await
            .0,
        200
    );
    assert_eq!(
        post(&built, "/desks/slack/interactions", form.clone(), &headers)
            .await
            .0,
        200
    );
    let forged = signed(&form, "nope");
    assert_eq!(
        post(&built, "/desks/slack/interactions", form.clone(), &forged)
            .await
            .0,
        401
    );
    let events = recorder.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].event.kind, DeskEventKind::Resolved);
    assert_eq!(
        events[1].event.agent.as_ref().unwrap().name.as_deref(),
        Some("jonas.weber")
    );
    tandem_testkit::eventually(5, "root settled", || async {
        (!fake.updates().is_empty()).then_some(())
    })
    .await;
    assert!(
        fake.updates()[0]["blocks"]
            .to_string()
            .contains("Resolved by")
    );

    // The core unavailable: Slack is told to send it again.
    recorder.set_unavailable(true);
    let later = agent_reply("Ev3", &root_ts, "one more");
    assert_eq!(
        post(
            &built,
            "/desks/slack/events",
            later.clone(),
            &signed(&later, SECRET)
        )
        .await
        .0,
        503
    );
}

#[tokio::test]
async fn a_failing_auth_test_still_builds_and_drops_bot_messages() {
    let fake = SlackFake::start(TOKEN).await;
    fake.set_auth_test_ok(false);
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder).await;
    built.desk.deliver(requested("h-1")).await.unwrap();
    let mut echo: Value =
        serde_json::from_str(include_str!("fixtures/event_message_own_bot_echo.json")).unwrap();
    echo["event"]["thread_ts"] = json!(SlackFake::ts_of(0));
    let echo = serde_json::to_vec(&echo).unwrap();
    assert_eq!(
        post(
            &built,
            "/desks/slack/events",
            echo.clone(),
            &signed(&echo, SECRET)
        )
        .await
        .0,
        200
    );
    assert!(recorder.events().is_empty());
}

/// Issue 18 item 5: events and interactions the desk does not use (objects where the
/// desk reads strings, legacy `interactive_message`, shortcuts) are acknowledged with 200
/// and change nothing, so Slack neither retries nor disables the app.
#[tokio::test]
async fn unused_events_and_legacy_interactions_get_200() {
    let fake = SlackFake::start(TOKEN).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder).await;
    built.desk.deliver(requested("h-1")).await.unwrap();
    let events = [
        json!({"type": "event_callback", "event_id": "Ev10", "event": {"type": "channel_created",
            "channel": {"id": "C0NEW", "name": "fresh", "created": 1767261600, "creator": "U0ADMIN"}}}),
        json!({"type": "event_callback", "event_id": "Ev11", "event": {"type": "message",
            "channel": "C0HANDOFF", "user": {"id": "U0AGENT", "name": "jonas"}, "text": "hi", "ts": "1767261600.000100", "thread_ts": SlackFake::ts_of(0)}}),
        json!({"type": "event_callback", "event_id": "Ev12", "event": {"type": "user_change",
            "user": {"id": "U0AGENT", "profile": {"display_name": "Jonas"}}}}),
        json!({"type": "app_rate_limited", "team_id": "T0", "minute_rate_limited": 1767261600}),
        json!({"token": "legacy", "event": "unknown"}),
    ];
    for event in events {
        let body = event.to_string().into_bytes();
        let (status, _) = post(
            &built,
            "/desks/slack/events",
            body.clone(),
            &signed(&body, SECRET),
        )
        .await;
        assert_eq!(status, 200, "{event}");
    }
    for payload in [
        json!({"type": "interactive_message", "callback_id": "old_buttons", "user": {"id": "U0AGENT", "name": "jonas"},
            "actions": [{"name": "accept", "type": "button", "value": "h-1"}], "action_ts": "1767261600.1"}),
        json!({"type": "shortcut", "callback_id": "do_it", "user": "U0AGENT", "trigger_id": "t"}),
        json!({"type": "block_actions", "user": {"id": "U0AGENT"}, "actions": [{"action_id": {"odd": true}}]}),
    ] {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish()
            .into_bytes();
        let mut headers = signed(&form, SECRET);
        headers.push(("content-type", "application/x-www-form-urlencoded".into()));
        let (status, _) = post(&built, "/desks/slack/interactions", form, &headers).await;
        assert_eq!(status, 200, "{payload}");
    }
    assert!(recorder.events().is_empty(), "nothing the desk uses");
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

/// How far an agent's reply got shows on the reply: ✅ delivered, 👀 read, and a failure
/// as ❌ plus a thread reply naming the agent and why (once, also when reported twice);
/// `sent` shows nothing, and a report about a reply the desk doesn't know is ignored.
#[tokio::test]
async fn a_replys_delivery_state_shows_on_it_and_failures_in_the_thread() {
    let fake = SlackFake::start(TOKEN).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder).await;
    built.desk.deliver(requested("h-1")).await.unwrap();
    let root_ts = SlackFake::ts_of(0);
    // The fixture's reply: ts 1767261725.000200, by U0AGENT001.
    let reply_ts = "1767261725.000200";
    for (key, text) in [("Ev1", "Hi, I'm Jonas."), ("Ev2", "One more thing.")] {
        let body = agent_reply(key, &root_ts, text);
        let (status, _) = post(
            &built,
            "/desks/slack/events",
            body.clone(),
            &signed(&body, SECRET),
        )
        .await;
        assert_eq!(status, 200);
    }
    let thread_before = fake.replies(&root_ts).len();

    built
        .desk
        .reply_delivery(report("Ev1", "sent", None))
        .await
        .unwrap();
    built
        .desk
        .reply_delivery(report("Ev1", "delivered", None))
        .await
        .unwrap();
    built
        .desk
        .reply_delivery(report("Ev1", "read", None))
        .await
        .unwrap();
    tandem_testkit::eventually(5, "delivered and read marks", || async {
        (fake.reactions_on(reply_ts) == ["white_check_mark", "eyes"]).then_some(())
    })
    .await;
    let reaction = fake.calls("reactions.add")[0].json();
    assert_eq!(
        reaction,
        json!({"channel": "C0SUPPORT1", "timestamp": reply_ts, "name": "white_check_mark"})
    );
    assert_eq!(
        fake.replies(&root_ts).len(),
        thread_before,
        "nothing posted for success"
    );

    // A failure: unmissable, once.
    for _ in 0..2 {
        built
            .desk
            .reply_delivery(report("Ev2", "undeliverable", Some("window closed")))
            .await
            .unwrap();
    }
    built
        .desk
        .reply_delivery(report("Ev-unknown", "failed", None))
        .await
        .unwrap();
    let notes = tandem_testkit::eventually(5, "the failure in the thread", || async {
        let notes: Vec<String> = fake
            .replies(&root_ts)
            .iter()
            .skip(thread_before)
            .map(|r| r["text"].as_str().unwrap_or_default().to_owned())
            .collect();
        (!notes.is_empty() && fake.reactions_on(reply_ts).contains(&"x".to_owned()))
            .then_some(notes)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(fake.replies(&root_ts).len(), thread_before + 1);
    assert!(notes[0].starts_with("<@U0AGENT001> "), "{notes:?}");
    assert!(
        notes[0].contains("Not delivered to the customer: window closed."),
        "{notes:?}"
    );
    assert_eq!(
        fake.reactions_on(reply_ts),
        ["white_check_mark", "eyes", "x"]
    );
}

/// A failing Slack call is reported to the core (which logs it at debug) without
/// blocking it, and the desk keeps showing later states.
#[tokio::test]
async fn a_failed_report_does_not_block_later_ones() {
    let fake = SlackFake::start(TOKEN).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder).await;
    built.desk.deliver(requested("h-1")).await.unwrap();
    let root_ts = SlackFake::ts_of(0);
    let body = agent_reply("Ev1", &root_ts, "Hi");
    post(
        &built,
        "/desks/slack/events",
        body.clone(),
        &signed(&body, SECRET),
    )
    .await;
    fake.script(SlackReply::Status(503));
    built
        .desk
        .reply_delivery(report("Ev1", "failed", Some("HTTP 500")))
        .await
        .unwrap();
    built
        .desk
        .reply_delivery(report("Ev1", "read", None))
        .await
        .unwrap();
    tandem_testkit::eventually(5, "the later state", || async {
        fake.reactions_on("1767261725.000200")
            .contains(&"eyes".to_owned())
            .then_some(())
    })
    .await;
}
