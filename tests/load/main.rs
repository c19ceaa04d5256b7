//! `tandem-load`: a load generator against the running binary (loopback only, bounded).
//!
//! It starts `tandem serve` (`TANDEM_BIN`, else the debug build) with the generic webhook
//! channel pointed at a local endpoint, then sends `--messages` signed customer messages
//! from `--senders` concurrent customers (each customer waits for its reply before the
//! next message, like a person would), and reports acknowledgement latency (HTTP 200 after
//! the durable write), reply latency (message posted → bot reply received), throughput and
//! the server's resident memory. Results go to stdout as a Markdown table row.
//!
//! ```sh
//! cargo build --release -p tandem-server
//! TANDEM_BIN=target/release/tandem cargo run --release -p tandem-e2e --bin tandem-load -- --messages 2000 --senders 50
//! ```
//!
//! With `--sockets N` it measures memory instead: the server's resident memory idle, with
//! `N` web chat sockets open (each greeted: `hello` answered by `welcome`), and after they
//! closed. Both processes need `N` + a few descriptors (the limit is raised to the hard
//! limit).
//!
//! ```sh
//! TANDEM_BIN=target/release/tandem cargo run --release -p tandem-e2e --bin tandem-load -- --sockets 10000
//! ```

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tandem_e2e::{Tandem, hmac_hex};
use tokio::sync::oneshot;

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Instant>>>>;

const QUESTIONS: [&str; 4] = [
    "what are your opening hours?",
    "how do I reset my password?",
    "how long does shipping take?",
    "what is your returns policy?",
];

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

async fn reply_sink(State(waiters): State<Waiters>, body: Bytes) -> &'static str {
    let at = Instant::now();
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
        && let Some(to) = v["to"].as_str()
        && let Some(tx) = waiters.lock().expect("lock").remove(to)
    {
        let _ = tx.send(at);
    }
    "ok"
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--sockets") {
        return sockets(arg("--sockets", 10_000).clamp(1, 50_000)).await;
    }
    let messages = arg("--messages", 1000).clamp(1, 100_000);
    let senders = arg("--senders", 20).clamp(1, 1000);
    let per_sender = messages.div_ceil(senders);

    let waiters: Waiters = Arc::default();
    let app = Router::new()
        .route("/reply", post(reply_sink))
        .with_state(waiters.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sink_url = format!("http://{}/reply", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let dir = tempfile::tempdir()?;
    let config = format!(
        "[channels.webhook]\nurl = \"{sink_url}\"\nsecret = \"load\"\nmax_buttons = 0\n\n[outbox]\nretry_base_ms = 100\n"
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let url = tandem.url("/webhooks/generic");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(senders)
        .build()?;
    let rss_before = rss_kib(tandem.pid());

    let started = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..senders {
        let (client, url, waiters) = (client.clone(), url.clone(), waiters.clone());
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            let mut replies = Vec::new();
            for n in 0..per_sender {
                let who = format!("load-{s}");
                let (tx, rx) = oneshot::channel();
                waiters.lock().expect("lock").insert(who.clone(), tx);
                let body = serde_json::to_vec(&json!({
                    "id": format!("{who}-{n}"), "from": {"id": who}, "text": QUESTIONS[n % QUESTIONS.len()],
                }))
                .expect("json");
                let ts = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default()
                    .to_string();
                let sig = hmac_hex(b"load", &[ts.as_bytes(), b".", &body]);
                let sent = Instant::now();
                let ok = client
                    .post(&url)
                    .header("x-tandem-timestamp", &ts)
                    .header("x-tandem-signature", format!("sha256={sig}"))
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if !ok {
                    continue;
                }
                acks.push(sent.elapsed());
                if let Ok(Ok(at)) = tokio::time::timeout(Duration::from_secs(30), rx).await {
                    replies.push(at.duration_since(sent));
                }
            }
            (acks, replies)
        }));
    }
    let mut acks = Vec::new();
    let mut replies = Vec::new();
    for t in tasks {
        let (a, r) = t.await?;
        acks.extend(a);
        replies.extend(r);
    }
    let elapsed = started.elapsed();
    let rss_after = rss_kib(tandem.pid());
    acks.sort();
    replies.sort();
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    println!(
        "| messages | senders | acked | replied | msg/s | ack p50 ms | ack p99 ms | reply p50 ms | reply p99 ms | RSS start → end MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {senders} | {} | {} | {:.0} | {} | {} | {} | {} | {:.1} → {:.1} |",
        senders * per_sender,
        acks.len(),
        replies.len(),
        replies.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&acks, 0.5)),
        ms(percentile(&acks, 0.99)),
        ms(percentile(&replies, 0.5)),
        ms(percentile(&replies, 0.99)),
        rss_before.unwrap_or(0) as f64 / 1024.0,
        rss_after.unwrap_or(0) as f64 / 1024.0,
    );
    let status = tandem.terminate().await;
    anyhow::ensure!(status.success(), "tandem exited with {status}");
    Ok(())
}

