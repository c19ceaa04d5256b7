//! `tandem policy test [--policy FILE] CONVERSATIONS.jsonl`, and `tandem policy eval`
//! (the same replay, scored; see `tandem_policy::eval`): replays conversations through
//! the escalation policy offline, deciding with exactly what `tandem serve` builds (the
//! knowledge-base bot of `[bot].knowledge`, VADER sentiment, the built-in intent
//! classifier, the policy engine), through
//! `tandem_policy::replay` (which folds messages through the core's `understand` and
//! `decide_message`).
//!
//! Policy file: `--policy`, else `[policy].path` of the config in effect (`--config`,
//! `$TANDEM_CONFIG`, `config/tandem.toml`), else `config/policy.toml` if present, else the
//! built-in default. Exit 0 when every expectation holds, 1 when one fails, 2 when the
//! replay cannot run (unreadable files, invalid policy or knowledge base).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use tandem_policy::PolicyEngine;
use tandem_policy::replay::Replay;

/// Exit code when the replay cannot run.
const CANNOT_RUN: u8 = 2;

/// Arguments of `tandem policy test`.
#[derive(Debug, Clone)]
pub struct PolicyTestArgs {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--policy`.
    pub policy: Option<PathBuf>,
    /// The conversations (JSON Lines).
    pub conversations: PathBuf,
}

/// The `[policy].path` and `[bot].knowledge` of the config in effect, without checking the
/// rest of it (a replay needs no channel secrets).
fn config_paths(explicit: Option<&Path>) -> Result<(Option<String>, Option<String>), String> {
    let env_path = std::env::var_os("TANDEM_CONFIG")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    let chosen = explicit.map(Path::to_path_buf).or(env_path).or_else(|| {
        let default = PathBuf::from("config/tandem.toml");
        default.exists().then_some(default)
    });
    let Some(path) = chosen else {
        return Ok((None, None));
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        format!("{}: not valid TOML: {}", path.display(), e.message())
    })?;
    let get = |section: &str, key: &str| {
        table
            .get(section)
            .and_then(|s| s.get(key))
            .and_then(toml::Value::as_str)
            .map(str::to_owned)
    };
    Ok((get("policy", "path"), get("bot", "knowledge")))
}

/// Loads the policy a replay uses (see the module docs), or the problems.
pub fn resolve_policy(
    explicit: Option<&Path>,
    configured: Option<&str>,
) -> Result<(String, PolicyEngine), String> {
    let path = explicit
        .map(Path::to_path_buf)
        .or_else(|| configured.map(PathBuf::from))
        .or_else(|| {
            let default = PathBuf::from("config/policy.toml");
            default.exists().then_some(default)
        });
    match path {
        None => Ok(("built-in policy".into(), PolicyEngine::builtin())),
        Some(p) => tandem_policy::load(&p)
            .map(|engine| (p.display().to_string(), engine))
            .map_err(|errors| {
                let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
                format!(
                    "policy {} has {} problem(s):\n  {}",
                    p.display(),
                    list.len(),
                    list.join("\n  ")
                )
            }),
    }
}

/// Loads the knowledge base: `[bot].knowledge`, else the built-in sample.
pub fn resolve_knowledge(path: Option<&str>) -> Result<tandem_ai::KnowledgeBase, String> {
    let Some(path) = path else {
        return Ok(tandem_ai::KnowledgeBase::builtin());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read bot.knowledge {path}: {e}"))?;
    tandem_ai::KnowledgeBase::from_toml_str(&text).map_err(|errors| {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!(
            "bot.knowledge {path} has problems:\n  {}",
            list.join("\n  ")
        )
    })
}

/// Runs the replay; prints the outcome lines on stdout, then the summary on stdout (or,
/// with `jsonl`, on stderr, so that stdout is JSON Lines only).
pub fn run(args: &PolicyTestArgs, jsonl: bool) -> ExitCode {
    let summary = with_replay(args, async |replay, input| {
        let mut stdout = std::io::stdout().lock();
        let summary = replay.run(input, &mut stdout).await?;
        let line = format!("{} passed, {} failed", summary.passed, summary.failed);
        if jsonl {
            eprintln!("{line}");
        } else {
            writeln!(stdout, "{line}")?;
        }
        Ok::<_, std::io::Error>(summary)
    });
    match summary {
        Ok(Ok(summary)) if summary.failed == 0 => ExitCode::SUCCESS,
        Ok(Ok(_)) => ExitCode::FAILURE,
        Ok(Err(e)) => {
            eprintln!("error: cannot write the results: {e}");
            ExitCode::from(CANNOT_RUN)
        }
        Err(code) => code,
    }
}

/// Loads the policy, the knowledge base and the conversations, prints which policy is in
/// force, and runs `f` on a replay with the built-in sentiment and intent providers. An
/// error here has already been printed: the answer is the exit code.
fn with_replay<T>(
    args: &PolicyTestArgs,
    f: impl AsyncFnOnce(&Replay<'_>, &str) -> T,
) -> Result<T, ExitCode> {
    let (source, policy, bot, input) = prepare(args).map_err(|message| {
        eprintln!("error: {message}");
        ExitCode::from(CANNOT_RUN)
    })?;
    eprintln!("policy: {source} ({})", policy.version());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(CANNOT_RUN)
        })?;
    let sentiment = tandem_ai::Vader::new();
    let intents = tandem_ai::BuiltinIntents::new();
    let replay = Replay {
        bot: bot.as_ref(),
        sentiment: &sentiment,
        intents: Some(&intents),
        policy: &policy,
    };
    Ok(runtime.block_on(f(&replay, &input)))
}

/// Arguments of `tandem policy eval`.
#[derive(Debug, Clone)]
pub struct PolicyEvalArgs {
    /// Where the policy, the knowledge base and the labelled file come from.
    pub replay: PolicyTestArgs,
    /// Print JSON instead of a table.
    pub json: bool,
    /// Fail below this F1.
    pub min_f1: Option<f64>,
    /// Fail above this false-escalation rate.
    pub max_false_escalations: Option<f64>,
    /// Fail below this category accuracy.
    pub min_category_accuracy: Option<f64>,
}

/// Runs `tandem policy eval`: the scorecard on stdout; exit 1 below a given goal, 2 when
/// the evaluation cannot run.
pub fn eval(args: &PolicyEvalArgs) -> ExitCode {
    let card = match with_replay(&args.replay, async |replay, input| {
        replay.evaluate(input).await
    }) {
        Ok(Ok(card)) => card,
        Ok(Err(message)) => {
            eprintln!("error: {}: {message}", args.replay.conversations.display());
            return ExitCode::from(CANNOT_RUN);
        }
        Err(code) => return code,
    };
    if args.json {
        match serde_json::to_string_pretty(&card) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: cannot write the scorecard: {e}");
                return ExitCode::from(CANNOT_RUN);
            }
        }
    } else {
        print!("{}", card.render());
    }
    let c = &card.overall;
    let mut failed = Vec::new();
    let below = |v: Option<f64>, goal: Option<f64>| goal.is_some_and(|g| v.unwrap_or(0.0) < g);
    if below(c.f1(), args.min_f1) {
        failed.push("F1");
    }
    if args
        .max_false_escalations
        .is_some_and(|g| c.false_escalation_rate().unwrap_or(0.0) > g)
    {
        failed.push("false escalations");
    }
    if below(c.category_accuracy(), args.min_category_accuracy) {
        failed.push("category accuracy");
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("below the goal: {}", failed.join(", "));
        ExitCode::FAILURE
    }
}

type Prepared = (String, PolicyEngine, Arc<tandem_ai::KnowledgeBot>, String);

fn prepare(args: &PolicyTestArgs) -> Result<Prepared, String> {
    let (policy_path, knowledge_path) = config_paths(args.config.as_deref())?;
    let (source, policy) = resolve_policy(args.policy.as_deref(), policy_path.as_deref())?;
    let kb = resolve_knowledge(knowledge_path.as_deref())?;
    let input = std::fs::read_to_string(&args.conversations)
        .map_err(|e| format!("cannot read {}: {e}", args.conversations.display()))?;
    Ok((
        source,
        policy,
        Arc::new(tandem_ai::KnowledgeBot::new(kb)),
        input,
    ))
}
