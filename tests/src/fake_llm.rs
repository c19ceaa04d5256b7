//! A local stand-in for an OpenAI-compatible Chat Completions endpoint
//! (`POST /v1/chat/completions`), answering a scripted JSON content after a scripted delay.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Script {
    content: String,
    delay: Duration,
    requests: Vec<(Instant, Value)>,
}

/// A fake model server on 127.0.0.1.
#[derive(Clone)]
pub struct FakeLlm {
    script: Arc<Mutex<Script>>,
    /// `http://127.0.0.1:<port>/v1`.
    pub base_url: String,
}

impl FakeLlm {
    /// Starts answering `content` (the assistant message text) after `delay`.
    pub async fn start(content: Value, delay: Duration) -> FakeLlm {
        Self::start_text(content.to_string(), delay).await
    }

    /// Starts answering the plain text `content` after `delay`.
    pub async fn start_text(content: impl Into<String>, delay: Duration) -> FakeLlm {
        let script = Arc::new(Mutex::new(Script {
            content: content.into(),
            delay,
            requests: Vec::new(),
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake llm");
        let addr = listener.local_addr().expect("fake llm addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeLlm {
            script,
            base_url: format!("http://{addr}/v1"),
        }
    }

    /// From now on, answers the plain text `content` after `delay`.
    pub fn script(&self, content: impl Into<String>, delay: Duration) {
        let mut s = self.script.lock().expect("lock");
        s.content = content.into();
        s.delay = delay;
    }

    /// Requests received so far, with their arrival time.
    pub fn requests(&self) -> Vec<(Instant, Value)> {
        self.script.lock().expect("lock").requests.clone()
    }
}

async fn complete(
    State(script): State<Arc<Mutex<Script>>>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let (content, delay) = {
        let mut s = script.lock().expect("lock");
        s.requests.push((Instant::now(), body));
        (s.content.clone(), s.delay)
    };
    tokio::time::sleep(delay).await;
    Json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
    }))
}
