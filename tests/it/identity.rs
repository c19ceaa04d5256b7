//! Cross-channel identity (issue 7) end to end, with the real binary:
//!
//! - acceptance 1, with the verified sources that exist today: two web chat users whose
//!   signed `user_token` carries the same email (different user ids) are one customer, an
//!   invalid hash keeps them apart; a WhatsApp sender (wa_id = verified phone) and an
//!   admin-linked identity carrying that phone join the same customer. The Teams UPN half
//!   of acceptance 1 is in `teams.rs`.
//! - unverified claims: an email typed in chat by an anonymous user that a verified
//!   customer holds is a suggested link (audit and export of both), never a merge.
//! - acceptance 3: merge then unmerge through the admin API restores identities and
//!   conversations exactly; both are in the audit trail.
//! - acceptance 5: after a GDPR erase no row, column or raw byte of the SQLite store
//!   (database and WAL) holds the customer's name, email or message texts, and the
//!   escalation counts in `/metrics` are unchanged across a restart.

use serde_json::{Value, json};
use tandem_e2e::{Tandem, WsClient, eventually, hmac_hex};
use tandem_testkit::fake::WhatsAppFake;
use tandem_testkit::payloads::whatsapp_text;

const TOKEN: &str = "identity-admin-token-0123456789";
const WEB_SECRET: &str = "web-secret";

fn webchat_config() -> String {
    format!(
        r#"
[channels.webchat]
identity_secret = "{WEB_SECRET}"

[admin]
tokens = ["{TOKEN}"]
"#
    )
}

async fn get(tandem: &Tandem, path: &str) -> (u16, Value) {
    tandem.api(TOKEN, reqwest::Method::GET, path, None).await
}

async fn send(tandem: &Tandem, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    tandem.api(TOKEN, method, path, Some(body)).await
}

/// A web chat user says hello with `user` and the given hash; returns the client and
/// the welcome frame.
async fn web_user(tandem: &Tandem, user: Value, hash: &str) -> (WsClient, Value) {
    let mut c = WsClient::connect(&tandem.addr).await;
    c.send(json!({"type": "hello", "user": user, "user_hash": hash}))
        .await;
    let welcome = c.recv_type("welcome").await;
    (c, welcome)
}

fn valid_hash(user_id: &str) -> String {
    hmac_hex(WEB_SECRET.as_bytes(), &[user_id.as_bytes()])
}

/// A web chat user whose id, email and name the site signed in a `user_token`.
async fn signed_user(tandem: &Tandem, user: Value) -> (WsClient, Value) {
    let token = tandem_e2e::user_token(WEB_SECRET.as_bytes(), &user);
    let mut c = WsClient::connect(&tandem.addr).await;
    c.send(json!({"type": "hello", "user": {"name": user["name"]}, "user_token": token}))
        .await;
    let welcome = c.recv_type("welcome").await;
    (c, welcome)
}

/// The one customer owning `webchat:user:<id>`.
async fn web_customer(tandem: &Tandem, user_id: &str) -> Value {
    let (status, found) = get(
        tandem,
        &format!("/api/v1/customers?identity=webchat:user:{user_id}"),
    )
    .await;
    assert_eq!(status, 200);
    let list = found.as_array().expect("a list of customers");
    assert_eq!(list.len(), 1, "one customer owns webchat:user:{user_id}");
    list[0].clone()
}

