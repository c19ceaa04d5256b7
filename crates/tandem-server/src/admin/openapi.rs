//! The OpenAPI 3.1 document of the admin API, served at `GET /api/v1/openapi.json`.
//! [`ROUTES`] lists every admin route once; the document is built from it, and a test
//! checks that every route the router serves is in it.

use serde_json::{Value, json};

/// Every admin route: (method, OpenAPI path, operation id, summary).
pub const ROUTES: &[(&str, &str, &str, &str)] = &[
    (
        "post",
        "/api/v1/messages",
        "sendMessage",
        "Send a message to a customer on the first channel of their preferred order whose window allows it (template fallback where the window is closed); 202 queued, 422 undeliverable; an idempotency key (body or Idempotency-Key header) makes repeats harmless",
    ),
    (
        "post",
        "/api/v1/customers/{id}/merge",
        "mergeCustomer",
        "Merge the customer {\"from\": id} into this one (audited; undo with unmerge)",
    ),
    (
        "post",
        "/api/v1/merges/{merge_id}/unmerge",
        "unmergeCustomers",
        "Undo a merge: identities and conversations back as before (audited)",
    ),
    (
        "get",
        "/api/v1/customers/{id}/identities",
        "listIdentities",
        "The customer's identities with verified facts and source",
    ),
    (
        "post",
        "/api/v1/customers/{id}/identities",
        "linkIdentity",
        "Link an admin-verified identity (e.g. channel crm) with optional verified email/phone",
    ),
    (
        "delete",
        "/api/v1/customers/{id}/identities/{channel}/{external_id}",
        "unlinkIdentity",
        "Unlink an identity into a new customer (audited)",
    ),
    (
        "get",
        "/api/v1/customers/{id}/audit",
        "identityAudit",
        "Merges, unmerges, links, unlinks, erasures and suggested links of the customer",
    ),
    (
        "get",
        "/api/v1/openapi.json",
        "getOpenApi",
        "This document (no token needed)",
    ),
    (
        "get",
        "/api/v1/customers",
        "findCustomers",
        "Customers matching an identity (identity=<channel>:<external id>) or a verified email",
    ),
    (
        "get",
        "/api/v1/customers/{id}",
        "getCustomer",
        "A customer with all linked identities",
    ),
    (
        "patch",
        "/api/v1/customers/{id}",
        "updateCustomer",
        "Update display name, segment and attributes (null removes an attribute; segment null clears it)",
    ),
    (
        "get",
        "/api/v1/customers/{id}/export",
        "exportCustomer",
        "GDPR export: everything stored about the customer (profile, identities, conversations with state and transcript, escalations, events, audit)",
    ),
    (
        "delete",
        "/api/v1/customers/{id}",
        "eraseCustomer",
        "GDPR erase: remove the customer's personal data everywhere (profile, identities, transcripts, desk references); ids and counts stay",
    ),
    (
        "get",
        "/api/v1/customers/{id}/conversations",
        "listCustomerConversations",
        "The customer's conversations, newest first",
    ),
    (
        "get",
        "/api/v1/customers/{id}/events",
        "listCustomerEvents",
        "Business events recorded for the customer",
    ),
    (
        "post",
        "/api/v1/customers/{id}/events",
        "postCustomerEvent",
        "Record a business event (e.g. payment_failed); idempotent on its id",
    ),
    (
        "get",
        "/api/v1/conversations/{id}",
        "getConversation",
        "A conversation: owner, routing state, open and past handoffs with CSAT",
    ),
    (
        "post",
        "/api/v1/conversations/{id}/release",
        "releaseExternal",
        "Give a conversation someone answers outside Tandem (owner external: the Messenger Page Inbox, the WhatsApp Business app) back to the bot now, instead of after [handoff].external_release_after_secs of their silence",
    ),
    (
        "get",
        "/api/v1/drafts",
        "listDrafts",
        "Draft-only mode: the drafts waiting for an agent's decision, oldest first",
    ),
    (
        "post",
        "/api/v1/conversations/{id}/drafts/{draft_id}",
        "decideDraft",
        "Approve, edit or reject a draft, once: an approved or edited text goes to the customer, a rejected one never; the decision and the agent are recorded in the conversation's draft_log",
    ),
    (
        "get",
        "/api/v1/conversations/{id}/transcript",
        "getTranscript",
        "The newest transcript entries, oldest first, across channels",
    ),
    (
        "get",
        "/api/v1/conversations/{id}/escalations",
        "listEscalations",
        "Escalation decisions with every trigger and its evidence",
    ),
    (
        "get",
        "/api/v1/conversations/{id}/ai-audit",
        "listAiAudit",
        "The AI decisions of the conversation, oldest first (the newest `limit`, default 200): per customer message its sentiment, intent and the bot's answer, per handoff its briefing summary; who decided (bot or provider, model), intent and confidence, sentiment, the request sent to an AI backend and its answer (or only their SHA-256 with [ai] store_prompts = false), latency, fallback",
    ),
    (
        "get",
        "/api/v1/policy",
        "getPolicy",
        "The escalation policy in force: version (content hash) and file",
    ),
    (
        "post",
        "/api/v1/customers/{id}/link-codes",
        "issueLinkCode",
        "A single-use code (valid [admin].link_code_ttl_secs, default 10 minutes) the customer sends on another channel to continue there (as a text, e.g. through the wa.me link, or Telegram's /start <code>); with deep links from [admin].link_urls",
    ),
    (
        "post",
        "/api/v1/policy/reload",
        "reloadPolicy",
        "Reload the policy file; an invalid file is refused with its errors and the policy in force stays",
    ),
    (
        "get",
        "/api/v1/policy/audit",
        "policyAudit",
        "Every reload attempt: when, who, result, versions, errors",
    ),
    (
        "get",
        "/api/v1/agents",
        "listAgents",
        "Agents with skills (the queues they serve), capacity, status and the handoffs they hold",
    ),
    (
        "get",
        "/api/v1/agents/{id}",
        "getAgent",
        "One agent (the id is the agent's id at the desk)",
    ),
    (
        "put",
        "/api/v1/agents/{id}",
        "putAgent",
        "Create or replace an agent's profile; waiting handoffs go to new capacity",
    ),
    (
        "patch",
        "/api/v1/agents/{id}",
        "updateAgent",
        "Change some of an agent's fields, e.g. {\"status\": \"away\"}",
    ),
    (
        "delete",
        "/api/v1/agents/{id}",
        "deleteAgent",
        "Remove an agent; handoffs assigned but not accepted go back to their queue",
    ),
    (
        "post",
        "/api/v1/agents/{id}/sign-in-link",
        "issueSignInLink",
        "A one-time link that signs the agent in to the console (valid 24 h, works once)",
    ),
    (
        "get",
        "/api/v1/queues",
        "listQueue",
        "Handoffs waiting for an agent, in the order they will be assigned (priority, then age)",
    ),
    (
        "get",
        "/api/v1/metrics/escalation",
        "escalationMetrics",
        "Escalation health of a period, computed from the store (the numbers of /console/metrics): conversations, escalation rate against the healthy 5-10 % band, time to first human reply, resolution within 48 h, CSAT after a handoff and bot only, override rate; overall, per UTC day, and by category, queue, channel or priority",
    ),
];

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok_response(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn array_of(name: &str) -> Value {
    json!({"type": "array", "items": reference(name)})
}

fn json_body(schema: &str) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": reference(schema)}}})
}

