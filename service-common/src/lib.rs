//! What the two demo services share, so that both behave the same way to an operator:
//! the serve flags and their one-line config errors, logging, binding and the address
//! file, per-route HTTP metrics, and JSON answers for bad requests.

pub mod bearer;
pub mod cli;
pub mod http_errors;
pub mod http_metrics;
pub mod listener;
pub mod logging;
pub mod peer;
pub mod server;
pub mod shutdown;

pub use cli::{LogFormat, ServeArgs, parse_or_exit};
pub use http_metrics::HttpMetrics;
