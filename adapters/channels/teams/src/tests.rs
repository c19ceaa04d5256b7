//! Unit tests: config checks, the inbound JWT rules and key caching against the fake's
//! published keys, activity normalization, member facts, the member lookup and its
//! cache, conversation references, outbound bodies and error classification against
//! the fake connector, and fuzz targets for the activity parser (`TANDEM_FUZZ_CASES`).

use crate::auth::{AuthError, Verifier};
use crate::config::{DEFAULT_TOKEN_URL, TeamsConfig};
use crate::connector::{classify, conversation_url};
use crate::inbound::{facts, mismatch, parse};
use crate::normalize::{self, CARD_ACTION_RESPONSE, INVOKE_RESPONSE};
use crate::outbound::render;
use crate::state::{self, ConversationRef};
use crate::{Teams, capabilities};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::time::Duration;
use tandem_sdk::model::{
    Button, ChannelId, ChoiceStyle, Content, ConversationId, MessageId, OutboundContent,
    OutboundMessage, OutboxId, Party, TemplateMessage,
};
use tandem_sdk::{BuiltChannel, ChannelContext, ChannelFactory, ErrorKind};
use tandem_testkit::fake::{TEAMS_TENANT, TeamsFake, TeamsUser, TokenKind, mint};
use tandem_testkit::payloads::{teams_activity, teams_conversation, teams_text};
use tandem_testkit::{RecordingInbound, Reply};
use tower::ServiceExt;

const APP_ID: &str = "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";
const PASSWORD: &str = "FAKE-SECRET-for-tests-only";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn anna() -> TeamsUser {
    TeamsUser::new(
        "29:1xJkQ9Vn3Lr7Tq0Zc5Wm2Ys8Hb4Gd6Fe1Aa9Pp3Oo7Ii5Uu2Yy8Tt4Rr6Ee0Ww1Qq",
        "7b5e2c1a-9d3f-4e8b-a6c2-1f0e9d8c7b6a",
        "Anna Schmidt",
    )
}

fn config_for(fake: &TeamsFake) -> TeamsConfig {
    toml::from_str(&format!(
        r#"
        app_id = "{APP_ID}"
        app_password = "{PASSWORD}"
        tenant_id = "{TEAMS_TENANT}"
        openid_metadata_url = "{}"
        token_url = "{}"
        "#,
        fake.openid_metadata_url(),
        fake.token_url(),
    ))
    .expect("test config")
}

struct Setup {
    fake: TeamsFake,
    inbound: RecordingInbound,
    built: BuiltChannel,
    channel: ChannelId,
}

async fn setup_with(tweak: impl FnOnce(&mut TeamsConfig, &TeamsFake)) -> Setup {
    let fake = TeamsFake::start(APP_ID, PASSWORD).await;
    let mut config = config_for(&fake);
    tweak(&mut config, &fake);
    Teams::validate(&config).expect("valid config");
    let inbound = RecordingInbound::new();
    let channel = ChannelId::new("teams");
    let cx = ChannelContext {
        id: channel.clone(),
        public_base_url: url::Url::parse("http://127.0.0.1:9/").expect("static URL"),
        inbound: inbound.sink(channel.clone()),
        http: reqwest::Client::new(),
        shutdown: tokio_util::sync::CancellationToken::new(),
    };
    let built = Teams::build(config, cx).await.expect("build");
    Setup {
        fake,
        inbound,
        built,
        channel,
    }
}

async fn setup() -> Setup {
    setup_with(|_, _| {}).await
}

impl Setup {
    async fn post(&self, activity: &Value, bearer: &str) -> (StatusCode, String) {
        let request = Request::post("/webhooks/teams")
            .header("content-type", "application/json")
            .header("authorization", bearer)
            .body(Body::from(activity.to_string()))
            .expect("request");
        let routes = self.built.routes.clone().expect("routes");
        let response = routes.oneshot(request).await.unwrap_or_else(|e| match e {});
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    async fn post_valid(&self, activity: &Value) -> (StatusCode, String) {
        let bearer = self.fake.bearer(activity, TokenKind::Valid);
        self.post(activity, &bearer).await
    }

    fn text(&self, user: &TeamsUser, text: &str, id: &str) -> Value {
        teams_text(&self.fake.service_url(), APP_ID, user, text, id)
    }

    fn message_to(&self, recipient: &str, content: OutboundContent) -> OutboundMessage {
        OutboundMessage {
            outbox_id: OutboxId::generate(),
            channel: self.channel.clone(),
            recipient: recipient.to_owned(),
            conversation_id: ConversationId::generate(),
            from: Party::Bot,
            content,
            message_id: MessageId::generate(),
            created_at: tandem_sdk::model::now(),
        }
    }
}

// ---- config -----------------------------------------------------------------------------

#[test]
fn config_checks_report_every_problem_with_its_key() {
    let config: TeamsConfig = toml::from_str(
        r#"
        app_id = ""
        app_password = ""
        tenant_id = "contoso/evil"
        openid_metadata_url = "ftp://x"
        token_url = "not a url"
        service_url = "smba.trafficmanager.net"
        "#,
    )
    .expect("parses");
    let errors = config.validate().expect_err("invalid").0;
    let keys: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        keys,
        [
            "app_id",
            "app_password",
            "tenant_id",
            "openid_metadata_url",
            "token_url",
            "service_url"
        ],
        "{errors:?}"
    );
    let unknown =
        toml::from_str::<TeamsConfig>("app_id = \"a\"\napp_password = \"b\"\napp_secret = \"c\"");
    assert!(unknown.is_err(), "unknown keys are refused");
}

