//! `lab address --write FILE`: points the experiment's consumer probe at the lab, editing
//! the file in place and leaving every other byte as it was (the tutorial's manual `vi`
//! step, without reformatting the user's file).
//!
//! How the one string literal is found without a hand-written JSON scanner: serde_json
//! reads the document to learn the probe's current URL; every `"` in the text is then
//! tried as the start of a JSON string (serde_json's stream reader says where it ends);
//! a literal that decodes to the current URL is a candidate, and a candidate is taken only
//! if replacing it yields exactly the original document with that one URL changed.
//! YAML experiments work the same way, with every verbatim occurrence of the URL as a
//! candidate (a URL needs no escaping in YAML scalars) and serde-saphyr as the reader.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The name of the experiment's http probe that calls the consumer.
pub const CONSUMER_PROBE: &str = "consumer-service-must-still-respond";

/// The JSON pointers of every activity named [`CONSUMER_PROBE`] that has a `provider.url`.
fn probe_url_pointers(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let lists = ["/steady-state-hypothesis/probes", "/method", "/rollbacks"];
    for list in lists {
        let Some(Value::Array(items)) = doc.pointer(list) else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let named = item.get("name").and_then(Value::as_str) == Some(CONSUMER_PROBE);
            let has_url = item.pointer("/provider/url").is_some_and(Value::is_string);
            if named && has_url {
                found.push(format!("{list}/{i}/provider/url"));
            }
        }
    }
    found
}

/// Byte spans of the JSON string literals in `text` that decode to `value`.
fn literal_spans(text: &str, value: &str) -> Vec<(usize, usize)> {
    text.match_indices('"')
        .filter_map(|(start, _)| {
            let mut stream =
                serde_json::Deserializer::from_str(&text[start..]).into_iter::<String>();
            match stream.next() {
                Some(Ok(decoded)) if decoded == value => {
                    Some((start, start + stream.byte_offset()))
                }
                _ => None,
            }
        })
        .collect()
}

/// The experiment formats `--write` edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl Format {
    /// YAML for `.yaml`/`.yml`, JSON otherwise (as the Chaos Toolkit decides).
    pub fn of(path: &Path) -> Format {
        let yaml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        if yaml { Format::Yaml } else { Format::Json }
    }

    fn parse(self, text: &str) -> Option<Value> {
        match self {
            Format::Json => serde_json::from_str(text).ok(),
            Format::Yaml => serde_saphyr::from_str(text).ok(),
        }
    }

    /// Where `value` may be written in `text`, and what replaces it.
    fn candidates(self, text: &str, value: &str, url: &str) -> Result<Vec<(usize, usize, String)>> {
        Ok(match self {
            Format::Json => {
                let literal =
                    serde_json::to_string(url).context("cannot encode the URL as JSON")?;
                literal_spans(text, value)
                    .into_iter()
                    .map(|(start, end)| (start, end, literal.clone()))
                    .collect()
            }
            Format::Yaml => text
                .match_indices(value)
                .map(|(start, found)| (start, start + found.len(), url.to_string()))
                .collect(),
        })
    }
}

