//! The `tandem` binary. Everything lives in the library; see `cli.rs`.

fn main() -> std::process::ExitCode {
    tandem_server::cli::main()
}