fn external_ids(customer: &Value) -> Vec<String> {
    let mut ids: Vec<String> = customer["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .map(|i| i["external_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn two_verified_webchat_users_with_one_email_are_one_customer_invalid_hash_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &webchat_config()).await;

    // Two different web users whose signed token carries e@x.test.
    let (mut a, welcome_a) = signed_user(
        &tandem,
        json!({"id": "web-a", "email": "e@x.test", "name": "Erin"}),
    )
    .await;
    assert_eq!(welcome_a["verified"], true);
    a.say("a1", "hello from the first browser").await;
    a.recv_reply().await;
    let (mut b, welcome_b) = signed_user(
        &tandem,
        json!({"id": "web-b", "email": "E@X.test", "name": "Erin"}),
    )
    .await;
    assert_eq!(welcome_b["verified"], true);
    b.say("b1", "hello from the second browser").await;
    b.recv_reply().await;

    let (status, found) = get(&tandem, "/api/v1/customers?email=e@x.test").await;
    assert_eq!(status, 200);
    let customers = found.as_array().unwrap();
    assert_eq!(customers.len(), 1, "one customer for e@x.test: {found}");
    assert_eq!(
        external_ids(&customers[0]),
        vec!["user:web-a".to_owned(), "user:web-b".to_owned()]
    );
    assert!(
        customers[0]["identities"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["verified"] == true)
    );

    // A third user claims the same email with a hash that does not verify: a customer
    // of its own, and the verified customer keeps exactly its two identities.
    let (mut c, welcome_c) = web_user(
        &tandem,
        json!({"id": "web-c", "email": "e@x.test", "name": "Mallory"}),
        "00",
    )
    .await;
    assert_ne!(welcome_c["verified"], true);
    c.say("c1", "hello, I am totally Erin").await;
    c.recv_reply().await;
    let (_, found) = get(&tandem, "/api/v1/customers?email=e@x.test").await;
    let customers = found.as_array().unwrap();
    assert_eq!(customers.len(), 1);
    assert_eq!(external_ids(&customers[0]).len(), 2);
    let erin = customers[0]["id"].as_str().unwrap().to_owned();
    // The unverified web user's customer is another one (found by its conversation).
    let mallory_conv = welcome_c["conversation_id"].as_str().unwrap();
    let (_, conv) = get(&tandem, &format!("/api/v1/conversations/{mallory_conv}")).await;
    assert_ne!(
        conv["customer_id"],
        erin.as_str(),
        "an invalid hash never merges"
    );
    let (_, erin_convs) = get(&tandem, &format!("/api/v1/customers/{erin}/conversations")).await;
    assert!(
        erin_convs
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != mallory_conv)
    );
}

/// Acceptance (unverified claims): an anonymous web user who types a verified customer's
/// email is not merged with them; the pair is a suggested link (reason `unverified_claim`,
/// recorded once however often it is typed) in the audit and the export of both, and the
/// email is not logged at INFO or above.
#[tokio::test]
async fn an_email_typed_by_an_anonymous_user_only_suggests_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &webchat_config()).await;

    let (mut a, welcome_a) = signed_user(
        &tandem,
        json!({"id": "claim-a", "email": "Grace.Hopper@X.test", "name": "Grace"}),
    )
    .await;
    assert_eq!(welcome_a["verified"], true);
    a.say("a1", "hello from my account").await;
    a.recv_reply().await;
    let grace = web_customer(&tandem, "claim-a").await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Anonymous, no user at all: claims the email twice in chat.
    let (mut b, welcome_b) = WsClient::hello(&tandem.addr, None).await;
    assert_ne!(welcome_b["verified"], true);
    b.say("b1", "hi, my email is grace.hopper@x.test").await;
    b.recv_reply().await;
    b.say("b2", "again: <GRACE.HOPPER@x.test>.").await;
    b.recv_reply().await;
    let b_conv = welcome_b["conversation_id"].as_str().unwrap();
    let (_, conv) = get(&tandem, &format!("/api/v1/conversations/{b_conv}")).await;
    let anon = conv["customer_id"].as_str().unwrap().to_owned();
    assert_ne!(anon, grace, "an unverified claim never merges");

    // Still two customers; Grace keeps exactly her own identity.
    let (_, by_email) = get(&tandem, "/api/v1/customers?email=grace.hopper@x.test").await;
    let by_email = by_email.as_array().unwrap();
    assert_eq!(by_email.len(), 1);
    assert_eq!(by_email[0]["id"], grace.as_str());
    assert_eq!(external_ids(&by_email[0]), vec!["user:claim-a".to_owned()]);
    let (_, anon_customer) = get(&tandem, &format!("/api/v1/customers/{anon}")).await;
    assert_eq!(anon_customer["identities"].as_array().unwrap().len(), 1);

    let expected = json!([{
        "customer_id": anon,
        "other_customer_id": grace,
        "key": {"kind": "email", "value": "grace.hopper@x.test"},
        "reason": "unverified_claim",
    }]);
    let without_at = |links: &Value| -> Value {
        let mut links = links.clone();
        for l in links.as_array_mut().unwrap() {
            assert!(l["at"].is_string(), "{l}");
            l.as_object_mut().unwrap().remove("at");
        }
        links
    };
    for who in [&anon, &grace] {
        let (status, audit) = get(&tandem, &format!("/api/v1/customers/{who}/audit")).await;
        assert_eq!(status, 200);
        assert_eq!(without_at(&audit["suggested_links"]), expected, "{audit}");
        assert!(
            audit["entries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["kind"] != "merge"),
            "{audit}"
        );
        let (status, export) = get(&tandem, &format!("/api/v1/customers/{who}/export")).await;
        assert_eq!(status, 200);
        assert_eq!(without_at(&export["suggested_links"]), expected);
    }

    // Grace typing her own email suggests nothing new.
    a.say("a2", "my email is grace.hopper@x.test").await;
    a.recv_reply().await;
    let (_, audit) = get(&tandem, &format!("/api/v1/customers/{grace}/audit")).await;
    assert_eq!(without_at(&audit["suggested_links"]), expected);

    let logs = tandem.logs();
    assert!(
        logs.contains("suggested link recorded"),
        "the suggestion is visible at DEBUG"
    );
    for line in logs
        .lines()
        .filter(|l| !l.contains("DEBUG") && !l.contains("TRACE"))
    {
        assert!(
            !line.to_lowercase().contains("grace.hopper"),
            "no email at INFO or above: {line}"
        );
    }
}

