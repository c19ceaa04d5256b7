//! `tandem serve`: open the store, build the core and the adapters, serve HTTP, supervise
//! workers, and shut down gracefully.
//!
//! Shutdown order (SIGTERM or SIGINT): stop accepting connections and close web chat
//! sockets; wait for in-flight HTTP requests (so every acknowledged message is recorded);
//! then stop the core, which finishes queued processing and in-flight sends; then flush
//! the store; exit 0.

use crate::config::LoadedConfig;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tandem_core::clock::SystemClock;
use tandem_core::metrics::Metrics;
use tandem_core::outbox::OutboxConfig;
use tandem_core::store::DynStore;
use tandem_core::{Core, CoreConfig, CoreDeps};
use tandem_model::ChannelId;
use tandem_sdk::{ChannelContext, DeskContext, DeskEventSink, InboundSink, WorkerFn};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

/// Installs the log subscriber: `TANDEM_LOG` (or `RUST_LOG`) filter, default `info`;
/// `TANDEM_LOG_FORMAT=json` for JSON lines. Logs go to stderr.
pub fn init_tracing() {
    let filter = std::env::var("TANDEM_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if std::env::var("TANDEM_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // Already installed (tests): keep the existing one.
    drop(result);
}

/// Runs the gateway until SIGTERM/SIGINT.
pub async fn serve(loaded: LoadedConfig) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            info!("Shutdown requested; draining.");
            shutdown.cancel();
        });
    }
    run(loaded, shutdown).await
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Handoff SLAs from `[handoff]`, over the defaults.
fn sla_config(section: &crate::config::HandoffSection) -> tandem_core::sla::SlaConfig {
    let mut sla = tandem_core::sla::SlaConfig::default();
    for (priority, secs) in &section.sla_secs {
        sla.by_priority
            .insert(priority.clone(), Duration::from_secs(*secs));
    }
    sla.on_breach = match section.on_sla_breach.as_deref() {
        Some("return_to_bot") => tandem_core::sla::SlaBreach::ReturnToBot,
        Some("reroute") => tandem_core::sla::SlaBreach::Reroute,
        _ => tandem_core::sla::SlaBreach::Alert,
    };
    sla.overflow = section.overflow.clone();
    sla
}

/// This process's name among replicas sharing a store: `TANDEM_REPLICA_ID`, else the
/// host name (`HOSTNAME`, `/etc/hostname`), else `tandem`.
fn replica_id() -> String {
    let from_env = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    from_env("TANDEM_REPLICA_ID")
        .or_else(|| from_env("HOSTNAME"))
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "tandem".to_owned())
}

/// Puts in force the policy other processes on the store record, until shutdown.
fn spawn_policy_follow(
    reloader: std::sync::Arc<crate::reload::PolicyReloader>,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(crate::reload::FOLLOW_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => { reloader.follow().await; }
                () = shutdown.cancelled() => return,
            }
        }
    });
}

/// Reloads the policy on SIGHUP until shutdown.
fn spawn_sighup_reload(
    reloader: std::sync::Arc<crate::reload::PolicyReloader>,
    shutdown: CancellationToken,
) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            warn!("SIGHUP cannot be watched; reload through the admin API.");
            return;
        };
        loop {
            tokio::select! {
                _ = hup.recv() => { let _ = reloader.reload("signal:SIGHUP").await; }
                () = shutdown.cancelled() => return,
            }
        }
    });
    #[cfg(not(unix))]
    drop((reloader, shutdown));
}

