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
