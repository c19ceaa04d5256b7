//! The built-in agent console, end to end: agents connect over the console's WebSocket
//! with a token, see the queue (durably, also after a restart), read the briefing, accept,
//! reply (once, even when a frame is resent) and resolve; the customer is on the generic
//! webhook channel.

use crate::handoff::customer_says_as;
use crate::handoff::texts_from;
use serde_json::{Value, json};
use std::time::Duration;
use tandem_e2e::{FakeEndpoint, Tandem, TestStore, WsClient, eventually};

const TOKEN: &str = "console-token-0123456789";

fn config(customer: &str) -> String {
    format!(
        r#"
[channels.webhook]
url = "{customer}"
secret = "shh"
max_buttons = 0

[desks.console]
tokens = ["{TOKEN}"]

[outbox]
lease_secs = 2
retry_base_ms = 200
retry_max_ms = 1000
"#
    )
}

/// Connects an agent with the token in the URL, says hello, returns the snapshot.
async fn agent(tandem: &Tandem, id: &str, name: &str) -> (WsClient, Value) {
    let mut ws =
        WsClient::connect_url(&format!("ws://{}/console/ws?token={TOKEN}", tandem.addr)).await;
    let snapshot = ws.recv_type("snapshot").await;
    ws.send(json!({"type": "hello", "agent": {"id": id, "name": name}}))
        .await;
    (ws, snapshot)
}

/// The next `handoff` frame satisfying `ok`.
async fn handoff_where(ws: &mut WsClient, ok: impl Fn(&Value) -> bool) -> Value {
    loop {
        let f = ws.recv_type("handoff").await;
        if ok(&f["handoff"]) {
            return f["handoff"].clone();
        }
    }
}

fn transcript_has(h: &Value, from: &str, text: &str) -> bool {
    h["transcript"]
        .as_array()
        .is_some_and(|t| t.iter().any(|l| l["from"] == from && l["text"] == text))
}

#[tokio::test]
async fn console_refuses_a_wrong_token() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let tandem = Tandem::start(dir.path(), &config(&customer.url)).await;
    let url = format!(
        "ws://{}/console/ws?token=wrong-token-0123456789",
        tandem.addr
    );
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("expected 401, got {other:?}"),
    }
    // A token in the first frame instead of the URL: a wrong one ends the connection.
    let mut ws = WsClient::connect_url(&format!("ws://{}/console/ws", tandem.addr)).await;
    ws.send(json!({"type": "hello", "token": "nope", "agent": {"id": "eve"}}))
        .await;
    assert_eq!(ws.recv_type("error").await["code"], "unauthorized");
    // The right one in the first frame works.
    let mut ws = WsClient::connect_url(&format!("ws://{}/console/ws", tandem.addr)).await;
    ws.send(json!({"type": "hello", "token": TOKEN, "agent": {"id": "sam"}}))
        .await;
    assert_eq!(ws.recv_type("snapshot").await["handoffs"], json!([]));
    let page = tandem_e2e::get(tandem.url("/console")).await.unwrap();
    assert_eq!(page.status(), 200);
}

#[tokio::test]
async fn agent_takes_a_refund_in_the_console() {
    agent_takes_a_refund_in_the_console_on(&TestStore::Default).await;
}