/// The names of a path's template parameters (`{id}` → `id`), in order.
pub(crate) fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// The success status and body schema of an operation.
fn success(id: &str) -> (&'static str, Value) {
    match id {
        "getOpenApi" => ("200", json!({"type": "object"})),
        "findCustomers" => ("200", array_of("Customer")),
        "getCustomer" | "updateCustomer" => ("200", reference("Customer")),
        "listCustomerConversations" => ("200", array_of("ConversationSummary")),
        "listCustomerEvents" => ("200", array_of("CustomerEvent")),
        "postCustomerEvent" => (
            "202",
            json!({"type": "object", "required": ["id", "duplicate", "escalated"], "properties": {
                "id": {"type": "string"}, "duplicate": {"type": "boolean"},
                "escalated": {"type": "boolean"}, "category": {"type": ["string", "null"]},
                "target": {"type": ["string", "null"]}, "priority": {"type": ["string", "null"]}}}),
        ),
        "getConversation" | "releaseExternal" | "decideDraft" => ("200", reference("Conversation")),
        "listDrafts" => ("200", array_of("Draft")),
        "getTranscript" => ("200", array_of("TranscriptEntry")),
        "listEscalations" => ("200", array_of("Escalation")),
        "listAiAudit" => ("200", reference("AiAuditList")),
        "issueLinkCode" => ("201", reference("LinkCode")),
        "exportCustomer" => ("200", reference("CustomerExport")),
        "eraseCustomer" => ("200", reference("Erasure")),
        "mergeCustomer" | "unmergeCustomers" => ("200", reference("Merge")),
        "listIdentities" => ("200", array_of("IdentityDetail")),
        "linkIdentity" => ("201", reference("IdentityDetail")),
        // The identity moved into a new customer: that customer.
        "unlinkIdentity" => ("200", reference("Customer")),
        "identityAudit" => ("200", reference("IdentityAudit")),
        "getPolicy" => (
            "200",
            json!({"type": "object", "properties": {"version": {"type": "string"}, "path": {"type": ["string", "null"]}}}),
        ),
        "reloadPolicy" => (
            "200",
            json!({"type": "object", "properties": {"version": {"type": "string"}, "previous": {"type": "string"}}}),
        ),
        "policyAudit" => ("200", json!({"type": "array", "items": {"type": "object"}})),
        "listAgents" => ("200", array_of("Agent")),
        "getAgent" | "putAgent" | "updateAgent" | "deleteAgent" => ("200", reference("Agent")),
        "listQueue" => ("200", array_of("QueuedHandoff")),
        "issueSignInLink" => ("201", reference("SignInLink")),
        "sendMessage" => ("202", reference("MessageQueued")),
        "escalationMetrics" => ("200", reference("EscalationHealth")),
        // Every operation in ROUTES has its own arm (a unit test checks it); an unknown
        // one is documented as returning some JSON.
        _ => ("200", json!({})),
    }
}

