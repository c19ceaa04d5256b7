//! Escalation health: the period and breakdown parameters and the report shared by
//! `GET /api/v1/metrics/escalation` (admin API) and the `/console/metrics` page (HTML with
//! inline SVG charts, rendered here; no script, no outside asset).
//!
//! The figures are computed by `tandem_core::health` from what the store returns for the
//! period (`Reporting::conversation_activity`), so they are the same after a restart and on
//! every process sharing the store.
//!
//! Who may open the page is decided in one place, [`DashboardAccess::allows`]: an agent
//! signed in to a console desk (its session cookie, whose path `/console` covers this page),
//! a console agent token (the `[desks.<id>]` of type `console`) or an admin token, given as
//! `Authorization: Bearer`, once as `?token=` (answered with a cookie and a redirect that
//! drops it from the address), or by that cookie.

mod page;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;
use tandem_core::Core;
use tandem_core::health::{self, Breakdown, HealthQuery, HealthReport};
use tandem_core::store::StoreError;
use tandem_model::Timestamp;
use tandem_sdk::Secret;
use tandem_sdk::signature::constant_time_eq;
use time::format_description::well_known::Rfc3339;

/// The page's path.
pub const PAGE_PATH: &str = "/console/metrics";

/// The cookie that carries the token after a `?token=` visit.
const COOKIE: &str = "tandem_metrics";

/// Query parameters of the report: a preset `period` (`24h`, `7d`, `30d`) or `from`/`to`
/// (RFC 3339), and `by`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PeriodParams {
    /// `24h`, `7d` (the default) or `30d`, ending now.
    #[serde(default)]
    pub period: Option<String>,
    /// Start, RFC 3339 (or `YYYY-MM-DD`, midnight UTC).
    #[serde(default)]
    pub from: Option<String>,
    /// End, RFC 3339 (or `YYYY-MM-DD`: the end of that day); default now.
    #[serde(default)]
    pub to: Option<String>,
    /// `category`, `queue`, `channel` or `priority`.
    #[serde(default)]
    pub by: Option<String>,
}

