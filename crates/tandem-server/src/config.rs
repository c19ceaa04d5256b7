//! Configuration: find the file, parse TOML, expand `${VAR}`, check every section and
//! every adapter table, and report **all** problems with their dotted paths.
//!
//! Two phases, like every adapter: [`load`] is pure apart from reading the file, the
//! policy file it names and the environment (it is what `tandem check` runs); building
//! things happens in `serve`.

use crate::registry::Registry;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tandem_sdk::{ConfigErrors, Secret};

/// The built-in demo configuration used when no config file exists.
pub const DEMO_CONFIG: &str = r#"
# Built-in demo: embedded store under ./tandem-data/, web chat on, built-in bot.
[server]
listen = "127.0.0.1:8080"

[store]
kind = "sqlite"
path = "tandem-data/tandem.db"

[channels.webchat]
"#;

/// What the demo adds when this binary has the agent console: its agent token comes
/// from `TANDEM_CONSOLE_TOKEN`, else it is generated at start-up (and printed with the
/// console's URL).
pub const DEMO_CONSOLE: &str = r#"
[desks.console]
tokens = ["${TANDEM_CONSOLE_TOKEN}"]
"#;

/// [`LoadedConfig::source`] of the built-in demo config.
pub const DEMO_SOURCE: &str = "built-in demo config";

/// The built-in demo config for the adapters of `registry`: [`DEMO_CONFIG`], plus
/// [`DEMO_CONSOLE`] when the console desk is compiled in.
pub fn demo_config(registry: &Registry) -> String {
    let mut text = DEMO_CONFIG.to_owned();
    if registry.desk_kinds().contains(&"console") {
        text.push_str(DEMO_CONSOLE);
    }
    text
}

/// A fresh random agent token for the demo console (32 hex characters).
pub fn generate_console_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[store]`.
    pub store: StoreConfig,
    /// `[channels.<id>]` tables, checked by the registry.
    pub channels: BTreeMap<String, toml::Value>,
    /// `[desks.<id>]` tables, checked by the registry.
    pub desks: BTreeMap<String, toml::Value>,
    /// `[ai]`.
    pub ai: AiConfig,
    /// `[bot]`.
    pub bot: BotConfig,
    /// `[policy]`.
    pub policy: PolicyConfig,
    /// `[admin]`.
    pub admin: AdminConfig,
    /// `[outbox]`.
    pub outbox: OutboxSection,
    /// `[handoff]`.
    pub handoff: HandoffSection,
    /// `[drafts]`: draft-only mode.
    pub drafts: DraftsSection,
    /// `[media]`.
    pub media: MediaSection,
    /// `[[agents]]`: agent accounts (routing profile and console sign-in).
    pub agents: Vec<AgentEntry>,
}

/// Shortest password `tandem agent hash-password` and the admin API accept.
pub const MIN_PASSWORD_LEN: usize = 8;

/// One `[[agents]]` entry: an agent account. Written to the store at start-up (routing's
/// profile and the sign-in credentials); the admin API manages the same accounts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentEntry {
    /// The agent's id (as desks name them).
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Email: a sign-in name besides the id.
    pub email: Option<String>,
    /// Queues the agent serves.
    pub skills: Vec<String>,
    /// Most handoffs held at once (default 5).
    pub capacity: Option<u32>,
    /// `available` (default) or `away`.
    pub status: Option<String>,
    /// argon2 PHC hash of the console password (`tandem agent hash-password`). Absent:
    /// the password set through the admin API, if any, stays.
    pub password_hash: Option<String>,
    /// A disabled account can't sign in.
    pub disabled: bool,
}

/// `[server]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Address to listen on (default `127.0.0.1:8080`; `TANDEM_LISTEN` overrides).
    pub listen: Option<String>,
    /// Public base URL for webhook registration and links (default from `listen`).
    pub public_url: Option<String>,
    /// Largest webhook body accepted, in bytes (default 1 MiB).
    pub max_body_bytes: Option<usize>,
    /// Seconds a client has to send a request's headers, counted from when the
    /// connection is ready for its next request: also how long an idle kept-alive
    /// connection stays open (default 10).
    pub header_read_timeout_secs: Option<u64>,
    /// Longest pause in seconds while a request body is read (default 30).
    pub body_timeout_secs: Option<u64>,
    /// Open connections at most, WebSockets included (default: the open-files limit,
    /// raised to the hard limit at start-up, minus a tenth kept for the store and
    /// outbound calls). Connections over the cap are closed at once.
    pub max_connections: Option<usize>,
    /// Customer messages per sender and channel (a platform user id) before the webhook
    /// is answered "not recorded, deliver again later" (default `{ per_second = 20,
    /// burst = 100 }`).
    pub sender_rate_limit: Option<tandem_sdk::limit::RateLimit>,
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct StoreConfig {
    /// `sqlite` (default) or `mongodb`.
    pub kind: String,
    /// SQLite file (default `tandem-data/tandem.db`; `TANDEM_DATA_DIR` overrides the folder).
    pub path: Option<String>,
    /// MongoDB connection string.
    pub uri: Option<Secret>,
    /// MongoDB database name.
    pub database: Option<String>,
    /// MongoDB: days a processed inbound record (a message's dedupe key) is kept before
    /// its TTL index removes it (default 30, at least 8: platforms retry up to 7 days).
    pub inbound_retention_days: Option<u32>,
    /// MongoDB: seconds one store operation may take before it fails and is retried later
    /// (default 30, from 1 to 600): a server that stops answering cannot stall Tandem.
    pub operation_timeout_secs: Option<u64>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            kind: "sqlite".into(),
            path: None,
            uri: None,
            database: None,
            inbound_retention_days: None,
            operation_timeout_secs: None,
        }
    }
}