const WA_SECRET: &str = "wa-app-secret";
const WA_TOKEN: &str = "wa-access-token";
const WA_NUMBER: &str = "109876543210987";
const WA_CUSTOMER: &str = "4915112345678";

#[tokio::test]
async fn whatsapp_verified_phone_and_admin_linked_phone_join_one_customer() {
    let dir = tempfile::tempdir().unwrap();
    let fake = WhatsAppFake::start(WA_TOKEN, WA_NUMBER, "v21.0").await;
    let config = format!(
        r#"
[channels.webchat]
identity_secret = "{WEB_SECRET}"

[channels.whatsapp]
app_secret = "{WA_SECRET}"
verify_token = "wa-verify"
access_token = "{WA_TOKEN}"
phone_number_id = "{WA_NUMBER}"
api_base = "{}"
api_version = "v21.0"

[admin]
tokens = ["{TOKEN}"]
"#,
        fake.base_url()
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    fake.set_webhook(&tandem.url("/webhooks/whatsapp"), WA_SECRET);

    // A verified web user (email only) and a WhatsApp sender (verified phone): two people
    // as far as Tandem can tell.
    let (mut web, _) = signed_user(
        &tandem,
        json!({"id": "web-wa", "email": "lena@x.test", "name": "Lena"}),
    )
    .await;
    web.say("w1", "hi from the website").await;
    web.recv_reply().await;
    let sent_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let body = whatsapp_text(
        WA_NUMBER,
        WA_CUSTOMER,
        "Lena Müller",
        "hi from WhatsApp",
        "wamid.identity-1",
        sent_at,
    );
    let status = tandem
        .post_meta("/webhooks/whatsapp", WA_SECRET, &body)
        .await;
    assert_eq!(status, 200);
    let wa_customer = eventually(10, "the WhatsApp customer", || async {
        let (_, found) = get(
            &tandem,
            &format!("/api/v1/customers?identity=whatsapp:{WA_CUSTOMER}"),
        )
        .await;
        found.as_array().and_then(|l| l.first().cloned())
    })
    .await;
    let web_customer_before = web_customer(&tandem, "web-wa").await;
    assert_ne!(wa_customer["id"], web_customer_before["id"]);

    // An operator links a CRM identity to the web customer, with the phone the CRM knows
    // (formatted differently): the verified phone joins the WhatsApp customer.
    let web_id = web_customer_before["id"].as_str().unwrap().to_owned();
    let (status, linked) = send(
        &tandem,
        reqwest::Method::POST,
        &format!("/api/v1/customers/{web_id}/identities"),
        json!({"channel": "crm", "external_id": "crm-1001", "phone": "+49 151 1234 5678"}),
    )
    .await;
    assert_eq!(status, 201, "{linked}");
    assert_eq!(linked["source"], "admin");
    assert_eq!(linked["verified"], true);

    let joined = web_customer(&tandem, "web-wa").await;
    let (_, by_wa) = get(
        &tandem,
        &format!("/api/v1/customers?identity=whatsapp:{WA_CUSTOMER}"),
    )
    .await;
    assert_eq!(by_wa[0]["id"], joined["id"], "one customer: {joined}");
    let ids = external_ids(&joined);
    for expected in ["crm-1001", WA_CUSTOMER, "user:web-wa"] {
        assert!(ids.iter().any(|i| i == expected), "{expected} in {ids:?}");
    }
    let (_, audit) = get(
        &tandem,
        &format!("/api/v1/customers/{}/audit", joined["id"].as_str().unwrap()),
    )
    .await;
    let kinds: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"link"), "{audit}");
    assert!(kinds.contains(&"merge"), "{audit}");
}

