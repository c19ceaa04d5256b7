//! The admin API: bearer auth, customers by identity and email, profile updates,
//! business events, conversations with transcripts and decisions, the OpenAPI document.

use serde_json::{Value, json};
use tandem_e2e::{Tandem, WsClient};

const TOKEN: &str = "admin-token-0123456789abcdef";

fn config() -> String {
    format!(
        r#"
[channels.webchat]
identity_secret = "web-secret"

[admin]
tokens = ["{TOKEN}"]
"#
    )
}

async fn get(tandem: &Tandem, path: &str) -> (u16, Value) {
    tandem.api(TOKEN, reqwest::Method::GET, path, None).await
}

async fn send(tandem: &Tandem, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    tandem.api(TOKEN, method, path, Some(body)).await
}

#[tokio::test]
async fn admin_api_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &config()).await;

    // A verified web user writes and triggers an escalation.
    let mut c = WsClient::connect(&tandem.addr).await;
    // The site signs the user's id, email and name in a user_token.
    let token = tandem_e2e::user_token(
        b"web-secret",
        &json!({"id":"u-42","email":"Ada@Example.com","name":"Ada"}),
    );
    c.send(json!({"type":"hello","user_token":token})).await;
    let welcome = c.recv_type("welcome").await;
    assert_eq!(welcome["verified"], true);
    c.say("a1", "I want a refund").await;
    // The greeting may arrive first; the message is processed once its answer (the
    // hand-off notice) arrives.
    loop {
        let frame = c
            .try_recv(20)
            .await
            .expect("the answer to the refund message within 20 s");
        if frame["type"] == "message" && frame["from"] == "system" {
            break;
        }
    }

    // Auth.
    let anon = tandem_e2e::get(tandem.url("/api/v1/customers?identity=webchat:user:u-42"))
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    let wrong = tandem_e2e::http()
        .get(tandem.url("/api/v1/customers?identity=webchat:user:u-42"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    // Lookups.
    let (status, found) = get(&tandem, "/api/v1/customers?identity=webchat:user:u-42").await;
    assert_eq!(status, 200);
    let customers = found.as_array().unwrap();
    assert_eq!(customers.len(), 1);
    let customer = &customers[0];
    let id = customer["id"].as_str().unwrap().to_owned();
    assert_eq!(customer["display_name"], "Ada");
    assert_eq!(customer["identities"][0]["verified"], true);
    let (_, by_email) = get(&tandem, "/api/v1/customers?email=ada@example.com").await;
    assert_eq!(by_email[0]["id"], id.as_str());
    let (_, none) = get(&tandem, "/api/v1/customers?identity=webchat:nobody").await;
    assert_eq!(none, json!([]));
    let (status, _) = get(&tandem, "/api/v1/customers?identity=nocolon").await;
    assert_eq!(status, 400);
    let (status, _) = get(&tandem, "/api/v1/customers/cus_unknown").await;
    assert_eq!(status, 404);

    // Profile update: segment and attributes.
    let (status, updated) = send(
        &tandem,
        reqwest::Method::PATCH,
        &format!("/api/v1/customers/{id}"),
        json!({"segment": "vip", "attributes": {"plan": "enterprise"}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(updated["segment"], "vip");
    assert_eq!(updated["attributes"]["plan"], "enterprise");
    let (status, _) = send(
        &tandem,
        reqwest::Method::PATCH,
        &format!("/api/v1/customers/{id}"),
        json!({"colour": 1}),
    )
    .await;
    assert_eq!(status, 400, "unknown fields refused");

    // Business events, idempotent on id.
    let path = format!("/api/v1/customers/{id}/events");
    let (status, first) = send(
        &tandem,
        reqwest::Method::POST,
        &path,
        json!({"name":"payment_failed","id":"pf-1"}),
    )
    .await;
    assert_eq!((status, first["duplicate"].clone()), (202, json!(false)));
    let (_, again) = send(
        &tandem,
        reqwest::Method::POST,
        &path,
        json!({"name":"payment_failed","id":"pf-1"}),
    )
    .await;
    assert_eq!(again["duplicate"], true);
    let (_, events) = get(&tandem, &path).await;
    assert_eq!(events.as_array().unwrap().len(), 1);

    // Conversations, transcript, decisions.
    let (_, convs) = get(&tandem, &format!("/api/v1/customers/{id}/conversations")).await;
    let conv_id = convs[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(conv_id, welcome["conversation_id"].as_str().unwrap());
    let (_, conv) = get(&tandem, &format!("/api/v1/conversations/{conv_id}")).await;
    assert_eq!(
        conv["owner"], "bot",
        "no desk configured: the bot keeps the conversation"
    );
    let (_, transcript) = get(
        &tandem,
        &format!("/api/v1/conversations/{conv_id}/transcript"),
    )
    .await;
    assert!(
        transcript
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["from"] == "customer" && e["content"]["text"] == "I want a refund")
    );
    let (_, decisions) = get(
        &tandem,
        &format!("/api/v1/conversations/{conv_id}/escalations"),
    )
    .await;
    assert_eq!(decisions[0]["escalate"], true);
    assert!(
        decisions[0]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["evidence"] == "refund")
    );

    // The OpenAPI document is public and lists every route.
    let doc: Value = tandem_e2e::get(tandem.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/customers",
        "/api/v1/customers/{id}",
        "/api/v1/customers/{id}/events",
        "/api/v1/conversations/{id}/transcript",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
}

#[tokio::test]
async fn admin_api_is_closed_without_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), "[channels.webchat]\n").await;
    let r = tandem_e2e::http()
        .get(tandem.url("/api/v1/customers?email=a@b.c"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("[admin].tokens"));
}
