//! Fault injection: the settings (`/faults` JSON and start flags), and what they do to a
//! request. The settings live behind a lock so the JSON API can change them at run time.

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use tokio::sync::watch;

use serde::{Deserialize, Serialize};

/// Added latency, drawn uniformly from `min_ms..=max_ms` for each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    pub min_ms: u64,
    pub max_ms: u64,
}

/// The fault settings, exactly the `/faults` JSON. Omitted fields take their default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    pub latency: Option<Latency>,
    /// Probability (0..=1) that a request is answered 500.
    pub error_rate: f64,
    /// Accept requests and never answer them.
    pub hang: bool,
    /// Whether the health endpoints suffer the faults too.
    pub affect_health: bool,
}

/// Shown in logs as the same JSON the API speaks.
impl std::fmt::Display for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_string(self) {
            Ok(json) => f.write_str(&json),
            Err(_) => write!(f, "{self:?}"),
        }
    }
}

/// Why a fault setting is refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InvalidFaults {
    #[error("error_rate must be between 0 and 1, got {0}")]
    ErrorRate(f64),
    #[error("latency min_ms ({min}) must not exceed max_ms ({max})")]
    LatencyRange { min: u64, max: u64 },
    #[error("latency above {max} ms is refused, got {got} ms", max = MAX_LATENCY_MS)]
    LatencyTooLong { got: u64 },
    #[error("field `{field}`: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("unknown field `{0}`, expected one of: latency, error_rate, hang, affect_health")]
    UnknownField(String),
}

/// Longest unknown field name repeated in an answer.
const SHOWN_NAME_CHARS: usize = 64;

/// Upper bound on injected latency (one hour): longer is what `hang` is for, and it keeps
/// the sleep duration far from overflow.
pub const MAX_LATENCY_MS: u64 = 3_600_000;

impl Faults {
    /// Reads a `/faults` JSON object field by field, so that a refusal names the field
    /// (serde's own messages say "expected u64" without saying where), then checks the
    /// ranges.
    pub fn from_json(
        object: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Faults, InvalidFaults> {
        fn field<T: serde::de::DeserializeOwned>(
            field: &'static str,
            value: serde_json::Value,
        ) -> Result<T, InvalidFaults> {
            serde_json::from_value(value).map_err(|e| InvalidFaults::Field {
                field,
                reason: e.to_string(),
            })
        }
        let mut faults = Faults::default();
        for (name, value) in object {
            match name.as_str() {
                "latency" => faults.latency = field("latency", value)?,
                "error_rate" => faults.error_rate = field("error_rate", value)?,
                "hang" => faults.hang = field("hang", value)?,
                "affect_health" => faults.affect_health = field("affect_health", value)?,
                _ => {
                    return Err(InvalidFaults::UnknownField(
                        name.chars().take(SHOWN_NAME_CHARS).collect(),
                    ));
                }
            }
        }
        faults.validate()?;
        Ok(faults)
    }

    /// Checks the ranges the JSON types cannot express.
    pub fn validate(&self) -> Result<(), InvalidFaults> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(InvalidFaults::ErrorRate(self.error_rate));
        }
        if let Some(Latency { min_ms, max_ms }) = self.latency {
            if min_ms > max_ms {
                return Err(InvalidFaults::LatencyRange {
                    min: min_ms,
                    max: max_ms,
                });
            }
            if max_ms > MAX_LATENCY_MS {
                return Err(InvalidFaults::LatencyTooLong { got: max_ms });
            }
        }
        Ok(())
    }
}

/// Parses the `--fault-latency-ms` value: `N` or `N-M` milliseconds.
pub fn parse_latency(s: &str) -> Result<Latency, String> {
    let number = |part: &str| part.trim().parse::<u64>().map_err(|_| ());
    let parsed = match s.split_once('-') {
        Some((min, max)) => number(min).and_then(|min| number(max).map(|max| (min, max))),
        None => number(s).map(|n| (n, n)),
    };
    let (min_ms, max_ms) =
        parsed.map_err(|_| "is not N or N-M milliseconds (e.g. 200 or 100-300)".to_string())?;
    let latency = Latency { min_ms, max_ms };
    Faults {
        latency: Some(latency),
        ..Faults::default()
    }
    .validate()
    .map_err(|e| e.to_string())?;
    Ok(latency)
}

/// Parses the `--fault-error-rate` value: a probability in 0..=1.
pub fn parse_error_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err("is not a probability between 0 and 1".to_string()),
    }
}

/// What a fault decided for one request, after any latency was served.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Answer normally.
    Proceed,
    /// Answer 500.
    Fail,
    /// The client left while the request hung: nobody to answer.
    ClientGone,
}

/// The live fault settings, shared by all workers; waiting requests watch them change.
#[derive(Clone)]
pub struct FaultState {
    current: Arc<watch::Sender<Faults>>,
}

impl Default for FaultState {
    fn default() -> Self {
        Self::new(Faults::default())
    }
}

impl FaultState {
    pub fn new(initial: Faults) -> Self {
        Self {
            current: Arc::new(watch::Sender::new(initial)),
        }
    }

    pub fn get(&self) -> Faults {
        self.current.borrow().clone()
    }

    pub fn set(&self, faults: Faults) {
        self.current.send_replace(faults);
    }

