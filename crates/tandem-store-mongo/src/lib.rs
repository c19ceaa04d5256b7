//! The MongoDB store for Tandem, on the official `mongodb` driver.
//!
//! [`MongoStore`] implements [`tandem_core::store::Store`]. [`MongoStore::connect`] checks
//! the server, creates the collections and their indexes (idempotently, at every start),
//! finishes work a stopped process left behind and detects whether the deployment has
//! multi-document transactions. MongoDB 5.0 or newer is expected.
//!
//! # Layout
//!
//! Each area trait of the store is implemented in one module whose methods hold the
//! queries: `inbound` (`InboundLog`, and the counters handing out `seq`s), `graph`
//! (`Identities`: customers, profiles and events, the verified identity graph, link
//! codes), `turns` (`Conversations`: conversations, transcript and `commit_turn`), `outbox`
//! (`WorkQueue`: outbox, timers, delivery reports, reachability), `reporting`
//! (`Reporting`), `routing` (`Routing`) and `shared` (`KeyValue`: leases, notifications,
//! the send budgets of `pacing`, the key-value space). `docs` holds the document shapes,
//! `schema` the collections and their indexes, `maintenance` the repairs run at connect
//! and from `claim_outbox`, `error` the mapping of driver errors. Every method runs under
//! [`StoreOptions::operation_timeout`].
//!
//! # Collections
//!
//! Every document carries `schema_version`; timestamps are BSON `DateTime`s (milliseconds,
//! the core's precision). The shapes live in one module (`docs`), one `*Doc` type per
//! collection.
//!
//! | collection | `_id` | indexes (access path) |
//! | --- | --- | --- |
//! | `inbound` | `seq` (from the `counters` document `inbound_seq`, one atomic `$inc`) | unique `(channel, platform_message_id)` (dedupe); `(processed, _id)` partial on `processed: false` (pending, in `seq` order); TTL on `processed_at` ([`StoreOptions::inbound_retention`]) |
//! | `counters` | counter name | — |
//! | `customers` | customer id | — (by id) |
//! | `identities` | ObjectId | unique `(channel, subject)`; `(customer_id, created_at, _id)` (a customer's identities, oldest first); `email_folded` (customers by verified email); `phone` (by verified phone) |
//! | `conversations` | conversation id | unique `customer_id` partial on `status: "open"` (one open conversation per customer); `(customer_id, opened_at, _id)` (a customer's conversations, newest first); `journal.started_at` (unapplied turn journals) |
//! | `transcript` | message id | unique `(conversation_id, seq)` (the newest N of a conversation); `(customer_id, at)` (a customer's transcript across channels) |
//! | `escalations` | escalation id | `(conversation_id, at, ord)`; counts per label are an `$unwind` of each event's distinct `labels` |
//! | `ai_audit` | AI audit record id | `(conversation_id, at, ord)` (a conversation's records, newest N) |
//! | `outbox` | outbox id | `(head, due_at)` partial on `head: true` (claiming, next due time); `(conversation_id, message.channel, ord)` partial on `unfinished: true` (a conversation's oldest unfinished entry for one destination); `(conversation_id, ord)` partial on `unfinished: true` (depth); `(message.channel, platform_message_id)` and `(message.channel, message.recipient, finished_at)` partial on sent (delivery reports) |
//! | `kv` | ObjectId | unique `(namespace, key)` |
//! | `customer_events` | event id (idempotency key) | `(customer_id, at, _id)` |
//! | `reachability` | ObjectId | unique `(channel, subject)` |
//! | `link_codes` | `_id` = code | TTL on `expires_at` (identity linking codes); `(customer_id, expires_at)` (a customer's active codes) |
//! | `verified_keys` | the key (`email:e@x.org`, `phone:+1555...`): one holder per verified key | `customer_id` |
//! | `identity_audit` | entry id (`mrg_...`, `unm_...`, ...) | `(customer_id, at)`, `(other_customer_id, at)`; `applied` partial on `false` (unapplied merge journals) |
//! | `suggested_links` | `customer|other|key` | `customer_id`, `other_customer_id` |
//! | `agents` | agent id | unique `active` partial on `load > 0` (one holder per handoff); `(skills, status, load)` (claims: `findOneAndUpdate` on `load < capacity`, sorted by load) |
//! | `handoff_queue` | handoff id | `(rank, queued_at, _id)` (waiting handoffs, priority then age) |
//! | `timers` | timer key | `available_at` (due or lease expired) |
//! | `leases` | lease name | — (by id; `try_lease` is one upsert, see `shared.rs`) |
//! | `notifications` | `seq` (counter `notification_seq`) | TTL on `at` (10 min); followed by a change stream, or polled by `_id` (see `shared.rs`) |
//! | `pacing` | budget key (`channel:<id>`, `recipient:<id>:<hash>`) | TTL on `expires_at` (a budget in use; see `pacing.rs`) |
//!
//! **Outbox order.** Only the oldest unfinished entry of a conversation for one
//! destination (`message.channel`: the customer's channel, or `desk:<id>`) may be claimed,
//! so a desk being retried never holds back the customer's replies, nor the reverse.
//! That entry carries `head: true` and a `due_at` (its next attempt while pending, its
//! lease expiry while in flight); a claim is one atomic `findOneAndUpdate` on a due head
//! that sets a fresh claim token and moves `due_at` to the lease expiry, so two claimers
//! never get the same entry. After entries are inserted and after an entry finishes, the
//! oldest unfinished entry (smallest `ord`) of that conversation and destination is marked
//! head. This can never
//! mark a wrong entry: entries of a conversation become visible in `ord` order (turns
//! commit one at a time per conversation, and a turn's entries are all inserted before
//! the next turn can commit), and a finished entry never becomes unfinished, so an entry
//! that is the oldest unfinished one stays so until it finishes. A process dying between
//! a write and the promotion leaves a destination without a head; maintenance (at
//! connect and every 30 s from `claim_outbox`) finds such (conversation, destination)
//! pairs and promotes. A live writer leaves a pair headless for an instant too (between
//! its commit and the promotion), so a periodic run promotes only the pairs the run
//! before also found headless (the run at connect promotes at once); a warning then
//! means a writer really stopped.
//!
//! # Atomicity of `commit_turn`
//!
//! A turn writes several documents: the inbound record (processed), the conversation
//! (version-checked), transcript entries, escalation events and outbox entries.
//!
//! **Replica set or sharded cluster** (detected with `hello`: `setName`, or
//! `msg: "isdbgrid"`): the turn is one multi-document transaction (snapshot read concern,
//! majority write concern), retried on transient errors. All of it or nothing, for
//! readers too. This is the recommended production deployment.
//!
//! **Standalone server** (no transactions): the turn is committed by a single-document
//! update, then applied:
//!
//! 1. the conversation is read (a journal an earlier turn left unapplied is applied
//!    first); the inbound record must exist and be unprocessed ([`StoreError::AlreadyProcessed`]
//!    otherwise), the stored version must be the turn's, and none of the turn's transcript
//!    entries, escalation ids or outbox ids may exist ([`StoreError::Conflict`] otherwise);
//! 2. **commit point**: one atomic update of the conversation document, filtered on
//!    `version` and on having no journal, stores the new record, bumps the version and
//!    writes a *journal* holding everything else the turn writes. Of concurrent turns at
//!    one version exactly one passes this filter; the others are `Conflict` and wrote
//!    nothing;
//! 3. the journal is applied with idempotent writes (inbound record marked processed,
//!    inserts that skip documents already present, head promotion) and then removed.
//!
//! Guarantees on a standalone server:
//!
//! - a refused turn (`Conflict`, `AlreadyProcessed`) has written nothing;
//! - a committed turn is applied completely, exactly once, even if its process dies
//!   after step 2: the next turn of the conversation, or maintenance (at connect and
//!   every 30 s from `claim_outbox`), applies the journal. A `commit_turn` that returns
//!   [`StoreError::Unavailable`] may therefore have committed; retrying it then yields
//!   `AlreadyProcessed` (or `Conflict` for a turn without an inbound record), as after a
//!   lost reply in a transaction;
//! - the next turn of a conversation commits only after the previous one is fully
//!   applied, so transcript and outbox order per conversation hold.
//!
//! Not guaranteed on a standalone server: readers may briefly see a committed
//! conversation record (new version) before its transcript entries and outbox entries
//! exist, and its inbound record still pending; and the inbound check of step 1 is not
//! atomic with the commit, so a `mark_inbound_processed` or a turn of *another*
//! conversation for the same inbound record racing with the turn can both succeed (the
//! core processes each inbound record from one place, so this needs a bug or an
//! operator's intervention); likewise an id (message, escalation, outbox) reused by a
//! concurrent turn of another conversation is skipped when the journal is applied instead
//! of refusing the turn (ids are generated unique, so this too needs a bug). Turns of the
//! same conversation are always serialized by the version.
//!
//! **Identity graph** (`graph` module): verified keys are unique by `_id`, so concurrent
//! resolutions carrying one key end with one customer; merges write their audit entry as a
//! journal (`applied: false`) before moving anything with idempotent updates, and
//! maintenance finishes journals whose writer stopped. Merges, unmerges and erasures are
//! not atomic for readers (they may see one half-applied) on any deployment.
//!
//! Other multi-document writes do not need transactions: `resolve_customer` inserts the
//! customer, then the identity (unique index); a lost race deletes its orphan customer.
//! `open_conversation` relies on the unique partial index. Outbox claims and finishes are
//! single-document updates followed by an idempotent head promotion.
//!
//! # Errors
//!
//! Server selection, network and other server failures are [`StoreError::Unavailable`];
//! duplicate keys (E11000) are [`StoreError::Conflict`]; a document that does not decode
//! or has a newer `schema_version` is [`StoreError::Corrupt`]. Nothing panics on stored
//! data.
//!
//! Indexes an earlier version created and a later one replaced are dropped at connect
//! (`schema::OBSOLETE_INDEXES`). `docs/MONGODB.md` says how all this is tested (against
//! SecantusDB) and `docs/DEPLOYMENT.md` how to deploy it.
//!
//! # Durability
//!
//! Unless the connection string sets a write concern, writes are acknowledged once in the
//! server's on-disk journal (`j: true`), on a replica set by a majority of members
//! (`w: "majority"`), so every acknowledged write is durable and
//! [`Store::flush`] has nothing to wait for.

