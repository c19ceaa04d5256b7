//! `[desks.chatwoot]` configuration.

use serde::Deserialize;
use tandem_sdk::{ConfigErrors, Secret};

/// Configuration of the Chatwoot desk.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChatwootDeskConfig {
    /// The Chatwoot installation, e.g. `https://app.chatwoot.com`.
    pub base_url: String,
    /// A user or agent-bot access token (sent as the `api_access_token` header).
    pub api_access_token: Secret,
    /// The account handoffs go to.
    pub account_id: u64,
    /// The API-channel inbox conversations are created in.
    pub inbox_id: u64,
    /// The webhook's secret (Chatwoot with signed webhooks): every webhook must carry a
    /// valid `X-Chatwoot-Signature`. Required unless `allow_unsigned`.
    pub webhook_secret: Secret,
    /// Accept unsigned webhooks when `webhook_secret` is empty (older Chatwoot). Anyone who
    /// can reach `/desks/chatwoot/webhook` can then act as an agent: keep that URL private.
    /// `tandem serve` warns at start-up.
    pub allow_unsigned: bool,
}

impl ChatwootDeskConfig {
    /// Pure checks.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::default();
        if self.base_url.is_empty() {
            errors.push("base_url", "missing");
        } else if url::Url::parse(&self.base_url)
            .map(|u| !matches!(u.scheme(), "http" | "https"))
            .unwrap_or(true)
        {
            errors.push("base_url", "must be an http(s) URL");
        }
        if self.api_access_token.is_empty() {
            errors.push("api_access_token", "missing");
        }
        if self.account_id == 0 {
            errors.push("account_id", "missing (the numeric account id)");
        }
        if self.webhook_secret.is_empty() && !self.allow_unsigned {
            errors.push(
                "webhook_secret",
                "missing: agent actions at /desks/chatwoot/webhook would be unauthenticated \
                 (set the webhook's secret, or allow_unsigned = true for a Chatwoot without \
                 signed webhooks)",
            );
        }
        if self.inbox_id == 0 {
            errors.push(
                "inbox_id",
                "missing (the numeric id of an API-channel inbox)",
            );
        }
        errors.into_result()
    }

    /// `<base_url>/api/v1/accounts/<account_id>/<path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!(
            "{}/api/v1/accounts/{}/{path}",
            self.base_url.trim_end_matches('/'),
            self.account_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_required_keys() {
        let text = ChatwootDeskConfig::default()
            .validate()
            .unwrap_err()
            .to_string();
        for key in ["base_url", "api_access_token", "account_id", "inbox_id"] {
            assert!(text.contains(key), "{text}");
        }
        let mut ok = ChatwootDeskConfig {
            base_url: "https://chat.example.com/".into(),
            api_access_token: Secret::new("t"),
            account_id: 7,
            inbox_id: 12,
            webhook_secret: Secret::new("whsec"),
            allow_unsigned: false,
        };
        assert!(ok.validate().is_ok());
        ok.webhook_secret = Secret::default();
        let text = ok.validate().unwrap_err().to_string();
        assert!(text.contains("webhook_secret"), "{text}");
        ok.allow_unsigned = true;
        assert!(
            ok.validate().is_ok(),
            "unsigned only when allowed explicitly"
        );
        assert_eq!(
            ok.url("contacts"),
            "https://chat.example.com/api/v1/accounts/7/contacts"
        );
    }
}
