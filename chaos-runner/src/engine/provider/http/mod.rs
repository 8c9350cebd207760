//! The `http` provider: one HTTP request, returning status, headers and body.
//!
//! Mirrors chaostoolkit-lib's requests-based provider: GET sends `arguments` as the query
//! string; other methods send them as a form body, or as JSON when the `Content-Type`
//! header is exactly `application/json`. The body is parsed as JSON only when the
//! response's `Content-Type` is exactly `application/json`. Error statuses are outputs.

mod request;
mod spec;

pub use request::run;
pub use spec::HttpSpec;
