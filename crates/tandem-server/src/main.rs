//! The `tandem` binary. Everything lives in the library; see `cli.rs`.

/// jemalloc instead of the system allocator, with its background thread purging freed
/// pages (see [`tandem_server::memory`]): glibc's malloc keeps what thousands of closed
/// WebSocket connections used (docs/BENCHMARKS.md, "Memory per web chat socket").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    tandem_server::memory::give_back_freed_memory();
    tandem_server::cli::main()
}
