//! [`HttpBot`]: a [`Bot`] behind Tandem's generic HTTP bot contract, version 1
//! (`docs/INTERFACE.md`, "HTTP bot contract"), signed like the handoff webhook desk.
//!
//! Request: `POST {url}` with `x-tandem-timestamp: <unix seconds>` and
//! `x-tandem-signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, body
//! `{"version": 1, "type": "bot.question", "conversation_id", "channel", "text", "slots",
//! "last_intent"}`. Answer (2xx): `{"text", "buttons": [{"title", "payload"}], "fallback",
//! "intent", "confidence"}`, every field optional. Outcomes:
//! * text, `fallback` absent or false: the reply;
//! * `fallback: true`, no text, or a body that is not such an object: a **fallback** (its
//!   text when it has one, else the knowledge base's fallback reply);
//! * timeout, transport error or an error status: the built-in [`KnowledgeBot`] answers.

use crate::bot::KnowledgeBot;
use crate::llm_bot::MAX_ANSWER_CHARS;
use crate::openai::UNUSABLE;
use crate::rasa::{MAX_ANSWER_BYTES, kind_of};
use crate::slots::extract_slots;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tandem_core::ai::{AiCall, Bot, BotAnswer, BotQuestion};
use tandem_model::Button;
use tandem_sdk::signature::hmac_sha256_hex;
use tracing::warn;

/// The [`AiCall::provider`] of the HTTP bot's answers (its `[bot] kind`).
pub const HTTP: &str = "http";

/// The contract version sent in every question.
pub const HTTP_BOT_VERSION: u32 = 1;

/// Where and how to reach the bot.
#[derive(Debug, Clone)]
pub struct HttpBotConfig {
    /// The endpoint questions are posted to.
    pub url: String,
    /// The HMAC key signing each request.
    pub secret: String,
    /// Longest a call may take before the built-in bot answers instead.
    pub timeout: Duration,
}

/// The HTTP bot.
#[derive(Clone)]
pub struct HttpBot {
    config: HttpBotConfig,
    http: reqwest::Client,
    builtin: Arc<KnowledgeBot>,
}

impl std::fmt::Debug for HttpBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpBot")
            .field("url", &self.config.url)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    buttons: Vec<Button>,
    #[serde(default)]
    fallback: bool,
    #[serde(default)]
    intent: Option<String>,
    #[serde(default)]
    confidence: Option<f32>,
}

enum Outcome {
    Answer(Answer),
    Unusable,
    Failed,
}

impl HttpBot {
    /// A bot posting to `config.url`, with `builtin` as the stand-in.
    pub fn new(config: HttpBotConfig, http: reqwest::Client, builtin: Arc<KnowledgeBot>) -> Self {
        Self {
            config,
            http,
            builtin,
        }
    }

    async fn call(&self, question: &BotQuestion<'_>) -> (Outcome, AiCall) {
        let body = json!({
            "version": HTTP_BOT_VERSION,
            "type": "bot.question",
            "conversation_id": question.conversation,
            "channel": question.channel,
            "text": question.text,
            "slots": question.slots,
            "last_intent": question.last_intent,
        })
        .to_string();
        let audit = AiCall::new(HTTP).with_request(body.clone());
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
            .to_string();
        let sig = hmac_sha256_hex(
            self.config.secret.as_bytes(),
            &[ts.as_bytes(), b".", body.as_bytes()],
        );
        let request = self
            .http
            .post(&self.config.url)
            .header("content-type", "application/json")
            .header("x-tandem-timestamp", &ts)
            .header("x-tandem-signature", format!("sha256={sig}"))
            .body(body);
        let call = async {
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    warn!(
                        error.kind = if e.is_connect() {
                            "connect"
                        } else {
                            "transport"
                        },
                        "HTTP bot unreachable; the built-in bot answers."
                    );
                    return (Outcome::Failed, Some(kind_of(&e).to_owned()), None);
                }
            };
            if !response.status().is_success() {
                warn!(
                    status = response.status().as_u16(),
                    "HTTP bot refused a question; the built-in bot answers."
                );
                let status = format!("status {}", response.status().as_u16());
                return (Outcome::Failed, Some(status), None);
            }
            let Ok(body) = response.bytes().await else {
                return (Outcome::Unusable, Some(UNUSABLE.to_owned()), None);
            };
            if body.len() > MAX_ANSWER_BYTES {
                return (Outcome::Unusable, Some(UNUSABLE.to_owned()), None);
            }
            let text = String::from_utf8_lossy(&body).into_owned();
            match serde_json::from_slice::<Answer>(&body) {
                Ok(a) => (Outcome::Answer(a), None, Some(text)),
                Err(_) => (Outcome::Unusable, Some(UNUSABLE.to_owned()), Some(text)),
            }
        };
        let (outcome, error, response) = match tokio::time::timeout(self.config.timeout, call).await
        {
            Ok(outcome) => outcome,
            Err(_) => {
                warn!(
                    timeout_ms = self.config.timeout.as_millis() as u64,
                    "HTTP bot timed out; the built-in bot answers."
                );
                (Outcome::Failed, Some("timeout".to_owned()), None)
            }
        };
        let mut audit = audit;
        if let Some(response) = response {
            audit = audit.with_response(response);
        }
        if let Some(error) = error {
            audit = audit.with_fallback(error);
        }
        (outcome, audit)
    }
}

#[async_trait]
impl Bot for HttpBot {
    async fn answer(&self, question: BotQuestion<'_>) -> BotAnswer {
        let kb = self.builtin.knowledge_base();
        let (outcome, call) = self.call(&question).await;
        let fallback = |text: Option<String>, buttons: Vec<Button>, intent| BotAnswer {
            intent,
            confidence: 0.0,
            fallback: true,
            buttons: if text.is_some() {
                buttons
            } else {
                kb.fallback_buttons.clone()
            },
            text: text.unwrap_or_else(|| kb.fallback.clone()),
            slots: extract_slots(question.text),
            call: Some(call.clone()),
        };
        match outcome {
            Outcome::Answer(a) => {
                let text = a
                    .text
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty() && t.chars().count() <= MAX_ANSWER_CHARS);
                let buttons: Vec<Button> = a
                    .buttons
                    .into_iter()
                    .filter(|b| !b.title.trim().is_empty())
                    .collect();
                match text {
                    Some(text) if !a.fallback => BotAnswer {
                        intent: a.intent,
                        confidence: a.confidence.map_or(1.0, |c| c.clamp(0.0, 1.0)),
                        fallback: false,
                        text,
                        buttons,
                        slots: extract_slots(question.text),
                        call: Some(call.clone()),
                    },
                    text => fallback(text, buttons, a.intent),
                }
            }
            Outcome::Unusable => fallback(None, Vec::new(), None),
            Outcome::Failed => BotAnswer {
                call: Some(call.clone()),
                ..self.builtin.respond(question)
            },
        }
    }

    fn greeting(&self) -> Option<String> {
        self.builtin.greeting()
    }
}
