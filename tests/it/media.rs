//! Media both ways, end to end with the real binary: a WhatsApp customer's image reaches
//! the console as a signed Tandem link that serves the platform's bytes (and a tampered
//! link is refused); an agent's image uploaded in the console reaches a Telegram
//! customer through `sendPhoto` with a Tandem link serving the upload; a web chat
//! customer's upload reaches a Slack thread as a Tandem link.

use serde_json::{Value, json};
use tandem_e2e::eventually;
use tandem_e2e::{Tandem, WsClient};
use tandem_testkit::fake::{MessengerFake, TelegramFake, WhatsAppFake};
use tandem_testkit::payloads::{
    messenger_event, messenger_text, telegram_text, whatsapp_message, whatsapp_text,
};

const TOKEN: &str = "console-token-0123456789";
const WA_SECRET: &str = "wa-app-secret";
const WA_TOKEN: &str = "wa-access-token";
const NUMBER: &str = "109876543210987";
const CUSTOMER: &str = "4915112345678";
/// The media id of `/work/shared/fixtures/whatsapp/webhook_image.json`.
const MEDIA_ID: &str = "1288344115501230";

const OUTBOX: &str = r#"
[outbox]
lease_secs = 2
retry_base_ms = 200
retry_max_ms = 1000
"#;

/// Connects an agent to the console, says hello, returns the socket.
async fn agent(tandem: &Tandem, id: &str, name: &str) -> WsClient {
    let mut ws =
        WsClient::connect_url(&format!("ws://{}/console/ws?token={TOKEN}", tandem.addr)).await;
    ws.recv_type("snapshot").await;
    ws.send(json!({"type": "hello", "agent": {"id": id, "name": name}}))
        .await;
    ws
}

/// The next `handoff` frame satisfying `ok`.
async fn handoff_where(ws: &mut WsClient, ok: impl Fn(&Value) -> bool) -> Value {
    loop {
        let f = ws.recv_type("handoff").await;
        if ok(&f["handoff"]) {
            return f["handoff"].clone();
        }
    }
}

/// The media of the transcript line carrying one, if any.
fn media_line(h: &Value) -> Option<Value> {
    h["transcript"]
        .as_array()?
        .iter()
        .find(|l| l["media"].is_object())
        .cloned()
}

/// The transcript line of handoff `handoff_id` carrying an image, once the agent sees it:
/// its media links through Tandem (`/media/...`). Returns the line and the link.
async fn image_line(tandem: &Tandem, agent: &mut WsClient, handoff_id: &str) -> (Value, String) {
    let h = handoff_where(agent, |h| {
        h["handoff_id"] == handoff_id && media_line(h).is_some()
    })
    .await;
    let line = media_line(&h).unwrap();
    assert_eq!(line["media"]["kind"], "image");
    let url = line["media"]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&tandem.url("/media/")), "{url}");
    (line, url)
}

/// Opens a Tandem media link: it serves `body` as `content_type`.
async fn assert_serves(url: &str, content_type: &str, body: &[u8]) {
    let got = tandem_e2e::get(url).await.unwrap();
    assert_eq!(got.status(), 200, "{url}");
    assert_eq!(got.headers()["content-type"], content_type);
    assert_eq!(got.bytes().await.unwrap().as_ref(), body);
}

