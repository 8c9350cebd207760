//! Toxics: typed values read once from the API's JSON, written back in Toxiproxy's shape
//! (`{"attributes":{..},"name","type","stream","toxicity"}`).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::json::{Fields, first_value, object};
use crate::error::ApiError;

/// Longest delay any toxic attribute may ask for (30 days, the workspace's bound for
/// timers). Toxiproxy takes any int64 and overflows its `time.Duration` past ~292 years.
pub const MAX_DELAY_MS: i64 = 30 * 24 * 3600 * 1000;

/// Which way data flows: `Upstream` is client to server, `Downstream` server to client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Upstream,
    Downstream,
}

impl Direction {
    /// Toxiproxy's parse: case-insensitive.
    pub fn parse(stream: &str) -> Option<Self> {
        match stream.to_ascii_lowercase().as_str() {
            "upstream" => Some(Self::Upstream),
            "downstream" => Some(Self::Downstream),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upstream => "upstream",
            Self::Downstream => "downstream",
        }
    }
}

/// What an `http_status` toxic answers instead of the upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: String,
    /// Extra response headers, in the order given.
    pub headers: Vec<(String, String)>,
}

/// A toxic's type with its typed attributes. Times are in milliseconds unless named
/// otherwise, kept as given (Toxiproxy keeps negative values; they act as zero).
#[derive(Debug, Clone, PartialEq)]
pub enum ToxicKind {
    Noop,
    Latency {
        latency: i64,
        jitter: i64,
    },
    /// Rate in KB/s (1 KB = 1000 bytes, as Toxiproxy computes it); <= 0: unlimited.
    Bandwidth {
        rate: i64,
    },
    SlowClose {
        delay: i64,
    },
    /// 0 (or less): hold the data forever, never close.
    Timeout {
        timeout: i64,
    },
    ResetPeer {
        timeout: i64,
    },
    /// `delay` in microseconds.
    Slicer {
        average_size: i64,
        size_variation: i64,
        delay: i64,
    },
    LimitData {
        bytes: i64,
    },
    /// Our extension: a fraction (toxicity, per request) of HTTP/1.1 requests answered here.
    HttpStatus(HttpAnswer),
    /// Our extension: each HTTP/1.1 request held back by latency +/- jitter.
    HttpLatency {
        latency: i64,
        jitter: i64,
    },
}

