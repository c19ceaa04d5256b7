//! The admin API (`/api/v1`): customers, identities, profiles, business events,
//! conversations, transcripts and escalation decisions, for operators and contact-center
//! integrations. Bearer tokens from `[admin].tokens`, compared in constant time; with no
//! token configured every request is refused. `GET /api/v1/openapi.json` is public and
//! lists every route (see `openapi.rs`; a test keeps the two in step).
//!
//! Handlers reach data only through the core's `Store` trait.

mod openapi;
mod views;

use crate::reload::PolicyReloader;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, get, on};
use axum::{Json, Router};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use tandem_core::Core;
use tandem_core::store::{AgentProfile, AgentStatus, CustomerEvent, CustomerUpdate, StoreError};
use tandem_model::{ChannelId, ConversationId, CustomerId};
use tandem_sdk::Secret;
use tandem_sdk::signature::constant_time_eq;

pub use openapi::{ROUTES, document};

#[derive(Clone)]
struct AdminState {
    core: Core,
    tokens: Arc<Vec<Secret>>,
    reloader: Arc<PolicyReloader>,
    link_urls: Arc<BTreeMap<String, String>>,
    /// `[server].public_url` when set; else links name the host the request came to.
    public_url: Option<Arc<url::Url>>,
}

/// The admin routes, under `/api/v1`.
pub fn routes(
    core: Core,
    tokens: Vec<Secret>,
    reloader: Arc<PolicyReloader>,
    link_urls: BTreeMap<String, String>,
    public_url: Option<url::Url>,
) -> Router {
    let state = AdminState {
        core,
        tokens: Arc::new(tokens),
        reloader,
        link_urls: Arc::new(link_urls),
        public_url: public_url.map(Arc::new),
    };
    // Built from ROUTES, the list the OpenAPI document is made of: no route is served
    // undocumented, and a documented one without a handler fails a unit test.
    let mut protected = Router::new();
    for (method, path, id, _) in ROUTES {
        if let Some(h) = handler(method, id) {
            protected = protected.route(path, h);
        }
    }
    let protected = protected
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state);
    Router::new()
        .route("/api/v1/openapi.json", get(openapi_json))
        .merge(protected)
}

/// The handler of a protected operation of [`ROUTES`] for its method; `None` for the
/// public document (mounted on its own) and for anything unknown.
fn handler(method: &str, operation_id: &str) -> Option<MethodRouter<AdminState>> {
    let method = axum::http::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).ok()?;
    let filter = MethodFilter::try_from(method).ok()?;
    Some(match operation_id {
        "findCustomers" => on(filter, find_customers),
        "getCustomer" => on(filter, get_customer),
        "updateCustomer" => on(filter, patch_customer),
        "eraseCustomer" => on(filter, erase_customer),
        "exportCustomer" => on(filter, export_customer),
        "listCustomerConversations" => on(filter, customer_conversations),
        "listCustomerEvents" => on(filter, list_events),
        "postCustomerEvent" => on(filter, post_event),
        "mergeCustomer" => on(filter, merge_customer),
        "unmergeCustomers" => on(filter, unmerge),
        "listIdentities" => on(filter, list_identities),
        "linkIdentity" => on(filter, link_identity),
        "unlinkIdentity" => on(filter, unlink_identity),
        "identityAudit" => on(filter, identity_audit),
        "getConversation" => on(filter, get_conversation),
        "releaseExternal" => on(filter, release_external),
        "listDrafts" => on(filter, list_drafts),
        "decideDraft" => on(filter, decide_draft),
        "getTranscript" => on(filter, get_transcript),
        "listEscalations" => on(filter, get_escalations),
        "listAiAudit" => on(filter, get_ai_audit),
        "getPolicy" => on(filter, get_policy),
        "issueLinkCode" => on(filter, issue_link_code),
        "reloadPolicy" => on(filter, reload_policy),
        "policyAudit" => on(filter, policy_audit),
        "listAgents" => on(filter, list_agents),
        "getAgent" => on(filter, get_agent),
        "putAgent" => on(filter, put_agent),
        "updateAgent" => on(filter, patch_agent),
        "deleteAgent" => on(filter, delete_agent),
        "listQueue" => on(filter, list_queue),
        "issueSignInLink" => on(filter, issue_sign_in_link),
        "sendMessage" => on(filter, send_message),
        "escalationMetrics" => on(filter, escalation_metrics),
        _ => return None,
    })
}

