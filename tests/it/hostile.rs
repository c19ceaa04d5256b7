//! Hostile load: idle and slow connections, the connection cap, a store that cannot
//! write, and a web chat client flooding messages.

use crate::WEBCHAT_ONLY;
use crate::outbox::{config as webhook_config, post_message};
use futures::StreamExt;
use serde_json::json;
use std::time::{Duration, Instant};
use tandem_e2e::{FakeEndpoint, Tandem, WsClient, eventually};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Both sides of these tests hold thousands of sockets.
fn raise_open_files() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
}

/// Whether the server closed `stream` (end of file or reset) within `wait`.
async fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            // A 408 or similar before the close: keep reading.
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_header_connections_neither_block_webhooks_nor_stay_open() {
    raise_open_files();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = FakeEndpoint::start(200).await;
    let config = format!(
        "{}\n[server]\nheader_read_timeout_secs = 3\n",
        webhook_config(&endpoint.url)
    );
    let tandem = Tandem::start(dir.path(), &config).await;

    let mut idle = Vec::new();
    for _ in 0..2000 {
        idle.push(TcpStream::connect(&tandem.addr).await.unwrap());
    }
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(&tandem.addr).await.unwrap();
        s.write_all(b"POST /webhooks/generic HTTP/1.1\r\nhost: tandem\r\n")
            .await
            .unwrap();
        slow.push(s);
    }
    // The slow ones keep trickling header lines, one every 200 ms.
    let dripping = tokio::spawn(async move {
        let started = Instant::now();
        let mut open = slow.len();
        while open > 0 && started.elapsed() < Duration::from_secs(20) {
            open = 0;
            for s in &mut slow {
                if s.write_all(b"x-slow: 1\r\n").await.is_ok() {
                    open += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        (open, started.elapsed())
    });

    let started = Instant::now();
    let status = post_message(&tandem, "m-1", "alice", "what are your opening hours?").await;
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_secs(1),
        "webhook answered in {took:?} beside 2,200 idle and slow connections"
    );

    // Past the header-read timeout every one of them is closed by the server.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut still_open = 0;
    for s in &mut idle {
        if !closed_by_server(s, Duration::from_secs(2)).await {
            still_open += 1;
        }
    }
    assert_eq!(
        still_open, 0,
        "idle connections left open after the timeout"
    );
    let (open, after) = dripping.await.unwrap();
    assert_eq!(
        open, 0,
        "slow-header connections still open after {after:?}"
    );
    assert_eq!(
        post_message(&tandem, "m-2", "alice", "thanks").await,
        200,
        "still serving"
    );
}

#[tokio::test]
async fn connections_over_the_cap_are_refused_counted_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{WEBCHAT_ONLY}\n[server]\nmax_connections = 20\n");
    let tandem = Tandem::start(dir.path(), &config).await;
    let mut held = Vec::new();
    for _ in 0..30 {
        held.push(TcpStream::connect(&tandem.addr).await.unwrap());
    }
    let mut refused = 0;
    for s in &mut held {
        if closed_by_server(s, Duration::from_millis(200)).await {
            refused += 1;
        }
    }
    assert_eq!(refused, 10, "the ten over the cap are closed at once");
    drop(held);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let counted = eventually(10, "the refusals counted", || async {
        let n = tandem.metric("tandem_http_connections_refused_total").await;
        (n >= 10.0).then_some(n)
    })
    .await;
    assert!(counted >= 10.0, "{counted}");
    let logs = tandem.logs();
    assert_eq!(
        logs.matches("Connection cap reached").count(),
        1,
        "one log line for the burst: {logs}"
    );
}

