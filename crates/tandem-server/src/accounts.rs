//! Agent accounts from the config (`[[agents]]`), written to the store at start-up, and
//! the demo's agent.

use crate::config::AgentEntry;
use anyhow::Context;
use tandem_core::Core;
use tandem_core::store::{AgentProfile, AgentStatus};

/// Default capacity of an agent whose entry names none.
pub const DEFAULT_CAPACITY: u32 = 5;

/// The demo's agent account.
pub const DEMO_AGENT: &str = "demo";

/// Writes every `[[agents]]` entry: routing's profile, then the credentials (a password
/// hash left out of the entry keeps the one set through the admin API).
pub async fn apply_config(core: &Core, agents: &[AgentEntry]) -> anyhow::Result<()> {
    for a in agents {
        let profile = AgentProfile {
            id: a.id.clone(),
            name: a.name.clone(),
            skills: a.skills.clone(),
            capacity: a.capacity.unwrap_or(DEFAULT_CAPACITY),
            status: a
                .status
                .as_deref()
                .and_then(AgentStatus::parse)
                .unwrap_or_default(),
        };
        core.put_agent(&profile)
            .await
            .with_context(|| format!("cannot write agent {}", a.id))?;
        let mut credentials = core
            .credentials(&a.id)
            .await
            .with_context(|| format!("cannot read agent {}'s account", a.id))?;
        credentials.email.clone_from(&a.email);
        credentials.disabled = a.disabled;
        if a.password_hash.is_some() {
            credentials.password_hash.clone_from(&a.password_hash);
        }
        core.set_credentials(&a.id, &credentials)
            .await
            .with_context(|| format!("cannot write agent {}'s account", a.id))?;
    }
    Ok(())
}

/// The demo: an agent account `demo` (created when missing; no queues, so routing leaves
/// handoffs in the queue for whoever accepts them) and a fresh one-time sign-in link token.
pub async fn demo_sign_in_link(core: &Core) -> anyhow::Result<String> {
    if core.store().agent(DEMO_AGENT).await?.is_none() {
        core.put_agent(&AgentProfile {
            id: DEMO_AGENT.into(),
            name: Some("Demo agent".into()),
            skills: Vec::new(),
            capacity: DEFAULT_CAPACITY,
            status: AgentStatus::Available,
        })
        .await?;
    }
    let (token, _) = core
        .issue_sign_in_link(DEMO_AGENT, tandem_core::accounts::SIGN_IN_LINK_TTL)
        .await?
        .context("the demo agent vanished")?;
    Ok(token)
}