fn operation(path: &str, id: &str, summary: &str) -> Value {
    let mut op = json!({"operationId": id, "summary": summary});
    let mut responses = serde_json::Map::new();
    let (status, ok) = success(id);
    let description = match status {
        "201" => "Created",
        "202" => "Accepted",
        _ => "OK",
    };
    responses.insert(status.into(), ok_response(description, ok));
    if id != "getOpenApi" {
        responses.insert(
            "401".into(),
            error_response("Missing or invalid bearer token"),
        );
        responses.insert("503".into(), error_response("Store unavailable"));
        op["security"] = json!([{"bearer": []}]);
    }
    let mut parameters: Vec<Value> = path_parameters(path)
        .into_iter()
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    if !parameters.is_empty() {
        responses.insert("404".into(), error_response("Not found"));
    }
    match id {
        "findCustomers" => {
            responses.insert(
                "400".into(),
                error_response("Neither or both of identity and email"),
            );
            parameters.push(json!({"name": "identity", "in": "query", "schema": {"type": "string"}, "description": "<channel>:<external id>, e.g. whatsapp:15551234567"}));
            parameters.push(json!({"name": "email", "in": "query", "schema": {"type": "string", "format": "email"}}));
        }
        "updateCustomer" => {
            responses.insert("400".into(), error_response("Invalid body"));
            op["requestBody"] = json_body("CustomerPatch");
        }
        "postCustomerEvent" => {
            responses.insert("400".into(), error_response("Invalid body"));
            op["requestBody"] = json_body("CustomerEventPost");
        }
        "mergeCustomer" => {
            responses.insert("400".into(), error_response("Invalid body"));
            responses.insert(
                "409".into(),
                error_response("The same customer, or one already merged away"),
            );
            op["requestBody"] = json_body("MergePost");
        }
        "unmergeCustomers" => {
            responses.insert("409".into(), error_response("Already undone"));
        }
        "linkIdentity" => {
            responses.insert("400".into(), error_response("Invalid body"));
            responses.insert(
                "409".into(),
                error_response("The identity belongs to another customer"),
            );
            op["requestBody"] = json_body("IdentityPost");
        }
        "issueLinkCode" => {
            responses.insert(
                "409".into(),
                error_response("The customer holds the maximum number of active codes"),
            );
        }
        "putAgent" => {
            responses.insert("400".into(), error_response("Invalid body"));
            op["requestBody"] = json_body("AgentPut");
        }
        "updateAgent" => {
            responses.insert("400".into(), error_response("Invalid body"));
            op["requestBody"] = json_body("AgentPatch");
        }
        "releaseExternal" => {
            responses.insert(
                "409".into(),
                error_response("The conversation is not held by a person outside Tandem"),
            );
        }
        "decideDraft" => {
            responses.insert(
                "400".into(),
                error_response("Invalid body, or an edit without text"),
            );
            responses.insert(
                "403".into(),
                error_response("A suggestion in a handoff another agent owns"),
            );
            responses.insert(
                "409".into(),
                error_response(
                    "Already decided, or withdrawn (the conversation moved on; nothing was sent)",
                ),
            );
            op["requestBody"] = json_body("DraftDecisionPost");
        }
        "reloadPolicy" => {
            responses.insert(
                "422".into(),
                error_response("The file is invalid; the policy in force stays"),
            );
        }
        "sendMessage" => {
            responses.insert("400".into(), error_response("Invalid body"));
            responses.insert("404".into(), error_response("No such customer"));
            responses.insert(
                "422".into(),
                ok_response(
                    "Undeliverable: no channel of the order can take the message now; nothing was recorded",
                    reference("MessageUndeliverable"),
                ),
            );
            parameters.push(json!({"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 200}, "description": "Same as idempotency_key in the body"}));
            op["requestBody"] = json_body("MessagePost");
        }
        "listCustomerEvents" => {
            parameters.push(json!({"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}}));
        }
        "escalationMetrics" => {
            responses.insert(
                "400".into(),
                error_response(
                    "Unknown period or breakdown, from not before to, or more than 92 days",
                ),
            );
            parameters.push(json!({"name": "period", "in": "query", "schema": {"type": "string", "enum": ["24h", "7d", "30d"], "default": "7d"}, "description": "A preset period ending now (ignored when from or to is given)"}));
            parameters.push(json!({"name": "from", "in": "query", "schema": {"type": "string"}, "description": "Start: RFC 3339 time, or YYYY-MM-DD (midnight UTC); default to minus 7 days"}));
            parameters.push(json!({"name": "to", "in": "query", "schema": {"type": "string"}, "description": "End: RFC 3339 time, or YYYY-MM-DD (that day included); default now"}));
            parameters.push(json!({"name": "by", "in": "query", "schema": {"type": "string", "enum": ["category", "queue", "channel", "priority"]}, "description": "Breakdown"}));
        }
        "getTranscript" | "listAiAudit" => {
            parameters.push(json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}));
        }
        _ => {}
    }
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    op["responses"] = Value::Object(responses);
    op
}

/// The document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, id, summary) in ROUTES {
        let entry = paths.entry((*path).to_owned()).or_insert_with(|| json!({}));
        entry[*method] = operation(path, id, summary);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tandem admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Customers, identities, business events, conversations, transcripts and escalation decisions. Every route but this document needs `Authorization: Bearer <token>` with a token from [admin].tokens."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas(),
        }
    })
}