mod docs;
mod error;
#[cfg(all(test, feature = "testing"))]
mod explain_tests;
mod graph;
mod inbound;
mod maintenance;
mod outbox;
mod pacing;
mod reporting;
mod routing;
mod schema;
mod shared;
#[cfg(feature = "testing")]
pub mod testing;
mod turns;

use async_trait::async_trait;
use bson::doc;
use mongodb::options::{Acknowledgment, ClientOptions, DatabaseOptions, WriteConcern};
use mongodb::{Client, Database};
use schema::{Collections, Deployment};
use std::time::Duration;
use tandem_core::store::{Store, StoreError};

/// How long an operation waits for a usable server unless the connection string says
/// otherwise (`serverSelectionTimeoutMS`).
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// How `commit_turn` makes a turn atomic (see the crate docs, "Atomicity").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitMode {
    /// Transactions when the deployment supports them, the turn journal otherwise.
    #[default]
    Auto,
    /// Always transactions; connecting to a standalone server fails.
    Transactions,
    /// Always the turn journal (to exercise the standalone path on a replica set).
    Journal,
}

/// How long a processed inbound record, and so its dedupe key, is kept by default: longer
/// than any platform retries a webhook (Meta: up to 7 days).
pub const DEFAULT_INBOUND_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Settings of a [`MongoStore`] beyond its connection string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// How turns are made atomic.
    pub commit: CommitMode,
    /// How long processed inbound records (the dedupe keys of received messages) are
    /// kept before the TTL index removes them; a platform redelivering a message later
    /// than that gets it processed again.
    pub inbound_retention: Duration,
    /// The longest one store operation may take before it fails as
    /// [`StoreError::Unavailable`] (the Rust driver has no socket or operation timeout, so
    /// a server that accepts a request and never answers would otherwise stall its caller
    /// forever). Also bounds connecting, index creation and start-up maintenance.
    pub operation_timeout: Duration,
}