/// Where the demo keeps its console token: `console-token` in the data folder
/// (`TANDEM_DATA_DIR`, else `tandem-data`).
pub fn demo_token_path() -> PathBuf {
    let dir = std::env::var("TANDEM_DATA_DIR")
        .ok()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "tandem-data".into());
    Path::new(&dir).join("console-token")
}

/// The demo console token kept by an earlier run, if it is usable.
fn kept_demo_token() -> Option<String> {
    let text = std::fs::read_to_string(demo_token_path()).ok()?;
    let token = text.trim();
    (token.len() >= 16 && token.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| token.to_owned())
}

/// Keeps the demo's console token in the data folder (readable by the owner only) unless
/// one is kept already; the operator's `TANDEM_CONSOLE_TOKEN` is never written down.
pub fn keep_demo_token(token: &str) -> std::io::Result<()> {
    if std::env::var("TANDEM_CONSOLE_TOKEN").is_ok_and(|v| !v.is_empty())
        || kept_demo_token().as_deref() == Some(token)
    {
        return Ok(());
    }
    let path = demo_token_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, token.as_bytes())
}

/// Checks `[[agents]]`: ids present and unique, emails, capacities, statuses, hashes.
fn check_agents(agents: &[AgentEntry], errors: &mut ConfigErrors) {
    let mut seen = std::collections::HashSet::new();
    for (i, a) in agents.iter().enumerate() {
        let path = |key: &str| format!("agents[{i}].{key}");
        if a.id.trim().is_empty() || a.id.len() > 200 {
            errors.push(path("id"), "missing: 1 to 200 characters");
        } else if !seen.insert(a.id.as_str()) {
            errors.push(path("id"), format!("{:?} is listed twice", a.id));
        }
        if a.name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty() || n.len() > 200)
        {
            errors.push(path("name"), "must be 1 to 200 characters");
        }
        if a.email
            .as_deref()
            .is_some_and(|e| !e.contains('@') || e.len() > 254)
        {
            errors.push(path("email"), "not an email address");
        }
        if a.capacity.is_some_and(|c| c > 1000) {
            errors.push(path("capacity"), "must be 0 to 1000");
        }
        if a.status
            .as_deref()
            .is_some_and(|s| tandem_core::store::AgentStatus::parse(s).is_none())
        {
            errors.push(path("status"), "must be \"available\" or \"away\"");
        }
        if a.skills.iter().any(|s| s.trim().is_empty()) {
            errors.push(path("skills"), "queue names must not be empty");
        }
        if let Some(hash) = &a.password_hash
            && let Err(e) = tandem_core::accounts::check_password_hash(hash)
        {
            errors.push(
                path("password_hash"),
                format!("{e} (make one with `tandem agent hash-password`)"),
            );
        }
    }
}

/// The shortest `store.inbound_retention_days` accepted.
pub const MIN_INBOUND_RETENTION_DAYS: u32 = 8;

impl StoreConfig {
    /// The MongoDB store's options from this table.
    pub fn mongo_options(&self) -> tandem_store_mongo::StoreOptions {
        let mut options = tandem_store_mongo::StoreOptions::default();
        if let Some(days) = self.inbound_retention_days {
            options.inbound_retention = std::time::Duration::from_secs(u64::from(days) * 86_400);
        }
        if let Some(secs) = self.operation_timeout_secs {
            options.operation_timeout = std::time::Duration::from_secs(secs);
        }
        options
    }

    /// The SQLite file to use, after `TANDEM_DATA_DIR`.
    pub fn sqlite_path(&self) -> PathBuf {
        if let Ok(dir) = std::env::var("TANDEM_DATA_DIR")
            && !dir.is_empty()
        {
            return Path::new(&dir).join("tandem.db");
        }
        PathBuf::from(
            self.path
                .clone()
                .unwrap_or_else(|| "tandem-data/tandem.db".into()),
        )
    }

    /// A one-line description (no secrets).
    pub fn describe(&self) -> String {
        match self.kind.as_str() {
            "sqlite" => format!("sqlite at {}", self.sqlite_path().display()),
            "mongodb" => format!(
                "mongodb database {}",
                self.database.as_deref().unwrap_or("?")
            ),
            other => other.to_owned(),
        }
    }
}

/// `[ai]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AiConfig {
    /// `builtin` (default) or `openai`.
    pub provider: String,
    /// OpenAI-compatible base URL.
    pub base_url: Option<String>,
    /// API key.
    pub api_key: Option<Secret>,
    /// Model name.
    pub model: Option<String>,
    /// Request timeout in milliseconds (default 3000); the built-in provider answers when
    /// the endpoint is slower.
    pub timeout_ms: Option<u64>,
    /// Who scores sentiment: `builtin` (default, offline VADER) or `provider` (the
    /// endpoint, with VADER as fallback). Briefings use the provider whenever it is set.
    pub sentiment: Option<String>,
    /// Whether the AI audit records of a conversation keep the texts sent to AI backends
    /// and their answers (true, the default) or only their SHA-256 (false).
    pub store_prompts: bool,
}

impl Default for AiConfig {
    fn default() -> Self {
        Self {
            provider: "builtin".into(),
            base_url: None,
            api_key: None,
            model: None,
            timeout_ms: None,
            sentiment: None,
            store_prompts: true,
        }
    }
}

/// The bot kinds `[bot] kind` and `[channels.<id>] bot` name.
pub const BOT_KINDS: [&str; 4] = ["knowledge", "llm", "rasa", "http"];