fn parse_time(s: &str, end_of_day: bool) -> Option<Timestamp> {
    if let Ok(t) = Timestamp::parse(s, &Rfc3339) {
        return Some(t.to_offset(time::UtcOffset::UTC));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(s, &format).ok()?;
    let day = date.midnight().assume_utc();
    Some(if end_of_day {
        day + time::Duration::days(1)
    } else {
        day
    })
}

impl PeriodParams {
    /// The query these parameters ask for at `now`, or what is wrong with them.
    pub fn query(&self, now: Timestamp) -> Result<HealthQuery, String> {
        let by = match self.by.as_deref().filter(|b| !b.is_empty()) {
            None => None,
            Some(b) => Some(Breakdown::parse(b).ok_or_else(|| {
                format!("by must be category, queue, channel or priority, not {b:?}")
            })?),
        };
        let from = self.from.as_deref().filter(|s| !s.is_empty());
        let to = self.to.as_deref().filter(|s| !s.is_empty());
        let (from, to) = if from.is_some() || to.is_some() {
            let to = match to {
                Some(s) => parse_time(s, true)
                    .ok_or_else(|| format!("to is not an RFC 3339 time or a date: {s:?}"))?,
                None => now,
            };
            let from = match from {
                Some(s) => parse_time(s, false)
                    .ok_or_else(|| format!("from is not an RFC 3339 time or a date: {s:?}"))?,
                None => to - time::Duration::days(7),
            };
            (from, to)
        } else {
            let span = match self.period.as_deref().unwrap_or("7d") {
                "24h" => time::Duration::hours(24),
                "7d" => time::Duration::days(7),
                "30d" => time::Duration::days(30),
                other => return Err(format!("period must be 24h, 7d or 30d, not {other:?}")),
            };
            (now - span, now)
        };
        if from >= to {
            return Err("from must be before to".into());
        }
        if to - from > time::Duration::days(health::MAX_DAYS) {
            return Err(format!("a period covers at most {} days", health::MAX_DAYS));
        }
        Ok(HealthQuery { from, to, now, by })
    }
}

/// The report for `q`, from the store: every conversation changed since the period's
/// start (so later contacts and resolutions after its end count), capped at
/// [`health::MAX_CONVERSATIONS`].
pub async fn report(core: &Core, q: &HealthQuery) -> Result<HealthReport, StoreError> {
    let records = core
        .store()
        .conversation_activity(
            q.from,
            q.now.max(q.to) + time::Duration::milliseconds(1),
            health::MAX_CONVERSATIONS,
        )
        .await?;
    let truncated = records.len() >= health::MAX_CONVERSATIONS;
    Ok(health::compute(&records, q, truncated))
}

/// Who may open the dashboard.
#[derive(Clone, Default)]
pub struct DashboardAccess {
    tokens: Arc<Vec<Secret>>,
    secure_cookie: bool,
    /// The console desks whose signed-in agents may open the page.
    #[cfg(feature = "console-desk")]
    consoles: Arc<Vec<tandem_sdk::DeskEventSink>>,
}

impl DashboardAccess {
    /// Console agent tokens and admin tokens; `secure_cookie` when the public URL is https.
    pub fn new(tokens: Vec<Secret>, secure_cookie: bool) -> Self {
        Self {
            tokens: Arc::new(tokens),
            secure_cookie,
            #[cfg(feature = "console-desk")]
            consoles: Arc::default(),
        }
    }

    /// Also admits agents signed in to these console desks (their session cookies).
    #[cfg(feature = "console-desk")]
    #[must_use]
    pub fn with_console_sessions(mut self, consoles: Vec<tandem_sdk::DeskEventSink>) -> Self {
        self.consoles = Arc::new(consoles);
        self
    }

    /// The one check of the dashboard: [`DashboardAccess::allows_token`], or an agent
    /// signed in to one of the console desks (a store error counts as not signed in).
    pub async fn allows(&self, headers: &HeaderMap, query_token: Option<&str>) -> bool {
        if self.allows_token(headers, query_token) {
            return true;
        }
        #[cfg(feature = "console-desk")]
        for console in self.consoles.iter() {
            if let Ok(Some(_)) = tandem_desk_console::signed_in_agent(console, headers).await {
                return true;
            }
        }
        false
    }

    /// Whether `candidate` is one of the tokens (every token compared, constant time).
    fn accepts(&self, candidate: &str) -> bool {
        !candidate.is_empty()
            && self.tokens.iter().fold(false, |acc, t| {
                constant_time_eq(t.expose(), candidate) | acc
            })
    }

    /// A valid token in the `Authorization` header, the `token` query parameter or the
    /// dashboard cookie.
    pub fn allows_token(&self, headers: &HeaderMap, query_token: Option<&str>) -> bool {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .map(|(_, v)| v);
        [bearer, query_token, cookie]
            .into_iter()
            .flatten()
            .any(|t| self.accepts(t))
    }
}

#[derive(Clone)]
struct PageState {
    core: Core,
    access: DashboardAccess,
}

#[derive(Debug, Default, Deserialize)]
struct PageParams {
    #[serde(flatten)]
    period: PeriodParams,
    #[serde(default)]
    token: Option<String>,
}

/// The `/console/metrics` route.
pub fn routes(core: Core, access: DashboardAccess) -> Router {
    Router::new()
        .route(PAGE_PATH, get(metrics_page))
        .with_state(PageState { core, access })
}

async fn metrics_page(
    State(st): State<PageState>,
    headers: HeaderMap,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Response {
    let params = params.map(|Query(p)| p).unwrap_or_default();
    let token = params.token.as_deref().filter(|t| !t.is_empty());
    if !st.access.allows(&headers, token).await {
        return (
            StatusCode::UNAUTHORIZED,
            Html(page::sign_in(token.is_some())),
        )
            .into_response();
    }
    if let Some(token) = token {
        // Keep the token out of the address bar and the history: a cookie from now on.
        let mut resp = Redirect::to(&page::href(&params.period)).into_response();
        let secure = if st.access.secure_cookie {
            "; Secure"
        } else {
            ""
        };
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{COOKIE}={token}; Path={PAGE_PATH}; HttpOnly; SameSite=Strict{secure}"
        )) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
        return resp;
    }
    let mut period = params.period;
    if period.by.as_deref().is_none_or(str::is_empty) {
        period.by = Some("category".into());
    }
    let now = st.core.now();
    let q = match period.query(now) {
        Ok(q) => q,
        Err(message) => {
            return (
                StatusCode::BAD_REQUEST,
                Html(page::error(&period, &message)),
            )
                .into_response();
        }
    };
    match report(&st.core, &q).await {
        Ok(r) => Html(page::render(&r, &period)).into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(page::error(
                &period,
                "The store is unavailable; try again shortly.",
            )),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests;
