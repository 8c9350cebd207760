//! Every validation rule, reported with its JSON pointer, all problems at once;
//! and a bounded property test: no input makes loading + validation panic.

use chaos_runner::Registry;
use chaos_runner::Vars;
use chaos_runner::validate;
use chaos_runner::{Experiment, Format, parse_experiment as parse};
use proptest::prelude::*;
use serde_json::{Value, json};

fn problems(e: &Value) -> Vec<String> {
    validate(
        &Experiment::from_value(e.clone()),
        &Registry::builtin(),
        &Vars::default(),
    )
    .problems
    .iter()
    .map(|p| p.to_string())
    .collect()
}

fn base() -> Value {
    json!({"title": "t", "description": "d", "method": []})
}

fn with(path: &str, value: Value) -> Value {
    let mut e = base();
    e[path] = value;
    e
}

fn act(provider: Value) -> Value {
    json!({"type": "action", "name": "a", "provider": provider})
}

#[test]
fn valid_experiment_has_no_problem() {
    let e = json!({
        "title": "t", "description": "d", "tags": ["x"],
        "configuration": {"u": "http://127.0.0.1:1"},
        "steady-state-hypothesis": {"title": "h", "probes": [
            {"type": "probe", "name": "p", "tolerance": 200, "provider": {"type": "http", "url": "${u}", "timeout": [1, 2]}},
            {"type": "probe", "name": "q", "tolerance": {"type": "jsonpath", "path": "$.a[*]", "count": 1},
             "provider": {"type": "process", "path": "true"}}
        ]},
        "method": [{"ref": "p"}, {"type": "action", "name": "w", "pauses": {"after": "${n}"}, "background": true,
                    "provider": {"type": "process", "path": "sleep", "arguments": ["0"]}}],
        "rollbacks": [{"ref": "w"}]
    });
    assert_eq!(problems(&e), Vec::<String>::new());
}

