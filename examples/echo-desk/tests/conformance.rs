//! The desk conformance kit (`crates/tandem-sdk/DESK-SPEC.md`) run against the echo desk,
//! with the kit's fake JSON endpoint as the desk software. That software shows a
//! retried delivery once (it keys on `Idempotency-Key`), so a thread is one distinct
//! delivery of an `open`.

use std::collections::BTreeSet;
use tandem_example_echo_desk::{EchoDesk, EchoDeskConfig};
use tandem_testkit::fake::EndpointFake;
use tandem_testkit::http::Request;
use tandem_testkit::{AgentAction, Body, DeskDriver, Recorded, Reply, Thread};

const TOKEN: &str = "echo-desk-conformance-token";

/// How to impersonate the echo desk software.
#[derive(Default)]
struct Driver;

fn action(
    token: &str,
    thread: &Thread,
    agent: &str,
    action: &AgentAction,
    event: u64,
) -> Request<Body> {
    let mut body = serde_json::json!({
        "id": format!("ev-{event}"), "handoff": thread.handoff_id, "agent": agent,
    });
    let (name, extra) = match action {
        AgentAction::Accept => ("accept", serde_json::json!({})),
        AgentAction::Reply(text) => ("reply", serde_json::json!({"text": text})),
        AgentAction::Resolve => ("resolve", serde_json::json!({})),
        AgentAction::Release => ("release", serde_json::json!({})),
        AgentAction::TransferToAgent(to) => ("transfer", serde_json::json!({"to_agent": to})),
        AgentAction::TransferToQueue(q) => ("transfer", serde_json::json!({"to_queue": q})),
    };
    body["action"] = name.into();
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    Request::post("/desks/echo/actions")
        .header("content-type", "application/json")
        .header("x-echo-token", token)
        .body(Body::from(body.to_string()))
        .expect("valid request")
}

impl DeskDriver for Driver {
    type Factory = EchoDesk;
    type Platform = EndpointFake;
    const EXAMPLE: &'static str = include_str!("../echo-desk.toml");

    async fn start_platform(&self) -> EndpointFake {
        EndpointFake::start().await
    }

    fn config(&self, platform: &EndpointFake) -> EchoDeskConfig {
        toml::from_str(&format!(
            "url = \"{}\"\ntoken = \"{TOKEN}\"\n",
            platform.url()
        ))
        .expect("driver config")
    }

    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.into()]
    }

    fn agent_event(
        &self,
        thread: &Thread,
        agent: &str,
        act: &AgentAction,
        event: u64,
    ) -> Option<Request<Body>> {
        Some(action(TOKEN, thread, agent, act, event))
    }

    fn forged_event(&self, thread: &Thread, agent: &str, text: &str, event: u64) -> Request<Body> {
        action(
            "not-the-token",
            thread,
            agent,
            &AgentAction::Reply(text.into()),
            event,
        )
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
            .filter(|r| r.succeeded() && r.json()["event"] == "open")
            .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
            .collect::<BTreeSet<_>>()
            .len()
    }
}

tandem_testkit::desk_conformance!(Driver);
