//! `tandem-bench`: the WhatsApp webhook path under an open-loop load, swept to the highest
//! rate that passes, on an empty store and on preloaded ones.
//!
//! For each preload size (`--preloads`, transcript messages already stored, ten per
//! customer, at most `--stored-customers` customers: 1 M messages are 100 k customers with
//! five question-and-answer exchanges each) and each rate of `--rates` (ascending, stopping at the
//! first that fails), it starts `tandem serve` (`TANDEM_BIN`, else the release build) on a
//! copy of the preloaded store, pinned to CPU 0 with `taskset` (the generator pins itself
//! to CPU 1; `--no-pin` to leave both free), with a fake WhatsApp Cloud API and a fake
//! Slack on loopback, and:
//!
//! 1. warms up: one message from each of `--customers` customers, and waits until the
//!    fakes have seen nothing new for a second (so the run measures a steady state:
//!    customers known, conversations open, the escalating customers' handoffs open);
//! 2. sends `rate × --secs` signed WhatsApp text webhooks **open loop**: message `i` is due
//!    at `start + i / rate` and is sent then whether or not earlier ones were answered;
//!    latency is counted from the due time (a stalled server is charged in full, no
//!    coordinated omission). Senders go round robin over the customers; every platform
//!    message id is new (`wamid.bench.<run>.<i>`, a deduplicating gateway must not be fed
//!    repeats);
//! 3. the mix: 90 % of the customers ask routine questions the knowledge base answers, 5 %
//!    use escalation keywords (their conversations are with the desk: their messages go to
//!    the Slack thread), 5 % write negative messages (the bot answers until the sentiment
//!    streak hands them over);
//! 4. a message's effect is the first of: a reply to its sender at the fake Graph API, or
//!    a fake Slack call carrying its text (each text ends in `ref <i>`). The run waits up
//!    to `--drain-secs` for the last effects.
//!
//! A rate passes when every message was acknowledged (HTTP 200) and had its effect, and
//! p99 due → effect ≤ `--p99-ms` (100). Output: a Markdown table on stdout, progress on
//! stderr.
//!
//! ```sh
//! cargo build --release -p tandem-server -p tandem-e2e --bin tandem --bin tandem-bench
//! target/release/tandem-bench                       # 0 / 100k / 1M preloaded, SQLite
//! target/release/tandem-bench --preloads 0 --rates 200,1000 --secs 5
//! target/release/tandem-bench --store mongodb --mongodb-uri mongodb://127.0.0.1:27017/
//! ```

mod preload;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tandem_e2e::{Tandem, hmac_hex};

const APP_SECRET: &str = "bench-app-secret";
const ACCESS_TOKEN: &str = "bench-access-token";
const NUMBER: &str = "109876543210987";
const SLACK_TOKEN: &str = "xoxb-bench";

const ROUTINE: [&str; 4] = [
    "what are your opening hours?",
    "how do I reset my password?",
    "how long does shipping take?",
    "where is my order?",
];
const ESCALATE: [&str; 2] = [
    "I want to speak to a human agent now",
    "this is fraud, I will call my lawyer",
];
const NEGATIVE: [&str; 2] = [
    "this is terrible, I am really angry and disappointed",
    "awful service, nothing works and I hate it",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Routine,
    Escalate,
    Negative,
}

/// The kind of a customer: 18 of 20 routine, 1 escalating, 1 negative.
fn kind_of(customer: usize) -> Kind {
    match customer % 20 {
        18 => Kind::Escalate,
        19 => Kind::Negative,
        _ => Kind::Routine,
    }
}

fn text_for(customer: usize, n: usize, token: usize) -> String {
    let base = match kind_of(customer) {
        Kind::Routine => ROUTINE[(customer + n) % ROUTINE.len()],
        Kind::Escalate => ESCALATE[(customer + n) % ESCALATE.len()],
        Kind::Negative => NEGATIVE[(customer + n) % NEGATIVE.len()],
    };
    format!("{base} ref {token}")
}

