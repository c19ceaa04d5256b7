//! The admin API's OpenAPI document, fetched from the running binary, validated against the
//! official OpenAPI 3.1 JSON Schemas (vendored under `tests/openapi/`, see its README):
//! `schema.json` for the document's structure and `schema-base.json` for its Schema Objects
//! too (OAS 3.1 dialect over draft 2020-12). Deliberately broken copies must fail, so the
//! validator is known to bite. Every documented protected operation answers 401 without
//! a token (so every documented route is served, and protected). The identity routes'
//! real answers (and errors) validate against the schemas the document gives for them.

use jsonschema::{Draft, Resource, Validator};
use serde_json::{Value, json};
use tandem_e2e::Tandem;

const TOKEN: &str = "openapi-admin-token-0123456789";

/// The `$id`s of the vendored schemas.
const SCHEMA_ID: &str = "https://spec.openapis.org/oas/3.1/schema/2022-10-07";
const DIALECT_ID: &str = "https://spec.openapis.org/oas/3.1/dialect/base";
const META_ID: &str = "https://spec.openapis.org/oas/3.1/meta/base";

fn official(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("openapi")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn resource(name: &str) -> Resource {
    Resource::from_contents(official(name)).expect("a draft 2020-12 resource")
}

/// The structural validator (`schema.json`): everything but the insides of Schema Objects.
fn structure_validator() -> Validator {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(&official("schema.json"))
        .expect("the official schema compiles")
}

/// The full validator (`schema-base.json`): structure plus Schema Objects in the OAS
/// dialect. Offline: every schema it refers to is registered here (the draft 2020-12
/// meta-schemas are built into the crate).
fn base_validator() -> Validator {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .with_resource(SCHEMA_ID, resource("schema.json"))
        .with_resource(DIALECT_ID, resource("dialect-base.schema.json"))
        .with_resource(META_ID, resource("meta-base.schema.json"))
        .build(&absolute_refs(official("schema-base.json")))
        .expect("the official schema-base compiles")
}

/// The schema with every same-document `$ref` (`#/...`) made absolute against its `$id`:
/// the same references (a relative reference resolves against the resource's `$id`;
/// schema-base has no nested `$id`), but jsonschema 0.33 resolves `#/$defs/dialect` inside
/// the subschema it reaches through `$dynamicRef` against the referring document
/// (schema.json) instead, and fails with "pointer to nowhere".
fn absolute_refs(mut schema: Value) -> Value {
    fn walk(v: &mut Value, id: &str) {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    match child {
                        Value::String(r) if k == "$ref" && r.starts_with('#') => {
                            *r = format!("{id}{r}");
                        }
                        _ => walk(child, id),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, id)),
            _ => {}
        }
    }
    let id = schema["$id"]
        .as_str()
        .expect("schema-base has an $id")
        .to_owned();
    walk(&mut schema, &id);
    schema
}