/// `[bot]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BotConfig {
    /// Which bot answers: `knowledge` (default, the built-in knowledge-base bot), `llm`
    /// (`[bot.llm]`), `rasa` (`[bot.rasa]`) or `http` (`[bot.http]`). A channel may name another
    /// (`[channels.<id>] bot = ".."`).
    pub kind: Option<String>,
    /// Knowledge base file (default: the built-in sample `config/knowledge.toml`). The
    /// LLM bot is grounded on it, and it answers whenever another bot's backend fails.
    pub knowledge: Option<String>,
    /// `[bot.llm]`: an OpenAI-compatible Chat Completions endpoint.
    pub llm: Option<LlmBotSection>,
    /// `[bot.rasa]`: a Rasa server's REST channel.
    pub rasa: Option<RasaBotSection>,
    /// `[bot.http]`: Tandem's signed HTTP bot contract.
    pub http: Option<HttpBotSection>,
}

impl BotConfig {
    /// The default bot's kind.
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("knowledge")
    }
}

/// `[bot.llm]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LlmBotSection {
    /// Base URL up to `/v1`.
    pub base_url: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// Bearer token, when the endpoint needs one (use `${VAR}`).
    pub api_key: Option<Secret>,
    /// Longest wait for an answer, in milliseconds (default 5000); then the built-in bot
    /// answers.
    pub timeout_ms: Option<u64>,
    /// Knowledge-base entries put in the prompt (default 3, at most 10).
    pub entries: Option<usize>,
}

/// `[bot.http]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HttpBotSection {
    /// The endpoint questions are posted to.
    pub url: Option<String>,
    /// The HMAC-SHA256 key signing each request (use `${VAR}`).
    pub secret: Option<Secret>,
    /// Longest wait for an answer, in milliseconds (default 5000); then the built-in bot
    /// answers.
    pub timeout_ms: Option<u64>,
}

/// `[bot.rasa]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RasaBotSection {
    /// The Rasa server's base URL (`http://rasa:5005`); Tandem posts to
    /// `{url}/webhooks/rest/webhook`.
    pub url: Option<String>,
    /// Longest wait for an answer, in milliseconds (default 5000); then the built-in bot
    /// answers.
    pub timeout_ms: Option<u64>,
}

/// `[policy]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PolicyConfig {
    /// Policy file.
    pub path: Option<String>,
}

/// The longest `[admin].link_code_ttl_secs`: a day.
pub const MAX_LINK_CODE_TTL_SECS: u64 = 86_400;

/// `[admin]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AdminConfig {
    /// Bearer tokens accepted by the admin API.
    pub tokens: Vec<Secret>,
    /// Deep links offered with link codes, per channel, with `{code}` where the code goes,
    /// e.g. `{ telegram = "https://t.me/shop_bot?start={code}", whatsapp =
    /// "https://wa.me/15551234567?text={code}", messenger = "https://m.me/shop?ref={code}" }`.
    pub link_urls: BTreeMap<String, String>,
    /// Seconds an issued link code stays redeemable (default 600, at most 86400).
    pub link_code_ttl_secs: Option<u64>,
}

/// `[handoff]`: SLAs of handoffs waiting for an agent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HandoffSection {
    /// Seconds to acceptance per priority, e.g. `{ immediate = 30, high = 120 }`;
    /// unnamed priorities keep their defaults (30 / 120 / 300 / 900).
    pub sla_secs: BTreeMap<String, u64>,
    /// `alert` (default: counted and logged, the handoff stays queued),
    /// `return_to_bot` (the handoff times out and the bot takes the conversation back) or
    /// `reroute` (the handoff moves to its queue's `overflow` queue; alert without one).
    pub on_sla_breach: Option<String>,
    /// The next queue of each queue for `reroute`, e.g.
    /// `{ compliance = "support_lead", billing = "support_lead" }`. No cycles.
    pub overflow: BTreeMap<String, String>,
    /// Agent ids (as the desks name them) who may act on any handoff: take it over,
    /// reply, resolve, release or transfer it whoever owns it. Everyone else acts only
    /// on handoffs they own (or that nobody has accepted yet).
    pub supervisors: Vec<String>,
    /// Seconds after which a conversation a person answered outside Tandem (a reply
    /// from the Messenger Page Inbox or the WhatsApp Business app: owner `external`) goes
    /// back to the bot, counted from that person's last message (default 3600, at least 1).
    pub external_release_after_secs: Option<u64>,
}

/// `[drafts]`: draft-only mode. Where it applies, the bot's answers wait in the console
/// for an agent to approve, edit or reject them; nothing reaches the customer before.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DraftsSection {
    /// `off` (default: the bot answers directly), `all` (every bot answer is a draft) or
    /// `selected` (answers in turns whose policy category is in `categories` or whose
    /// queue is in `queues`).
    pub mode: Option<String>,
    /// Queues (policy targets) drafted with `mode = "selected"`.
    pub queues: Vec<String>,
    /// Policy categories drafted with `mode = "selected"`.
    pub categories: Vec<String>,
    /// Agents of handed-off conversations get the bot's answer to each customer message
    /// as a suggestion to approve, edit or reject (never sent on its own); with
    /// `mode = "selected"` only in handoffs of the listed queues or categories.
    pub suggest: bool,
}

impl DraftsSection {
    /// The core's settings (the section is validated first).
    pub fn core_config(&self) -> tandem_core::drafts::DraftsConfig {
        tandem_core::drafts::DraftsConfig {
            mode: self
                .mode
                .as_deref()
                .and_then(tandem_core::drafts::DraftMode::parse)
                .unwrap_or_default(),
            queues: self.queues.clone(),
            categories: self.categories.clone(),
            suggest: self.suggest,
        }
    }

