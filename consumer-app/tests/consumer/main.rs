//! consumer-app's integration tests, as one test binary (one link instead of five; see
//! test-kit/README.md), with the helpers its modules share.

mod bad_input;
mod body_limit;
mod resilience;
mod retries;
mod service;

use std::path::PathBuf;

use test_kit::service::{free_port, sibling_binary};

const CONSUMER: &str = env!("CARGO_BIN_EXE_consumer-app");

fn provider_bin() -> PathBuf {
    sibling_binary(CONSUMER, "provider-app")
}

/// A URL where no provider listens.
fn stopped_provider_url() -> String {
    format!("http://127.0.0.1:{}/", free_port())
}
