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
            "type": "hologram", "hologram": {"id": "1"},
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

/// Issue 18 acceptance 2: a well-signed batch mixing an unreadable message, a readable
/// one and a field Tandem does not use is answered 2xx and the readable one recorded.
#[tokio::test]
async fn a_batch_with_an_unreadable_message_is_acknowledged_and_the_rest_recorded() {
    let h = tandem_testkit::Harness::<Driver>::start().await;
    let body = serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "messages", "value": {"metadata": {"phone_number_id": NUMBER_ID},
            "messages": [
                {"from": "4915112345678", "id": "wamid.bad", "timestamp": "1767261600", "type": "text", "text": {"body": {"rich": true}}},
                {"from": "4915112345678", "id": "wamid.ok", "timestamp": "1767261601", "type": "text", "text": {"body": "hello"}}
            ]}},
        {"field": "message_template_status_update", "value": {"event": "APPROVED"}}
    ]}]});
    let (status, _) = h
        .call(h.driver.inbound_raw(body.to_string().into_bytes()))
        .await;
    assert_eq!(status, 200);
    let ids: Vec<String> = h
        .inbound
        .accepted()
        .iter()
        .map(|m| m.platform_message_id.as_str().to_owned())
        .collect();
    assert_eq!(ids, ["wamid.bad", "wamid.ok"]);
    let (status, _) = h
        .call(
            h.driver
                .inbound_raw(br#"{"object":"page","entry":[]}"#.to_vec()),
        )
        .await;
    assert_eq!(status, 200, "another object is acknowledged");
}