    fn check(&self, errors: &mut ConfigErrors) {
        use tandem_core::drafts::DraftMode;
        let mode = match self.mode.as_deref() {
            None => Some(DraftMode::Off),
            Some(m) => {
                let parsed = DraftMode::parse(m);
                if parsed.is_none() {
                    errors.push(
                        "drafts.mode",
                        format!("unknown mode {m:?}: must be \"off\", \"all\" or \"selected\""),
                    );
                }
                parsed
            }
        };
        for (field, list) in [("queues", &self.queues), ("categories", &self.categories)] {
            for (i, name) in list.iter().enumerate() {
                if name.trim().is_empty() {
                    errors.push(format!("drafts.{field}[{i}]"), "must not be empty");
                }
            }
        }
        if mode == Some(DraftMode::Selected) && self.queues.is_empty() && self.categories.is_empty()
        {
            errors.push(
                "drafts.mode",
                "\"selected\" needs at least one entry in drafts.queues or drafts.categories",
            );
        }
        if matches!(mode, Some(DraftMode::Off | DraftMode::All))
            && (!self.queues.is_empty() || !self.categories.is_empty())
        {
            errors.push(
                "drafts.mode",
                "drafts.queues and drafts.categories apply only with mode = \"selected\"",
            );
        }
    }
}

/// `[media]`: customers' images and files, served to desks under signed links
/// (`GET /media/{token}`), and uploads (web chat customers, console agents).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSection {
    /// HMAC-SHA256 key of media links (at least 16 characters). Absent: Tandem generates
    /// one on first start and keeps it in the store, so every replica sharing the store
    /// signs and checks with the same key.
    pub secret: Option<String>,
    /// Seconds a link stays valid from when it is handed to a desk (default 900).
    pub link_ttl_secs: Option<u64>,
    /// Largest media served or uploaded, in bytes (default 16 MiB).
    pub max_bytes: Option<usize>,
    /// Folder of uploaded files (default `files` in the data folder: `TANDEM_DATA_DIR`,
    /// else `tandem-data`). Replicas must share it (a shared volume).
    pub dir: Option<String>,
}

/// The default of `[media] link_ttl_secs`.
pub const DEFAULT_MEDIA_LINK_TTL_SECS: u64 = 900;
/// The default of `[media] max_bytes`: 16 MiB.
pub const DEFAULT_MEDIA_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Shortest `[media] secret`.
pub const MIN_MEDIA_SECRET_LEN: usize = 16;

impl MediaSection {
    /// The link TTL in seconds.
    pub fn ttl_secs(&self) -> u64 {
        self.link_ttl_secs.unwrap_or(DEFAULT_MEDIA_LINK_TTL_SECS)
    }

    /// The size limit in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes.unwrap_or(DEFAULT_MEDIA_MAX_BYTES)
    }

    /// The folder of uploaded files.
    pub fn dir(&self) -> PathBuf {
        if let Some(dir) = self.dir.as_deref().filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let data = std::env::var("TANDEM_DATA_DIR")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "tandem-data".into());
        Path::new(&data).join("files")
    }

    fn validate(&self, errors: &mut ConfigErrors) {
        if let Some(secret) = &self.secret
            && secret.chars().count() < MIN_MEDIA_SECRET_LEN
        {
            errors.push(
                "media.secret",
                format!("must be at least {MIN_MEDIA_SECRET_LEN} characters"),
            );
        }
        if self.link_ttl_secs == Some(0) {
            errors.push("media.link_ttl_secs", "must be at least 1");
        }
        if self.max_bytes == Some(0) {
            errors.push("media.max_bytes", "must be at least 1");
        }
    }
}

/// `[outbox]`: delivery tuning.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OutboxSection {
    /// Seconds a claimed entry stays with its sender before another may take it
    /// (default 10); renewed while the send is in flight, so this is how soon a send cut
    /// off by a crash is retried.
    pub lease_secs: Option<u64>,
    /// First retry delay in milliseconds (default 1000), doubling per attempt.
    pub retry_base_ms: Option<u64>,
    /// Longest retry delay in milliseconds (default 300000).
    pub retry_max_ms: Option<u64>,
    /// Attempts before giving up (default 300, more than 24 h with the defaults).
    pub max_attempts: Option<u32>,
}

/// One channel or desk instance selected by config.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The instance id (the table name).
    pub id: String,
    /// The kind (`type = ".."`, or the table name).
    pub kind: String,
    /// The table, `type` (and for desks `queues`) removed, variables expanded.
    pub table: toml::Value,
    /// Desks only: the target queues served (`queues = [..]`); empty serves every queue.
    pub queues: Vec<String>,
    /// Channels only: the bot kind answering on this channel (`bot = ".."`); `None` is
    /// `[bot] kind`.
    pub bot: Option<String>,
}

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// Where it came from (a path or "built-in demo config").
    pub source: String,
    /// The parsed file.
    pub config: Config,
    /// Channel instances, checked.
    pub channels: Vec<Instance>,
    /// Desk instances, checked.
    pub desks: Vec<Instance>,
    /// The address to listen on, after `TANDEM_LISTEN`.
    pub listen: SocketAddr,
    /// The public base URL.
    pub public_url: url::Url,
    /// The adapter kinds the config was checked against (and that `serve` builds from).
    pub registry: std::sync::Arc<Registry>,
}

