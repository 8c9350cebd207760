//! Reading request bodies as Toxiproxy (Go's `encoding/json`) reads them, once, at the
//! edge: the first JSON value of the body counts (trailing bytes are ignored, as Go's
//! `Decoder.Decode` ignores them), `null` leaves a field as it was, and a value of the
//! wrong type is refused with Go's wording naming the field
//! (`json: cannot unmarshal string into Go struct field Proxy.name of type string`).

use serde_json::{Map, Value};

use crate::error::ApiError;

/// Largest body the API reads (Toxiproxy has none; ours keeps memory bounded).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The first JSON value of `body`, as Go's `json.Decoder.Decode` reads it.
pub fn first_value(body: &[u8]) -> Result<Value, ApiError> {
    let mut values = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
    match values.next() {
        None => Err(ApiError::bad_body("EOF")),
        Some(Ok(value)) => Ok(value),
        Some(Err(e)) if e.is_eof() => Err(ApiError::bad_body("unexpected EOF")),
        Some(Err(e)) => Err(ApiError::bad_body(e)),
    }
}

/// Go's name for the JSON kind of `value` in its unmarshal errors.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `value` as an object, or Go's error for a top-level value of another kind. `null`
/// reads as an empty object (Go leaves the target untouched).
pub fn object<'a>(
    value: &'a Value,
    go_type: &str,
) -> Result<Option<&'a Map<String, Value>>, ApiError> {
    match value {
        Value::Object(map) => Ok(Some(map)),
        Value::Null => Ok(None),
        other => Err(ApiError::bad_body(format!(
            "json: cannot unmarshal {} into Go value of type {go_type}",
            kind(other)
        ))),
    }
}

/// The fields of one JSON object, named in errors as `<owner>.<key>`.
pub struct Fields<'a> {
    map: Option<&'a Map<String, Value>>,
    owner: &'a str,
}

impl<'a> Fields<'a> {
    pub fn new(map: Option<&'a Map<String, Value>>, owner: &'a str) -> Self {
        Self { map, owner }
    }

    /// The field `key`: an exact match first, else (as Go matches) one whose key equals
    /// it ignoring ASCII case.
    fn get(&self, key: &str) -> Option<&'a Value> {
        let map = self.map?;
        map.get(key)
            .or_else(|| {
                map.iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
                    .next_back()
            })
            .filter(|v| !v.is_null())
    }

    fn mismatch(&self, key: &str, value: &Value, go_type: &str) -> ApiError {
        let what = match value {
            Value::Number(n) if go_type.starts_with("int") => format!("number {n}"),
            other => kind(other).to_string(),
        };
        ApiError::bad_body(format!(
            "json: cannot unmarshal {what} into Go struct field {}.{key} of type {go_type}",
            self.owner
        ))
    }

    pub fn string(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.mismatch(key, other, "string")),
        }
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.mismatch(key, other, "bool")),
        }
    }

    /// A Go `int64` (or `int`, 64 bits on Toxiproxy's platforms): integers only.
    pub fn int(&self, key: &str, go_type: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v @ Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.mismatch(key, v, go_type)),
            Some(other) => Err(self.mismatch(key, other, go_type)),
        }
    }

    /// A Go `float32`.
    pub fn float32(&self, key: &str) -> Result<Option<f32>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v @ Value::Number(n)) => match n.as_f64() {
                Some(f) if f.is_finite() && f.abs() <= f64::from(f32::MAX) => Ok(Some(f as f32)),
                _ => Err(self.mismatch(key, v, "float32")),
            },
            Some(other) => Err(self.mismatch(key, other, "float32")),
        }
    }

    /// A nested object; `go_type` names the field's type in the error.
    pub fn object(
        &self,
        key: &str,
        go_type: &str,
    ) -> Result<Option<&'a Map<String, Value>>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(other) => Err(self.mismatch(key, other, go_type)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_value_counts_and_an_empty_body_is_eof() {
        assert_eq!(first_value(b"{\"a\":1} trailing").unwrap()["a"], 1);
        assert_eq!(
            first_value(b"  ").unwrap_err().message,
            "bad request body: EOF"
        );
        assert!(
            first_value(b"{bad")
                .unwrap_err()
                .message
                .starts_with("bad request body: ")
        );
    }

    #[test]
    fn wrong_kinds_are_named_as_go_names_them() {
        let v: Value = serde_json::json!({"name": 5, "n": 1.5, "t": "x", "b": "yes"});
        let f = Fields::new(v.as_object(), "Proxy");
        assert_eq!(
            f.string("name").unwrap_err().message,
            "bad request body: json: cannot unmarshal number into Go struct field Proxy.name of type string"
        );
        assert_eq!(
            f.int("n", "int64").unwrap_err().message,
            "bad request body: json: cannot unmarshal number 1.5 into Go struct field Proxy.n of type int64"
        );
        assert!(
            f.float32("t")
                .unwrap_err()
                .message
                .contains("Proxy.t of type float32")
        );
        assert!(
            f.bool("b")
                .unwrap_err()
                .message
                .contains("Proxy.b of type bool")
        );
        assert_eq!(f.string("absent").unwrap(), None);
        let v: Value = serde_json::json!({"NAME": "upper", "Listen": "l"});
        let f = Fields::new(v.as_object(), "Proxy");
        assert_eq!(f.string("name").unwrap().as_deref(), Some("upper"));
        assert_eq!(f.string("listen").unwrap().as_deref(), Some("l"));
    }
}