#[test]
fn single_tenant_bots_use_their_tenants_token_endpoint() {
    let mut config: TeamsConfig =
        toml::from_str("app_id = \"a\"\napp_password = \"b\"").expect("parses");
    assert_eq!(config.effective_token_url(), DEFAULT_TOKEN_URL);
    config.tenant_id = Some(TEAMS_TENANT.into());
    assert_eq!(
        config.effective_token_url(),
        format!("https://login.microsoftonline.com/{TEAMS_TENANT}/oauth2/v2.0/token")
    );
    config.token_url = "http://127.0.0.1:1/tok".into();
    assert_eq!(config.effective_token_url(), "http://127.0.0.1:1/tok");
    assert_eq!(config.bot_id(), "28:a");
}

// ---- inbound JWT ------------------------------------------------------------------------

fn verifier(fake: &TeamsFake) -> Verifier {
    Verifier::new(APP_ID, &fake.openid_metadata_url(), reqwest::Client::new())
}

fn key_fetches(fake: &TeamsFake) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.path.ends_with("/keys"))
        .count()
}

#[tokio::test]
async fn tokens_are_checked_per_the_bot_framework_rules() {
    let fake = TeamsFake::start(APP_ID, PASSWORD).await;
    let v = verifier(&fake);
    let service = fake.service_url();
    let ok = v
        .verify(Some(&mint(APP_ID, &service, TokenKind::Valid)))
        .await
        .expect("a valid token");
    assert_eq!(ok.service_url.as_deref(), Some(service.as_str()));
    assert!(ok.endorsements.iter().any(|e| e == "msteams"));
    v.verify(Some(&mint(APP_ID, &service, TokenKind::ExpiredWithinSkew)))
        .await
        .expect("5 minutes of clock skew are allowed");
    for (kind, why) in [
        (TokenKind::WrongAudience, "wrong audience"),
        (TokenKind::WrongIssuer, "wrong issuer"),
        (TokenKind::Expired, "token expired"),
        (TokenKind::NotYetValid, "token not yet valid"),
        (TokenKind::UnknownKid, "unknown signing key"),
        (TokenKind::BadSignature, "bad signature"),
        (TokenKind::Hs256, "algorithm not allowed"),
    ] {
        assert_eq!(
            v.verify(Some(&mint(APP_ID, &service, kind))).await.err(),
            Some(AuthError::Invalid(why)),
            "{kind:?}"
        );
    }
    // The timestamp edges every signed surface is tested against.
    for kind in [
        TokenKind::ExpiredJustBeyondSkew,
        TokenKind::NotBeforeJustBeyondSkew,
        TokenKind::ExpiresAtMax,
        TokenKind::ExpiresAtMin,
    ] {
        assert!(
            v.verify(Some(&mint(APP_ID, &service, kind))).await.is_err(),
            "{kind:?}"
        );
    }
    for header in [
        None,
        Some(""),
        Some("Bearer "),
        Some("Basic abc"),
        Some("abc"),
    ] {
        assert_eq!(
            v.verify(header).await.err(),
            Some(AuthError::Missing),
            "{header:?}"
        );
    }
    assert_eq!(
        v.verify(Some("Bearer not.a.jwt")).await.err(),
        Some(AuthError::Invalid("malformed token"))
    );
}

#[tokio::test]
async fn tokens_must_match_the_activity() {
    let fake = TeamsFake::start(APP_ID, PASSWORD).await;
    let v = verifier(&fake);
    let activity_json = teams_text(&fake.service_url(), APP_ID, &anna(), "hi", "1");
    let activity = parse(activity_json.to_string().as_bytes()).expect("parses");
    let check = async |kind| {
        let verified = v
            .verify(Some(&fake.bearer(&activity_json, kind)))
            .await
            .expect("authentic");
        mismatch(&verified, &activity, Some(TEAMS_TENANT))
    };
    assert_eq!(check(TokenKind::Valid).await, None);
    assert!(
        check(TokenKind::Unendorsed)
            .await
            .is_some_and(|r| r.contains("endorsed"))
    );
    assert!(
        check(TokenKind::ServiceUrlMismatch)
            .await
            .is_some_and(|r| r.contains("serviceurl"))
    );
    let verified = v
        .verify(Some(&fake.bearer(&activity_json, TokenKind::Valid)))
        .await
        .expect("authentic");
    assert!(
        mismatch(&verified, &activity, Some("another-tenant")).is_some(),
        "a single-tenant bot refuses other tenants"
    );
    assert_eq!(mismatch(&verified, &activity, None), None);
}