/// Finds, reads and checks the config: `path`, else `$TANDEM_CONFIG`, else
/// `config/tandem.toml` if present, else the built-in demo.
pub fn load(path: Option<&Path>) -> Result<LoadedConfig, ConfigErrors> {
    load_with(path, &Registry::builtin())
}

/// [`load`] with the adapter kinds of `registry` (a custom binary's out-of-tree adapters).
pub fn load_with(path: Option<&Path>, registry: &Registry) -> Result<LoadedConfig, ConfigErrors> {
    let env_path = std::env::var_os("TANDEM_CONFIG")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    let chosen = path.map(Path::to_path_buf).or(env_path).or_else(|| {
        let default = PathBuf::from("config/tandem.toml");
        default.exists().then_some(default)
    });
    let (source, text) = match chosen {
        Some(p) => match std::fs::read_to_string(&p) {
            Ok(t) => (p.display().to_string(), t),
            Err(e) => {
                let mut errors = ConfigErrors::default();
                errors.push(p.display().to_string(), format!("cannot read: {e}"));
                return Err(errors);
            }
        },
        None => {
            // The demo's console token: the operator's, else the one kept in the data
            // folder (so agents stay signed in across restarts), else a fresh one that
            // `serve` keeps there.
            let token = kept_demo_token().unwrap_or_else(generate_console_token);
            let env = |name: &str| {
                std::env::var(name)
                    .ok()
                    .filter(|v| name != "TANDEM_CONSOLE_TOKEN" || !v.is_empty())
                    .or_else(|| (name == "TANDEM_CONSOLE_TOKEN").then(|| token.clone()))
            };
            return parse(DEMO_SOURCE, &demo_config(registry), &env, registry);
        }
    };
    parse(&source, &text, &|name| std::env::var(name).ok(), registry)
}