/// An admin API error: status + `{"error": code, "message": ..}`.
struct ApiError(StatusCode, &'static str, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(serde_json::json!({"error": self.1, "message": self.2})),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ApiError(StatusCode::CONFLICT, "conflict", m),
            StoreError::Corrupt(_) => ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "corrupt",
                "stored data unreadable".into(),
            ),
            _ => ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "store unavailable".into(),
            ),
        }
    }
}

/// The customer, or a 404.
async fn existing_customer(
    store: &tandem_core::store::DynStore,
    id: &CustomerId,
) -> Result<tandem_core::store::CustomerRecord, ApiError> {
    store
        .customer(id)
        .await?
        .ok_or_else(|| not_found("customer"))
}

/// The JSON view of customer `c` with its identities.
async fn customer_json(
    store: &tandem_core::store::DynStore,
    c: &tandem_core::store::CustomerRecord,
) -> Result<serde_json::Value, ApiError> {
    let identities = store.identities(&c.id).await?;
    Ok(views::customer(c, &identities))
}

fn not_found(what: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("{what} not found"),
    )
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, "bad_request", message.into())
}

async fn authorize(State(st): State<AdminState>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let ok = presented.is_some_and(|p| {
        // Check every token so the time taken does not reveal which one matched.
        st.tokens
            .iter()
            .fold(false, |acc, t| constant_time_eq(t.expose(), p) | acc)
    });
    if ok {
        next.run(req).await
    } else {
        let message = if st.tokens.is_empty() {
            "the admin API is disabled: set [admin].tokens"
        } else {
            "a valid bearer token is required"
        };
        let mut resp =
            ApiError(StatusCode::UNAUTHORIZED, "unauthorized", message.into()).into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        resp
    }
}

async fn openapi_json() -> Json<serde_json::Value> {
    Json(document())
}

#[derive(Deserialize)]
struct CustomerQuery {
    identity: Option<String>,
    email: Option<String>,
}

async fn find_customers(
    State(st): State<AdminState>,
    Query(q): Query<CustomerQuery>,
) -> Result<Response, ApiError> {
    let store = st.core.store();
    let found = match (q.identity, q.email) {
        (Some(identity), None) => {
            let (channel, subject) = identity
                .split_once(':')
                .filter(|(c, s)| !c.is_empty() && !s.is_empty())
                .ok_or_else(|| bad_request("identity must be <channel>:<external id>"))?;
            store
                .customer_by_identity(&ChannelId::new(channel), subject)
                .await?
                .into_iter()
                .collect()
        }
        (None, Some(email)) if email.contains('@') => store.customers_by_email(&email).await?,
        (None, Some(_)) => return Err(bad_request("email is not an email address")),
        _ => {
            return Err(bad_request(
                "give exactly one of identity=<channel>:<external id> or email=<email>",
            ));
        }
    };
    let mut out = Vec::new();
    for c in found {
        out.push(customer_json(store, &c).await?);
    }
    Ok(Json(out).into_response())
}

