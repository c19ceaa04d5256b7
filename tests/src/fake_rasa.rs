//! A local stand-in for a Rasa server's REST channel (`POST /webhooks/rest/webhook`),
//! answering a scripted JSON array of bot messages after a scripted delay.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Script {
    answer: Value,
    delay: Duration,
    requests: Vec<Value>,
}

/// A fake Rasa server on 127.0.0.1.
#[derive(Clone)]
pub struct FakeRasa {
    script: Arc<Mutex<Script>>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl FakeRasa {
    /// Starts answering `answer` (Rasa's array of messages) to every message.
    pub async fn start(answer: Value) -> FakeRasa {
        let script = Arc::new(Mutex::new(Script {
            answer,
            ..Script::default()
        }));
        let app = Router::new()
            .route("/webhooks/rest/webhook", post(webhook))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake rasa");
        let addr = listener.local_addr().expect("fake rasa addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeRasa {
            script,
            url: format!("http://{addr}"),
        }
    }

    /// From now on, answers `answer` after `delay`.
    pub fn script(&self, answer: Value, delay: Duration) {
        let mut s = self.script.lock().expect("lock");
        s.answer = answer;
        s.delay = delay;
    }

    /// The request bodies received so far (`{"sender", "message"}`).
    pub fn requests(&self) -> Vec<Value> {
        self.script.lock().expect("lock").requests.clone()
    }
}

async fn webhook(State(script): State<Arc<Mutex<Script>>>, Json(body): Json<Value>) -> Json<Value> {
    let (answer, delay) = {
        let mut s = script.lock().expect("lock");
        s.requests.push(body);
        (s.answer.clone(), s.delay)
    };
    tokio::time::sleep(delay).await;
    Json(answer)
}