/// The escalation policy: the file `[policy].path`, else the built-in default
/// (`config/policy.toml` as shipped).
/// Who may open `/console/metrics`: the agent tokens of every console desk and the admin
/// tokens (see `dashboard::DashboardAccess`).
/// Who may open the metrics page: console and admin tokens, and agents signed in to a
/// console desk.
fn dashboard_access(
    core: &Core,
    loaded: &crate::config::LoadedConfig,
    admin: &[tandem_sdk::Secret],
) -> crate::dashboard::DashboardAccess {
    let access = crate::dashboard::DashboardAccess::new(
        dashboard_tokens(&loaded.desks, admin),
        loaded.public_url.scheme() == "https",
    );
    #[cfg(feature = "console-desk")]
    let access = access.with_console_sessions(
        loaded
            .desks
            .iter()
            .filter(|d| d.kind == "console")
            .map(|d| DeskEventSink::new(d.id.clone(), Arc::new(core.clone())))
            .collect(),
    );
    #[cfg(not(feature = "console-desk"))]
    let _ = core;
    access
}

fn dashboard_tokens(
    desks: &[crate::config::Instance],
    admin: &[tandem_sdk::Secret],
) -> Vec<tandem_sdk::Secret> {
    desks
        .iter()
        .filter(|d| d.kind == "console")
        .filter_map(|d| d.table.get("tokens")?.as_array().cloned())
        .flatten()
        .filter_map(|t| t.as_str().map(tandem_sdk::Secret::new))
        .chain(admin.iter().cloned())
        .collect()
}

fn load_policy(path: Option<&str>) -> anyhow::Result<tandem_policy::PolicyEngine> {
    let engine = match path {
        None => tandem_policy::PolicyEngine::builtin(),
        Some(path) => tandem_policy::load(std::path::Path::new(path)).map_err(|errors| {
            let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("policy {path} has problems:\n  {}", list.join("\n  "))
        })?,
    };
    info!(
        source = path.unwrap_or("built-in"),
        version = engine.version(),
        "Escalation policy loaded."
    );
    Ok(engine)
}