fn schemas() -> Value {
    let mut all = general_schemas();
    for more in [
        identity_schemas(),
        message_schemas(),
        health_schemas(),
        draft_schemas(),
        ai_audit_schemas(),
    ] {
        if let (Some(all), Value::Object(more)) = (all.as_object_mut(), more) {
            all.extend(more);
        }
    }
    all
}

/// The escalation health report.
/// The AI audit records of a conversation.
fn ai_audit_schemas() -> Value {
    json!({
        "AiAuditList": {"type": "object", "required": ["records"], "properties": {
            "records": {"type": "array", "items": {"$ref": "#/components/schemas/AiAuditRecord"}}}},
        "AiAuditRecord": {"type": "object", "required": ["id", "conversation_id", "message_seq", "at", "kind", "fallback", "fell_back", "latency_ms"], "properties": {
            "id": {"type": "string"}, "conversation_id": {"type": "string"},
            "message_seq": {"type": "integer", "description": "Transcript seq of the message decided about (for a briefing: the one that caused the handoff)"},
            "at": {"type": "string", "format": "date-time"},
            "kind": {"type": "string", "enum": ["bot_answer", "intent", "sentiment", "briefing_summary"]},
            "provider": {"type": ["string", "null"], "description": "Who decided: bot kind (knowledge, llm, rasa, http), provider (builtin, openai) or a custom name"},
            "bot": {"type": "string", "description": "bot_answer only: the bot (same as provider)"},
            "summarizer": {"type": "string", "description": "briefing_summary only: the summarizer (same as provider)"},
            "model": {"type": ["string", "null"]},
            "intent": {"type": ["string", "null"]}, "confidence": {"type": ["number", "null"]},
            "sentiment": {"type": ["number", "null"], "description": "Compound score in [-1, 1]"},
            "sentiment_label": {"type": ["string", "null"], "description": "positive, neutral or negative; a briefing's trend may also be worsening"},
            "fallback": {"type": "boolean", "description": "The bot did not know and sent its fallback reply"},
            "fell_back": {"type": "boolean", "description": "The AI backend failed or answered something unusable; a built-in stand-in decided"},
            "error": {"type": ["string", "null"], "description": "Why the backend was not used: timeout, connect, status <code>, unusable answer"},
            "request": {"type": ["string", "null"], "description": "What was sent to the AI backend (store_prompts = true)"},
            "response": {"type": ["string", "null"], "description": "What the backend answered (store_prompts = true)"},
            "request_sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$", "description": "SHA-256 of the request (store_prompts = false)"},
            "response_sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$", "description": "SHA-256 of the response (store_prompts = false)"},
            "latency_ms": {"type": "integer", "description": "How long the turn waited for this decision"}}}
    })
}