/// Also run on MongoDB (`mongodb.rs`).
pub(crate) async fn agent_takes_a_refund_in_the_console_on(store: &TestStore) {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let tandem = Tandem::start(dir.path(), &store.config(&config(&customer.url))).await;

    let (mut sam, snapshot) = agent(&tandem, "sam", "Sam").await;
    assert_eq!(snapshot["handoffs"], json!([]));

    customer_says_as(&tandem, "alice", "c1", "I want a refund").await;
    let h = handoff_where(&mut sam, |_| true).await;
    let handoff_id = h["handoff_id"].as_str().unwrap().to_owned();
    assert_eq!(h["status"], "queued");
    assert_eq!(h["reason"]["category"], "revenue");
    assert!(
        h["reason"]["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["evidence"] == "refund"),
        "{h:#}"
    );
    assert!(h["customer"]["identities"][0]["external_id"] == "alice");
    assert!(!h["summary"]["text"].as_str().unwrap().is_empty());
    assert!(transcript_has(&h, "customer", "I want a refund"));

    // A later customer message appears in the same handoff.
    customer_says_as(&tandem, "alice", "c2", "it was order 12345").await;
    handoff_where(&mut sam, |h| {
        h["handoff_id"] == handoff_id.as_str()
            && transcript_has(h, "customer", "it was order 12345")
    })
    .await;

    // Bad frames are answered, never fatal.
    sam.send(json!({"type": "accept", "handoff_id": "no-such", "id": "x1"}))
        .await;
    assert_eq!(sam.recv_type("error").await["code"], "unknown_handoff");
    sam.send(json!({"type": "message", "handoff_id": handoff_id, "id": "x2", "text": " "}))
        .await;
    assert_eq!(sam.recv_type("error").await["code"], "empty_text");
    sam.send_raw(tokio_tungstenite::tungstenite::Message::Text(
        "{nope".into(),
    ))
    .await;
    assert_eq!(sam.recv_type("error").await["code"], "bad_frame");
    let big = json!({"type": "message", "handoff_id": handoff_id, "id": "x3", "text": "a".repeat(70_000)});
    sam.send(big).await;
    assert_eq!(sam.recv_type("error").await["code"], "frame_too_large");

    // Accept, then reply; the reply frame is sent twice with the same id.
    sam.send(json!({"type": "accept", "handoff_id": handoff_id, "id": "a1"}))
        .await;
    assert_eq!(sam.recv_type("ack").await["id"], "a1");
    let reply = json!({"type": "message", "handoff_id": handoff_id, "id": "m1", "text": "Hi, I'm Sam. Let me check that refund."});
    sam.send(reply.clone()).await;
    assert_eq!(sam.recv_type("ack").await["id"], "m1");
    sam.send(reply).await;
    assert_eq!(
        sam.recv_type("ack").await["id"],
        "m1",
        "a resent frame is acked"
    );
    let h = handoff_where(&mut sam, |h| {
        transcript_has(h, "agent", "Hi, I'm Sam. Let me check that refund.")
    })
    .await;
    assert_eq!(h["status"], "accepted");
    assert_eq!(h["accepted_by"]["id"], "sam");
    eventually(10, "the agent's reply at the customer", || async {
        (!texts_from(&customer, "agent").is_empty()).then_some(())
    })
    .await;

    // While the agent owns it, the bot stays silent.
    customer_says_as(&tandem, "alice", "c3", "what are your opening hours?").await;
    handoff_where(&mut sam, |h| {
        transcript_has(h, "customer", "what are your opening hours?")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        texts_from(&customer, "bot").is_empty(),
        "the bot said nothing while the agent owned it"
    );
    assert_eq!(
        texts_from(&customer, "agent"),
        ["Hi, I'm Sam. Let me check that refund."],
        "the resent frame had no second effect"
    );

    // A second agent connecting later sees the open handoff, with everything so far.
    let (_kim, snapshot) = agent(&tandem, "kim", "Kim").await;
    let listed = &snapshot["handoffs"][0];
    assert_eq!(listed["handoff_id"], handoff_id.as_str());
    assert!(transcript_has(
        listed,
        "agent",
        "Hi, I'm Sam. Let me check that refund."
    ));
    assert!(transcript_has(listed, "customer", "it was order 12345"));

    // Resolve: gone from the queue, and the customer gets the survey.
    sam.send(json!({"type": "resolve", "handoff_id": handoff_id, "id": "r1"}))
        .await;
    assert_eq!(sam.recv_type("ack").await["id"], "r1");
    let closed = sam.recv_type("closed").await;
    assert_eq!(closed["handoff_id"], handoff_id.as_str());
    eventually(10, "CSAT survey", || async {
        texts_from(&customer, "bot")
            .into_iter()
            .find(|t| t.contains("How did we do?"))
    })
    .await;
    // Acting on a closed handoff is refused.
    sam.send(json!({"type": "message", "handoff_id": handoff_id, "id": "m2", "text": "hello?"}))
        .await;
    assert_eq!(sam.recv_type("error").await["code"], "not_open");
    let (_lee, snapshot) = agent(&tandem, "lee", "Lee").await;
    assert_eq!(snapshot["handoffs"], json!([]));
}

#[tokio::test]
async fn open_handoffs_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let tandem = Tandem::start(dir.path(), &config(&customer.url)).await;
    let (mut sam, _) = agent(&tandem, "sam", "Sam").await;
    customer_says_as(&tandem, "bob", "c1", "I want a refund").await;
    let h = handoff_where(&mut sam, |_| true).await;
    drop(sam);
    assert_eq!(tandem.terminate().await.code(), Some(0));

    let tandem = Tandem::start(dir.path(), &config(&customer.url)).await;
    let (_sam, snapshot) = agent(&tandem, "sam", "Sam").await;
    assert_eq!(snapshot["handoffs"][0]["handoff_id"], h["handoff_id"]);
    assert!(transcript_has(
        &snapshot["handoffs"][0],
        "customer",
        "I want a refund"
    ));
}

/// `tandem agent hash-password` with `password` on stdin: the PHC hash it prints.
pub(crate) fn hash_password(password: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(tandem_e2e::process::binary())
        .args(["agent", "hash-password"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("running tandem agent hash-password");
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(password));
    hash
}

pub(crate) const ADMIN: &str = "admin-token-0123456789abcdef";

/// `channels`, then the console (no shared token), the admin API and the agent accounts
/// Amy (`amy@example.com`, with `password_hash` when given) and Bea.
pub(crate) fn accounts_config(channels: &str, hash: Option<&str>) -> String {
    let password = hash.map_or(String::new(), |h| format!("password_hash = \"{h}\""));
    format!(
        r#"
{channels}

[desks.console]

[admin]
tokens = ["{ADMIN}"]

[[agents]]
id = "amy"
name = "Amy"
email = "amy@example.com"
{password}

[[agents]]
id = "bea"
name = "Bea"

[outbox]
lease_secs = 2
retry_base_ms = 200
retry_max_ms = 1000
"#
    )
}

fn webhook_channel(customer: &str) -> String {
    format!("[channels.webhook]\nurl = \"{customer}\"\nsecret = \"shh\"\nmax_buttons = 0\n")
}

/// Signs in at `/console/login` with `body` and `origin`; the status and the session cookie.
async fn login(tandem: &Tandem, body: Value, origin: Option<&str>) -> (u16, Option<String>) {
    let mut req = tandem_e2e::http()
        .post(tandem.url("/console/login"))
        .json(&body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let r = req.send().await.unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status().as_u16(), cookie)
}

/// The console WebSocket with `cookie` and `origin`: the HTTP status of a refused upgrade,
/// or the connected client.
async fn console_ws(
    tandem: &Tandem,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<WsClient, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}/console/ws", tandem.addr)
        .into_client_request()
        .unwrap();
    if let Some(c) = cookie {
        req.headers_mut().insert("cookie", c.parse().unwrap());
    }
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(WsClient::from_stream(ws)),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("unexpected WebSocket error {e}"),
    }
}

