//! A `tandem` binary with one more channel kind and one more desk kind: everything the
//! stock binary does (`serve`, `check`, `policy test`), plus `[channels.echo]` from the
//! echo-channel example and `[desks.echo]` from the echo-desk example.
//!
//! `cargo run -p tandem-example-custom-binary -- check --config my.toml` checks `echo`
//! tables like any built-in one.

fn main() -> std::process::ExitCode {
    let mut registry = tandem_server::registry::Registry::builtin();
    registry.channel::<tandem_example_echo_channel::Echo>();
    registry.desk::<tandem_example_echo_desk::EchoDesk>();
    tandem_server::cli::main_with(registry)
}
