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
            app_id = "1234567890123456"
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
        // An event kind Meta may add one day.
        let event = serde_json::json!({"hologram": {"ref": format!("holo-{id}")}});
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

/// Issue 18 acceptance 2: a well-signed batch mixing an unreadable event, a readable one
/// and an event kind Tandem does not use is answered 2xx and the readable one recorded.
#[tokio::test]
async fn a_batch_with_an_unreadable_event_is_acknowledged_and_the_rest_recorded() {
    let h = tandem_testkit::Harness::<Driver>::start().await;
    let body = br#"{"object":"page","entry":[{"id":"112233445566778","time":1,"messaging":[
        {"sender":{"id":"6876543210987654"},"recipient":{"id":"112233445566778"},"timestamp":"yesterday","message":{"mid":"m_bad","text":"?"}},
        {"sender":{"id":"6876543210987654"},"recipient":{"id":"112233445566778"},"timestamp":1767261600000,"message":{"mid":"m_link","attachments":[{"type":"fallback","payload":null,"title":"A page","URL":"https://example.org/a"}]}},
        {"sender":{"id":"6876543210987654"},"recipient":{"id":"112233445566778"},"timestamp":1767261600001,"message":{"mid":"m_ok","text":"hello"}}
    ]}]}"#;
    let (status, _) = h.call(h.driver.inbound_raw(body.to_vec())).await;
    assert_eq!(status, 200);
    let ids: Vec<String> = h
        .inbound
        .accepted()
        .iter()
        .map(|m| m.platform_message_id.as_str().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids[0].starts_with("derived:"));
    assert_eq!(&ids[1..], ["m_link", "m_ok"]);
    // Events for another product are acknowledged too.
    let (status, _) = h
        .call(h.driver.inbound_raw(
            br#"{"object":"instagram","entry":[{"id":"1","time":1,"messaging":[]}]}"#.to_vec(),
        ))
        .await;
    assert_eq!(status, 200);
}

/// Issue 18 item 8: Meta blocking the Page is logged (WARN, without ids), not dropped
/// silently.
#[tokio::test]
async fn a_page_blocked_notice_is_logged_without_personal_data() {
    let (captured, _guard) = tandem_testkit::telemetry::capture();
    let h = tandem_testkit::Harness::<Driver>::start().await;
    let body = br#"{"object":"page","entry":[{"id":"112233445566778","time":1,"messaging":[
        {"recipient":{"id":"112233445566778"},"timestamp":1767261600000,"policy-enforcement":{"action":"block","reason":"Blocked for spam reports from +4915112345678"}}
    ]}]}"#;
    let (status, _) = h.call(h.driver.inbound_raw(body.to_vec())).await;
    assert_eq!(status, 200);
    assert!(h.inbound.accepted().is_empty());
    let warnings: Vec<_> = captured
        .info_and_above()
        .into_iter()
        .filter(|e| e.text.contains("policy enforcement"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].text.contains("block"));
    assert!(!warnings[0].text.contains("4915112345678"));
}
