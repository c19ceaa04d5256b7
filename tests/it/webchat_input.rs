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

    c.send(json!({"type":"message","id":"x","text":"before hello"}))
        .await;
    assert_eq!(c.recv_type("error").await["code"], "hello_required");
    c.send(json!({"type":"hello"})).await;
    c.recv_type("welcome").await;

    c.send_raw(Message::Text("{not json".into())).await;
    assert_eq!(c.recv_type("error").await["code"], "bad_json");
    c.send(json!({"type":"teleport"})).await;
    assert_eq!(c.recv_type("error").await["code"], "unknown_type");
    c.send(json!({"type":"message","text":"no id"})).await;
    assert_eq!(c.recv_type("error").await["code"], "bad_frame");
    c.send(json!({"type":"message","id":"","text":"empty id"}))
        .await;
    assert_eq!(c.recv_type("error").await["code"], "bad_frame");
    c.send_raw(Message::Binary(vec![0xff, 0xfe, 0x00, 0xc3].into()))
        .await;
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
    // (RFC 6455 §8.1, close 1007 or a dropped connection), the process does not.
    let answer = send_invalid_utf8_text_frame(&tandem.addr).await;
    // A close frame (0x88) whose status code is 1007 (0x03 0xef).
    assert!(
        answer.len() >= 4 && answer[0] == 0x88 && answer[2..4] == [0x03, 0xef],
        "close 1007, got {answer:?}"
    );

    assert!(tandem.is_running(), "process alive");
    let health = tandem_e2e::get(tandem.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(!tandem.logs().contains("panicked"), "no panic in logs");
}

/// Opens a WebSocket by hand (the client library refuses to send invalid UTF-8 as text),
/// sends one masked text frame whose payload is not UTF-8, and returns what the server
/// sent back before closing.
async fn send_invalid_utf8_text_frame(addr: &str) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /webchat/ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "upgraded: {}",
        String::from_utf8_lossy(&head)
    );
    let payload = [0xffu8, 0xfe, 0xfd];
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    tcp.write_all(&frame).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tcp.read_to_end(&mut answer),
    )
    .await;
    answer
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
    // No connection reuse: the oversize request ends its connection early (413 and close),
    // and a pooled connection would then break the next request.
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
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
    let r = client
        .post(tandem.url("/webhooks/generic"))
        .body(vec![b'x'; 2 * 1024 * 1024])
        .send()
        .await;
    // Either 413 or a reset connection for a body this large; never a crash.
    if let Ok(r) = r {
        assert!(r.status() == 413 || r.status() == 401, "got {}", r.status());
    }
    let r = client
        .post(tandem.url("/webhooks/generic"))
        .body(vec![0xff, 0xfe])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "unsigned bodies are refused before parsing"
    );
    assert!(tandem.is_running());
}