#[tokio::test]
async fn readyz_is_503_while_the_store_cannot_write_and_200_after() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = FakeEndpoint::start(200).await;
    let tandem = Tandem::start(dir.path(), &webhook_config(&endpoint.url)).await;
    let readyz = || async {
        tandem_e2e::get(tandem.url("/readyz"))
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(readyz().await, 200);

    // Another process takes the database's write lock and keeps it: every write of
    // Tandem's now fails (SQLITE_BUSY after its busy timeout).
    let db = rusqlite::Connection::open(dir.path().join("tandem.db")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    eventually(5, "/readyz answering 503", || async {
        (readyz().await == 503).then_some(())
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        post_message(&tandem, "m-1", "alice", "hello?").await,
        503,
        "a webhook is not acknowledged while nothing can be recorded"
    );

    db.execute_batch("ROLLBACK").unwrap();
    eventually(15, "/readyz answering 200 again", || async {
        (readyz().await == 200).then_some(())
    })
    .await;
    assert_eq!(post_message(&tandem, "m-1", "alice", "hello?").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_web_chat_socket_is_limited_and_others_are_still_answered() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{WEBCHAT_ONLY}rate_limit = {{ per_second = 5, burst = 10 }}\n");
    let tandem = Tandem::start(dir.path(), &config).await;
    let (mut flood, _) = WsClient::hello(&tandem.addr, None).await;
    let (mut other, _) = WsClient::hello(&tandem.addr, None).await;

    // 1,000 messages in one second.
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        for n in 0..1000 {
            flood
                .send(json!({"type": "message", "id": format!("f{n}"), "text": "spam"}))
                .await;
            if n % 10 == 9 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        flood
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Another customer in the middle of the flood.
    let asked = Instant::now();
    other
        .send(json!({"type": "message", "id": "q1", "text": "what are your opening hours?"}))
        .await;
    let ack = other.recv_type("ack").await;
    let acked = asked.elapsed();
    assert_eq!(ack["id"], "q1");
    let reply = other.recv_reply().await;
    let replied = asked.elapsed();
    assert_eq!(reply["from"], "bot");
    assert!(
        acked < Duration::from_millis(100),
        "the other customer's message acknowledged in {acked:?}"
    );
    assert!(
        replied < Duration::from_secs(1),
        "the other customer answered in {replied:?}"
    );

    let mut flood = sender.await.unwrap();
    let elapsed = started.elapsed();
    let frames = flood.drain(2).await;
    let acks = frames.iter().filter(|f| f["type"] == "ack").count();
    let limited = frames
        .iter()
        .filter(|f| f["type"] == "error" && f["code"] == "rate_limited")
        .count();
    let allowed = 10.0 + 5.0 * (elapsed.as_secs_f64() + 2.0);
    assert!(
        (acks as f64) <= allowed,
        "{acks} of 1,000 accepted in {elapsed:?}; the limit allows about {allowed}"
    );
    assert!(acks >= 10, "the burst goes through: {acks}");
    assert_eq!(
        acks + limited,
        1000,
        "every message acknowledged or refused"
    );
    assert_eq!(
        tandem
            .metric("tandem_messages_in_total{channel=\"webchat\"}")
            .await as usize,
        acks + 1
    );
    assert_eq!(
        tandem
            .metric("tandem_rate_limited_total{channel=\"webchat\",scope=\"session\"}")
            .await as usize,
        limited
    );
}

/// A receiver whose first request hangs (a send in flight when Tandem dies); later ones
/// are answered 200. Records each request's delivery id and arrival.
async fn hanging_receiver() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, Instant)>>>,
) {
    use axum::http::HeaderMap;
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, Instant)>>>;
    let seen: Seen = Default::default();
    async fn hook(
        axum::extract::State(seen): axum::extract::State<Seen>,
        headers: HeaderMap,
    ) -> &'static str {
        let id = headers
            .get("x-tandem-delivery")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let first = {
            let mut seen = seen.lock().unwrap();
            seen.push((id, Instant::now()));
            seen.len() == 1
        };
        if first {
            tokio::time::sleep(Duration::from_secs(120)).await;
        }
        "ok"
    }
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

#[tokio::test]
async fn a_send_cut_off_by_kill9_is_retried_within_seconds_and_later_replies_follow() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = hanging_receiver().await;
    // Default outbox settings: the lease is what this test is about.
    let config = format!("[channels.webhook]\nurl = \"{url}\"\nsecret = \"shh\"\n");
    let tandem = Tandem::start(dir.path(), &config).await;
    assert_eq!(
        post_message(&tandem, "m-1", "alice", "what are your opening hours?").await,
        200
    );
    eventually(10, "the first reply's send in flight", || async {
        (!seen.lock().unwrap().is_empty()).then_some(())
    })
    .await;
    assert_eq!(
        post_message(&tandem, "m-2", "alice", "how long does shipping take?").await,
        200
    );
    // Longer than a lease: the send still in flight keeps its claim (no second copy).
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "a send in flight is not taken over while its sender lives"
    );
    tandem.kill9().await;

    let restarted = Instant::now();
    let _tandem = Tandem::start(dir.path(), &config).await;
    let first = seen.lock().unwrap()[0].0.clone();
    eventually(
        30,
        "the cut-off send retried and the next reply sent",
        || async { (seen.lock().unwrap().len() >= 3).then_some(()) },
    )
    .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[1].0, first, "the cut-off reply is sent again first");
    let retried = seen[1].1.duration_since(restarted);
    assert!(
        retried < Duration::from_secs(15),
        "retried {retried:?} after the restart"
    );
    assert_ne!(seen[2].0, first, "then the conversation's next reply");
    let next = seen[2].1.duration_since(restarted);
    assert!(next < Duration::from_secs(16), "next reply after {next:?}");
}