#[tokio::test]
async fn keys_are_cached_and_unknown_kids_refetch_at_most_per_interval() {
    let fake = TeamsFake::start(APP_ID, PASSWORD).await;
    let service = fake.service_url();
    let mut v = verifier(&fake);
    for _ in 0..3 {
        v.verify(Some(&mint(APP_ID, &service, TokenKind::Valid)))
            .await
            .expect("valid");
    }
    assert_eq!(key_fetches(&fake), 1, "keys fetched once");
    for _ in 0..3 {
        let _ = v
            .verify(Some(&mint(APP_ID, &service, TokenKind::UnknownKid)))
            .await;
    }
    assert_eq!(
        key_fetches(&fake),
        1,
        "unknown kids do not refetch within the hour"
    );
    v.unknown_kid_refetch = Duration::ZERO;
    let _ = v
        .verify(Some(&mint(APP_ID, &service, TokenKind::UnknownKid)))
        .await;
    assert_eq!(
        key_fetches(&fake),
        2,
        "an unknown kid refetches once allowed"
    );
    v.refresh_after = Duration::ZERO;
    v.retry_failed_after = Duration::ZERO;
    v.verify(Some(&mint(APP_ID, &service, TokenKind::Valid)))
        .await
        .expect("valid");
    assert_eq!(key_fetches(&fake), 3, "stale keys are refreshed");

    let nowhere = Verifier::new(
        APP_ID,
        "http://127.0.0.1:9/v1/.well-known/openidconfiguration",
        reqwest::Client::new(),
    );
    assert_eq!(
        nowhere
            .verify(Some(&mint(APP_ID, &service, TokenKind::Valid)))
            .await
            .err(),
        Some(AuthError::KeysUnavailable)
    );
}

// ---- the route --------------------------------------------------------------------------

#[tokio::test]
async fn the_route_answers_401_403_and_records_nothing_for_bad_tokens() {
    let s = setup().await;
    let activity = s.text(&anna(), "hi", "1767261600001");
    for (kind, status) in [
        (TokenKind::WrongAudience, 401),
        (TokenKind::BadSignature, 401),
        (TokenKind::Expired, 401),
        (TokenKind::Unendorsed, 403),
        (TokenKind::ServiceUrlMismatch, 403),
    ] {
        let (got, _) = s.post(&activity, &s.fake.bearer(&activity, kind)).await;
        assert_eq!(got.as_u16(), status, "{kind:?}");
    }
    let (got, _) = s.post(&activity, "").await;
    assert_eq!(got, StatusCode::UNAUTHORIZED);
    let mut other_tenant = activity.clone();
    other_tenant["conversation"]["tenantId"] = json!("another-tenant");
    let (got, _) = s.post_valid(&other_tenant).await;
    assert_eq!(got, StatusCode::FORBIDDEN, "another tenant");
    assert!(s.inbound.is_empty(), "nothing recorded");
    assert!(s.fake.member_lookups().is_empty(), "nothing looked up");

    let (got, _) = s
        .post(&json!([1, 2]), &mint(APP_ID, "", TokenKind::Valid))
        .await;
    assert_eq!(got, StatusCode::BAD_REQUEST, "a body that is no activity");
}

#[tokio::test]
async fn invokes_get_a_synchronous_invoke_response() {
    let s = setup().await;
    let user = anna();
    let conversation = teams_conversation(&user);
    let mut execute = teams_activity(
        "invoke",
        &s.fake.service_url(),
        APP_ID,
        &user,
        &conversation,
        "f:1",
    );
    execute["name"] = json!("adaptiveCard/action");
    execute["value"] = json!({"action": {"type": "Action.Execute", "verb": "human", "data": {"payload": "HUMAN"}}});
    let (status, body) = s.post_valid(&execute).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, CARD_ACTION_RESPONSE)
    );
    let mut other = execute.clone();
    other["id"] = json!("f:2");
    other["name"] = json!("task/fetch");
    let (status, body) = s.post_valid(&other).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, INVOKE_RESPONSE));
    let accepted = s.inbound.accepted();
    assert_eq!(
        accepted[0].content,
        Content::Postback {
            payload: "HUMAN".into(),
            title: None
        }
    );
    assert_eq!(
        accepted[1].content,
        Content::Unsupported {
            kind: "teams:invoke:task/fetch".into()
        }
    );
}