/// GET customer, identities and conversations (with transcripts) of a customer.
async fn snapshot(tandem: &Tandem, id: &str) -> Value {
    let (_, customer) = get(tandem, &format!("/api/v1/customers/{id}")).await;
    let (_, identities) = get(tandem, &format!("/api/v1/customers/{id}/identities")).await;
    let (_, conversations) = get(tandem, &format!("/api/v1/customers/{id}/conversations")).await;
    let mut transcripts = Vec::new();
    for c in conversations.as_array().unwrap() {
        let cid = c["id"].as_str().unwrap();
        let (_, conv) = get(tandem, &format!("/api/v1/conversations/{cid}")).await;
        let (_, transcript) = get(tandem, &format!("/api/v1/conversations/{cid}/transcript")).await;
        transcripts.push(json!({"conversation": conv, "transcript": transcript}));
    }
    json!({
        "customer": customer,
        "identities": identities,
        "conversations": conversations,
        "transcripts": transcripts,
    })
}

#[tokio::test]
async fn merge_then_unmerge_restores_identities_and_conversations_and_both_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &webchat_config()).await;

    let (mut a, _) = signed_user(
        &tandem,
        json!({"id": "m-a", "email": "ann@x.test", "name": "Ann"}),
    )
    .await;
    // A new visitor's greeting comes first: the snapshots below wait for the answer.
    let greeting = a.recv_reply().await;
    a.say("a1", "my order is late").await;
    assert_ne!(a.recv_reply().await["id"], greeting["id"]);
    let (mut b, _) = signed_user(
        &tandem,
        json!({"id": "m-b", "email": "bob@x.test", "name": "Bob"}),
    )
    .await;
    let greeting = b.recv_reply().await;
    b.say("b1", "what are your opening hours").await;
    assert_ne!(b.recv_reply().await["id"], greeting["id"]);
    let ann = web_customer(&tandem, "m-a").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob = web_customer(&tandem, "m-b").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(ann, bob);
    let ann_before = snapshot(&tandem, &ann).await;
    let bob_before = snapshot(&tandem, &bob).await;

    // Merge Bob into Ann.
    let (status, merge) = send(
        &tandem,
        reqwest::Method::POST,
        &format!("/api/v1/customers/{ann}/merge"),
        json!({"from": bob}),
    )
    .await;
    assert_eq!(status, 200, "{merge}");
    let merge_id = merge["id"].as_str().unwrap().to_owned();
    let merged = web_customer(&tandem, "m-b").await;
    assert_eq!(merged["id"], ann.as_str(), "Bob's identity is Ann's now");
    assert_eq!(
        external_ids(&merged),
        vec!["user:m-a".to_owned(), "user:m-b".to_owned()]
    );
    let (_, convs) = get(&tandem, &format!("/api/v1/customers/{ann}/conversations")).await;
    assert_eq!(convs.as_array().unwrap().len(), 2);

    // Unmerge: everything back as it was.
    let (status, undone) = send(
        &tandem,
        reqwest::Method::POST,
        &format!("/api/v1/merges/{merge_id}/unmerge"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{undone}");
    assert!(undone["unmerged_at"].is_string());
    assert_eq!(snapshot(&tandem, &ann).await, ann_before);
    assert_eq!(snapshot(&tandem, &bob).await, bob_before);

    // A second unmerge is refused.
    let (status, _) = send(
        &tandem,
        reqwest::Method::POST,
        &format!("/api/v1/merges/{merge_id}/unmerge"),
        json!({}),
    )
    .await;
    assert_eq!(status, 409);

    // Both in both customers' audit trails.
    for id in [&ann, &bob] {
        let (_, audit) = get(&tandem, &format!("/api/v1/customers/{id}/audit")).await;
        let entries = audit["entries"].as_array().unwrap();
        let merge_entry = entries
            .iter()
            .find(|e| e["kind"] == "merge")
            .unwrap_or_else(|| panic!("merge audited for {id}: {audit}"));
        assert_eq!(merge_entry["actor"], "admin");
        assert!(
            entries.iter().any(|e| e["kind"] == "unmerge"),
            "unmerge audited for {id}: {audit}"
        );
    }
}

/// Every text value of every column of every table, and whether the raw bytes of the
/// database and WAL files contain `needle`.
fn store_contains(dir: &std::path::Path, needles: &[&str]) -> Vec<String> {
    let db = dir.join("tandem.db");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("tandem.db") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for needle in needles {
            for variant in [needle.to_string(), needle.to_lowercase()] {
                if bytes
                    .windows(variant.len())
                    .any(|w| w == variant.as_bytes())
                {
                    found.push(format!("raw bytes of {name} contain {variant:?}"));
                }
            }
        }
    }
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(tables.iter().any(|t| t == "transcript"), "{tables:?}");
    for table in &tables {
        let columns: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for column in &columns {
            let mut stmt = conn
                .prepare(&format!("SELECT \"{column}\" FROM \"{table}\""))
                .unwrap();
            let mut rows = stmt.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                let text = match row.get_ref(0).unwrap() {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).to_lowercase()
                    }
                    _ => continue,
                };
                for needle in needles {
                    if text.contains(&needle.to_lowercase()) {
                        found.push(format!("{table}.{column} contains {needle:?}: {text}"));
                    }
                }
            }
        }
    }
    found
}

