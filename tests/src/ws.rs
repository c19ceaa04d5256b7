//! A web chat client over a real WebSocket.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// A connected web chat client.
pub struct WsClient {
    ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    /// Frames read while looking for another kind; handed out first.
    skipped: std::collections::VecDeque<Value>,
    /// The history replayed after `welcome` (see [`WsClient::hello`]).
    pub history: Vec<Value>,
}

impl WsClient {
    /// Connects to `ws://<addr>/webchat/ws`.
    pub async fn connect(addr: &str) -> WsClient {
        let (ws, _) = connect_async(format!("ws://{addr}/webchat/ws"))
            .await
            .expect("websocket connect");
        WsClient {
            ws,
            skipped: Default::default(),
            history: Vec::new(),
        }
    }

    /// A client over a stream connected by the caller (e.g. with its own headers).
    pub fn from_stream(ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>) -> WsClient {
        WsClient {
            ws,
            skipped: Default::default(),
            history: Vec::new(),
        }
    }

    /// Connects to any WebSocket URL (e.g. the agent console's `/console/ws`).
    pub async fn connect_url(url: &str) -> WsClient {
        let (ws, _) = connect_async(url).await.expect("websocket connect");
        WsClient {
            ws,
            skipped: Default::default(),
            history: Vec::new(),
        }
    }

    /// Connects and says hello; returns the client and the welcome frame. The history
    /// replay that follows the welcome (the server sends it at once) is read into
    /// [`WsClient::history`], so later reads see only new frames.
    pub async fn hello(addr: &str, session: Option<&str>) -> (WsClient, Value) {
        let mut hello = json!({"type": "hello"});
        if let Some(s) = session {
            hello["session"] = json!(s);
        }
        Self::hello_with(addr, hello).await
    }

    /// [`WsClient::hello`] as a verified user: the hello carries `user_token` (see
    /// [`crate::user_token`]).
    pub async fn hello_as(addr: &str, user_token: &str) -> (WsClient, Value) {
        Self::hello_with(addr, json!({"type": "hello", "user_token": user_token})).await
    }

    async fn hello_with(addr: &str, hello: Value) -> (WsClient, Value) {
        let mut c = Self::connect(addr).await;
        c.send(hello).await;
        let welcome = c.recv_type("welcome").await;
        while let Some(f) = c.read_frame_ms(300).await {
            c.history.push(f);
        }
        (c, welcome)
    }

    async fn read_frame_ms(&mut self, ms: u64) -> Option<Value> {
        match tokio::time::timeout(Duration::from_millis(ms), self.ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                Some(serde_json::from_str(&t).expect("server sends JSON"))
            }
            _ => None,
        }
    }

    /// Sends a JSON frame.
    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("send frame");
    }

    /// Sends a raw message.
    pub async fn send_raw(&mut self, msg: Message) {
        self.ws.send(msg).await.expect("send raw");
    }

    /// The next message (any kind) within `secs`, or `None` on timeout/close.
    pub async fn next_raw(&mut self, secs: u64) -> Option<Message> {
        match tokio::time::timeout(Duration::from_secs(secs), self.ws.next()).await {
            Ok(Some(Ok(m))) => Some(m),
            _ => None,
        }
    }

    /// The next JSON frame within 10 s (panics otherwise).
    pub async fn recv(&mut self) -> Value {
        self.try_recv(10)
            .await
            .expect("expected a frame within 10 s")
    }

    /// The next JSON frame within `secs`, skipping pings.
    pub async fn try_recv(&mut self, secs: u64) -> Option<Value> {
        if let Some(f) = self.skipped.pop_front() {
            return Some(f);
        }
        self.read_frame(secs).await
    }

    async fn read_frame(&mut self, secs: u64) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    return Some(serde_json::from_str(&t).expect("server sends JSON"));
                }
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                _ => return None,
            }
        }
    }

    /// The first frame of `type` (already read or arriving within 10 s); frames of other
    /// types stay queued, in order, for later reads.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        if let Some(pos) = self.skipped.iter().position(|f| f["type"] == kind) {
            return self.skipped.remove(pos).expect("position is in range");
        }
        loop {
            let f = self
                .read_frame(10)
                .await
                .unwrap_or_else(|| panic!("expected a {kind} frame within 10 s"));
            if f["type"] == kind {
                return f;
            }
            self.skipped.push_back(f);
        }
    }

    /// The next `message` frame from someone other than the customer, within 10 s (other
    /// frames stay queued; customer echoes from history replay are dropped).
    pub async fn recv_reply(&mut self) -> Value {
        loop {
            let f = self.recv_type("message").await;
            if f["from"] != "customer" {
                return f;
            }
        }
    }

    /// Sends a customer message and waits for its ack.
    pub async fn say(&mut self, id: &str, text: &str) {
        self.send(json!({"type": "message", "id": id, "text": text}))
            .await;
        let ack = self.recv_type("ack").await;
        assert_eq!(ack["id"], id, "ack for the message just sent");
    }

    /// Collects every frame arriving within `secs`.
    pub async fn drain(&mut self, secs: u64) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(f) = self.try_recv(secs).await {
            out.push(f);
        }
        out
    }
}
