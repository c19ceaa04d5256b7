//! Channel fidelity (issue 18), end to end with the real binary: a button tap is matched
//! against the buttons Tandem offered and never read as typed text; every recorded
//! platform payload of WhatsApp, Messenger and Telegram is acknowledged and none gets the
//! old text-only apology; a person answering in the Messenger Page Inbox silences the bot
//! until they have been quiet; agent replies are not counted as customer messages.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tandem_e2e::{FakeEndpoint, Tandem, eventually};
use tandem_testkit::fake::{MessengerFake, TelegramFake, WhatsAppFake};

use crate::handoff::{customer_says, desk_bodies, desk_posts, texts_from};

/// The apology every non-text message used to get.
const TEXT_ONLY_APOLOGY: &str = "I can only read text messages";
/// The notice that remains for content nobody can read.
const UNREADABLE: &str = "couldn't open that message";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

async fn tap(tandem: &Tandem, id: &str, payload: &str, title: &str) {
    let body = json!({"id": id, "from": {"id": "alice", "name": "Alice"},
        "postback": {"payload": payload, "title": title}});
    crate::handoff::post_generic(tandem, &body).await;
}

/// The generic webhook channel and desk of `handoff.rs`, with their fake endpoints.
async fn start_with_desk() -> (tempfile::TempDir, FakeEndpoint, FakeEndpoint, Tandem) {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let desk = FakeEndpoint::start(200).await;
    let tandem = Tandem::start(
        dir.path(),
        &crate::handoff::config(&customer.url, &desk.url),
    )
    .await;
    (dir, customer, desk, tandem)
}

/// Issue 18 item 1: a payload Tandem never offered (a platform's opaque callback data, a
/// foreign template button) is recorded, not read: it used to open a legal handoff. A tap
/// on a button Tandem offered answers like that button.
#[tokio::test]
async fn button_taps_are_matched_against_offered_buttons_never_read_as_text() {
    let (_dir, customer, desk, tandem) = start_with_desk().await;

    tap(&tandem, "t1", "delete my data", "OK").await;
    tap(&tandem, "t2", "callback_data", "Yes").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        desk_bodies(&desk, "handoff.requested").is_empty(),
        "no handoff from a payload nobody offered"
    );
    assert!(customer.delivered().is_empty(), "nothing answered");

    // The bot's fallback offers buttons; tapping one answers as that button.
    customer_says(&tandem, "c1", "zzkx qwv").await;
    eventually(10, "the fallback", || async {
        texts_from(&customer, "bot").into_iter().next()
    })
    .await;
    tap(&tandem, "t3", "track my order", "Track my order").await;
    let answer = eventually(10, "the tapped button's answer", || async {
        texts_from(&customer, "bot").get(1).cloned()
    })
    .await;
    assert!(answer.to_lowercase().contains("order"), "{answer}");
}

/// Issue 18 item 8: agents' replies (desk events share the inbound log) are not counted
/// in the customer-messages metric.
#[tokio::test]
async fn agent_replies_are_not_counted_as_customer_messages() {
    let (_dir, customer, desk, tandem) = start_with_desk().await;
    customer_says(&tandem, "c1", "I want a refund for order 12345").await;
    let requested = eventually(10, "handoff.requested at the desk", || async {
        desk_bodies(&desk, "handoff.requested").into_iter().next()
    })
    .await;
    let handoff_id = requested.json()["handoff_id"].as_str().unwrap().to_owned();
    let reply = json!({"type":"agent.message","handoff_id":handoff_id,"agent":{"id":"a1","name":"Sam"},"text":"Hi, I'm Sam."});
    assert_eq!(desk_posts(&tandem, "d1", reply, b"desk-secret").await, 200);
    eventually(10, "agent reply at the customer", || async {
        (!texts_from(&customer, "agent").is_empty()).then_some(())
    })
    .await;
    let metrics = tandem.metrics().await;
    let counted: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("tandem_messages_in_total{"))
        .collect();
    assert_eq!(
        counted,
        ["tandem_messages_in_total{channel=\"webhook\"} 1"],
        "{metrics}"
    );
}

const META_SECRET: &str = "fidelity-app-secret";
const TG_SECRET: &str = "fidelity_secret-token";

