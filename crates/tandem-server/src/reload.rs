//! Reloading the escalation policy without a restart (SIGHUP or
//! `POST /api/v1/policy/reload`). The file is read and checked first: an invalid policy
//! is refused with all its errors and the policy in force stays. Every attempt is kept in
//! an audit trail (the newest 100, in the store's key-value space) and logged.
//!
//! The policy in force is also kept in the store (its version and source text), written
//! at start-up and by every reload; every process sharing the store looks at it every
//! [`FOLLOW_EVERY`] and puts a newer one in force, so a reload through one replica is in
//! force on all of them within seconds, whatever their own files say.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use tandem_core::Core;
use tokio::sync::Mutex;
use tracing::{info, warn};

const AUDIT_NAMESPACE: &str = "policy";
const AUDIT_KEY: &str = "audit";
const AUDIT_KEEP: usize = 100;
const IN_FORCE_KEY: &str = "in_force";

/// How often a process looks for a policy another process put in force.
pub const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// The policy in force as the store keeps it.
#[derive(Debug, Serialize, Deserialize)]
struct InForce {
    version: String,
    /// The policy file's text; `None`: the built-in default.
    source: Option<String>,
}

/// Compiles a policy source (`None`: the built-in default).
fn compile(source: Option<&str>) -> Result<tandem_policy::PolicyEngine, Vec<String>> {
    match source {
        None => Ok(tandem_policy::PolicyEngine::builtin()),
        Some(text) => tandem_policy::PolicyEngine::from_toml_str(text)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect()),
    }
}

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
        let loaded = self
            .read_source()
            .and_then(|source| compile(source.as_deref()).map(|engine| (engine, source)));
        let now = tandem_model::now();
        let at = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let (result, entry) = match loaded {
            Ok((engine, source)) => {
                let version = tandem_core::policy::EscalationPolicy::version(&engine).to_owned();
                self.core.set_policy(Arc::new(engine));
                info!(%version, %previous, actor, "Escalation policy reloaded.");
                self.publish(&version, source).await;
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

    /// The text of the policy file (`None`: no file, the built-in default).
    fn read_source(&self) -> Result<Option<String>, Vec<String>> {
        match &self.path {
            None => Ok(None),
            Some(p) => std::fs::read_to_string(p)
                .map(Some)
                .map_err(|e| vec![format!("cannot read {p}: {e}")]),
        }
    }

    /// Records the policy this process loaded at start-up as the one in force (the file
    /// read again; skipped when it changed since).
    pub async fn announce(&self) {
        let _guard = self.lock.lock().await;
        let current = self.core.policy().version().to_owned();
        match self.read_source().and_then(|source| {
            let engine = compile(source.as_deref())?;
            Ok((engine, source))
        }) {
            Ok((engine, source))
                if tandem_core::policy::EscalationPolicy::version(&engine) == current =>
            {
                self.publish(&current, source).await;
            }
            _ => warn!("The policy file changed since start-up; reload it to put it in force."),
        }
    }

    /// Puts in force the policy another process recorded, when it differs from this
    /// one's. Returns whether it changed.
    pub async fn follow(&self) -> bool {
        let _guard = self.lock.lock().await;
        let text = match self
            .core
            .store()
            .kv_get(AUDIT_NAMESPACE, IN_FORCE_KEY)
            .await
        {
            Ok(Some(text)) => text,
            Ok(None) => return false,
            Err(e) => {
                warn!(error = %e, "Reading the policy in force from the store failed.");
                return false;
            }
        };
        let Ok(recorded) = serde_json::from_str::<InForce>(&text) else {
            warn!("The policy in force recorded in the store is unreadable; ignored.");
            return false;
        };
        let previous = self.core.policy().version().to_owned();
        if recorded.version == previous {
            return false;
        }
        match compile(recorded.source.as_deref()) {
            Ok(engine)
                if tandem_core::policy::EscalationPolicy::version(&engine) == recorded.version =>
            {
                self.core.set_policy(Arc::new(engine));
                info!(
                    version = %recorded.version,
                    %previous,
                    "Escalation policy put in force by another process."
                );
                true
            }
            _ => {
                warn!(
                    version = %recorded.version,
                    "The policy in force recorded in the store does not compile to its version here; kept the current one."
                );
                false
            }
        }
    }

    async fn publish(&self, version: &str, source: Option<String>) {
        let record = InForce {
            version: version.to_owned(),
            source,
        };
        let text = serde_json::to_string(&record).unwrap_or_default();
        if let Err(e) = self
            .core
            .store()
            .kv_put(AUDIT_NAMESPACE, IN_FORCE_KEY, &text)
            .await
        {
            warn!(error = %e, "Recording the policy in force in the store failed.");
        }
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