#[tokio::test]
async fn members_are_looked_up_once_and_their_email_is_a_verified_fact() {
    let s = setup().await;
    let user = anna();
    s.fake
        .add_user(&user, None, Some("aschmidt@contoso.example"));
    for (i, text) in ["first", "second"].into_iter().enumerate() {
        let (status, _) = s
            .post_valid(&s.text(&user, text, &format!("17672616000{i}")))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let accepted = s.inbound.accepted();
    assert_eq!(accepted.len(), 2);
    for m in &accepted {
        assert_eq!(
            m.sender.subject,
            user.subject(),
            "subject = Entra object id"
        );
        assert!(m.sender.verified);
        assert_eq!(
            m.sender.verified_email.as_deref(),
            Some("aschmidt@contoso.example"),
            "the UPN when there is no email"
        );
        assert_eq!(m.sender.display_name.as_deref(), Some("Anna Schmidt"));
    }
    let lookups = s.fake.member_lookups();
    assert_eq!(lookups.len(), 1, "looked up once, then cached");
    assert!(
        lookups[0].path.ends_with(
            "/members/29%3A1xJkQ9Vn3Lr7Tq0Zc5Wm2Ys8Hb4Gd6Fe1Aa9Pp3Oo7Ii5Uu2Yy8Tt4Rr6Ee0Ww1Qq"
        ),
        "{}",
        lookups[0].path
    );
    let token = lookups[0].header("authorization").expect("bearer");
    assert!(
        s.fake
            .issued_tokens()
            .iter()
            .any(|t| token == format!("Bearer {t}")),
        "with the outbound token"
    );
}

#[tokio::test]
async fn anonymous_members_have_no_email_and_failed_lookups_lose_nothing() {
    let (captured, _guard) = tandem_testkit::telemetry::capture();
    let s = setup().await;
    let guest = TeamsUser {
        id: "29:1AnOnYmOuS".into(),
        aad_object_id: None,
        name: "Guest".into(),
    };
    s.fake.add_anonymous(&guest);
    let (status, _) = s
        .post_valid(&s.text(&guest, "hello", "1767261600100"))
        .await;
    assert_eq!(status, StatusCode::OK);

    let user = anna();
    s.fake.add_user(&user, Some("anna@contoso.example"), None);
    s.fake.script_lookup(Reply::ServerError);
    let (status, _) = s
        .post_valid(&s.text(&user, "secret words", "1767261600101"))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a failed lookup does not fail the message"
    );
    let (status, _) = s.post_valid(&s.text(&user, "again", "1767261600102")).await;
    assert_eq!(status, StatusCode::OK);

    let accepted = s.inbound.accepted();
    assert_eq!(accepted.len(), 3);
    assert_eq!(
        accepted[0].sender.subject, "29:1AnOnYmOuS",
        "no object id: the 29: id"
    );
    assert_eq!(accepted[0].sender.verified_email, None, "anonymous");
    assert_eq!(accepted[1].sender.verified_email, None, "lookup failed");
    assert_eq!(
        accepted[2].sender.verified_email.as_deref(),
        Some("anna@contoso.example"),
        "looked up again with the next message"
    );
    let warnings: Vec<_> = captured
        .info_and_above()
        .into_iter()
        .filter(|e| e.text.contains("member lookup"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    for e in captured.info_and_above() {
        for pii in [
            user.id.as_str(),
            user.subject(),
            "secret words",
            "anna@contoso.example",
        ] {
            assert!(!e.text.contains(pii), "{pii} logged: {}", e.text);
        }
    }
}

#[tokio::test]
async fn the_reference_follows_the_latest_service_url_and_echoes_are_ignored() {
    let s = setup().await;
    let user = anna();
    let (status, _) = s.post_valid(&s.text(&user, "one", "1767261600200")).await;
    assert_eq!(status, StatusCode::OK);
    let sink = s.inbound.sink(s.channel.clone());
    let first = state::load_ref(&sink, user.subject())
        .await
        .expect("kv")
        .expect("stored");
    assert_eq!(
        first,
        ConversationRef {
            service_url: s.fake.service_url(),
            conversation_id: Some(teams_conversation(&user)),
            tenant_id: Some(TEAMS_TENANT.into()),
            bot_id: format!("28:{APP_ID}"),
            user_id: user.id.clone(),
        }
    );
    // The user's region moved: same connector here, spelled without the trailing slash.
    let moved = s.fake.service_url().trim_end_matches('/').to_owned();
    let mut activity = teams_text(&moved, APP_ID, &user, "two", "1767261600201");
    let (status, _) = s.post_valid(&activity).await;
    assert_eq!(status, StatusCode::OK);
    let second = state::load_ref(&sink, user.subject())
        .await
        .expect("kv")
        .expect("stored");
    assert_eq!(second.service_url, moved);

    // Our own message echoed: acknowledged, not recorded.
    activity["id"] = json!("1767261600202");
    activity["from"] = json!({"id": format!("28:{APP_ID}")});
    let (status, _) = s.post_valid(&activity).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.inbound.accepted().len(), 2);
}

// ---- normalization ----------------------------------------------------------------------

fn normalized(activity: &Value) -> normalize::Parsed {
    let a = parse(activity.to_string().as_bytes()).expect("parses");
    normalize::activity(
        &a,
        activity.to_string().as_bytes(),
        &ChannelId::new("teams"),
        &format!("28:{APP_ID}"),
        true,
    )
}

fn base_activity(kind: &str) -> Value {
    teams_activity(
        kind,
        "https://smba.trafficmanager.net/emea/",
        APP_ID,
        &anna(),
        &teams_conversation(&anna()),
        "1767261600300",
    )
}

#[test]
fn unknown_activity_types_are_unsupported_with_their_kind() {
    let p = normalized(&base_activity("suggestion"));
    assert_eq!(p.messages.len(), 1);
    assert_eq!(
        p.messages[0].message.content,
        Content::Unsupported {
            kind: "teams:suggestion".into()
        }
    );
    let mut untyped = base_activity("x");
    untyped.as_object_mut().expect("object").remove("type");
    assert_eq!(
        normalized(&untyped).messages[0].message.content,
        Content::Unsupported {
            kind: "teams:unknown".into()
        }
    );
}

#[test]
fn text_is_cleaned_of_the_bot_mention_and_markup() {
    let mut a = base_activity("message");
    a["text"] = json!("<at>Tandem</at>  where is <at>Ben</at>'s   order?");
    a["entities"] = json!([{"type": "mention", "text": "<at>Tandem</at>", "mentioned": {"id": format!("28:{APP_ID}")}}]);
    assert_eq!(
        normalized(&a).messages[0].message.content,
        Content::Text {
            text: "where is Ben's order?".into()
        }
    );
    a["textFormat"] = json!("xml");
    a["text"] = json!("<p>Fish &amp; chips &lt;3</p><p>now</p>");
    a["entities"] = json!([]);
    assert_eq!(
        normalized(&a).messages[0].message.content,
        Content::Text {
            text: "Fish & chips <3 now".into()
        }
    );
    a["text"] = json!("<at>Tandem</at>");
    a["textFormat"] = json!("plain");
    a["entities"] = json!([{"type": "mention", "text": "<at>Tandem</at>", "mentioned": {"id": format!("28:{APP_ID}")}}]);
    assert_eq!(
        normalized(&a).messages[0].message.content,
        Content::Unsupported {
            kind: "teams:message".into()
        },
        "a bare mention carries nothing to answer"
    );
}

#[test]
fn our_card_buttons_come_back_as_postbacks() {
    let mut a = base_activity("message");
    a["value"] = json!({"payload": "track my order", "title": "Track my order"});
    assert_eq!(
        normalized(&a).messages[0].message.content,
        Content::Postback {
            payload: "track my order".into(),
            title: Some("Track my order".into())
        }
    );
}

#[test]
fn timestamps_ids_and_subjects() {
    let t = normalize::timestamp(Some("2026-01-01T10:00:00.1234567Z"));
    assert_eq!(t.unix_timestamp(), 1_767_261_600);
    assert_eq!(t.millisecond(), 123);
    let mut a = base_activity("message");
    a["text"] = json!("hi");
    a.as_object_mut().expect("object").remove("id");
    let first = normalized(&a).messages[0]
        .message
        .platform_message_id
        .clone();
    let again = normalized(&a).messages[0]
        .message
        .platform_message_id
        .clone();
    assert_eq!(first, again, "derived ids are stable");
    assert!(first.as_str().starts_with("derived:"));
    let mut group = base_activity("message");
    group["text"] = json!("hi all");
    group["conversation"]["conversationType"] = json!("groupChat");
    let p = normalized(&group);
    assert_eq!(
        p.messages[0].message.content,
        Content::Event {
            kind: "teams:groupChat:message".into()
        }
    );
    assert!(p.reference.is_none(), "only 1:1 chats are answered");
    assert!(p.messages[0].lookup.is_none());
}

#[test]
fn member_facts_prefer_the_email_and_skip_guest_upns() {
    let member = |v: Value| serde_json::from_value::<crate::api::Member>(v).expect("member");
    let fixture: Value = serde_json::from_str(&fixture("get_member_response.json")).expect("json");
    let f = facts(&member(fixture), 1);
    assert_eq!(f.email.as_deref(), Some("Anna.Schmidt@contoso.example"));
    assert_eq!(f.display_name.as_deref(), Some("Anna Schmidt"));
    let f = facts(
        &member(
            json!({"userPrincipalName": "x_ext.example#EXT#@contoso.onmicrosoft.com", "name": "X"}),
        ),
        1,
    );
    assert_eq!(f.email, None, "a guest UPN is no address");
    assert_eq!(f.display_name.as_deref(), Some("X"));
    let f = facts(
        &member(json!({"email": "a@b.example", "userRole": "anonymous"})),
        1,
    );
    assert_eq!(f.email, None);
    assert!(f.anonymous);
    let f = facts(
        &member(json!({"email": "not an email", "userPrincipalName": "u@c.example"})),
        1,
    );
    assert_eq!(f.email.as_deref(), Some("u@c.example"));
}

// ---- outbound ---------------------------------------------------------------------------

#[test]
fn urls_are_joined_without_double_slashes_and_ids_are_encoded() {
    let id = "19:abc@thread.skype;messageid=17";
    for base in [
        "https://smba.trafficmanager.net/emea/",
        "https://smba.trafficmanager.net/emea",
    ] {
        assert_eq!(
            conversation_url(base, id, &["activities"]),
            "https://smba.trafficmanager.net/emea/v3/conversations/19%3Aabc%40thread.skype%3Bmessageid%3D17/activities"
        );
    }
    assert_eq!(
        conversation_url("https://x/", "a:1/2", &["members", "29:a b"]),
        "https://x/v3/conversations/a%3A1%2F2/members/29%3Aa%20b"
    );
}

#[test]
fn errors_are_classified() {
    let kind = |status, code| classify(status, code, Some(Duration::from_secs(3)), "t").kind();
    assert_eq!(
        kind(429, None),
        ErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(3))
        }
    );
    for status in [412, 500, 502, 503, 504] {
        assert_eq!(kind(status, None), ErrorKind::Transient, "{status}");
    }
    assert_eq!(kind(401, None), ErrorKind::Auth);
    assert_eq!(kind(403, Some("BotDisabledByAdmin")), ErrorKind::Auth);
    assert_eq!(
        kind(403, Some("ConversationBlockedByUser")),
        ErrorKind::Unreachable
    );
    assert_eq!(
        kind(403, Some("BotNotInConversationRoster")),
        ErrorKind::Unreachable
    );
    assert_eq!(
        kind(404, Some("ConversationNotFound")),
        ErrorKind::Unreachable
    );
    assert_eq!(kind(413, Some("MessageSizeTooBig")), ErrorKind::Unsupported);
    assert_eq!(kind(400, Some("BadArgument")), ErrorKind::Rejected);
}

