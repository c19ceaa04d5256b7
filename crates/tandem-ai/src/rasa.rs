//! [`RasaBot`]: a [`Bot`] over a Rasa server's REST channel
//! (`POST {url}/webhooks/rest/webhook`, body `{"sender": .., "message": ..}`).
//!
//! Rasa answers with a JSON array of bot messages, each with `recipient_id` and any of
//! `text`, `buttons` (`[{"title", "payload"}]`) and `image`. Their texts (one paragraph
//! each, an image as its URL) and buttons become the reply. The `sender` is the
//! conversation id, so Rasa's tracker follows one Tandem conversation. Outcomes:
//! * messages with text or buttons: the reply (`fallback = false`, no intent: Rasa's REST
//!   channel does not report one);
//! * an empty array, or an answer that is not one: a **fallback** (the knowledge base's
//!   fallback reply), counted by the escalation policy like the built-in bot's;
//! * timeout, transport error or an error status: the built-in [`KnowledgeBot`] answers.

use crate::bot::KnowledgeBot;
use crate::slots::extract_slots;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tandem_core::ai::{AiCall, Bot, BotAnswer, BotQuestion};
use tandem_model::Button;
use tracing::warn;

/// The [`AiCall::provider`] of Rasa's answers (its `[bot] kind`).
pub const RASA: &str = "rasa";

/// The [`AiCall::error`] of an answer that could not be read.
const UNUSABLE: &str = crate::openai::UNUSABLE;

/// `connect` or `transport`: what kind of request failure `e` is.
pub(crate) fn kind_of(e: &reqwest::Error) -> &'static str {
    if e.is_connect() {
        "connect"
    } else {
        "transport"
    }
}

/// Most bytes read from one Rasa answer; a longer one is a fallback.
pub(crate) const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Where and how to reach Rasa.
#[derive(Debug, Clone)]
pub struct RasaConfig {
    /// The Rasa server's base URL, e.g. `http://rasa:5005`.
    pub url: String,
    /// Longest a call may take before the built-in bot answers instead.
    pub timeout: Duration,
}

/// The Rasa bot.
#[derive(Debug, Clone)]
pub struct RasaBot {
    webhook: String,
    timeout: Duration,
    http: reqwest::Client,
    builtin: Arc<KnowledgeBot>,
}

#[derive(Deserialize)]
struct RasaMessage {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    buttons: Vec<RasaButton>,
}

#[derive(Deserialize)]
struct RasaButton {
    #[serde(default)]
    title: String,
    #[serde(default)]
    payload: Option<String>,
}

enum Outcome {
    Messages(Vec<RasaMessage>),
    Unusable,
    Failed,
}

impl RasaBot {
    /// A bot calling Rasa at `config.url`, with `builtin` as the stand-in.
    pub fn new(config: RasaConfig, http: reqwest::Client, builtin: Arc<KnowledgeBot>) -> Self {
        Self {
            webhook: format!("{}/webhooks/rest/webhook", config.url.trim_end_matches('/')),
            timeout: config.timeout,
            http,
            builtin,
        }
    }

    async fn call(&self, sender: &str, message: &str) -> (Outcome, AiCall) {
        let body = json!({"sender": sender, "message": message});
        let audit = AiCall::new(RASA).with_request(body.to_string());
        let request = self.http.post(&self.webhook).json(&body);
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
                        "Rasa unreachable; the built-in bot answers."
                    );
                    return (Outcome::Failed, Some(kind_of(&e).to_owned()), None);
                }
            };
            if !response.status().is_success() {
                warn!(
                    status = response.status().as_u16(),
                    "Rasa refused a message; the built-in bot answers."
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
            match serde_json::from_slice::<Vec<RasaMessage>>(&body) {
                Ok(messages) => (Outcome::Messages(messages), None, Some(text)),
                Err(_) => (Outcome::Unusable, Some(UNUSABLE.to_owned()), Some(text)),
            }
        };
        let (outcome, error, response) = match tokio::time::timeout(self.timeout, call).await {
            Ok(outcome) => outcome,
            Err(_) => {
                warn!(
                    timeout_ms = self.timeout.as_millis() as u64,
                    "Rasa timed out; the built-in bot answers."
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

    fn fallback(&self, question: &BotQuestion<'_>, call: AiCall) -> BotAnswer {
        let kb = self.builtin.knowledge_base();
        BotAnswer {
            intent: None,
            confidence: 0.0,
            fallback: true,
            text: kb.fallback.clone(),
            buttons: kb.fallback_buttons.clone(),
            slots: extract_slots(question.text),
            call: Some(call),
        }
    }
}

/// The reply made of Rasa's messages: texts (and image URLs) one paragraph each, and every
/// button with a title (its payload defaults to the title).
fn reply(messages: Vec<RasaMessage>) -> (String, Vec<Button>) {
    let mut paragraphs = Vec::new();
    let mut buttons = Vec::new();
    for m in messages {
        for part in [m.text, m.image].into_iter().flatten() {
            let part = part.trim();
            if !part.is_empty() {
                paragraphs.push(part.to_owned());
            }
        }
        for b in m.buttons {
            let title = b.title.trim();
            if title.is_empty() {
                continue;
            }
            let payload = b
                .payload
                .filter(|p| !p.trim().is_empty())
                .unwrap_or_else(|| title.to_owned());
            buttons.push(Button {
                title: title.to_owned(),
                payload,
            });
        }
    }
    (paragraphs.join("\n\n"), buttons)
}

#[async_trait]
impl Bot for RasaBot {
    async fn answer(&self, question: BotQuestion<'_>) -> BotAnswer {
        let sender = if question.conversation.is_empty() {
            "tandem"
        } else {
            question.conversation
        };
        let (outcome, call) = self.call(sender, question.text).await;
        match outcome {
            Outcome::Messages(messages) => {
                let (text, buttons) = reply(messages);
                if text.is_empty() {
                    return self.fallback(&question, call);
                }
                BotAnswer {
                    intent: None,
                    confidence: 1.0,
                    fallback: false,
                    text,
                    buttons,
                    slots: extract_slots(question.text),
                    call: Some(call),
                }
            }
            Outcome::Unusable => self.fallback(&question, call),
            Outcome::Failed => BotAnswer {
                call: Some(call),
                ..self.builtin.respond(question)
            },
        }
    }

    fn greeting(&self) -> Option<String> {
        self.builtin.greeting()
    }
}
