use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "SECRET" => Some("s3cr3t".into()),
        _ => None,
    }
}

fn check(text: &str) -> Result<LoadedConfig, ConfigErrors> {
    parse("test.toml", text, &env, &Registry::builtin())
}

fn paths(errors: &ConfigErrors) -> Vec<String> {
    errors.0.iter().map(|e| e.path.clone()).collect()
}

#[test]
fn demo_config_is_valid() {
    let loaded = check(DEMO_CONFIG).expect("demo config parses");
    assert_eq!(loaded.channels.len(), 1);
    assert_eq!(loaded.channels[0].kind, "webchat");
}

#[test]
fn demo_config_has_the_console_with_a_generated_token() {
    let registry = Registry::builtin();
    let token = generate_console_token();
    assert_eq!(token.len(), 32);
    assert_ne!(token, generate_console_token(), "fresh each run");
    let env = |name: &str| (name == "TANDEM_CONSOLE_TOKEN").then(|| token.clone());
    let loaded = parse(DEMO_SOURCE, &demo_config(&registry), &env, &registry)
        .expect("demo config with the console parses");
    let console = loaded
        .desks
        .iter()
        .find(|d| d.kind == "console")
        .expect("the demo has the agent console");
    assert_eq!(console.table["tokens"][0].as_str(), Some(token.as_str()));
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let text = r#"
        [server]
        listen = "not an address"
        colour = "blue"

        [store]
        kind = "cassandra"

        [channels.webhook]
        url = "ftp://x"
        secret = "${MISSING_SECRET}"

        [channels.fax]
    "#;
    let errors = check(text).expect_err("config has mistakes");
    let p = paths(&errors);
    for expected in [
        "server.listen",
        "server.colour",
        "store.kind",
        "channels.webhook.url",
        "channels.webhook.secret",
        "channels.fax.type",
    ] {
        assert!(
            p.iter().any(|x| x == expected),
            "missing {expected} in {errors}"
        );
    }
}

#[test]
fn variables_are_expanded_and_dollar_escapes_kept() {
    let text = r#"
        [channels.webhook]
        url = "http://127.0.0.1:9/x?a=$${literal}"
        secret = "${SECRET}"
    "#;
    let loaded = check(text).expect("valid");
    let table = &loaded.channels[0].table;
    assert_eq!(table.get("secret").and_then(|v| v.as_str()), Some("s3cr3t"));
    assert_eq!(
        table.get("url").and_then(|v| v.as_str()),
        Some("http://127.0.0.1:9/x?a=${literal}")
    );
}

#[test]
fn typed_instances_and_unknown_adapter_keys() {
    let text = r#"
        [channels.site]
        type = "webchat"
        identity_secret = "k"
        colour = "red"
    "#;
    let errors = check(text).expect_err("unknown key");
    assert_eq!(paths(&errors), vec!["channels.site.colour".to_owned()]);
}

#[test]
fn invalid_toml_is_reported_not_panicked() {
    let errors = check("[server\nlisten=").expect_err("bad toml");
    assert!(errors.to_string().contains("not valid TOML"));
}

#[test]
fn mongodb_needs_uri_and_database() {
    let errors = check("[store]\nkind = \"mongodb\"\n").expect_err("incomplete");
    let p = paths(&errors);
    assert!(
        p.contains(&"store.uri".to_owned()) && p.contains(&"store.database".to_owned()),
        "{errors}"
    );
    let ok = check(
        "[store]\nkind = \"mongodb\"\nuri = \"mongodb://127.0.0.1:27017\"\ndatabase = \"tandem\"\n",
    );
    assert!(ok.is_ok(), "{:?}", ok.err());
}

#[test]
fn mongodb_srv_uris_are_accepted_and_bad_uris_refused() {
    let srv = check(
        "[store]\nkind = \"mongodb\"\nuri = \"mongodb+srv://tandem:pw@cluster0.ab1cd.mongodb.net/?retryWrites=true&w=majority\"\ndatabase = \"tandem\"\n",
    );
    assert!(srv.is_ok(), "{:?}", srv.err());
    for uri in [
        "mongodb+srv://cluster0.ab1cd.mongodb.net:27017/",
        "mongdb://127.0.0.1:27017",
    ] {
        let errors = check(&format!(
            "[store]\nkind = \"mongodb\"\nuri = \"{uri}\"\ndatabase = \"tandem\"\n"
        ))
        .expect_err(uri);
        assert_eq!(
            paths(&errors),
            vec!["store.uri".to_owned()],
            "{uri}: {errors}"
        );
    }
}

#[test]
fn inbound_retention_is_at_least_eight_days() {
    let base = "[store]\nkind = \"mongodb\"\nuri = \"mongodb://127.0.0.1\"\ndatabase = \"t\"\n";
    let errors = check(&format!("{base}inbound_retention_days = 3\n")).expect_err("too short");
    assert_eq!(
        paths(&errors),
        vec!["store.inbound_retention_days".to_owned()]
    );
    let ok = check(&format!("{base}inbound_retention_days = 90\n")).expect("90 days");
    assert_eq!(
        ok.config.store.mongo_options().inbound_retention,
        std::time::Duration::from_secs(90 * 86_400)
    );
    let default = check(base).expect("default");
    assert_eq!(
        default.config.store.mongo_options().inbound_retention,
        tandem_store_mongo::DEFAULT_INBOUND_RETENTION
    );
}