impl ToxicKind {
    /// The kind named `type_name` with Toxiproxy's defaults (all zero).
    fn empty(type_name: &str) -> Option<Self> {
        Some(match type_name {
            "noop" => Self::Noop,
            "latency" => Self::Latency {
                latency: 0,
                jitter: 0,
            },
            "bandwidth" => Self::Bandwidth { rate: 0 },
            "slow_close" => Self::SlowClose { delay: 0 },
            "timeout" => Self::Timeout { timeout: 0 },
            "reset_peer" => Self::ResetPeer { timeout: 0 },
            "slicer" => Self::Slicer {
                average_size: 0,
                size_variation: 0,
                delay: 0,
            },
            "limit_data" => Self::LimitData { bytes: 0 },
            "http_status" => Self::HttpStatus(HttpAnswer {
                status: 503,
                body: String::new(),
                headers: Vec::new(),
            }),
            "http_latency" => Self::HttpLatency {
                latency: 0,
                jitter: 0,
            },
            _ => return None,
        })
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Noop => "noop",
            Self::Latency { .. } => "latency",
            Self::Bandwidth { .. } => "bandwidth",
            Self::SlowClose { .. } => "slow_close",
            Self::Timeout { .. } => "timeout",
            Self::ResetPeer { .. } => "reset_peer",
            Self::Slicer { .. } => "slicer",
            Self::LimitData { .. } => "limit_data",
            Self::HttpStatus(_) => "http_status",
            Self::HttpLatency { .. } => "http_latency",
        }
    }

    /// Whether the toxic reads HTTP/1.1 requests (acts on the upstream stream, decides
    /// toxicity per request).
    pub fn is_http(&self) -> bool {
        matches!(self, Self::HttpStatus(_) | Self::HttpLatency { .. })
    }

    /// Go's name of the attributes' struct, for error messages.
    fn go_struct(&self) -> &'static str {
        match self {
            Self::Noop => "NoopToxic",
            Self::Latency { .. } => "LatencyToxic",
            Self::Bandwidth { .. } => "BandwidthToxic",
            Self::SlowClose { .. } => "SlowCloseToxic",
            Self::Timeout { .. } => "TimeoutToxic",
            Self::ResetPeer { .. } => "ResetToxic",
            Self::Slicer { .. } => "SlicerToxic",
            Self::LimitData { .. } => "LimitDataToxic",
            Self::HttpStatus(_) => "HttpStatusToxic",
            Self::HttpLatency { .. } => "HttpLatencyToxic",
        }
    }

    /// Sets the attributes present in `map` (absent or null ones keep their value), as
    /// Go decodes into an existing struct. Works on a copy: the caller swaps it in only
    /// when it is valid.
    fn merge(&mut self, map: Option<&Map<String, Value>>) -> Result<(), ApiError> {
        let owner = format!("{}.attributes", self.go_struct());
        let f = Fields::new(map, &owner);
        let set = |slot: &mut i64, key: &str, ty: &str| -> Result<(), ApiError> {
            if let Some(v) = f.int(key, ty)? {
                *slot = v;
            }
            Ok(())
        };
        match self {
            Self::Noop => {}
            Self::Latency { latency, jitter } | Self::HttpLatency { latency, jitter } => {
                set(latency, "latency", "int64")?;
                set(jitter, "jitter", "int64")?;
            }
            Self::Bandwidth { rate } => set(rate, "rate", "int64")?,
            Self::SlowClose { delay } => set(delay, "delay", "int64")?,
            Self::Timeout { timeout } | Self::ResetPeer { timeout } => {
                set(timeout, "timeout", "int64")?;
            }
            Self::Slicer {
                average_size,
                size_variation,
                delay,
            } => {
                set(average_size, "average_size", "int")?;
                set(size_variation, "size_variation", "int")?;
                set(delay, "delay", "int")?;
            }
            Self::LimitData { bytes } => set(bytes, "bytes", "int64")?,
            Self::HttpStatus(answer) => {
                if let Some(status) = f.int("status", "int")? {
                    answer.status = u16::try_from(status)
                        .ok()
                        .filter(|s| (200..=599).contains(s))
                        .ok_or_else(|| {
                            ApiError::bad_body(format!(
                                "attributes.status: {status} is not an HTTP status from 200 to 599"
                            ))
                        })?;
                }
                if let Some(body) = f.string("body")? {
                    answer.body = body;
                }
                if let Some(headers) = f.object("headers", "map[string]string")? {
                    answer.headers = read_headers(headers)?;
                }
            }
        }
        Ok(())
    }

    /// Range checks Toxiproxy does not make: every time fits a timer (<= 30 days).
    fn check(&self) -> Result<(), ApiError> {
        let within = |key: &str, v: i64, max: i64, unit: &str| {
            if v > max {
                Err(ApiError::bad_body(format!(
                    "attributes.{key}: {v} {unit} is more than 30 days"
                )))
            } else {
                Ok(())
            }
        };
        match self {
            Self::Latency { latency, jitter } | Self::HttpLatency { latency, jitter } => {
                within("latency", *latency, MAX_DELAY_MS, "ms")?;
                within("jitter", *jitter, MAX_DELAY_MS, "ms")
            }
            Self::SlowClose { delay } => within("delay", *delay, MAX_DELAY_MS, "ms"),
            Self::Timeout { timeout } | Self::ResetPeer { timeout } => {
                within("timeout", *timeout, MAX_DELAY_MS, "ms")
            }
            Self::Slicer { delay, .. } => within("delay", *delay, MAX_DELAY_MS * 1000, "µs"),
            Self::Noop | Self::Bandwidth { .. } | Self::LimitData { .. } | Self::HttpStatus(_) => {
                Ok(())
            }
        }
    }
}