#[tokio::test]
async fn a_signed_batch_repeating_one_message_1000_times_is_fast_and_logs_one_line() {
    use tandem_testkit::fake::WhatsAppFake;
    use tandem_testkit::payloads::{meta_wire, whatsapp_text};
    let dir = tempfile::tempdir().unwrap();
    let fake = WhatsAppFake::start("token", "1098765", "v21.0").await;
    let config = format!(
        "[channels.whatsapp]\napp_secret = \"secret\"\nverify_token = \"v\"\naccess_token = \"token\"\nphone_number_id = \"1098765\"\napi_base = \"{}\"\napi_version = \"v21.0\"\n",
        fake.base_url()
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let one: serde_json::Value = serde_json::from_str(&whatsapp_text(
        "1098765",
        "4915112345678",
        "Lena",
        "hello",
        "wamid.repeat",
        tandem_e2e::unix_now(),
    ))
    .unwrap();
    let mut batch = one.clone();
    let value = &mut batch["entry"][0]["changes"][0]["value"];
    let message = value["messages"][0].clone();
    value["messages"] = json!(vec![message; 1000]);
    value["errors"] = json!(vec![
        json!({"code": 131000, "title": "Something went wrong"});
        1000
    ]);
    let body = meta_wire(&batch);

    let started = Instant::now();
    let status = tandem
        .post_meta("/webhooks/whatsapp", "secret", &body)
        .await;
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(2), "answered in {took:?}");
    assert_eq!(
        tandem
            .metric("tandem_messages_in_total{channel=\"whatsapp\"}")
            .await,
        1.0
    );
    // The same batch again: still one line for its 1,000 errors (and none per copy).
    assert_eq!(
        tandem
            .post_meta("/webhooks/whatsapp", "secret", &body)
            .await,
        200
    );
    let logs = tandem.logs();
    let warnings = logs
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("not tied to a message"))
        .count();
    assert_eq!(
        warnings, 1,
        "one warning line for 2,000 error entries:\n{logs}"
    );
}