/// The default [`StoreOptions::operation_timeout`]: far above a healthy operation (a turn's
/// transaction retries conflicts for 5 s), short enough that a stalled server is noticed.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            commit: CommitMode::Auto,
            inbound_retention: DEFAULT_INBOUND_RETENTION,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
        }
    }
}

/// The MongoDB implementation of [`Store`]. Cheap to share behind an `Arc`; the driver
/// pools connections.
pub struct MongoStore {
    client: Client,
    db: Database,
    c: Collections,
    deployment: Deployment,
    transactions: bool,
    maintenance: maintenance::Schedule,
    operation_timeout: Duration,
}

impl std::fmt::Debug for MongoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoStore")
            .field("database", &self.db.name())
            .field("deployment", &self.deployment)
            .field("transactions", &self.transactions)
            .finish_non_exhaustive()
    }
}

impl MongoStore {
    /// Connects to `uri` (a MongoDB connection string) and uses database `database`:
    /// checks the server answers, creates collections and indexes, applies work a stopped
    /// process left behind, and picks transactions when the deployment has them.
    pub async fn connect(uri: &str, database: &str) -> Result<MongoStore, StoreError> {
        Self::connect_with(uri, database, CommitMode::Auto).await
    }

    /// [`MongoStore::connect`] with an explicit [`CommitMode`].
    pub async fn connect_with(
        uri: &str,
        database: &str,
        mode: CommitMode,
    ) -> Result<MongoStore, StoreError> {
        let options = StoreOptions {
            commit: mode,
            ..StoreOptions::default()
        };
        Self::connect_with_options(uri, database, options).await
    }

