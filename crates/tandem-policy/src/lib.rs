//! The escalation policy engine: declarative, explainable, versioned.
//!
//! A policy is data (`config/policy.toml`, annotated): categories of keywords and bot
//! intents, each mapped to a target queue and a priority; thresholds of the behavioural
//! triggers; segment overrides (VIP, AI-first free tier); business-event rules.
//! [`PolicyEngine::from_toml_str`] validates a policy (every problem with its path) and
//! compiles it once (one Aho-Corasick automaton over every keyword's word forms, a typo
//! index); the engine then implements [`tandem_core::policy::EscalationPolicy`], so the
//! gateway and `tandem policy test` ([`replay`]) decide through the same code
//! (`tandem_core::turn::decide_message`).
//!
//! Layout: `spec.rs` (file shape and validation), `text.rs` (normalisation, word forms,
//! edit distance), `matcher.rs` (keyword scanning), `engine.rs` (compilation),
//! `evaluate.rs` (the triggers and the decision), `version.rs` (content hash),
//! [`replay`] (the conversation replay behind `tandem policy test`).

mod engine;
pub mod eval;
mod evaluate;
mod matcher;
pub mod replay;
mod spec;
mod text;
mod version;

pub use engine::PolicyEngine;
pub use spec::{PolicyError, Priority};

/// The shipped default policy, `config/policy.toml`.
pub const DEFAULT_POLICY: &str = include_str!("../../../config/policy.toml");

/// Reads and compiles a policy file. Errors carry paths inside the file; a file that
/// cannot be read is one error with an empty path.
pub fn load(path: &std::path::Path) -> Result<PolicyEngine, Vec<PolicyError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![PolicyError {
            path: String::new(),
            message: format!("cannot read {}: {e}", path.display()),
        }]
    })?;
    PolicyEngine::from_toml_str(&text)
}

#[cfg(test)]
mod tests;