#[test]
fn every_rule_with_its_location() {
    let cases: Vec<(Value, &str)> = vec![
        (json!([]), "/: an experiment must be a mapping"),
        (json!({}), "/: an empty experiment is not an experiment"),
        (
            with("title", json!("")),
            "/title: experiment requires a title",
        ),
        (
            with("description", json!(null)),
            "/description: experiment requires a description",
        ),
        (
            with("tags", json!(["ok", "", 3])),
            "/tags/1: experiment tags must be a non-empty string",
        ),
        (
            with("tags", json!(["ok", "", 3])),
            "/tags/2: experiment tags must be a non-empty string",
        ),
        (
            with("extensions", json!([{"name": " "}])),
            "/extensions/0: All extensions require a non-empty name",
        ),
        (
            with(
                "configuration",
                json!({"k": {"type": "env", "key": "CHAOS_RUNNER_V_UNSET"}}),
            ),
            "/configuration: configuration 'k': environment variable CHAOS_RUNNER_V_UNSET is not set",
        ),
        (
            with(
                "secrets",
                json!({"s": {"k": {"type": "env", "key": "CHAOS_RUNNER_V_UNSET"}}}),
            ),
            "/secrets: secret 'k': environment variable CHAOS_RUNNER_V_UNSET is not set",
        ),
        (
            json!({"title": "t", "description": "d"}),
            "/method: an experiment requires a method",
        ),
        (
            with("method", json!({})),
            "/method: the method must be a list of activities",
        ),
        (
            with("method", json!([{}])),
            "/method/0: empty activity is no activity",
        ),
        (
            with("method", json!([{"ref": ""}])),
            "/method/0/ref: reference to activity must be non-empty strings",
        ),
        (
            with("method", json!([{"ref": "ghost"}])),
            "/method/0/ref: referenced activity 'ghost' could not be found in the experiment",
        ),
        (
            with("rollbacks", json!([{"ref": "ghost"}])),
            "/rollbacks/0/ref: referenced activity 'ghost' could not be found",
        ),
        (
            with(
                "method",
                json!([{"name": "a", "provider": {"type": "http", "url": "u"}}]),
            ),
            "/method/0/type: an activity must have a type",
        ),
        (
            with(
                "method",
                json!([{"type": "poke", "name": "a", "provider": {"type": "http", "url": "u"}}]),
            ),
            "/method/0/type: 'poke' is not a supported activity type",
        ),
        (
            with(
                "method",
                json!([{"type": "action", "provider": {"type": "http", "url": "u"}}]),
            ),
            "/method/0/name: an activity must have a name",
        ),
        (
            with("method", json!([{"type": "action", "name": "a"}])),
            "/method/0/provider: an activity requires a provider",
        ),
        (
            with("method", json!([act(json!({"url": "u"}))])),
            "/method/0/provider/type: a provider must have a type",
        ),
        (
            with("method", json!([act(json!({"type": "grpc"}))])),
            "/method/0/provider/type: unknown provider type 'grpc'",
        ),
        (
            with(
                "method",
                json!([{"type": "action", "name": "a", "timeout": "1", "provider": {"type": "http", "url": "u"}}]),
            ),
            "/method/0/timeout: activity timeout must be a number",
        ),
        (
            with(
                "method",
                json!([{"type": "action", "name": "a", "pauses": {"before": "soon"}, "provider": {"type": "http", "url": "u"}}]),
            ),
            "/method/0/pauses/before: activity before pause must be a number or a pattern",
        ),
        (
            with(
                "method",
                json!([{"type": "action", "name": "a", "pauses": {"after": [1]}, "provider": {"type": "http", "url": "u"}}]),
            ),
            "/method/0/pauses/after: activity after pause must be a number or a pattern",
        ),
        (
            with(
                "method",
                json!([{"type": "action", "name": "a", "background": "yes", "provider": {"type": "http", "url": "u"}}]),
            ),
            "/method/0/background: activity background must be a boolean",
        ),
        (
            with("method", json!([act(json!({"type": "http"}))])),
            "/method/0/provider/url: a HTTP activity must have a URL",
        ),
        (
            with(
                "method",
                json!([act(json!({"type": "http", "url": "u", "headers": ["a"]}))]),
            ),
            "/method/0/provider/headers: a HTTP activities expect headers as a mapping",
        ),
        (
            with(
                "method",
                json!([act(json!({"type": "http", "url": "u", "timeout": [1]}))]),
            ),
            "/method/0/provider/timeout: a HTTP timeout must be a number or a [connect, read] pair",
        ),
        (
            with(
                "method",
                json!([act(
                    json!({"type": "http", "url": "u", "expected_status": "200"})
                )]),
            ),
            "/method/0/provider/expected_status: expected_status must be an HTTP status or a list of them",
        ),
        (
            with(
                "method",
                json!([act(
                    json!({"type": "process", "path": "true", "env": ["A=1"]})
                )]),
            ),
            "/method/0/provider/env: a process env must be a mapping",
        ),
        (
            with("method", json!([act(json!({"type": "process"}))])),
            "/method/0/provider/path: a process activity must have a path",
        ),
        (
            with(
                "method",
                json!([act(json!({"type": "process", "path": "/no/such/binary"}))]),
            ),
            "/method/0/provider/path: path '/no/such/binary' cannot be found, in activity 'a'",
        ),
        (
            with(
                "method",
                json!([act(json!({"type": "python", "func": "f"}))]),
            ),
            "/method/0/provider/module: a Python activity must have a module path",
        ),
        (
            with(
                "method",
                json!([act(json!({"type": "python", "module": "m"}))]),
            ),
            "/method/0/provider/func: a Python activity must have a function name",
        ),
        (
            with(
                "method",
                json!([act(
                    json!({"type": "python", "module": "chaosaws.ec2", "func": "f"})
                )]),
            ),
            "/method/0/provider/module: could not find Python module 'chaosaws.ec2' in activity 'a'",
        ),
        (
            with("steady-state-hypothesis", json!({"probes": []})),
            "/steady-state-hypothesis/title: hypothesis requires a title",
        ),
        (
            with(
                "steady-state-hypothesis",
                json!({"title": "h", "probes": [{"type": "probe", "name": "p", "provider": {"type": "http", "url": "u"}}]}),
            ),
            "/steady-state-hypothesis/probes/0: hypothesis probe must have a tolerance entry",
        ),
    ];
    for (e, expected) in cases {
        let found = problems(&e);
        assert!(
            found.iter().any(|p| p.starts_with(expected)),
            "expected {expected:?} for {e}, got {found:?}"
        );
    }
}

