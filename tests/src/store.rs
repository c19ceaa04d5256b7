//! The store a started binary uses: the embedded SQLite store (what a config without
//! `[store]` gets), or MongoDB on the test server (`TANDEM_TEST_MONGODB_URI`, see
//! `tandem_store_mongo::testing`) with a database of its own, dropped afterwards.

use tandem_store_mongo::testing::{TestDatabase, test_uri};

/// Which store a scenario's binary runs on.
#[derive(Debug)]
pub enum TestStore {
    /// The config's own `[store]` (SQLite under the data folder unless it says otherwise).
    Default,
    /// `[store] kind = "mongodb"` on a fresh database of the test server.
    MongoDb(TestDatabase),
}

impl TestStore {
    /// MongoDB for `scenario`, or `None` after printing that it is skipped when no test
    /// server is configured (under `CI=true` that panics instead).
    pub fn mongodb(scenario: &str) -> Option<TestStore> {
        let uri = test_uri(&format!("the MongoDB e2e scenario {scenario}"))?;
        Some(TestStore::MongoDb(TestDatabase::new(&uri)))
    }

    /// Asserts that a binary started with [`TestStore::config`] recorded messages in its
    /// MongoDB database (nothing to check for the default store).
    pub async fn assert_used(&self) {
        if let TestStore::MongoDb(db) = self {
            assert!(
                db.inbound_records().await > 0,
                "no inbound record in MongoDB database {}: the binary did not use it",
                db.name()
            );
        }
    }

    /// Whether this is MongoDB on the test server.
    pub fn is_mongodb(&self) -> bool {
        matches!(self, TestStore::MongoDb(_))
    }

    /// Call before SIGKILLing a binary on this store: the MongoDB database is then kept
    /// rather than dropped afterwards (see [`TestDatabase::keep`]).
    pub fn before_kill9(&self) {
        if let TestStore::MongoDb(db) = self {
            db.keep();
        }
    }

    /// `config` with its `[store]` table replaced by this store's.
    ///
    /// # Panics
    ///
    /// When `config` is not valid TOML (a test bug).
    pub fn config(&self, config: &str) -> String {
        let TestStore::MongoDb(db) = self else {
            return config.to_owned();
        };
        let mut table: toml::Table = config.parse().expect("the test config is TOML");
        let mut store = toml::Table::new();
        store.insert("kind".into(), "mongodb".into());
        store.insert("uri".into(), db.uri().into());
        store.insert("database".into(), db.name().into());
        table.insert("store".into(), toml::Value::Table(store));
        toml::to_string(&table).expect("a TOML table serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_store_keeps_the_config() {
        let config = "[store]\nkind = \"sqlite\"\n\n[channels.webchat]\n";
        assert_eq!(TestStore::Default.config(config), config);
    }

    #[test]
    fn mongodb_replaces_the_store_table_and_keeps_the_rest() {
        let store = TestStore::MongoDb(TestDatabase::new("mongodb://127.0.0.1:1"));
        let config = "identity = 1\n[store]\nkind = \"sqlite\"\npath = \"x.db\"\n\n\
                      [channels.webchat]\nidentity_secret = \"s\"\n";
        let out: toml::Table = store.config(config).parse().unwrap();
        assert_eq!(out["store"]["kind"].as_str(), Some("mongodb"));
        assert_eq!(out["store"]["uri"].as_str(), Some("mongodb://127.0.0.1:1"));
        assert!(
            out["store"]["database"]
                .as_str()
                .is_some_and(|d| d.starts_with("tandem_test_"))
        );
        assert!(out["store"].get("path").is_none());
        assert_eq!(
            out["channels"]["webchat"]["identity_secret"].as_str(),
            Some("s")
        );
        assert_eq!(out["identity"].as_integer(), Some(1));
        // No server listens there: skip the drop's attempt to remove the database.
        std::mem::forget(store);
    }
}
