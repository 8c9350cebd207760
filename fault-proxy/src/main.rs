use std::process::ExitCode;

use clap::Parser;
use fault_proxy::{Cli, Failure, TOXIPROXY_VERSION, normalise, run};
use tracing_subscriber::EnvFilter;

/// Toxiproxy's `LOG_LEVEL` (zerolog's level names) or `RUST_LOG`; info by default.
fn init_logging() {
    let level = std::env::var("LOG_LEVEL")
        .ok()
        .map(|l| match l.to_ascii_lowercase().as_str() {
            "fatal" | "panic" => "error".to_string(),
            "disabled" => "off".to_string(),
            other => other.to_string(),
        });
    let filter = level
        .and_then(|l| EnvFilter::try_new(l).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(normalise(std::env::args_os())) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if cli.version == Some(true) {
        println!(
            "toxiproxy-server version {TOXIPROXY_VERSION} (fault-proxy {})",
            env!("CARGO_PKG_VERSION")
        );
        return ExitCode::SUCCESS;
    }
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ Failure::Usage(_)) => {
            eprintln!("fault-proxy: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("fault-proxy: {e}");
            ExitCode::from(1)
        }
    }
}
