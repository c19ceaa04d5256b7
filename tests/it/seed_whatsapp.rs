//! The escalation guide's seed scenarios on WhatsApp, with the real binary, the default
//! policy and the fake Cloud API: a sentiment streak, a revenue request, and a legal
//! emergency, each decided with the right category, priority and queue.

use serde_json::Value;
use tandem_e2e::{Tandem, eventually};
use tandem_testkit::fake::WhatsAppFake;
use tandem_testkit::payloads::whatsapp_text;

const SECRET: &str = "wa-app-secret";
const TOKEN: &str = "wa-access-token";
const NUMBER: &str = "109876543210987";
const ADMIN: &str = "admin-token-0123456789abcdef";

async fn say(tandem: &Tandem, from: &str, wamid: &str, text: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let body = whatsapp_text(NUMBER, from, "Lena", text, wamid, now);
    assert_eq!(
        tandem.post_meta("/webhooks/whatsapp", SECRET, &body).await,
        200
    );
}

async fn get(tandem: &Tandem, path: &str) -> Value {
    tandem.api(ADMIN, reqwest::Method::GET, path, None).await.1
}

/// The first escalation decision of the customer behind a WhatsApp number.
async fn decision(tandem: &Tandem, wa_id: &str) -> Value {
    eventually(10, "an escalation decision", || async {
        let found = get(
            tandem,
            &format!("/api/v1/customers?identity=whatsapp:{wa_id}"),
        )
        .await;
        let id = found.get(0)?["id"].as_str()?.to_owned();
        let convs = get(tandem, &format!("/api/v1/customers/{id}/conversations")).await;
        let conv = convs.get(0)?["id"].as_str()?.to_owned();
        let decisions = get(tandem, &format!("/api/v1/conversations/{conv}/escalations")).await;
        // Every decision is recorded; the first that escalated is the one under test.
        decisions
            .as_array()?
            .iter()
            .find(|d| d["escalate"] == true)
            .cloned()
    })
    .await
}

#[tokio::test]
async fn seed_scenarios_decide_with_category_priority_and_queue() {
    let dir = tempfile::tempdir().unwrap();
    let fake = WhatsAppFake::start(TOKEN, NUMBER, "v21.0").await;
    let config = format!(
        "[channels.whatsapp]\napp_secret = \"{SECRET}\"\nverify_token = \"v\"\naccess_token = \"{TOKEN}\"\nphone_number_id = \"{NUMBER}\"\napi_base = \"{}\"\napi_version = \"v21.0\"\n\n[admin]\ntokens = [\"{ADMIN}\"]\n",
        fake.base_url()
    );
    let tandem = Tandem::start(dir.path(), &config).await;

    // "I'm very angry" then "this is useless": a sentiment streak.
    say(&tandem, "4915100000001", "wamid.s1", "I'm very angry").await;
    say(&tandem, "4915100000001", "wamid.s2", "this is useless").await;
    let streak = decision(&tandem, "4915100000001").await;
    assert!(
        streak["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "sentiment_streak"),
        "{streak}"
    );
    assert_eq!(
        streak["message_seq"].as_u64().map(|s| s >= 2),
        Some(true),
        "decided on the second message: {streak}"
    );

    // "I want a refund": revenue, high, to billing.
    say(&tandem, "4915100000002", "wamid.r1", "I want a refund").await;
    let revenue = decision(&tandem, "4915100000002").await;
    assert_eq!(revenue["category"], "revenue", "{revenue}");
    assert_eq!(revenue["priority"], "high");
    assert!(revenue["target"].as_str().is_some_and(|t| !t.is_empty()));

    // "my account was HACKED!!!": legal, immediate, to compliance.
    say(
        &tandem,
        "4915100000003",
        "wamid.h1",
        "my account was HACKED!!!",
    )
    .await;
    let legal = decision(&tandem, "4915100000003").await;
    assert_eq!(legal["category"], "legal", "{legal}");
    assert_eq!(legal["priority"], "immediate");
    assert_eq!(legal["target"], "compliance");
    assert!(tandem.metrics().await.contains("tandem_escalations_total"));
}
