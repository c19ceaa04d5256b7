//! The adapter conformance kit and the fixture snapshots, run against the Messenger
//! channel with the kit's fake Send API.

use tandem_channel_messenger::{Messenger, MessengerConfig};
use tandem_testkit::fake::MessengerFake;
use tandem_testkit::http::Request;
use tandem_testkit::payloads::{messenger_event, messenger_text, meta_signature};
use tandem_testkit::{Body, ChannelDriver, Recorded, Reply};

const SECRET: &str = "test_app_secret";
const TOKEN: &str = "test-page-token";
const PAGE_ID: &str = "112233445566778";

#[derive(Default)]
struct Driver;

fn signed(body: Vec<u8>, secret: &str) -> Request<Body> {
    Request::post("/webhooks/messenger")
        .header("content-type", "application/json")
        .header("x-hub-signature-256", meta_signature(secret, &body))
        .body(Body::from(body))
        .expect("valid request")
}

impl ChannelDriver for Driver {
    type Factory = Messenger;
    type Platform = MessengerFake;
    const EXAMPLE: &'static str = include_str!("../../../../config/examples/messenger.toml");

    async fn start_platform(&self) -> MessengerFake {
        MessengerFake::start(TOKEN, "v21.0").await
    }

    fn config(&self, platform: &MessengerFake) -> MessengerConfig {
        let toml = format!(
            r#"
            app_secret = "{SECRET}"
            verify_token = "verify-me"
            page_access_token = "{TOKEN}"
            api_base = "{}"
            "#,
            platform.base_url()
        );
        toml::from_str(&toml).expect("driver config")
    }

    fn sender(&self) -> String {
        "6876543210987654".into()
    }

    fn inbound_text(&self, from: &str, text: &str, id: &str) -> Request<Body> {
        let body = messenger_text(PAGE_ID, from, text, &format!("m_{id}"), 1_767_261_600_123);
        signed(body.into_bytes(), SECRET)
    }

    fn inbound_forged(&self, from: &str, text: &str, id: &str) -> Request<Body> {
        let body = messenger_text(PAGE_ID, from, text, &format!("m_{id}"), 1_767_261_600_123);
        signed(body.into_bytes(), "not-the-app-secret")
    }

    fn inbound_unsupported(&self, from: &str, id: &str) -> Option<Request<Body>> {
        let event = serde_json::json!({"optin": {"ref": format!("optin-{id}")}});
        Some(signed(
            messenger_event(PAGE_ID, from, 1_767_261_600_123, event).into_bytes(),
            SECRET,
        ))
    }

    fn inbound_raw(&self, body: Vec<u8>) -> Request<Body> {
        signed(body, SECRET)
    }

    fn script(&self, platform: &MessengerFake, reply: Reply) {
        platform.script(reply);
    }

    fn sends(&self, platform: &MessengerFake) -> Vec<Recorded> {
        platform.sends()
    }
}

tandem_testkit::channel_conformance!(Driver);
tandem_testkit::check_inbound_fixtures!(Driver);