    /// [`MongoStore::connect`] with explicit [`StoreOptions`].
    pub async fn connect_with_options(
        uri: &str,
        database: &str,
        store_options: StoreOptions,
    ) -> Result<MongoStore, StoreError> {
        // Server selection has its own timeout; this bounds a server that accepts and then
        // never answers (ping, index builds, start-up maintenance).
        let limit = store_options.operation_timeout.saturating_mul(2);
        tokio::time::timeout(limit, Self::connect_unbounded(uri, database, store_options))
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(format!(
                    "the MongoDB server did not finish connecting within {} s",
                    limit.as_secs()
                )))
            })
    }

    async fn connect_unbounded(
        uri: &str,
        database: &str,
        store_options: StoreOptions,
    ) -> Result<MongoStore, StoreError> {
        let mode = store_options.commit;
        if database.is_empty() {
            return Err(StoreError::Unavailable(
                "the MongoDB database name is empty".to_owned(),
            ));
        }
        check_connection_string(uri).map_err(StoreError::Unavailable)?;
        let mut options = ClientOptions::parse(uri).await.map_err(|e| {
            StoreError::Unavailable(format!("invalid MongoDB connection string: {}", e.kind))
        })?;
        options.app_name.get_or_insert_with(|| "tandem".to_owned());
        options
            .server_selection_timeout
            .get_or_insert(SERVER_SELECTION_TIMEOUT);
        let uri_sets_write_concern = options.write_concern.is_some();
        let client = Client::with_options(options).map_err(error::classify)?;
        let probe = client.database(database);
        probe
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(error::classify)?;
        let deployment = schema::detect(&probe).await?;
        let db = if uri_sets_write_concern {
            probe
        } else {
            let write_concern = default_write_concern(deployment);
            client.database_with_options(
                database,
                DatabaseOptions::builder()
                    .write_concern(write_concern)
                    .build(),
            )
        };
        let transactions = match mode {
            CommitMode::Auto => deployment.supports_transactions(),
            CommitMode::Journal => false,
            CommitMode::Transactions if deployment.supports_transactions() => true,
            CommitMode::Transactions => {
                return Err(StoreError::Unavailable(
                    "transactions were required but the MongoDB server is standalone; \
                     run a replica set"
                        .to_owned(),
                ));
            }
        };
        schema::ensure_indexes(&db, store_options.inbound_retention).await?;
        let c = Collections::new(&db);
        inbound::align_inbound_counter(&c).await?;
        maintenance::run(&c, Duration::ZERO, None).await?;
        if !transactions {
            tracing::warn!(
                database,
                "MongoDB without transactions (standalone server): turns commit through a \
                 journal; run a replica set in production."
            );
        }
        tracing::debug!(
            database,
            ?deployment,
            transactions,
            "Connected the MongoDB store."
        );
        Ok(MongoStore {
            client,
            db,
            c,
            deployment,
            transactions,
            maintenance: maintenance::Schedule::starting_now(),
            operation_timeout: store_options.operation_timeout,
        })
    }

    /// Runs one store operation on the collections under
    /// [`StoreOptions::operation_timeout`]. Dropping a driver future mid-operation is safe:
    /// its connection is discarded, and a transaction left open is aborted by the server
    /// (mongod: `transactionLifetimeLimitSeconds`).
    async fn bounded<T>(
        &self,
        operation: impl AsyncFnOnce(&Collections) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.operation_timeout, operation(&self.c))
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(format!(
                    "the MongoDB server did not answer within {} s",
                    self.operation_timeout.as_secs()
                )))
            })
    }

    /// Whether turns commit in multi-document transactions (replica set or sharded
    /// cluster) rather than through the turn journal.
    pub fn uses_transactions(&self) -> bool {
        self.transactions
    }

    /// The database (for tests and operator tooling, e.g. dropping a test database).
    pub fn database(&self) -> &Database {
        &self.db
    }

    async fn maintain_if_due(&self) {
        if self.maintenance.take_due()
            && let Err(e) =
                maintenance::run(&self.c, maintenance::JOURNAL_GRACE, Some(&self.maintenance)).await
        {
            tracing::warn!(error = %e, "MongoDB store maintenance failed; retrying later.");
        }
    }
}

