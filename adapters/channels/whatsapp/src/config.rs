//! `[channels.whatsapp]` configuration and its pure checks.

use serde::Deserialize;
use tandem_sdk::model::{Pacing, TemplateMessage};
use tandem_sdk::{ConfigErrors, Secret};

/// Configuration of a WhatsApp Cloud API channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppConfig {
    /// The Meta App Secret: key of the `X-Hub-Signature-256` HMAC on webhooks.
    pub app_secret: Secret,
    /// The token Meta echoes in the `GET` verification handshake (`hub.verify_token`).
    pub verify_token: Secret,
    /// System-user or business access token for the Graph API (`Authorization: Bearer`).
    pub access_token: Secret,
    /// The business phone number id messages are sent from (and webhooks are for).
    pub phone_number_id: String,
    /// Graph API base URL (tests point it at a local fake).
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// Graph API version, e.g. `v21.0`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The approved template sent instead of a free-form message when the 24-hour
    /// customer-service window is closed. Parameters may use `{name}` and `{text}`.
    /// Without it such messages are marked `undeliverable: window_closed`.
    #[serde(default)]
    pub window_template: Option<TemplateConfig>,
    /// Label of the button that opens a list message (at most 20 characters).
    #[serde(default = "default_list_button")]
    pub list_button: String,
    /// Send pacing; defaults from Meta's published limits (80 messages per second per
    /// number; bursts of 45 then one per 6 s to the same user).
    #[serde(default = "default_pacing")]
    pub pacing: Pacing,
}

/// A template reference in config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    /// The approved template's name.
    pub name: String,
    /// Its language code, e.g. `en_US`.
    pub language: String,
    /// Body parameters in order; `{name}` and `{text}` are filled in.
    #[serde(default)]
    pub params: Vec<String>,
}

impl TemplateConfig {
    /// As the model's template.
    pub fn to_template(&self) -> TemplateMessage {
        TemplateMessage {
            name: self.name.clone(),
            language: self.language.clone(),
            params: self.params.clone(),
        }
    }
}

fn default_api_base() -> String {
    "https://graph.facebook.com".into()
}

fn default_api_version() -> String {
    "v21.0".into()
}

fn default_list_button() -> String {
    "Choose".into()
}

/// Meta's published limits for one business number.
pub(crate) fn default_pacing() -> Pacing {
    Pacing {
        per_second: 80,
        burst: 80,
        per_recipient_interval_ms: 6_000,
        per_recipient_burst: 45,
    }
}

impl WhatsAppConfig {
    /// Pure checks: every problem, with its key.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::default();
        for (key, value) in [
            ("app_secret", &self.app_secret),
            ("verify_token", &self.verify_token),
            ("access_token", &self.access_token),
        ] {
            if value.is_empty() {
                errors.push(key, "missing");
            }
        }
        if self.phone_number_id.is_empty() {
            errors.push("phone_number_id", "missing");
        } else if !self.phone_number_id.chars().all(|c| c.is_ascii_digit()) {
            errors.push(
                "phone_number_id",
                "must be the numeric phone number id, not the phone number",
            );
        }
        check_base(&self.api_base, &mut errors);
        if !valid_version(&self.api_version) {
            errors.push("api_version", "must look like v21.0");
        }
        if self.list_button.is_empty() || self.list_button.chars().count() > 20 {
            errors.push("list_button", "must be 1 to 20 characters");
        }
        if let Some(t) = &self.window_template {
            if t.name.is_empty() {
                errors.push("window_template.name", "missing");
            }
            if t.language.is_empty() {
                errors.push("window_template.language", "missing");
            }
        }
        errors.into_result()
    }
}

/// Checks an http(s) base URL.
pub(crate) fn check_base(base: &str, errors: &mut ConfigErrors) {
    match url::Url::parse(base) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => errors.push("api_base", "must be an http(s) URL"),
    }
}

/// `v` followed by digits and dots.
pub(crate) fn valid_version(v: &str) -> bool {
    v.strip_prefix('v').is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
    })
}
