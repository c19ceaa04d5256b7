//! Parameters, access and rendering of the dashboard.

use super::*;
use tandem_core::health::{HealthQuery, compute};

fn now() -> Timestamp {
    Timestamp::parse("2026-03-10T12:00:00Z", &Rfc3339).unwrap()
}

fn params(
    period: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    by: Option<&str>,
) -> PeriodParams {
    PeriodParams {
        period: period.map(Into::into),
        from: from.map(Into::into),
        to: to.map(Into::into),
        by: by.map(Into::into),
    }
}

#[test]
fn presets_and_explicit_periods() {
    let q = params(None, None, None, None).query(now()).unwrap();
    assert_eq!((q.to, q.to - q.from), (now(), time::Duration::days(7)));
    assert_eq!(q.by, None);
    let q = params(Some("24h"), None, None, Some("queue"))
        .query(now())
        .unwrap();
    assert_eq!(q.to - q.from, time::Duration::hours(24));
    assert_eq!(q.by, Some(Breakdown::Queue));
    let q = params(None, Some("2026-03-01"), Some("2026-03-02"), None)
        .query(now())
        .unwrap();
    assert_eq!(
        q.from,
        Timestamp::parse("2026-03-01T00:00:00Z", &Rfc3339).unwrap()
    );
    assert_eq!(
        q.to,
        Timestamp::parse("2026-03-03T00:00:00Z", &Rfc3339).unwrap(),
        "the to day is included"
    );
    let q = params(None, Some("2026-03-01T06:00:00+02:00"), None, None)
        .query(now())
        .unwrap();
    assert_eq!(
        q.from,
        Timestamp::parse("2026-03-01T04:00:00Z", &Rfc3339).unwrap()
    );
    assert_eq!(q.to, now());
}

#[test]
fn bad_parameters_are_explained() {
    for (p, needle) in [
        (params(Some("1y"), None, None, None), "period"),
        (params(None, None, None, Some("agent")), "by must be"),
        (params(None, Some("yesterday"), None, None), "from is not"),
        (
            params(None, Some("2026-03-05"), Some("2026-03-01"), None),
            "before",
        ),
        (
            params(None, Some("2025-01-01"), Some("2026-03-01"), None),
            "at most",
        ),
    ] {
        let err = p.query(now()).unwrap_err();
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn access_takes_a_token_from_the_header_the_query_or_the_cookie() {
    let access = DashboardAccess::new(vec![Secret::new("0123456789abcdef")], false);
    let mut headers = HeaderMap::new();
    assert!(!access.allows_token(&headers, None));
    assert!(!access.allows_token(&headers, Some("wrong")));
    assert!(!access.allows_token(&headers, Some("")));
    assert!(access.allows_token(&headers, Some("0123456789abcdef")));
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Bearer 0123456789abcdef"),
    );
    assert!(access.allows_token(&headers, None));
    let mut headers = HeaderMap::new();
    headers.insert(
        header::COOKIE,
        HeaderValue::from_static("a=b; tandem_metrics=0123456789abcdef"),
    );
    assert!(access.allows_token(&headers, None));
    headers.insert(
        header::COOKIE,
        HeaderValue::from_static("tandem_metrics=nope"),
    );
    assert!(!access.allows_token(&headers, None));
    assert!(!DashboardAccess::default().allows_token(&headers, Some("")));
}

#[test]
fn the_page_escapes_data_and_describes_its_charts() {
    let q = HealthQuery {
        from: now() - time::Duration::days(7),
        to: now(),
        now: now(),
        by: Some(Breakdown::Category),
    };
    let mut report = compute(&[], &q, false);
    report.groups.push(tandem_core::health::Group {
        key: "<script>alert(1)</script>".into(),
        figures: Default::default(),
    });
    let html = page::render(&report, &params(Some("7d"), None, None, Some("category")));
    assert!(!html.contains("<script>"), "keys are escaped");
    assert!(html.contains("&lt;script&gt;"));
    assert_eq!(html.matches("role=\"img\"").count(), 3, "three charts");
    assert!(html.contains("<desc id=\"rate-d\">"));
    assert!(html.contains("healthy band"));
    assert!(html.contains("aria-current=\"true\">7 days"));
    assert_eq!(
        page::href(&params(None, Some("2026-03-01"), None, Some("channel"))),
        "/console/metrics?from=2026-03-01&by=channel"
    );
}

/// A day at 100 %: the healthy band's label is drawn after (over) every bar, with a halo
/// class, so a full-height bar can't hide it.
#[test]
fn the_band_label_stays_readable_over_a_full_bar() {
    let q = HealthQuery {
        from: now() - time::Duration::days(7),
        to: now(),
        now: now(),
        by: None,
    };
    let mut report = compute(&[], &q, false);
    for d in &mut report.daily {
        d.conversations = 1;
        d.handoffs = 1;
        d.escalation_rate = Some(1.0);
    }
    let html = page::render(&report, &params(Some("7d"), None, None, None));
    let start = html.find("<desc id=\"rate-d\">").unwrap();
    let chart = &html[start..start + html[start..].find("</svg>").unwrap()];
    let label = chart
        .find("<text class=\"band-label\"")
        .expect("the band is labelled");
    let last_bar = chart.rfind("<rect").unwrap();
    assert!(label > last_bar, "the label is drawn over the bars");
    assert_eq!(chart.matches("healthy band<").count(), 1);
    assert!(html.contains("svg text.band-label {"), "with a halo");
}

/// Counts read as English: "1 answer", "1 handoff", "1 day"; plurals otherwise.
#[test]
fn counts_are_singular_for_one() {
    assert_eq!(page::count(1, "answer", "answers"), "1 answer");
    assert_eq!(page::count(0, "answer", "answers"), "0 answers");
    assert_eq!(page::count(2, "answer", "answers"), "2 answers");
    let q = HealthQuery {
        from: now() - time::Duration::days(1),
        to: now(),
        now: now(),
        by: None,
    };
    let mut report = compute(&[], &q, false);
    report.overall.conversations = 1;
    report.overall.handoffs = 1;
    report.overall.closed_handoffs = 1;
    report.overall.csat_handoff.answers = 1;
    report.overall.escalation_rate = Some(1.0);
    report.daily.truncate(1);
    report.daily[0].conversations = 1;
    report.daily[0].handoffs = 1;
    report.daily[0].escalation_rate = Some(0.07);
    let html = page::render(&report, &params(Some("24h"), None, None, None));
    for wanted in [
        ">1 handoff<",
        ">1 answer · ",
        "0 of 1 closed handoff returned",
        "After a handoff: – from 1 answer",
        "over 1 day with conversations; it is within",
    ] {
        assert!(html.contains(wanted), "{wanted} in {html}");
    }
    for unwanted in ["1 answers", "1 handoffs", "1 days", "1 closed handoffs"] {
        assert!(!html.contains(unwanted), "{unwanted}");
    }
}