#[test]
fn send_bodies() {
    let caps =
        capabilities(&toml::from_str("app_id = \"a\"\napp_password = \"b\"").expect("config"));
    let hello = OutboundContent::text("Hello");
    let (text, attachments) = render(&hello, &caps).expect("text");
    assert_eq!((text, attachments.len()), (Some("Hello"), 0));
    let buttons: Vec<Button> = (1..=2)
        .map(|i| Button {
            title: format!("Option {i}"),
            payload: format!("opt{i}"),
        })
        .collect();
    let pick = OutboundContent::with_buttons("Pick one", buttons.clone());
    let (text, attachments) = render(&pick, &caps).expect("card");
    assert_eq!(text, None);
    let card = &attachments[0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["body"][0]["text"], "Pick one");
    assert_eq!(card["content"]["actions"][1]["type"], "Action.Submit");
    assert_eq!(card["content"]["actions"][1]["data"]["payload"], "opt2");
    // The shape of the recorded send request's card.
    let recorded: Value =
        serde_json::from_str(&fixture("send_activity_request.json")).expect("json");
    let recorded_card = &recorded["attachments"][0];
    assert_eq!(card["contentType"], recorded_card["contentType"]);
    assert_eq!(
        card["content"]["version"],
        recorded_card["content"]["version"]
    );
    assert_eq!(
        card["content"]["$schema"],
        recorded_card["content"]["$schema"]
    );

    let unsupported = |c: OutboundContent| render(&c, &caps).expect_err("refused").kind();
    let mut too_many = OutboundContent::with_buttons(
        "Pick",
        (1..=7)
            .map(|i| Button {
                title: format!("O{i}"),
                payload: format!("o{i}"),
            })
            .collect(),
    );
    assert_eq!(unsupported(too_many.clone()), ErrorKind::Unsupported);
    too_many.buttons.truncate(2);
    too_many.style = ChoiceStyle::QuickReplies;
    assert_eq!(
        unsupported(too_many),
        ErrorKind::Unsupported,
        "no quick replies"
    );
    assert_eq!(
        unsupported(OutboundContent::text("x".repeat(crate::MAX_TEXT_LEN + 1))),
        ErrorKind::Unsupported
    );
    assert_eq!(
        unsupported(OutboundContent::text("  ")),
        ErrorKind::Unsupported
    );
    let mut templated = OutboundContent::text("hi");
    templated.template = Some(TemplateMessage {
        name: "t".into(),
        language: "en".into(),
        params: vec![],
    });
    assert_eq!(unsupported(templated), ErrorKind::Unsupported);
}