#[tokio::test]
async fn a_whatsapp_image_reaches_the_console_as_a_link_that_serves_it() {
    let dir = tempfile::tempdir().unwrap();
    let fake = WhatsAppFake::start(WA_TOKEN, NUMBER, "v21.0").await;
    let config = format!(
        r#"
[channels.whatsapp]
app_secret = "{WA_SECRET}"
verify_token = "wa-verify"
access_token = "{WA_TOKEN}"
phone_number_id = "{NUMBER}"
api_base = "{}"
api_version = "v21.0"

[desks.console]
tokens = ["{TOKEN}"]
{OUTBOX}
"#,
        fake.base_url()
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let mut sam = agent(&tandem, "sam", "Sam").await;

    let now = tandem_e2e::unix_now();
    let text = whatsapp_text(
        NUMBER,
        CUSTOMER,
        "Lena Müller",
        "I want a refund",
        "wamid.T1",
        now,
    );
    assert_eq!(
        tandem
            .post_meta("/webhooks/whatsapp", WA_SECRET, &text)
            .await,
        200
    );
    let h = handoff_where(&mut sam, |_| true).await;
    let handoff_id = h["handoff_id"].as_str().unwrap().to_owned();

    // The fixture's image message, as Meta sends it.
    let image = whatsapp_message(
        NUMBER,
        CUSTOMER,
        "Lena Müller",
        json!({
            "from": CUSTOMER, "id": "wamid.IMG1", "timestamp": (now + 1).to_string(),
            "type": "image",
            "image": {
                "caption": "Karton beschädigt", "mime_type": "image/jpeg",
                "sha256": "9f1c0a7d3b5e2f6a8c4d1e0b7a6f5c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b",
                "id": MEDIA_ID,
            },
        }),
    );
    assert_eq!(
        tandem
            .post_meta("/webhooks/whatsapp", WA_SECRET, &image)
            .await,
        200
    );
    let (line, url) = image_line(&tandem, &mut sam, &handoff_id).await;
    assert_eq!(line["media"]["caption"], "Karton beschädigt");
    assert!(line["media"].get("reference").is_none(), "{line:#}");
    // The text names the link too, for desks that show text only.
    let text = line["text"].as_str().unwrap();
    assert!(
        text.contains(&url) && text.contains("Karton beschädigt"),
        "{text}"
    );
    assert!(!text.contains(MEDIA_ID), "{text}");

    // The link serves the platform's bytes with their type, fetched with the token.
    let got = tandem_e2e::get(url.as_str()).await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "image/jpeg");
    assert_eq!(got.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        got.bytes().await.unwrap().as_ref(),
        format!("FAKE-MEDIA-{MEDIA_ID}").as_bytes()
    );
    let asked: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.path)
        .collect();
    assert!(asked.contains(&format!("/v21.0/{MEDIA_ID}")), "{asked:?}");

    // A tampered link (another media id under the same signature) is refused.
    let (payload, tag) = url.rsplit('/').next().unwrap().split_once('.').unwrap();
    let mut flipped = tag.as_bytes().to_vec();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let forged = format!("{}.{}", payload, String::from_utf8(flipped).unwrap());
    let refused = tandem_e2e::get(tandem.url(&format!("/media/{forged}")))
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let junk = tandem_e2e::get(tandem.url("/media/not-a-token"))
        .await
        .unwrap();
    assert_eq!(junk.status(), 403);

    // The agent answers with a file: WhatsApp gets an image message by link, its caption
    // the agent's words (WhatsApp's servers fetch the link).
    let link = send_label(&tandem, &mut sam, &handoff_id).await;
    let sent = eventually(15, "the image message at the fake", || async {
        fake.delivered()
            .into_iter()
            .map(|r| r.json())
            .find(|b| b["type"] == "image")
    })
    .await;
    assert_eq!(sent["to"], CUSTOMER, "{sent}");
    assert_eq!(sent["image"]["link"], link.as_str(), "{sent}");
    assert_eq!(sent["image"]["caption"], "Your return label", "{sent}");
    assert!(
        !fake.delivered().iter().any(|r| r.json()["text"]["body"]
            .as_str()
            .is_some_and(|t| t.contains("Your return label"))),
        "the caption went out a second time as text"
    );
    let got = tandem_e2e::get(link.as_str()).await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), PNG);
}

