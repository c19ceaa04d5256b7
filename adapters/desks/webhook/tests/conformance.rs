//! The desk conformance kit run against the generic webhook desk, with the kit's fake
//! JSON endpoint as the contact-center software receiving handoff documents. That
//! software deduplicates on `X-Tandem-Delivery` (the contract's promise), so a thread is
//! one distinct delivery of a `handoff.requested` document.

use std::collections::BTreeSet;
use tandem_desk_webhook::{WebhookDesk, WebhookDeskConfig};
use tandem_sdk::signature::{hmac_sha256_hex, unix_now};
use tandem_testkit::fake::EndpointFake;
use tandem_testkit::http::Request;
use tandem_testkit::{AgentAction, Body, DeskDriver, Recorded, Reply, Thread};

const SECRET: &str = "desk-conformance-secret";

#[derive(Default)]
struct Driver;

fn signed(body: &serde_json::Value, secret: &str) -> Request<Body> {
    let body = serde_json::to_vec(body).expect("JSON");
    let ts = unix_now().to_string();
    let sig = hmac_sha256_hex(secret.as_bytes(), &[ts.as_bytes(), b".", &body]);
    Request::post("/desks/webhook/events")
        .header("content-type", "application/json")
        .header("x-tandem-timestamp", ts)
        .header("x-tandem-signature", format!("sha256={sig}"))
        .body(Body::from(body))
        .expect("valid request")
}

fn event_body(thread: &Thread, agent: &str, action: &AgentAction, event: u64) -> serde_json::Value {
    let mut body = serde_json::json!({
        "handoff_id": thread.handoff_id,
        "agent": {"id": agent, "name": format!("Agent {agent}")},
        "event_id": format!("ev-{event}"),
    });
    let (kind, extra) = match action {
        AgentAction::Accept => ("handoff.accepted", serde_json::json!({})),
        AgentAction::Reply(text) => ("agent.message", serde_json::json!({"text": text})),
        AgentAction::Resolve => ("handoff.resolved", serde_json::json!({})),
        AgentAction::Release => ("handoff.released", serde_json::json!({})),
        AgentAction::TransferToAgent(to) => (
            "handoff.transferred",
            serde_json::json!({"to_agent": {"id": to}}),
        ),
        AgentAction::TransferToQueue(queue) => (
            "handoff.transferred",
            serde_json::json!({"to_queue": queue}),
        ),
    };
    body["type"] = kind.into();
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    body
}

impl DeskDriver for Driver {
    type Factory = WebhookDesk;
    type Platform = EndpointFake;
    const EXAMPLE: &'static str = include_str!("../../../../config/examples/desk-webhook.toml");

    async fn start_platform(&self) -> EndpointFake {
        EndpointFake::start().await
    }

    fn config(&self, platform: &EndpointFake) -> WebhookDeskConfig {
        toml::from_str(&format!(
            "url = \"{}\"\nsecret = \"{SECRET}\"\n",
            platform.url()
        ))
        .expect("driver config")
    }

    fn secrets(&self) -> Vec<String> {
        vec![SECRET.into()]
    }

    fn agent_event(
        &self,
        thread: &Thread,
        agent: &str,
        action: &AgentAction,
        event: u64,
    ) -> Option<Request<Body>> {
        Some(signed(&event_body(thread, agent, action, event), SECRET))
    }

    fn forged_event(&self, thread: &Thread, agent: &str, text: &str, event: u64) -> Request<Body> {
        let action = AgentAction::Reply(text.into());
        signed(&event_body(thread, agent, &action, event), "not-the-secret")
    }

    fn script(&self, platform: &EndpointFake, reply: Reply) {
        platform.script(reply);
    }

    fn requests(&self, platform: &EndpointFake) -> Vec<Recorded> {
        platform.requests()
    }

    fn threads(&self, platform: &EndpointFake) -> usize {
        platform
            .requests()
            .iter()
            .filter(|r| r.succeeded() && r.json()["type"] == "handoff.requested")
            .filter_map(|r| r.header("x-tandem-delivery").map(str::to_owned))
            .collect::<BTreeSet<_>>()
            .len()
    }
}

tandem_testkit::desk_conformance!(Driver);