async fn get_customer(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = st.core.store();
    let id = CustomerId::new(id);
    let c = existing_customer(store, &id).await?;
    Ok(Json(customer_json(store, &c).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerPatch {
    #[serde(default)]
    display_name: Option<String>,
    /// Absent keeps, `null` clears, a string sets.
    #[serde(default, deserialize_with = "double_option")]
    segment: Option<Option<String>>,
    #[serde(default)]
    attributes: BTreeMap<String, serde_json::Value>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

async fn patch_customer(
    State(st): State<AdminState>,
    Path(id): Path<String>,
    body: Result<Json<CustomerPatch>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(patch) = body.map_err(|e| bad_request(e.body_text()))?;
    if patch
        .segment
        .as_ref()
        .and_then(|s| s.as_deref())
        .is_some_and(|s| s.trim().is_empty())
    {
        return Err(bad_request(
            "segment must not be empty (use null to clear it)",
        ));
    }
    let store = st.core.store();
    let id = CustomerId::new(id);
    let update = CustomerUpdate {
        display_name: patch.display_name,
        segment: patch.segment,
        attributes: patch.attributes,
    };
    let now = tandem_model::now();
    let c = store
        .update_customer(&id, update, now)
        .await?
        .ok_or_else(|| not_found("customer"))?;
    Ok(Json(customer_json(store, &c).await?).into_response())
}

async fn customer_conversations(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = st.core.store();
    let id = CustomerId::new(id);
    existing_customer(store, &id).await?;
    let list = store.conversations_of(&id, 100).await?;
    Ok(Json(
        list.iter()
            .map(views::conversation_summary)
            .collect::<Vec<_>>(),
    )
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventPost {
    name: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    data: serde_json::Value,
}

async fn post_event(
    State(st): State<AdminState>,
    Path(id): Path<String>,
    body: Result<Json<EventPost>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(post) = body.map_err(|e| bad_request(e.body_text()))?;
    let name = post.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(bad_request("name must be 1 to 100 characters"));
    }
    let at = match post.at.as_deref() {
        None => tandem_model::now(),
        Some(t) => time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map(tandem_model::truncate_to_millis)
            .map_err(|_| bad_request("at must be an RFC 3339 time"))?,
    };
    let store = st.core.store();
    let customer_id = CustomerId::new(id);
    existing_customer(store, &customer_id).await?;
    let event_id = post.id.filter(|i| !i.is_empty()).unwrap_or_else(|| {
        tandem_model::EscalationId::generate()
            .to_string()
            .replacen("esc_", "evt_", 1)
    });
    let event = CustomerEvent {
        id: event_id.clone(),
        customer_id,
        name: name.to_owned(),
        at,
        data: post.data,
    };
    let created = store.record_customer_event(&event).await?;
    // The policy looks at the customer's recent events: at risk → handed off now.
    let decision = if created {
        st.core.on_customer_event(&event.customer_id).await?
    } else {
        Default::default()
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "id": event_id,
            "duplicate": !created,
            "escalated": decision.escalate,
            "category": decision.category,
            "target": decision.target,
            "priority": decision.priority,
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
struct SinceQuery {
    since: Option<String>,
}

async fn list_events(
    State(st): State<AdminState>,
    Path(id): Path<String>,
    Query(q): Query<SinceQuery>,
) -> Result<Response, ApiError> {
    let since = match q.since.as_deref() {
        None => time::OffsetDateTime::UNIX_EPOCH,
        Some(t) => time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map_err(|_| bad_request("since must be an RFC 3339 time"))?,
    };
    let store = st.core.store();
    let id = CustomerId::new(id);
    existing_customer(store, &id).await?;
    let events = store.customer_events(&id, since).await?;
    Ok(Json(events.iter().map(views::event).collect::<Vec<_>>()).into_response())
}

async fn get_conversation(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let c = st
        .core
        .store()
        .conversation(&ConversationId::new(id))
        .await?
        .ok_or_else(|| not_found("conversation"))?;
    Ok(Json(views::conversation(&c)).into_response())
}

/// Gives a conversation someone was answering outside Tandem back to the bot.
async fn release_external(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = ConversationId::new(id);
    match st.core.release_external(&id).await? {
        None => Err(not_found("conversation")),
        Some(false) => Err(ApiError(
            StatusCode::CONFLICT,
            "not_external",
            "the conversation is not held by a person outside Tandem".into(),
        )),
        Some(true) => {
            let c = st
                .core
                .store()
                .conversation(&id)
                .await?
                .ok_or_else(|| not_found("conversation"))?;
            Ok(Json(views::conversation(&c)).into_response())
        }
    }
}

/// The drafts waiting for an agent's decision.
async fn list_drafts(State(st): State<AdminState>) -> Result<Response, ApiError> {
    let drafts = st.core.pending_drafts().await?;
    Ok(Json(drafts).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DraftDecisionPost {
    decision: String,
    #[serde(default)]
    text: Option<String>,
    agent: DraftAgent,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DraftAgent {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

/// Approves, edits or rejects a draft, once.
async fn decide_draft(
    State(st): State<AdminState>,
    Path((id, draft_id)): Path<(String, String)>,
    body: Result<Json<DraftDecisionPost>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| bad_request(e.body_text()))?;
    let decision = match (body.decision.as_str(), body.text) {
        ("approve", None) => tandem_sdk::DraftDecision::Approve,
        ("reject", None) => tandem_sdk::DraftDecision::Reject,
        ("edit", Some(text)) => tandem_sdk::DraftDecision::Edit(text),
        ("edit", None) => return Err(bad_request("an edit needs text")),
        ("approve" | "reject", Some(_)) => {
            return Err(bad_request("only an edit carries text"));
        }
        _ => return Err(bad_request("decision must be approve, edit or reject")),
    };
    if body.agent.id.trim().is_empty() || body.agent.id.len() > 200 {
        return Err(bad_request("agent.id must be 1 to 200 characters"));
    }
    let agent = tandem_core::store::AgentRef {
        id: body.agent.id,
        name: body.agent.name,
    };
    let conversation = ConversationId::new(id);
    match st
        .core
        .decide_draft(&conversation, &draft_id, agent, decision)
        .await?
    {
        tandem_sdk::DraftAnswer::Decided => {
            let c = st
                .core
                .store()
                .conversation(&conversation)
                .await?
                .ok_or_else(|| not_found("conversation"))?;
            Ok(Json(views::conversation(&c)).into_response())
        }
        tandem_sdk::DraftAnswer::Refused(r) => {
            let (status, code) = match r.code.as_str() {
                "already_decided" => (StatusCode::CONFLICT, "already_decided"),
                "withdrawn" => (StatusCode::CONFLICT, "withdrawn"),
                "not_owner" => (StatusCode::FORBIDDEN, "not_owner"),
                "empty_text" => (StatusCode::BAD_REQUEST, "empty_text"),
                _ => (StatusCode::NOT_FOUND, "unknown_draft"),
            };
            Err(ApiError(status, code, r.message))
        }
    }
}

#[derive(Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

async fn get_transcript(
    State(st): State<AdminState>,
    Path(id): Path<String>,
    Query(q): Query<LimitQuery>,
) -> Result<Response, ApiError> {
    let store = st.core.store();
    let id = ConversationId::new(id);
    store
        .conversation(&id)
        .await?
        .ok_or_else(|| not_found("conversation"))?;
    let entries = store
        .transcript(&id, q.limit.unwrap_or(200).clamp(1, 1000))
        .await?;
    Ok(Json(
        entries
            .iter()
            .map(views::transcript_entry)
            .collect::<Vec<_>>(),
    )
    .into_response())
}

async fn get_escalations(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = st.core.store();
    let id = ConversationId::new(id);
    store
        .conversation(&id)
        .await?
        .ok_or_else(|| not_found("conversation"))?;
    let list = store.escalations(&id).await?;
    Ok(Json(list.iter().map(views::escalation).collect::<Vec<_>>()).into_response())
}

/// The AI decisions of a conversation, oldest first (the newest `limit`).
async fn get_ai_audit(
    State(st): State<AdminState>,
    Path(id): Path<String>,
    Query(q): Query<LimitQuery>,
) -> Result<Response, ApiError> {
    let store = st.core.store();
    let id = ConversationId::new(id);
    store
        .conversation(&id)
        .await?
        .ok_or_else(|| not_found("conversation"))?;
    let records = store
        .ai_audit(&id, q.limit.unwrap_or(200).clamp(1, 1000))
        .await?;
    Ok(Json(serde_json::json!({
        "records": records.iter().map(views::ai_audit).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// The escalation health figures of a period (the numbers of `/console/metrics`).
async fn escalation_metrics(
    State(st): State<AdminState>,
    Query(params): Query<crate::dashboard::PeriodParams>,
) -> Result<Response, ApiError> {
    let q = params.query(st.core.now()).map_err(bad_request)?;
    let report = crate::dashboard::report(&st.core, &q).await?;
    Ok(Json(report).into_response())
}

async fn get_policy(State(st): State<AdminState>) -> Json<serde_json::Value> {
    Json(st.reloader.current())
}

async fn reload_policy(State(st): State<AdminState>) -> Response {
    match st.reloader.reload("admin_api").await {
        Ok(r) => Json(serde_json::json!({"version": r.version, "previous": r.previous})).into_response(),
        Err(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({"error": "invalid_policy", "message": "the policy in force stays", "errors": errors})),
        )
            .into_response(),
    }
}

async fn policy_audit(State(st): State<AdminState>) -> Json<Vec<serde_json::Value>> {
    Json(st.reloader.audit().await)
}

fn identity_view(i: &tandem_core::store::IdentityRecord) -> serde_json::Value {
    views::identity(i)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergePost {
    from: String,
}

async fn merge_customer(
    State(st): State<AdminState>,
    Path(id): Path<String>,
    body: Result<Json<MergePost>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(post) = body.map_err(|e| bad_request(e.body_text()))?;
    let trigger = tandem_core::store::MergeTrigger {
        actor: "admin".into(),
        key: None,
        source: "POST /api/v1/customers/{id}/merge".into(),
    };
    let record = st
        .core
        .store()
        .merge_customers(
            &CustomerId::new(id),
            &CustomerId::new(post.from),
            &trigger,
            tandem_model::now(),
        )
        .await?
        .ok_or_else(|| not_found("customer"))?;
    Ok(Json(record).into_response())
}

async fn unmerge(
    State(st): State<AdminState>,
    Path(merge_id): Path<String>,
) -> Result<Response, ApiError> {
    let record = st
        .core
        .store()
        .unmerge(&merge_id, tandem_model::now())
        .await?
        .ok_or_else(|| not_found("merge"))?;
    Ok(Json(record).into_response())
}

async fn list_identities(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = st.core.store();
    let id = CustomerId::new(id);
    existing_customer(store, &id).await?;
    let list = store.identities(&id).await?;
    Ok(Json(list.iter().map(identity_view).collect::<Vec<_>>()).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityPost {
    channel: String,
    external_id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

async fn link_identity(
    State(st): State<AdminState>,
    Path(id): Path<String>,
    body: Result<Json<IdentityPost>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(post) = body.map_err(|e| bad_request(e.body_text()))?;
    if post.channel.trim().is_empty() || post.external_id.trim().is_empty() {
        return Err(bad_request("channel and external_id must not be empty"));
    }
    if post
        .email
        .as_deref()
        .is_some_and(|e| tandem_core::store::VerifiedKey::email(e).is_none())
    {
        return Err(bad_request("email is not an email address"));
    }
    if post
        .phone
        .as_deref()
        .is_some_and(|p| tandem_core::store::VerifiedKey::phone(p).is_none())
    {
        return Err(bad_request("phone must have 6 to 15 digits"));
    }
    let mut identity =
        tandem_model::ExternalIdentity::new(ChannelId::new(post.channel), post.external_id);
    identity.verified = true;
    identity.verified_email = post.email;
    identity.verified_phone = post.phone;
    let linked = st
        .core
        .store()
        .link_identity(
            &CustomerId::new(id),
            &identity,
            "admin",
            tandem_model::now(),
        )
        .await?
        .ok_or_else(|| not_found("customer"))?;
    Ok((StatusCode::CREATED, Json(identity_view(&linked))).into_response())
}

async fn unlink_identity(
    State(st): State<AdminState>,
    Path((id, channel, external_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let store = st.core.store();
    let new = store
        .unlink_identity(
            &CustomerId::new(id),
            &ChannelId::new(channel),
            &external_id,
            tandem_model::now(),
        )
        .await?
        .ok_or_else(|| not_found("identity of this customer"))?;
    Ok(Json(customer_json(store, &new).await?).into_response())
}

async fn identity_audit(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = st.core.store();
    let id = CustomerId::new(id);
    existing_customer(store, &id).await?;
    let audit = store.identity_audit(&id).await?;
    let suggested = store.suggested_links(&id).await?;
    Ok(Json(serde_json::json!({ "entries": audit, "suggested_links": suggested })).into_response())
}

/// Everything stored about a customer (GDPR access/portability): profile, identities with
/// verified facts, conversations with full state and transcript, escalation decisions,
/// business events, the identity audit trail and suggested links.
async fn export_customer(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = st.core.store();
    let id = CustomerId::new(id);
    let c = existing_customer(store, &id).await?;
    let identities = store.identities(&id).await?;
    let mut reachability = Vec::new();
    for i in &identities {
        if let Some(r) = store.reachability(&i.channel, &i.subject).await? {
            reachability.push(serde_json::json!({
                "channel": i.channel,
                "external_id": i.subject,
                "report": r,
            }));
        }
    }
    let mut conversations = Vec::new();
    for conv in store.conversations_of(&id, EXPORT_LIMIT).await? {
        let transcript = store.transcript(&conv.id, EXPORT_LIMIT).await?;
        let escalations = store.escalations(&conv.id).await?;
        let ai_audit = store.ai_audit(&conv.id, EXPORT_LIMIT).await?;
        let mut view = views::conversation(&conv);
        view["state"] = serde_json::to_value(&conv.state).map_err(|e| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "corrupt",
                format!("conversation state not representable: {e}"),
            )
        })?;
        view["transcript"] = transcript
            .iter()
            .map(views::transcript_entry)
            .collect::<Vec<_>>()
            .into();
        view["escalations"] = escalations
            .iter()
            .map(views::escalation)
            .collect::<Vec<_>>()
            .into();
        view["ai_audit"] = ai_audit
            .iter()
            .map(views::ai_audit)
            .collect::<Vec<_>>()
            .into();
        conversations.push(view);
    }
    let events = store
        .customer_events(&id, time::OffsetDateTime::UNIX_EPOCH)
        .await?;
    let audit = store.identity_audit(&id).await?;
    let suggested = store.suggested_links(&id).await?;
    Ok(Json(serde_json::json!({
        "customer": views::customer(&c, &identities),
        "identities": identities.iter().map(identity_view).collect::<Vec<_>>(),
        "reachability": reachability,
        "conversations": conversations,
        "events": events.iter().map(views::event).collect::<Vec<_>>(),
        "audit": audit,
        "suggested_links": suggested,
        "exported_at": views::now_rfc3339(),
    }))
    .into_response())
}

/// How many conversations, and transcript entries per conversation, an export holds.
const EXPORT_LIMIT: usize = 100_000;

/// GDPR erase: the customer's personal data goes everywhere it is stored; ids, times,
/// escalation events and counts stay (see `Identities::erase_customer`).
async fn erase_customer(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = CustomerId::new(id);
    // Uploaded files first: the identities (erased next) name the customer's own ones.
    st.core.erase_media_of(&id).await.map_err(|_| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "uploaded files could not be removed".into(),
        )
    })?;
    let report = st
        .core
        .store()
        .erase_customer(&id, tandem_model::now())
        .await?
        .ok_or_else(|| not_found("customer"))?;
    tracing::info!(customer = %id, "Erased a customer's personal data (admin API).");
    Ok(Json(serde_json::json!({
        "customer_id": id,
        "erased": report,
        "erased_at": views::now_rfc3339(),
    }))
    .into_response())
}

async fn issue_link_code(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = CustomerId::new(id);
    let code = st
        .core
        .issue_link_code(&id)
        .await?
        .ok_or_else(|| not_found("customer"))?;
    let links: BTreeMap<&String, String> = st
        .link_urls
        .iter()
        .map(|(channel, url)| (channel, url.replace("{code}", &code.code)))
        .collect();
    let expires_at = code
        .expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"code": code.code, "expires_at": expires_at, "links": links})),
    )
        .into_response())
}

// ---- agents and queues -----------------------------------------------------------------

/// Longest agent id, name or skill accepted.
const MAX_AGENT_FIELD: usize = 200;
/// Most concurrent handoffs an agent may be given.
const MAX_CAPACITY: u32 = 1000;

/// `PUT /api/v1/agents/{id}`: the whole profile (the id is the path's).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentPut {
    #[serde(default)]
    name: Option<String>,
    skills: Vec<String>,
    capacity: u32,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    email: Option<String>,
    /// Hashed with argon2 before it is stored; absent keeps the current password.
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
}

/// `PATCH /api/v1/agents/{id}`: the fields to change.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    skills: Option<Vec<String>>,
    #[serde(default)]
    capacity: Option<u32>,
    #[serde(default)]
    status: Option<String>,
    /// Absent keeps, `null` clears, a string sets.
    #[serde(default, deserialize_with = "double_option")]
    email: Option<Option<String>>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
}

/// The account changes of a PUT or PATCH, checked; the password hashed.
async fn account_change(
    current: tandem_core::accounts::Credentials,
    email: Option<Option<String>>,
    password: Option<String>,
    disabled: Option<bool>,
) -> Result<tandem_core::accounts::Credentials, ApiError> {
    let mut c = current;
    if let Some(email) = email {
        if email
            .as_deref()
            .is_some_and(|e| !e.contains('@') || e.len() > 254)
        {
            return Err(bad_request("email is not an email address"));
        }
        c.email = email;
    }
    if let Some(password) = password {
        if password.chars().count() < crate::config::MIN_PASSWORD_LEN || password.len() > 1024 {
            return Err(bad_request(format!(
                "password must be {} to 1024 characters",
                crate::config::MIN_PASSWORD_LEN
            )));
        }
        let hash =
            tokio::task::spawn_blocking(move || tandem_core::accounts::hash_password(&password))
                .await
                .map_err(|e| {
                    ApiError(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
                })?
                .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "internal", e))?;
        c.password_hash = Some(hash);
    }
    if let Some(disabled) = disabled {
        c.disabled = disabled;
    }
    Ok(c)
}

/// The JSON view of agent `a` with its account.
async fn agent_json(
    st: &AdminState,
    a: &tandem_core::store::AgentRecord,
) -> Result<serde_json::Value, ApiError> {
    let c = st.core.credentials(&a.profile.id).await?;
    Ok(views::agent(a, &c))
}

fn agent_status(s: &str) -> Result<AgentStatus, ApiError> {
    AgentStatus::parse(s).ok_or_else(|| bad_request("status must be \"available\" or \"away\""))
}

fn check_agent(p: &AgentProfile) -> Result<(), ApiError> {
    let bad_text = |s: &str| s.trim().is_empty() || s.len() > MAX_AGENT_FIELD;
    if bad_text(&p.id) {
        return Err(bad_request("agent id must be 1 to 200 characters"));
    }
    if p.name.as_deref().is_some_and(bad_text) {
        return Err(bad_request("name must be 1 to 200 characters"));
    }
    if p.skills.iter().any(|s| bad_text(s)) || p.skills.len() > 100 {
        return Err(bad_request(
            "skills must be at most 100 queue names of 1 to 200 characters",
        ));
    }
    if p.capacity > MAX_CAPACITY {
        return Err(bad_request(format!("capacity must be 0 to {MAX_CAPACITY}")));
    }
    Ok(())
}

async fn list_agents(State(st): State<AdminState>) -> Result<Response, ApiError> {
    let agents = st.core.store().agents().await?;
    let mut out = Vec::new();
    for a in &agents {
        out.push(agent_json(&st, a).await?);
    }
    Ok(Json(out).into_response())
}

async fn get_agent(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let agent = st
        .core
        .store()
        .agent(&id)
        .await?
        .ok_or_else(|| not_found("agent"))?;
    Ok(Json(agent_json(&st, &agent).await?).into_response())
}

async fn put_agent(
    State(st): State<AdminState>,
    Path(id): Path<String>,
    body: Result<Json<AgentPut>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| bad_request(e.body_text()))?;
    let mut profile = AgentProfile {
        id,
        name: body.name,
        skills: body.skills,
        capacity: body.capacity,
        status: body
            .status
            .as_deref()
            .map(agent_status)
            .transpose()?
            .unwrap_or_default(),
    };
    check_agent(&profile)?;
    let current = st.core.credentials(&profile.id).await?;
    let credentials = account_change(
        current,
        Some(body.email),
        body.password,
        Some(body.disabled.unwrap_or(false)),
    )
    .await?;
    if credentials.disabled {
        profile.status = AgentStatus::Away;
    }
    st.core.set_credentials(&profile.id, &credentials).await?;
    let agent = st.core.put_agent(&profile).await?;
    Ok(Json(views::agent(&agent, &credentials)).into_response())
}

async fn patch_agent(
    State(st): State<AdminState>,
    Path(id): Path<String>,
    body: Result<Json<AgentPatch>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(patch) = body.map_err(|e| bad_request(e.body_text()))?;
    let mut profile = st
        .core
        .store()
        .agent(&id)
        .await?
        .ok_or_else(|| not_found("agent"))?
        .profile;
    if let Some(name) = patch.name {
        profile.name = Some(name);
    }
    if let Some(skills) = patch.skills {
        profile.skills = skills;
    }
    if let Some(capacity) = patch.capacity {
        profile.capacity = capacity;
    }
    if let Some(status) = patch.status.as_deref() {
        profile.status = agent_status(status)?;
    }
    check_agent(&profile)?;
    let current = st.core.credentials(&id).await?;
    let credentials = account_change(current, patch.email, patch.password, patch.disabled).await?;
    if credentials.disabled {
        // A disabled agent takes no new handoffs either.
        profile.status = AgentStatus::Away;
    }
    st.core.set_credentials(&id, &credentials).await?;
    let agent = st.core.put_agent(&profile).await?;
    Ok(Json(views::agent(&agent, &credentials)).into_response())
}

async fn delete_agent(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let removed = st
        .core
        .remove_agent(&id)
        .await?
        .ok_or_else(|| not_found("agent"))?;
    // No account without an agent: its sign-in ends with it.
    let mut credentials = st.core.credentials(&id).await?;
    credentials.disabled = true;
    credentials.password_hash = None;
    st.core.set_credentials(&id, &credentials).await?;
    Ok(Json(views::agent(&removed, &credentials)).into_response())
}

async fn issue_sign_in_link(
    State(st): State<AdminState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let base = match &st.public_url {
        Some(u) => (**u).clone(),
        None => headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| url::Url::parse(&format!("http://{h}")).ok())
            .ok_or_else(|| bad_request("set [server].public_url to issue sign-in links"))?,
    };
    let (token, expires) = st
        .core
        .issue_sign_in_link(&id, tandem_core::accounts::SIGN_IN_LINK_TTL)
        .await?
        .ok_or_else(|| not_found("agent"))?;
    let mut url = base;
    url.set_path("/console/login");
    url.set_fragment(Some(&format!("link={token}")));
    let expires_at = expires
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    tracing::info!(agent.id = %id, "Issued a console sign-in link (admin API).");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"url": url.as_str(), "expires_at": expires_at})),
    )
        .into_response())
}

async fn list_queue(State(st): State<AdminState>) -> Result<Response, ApiError> {
    let waiting = st.core.store().queued_handoffs().await?;
    Ok(Json(waiting.iter().map(views::queued).collect::<Vec<_>>()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_operation_has_a_handler() {
        for (method, path, id, _) in ROUTES {
            if *id == "getOpenApi" {
                continue;
            }
            assert!(
                handler(method, id).is_some(),
                "no handler for {method} {path} ({id})"
            );
        }
        assert!(handler("get", "noSuchOperation").is_none());
        assert!(handler("not a method", "getCustomer").is_none());
    }
}

/// `POST /api/v1/messages`: a message the business sends on its own initiative.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessagePost {
    /// The customer's id; or `identity` (`<channel>:<external id>`).
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    identity: Option<String>,
    text: String,
    #[serde(default)]
    template: Option<tandem_model::TemplateMessage>,
    #[serde(default)]
    channels: Vec<String>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// Longest text accepted, in characters (the outbox splits it per channel).
const MESSAGE_TEXT_MAX: usize = 4096;

async fn send_message(
    State(st): State<AdminState>,
    headers: axum::http::HeaderMap,
    body: Result<Json<MessagePost>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(post) = body.map_err(|e| bad_request(e.body_text()))?;
    let text = post.text.trim();
    if text.is_empty() || text.chars().count() > MESSAGE_TEXT_MAX {
        return Err(bad_request(format!(
            "text must be 1 to {MESSAGE_TEXT_MAX} characters"
        )));
    }
    let header_key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| bad_request("Idempotency-Key must be visible ASCII"))
        })
        .transpose()?;
    let key = match (post.idempotency_key, header_key) {
        (Some(a), Some(b)) if a != b => {
            return Err(bad_request(
                "idempotency_key and the Idempotency-Key header differ",
            ));
        }
        (a, b) => a.or(b),
    };
    if key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 200) {
        return Err(bad_request("idempotency key must be 1 to 200 characters"));
    }
    let store = st.core.store();
    let customer = match (post.customer_id, post.identity) {
        (Some(id), None) => existing_customer(store, &CustomerId::new(id)).await?.id,
        (None, Some(identity)) => {
            let (channel, subject) = identity
                .split_once(':')
                .filter(|(c, s)| !c.is_empty() && !s.is_empty())
                .ok_or_else(|| bad_request("identity must be <channel>:<external id>"))?;
            store
                .customer_by_identity(&ChannelId::new(channel), subject)
                .await?
                .ok_or_else(|| not_found("customer"))?
                .id
        }
        _ => {
            return Err(bad_request(
                "give exactly one of customer_id or identity=<channel>:<external id>",
            ));
        }
    };
    let message = tandem_core::messages::ProactiveMessage {
        customer,
        text: text.to_owned(),
        template: post.template,
        channels: post.channels.into_iter().map(ChannelId::new).collect(),
        idempotency_key: key,
    };
    let outcome = st
        .core
        .send_proactive(message)
        .await?
        .ok_or_else(|| not_found("customer"))?;
    let status = match outcome {
        tandem_core::messages::ProactiveOutcome::Queued { .. } => StatusCode::ACCEPTED,
        tandem_core::messages::ProactiveOutcome::Undeliverable { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    Ok((status, Json(outcome)).into_response())
}
