//! `[desks.console]` configuration.

use serde::Deserialize;
use tandem_sdk::{ConfigErrors, Secret};

/// Shortest shared console token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// Longest session accepted, in hours (30 days).
const MAX_SESSION_HOURS: u64 = 720;

/// Configuration of the built-in agent console.
///
/// Agents sign in with their own account (`[[agents]]` in the config or the admin API:
/// password or one-time sign-in link) and get an HTTP-only session cookie. `tokens` are an
/// older, shared way in, kept for programs and old configs: whoever holds one says which
/// agent they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleDeskConfig {
    /// Shared tokens (at least 16 characters each) for the WebSocket's `?token=` or
    /// `hello.token`; the agent then names themselves in `hello`. Optional.
    pub tokens: Vec<Secret>,
    /// Whether session cookies are marked `Secure` (sent over https only). Default: when
    /// `[server].public_url` is https.
    pub secure_cookies: Option<bool>,
    /// How long a sign-in lasts, in hours (default 12, at most 720).
    pub session_hours: Option<u64>,
}

impl ConsoleDeskConfig {
    /// Pure checks.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::default();
        for (i, t) in self.tokens.iter().enumerate() {
            if t.expose().chars().count() < MIN_TOKEN_LEN {
                errors.push(
                    format!("tokens[{i}]"),
                    format!("must be at least {MIN_TOKEN_LEN} characters"),
                );
            }
        }
        if let Some(h) = self.session_hours
            && !(1..=MAX_SESSION_HOURS).contains(&h)
        {
            errors.push("session_hours", format!("must be 1 to {MAX_SESSION_HOURS}"));
        }
        errors.into_result()
    }

    /// Whether `candidate` is one of the shared tokens (constant time per token).
    pub fn accepts(&self, candidate: &str) -> bool {
        let mut ok = false;
        for t in &self.tokens {
            ok |= tandem_sdk::signature::constant_time_eq(t.expose(), candidate);
        }
        ok && !candidate.is_empty()
    }

    /// How long a session lasts.
    pub fn session_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.session_hours.unwrap_or(12) * 3600)
    }
}