/// Checks a connection string without connecting or resolving anything: the scheme
/// (`mongodb://`, or `mongodb+srv://` with the `dns-srv` feature: one host name, no port),
/// hosts, credentials and options. `Err` says what is wrong (never the password).
pub fn check_connection_string(uri: &str) -> Result<(), String> {
    let uri = uri.trim();
    if uri.starts_with("mongodb+srv://") && !cfg!(feature = "dns-srv") {
        return Err(
            "mongodb+srv:// connection strings need the `dns-srv` feature of \
                    tandem-store-mongo; enable it or list the hosts with mongodb://"
                .to_owned(),
        );
    }
    mongodb::options::ConnectionString::parse(uri)
        .map(drop)
        .map_err(|e| format!("invalid MongoDB connection string: {}", e.kind))
}

/// The write concern used unless the connection string sets one: journaled, and on a
/// replica set or sharded cluster acknowledged by a majority.
fn default_write_concern(deployment: Deployment) -> WriteConcern {
    let builder = WriteConcern::builder().journal(true);
    if deployment.supports_transactions() {
        builder.w(Acknowledgment::Majority).build()
    } else {
        builder.w(Acknowledgment::Nodes(1)).build()
    }
}

#[async_trait]
impl Store for MongoStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.bounded(async |_| {
            self.db
                .run_command(doc! { "ping": 1 })
                .await
                .map_err(error::classify)?;
            Ok(())
        })
        .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.bounded(async |_| {
            // Acknowledged writes are journaled (see "Durability"), and `commit_turn` returns
            // after applying its journal: nothing is buffered here.
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that accepts connections and never answers (a hung mongod, a half-open
    /// connection through a proxy) fails the caller within the limit instead of hanging it.
    #[tokio::test]
    async fn a_server_that_never_answers_fails_within_the_operation_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let options = StoreOptions {
            operation_timeout: Duration::from_millis(500),
            ..StoreOptions::default()
        };
        let started = std::time::Instant::now();
        let result = MongoStore::connect_with_options(
            &format!("mongodb://127.0.0.1:{port}/?directConnection=true"),
            "tandem_hang",
            options,
        )
        .await;
        let Err(StoreError::Unavailable(message)) = result else {
            panic!("connecting to a silent server must fail as unavailable");
        };
        assert!(message.contains("within 1 s"), "{message}");
        assert!(started.elapsed() < SERVER_SELECTION_TIMEOUT, "{message}");
    }

    #[cfg(feature = "dns-srv")]
    #[test]
    fn srv_connection_strings_parse_without_dns() {
        // The form Atlas shows, and one with a service name and a host limit.
        for uri in [
            "mongodb+srv://tandem:s3cr%40t@cluster0.ab1cd.mongodb.net/?retryWrites=true&w=majority&appName=Cluster0",
            "mongodb+srv://db.example.org/tandem?srvServiceName=mongo&srvMaxHosts=2&tls=true",
        ] {
            assert_eq!(check_connection_string(uri), Ok(()), "{uri}");
        }
        for (uri, says) in [
            ("mongodb+srv://cluster0.example.net:27017/", "port"),
            (
                "mongodb+srv://a.example.net,b.example.net/",
                "exactly one host",
            ),
            ("mongodb://h1:27017/?srvMaxHosts=2", "srvMaxHosts"),
            (
                "mongodb+srv://c.example.net/?srvMaxHosts=2&replicaSet=rs0",
                "srvMaxHosts",
            ),
        ] {
            let error = check_connection_string(uri).expect_err(uri);
            assert!(error.contains(says), "{uri}: {error}");
        }
    }

    #[test]
    fn connection_strings_are_checked_and_passwords_not_echoed() {
        assert_eq!(
            check_connection_string("mongodb://h1:27017,h2:27017/?replicaSet=rs0&w=majority"),
            Ok(())
        );
        for (uri, says) in [
            ("postgres://localhost/db", "scheme"),
            ("localhost:27017", "scheme"),
            ("mongodb://user:hunter2@h:notaport/", "port"),
            (
                "mongodb://user:hunter2@h/?connectTimeoutMS=soon",
                "connecttimeoutms",
            ),
        ] {
            let error = check_connection_string(uri).expect_err(uri);
            assert!(error.to_lowercase().contains(says), "{uri}: {error}");
            assert!(!error.contains("hunter2"), "{uri}: {error}");
        }
    }

    #[test]
    fn default_write_concern_is_durable() {
        let standalone = default_write_concern(Deployment::Standalone);
        assert_eq!(standalone.journal, Some(true));
        assert_eq!(standalone.w, Some(Acknowledgment::Nodes(1)));
        let replicated = default_write_concern(Deployment::ReplicaSet);
        assert_eq!(replicated.journal, Some(true));
        assert_eq!(replicated.w, Some(Acknowledgment::Majority));
        assert_eq!(
            default_write_concern(Deployment::Sharded).w,
            Some(Acknowledgment::Majority)
        );
    }
}
