//! The channel conformance kit (`crates/tandem-sdk/SPEC.md`) run against the echo
//! channel, with the kit's fake JSON endpoint as the echo platform. Echo returns no
//! platform message ids for sends.

use tandem_example_echo_channel::{Echo, EchoConfig};
use tandem_testkit::fake::EndpointFake;
use tandem_testkit::http::Request;
use tandem_testkit::{Body, ChannelDriver, Recorded, Reply};

const TOKEN: &str = "echo-conformance-token";

/// How to impersonate the echo platform.
#[derive(Default)]
struct Driver;

fn post(token: &str, body: serde_json::Value) -> Request<Body> {
    Request::post("/webhooks/echo")
        .header("content-type", "application/json")
        .header("x-echo-token", token)
        .body(Body::from(body.to_string()))
        .expect("valid request")
}

impl ChannelDriver for Driver {
    type Factory = Echo;
    type Platform = EndpointFake;
    const EXAMPLE: &'static str = include_str!("../echo.toml");
    const RETURNS_PLATFORM_ID: bool = false;

    async fn start_platform(&self) -> EndpointFake {
        EndpointFake::start().await
    }

    fn config(&self, platform: &EndpointFake) -> EchoConfig {
        toml::from_str(&format!(
            "token = \"{TOKEN}\"\napi_base = \"{}\"\n",
            platform.url()
        ))
        .expect("driver config")
    }

    fn sender(&self) -> String {
        "ada".into()
    }

    fn inbound_text(&self, from: &str, text: &str, id: &str) -> Request<Body> {
        post(
            TOKEN,
            serde_json::json!({"id": id, "from": from, "text": text}),
        )
    }

    fn inbound_forged(&self, from: &str, text: &str, id: &str) -> Request<Body> {
        post(
            "not-the-token",
            serde_json::json!({"id": id, "from": from, "text": text}),
        )
    }

    fn inbound_unsupported(&self, from: &str, id: &str) -> Option<Request<Body>> {
        Some(post(
            TOKEN,
            serde_json::json!({"id": id, "from": from, "type": "sticker"}),
        ))
    }

    fn inbound_raw(&self, body: Vec<u8>) -> Request<Body> {
        Request::post("/webhooks/echo")
            .header("x-echo-token", TOKEN)
            .body(Body::from(body))
            .expect("valid request")
    }

    fn script(&self, platform: &EndpointFake, reply: Reply) {
        platform.script(reply);
    }

    fn sends(&self, platform: &EndpointFake) -> Vec<Recorded> {
        platform.requests()
    }
}

tandem_testkit::channel_conformance!(Driver);