#[tokio::test]
async fn agents_sign_in_with_their_own_account_and_act_as_it() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let hash = hash_password("amy-secret-password");
    let config = accounts_config(&webhook_channel(&customer.url), Some(&hash));
    let tandem = Tandem::start(dir.path(), &config).await;
    let origin = tandem.base.clone();

    // Signed out: the page sends to the sign-in page, the API and the socket say 401.
    let no_redirect = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = no_redirect
        .get(tandem.url("/console"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/console/login");
    for path in [
        "/console/api/me",
        "/console/api/agents",
        "/console/api/history",
    ] {
        let r = tandem_e2e::get(tandem.url(path)).await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    assert_eq!(
        console_ws(&tandem, None, Some(&origin)).await.err(),
        Some(401)
    );

    // Wrong password, unknown login: refused alike. Another site's page: refused.
    let wrong = json!({"login": "amy", "password": "nope-nope-nope"});
    assert_eq!(login(&tandem, wrong, Some(&origin)).await.0, 401);
    let unknown = json!({"login": "zed", "password": "amy-secret-password"});
    assert_eq!(login(&tandem, unknown, Some(&origin)).await.0, 401);
    let right = json!({"login": "AMY@example.com", "password": "amy-secret-password"});
    assert_eq!(
        login(&tandem, right.clone(), Some("https://evil.example"))
            .await
            .0,
        403
    );
    let (status, cookie) = login(&tandem, right, Some(&origin)).await;
    assert_eq!(status, 200);
    let cookie = cookie.expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();
    // The session also opens the metrics page under /console (no token needed).
    let metrics_page = |cookie: Option<String>| {
        let mut req = tandem_e2e::http().get(tandem.url("/console/metrics?period=24h"));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(metrics_page(None).await, 401);
    assert_eq!(
        metrics_page(Some("tandem_console=forged".into())).await,
        401
    );
    assert_eq!(metrics_page(Some(session.clone())).await, 200);
    let me: Value = tandem_e2e::http()
        .get(tandem.url("/console/api/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["agent"], json!({"id": "amy", "name": "Amy"}));

    // The socket needs our own page's origin; then it acts as Amy whatever hello says.
    assert_eq!(
        console_ws(&tandem, Some(&session), Some("https://evil.example"))
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        console_ws(&tandem, Some(&session), None).await.err(),
        Some(403)
    );
    let mut amy = console_ws(&tandem, Some(&session), Some(&origin))
        .await
        .expect("signed in");
    assert_eq!(amy.recv_type("me").await["agent"]["id"], "amy");
    amy.recv_type("snapshot").await;
    amy.send(json!({"type": "hello", "agent": {"id": "bea", "name": "Bea"}}))
        .await;
    customer_says_as(&tandem, "alice", "c1", "I want a refund").await;
    let h = handoff_where(&mut amy, |_| true).await;
    let handoff_id = h["handoff_id"].as_str().unwrap().to_owned();
    amy.send(json!({"type": "message", "handoff_id": handoff_id, "id": "m1", "text": "Amy here"}))
        .await;
    let h = handoff_where(&mut amy, |h| transcript_has(h, "agent", "Amy here")).await;
    assert_eq!(
        h["accepted_by"]["id"], "amy",
        "acts as the signed-in account"
    );
    let sent = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let f = amy.recv_type("handoff").await;
            let line = f["handoff"]["transcript"]
                .as_array()
                .and_then(|t| t.iter().find(|l| l["text"] == "Amy here"))
                .cloned();
            if let Some(line) = line.filter(|l| l["delivery"]["state"] == "sent") {
                return line;
            }
        }
    })
    .await
    .expect("the reply marked sent within 10 s");
    assert_eq!(sent["from"], "agent");

    // Transfers go to accounts only; the name comes from the account.
    amy.send(json!({"type": "transfer", "handoff_id": handoff_id, "id": "t0", "to_agent": {"id": "mallory"}}))
        .await;
    assert_eq!(amy.recv_type("error").await["code"], "unknown_agent");
    amy.send(json!({"type": "transfer", "handoff_id": handoff_id, "id": "t1", "to_agent": {"id": "bea", "name": "Boss"}}))
        .await;
    let h = handoff_where(&mut amy, |h| h["accepted_by"]["id"] == "bea").await;
    assert_eq!(h["accepted_by"]["name"], "Bea");

    // Disabling the account (admin API) ends the session at once.
    let (status, agent) = tandem
        .api(
            ADMIN,
            reqwest::Method::PATCH,
            "/api/v1/agents/amy",
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 200, "{agent}");
    assert_eq!(agent["disabled"], true);
    assert_eq!(agent["status"], "away");
    assert_eq!(agent["has_password"], true);
    assert!(agent.get("password_hash").is_none());
    amy.send(json!({"type": "accept", "handoff_id": handoff_id, "id": "a9"}))
        .await;
    assert_eq!(amy.recv_type("error").await["code"], "unauthorized");
    let r = tandem_e2e::http()
        .get(tandem.url("/console/api/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        metrics_page(Some(session.clone())).await,
        401,
        "a disabled account's session no longer opens the metrics page"
    );
    assert!(!tandem.logs().contains("amy-secret-password"));
}

#[tokio::test]
async fn accounts_are_managed_through_the_admin_api_and_links_work_once() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let hash = hash_password("amy-secret-password");
    let config = accounts_config(&webhook_channel(&customer.url), Some(&hash));
    let tandem = Tandem::start(dir.path(), &config).await;
    let origin = tandem.base.clone();
    let (status, carl) = tandem
        .api(
            ADMIN,
            reqwest::Method::PUT,
            "/api/v1/agents/carl",
            Some(json!({"name": "Carl", "email": "carl@example.com", "skills": ["billing"], "capacity": 3, "password": "carl-password-1"})),
        )
        .await;
    assert_eq!(status, 200, "{carl}");
    assert_eq!(carl["email"], "carl@example.com");
    assert_eq!(carl["has_password"], true);
    let (status, _) = tandem
        .api(
            ADMIN,
            reqwest::Method::PATCH,
            "/api/v1/agents/carl",
            Some(json!({"password": "short"})),
        )
        .await;
    assert_eq!(status, 400, "too short a password");
    let (_, list) = tandem
        .api(ADMIN, reqwest::Method::GET, "/api/v1/agents", None)
        .await;
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["amy", "bea", "carl"], "config agents and API agents");
    let carl_login = json!({"login": "carl", "password": "carl-password-1"});
    assert_eq!(login(&tandem, carl_login, Some(&origin)).await.0, 200);

    // A one-time link: it signs in once.
    let link = crate::browser::sign_in_link(&tandem, "bea").await;
    let token = link.split("#link=").nth(1).unwrap().to_owned();
    assert_eq!(
        login(&tandem, json!({"link": token}), Some(&origin))
            .await
            .0,
        200
    );
    assert_eq!(
        login(&tandem, json!({"link": token}), Some(&origin))
            .await
            .0,
        401,
        "used"
    );
    let (status, _) = tandem
        .api(
            ADMIN,
            reqwest::Method::POST,
            "/api/v1/agents/nobody/sign-in-link",
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert!(
        !tandem.logs().contains(&token),
        "the link's token is never logged"
    );
}
