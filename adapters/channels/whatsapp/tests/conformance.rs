//! The adapter conformance kit and the fixture snapshots, run against the WhatsApp
//! channel with the kit's fake Cloud API.

use tandem_channel_whatsapp::{WhatsApp, WhatsAppConfig};
use tandem_testkit::fake::WhatsAppFake;
use tandem_testkit::http::Request;
use tandem_testkit::payloads::{meta_signature, whatsapp_message, whatsapp_text};
use tandem_testkit::{Body, ChannelDriver, Recorded, Reply};

const SECRET: &str = "test_app_secret";
const TOKEN: &str = "test-access-token";
const NUMBER_ID: &str = "109876543210987";

#[derive(Default)]
struct Driver;

fn signed(body: Vec<u8>, secret: &str) -> Request<Body> {
    Request::post("/webhooks/whatsapp")
        .header("content-type", "application/json")
        .header("x-hub-signature-256", meta_signature(secret, &body))
        .body(Body::from(body))
        .expect("valid request")
}

impl ChannelDriver for Driver {
    type Factory = WhatsApp;
    type Platform = WhatsAppFake;
    const EXAMPLE: &'static str = include_str!("../../../../config/examples/whatsapp.toml");

    async fn start_platform(&self) -> WhatsAppFake {
        WhatsAppFake::start(TOKEN, NUMBER_ID, "v21.0").await
    }

    fn config(&self, platform: &WhatsAppFake) -> WhatsAppConfig {
        let toml = format!(
            r#"
            app_secret = "{SECRET}"
            verify_token = "verify-me"
            access_token = "{TOKEN}"
            phone_number_id = "{NUMBER_ID}"
            api_base = "{}"
            "#,
            platform.base_url()
        );
        toml::from_str(&toml).expect("driver config")
    }

    fn sender(&self) -> String {
        "4915112345678".into()
    }

    fn inbound_text(&self, from: &str, text: &str, id: &str) -> Request<Body> {
        let body = whatsapp_text(
            NUMBER_ID,
            from,
            "Lena",
            text,
            &format!("wamid.{id}"),
            1_767_261_600,
        );
        signed(body.into_bytes(), SECRET)
    }

    fn inbound_forged(&self, from: &str, text: &str, id: &str) -> Request<Body> {
        let body = whatsapp_text(
            NUMBER_ID,
            from,
            "Lena",
            text,
            &format!("wamid.{id}"),
            1_767_261_600,
        );
        signed(body.into_bytes(), "not-the-app-secret")
    }

    fn inbound_unsupported(&self, from: &str, id: &str) -> Option<Request<Body>> {
        let message = serde_json::json!({
            "from": from, "id": format!("wamid.{id}"), "timestamp": "1767261600",
            "type": "order", "order": {"catalog_id": "1", "product_items": []},
        });
        Some(signed(
            whatsapp_message(NUMBER_ID, from, "Lena", message).into_bytes(),
            SECRET,
        ))
    }

    fn inbound_raw(&self, body: Vec<u8>) -> Request<Body> {
        signed(body, SECRET)
    }

    fn script(&self, platform: &WhatsAppFake, reply: Reply) {
        platform.script(reply);
    }

    fn sends(&self, platform: &WhatsAppFake) -> Vec<Recorded> {
        platform.sends()
    }
}

tandem_testkit::channel_conformance!(Driver);
tandem_testkit::check_inbound_fixtures!(Driver);
