//! `/metrics` end to end: classic Prometheus text by default (every sample with its HELP
//! and TYPE, as `promtool check metrics` wants), OpenMetrics when the scraper asks for it,
//! and each running channel's and the policy's series present from start-up at zero.

use tandem_e2e::Tandem;

#[tokio::test]
async fn classic_text_by_default_openmetrics_on_request_series_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), "[channels.webchat]\n").await;

    let classic = tandem_e2e::get(tandem.url("/metrics")).await.unwrap();
    assert_eq!(
        classic.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = classic.text().await.unwrap();
    assert!(!text.contains("# EOF"), "{text}");
    for line in [
        "# HELP tandem_messages_in_total Customer messages received, by channel.",
        "# TYPE tandem_messages_in_total counter",
        "tandem_messages_in_total{channel=\"webchat\"} 0",
        "tandem_policy_decisions_total{escalate=\"true\"} 0",
        "tandem_escalations_by_category_total{category=\"legal\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }

    let open = tandem_e2e::http()
        .get(tandem.url("/metrics"))
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap();
    assert!(
        open.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = open.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE tandem_messages_in counter"), "{text}");
}
