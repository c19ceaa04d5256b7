//! The `/console/metrics` HTML: a period form, the headline figures, three inline SVG
//! charts (each with a title, a description and the same numbers as a table), and the
//! figures by the chosen breakdown. Everything from the data is HTML-escaped.

use super::{PAGE_PATH, PeriodParams};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use std::fmt::Write;
use tandem_core::health::{Breakdown, CsatFigures, Durations, Figures, HealthReport};

const STYLE: &str = r#"
:root { --bg:#f4f5f7; --panel:#fff; --line:#dde1e6; --ink:#1d2430; --muted:#5b6573;
        --accent:#2f6fde; --band:#d7f0dc; --bandline:#2e7d32; --warn:#c62828; }
* { box-sizing:border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink); background:var(--bg); }
header { display:flex; align-items:center; gap:16px; padding:10px 20px; background:#1d2430; color:#fff; }
header h1 { font-size:16px; margin:0; }
header a { color:#c9d1dc; }
main { max-width:1100px; margin:0 auto; padding:16px 20px 40px; }
form.period { display:flex; flex-wrap:wrap; align-items:end; gap:10px 14px; background:var(--panel); border:1px solid var(--line); border-radius:10px; padding:12px 14px; }
form.period label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); gap:3px; }
input, select, button { font:inherit; border:1px solid var(--line); border-radius:6px; padding:6px 9px; background:#fff; color:var(--ink); }
button { background:var(--accent); border-color:var(--accent); color:#fff; cursor:pointer; }
.presets { display:flex; gap:6px; }
.presets a { padding:6px 10px; border:1px solid var(--line); border-radius:6px; text-decoration:none; color:var(--ink); background:#fff; }
.presets a[aria-current="true"] { background:var(--accent); border-color:var(--accent); color:#fff; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(180px,1fr)); gap:12px; margin:16px 0; }
.card { background:var(--panel); border:1px solid var(--line); border-radius:10px; padding:12px 14px; }
.card h2 { font-size:12px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); margin:0 0 4px; font-weight:600; }
.card .v { font-size:24px; font-weight:600; }
.card .s { color:var(--muted); font-size:12px; }
.ok { color:var(--bandline); } .off { color:var(--warn); }
section { background:var(--panel); border:1px solid var(--line); border-radius:10px; padding:12px 16px; margin:16px 0; overflow-x:auto; }
section h2 { font-size:15px; margin:4px 0 8px; }
figure { margin:0; } figcaption { color:var(--muted); font-size:12px; margin-top:4px; }
svg { width:100%; height:auto; display:block; } svg text { font:11px system-ui,sans-serif; fill:var(--muted); }
svg text.band-label { fill:var(--bandline); font-weight:600; paint-order:stroke; stroke:#fff; stroke-width:3px; stroke-linejoin:round; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
caption { text-align:left; color:var(--muted); font-size:12px; padding:4px 0; }
th, td { padding:6px 8px; border-bottom:1px solid var(--line); text-align:right; white-space:nowrap; }
th:first-child, td:first-child { text-align:left; }
thead th { font-size:12px; color:var(--muted); font-weight:600; }
details { margin-top:8px; } summary { cursor:pointer; color:var(--accent); }
.note { color:var(--muted); font-size:12px; }
.warn { color:var(--warn); }
.grid2 { display:grid; grid-template-columns:repeat(auto-fit,minmax(320px,1fr)); gap:16px; }
"#;

/// The page's URL for these parameters (without any token).
pub(super) fn href(p: &PeriodParams) -> String {
    let mut pairs = Vec::new();
    for (k, v) in [
        ("period", &p.period),
        ("from", &p.from),
        ("to", &p.to),
        ("by", &p.by),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            pairs.push(format!("{k}={}", url_encode(v)));
        }
    }
    if pairs.is_empty() {
        PAGE_PATH.to_owned()
    } else {
        format!("{PAGE_PATH}?{}", pairs.join("&"))
    }
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn shell(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\
         <header><h1>Tandem · Escalation health</h1><a href=\"/console\">Agent console</a></header>\
         <main>{body}</main></body></html>",
        text(title)
    )
}

/// The sign-in page (401).
pub(super) fn sign_in(rejected: bool) -> String {
    let err = if rejected {
        "<p class=\"warn\" role=\"alert\">That token is not valid.</p>"
    } else {
        ""
    };
    shell(
        "Sign in · Escalation health",
        &format!(
            "<section><h2>Sign in</h2>{err}<form method=\"get\" action=\"{PAGE_PATH}\">\
             <label for=\"token\">Console or admin token</label> \
             <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required> \
             <button type=\"submit\">Open the dashboard</button></form></section>"
        ),
    )
}

/// A page that only says what is wrong (400, 503), with the period form.
pub(super) fn error(p: &PeriodParams, message: &str) -> String {
    shell(
        "Escalation health",
        &format!(
            "{}<p class=\"warn\" role=\"alert\">{}</p>",
            period_form(p),
            text(message)
        ),
    )
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{:.1} %", v * 100.0))
}

fn duration(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return "–".to_owned();
    };
    let s = ms / 1000;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    }
}

fn mean(c: &CsatFigures) -> String {
    c.mean
        .map_or_else(|| "–".to_owned(), |m| format!("{m:.2} / 5"))
}

fn period_form(p: &PeriodParams) -> String {
    let preset = if p.from.is_some() || p.to.is_some() {
        None
    } else {
        Some(p.period.as_deref().unwrap_or("7d"))
    };
    let by = p.by.as_deref().unwrap_or("category");
    let mut links = String::new();
    for (value, label) in [("24h", "24 h"), ("7d", "7 days"), ("30d", "30 days")] {
        let target = href(&PeriodParams {
            period: Some(value.into()),
            from: None,
            to: None,
            by: Some(by.into()),
        });
        let _ = write!(
            links,
            "<a href=\"{}\" aria-current=\"{}\">{label}</a>",
            attr(&target),
            preset == Some(value)
        );
    }
    let mut options = String::new();
    for b in Breakdown::ALL {
        let _ = write!(
            options,
            "<option value=\"{0}\"{1}>{0}</option>",
            b.as_str(),
            if b.as_str() == by { " selected" } else { "" }
        );
    }
    let date = |v: &Option<String>| {
        v.as_deref()
            .map(|s| s.get(..10).unwrap_or(s).to_owned())
            .unwrap_or_default()
    };
    format!(
        "<form class=\"period\" method=\"get\" action=\"{PAGE_PATH}\" aria-label=\"Period and breakdown\">\
         <div><span class=\"note\" id=\"presets\">Period</span><nav class=\"presets\" aria-labelledby=\"presets\">{links}</nav></div>\
         <label>From (UTC day)<input type=\"date\" name=\"from\" value=\"{}\"></label>\
         <label>To (UTC day, included)<input type=\"date\" name=\"to\" value=\"{}\"></label>\
         <label>Breakdown<select name=\"by\">{options}</select></label>\
         <button type=\"submit\">Show</button></form>",
        attr(&date(&p.from)),
        attr(&date(&p.to)),
    )
}

/// The whole dashboard.
pub(super) fn render(r: &HealthReport, p: &PeriodParams) -> String {
    let o = &r.overall;
    let mut body = period_form(p);
    let _ = write!(
        body,
        "<p class=\"note\">Conversations opened from <time datetime=\"{0}\">{0}</time> to \
         <time datetime=\"{1}\">{1}</time> (UTC), with at least one customer message. \
         Computed from the store: the same after a restart.</p>",
        text(&r.from),
        text(&r.to)
    );
    if r.truncated {
        body.push_str(
            "<p class=\"warn\" role=\"alert\">This period has more conversations than one \
             report reads; the figures cover the conversations read. Choose a shorter period.</p>",
        );
    }
    body.push_str(&cards(r));
    body.push_str(
        "<section aria-labelledby=\"rate-h\"><h2 id=\"rate-h\">Escalation rate per day</h2>",
    );
    body.push_str(&rate_chart(r));
    body.push_str("</section><div class=\"grid2\">");
    let _ = write!(
        body,
        "<section aria-labelledby=\"csat-h\"><h2 id=\"csat-h\">Satisfaction: bot only vs after a handoff</h2>{}</section>",
        csat_chart(o)
    );
    let _ = write!(
        body,
        "<section aria-labelledby=\"reply-h\"><h2 id=\"reply-h\">Time to first human reply</h2>{}</section>",
        reply_chart(r)
    );
    body.push_str("</div>");
    body.push_str(&breakdown_table(r));
    shell("Escalation health", &body)
}

/// `n` and its noun, singular for one: "1 answer", "0 answers", "3 answers".
pub(crate) fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn card(title: &str, value: &str, sub: &str) -> String {
    format!(
        "<div class=\"card\"><h2>{}</h2><div class=\"v\">{value}</div><div class=\"s\">{sub}</div></div>",
        text(title)
    )
}

fn csat_card(title: &str, c: &CsatFigures) -> String {
    card(
        title,
        &mean(c),
        &format!(
            "{} · {} satisfied (4–5)",
            count(c.answers, "answer", "answers"),
            pct(c.satisfied_share)
        ),
    )
}

fn cards(r: &HealthReport) -> String {
    let o = &r.overall;
    let [low, high] = r.healthy_band;
    let band = match o.escalation_rate {
        None => String::new(),
        Some(v) if v < low => "<span class=\"off\">below the healthy band</span>".into(),
        Some(v) if v > high => "<span class=\"off\">above the healthy band</span>".into(),
        Some(_) => "<span class=\"ok\">within the healthy band</span>".into(),
    };
    [
        card(
            "Conversations",
            &o.conversations.to_string(),
            &count(o.handoffs, "handoff", "handoffs"),
        ),
        card(
            "Escalation rate",
            &pct(o.escalation_rate),
            &format!("healthy {:.0}–{:.0} % · {band}", low * 100.0, high * 100.0),
        ),
        card(
            "First human reply",
            &duration(o.first_human_reply.median_ms),
            &format!(
                "median · p90 {} · {} unanswered",
                duration(o.first_human_reply.p90_ms),
                o.handoffs_without_reply
            ),
        ),
        card(
            "Resolved within 48 h",
            &pct(o.resolution_rate_48h),
            &format!(
                "{} of {} checked · {} resolved",
                o.resolved_within_48h, o.resolution_checked, o.resolved
            ),
        ),
        csat_card("CSAT after handoff", &o.csat_handoff),
        csat_card("CSAT bot only", &o.csat_bot),
        card(
            "Override rate",
            &pct(o.override_rate),
            &format!(
                "{} of {} returned without a reply",
                o.overrides,
                count(o.closed_handoffs, "closed handoff", "closed handoffs")
            ),
        ),
    ]
    .into_iter()
    .fold("<div class=\"cards\">".to_owned(), |acc, c| acc + &c)
        + "</div>"
}

/// Bars of the daily escalation rate over the healthy band.
fn rate_chart(r: &HealthReport) -> String {
    let (w, h, left, right, top, bottom) = (760.0_f64, 230.0_f64, 44.0, 10.0, 10.0, 28.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let max_rate = r
        .daily
        .iter()
        .filter_map(|d| d.escalation_rate)
        .fold(0.2_f64, f64::max)
        .min(1.0);
    let y = |v: f64| top + plot_h * (1.0 - v / max_rate);
    let [low, high] = r.healthy_band;
    let mut svg = format!(
        "<figure><svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"rate-t rate-d\">\
         <title id=\"rate-t\">Escalation rate per day</title>\
         <desc id=\"rate-d\">{}</desc>",
        text(&rate_description(r))
    );
    let _ = write!(
        svg,
        "<rect x=\"{left}\" y=\"{:.1}\" width=\"{plot_w}\" height=\"{:.1}\" fill=\"var(--band)\"/>",
        y(high),
        y(low) - y(high),
    );
    for v in [0.0, low, high, max_rate] {
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{x2:.1}\" y1=\"{yv:.1}\" y2=\"{yv:.1}\" stroke=\"#dde1e6\"/>\
             <text x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{label:.0} %</text>",
            x2 = left + plot_w,
            yv = y(v),
            tx = left - 6.0,
            ty = y(v) + 4.0,
            label = v * 100.0
        );
    }
    let n = r.daily.len().max(1) as f64;
    let slot = plot_w / n;
    let bar = (slot * 0.7).max(1.0);
    for (i, d) in r.daily.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        match d.escalation_rate {
            Some(v) => {
                let v = v.min(max_rate);
                let colour = if (low..=high).contains(&v) {
                    "var(--bandline)"
                } else {
                    "var(--accent)"
                };
                let _ = write!(
                    svg,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{colour}\"><title>{}: {} ({} of {})</title></rect>",
                    y(v),
                    (top + plot_h - y(v)).max(0.5),
                    text(&d.day),
                    pct(d.escalation_rate),
                    d.handoffs,
                    d.conversations
                );
            }
            None => {
                let _ = write!(
                    svg,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"2\" fill=\"#c3c9d1\"><title>{}: no conversations</title></rect>",
                    top + plot_h - 2.0,
                    text(&d.day)
                );
            }
        }
    }
    // The band's label last, over the bars, with a halo: readable even on a 100 % bar.
    // Just above the band when there is room, else just below it.
    let label_y = if y(high) - 4.0 >= top + 11.0 {
        y(high) - 4.0
    } else {
        y(low) + 12.0
    };
    let _ = write!(
        svg,
        "<text class=\"band-label\" x=\"{:.1}\" y=\"{label_y:.1}\" text-anchor=\"end\">healthy band</text>",
        left + plot_w - 4.0,
    );
    let label_every = (r.daily.len() / 8).max(1);
    for (i, d) in r.daily.iter().enumerate() {
        if i % label_every == 0 || i + 1 == r.daily.len() {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                left + slot * (i as f64 + 0.5),
                h - 8.0,
                text(d.day.get(5..).unwrap_or(&d.day))
            );
        }
    }
    svg.push_str("</svg><figcaption>Bars: handoffs ÷ conversations opened that day. Shaded: the healthy 5–10 % band; bars inside it are green.</figcaption></figure>");
    let mut rows = String::new();
    for d in &r.daily {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(&d.day),
            d.conversations,
            d.handoffs,
            pct(d.escalation_rate)
        );
    }
    svg + &format!(
        "<details><summary>The numbers as a table</summary><table><caption>Escalation rate per day (UTC)</caption>\
         <thead><tr><th scope=\"col\">Day</th><th scope=\"col\">Conversations</th><th scope=\"col\">Handoffs</th><th scope=\"col\">Rate</th></tr></thead>\
         <tbody>{rows}</tbody></table></details>"
    )
}

