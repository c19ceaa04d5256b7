//! Starting and stopping the real binary.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running `tandem serve`.
pub struct Tandem {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    stderr_path: PathBuf,
    stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// The `tandem` binary: `$TANDEM_BIN`, else built once with the cargo running the tests
/// (same profile and target folder as the test binary).
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("TANDEM_BIN") {
            // Absolute, because the server runs in its own working directory.
            let p = PathBuf::from(p);
            return std::fs::canonicalize(&p).unwrap_or(p);
        }
        let exe = std::env::current_exe().expect("test binary path");
        // target/<profile>/deps/it-xxxx → target/<profile>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>/deps layout")
            .to_path_buf();
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "tandem-server", "--bin", "tandem"]);
        if release {
            cmd.arg("--release");
        }
        if let Some(target) = profile_dir.parent() {
            cmd.env("CARGO_TARGET_DIR", target);
        }
        let status = cmd
            .status()
            .expect("running cargo build for the tandem binary");
        assert!(status.success(), "building the tandem binary failed");
        profile_dir.join(format!("tandem{}", std::env::consts::EXE_SUFFIX))
    })
    .clone()
}

impl Tandem {
    /// Starts `tandem serve --config <dir>/tandem.toml` with `TANDEM_DATA_DIR=<dir>` on a
    /// free port and waits until it listens.
    pub async fn start(dir: &Path, config: &str) -> Tandem {
        let config_path = dir.join("tandem.toml");
        std::fs::write(&config_path, config).expect("writing the config");
        Self::spawn(
            dir,
            &[
                "serve",
                "--config",
                config_path.to_str().expect("utf-8 path"),
            ],
            &[],
        )
        .await
    }

    /// Starts the binary with `args` in working directory `dir`.
    pub async fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Tandem {
        Self::spawn_program(&binary(), &[], dir, args, env).await
    }