/// Header names must be tokens and values visible text: nothing that could split the
/// response we write.
fn read_headers(map: &Map<String, Value>) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        let Value::String(value) = value else {
            return Err(ApiError::bad_body(format!(
                "attributes.headers.{name}: must be a string"
            )));
        };
        let name_ok = http::HeaderName::from_bytes(name.as_bytes()).is_ok();
        let value_ok = http::HeaderValue::from_str(value).is_ok();
        if !name_ok || !value_ok {
            return Err(ApiError::bad_body(format!(
                "attributes.headers.{name}: not a valid HTTP header"
            )));
        }
        let lower = name.to_ascii_lowercase();
        if lower == "content-length" || lower == "transfer-encoding" {
            return Err(ApiError::bad_body(format!(
                "attributes.headers.{name}: set by the proxy from the body"
            )));
        }
        out.push((name.clone(), value.clone()));
    }
    Ok(out)
}

/// A toxic as the API shows it and the data plane applies it.
#[derive(Debug, Clone, PartialEq)]
pub struct Toxic {
    pub name: String,
    /// The stream as the client spelled it (Toxiproxy echoes `UpStream` back as given).
    pub stream: String,
    pub direction: Direction,
    /// Probability in [0, 1] that the toxic applies (per connection; per request for the
    /// HTTP toxics).
    pub toxicity: f32,
    pub kind: ToxicKind,
}

fn check_toxicity(t: f32) -> Result<f32, ApiError> {
    if (0.0..=1.0).contains(&t) {
        Ok(t)
    } else {
        Err(ApiError::bad_body(format!(
            "toxicity: {t} is not a probability from 0 to 1"
        )))
    }
}

impl Toxic {
    /// Reads a new toxic from a `POST /proxies/{name}/toxics` body, in Toxiproxy's order
    /// of checks; `exists` says whether a toxic of that name is already on the proxy.
    pub fn from_create_body(body: &[u8], exists: impl Fn(&str) -> bool) -> Result<Toxic, ApiError> {
        let value = first_value(body)?;
        let map = object(&value, "toxics.ToxicWrapper")?;
        let f = Fields::new(map, "ToxicWrapper");
        let name = f.string("name")?.unwrap_or_default();
        let type_name = f.string("type")?.unwrap_or_default();
        let toxicity = f.float32("toxicity")?.unwrap_or(1.0);
        let attributes = f.object("attributes", "toxics.NoopToxic")?;
        let empty = ToxicKind::empty(&type_name);
        let http = empty.as_ref().is_some_and(ToxicKind::is_http);
        // The HTTP toxics act on requests, so their stream defaults to upstream.
        let default_stream = if http { "upstream" } else { "downstream" };
        let stream = f.string("stream")?.unwrap_or_else(|| default_stream.into());
        let direction = Direction::parse(&stream).ok_or_else(ApiError::invalid_stream)?;
        let name = if name.is_empty() {
            format!("{type_name}_{stream}")
        } else {
            name
        };
        let mut kind = empty.ok_or_else(ApiError::invalid_toxic_type)?;
        if exists(&name) {
            return Err(ApiError::toxic_exists());
        }
        if http && direction != Direction::Upstream {
            return Err(ApiError::bad_body(format!(
                "stream: {type_name} acts on requests, so its stream is upstream"
            )));
        }
        kind.merge(attributes)?;
        kind.check()?;
        Ok(Toxic {
            name,
            stream,
            direction,
            toxicity: check_toxicity(toxicity)?,
            kind,
        })
    }