/// The agent uploads `PNG` in the console (as `label.png`) and sends it on `handoff_id`
/// with the words "Your return label"; returns the upload's Tandem link.
async fn send_label(tandem: &Tandem, agent: &mut WsClient, handoff_id: &str) -> String {
    let uploaded = tandem_e2e::http()
        .post(tandem.url(&format!("/console/api/upload?handoff_id={handoff_id}")))
        .header("content-type", "image/png")
        .header("x-filename", "label.png")
        .bearer_auth(TOKEN)
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 200);
    let media = uploaded.json::<Value>().await.unwrap()["media"].clone();
    let link = media["url"].as_str().unwrap().to_owned();
    agent
        .send(json!({
            "type": "message", "handoff_id": handoff_id, "id": "m-img",
            "text": "Your return label", "media": media,
        }))
        .await;
    assert_eq!(agent.recv_type("ack").await["id"], "m-img");
    link
}

const TG_TOKEN: &str = "7012345678:AAe2e-token";
const TG_SECRET: &str = "e2e_secret-token";
const TG_CHAT: i64 = 5_123_456_789;
/// A tiny PNG's first bytes; the content does not matter, only that it arrives whole.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\nfake-label-image";

#[tokio::test]
async fn an_agents_image_reaches_a_telegram_customer_as_send_photo() {
    let dir = tempfile::tempdir().unwrap();
    let fake = TelegramFake::start(TG_TOKEN).await;
    let config = format!(
        r#"
[channels.telegram]
bot_token = "{TG_TOKEN}"
secret_token = "{TG_SECRET}"
mode = "webhook"
api_base = "{}"

[desks.console]
tokens = ["{TOKEN}"]
{OUTBOX}
"#,
        fake.base_url()
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let mut sam = agent(&tandem, "sam", "Sam").await;
    let update = telegram_text(900_001, TG_CHAT, "I want a refund", tandem_e2e::unix_now());
    let status = tandem_e2e::http()
        .post(tandem.url("/webhooks/telegram"))
        .header("content-type", "application/json")
        .header("x-telegram-bot-api-secret-token", TG_SECRET)
        .body(update.to_string())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let h = handoff_where(&mut sam, |_| true).await;
    let handoff_id = h["handoff_id"].as_str().unwrap().to_owned();

    // Without credentials, nothing is kept.
    let upload = |auth: Option<&'static str>| {
        let mut req = tandem_e2e::http()
            .post(tandem.url(&format!("/console/api/upload?handoff_id={handoff_id}")))
            .header("content-type", "image/png")
            .header("x-filename", "return%20label.png")
            .body(PNG.to_vec());
        if let Some(token) = auth {
            req = req.bearer_auth(token);
        }
        req.send()
    };
    assert_eq!(upload(None).await.unwrap().status(), 401);
    // (a signed-in agent's cookie works only from the console's own origin)
    assert_eq!(
        upload(Some("wrong-token-0123456789"))
            .await
            .unwrap()
            .status(),
        401
    );
    let uploaded = upload(Some(TOKEN)).await.unwrap();
    assert_eq!(uploaded.status(), 200);
    let media = uploaded.json::<Value>().await.unwrap()["media"].clone();
    assert_eq!(media["kind"], "image");
    assert_eq!(media["filename"], "return label.png");
    let url = media["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&tandem.url("/media/")), "{url}");

    sam.send(json!({
        "type": "message", "handoff_id": handoff_id, "id": "m1",
        "text": "Here is your return label", "media": media,
    }))
    .await;
    assert_eq!(sam.recv_type("ack").await["id"], "m1");

    let sent = eventually(10, "sendPhoto at the fake", || async {
        fake.media_sends().into_iter().find(|r| r.succeeded())
    })
    .await;
    assert!(
        sent.path.to_ascii_lowercase().ends_with("/sendphoto"),
        "{}",
        sent.path
    );
    let params = tandem_testkit_params(&sent);
    let chat = params["chat_id"]
        .as_i64()
        .or_else(|| params["chat_id"].as_str()?.parse().ok());
    assert_eq!(chat, Some(TG_CHAT), "{params}");
    assert_eq!(params["photo"], url.as_str());
    assert_eq!(params["caption"], "Here is your return label");
    // No text message duplicates it.
    assert!(
        !fake
            .sends()
            .iter()
            .any(|r| r.body.windows(11).any(|w| w == b"return labe")),
        "the caption went out twice"
    );

    // The link Telegram fetches serves the upload.
    let got = tandem_e2e::get(url.as_str()).await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "image/png");
    assert_eq!(got.bytes().await.unwrap().as_ref(), PNG);

    // The console shows the agent's image in the transcript.
    let h = handoff_where(&mut sam, |h| {
        h["transcript"].as_array().is_some_and(|t| {
            t.iter()
                .any(|l| l["from"] == "agent" && l["media"]["url"] == url.as_str())
        })
    })
    .await;
    assert_eq!(h["handoff_id"], handoff_id.as_str());
}

