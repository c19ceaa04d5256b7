//! A fake Messenger Send API: `POST /{version}/me/messages` (or `/{page_id}/messages`)
//! authenticated by `?access_token=` or a bearer header. Answers sends from the script
//! with the Send API's shapes (`{recipient_id, message_id}`; Graph errors 613, 10/2018278,
//! 551/1545041, 190).

use super::{Core, Incoming, Recorded, Reply, Server, Shared, answer, graph_error, incoming};
use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use std::sync::Arc;

/// A running fake Send API.
#[derive(Debug)]
pub struct MessengerFake {
    server: Server,
    state: Shared<FbState>,
}

#[derive(Debug)]
struct FbState {
    core: Core,
    page_access_token: String,
    version: String,
}

impl MessengerFake {
    /// Starts a fake accepting `page_access_token` under `version` (e.g. `v21.0`).
    pub async fn start(page_access_token: &str, version: &str) -> Self {
        let state = Arc::new(FbState {
            core: Core::default(),
            page_access_token: page_access_token.to_owned(),
            version: version.to_owned(),
        });
        let app = Router::new()
            .route("/cdn/{name}", axum::routing::get(cdn))
            .fallback(handle)
            .with_state(state.clone());
        Self {
            server: super::serve(app).await,
            state,
        }
    }

    /// The base URL, to configure as `api_base`.
    pub fn base_url(&self) -> &str {
        &self.server.base
    }

    /// The URL of an attachment this fake's "CDN" serves (as Meta puts in a webhook's
    /// `attachments[].payload.url`: signed by its query, fetched without a token). Its
    /// bytes are `FAKE-ATTACHMENT-<name>`, typed by the name's extension.
    pub fn attachment_url(&self, name: &str) -> String {
        format!("{}/cdn/{name}?_nc_oh=fake&oe=0", self.server.base)
    }

    /// Queues how the next send is answered.
    pub fn script(&self, reply: Reply) {
        self.state.core.push(reply);
    }

    /// Every request received.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.core.requests()
    }

    /// The send requests (`POST …/messages`) received.
    pub fn sends(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == axum::http::Method::POST && r.path.ends_with("/messages"))
            .collect()
    }

    /// The sends answered with success.
    pub fn delivered(&self) -> Vec<Recorded> {
        self.sends()
            .into_iter()
            .filter(Recorded::succeeded)
            .collect()
    }
}

/// `GET /cdn/{name}`: an attachment's bytes (see [`MessengerFake::attachment_url`]).
async fn cdn(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let mime = match name.rsplit('.').next() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    };
    let mut response = Response::new(axum::body::Body::from(format!("FAKE-ATTACHMENT-{name}")));
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(mime),
    );
    response
}

async fn handle(State(st): State<Shared<FbState>>, req: Request) -> Response {
    let inc = incoming(req).await;
    let (status, body, headers) = route(&st, &inc);
    let response = answer(status, body, &headers);
    st.core.record(inc.recorded(status));
    response
}

type Answered = (u16, serde_json::Value, Vec<(&'static str, String)>);

fn token(inc: &Incoming) -> Option<String> {
    let from_query = inc.uri.query().and_then(|q| {
        q.split('&')
            .find_map(|p| p.strip_prefix("access_token=").map(str::to_owned))
    });
    from_query.or_else(|| inc.bearer().map(str::to_owned))
}

fn route(st: &Shared<FbState>, inc: &Incoming) -> Answered {
    if token(inc).as_deref() != Some(st.page_access_token.as_str()) {
        return (
            401,
            graph_error(190, None, "Invalid OAuth access token"),
            vec![],
        );
    }
    let path = inc.uri.path();
    let prefix = format!("/{}/", st.version);
    let is_send = inc.method == axum::http::Method::POST
        && path.starts_with(&prefix)
        && path.ends_with("/messages");
    if !is_send {
        return (
            404,
            graph_error(100, Some(33), "Unsupported request"),
            vec![],
        );
    }
    let body = inc.json();
    let Some(psid) = body["recipient"]["id"].as_str().map(str::to_owned) else {
        return (400, graph_error(100, None, "Invalid parameter"), vec![]);
    };
    match st.core.next_reply() {
        Reply::Ok | Reply::AcceptThenFail { .. } => (
            200,
            serde_json::json!({
                "recipient_id": psid,
                "message_id": format!("m_FAKE{:08}", st.core.next_id()),
            }),
            vec![],
        ),
        Reply::RateLimited { retry_after_secs } => (
            429,
            graph_error(613, None, "Calls to this api have exceeded the rate limit."),
            vec![("retry-after", retry_after_secs.to_string())],
        ),
        Reply::Unauthorized => (
            401,
            graph_error(190, None, "Invalid OAuth access token"),
            vec![],
        ),
        Reply::ServerError => (
            500,
            graph_error(2, None, "Service temporarily unavailable"),
            vec![],
        ),
        Reply::WindowClosed => (
            400,
            graph_error(
                10,
                Some(2_018_278),
                "This message is sent outside of allowed window.",
            ),
            vec![],
        ),
        Reply::Blocked => (
            400,
            graph_error(
                551,
                Some(1_545_041),
                "This person isn't available right now.",
            ),
            vec![],
        ),
        Reply::GraphError {
            status,
            code,
            subcode,
        } => (status, graph_error(code, subcode, "Scripted error"), vec![]),
    }
}