/// Runs the gateway until `shutdown` is cancelled.
pub async fn run(loaded: LoadedConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let config = &loaded.config;
    info!(source = %loaded.source, "Configuration loaded.");
    let open_files = crate::listen::raise_open_files_limit();
    info!(open_files = open_files.unwrap_or(0), "Open-files limit.");

    let store: DynStore = match config.store.kind.as_str() {
        "mongodb" => {
            let uri = config
                .store
                .uri
                .as_ref()
                .context("store.uri is required for mongodb")?;
            let database = config
                .store
                .database
                .as_deref()
                .context("store.database is required for mongodb")?;
            let store = tandem_store_mongo::MongoStore::connect_with_options(
                uri.expose(),
                database,
                config.store.mongo_options(),
            )
            .await
            .with_context(|| {
                format!("cannot connect to the MongoDB store (database {database})")
            })?;
            info!(
                database,
                transactions = store.uses_transactions(),
                "MongoDB store connected."
            );
            Arc::new(store)
        }
        _ => {
            let path = config.store.sqlite_path();
            let store = tandem_store_sqlite::SqliteStore::open(&path)
                .with_context(|| format!("cannot open the store at {}", path.display()))?;
            info!(path = %path.display(), "Embedded store opened.");
            Arc::new(store)
        }
    };

    let kb = match &config.bot.knowledge {
        None => tandem_ai::KnowledgeBase::builtin(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read bot.knowledge {path}"))?;
            tandem_ai::KnowledgeBase::from_toml_str(&text).map_err(|errors| {
                let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
                anyhow::anyhow!(
                    "bot.knowledge {path} has problems:\n  {}",
                    list.join("\n  ")
                )
            })?
        }
    };

    // On a shared store (MongoDB) several replicas may run: every series names its
    // replica. One process holds an embedded store: only `tandem_replica_info` does.
    let replica = replica_id();
    let metrics = Arc::new(if config.store.kind == "mongodb" {
        Metrics::for_replica(&replica)
    } else {
        let metrics = Metrics::new();
        metrics.set_replica(&replica);
        metrics
    });
    match store.escalation_counts().await {
        Ok(counts) => {
            for (reason, n) in counts {
                metrics.escalation_add(&reason, n);
            }
        }
        Err(e) => warn!(error = %e, "Could not restore escalation counts."),
    }
    // The denominator too, so that escalations / decisions means the same after a restart.
    match store.decision_counts().await {
        Ok((escalated, not)) => {
            metrics.decisions_add(true, escalated);
            metrics.decisions_add(false, not);
        }
        Err(e) => warn!(error = %e, "Could not restore policy decision counts."),
    }
    let defaults = OutboxConfig::default();
    let outbox = OutboxConfig {
        lease: config
            .outbox
            .lease_secs
            .map_or(defaults.lease, Duration::from_secs),
        retry_base: config
            .outbox
            .retry_base_ms
            .map_or(defaults.retry_base, Duration::from_millis),
        retry_max: config
            .outbox
            .retry_max_ms
            .map_or(defaults.retry_max, Duration::from_millis),
        max_attempts: config.outbox.max_attempts.unwrap_or(defaults.max_attempts),
        ..defaults
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("tandem/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the HTTP client")?;
    let (sentiment, summarizer) = ai_providers(&config.ai, &http);
    let intents = tandem_ai::BuiltinIntents::new();
    intents.warm_up();
    let media_links = crate::media::links(&config.media, &store, &loaded.public_url).await?;
    let media_files: Arc<dyn tandem_sdk::media::MediaFiles> =
        Arc::new(crate::media::FileStore::new(config.media.dir()));
    let core = Core::new(
        CoreDeps {
            store: store.clone(),
            bot: bots(&config.bot, &loaded.channels, kb, &http),
            sentiment,
            intents: Some(Arc::new(intents)),
            policy: Arc::new(load_policy(config.policy.path.as_deref())?),
            summarizer,
            clock: Arc::new(SystemClock),
            metrics,
        },
        CoreConfig {
            outbox,
            sla: sla_config(&config.handoff),
            supervisors: config.handoff.supervisors.clone(),
            link_code_ttl: config
                .admin
                .link_code_ttl_secs
                .map_or(tandem_core::linking::CODE_TTL, |secs| {
                    time::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX))
                }),
            external_release_after: config.handoff.external_release_after_secs.map_or(
                tandem_core::router::DEFAULT_EXTERNAL_RELEASE_AFTER,
                |secs| time::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX)),
            ),
            sender_rate_limit: Some(
                config
                    .server
                    .sender_rate_limit
                    .unwrap_or(tandem_core::DEFAULT_SENDER_RATE_LIMIT),
            ),
            drafts: config.drafts.core_config(),
            store_prompts: config.ai.store_prompts,
            media_links: Some(media_links.clone()),
            ..CoreConfig::default()
        },
    );

    core.set_media_files(media_files.clone());

    // Before channels and desks are built: they ask then whether other processes share
    // live updates with this one (web chat replies, console changes; see
    // `tandem_core::shared`).
    if core
        .follow_shared_updates(shutdown.child_token())
        .await
        .context("cannot follow the store's notifications")?
    {
        info!("Following live updates from other replicas through the store.");
    }

    let registry = loaded.registry.clone();
    let http_shutdown = shutdown.child_token();
    let workers = TaskTracker::new();
    let mut routes = Vec::new();
    for instance in &loaded.channels {
        let id = ChannelId::new(instance.id.clone());
        let cx = ChannelContext {
            id: id.clone(),
            public_base_url: loaded.public_url.clone(),
            inbound: InboundSink::new(id.clone(), Arc::new(core.clone())),
            http: http.clone(),
            shutdown: http_shutdown.clone(),
        };
        let build = registry
            .build_channel(&instance.kind, instance.table.clone(), cx)
            .with_context(|| format!("unknown channel kind {}", instance.kind))?;
        let built = build
            .await
            .with_context(|| format!("cannot start channel {}", instance.id))?;
        core.register_channel(id.clone(), built.adapter);
        if let Some(r) = built.routes {
            routes.push(r);
        }
        if let Some(worker) = built.worker {
            workers.spawn(supervise(
                instance.id.clone(),
                worker,
                http_shutdown.clone(),
            ));
        }
        info!(channel.id = %instance.id, channel.kind = %instance.kind, "Channel started.");
    }

    for instance in &loaded.desks {
        let cx = DeskContext {
            id: instance.id.clone(),
            public_base_url: loaded.public_url.clone(),
            events: DeskEventSink::new(instance.id.clone(), Arc::new(core.clone())),
            http: http.clone(),
            shutdown: http_shutdown.clone(),
        };
        let build = registry
            .build_desk(&instance.kind, instance.table.clone(), cx)
            .with_context(|| format!("unknown desk kind {}", instance.kind))?;
        let built = build
            .await
            .with_context(|| format!("cannot start desk {}", instance.id))?;
        core.register_desk(&instance.id, built.desk, instance.queues.clone());
        if let Some(r) = built.routes {
            routes.push(r);
        }
        if let Some(worker) = built.worker {
            workers.spawn(supervise(
                instance.id.clone(),
                worker,
                http_shutdown.clone(),
            ));
        }
        info!(desk.id = %instance.id, desk.kind = %instance.kind, "Desk started.");
    }

    crate::accounts::apply_config(&core, &config.agents).await?;

    let reloader = crate::reload::PolicyReloader::new(core.clone(), config.policy.path.clone());
    spawn_sighup_reload(reloader.clone(), http_shutdown.clone());
    reloader.announce().await;
    spawn_policy_follow(reloader.clone(), http_shutdown.clone());
    routes.push(crate::media::routes(
        core.clone(),
        media_links.clone(),
        media_files,
        config.media.max_bytes(),
    ));
    routes.push(crate::dashboard::routes(
        core.clone(),
        dashboard_access(&core, &loaded, &config.admin.tokens),
    ));
    routes.push(crate::admin::routes(
        core.clone(),
        config.admin.tokens.clone(),
        reloader,
        config.admin.link_urls.clone(),
        config
            .server
            .public_url
            .is_some()
            .then(|| loaded.public_url.clone()),
    ));
    let app = crate::app::app(
        core.clone(),
        routes,
        crate::app::BodyLimits {
            default: config.server.max_body_bytes.unwrap_or(1024 * 1024),
            uploads: config.media.max_bytes(),
        },
    );
    let listener = tokio::net::TcpListener::bind(loaded.listen)
        .await
        .with_context(|| format!("cannot listen on {}", loaded.listen))?;
    let addr = listener.local_addr().context("listener has no address")?;
    if config.server.public_url.is_none()
        && let Ok(bound) = url::Url::parse(&format!("http://{addr}"))
    {
        // Media links name the address actually bound (port 0 picks one).
        media_links.set_base(bound);
    }
    // Printed on stdout, one per line, for people and for scripts that start Tandem.
    println!("Tandem listening on http://{addr}");
    if loaded.channels.iter().any(|c| c.kind == "webchat") {
        println!("  demo page:   http://{addr}/");
        println!("  web chat:    ws://{addr}/webchat/ws");
    }
    for desk in loaded.desks.iter().filter(|d| d.kind == "console") {
        // The token is printed only for the built-in demo, where it was generated for this run.
        let token = (loaded.source == crate::config::DEMO_SOURCE)
            .then(|| desk.table.get("tokens")?.get(0)?.as_str())
            .flatten();
        if let Some(t) = token
            && let Err(e) = crate::config::keep_demo_token(t)
        {
            warn!(error = %e, "Could not keep the demo console token; it changes at the next start.");
        }
        match token {
            // The shared token stays for programs and old bookmarks (see the console's README).
            Some(t) => println!("  agent console: http://{addr}/console (token {t})"),
            None => println!("  agent console: http://{addr}/console"),
        }
        if loaded.source == crate::config::DEMO_SOURCE {
            // The demo's agent signs in with a one-time link, printed (never logged).
            match crate::accounts::demo_sign_in_link(&core).await {
                Ok(link) => {
                    println!(
                        "  agent sign-in (one-time link): http://{addr}/console/login#link={link}"
                    );
                }
                Err(e) => warn!(error = %e, "Could not make the demo agent's sign-in link."),
            }
        }
    }
    println!("  metrics:     http://{addr}/metrics");
    println!("  health:      http://{addr}/healthz");

    let core_stop = CancellationToken::new();
    let core_task = {
        let core = core.clone();
        let stop = core_stop.clone();
        tokio::spawn(async move { core.run(stop).await })
    };

    let limits = crate::listen::Limits {
        header_read_timeout: Duration::from_secs(
            config.server.header_read_timeout_secs.unwrap_or(10),
        ),
        body_timeout: Duration::from_secs(config.server.body_timeout_secs.unwrap_or(30)),
        max_connections: crate::listen::connection_cap(config.server.max_connections, open_files),
    };
    crate::listen::serve(
        listener,
        app,
        limits,
        core.metrics().clone(),
        http_shutdown.clone(),
        Duration::from_secs(30),
    )
    .await;
    // HTTP is drained: no more inbound messages can arrive. Stop workers, then the core.
    http_shutdown.cancel();
    workers.close();
    if tokio::time::timeout(Duration::from_secs(10), workers.wait())
        .await
        .is_err()
    {
        warn!("Channel workers did not stop within 10 s.");
    }
    core_stop.cancel();
    if tokio::time::timeout(Duration::from_secs(30), core_task)
        .await
        .is_err()
    {
        warn!("Core did not drain within 30 s; unsent messages stay in the outbox.");
    }
    store.flush().await.context("flushing the store")?;
    info!("Stopped.");
    // A profiling aid (`TANDEM_SQLITE_STATS=1`): the busiest SQLite statements on stderr.
    if tandem_store_sqlite::stats::enabled() {
        eprintln!(
            "SQLite statements by time spent:\n{}",
            tandem_store_sqlite::stats::report(40)
        );
    }
    Ok(())
}

