//! Toxiproxy's error object: `{"error": "...", "status": N}`, with the messages and
//! status codes Toxiproxy 2.5 uses, so clients that match on them keep working.

use serde::Serialize;

/// An API error as Toxiproxy reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    #[serde(rename = "error")]
    pub message: String,
    #[serde(rename = "status")]
    pub status: u16,
}

impl ApiError {
    pub fn new(message: impl Into<String>, status: u16) -> Self {
        Self {
            message: message.into(),
            status,
        }
    }

    /// `bad request body: <detail>` (400), Toxiproxy's wrapper for any body it cannot use.
    pub fn bad_body(detail: impl std::fmt::Display) -> Self {
        Self::new(format!("bad request body: {detail}"), 400)
    }

    /// `missing required field: <field>` (400).
    pub fn missing(field: impl std::fmt::Display) -> Self {
        Self::new(format!("missing required field: {field}"), 400)
    }

    pub fn proxy_not_found() -> Self {
        Self::new("proxy not found", 404)
    }

    pub fn proxy_exists() -> Self {
        Self::new("proxy already exists", 409)
    }

    pub fn invalid_stream() -> Self {
        Self::new(
            "stream was invalid, can be either upstream or downstream",
            400,
        )
    }

    pub fn invalid_toxic_type() -> Self {
        Self::new("invalid toxic type", 400)
    }

    pub fn toxic_exists() -> Self {
        Self::new("toxic already exists", 409)
    }

    pub fn toxic_not_found() -> Self {
        Self::new("toxic not found", 404)
    }
}
