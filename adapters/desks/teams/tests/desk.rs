//! The Teams desk against the testkit's fake Bot Framework (real HTTP on 127.0.0.1) and a
//! recording core: deliveries, idempotency, error classification, and the JWT-checked
//! messaging endpoint.

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use std::time::Duration;
use tandem_desk_teams::{TeamsDesk, TeamsDeskConfig};
use tandem_sdk::handoff::{HandoffClosed, HandoffUpdated};
use tandem_sdk::{
    BuiltDesk, DeskContext, DeskDelivery, DeskEventKind, DeskFactory, DeskOp, ErrorKind, Secret,
};
use tandem_testkit::Reply;
use tandem_testkit::desk_ops::{self, appended, line};
use tandem_testkit::desk_recording::RecordingDesk;
use tandem_testkit::fake::{TEAMS_TENANT, TeamsFake, TeamsUser, TokenKind};
use tower::ServiceExt;

const APP_ID: &str = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const PASSWORD: &str = "desk-secret";
const CHANNEL: &str = "19:d3sKsupp0rt@thread.tacv2";

async fn desk(fake: &TeamsFake, recorder: &RecordingDesk) -> BuiltDesk {
    let config = TeamsDeskConfig {
        app_id: APP_ID.into(),
        app_password: Secret::new(PASSWORD),
        tenant_id: Some(TEAMS_TENANT.into()),
        openid_metadata_url: fake.openid_metadata_url(),
        token_url: fake.token_url(),
        service_url: fake.service_url(),
        channel_id: CHANNEL.into(),
    };
    TeamsDesk::validate(&config).unwrap();
    let cx = DeskContext {
        id: "teams".into(),
        public_base_url: url::Url::parse("http://127.0.0.1:1").unwrap(),
        events: recorder.sink("teams"),
        http: reqwest::Client::new(),
        shutdown: tokio_util::sync::CancellationToken::new(),
    };
    TeamsDesk::build(config, cx).await.unwrap()
}

