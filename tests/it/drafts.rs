//! Draft-only mode end to end (issue #17, acceptance 3): with `[drafts]` on, the bot's
//! answers wait in the agent console; the web chat customer gets nothing until an agent
//! approves, gets the edited text when the agent edits, and never gets a rejected draft.
//! Every decision is on the conversation's draft log with its approver.

use serde_json::{Value, json};
use tandem_e2e::{Tandem, WsClient};

const CONSOLE_TOKEN: &str = "console-token-0123456789";
const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";

fn config(drafts: &str) -> String {
    format!(
        r#"
[channels.webchat]
identity_secret = "web-secret"

[desks.console]
tokens = ["{CONSOLE_TOKEN}"]

[admin]
tokens = ["{ADMIN_TOKEN}"]

[drafts]
{drafts}
"#
    )
}

/// An agent on the console (shared token), with the snapshot it got.
async fn agent(tandem: &Tandem, id: &str) -> (WsClient, Value) {
    let mut ws = WsClient::connect_url(&format!(
        "ws://{}/console/ws?token={CONSOLE_TOKEN}",
        tandem.addr
    ))
    .await;
    let snapshot = ws.recv_type("snapshot").await;
    ws.send(json!({"type": "hello", "agent": {"id": id, "name": "Sam"}}))
        .await;
    (ws, snapshot)
}

/// Asserts the customer gets no message within `secs` (other frames are fine).
async fn nothing_arrives(c: &mut WsClient, secs: u64, what: &str) {
    let frames = c.drain(secs).await;
    let messages: Vec<&Value> = frames.iter().filter(|f| f["type"] == "message").collect();
    assert!(messages.is_empty(), "{what}: {messages:?}");
}

async fn conversation(tandem: &Tandem, id: &str) -> Value {
    let (status, body) = tandem
        .api(
            ADMIN_TOKEN,
            reqwest::Method::GET,
            &format!("/api/v1/conversations/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn decide(sam: &mut WsClient, draft: &Value, decision: &str, text: Option<&str>, id: &str) {
    let mut frame = json!({
        "type": "draft.decide",
        "conversation": draft["conversation_id"],
        "draft": draft["draft_id"],
        "decision": decision,
        "id": id,
    });
    if let Some(text) = text {
        frame["text"] = json!(text);
    }
    sam.send(frame).await;
    let answer = sam.recv_type("ack").await;
    assert_eq!(answer["id"], id);
}

#[tokio::test]
async fn the_customer_gets_only_what_an_agent_approved() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &config("mode = \"all\"")).await;
    let (mut sam, snapshot) = agent(&tandem, "sam").await;
    assert_eq!(snapshot["drafts"], json!([]));
    let (mut c, welcome) = WsClient::hello(&tandem.addr, None).await;
    let conv = welcome["conversation_id"].as_str().unwrap().to_owned();

    // 1. The bot's answer waits; the customer gets nothing until Sam approves it.
    c.say("q1", "what are your opening hours?").await;
    let created = sam.recv_type("draft.created").await;
    let draft = created["draft"].clone();
    assert_eq!(draft["conversation_id"], conv.as_str());
    assert_eq!(draft["source"], "bot");
    assert_eq!(draft["question"], "what are your opening hours?");
    let drafted = draft["text"].as_str().unwrap().to_owned();
    assert!(drafted.contains("Monday to Friday"), "{drafted}");
    nothing_arrives(&mut c, 2, "nothing before approval").await;
    // A second agent connecting now sees it in the Drafts list; so does the admin API.
    let (_kim, snapshot) = agent(&tandem, "kim").await;
    assert_eq!(snapshot["drafts"][0]["draft_id"], draft["draft_id"]);
    let (_, listed) = tandem
        .api(ADMIN_TOKEN, reqwest::Method::GET, "/api/v1/drafts", None)
        .await;
    assert_eq!(listed[0]["draft_id"], draft["draft_id"], "{listed}");

    decide(&mut sam, &draft, "approve", None, "a1").await;
    let reply = c.recv_reply().await;
    assert_eq!(reply["from"], "bot");
    assert_eq!(
        reply["text"],
        drafted.as_str(),
        "exactly the approved draft"
    );
    let decided = sam.recv_type("draft.decided").await;
    assert_eq!(decided["state"], "approved");
    assert_eq!(decided["agent"]["id"], "sam");
    // A draft is decided once.
    sam.send(json!({"type": "draft.decide", "conversation": conv, "draft": draft["draft_id"], "decision": "reject", "id": "a2"}))
        .await;
    let again = sam.recv_type("error").await;
    assert_eq!(again["code"], "already_decided", "{again}");
    assert_eq!(again["id"], "a2");

    // 2. An edited draft is sent as edited.
    c.say("q2", "how long does shipping take?").await;
    let draft = sam.recv_type("draft.created").await["draft"].clone();
    let shipping = draft["text"].as_str().unwrap().to_owned();
    nothing_arrives(&mut c, 1, "nothing before the edit").await;
    let edited = "Shipping takes 2 working days. Sam";
    decide(&mut sam, &draft, "edit", Some(edited), "e1").await;
    let reply = c.recv_reply().await;
    assert_eq!(reply["text"], edited, "the edited text, not the draft");
    assert_eq!(sam.recv_type("draft.decided").await["state"], "edited");

    // 3. A rejected draft is never sent.
    c.say("q3", "do you ship abroad?").await;
    let draft = sam.recv_type("draft.created").await["draft"].clone();
    let rejected = draft["text"].as_str().unwrap().to_owned();
    decide(&mut sam, &draft, "reject", None, "r1").await;
    assert_eq!(sam.recv_type("draft.decided").await["state"], "rejected");
    nothing_arrives(&mut c, 3, "a rejected draft never reaches the customer").await;
    // The admin API answers a second decision with 409, and sends nothing.
    let (status, body) = tandem
        .api(
            ADMIN_TOKEN,
            reqwest::Method::POST,
            &format!(
                "/api/v1/conversations/{conv}/drafts/{}",
                draft["draft_id"].as_str().unwrap()
            ),
            Some(json!({"decision": "approve", "agent": {"id": "kim"}})),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("already_decided")),
        "{body}"
    );
    nothing_arrives(&mut c, 1, "still nothing after a refused second decision").await;

    // The draft log records every decision with its approver and the edit.
    let body = conversation(&tandem, &conv).await;
    assert_eq!(body["drafts"], json!([]), "nothing pending");
    let (_, listed) = tandem
        .api(ADMIN_TOKEN, reqwest::Method::GET, "/api/v1/drafts", None)
        .await;
    assert_eq!(listed, json!([]));
    let log = body["draft_log"].as_array().unwrap();
    let outcomes: Vec<&str> = log.iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["approved", "edited", "rejected"]);
    assert!(log.iter().all(|r| r["agent"]["id"] == "sam"), "{log:?}");
    assert_eq!(log[0]["final_text"], drafted.as_str());
    assert_eq!(log[1]["original"], shipping.as_str());
    assert_eq!(log[1]["final_text"], edited);
    assert_eq!(log[2]["original"], rejected.as_str());
    assert_eq!(log[2]["final_text"], Value::Null);
    // The transcript has what was sent, and nothing of the rejected draft.
    let (_, transcript) = tandem
        .api(
            ADMIN_TOKEN,
            reqwest::Method::GET,
            &format!("/api/v1/conversations/{conv}/transcript"),
            None,
        )
        .await;
    let texts: Vec<String> = transcript
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["from"] == "bot")
        .filter_map(|e| e["content"]["text"].as_str().map(str::to_owned))
        .collect();
    assert!(texts.contains(&drafted), "{texts:?}");
    assert!(texts.iter().any(|t| t == edited), "{texts:?}");
    assert!(!texts.contains(&rejected), "{texts:?}");
    assert!(
        !tandem.logs().contains("opening hours"),
        "no message text in logs"
    );
}