/// Rows in `table` of the binary's SQLite store.
fn rows(dir: &std::path::Path, table: &str) -> i64 {
    let db = rusqlite::Connection::open_with_flags(
        dir.join("tandem.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_hellos_write_nothing_until_the_first_message() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), WEBCHAT_ONLY).await;
    let tables = ["customers", "identities", "conversations", "transcript"];
    let before: Vec<i64> = tables.iter().map(|t| rows(dir.path(), t)).collect();

    // Hundreds of visitors say hello and never write.
    let addr = tandem.addr.clone();
    let welcomes: Vec<serde_json::Value> = futures::stream::iter(0..400)
        .map(|_| {
            let addr = addr.clone();
            async move {
                let mut c = WsClient::connect(&addr).await;
                c.send(json!({"type": "hello"})).await;
                c.recv_type("welcome").await
            }
        })
        .buffer_unordered(50)
        .collect()
        .await;
    assert_eq!(welcomes.len(), 400);
    assert!(welcomes.iter().all(|w| w["conversation_id"].is_string()));
    let after: Vec<i64> = tables.iter().map(|t| rows(dir.path(), t)).collect();
    assert_eq!(after, before, "{tables:?} before and after 400 hellos");

    // One of them: the greeting is shown; a reload before any message resumes the same
    // subject and shows the same greeting and conversation id, still writing nothing.
    let (first, welcome) = WsClient::hello(&tandem.addr, None).await;
    let greeting = first.history.first().cloned().expect("a greeting");
    assert_eq!(greeting["from"], "bot");
    drop(first);
    let session = welcome["session"].as_str().unwrap();
    let (mut client, again) = WsClient::hello(&tandem.addr, Some(session)).await;
    assert_eq!(again["session"], welcome["session"]);
    assert_eq!(again["conversation_id"], welcome["conversation_id"]);
    assert_eq!(client.history.len(), 1);
    assert_eq!(client.history[0]["id"], greeting["id"]);
    assert_eq!(client.history[0]["text"], greeting["text"]);
    let still: Vec<i64> = tables.iter().map(|t| rows(dir.path(), t)).collect();
    assert_eq!(
        still, before,
        "{tables:?} after a reconnect without a message"
    );

    // The first message creates one customer and its conversation, and is answered.
    client.say("m1", "what are your opening hours?").await;
    let reply = client.recv_reply().await;
    assert_eq!(reply["from"], "bot");
    assert_eq!(rows(dir.path(), "customers"), before[0] + 1);
    assert_eq!(rows(dir.path(), "conversations"), before[2] + 1);
    let db = rusqlite::Connection::open_with_flags(
        dir.path().join("tandem.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let conversation: String = db
        .query_row("SELECT id FROM conversations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(conversation, welcome["conversation_id"].as_str().unwrap());

    // A reload replays greeting, message and answer in that order, under the ids shown.
    let (resumed, third) = WsClient::hello(&tandem.addr, Some(session)).await;
    assert_eq!(third["conversation_id"], welcome["conversation_id"]);
    let replay: Vec<(&str, &str)> = resumed
        .history
        .iter()
        .map(|f| (f["from"].as_str().unwrap(), f["id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        replay,
        [
            ("bot", greeting["id"].as_str().unwrap()),
            ("customer", "m1"),
            ("bot", reply["id"].as_str().unwrap()),
        ]
    );
    assert_eq!(rows(dir.path(), "customers"), before[0] + 1);
}

#[tokio::test]
async fn a_console_frame_over_the_hard_limit_ends_the_connection_unread() {
    use tokio_tungstenite::tungstenite::Message;
    let dir = tempfile::tempdir().unwrap();
    let config = "[desks.console]\ntokens = [\"console-token-0123456789\"]\n[channels.webchat]\n";
    let tandem = Tandem::start(dir.path(), config).await;
    let url = format!(
        "ws://{}/console/ws?token=console-token-0123456789",
        tandem.addr
    );
    let mut agent = WsClient::connect_url(&url).await;
    agent.recv_type("snapshot").await;
    // Over 64 KiB: refused politely, the socket stays.
    agent
        .send(json!({"type": "hello", "agent": {"id": "sam", "name": "Sam"}, "pad": "a".repeat(70_000)}))
        .await;
    assert_eq!(agent.recv_type("error").await["code"], "frame_too_large");
    // Over 128 KiB (the socket's hard limit, like web chat's; it was 1 MiB): the
    // connection ends with 1009 instead of Tandem buffering it.
    agent
        .send_raw(Message::Text("a".repeat(200_000).into()))
        .await;
    let mut closed = false;
    while let Some(msg) = agent.next_raw(5).await {
        if let Message::Close(frame) = msg {
            closed = frame.is_some_and(|f| u16::from(f.code) == 1009);
            break;
        }
    }
    assert!(closed, "closed with 1009 (message too big)");
}
