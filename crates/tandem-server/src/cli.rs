//! The command line: `tandem serve`, `tandem check`, `tandem policy test`, `tandem policy
//! eval`.

use crate::config::{self, LoadedConfig};
use crate::registry::Registry;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Tandem: an omnichannel gateway where bots and human agents work in tandem.
#[derive(Debug, Parser)]
#[command(name = "tandem", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Config file (default: $TANDEM_CONFIG, then config/tandem.toml, then the built-in demo).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate a config without doing any I/O beyond reading it; reports every problem.
    Check {
        /// Config file (same default as `serve`).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Work with the escalation policy.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Work with agent accounts.
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Reads a password from standard input (one line) and prints its argon2id hash (a PHC
    /// string) for `password_hash` of an `[[agents]]` entry.
    HashPassword,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Replay conversations (JSON Lines) through the escalation policy offline; prints one
    /// decision per conversation and `N passed, M failed`; exit 1 when an expectation fails.
    /// With `--jsonl`, stdout carries the JSON lines only (for `| jq`) and the summary
    /// goes to stderr.
    Test {
        /// Print only JSON lines on stdout; the `N passed, M failed` summary goes to stderr.
        #[arg(long)]
        jsonl: bool,
        /// Policy file (default: `[policy].path` of the config, else config/policy.toml, else built-in).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Config file whose `[policy]` and `[bot]` paths to use (same default as `serve`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The conversations, one JSON object per line.
        conversations: PathBuf,
    },
    /// Score the policy on labelled conversations (JSON Lines in the `test` format, each
    /// with `expect.escalate`, `expect.category` and optionally a `label`): precision,
    /// recall and F1 of "escalate", false-escalation rate and category accuracy, overall
    /// and per label, then the wrong decisions. With `--min-f1` (and the others), exit 1
    /// when the set scores below.
    Eval {
        /// Policy file (default: `[policy].path` of the config, else config/policy.toml, else built-in).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Config file whose `[policy]` and `[bot]` paths to use (same default as `serve`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print the scorecard as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Fail below this F1 of "escalate".
        #[arg(long)]
        min_f1: Option<f64>,
        /// Fail above this false-escalation rate.
        #[arg(long)]
        max_false_escalations: Option<f64>,
        /// Fail below this category accuracy.
        #[arg(long)]
        min_category_accuracy: Option<f64>,
        /// The labelled conversations, one JSON object per line.
        labelled: PathBuf,
    },
}

/// `tandem agent hash-password`: password on stdin, PHC hash on stdout.
fn hash_password() -> ExitCode {
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("error: cannot read the password from standard input: {e}");
        return ExitCode::FAILURE;
    }
    let password = line.trim_end_matches(['\r', '\n']);
    if password.chars().count() < crate::config::MIN_PASSWORD_LEN {
        eprintln!(
            "error: a password needs at least {} characters",
            crate::config::MIN_PASSWORD_LEN
        );
        return ExitCode::FAILURE;
    }
    match tandem_core::accounts::hash_password(password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: hashing failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    main_with(Registry::builtin())
}

/// Runs the command line with the adapter kinds of `registry`: how a custom binary adds
/// out-of-tree adapters (see `examples/custom-binary`).
pub fn main_with(registry: Registry) -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check(config, &registry),
        Command::Agent {
            command: AgentCommand::HashPassword,
        } => hash_password(),
        Command::Policy {
            command:
                PolicyCommand::Test {
                    jsonl,
                    policy,
                    config,
                    conversations,
                },
        } => crate::policy_test::run(
            &crate::policy_test::PolicyTestArgs {
                config,
                policy,
                conversations,
            },
            jsonl,
        ),
        Command::Policy {
            command:
                PolicyCommand::Eval {
                    policy,
                    config,
                    json,
                    min_f1,
                    max_false_escalations,
                    min_category_accuracy,
                    labelled,
                },
        } => crate::policy_test::eval(&crate::policy_test::PolicyEvalArgs {
            replay: crate::policy_test::PolicyTestArgs {
                config,
                policy,
                conversations: labelled,
            },
            json,
            min_f1,
            max_false_escalations,
            min_category_accuracy,
        }),
        Command::Serve { config } => {
            let loaded = match load_or_report(config, &registry) {
                Ok(l) => l,
                Err(code) => return code,
            };
            crate::serve::init_tracing();
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(crate::serve::serve(loaded)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn load_or_report(path: Option<PathBuf>, registry: &Registry) -> Result<LoadedConfig, ExitCode> {
    match config::load_with(path.as_deref(), registry) {
        Ok(loaded) => Ok(loaded),
        Err(errors) => {
            eprintln!(
                "error: the configuration has {} problem(s):",
                errors.0.len()
            );
            for e in &errors.0 {
                eprintln!("  {e}");
            }
            Err(ExitCode::FAILURE)
        }
    }
}

fn check(path: Option<PathBuf>, registry: &Registry) -> ExitCode {
    match load_or_report(path, registry) {
        Ok(loaded) => {
            println!("{}: OK", loaded.source);
            let kinds: Vec<String> = loaded
                .channels
                .iter()
                .map(|c| format!("{} ({})", c.id, c.kind))
                .collect();
            println!(
                "  channels: {}",
                if kinds.is_empty() {
                    "none".to_owned()
                } else {
                    kinds.join(", ")
                }
            );
            println!("  store: {}", loaded.config.store.describe());
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}