#[tokio::test]
async fn selected_mode_drafts_only_the_listed_category() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(
        dir.path(),
        &config("mode = \"selected\"\ncategories = [\"human_request\"]"),
    )
    .await;
    let (mut sam, _) = agent(&tandem, "sam").await;
    // A free-tier customer (AI-first): asking for a person gets the bot's answer first,
    // in the human_request category.
    let token = tandem_e2e::user_token(b"web-secret", &json!({"id": "free-1"}));
    let (mut c, welcome) = WsClient::hello_as(&tandem.addr, &token).await;
    let conv = welcome["conversation_id"].as_str().unwrap().to_owned();
    let customer = conversation(&tandem, &conv).await["customer_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = tandem
        .api(
            ADMIN_TOKEN,
            reqwest::Method::PATCH,
            &format!("/api/v1/customers/{customer}"),
            Some(json!({"segment": "free"})),
        )
        .await;
    assert_eq!(status, 200);

    // Another topic: answered at once.
    c.say("q1", "what are your opening hours?").await;
    let reply = c.recv_reply().await;
    assert_eq!(reply["from"], "bot");
    assert!(reply["text"].as_str().unwrap().contains("Monday to Friday"));

    // The listed category: drafted.
    c.say("q2", "can I talk to a real person please").await;
    let draft = sam.recv_type("draft.created").await["draft"].clone();
    assert_eq!(draft["category"], "human_request", "{draft}");
    nothing_arrives(&mut c, 2, "the human_request answer waits").await;
    decide(&mut sam, &draft, "approve", None, "a1").await;
    let reply = c.recv_reply().await;
    assert_eq!(reply["from"], "bot");
    assert_eq!(reply["text"], draft["text"]);
    assert!(
        reply["buttons"]
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b["payload"] == "talk_to_human")),
        "the approved draft keeps its button: {reply}"
    );
}