#[test]
fn overflow_queues_must_not_cycle() {
    let errors = check(
        "[handoff]\non_sla_breach = \"reroute\"\noverflow = { billing = \"sales\", sales = \"billing\", legal = \"legal\", ok = \"lead\" }\n",
    )
    .expect_err("cycles");
    let p = paths(&errors);
    assert!(
        p.contains(&"handoff.overflow.billing".to_owned()),
        "{errors}"
    );
    assert!(p.contains(&"handoff.overflow.sales".to_owned()), "{errors}");
    assert!(p.contains(&"handoff.overflow.legal".to_owned()), "{errors}");
    assert!(!p.contains(&"handoff.overflow.ok".to_owned()), "{errors}");
    let ok = check(
        "[handoff]\non_sla_breach = \"reroute\"\noverflow = { billing = \"sales\", sales = \"lead\" }\n",
    );
    assert!(ok.is_ok(), "{:?}", ok.err());
    let errors = check("[handoff]\non_sla_breach = \"later\"\n").expect_err("unknown");
    assert_eq!(paths(&errors), vec!["handoff.on_sla_breach".to_owned()]);
}

#[test]
fn link_code_ttl_is_bounded() {
    let with = |ttl: &str| format!("[channels.webchat]\n\n[admin]\nlink_code_ttl_secs = {ttl}\n");
    for bad in ["0", "86401"] {
        let errors = check(&with(bad)).expect_err("out of range");
        assert_eq!(paths(&errors), ["admin.link_code_ttl_secs"], "{bad}");
    }
    for good in ["1", "600", "86400"] {
        check(&with(good)).expect("in range");
    }
}

#[test]
fn every_type_error_is_reported_with_a_path_and_missing_variables_once() {
    let text = r#"
[server]
listen = 5
max_body_bytes = "big"

[store]
kind = 3

[channels.whatsapp]
app_secret = "${NOPE_SECRET}"
verify_token = 7
access_token = "x"
phone_number_id = "1"

[channels.telegram]
bot_token = ["a"]

[outbox]
lease_secs = "x"
max_attempts = -1
retry_base_ms = false

[handoff]
sla_secs = { high = "soon" }

[admin]
tokens = [12]

[ai]
timeout_ms = "slow"
"#;
    let errors = check(text).expect_err("twelve mistakes");
    let mut got = paths(&errors);
    got.sort();
    assert_eq!(
        got,
        vec![
            "admin.tokens[0]",
            "ai.timeout_ms",
            "channels.telegram.bot_token",
            "channels.whatsapp.app_secret",
            "channels.whatsapp.verify_token",
            "handoff.sla_secs.high",
            "outbox.lease_secs",
            "outbox.max_attempts",
            "outbox.retry_base_ms",
            "server.listen",
            "server.max_body_bytes",
            "store.kind",
        ],
        "{errors:?}"
    );
    let secret: Vec<_> = errors
        .0
        .iter()
        .filter(|e| e.path == "channels.whatsapp.app_secret")
        .collect();
    assert_eq!(secret.len(), 1, "the missing variable once: {errors:?}");
    assert!(secret[0].message.contains("NOPE_SECRET"));
}

#[test]
fn agent_accounts_are_checked_with_their_paths() {
    let hash = tandem_core::accounts::hash_password("a-good-password").unwrap();
    let text = format!(
        r#"
        [[agents]]
        id = "amy"
        name = "Amy"
        email = "amy@example.com"
        skills = ["billing"]
        capacity = 3
        password_hash = "{hash}"

        [[agents]]
        id = "amy"
        email = "not-an-email"
        capacity = 5000
        status = "asleep"
        password_hash = "hunter2"

        [[agents]]
        name = "No id"
        skils = ["typo"]
    "#
    );
    let errors = check(&text).expect_err("mistakes");
    let p = paths(&errors);
    for expected in [
        "agents[1].id",
        "agents[1].email",
        "agents[1].capacity",
        "agents[1].status",
        "agents[1].password_hash",
        "agents[2].id",
        "agents[2].skils",
    ] {
        assert!(p.contains(&expected.to_owned()), "{expected} in {p:?}");
    }
    assert!(!p.iter().any(|p| p.starts_with("agents[0]")), "{p:?}");
    let ok = check(&format!(
        "[[agents]]\nid = \"amy\"\npassword_hash = \"{hash}\"\n"
    ))
    .expect("a valid account");
    assert_eq!(ok.config.agents[0].id, "amy");
}

