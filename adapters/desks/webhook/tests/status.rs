//! `agent.message.status`: the integrator's endpoint gets one signed event per state of an
//! agent message, in order, with the key the message was recorded under; a refusal is
//! not retried and does not hold up later events.

use std::time::Duration;
use tandem_desk_webhook::{WebhookDesk, WebhookDeskConfig};
use tandem_sdk::signature::hmac_sha256_hex;
use tandem_sdk::{BuiltDesk, DeskContext, DeskFactory, ReplyDelivery, Secret};
use tandem_testkit::desk_recording::RecordingDesk;
use tandem_testkit::fake::EndpointFake;
use tandem_testkit::{Recorded, Reply, eventually};

const SECRET: &str = "status-secret";

async fn desk(endpoint: &EndpointFake, recorder: &RecordingDesk) -> BuiltDesk {
    let config = WebhookDeskConfig {
        url: endpoint.url(),
        secret: Secret::new(SECRET),
    };
    WebhookDesk::validate(&config).unwrap();
    let cx = DeskContext {
        id: "webhook".into(),
        public_base_url: url::Url::parse("http://127.0.0.1:1").unwrap(),
        events: recorder.sink("webhook"),
        http: reqwest::Client::new(),
        shutdown: Default::default(),
    };
    WebhookDesk::build(config, cx).await.unwrap()
}

fn report(key: &str, state: &str, detail: Option<&str>) -> ReplyDelivery {
    ReplyDelivery {
        handoff_id: "h-1".into(),
        event_key: key.into(),
        state: state.into(),
        detail: detail.map(str::to_owned),
        at: "2026-01-01T10:05:00Z".into(),
    }
}

fn signed_correctly(r: &Recorded) -> bool {
    let ts = r.header("x-tandem-timestamp").unwrap_or_default();
    let expected = hmac_sha256_hex(SECRET.as_bytes(), &[ts.as_bytes(), b".", &r.body]);
    r.header("x-tandem-signature") == Some(format!("sha256={expected}").as_str())
}

#[tokio::test]
async fn every_state_is_one_signed_status_event_in_order() {
    let endpoint = EndpointFake::start().await;
    let recorder = RecordingDesk::new();
    let built = desk(&endpoint, &recorder).await;
    // The integrator refuses the first one: it is not sent again, the next ones follow.
    endpoint.script(Reply::ServerError);
    for (state, detail) in [
        ("sent", None),
        ("delivered", None),
        ("read", None),
        ("undeliverable", Some("window closed")),
    ] {
        built
            .desk
            .reply_delivery(report("event:ev-1", state, detail))
            .await
            .unwrap();
    }
    let got = eventually(5, "four status events", || async {
        let r = endpoint.requests();
        (r.len() >= 4).then_some(r)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        endpoint.requests().len(),
        4,
        "a refused event is not retried"
    );
    let states: Vec<String> = got
        .iter()
        .map(|r| r.json()["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, ["sent", "delivered", "read", "undeliverable"]);
    for r in &got {
        assert!(signed_correctly(r), "signed like every other document");
        assert!(
            r.header("x-tandem-delivery")
                .unwrap()
                .starts_with("status-")
        );
    }
    let last = got[3].json();
    assert_eq!(
        last,
        serde_json::json!({"version": "1", "type": "agent.message.status", "handoff_id": "h-1",
            "event_key": "event:ev-1", "event_id": "ev-1", "state": "undeliverable",
            "detail": "window closed", "at": "2026-01-01T10:05:00Z"})
    );
    // The handoff contract's schema knows the event.
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../../docs/handoff-v1.schema.json")).unwrap();
    let def = &schema["$defs"]["agentMessageStatus"];
    for key in def["required"].as_array().unwrap() {
        assert!(last.get(key.as_str().unwrap()).is_some(), "{key} missing");
    }
    for key in last.as_object().unwrap().keys() {
        assert!(
            def["properties"].get(key).is_some(),
            "{key} not in the schema"
        );
    }
}