    /// Starts `program` with `pre_args` and then `args` (e.g. `taskset -c 0 <tandem> serve
    /// ...`, the process keeps the pid) in working directory `dir`.
    pub async fn spawn_program(
        program: &Path,
        pre_args: &[&str],
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Tandem {
        // TANDEM_E2E_LOG_DIR keeps the logs past the test's temporary folder (to debug CI).
        let log_dir = std::env::var_os("TANDEM_E2E_LOG_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| dir.to_path_buf());
        let stderr_path = log_dir.join(format!(
            "stderr-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let stderr = std::fs::File::create(&stderr_path).expect("stderr log file");
        let mut cmd = Command::new(program);
        cmd.args(pre_args)
            .args(args)
            .current_dir(dir)
            .env("TANDEM_LISTEN", "127.0.0.1:0")
            .env("TANDEM_DATA_DIR", dir)
            .env("TANDEM_LOG", "debug,hyper=info,reqwest=info")
            .env_remove("TANDEM_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starting tandem");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let stdout_lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                stdout_lines
                    .lock()
                    .expect("stdout lines lock")
                    .push(line.clone());
                if let Some(rest) = line.strip_prefix("Tandem listening on http://") {
                    return Some(rest.trim().to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        let Some(addr) = addr else {
            let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            panic!("tandem did not start listening; stderr:\n{log}");
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        let kept = stdout_lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                kept.lock().expect("stdout lines lock").push(line);
            }
        });
        Tandem {
            child,
            base: format!("http://{addr}"),
            addr,
            stderr_path,
            stdout: stdout_lines,
        }
    }

    /// The lines printed on stdout so far (the banner with its URLs).
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().expect("stdout lines lock").clone()
    }

    /// A URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Everything the process logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL, no chance to clean up.
    pub async fn kill9(mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM, then waits for the exit code (panics after 40 s).
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.pid().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        tokio::time::timeout(Duration::from_secs(40), self.child.wait())
            .await
            .expect("tandem did not exit within 40 s of SIGTERM")
            .expect("waiting for tandem")
    }

    /// The text of `/metrics`.
    pub async fn metrics(&self) -> String {
        crate::get(self.url("/metrics"))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body")
    }

    /// The value of one metric line (`name{labels}`), 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        metric_value(&self.metrics().await, series)
    }

    /// Calls the admin API with bearer `token`: the status and the JSON answer
    /// (`Null` when the body is not JSON).
    pub async fn api(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = crate::http()
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req.send().await.expect("admin API request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }
}

impl Tandem {
    /// POSTs a Meta webhook body (WhatsApp, Messenger) to `path`, signed with
    /// `X-Hub-Signature-256` under `app_secret`; returns the status.
    pub async fn post_meta(&self, path: &str, app_secret: &str, body: &str) -> u16 {
        let signature = tandem_testkit::payloads::meta_signature(app_secret, body.as_bytes());
        self.post_json(path, ("x-hub-signature-256", &signature), body.to_owned())
            .await
    }

    /// POSTs a Bot Framework activity (Teams) to `path` with `authorization` (a
    /// `Bearer <JWT>` header value); returns the status.
    pub async fn post_activity(
        &self,
        path: &str,
        activity: &serde_json::Value,
        authorization: &str,
    ) -> u16 {
        self.post_json(path, ("authorization", authorization), activity.to_string())
            .await
    }

    /// POSTs a JSON `body` to `path` with one more header; returns the status.
    async fn post_json(&self, path: &str, header: (&str, &str), body: String) -> u16 {
        crate::http()
            .post(self.url(path))
            .header("content-type", "application/json")
            .header(header.0, header.1)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
            .status()
            .as_u16()
    }
}

/// Seconds since the Unix epoch, now (platform payload timestamps).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// The value of `series` (`name{labels}` as exposed, the `replica` label optional) in a
/// metrics text, 0 when absent.
pub fn metric_value(text: &str, series: &str) -> f64 {
    let value = |line: &str| {
        line.strip_prefix(series)
            .and_then(|rest| rest.trim().split(' ').next()?.parse().ok())
    };
    // A series asked for without its `replica` label (every series of a binary on
    // MongoDB has one) matches the line that has it.
    text.lines()
        .find_map(value)
        .or_else(|| text.lines().find_map(|l| value(&without_replica_label(l))))
        .unwrap_or(0.0)
}

/// `line` without its `replica="..."` label (and without `{}` when that was the only one).
fn without_replica_label(line: &str) -> String {
    let Some(start) = line.find("replica=\"") else {
        return line.to_owned();
    };
    let value_start = start + "replica=\"".len();
    let Some(len) = line[value_start..].find('"') else {
        return line.to_owned();
    };
    let mut end = value_start + len + 1;
    let mut start = start;
    if line[end..].starts_with(',') {
        end += 1;
    } else if line[..start].ends_with(',') {
        start -= 1;
    }
    let mut out = format!("{}{}", &line[..start], &line[end..]);
    if let Some(at) = out.find("{}") {
        out.replace_range(at..at + 2, "");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_match_with_or_without_the_replica_label() {
        let text = "tandem_replica_info{replica=\"a\"} 1\n\
                    tandem_messages_in_total{replica=\"a\",channel=\"webchat\"} 3\n\
                    tandem_outbox_depth{replica=\"a\"} 2\n\
                    tandem_sent_total{channel=\"tg\",replica=\"a\"} 4\n";
        assert_eq!(
            metric_value(text, "tandem_replica_info{replica=\"a\"}"),
            1.0
        );
        assert_eq!(
            metric_value(text, "tandem_messages_in_total{channel=\"webchat\"}"),
            3.0
        );
        assert_eq!(
            metric_value(
                text,
                "tandem_messages_in_total{replica=\"a\",channel=\"webchat\"}"
            ),
            3.0
        );
        assert_eq!(metric_value(text, "tandem_outbox_depth"), 2.0);
        assert_eq!(metric_value(text, "tandem_sent_total{channel=\"tg\"}"), 4.0);
        assert_eq!(
            metric_value(text, "tandem_messages_in_total{channel=\"tg\"}"),
            0.0
        );
    }
}