fn health_schemas() -> Value {
    let rate = json!({"type": ["number", "null"], "minimum": 0});
    let ms = json!({"type": ["integer", "null"], "minimum": 0});
    json!({
        "Durations": {"type": "object", "required": ["count", "median_ms", "p90_ms"], "properties": {
            "count": {"type": "integer"}, "median_ms": ms, "p90_ms": ms}},
        "CsatFigures": {"type": "object", "required": ["answers", "mean", "satisfied_share"], "properties": {
            "answers": {"type": "integer"}, "mean": {"type": ["number", "null"], "minimum": 1, "maximum": 5},
            "satisfied_share": rate}},
        "HealthFigures": {"type": "object", "required": ["conversations", "handoffs", "escalation_rate", "first_human_reply", "resolution_rate_48h", "override_rate", "csat_handoff", "csat_bot"], "properties": {
            "conversations": {"type": "integer", "description": "Conversations opened in the period with a customer message (for a category, queue or priority group: all of them)"},
            "handoffs": {"type": "integer"}, "escalation_rate": rate,
            "first_human_reply": {"$ref": "#/components/schemas/Durations"},
            "handoffs_without_reply": {"type": "integer"}, "resolved": {"type": "integer"},
            "resolution_checked": {"type": "integer", "description": "Resolved handoffs whose 48 hours are over"},
            "resolved_within_48h": {"type": "integer"}, "resolution_rate_48h": rate,
            "closed_handoffs": {"type": "integer"}, "overrides": {"type": "integer", "description": "Handoffs returned to the bot without any agent message"},
            "override_rate": rate,
            "csat_handoff": {"$ref": "#/components/schemas/CsatFigures"},
            "csat_bot": {"$ref": "#/components/schemas/CsatFigures"}}},
        "EscalationHealth": {"type": "object", "required": ["from", "to", "healthy_band", "overall", "groups", "daily", "truncated"], "properties": {
            "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"},
            "healthy_band": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
            "overall": {"$ref": "#/components/schemas/HealthFigures"},
            "by": {"type": "string", "enum": ["category", "queue", "channel", "priority"]},
            "groups": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/HealthFigures"}, {"type": "object", "required": ["key"], "properties": {"key": {"type": "string"}}}]}},
            "daily": {"type": "array", "items": {"type": "object", "required": ["day", "conversations", "handoffs", "escalation_rate"], "properties": {
                "day": {"type": "string", "format": "date"}, "conversations": {"type": "integer"}, "handoffs": {"type": "integer"}, "escalation_rate": rate}}},
            "truncated": {"type": "boolean", "description": "The period has more conversations than one report reads (20000); the figures cover those read"}}}
    })
}

/// The proactive message API.
fn message_schemas() -> Value {
    json!({
        "MessagePost": {"type": "object", "required": ["text"], "additionalProperties": false, "properties": {
            "customer_id": {"type": "string"}, "identity": {"type": "string", "description": "<channel>:<external id>, instead of customer_id"},
            "text": {"type": "string", "minLength": 1, "maxLength": 4096},
            "template": {"type": "object", "required": ["name", "language"], "properties": {"name": {"type": "string"}, "language": {"type": "string"}, "params": {"type": "array", "items": {"type": "string"}}}, "description": "Approved template sent where the window is closed (WhatsApp); else the channel's configured template"},
            "channels": {"type": "array", "items": {"type": "string"}, "description": "Preferred order; default: the customer's channels, most recently used first"},
            "idempotency_key": {"type": "string", "maxLength": 200, "description": "Scoped to the customer: a repeat answers the same and sends nothing"}}},
        "MessageSkipped": {"type": "object", "required": ["channel", "reason"], "properties": {
            "channel": {"type": "string"}, "reason": {"enum": ["no_identity", "channel_unavailable", "window_closed"]}}},
        "MessageQueued": {"type": "object", "required": ["status", "channel", "via", "conversation_id", "message_id", "skipped"], "properties": {
            "status": {"const": "queued"}, "channel": {"type": "string"}, "via": {"enum": ["text", "template"]},
            "conversation_id": {"type": "string"}, "message_id": {"type": "string"},
            "skipped": {"type": "array", "items": {"$ref": "#/components/schemas/MessageSkipped"}}}},
        "MessageUndeliverable": {"type": "object", "required": ["status", "skipped"], "properties": {
            "status": {"const": "undeliverable"},
            "skipped": {"type": "array", "items": {"$ref": "#/components/schemas/MessageSkipped"}}}}
    })
}

/// Draft-only mode: drafts, decided drafts, a decision.
fn draft_schemas() -> Value {
    json!({
        "Draft": {"type": "object", "required": ["conversation_id", "draft_id", "source", "text", "channel", "created_at"], "properties": {
            "conversation_id": {"type": "string"}, "draft_id": {"type": "string"},
            "source": {"enum": ["bot", "suggestion"]}, "text": {"type": "string"},
            "buttons": {"type": "array", "items": {"type": "object"}},
            "question": {"type": ["string", "null"]}, "intent": {"type": ["string", "null"]},
            "confidence": {"type": ["number", "null"]}, "category": {"type": ["string", "null"]},
            "queue": {"type": ["string", "null"]}, "handoff_id": {"type": ["string", "null"]},
            "channel": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}}},
        "DraftRecord": {"type": "object", "required": ["draft_id", "source", "outcome", "original"], "properties": {
            "draft_id": {"type": "string"}, "source": {"enum": ["bot", "suggestion"]},
            "outcome": {"enum": ["approved", "edited", "rejected", "withdrawn"]},
            "original": {"type": "string"}, "final_text": {"type": ["string", "null"]},
            "agent": {"oneOf": [{"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "name": {"type": ["string", "null"]}}}, {"type": "null"}]},
            "created_at": {"type": ["string", "null"], "format": "date-time"},
            "decided_at": {"type": ["string", "null"], "format": "date-time"}}},
        "DraftDecisionPost": {"type": "object", "required": ["decision", "agent"], "additionalProperties": false, "properties": {
            "decision": {"enum": ["approve", "edit", "reject"]},
            "text": {"type": "string", "description": "The text sent instead (edit only)"},
            "agent": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "name": {"type": "string"}}, "description": "Who decides (recorded as the approver)"}}}
    })
}