    /// This toxic changed by a `POST /proxies/{name}/toxics/{toxic}` body: only
    /// `attributes` (merged) and `toxicity` change, as in Toxiproxy.
    pub fn updated(&self, body: &[u8]) -> Result<Toxic, ApiError> {
        let value = first_value(body)?;
        let map = object(
            &value,
            "struct { Attributes interface {} \"json:\\\"attributes\\\"\"; Toxicity float32 \"json:\\\"toxicity\\\"\" }",
        )?;
        // Toxiproxy decodes an update into an anonymous struct: Go names no type.
        let f = Fields::new(map, "");
        let mut next = self.clone();
        if let Some(t) = f.float32("toxicity")? {
            next.toxicity = check_toxicity(t)?;
        }
        let owner = next.kind.go_struct();
        let attributes = f.object("attributes", owner)?;
        next.kind.merge(attributes)?;
        next.kind.check()?;
        Ok(next)
    }
}

/// Go's `float32` JSON: integral values without a fraction (`1`, not `1.0`).
fn serialize_toxicity<S: SerializeMap>(map: &mut S, t: f32) -> Result<(), S::Error> {
    if t.fract() == 0.0 && t.abs() < 1e9 {
        map.serialize_entry("toxicity", &(t as i64))
    } else {
        // The f32's shortest decimal (0.1, not 0.10000000149011612), which survives
        // conversion to a JSON value as f64.
        let shortest: f64 = t.to_string().parse().unwrap_or(f64::from(t));
        map.serialize_entry("toxicity", &shortest)
    }
}

struct Attributes<'a>(&'a ToxicKind);

impl Serialize for Attributes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self.0 {
            ToxicKind::Noop => {}
            ToxicKind::Latency { latency, jitter } | ToxicKind::HttpLatency { latency, jitter } => {
                m.serialize_entry("latency", latency)?;
                m.serialize_entry("jitter", jitter)?;
            }
            ToxicKind::Bandwidth { rate } => m.serialize_entry("rate", rate)?,
            ToxicKind::SlowClose { delay } => m.serialize_entry("delay", delay)?,
            ToxicKind::Timeout { timeout } | ToxicKind::ResetPeer { timeout } => {
                m.serialize_entry("timeout", timeout)?;
            }
            ToxicKind::Slicer {
                average_size,
                size_variation,
                delay,
            } => {
                m.serialize_entry("average_size", average_size)?;
                m.serialize_entry("size_variation", size_variation)?;
                m.serialize_entry("delay", delay)?;
            }
            ToxicKind::LimitData { bytes } => m.serialize_entry("bytes", bytes)?,
            ToxicKind::HttpStatus(a) => {
                m.serialize_entry("status", &a.status)?;
                m.serialize_entry("body", &a.body)?;
                let headers: Map<String, Value> = a
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                m.serialize_entry("headers", &headers)?;
            }
        }
        m.end()
    }
}

impl Serialize for Toxic {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("attributes", &Attributes(&self.kind))?;
        m.serialize_entry("name", &self.name)?;
        m.serialize_entry("type", self.kind.type_name())?;
        m.serialize_entry("stream", &self.stream)?;
        serialize_toxicity(&mut m, self.toxicity)?;
        m.end()
    }
}

/// A proxy's toxics: one ordered chain per direction. Listed upstream chain first, then
/// downstream, each in the order added (Toxiproxy's order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToxicList {
    pub upstream: Vec<Arc<Toxic>>,
    pub downstream: Vec<Arc<Toxic>>,
}

impl ToxicList {
    pub fn chain(&self, direction: Direction) -> &[Arc<Toxic>] {
        match direction {
            Direction::Upstream => &self.upstream,
            Direction::Downstream => &self.downstream,
        }
    }