/// Parses and checks config text. `env` resolves `${VAR}`.
pub fn parse(
    source: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    registry: &Registry,
) -> Result<LoadedConfig, ConfigErrors> {
    let mut errors = ConfigErrors::default();
    let mut root: toml::Value = match text.parse::<toml::Table>() {
        Ok(t) => toml::Value::Table(t),
        Err(e) => {
            errors.push(source, format!("not valid TOML: {}", e.message()));
            return Err(errors);
        }
    };
    interpolate(&mut root, "", env, &mut errors);

    let config: Config = match deserialize_reporting_all(root.clone(), &mut errors) {
        Some(c) => c,
        None => return Err(errors),
    };

    let listen_text = std::env::var("TANDEM_LISTEN")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| config.server.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            errors.push(
                "server.listen",
                format!("not a socket address: {listen_text:?} (e.g. 127.0.0.1:8080)"),
            );
            None
        }
    };
    let public_text = config.server.public_url.clone().unwrap_or_else(|| {
        format!(
            "http://{}",
            listen.map_or(listen_text.clone(), |a| a.to_string())
        )
    });
    let public_url = match url::Url::parse(&public_text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
        _ => {
            errors.push("server.public_url", "must be an http(s) URL");
            None
        }
    };
    if config.server.max_body_bytes == Some(0) {
        errors.push("server.max_body_bytes", "must be at least 1");
    }
    config.media.validate(&mut errors);
    if config.server.header_read_timeout_secs == Some(0) {
        errors.push("server.header_read_timeout_secs", "must be at least 1");
    }
    if config.server.body_timeout_secs == Some(0) {
        errors.push("server.body_timeout_secs", "must be at least 1");
    }
    if config.server.max_connections == Some(0) {
        errors.push("server.max_connections", "must be at least 1");
    }
    if let Some(limit) = &config.server.sender_rate_limit {
        limit.validate("server.sender_rate_limit", &mut errors);
    }
    match config.store.kind.as_str() {
        "sqlite" => {
            if config.store.path.as_deref() == Some("") {
                errors.push("store.path", "must not be empty");
            }
        }
        "mongodb" => {
            match &config.store.uri {
                Some(uri) if !uri.is_empty() => {
                    if let Err(e) = tandem_store_mongo::check_connection_string(uri.expose()) {
                        errors.push("store.uri", e);
                    }
                }
                _ => errors.push(
                    "store.uri",
                    "required for kind = \"mongodb\" (a mongodb:// or mongodb+srv:// connection string)",
                ),
            }
            if config.store.database.as_deref().is_none_or(str::is_empty) {
                errors.push("store.database", "required for kind = \"mongodb\"");
            }
            if config
                .store
                .inbound_retention_days
                .is_some_and(|d| d < MIN_INBOUND_RETENTION_DAYS)
            {
                errors.push(
                    "store.inbound_retention_days",
                    format!(
                        "must be at least {MIN_INBOUND_RETENTION_DAYS} (platforms redeliver \
                         webhooks for up to 7 days)"
                    ),
                );
            }
            if config
                .store
                .operation_timeout_secs
                .is_some_and(|s| !(1..=600).contains(&s))
            {
                errors.push("store.operation_timeout_secs", "must be from 1 to 600");
            }
        }
        other => errors.push(
            "store.kind",
            format!("unknown store {other:?} (expected \"sqlite\" or \"mongodb\")"),
        ),
    }
    match config.ai.provider.as_str() {
        "builtin" => {}
        "openai" => {
            match config.ai.base_url.as_deref() {
                None | Some("") => {
                    errors.push("ai.base_url", "missing (e.g. https://api.openai.com/v1)")
                }
                Some(u)
                    if url::Url::parse(u)
                        .map(|u| !matches!(u.scheme(), "http" | "https"))
                        .unwrap_or(true) =>
                {
                    errors.push("ai.base_url", "must be an http(s) URL")
                }
                Some(_) => {}
            }
            if config.ai.model.as_deref().is_none_or(str::is_empty) {
                errors.push("ai.model", "missing");
            }
            if config.ai.timeout_ms == Some(0) {
                errors.push("ai.timeout_ms", "must be at least 1");
            }
            if !matches!(
                config.ai.sentiment.as_deref(),
                None | Some("builtin" | "provider")
            ) {
                errors.push("ai.sentiment", "must be \"builtin\" or \"provider\"");
            }
        }
        other => errors.push(
            "ai.provider",
            format!("unknown provider {other:?} (expected \"builtin\" or \"openai\")"),
        ),
    }
    if let Some(path) = &config.policy.path {
        check_policy(path, &mut errors);
    }
    for (channel, url) in &config.admin.link_urls {
        if !url.contains("{code}") || !(url.starts_with("https://") || url.starts_with("http://")) {
            errors.push(
                format!("admin.link_urls.{channel}"),
                "must be an http(s) URL containing {code}",
            );
        }
    }
    if let Some(ttl) = config.admin.link_code_ttl_secs
        && !(1..=MAX_LINK_CODE_TTL_SECS).contains(&ttl)
    {
        errors.push(
            "admin.link_code_ttl_secs",
            format!("must be 1 to {MAX_LINK_CODE_TTL_SECS} seconds"),
        );
    }
    for (i, t) in config.admin.tokens.iter().enumerate() {
        if t.expose().len() < 16 {
            errors.push(
                format!("admin.tokens[{i}]"),
                "must be at least 16 characters",
            );
        }
    }
    check_agents(&config.agents, &mut errors);
    if config.outbox.max_attempts == Some(0) {
        errors.push("outbox.max_attempts", "must be at least 1");
    }
    for (priority, secs) in &config.handoff.sla_secs {
        if !matches!(priority.as_str(), "immediate" | "high" | "medium" | "low") {
            errors.push(
                format!("handoff.sla_secs.{priority}"),
                "unknown priority (immediate, high, medium, low)",
            );
        } else if *secs == 0 {
            errors.push(format!("handoff.sla_secs.{priority}"), "must be at least 1");
        }
    }
    if !matches!(
        config.handoff.on_sla_breach.as_deref(),
        None | Some("alert" | "return_to_bot" | "reroute")
    ) {
        errors.push(
            "handoff.on_sla_breach",
            "must be \"alert\", \"return_to_bot\" or \"reroute\"",
        );
    }
    if config.handoff.external_release_after_secs == Some(0) {
        errors.push("handoff.external_release_after_secs", "must be at least 1");
    }
    for (from, to) in &config.handoff.overflow {
        if to.trim().is_empty() {
            errors.push(format!("handoff.overflow.{from}"), "must name a queue");
            continue;
        }
        // Follow the chain: it must end (a cycle would re-route forever).
        let mut seen = vec![from.as_str()];
        let mut at = to.as_str();
        while let Some(next) = config.handoff.overflow.get(at) {
            if seen.contains(&at) {
                break;
            }
            seen.push(at);
            at = next.as_str();
        }
        if seen.contains(&at) {
            errors.push(
                format!("handoff.overflow.{from}"),
                format!("re-routes in a cycle ({} → {at})", seen.join(" → ")),
            );
        }
    }
    config.drafts.check(&mut errors);
    if config.outbox.lease_secs == Some(0) {
        errors.push("outbox.lease_secs", "must be at least 1");
    }

    let mut channels = Vec::new();
    for (id, table) in &config.channels {
        let path = format!("channels.{id}");
        let Some(mut instance) = instance(id, table, &path, &mut errors) else {
            continue;
        };
        instance.bot = peel_bot(&mut instance.table, &path, &mut errors);
        match registry.validate_channel(&instance.kind, &instance.table) {
            None => errors.push(
                format!("{path}.type"),
                format!(
                    "unknown channel kind {:?} (known: {})",
                    instance.kind,
                    registry.channel_kinds().join(", ")
                ),
            ),
            Some(Err(errs)) => errors.0.extend(errs.0.into_iter().map(|e| e.under(&path))),
            Some(Ok(())) => channels.push(instance),
        }
    }
    check_bot(&config.bot, &channels, &mut errors);
    let mut desks = Vec::new();
    for (id, table) in &config.desks {
        let path = format!("desks.{id}");
        let Some(mut instance) = instance(id, table, &path, &mut errors) else {
            continue;
        };
        instance.queues = peel_queues(&mut instance.table, &path, &mut errors);
        match registry.validate_desk(&instance.kind, &instance.table) {
            None => errors.push(
                format!("{path}.type"),
                format!(
                    "unknown desk kind {:?} (known: {})",
                    instance.kind,
                    registry.desk_kinds().join(", ")
                ),
            ),
            Some(Err(errs)) => errors.0.extend(errs.0.into_iter().map(|e| e.under(&path))),
            Some(Ok(())) => desks.push(instance),
        }
    }

    match (errors.is_empty(), listen, public_url) {
        (true, Some(listen), Some(public_url)) => Ok(LoadedConfig {
            source: source.to_owned(),
            config,
            channels,
            desks,
            listen,
            public_url,
            registry: std::sync::Arc::new(registry.clone()),
        }),
        _ => Err(errors),
    }
}