    /// Applies the current faults to one request: hang, then latency, then the error
    /// roll. `is_health` requests are untouched unless `affect_health`. A hanging request
    /// waits until the settings stop saying `hang` (then the new settings apply) or its
    /// client leaves (`request`'s connection closes), whichever comes first.
    pub async fn apply(&self, is_health: bool, request: &HttpRequest) -> Verdict {
        let mut faults = self.get();
        if is_health && !faults.affect_health {
            return Verdict::Proceed;
        }
        if faults.hang {
            let mut changes = self.current.subscribe();
            tokio::select! {
                cleared = changes.wait_for(|f| !f.hang) => {
                    // The sender lives as long as `self`, so the wait ends with a value.
                    faults = cleared.map(|f| f.clone()).unwrap_or_default();
                }
                () = service_common::peer::client_gone(request) => return Verdict::ClientGone,
            }
            if is_health && !faults.affect_health {
                return Verdict::Proceed;
            }
        }
        if let Some(Latency { min_ms, max_ms }) = faults.latency {
            let ms = if min_ms == max_ms {
                min_ms
            } else {
                rand::random_range(min_ms..=max_ms)
            };
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if faults.error_rate > 0.0 && rand::random_bool(faults.error_rate) {
            return Verdict::Fail;
        }
        Verdict::Proceed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_flag_takes_fixed_or_range() {
        assert_eq!(
            parse_latency("200"),
            Ok(Latency {
                min_ms: 200,
                max_ms: 200
            })
        );
        assert_eq!(
            parse_latency("100-300"),
            Ok(Latency {
                min_ms: 100,
                max_ms: 300
            })
        );
        assert!(
            parse_latency("300-100")
                .unwrap_err()
                .contains("must not exceed")
        );
        assert!(parse_latency("fast").unwrap_err().contains("N or N-M"));
        assert!(parse_latency("-5").is_err());
    }

    #[test]
    fn error_rate_must_be_a_probability() {
        assert_eq!(parse_error_rate("0.25"), Ok(0.25));
        assert!(parse_error_rate("1.5").is_err());
        assert!(parse_error_rate("-0.1").is_err());
        assert!(parse_error_rate("NaN").is_err());
    }

    #[test]
    fn omitted_json_fields_take_defaults() {
        let faults: Faults = serde_json::from_str(r#"{"hang": true}"#).unwrap();
        assert_eq!(
            faults,
            Faults {
                hang: true,
                ..Faults::default()
            }
        );
        assert!(serde_json::from_str::<Faults>(r#"{"error-rate": 1}"#).is_err());
    }

    #[test]
    fn json_errors_name_the_field() {
        let parse = |text: &str| {
            Faults::from_json(serde_json::from_str(text).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert!(parse(r#"{"error_rate": "high"}"#).starts_with("field `error_rate`:"));
        assert!(parse(r#"{"hang": 1}"#).starts_with("field `hang`:"));
        let huge = parse(r#"{"latency": {"min_ms": 1, "max_ms": 1e30}}"#);
        assert!(huge.starts_with("field `latency`:"), "{huge}");
        let missing = parse(r#"{"latency": {"min_ms": 1}}"#);
        assert!(missing.contains("max_ms"), "{missing}");
        assert!(
            parse(r#"{"latency": {"min_ms": 1, "max_ms": 3600001}}"#).contains("latency above")
        );
        let unknown = parse(&format!(r#"{{"{}": 1}}"#, "x".repeat(1000)));
        assert!(unknown.len() < 200, "{unknown}");
        assert_eq!(
            Faults::from_json(serde_json::from_str(r#"{"hang": true}"#).unwrap()),
            Ok(Faults {
                hang: true,
                ..Faults::default()
            })
        );
    }

    #[test]
    fn json_shape_matches_the_contract() {
        let faults = Faults {
            latency: Some(Latency {
                min_ms: 100,
                max_ms: 300,
            }),
            ..Faults::default()
        };
        assert_eq!(
            serde_json::to_value(&faults).unwrap(),
            serde_json::json!({"latency": {"min_ms": 100, "max_ms": 300}, "error_rate": 0.0, "hang": false, "affect_health": false})
        );
    }

    #[actix_web::test]
    async fn error_rate_one_always_fails_and_health_is_spared() {
        let request = actix_web::test::TestRequest::default().to_http_request();
        let state = FaultState::new(Faults {
            error_rate: 1.0,
            ..Faults::default()
        });
        assert_eq!(state.apply(false, &request).await, Verdict::Fail);
        assert_eq!(state.apply(true, &request).await, Verdict::Proceed);
        state.set(Faults {
            error_rate: 1.0,
            affect_health: true,
            ..Faults::default()
        });
        assert_eq!(state.apply(true, &request).await, Verdict::Fail);
    }

    #[actix_web::test]
    async fn clearing_hang_releases_a_hanging_request_with_the_new_settings() {
        let request = actix_web::test::TestRequest::default().to_http_request();
        let state = FaultState::new(Faults {
            hang: true,
            ..Faults::default()
        });
        let waiting = {
            let state = state.clone();
            actix_web::rt::spawn(async move { state.apply(false, &request).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "a hanging request must wait");
        state.set(Faults {
            error_rate: 1.0,
            ..Faults::default()
        });
        let verdict = tokio::time::timeout(Duration::from_secs(2), waiting)
            .await
            .expect("released once hang is cleared")
            .expect("the request task");
        assert_eq!(verdict, Verdict::Fail);
    }
}
