//! Microsoft Teams end to end, with the real binary and the testkit's fake Bot Framework
//! (signing keys, token endpoint, Bot Connector): a 1:1 message gets the bot's answer
//! posted to the user's conversation with a token the fake issued, a redelivered activity
//! has no second effect, forged / wrong-audience / unendorsed / mismatched tokens are
//! refused and leave nothing, card buttons come back as postbacks, a 429 is retried and
//! delivered once, and (issue 7, acceptance 1) a Teams user whose member record carries
//! the email of a verified web chat user is that same customer, while an unverified web
//! claim of the email stays apart.

use serde_json::{Value, json};
use std::time::Duration;
use tandem_e2e::{Tandem, WsClient, eventually};
use tandem_testkit::Reply;
use tandem_testkit::fake::{TEAMS_TENANT, TeamsFake, TeamsUser, TokenKind, decode_segment};
use tandem_testkit::payloads::{teams_activity, teams_conversation, teams_text};

const APP_ID: &str = "5e0b7d2c-1a3f-4c8e-9b6d-2f4a6c8e0b1d";
const PASSWORD: &str = "e2e-teams-secret";
const ADMIN: &str = "teams-admin-token-0123456789";
const WEB_SECRET: &str = "web-secret";

fn config(fake: &TeamsFake, webchat: bool) -> String {
    let web = if webchat {
        format!("[channels.webchat]\nidentity_secret = \"{WEB_SECRET}\"\n")
    } else {
        String::new()
    };
    format!(
        r#"
{web}
[channels.teams]
app_id = "{APP_ID}"
app_password = "{PASSWORD}"
tenant_id = "{TEAMS_TENANT}"
openid_metadata_url = "{}"
token_url = "{}"

[outbox]
lease_secs = 5
retry_base_ms = 200
retry_max_ms = 1000

[admin]
tokens = ["{ADMIN}"]
"#,
        fake.openid_metadata_url(),
        fake.token_url(),
    )
}

async fn start(webchat: bool) -> (tempfile::TempDir, TeamsFake, Tandem) {
    let dir = tempfile::tempdir().unwrap();
    let fake = TeamsFake::start(APP_ID, PASSWORD).await;
    let tandem = Tandem::start(dir.path(), &config(&fake, webchat)).await;
    (dir, fake, tandem)
}

fn user(n: u32) -> TeamsUser {
    TeamsUser::new(
        &format!("29:1e2eUser{n}QpXz"),
        &format!("0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c{n:02}"),
        "Erin Example",
    )
}

