//! `[desks.console]` configuration.

use serde::Deserialize;
use tandem_sdk::{ConfigErrors, Secret};

/// Shortest agent token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// Configuration of the built-in agent console.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleDeskConfig {
    /// Bearer tokens agents type into the console (at least 16 characters each). Whoever
    /// holds a token is trusted to say which agent they are (the `agent` of `hello`).
    pub tokens: Vec<Secret>,
}

impl ConsoleDeskConfig {
    /// Pure checks.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::default();
        if self.tokens.is_empty() {
            errors.push("tokens", "missing: at least one agent token");
        }
        for (i, t) in self.tokens.iter().enumerate() {
            if t.expose().chars().count() < MIN_TOKEN_LEN {
                errors.push(
                    format!("tokens[{i}]"),
                    format!("must be at least {MIN_TOKEN_LEN} characters"),
                );
            }
        }
        errors.into_result()
    }

    /// Whether `candidate` is one of the tokens (constant time per token).
    pub fn accepts(&self, candidate: &str) -> bool {
        let mut ok = false;
        for t in &self.tokens {
            ok |= tandem_sdk::signature::constant_time_eq(t.expose(), candidate);
        }
        ok && !candidate.is_empty()
    }
}
