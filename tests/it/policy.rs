//! `tandem policy test` end to end: the shipped conversations pass against the shipped
//! policy; a failing expectation exits 1; `tandem check` reports policy problems with
//! `policy.` paths.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn policy_test(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(tandem_e2e::process::binary())
        .current_dir(dir)
        .arg("policy")
        .arg("test")
        .args(args)
        .env_remove("TANDEM_CONFIG")
        .output()
        .expect("running tandem policy test")
}

#[test]
fn shipped_conversations_pass() {
    let root = root();
    let out = policy_test(&root, &["config/policy-tests.jsonl"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let summary = lines.last().copied().unwrap_or_default();
    let cases = lines.len() - 1;
    assert!(cases >= 80, "at least 80 conversations, got {cases}");
    assert_eq!(summary, format!("{cases} passed, 0 failed"));
    // Every line is a decision in the documented shape.
    for line in &lines[..cases] {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        for key in [
            "id",
            "escalate",
            "category",
            "priority",
            "target",
            "at_message",
            "reasons",
        ] {
            assert!(v.get(key).is_some(), "{key} missing in {line}");
        }
    }
    let refund = lines
        .iter()
        .find(|l| l.contains(r#""id":"want-refund""#))
        .expect("want-refund case");
    let v: serde_json::Value = serde_json::from_str(refund).unwrap();
    assert_eq!(v["category"], "revenue");
    assert_eq!(v["priority"], "high");
    assert_eq!(v["at_message"], 0);
    assert_eq!(v["reasons"][0]["code"], "keyword");
    assert_eq!(v["reasons"][0]["evidence"], "refund");
}

#[test]
fn failing_expectation_exits_1_and_explicit_policy_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases.jsonl");
    std::fs::write(
        &cases,
        concat!(
            r#"{"id":"ok","messages":[{"text":"I want a refund"}],"expect":{"escalate":true,"category":"revenue"}}"#,
            "\n",
            r#"{"id":"wrong","messages":[{"text":"what are your opening hours?"}],"expect":{"escalate":true}}"#,
            "\n",
            r#"{"id":"no-expect","messages":[{"text":"hello"}]}"#,
            "\n",
        ),
    )
    .unwrap();
    let policy = root().join("config/policy.toml");
    let out = policy_test(
        dir.path(),
        &[
            "--policy",
            policy.to_str().unwrap(),
            cases.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert_eq!(stdout.lines().last(), Some("1 passed, 1 failed"));
    let wrong: serde_json::Value = serde_json::from_str(stdout.lines().nth(1).unwrap()).unwrap();
    assert_eq!(wrong["passed"], false);
    assert!(wrong["failures"][0].as_str().unwrap().contains("escalate"));
}

/// Issue 16: `policy test --jsonl | jq` works: every stdout line is JSON (the summary
/// goes to stderr), the exit code still says whether expectations held.
#[test]
fn jsonl_keeps_stdout_pure_json_lines_and_the_summary_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases.jsonl");
    std::fs::write(
        &cases,
        concat!(
            r#"{"id":"ok","messages":[{"text":"I want a refund"}],"expect":{"escalate":true}}"#,
            "\n",
            r#"{"id":"wrong","messages":[{"text":"what are your opening hours?"}],"expect":{"escalate":true}}"#,
            "\n",
            "not json at all\n",
        ),
    )
    .unwrap();
    let policy = root().join("config/policy.toml");
    let out = policy_test(
        dir.path(),
        &[
            "--jsonl",
            "--policy",
            policy.to_str().unwrap(),
            cases.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let parsed: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect();
    assert_eq!(parsed.len(), 3, "one JSON line per input line: {stdout}");
    assert_eq!(parsed[0]["id"], "ok");
    assert_eq!(parsed[1]["passed"], false);
    assert_eq!(parsed[2]["line"], 3, "the unreadable line, as JSON");
    assert_eq!(
        stderr.lines().last(),
        Some("1 passed, 2 failed"),
        "the summary is on stderr: {stderr}"
    );
}

#[test]
fn check_reports_policy_problems_with_paths() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policy.toml"),
        r#"
[[categories]]
name = "legal"
target = "compliance"
priority = "urgent"
keywords = ["lawsuit", ""]
"#,
    )
    .unwrap();
    let config = dir.path().join("tandem.toml");
    std::fs::write(
        &config,
        "[store]\nkind = \"sqlite\"\n\n[policy]\npath = \"policy.toml\"\n",
    )
    .unwrap();
    let out = Command::new(tandem_e2e::process::binary())
        .current_dir(dir.path())
        .args(["check", "--config", config.to_str().unwrap()])
        .env_remove("TANDEM_LISTEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for expected in [
        "policy.categories[0].priority: unknown priority \"urgent\"",
        "policy.categories[0].keywords[1]: has no words left",
        "policy.routes.fallback_loop: missing",
    ] {
        assert!(stderr.contains(expected), "{expected} in:\n{stderr}");
    }

    // The shipped policy passes.
    let shipped = root().join("config/policy.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nkind = \"sqlite\"\n\n[policy]\npath = {:?}\n",
            shipped.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = Command::new(tandem_e2e::process::binary())
        .current_dir(dir.path())
        .args(["check", "--config", config.to_str().unwrap()])
        .env_remove("TANDEM_LISTEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
