//! Statement statistics, for profiling and for the test that the hot queries use indexes.
//!
//! Off by default (no cost). [`enable`] (or `TANDEM_SQLITE_STATS=1` in the environment
//! when the store opens) installs a SQLite profile hook on every connection the store
//! opens afterwards; each finished statement adds to its totals: runs, time, and the
//! highest full-scan step count seen (rows stepped through by a table or index scan rather
//! than a seek; SQLite counts them per prepared statement over its life, and cached
//! statements live long, so this is a "did it ever scan, and how much" figure, not a per-run
//! one). [`snapshot`] reads them; [`report`] formats the busiest ones. The registry is
//! process-wide because SQLite's hook is a plain function.

use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::{Connection, StatementStatus};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);
static STATS: Mutex<Option<HashMap<String, Totals>>> = Mutex::new(None);

/// Totals of one statement (by its SQL text, parameters unexpanded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Times it ran to completion (or was reset).
    pub runs: u64,
    /// Time spent, all runs, in nanoseconds.
    pub nanos: u64,
    /// The highest full-scan step count of one prepared instance (cumulative over its life).
    pub fullscan_steps: u64,
}

/// Records statements of connections opened from now on.
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

/// Whether recording is on (`enable`, or `TANDEM_SQLITE_STATS=1`).
pub fn enabled() -> bool {
    if std::env::var_os("TANDEM_SQLITE_STATS").is_some_and(|v| v == "1") {
        enable();
    }
    ENABLED.load(Ordering::SeqCst)
}

/// Installs the hook on `conn` when recording is on.
pub(crate) fn install(conn: &Connection) {
    if enabled() {
        conn.trace_v2(TraceEventCodes::SQLITE_TRACE_PROFILE, Some(on_event));
    }
}

fn on_event(event: TraceEvent<'_>) {
    if let TraceEvent::Profile(stmt, took) = event {
        let sql = stmt.sql().into_owned();
        let scan = stmt.get_status(StatementStatus::FullscanStep).max(0) as u64;
        let mut guard = STATS.lock().unwrap_or_else(|e| e.into_inner());
        let t = guard
            .get_or_insert_with(HashMap::new)
            .entry(sql)
            .or_default();
        t.runs += 1;
        t.nanos += u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        t.fullscan_steps = t.fullscan_steps.max(scan);
    }
}

/// The totals so far, per statement.
pub fn snapshot() -> HashMap<String, Totals> {
    STATS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

/// Forgets the totals so far.
pub fn reset() {
    *STATS.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// The `top` statements by time spent, one per line: runs, total ms, µs per run, scan
/// steps, SQL (on one line, shortened).
pub fn report(top: usize) -> String {
    let mut all: Vec<(String, Totals)> = snapshot().into_iter().collect();
    all.sort_by_key(|(_, t)| std::cmp::Reverse(t.nanos));
    let mut out = String::from("runs\ttotal ms\tµs/run\tscan steps\tstatement\n");
    for (sql, t) in all.into_iter().take(top) {
        let one_line: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        let short: String = one_line.chars().take(160).collect();
        out.push_str(&format!(
            "{}\t{:.1}\t{:.1}\t{}\t{short}\n",
            t.runs,
            t.nanos as f64 / 1e6,
            t.nanos as f64 / 1e3 / t.runs.max(1) as f64,
            t.fullscan_steps
        ));
    }
    out
}
