//! The desk conformance kit run against the Chatwoot desk and the kit's fake Chatwoot
//! (real HTTP on 127.0.0.1). Chatwoot has no "release" and no "transfer to a queue":
//! agents resolve the conversation, and reassigning it while another agent holds the
//! handoff is the desk's transfer.

use tandem_desk_chatwoot::{ChatwootDesk, ChatwootDeskConfig};
use tandem_sdk::Secret;
use tandem_testkit::chatwoot_fake::{ChatwootFake, ChatwootReply, sign, webhook};
use tandem_testkit::fake::Recorded;
use tandem_testkit::http::Request;
use tandem_testkit::slack_fake::now_secs;
use tandem_testkit::{AgentAction, Body, DeskDriver, Reply, Thread};

const TOKEN: &str = "cw-conformance-token";
const SECRET: &str = "cw-conformance-webhook-secret";

#[derive(Default)]
struct Driver;

fn post(body: &serde_json::Value, secret: &str) -> Request<Body> {
    let bytes = serde_json::to_vec(body).expect("JSON");
    let (ts, sig) = sign(secret, now_secs(), &bytes);
    Request::post("/desks/chatwoot/webhook")
        .header("content-type", "application/json")
        .header("x-chatwoot-timestamp", ts)
        .header("x-chatwoot-signature", sig)
        .body(Body::from(bytes))
        .expect("valid request")
}

fn ids(thread: &Thread, agent: &str) -> (u64, u64) {
    (
        thread
            .reference
            .parse()
            .expect("a Chatwoot conversation id"),
        agent.parse().expect("the kit's agent ids are digits"),
    )
}

fn reply(thread: &Thread, agent: &str, text: &str, event: u64) -> serde_json::Value {
    let (conversation, agent) = ids(thread, agent);
    let name = format!("Agent {agent}");
    webhook::message_created(
        conversation,
        9000 + event,
        text,
        "outgoing",
        false,
        agent,
        &name,
    )
}

impl DeskDriver for Driver {
    type Factory = ChatwootDesk;
    type Platform = ChatwootFake;
    const EXAMPLE: &'static str = include_str!("../../../../config/examples/desk-chatwoot.toml");

    async fn start_platform(&self) -> ChatwootFake {
        ChatwootFake::start(TOKEN, 7).await
    }

    fn config(&self, platform: &ChatwootFake) -> ChatwootDeskConfig {
        ChatwootDeskConfig {
            base_url: platform.base_url().to_owned(),
            api_access_token: Secret::new(TOKEN),
            account_id: 7,
            inbox_id: 12,
            webhook_secret: Secret::new(SECRET),
            allow_unsigned: false,
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
        let (conversation, id) = ids(thread, agent);
        let name = format!("Agent {agent}");
        let body = match action {
            AgentAction::Reply(text) => reply(thread, agent, text, event),
            AgentAction::Accept => webhook::assigned(conversation, (id, &name)),
            // Reassigning the conversation is how a Chatwoot agent hands it over.
            AgentAction::TransferToAgent(to) => {
                let (_, to) = ids(thread, to);
                webhook::assigned(conversation, (to, &format!("Agent {to}")))
            }
            AgentAction::Resolve => {
                webhook::status_changed(conversation, "open", "resolved", Some((id, &name)))
            }
            AgentAction::Release | AgentAction::TransferToQueue(_) => return None,
        };
        Some(post(&body, SECRET))
    }

    fn forged_event(&self, thread: &Thread, agent: &str, text: &str, event: u64) -> Request<Body> {
        post(&reply(thread, agent, text, event), "not-the-secret")
    }

    fn script(&self, platform: &ChatwootFake, reply: Reply) {
        platform.script(match reply {
            Reply::RateLimited { retry_after_secs } => {
                ChatwootReply::RateLimited { retry_after_secs }
            }
            Reply::Unauthorized => ChatwootReply::Status(401),
            Reply::ServerError => ChatwootReply::Status(500),
            _ => ChatwootReply::Ok,
        });
    }

    fn requests(&self, platform: &ChatwootFake) -> Vec<Recorded> {
        platform.requests()
    }

    fn threads(&self, platform: &ChatwootFake) -> usize {
        platform.conversations().len()
    }
}

tandem_testkit::desk_conformance!(Driver);
