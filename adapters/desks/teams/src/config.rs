//! `[desks.teams]` configuration and its pure checks.

use serde::Deserialize;
use tandem_channel_teams::{DEFAULT_OPENID_METADATA_URL, DEFAULT_TOKEN_URL};
use tandem_sdk::{ConfigErrors, Secret};

/// Configuration of the Teams desk: the desk bot's Bot Framework registration and the
/// Teams channel handoffs are posted to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsDeskConfig {
    /// The desk bot's Microsoft App ID: the `aud` of inbound tokens, the `client_id` of
    /// outbound ones; the bot's own account is `28:<app_id>`.
    pub app_id: String,
    /// The App ID's client secret (client-credentials grant).
    pub app_password: Secret,
    /// The Entra tenant of a single-tenant bot (tokens from the tenant's endpoint,
    /// activities of other tenants refused, the tenant of new threads).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Where the signing keys of inbound tokens are published (tests point it at a fake).
    #[serde(default = "default_openid_metadata_url")]
    pub openid_metadata_url: String,
    /// The OAuth token endpoint for outbound calls (tests point it at a fake).
    #[serde(default = "default_token_url")]
    pub token_url: String,
    /// The team's Bot Connector `serviceUrl` (e.g. `https://smba.trafficmanager.net/emea/`).
    pub service_url: String,
    /// The Teams channel handoffs are posted to: its conversation id,
    /// `19:…@thread.tacv2` (the bot must be installed in the team).
    pub channel_id: String,
}

fn default_openid_metadata_url() -> String {
    DEFAULT_OPENID_METADATA_URL.into()
}

fn default_token_url() -> String {
    DEFAULT_TOKEN_URL.into()
}

impl TeamsDeskConfig {
    /// Pure checks: every problem, with its key.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::default();
        if self.app_id.trim().is_empty() {
            errors.push("app_id", "missing");
        } else if self.app_id.chars().any(|c| c.is_whitespace() || c == '/') {
            errors.push("app_id", "must be the bot's Microsoft App ID (no spaces)");
        }
        if self.app_password.is_empty() {
            errors.push("app_password", "missing");
        }
        if let Some(tenant) = &self.tenant_id {
            let ok = !tenant.is_empty()
                && tenant
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
            if !ok {
                errors.push(
                    "tenant_id",
                    "must be a tenant id (a GUID) or domain, or be left out for a multi-tenant bot",
                );
            }
        }
        for (key, value) in [
            ("openid_metadata_url", &self.openid_metadata_url),
            ("token_url", &self.token_url),
            ("service_url", &self.service_url),
        ] {
            if key == "service_url" && value.trim().is_empty() {
                errors.push(key, "missing");
                continue;
            }
            match url::Url::parse(value) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => errors.push(key, "must be an http(s) URL"),
            }
        }
        let channel = self.channel_id.trim();
        if channel.is_empty() {
            errors.push("channel_id", "missing");
        } else if !channel.starts_with("19:")
            || channel.contains(char::is_whitespace)
            || channel.contains(';')
        {
            errors.push(
                "channel_id",
                "must be a Teams channel conversation id such as 19:…@thread.tacv2",
            );
        }
        errors.into_result()
    }

    /// The bot's own account id, `28:<app_id>`.
    pub(crate) fn bot_id(&self) -> String {
        format!("28:{}", self.app_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> TeamsDeskConfig {
        toml_like(
            r#"{"app_id": "5e0b7d2c-1a3f-4c8e-9b6d-2f4a6c8e0b1d", "app_password": "pw",
                "service_url": "https://smba.trafficmanager.net/emea/",
                "channel_id": "19:a1b2c3@thread.tacv2"}"#,
        )
    }

    fn toml_like(json: &str) -> TeamsDeskConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_complete_config_passes_with_the_channel_defaults() {
        let c = sample();
        assert!(c.validate().is_ok());
        assert_eq!(c.token_url, DEFAULT_TOKEN_URL);
        assert_eq!(c.openid_metadata_url, DEFAULT_OPENID_METADATA_URL);
        assert_eq!(c.bot_id(), "28:5e0b7d2c-1a3f-4c8e-9b6d-2f4a6c8e0b1d");
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let c = TeamsDeskConfig {
            app_id: "has space".into(),
            app_password: Secret::default(),
            tenant_id: Some("not a tenant".into()),
            openid_metadata_url: "ftp://x".into(),
            token_url: "nope".into(),
            service_url: String::new(),
            channel_id: "C0SUPPORT1".into(),
        };
        let text = c.validate().unwrap_err().to_string();
        for key in [
            "app_id",
            "app_password",
            "tenant_id",
            "openid_metadata_url",
            "token_url",
            "service_url",
            "channel_id",
        ] {
            assert!(text.contains(key), "{key} missing from: {text}");
        }
        let thread = TeamsDeskConfig {
            channel_id: "19:a1b2c3@thread.tacv2;messageid=1".into(),
            ..sample()
        };
        assert!(thread.validate().is_err(), "a thread is not a channel");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = serde_json::from_str::<TeamsDeskConfig>(
            r#"{"app_id": "a", "app_password": "p", "service_url": "https://x/",
                "channel_id": "19:x@thread.tacv2", "bot_token": "x"}"#,
        );
        assert!(err.is_err());
    }
}