fn all_channels(wa: &WhatsAppFake, fb: &MessengerFake, tg: &TelegramFake) -> String {
    format!(
        r#"
[channels.whatsapp]
app_secret = "{META_SECRET}"
verify_token = "v"
access_token = "wa-token"
phone_number_id = "109876543210987"
api_base = "{}"
api_version = "v21.0"

[channels.messenger]
app_secret = "{META_SECRET}"
verify_token = "v"
page_access_token = "fb-token"
app_id = "1234567890123456"
api_base = "{}"
api_version = "v21.0"

[channels.telegram]
bot_token = "7012345678:AAfidelity"
secret_token = "{TG_SECRET}"
mode = "webhook"
api_base = "{}"
"#,
        wa.base_url(),
        fb.base_url(),
        tg.base_url()
    )
}

fn fixtures(channel: &str) -> Vec<PathBuf> {
    let dir = root().join(format!(
        "adapters/channels/{channel}/tests/fixtures/inbound"
    ));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}", dir.display());
    files
}

/// Issue 18 acceptance 2 and 3: every recorded payload of every event type in the
/// adapters' tables is acknowledged with 2xx, and no customer gets the text-only
/// apology; the "couldn't open" notice answers only content nobody can read.
#[tokio::test]
async fn every_fixture_is_acknowledged_and_none_gets_the_text_only_apology() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppFake::start("wa-token", "109876543210987", "v21.0").await;
    let fb = MessengerFake::start("fb-token", "v21.0").await;
    let tg = TelegramFake::start("7012345678:AAfidelity").await;
    let tandem = Tandem::start(dir.path(), &all_channels(&wa, &fb, &tg)).await;

    let mut posted = 0;
    for (channel, path) in [
        ("whatsapp", "/webhooks/whatsapp"),
        ("messenger", "/webhooks/messenger"),
    ] {
        for file in fixtures(channel) {
            let body = std::fs::read_to_string(&file).unwrap();
            let status = tandem.post_meta(path, META_SECRET, &body).await;
            assert!((200..300).contains(&status), "{}: {status}", file.display());
            posted += 1;
        }
    }
    for file in fixtures("telegram") {
        let status = tandem_e2e::http()
            .post(tandem.url("/webhooks/telegram"))
            .header("content-type", "application/json")
            .header("x-telegram-bot-api-secret-token", TG_SECRET)
            .body(std::fs::read(&file).unwrap())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert!((200..300).contains(&status), "{}: {status}", file.display());
        posted += 1;
    }
    assert!(
        posted > 40,
        "the corpora cover the tables ({posted} payloads)"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;

    let conn = rusqlite::Connection::open_with_flags(
        dir.path().join("tandem.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let rows: Vec<(String, String, String)> = conn
        .prepare(
            "SELECT conversation_id, party, content FROM transcript ORDER BY conversation_id, seq",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        rows.len() > 20,
        "the payloads were processed: {}",
        rows.len()
    );
    for (i, (conversation, party, content)) in rows.iter().enumerate() {
        assert!(
            !content.contains(TEXT_ONLY_APOLOGY),
            "the text-only apology was answered to: {:?}",
            rows.get(i.wrapping_sub(1))
        );
        if party == "system" && content.contains(UNREADABLE) {
            let before: Value = rows
                .get(i - 1)
                .filter(|(c, _, _)| c == conversation)
                .map(|(_, _, c)| serde_json::from_str(c).unwrap())
                .unwrap_or_default();
            assert_eq!(
                before["type"], "unsupported",
                "the unreadable notice answers only unreadable content: {before}"
            );
        }
    }
}

/// Issue 18 item 7: a Messenger echo sent by another app (someone answering in the Page
/// Inbox) gives the conversation to that person: the bot is silent until they have been
/// quiet for `[handoff] external_release_after_secs`.
#[tokio::test]
async fn a_person_answering_in_the_page_inbox_silences_the_bot_until_quiet() {
    const PAGE: &str = "112233445566778";
    const PSID: &str = "6876543210987654";
    let dir = tempfile::tempdir().unwrap();
    let fb = MessengerFake::start("fb-token", "v21.0").await;
    let config = format!(
        r#"
[channels.messenger]
app_secret = "{META_SECRET}"
verify_token = "v"
page_access_token = "fb-token"
app_id = "1234567890123456"
api_base = "{}"
api_version = "v21.0"

[handoff]
external_release_after_secs = 3
"#,
        fb.base_url()
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let now_ms = || tandem_e2e::unix_now() * 1000;
    let say = |mid: &str, text: &str| {
        tandem_testkit::payloads::messenger_text(PAGE, PSID, text, mid, now_ms())
    };
    let post = |body: String| {
        let tandem = &tandem;
        async move {
            tandem
                .post_meta("/webhooks/messenger", META_SECRET, &body)
                .await
        }
    };

    assert_eq!(post(say("m_1", "what are your opening hours?")).await, 200);
    eventually(10, "the bot's answer", || async {
        (fb.sends().len() == 1).then_some(())
    })
    .await;

    // Someone answers in the Page Inbox (another app's echo, no Tandem metadata).
    let inbox = json!({"object": "page", "entry": [{"id": PAGE, "time": now_ms(), "messaging": [
        {"sender": {"id": PAGE}, "recipient": {"id": PSID}, "timestamp": now_ms(),
         "message": {"is_echo": true, "app_id": 263_902_037_430_900_u64, "mid": "m_inbox", "text": "Hi, Maria here, I'll help you."}}
    ]}]});
    assert_eq!(post(inbox.to_string()).await, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        post(say("m_2", "thanks Maria, and your returns policy?")).await,
        200
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fb.sends().len(), 1, "the bot does not talk over Maria");

    // Maria has been quiet for longer than the release time: the bot is back.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(post(say("m_3", "what are your opening hours?")).await, 200);
    eventually(10, "the bot answers again", || async {
        (fb.sends().len() == 2).then_some(())
    })
    .await;
}

/// Issue 18 item 7: a WhatsApp Business app echo also gives the conversation to the person,
/// and the admin API releases it back to the bot at once.
#[tokio::test]
async fn a_business_app_echo_silences_the_bot_until_an_admin_releases_it() {
    const ADMIN: &str = "admin-token-0123456789abcdef";
    const CUSTOMER: &str = "4915112345678";
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppFake::start("wa-token", "109876543210987", "v21.0").await;
    let config = format!(
        r#"
[channels.whatsapp]
app_secret = "{META_SECRET}"
verify_token = "v"
access_token = "wa-token"
phone_number_id = "109876543210987"
api_base = "{}"
api_version = "v21.0"

[admin]
tokens = ["{ADMIN}"]
"#,
        wa.base_url()
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let say = |wamid: &str, text: &str| {
        tandem_testkit::payloads::whatsapp_text(
            "109876543210987",
            CUSTOMER,
            "Lena",
            text,
            wamid,
            tandem_e2e::unix_now(),
        )
    };
    let echo = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "smb_message_echoes", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550101234", "phone_number_id": "109876543210987"},
            "message_echoes": [{"from": "15550101234", "to": CUSTOMER, "id": "wamid.ECHO1",
                "timestamp": tandem_e2e::unix_now().to_string(), "type": "text", "text": {"body": "Tom here, one moment."}}]}}
    ]}]});
    assert_eq!(
        tandem
            .post_meta("/webhooks/whatsapp", META_SECRET, &echo.to_string())
            .await,
        200
    );
    assert_eq!(
        tandem
            .post_meta(
                "/webhooks/whatsapp",
                META_SECRET,
                &say("wamid.C1", "what are your opening hours?")
            )
            .await,
        200
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(wa.sends().is_empty(), "the bot does not talk over Tom");

    let (_, customers) = tandem
        .api(
            ADMIN,
            reqwest::Method::GET,
            &format!("/api/v1/customers?identity=whatsapp:{CUSTOMER}"),
            None,
        )
        .await;
    let customer = customers[0]["id"].as_str().unwrap().to_owned();
    let (_, conversations) = tandem
        .api(
            ADMIN,
            reqwest::Method::GET,
            &format!("/api/v1/customers/{customer}/conversations"),
            None,
        )
        .await;
    let conversation = conversations[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(conversations[0]["owner"], "external");
    let path = format!("/api/v1/conversations/{conversation}/release");
    let (status, released) = tandem.api(ADMIN, reqwest::Method::POST, &path, None).await;
    assert_eq!(status, 200, "{released}");
    assert_eq!(released["owner"], "bot");
    let (status, _) = tandem.api(ADMIN, reqwest::Method::POST, &path, None).await;
    assert_eq!(status, 409, "released already");

    assert_eq!(
        tandem
            .post_meta(
                "/webhooks/whatsapp",
                META_SECRET,
                &say("wamid.C2", "what are your opening hours?")
            )
            .await,
        200
    );
    eventually(10, "the bot answers again", || async {
        (!wa.sends().is_empty()).then_some(())
    })
    .await;
}