/// The bot of `[bot]` and the channels' `bot` keys: the knowledge-base bot, or an LLM or
/// Rasa bot with the knowledge-base bot standing in when its backend fails. `load` checked
/// that every kind used has its section.
fn bots(
    section: &crate::config::BotConfig,
    channels: &[crate::config::Instance],
    kb: tandem_ai::KnowledgeBase,
    http: &reqwest::Client,
) -> Arc<dyn tandem_core::ai::Bot> {
    let builtin = Arc::new(tandem_ai::KnowledgeBot::new(kb));
    let build = |kind: &str| -> Arc<dyn tandem_core::ai::Bot> {
        match (kind, &section.llm, &section.rasa) {
            ("llm", Some(llm), _) => {
                let client = tandem_ai::OpenAiClient::new(
                    tandem_ai::OpenAiConfig {
                        base_url: llm.base_url.clone().unwrap_or_default(),
                        api_key: llm
                            .api_key
                            .as_ref()
                            .map(|k| k.expose().to_owned())
                            .filter(|k| !k.is_empty()),
                        model: llm.model.clone().unwrap_or_default(),
                        timeout: Duration::from_millis(llm.timeout_ms.unwrap_or(5000)),
                    },
                    http.clone(),
                );
                Arc::new(tandem_ai::LlmBot::new(
                    client,
                    builtin.clone(),
                    llm.entries.unwrap_or(tandem_ai::DEFAULT_ENTRIES),
                ))
            }
            ("rasa", _, Some(rasa)) => Arc::new(tandem_ai::RasaBot::new(
                tandem_ai::RasaConfig {
                    url: rasa.url.clone().unwrap_or_default(),
                    timeout: Duration::from_millis(rasa.timeout_ms.unwrap_or(5000)),
                },
                http.clone(),
                builtin.clone(),
            )),
            ("http", _, _) => match &section.http {
                Some(h) => Arc::new(tandem_ai::HttpBot::new(
                    tandem_ai::HttpBotConfig {
                        url: h.url.clone().unwrap_or_default(),
                        secret: h
                            .secret
                            .as_ref()
                            .map(|s| s.expose().to_owned())
                            .unwrap_or_default(),
                        timeout: Duration::from_millis(h.timeout_ms.unwrap_or(5000)),
                    },
                    http.clone(),
                    builtin.clone(),
                )),
                None => builtin.clone(),
            },
            _ => builtin.clone(),
        }
    };
    let default_kind = section.kind();
    info!(bot = default_kind, "Bot ready.");
    let per_channel: Vec<(&str, &str)> = channels
        .iter()
        .filter_map(|c| c.bot.as_deref().map(|kind| (c.id.as_str(), kind)))
        .filter(|&(_, kind)| kind != default_kind)
        .collect();
    if per_channel.is_empty() {
        return build(default_kind);
    }
    let mut routed = tandem_ai::ChannelBots::new(build(default_kind));
    for (channel, kind) in per_channel {
        info!(channel.id = channel, bot = kind, "Channel bot ready.");
        routed = routed.with(channel, build(kind));
    }
    Arc::new(routed)
}