#[tokio::test]
async fn sends_go_to_the_stored_conversation_with_a_cached_token() {
    let s = setup().await;
    let user = anna();
    s.fake.add_user(&user, Some("anna@contoso.example"), None);
    let (status, _) = s.post_valid(&s.text(&user, "hi", "1767261600400")).await;
    assert_eq!(status, StatusCode::OK);
    for text in ["one", "two"] {
        let delivery = s
            .built
            .adapter
            .send(s.message_to(user.subject(), OutboundContent::text(text)))
            .await
            .expect("sent");
        assert!(
            delivery
                .platform_message_id
                .is_some_and(|id| !id.is_empty())
        );
    }
    let sends = s.fake.sends();
    assert_eq!(sends.len(), 2);
    let expected_path = format!(
        "/teams/v3/conversations/{}/activities",
        crate::connector::encode_segment(&teams_conversation(&user))
    );
    assert_eq!(sends[0].path, expected_path);
    let body = sends[0].json();
    assert_eq!(body["type"], "message");
    assert_eq!(body["text"], "one");
    assert_eq!(body["from"]["id"], format!("28:{APP_ID}"));
    assert_eq!(body["recipient"]["id"], user.id);
    assert_eq!(body["conversation"]["id"], teams_conversation(&user));
    assert_eq!(
        s.fake.token_requests().len(),
        1,
        "one token for the lookup and both sends"
    );
    let form = String::from_utf8_lossy(&s.fake.token_requests()[0].body).into_owned();
    assert_eq!(
        form,
        fixture("token_request.form.txt").trim(),
        "the token request form"
    );
    s.built
        .adapter
        .typing(user.subject(), Party::Bot)
        .await
        .expect("typing");
    assert_eq!(
        s.fake.sends().last().expect("typing").json()["type"],
        "typing"
    );
}

