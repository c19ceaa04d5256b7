//! An OpenAI-compatible provider (OpenAI, Azure OpenAI, Ollama, vLLM, ...) for handoff
//! briefings and sentiment, over the Chat Completions API. Every call has a timeout and
//! falls back to the built-in offline provider, so a slow or failing model never delays a
//! handoff by more than the timeout, and never loses one.
//!
//! Privacy: the briefing prompt contains the transcript. Operators opt in by setting
//! `[ai] provider = "openai"`; nothing is sent otherwise.

use crate::summary;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tandem_core::ai::{
    AiCall, BriefingInput, BriefingSummary, Sentiment, SentimentAnalyzer, Summarizer,
};
use tandem_model::Party;
use tracing::{debug, warn};

/// Where and how to reach the model.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Base URL up to `/v1`, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// Bearer token, when the endpoint needs one.
    pub api_key: Option<String>,
    /// Model name.
    pub model: String,
    /// Longest a call may take before the built-in provider answers instead.
    pub timeout: Duration,
}

/// A Chat Completions client shared by the summarizer and the sentiment analyzer.
#[derive(Clone)]
pub struct OpenAiClient {
    config: Arc<OpenAiConfig>,
    http: reqwest::Client,
}

impl std::fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("base_url", &self.config.base_url)
            .field("model", &self.config.model)
            .finish()
    }
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    #[serde(default)]
    content: Option<String>,
}

impl OpenAiClient {
    /// A client using `http` (its own timeout is replaced by `config.timeout`).
    pub fn new(config: OpenAiConfig, http: reqwest::Client) -> Self {
        Self {
            config: Arc::new(config),
            http,
        }
    }

    /// The model asked.
    pub fn model(&self) -> &str {
        &self.config.model
    }

    /// One chat completion returning a JSON object, or `None` on timeout, error or an
    /// answer that is not a JSON object; with the exchange for the audit trail.
    async fn complete_json(&self, system: &str, user: &str) -> (Option<serde_json::Value>, AiCall) {
        let (chat, call) = self.exchange(system, user, true).await;
        match chat {
            Chat::Reply(content) => {
                match serde_json::from_str::<serde_json::Value>(strip_fences(&content))
                    .ok()
                    .filter(|v| v.is_object())
                {
                    Some(v) => (Some(v), call),
                    None => {
                        debug!("AI provider gave no usable answer; using the built-in provider.");
                        (None, call.with_fallback(UNUSABLE))
                    }
                }
            }
            Chat::Unusable => {
                debug!("AI provider gave no usable answer; using the built-in provider.");
                (None, call)
            }
            Chat::Failed => (None, call),
        }
    }

    /// One chat completion (temperature 0): the assistant's text, an answer that could not
    /// be read, or a failure (timeout, transport error, non-2xx status; logged at warn,
    /// without any text).
    pub async fn chat(&self, system: &str, user: &str, json_object: bool) -> Chat {
        self.exchange(system, user, json_object).await.0
    }

    /// [`OpenAiClient::chat`], with what was sent and answered for the AI audit trail:
    /// provider `openai`, the model, the request body (without the API key, which
    /// travels in a header), the assistant's text, and on failure `fell_back` with the
    /// reason (`timeout`, `connect`, `transport`, `status <code>`, `unusable answer`).
    pub async fn exchange(&self, system: &str, user: &str, json_object: bool) -> (Chat, AiCall) {
        let url = format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        );
        let mut body = json!({
            "model": self.config.model,
            "temperature": 0,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        });
        if json_object {
            body["response_format"] = json!({"type": "json_object"});
        }
        let call = AiCall::new("openai")
            .with_model(self.config.model.clone())
            .with_request(body.to_string());
        let mut request = self.http.post(url).json(&body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let attempt = async {
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    let kind = if e.is_connect() {
                        "connect"
                    } else {
                        "transport"
                    };
                    warn!(
                        error.kind = kind,
                        "AI provider unreachable; using the built-in provider."
                    );
                    return (Chat::Failed, call.with_fallback(kind));
                }
            };
            let status = response.status();
            if !status.is_success() {
                warn!(
                    status = status.as_u16(),
                    "AI provider refused a request; using the built-in provider."
                );
                return (
                    Chat::Failed,
                    call.with_fallback(format!("status {}", status.as_u16())),
                );
            }
            let Ok(completion) = response.json::<Completion>().await else {
                return (Chat::Unusable, call.with_fallback(UNUSABLE));
            };
            match completion
                .choices
                .into_iter()
                .next()
                .and_then(|c| c.message.content)
            {
                Some(content) => {
                    let call = call.with_response(content.clone());
                    (Chat::Reply(content), call)
                }
                None => (Chat::Unusable, call.with_fallback(UNUSABLE)),
            }
        };
        match tokio::time::timeout(self.config.timeout, attempt).await {
            Ok(outcome) => outcome,
            Err(_) => {
                warn!(
                    timeout_ms = self.config.timeout.as_millis() as u64,
                    "AI provider timed out; using the built-in provider."
                );
                let call = AiCall::new("openai")
                    .with_model(self.config.model.clone())
                    .with_request(body.to_string())
                    .with_fallback("timeout");
                (Chat::Failed, call)
            }
        }
    }
}

