//! Giving freed memory back to the system.
//!
//! The `tandem` binary allocates with jemalloc. Without help, an allocator keeps memory
//! freed by closed connections for reuse, so after a burst of 10,000 WebSockets the
//! process stays as large as at the peak. jemalloc's background thread returns freed
//! pages to the system after its decay time (10 s) even while Tandem is idle.

/// Turns on jemalloc's background purging thread. Does nothing (but log at debug) when
/// the allocator in use is not jemalloc or refuses.
pub fn give_back_freed_memory() {
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::debug!(error = %e, "jemalloc background thread not enabled.");
    }
}

/// The allocator's view of the heap: bytes in live objects and bytes of pages it keeps
/// resident (`stats.allocated`, `stats.resident`). `None` when jemalloc is not the global
/// allocator (its statistics would then describe an unused heap) or refuses.
pub fn allocator_stats() -> Option<(u64, u64)> {
    use tikv_jemalloc_ctl::{epoch, stats};
    epoch::advance().ok()?;
    let allocated = stats::allocated::read().ok()? as u64;
    let resident = stats::resident::read().ok()? as u64;
    // In a binary that allocates with something else, jemalloc has served nothing.
    (allocated > 0).then_some((allocated, resident))
}