    fn chain_mut(&mut self, direction: Direction) -> &mut Vec<Arc<Toxic>> {
        match direction {
            Direction::Upstream => &mut self.upstream,
            Direction::Downstream => &mut self.downstream,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Toxic>> {
        self.upstream.iter().chain(self.downstream.iter())
    }

    pub fn find(&self, name: &str) -> Option<&Arc<Toxic>> {
        self.iter().find(|t| t.name == name)
    }

    pub fn is_empty(&self) -> bool {
        self.upstream.is_empty() && self.downstream.is_empty()
    }

    /// Appends `toxic` to the end of its direction's chain.
    pub fn add(&mut self, toxic: Toxic) {
        let direction = toxic.direction;
        self.chain_mut(direction).push(Arc::new(toxic));
    }

    /// Replaces the toxic of the same name in place.
    pub fn replace(&mut self, toxic: Toxic) {
        let direction = toxic.direction;
        if let Some(slot) = self
            .chain_mut(direction)
            .iter_mut()
            .find(|t| t.name == toxic.name)
        {
            *slot = Arc::new(toxic);
        }
    }

    /// Removes the toxic `name`; false when there is none.
    pub fn remove(&mut self, name: &str) -> bool {
        for chain in [&mut self.upstream, &mut self.downstream] {
            if let Some(i) = chain.iter().position(|t| t.name == name) {
                chain.remove(i);
                return true;
            }
        }
        false
    }
}

/// Milliseconds as a timer's duration: negative values act as zero (as in Toxiproxy);
/// values were range-checked when read.
pub fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(body: &str) -> Result<Toxic, ApiError> {
        Toxic::from_create_body(body.as_bytes(), |_| false)
    }

    #[test]
    fn defaults_follow_toxiproxy() {
        let t = create(r#"{"type":"latency","attributes":{"latency":100}}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"attributes":{"latency":100,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}"#
        );
        let t = create(r#"{"type":"latency","stream":"UpStream","toxicity":0.3}"#).unwrap();
        assert_eq!(t.name, "latency_UpStream");
        assert_eq!(t.direction, Direction::Upstream);
        assert!(
            serde_json::to_string(&t)
                .unwrap()
                .ends_with(r#""toxicity":0.3}"#)
        );
        let t = create(r#"{"type":"http_status"}"#).unwrap();
        assert_eq!(t.name, "http_status_upstream");
    }

    #[test]
    fn bad_toxics_name_the_problem() {
        let err = |b: &str| create(b).unwrap_err();
        assert_eq!(err(r#"{"type":"nope"}"#), ApiError::invalid_toxic_type());
        assert_eq!(
            err(r#"{"type":"latency","stream":"x"}"#),
            ApiError::invalid_stream()
        );
        assert_eq!(
            err(r#"{"type":"timeout","attributes":{"timeout":"x"}}"#).message,
            "bad request body: json: cannot unmarshal string into Go struct field TimeoutToxic.attributes.timeout of type int64"
        );
        assert_eq!(err(r#"{"type":"latency","toxicity":7}"#).status, 400);
        assert!(
            err(r#"{"type":"latency","attributes":{"latency":99999999999}}"#)
                .message
                .contains("attributes.latency")
        );
        assert!(
            err(r#"{"type":"http_status","stream":"downstream"}"#)
                .message
                .contains("stream")
        );
        assert!(
            err(r#"{"type":"http_status","attributes":{"status":42}}"#)
                .message
                .contains("status")
        );
        assert!(
            err(r#"{"type":"http_status","attributes":{"headers":{"X":"a\r\nb"}}}"#)
                .message
                .contains("headers")
        );
        assert_eq!(
            Toxic::from_create_body(br#"{"type":"latency"}"#, |n| n == "latency_downstream")
                .unwrap_err(),
            ApiError::toxic_exists()
        );
    }

    #[test]
    fn updates_merge_attributes_and_leave_the_rest() {
        let t = create(r#"{"name":"s","type":"slicer","attributes":{"average_size":10}}"#).unwrap();
        let u = t
            .updated(
                br#"{"attributes":{"delay":5},"toxicity":0.5,"name":"other","stream":"upstream"}"#,
            )
            .unwrap();
        assert_eq!(u.name, "s");
        assert_eq!(u.direction, Direction::Downstream);
        assert_eq!(u.toxicity, 0.5);
        assert_eq!(
            u.kind,
            ToxicKind::Slicer {
                average_size: 10,
                size_variation: 0,
                delay: 5
            }
        );
        assert!(t.updated(br#"{"attributes":{"delay":"x"}}"#).is_err());
    }
}