/// Every violation, one per line, with where it is.
fn violations(validator: &Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

async fn served_document(tandem: &Tandem) -> Value {
    let r = tandem_e2e::http()
        .get(tandem.url("/api/v1/openapi.json"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.expect("the document is JSON")
}

async fn start() -> (tempfile::TempDir, Tandem) {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("[channels.webchat]\n\n[admin]\ntokens = [\"{TOKEN}\"]\n");
    let tandem = Tandem::start(dir.path(), &config).await;
    (dir, tandem)
}

#[tokio::test]
async fn served_document_is_valid_openapi_3_1() {
    let (_dir, tandem) = start().await;
    let doc = served_document(&tandem).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let structure = violations(&structure_validator(), &doc);
    assert!(
        structure.is_empty(),
        "schema.json violations:\n{}",
        structure.join("\n")
    );
    let base = violations(&base_validator(), &doc);
    assert!(
        base.is_empty(),
        "schema-base.json violations:\n{}",
        base.join("\n")
    );
    // The document is public: the same without a token.
    let public: Value = tandem_e2e::get(tandem.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public, doc);
}

#[tokio::test]
async fn broken_copies_fail_validation() {
    let (_dir, tandem) = start().await;
    let doc = served_document(&tandem).await;
    let structure = structure_validator();
    let base = base_validator();
    assert!(structure.is_valid(&doc) && base.is_valid(&doc));

    let mut no_info = doc.clone();
    no_info.as_object_mut().unwrap().remove("info");
    assert!(!structure.is_valid(&no_info), "missing info must fail");
    assert!(!base.is_valid(&no_info));

    let mut bad_responses = doc.clone();
    bad_responses["paths"]["/api/v1/customers"]["get"]["responses"] = json!({"200": "OK"});
    assert!(
        !structure.is_valid(&bad_responses),
        "a response that is not a Response Object must fail"
    );

    let mut responses_list = doc.clone();
    responses_list["paths"]["/api/v1/customers/{id}"]["get"]["responses"] =
        json!([{"description": "OK"}]);
    assert!(
        !structure.is_valid(&responses_list),
        "responses must be a map"
    );

    let mut bad_parameter = doc.clone();
    bad_parameter["paths"]["/api/v1/customers/{id}"]["get"]["parameters"][0]["in"] = json!("body");
    assert!(
        !structure.is_valid(&bad_parameter),
        "parameter location body is not OpenAPI 3"
    );

    let mut bad_version = doc.clone();
    bad_version["openapi"] = json!("3.0.3");
    assert!(!structure.is_valid(&bad_version), "not a 3.1 document");

    // A broken Schema Object passes the structural schema (which does not look inside
    // Schema Objects) and fails schema-base (which does).
    let mut bad_schema = doc.clone();
    bad_schema["components"]["schemas"]["Error"]["type"] = json!(5);
    assert!(structure.is_valid(&bad_schema));
    assert!(
        !base.is_valid(&bad_schema),
        "schema-base must check Schema Objects"
    );
    let mut bad_required = doc.clone();
    bad_required["components"]["schemas"]["Customer"]["required"] = json!("id");
    assert!(!base.is_valid(&bad_required));
}

/// `/api/v1/customers/{id}/identities/{channel}/{external_id}` with every parameter
/// filled in.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "x-1".to_owned()
            } else {
                seg.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_documented_admin_route_is_served_and_refuses_no_token() {
    let (_dir, tandem) = start().await;
    let doc = served_document(&tandem).await;
    let client = tandem_e2e::http();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            let url = tandem.url(&concrete(path));
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            if op.get("security").is_none() {
                // Only the document itself is public.
                assert_eq!(path, "/api/v1/openapi.json");
                continue;
            }
            assert!(
                op["responses"].get("401").is_some(),
                "{method} {path} documents its 401"
            );
            for token in [None, Some("wrong-token-0123456789")] {
                let mut req = client
                    .request(method.clone(), &url)
                    .header("content-type", "application/json")
                    .body("{}");
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let r = req.send().await.unwrap();
                assert_eq!(
                    r.status(),
                    401,
                    "{method} {path} without a valid token (a 404/405 means it is not served)"
                );
                assert!(r.headers().contains_key("www-authenticate"));
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["error"], "unauthorized");
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} operations documented");
    // An undocumented path is not served at all.
    let r = client
        .get(tandem.url("/api/v1/not-a-route"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// Checks answers of the running binary against the schemas the document gives for them.
struct Answers {
    doc: Value,
    registry_doc: Resource,
}

impl Answers {
    fn new(doc: &Value) -> Self {
        let mut with_id = doc.clone();
        with_id["$id"] = json!(DOC_ID);
        Answers {
            doc: doc.clone(),
            registry_doc: Resource::from_contents(with_id).expect("the document as a resource"),
        }
    }

    /// The violations of `value` against the schema documented for `status` of
    /// `method template`.
    fn check(&self, method: &str, template: &str, status: u16, value: &Value) -> Vec<String> {
        let pointer = format!(
            "{DOC_ID}#/paths/{}/{method}/responses/{status}/content/application~1json/schema",
            template
                .replace('~', "~0")
                .replace('/', "~1")
                .replace('{', "%7B")
                .replace('}', "%7D")
        );
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .with_resource(DOC_ID, self.registry_doc.clone())
            .build(&json!({"$ref": pointer}))
            .expect("the documented schema compiles");
        violations(&validator, value)
    }

    /// Calls `method path` with the admin token (and `body`), checks that the status is
    /// documented for the operation and that the body validates against its schema;
    /// returns the body.
    async fn call(
        &self,
        tandem: &Tandem,
        method: &str,
        template: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = tandem_e2e::http()
            .request(
                reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                tandem.url(path),
            )
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let value: Value = r.json().await.expect("a JSON answer");
        let responses = &self.doc["paths"][template][method]["responses"];
        assert!(
            responses.get(status.to_string()).is_some(),
            "{method} {path} answered {status}, which {template} does not document: {value}"
        );
        let errors = self.check(method, template, status, &value);
        assert!(
            errors.is_empty(),
            "{method} {path} ({status}) does not match its documented schema:\n{}\n{value}",
            errors.join("\n")
        );
        (status, value)
    }
}

/// The `$id` the served document gets to be used as a schema resource.
const DOC_ID: &str = "urn:tandem:admin-openapi";

#[tokio::test]
async fn identity_answers_match_their_documented_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[channels.webchat]\nidentity_secret = \"web-secret\"\n\n[admin]\ntokens = [\"{TOKEN}\"]\nlink_urls = {{ whatsapp = \"https://wa.me/15551234567?text={{code}}\" }}\n"
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let answers = Answers::new(&served_document(&tandem).await);

    // A verified web user, and an anonymous one claiming her email (a suggested link).
    let mut ada = tandem_e2e::WsClient::connect(&tandem.addr).await;
    let token = tandem_e2e::user_token(
        b"web-secret",
        &json!({"id": "ada", "email": "ada@x.test", "name": "Ada"}),
    );
    ada.send(json!({"type": "hello", "user_token": token}))
        .await;
    ada.recv_type("welcome").await;
    ada.say("a1", "where is my order #12345?").await;
    ada.recv_reply().await;
    let (mut anon, anon_welcome) = tandem_e2e::WsClient::hello(&tandem.addr, None).await;
    anon.say("b1", "I am ada@x.test").await;
    anon.recv_reply().await;

    let (_, found) = answers
        .call(
            &tandem,
            "get",
            "/api/v1/customers",
            "/api/v1/customers?identity=webchat:user:ada",
            None,
        )
        .await;
    let id = found[0]["id"].as_str().unwrap().to_owned();
    // The check bites: a list is not a customer, a customer without identities is wrong.
    assert!(
        !answers
            .check("get", "/api/v1/customers/{id}", 200, &found)
            .is_empty()
    );
    let mut broken = found[0].clone();
    broken.as_object_mut().unwrap().remove("identities");
    assert!(
        !answers
            .check("get", "/api/v1/customers/{id}", 200, &broken)
            .is_empty()
    );
    let conv = anon_welcome["conversation_id"].as_str().unwrap();
    let (_, c) = answers
        .call(
            &tandem,
            "get",
            "/api/v1/conversations/{id}",
            &format!("/api/v1/conversations/{conv}"),
            None,
        )
        .await;
    let anon_id = c["customer_id"].as_str().unwrap().to_owned();

    let by_id = |suffix: &str| {
        (
            format!("/api/v1/customers/{{id}}{suffix}"),
            format!("/api/v1/customers/{id}{suffix}"),
        )
    };
    for suffix in [
        "",
        "/identities",
        "/audit",
        "/export",
        "/conversations",
        "/events",
    ] {
        let (template, path) = by_id(suffix);
        answers.call(&tandem, "get", &template, &path, None).await;
    }
    let (_, audit) = answers
        .call(
            &tandem,
            "get",
            "/api/v1/customers/{id}/audit",
            &format!("/api/v1/customers/{anon_id}/audit"),
            None,
        )
        .await;
    assert_eq!(audit["suggested_links"][0]["reason"], "unverified_claim");
    let (status, _) = answers
        .call(
            &tandem,
            "post",
            "/api/v1/customers/{id}/identities",
            &format!("/api/v1/customers/{id}/identities"),
            Some(json!({"channel": "crm", "external_id": "crm-7", "phone": "+49 151 1234 5678"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, code) = answers
        .call(
            &tandem,
            "post",
            "/api/v1/customers/{id}/link-codes",
            &format!("/api/v1/customers/{id}/link-codes"),
            None,
        )
        .await;
    assert_eq!(status, 201);
    assert!(
        code["links"]["whatsapp"]
            .as_str()
            .unwrap()
            .starts_with("https://wa.me/")
    );
    let (status, merge) = answers
        .call(
            &tandem,
            "post",
            "/api/v1/customers/{id}/merge",
            &format!("/api/v1/customers/{id}/merge"),
            Some(json!({"from": anon_id})),
        )
        .await;
    assert_eq!(status, 200);
    let merge_id = merge["id"].as_str().unwrap();
    let (status, _) = answers
        .call(
            &tandem,
            "post",
            "/api/v1/merges/{merge_id}/unmerge",
            &format!("/api/v1/merges/{merge_id}/unmerge"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = answers
        .call(
            &tandem,
            "delete",
            "/api/v1/customers/{id}/identities/{channel}/{external_id}",
            &format!("/api/v1/customers/{id}/identities/crm/crm-7"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // Errors are documented too.
    let (status, _) = answers
        .call(
            &tandem,
            "get",
            "/api/v1/customers/{id}/audit",
            "/api/v1/customers/cus_unknown/audit",
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = answers
        .call(
            &tandem,
            "post",
            "/api/v1/customers/{id}/merge",
            &format!("/api/v1/customers/{id}/merge"),
            Some(json!({"from": id})),
        )
        .await;
    assert_eq!(status, 409);
}
