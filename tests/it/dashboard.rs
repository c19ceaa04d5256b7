//! Escalation health, end to end: web chat customers (two served by the bot, one of them
//! rating it 3 after thanking it; one handed off to the console, whose agent replies and
//! resolves, then a survey answered 5 by tapping the button in the widget), the figures in the admin API
//! (`GET /api/v1/metrics/escalation`) and on the `/console/metrics` page, and the same
//! figures after a restart on the same data folder.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tandem_e2e::{Tandem, WsClient, eventually};

const CONSOLE_TOKEN: &str = "console-token-0123456789";
const ADMIN_TOKEN: &str = "admin-token-0123456789";

fn config() -> String {
    format!(
        r#"
[store]
kind = "sqlite"

[channels.webchat]

[desks.console]
tokens = ["{CONSOLE_TOKEN}"]

[admin]
tokens = ["{ADMIN_TOKEN}"]
"#
    )
}

async fn figures(tandem: &Tandem, query: &str) -> Value {
    let (status, body) = tandem
        .api(
            ADMIN_TOKEN,
            reqwest::Method::GET,
            &format!("/api/v1/metrics/escalation?{query}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The dashboard page with the console token as a bearer token.
async fn page(tandem: &Tandem, query: &str) -> String {
    let r = tandem_e2e::http()
        .get(tandem.url(&format!("/console/metrics?{query}")))
        .bearer_auth(CONSOLE_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

/// The next console `handoff` frame.
async fn next_handoff(ws: &mut WsClient) -> Value {
    ws.recv_type("handoff").await["handoff"].clone()
}

/// The next widget message whose text contains `needle`.
async fn widget_message(c: &mut WsClient, needle: &str) -> Value {
    loop {
        let f = c.recv_type("message").await;
        if f["text"].as_str().is_some_and(|t| t.contains(needle)) {
            return f;
        }
    }
}

/// Taps the button titled `title` of a widget message.
async fn tap(c: &mut WsClient, message: &Value, title: &str) {
    let button = message["buttons"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["title"] == title))
        .cloned()
        .unwrap_or_else(|| panic!("a {title} button: {message}"));
    c.send(json!({"type": "postback", "id": format!("tap-{title}"), "payload": button["payload"], "title": title}))
        .await;
}

#[tokio::test]
async fn figures_come_from_the_store_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &config()).await;

    // Two customers the bot serves alone; the first thanks the bot and rates it 3.
    for (n, question) in [
        "what are your opening hours?",
        "how do I reset my password?",
    ]
    .into_iter()
    .enumerate()
    {
        let (mut c, _) = WsClient::hello(&tandem.addr, None).await;
        c.say(&format!("b{n}"), question).await;
        c.recv_reply().await;
        if n == 0 {
            c.say("t0", "thank you so much!").await;
            let survey = widget_message(&mut c, "How did we do?").await;
            tap(&mut c, &survey, "3").await;
            widget_message(&mut c, "Thank you for your feedback").await;
        }
    }

    // One who asks for a person: the agent accepts, replies, resolves; the survey gets a 5.
    let mut agent = WsClient::connect_url(&format!(
        "ws://{}/console/ws?token={CONSOLE_TOKEN}",
        tandem.addr
    ))
    .await;
    agent.recv_type("snapshot").await;
    agent
        .send(json!({"type": "hello", "agent": {"id": "sam", "name": "Sam"}}))
        .await;
    let (mut customer, _) = WsClient::hello(&tandem.addr, None).await;
    customer.say("h1", "I want to talk to a human").await;
    let h = next_handoff(&mut agent).await;
    let handoff_id = h["handoff_id"].as_str().unwrap().to_owned();
    agent
        .send(json!({"type": "accept", "handoff_id": handoff_id, "id": "a1"}))
        .await;
    assert_eq!(agent.recv_type("ack").await["id"], "a1");
    agent
        .send(json!({"type": "message", "handoff_id": handoff_id, "id": "m1", "text": "Hi, Sam here."}))
        .await;
    assert_eq!(agent.recv_type("ack").await["id"], "m1");
    let reply = widget_message(&mut customer, "Sam here").await;
    assert_eq!(reply["from"], "agent");
    agent
        .send(json!({"type": "resolve", "handoff_id": handoff_id, "id": "r1"}))
        .await;
    assert_eq!(agent.recv_type("ack").await["id"], "r1");
    let survey = widget_message(&mut customer, "How did we do?").await;
    tap(&mut customer, &survey, "5").await;
    widget_message(&mut customer, "Thank you for your feedback").await;

    let before = eventually(10, "the survey answer in the figures", || async {
        let f = figures(&tandem, "period=24h&by=channel").await;
        (f["overall"]["csat_handoff"]["answers"] == 1).then_some(f)
    })
    .await;
    let o = &before["overall"];
    assert_eq!(o["conversations"], 3, "{before:#}");
    assert_eq!(o["handoffs"], 1);
    let rate = o["escalation_rate"].as_f64().unwrap();
    assert!((rate - 1.0 / 3.0).abs() < 1e-9, "{rate}");
    assert_eq!(o["csat_handoff"]["mean"], 5.0);
    assert_eq!(o["csat_handoff"]["satisfied_share"], 1.0);
    assert_eq!(o["csat_bot"]["answers"], 1, "the bot-only survey");
    assert_eq!(o["csat_bot"]["mean"], 3.0);
    assert_eq!(o["first_human_reply"]["count"], 1);
    assert!(o["first_human_reply"]["median_ms"].as_i64().unwrap() >= 0);
    assert_eq!(o["resolved"], 1);
    assert_eq!(
        o["resolution_checked"], 0,
        "a resolution is judged once its 48 hours are over"
    );
    assert_eq!(
        (o["overrides"].clone(), o["closed_handoffs"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(before["healthy_band"], json!([0.05, 0.1]));
    assert_eq!(before["groups"][0]["key"], "webchat");
    assert_eq!(before["groups"][0]["conversations"], 3);

    // The page shows the same numbers.
    let html = page(&tandem, "period=24h").await;
    assert!(html.contains("33.3 %"), "the escalation rate");
    assert!(html.contains("5.00 / 5"), "the CSAT after a handoff");
    assert!(html.contains("3.00 / 5"), "the bot-only CSAT");
    assert!(html.contains("healthy band"));
    let by_category = figures(&tandem, "period=24h&by=category").await;
    assert_eq!(by_category["groups"][0]["key"], h["reason"]["category"]);

    // /metrics: the escalation counts and their denominator, the decisions.
    let series = [
        "tandem_policy_decisions_total{escalate=\"true\"}",
        "tandem_policy_decisions_total{escalate=\"false\"}",
    ];
    let mut counted = Vec::new();
    for s in series {
        counted.push(tandem.metric(s).await);
    }
    assert_eq!(counted[0], 1.0, "one escalating decision");
    assert!(counted[1] >= 3.0, "the bot's answers: {counted:?}");

    // Restart on the same data folder: the same figures, the rate not skewed.
    assert_eq!(tandem.terminate().await.code(), Some(0));
    let tandem = Tandem::start(dir.path(), &config()).await;
    for (s, before) in series.iter().zip(&counted) {
        assert_eq!(
            tandem.metric(s).await,
            *before,
            "{s} restored from the store, like the escalation counts"
        );
    }
    let after = figures(&tandem, "period=24h&by=channel").await;
    assert_eq!(
        after["overall"], before["overall"],
        "the same after a restart"
    );
    assert_eq!(after["groups"], before["groups"]);
    let html = page(&tandem, "period=24h").await;
    assert!(html.contains("33.3 %") && html.contains("5.00 / 5"));
}

#[tokio::test]
async fn the_dashboard_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &config()).await;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let r = client
        .get(tandem.url("/console/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.text().await.unwrap().contains("name=\"token\""),
        "a sign-in form"
    );
    let r = client
        .get(tandem.url("/console/metrics"))
        .bearer_auth("wrong-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A token in the address: a cookie and a redirect that drops it.
    let r = client
        .get(tandem.url(&format!(
            "/console/metrics?period=30d&token={CONSOLE_TOKEN}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/console/metrics?period=30d");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let r = client
        .get(tandem.url("/console/metrics?period=30d"))
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("aria-current=\"true\">30 days")
    );

    // The admin token opens it too; bad parameters are explained.
    let r = client
        .get(tandem.url("/console/metrics?by=agent"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("by must be"));

    // The API: a bearer token, and a clear 400.
    let (status, _) = tandem
        .api(
            CONSOLE_TOKEN,
            reqwest::Method::GET,
            "/api/v1/metrics/escalation",
            None,
        )
        .await;
    assert_eq!(status, 401, "the API takes admin tokens only");
    let (status, body) = tandem
        .api(
            ADMIN_TOKEN,
            reqwest::Method::GET,
            "/api/v1/metrics/escalation?from=2026-03-05&to=2026-03-01",
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "bad_request");
}
