//! Reloading the escalation policy without a restart (SIGHUP or
//! `POST /api/v1/policy/reload`). The file is read and checked first: an invalid policy
//! is refused with all its errors and the policy in force stays. Every attempt is kept in
//! an audit trail (the newest 100, in the store's key-value space) and logged.

use serde_json::{Value, json};
use std::sync::Arc;
use tandem_core::Core;
use tokio::sync::Mutex;
use tracing::{info, warn};

const AUDIT_NAMESPACE: &str = "policy";
const AUDIT_KEY: &str = "audit";
const AUDIT_KEEP: usize = 100;

/// Loads the policy named by `[policy].path` (or the built-in default) and swaps it in.
pub struct PolicyReloader {
    core: Core,
    path: Option<String>,
    /// Serializes reloads so the audit trail's read-modify-write does not race.
    lock: Mutex<()>,
}

impl std::fmt::Debug for PolicyReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyReloader")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The outcome of a successful reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// The version now in force.
    pub version: String,
    /// The version before.
    pub previous: String,
}

impl PolicyReloader {
    /// A reloader for the policy at `path` (`None`: the built-in default).
    pub fn new(core: Core, path: Option<String>) -> Arc<Self> {
        Arc::new(Self {
            core,
            path,
            lock: Mutex::new(()),
        })
    }

    /// Reloads; on failure returns every problem and keeps the policy in force.
    pub async fn reload(&self, actor: &str) -> Result<Reloaded, Vec<String>> {
        let _guard = self.lock.lock().await;
        let previous = self.core.policy().version().to_owned();
        let loaded = match &self.path {
            None => Ok(tandem_policy::PolicyEngine::builtin()),
            Some(p) => tandem_policy::load(std::path::Path::new(p))
                .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>()),
        };
        let now = tandem_model::now();
        let at = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let (result, entry) = match loaded {
            Ok(engine) => {
                let version = tandem_core::policy::EscalationPolicy::version(&engine).to_owned();
                self.core.set_policy(Arc::new(engine));
                info!(%version, %previous, actor, "Escalation policy reloaded.");
                let entry = json!({"at": at, "actor": actor, "result": "applied", "previous": previous, "version": version});
                (Ok(Reloaded { version, previous }), entry)
            }
            Err(errors) => {
                warn!(
                    problems = errors.len(),
                    actor, "Policy reload refused; the policy in force stays."
                );
                let entry = json!({"at": at, "actor": actor, "result": "refused", "version": previous, "errors": errors});
                (Err(errors), entry)
            }
        };
        self.append_audit(entry).await;
        result
    }

    /// The audit trail, oldest first.
    pub async fn audit(&self) -> Vec<Value> {
        let store = self.core.store();
        match store.kv_get(AUDIT_NAMESPACE, AUDIT_KEY).await {
            Ok(Some(text)) => serde_json::from_str(&text).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// The version in force and where it comes from.
    pub fn current(&self) -> Value {
        json!({"version": self.core.policy().version(), "path": self.path})
    }

    async fn append_audit(&self, entry: Value) {
        let mut trail = self.audit().await;
        trail.push(entry);
        let excess = trail.len().saturating_sub(AUDIT_KEEP);
        trail.drain(..excess);
        let text = serde_json::to_string(&trail).unwrap_or_else(|_| "[]".into());
        if let Err(e) = self
            .core
            .store()
            .kv_put(AUDIT_NAMESPACE, AUDIT_KEY, &text)
            .await
        {
            warn!(error = %e, "Recording the policy audit trail failed.");
        }
    }
}