fn escalation_lines(metrics: &str) -> Vec<String> {
    let mut lines: Vec<String> = metrics
        .lines()
        .filter(|l| l.starts_with("tandem_escalations_total"))
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn gdpr_erase_leaves_no_personal_data_anywhere_in_the_store_and_counts_stay() {
    const NAME: &str = "Zebulon Quackenbush";
    const EMAIL: &str = "zebulon.quackenbush@x.test";
    const TEXT_1: &str = "my parrot Archibaldo shredded invoice 7741";
    const TEXT_2: &str = "I want a refund for the Archibaldo incident";
    const EVENT_SECRET: &str = "Wolpertinger-Kreditkarte";

    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &webchat_config()).await;
    let (mut c, welcome) =
        signed_user(&tandem, json!({"id": "zq-1", "email": EMAIL, "name": NAME})).await;
    assert_eq!(welcome["verified"], true);
    c.say("z1", TEXT_1).await;
    c.recv_reply().await;
    c.say("z2", TEXT_2).await;
    c.recv_reply().await;
    let customer = web_customer(&tandem, "zq-1").await;
    let id = customer["id"].as_str().unwrap().to_owned();
    assert_eq!(customer["display_name"], NAME);
    let (status, _) = send(
        &tandem,
        reqwest::Method::POST,
        &format!("/api/v1/customers/{id}/events"),
        json!({"name": "payment_failed", "id": "pf-zq", "data": {"card_holder": NAME, "note": EVENT_SECRET}}),
    )
    .await;
    assert_eq!(status, 202);

    // The export holds it all.
    let (status, export) = get(&tandem, &format!("/api/v1/customers/{id}/export")).await;
    assert_eq!(status, 200);
    let text = export.to_string();
    for needle in [NAME, EMAIL, TEXT_1, TEXT_2, EVENT_SECRET] {
        assert!(
            text.contains(needle),
            "export contains {needle:?}: {export}"
        );
    }
    assert_eq!(export["customer"]["id"], id.as_str());
    assert!(
        export["conversations"][0]["transcript"]
            .as_array()
            .unwrap()
            .len()
            >= 4
    );
    assert_eq!(export["events"][0]["data"]["note"], EVENT_SECRET);
    let (status, _) = get(&tandem, "/api/v1/customers/cus_nobody/export").await;
    assert_eq!(status, 404);

    let escalations_before = escalation_lines(&tandem.metrics().await);
    assert!(
        !escalations_before.is_empty(),
        "the refund message escalated"
    );
    drop(c);

    // Erase.
    let (status, erased) = send(
        &tandem,
        reqwest::Method::DELETE,
        &format!("/api/v1/customers/{id}"),
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["customer_id"], id.as_str());
    assert_eq!(erased["erased"]["identities"], 1);
    assert_eq!(erased["erased"]["conversations"], 1);
    assert!(erased["erased"]["transcript_entries"].as_u64().unwrap() >= 4);
    assert_eq!(erased["erased"]["events"], 1);
    let (status, _) = send(
        &tandem,
        reqwest::Method::DELETE,
        "/api/v1/customers/cus_nobody",
        json!(null),
    )
    .await;
    assert_eq!(status, 404);
    let (_, after) = get(&tandem, &format!("/api/v1/customers/{id}/export")).await;
    let text = after.to_string();
    for needle in [NAME, EMAIL, TEXT_1, TEXT_2, EVENT_SECRET] {
        assert!(!text.contains(needle), "export after erase: {after}");
    }
    let (_, audit) = get(&tandem, &format!("/api/v1/customers/{id}/audit")).await;
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "erase"),
        "{audit}"
    );

    // Stop the server (SIGTERM: the WAL is checkpointed) and scan the whole store.
    let status = tandem.terminate().await;
    assert!(status.success(), "tandem exited cleanly: {status:?}");
    let leaks = store_contains(
        dir.path(),
        &[
            NAME,
            "Quackenbush",
            EMAIL,
            TEXT_1,
            TEXT_2,
            "Archibaldo",
            EVENT_SECRET,
        ],
    );
    assert!(
        leaks.is_empty(),
        "personal data left after erase:\n{}",
        leaks.join("\n")
    );

    // Counts stay: the escalation counters after a restart equal those before the erase.
    let tandem = Tandem::start(dir.path(), &webchat_config()).await;
    assert_eq!(
        escalation_lines(&tandem.metrics().await),
        escalations_before
    );
}

