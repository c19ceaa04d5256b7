//! The adapter conformance kit and the fixture snapshots, run against the Teams channel
//! with the kit's fake Bot Framework (signing keys, token endpoint, Bot Connector).
//!
//! The fixtures are recorded activities with `serviceUrl` pointing at the Teams cloud;
//! the driver rewrites it to the fake's connector (and signs for that), so member
//! lookups reach the fake, which knows the fixtures' user (`get_member_response.json`).

use std::sync::Mutex;
use tandem_channel_teams::{Teams, TeamsConfig};
use tandem_testkit::fake::{TEAMS_TENANT, TeamsFake, TeamsUser, TokenKind, mint};
use tandem_testkit::http::Request;
use tandem_testkit::payloads::{teams_activity, teams_conversation, teams_text};
use tandem_testkit::{Body, ChannelDriver, Recorded, Reply};

/// The fixtures' bot.
const APP_ID: &str = "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";
const PASSWORD: &str = "FAKE-SECRET-for-tests-only";
/// The fixtures' user.
const USER_ID: &str = "29:1xJkQ9Vn3Lr7Tq0Zc5Wm2Ys8Hb4Gd6Fe1Aa9Pp3Oo7Ii5Uu2Yy8Tt4Rr6Ee0Ww1Qq";
const USER_AAD: &str = "7b5e2c1a-9d3f-4e8b-a6c2-1f0e9d8c7b6a";

#[derive(Default)]
struct Driver {
    /// The fake's service URL, once started.
    service_url: Mutex<String>,
}

impl Driver {
    fn service_url(&self) -> String {
        self.service_url.lock().expect("driver lock").clone()
    }

    /// The user whose subject is `from` (the fixtures' user for its object id).
    fn user(from: &str) -> TeamsUser {
        if from == USER_AAD {
            TeamsUser::new(USER_ID, USER_AAD, "Anna Schmidt")
        } else {
            TeamsUser::new(&format!("29:1{from}"), from, "Conformance User")
        }
    }

    fn request(body: Vec<u8>, bearer: &str) -> Request<Body> {
        Request::post("/webhooks/teams")
            .header("content-type", "application/json")
            .header("authorization", bearer)
            .body(Body::from(body))
            .expect("valid request")
    }

    fn text(&self, from: &str, text: &str, id: &str, kind: TokenKind) -> Request<Body> {
        let activity = teams_text(&self.service_url(), APP_ID, &Self::user(from), text, id);
        let bearer = mint(APP_ID, &self.service_url(), kind);
        Self::request(activity.to_string().into_bytes(), &bearer)
    }
}

impl ChannelDriver for Driver {
    type Factory = Teams;
    type Platform = TeamsFake;
    const EXAMPLE: &'static str = include_str!("../../../../config/examples/teams.toml");

    async fn start_platform(&self) -> TeamsFake {
        let fake = TeamsFake::start(APP_ID, PASSWORD).await;
        let member: serde_json::Value =
            serde_json::from_str(include_str!("fixtures/get_member_response.json"))
                .expect("member fixture");
        fake.add_member(member);
        *self.service_url.lock().expect("driver lock") = fake.service_url();
        fake
    }

    fn config(&self, platform: &TeamsFake) -> TeamsConfig {
        let toml = format!(
            r#"
            app_id = "{APP_ID}"
            app_password = "{PASSWORD}"
            tenant_id = "{TEAMS_TENANT}"
            openid_metadata_url = "{}"
            token_url = "{}"
            service_url = "{}"
            "#,
            platform.openid_metadata_url(),
            platform.token_url(),
            platform.service_url(),
        );
        toml::from_str(&toml).expect("driver config")
    }

    fn sender(&self) -> String {
        USER_AAD.into()
    }

    fn inbound_text(&self, from: &str, text: &str, id: &str) -> Request<Body> {
        self.text(from, text, id, TokenKind::Valid)
    }

    fn inbound_forged(&self, from: &str, text: &str, id: &str) -> Request<Body> {
        self.text(from, text, id, TokenKind::BadSignature)
    }

    fn inbound_unsupported(&self, from: &str, id: &str) -> Option<Request<Body>> {
        let user = Self::user(from);
        let mut activity = teams_activity(
            "command",
            &self.service_url(),
            APP_ID,
            &user,
            &teams_conversation(&user),
            id,
        );
        activity["name"] = serde_json::json!("application/search");
        let bearer = mint(APP_ID, &self.service_url(), TokenKind::Valid);
        Some(Self::request(activity.to_string().into_bytes(), &bearer))
    }

    fn inbound_raw(&self, body: Vec<u8>) -> Request<Body> {
        let service_url = self.service_url();
        let body = match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(mut activity) if activity.is_object() => {
                activity["serviceUrl"] = serde_json::json!(service_url);
                activity.to_string().into_bytes()
            }
            _ => body,
        };
        Self::request(body, &mint(APP_ID, &service_url, TokenKind::Valid))
    }

    fn script(&self, platform: &TeamsFake, reply: Reply) {
        platform.script(reply);
    }

    fn sends(&self, platform: &TeamsFake) -> Vec<Recorded> {
        platform.sends()
    }
}

tandem_testkit::channel_conformance!(Driver);
tandem_testkit::check_inbound_fixtures!(Driver);
