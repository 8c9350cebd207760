//! The one test kit: every crate's integration tests use these helpers (as a
//! dev-dependency only; nothing in a product binary depends on this crate).
//!
//! - [`tier`]: what a test of a tier beyond the local one needs, or a panic saying how
//!   to get it. Such tests are `#[ignore = "<tier> tier: ..."]`: cargo's summary counts
//!   them as ignored, and `cargo xtask test` runs each tier whose pieces it could set up.
//! - [`repo`]: the checkout's root and the built binaries.
//! - [`kube`]: the pinned kubectl and the lock on the control plane's node port.
//! - [`service`]: provider-app and consumer-app as real processes.
//! - [`process`]: is a process alive.
//! - [`files`]: a small tmpfs that fills up, FIFOs and device nodes (root).
//! - [`browser`]: headless Chromium driven over WebDriver (browser tier).
//! - [`toxiproxy`]: servers of Toxiproxy's HTTP API, the real `toxiproxy-server` and
//!   our fault proxy, as real processes (ephemeral or chosen port, environment, log
//!   file, SIGTERM with the exit status, JSON reads of the API); the echo and HTTP
//!   upstreams proxy tests point them at; raw HTTP/1.1 clients.

pub mod browser;
pub mod files;
pub mod kube;
pub mod process;
pub mod repo;
pub mod service;
pub mod tier;
pub mod toxiproxy;

/// The name of the probe every tutorial experiment uses to ask the consumer for an answer.
pub const CONSUMER_PROBE: &str = "consumer-service-must-still-respond";