/// Customers, conversations, transcripts, escalations.
fn general_schemas() -> Value {
    json!({
        "Error": {"type": "object", "required": ["error", "message"], "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
        "Identity": {"type": "object", "required": ["channel", "external_id", "verified"], "properties": {
            "channel": {"type": "string"}, "external_id": {"type": "string"}, "verified": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"}}},
        "Customer": {"type": "object", "required": ["id", "attributes", "identities", "created_at"], "properties": {
            "id": {"type": "string"}, "display_name": {"type": ["string", "null"]}, "segment": {"type": ["string", "null"]},
            "attributes": {"type": "object"}, "created_at": {"type": "string", "format": "date-time"},
            "identities": {"type": "array", "items": {"$ref": "#/components/schemas/Identity"}}}},
        "CustomerPatch": {"type": "object", "additionalProperties": false, "properties": {
            "display_name": {"type": "string"}, "segment": {"type": ["string", "null"]},
            "attributes": {"type": "object", "description": "Merged into the existing attributes; null removes a key"}}},
        "CustomerEventPost": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
            "name": {"type": "string", "examples": ["payment_failed"]}, "id": {"type": "string", "description": "Idempotency key"},
            "at": {"type": "string", "format": "date-time"}, "data": {}}},
        "CustomerEvent": {"type": "object", "required": ["id", "name", "at"], "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "at": {"type": "string", "format": "date-time"}, "data": {}}},
        "ConversationSummary": {"type": "object", "required": ["id", "channel", "status", "owner"], "properties": {
            "id": {"type": "string"}, "channel": {"type": "string"}, "status": {"enum": ["open", "closed"]},
            "owner": {"enum": ["bot", "queue", "agent", "external"]}, "opened_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"}}},
        "Handoff": {"type": "object", "required": ["id", "desk", "status"], "properties": {
            "id": {"type": "string"}, "desk": {"type": "string"},
            "status": {"enum": ["requested", "queued", "accepted", "resolved", "released", "timed_out"]},
            "category": {"type": ["string", "null"]}, "priority": {"type": ["string", "null"]}, "target": {"type": ["string", "null"]},
            "agent": {"type": ["object", "null"]}, "transitions": {"type": "array", "items": {"type": "object"}},
            "csat": {"type": ["object", "null"], "properties": {"score": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
                "comment": {"type": ["string", "null"]}, "skipped": {"type": ["string", "null"]}}}}},
        "Conversation": {"type": "object", "required": ["id", "customer_id", "channel", "status", "owner", "state"], "properties": {
            "id": {"type": "string"}, "customer_id": {"type": "string"}, "channel": {"type": "string"},
            "status": {"enum": ["open", "closed"]}, "owner": {"enum": ["bot", "queue", "agent", "external"]},
            "opened_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
            "messages": {"type": "integer"}, "state": {"type": "object"},
            "handoff": {"oneOf": [{"$ref": "#/components/schemas/Handoff"}, {"type": "null"}]},
            "past_handoffs": {"type": "array", "items": {"$ref": "#/components/schemas/Handoff"}},
            "drafts": {"type": "array", "items": {"$ref": "#/components/schemas/Draft"}},
            "draft_log": {"type": "array", "items": {"$ref": "#/components/schemas/DraftRecord"}}}},
        "TranscriptEntry": {"type": "object", "required": ["id", "seq", "from", "channel", "at", "content"], "properties": {
            "id": {"type": "string"}, "seq": {"type": "integer"}, "from": {"enum": ["customer", "bot", "agent", "system"]},
            "channel": {"type": "string"}, "at": {"type": "string", "format": "date-time"}, "content": {"type": "object"},
            "buttons": {"type": "array"}}},
        "CustomerExport": {"type": "object", "required": ["customer", "identities", "conversations", "events", "audit", "suggested_links"], "properties": {
            "customer": {"$ref": "#/components/schemas/Customer"},
            "identities": {"type": "array", "items": {"$ref": "#/components/schemas/IdentityDetail"}},
            "reachability": {"type": "array", "items": {"type": "object"}},
            "conversations": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/Conversation"}, {"type": "object", "properties": {
                "transcript": {"type": "array", "items": {"$ref": "#/components/schemas/TranscriptEntry"}},
                "escalations": {"type": "array", "items": {"$ref": "#/components/schemas/Escalation"}},
                "ai_audit": {"type": "array", "items": {"$ref": "#/components/schemas/AiAuditRecord"}}}}]}},
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/CustomerEvent"}},
            "audit": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}},
            "suggested_links": {"type": "array", "items": {"$ref": "#/components/schemas/SuggestedLink"}},
            "exported_at": {"type": "string", "format": "date-time"}}},
        "Erasure": {"type": "object", "required": ["customer_id", "erased"], "properties": {
            "customer_id": {"type": "string"},
            "erased": {"type": "object", "required": ["identities", "conversations", "transcript_entries", "events"], "properties": {
                "identities": {"type": "integer"}, "conversations": {"type": "integer"},
                "transcript_entries": {"type": "integer"}, "events": {"type": "integer"},
                "ai_audit_records": {"type": "integer"}}},
            "erased_at": {"type": "string", "format": "date-time"}}},
        "Agent": {"type": "object", "required": ["id", "skills", "capacity", "status", "active", "load", "updated_at", "disabled", "has_password"], "properties": {
            "id": {"type": "string"}, "name": {"type": ["string", "null"]},
            "email": {"type": ["string", "null"], "format": "email"},
            "disabled": {"type": "boolean", "description": "A disabled account can't sign in to the console; its sessions end"},
            "has_password": {"type": "boolean", "description": "Whether a console password is set (the hash is never shown)"},
            "skills": {"type": "array", "items": {"type": "string"}},
            "capacity": {"type": "integer", "minimum": 0}, "status": {"enum": ["available", "away"]},
            "active": {"type": "array", "items": {"type": "string"}, "description": "Ids of the handoffs the agent holds"},
            "load": {"type": "integer", "minimum": 0}, "updated_at": {"type": "string", "format": "date-time"}}},
        "AgentPut": {"type": "object", "required": ["skills", "capacity"], "additionalProperties": false, "properties": {
            "name": {"type": "string"}, "skills": {"type": "array", "items": {"type": "string"}},
            "capacity": {"type": "integer", "minimum": 0, "maximum": 1000}, "status": {"enum": ["available", "away"]},
            "email": {"type": ["string", "null"], "format": "email"},
            "password": {"type": "string", "minLength": 8, "description": "Console password; stored as an argon2 hash. Absent keeps the current one"},
            "disabled": {"type": "boolean"}}},
        "AgentPatch": {"type": "object", "additionalProperties": false, "properties": {
            "name": {"type": "string"}, "skills": {"type": "array", "items": {"type": "string"}},
            "capacity": {"type": "integer", "minimum": 0, "maximum": 1000}, "status": {"enum": ["available", "away"]},
            "email": {"type": ["string", "null"], "format": "email"},
            "password": {"type": "string", "minLength": 8, "description": "Console password; stored as an argon2 hash"},
            "disabled": {"type": "boolean", "description": "true: no sign-in, sessions end, status away"}}},
        "SignInLink": {"type": "object", "required": ["url", "expires_at"], "properties": {
            "url": {"type": "string", "format": "uri", "description": "Give it to the agent privately: it signs in once"},
            "expires_at": {"type": "string", "format": "date-time"}}},
        "QueuedHandoff": {"type": "object", "required": ["handoff_id", "conversation_id", "queue", "priority", "queued_at"], "properties": {
            "handoff_id": {"type": "string"}, "conversation_id": {"type": "string"}, "queue": {"type": "string"},
            "priority": {"type": "string"}, "queued_at": {"type": "string", "format": "date-time"}}},
        "Escalation": {"type": "object", "required": ["id", "at", "escalate", "reasons"], "properties": {
            "id": {"type": "string"}, "at": {"type": "string", "format": "date-time"}, "message_seq": {"type": "integer"},
            "escalate": {"type": "boolean"}, "category": {"type": ["string", "null"]}, "priority": {"type": ["string", "null"]},
            "target": {"type": ["string", "null"]}, "policy_version": {"type": "string"},
            "reasons": {"type": "array", "items": {"type": "object", "required": ["code", "evidence"], "properties": {
                "code": {"type": "string"}, "category": {"type": ["string", "null"]}, "evidence": {"type": "string"}}}}}},
    })
}