fn rate_description(r: &HealthReport) -> String {
    let days = r
        .daily
        .iter()
        .filter(|d| d.escalation_rate.is_some())
        .count();
    let within = r
        .daily
        .iter()
        .filter_map(|d| d.escalation_rate)
        .filter(|v| (r.healthy_band[0]..=r.healthy_band[1]).contains(v))
        .count();
    format!(
        "Overall {} over {} with conversations; {} within the healthy band of {:.0} to {:.0} percent.",
        pct(r.overall.escalation_rate),
        count(days as u64, "day", "days"),
        match (days, within) {
            (1, 1) => "it is".to_owned(),
            (1, _) => "it is not".to_owned(),
            _ => format!("{within} of them"),
        },
        r.healthy_band[0] * 100.0,
        r.healthy_band[1] * 100.0
    )
}

/// Two horizontal bars: mean score of bot-only and post-handoff surveys.
fn csat_chart(o: &Figures) -> String {
    let rows = [
        ("Bot only", &o.csat_bot),
        ("After a handoff", &o.csat_handoff),
    ];
    let (w, left, bar_h) = (420.0_f64, 110.0_f64, 26.0_f64);
    let plot_w = w - left - 70.0;
    let h = 24.0 + rows.len() as f64 * (bar_h + 14.0);
    let desc = rows
        .iter()
        .map(|(name, c)| {
            format!(
                "{name}: {} from {}",
                mean(c),
                count(c.answers, "answer", "answers")
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut svg = format!(
        "<figure><svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"csat-t csat-d\">\
         <title id=\"csat-t\">Mean satisfaction score, 1 to 5</title><desc id=\"csat-d\">{}</desc>",
        text(&desc)
    );
    for (i, (name, c)) in rows.iter().enumerate() {
        let y = 8.0 + i as f64 * (bar_h + 14.0);
        let width = c.mean.map_or(0.0, |m| plot_w * m / 5.0);
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{name}</text>\
             <rect x=\"{left}\" y=\"{y:.1}\" width=\"{plot_w:.1}\" height=\"{bar_h}\" fill=\"#eef0f3\"/>\
             <rect x=\"{left}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{bar_h}\" fill=\"var(--accent)\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{} (n={})</text>",
            left - 8.0,
            y + bar_h / 2.0 + 4.0,
            left + plot_w + 6.0,
            y + bar_h / 2.0 + 4.0,
            text(&c.mean.map_or_else(|| "–".to_owned(), |m| format!("{m:.2}"))),
            c.answers
        );
    }
    let mut table = String::new();
    for (name, c) in rows {
        let _ = write!(
            table,
            "<tr><th scope=\"row\">{name}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.answers,
            mean(c),
            pct(c.satisfied_share)
        );
    }
    svg + "</svg><figcaption>Survey answers of the conversations of the period. Bot only: conversations never handed off.</figcaption></figure>"
        + &format!(
            "<table><caption>Satisfaction</caption><thead><tr><th scope=\"col\"></th><th scope=\"col\">Answers</th><th scope=\"col\">Mean</th><th scope=\"col\">Satisfied (4–5)</th></tr></thead><tbody>{table}</tbody></table>"
        )
}

/// Median and p90 of the first human reply, overall and per group of the breakdown.
fn reply_chart(r: &HealthReport) -> String {
    let mut rows: Vec<(String, &Durations)> =
        vec![("All".to_owned(), &r.overall.first_human_reply)];
    rows.extend(
        r.groups
            .iter()
            .map(|g| (g.key.clone(), &g.figures.first_human_reply)),
    );
    let max = rows
        .iter()
        .filter_map(|(_, d)| d.p90_ms)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (w, left, row_h) = (420.0_f64, 110.0_f64, 30.0_f64);
    let plot_w = w - left - 90.0;
    let h = 12.0 + rows.len() as f64 * row_h;
    let desc = rows
        .iter()
        .map(|(name, d)| {
            format!(
                "{name}: median {}, p90 {}",
                duration(d.median_ms),
                duration(d.p90_ms)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut svg = format!(
        "<figure><svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"reply-t reply-d\">\
         <title id=\"reply-t\">Time from handoff to the first agent message</title><desc id=\"reply-d\">{}</desc>",
        text(&desc)
    );
    for (i, (name, d)) in rows.iter().enumerate() {
        let y = 6.0 + i as f64 * row_h;
        let p90 = d.p90_ms.map_or(0.0, |v| plot_w * v as f64 / max);
        let median = d.median_ms.map_or(0.0, |v| plot_w * v as f64 / max);
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{left}\" y=\"{y:.1}\" width=\"{p90:.1}\" height=\"18\" fill=\"#c9dafc\"/>\
             <rect x=\"{left}\" y=\"{y:.1}\" width=\"{median:.1}\" height=\"18\" fill=\"var(--accent)\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            left - 8.0,
            y + 13.0,
            text(&shorten(name)),
            left + plot_w + 6.0,
            y + 13.0,
            text(&duration(d.median_ms))
        );
    }
    svg + "</svg><figcaption>Dark: median; light: 90th percentile. From the handoff opening to the first agent message while it was open.</figcaption></figure>"
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 16 {
        s.chars().take(15).collect::<String>() + "…"
    } else {
        s.to_owned()
    }
}

fn breakdown_table(r: &HealthReport) -> String {
    let by = r.by.map_or("category", Breakdown::as_str);
    let mut rows = String::new();
    for (key, f) in std::iter::once(("All", &r.overall))
        .chain(r.groups.iter().map(|g| (g.key.as_str(), &g.figures)))
    {
        let _ = write!(
            rows,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(key),
            f.conversations,
            f.handoffs,
            pct(f.escalation_rate),
            duration(f.first_human_reply.median_ms),
            duration(f.first_human_reply.p90_ms),
            pct(f.resolution_rate_48h),
            mean(&f.csat_handoff),
            f.csat_handoff.answers,
            pct(f.override_rate)
        );
    }
    let note = if matches!(r.by, Some(Breakdown::Channel)) {
        "Each channel's rate is its handoffs ÷ its conversations."
    } else {
        "Each group's rate is its handoffs ÷ all conversations of the period (the rates add up to the overall one)."
    };
    format!(
        "<section aria-labelledby=\"by-h\"><h2 id=\"by-h\">By {by}</h2><table>\
         <caption>{note}</caption><thead><tr><th scope=\"col\">{by}</th><th scope=\"col\">Conversations</th>\
         <th scope=\"col\">Handoffs</th><th scope=\"col\">Escalation rate</th><th scope=\"col\">First reply (median)</th>\
         <th scope=\"col\">First reply (p90)</th><th scope=\"col\">Resolved in 48 h</th><th scope=\"col\">CSAT after handoff</th>\
         <th scope=\"col\">Answers</th><th scope=\"col\">Override rate</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )
}
