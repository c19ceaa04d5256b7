//! The policy engine in the running gateway: fallback strikes, VIP and AI-first segments,
//! business events handing off before the customer writes, the inactivity check-in, and
//! reloads (an invalid policy is refused and the old one stays).

use serde_json::{Value, json};
use std::time::Duration;
use tandem_e2e::{FakeEndpoint, Tandem, WsClient, eventually, hmac_hex};

const TOKEN: &str = "admin-token-0123456789abcdef";

fn webchat_config(extra: &str) -> String {
    format!("[channels.webchat]\n\n[admin]\ntokens = [\"{TOKEN}\"]\n{extra}")
}

async fn admin(
    tandem: &Tandem,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    tandem.api(TOKEN, method, path, body).await
}

async fn customer_of(tandem: &Tandem, conversation: &str) -> String {
    let (_, conv) = admin(
        tandem,
        reqwest::Method::GET,
        &format!("/api/v1/conversations/{conversation}"),
        None,
    )
    .await;
    conv["customer_id"].as_str().unwrap().to_owned()
}

fn has_human_button(frame: &Value) -> bool {
    frame["buttons"]
        .as_array()
        .is_some_and(|b| b.iter().any(|b| b["payload"] == "talk_to_human"))
}

#[tokio::test]
async fn three_fallbacks_offer_a_person_then_hand_off() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &webchat_config("")).await;
    let (mut c, welcome) = WsClient::hello(&tandem.addr, None).await;
    c.say("f1", "blorp zindle quax").await;
    let first = c.recv_reply().await;
    assert_eq!(first["from"], "bot");
    assert!(!has_human_button(&first), "strike 1: rephrase only");
    c.say("f2", "mimsy borogoves outgrabe").await;
    let second = c.recv_reply().await;
    assert!(
        has_human_button(&second),
        "strike 2 offers a person: {second}"
    );
    c.say("f3", "frumious bandersnatch galumph").await;
    let third = c.recv_reply().await;
    assert_eq!(third["from"], "system", "strike 3 hands off: {third}");
    let conv = welcome["conversation_id"].as_str().unwrap();
    let (_, decisions) = admin(
        &tandem,
        reqwest::Method::GET,
        &format!("/api/v1/conversations/{conv}/escalations"),
        None,
    )
    .await;
    // Every decision is recorded: two strikes that kept the bot (with the trigger behind
    // their offers), then the hand-off.
    let decisions = decisions.as_array().unwrap();
    let outcomes: Vec<bool> = decisions
        .iter()
        .map(|d| d["escalate"].as_bool().unwrap())
        .collect();
    assert_eq!(outcomes, [false, false, true], "{decisions:?}");
    for d in decisions {
        assert!(
            d["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["code"] == "fallback_loop"),
            "{d}"
        );
    }
}