async fn post(tandem: &Tandem, activity: &Value, bearer: Option<&str>) -> u16 {
    let mut request = tandem_e2e::http()
        .post(tandem.url("/webhooks/teams"))
        .header("content-type", "application/json")
        .body(activity.to_string());
    if let Some(b) = bearer {
        request = request.header("authorization", b);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn post_valid(tandem: &Tandem, fake: &TeamsFake, activity: &Value) -> u16 {
    post(
        tandem,
        activity,
        Some(&fake.bearer(activity, TokenKind::Valid)),
    )
    .await
}

fn text(fake: &TeamsFake, who: &TeamsUser, text: &str, id: &str) -> Value {
    teams_text(&fake.service_url(), APP_ID, who, text, id)
}

/// The conversation id a recorded send was posted to (decoded from its path).
fn conversation_of(path: &str) -> String {
    let rest = path.split("/v3/conversations/").nth(1).unwrap_or_default();
    decode_segment(rest.split('/').next().unwrap_or_default())
}

#[tokio::test]
async fn reply_redelivery_forged_tokens_and_card_buttons() {
    let (_dir, fake, tandem) = start(false).await;
    let erin = user(1);
    fake.add_user(&erin, Some("erin@x.example"), None);

    // Forged, wrong-audience, unendorsed and mismatched tokens: refused, nothing done.
    let forged = text(
        &fake,
        &erin,
        "what are your opening hours?",
        "1767300000001",
    );
    assert_eq!(post(&tandem, &forged, None).await, 401, "no token");
    for (kind, status) in [
        (TokenKind::BadSignature, 401),
        (TokenKind::WrongAudience, 401),
        (TokenKind::Expired, 401),
        (TokenKind::UnknownKid, 401),
        (TokenKind::Unendorsed, 403),
        (TokenKind::ServiceUrlMismatch, 403),
    ] {
        let bearer = fake.bearer(&forged, kind);
        assert_eq!(
            post(&tandem, &forged, Some(&bearer)).await,
            status,
            "{kind:?}"
        );
    }

    // A valid activity, delivered three times: one answer.
    let hours = text(
        &fake,
        &erin,
        "what are your opening hours?",
        "1767300000002",
    );
    for _ in 0..3 {
        assert_eq!(post_valid(&tandem, &fake, &hours).await, 200);
    }
    let sent = eventually(15, "the bot's answer", || async {
        fake.delivered().first().cloned()
    })
    .await;
    let body = sent.json();
    assert!(
        body["text"]
            .as_str()
            .is_some_and(|t| t.contains("Monday to Friday")),
        "{body}"
    );
    assert_eq!(body["type"], "message");
    assert_eq!(body["from"]["id"], format!("28:{APP_ID}"));
    assert_eq!(body["recipient"]["id"], erin.id);
    assert_eq!(conversation_of(&sent.path), teams_conversation(&erin));
    assert!(
        sent.path.starts_with("/teams/v3/conversations/a%3A1"),
        "the id is percent-encoded and joined without `//`: {}",
        sent.path
    );
    let bearer = sent.header("authorization").unwrap_or_default().to_owned();
    assert!(
        fake.issued_tokens()
            .iter()
            .any(|t| bearer == format!("Bearer {t}")),
        "sent with a token the fake issued: {bearer}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        fake.sends().len(),
        1,
        "forged tokens and redeliveries caused no answer"
    );
    assert_eq!(
        tandem
            .metric("tandem_messages_in_total{channel=\"teams\"}")
            .await,
        1.0
    );
    assert_eq!(fake.member_lookups().len(), 1, "the member looked up once");

    // A card button the bot offered (the greeting's "Shipping", Action.Submit) is a
    // postback; the answer's buttons are a card.
    let hello = text(&fake, &erin, "hello", "1767300000009");
    assert_eq!(post_valid(&tandem, &fake, &hello).await, 200);
    eventually(15, "the greeting with its buttons", || async {
        fake.delivered().get(1).map(|_| ())
    })
    .await;
    let mut submit = teams_activity(
        "message",
        &fake.service_url(),
        APP_ID,
        &erin,
        &teams_conversation(&erin),
        "1767300000003",
    );
    submit["value"] = json!({"payload": "shipping information", "title": "Shipping"});
    assert_eq!(post_valid(&tandem, &fake, &submit).await, 200);
    let answer = eventually(15, "the answer to the button", || async {
        fake.delivered().get(2).map(|r| r.json())
    })
    .await;
    let card = &answer["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert!(
        card["content"]["body"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Standard delivery")),
        "{answer}"
    );
    assert_eq!(card["content"]["actions"][0]["type"], "Action.Submit");
    assert_eq!(
        card["content"]["actions"][0]["data"]["payload"],
        "track my order"
    );
}

#[tokio::test]
async fn rate_limited_send_is_retried_and_delivered_once() {
    let (_dir, fake, tandem) = start(false).await;
    let erin = user(2);
    fake.script(Reply::RateLimited {
        retry_after_secs: 2,
    });
    let hours = text(
        &fake,
        &erin,
        "what are your opening hours?",
        "1767300000010",
    );
    assert_eq!(post_valid(&tandem, &fake, &hours).await, 200);
    let delivered = eventually(20, "delivery after the 429", || async {
        fake.delivered().first().cloned()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sends = fake.sends();
    assert_eq!(sends.len(), 2, "one 429, then one success");
    assert_eq!(sends[0].status, 429);
    assert_eq!(fake.delivered().len(), 1, "delivered once");
    let waited = delivered.at.duration_since(sends[0].at);
    assert!(
        waited >= Duration::from_secs(2),
        "retried after {waited:?}, before the 2 s hint"
    );
}

// ---- identity (issue 7, acceptance 1) ----------------------------------------------------

async fn admin_get(tandem: &Tandem, path: &str) -> Value {
    let (status, body) = tandem.api(ADMIN, reqwest::Method::GET, path, None).await;
    assert_eq!(status, 200, "{path}");
    body
}

/// The customers matching `query` (`identity=…` or `email=…`).
async fn customers(tandem: &Tandem, query: &str) -> Vec<Value> {
    admin_get(tandem, &format!("/api/v1/customers?{query}"))
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The one customer owning `channel:subject`.
async fn owner(tandem: &Tandem, identity: &str) -> Value {
    let found = customers(tandem, &format!("identity={identity}")).await;
    assert_eq!(found.len(), 1, "one customer owns {identity}: {found:?}");
    found[0].clone()
}

fn identities(customer: &Value) -> Vec<String> {
    let mut ids: Vec<String> = customer["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i["channel"].as_str().unwrap_or_default(),
                i["external_id"].as_str().unwrap_or_default()
            )
        })
        .collect();
    ids.sort();
    ids
}

/// A web chat user says hello and gets the bot's answer: with a `user_token` signing
/// the id and email when `signed`, else with the email and a `user_hash` that does not
/// verify.
async fn web_user(tandem: &Tandem, id: &str, email: &str, signed: bool) -> Value {
    let mut c = WsClient::connect(&tandem.addr).await;
    let user = json!({"id": id, "email": email, "name": "Erin"});
    let hello = if signed {
        json!({"type": "hello", "user_token": tandem_e2e::user_token(WEB_SECRET.as_bytes(), &user)})
    } else {
        json!({"type": "hello", "user": user, "user_hash": "00"})
    };
    c.send(hello).await;
    let welcome = c.recv_type("welcome").await;
    c.say("w1", "hello from the website").await;
    c.recv_reply().await;
    welcome
}

/// The customer of the conversation a web chat welcome named.
async fn customer_of(tandem: &Tandem, welcome: &Value) -> String {
    let conversation = welcome["conversation_id"]
        .as_str()
        .expect("conversation id");
    let found = admin_get(tandem, &format!("/api/v1/conversations/{conversation}")).await;
    found["customer_id"]
        .as_str()
        .expect("customer id")
        .to_owned()
}

/// A Teams message from `who`, processed (answered) before returning.
async fn teams_says(tandem: &Tandem, fake: &TeamsFake, who: &TeamsUser, id: &str) {
    let before = fake.delivered().len();
    let hello = text(fake, who, "hello from Teams", id);
    assert_eq!(post_valid(tandem, fake, &hello).await, 200);
    eventually(15, "the answer on Teams", || async {
        (fake.delivered().len() > before).then_some(())
    })
    .await;
}

#[tokio::test]
async fn teams_upn_and_a_verified_web_email_are_one_customer() {
    let (_dir, fake, tandem) = start(true).await;
    // The member record has no `email`, only the UPN: the UPN is the verified address.
    let erin = user(3);
    fake.add_user(&erin, None, Some("e@x.example"));

    let welcome = web_user(&tandem, "web-e", "e@x.example", true).await;
    assert_eq!(welcome["verified"], true);
    teams_says(&tandem, &fake, &erin, "1767300000020").await;

    let by_email = customers(&tandem, "email=e@x.example").await;
    assert_eq!(
        by_email.len(),
        1,
        "one customer for e@x.example: {by_email:?}"
    );
    assert_eq!(
        identities(&by_email[0]),
        vec![
            format!("teams:{}", erin.subject()),
            "webchat:user:web-e".to_owned()
        ]
    );
    let web = owner(&tandem, "webchat:user:web-e").await;
    let teams = owner(&tandem, &format!("teams:{}", erin.subject())).await;
    assert_eq!(web["id"], teams["id"], "the Teams user is the web user");
    assert!(
        teams["identities"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["verified"] == true)
    );
}

#[tokio::test]
async fn an_invalid_web_hash_stays_apart_and_a_valid_one_joins_the_teams_user() {
    let (_dir, fake, tandem) = start(true).await;
    let erin = user(4);
    fake.add_user(&erin, Some("e@x.example"), Some("erin.example@x.example"));

    // Teams first: the member's email is a verified key of the Teams customer.
    teams_says(&tandem, &fake, &erin, "1767300000030").await;
    let teams = owner(&tandem, &format!("teams:{}", erin.subject())).await;

    // A web user claims the email with a hash that does not verify: another customer
    // (an anonymous visitor, found through its conversation).
    let mallory = web_user(&tandem, "web-mallory", "e@x.example", false).await;
    assert_ne!(mallory["verified"], true);
    let mallory_customer = customer_of(&tandem, &mallory).await;
    assert_ne!(
        mallory_customer,
        teams["id"].as_str().unwrap(),
        "an invalid hash never joins"
    );
    let by_email = customers(&tandem, "email=e@x.example").await;
    assert_eq!(by_email.len(), 1, "{by_email:?}");
    assert_eq!(by_email[0]["id"], teams["id"]);
    assert_eq!(
        identities(&by_email[0]),
        vec![format!("teams:{}", erin.subject())],
        "the Teams customer holds only its own identity"
    );

    // The same address from a web user whose hash verifies: the Teams customer.
    let welcome = web_user(&tandem, "web-erin", "E@x.example", true).await;
    assert_eq!(welcome["verified"], true);
    let erin_web = owner(&tandem, "webchat:user:web-erin").await;
    assert_eq!(erin_web["id"], teams["id"], "a verified web email joins");
    assert_eq!(
        customer_of(&tandem, &welcome).await,
        teams["id"].as_str().unwrap()
    );
    assert_ne!(
        customer_of(&tandem, &mallory).await,
        teams["id"].as_str().unwrap(),
        "still apart"
    );
    let by_email = customers(&tandem, "email=e@x.example").await;
    assert_eq!(by_email.len(), 1, "{by_email:?}");
    assert_eq!(
        identities(&by_email[0]),
        vec![
            format!("teams:{}", erin.subject()),
            "webchat:user:web-erin".to_owned()
        ]
    );
    assert_eq!(fake.member_lookups().len(), 1);
}