#[test]
fn tolerance_rules() {
    let probe = |t: Value| {
        with(
            "steady-state-hypothesis",
            json!({"title": "h", "probes": [
            {"type": "probe", "name": "p", "tolerance": t, "provider": {"type": "process", "path": "true"}}]}),
        )
    };
    let at = "/steady-state-hypothesis/probes/0/tolerance";
    let cases: Vec<(Value, String)> = vec![
        (
            json!(1.5),
            format!("{at}: hypothesis probe tolerance must either be an integer"),
        ),
        (
            json!(null),
            format!("{at}: hypothesis probe tolerance must either be an integer"),
        ),
        (
            json!({"type": "magic"}),
            format!("{at}/type: hypothesis probe tolerance type 'magic' is unsupported"),
        ),
        (
            json!({"type": "regex"}),
            format!("{at}: hypothesis regex probe tolerance must have a `pattern` key"),
        ),
        (
            json!({"type": "regex", "pattern": "(unclosed"}),
            format!("{at}/pattern: hypothesis probe tolerance pattern (unclosed seems invalid"),
        ),
        (
            json!({"type": "regex", "pattern": 5}),
            format!("{at}/pattern: hypothesis probe tolerance pattern 5 has an invalid type"),
        ),
        (
            json!({"type": "jsonpath"}),
            format!("{at}: hypothesis jsonpath probe tolerance must have a `path` key"),
        ),
        (
            json!({"type": "jsonpath", "path": " "}),
            format!("{at}/path: hypothesis probe tolerance JSON path cannot be empty"),
        ),
        (
            json!({"type": "jsonpath", "path": "$[[["}),
            format!("{at}/path: hypothesis probe tolerance JSON path $[[[ is invalid"),
        ),
        (
            json!({"type": "range"}),
            format!("{at}: hypothesis range probe tolerance must have a `range` key"),
        ),
        (
            json!({"type": "range", "range": 5}),
            format!("{at}/range: hypothesis range must be a sequence"),
        ),
        (
            json!({"type": "range", "range": [1, 2, 3]}),
            format!("{at}/range: hypothesis range sequence must be made of two values"),
        ),
        (
            json!({"type": "range", "range": ["a", 2]}),
            format!("{at}/range/0: hypothesis range lower boundary must be a number"),
        ),
        (
            json!({"type": "range", "range": [1, "b"]}),
            format!("{at}/range/1: hypothesis range upper boundary must be a number"),
        ),
        (
            json!({"type": "probe", "name": "t"}),
            format!("{at}/provider: an activity requires a provider"),
        ),
    ];
    for (t, expected) in cases {
        let found = problems(&probe(t.clone()));
        assert!(
            found.iter().any(|p| p.starts_with(&expected)),
            "tolerance {t}: expected {expected:?}, got {found:?}"
        );
    }
    for ok in [
        json!(true),
        json!(0),
        json!("s"),
        json!([1, 2]),
        json!({"type": "range", "range": [0, 1.5]}),
    ] {
        assert_eq!(problems(&probe(ok.clone())), Vec::<String>::new(), "{ok}");
    }
}

#[test]
fn all_problems_reported_at_once() {
    let e = json!({"method": [{"type": "x"}, {"ref": "nope"}], "tags": [""]});
    let found = problems(&e);
    assert!(found.len() >= 6, "{found:#?}");
}

/// Arbitrary JSON values, biased towards experiment-like keys.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("probe".to_string()),
            Just("action".to_string()),
            Just("http".to_string()),
            Just("process".to_string()),
            Just("python".to_string()),
            Just("regex".to_string()),
            Just("jsonpath".to_string()),
            Just("range".to_string()),
            Just("${x}".to_string()),
            ".{0,8}"
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            Just("title".to_string()),
            Just("description".to_string()),
            Just("method".to_string()),
            Just("rollbacks".to_string()),
            Just("steady-state-hypothesis".to_string()),
            Just("probes".to_string()),
            Just("type".to_string()),
            Just("name".to_string()),
            Just("provider".to_string()),
            Just("ref".to_string()),
            Just("tolerance".to_string()),
            Just("pauses".to_string()),
            Just("path".to_string()),
            Just("range".to_string()),
            Just("pattern".to_string()),
            Just("tags".to_string()),
            Just("configuration".to_string()),
            Just("secrets".to_string()),
            Just("url".to_string()),
            Just("module".to_string()),
            "[a-z]{1,4}"
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    // Bounded so CI stays fast; run more locally with PROPTEST_CASES.
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn validation_never_panics(v in arb_json()) {
        let report = validate(&Experiment::from_value(v.clone()), &Registry::builtin(), &Vars::default());
        // A non-mapping is always invalid.
        if !v.is_object() {
            prop_assert!(!report.is_valid());
        }
    }

    /// Every number that reaches a timer is range-checked at validation: a pause or an
    /// activity timeout is accepted exactly when `duration::check` accepts it.
    #[test]
    fn numbers_that_become_durations_are_checked(
        seconds in prop_oneof![
            any::<f64>(),
            -1e3..1e3f64,
            Just(chaos_runner::duration::MAX_SECONDS),
            Just(1e19),
            Just(1e300),
        ],
        key in prop_oneof![Just("before"), Just("after")],
    ) {
        let mut action = act(json!({"type": "process", "path": "true"}));
        action["pauses"] = json!({ key: seconds });
        let mut timed = act(json!({"type": "process", "path": "true"}));
        timed["timeout"] = json!(seconds);
        for (e, field) in [
            (with("method", json!([action])), format!("/method/0/pauses/{key}")),
            (with("method", json!([timed])), "/method/0/timeout".to_string()),
        ] {
            let found = problems(&e);
            // serde_json writes a non-finite number as null, which is no pause at all.
            let expected = seconds.is_finite() && chaos_runner::duration::check(seconds).is_err();
            prop_assert_eq!(
                found.iter().any(|p| p.contains(&field)),
                expected,
                "{} = {}: {:?}", field, seconds, found
            );
        }
    }

    #[test]
    fn parsing_never_panics(text in ".{0,200}", yaml in any::<bool>()) {
        let format = if yaml { Format::Yaml } else { Format::Json };
        if let Ok(v) = parse("fuzz", &text, format) {
            let _ = validate(&Experiment::from_value(v), &Registry::builtin(), &Vars::default());
        }
        let _ = parse("fuzz", &text, Format::Sniff);
    }
}
