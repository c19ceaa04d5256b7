//! A fake plain JSON endpoint (Tandem's generic webhook channel posts here): answers
//! every `POST` from the script with plain HTTP statuses (`Retry-After` on 429).

use super::{Core, Recorded, Reply, Server, Shared, answer, incoming};
use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use std::sync::Arc;

/// A running fake endpoint.
#[derive(Debug)]
pub struct EndpointFake {
    server: Server,
    core: Shared<Core>,
}

impl EndpointFake {
    /// Starts a fake endpoint.
    pub async fn start() -> Self {
        let core = Arc::new(Core::default());
        let app = Router::new().fallback(handle).with_state(core.clone());
        Self {
            server: super::serve(app).await,
            core,
        }
    }

    /// The URL to post to (`<base>/hook`).
    pub fn url(&self) -> String {
        format!("{}/hook", self.server.base)
    }

    /// Queues how the next request is answered.
    pub fn script(&self, reply: Reply) {
        self.core.push(reply);
    }

    /// Every request received.
    pub fn requests(&self) -> Vec<Recorded> {
        self.core.requests()
    }
}

async fn handle(State(core): State<Shared<Core>>, req: Request) -> Response {
    let inc = incoming(req).await;
    let (status, headers) = match core.next_reply() {
        Reply::Ok | Reply::AcceptThenFail { .. } => (200, vec![]),
        Reply::RateLimited { retry_after_secs } => {
            (429, vec![("retry-after", retry_after_secs.to_string())])
        }
        Reply::Unauthorized => (401, vec![]),
        Reply::ServerError => (503, vec![]),
        Reply::WindowClosed | Reply::Blocked => (403, vec![]),
        Reply::GraphError { status, .. } => (status, vec![]),
    };
    let response = answer(status, serde_json::json!({"ok": status < 300}), &headers);
    core.record(inc.recorded(status));
    response
}