/// The parameters of a Bot API request: JSON, or the fields of a multipart form.
fn tandem_testkit_params(r: &tandem_testkit::Recorded) -> Value {
    let json = r.json();
    if !json.is_null() {
        return json;
    }
    let content_type = r.header("content-type").unwrap_or_default();
    let Some(boundary) = content_type.split("boundary=").nth(1) else {
        return Value::Null;
    };
    let body = String::from_utf8_lossy(&r.body);
    let mut fields = serde_json::Map::new();
    for part in body.split(&format!("--{}", boundary.trim_matches('"'))) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|n| n.split('"').next())
        else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        fields.insert(name.to_owned(), Value::String(value.to_owned()));
    }
    Value::Object(fields)
}

const SLACK_TOKEN: &str = "xoxb-e2e-token";

/// Uploads `body` as the web chat visitor holding `session`; the status and the answer.
async fn webchat_upload(
    tandem: &Tandem,
    session: Option<&str>,
    mime: &str,
    body: &[u8],
) -> (u16, Value) {
    let mut req = tandem_e2e::http()
        .post(tandem.url("/webchat/upload?name=photo.png"))
        .header("content-type", mime)
        .body(body.to_vec());
    if let Some(s) = session {
        req = req.header("authorization", format!("Bearer {s}"));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_webchat_upload_reaches_a_slack_thread_as_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let slack = tandem_testkit::slack_fake::SlackFake::start(SLACK_TOKEN).await;
    let config = format!(
        r#"
[channels.webchat]

[desks.slack]
bot_token = "{SLACK_TOKEN}"
signing_secret = "slack-signing-secret"
channel_id = "C0SUPPORT1"
api_base = "{}"
{OUTBOX}"#,
        slack.base_url()
    );
    let config = format!("{config}\n[media]\nmax_bytes = 3145728\n");
    let tandem = Tandem::start(dir.path(), &config).await;
    let (mut c, welcome) = WsClient::hello(&tandem.addr, None).await;
    let session = welcome["session"].as_str().unwrap().to_owned();

    // An upload is bounded by `[media] max_bytes` (3 MiB here), not by the server's
    // body limit for other routes (1 MiB by default).
    let mut photo = PNG.to_vec();
    photo.resize(2 * 1024 * 1024, 0);
    let (status, answer) = webchat_upload(&tandem, Some(&session), "image/png", &photo).await;
    assert_eq!(status, 200, "a 2 MiB photo: {answer}");
    photo.resize(4 * 1024 * 1024, 0);
    // 413, or the connection closed while the rest of the body was still being sent.
    let status = tandem_e2e::http()
        .post(tandem.url("/webchat/upload?name=big.png"))
        .header("content-type", "image/png")
        .header("authorization", format!("Bearer {session}"))
        .body(photo)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(413);
    assert_eq!(status, 413, "over [media] max_bytes");
    let status = tandem_e2e::http()
        .post(tandem.url("/webhooks/anything"))
        .body(vec![b'x'; 2 * 1024 * 1024])
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(413);
    assert_eq!(
        status, 413,
        "2 MiB elsewhere is over the server's body limit"
    );

    // The customer is handed to Slack.
    c.say("m1", "I want a refund for order 12345").await;
    eventually(20, "the briefing at Slack", || async {
        slack.roots().into_iter().next()
    })
    .await;
    let root_ts = tandem_testkit::slack_fake::SlackFake::ts_of(0);

    // Uploads need the visitor's session and an accepted type.
    let (status, _) = webchat_upload(&tandem, None, "image/png", PNG).await;
    assert_eq!(status, 401);
    let (status, _) = webchat_upload(&tandem, Some("v1.anon:x.00"), "image/png", PNG).await;
    assert_eq!(status, 401, "a forged session");
    let (status, _) =
        webchat_upload(&tandem, Some(&session), "application/x-msdownload", b"MZ").await;
    assert_eq!(status, 415);

    let (status, answer) = webchat_upload(&tandem, Some(&session), "image/png", PNG).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["kind"], "image");
    let token = answer["media"].as_str().unwrap().to_owned();

    // Another visitor cannot send this visitor's upload.
    let (mut other, _) = WsClient::hello(&tandem.addr, None).await;
    other
        .send(json!({"type":"message","id":"x1","text":"","media": token}))
        .await;
    let refused = other.recv_type("error").await;
    assert_eq!(refused["code"], "bad_frame", "{refused}");

    // The customer sends it with a caption: the Slack thread gets a Tandem link.
    c.send(json!({"type":"message","id":"m2","text":"the broken part","media": token}))
        .await;
    assert_eq!(c.recv_type("ack").await["id"], "m2");
    let text = eventually(20, "the upload in the Slack thread", || async {
        slack.replies(&root_ts).into_iter().find_map(|r| {
            let t = r["text"].as_str().unwrap_or_default().to_owned();
            t.contains("/media/").then_some(t)
        })
    })
    .await;
    assert!(text.contains("the broken part"), "{text}");
    let base = tandem.url("/media/");
    let start = text.find(&base).unwrap();
    let url: String = text[start..]
        .chars()
        .take_while(|ch| !ch.is_whitespace() && !matches!(ch, '>' | '|' | ']' | ')'))
        .collect();
    let got = tandem_e2e::get(url.as_str()).await.unwrap();
    assert_eq!(got.status(), 200, "{url}");
    assert_eq!(got.headers()["content-type"], "image/png");
    assert_eq!(got.bytes().await.unwrap().as_ref(), PNG);
}

