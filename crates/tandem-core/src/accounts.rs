//! Agent accounts: who may sign in to a desk that signs agents in (the console), as whom.
//!
//! An account is an agent of routing (id, name, skills, capacity, status: the `agents`
//! of the store) plus what signing in needs, kept in the store's key-value space
//! (namespace `agent-accounts`): the email, the password as an argon2 PHC hash (never the
//! password), and whether the account is disabled. One-time sign-in links are kept there
//! too, by the SHA-256 of their token (`link:<hex>`), so the token itself is stored nowhere.
//!
//! Accounts come from the config (`[[agents]]`, written at start-up) and the admin API.

use crate::router::Core;
use crate::store::StoreError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tandem_sdk::{AgentAccount, SignIn};

/// Key-value namespace of the accounts.
const NAMESPACE: &str = "agent-accounts";

/// How long a sign-in link works, by default.
pub const SIGN_IN_LINK_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// What an account adds to routing's agent profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// Email (a sign-in name besides the id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// argon2 PHC hash of the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// Disabled: no sign-in, sessions end.
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct LinkDoc {
    agent_id: String,
    expires_at_ms: i64,
    #[serde(default)]
    used: bool,
}

/// Hashes `password` with argon2id (default parameters, random salt) into a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `phc` is a PHC string argon2 can check a password against.
pub fn check_password_hash(phc: &str) -> Result<(), String> {
    let hash = PasswordHash::new(phc).map_err(|e| format!("not a PHC hash: {e}"))?;
    if !hash.algorithm.as_str().starts_with("argon2") {
        return Err(format!(
            "an argon2 hash is required, not {}",
            hash.algorithm
        ));
    }
    Ok(())
}

/// Whether `password` matches the PHC hash `phc` (constant time in the hash comparison).
fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash nobody's password matches, checked when the login names no account so that a
/// wrong login takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("no account has this password").unwrap_or_default())
}

fn unavailable(e: StoreError) -> tandem_sdk::InboundError {
    tandem_sdk::InboundError::Unavailable(e.to_string())
}

fn token_key(token: &str) -> String {
    format!("link:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

impl Core {
    /// The credentials of agent `id` (empty when none were set).
    pub async fn credentials(&self, id: &str) -> Result<Credentials, StoreError> {
        match self.inner.store.kv_get(NAMESPACE, id).await? {
            None => Ok(Credentials::default()),
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("agent account {id}: {e}"))),
        }
    }

    /// Replaces the credentials of agent `id`.
    pub async fn set_credentials(&self, id: &str, c: &Credentials) -> Result<(), StoreError> {
        let text = serde_json::to_string(c)
            .map_err(|e| StoreError::Corrupt(format!("agent account {id}: {e}")))?;
        self.inner.store.kv_put(NAMESPACE, id, &text).await
    }

    /// Agent `id` as an account, when routing knows the agent.
    pub async fn account(&self, id: &str) -> Result<Option<AgentAccount>, StoreError> {
        let Some(agent) = self.inner.store.agent(id).await? else {
            return Ok(None);
        };
        let c = self.credentials(id).await?;
        Ok(Some(account_of(&agent.profile, &c)))
    }

    /// Issues a one-time sign-in link token for agent `id` (`None`: no such agent), valid
    /// for `ttl`.
    pub async fn issue_sign_in_link(
        &self,
        id: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<(String, tandem_model::Timestamp)>, StoreError> {
        if self.inner.store.agent(id).await?.is_none() {
            return Ok(None);
        }
        let token = format!("{:032x}", rand::random::<u128>());
        let expires = self.inner.clock.now() + ttl;
        let doc = LinkDoc {
            agent_id: id.to_owned(),
            expires_at_ms: crate::handoff::ms(expires),
            used: false,
        };
        let text = serde_json::to_string(&doc)
            .map_err(|e| StoreError::Corrupt(format!("sign-in link: {e}")))?;
        self.inner
            .store
            .kv_put(NAMESPACE, &token_key(&token), &text)
            .await?;
        Ok(Some((token, expires)))
    }

    async fn sign_in_with_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<Option<AgentAccount>, StoreError> {
        let login = login.trim();
        let mut found = None;
        for agent in self.inner.store.agents().await? {
            let c = self.credentials(&agent.profile.id).await?;
            let by_email = c
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(login));
            if agent.profile.id == login || by_email {
                found = Some((account_of(&agent.profile, &c), c.password_hash));
                break;
            }
        }
        let hash = found
            .as_ref()
            .and_then(|(_, h)| h.clone())
            .unwrap_or_else(|| dummy_hash().to_owned());
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
            .await
            .unwrap_or(false);
        Ok(found
            .filter(|(a, h)| matches && h.is_some() && !a.disabled)
            .map(|(a, _)| a))
    }

    async fn sign_in_with_link(&self, token: &str) -> Result<Option<AgentAccount>, StoreError> {
        // One redemption at a time in this process, so a link works once.
        let _guard = self.inner.sign_in_lock.lock().await;
        let key = token_key(token.trim());
        let Some(text) = self.inner.store.kv_get(NAMESPACE, &key).await? else {
            return Ok(None);
        };
        let Ok(mut doc) = serde_json::from_str::<LinkDoc>(&text) else {
            return Ok(None);
        };
        if doc.used || doc.expires_at_ms < crate::handoff::ms(self.inner.clock.now()) {
            return Ok(None);
        }
        doc.used = true;
        let text = serde_json::to_string(&doc)
            .map_err(|e| StoreError::Corrupt(format!("sign-in link: {e}")))?;
        self.inner.store.kv_put(NAMESPACE, &key, &text).await?;
        Ok(self.account(&doc.agent_id).await?.filter(|a| !a.disabled))
    }

    /// See [`tandem_sdk::DeskEventHandler::sign_in`].
    pub async fn sign_in_agent(
        &self,
        sign_in: SignIn,
    ) -> Result<Option<AgentAccount>, tandem_sdk::InboundError> {
        match sign_in {
            SignIn::Password { login, password } => {
                self.sign_in_with_password(&login, &password).await
            }
            SignIn::Link { token } => self.sign_in_with_link(&token).await,
        }
        .map_err(unavailable)
    }

    /// Every agent as an account.
    pub async fn accounts(&self) -> Result<Vec<AgentAccount>, StoreError> {
        let mut out = Vec::new();
        for agent in self.inner.store.agents().await? {
            let c = self.credentials(&agent.profile.id).await?;
            out.push(account_of(&agent.profile, &c));
        }
        Ok(out)
    }
}

fn account_of(profile: &crate::store::AgentProfile, c: &Credentials) -> AgentAccount {
    AgentAccount {
        id: profile.id.clone(),
        name: profile.name.clone(),
        email: c.email.clone(),
        skills: profile.skills.clone(),
        disabled: c.disabled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_checks_its_password_only() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        check_password_hash(&phc).unwrap();
        assert!(verify_password(&phc, "correct horse"));
        assert!(!verify_password(&phc, "correct horsE"));
        assert!(!verify_password("not a hash", "correct horse"));
        assert!(check_password_hash("plain text").is_err());
        assert_ne!(phc, hash_password("correct horse").unwrap(), "salted");
    }
}
