//! Typed proxy and toxic values, read once from the API's JSON.

mod json;
mod proxy;
mod toxic;

pub use json::MAX_BODY_BYTES;
pub use proxy::{ProxySpec, ProxyView};
pub use toxic::{Direction, HttpAnswer, MAX_DELAY_MS, Toxic, ToxicKind, ToxicList, millis};
