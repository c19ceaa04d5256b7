//! A local HTTP endpoint standing in for something outside Tandem (a custom front-end
//! receiving the webhook channel's messages). It records every request and answers
//! with a scriptable status.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Request headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Bytes,
    /// Status answered.
    pub status: u16,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Recorded {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

#[derive(Default)]
struct Inner {
    requests: Mutex<Vec<Recorded>>,
    status: AtomicU16,
}

/// A fake endpoint on 127.0.0.1.
#[derive(Clone)]
pub struct FakeEndpoint {
    inner: Arc<Inner>,
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
}

impl FakeEndpoint {
    /// Starts answering `status` to every POST on `/hook`.
    pub async fn start(status: u16) -> FakeEndpoint {
        let inner = Arc::new(Inner {
            requests: Mutex::new(Vec::new()),
            status: AtomicU16::new(status),
        });
        let app = Router::new()
            .route("/hook", post(record))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake");
        let addr = listener.local_addr().expect("fake addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeEndpoint {
            inner,
            url: format!("http://{addr}/hook"),
        }
    }

    /// Changes the status answered from now on.
    pub fn set_status(&self, status: u16) {
        self.inner.status.store(status, Ordering::SeqCst);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().expect("lock").clone()
    }

    /// Requests answered with 2xx.
    pub fn delivered(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }
}

async fn record(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let status = inner.status.load(Ordering::SeqCst);
    inner.requests.lock().expect("lock").push(Recorded {
        headers,
        body,
        status,
        at: std::time::Instant::now(),
    });
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