/// The sentiment analyzer and summarizer of `[ai]`: built-in, or an OpenAI-compatible
/// endpoint with the built-in ones as fallback.
fn ai_providers(
    ai: &crate::config::AiConfig,
    http: &reqwest::Client,
) -> (
    Arc<dyn tandem_core::ai::SentimentAnalyzer>,
    Arc<dyn tandem_core::ai::Summarizer>,
) {
    match (
        ai.provider.as_str(),
        ai.base_url.as_deref(),
        ai.model.as_deref(),
    ) {
        ("openai", Some(base_url), Some(model)) => {
            let client = tandem_ai::OpenAiClient::new(
                tandem_ai::OpenAiConfig {
                    base_url: base_url.to_owned(),
                    api_key: ai
                        .api_key
                        .as_ref()
                        .map(|k| k.expose().to_owned())
                        .filter(|k| !k.is_empty()),
                    model: model.to_owned(),
                    timeout: Duration::from_millis(ai.timeout_ms.unwrap_or(3000)),
                },
                http.clone(),
            );
            info!(
                model,
                "AI provider: OpenAI-compatible endpoint, built-in fallback."
            );
            let sentiment: Arc<dyn tandem_core::ai::SentimentAnalyzer> =
                if ai.sentiment.as_deref() == Some("provider") {
                    Arc::new(tandem_ai::OpenAiSentiment::new(
                        client.clone(),
                        tandem_ai::Vader::new(),
                    ))
                } else {
                    Arc::new(tandem_ai::Vader::new())
                };
            (
                sentiment,
                Arc::new(tandem_ai::OpenAiSummarizer::new(client)),
            )
        }
        _ => (
            Arc::new(tandem_ai::Vader::new()),
            Arc::new(tandem_ai::BuiltinSummarizer),
        ),
    }
}

/// Runs a channel worker until shutdown, starting it again with exponential backoff
/// (1 s doubling to 60 s) whenever a run fails.
async fn supervise(id: String, worker: WorkerFn, shutdown: CancellationToken) {
    let mut delay = Duration::from_secs(1);
    loop {
        let run = worker();
        tokio::select! {
            result = run => match result {
                Ok(()) => {
                    info!(channel.id = %id, "Channel worker stopped.");
                    return;
                }
                Err(e) => error!(channel.id = %id, error = %e, delay_s = delay.as_secs(), "Channel worker failed; restarting."),
            },
            () = shutdown.cancelled() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.cancelled() => return,
        }
        delay = (delay * 2).min(Duration::from_secs(60));
    }
}
