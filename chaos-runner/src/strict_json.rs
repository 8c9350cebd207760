//! A JSON document read into a `serde_json::Value` that also reports the keys an object
//! repeats: serde_json keeps the last silently, which hides an experiment's typo'd
//! second `"method"` (YAML refuses them already, with their position).

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `text`; the second value lists each repeated key as "JSON pointer of its
/// object: key".
pub fn parse_json(text: &str) -> Result<(Value, Vec<String>), serde_json::Error> {
    let repeated = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Node {
        path: String::new(),
        repeated: &repeated,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok((value, repeated.into_inner()))
}

/// One value of the document, at `path`.
struct Node<'a> {
    path: String,
    repeated: &'a RefCell<Vec<String>>,
}

impl Node<'_> {
    fn child(&self, step: &str) -> Self {
        Node {
            path: format!(
                "{}/{}",
                self.path,
                step.replace('~', "~0").replace('/', "~1")
            ),
            repeated: self.repeated,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child(&items.len().to_string()))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self.child(&key))?;
            if object.insert(key.clone(), value).is_some() {
                let at = if self.path.is_empty() {
                    "/"
                } else {
                    &self.path
                };
                self.repeated.borrow_mut().push(format!("{at}: {key}"));
            }
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_reported_where_they_are_and_the_last_one_counts() {
        let (value, repeated) =
            parse_json(r#"{"a": 1, "m": [{"x": 1, "x": 2}], "a": 3, "n": 1.5}"#).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"a": 3, "m": [{"x": 2}], "n": 1.5})
        );
        assert_eq!(repeated, vec!["/m/0: x".to_string(), "/: a".to_string()]);
        assert!(parse_json("{} x").is_err(), "trailing characters");
    }
}
