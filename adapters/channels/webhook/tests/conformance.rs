//! The adapter conformance kit run against the generic webhook channel, with the kit's
//! fake JSON endpoint as the receiving front-end. The channel has no platform message
//! ids for sends and no "unknown event" to record (malformed bodies are refused with
//! 400), so those parts of the scenarios do not apply.

use tandem_channel_webhook::{WebhookChannel, WebhookChannelConfig};
use tandem_testkit::fake::EndpointFake;
use tandem_testkit::http::Request;
use tandem_testkit::{Body, ChannelDriver, Recorded, Reply};

const SECRET: &str = "conformance-secret";

#[derive(Default)]
struct Driver;

fn signed(body: Vec<u8>, secret: &str) -> Request<Body> {
    let ts = time_now().to_string();
    let sig =
        tandem_sdk::signature::hmac_sha256_hex(secret.as_bytes(), &[ts.as_bytes(), b".", &body]);
    Request::post("/webhooks/generic")
        .header("content-type", "application/json")
        .header("x-tandem-timestamp", ts)
        .header("x-tandem-signature", format!("sha256={sig}"))
        .body(Body::from(body))
        .expect("valid request")
}

fn time_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn text_body(from: &str, text: &str, id: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"id": id, "from": {"id": from}, "text": text}))
        .expect("JSON")
}

impl ChannelDriver for Driver {
    type Factory = WebhookChannel;
    type Platform = EndpointFake;
    const EXAMPLE: &'static str = include_str!("../../../../config/examples/webhook.toml");
    const RETURNS_PLATFORM_ID: bool = false;

    async fn start_platform(&self) -> EndpointFake {
        EndpointFake::start().await
    }

    fn config(&self, platform: &EndpointFake) -> WebhookChannelConfig {
        toml::from_str(&format!(
            "url = \"{}\"\nsecret = \"{SECRET}\"\n",
            platform.url()
        ))
        .expect("driver config")
    }

    fn sender(&self) -> String {
        "visitor-42".into()
    }

    fn inbound_text(&self, from: &str, text: &str, id: &str) -> Request<Body> {
        signed(text_body(from, text, id), SECRET)
    }

    fn inbound_forged(&self, from: &str, text: &str, id: &str) -> Request<Body> {
        signed(text_body(from, text, id), "not-the-secret")
    }

    fn inbound_unsupported(&self, _from: &str, _id: &str) -> Option<Request<Body>> {
        None
    }

    fn inbound_raw(&self, body: Vec<u8>) -> Request<Body> {
        signed(body, SECRET)
    }

    fn script(&self, platform: &EndpointFake, reply: Reply) {
        platform.script(reply);
    }

    fn sends(&self, platform: &EndpointFake) -> Vec<Recorded> {
        platform.requests()
    }
}

tandem_testkit::channel_conformance!(Driver);
