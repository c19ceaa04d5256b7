//! Test support (feature `testing`): which MongoDB server the test suites use, and a
//! uniquely named database per test that is dropped afterwards.
//!
//! The server is named by `TANDEM_TEST_MONGODB_URI` (`scripts/test` starts one and sets
//! it). Without it a suite is skipped with a printed note, except under `CI=true`, where a
//! missing server fails the test: CI must never pass without having run them.

use crate::{CommitMode, MongoStore};
use mongodb::Client;
use mongodb::options::ClientOptions;
use std::time::Duration;

/// The environment variable naming the test server's connection string.
pub const URI_VAR: &str = "TANDEM_TEST_MONGODB_URI";

/// Whether the tests run in CI (`CI` set to anything but empty, `0` or `false`).
pub fn in_ci() -> bool {
    ci_value(std::env::var("CI").ok().as_deref())
}

fn ci_value(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        let v = v.trim();
        !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
    })
}

/// The test server's connection string, or `None` (after printing why `what` is skipped)
/// when none is configured.
///
/// # Panics
///
/// When no server is configured and [`in_ci`]: the MongoDB suites must run in CI.
pub fn test_uri(what: &str) -> Option<String> {
    let uri = std::env::var(URI_VAR).ok().filter(|u| !u.trim().is_empty());
    decide(uri, in_ci(), what)
}

fn decide(uri: Option<String>, ci: bool, what: &str) -> Option<String> {
    match uri {
        Some(uri) => Some(uri),
        None if ci => panic!(
            "{URI_VAR} is not set but CI is: {what} must run against a MongoDB server \
             (scripts/test starts one)"
        ),
        None => {
            eprintln!("{URI_VAR} is not set: skipping {what} (scripts/test runs it)");
            None
        }
    }
}

/// A [`MongoStore`] on a fresh database of the test server (with the database guard that
/// drops it), or `None` when `what` is skipped (see [`test_uri`]).
///
/// # Panics
///
/// When the server is configured but the store cannot connect.
pub async fn test_store(what: &str, mode: CommitMode) -> Option<(MongoStore, TestDatabase)> {
    let uri = test_uri(what)?;
    let database = TestDatabase::new(&uri);
    let store = MongoStore::connect_with(&uri, database.name(), mode)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "connecting to {URI_VAR} (database {}): {e}",
                database.name()
            )
        });
    Some((store, database))
}

/// A fresh database name, `tandem_test_<uuid>`.
pub fn unique_database_name() -> String {
    format!("tandem_test_{}", uuid::Uuid::new_v4().simple())
}

/// A uniquely named database on the test server, dropped when this value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    uri: String,
    name: String,
    keep: std::sync::atomic::AtomicBool,
}

impl TestDatabase {
    /// A new database name on the server at `uri` (nothing is created until used).
    pub fn new(uri: &str) -> Self {
        Self {
            uri: uri.to_owned(),
            name: unique_database_name(),
            keep: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Leaves the database in place when dropped. For scenarios that SIGKILL a process
    /// using it: a transaction the process left open holds its writes until the server
    /// aborts it (mongod: `transactionLifetimeLimitSeconds`, 60 s), and SecantusDB 0.7's
    /// `dropDatabase` spins on such writes while holding its global lock, which stalls the
    /// whole test server. The in-memory test server is discarded at the end of the run.
    pub fn keep(&self) {
        self.keep.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The server's connection string.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many inbound records the database holds (to check that a process used it).
    ///
    /// # Panics
    ///
    /// When the server cannot be asked, or does not answer within 30 s.
    pub async fn inbound_records(&self) -> u64 {
        let count = tokio::time::timeout(Duration::from_secs(30), async {
            let client = Client::with_uri_str(&self.uri)
                .await
                .expect("a client for the test server");
            let count = client
                .database(&self.name)
                .collection::<bson::Document>("inbound")
                .count_documents(bson::doc! {})
                .await
                .expect("counting inbound records");
            client.shutdown().immediate(true).await;
            count
        })
        .await;
        count.unwrap_or_else(|_| {
            panic!(
                "the test server did not count the inbound records of {} within 30 s",
                self.name
            )
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.keep.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let uri = self.uri.clone();
        let name = self.name.clone();
        // On a thread of its own with its own runtime: works from any runtime flavor and
        // from outside one.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let drop = async {
                let mut options = ClientOptions::parse(&uri)
                    .await
                    .map_err(|e| e.to_string())?;
                options
                    .server_selection_timeout
                    .get_or_insert(Duration::from_secs(5));
                let client = Client::with_options(options).map_err(|e| e.to_string())?;
                let result = client.database(&name).drop().await;
                client.shutdown().immediate(true).await;
                result.map_err(|e| e.to_string())
            };
            // A server that stops answering must not hang the test that used it.
            runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(30), drop)
                    .await
                    .unwrap_or_else(|_| Err("no answer within 30 s".to_owned()))
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("could not drop test database {}: panicked", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_values() {
        assert!(ci_value(Some("true")));
        assert!(ci_value(Some("1")));
        assert!(!ci_value(Some("false")));
        assert!(!ci_value(Some("0")));
        assert!(!ci_value(Some("")));
        assert!(!ci_value(None));
    }

    #[test]
    fn a_configured_server_is_used() {
        assert_eq!(
            decide(Some("mongodb://h".into()), true, "x").as_deref(),
            Some("mongodb://h")
        );
    }

    #[test]
    fn outside_ci_a_missing_server_skips() {
        assert_eq!(decide(None, false, "the suite"), None);
    }

    #[test]
    #[should_panic(expected = "must run against a MongoDB server")]
    fn in_ci_a_missing_server_fails() {
        decide(None, true, "the suite");
    }
}
