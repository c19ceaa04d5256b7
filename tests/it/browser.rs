//! Browser tests: the real binary, driven by Playwright (`playwright-core` from npm, pinned in
//! `tests/browser/package-lock.json`) in Debian's headless `chromium`. Each test starts
//! `tandem` (and fakes of outside platforms), then runs `node tests/browser/<scenario>.mjs`
//! with the URLs and credentials in its environment and asserts that it passed. Screenshots
//! go to `target/browser-artifacts/`.
//!
//! `scripts/test` installs chromium (apt-get) and the npm package (`npm ci`) when missing.
//! Without them the tests are skipped with a message, unless `CI` is set: then they fail.

use crate::console::{ADMIN, accounts_config};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tandem_e2e::Tandem;

/// The browser tests' folder (`tests/browser`).
fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Where screenshots are kept: `target/browser-artifacts/` (or under `CARGO_TARGET_DIR`).
pub(crate) fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("browser-artifacts")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Why the browser tests can't run here, if they can't.
fn missing() -> Option<String> {
    if !chromium().exists() {
        return Some(format!(
            "{} is missing (Debian: apt-get install chromium; scripts/test does it)",
            chromium().display()
        ));
    }
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("node is missing (Debian: apt-get install nodejs npm)".into());
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        return Some("tests/browser/node_modules is missing (run `npm ci` in tests/browser; scripts/test does it)".into());
    }
    None
}

/// Whether the browser tests run: `false` (with a message) when chromium, node or the npm
/// package is missing outside CI; a failure when `CI` is set.
pub(crate) fn available(test: &str) -> bool {
    let Some(why) = missing() else {
        return true;
    };
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(!ci, "browser test {test} cannot run with CI set: {why}");
    eprintln!("SKIPPED browser test {test}: {why}");
    false
}

/// One browser scenario at a time: they share two cores with everything else.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `tests/browser/<name>.mjs` with `env`; panics with its output unless it passed.
pub(crate) async fn run(name: &str, env: &[(&str, &str)]) -> String {
    let _turn = ONE_AT_A_TIME.lock().await;
    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts).expect("creating target/browser-artifacts");
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(browser_dir().join(format!("{name}.mjs")))
        .current_dir(browser_dir())
        .env("TANDEM_ARTIFACTS", &artifacts)
        .env("CHROMIUM", chromium())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("browser scenario {name} took longer than 90 s"))
        .expect("running node");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(&format!("ok {name}")),
        "browser scenario {name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

#[tokio::test]
async fn widget_in_a_browser_reaches_the_bot() {
    if !available("widget_in_a_browser_reaches_the_bot") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), crate::WEBCHAT_ONLY).await;
    run("widget_smoke", &[("TANDEM_URL", &tandem.base)]).await;
    assert!(artifacts_dir().join("widget-smoke.png").exists());
    assert!(artifacts_dir().join("widget-upload.png").exists());
}

/// A one-time console sign-in link for `agent`, from the admin API.
pub(crate) async fn sign_in_link(tandem: &Tandem, agent: &str) -> String {
    let (status, body) = tandem
        .api(
            ADMIN,
            reqwest::Method::POST,
            &format!("/api/v1/agents/{agent}/sign-in-link"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let url = body["url"].as_str().expect("a link").to_owned();
    assert!(url.starts_with(&tandem.base), "{url}");
    url
}

/// Acceptance 1, on the no-config demo: its printed one-time link signs the demo agent in.
#[tokio::test]
async fn widget_handoff_reaches_the_console_and_the_reply_reaches_the_widget() {
    if !available("widget_handoff_reaches_the_console_and_the_reply_reaches_the_widget") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::spawn(dir.path(), &["serve"], &[]).await;
    let link = tandem_e2e::eventually(10, "the demo's sign-in link on stdout", || async {
        tandem.stdout().iter().find_map(|l| {
            l.split_once("agent sign-in (one-time link): ")
                .map(|(_, url)| url.trim().to_owned())
        })
    })
    .await;
    assert!(
        !tandem.logs().contains(link.split('=').next_back().unwrap()),
        "the link's token is never logged"
    );
    run(
        "widget_to_console",
        &[
            ("TANDEM_URL", &tandem.base),
            ("AGENT_A_LINK", &link),
            ("AGENT_A_NAME", "Demo agent"),
        ],
    )
    .await;
}

/// Acceptance 2.
#[tokio::test]
async fn another_agents_reply_is_refused_until_a_transfer() {
    if !available("another_agents_reply_is_refused_until_a_transfer") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &accounts_config("[channels.webchat]", None)).await;
    let amy = sign_in_link(&tandem, "amy").await;
    let bea = sign_in_link(&tandem, "bea").await;
    run(
        "owner_transfer",
        &[
            ("TANDEM_URL", &tandem.base),
            ("AGENT_A_LINK", &amy),
            ("AGENT_B_LINK", &bea),
        ],
    )
    .await;
}

/// Acceptance 4: the customer's WhatsApp message is two days old.
#[tokio::test]
async fn a_reply_into_a_closed_whatsapp_window_shows_undeliverable() {
    if !available("a_reply_into_a_closed_whatsapp_window_shows_undeliverable") {
        return;
    }
    use tandem_testkit::fake::WhatsAppFake;
    let dir = tempfile::tempdir().unwrap();
    let fake = WhatsAppFake::start("wa-token", "1098765", "v21.0").await;
    let channels = format!(
        r#"
[channels.webchat]

[channels.whatsapp]
app_secret = "wa-secret"
verify_token = "wa-verify"
access_token = "wa-token"
phone_number_id = "1098765"
api_base = "{}"
api_version = "v21.0"
"#,
        fake.base_url()
    );
    let tandem = Tandem::start(dir.path(), &accounts_config(&channels, None)).await;
    fake.set_webhook(&tandem.url("/webhooks/whatsapp"), "wa-secret");
    let body = tandem_testkit::payloads::whatsapp_text(
        "1098765",
        "4915112345678",
        "Lena Müller",
        "I want a refund",
        "wamid.old",
        tandem_e2e::unix_now() - 2 * 86_400,
    );
    assert_eq!(
        tandem
            .post_meta("/webhooks/whatsapp", "wa-secret", &body)
            .await,
        200
    );
    let amy = sign_in_link(&tandem, "amy").await;
    run(
        "window_closed",
        &[("TANDEM_URL", &tandem.base), ("AGENT_A_LINK", &amy)],
    )
    .await;
    assert!(
        fake.sends().is_empty(),
        "nothing was sent into the closed window"
    );
}

/// Acceptance 6, with a password made by `tandem agent hash-password`.
#[tokio::test]
async fn signed_out_visitors_get_the_sign_in_page_or_401() {
    if !available("signed_out_visitors_get_the_sign_in_page_or_401") {
        return;
    }
    let hash = crate::console::hash_password("amy-secret-password");
    let dir = tempfile::tempdir().unwrap();
    let config = accounts_config("[channels.webchat]", Some(&hash));
    let tandem = Tandem::start(dir.path(), &config).await;
    run(
        "signed_out",
        &[
            ("TANDEM_URL", &tandem.base),
            ("AGENT_LOGIN", "amy@example.com"),
            ("AGENT_PASSWORD", "amy-secret-password"),
        ],
    )
    .await;
}
