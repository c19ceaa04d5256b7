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