/// The [`AiCall::error`] of an answer that could not be used.
pub(crate) const UNUSABLE: &str = "unusable answer";

/// What one chat completion gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chat {
    /// The assistant message's text (untrusted: may be empty or anything).
    Reply(String),
    /// A 2xx answer that is not a chat completion, or one without content.
    Unusable,
    /// Timeout, transport error or an error status.
    Failed,
}

/// Models often wrap JSON in a Markdown code fence.
fn strip_fences(s: &str) -> &str {
    let t = s.trim();
    let t = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .unwrap_or(t);
    t.strip_suffix("```").unwrap_or(t).trim()
}

const SUMMARY_PROMPT: &str = "You brief a human customer-service agent who takes over a conversation from a bot. \
Answer with one JSON object with keys: intent (short snake_case string or null), attempted (array of short strings: what the bot already tried), \
status (one sentence: where it stalled), sentiment (one of positive, neutral, negative, worsening), text (at most 3 sentences the agent reads in three seconds). \
Do not invent facts.";

/// Briefings written by the model, with the built-in summary as fallback.
#[derive(Debug, Clone)]
pub struct OpenAiSummarizer {
    client: OpenAiClient,
}

impl OpenAiSummarizer {
    /// A summarizer over `client`.
    pub fn new(client: OpenAiClient) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Summarizer for OpenAiSummarizer {
    async fn summarize(&self, input: BriefingInput<'_>) -> BriefingSummary {
        let mut fallback = summary::summarize(input);
        let mut user = String::new();
        if let Some(name) = input.customer_name {
            user.push_str(&format!("Customer: {name}\n"));
        }
        let reasons: Vec<String> = input
            .decision
            .reasons
            .iter()
            .map(|r| format!("{} ({})", r.code, r.evidence))
            .collect();
        user.push_str(&format!(
            "Escalated because: {}\nTranscript:\n",
            reasons.join(", ")
        ));
        for e in input.transcript {
            let who = match e.from {
                Party::Customer => "Customer",
                Party::Bot => "Bot",
                Party::Agent => "Agent",
                Party::System => "System",
            };
            user.push_str(&format!(
                "{who}: {}\n",
                e.content.text().unwrap_or("[non-text message]")
            ));
        }
        let (answer, call) = self.client.complete_json(SUMMARY_PROMPT, &user).await;
        let Some(v) = answer else {
            fallback.call = Some(call);
            return fallback;
        };
        let text = v["text"].as_str().map(str::trim).filter(|t| !t.is_empty());
        let Some(text) = text else {
            fallback.call = Some(call.with_fallback(UNUSABLE));
            return fallback;
        };
        let sentiment = match v["sentiment"].as_str() {
            Some(s @ ("positive" | "neutral" | "negative" | "worsening")) => s.to_owned(),
            _ => fallback.sentiment.clone(),
        };
        BriefingSummary {
            intent: v["intent"].as_str().map(str::to_owned).or(fallback.intent),
            attempted: v["attempted"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or(fallback.attempted),
            status: v["status"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or(fallback.status),
            sentiment,
            text: text.chars().take(1000).collect(),
            call: Some(call),
        }
    }
}

const SENTIMENT_PROMPT: &str = "Rate the sentiment of the customer's message. Answer with one JSON object {\"compound\": x} \
where x is a number from -1 (very negative) to 1 (very positive).";

/// Sentiment scored by the model, with `fallback` (the built-in VADER) when it fails.
pub struct OpenAiSentiment<F> {
    client: OpenAiClient,
    fallback: F,
}

impl<F> std::fmt::Debug for OpenAiSentiment<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSentiment")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl<F: SentimentAnalyzer> OpenAiSentiment<F> {
    /// Sentiment over `client`, falling back to `fallback`.
    pub fn new(client: OpenAiClient, fallback: F) -> Self {
        Self { client, fallback }
    }
}

#[async_trait]
impl<F: SentimentAnalyzer> SentimentAnalyzer for OpenAiSentiment<F> {
    async fn analyze(&self, text: &str) -> Sentiment {
        let (answer, call) = self.client.complete_json(SENTIMENT_PROMPT, text).await;
        if let Some(v) = answer
            && let Some(x) = v["compound"].as_f64()
            && x.is_finite()
        {
            return Sentiment {
                compound: x.clamp(-1.0, 1.0) as f32,
                call: Some(call),
            };
        }
        let mut score = self.fallback.analyze(text).await;
        let call = if call.fell_back {
            call
        } else {
            call.with_fallback(UNUSABLE)
        };
        score.call = Some(call);
        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_are_stripped() {
        assert_eq!(strip_fences("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(strip_fences(" {\"a\":1} "), "{\"a\":1}");
    }
}
