//! The OpenAPI 3.1 document of the admin API, served at `GET /api/v1/openapi.json`.
//! [`ROUTES`] lists every admin route once; the document is built from it, and a test
//! checks that every route the router serves is in it.

use serde_json::{Value, json};

/// Every admin route: (method, OpenAPI path, operation id, summary).
pub const ROUTES: &[(&str, &str, &str, &str)] = &[
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
        "/api/v1/policy",
        "getPolicy",
        "The escalation policy in force: version (content hash) and file",
    ),
    (
        "post",
        "/api/v1/customers/{id}/link-codes",
        "issueLinkCode",
        "A single-use code (10 minutes) the customer sends on another channel to continue there; with deep links from [admin].link_urls",
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
        "get",
        "/api/v1/queues",
        "listQueue",
        "Handoffs waiting for an agent, in the order they will be assigned (priority, then age)",
    ),
];

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok_response(schema: Value) -> Value {
    json!({"description": "OK", "content": {"application/json": {"schema": schema}}})
}

fn operation(method: &str, path: &str, id: &str, summary: &str) -> Value {
    let mut op = json!({"operationId": id, "summary": summary});
    let mut responses = serde_json::Map::new();
    let reference = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let array_of = |name: &str| json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}});
    let ok = match id {
        "getOpenApi" => json!({"type": "object"}),
        "findCustomers" => array_of("Customer"),
        "getCustomer" | "updateCustomer" => reference("Customer"),
        "listCustomerConversations" => array_of("ConversationSummary"),
        "listCustomerEvents" => array_of("CustomerEvent"),
        "postCustomerEvent" => {
            json!({"type": "object", "properties": {"id": {"type": "string"}, "duplicate": {"type": "boolean"},
            "escalated": {"type": "boolean"}, "category": {"type": ["string", "null"]}, "target": {"type": ["string", "null"]},
            "priority": {"type": ["string", "null"]}}})
        }
        "getConversation" => reference("Conversation"),
        "issueLinkCode" => {
            json!({"type": "object", "required": ["code", "expires_at", "links"], "properties": {
            "code": {"type": "string"}, "expires_at": {"type": "string", "format": "date-time"},
            "links": {"type": "object", "additionalProperties": {"type": "string"}}}})
        }
        "exportCustomer" => reference("CustomerExport"),
        "eraseCustomer" => reference("Erasure"),
        "getPolicy" => {
            json!({"type": "object", "properties": {"version": {"type": "string"}, "path": {"type": ["string", "null"]}}})
        }
        "reloadPolicy" => {
            json!({"type": "object", "properties": {"version": {"type": "string"}, "previous": {"type": "string"}}})
        }
        "policyAudit" => json!({"type": "array", "items": {"type": "object"}}),
        "getTranscript" => array_of("TranscriptEntry"),
        "listAgents" => array_of("Agent"),
        "getAgent" | "putAgent" | "updateAgent" | "deleteAgent" => reference("Agent"),
        "listQueue" => array_of("QueuedHandoff"),
        _ => array_of("Escalation"),
    };
    let status = match id {
        "postCustomerEvent" => "202",
        "issueLinkCode" => "201",
        _ => "200",
    };
    responses.insert(status.into(), ok_response(ok));
    if id != "getOpenApi" {
        responses.insert(
            "401".into(),
            error_response("Missing or invalid bearer token"),
        );
        responses.insert("503".into(), error_response("Store unavailable"));
        op["security"] = json!([{"bearer": []}]);
    }
    if path.contains("{id}") {
        responses.insert("404".into(), error_response("Not found"));
        op["parameters"] =
            json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
    }
    match id {
        "findCustomers" => {
            responses.insert(
                "400".into(),
                error_response("Neither or both of identity and email"),
            );
            op["parameters"] = json!([
                {"name": "identity", "in": "query", "schema": {"type": "string"}, "description": "<channel>:<external id>, e.g. whatsapp:15551234567"},
                {"name": "email", "in": "query", "schema": {"type": "string", "format": "email"}}
            ]);
        }
        "updateCustomer" => {
            responses.insert("400".into(), error_response("Invalid body"));
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": reference("CustomerPatch")}}});
        }
        "postCustomerEvent" => {
            responses.insert("400".into(), error_response("Invalid body"));
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": reference("CustomerEventPost")}}});
        }
        "putAgent" => {
            responses.insert("400".into(), error_response("Invalid body"));
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": reference("AgentPut")}}});
        }
        "updateAgent" => {
            responses.insert("400".into(), error_response("Invalid body"));
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": reference("AgentPatch")}}});
        }
        "reloadPolicy" => {
            responses.insert(
                "422".into(),
                error_response("The file is invalid; the policy in force stays"),
            );
        }
        "listCustomerEvents" => {
            if let Some(params) = op["parameters"].as_array_mut() {
                params.push(json!({"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}}));
            }
        }
        "getTranscript" => {
            if let Some(params) = op["parameters"].as_array_mut() {
                params.push(json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}));
            }
        }
        _ => {}
    }
    let _ = method;
    op["responses"] = Value::Object(responses);
    op
}

