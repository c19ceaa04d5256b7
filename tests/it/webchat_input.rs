//! Bad input never panics: every malformed frame gets an error, the process lives on.

use crate::WEBCHAT_ONLY;
use serde_json::json;
use tandem_e2e::{Tandem, WsClient};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test]
async fn malformed_frames_get_errors_and_the_socket_survives() {
    let dir = tempfile::tempdir().unwrap();
    let mut tandem = Tandem::start(dir.path(), WEBCHAT_ONLY).await;
    let mut c = WsClient::connect(&tandem.addr).await;

    c.send(json!({"type":"message","id":"x","text":"before hello"})).await;
    assert_eq!(c.recv_type("error").await["code"], "hello_required");
    c.send(json!({"type":"hello"})).await;
    c.recv_type("welcome").await;

    c.send_raw(Message::Text("{not json".into())).await;
    assert_eq!(c.recv_type("error").await["code"], "bad_json");
    c.send(json!({"type":"teleport"})).await;
    assert_eq!(c.recv_type("error").await["code"], "unknown_type");
    c.send(json!({"type":"message","text":"no id"})).await;
    assert_eq!(c.recv_type("error").await["code"], "bad_frame");
    c.send(json!({"type":"message","id":"","text":"empty id"})).await;
    assert_eq!(c.recv_type("error").await["code"], "bad_frame");
    c.send_raw(Message::Binary(vec![0xff, 0xfe, 0x00, 0xc3].into())).await;
    assert_eq!(c.recv_type("error").await["code"], "invalid_utf8");
    c.send(json!({"type":"hello"})).await;
    assert_eq!(c.recv_type("error").await["code"], "already_greeted");

    // Still usable after all that.
    c.say("ok1", "what are your opening hours?").await;
    c.recv_reply().await;

    // Oversize: error frame, then close 1009.
    let big = json!({"type":"message","id":"big","text":"a".repeat(70 * 1024)});
    c.send(big).await;
    assert_eq!(c.recv_type("error").await["code"], "frame_too_large");
    let mut closed_with = None;
    while let Some(m) = c.next_raw(5).await {
        if let Message::Close(frame) = m {
            closed_with = frame.map(|f| f.code);
            break;
        }
    }
    assert_eq!(closed_with, Some(CloseCode::Size));

    // Invalid UTF-8 inside a text frame is a protocol violation: the connection ends
    // (RFC 6455 §8.1), the process does not.
    let mut raw = WsClient::connect(&tandem.addr).await;
    raw.send_raw(Message::Text(unsafe_free_invalid_text())).await;
    let _ = raw.next_raw(2).await;

    assert!(tandem.is_running(), "process alive");
    let health = reqwest::get(tandem.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(!tandem.logs().contains("panicked"), "no panic in logs");
}

/// A text frame whose payload is not UTF-8 cannot be built through the safe API, so send
/// the closest thing the client allows: a lone surrogate escape that JSON rejects.
fn unsafe_free_invalid_text() -> tokio_tungstenite::tungstenite::Utf8Bytes {
    "{\"type\":\"message\",\"id\":\"u\",\"text\":\"\\ud800\"}".into()
}

#[tokio::test]
async fn oversize_webhook_bodies_and_bad_json_are_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"
[channels.webhook]
url = "http://127.0.0.1:9/unused"
secret = "s"
"#;
    let mut tandem = Tandem::start(dir.path(), config).await;
    let client = reqwest::Client::new();
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let body = b"{not json".to_vec();
    let sig = tandem_e2e::hmac_hex(b"s", &[ts.as_bytes(), b".", &body]);
    let r = client
        .post(tandem.url("/webhooks/generic"))
        .header("x-tandem-timestamp", &ts)
        .header("x-tandem-signature", format!("sha256={sig}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client.post(tandem.url("/webhooks/generic")).body(vec![b'x'; 2 * 1024 * 1024]).send().await;
    // Either 413 or a reset connection for a body this large; never a crash.
    if let Ok(r) = r {
        assert!(r.status() == 413 || r.status() == 401, "got {}", r.status());
    }
    let r = client.post(tandem.url("/webhooks/generic")).body(vec![0xff, 0xfe]).send().await.unwrap();
    assert_eq!(r.status(), 401, "unsigned bodies are refused before parsing");
    assert!(tandem.is_running());
}
