//! Who may change the proxies. On loopback (the default) anyone on the machine may, as
//! with Toxiproxy. An API reachable from elsewhere can break any service behind the
//! proxy, so binding it off loopback needs a token, and changes then need
//! `Authorization: Bearer <token>` (compared in constant time). Reads stay open: proxy
//! settings are no secret, and Prometheus scrapers and health checks send no token.

use actix_web::HttpResponse;
use actix_web::http::header;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// Longest token taken.
pub const MAX_TOKEN_LEN: usize = 256;

/// The API token; never printed.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

/// Parses `--api-token`: 1 to [`MAX_TOKEN_LEN`] visible ASCII characters. The message
/// never repeats the value.
pub fn parse_token(s: &str) -> Result<Token, String> {
    if s.is_empty() || s.len() > MAX_TOKEN_LEN || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "must be 1 to {MAX_TOKEN_LEN} visible ASCII characters (no spaces)"
        ));
    }
    Ok(Token(s.to_string()))
}

/// The access rule, shared by the API's workers.
#[derive(Debug, Clone, Default)]
pub struct Access {
    token: Option<Token>,
}

fn bearer(value: &[u8]) -> Option<&[u8]> {
    let scheme = b"bearer ";
    (value.len() > scheme.len() && value[..scheme.len()].eq_ignore_ascii_case(scheme))
        .then(|| value[scheme.len()..].trim_ascii())
}

impl Access {
    pub fn new(token: Option<Token>) -> Self {
        Self { token }
    }

    /// Whether a change with this `Authorization` header may go ahead.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<(), Denied> {
        let Some(Token(expected)) = &self.token else {
            return Ok(());
        };
        let presented = authorization.and_then(bearer).unwrap_or_default();
        if bool::from(presented.ct_eq(expected.as_bytes())) {
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

    #[test]
    fn tokens_are_checked_and_hidden() {
        assert!(parse_token("").is_err());
        assert!(parse_token("two words").is_err());
        assert!(parse_token(&"x".repeat(MAX_TOKEN_LEN + 1)).is_err());
        assert_eq!(
            format!("{:?}", parse_token("abc").unwrap()),
            "Token(<hidden>)"
        );
    }
}
