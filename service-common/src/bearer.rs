//! A secret presented as `Authorization: Bearer <token>` (RFC 6750): what the provider's
//! fault API and the fault proxy's API both ask of a client that changes something. Each
//! service keeps its own policy (what needs the token, what a refusal looks like); the
//! token itself, its limits and the comparison live here once.

use subtle::ConstantTimeEq;

/// Longest token taken: far beyond any generated one, short enough for a header.
pub const MAX_TOKEN_LEN: usize = 256;

/// The secret; never printed.
#[derive(Clone)]
pub struct BearerToken(String);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<hidden>)")
    }
}

/// Parses a token flag or variable: 1 to [`MAX_TOKEN_LEN`] visible ASCII characters (what
/// fits in an `Authorization` header unchanged). The message never repeats the value.
pub fn parse_token(s: &str) -> Result<BearerToken, String> {
    if s.is_empty() || s.len() > MAX_TOKEN_LEN || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "must be 1 to {MAX_TOKEN_LEN} visible ASCII characters (no spaces)"
        ));
    }
    Ok(BearerToken(s.to_string()))
}

impl BearerToken {
    /// Whether an `Authorization` header value presents this token (scheme
    /// case-insensitive, RFC 9110 section 11.1). Compared in constant time, so the
    /// answer's timing does not reveal how much of a guess was right (the length may
    /// show; it is not the secret).
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let presented = authorization.and_then(credentials).unwrap_or_default();
        bool::from(presented.ct_eq(self.0.as_bytes()))
    }
}

/// The credentials of a `Bearer` authorization value.
fn credentials(value: &[u8]) -> Option<&[u8]> {
    let scheme = b"bearer ";
    (value.len() > scheme.len() && value[..scheme.len()].eq_ignore_ascii_case(scheme))
        .then(|| value[scheme.len()..].trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_bearer_token_is_admitted() {
        let token = parse_token("s3cret-token").unwrap();
        assert!(token.admits(Some(b"Bearer s3cret-token")));
        assert!(token.admits(Some(b"bearer  s3cret-token ")));
        for wrong in [
            &b"Bearer s3cret-toke"[..],
            b"Bearer s3cret-token2",
            b"Basic s3cret-token",
            b"s3cret-token",
            b"Bearer ",
            b"Bearer",
            b"",
        ] {
            assert!(!token.admits(Some(wrong)), "{wrong:?}");
        }
        assert!(!token.admits(None));
    }

    #[test]
    fn tokens_are_range_checked_hidden_and_never_echoed() {
        assert!(parse_token("a").is_ok());
        assert!(parse_token(&"x".repeat(MAX_TOKEN_LEN)).is_ok());
        for bad in [
            String::new(),
            "x".repeat(MAX_TOKEN_LEN + 1),
            "two words".into(),
            "tab\there".into(),
            "naïve".into(),
        ] {
            let err = parse_token(&bad).unwrap_err();
            assert!(err.contains("visible ASCII"), "{err}");
            assert!(bad.is_empty() || !err.contains(&bad), "{err}");
        }
        assert_eq!(
            format!("{:?}", parse_token("s3cret").unwrap()),
            "BearerToken(<hidden>)"
        );
    }
}