/// Returns `text` with the consumer probe's URL set to `url`; `name` says which file the
/// text came from (for messages).
pub fn rewrite(format: Format, text: &str, url: &str, name: &str) -> Result<String> {
    let original: Value = match format {
        Format::Json => {
            serde_json::from_str(text).with_context(|| format!("{name} is not valid JSON"))?
        }
        Format::Yaml => {
            serde_saphyr::from_str(text).with_context(|| format!("{name} is not valid YAML"))?
        }
    };
    let pointers = probe_url_pointers(&original);
    if pointers.is_empty() {
        bail!(
            "{name} has no probe named `{CONSUMER_PROBE}` with an http provider url \
             (looked in steady-state-hypothesis.probes, method and rollbacks)"
        );
    }
    let mut current_text = text.to_string();
    let mut current_doc = original;
    for pointer in pointers {
        let old_url = current_doc
            .pointer(&pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut expected = current_doc.clone();
        if let Some(slot) = expected.pointer_mut(&pointer) {
            *slot = Value::String(url.to_string());
        }
        let rewritten = format
            .candidates(&current_text, &old_url, url)?
            .into_iter()
            .map(|(start, end, new)| {
                format!("{}{new}{}", &current_text[..start], &current_text[end..])
            })
            .find(|candidate| format.parse(candidate).as_ref() == Some(&expected));
        let Some(rewritten) = rewritten else {
            bail!("cannot locate the URL of `{CONSUMER_PROBE}` ({pointer}) in the text of {name}");
        };
        current_text = rewritten;
        current_doc = expected;
    }
    Ok(current_text)
}

/// Rewrites the consumer probe's URL in the experiment file `path` (JSON or YAML).
pub fn write_consumer_url(path: &Path, url: &str) -> Result<()> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
    let new_text = rewrite(Format::of(path), &text, url, &name)?;
    if new_text != text {
        // The user's file: replaced whole, its permissions kept.
        atomic_file::write(path, new_text.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!("../../experiment.json");

    /// The bytes before and after the one changed literal must be the original ones.
    fn assert_only_url_changed(before: &str, after: &str, old: &str, new: &str) {
        let old_literal = serde_json::to_string(old).unwrap();
        let new_literal = serde_json::to_string(new).unwrap();
        let start = before.find(&old_literal).unwrap();
        assert_eq!(&after[..start], &before[..start]);
        assert_eq!(&after[start..start + new_literal.len()], new_literal);
        assert_eq!(
            &after[start + new_literal.len()..],
            &before[start + old_literal.len()..]
        );
    }

    #[test]
    fn the_seed_experiment_gets_only_its_url_changed() {
        let url = "http://127.0.0.1:30080/invokeConsumedService";
        let after = rewrite(Format::Json, SEED, url, "experiment.json").unwrap();
        assert_only_url_changed(
            SEED,
            &after,
            "http://192.168.39.7:31546/invokeConsumedService",
            url,
        );
        // Idempotent: writing the same URL again changes nothing.
        assert_eq!(
            rewrite(Format::Json, &after, url, "experiment.json").unwrap(),
            after
        );
    }

    #[test]
    fn the_same_url_elsewhere_in_the_file_is_left_alone() {
        // The URL also appears in the description and in another probe first.
        let text = r#"{"description": "calls \"http://a/x\"", "steady-state-hypothesis": {"probes": [
  {"name": "other", "provider": {"type": "http", "url": "http://a/x"}},
  {"name": "consumer-service-must-still-respond", "provider": {"type": "http", "url":"http:\/\/a/x"}}]}}"#;
        let after = rewrite(Format::Json, text, "http://b/y", "t.json").unwrap();
        let expected = text.replace(r#""url":"http:\/\/a/x""#, r#""url":"http://b/y""#);
        assert_eq!(after, expected);
    }

    #[test]
    fn a_missing_probe_or_bad_json_is_a_clear_error() {
        let err = rewrite(Format::Json, r#"{"method": []}"#, "http://x/", "e.json").unwrap_err();
        assert!(
            err.to_string()
                .contains("e.json has no probe named `consumer-service-must-still-respond`"),
            "{err}"
        );
        let err = rewrite(Format::Json, "{", "http://x/", "e.json").unwrap_err();
        assert!(
            format!("{err:#}").starts_with("e.json is not valid JSON"),
            "{err:#}"
        );
    }

    #[test]
    fn yaml_experiments_get_only_their_url_changed() {
        let text = "# the tutorial's experiment, as YAML\ntitle: t # same URL in a comment: http://a:1/x\nsteady-state-hypothesis:\n  probes:\n    - name: other\n      provider: {type: http, url: http://a:1/x}\n    - name: consumer-service-must-still-respond\n      tolerance: 200\n      provider:\n        type: http\n        url: \"http://a:1/x\"\n";
        let after = rewrite(Format::Yaml, text, "http://b:2/y", "e.yaml").unwrap();
        assert_eq!(
            after,
            text.replace("url: \"http://a:1/x\"", "url: \"http://b:2/y\"")
        );
        let err = rewrite(Format::Yaml, "title: [", "http://x/", "e.yaml").unwrap_err();
        assert!(
            format!("{err:#}").starts_with("e.yaml is not valid YAML"),
            "{err:#}"
        );
    }

    #[test]
    fn write_edits_the_file_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("experiment.json");
        std::fs::write(&path, SEED).unwrap();
        write_consumer_url(&path, "http://localhost:30080/invokeConsumedService").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"http://localhost:30080/invokeConsumedService\""));
        assert_eq!(
            text.len(),
            SEED.len() + "localhost:30080".len() - "192.168.39.7:31546".len()
        );
        let yaml = dir.path().join("e.yml");
        std::fs::write(&yaml, "title: x\n").unwrap();
        let err = write_consumer_url(&yaml, "http://x/").unwrap_err();
        assert!(
            err.to_string().contains("e.yml has no probe named"),
            "{err}"
        );
        let err = write_consumer_url(&dir.path().join("none.json"), "http://x/").unwrap_err();
        assert!(format!("{err:#}").contains("cannot read"), "{err:#}");
    }
}
