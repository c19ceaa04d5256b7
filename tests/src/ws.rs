//! A web chat client over a real WebSocket.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// A connected web chat client.
pub struct WsClient {
    ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
}

impl WsClient {
    /// Connects to `ws://<addr>/webchat/ws`.
    pub async fn connect(addr: &str) -> WsClient {
        let (ws, _) = connect_async(format!("ws://{addr}/webchat/ws")).await.expect("websocket connect");
        WsClient { ws }
    }

    /// Connects and says hello; returns the client and the welcome frame.
    pub async fn hello(addr: &str, session: Option<&str>) -> (WsClient, Value) {
        let mut c = Self::connect(addr).await;
        let mut hello = json!({"type": "hello"});
        if let Some(s) = session {
            hello["session"] = json!(s);
        }
        c.send(hello).await;
        let welcome = c.recv_type("welcome").await;
        (c, welcome)
    }

    /// Sends a JSON frame.
    pub async fn send(&mut self, frame: Value) {
        self.ws.send(Message::Text(frame.to_string().into())).await.expect("send frame");
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
        self.try_recv(10).await.expect("expected a frame within 10 s")
    }

    /// The next JSON frame within `secs`, skipping pings.
    pub async fn try_recv(&mut self, secs: u64) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => return Some(serde_json::from_str(&t).expect("server sends JSON")),
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                _ => return None,
            }
        }
    }

    /// Reads frames until one of `type` arrives (others are dropped), within 10 s.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let f = self.recv().await;
            if f["type"] == kind {
                return f;
            }
        }
    }

    /// Reads the next `message` frame from someone other than the customer, within 10 s.
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
        self.send(json!({"type": "message", "id": id, "text": text})).await;
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
