//! Who may change the proxies. On loopback (the default) anyone on the machine may, as
//! with Toxiproxy. An API reachable from elsewhere can break any service behind the
//! proxy, so binding it off loopback needs a token, and changes then need
//! `Authorization: Bearer <token>` (compared in constant time). Reads stay open: proxy
//! settings are no secret, and Prometheus scrapers and health checks send no token.

use actix_web::HttpResponse;
use actix_web::http::header;
use service_common::bearer::BearerToken;

use crate::error::ApiError;

/// The API token (`--api-token`, `FAULT_PROXY_API_TOKEN`); never printed.
pub type Token = BearerToken;

pub use service_common::bearer::parse_token;

/// The access rule, shared by the API's workers.
#[derive(Debug, Clone, Default)]
pub struct Access {
    token: Option<Token>,
}

impl Access {
    pub fn new(token: Option<Token>) -> Self {
        Self { token }
    }

    /// Whether a change with this `Authorization` header may go ahead.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<(), Denied> {
        let Some(expected) = &self.token else {
            return Ok(());
        };
        if expected.admits(authorization) {
            Ok(())
        } else {
            Err(Denied)
        }
    }
}

/// A change refused for want of the token.
#[derive(Debug, PartialEq, Eq)]
pub struct Denied;

impl Denied {
    /// 401 with `WWW-Authenticate`, in Toxiproxy's error shape.
    pub fn response(&self) -> HttpResponse {
        let e = ApiError::new(
            "changing proxies needs Authorization: Bearer <the --api-token given to fault-proxy>",
            401,
        );
        HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="fault-proxy""#))
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "{}\n",
                serde_json::to_string(&e).unwrap_or_default()
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_token_everything_passes() {
        assert!(Access::new(None).check(None).is_ok());
    }

    #[test]
    fn only_the_right_bearer_token_passes() {
        let access = Access::new(Some(parse_token("s3cret").unwrap()));
        assert!(access.check(Some(b"Bearer s3cret")).is_ok());
        assert!(access.check(Some(b"bearer  s3cret ")).is_ok());
        for wrong in [
            &b"Bearer s3cre"[..],
            b"Bearer s3cret2",
            b"Basic s3cret",
            b"s3cret",
            b"",
        ] {
            let refused = access.check(Some(wrong)).unwrap_err().response();
            assert_eq!(refused.status(), 401);
            assert!(refused.headers().contains_key(header::WWW_AUTHENTICATE));
        }
        assert!(access.check(None).is_err());
    }
}