#[tokio::test]
async fn tokens_are_refreshed_five_minutes_before_they_expire() {
    let s = setup().await;
    s.fake.set_token_lifetime(240);
    let user = anna();
    s.post_valid(&s.text(&user, "hi", "1767261600500")).await;
    for _ in 0..2 {
        s.built
            .adapter
            .send(s.message_to(user.subject(), OutboundContent::text("x")))
            .await
            .expect("sent");
    }
    assert_eq!(
        s.fake.token_requests().len(),
        3,
        "a token living under 5 minutes is fetched for every call"
    );
}

#[tokio::test]
async fn a_user_without_a_conversation_gets_a_proactive_one_or_is_unreachable() {
    let s = setup_with(|c, f| c.service_url = Some(f.service_url())).await;
    let subject = "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a";
    s.built
        .adapter
        .send(s.message_to(subject, OutboundContent::text("Your case was updated.")))
        .await
        .expect("sent proactively");
    let created = s.fake.created_conversations();
    assert_eq!(created.len(), 1);
    let body = created[0].json();
    let recorded: Value =
        serde_json::from_str(&fixture("create_conversation_request.json")).expect("json");
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&body), keys(&recorded), "the recorded request's shape");
    assert_eq!(body["members"][0]["id"], subject, "the Entra object id");
    assert_eq!(body["tenantId"], TEAMS_TENANT);
    assert_eq!(body["isGroup"], false);
    let sink = s.inbound.sink(s.channel.clone());
    let stored = state::load_ref(&sink, subject)
        .await
        .expect("kv")
        .expect("stored");
    assert!(
        stored
            .conversation_id
            .is_some_and(|c| c.starts_with("a:fake-conversation-"))
    );
    s.built
        .adapter
        .send(s.message_to(subject, OutboundContent::text("And again.")))
        .await
        .expect("sent");
    assert_eq!(s.fake.created_conversations().len(), 1, "created once");
    assert_eq!(s.fake.sends().len(), 2);

    let none = setup_with(|c, _| c.tenant_id = None).await;
    let err = none
        .built
        .adapter
        .send(none.message_to(subject, OutboundContent::text("hi")))
        .await
        .expect_err("nobody to send to");
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert!(none.fake.requests().is_empty(), "no request at all");
}

#[tokio::test]
async fn connector_errors_are_classified_after_one_request() {
    let s = setup().await;
    let user = anna();
    s.post_valid(&s.text(&user, "hi", "1767261600600")).await;
    let cases = [
        (
            429,
            "TooManyRequests",
            Some(3),
            ErrorKind::RateLimited {
                retry_after: Some(Duration::from_secs(3)),
            },
        ),
        (412, "PreconditionFailed", None, ErrorKind::Transient),
        (404, "ConversationNotFound", None, ErrorKind::Unreachable),
        (
            403,
            "ConversationBlockedByUser",
            None,
            ErrorKind::Unreachable,
        ),
        (413, "MessageSizeTooBig", None, ErrorKind::Unsupported),
    ];
    for (status, code, retry, expected) in cases {
        s.fake.script_error(status, code, retry);
        let before = s.fake.sends().len();
        let err = s
            .built
            .adapter
            .send(s.message_to(user.subject(), OutboundContent::text("x")))
            .await
            .expect_err("scripted error");
        assert_eq!(err.kind(), expected, "{status} {code}");
        assert_eq!(s.fake.sends().len(), before + 1, "one request, no retry");
    }
    // A 401 drops the token: the next send fetches a new one.
    s.fake.script(Reply::Unauthorized);
    let tokens = s.fake.token_requests().len();
    let err = s
        .built
        .adapter
        .send(s.message_to(user.subject(), OutboundContent::text("x")))
        .await
        .expect_err("401");
    assert_eq!(err.kind(), ErrorKind::Auth);
    s.built
        .adapter
        .send(s.message_to(user.subject(), OutboundContent::text("x")))
        .await
        .expect("sent with a new token");
    assert_eq!(s.fake.token_requests().len(), tokens + 1);
}

// ---- fuzz -------------------------------------------------------------------------------

