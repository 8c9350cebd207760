//! fault-proxy: a TCP fault proxy whose control API is Toxiproxy's HTTP API v2, as
//! Toxiproxy 2.5 serves it, plus HTTP-level toxics.
//!
//! Layers, each using only those before it: `model` (typed proxies and toxics read once
//! from JSON; `error` their error object), `dataplane` (listeners, connections, toxic
//! chains on a tokio runtime), `registry` (the API's operations on the proxies), `access`
//! and `api` (actix-web routes), `cli` and `server` (what the binary runs).

mod access;
mod api;
mod cli;
mod dataplane;
mod error;
mod metrics;
mod model;
mod registry;
mod server;

pub use access::{Access, Token, parse_token};
pub use api::TOXIPROXY_VERSION;
pub use cli::{Cli, normalise};
pub use dataplane::{CONNECT_TIMEOUT, DEFAULT_MAX_CONNECTIONS, QUEUE_CHUNKS, READ_BUFFER};
pub use error::ApiError;
pub use model::{Direction, HttpAnswer, MAX_BODY_BYTES, MAX_DELAY_MS, ProxySpec, Toxic, ToxicKind};
pub use server::{Failure, run};