#[tokio::test]
async fn vip_gets_a_person_at_once_and_free_tier_gets_the_bot_first() {
    let dir = tempfile::tempdir().unwrap();
    // Segments belong to customers the business knows: verified web users (an anonymous
    // visitor has no customer record before its first message).
    let config = webchat_config("").replace(
        "[channels.webchat]\n",
        "[channels.webchat]\nidentity_secret = \"web-secret\"\n",
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let signed = |id: &str| tandem_e2e::user_token(b"web-secret", &json!({ "id": id }));

    let (mut vip, welcome) = WsClient::hello_as(&tandem.addr, &signed("vip-1")).await;
    let id = customer_of(&tandem, welcome["conversation_id"].as_str().unwrap()).await;
    let (status, _) = admin(
        &tandem,
        reqwest::Method::PATCH,
        &format!("/api/v1/customers/{id}"),
        Some(json!({"segment": "vip"})),
    )
    .await;
    assert_eq!(status, 200);
    vip.say("v1", "can I talk to a real person please").await;
    assert_eq!(
        vip.recv_reply().await["from"],
        "system",
        "VIP handed off on the first request"
    );

    let (mut free, welcome) = WsClient::hello_as(&tandem.addr, &signed("free-1")).await;
    let id = customer_of(&tandem, welcome["conversation_id"].as_str().unwrap()).await;
    admin(
        &tandem,
        reqwest::Method::PATCH,
        &format!("/api/v1/customers/{id}"),
        Some(json!({"segment": "free"})),
    )
    .await;
    free.say("p1", "can I talk to a real person please").await;
    let first = free.recv_reply().await;
    assert_eq!(first["from"], "bot", "free tier: the bot first");
    assert!(has_human_button(&first));
    // Clicking the button is asking again: now a person.
    free.send(json!({"type": "postback", "id": "p2", "payload": "talk_to_human", "title": "Talk to a person"})).await;
    assert_eq!(free.recv_reply().await["from"], "system");
}

#[tokio::test]
async fn payment_failures_hand_off_before_the_customer_writes() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let desk = FakeEndpoint::start(200).await;
    let config = format!(
        "[channels.webhook]\nurl = \"{}\"\nsecret = \"shh\"\n\n[desks.webhook]\nurl = \"{}\"\nsecret = \"desk\"\n\n[admin]\ntokens = [\"{TOKEN}\"]\n",
        customer.url, desk.url
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let say = |id: &'static str, text: &'static str| {
        let url = tandem.url("/webhooks/generic");
        async move {
            let body = serde_json::to_vec(&json!({"id": id, "from": {"id": "bob"}, "text": text}))
                .unwrap();
            let ts = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                .to_string();
            let sig = hmac_hex(b"shh", &[ts.as_bytes(), b".", &body]);
            let r = tandem_e2e::http()
                .post(url)
                .header("x-tandem-timestamp", ts)
                .header("x-tandem-signature", format!("sha256={sig}"))
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    };
    say("b1", "what are your opening hours?").await;
    eventually(10, "bot answer", || async {
        (!customer.delivered().is_empty()).then_some(())
    })
    .await;
    let (_, found) = admin(
        &tandem,
        reqwest::Method::GET,
        "/api/v1/customers?identity=webhook:bob",
        None,
    )
    .await;
    let id = found[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/customers/{id}/events");
    for n in 0..2 {
        let (_, r) = admin(
            &tandem,
            reqwest::Method::POST,
            &path,
            Some(json!({"name": "payment_failed", "id": format!("pf{n}")})),
        )
        .await;
        assert_eq!(r["escalated"], false);
    }
    let (status, third) = admin(
        &tandem,
        reqwest::Method::POST,
        &path,
        Some(json!({"name": "payment_failed", "id": "pf2"})),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(third["escalated"], true);
    assert_eq!(third["category"], "retention");
    let requested = eventually(10, "retention handoff at the desk", || async {
        desk.delivered()
            .into_iter()
            .find(|r| r.json()["type"] == "handoff.requested")
    })
    .await;
    assert!(
        requested.json()["reason"]["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["code"] == "event")
    );
    let before = customer.delivered().len();
    say("b2", "hello again").await;
    let appended = eventually(10, "next message in the handoff", || async {
        desk.delivered()
            .into_iter()
            .find(|r| r.json()["type"] == "handoff.message")
    })
    .await;
    assert_eq!(appended.json()["message"]["text"], "hello again");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        customer.delivered().len(),
        before,
        "the bot says nothing while the queue owns it"
    );
}

#[tokio::test]
async fn silence_after_a_bot_answer_gets_one_check_in() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let policy = std::fs::read_to_string(root.join("config/policy.toml"))
        .unwrap()
        .replace(
            "inactivity_check_in_secs = 120",
            "inactivity_check_in_secs = 2",
        );
    let policy_path = dir.path().join("policy.toml");
    std::fs::write(&policy_path, policy).unwrap();
    let config = webchat_config(&format!(
        "\n[policy]\npath = \"{}\"\n",
        policy_path.display()
    ));
    let tandem = Tandem::start(dir.path(), &config).await;
    let (mut c, _) = WsClient::hello(&tandem.addr, None).await;
    c.say("i1", "what are your opening hours?").await;
    assert_eq!(c.recv_reply().await["from"], "bot");
    let frames = c.drain(5).await;
    let check_ins: Vec<_> = frames
        .iter()
        .filter(|f| f["type"] == "message" && f["from"] == "system")
        .collect();
    assert_eq!(check_ins.len(), 1, "exactly one check-in: {frames:?}");
    assert!(
        check_ins[0]["text"]
            .as_str()
            .unwrap()
            .contains("still there")
    );
}

#[tokio::test]
async fn invalid_policy_reload_is_refused_and_the_old_policy_stays() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let good = std::fs::read_to_string(root.join("config/policy.toml")).unwrap();
    let policy_path = dir.path().join("policy.toml");
    std::fs::write(&policy_path, &good).unwrap();
    let config = webchat_config(&format!(
        "\n[policy]\npath = \"{}\"\n",
        policy_path.display()
    ));
    let tandem = Tandem::start(dir.path(), &config).await;
    let (_, before) = admin(&tandem, reqwest::Method::GET, "/api/v1/policy", None).await;

    std::fs::write(
        &policy_path,
        good.replace("sentiment_streak = 2", "sentiment_streak = \"two\""),
    )
    .unwrap();
    let (status, refused) = admin(
        &tandem,
        reqwest::Method::POST,
        "/api/v1/policy/reload",
        None,
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        !refused["errors"].as_array().unwrap().is_empty(),
        "errors listed: {refused}"
    );
    let (_, still) = admin(&tandem, reqwest::Method::GET, "/api/v1/policy", None).await;
    assert_eq!(
        still["version"], before["version"],
        "old policy still in force"
    );
    // And it still decides.
    let (mut c, _) = WsClient::hello(&tandem.addr, None).await;
    c.say("r1", "I want a refund").await;
    assert_eq!(c.recv_reply().await["from"], "system");

    std::fs::write(
        &policy_path,
        good.replace("sentiment_streak = 2", "sentiment_streak = 3"),
    )
    .unwrap();
    let (status, applied) = admin(
        &tandem,
        reqwest::Method::POST,
        "/api/v1/policy/reload",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(applied["version"], before["version"]);
    let (_, audit) = admin(&tandem, reqwest::Method::GET, "/api/v1/policy/audit", None).await;
    let results: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["refused", "applied"]);
}
