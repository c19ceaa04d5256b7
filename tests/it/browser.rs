//! Browser tests: the real binary, driven by Playwright (`playwright-core` from npm, pinned in
//! `tests/browser/package-lock.json`) in Debian's headless `chromium`. Each test starts
//! `tandem` (and fakes of outside platforms), then runs `node tests/browser/<scenario>.mjs`
//! with the URLs and credentials in its environment and asserts that it passed. Screenshots
//! go to `target/browser-artifacts/`.
//!
//! `scripts/test` installs chromium (apt-get) and the npm package (`npm ci`) when missing.
//! Without them the tests are skipped with a message, unless `CI` is set: then they fail.

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

/// Runs `tests/browser/<name>.mjs` with `env`; panics with its output unless it passed.
pub(crate) async fn run(name: &str, env: &[(&str, &str)]) -> String {
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
}