fn texts(fake: &TeamsFake, thread: &str) -> Vec<String> {
    fake.posts_to(thread)
        .iter()
        .map(|p| p["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The usual briefing without identities or triggers, with one transcript line.
fn requested(id: &str) -> DeskDelivery {
    let mut b = desk_ops::briefing(id);
    b.customer.identities = vec![];
    b.reason.triggers = vec![];
    b.transcript = vec![line("customer", "I want a refund")];
    desk_ops::open(b)
}

#[tokio::test]
async fn deliveries_are_idempotent_and_land_in_the_thread() {
    let fake = TeamsFake::start(APP_ID, PASSWORD).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder).await;

    let receipt = built.desk.deliver(requested("h-1")).await.unwrap();
    let threads = fake.channel_threads();
    assert_eq!(threads.len(), 1);
    let (thread, body) = &threads[0];
    assert_eq!(receipt.thread.as_deref(), Some(thread.as_str()));
    assert!(thread.starts_with(&format!("{CHANNEL};messageid=")));
    assert_eq!(body["isGroup"], true);
    assert_eq!(body["channelData"]["channel"]["id"], CHANNEL);
    assert_eq!(body["channelData"]["tenant"]["id"], TEAMS_TENANT);
    assert_eq!(body["activity"]["from"]["id"], format!("28:{APP_ID}"));
    assert_eq!(
        recorder.kv("teams", "thread:h-1").as_deref(),
        Some(thread.as_str())
    );
    assert_eq!(
        recorder
            .kv("teams", &format!("handoff:{thread}"))
            .as_deref(),
        Some("h-1")
    );
    // The connector call carried a token the fake issued.
    let created = &fake.created_conversations()[0];
    let token = created.header("authorization").unwrap().to_owned();
    assert!(
        fake.issued_tokens()
            .iter()
            .any(|t| token == format!("Bearer {t}"))
    );

    // A retried open posts nothing.
    assert_eq!(built.desk.deliver(requested("h-1")).await.unwrap(), receipt);
    assert_eq!(fake.channel_threads().len(), 1);

    // A redelivered append posts once.
    for _ in 0..2 {
        built
            .desk
            .deliver(appended("h-1", "d-2", "still there?"))
            .await
            .unwrap();
    }
    assert_eq!(texts(&fake, thread), ["Customer (webhook): still there?"]);
    assert_eq!(fake.posts_to(thread)[0]["textFormat"], "plain");

    let update = DeskDelivery {
        id: "d-3".into(),
        op: DeskOp::Update(HandoffUpdated {
            version: "1".into(),
            kind: "handoff.updated".into(),
            handoff_id: "h-1".into(),
            conversation_id: "conv-1".into(),
            change: "rerouted".into(),
            target: Some("support_lead".into()),
            priority: None,
            assignee: None,
            at: "2026-01-01T10:10:00Z".into(),
        }),
    };
    let close = DeskDelivery {
        id: "d-4".into(),
        op: DeskOp::Close(HandoffClosed {
            version: "1".into(),
            kind: "handoff.closed".into(),
            handoff_id: "h-1".into(),
            conversation_id: "conv-1".into(),
            reason: "timed_out".into(),
        }),
    };
    for d in [&update, &close, &update, &close] {
        built.desk.deliver(d.clone()).await.unwrap();
    }
    let all = texts(&fake, thread);
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(all[1], "Not accepted in time: re-routed to support_lead.");
    assert!(all[2].contains("timed out"));

    // No thread: rejected, nothing sent.
    let err = built
        .desk
        .deliver(appended("h-unknown", "d-9", "x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
}

#[tokio::test]
async fn connector_failures_are_classified() {
    let fake = TeamsFake::start(APP_ID, PASSWORD).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder).await;
    fake.script(Reply::RateLimited {
        retry_after_secs: 7,
    });
    let err = built.desk.deliver(requested("h-2")).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    for (status, code, kind) in [
        (403, "Forbidden", ErrorKind::Auth),
        (401, "Unauthorized", ErrorKind::Auth),
        (502, "ServiceError", ErrorKind::Transient),
        (412, "PreconditionFailed", ErrorKind::Transient),
        (504, "GatewayTimeout", ErrorKind::Transient),
    ] {
        fake.script_error(status, code, None);
        let err = built.desk.deliver(requested("h-2")).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{status}");
    }
    assert!(fake.channel_threads().is_empty());
    assert!(recorder.kv("teams", "thread:h-2").is_none());
    built.desk.deliver(requested("h-2")).await.unwrap();
    assert_eq!(fake.channel_threads().len(), 1);
}

fn agent() -> TeamsUser {
    TeamsUser::new("29:1AgentJonas", "aad-jonas", "Jonas Weber")
}

fn in_thread(fake: &TeamsFake, thread: &str, id: &str) -> Value {
    json!({
        "type": "message",
        "id": id,
        "channelId": "msteams",
        "serviceUrl": fake.service_url(),
        "from": agent().account(),
        "conversation": {"conversationType": "channel", "tenantId": TEAMS_TENANT, "id": thread},
        "recipient": {"id": format!("28:{APP_ID}")},
        "channelData": {"tenant": {"id": TEAMS_TENANT}, "channel": {"id": CHANNEL}},
    })
}

async fn post(built: &BuiltDesk, activity: &Value, bearer: Option<String>) -> (u16, String) {
    let mut req = Request::post("/desks/teams/messages").header("content-type", "application/json");
    if let Some(b) = bearer {
        req = req.header("authorization", b);
    }
    let resp = built
        .routes
        .clone()
        .unwrap()
        .oneshot(req.body(Body::from(activity.to_string())).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn the_messaging_endpoint_checks_tokens_and_records_agent_actions_once() {
    let fake = TeamsFake::start(APP_ID, PASSWORD).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder).await;
    built.desk.deliver(requested("h-1")).await.unwrap();
    let thread = fake.channel_threads()[0].0.clone();

    let mut reply = in_thread(&fake, &thread, "1767261700001");
    reply["text"] = json!("<at>Tandem Desk</at> On it.");
    for (bearer, status) in [
        (None, 401),
        (Some(fake.bearer(&reply, TokenKind::BadSignature)), 401),
        (Some(fake.bearer(&reply, TokenKind::Expired)), 401),
        (Some(fake.bearer(&reply, TokenKind::Hs256)), 401),
        (Some(fake.bearer(&reply, TokenKind::Unendorsed)), 403),
        (
            Some(fake.bearer(&reply, TokenKind::ServiceUrlMismatch)),
            403,
        ),
    ] {
        assert_eq!(post(&built, &reply, bearer).await.0, status);
    }
    assert!(
        recorder.events().is_empty(),
        "nothing recorded for refused tokens"
    );

    let valid = Some(fake.bearer(&reply, TokenKind::Valid));
    assert_eq!(post(&built, &reply, valid.clone()).await.0, 200);
    assert_eq!(post(&built, &reply, valid).await.0, 200);
    let events = recorder.events();
    assert_eq!(events.len(), 1, "a redelivery is deduplicated");
    assert_eq!(events[0].dedupe_key, "1767261700001");
    assert_eq!(events[0].event.handoff_id, "h-1");
    assert_eq!(
        events[0].event.kind,
        DeskEventKind::AgentMessage {
            text: "On it.".into()
        }
    );
    let who = events[0].event.agent.as_ref().unwrap();
    assert_eq!(who.id, "aad-jonas");
    assert_eq!(who.name.as_deref(), Some("Jonas Weber"));

    // A card button as an invoke: InvokeResponse body.
    let mut invoke = in_thread(&fake, &thread, "1767261700002");
    invoke["type"] = json!("invoke");
    invoke["name"] = json!("adaptiveCard/action");
    invoke["value"] = json!({"action": {"type": "Action.Submit", "data": {"tandem": "resolve", "handoff_id": "h-1"}}});
    let (status, body) = post(
        &built,
        &invoke,
        Some(fake.bearer(&invoke, TokenKind::Valid)),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("\"statusCode\":200"), "{body}");
    assert_eq!(recorder.events()[1].event.kind, DeskEventKind::Resolved);

    // A button naming a handoff this desk never posted, a stray thread, the bot itself:
    // 200, nothing recorded.
    let mut foreign = in_thread(&fake, &thread, "1767261700003");
    foreign["value"] = json!({"tandem": "accept", "handoff_id": "h-other"});
    let mut stray = in_thread(&fake, &format!("{CHANNEL};messageid=42"), "1767261700004");
    stray["text"] = json!("hello");
    let mut own = in_thread(&fake, &thread, "1767261700005");
    own["from"] = json!({"id": format!("28:{APP_ID}"), "name": "Tandem Desk"});
    own["text"] = json!("Customer (webhook): echo");
    for a in [&foreign, &stray, &own] {
        assert_eq!(
            post(&built, a, Some(fake.bearer(a, TokenKind::Valid)))
                .await
                .0,
            200
        );
    }
    assert_eq!(recorder.events().len(), 2);

    // Store down: 503 so Bot Framework redelivers.
    recorder.set_unavailable(true);
    let mut later = in_thread(&fake, &thread, "1767261700006");
    later["text"] = json!("again");
    assert_eq!(
        post(&built, &later, Some(fake.bearer(&later, TokenKind::Valid)))
            .await
            .0,
        503
    );
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

/// An agent reply that did not reach the customer is noted in the handoff's thread, once;
/// success states post nothing.
#[tokio::test]
async fn a_reply_that_did_not_arrive_is_noted_in_the_thread() {
    let fake = TeamsFake::start(APP_ID, PASSWORD).await;
    let recorder = RecordingDesk::new();
    let built = desk(&fake, &recorder).await;
    built.desk.deliver(requested("h-1")).await.unwrap();
    let thread = fake.channel_threads()[0].0.clone();
    for (key, state, detail) in [
        ("a1", "sent", None),
        ("a1", "delivered", None),
        ("a1", "read", None),
        ("a2", "undeliverable", Some("window closed")),
        ("a2", "undeliverable", Some("window closed")),
    ] {
        built
            .desk
            .reply_delivery(report(key, state, detail))
            .await
            .unwrap();
    }
    tandem_testkit::eventually(5, "the failure in the thread", || async {
        (!texts(&fake, &thread).is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        texts(&fake, &thread),
        [
            "⚠️ Not delivered to the customer: window closed. An agent reply in this thread did not reach them."
        ]
    );
    assert_eq!(
        fake.posts_to(&thread)[0]["from"]["id"],
        format!("28:{APP_ID}")
    );
}
