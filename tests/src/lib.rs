//! The end-to-end harness: starts the real `tandem` binary on a free loopback port with a
//! temporary data folder, and gives tests real clients (HTTP, WebSocket) and local fakes
//! of the outside world. Nothing of Tandem is faked here.

pub mod fake;
pub mod fake_llm;
pub mod fake_rasa;
pub mod process;
pub mod store;
pub mod ws;

pub use fake::{FakeEndpoint, Recorded};
pub use fake_llm::FakeLlm;
pub use fake_rasa::FakeRasa;
pub use process::{Tandem, binary, unix_now};
pub use store::TestStore;
pub use ws::WsClient;

/// The HTTP client of the tests: every request gives up after 30 s (connecting after 5 s),
/// so a server that stops answering fails the test with an error instead of hanging it.
pub fn http() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .connect_timeout(std::time::Duration::from_secs(5))
                // Below the server's idle keep-alive timeout (10 s): a pooled connection
                // the server is closing is never reused (a request on it would fail
                // with "connection closed before message completed").
                .pool_idle_timeout(std::time::Duration::from_secs(4))
                .build()
                .expect("an HTTP client")
        })
        .clone()
}

/// `GET url` with [`http`]'s time limits (a drop-in for `reqwest::get`).
pub async fn get<U: reqwest::IntoUrl>(url: U) -> reqwest::Result<reqwest::Response> {
    http().get(url).send().await
}

/// hex(HMAC-SHA256(key, parts...)).
pub fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// A web chat `user_token`: a JWT (HS256) signed with `secret` carrying the `id`, `email`,
/// `phone` and `name` of `user` (as `sub`, `email`, `phone`, `name`), valid for an hour.
pub fn user_token(secret: &[u8], user: &serde_json::Value) -> String {
    let mut claims = serde_json::json!({
        "sub": user["id"],
        "exp": unix_now() + 3600,
    });
    for key in ["email", "phone", "name"] {
        if let Some(v) = user.get(key) {
            claims[key] = v.clone();
        }
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("a token encodes")
}

/// Polls `f` every 50 ms until it returns `Some`, or panics after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {secs}s waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