/// A Messenger customer's photo reaches the console as a Tandem link that serves the
/// attachment from Meta's CDN (here the fake's), fetched by Tandem; the CDN URL itself
/// never reaches the desk.
#[tokio::test]
async fn a_messenger_image_reaches_the_console_as_a_link_that_serves_it() {
    const FB_SECRET: &str = "fb-app-secret";
    const FB_TOKEN: &str = "fb-page-token";
    const PAGE: &str = "112233445566778";
    const PSID: &str = "6677889900112233";
    let dir = tempfile::tempdir().unwrap();
    let fake = MessengerFake::start(FB_TOKEN, "v21.0").await;
    let config = format!(
        r#"
[channels.messenger]
app_secret = "{FB_SECRET}"
verify_token = "fb-verify"
page_access_token = "{FB_TOKEN}"
api_base = "{}"
api_version = "v21.0"

[desks.console]
tokens = ["{TOKEN}"]
{OUTBOX}
"#,
        fake.base_url()
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let mut sam = agent(&tandem, "sam", "Sam").await;
    let now_ms = tandem_e2e::unix_now() * 1000;
    let text = messenger_text(PAGE, PSID, "I want a refund", "m_T1", now_ms);
    assert_eq!(
        tandem
            .post_meta("/webhooks/messenger", FB_SECRET, &text)
            .await,
        200
    );
    let h = handoff_where(&mut sam, |_| true).await;
    let handoff_id = h["handoff_id"].as_str().unwrap().to_owned();

    let cdn_url = fake.attachment_url("box_damage.jpg");
    let image = messenger_event(
        PAGE,
        PSID,
        now_ms + 1000,
        json!({"message": {"mid": "m_IMG1", "attachments": [
            {"type": "image", "payload": {"url": cdn_url}}
        ]}}),
    );
    assert_eq!(
        tandem
            .post_meta("/webhooks/messenger", FB_SECRET, &image)
            .await,
        200
    );
    let (line, url) = image_line(&tandem, &mut sam, &handoff_id).await;
    assert!(!line.to_string().contains("/cdn/"), "{line:#}");
    assert_serves(&url, "image/jpeg", b"FAKE-ATTACHMENT-box_damage.jpg").await;
}

/// A Teams user's image reaches the console as a Tandem link; opening it makes Tandem
/// fetch the attachment from the Bot Connector with the bot's token (the fake refuses
/// it without one); the Bot Connector URL never reaches the desk.
#[tokio::test]
async fn a_teams_image_reaches_the_console_as_a_link_that_serves_it() {
    use tandem_testkit::fake::{TEAMS_TENANT, TeamsFake, TeamsUser, TokenKind};
    const APP_ID: &str = "5e0b7d2c-1a3f-4c8e-9b6d-2f4a6c8e0b1d";
    const PASSWORD: &str = "media-teams-secret";
    let dir = tempfile::tempdir().unwrap();
    let fake = TeamsFake::start(APP_ID, PASSWORD).await;
    let config = format!(
        r#"
[channels.teams]
app_id = "{APP_ID}"
app_password = "{PASSWORD}"
tenant_id = "{TEAMS_TENANT}"
openid_metadata_url = "{}"
token_url = "{}"
service_url = "{}"

[desks.console]
tokens = ["{TOKEN}"]
{OUTBOX}
"#,
        fake.openid_metadata_url(),
        fake.token_url(),
        fake.service_url(),
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let mut sam = agent(&tandem, "sam", "Sam").await;
    let erin = TeamsUser::new(
        "29:1MediaUserQpXz",
        "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c77",
        "Erin Example",
    );
    let post = |activity: Value| {
        let bearer = fake.bearer(&activity, TokenKind::Valid);
        let tandem = &tandem;
        async move {
            tandem
                .post_activity("/webhooks/teams", &activity, &bearer)
                .await
        }
    };
    let ask = tandem_testkit::payloads::teams_text(
        &fake.service_url(),
        APP_ID,
        &erin,
        "I want a refund",
        "1767300000101",
    );
    assert_eq!(post(ask).await, 200);
    let h = handoff_where(&mut sam, |_| true).await;
    let handoff_id = h["handoff_id"].as_str().unwrap().to_owned();

    let content_url = fake.attachment_url("0-weu-d1-abc");
    let mut image = tandem_testkit::payloads::teams_text(
        &fake.service_url(),
        APP_ID,
        &erin,
        "",
        "1767300000102",
    );
    image["attachments"] = json!([{"contentType": "image/png", "contentUrl": content_url}]);
    assert_eq!(post(image).await, 200);
    let (line, url) = image_line(&tandem, &mut sam, &handoff_id).await;
    assert!(!line.to_string().contains("/v3/attachments/"), "{line:#}");
    assert_serves(&url, "image/png", b"FAKE-TEAMS-ATTACHMENT-0-weu-d1-abc").await;

    // The agent answers with an image: the Teams activity carries it as an inline
    // attachment (Teams' client loads the link), the agent's words as its text.
    let link = send_label(&tandem, &mut sam, &handoff_id).await;
    let sent = eventually(15, "the image activity at the fake", || async {
        fake.delivered()
            .into_iter()
            .map(|r| r.json())
            .find(|b| b["attachments"][0]["contentUrl"].is_string())
    })
    .await;
    assert_eq!(
        sent["attachments"][0]["contentUrl"],
        link.as_str(),
        "{sent}"
    );
    assert_eq!(sent["attachments"][0]["contentType"], "image/png", "{sent}");
    assert_eq!(sent["text"], "Your return label", "{sent}");
}