/// Issue 12, acceptance 1: `user_hash` signs the id only. A web user with a valid hash for
/// their own id who sends someone else's email from the browser is not merged into that
/// customer and sees none of their transcript (the email is an unverified claim: a
/// suggested link at most). The same email signed in a `user_token` merges.
#[tokio::test]
async fn only_a_signed_email_claim_merges_web_users() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &webchat_config()).await;

    // The victim: a signed web user with a verified email and a conversation.
    let (mut vic, _) = signed_user(
        &tandem,
        json!({"id": "vic", "email": "vic@x.test", "name": "Vic"}),
    )
    .await;
    vic.say("v1", "my secret order is 424242").await;
    vic.recv_reply().await;
    let victim = web_customer(&tandem, "vic").await;

    // The attacker: a valid hash for their own id `a`, the victim's email from the browser.
    let (mut a, welcome) = web_user(
        &tandem,
        json!({"id": "a", "email": "vic@x.test", "name": "Mallory"}),
        &valid_hash("a"),
    )
    .await;
    assert_eq!(welcome["verified"], true, "the id itself is verified");
    let replayed = a.drain(1).await;
    assert!(
        replayed
            .iter()
            .all(|f| !f["text"].as_str().unwrap_or_default().contains("424242")),
        "no transcript of another customer: {replayed:?}"
    );
    a.say("a1", "hello").await;
    a.recv_reply().await;
    let attacker = web_customer(&tandem, "a").await;
    assert_ne!(
        attacker["id"], victim["id"],
        "not merged on a browser claim"
    );
    assert_eq!(
        external_ids(&web_customer(&tandem, "vic").await),
        ["user:vic"]
    );
    let (_, by_email) = get(&tandem, "/api/v1/customers?email=vic@x.test").await;
    assert_eq!(by_email.as_array().unwrap().len(), 1);
    assert_eq!(by_email[0]["id"], victim["id"]);
    // Reconnecting as `a` replays only a's own conversation.
    let (mut again, _) = web_user(
        &tandem,
        json!({"id": "a", "email": "vic@x.test"}),
        &valid_hash("a"),
    )
    .await;
    let history = again.drain(1).await;
    assert!(
        history
            .iter()
            .all(|f| !f["text"].as_str().unwrap_or_default().contains("424242")),
        "{history:?}"
    );

    // The same email signed by the site in a token: the merge happens.
    let (mut b, _) = signed_user(
        &tandem,
        json!({"id": "vic-laptop", "email": "vic@x.test", "name": "Vic"}),
    )
    .await;
    b.say("b1", "hello from my laptop").await;
    b.recv_reply().await;
    let (_, by_email) = get(&tandem, "/api/v1/customers?email=vic@x.test").await;
    let list = by_email.as_array().unwrap();
    assert_eq!(list.len(), 1, "{by_email}");
    assert_eq!(
        external_ids(&list[0]),
        ["user:vic".to_owned(), "user:vic-laptop".to_owned()]
    );
}