// ---- arguments ------------------------------------------------------------------------

struct Args {
    rates: Vec<u64>,
    preloads: Vec<usize>,
    stored_customers: usize,
    customers: usize,
    secs: u64,
    drain_secs: u64,
    p99_ms: f64,
    pin: bool,
    store: String,
    mongodb_uri: String,
}

fn args() -> anyhow::Result<Args> {
    let argv: Vec<String> = std::env::args().collect();
    let value = |name: &str| -> Option<String> {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1))
            .cloned()
    };
    let list = |name: &str, default: &str| -> anyhow::Result<Vec<u64>> {
        value(name)
            .unwrap_or_else(|| default.to_owned())
            .split(',')
            .map(|v| {
                let v = v.trim().to_ascii_lowercase();
                let (digits, mult) = if let Some(d) = v.strip_suffix('m') {
                    (d.to_owned(), 1_000_000)
                } else if let Some(d) = v.strip_suffix('k') {
                    (d.to_owned(), 1_000)
                } else {
                    (v.clone(), 1)
                };
                digits
                    .parse::<u64>()
                    .map(|n| n * mult)
                    .map_err(|_| anyhow::anyhow!("{name}: not a number: {v}"))
            })
            .collect()
    };
    let num = |name: &str, default: u64| -> anyhow::Result<u64> {
        Ok(list(name, &default.to_string())?
            .first()
            .copied()
            .unwrap_or(default))
    };
    let mut rates = list("--rates", "100,200,500,1000,1500,2000,3000,4000")?;
    rates.sort_unstable();
    rates.retain(|r| *r > 0);
    Ok(Args {
        rates,
        preloads: list("--preloads", "0,100k,1m")?
            .into_iter()
            .map(|n| n as usize)
            .collect(),
        stored_customers: num("--stored-customers", 100_000)? as usize,
        customers: num("--customers", 1000)?.clamp(20, 100_000) as usize,
        secs: num("--secs", 10)?.clamp(1, 600),
        drain_secs: num("--drain-secs", 5)?.clamp(1, 120),
        p99_ms: num("--p99-ms", 100)? as f64,
        pin: !argv.iter().any(|a| a == "--no-pin"),
        store: value("--store").unwrap_or_else(|| "sqlite".into()),
        mongodb_uri: value("--mongodb-uri")
            .or_else(|| std::env::var("TANDEM_TEST_MONGODB_URI").ok())
            .unwrap_or_default(),
    })
}

// ---- the fakes: where effects are seen -------------------------------------------------

/// What the run sent and what came back.
#[derive(Default)]
struct Ledger {
    /// Due time of message `i` (None: not part of the measured run).
    due: Vec<Option<Instant>>,
    /// When message `i` had its effect, and whether it was at the desk.
    effect: Vec<Option<(Instant, bool)>>,
    /// Measured messages of a sender not yet answered at the Graph API, oldest first.
    waiting: HashMap<String, VecDeque<usize>>,
    /// Graph sends that matched no waiting message (notices, check-ins).
    extra_graph: usize,
    graph_calls: usize,
    slack_calls: usize,
}

type Shared = Arc<Mutex<Ledger>>;

impl Ledger {
    fn graph(&mut self, at: Instant, to: &str) {
        self.graph_calls += 1;
        let Some(queue) = self.waiting.get_mut(to) else {
            self.extra_graph += 1;
            return;
        };
        while let Some(i) = queue.pop_front() {
            if self.effect[i].is_none() {
                self.effect[i] = Some((at, false));
                return;
            }
        }
        self.extra_graph += 1;
    }

    fn slack(&mut self, at: Instant, body: &str) {
        self.slack_calls += 1;
        let mut rest = body;
        while let Some(p) = rest.find("ref ") {
            rest = &rest[p + 4..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(i) = digits.parse::<usize>()
                && i < self.effect.len()
                && self.due[i].is_some()
                && self.effect[i].is_none()
            {
                self.effect[i] = Some((at, true));
            }
        }
    }
}

async fn graph_messages(State(ledger): State<Shared>, body: Bytes) -> axum::Json<Value> {
    let at = Instant::now();
    let to = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["to"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let id = {
        let mut l = ledger.lock().expect("ledger lock");
        l.graph(at, &to);
        l.graph_calls
    };
    axum::Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": format!("wamid.out.{id}")}],
    }))
}

