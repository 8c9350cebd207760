//! provider-app's integration tests, as one test binary (one link instead of two; see
//! test-kit/README.md).

mod bad_input;
mod service;

const BIN: &str = env!("CARGO_BIN_EXE_provider-app");
