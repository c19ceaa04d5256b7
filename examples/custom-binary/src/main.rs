//! A `tandem` binary with one more channel kind: everything the stock binary does
//! (`serve`, `check`, `policy test`), plus `[channels.echo]` from the echo-channel example.
//!
//! `cargo run -p tandem-example-custom-binary -- check --config my.toml` checks an `echo`
//! table like any built-in one.

fn main() -> std::process::ExitCode {
    let mut registry = tandem_server::registry::Registry::builtin();
    registry.channel::<tandem_example_echo_channel::Echo>();
    tandem_server::cli::main_with(registry)
}