fn fuzz_cases() -> u32 {
    std::env::var("TANDEM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z:<>/@; ]{0,16}".prop_map(Value::from),
        Just(Value::from(format!("28:{APP_ID}"))),
        Just(Value::from("personal")),
        Just(Value::from("adaptiveCard/action")),
        Just(Value::from("mention")),
        Just(Value::from("image/png")),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("id".to_owned()),
                    Just("type".to_owned()),
                    Just("text".to_owned()),
                    Just("value".to_owned()),
                    Just("action".to_owned()),
                    Just("data".to_owned()),
                    Just("mentioned".to_owned()),
                    Just("contentType".to_owned()),
                    Just("content".to_owned()),
                    "[a-zA-Z]{1,8}",
                ],
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn run_parser(bytes: &[u8]) {
    if let Ok(a) = parse(bytes) {
        let _ = normalize::activity(
            &a,
            bytes,
            &ChannelId::new("teams"),
            &format!("28:{APP_ID}"),
            true,
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        run_parser(&bytes);
    }

    #[test]
    fn fuzz_parser_never_panics_on_shaped_json(
        kind in prop_oneof![Just("message"), Just("invoke"), Just("conversationUpdate"), Just("installationUpdate"), Just("messageReaction"), Just("event"), Just("zzz")],
        scope in prop_oneof![Just("personal"), Just("groupChat"), Just("channel"), Just("")],
        fields in prop::collection::vec((prop_oneof![
            Just("text"), Just("textFormat"), Just("value"), Just("name"), Just("entities"),
            Just("attachments"), Just("membersAdded"), Just("membersRemoved"), Just("reactionsAdded"),
            Just("from"), Just("timestamp"), Just("id"), Just("action"), Just("conversation"),
        ], json_value()), 0..6),
    ) {
        let mut a = base_activity(kind);
        a["conversation"]["conversationType"] = json!(scope);
        for (k, v) in fields {
            a[k] = v;
        }
        run_parser(a.to_string().as_bytes());
    }
}

fn group_message(s: &Setup, user: &TeamsUser, text: &str, id: &str, mention: bool) -> Value {
    let mut a = s.text(user, text, id);
    a["conversation"] = json!({"isGroup": true, "conversationType": "channel",
        "tenantId": "c0ffee00-1234-4abc-9def-0123456789ab",
        "id": format!("19:team-channel@thread.tacv2;messageid={id}")});
    a["channelData"] = json!({"teamsChannelId": "19:team-channel@thread.tacv2",
        "channel": {"id": "19:team-channel@thread.tacv2"}, "team": {"id": "19:the-team@thread.tacv2"},
        "tenant": {"id": "c0ffee00-1234-4abc-9def-0123456789ab"}});
    if mention {
        a["text"] = json!(format!("<at>Acme Helpdesk</at> {text}"));
        a["entities"] = json!([{"type": "mention", "text": "<at>Acme Helpdesk</at>",
            "mentioned": {"id": format!("28:{APP_ID}"), "name": "Acme Helpdesk"}}]);
    }
    a
}

/// Issue 18 item 9: in a channel, a message mentioning the bot is answered in its thread
/// (the mention stripped); one without a mention is recorded only; `group_overrides`
/// turns answering off per team or channel; 1:1 chats are unchanged.
#[tokio::test]
async fn channel_mentions_are_answered_in_their_thread_and_configurable() {
    let s = setup().await;
    let user = anna();
    let (status, _) = s
        .post_valid(&group_message(
            &s,
            &user,
            "is the VPN down?",
            "1767261600700",
            true,
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s
        .post_valid(&group_message(
            &s,
            &user,
            "lunch anyone?",
            "1767261600701",
            false,
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let accepted = s.inbound.accepted();
    assert_eq!(accepted.len(), 2);
    assert_eq!(
        accepted[0].content,
        Content::Text {
            text: "is the VPN down?".into()
        }
    );
    let thread = "19:team-channel@thread.tacv2;messageid=1767261600700";
    assert_eq!(
        accepted[0].sender.subject,
        format!("{}#{thread}", user.subject())
    );
    assert_eq!(
        accepted[1].content,
        Content::Event {
            kind: "teams:channel:message".into()
        }
    );
    // The answer goes to the thread it was asked in.
    s.built
        .adapter
        .send(s.message_to(
            &accepted[0].sender.subject,
            OutboundContent::text("Checking."),
        ))
        .await
        .expect("sent");
    let sends = s.fake.sends();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].json()["conversation"]["id"], thread);

    // Turned off for the team: recorded only.
    let off = setup_with(|c, _| {
        c.group_overrides
            .insert("19:the-team@thread.tacv2".into(), crate::GroupReplies::Off);
    })
    .await;
    let (status, _) = off
        .post_valid(&group_message(
            &off,
            &user,
            "is the VPN down?",
            "1767261600702",
            true,
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(matches!(
        off.inbound.accepted()[0].content,
        Content::Event { .. }
    ));
}

fn unknown_field() -> impl Strategy<Value = (u32, u16, Value)> {
    (any::<u32>(), any::<u16>(), json_value())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Unknown fields anywhere in a recorded activity (but in `value`, the card data the
    /// bot itself defined) never change what is read from the known ones.
    #[test]
    fn unknown_fields_never_change_the_parse_of_known_ones(
        additions in prop::collection::vec(unknown_field(), 1..6),
    ) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/inbound");
        let read = |original: &Value, v: &Value| {
            let mut v = v.clone();
            if let (Some(m), Some(value)) = (v.as_object_mut(), original.get("value")) {
                m.insert("value".into(), value.clone());
            }
            match parse(v.to_string().as_bytes()) {
                Ok(a) => format!(
                    "{:?}",
                    normalize::activity(&a, b"", &ChannelId::new("teams"), &format!("28:{APP_ID}"), true)
                ),
                Err(e) => e,
            }
        };
        let kept = tandem_testkit::fixtures::unknown_fields_keep_the_parse(dir, &additions, read);
        prop_assert!(kept.is_ok(), "{}", kept.unwrap_err());
    }
}