/// Reads and validates the policy file `[policy].path` (the one file `check` reads besides
/// the config); its problems are reported under `policy.` (`policy.categories[0].priority`).
fn check_policy(path: &str, errors: &mut ConfigErrors) {
    if path.trim().is_empty() {
        errors.push("policy.path", "must not be empty");
        return;
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push("policy.path", format!("cannot read {path}: {e}"));
            return;
        }
    };
    if let Err(problems) = tandem_policy::PolicyEngine::from_toml_str(&text) {
        for p in problems {
            if p.path.is_empty() || p.path.starts_with("line ") {
                let at = if p.path.is_empty() {
                    String::new()
                } else {
                    format!(" {}", p.path)
                };
                errors.push("policy.path", format!("{path}{at}: {}", p.message));
            } else {
                errors.push(format!("policy.{}", p.path), p.message);
            }
        }
    }
}

fn instance(
    id: &str,
    table: &toml::Value,
    path: &str,
    errors: &mut ConfigErrors,
) -> Option<Instance> {
    let toml::Value::Table(t) = table else {
        errors.push(path, "must be a table");
        return None;
    };
    let mut t = t.clone();
    let kind = match t.remove("type") {
        None => id.to_owned(),
        Some(toml::Value::String(s)) => s,
        Some(_) => {
            errors.push(format!("{path}.type"), "must be a string");
            return None;
        }
    };
    Some(Instance {
        id: id.to_owned(),
        kind,
        table: toml::Value::Table(t),
        queues: Vec::new(),
        bot: None,
    })
}

/// Takes the common `bot` key off a channel table.
fn peel_bot(table: &mut toml::Value, path: &str, errors: &mut ConfigErrors) -> Option<String> {
    match table.as_table_mut()?.remove("bot") {
        None => None,
        Some(toml::Value::String(kind)) => Some(kind),
        Some(_) => {
            errors.push(format!("{path}.bot"), "must be a string");
            None
        }
    }
}

/// `[bot]` and the channels' `bot` keys: known kinds, and the section of every kind used.
fn check_bot(bot: &BotConfig, channels: &[Instance], errors: &mut ConfigErrors) {
    let known = || format!("expected one of {}", BOT_KINDS.join(", "));
    let mut used = vec![("bot.kind".to_owned(), bot.kind().to_owned())];
    used.extend(channels.iter().filter_map(|c| {
        c.bot
            .clone()
            .map(|kind| (format!("channels.{}.bot", c.id), kind))
    }));
    for (path, kind) in &used {
        if !BOT_KINDS.contains(&kind.as_str()) {
            errors.push(path, format!("unknown bot {kind:?} ({})", known()));
        }
    }
    let uses = |kind: &str| used.iter().any(|(_, k)| k == kind);
    let http_url = |u: &str| {
        url::Url::parse(u)
            .map(|u| matches!(u.scheme(), "http" | "https"))
            .unwrap_or(false)
    };
    match (&bot.llm, uses("llm")) {
        (None, true) => errors.push("bot.llm", "missing (needed by a bot of kind \"llm\")"),
        (Some(llm), _) => {
            match llm.base_url.as_deref() {
                None | Some("") => errors.push(
                    "bot.llm.base_url",
                    "missing (e.g. https://api.openai.com/v1)",
                ),
                Some(u) if !http_url(u) => {
                    errors.push("bot.llm.base_url", "must be an http(s) URL")
                }
                Some(_) => {}
            }
            if llm.model.as_deref().is_none_or(|m| m.trim().is_empty()) {
                errors.push("bot.llm.model", "missing");
            }
            if llm.timeout_ms == Some(0) {
                errors.push("bot.llm.timeout_ms", "must be at least 1");
            }
            if llm.entries.is_some_and(|n| !(1..=10).contains(&n)) {
                errors.push("bot.llm.entries", "must be from 1 to 10");
            }
        }
        (None, false) => {}
    }
    match (&bot.rasa, uses("rasa")) {
        (None, true) => errors.push("bot.rasa", "missing (needed by a bot of kind \"rasa\")"),
        (Some(rasa), _) => {
            match rasa.url.as_deref() {
                None | Some("") => errors.push("bot.rasa.url", "missing (e.g. http://rasa:5005)"),
                Some(u) if !http_url(u) => errors.push("bot.rasa.url", "must be an http(s) URL"),
                Some(_) => {}
            }
            if rasa.timeout_ms == Some(0) {
                errors.push("bot.rasa.timeout_ms", "must be at least 1");
            }
        }
        (None, false) => {}
    }
    match (&bot.http, uses("http")) {
        (None, true) => errors.push("bot.http", "missing (needed by a bot of kind \"http\")"),
        (Some(h), _) => {
            match h.url.as_deref() {
                None | Some("") => errors.push("bot.http.url", "missing"),
                Some(u) if !http_url(u) => errors.push("bot.http.url", "must be an http(s) URL"),
                Some(_) => {}
            }
            if h.secret.as_ref().is_none_or(|s| s.expose().is_empty()) {
                errors.push("bot.http.secret", "missing");
            }
            if h.timeout_ms == Some(0) {
                errors.push("bot.http.timeout_ms", "must be at least 1");
            }
        }
        (None, false) => {}
    }
}

/// Takes the common `queues` key off a desk table.
fn peel_queues(table: &mut toml::Value, path: &str, errors: &mut ConfigErrors) -> Vec<String> {
    let Some(t) = table.as_table_mut() else {
        return Vec::new();
    };
    match t.remove("queues") {
        None => Vec::new(),
        Some(toml::Value::Array(items)) => {
            let mut queues = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    toml::Value::String(q) if !q.trim().is_empty() => queues.push(q),
                    _ => errors.push(format!("{path}.queues[{i}]"), "must be a non-empty string"),
                }
            }
            queues
        }
        Some(_) => {
            errors.push(format!("{path}.queues"), "must be an array of queue names");
            Vec::new()
        }
    }
}