/// The identity graph: identities, merges, audit, suggested links, link codes.
fn identity_schemas() -> Value {
    json!({
        "IdentityDetail": {"type": "object", "required": ["customer_id", "channel", "external_id", "verified", "source"], "properties": {
            "customer_id": {"type": "string"}, "channel": {"type": "string"}, "external_id": {"type": "string"},
            "verified": {"type": "boolean"}, "source": {"type": "string", "description": "platform, admin, link_code or unlink"},
            "verified_email": {"type": ["string", "null"]}, "verified_phone": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"}}},
        "IdentityPost": {"type": "object", "required": ["channel", "external_id"], "additionalProperties": false, "properties": {
            "channel": {"type": "string", "examples": ["crm"]}, "external_id": {"type": "string"},
            "email": {"type": "string", "format": "email", "description": "A verified email this identity carries"},
            "phone": {"type": "string", "description": "A verified phone number (6 to 15 digits)"}}},
        "MergePost": {"type": "object", "required": ["from"], "additionalProperties": false, "properties": {
            "from": {"type": "string", "description": "The customer merged into this one"}}},
        "VerifiedKey": {"type": "object", "required": ["kind", "value"], "properties": {
            "kind": {"enum": ["email", "phone"]}, "value": {"type": "string"}}},
        "Merge": {"type": "object", "required": ["id", "survivor", "merged", "trigger", "identities", "conversations", "at"], "properties": {
            "id": {"type": "string"}, "survivor": {"type": "string"}, "merged": {"type": "string"},
            "trigger": {"type": "object", "required": ["actor", "source"], "properties": {
                "actor": {"type": "string"}, "source": {"type": "string"},
                "key": {"oneOf": [{"$ref": "#/components/schemas/VerifiedKey"}, {"type": "null"}]}}},
            "identities": {"type": "array", "items": {"type": "object", "required": ["channel", "subject"], "properties": {
                "channel": {"type": "string"}, "subject": {"type": "string"}}}},
            "conversations": {"type": "array", "items": {"type": "string"}},
            "closed_conversation": {"type": ["string", "null"]},
            "events": {"type": "array", "items": {"type": "string"}},
            "at": {"type": "string", "format": "date-time"},
            "unmerged_at": {"type": ["string", "null"], "format": "date-time"}}},
        "AuditEntry": {"type": "object", "required": ["id", "kind", "customer_id", "actor", "at", "detail"], "properties": {
            "id": {"type": "string"}, "kind": {"enum": ["merge", "unmerge", "link", "unlink", "erase"]},
            "customer_id": {"type": "string"}, "other_customer_id": {"type": ["string", "null"]},
            "actor": {"type": "string"}, "at": {"type": "string", "format": "date-time"}, "detail": {}}},
        "SuggestedLink": {"type": "object", "required": ["customer_id", "other_customer_id", "key", "reason", "at"],
            "description": "Two customers a person should look at: one claimed (unverified) a key the other holds verified, or their merge was undone. Never merged automatically.",
            "properties": {
            "customer_id": {"type": "string", "description": "The customer the claim was seen on"},
            "other_customer_id": {"type": "string", "description": "The customer holding the key"},
            "key": {"$ref": "#/components/schemas/VerifiedKey"},
            "reason": {"enum": ["unverified_claim", "unmerged_before"]},
            "at": {"type": "string", "format": "date-time"}}},
        "IdentityAudit": {"type": "object", "required": ["entries", "suggested_links"], "properties": {
            "entries": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}},
            "suggested_links": {"type": "array", "items": {"$ref": "#/components/schemas/SuggestedLink"}}}},
        "LinkCode": {"type": "object", "required": ["code", "expires_at", "links"], "properties": {
            "code": {"type": "string", "examples": ["K7P3QX"]}, "expires_at": {"type": "string", "format": "date-time"},
            "links": {"type": "object", "additionalProperties": {"type": "string"},
                "description": "Deep links per channel from [admin].link_urls, e.g. whatsapp: https://wa.me/15551234567?text=K7P3QX"}}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_once() {
        let doc = document();
        let mut count = 0;
        for (method, path, id, _) in ROUTES {
            assert_eq!(
                doc["paths"][*path][*method]["operationId"], *id,
                "{method} {path}"
            );
            count += 1;
        }
        let documented: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(documented, count);
    }

    #[test]
    fn every_path_parameter_is_declared_and_every_operation_has_its_answer() {
        let doc = document();
        for (method, path, id, _) in ROUTES {
            let op = &doc["paths"][*path][*method];
            let declared: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| {
                            assert_eq!(p["required"], true, "{id}: path parameters are required");
                            p["name"].as_str().unwrap()
                        })
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(declared, path_parameters(path), "{method} {path}");
            assert_ne!(
                success(id).1,
                json!({}),
                "{id} has no documented answer of its own"
            );
            let ok = ["200", "201", "202"]
                .iter()
                .filter(|s| op["responses"].get(**s).is_some())
                .count();
            assert_eq!(ok, 1, "{id}: one success status");
        }
        assert_eq!(
            path_parameters("/api/v1/customers/{id}/identities/{channel}/{external_id}"),
            ["id", "channel", "external_id"]
        );
    }

    #[test]
    fn every_schema_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        for part in text.split("\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "missing schema {name}"
            );
        }
    }
}
