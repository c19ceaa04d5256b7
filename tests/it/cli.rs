//! The command line: `check` reports every problem; `serve` with no config runs the demo.

use std::process::Command;
use tandem_e2e::Tandem;

#[test]
fn check_reports_all_three_mistakes_with_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"
[server]
listen = "localhost:eighty"

[store]
kind = "postgres"

[channels.webhook]
url = "http://127.0.0.1:9/x"
"#,
    )
    .unwrap();
    let out = Command::new(tandem_e2e::process::binary())
        .args(["check", "--config", path.to_str().unwrap()])
        .env_remove("TANDEM_LISTEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "exit 1; stderr: {stderr}");
    for path in [
        "server.listen:",
        "store.kind:",
        "channels.webhook.secret: missing",
    ] {
        assert!(stderr.contains(path), "{path} reported in:\n{stderr}");
    }
}

/// Issue 12, acceptance 4: a Chatwoot desk without `webhook_secret` would take agent
/// actions from anyone; `check` refuses it unless `allow_unsigned = true`.
#[test]
fn check_refuses_an_unsigned_chatwoot_desk_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let check = |extra: &str| {
        let path = dir.path().join("chatwoot.toml");
        std::fs::write(
            &path,
            format!(
                r#"
[channels.webchat]

[desks.chatwoot]
base_url = "https://chat.example.com"
api_access_token = "token"
account_id = 1
inbox_id = 1
{extra}
"#
            ),
        )
        .unwrap();
        Command::new(tandem_e2e::process::binary())
            .args(["check", "--config", path.to_str().unwrap()])
            .env_remove("TANDEM_LISTEN")
            .output()
            .unwrap()
    };
    let out = check("");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "refused: {stderr}");
    assert!(
        stderr.contains("desks.chatwoot.webhook_secret: missing"),
        "{stderr}"
    );
    let out = check("allow_unsigned = true");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = check("webhook_secret = \"whsec\"");
    assert!(out.status.success());
}

#[test]
fn check_accepts_the_shipped_examples() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let mut files = vec![root.join("config/tandem.example.toml")];
    for entry in std::fs::read_dir(root.join("config/examples")).unwrap() {
        files.push(entry.unwrap().path());
    }
    for file in files {
        let out = Command::new(tandem_e2e::process::binary())
            .args(["check", "--config", file.to_str().unwrap()])
            .env("WEBCHAT_IDENTITY_SECRET", "example-secret")
            .env("WEBHOOK_CHANNEL_SECRET", "example-secret")
            .env("DESK_WEBHOOK_SECRET", "example-secret")
            .env("MONGODB_URI", "mongodb://127.0.0.1:27017")
            .env("SLACK_BOT_TOKEN", "xoxb-example")
            .env("SLACK_SIGNING_SECRET", "example-secret")
            .env("CHATWOOT_API_TOKEN", "example-token")
            .env("CHATWOOT_WEBHOOK_SECRET", "example-secret")
            .env("WHATSAPP_APP_SECRET", "example-secret")
            .env("WHATSAPP_VERIFY_TOKEN", "example-verify-token")
            .env("WHATSAPP_ACCESS_TOKEN", "example-access-token")
            .env("MESSENGER_APP_SECRET", "example-secret")
            .env("MESSENGER_VERIFY_TOKEN", "example-verify-token")
            .env("MESSENGER_PAGE_ACCESS_TOKEN", "example-page-token")
            .env("TELEGRAM_BOT_TOKEN", "123456:example-bot-token")
            .env("TELEGRAM_SECRET_TOKEN", "example_secret-token")
            .env("TEAMS_APP_ID", "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b")
            .env("TEAMS_APP_PASSWORD", "example-app-password")
            .env("TEAMS_DESK_APP_ID", "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")
            .env("TEAMS_DESK_APP_PASSWORD", "example-app-password")
            .env("TEAMS_TENANT_ID", "c0ffee00-1234-4abc-9def-0123456789ab")
            .env("TANDEM_ADMIN_TOKEN", "example-admin-token-0123456789")
            .env("CONSOLE_AGENT_TOKEN", "example-console-token-0123456789")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} fails check:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn serve_without_config_runs_the_demo_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::spawn(dir.path(), &["serve"], &[("TANDEM_DATA_DIR", "")]).await;
    let page = tandem_e2e::get(tandem.url("/")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("/webchat/widget.js"));
    let js = tandem_e2e::get(tandem.url("/webchat/widget.js"))
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert_eq!(
        tandem_e2e::get(tandem.url("/readyz"))
            .await
            .unwrap()
            .status(),
        200
    );
    // The agent console is on, with a token generated for this run and printed.
    let banner = tandem_e2e::eventually(10, "the console URL in the banner", || async {
        tandem
            .stdout()
            .into_iter()
            .find(|l| l.contains("agent console:"))
    })
    .await;
    let console_url = tandem.url("/console");
    assert!(banner.contains(&console_url), "{banner}");
    let token = banner
        .split("(token ")
        .nth(1)
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or_else(|| panic!("a token in {banner:?}"));
    assert!(token.len() >= 16, "a long enough token: {token}");
    let console = tandem_e2e::get(&console_url).await.unwrap();
    assert_eq!(console.status(), 200);
    assert!(
        console
            .text()
            .await
            .unwrap()
            .contains("Tandem agent console")
    );
    let mut agent = tandem_e2e::WsClient::connect_url(&format!(
        "ws://{}/console/ws?token={token}",
        tandem.addr
    ))
    .await;
    assert_eq!(
        agent.recv_type("snapshot").await["handoffs"],
        serde_json::json!([])
    );
    assert!(
        dir.path().join("tandem-data/tandem.db").exists(),
        "demo store under ./tandem-data/"
    );
    let status = tandem.terminate().await;
    assert_eq!(status.code(), Some(0));

    // Restarted, the demo keeps its console token: agents stay signed in.
    let tandem = Tandem::spawn(dir.path(), &["serve"], &[("TANDEM_DATA_DIR", "")]).await;
    let again = tandem_e2e::eventually(10, "the banner after a restart", || async {
        tandem
            .stdout()
            .into_iter()
            .find(|l| l.contains("agent console:"))
    })
    .await;
    assert!(
        again.ends_with(&format!("(token {token})")),
        "same token after a restart: {again}"
    );
    assert_eq!(tandem.terminate().await.code(), Some(0));
}