/// Opens one web chat socket and says hello; returns it once welcomed.
async fn greeted_socket(
    addr: &str,
) -> anyhow::Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    // The client's own buffers small too, so the load generator fits beside the server.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(
        format!("ws://{addr}/webchat/ws"),
        Some(config),
        false,
    )
    .await?;
    ws.send(Message::Text(json!({"type": "hello"}).to_string().into()))
        .await?;
    while let Some(frame) = ws.next().await {
        if let Message::Text(t) = frame?
            && t.contains("\"welcome\"")
        {
            return Ok(ws);
        }
    }
    anyhow::bail!("closed before welcome")
}

/// The resident size once it has stopped falling: read every second until five readings
/// in a row stay within 1 % (at least 25 s, at most 90 s), as jemalloc returns freed pages
/// in steps over its 10 s decay (a plateau of a few seconds is common after 10 s). Returns the last reading (KiB) and the seconds waited.
async fn settled_rss(pid: u32) -> (u64, u64) {
    let mut readings: Vec<u64> = Vec::new();
    for second in 1..=90u64 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        readings.push(rss_kib(pid).unwrap_or(0));
        if second >= 25 && readings.len() >= 5 {
            let last = &readings[readings.len() - 5..];
            let (lo, hi) = (last.iter().min().copied(), last.iter().max().copied());
            if let (Some(lo), Some(hi)) = (lo, hi)
                && hi - lo <= hi / 100
            {
                return (hi, second);
            }
        }
    }
    (readings.last().copied().unwrap_or(0), 90)
}

/// `--sockets N`: resident memory idle, with `N` greeted web chat sockets, and after.
async fn sockets(n: usize) -> anyhow::Result<()> {
    use futures::StreamExt;
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let dir = tempfile::tempdir()?;
    // Every socket comes from 127.0.0.1: lift the per-address limit (hellos take no
    // token since they write nothing; kept so a run with messages is not limited).
    let config =
        "[channels.webchat]\naddress_rate_limit = { per_second = 1000000, burst = 1000000 }\n";
    let tandem = Tandem::start(dir.path(), config).await;
    // Settled, like "after close": start-up allocations (config, policy, intent model) are
    // freed within seconds, and the allocator returns them over its 10 s decay. Read 2 s
    // after start, idle was about 46 MiB instead of the settled 29 to 36 MiB.
    let (idle, idle_settled_in) = settled_rss(tandem.pid()).await;
    println!("idle RSS settled after {idle_settled_in} s");

    println!(
        "| round | sockets | failed | opened in s | RSS idle MiB | RSS open MiB | per socket KiB | RSS after close MiB | after close vs idle |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for round in 1..=arg("--rounds", 1).clamp(1, 10) {
        let started = Instant::now();
        let addr = tandem.addr.clone();
        let results: Vec<_> = futures::stream::iter(0..n)
            .map(|_| greeted_socket(&addr))
            .buffer_unordered(64)
            .collect()
            .await;
        let opening = started.elapsed();
        let mut open = Vec::with_capacity(n);
        let mut failed = 0usize;
        for r in results {
            match r {
                Ok(ws) => open.push(ws),
                Err(_) => failed += 1,
            }
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let with_sockets = rss_kib(tandem.pid()).unwrap_or(0);
        let count = open.len();
        drop(open);
        let (after, settled_in) = settled_rss(tandem.pid()).await;
        println!("round {round}: RSS after close settled after {settled_in} s");
        let mib = |kib: u64| kib as f64 / 1024.0;
        let per_socket = with_sockets.saturating_sub(idle) as f64 / count.max(1) as f64;
        println!(
            "| {round} | {count} | {failed} | {:.1} | {:.1} | {:.1} | {per_socket:.1} | {:.1} | {:+.0} % |",
            opening.as_secs_f64(),
            mib(idle),
            mib(with_sockets),
            mib(after),
            (after as f64 / idle.max(1) as f64 - 1.0) * 100.0,
        );
    }
    let status = tandem.terminate().await;
    anyhow::ensure!(status.success(), "tandem exited with {status}");
    Ok(())
}