/// The document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, id, summary) in ROUTES {
        let entry = paths.entry((*path).to_owned()).or_insert_with(|| json!({}));
        entry[*method] = operation(method, path, id, summary);
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
            "owner": {"enum": ["bot", "queue", "agent"]}, "opened_at": {"type": "string", "format": "date-time"},
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
            "status": {"enum": ["open", "closed"]}, "owner": {"enum": ["bot", "queue", "agent"]},
            "opened_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
            "messages": {"type": "integer"}, "state": {"type": "object"},
            "handoff": {"oneOf": [{"$ref": "#/components/schemas/Handoff"}, {"type": "null"}]},
            "past_handoffs": {"type": "array", "items": {"$ref": "#/components/schemas/Handoff"}}}},
        "TranscriptEntry": {"type": "object", "required": ["id", "seq", "from", "channel", "at", "content"], "properties": {
            "id": {"type": "string"}, "seq": {"type": "integer"}, "from": {"enum": ["customer", "bot", "agent", "system"]},
            "channel": {"type": "string"}, "at": {"type": "string", "format": "date-time"}, "content": {"type": "object"},
            "buttons": {"type": "array"}}},
        "CustomerExport": {"type": "object", "required": ["customer", "identities", "conversations", "events", "audit", "suggested_links"], "properties": {
            "customer": {"$ref": "#/components/schemas/Customer"},
            "identities": {"type": "array", "items": {"type": "object", "properties": {
                "customer_id": {"type": "string"}, "channel": {"type": "string"}, "external_id": {"type": "string"},
                "verified": {"type": "boolean"}, "source": {"type": "string"}, "verified_email": {"type": ["string", "null"]},
                "verified_phone": {"type": ["string", "null"]}, "created_at": {"type": "string", "format": "date-time"}}}},
            "reachability": {"type": "array", "items": {"type": "object"}},
            "conversations": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/Conversation"}, {"type": "object", "properties": {
                "transcript": {"type": "array", "items": {"$ref": "#/components/schemas/TranscriptEntry"}},
                "escalations": {"type": "array", "items": {"$ref": "#/components/schemas/Escalation"}}}}]}},
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/CustomerEvent"}},
            "audit": {"type": "array", "items": {"type": "object"}},
            "suggested_links": {"type": "array", "items": {"type": "object"}},
            "exported_at": {"type": "string", "format": "date-time"}}},
        "Erasure": {"type": "object", "required": ["customer_id", "erased"], "properties": {
            "customer_id": {"type": "string"},
            "erased": {"type": "object", "required": ["identities", "conversations", "transcript_entries", "events"], "properties": {
                "identities": {"type": "integer"}, "conversations": {"type": "integer"},
                "transcript_entries": {"type": "integer"}, "events": {"type": "integer"}}},
            "erased_at": {"type": "string", "format": "date-time"}}},
        "Agent": {"type": "object", "required": ["id", "skills", "capacity", "status", "active", "load", "updated_at"], "properties": {
            "id": {"type": "string"}, "name": {"type": ["string", "null"]},
            "skills": {"type": "array", "items": {"type": "string"}},
            "capacity": {"type": "integer", "minimum": 0}, "status": {"enum": ["available", "away"]},
            "active": {"type": "array", "items": {"type": "string"}, "description": "Ids of the handoffs the agent holds"},
            "load": {"type": "integer", "minimum": 0}, "updated_at": {"type": "string", "format": "date-time"}}},
        "AgentPut": {"type": "object", "required": ["skills", "capacity"], "additionalProperties": false, "properties": {
            "name": {"type": "string"}, "skills": {"type": "array", "items": {"type": "string"}},
            "capacity": {"type": "integer", "minimum": 0, "maximum": 1000}, "status": {"enum": ["available", "away"]}}},
        "AgentPatch": {"type": "object", "additionalProperties": false, "properties": {
            "name": {"type": "string"}, "skills": {"type": "array", "items": {"type": "string"}},
            "capacity": {"type": "integer", "minimum": 0, "maximum": 1000}, "status": {"enum": ["available", "away"]}}},
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
