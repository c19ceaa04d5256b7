//! The desk conformance kit run against the Slack desk and the kit's fake Slack Web API
//! (real HTTP on 127.0.0.1). Agents act with the root message's buttons (accept,
//! resolve, return to bot), by replying in the thread, and with `!transfer` commands in
//! the thread.

use serde_json::{Value, json};
use tandem_desk_slack::{
    ACTION_ACCEPT, ACTION_RELEASE, ACTION_RESOLVE, SlackDesk, SlackDeskConfig,
};
use tandem_sdk::Secret;
use tandem_testkit::fake::Recorded;
use tandem_testkit::http::Request;
use tandem_testkit::slack_fake::{SlackFake, SlackReply, now_secs, sign};
use tandem_testkit::{AgentAction, Body, DeskDriver, Reply, Thread};

const TOKEN: &str = "xoxb-conformance-token";
const SECRET: &str = "slack-conformance-signing-secret";
const CHANNEL: &str = "C0SUPPORT1";

#[derive(Default)]
struct Driver;

fn signed(path: &str, body: Vec<u8>, secret: &str, form: bool) -> Request<Body> {
    let (ts, sig) = sign(secret, now_secs(), &body);
    let content_type = if form {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    Request::post(path)
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(Body::from(body))
        .expect("valid request")
}

/// An agent's message in the handoff's thread (Events API).
fn message(thread: &Thread, agent: &str, text: &str, event: u64) -> Vec<u8> {
    let mut v: Value = serde_json::from_str(include_str!(
        "fixtures/event_message_in_thread_from_agent.json"
    ))
    .expect("fixture");
    v["event_id"] = json!(format!("Ev{event}"));
    v["event"]["user"] = json!(agent);
    v["event"]["ts"] = json!(format!("1767262000.{event:06}"));
    v["event"]["thread_ts"] = json!(thread.reference);
    v["event"]["channel"] = json!(CHANNEL);
    v["event"]["text"] = json!(text);
    v["event"].as_object_mut().map(|e| e.remove("blocks"));
    serde_json::to_vec(&v).expect("JSON")
}

/// A click on one of the root message's buttons (interactivity, form-encoded).
fn click(thread: &Thread, agent: &str, action_id: &str, event: u64) -> Vec<u8> {
    let mut payload: Value = serde_json::from_str(include_str!(
        "fixtures/interactivity_block_actions_payload.json"
    ))
    .expect("fixture");
    payload["user"]["id"] = json!(agent);
    payload["container"]["message_ts"] = json!(thread.reference);
    payload["actions"][0]["action_id"] = json!(action_id);
    payload["actions"][0]["value"] = json!(thread.handoff_id);
    payload["actions"][0]["action_ts"] = json!(format!("1767262100.{event:06}"));
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
        .into_bytes()
}

impl DeskDriver for Driver {
    type Factory = SlackDesk;
    type Platform = SlackFake;
    const EXAMPLE: &'static str = include_str!("../../../../config/examples/desk-slack.toml");

    async fn start_platform(&self) -> SlackFake {
        SlackFake::start(TOKEN).await
    }

    fn config(&self, platform: &SlackFake) -> SlackDeskConfig {
        SlackDeskConfig {
            bot_token: Secret::new(TOKEN),
            signing_secret: Secret::new(SECRET),
            channel_id: CHANNEL.into(),
            api_base: platform.base_url().to_owned(),
        }
    }

    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.into(), SECRET.into()]
    }

    fn agent_event(
        &self,
        thread: &Thread,
        agent: &str,
        action: &AgentAction,
        event: u64,
    ) -> Option<Request<Body>> {
        let button = |id: &str| {
            signed(
                "/desks/slack/interactions",
                click(thread, agent, id, event),
                SECRET,
                true,
            )
        };
        let say = |text: &str| {
            signed(
                "/desks/slack/events",
                message(thread, agent, text, event),
                SECRET,
                false,
            )
        };
        Some(match action {
            AgentAction::Accept => button(ACTION_ACCEPT),
            AgentAction::Resolve => button(ACTION_RESOLVE),
            AgentAction::Release => button(ACTION_RELEASE),
            AgentAction::Reply(text) => say(text),
            AgentAction::TransferToAgent(to) => say(&format!("!transfer <@{to}>")),
            AgentAction::TransferToQueue(queue) => say(&format!("!transfer queue {queue}")),
        })
    }

    fn forged_event(&self, thread: &Thread, agent: &str, text: &str, event: u64) -> Request<Body> {
        signed(
            "/desks/slack/events",
            message(thread, agent, text, event),
            "not-the-secret",
            false,
        )
    }

    fn script(&self, platform: &SlackFake, reply: Reply) {
        platform.script(match reply {
            Reply::RateLimited { retry_after_secs } => SlackReply::RateLimited { retry_after_secs },
            Reply::Unauthorized => SlackReply::Error("invalid_auth".into()),
            Reply::ServerError => SlackReply::Status(503),
            _ => SlackReply::Ok,
        });
    }

    fn requests(&self, platform: &SlackFake) -> Vec<Recorded> {
        platform.requests()
    }

    fn threads(&self, platform: &SlackFake) -> usize {
        platform.roots().len()
    }
}

tandem_testkit::desk_conformance!(Driver);