/// Expands `${VAR}` in every string; `$${` is a literal `${`. Missing variables are
/// reported with the path of the key that uses them.
fn interpolate(
    value: &mut toml::Value,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut ConfigErrors,
) {
    match value {
        toml::Value::String(s) if s.contains('$') => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(pos) = rest.find('$') {
                out.push_str(&rest[..pos]);
                let tail = &rest[pos..];
                if let Some(t) = tail.strip_prefix("$${") {
                    out.push_str("${");
                    rest = t;
                } else if let Some(t) = tail.strip_prefix("${") {
                    match t.find('}') {
                        Some(end) => {
                            let name = &t[..end];
                            match env(name) {
                                Some(v) => out.push_str(&v),
                                None => {
                                    // Reported once here; the reference stays in place so
                                    // that no "missing" is reported again for the key.
                                    errors.push(
                                        path,
                                        format!("environment variable {name} is not set"),
                                    );
                                    out.push_str(&tail[..end + 3]);
                                }
                            }
                            rest = &t[end + 1..];
                        }
                        None => {
                            errors.push(path, "unterminated ${ (write $${ for a literal)");
                            out.push_str(tail);
                            rest = "";
                        }
                    }
                } else {
                    out.push('$');
                    rest = &tail[1..];
                }
            }
            out.push_str(rest);
            *s = out;
        }
        toml::Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                interpolate(v, &p, env, errors);
            }
        }
        toml::Value::Array(a) => {
            for (i, v) in a.iter_mut().enumerate() {
                interpolate(v, &format!("{path}[{i}]"), env, errors);
            }
        }
        _ => {}
    }
}

/// Deserializes `value`, reporting every unknown key and every type error with its
/// path: after an error, the offending key is taken out and deserialization runs again
/// (so a file with twelve mistakes reports twelve). `None` when a required key is
/// missing (reported) and nothing sensible can be built.
fn deserialize_reporting_all<T: serde::de::DeserializeOwned>(
    mut value: toml::Value,
    errors: &mut ConfigErrors,
) -> Option<T> {
    let mut unknown = std::collections::BTreeSet::new();
    let mut removed = std::collections::HashSet::new();
    // Each round removes one key; a config has far fewer keys than this.
    for _ in 0..256 {
        let mut found = Vec::new();
        let mut note = |p: serde_ignored::Path<'_>| found.push(p.to_string());
        let de = serde_ignored::Deserializer::new(value.clone(), &mut note);
        let result: Result<T, _> = serde_path_to_error::deserialize(de);
        unknown.extend(found);
        match result {
            Ok(v) => {
                for p in unknown {
                    errors.push(p, "unknown key");
                }
                return Some(v);
            }
            Err(e) => {
                let segments: Vec<String> = e.path().iter().map(segment_text).collect();
                let message = e.inner().to_string();
                let message = message.lines().next().unwrap_or_default().trim();
                if let Some(field) = message
                    .strip_prefix("missing field `")
                    .and_then(|m| m.split('`').next())
                {
                    // A required key taken out after its type error is not missing twice.
                    let path = join_path(&segments, Some(field));
                    if !removed.contains(&path) {
                        errors.push(path, "missing");
                    }
                    break;
                }
                let path = join_path(&segments, None);
                errors.push(path.clone(), message.to_owned());
                removed.insert(path);
                if !remove_path(&mut value, &e.path().iter().collect::<Vec<_>>()) {
                    break;
                }
            }
        }
    }
    for p in unknown {
        errors.push(p, "unknown key");
    }
    None
}

fn segment_text(segment: &serde_path_to_error::Segment) -> String {
    match segment {
        serde_path_to_error::Segment::Seq { index } => format!("[{index}]"),
        serde_path_to_error::Segment::Map { key } => key.clone(),
        serde_path_to_error::Segment::Enum { variant } => variant.clone(),
        serde_path_to_error::Segment::Unknown => "?".into(),
    }
}

fn join_path(segments: &[String], last: Option<&str>) -> String {
    let mut out = String::new();
    for s in segments.iter().map(String::as_str).chain(last) {
        if !out.is_empty() && !s.starts_with('[') {
            out.push('.');
        }
        out.push_str(s);
    }
    out
}

/// Takes the value at `path` out of `value`; false when there is nothing to take.
fn remove_path(value: &mut toml::Value, path: &[&serde_path_to_error::Segment]) -> bool {
    use serde_path_to_error::Segment;
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut at = value;
    for segment in parents {
        let next = match (segment, at) {
            (Segment::Map { key }, toml::Value::Table(t)) => t.get_mut(key.as_str()),
            (Segment::Seq { index }, toml::Value::Array(a)) => a.get_mut(*index),
            _ => None,
        };
        match next {
            Some(v) => at = v,
            None => return false,
        }
    }
    match (last, at) {
        (Segment::Map { key }, toml::Value::Table(t)) => t.remove(key.as_str()).is_some(),
        (Segment::Seq { index }, toml::Value::Array(a)) if *index < a.len() => {
            a.remove(*index);
            true
        }
        _ => false,
    }
}

/// Deserializes an adapter table, reporting unknown keys and every type error with
/// paths relative to the table.
pub fn deserialize_table<T: serde::de::DeserializeOwned>(
    table: &toml::Value,
) -> Result<T, ConfigErrors> {
    let mut errors = ConfigErrors::default();
    match deserialize_reporting_all(table.clone(), &mut errors) {
        Some(v) if errors.is_empty() => Ok(v),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests;
