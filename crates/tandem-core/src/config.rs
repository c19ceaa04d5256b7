//! The core's settings (`CoreConfig`'s parts), apart from the code that acts on them so
//! that the router, which holds them, depends on no module that acts.

use rand::Rng;
use std::collections::BTreeMap;
use std::time::Duration;

/// What to do when a handoff outlives its SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlaBreach {
    /// Record and alert (metrics, WARN log); the handoff stays queued.
    #[default]
    Alert,
    /// Time the handoff out and give the conversation back to the bot.
    ReturnToBot,
    /// Move the handoff to its queue's overflow queue (alert when it has none).
    Reroute,
}

/// SLA settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaConfig {
    /// Time to acceptance per priority (`immediate`, `high`, `medium`, `low`).
    pub by_priority: BTreeMap<String, Duration>,
    /// What a breach does.
    pub on_breach: SlaBreach,
    /// The next queue of each queue, for [`SlaBreach::Reroute`].
    pub overflow: BTreeMap<String, String>,
}

impl Default for SlaConfig {
    fn default() -> Self {
        let by_priority = [
            ("immediate", 30),
            ("high", 120),
            ("medium", 300),
            ("low", 900),
        ]
        .into_iter()
        .map(|(p, s)| (p.to_owned(), Duration::from_secs(s)))
        .collect();
        Self {
            by_priority,
            on_breach: SlaBreach::Alert,
            overflow: BTreeMap::new(),
        }
    }
}

/// Where draft-only mode applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DraftMode {
    /// Never: the bot answers directly (the default).
    #[default]
    Off,
    /// Every bot answer is a draft.
    All,
    /// Bot answers of turns whose policy category or queue is listed.
    Selected,
}

impl DraftMode {
    /// Parses the config value (`off`, `all`, `selected`).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "off" => Some(DraftMode::Off),
            "all" => Some(DraftMode::All),
            "selected" => Some(DraftMode::Selected),
            _ => None,
        }
    }
}

/// `[drafts]` of the server config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DraftsConfig {
    /// Where bot answers become drafts.
    pub mode: DraftMode,
    /// Queues (policy targets) whose turns are drafted with [`DraftMode::Selected`].
    pub queues: Vec<String>,
    /// Policy categories whose turns are drafted with [`DraftMode::Selected`].
    pub categories: Vec<String>,
    /// Whether agents of handed-off conversations get the bot's answer to each customer
    /// message as a suggestion draft. With [`DraftMode::Selected`] only for handoffs of
    /// the listed queues or categories; otherwise for every handoff.
    pub suggest: bool,
}

/// Why a draft was made: the category or queue that selected draft-only mode, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// The listed category that matched.
    pub category: Option<String>,
    /// The listed queue that matched.
    pub queue: Option<String>,
}

impl DraftsConfig {
    /// Whether a bot answer is drafted, given the policy categories and queues of the
    /// turn; `Some` names what selected it.
    pub fn applies<'a>(
        &self,
        categories: impl IntoIterator<Item = &'a str>,
        queues: impl IntoIterator<Item = &'a str>,
    ) -> Option<Selection> {
        match self.mode {
            DraftMode::Off => None,
            DraftMode::All => Some(Selection::default()),
            DraftMode::Selected => self.select(categories, queues),
        }
    }

    /// Whether a customer message of a handed-off conversation with this category and
    /// queue gets a suggestion draft.
    pub fn suggests(&self, category: Option<&str>, queue: Option<&str>) -> Option<Selection> {
        if !self.suggest {
            return None;
        }
        match self.mode {
            DraftMode::Selected => self.select(category, queue),
            DraftMode::Off | DraftMode::All => Some(Selection::default()),
        }
    }

    fn select<'a>(
        &self,
        categories: impl IntoIterator<Item = &'a str>,
        queues: impl IntoIterator<Item = &'a str>,
    ) -> Option<Selection> {
        let category = categories
            .into_iter()
            .find(|c| self.categories.iter().any(|l| l == c));
        let queue = queues
            .into_iter()
            .find(|q| self.queues.iter().any(|l| l == q));
        (category.is_some() || queue.is_some()).then(|| Selection {
            category: category.map(str::to_owned),
            queue: queue.map(str::to_owned),
        })
    }
}

/// Outbox tunables.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// How long a claim lasts before another sender may take the entry over; renewed
    /// every third of it while the send is in flight.
    pub lease: Duration,
    /// First retry delay; doubles per attempt.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Give up after this many attempts.
    pub max_attempts: u32,
    /// Longest a single `send` may take before it counts as a transient failure.
    pub send_timeout: Duration,
    /// Sends in flight at once.
    pub concurrency: usize,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(10),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            // With the defaults this spans more than 24 hours of retries.
            max_attempts: 300,
            send_timeout: Duration::from_secs(30),
            concurrency: 64,
        }
    }
}

impl OutboxConfig {
    /// The delay before attempt `attempts + 1`, with ±20 % jitter.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let exp = self
            .retry_base
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
        let capped = exp.min(self.retry_max);
        let jitter = rand::rng().random_range(0.8..1.2);
        capped.mul_f64(jitter)
    }
}

/// How long a code is valid by default (`CoreConfig::link_code_ttl`).
pub const CODE_TTL: time::Duration = time::Duration::minutes(10);