#[test]
fn the_mongodb_operation_timeout_is_bounded() {
    let base = "[store]\nkind = \"mongodb\"\nuri = \"mongodb://127.0.0.1\"\ndatabase = \"t\"\n";
    for bad in [0, 601] {
        let errors = check(&format!("{base}operation_timeout_secs = {bad}\n")).expect_err("bad");
        assert_eq!(
            paths(&errors),
            vec!["store.operation_timeout_secs".to_owned()]
        );
    }
    let ok = check(&format!("{base}operation_timeout_secs = 5\n")).expect("5 s");
    assert_eq!(
        ok.config.store.mongo_options().operation_timeout,
        std::time::Duration::from_secs(5)
    );
    let default = check(base).expect("default");
    assert_eq!(
        default.config.store.mongo_options().operation_timeout,
        tandem_store_mongo::DEFAULT_OPERATION_TIMEOUT
    );
}

#[test]
fn bot_kinds_globally_and_per_channel() {
    let loaded = check(
        r#"
[bot]
kind = "llm"
[bot.llm]
base_url = "http://127.0.0.1:11434/v1"
model = "llama3"
api_key = "${SECRET}"
timeout_ms = 2000
[bot.rasa]
url = "http://rasa:5005"
[bot.http]
url = "https://bots.example.com/tandem"
secret = "${SECRET}"
[channels.webchat]
bot = "http"
[channels.telegram]
bot_token = "t"
secret_token = "s"
bot = "rasa"
"#,
    )
    .expect("valid");
    assert_eq!(loaded.config.bot.kind(), "llm");
    let llm = loaded.config.bot.llm.as_ref().expect("llm section");
    assert_eq!(llm.api_key.as_ref().map(Secret::expose), Some("s3cr3t"));
    let telegram = loaded
        .channels
        .iter()
        .find(|c| c.id == "telegram")
        .expect("telegram");
    assert_eq!(telegram.bot.as_deref(), Some("rasa"));
    assert!(telegram.table.get("bot").is_none(), "peeled off");
    assert_eq!(
        check(DEMO_CONFIG).expect("demo").config.bot.kind(),
        "knowledge"
    );
}

#[test]
fn bot_problems_are_all_reported() {
    let errors = check(
        r#"
[bot]
kind = "llm"
[bot.rasa]
url = "ftp://rasa"
timeout_ms = 0
[bot.http]
timeout_ms = 0
[channels.webchat]
bot = "dialogflow"
"#,
    )
    .expect_err("invalid");
    let p = paths(&errors);
    for path in [
        "bot.llm",
        "bot.rasa.url",
        "bot.rasa.timeout_ms",
        "bot.http.url",
        "bot.http.secret",
        "bot.http.timeout_ms",
        "channels.webchat.bot",
    ] {
        assert!(p.contains(&path.to_owned()), "{path} in {p:?}");
    }
    let errors = check(
        "[bot]\nkind = \"rasa\"\n[bot.llm]\nbase_url = \"x\"\nentries = 50\n[channels.webchat]\n",
    )
    .expect_err("invalid");
    let p = paths(&errors);
    for path in [
        "bot.rasa",
        "bot.llm.base_url",
        "bot.llm.model",
        "bot.llm.entries",
    ] {
        assert!(p.contains(&path.to_owned()), "{path} in {p:?}");
    }
}

#[test]
fn drafts_modes_are_checked() {
    let loaded = check("[channels.webchat]\n").expect("no [drafts]");
    let core = loaded.config.drafts.core_config();
    assert_eq!(core.mode, tandem_core::drafts::DraftMode::Off);
    assert!(!core.suggest);

    let loaded = check(
        "[channels.webchat]\n\n[drafts]\nmode = \"selected\"\ncategories = [\"legal\"]\nqueues = [\"billing\"]\nsuggest = true\n",
    )
    .expect("selected");
    let core = loaded.config.drafts.core_config();
    assert_eq!(core.mode, tandem_core::drafts::DraftMode::Selected);
    assert_eq!(core.categories, ["legal"]);
    assert_eq!(core.queues, ["billing"]);
    assert!(core.suggest);
    let all = check("[drafts]\nmode = \"all\"\n").expect("all");
    assert_eq!(
        all.config.drafts.core_config().mode,
        tandem_core::drafts::DraftMode::All
    );

    let errors = check("[drafts]\nmode = \"sometimes\"\n").expect_err("unknown mode");
    assert_eq!(paths(&errors), ["drafts.mode"]);
    assert!(
        errors
            .to_string()
            .contains("\"off\", \"all\" or \"selected\""),
        "{errors}"
    );
    let errors = check("[drafts]\nmode = \"selected\"\n").expect_err("nothing selected");
    assert_eq!(paths(&errors), ["drafts.mode"]);
    let errors = check("[drafts]\nmode = \"all\"\ncategories = [\"legal\"]\n")
        .expect_err("lists without selected");
    assert_eq!(paths(&errors), ["drafts.mode"]);
    let errors =
        check("[drafts]\nmode = \"selected\"\nqueues = [\" \"]\n").expect_err("empty name");
    assert_eq!(paths(&errors), ["drafts.queues[0]"]);
    let errors = check("[drafts]\nmodes = \"all\"\n").expect_err("unknown key");
    assert!(errors.to_string().contains("modes"), "{errors}");
}