async fn slack_api(
    State(ledger): State<Shared>,
    axum::extract::Path(method): axum::extract::Path<String>,
    body: Bytes,
) -> axum::Json<Value> {
    let at = Instant::now();
    if method == "auth.test" {
        return axum::Json(json!({
            "ok": true, "url": "https://bench.slack.com/", "team": "Bench", "user": "tandem",
            "team_id": "T0BENCH", "user_id": "U0TANDEM", "bot_id": "B0TANDEM",
        }));
    }
    let n = {
        let mut l = ledger.lock().expect("ledger lock");
        l.slack(at, &String::from_utf8_lossy(&body));
        l.slack_calls
    };
    let channel = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["channel"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "C0SUPPORT1".to_owned());
    axum::Json(json!({
        "ok": true, "channel": channel, "ts": format!("1700000000.{n:06}"),
        "message": {"type": "message", "text": "", "ts": format!("1700000000.{n:06}")},
    }))
}

async fn serve(router: Router) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(url)
}

// ---- one step --------------------------------------------------------------------------

struct Step {
    rate: u64,
    sent: usize,
    acked: usize,
    effected: usize,
    at_desk: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    desk_p99: Duration,
    rss_mib: f64,
    extra_graph: usize,
}

impl Step {
    fn lost(&self) -> usize {
        self.sent - self.effected
    }
    fn passes(&self, p99_ms: f64) -> bool {
        self.acked == self.sent && self.lost() == 0 && self.p99.as_secs_f64() * 1000.0 <= p99_ms
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

fn config(graph: &str, slack: &str, store: &str) -> String {
    format!(
        r#"
[channels.whatsapp]
app_secret = "{APP_SECRET}"
verify_token = "bench-verify"
access_token = "{ACCESS_TOKEN}"
phone_number_id = "{NUMBER}"
api_base = "{graph}"
api_version = "v21.0"
# Pacing off: the fake Graph API has no rate limit.
pacing = {{ per_second = 1000000, burst = 1000000, per_recipient_interval_ms = 0, per_recipient_burst = 1000000 }}

[desks.slack]
bot_token = "{SLACK_TOKEN}"
signing_secret = "bench-signing-secret"
channel_id = "C0SUPPORT1"
api_base = "{slack}"

{store}
"#
    )
}

struct Sender {
    client: reqwest::Client,
    url: String,
    run: u128,
}

impl Sender {
    /// Posts message `i` (customer `c`, their `n`th); true on HTTP 200.
    async fn post(&self, i: usize, c: usize, n: usize) -> bool {
        let phone = preload::phone(c);
        let body = tandem_testkit::payloads::whatsapp_text(
            NUMBER,
            &phone,
            &format!("Customer {c}"),
            &text_for(c, n, i),
            &format!("wamid.bench.{}.{i}", self.run),
            unix_now(),
        );
        let sig = hmac_hex(APP_SECRET.as_bytes(), &[body.as_bytes()]);
        self.client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", format!("sha256={sig}"))
            .body(body)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

async fn step(
    args: &Args,
    bin: &Path,
    data: &Path,
    store_toml: &str,
    rate: u64,
) -> anyhow::Result<Step> {
    let ledger: Shared = Arc::default();
    let graph = serve(
        Router::new()
            .route("/v21.0/{number}/messages", post(graph_messages))
            .with_state(ledger.clone()),
    )
    .await?;
    let slack = serve(
        Router::new()
            .route("/api/{method}", post(slack_api))
            .with_state(ledger.clone()),
    )
    .await?;
    std::fs::write(data.join("tandem.toml"), config(&graph, &slack, store_toml))?;
    let config_path = data.join("tandem.toml");
    let serve_args = [
        "serve",
        "--config",
        config_path.to_str().unwrap_or_default(),
    ];
    let env = [("TANDEM_LOG", "info")];
    let tandem = if args.pin {
        let taskset = PathBuf::from("taskset");
        let bin = bin.to_string_lossy().into_owned();
        Tandem::spawn_program(&taskset, &["-c", "0", &bin], data, &serve_args, &env).await
    } else {
        Tandem::spawn_program(bin, &[], data, &serve_args, &env).await
    };

    let sender = Arc::new(Sender {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .timeout(Duration::from_secs(30))
            .build()?,
        url: tandem.url("/webhooks/whatsapp"),
        run: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    });

    let customers = args.customers;
    let total = (rate * args.secs) as usize;
    {
        let mut l = ledger.lock().expect("ledger lock");
        l.due = vec![None; customers + total];
        l.effect = vec![None; customers + total];
    }

    // Warm-up: one message per customer, 500 per second, unmeasured; then let it settle.
    let mut warm = Vec::new();
    for c in 0..customers {
        let sender = sender.clone();
        warm.push(tokio::spawn(async move { sender.post(c, c, 0).await }));
        if c % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for w in warm {
        w.await?;
    }
    // Settled: no new send at the fakes for a second (at most two minutes).
    let settle_until = Instant::now() + Duration::from_secs(120);
    let mut last = usize::MAX;
    while Instant::now() < settle_until {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let seen = {
            let l = ledger.lock().expect("ledger lock");
            l.graph_calls + l.slack_calls
        };
        if seen == last && seen > 0 {
            break;
        }
        last = seen;
    }

    // The measured run, open loop.
    let start = Instant::now() + Duration::from_millis(50);
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tasks = Vec::with_capacity(total);
    for k in 0..total {
        let i = customers + k;
        let c = k % customers;
        let due = start + interval.mul_f64(k as f64);
        tokio::time::sleep_until(due.into()).await;
        {
            let mut l = ledger.lock().expect("ledger lock");
            l.due[i] = Some(due);
            l.waiting.entry(preload::phone(c)).or_default().push_back(i);
        }
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            sender.post(i, c, 1 + k / customers).await
        }));
    }
    let mut acked = 0;
    for t in tasks {
        if t.await? {
            acked += 1;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(args.drain_secs);
    while Instant::now() < deadline {
        let done = {
            let l = ledger.lock().expect("ledger lock");
            l.effect[customers..].iter().all(Option::is_some)
        };
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rss = rss_mib(tandem.pid());
    let status = tandem.terminate().await;
    anyhow::ensure!(status.success(), "tandem exited with {status}");

    let l = ledger.lock().expect("ledger lock");
    let mut all = Vec::new();
    let mut desk = Vec::new();
    for i in customers..customers + total {
        if let (Some(due), Some((at, at_desk))) = (l.due[i], l.effect[i]) {
            let d = at.saturating_duration_since(due);
            all.push(d);
            if at_desk {
                desk.push(d);
            }
        }
    }
    all.sort();
    desk.sort();
    Ok(Step {
        rate,
        sent: total,
        acked,
        effected: all.len(),
        at_desk: desk.len(),
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        max: all.last().copied().unwrap_or_default(),
        desk_p99: percentile(&desk, 0.99),
        rss_mib: rss,
        extra_graph: l.extra_graph,
    })
}

// ---- the sweep -------------------------------------------------------------------------

/// Builds the preloaded store once per size; returns the `[store]` table and how to get a
/// fresh copy for a step.
async fn prepare(args: &Args, base: &Path, messages: usize) -> anyhow::Result<String> {
    match args.store.as_str() {
        "sqlite" => {
            let db = base.join("tandem.db");
            if messages > 0 {
                let store = tandem_store_sqlite::SqliteStore::open(&db)?;
                let store: Arc<dyn tandem_core::store::Store> = Arc::new(store);
                preload::preload(store.clone(), stored_customers(args, messages), messages).await?;
                drop(store);
                // The store closes on drop (its writer thread checkpoints the WAL).
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Ok(String::new())
        }
        "mongodb" => {
            anyhow::ensure!(
                !args.mongodb_uri.is_empty(),
                "--store mongodb needs --mongodb-uri or TANDEM_TEST_MONGODB_URI"
            );
            let database = format!("tandem_bench_{messages}_{}", unix_now());
            if messages > 0 {
                let store =
                    tandem_store_mongo::MongoStore::connect(&args.mongodb_uri, &database).await?;
                let store: Arc<dyn tandem_core::store::Store> = Arc::new(store);
                preload::preload(store, stored_customers(args, messages), messages).await?;
            }
            Ok(format!(
                "[store]\nkind = \"mongodb\"\nuri = \"{}\"\ndatabase = \"{database}\"\n",
                args.mongodb_uri
            ))
        }
        other => anyhow::bail!("--store: sqlite or mongodb, not {other}"),
    }
}

/// Customers holding a preload of `messages`: ten messages each, at most
/// `--stored-customers`, at least the run's senders (so they all have history).
fn stored_customers(args: &Args, messages: usize) -> usize {
    (messages / 10)
        .min(args.stored_customers)
        .max(args.customers)
}

fn fresh_copy(base: &Path, into: &Path) -> anyhow::Result<()> {
    for name in ["tandem.db", "tandem.db-wal"] {
        let from = base.join(name);
        if from.exists() {
            std::fs::copy(&from, into.join(name))?;
        }
    }
    Ok(())
}

fn pin_self() {
    let pid = std::process::id().to_string();
    let ok = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", "1", &pid])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("tandem-bench: could not pin the generator to CPU 1 (taskset)");
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    // `TANDEM_BIN`, else the release build next to this binary.
    let bin = std::env::var_os("TANDEM_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.join("tandem")).filter(|p| p.exists())
        })
        .unwrap_or_else(tandem_e2e::binary);
    if args.pin {
        pin_self();
    }
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let work = tempfile::tempdir()?;
    let mut rows = Vec::new();
    let mut best = Vec::new();
    for &messages in &args.preloads {
        let base = work.path().join(format!("preload-{messages}"));
        std::fs::create_dir_all(&base)?;
        eprintln!(
            "tandem-bench: preloading {messages} messages ({})",
            args.store
        );
        let store_toml = prepare(&args, &base, messages).await?;
        let mut highest = None;
        for &rate in &args.rates {
            let data = work.path().join(format!("run-{messages}-{rate}"));
            std::fs::create_dir_all(&data)?;
            fresh_copy(&base, &data)?;
            eprintln!(
                "tandem-bench: {messages} stored, {rate} msg/s for {} s",
                args.secs
            );
            let s = step(&args, &bin, &data, &store_toml, rate).await?;
            let pass = s.passes(args.p99_ms);
            let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
            let row = format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {} |",
                messages,
                s.rate,
                s.sent,
                s.acked,
                s.lost(),
                s.at_desk,
                ms(s.p50),
                ms(s.p99),
                ms(s.max),
                ms(s.desk_p99),
                s.extra_graph,
                s.rss_mib,
                if pass { "pass" } else { "fail" },
            );
            eprintln!("{row}");
            rows.push(row);
            let _ = std::fs::remove_dir_all(&data);
            if !pass {
                break;
            }
            highest = Some(rate);
        }
        best.push((messages, highest));
    }
    println!(
        "| stored messages | rate msg/s | sent | acked | lost | to desk | p50 ms | p99 ms | max ms | desk p99 ms | other sends | RSS MiB | p99 ≤ {} ms, none lost |",
        args.p99_ms
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!("{r}");
    }
    println!();
    println!("| stored messages | highest passing rate msg/s |");
    println!("|---|---|");
    for (messages, highest) in best {
        println!(
            "| {messages} | {} |",
            highest.map_or_else(|| "none".to_owned(), |r| r.to_string())
        );
    }
    Ok(())
}
