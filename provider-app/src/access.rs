//! Who may change the faults. A provider that anyone on the network can make hang is a
//! hazard even in a lab, so changing the faults (`PUT`/`DELETE /faults`) is off unless the
//! operator gave a token, and then needs `Authorization: Bearer <token>`. Reading them
//! (`GET /faults`) stays open: the settings are no secret, and observing them harms
//! nothing. Faults set by start flags are the operator's own and need no token.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use serde_json::json;
use service_common::bearer::BearerToken;

/// The secret a client must present to change the faults.
pub type FaultToken = BearerToken;

pub use service_common::bearer::parse_token;

/// The access rule for the fault API, shared by all workers.
#[derive(Debug, Clone)]
pub struct FaultAccess {
    token: Option<FaultToken>,
}

/// Why a change of the faults was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// No token was configured: the fault API only reads.
    Disabled,
    /// A token is configured and the request did not present it.
    Unauthorized,
}

impl FaultAccess {
    pub fn new(token: Option<FaultToken>) -> Self {
        Self { token }
    }

    pub fn is_enabled(&self) -> bool {
        self.token.is_some()
    }

    /// Whether a request with this `Authorization` header may change the faults.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<(), Denied> {
        let Some(expected) = &self.token else {
            return Err(Denied::Disabled);
        };
        if expected.admits(authorization) {
            Ok(())
        } else {
            Err(Denied::Unauthorized)
        }
    }
}

fn refusal(denied: Denied) -> HttpResponse {
    match denied {
        Denied::Disabled => HttpResponse::Forbidden().json(json!({
            "error": "changing faults is disabled: start provider-app with --fault-token TOKEN \
                      (or FAULT_API_TOKEN) and send Authorization: Bearer TOKEN"
        })),
        Denied::Unauthorized => HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="faults""#))
            .json(json!({
                "error": "changing faults needs Authorization: Bearer <the provider's fault token> \
                          (`lab fault-token` prints the lab's)"
            })),
    }
}

/// Middleware for `/faults` (with `actix_web::middleware::from_fn`): refuses a change
/// before its body is read, so a stranger learns nothing from body errors either.
pub async fn guard<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<impl MessageBody + use<B>>, actix_web::Error> {
    let reads = matches!(*req.method(), Method::GET | Method::HEAD);
    if !reads {
        let access = req.app_data::<web::Data<FaultAccess>>().cloned();
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        let verdict = match &access {
            Some(access) => access.check(authorization),
            // Not configured at all: refuse, as without a token.
            None => Err(Denied::Disabled),
        };
        if let Err(denied) = verdict {
            tracing::warn!(method = %req.method(), peer = ?req.peer_addr(), ?denied, "fault change refused");
            return Ok(req.into_response(refusal(denied)).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_token(token: &str) -> FaultAccess {
        FaultAccess::new(Some(parse_token(token).unwrap()))
    }

    #[test]
    fn without_a_token_every_change_is_refused() {
        let access = FaultAccess::new(None);
        assert_eq!(access.check(None), Err(Denied::Disabled));
        assert_eq!(access.check(Some(b"Bearer x")), Err(Denied::Disabled));
    }

    #[test]
    fn only_the_right_bearer_token_passes() {
        let access = with_token("s3cret-token");
        assert_eq!(access.check(Some(b"Bearer s3cret-token")), Ok(()));
        assert_eq!(access.check(Some(b"bearer  s3cret-token ")), Ok(()));
        for wrong in [
            &b"Bearer s3cret-toke"[..],
            b"Bearer s3cret-token2",
            b"Basic s3cret-token",
            b"s3cret-token",
            b"Bearer ",
            b"Bearer",
            b"",
        ] {
            assert_eq!(
                access.check(Some(wrong)),
                Err(Denied::Unauthorized),
                "{wrong:?}"
            );
        }
        assert_eq!(access.check(None), Err(Denied::Unauthorized));
    }
}
