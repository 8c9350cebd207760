//! Random valid experiments for the differential test, from a seed: the same seed gives
//! the same experiment and options, so a failing case reproduces with `DIFF_SEED`.
//!
//! Every provider targets the test server (`${base_url}`), a refused loopback port,
//! short local processes, or Python standard-library functions (through chaos-runner's
//! bridge, in the reference's interpreter); every case stays well under a few seconds.
//! Some cases declare secrets, read a `--var-file`, retry a refused HTTP call
//! (`max_retries`) or send header values the test server echoes. Outcomes are
//! deterministic by construction where timing could decide them (see `during`).

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

/// One generated case: the experiment, the `run` options for both runners, and tags
/// naming what it exercises (the summary counts them; the allow-list reads them).
#[derive(Debug, Clone)]
pub struct Case {
    #[allow(dead_code)] // for Debug output
    pub seed: u64,
    pub experiment: Value,
    pub args: Vec<String>,
    pub tags: Vec<&'static str>,
    /// A `--var-file` for both runners (JSON), when the case has one.
    pub var_file: Option<Value>,
}

/// The secret the cases that declare secrets use (`${token}`).
const TOKEN: &str = "s3cret-token";
/// A configuration value only the `--var-file` gives (`${from_file}`).
const FROM_FILE: &str = "from the var file";

fn python(module: &str, func: &str, arguments: Value) -> Value {
    json!({"type": "python", "module": module, "func": func, "arguments": arguments})
}

/// A refused port on loopback (discard service: nothing listens in the test machine).
const REFUSED: &str = "http://127.0.0.1:9/";

struct Gen {
    rng: StdRng,
    tags: Vec<&'static str>,
    /// Names given so far (method, hypothesis), which `ref`s may point at.
    names: Vec<String>,
    next: usize,
    /// The hypothesis runs while the method does: no marker changes in the method.
    during: bool,
    /// The experiment declares the `creds` secrets (`${token}`).
    secrets: bool,
    /// A `--var-file` gives `${from_file}`.
    var_file: bool,
}

impl Gen {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())].clone()
    }

    /// One of `met` most of the time (so that the method runs in most cases), else one
    /// of `not_met`.
    fn met_or_not(&mut self, met: &[Value], not_met: &[Value]) -> Value {
        if self.chance(0.8) {
            self.pick(met)
        } else {
            self.pick(not_met)
        }
    }

    fn tag(&mut self, tag: &'static str) {
        if !self.tags.contains(&tag) {
            self.tags.push(tag);
        }
    }

    fn name(&mut self, stem: &str) -> String {
        self.next += 1;
        format!("{stem}-{}", self.next)
    }

    /// A hypothesis probe: (provider, tolerance) pairs whose verdicts are known, met or not.
    fn hypothesis_probe(&mut self) -> Value {
        let name = self.name("probe");
        let http = |path: &str| json!({"type": "http", "url": format!("${{base_url}}{path}"), "timeout": 5});
        let process =
            |path: &str, args: Value| json!({"type": "process", "path": path, "arguments": args});
        let (provider, tolerance) = match self.rng.random_range(0..11) {
            0 => {
                self.tag("tolerance-status");
                let t = self.met_or_not(
                    &[
                        json!(200),
                        json!([200, 201]),
                        json!({"type": "range", "range": [200, 299], "target": "status"}),
                    ],
                    &[
                        json!(404),
                        json!([500, 503, 504]),
                        json!({"type": "range", "range": [300, 399], "target": "status"}),
                    ],
                );
                (http("/ok"), t)
            }
            1 => {
                self.tag("tolerance-regex");
                let t = self.met_or_not(
                    &[
                        json!({"type": "regex", "pattern": "^hel+o$", "target": "body"}),
                        json!({"type": "regex", "pattern": "${word}", "target": "body"}),
                    ],
                    &[json!({"type": "regex", "pattern": "bye", "target": "body"})],
                );
                (http("/ok"), t)
            }
            2 => {
                self.tag("tolerance-jsonpath");
                let t = self.met_or_not(
                    &[
                        json!({"type": "jsonpath", "path": "$.status", "expect": "UP", "target": "body"}),
                        json!({"type": "jsonpath", "path": "$.items[*].name", "count": 2, "target": "body"}),
                        json!({"type": "jsonpath", "path": "$.items[*].name", "expect": ["a", "b"], "target": "body"}),
                        json!({"type": "jsonpath", "path": "$.count", "target": "body"}),
                    ],
                    &[
                        json!({"type": "jsonpath", "path": "$.status", "expect": "DOWN", "target": "body"}),
                        json!({"type": "jsonpath", "path": "$.missing", "target": "body"}),
                    ],
                );
                (http("/json"), t)
            }
            3 => {
                self.tag("tolerance-status");
                let code = self.pick(&[200, 404, 500, 503]);
                let t = self.met_or_not(
                    &[json!(code), json!([code, 599])],
                    &[
                        json!(if code == 200 { 404 } else { 200 }),
                        json!([200, 204]),
                    ],
                );
                (http(&format!("/status/{code}")), t)
            }
            4 => {
                self.tag("tolerance-int");
                let (path, args, code) = self.pick(&[
                    ("true", json!([]), 0),
                    ("false", json!([]), 1),
                    ("sh", json!(["-c", "exit 3"]), 3),
                ]);
                let t = self.met_or_not(&[json!(code), json!([code, 7])], &[json!(code + 1)]);
                (process(path, args), t)
            }
            5 => {
                self.tag("tolerance-stdout");
                let t = self.met_or_not(
                    &[
                        json!({"type": "range", "range": [10, 20], "target": "stdout"}),
                        json!({"type": "regex", "pattern": "^15", "target": "stdout"}),
                    ],
                    &[json!({"type": "range", "range": [20, 30], "target": "stdout"})],
                );
                (process("echo", json!(["15"])), t)
            }
            6 => {
                self.tag("tolerance-other");
                // Never met by an http output (a mapping).
                let t = self.pick(&[json!(true), json!(false), json!("hello"), json!([1, 2, 3])]);
                (http("/ok"), t)
            }
            7 => {
                self.tag("tolerance-probe");
                // Any output of a tolerance probe that runs is truthy; one that fails
                // (refused, timed out) is not met.
                let provider = self.met_or_not(
                    &[
                        json!({"type": "http", "url": "${base_url}/status/200", "arguments": {}, "timeout": 2}),
                        json!({"type": "process", "path": "true", "arguments": {}}),
                    ],
                    &[
                        json!({"type": "http", "url": REFUSED, "arguments": {}, "timeout": 1}),
                        json!({"type": "process", "path": "sh", "arguments": {"-c": "sleep 2"}, "timeout": 0.2}),
                    ],
                );
                let t = json!({"type": "probe", "name": "tolerance-probe", "provider": provider});
                (http("/ok"), t)
            }
            8 | 9 => {
                self.tag("python");
                // Standard-library functions both interpreters have, with their outputs'
                // tolerances (Python's `==` decides: 4 == 4.0, True is not 1 here).
                let (provider, met, not_met) = self.pick(&[
                    (
                        python("os.path", "exists", json!({"path": "/"})),
                        json!(true),
                        json!(false),
                    ),
                    (
                        python("os.path", "exists", json!({"path": "/nonexistent-cascade"})),
                        json!(false),
                        json!(true),
                    ),
                    (
                        python(
                            "json",
                            "dumps",
                            json!({"obj": {"b": 1, "a": [1, 2.5, null]}, "sort_keys": true}),
                        ),
                        json!("{\"a\": [1, 2.5, null], \"b\": 1}"),
                        json!("{\"b\": 1}"),
                    ),
                    (
                        python(
                            "math",
                            "isclose",
                            json!({"a": 0.30000000000000004, "b": 0.3}),
                        ),
                        json!(true),
                        json!(false),
                    ),
                    (
                        python("os.path", "basename", json!({"p": "/a/b/${word}.txt"})),
                        json!("hel+o.txt"),
                        json!("${word}.txt"),
                    ),
                    (python("math", "gcd", json!({})), json!(0), json!(1)),
                ]);
                let t = if self.chance(0.8) { met } else { not_met };
                (provider, t)
            }
            _ => {
                if self.during {
                    // A marker changed by nothing while the hypothesis runs: always there.
                    return self.hypothesis_probe();
                }
                self.tag("marker");
                (process("test", json!(["-f", "${marker}"])), json!(0))
            }
        };
        self.names.push(name.clone());
        json!({"type": "probe", "name": name, "tolerance": tolerance, "provider": provider})
    }

    /// A method or rollback activity: its provider, and whether it is a probe.
    fn activity(&mut self, rollback: bool) -> Value {
        if !self.names.is_empty() && self.chance(0.12) {
            self.tag("ref");
            let target = self.pick(&self.names.clone());
            return json!({"ref": target});
        }
        let http = |path: &str| json!({"type": "http", "url": format!("${{base_url}}{path}"), "timeout": 5});
        let process =
            |path: &str, args: Value| json!({"type": "process", "path": path, "arguments": args});
        let provider = match self.rng.random_range(0..17) {
            0 => http(self.pick(&["/ok", "/json"])),
            1 => {
                let code = self.pick(&[200, 201, 404, 500, 503]);
                http(&format!("/status/{code}"))
            }
            2 => {
                self.tag("http-arguments");
                let mut p = http("/echo");
                p["method"] = json!(self.pick(&["POST", "PUT", "GET"]));
                p["arguments"] = json!({"a": "b", "n": "1"});
                if self.chance(0.5) {
                    p["headers"] = json!({"Content-Type": "application/json", "X-Test": "t"});
                }
                p
            }
            3 => {
                self.tag("http-failure");
                json!({"type": "http", "url": REFUSED, "timeout": 1})
            }
            4 => {
                self.tag("http-timeout");
                let mut p = http("/slow/600");
                p["timeout"] = json!(0.2);
                p
            }
            5 => {
                self.tag("expected-status");
                let mut p = http(&format!("/status/{}", self.pick(&[200, 503])));
                p["expected_status"] = json!(self.pick(&[json!(200), json!([200, 204])]));
                p
            }
            6 => process(self.pick(&["true", "false"]), json!([])),
            7 => process(
                "echo",
                json!(self.pick(&[vec!["hello"], vec!["-n", "a b"], vec![]])),
            ),
            8 => {
                self.tag("process-shell");
                let args = self.pick(&[
                    json!("-c 'echo out; echo err >&2; exit 2'"),
                    json!(["-c", "printf '%s' \"$0\"", "zero"]),
                    json!({"-c": "echo dict"}),
                ]);
                process("sh", args)
            }
            9 => {
                self.tag("process-timeout");
                let mut p = process("sleep", json!(["2"]));
                p["timeout"] = json!(0.2);
                p
            }
            12 | 13 => {
                self.tag("python");
                let words = json!({"n": 1, "s": "${word}", "f": 0.5, "u": "é ü", "none": null});
                self.pick(&[
                    python("os.path", "exists", json!({"path": "${marker}"})),
                    python("json", "dumps", json!({"obj": words})),
                    python(
                        "json",
                        "dumps",
                        json!({"obj": [1, "two", 3.0], "indent": 1}),
                    ),
                    python("math", "isclose", json!({"a": 1, "b": 1.0000000001})),
                    python("os.path", "splitext", json!({"p": "/x/archive.tar.gz"})),
                ])
            }
            14 => {
                // Raised in Python: the activity fails with the exception's text.
                self.tag("python-failure");
                self.pick(&[
                    python("math", "isclose", json!({"a": "x", "b": 1})),
                    python("json", "loads", json!({"s": "{not json"})),
                    python(
                        "os.path",
                        "getsize",
                        json!({"filename": "/nonexistent-cascade"}),
                    ),
                ])
            }
            15 => {
                self.tag("header-values");
                let mut values = vec![
                    json!("${word}"),
                    json!("plain"),
                    json!("a b;c=1, d"),
                    json!("${short}"),
                ];
                if self.secrets {
                    self.tag("secrets");
                    values.push(json!("Bearer ${token}"));
                }
                if self.var_file {
                    self.tag("var-file");
                    values.push(json!("${from_file}"));
                }
                let mut p = http("/echo");
                p["headers"] = json!({"X-Test": self.pick(&values)});
                p
            }
            16 => {
                self.tag("max-retries");
                let retries = self.pick(&[json!(0), json!(1), json!(2)]);
                let mut p = if self.chance(0.7) {
                    json!({"type": "http", "url": REFUSED, "timeout": 1})
                } else {
                    http("/ok")
                };
                p["max_retries"] = retries;
                p
            }
            _ if self.secrets && self.chance(0.3) => {
                self.tag("secrets");
                process("echo", json!(["token:", "${token}"]))
            }
            _ if self.var_file && self.chance(0.3) => {
                self.tag("var-file");
                process("echo", json!(["${from_file}", "${short}"]))
            }
            _ if self.during => process("true", json!([])),
            10 => {
                self.tag("marker");
                process("rm", json!(["-f", "${marker}"]))
            }
            _ => {
                self.tag("marker");
                process("touch", json!(["${marker}"]))
            }
        };
        let kind = if !rollback && self.chance(0.3) {
            "probe"
        } else {
            "action"
        };
        let name = self.name(if rollback { "rollback" } else { kind });
        let mut a = json!({"type": kind, "name": name, "provider": provider});
        if self.chance(0.2) {
            self.tag("background");
            a["background"] = json!(true);
        } else if self.chance(0.05) {
            a["background"] = json!(false);
        }
        if self.chance(0.25) {
            self.tag("pauses");
            let mut pauses = serde_json::Map::new();
            for key in ["before", "after"] {
                if self.chance(0.6) {
                    let v = self.pick(&[json!(0), json!(0.01), json!(0.03), json!("${short}")]);
                    pauses.insert(key.into(), v);
                }
            }
            a["pauses"] = Value::Object(pauses);
        }
        if self.chance(0.06) {
            self.tag("activity-dry");
            a["dry"] = json!(self.pick(&["actions", "probes", "activities", "pause"]));
        }
        if kind == "probe" && self.chance(0.15) {
            // A method probe's tolerance is not checked (only the http warning looks at it).
            a["tolerance"] = json!(200);
        }
        if !rollback {
            self.names.push(name);
        }
        a
    }
}

/// The case for `seed`.
pub fn case(seed: u64) -> Case {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
        tags: Vec::new(),
        names: Vec::new(),
        next: 0,
        during: false,
        secrets: false,
        var_file: false,
    };
    let mut args: Vec<String> = Vec::new();
    let strategy = if g.chance(0.4) {
        None
    } else {
        Some(g.pick(&[
            "default",
            "before-method-only",
            "after-method-only",
            "during-method-only",
            "continuously",
        ]))
    };
    g.during = matches!(strategy, Some("during-method-only" | "continuously"));
    if let Some(s) = strategy {
        args.extend(["--hypothesis-strategy".into(), s.into()]);
        g.tag(if g.during {
            "strategy-during"
        } else {
            "strategy"
        });
    }
    if g.during {
        args.extend(["--hypothesis-frequency".into(), "0.05".into()]);
        if g.chance(0.3) {
            g.tag("fail-fast");
            args.push("--fail-fast".into());
        }
    }
    // While the hypothesis runs continuously, the method must outlast its first round
    // whatever is dry, so that both runners see it (and --fail-fast stops both after
    // the same activity): its first activity takes 0.5 s and is never dry.
    let dry_choices: &[Option<&str>] = if g.during {
        &[None, None, Some("actions"), Some("probes")]
    } else {
        &[
            None,
            None,
            None,
            Some("actions"),
            Some("probes"),
            Some("activities"),
            Some("pause"),
        ]
    };
    let dry = g.pick(dry_choices);
    if let Some(d) = dry {
        g.tag("dry");
        args.extend(["--dry".into(), d.into()]);
    }
    if g.chance(0.5) {
        let r = g.pick(&["default", "always", "never", "deviated"]);
        g.tag("rollback-strategy");
        args.extend(["--rollback-strategy".into(), r.into()]);
    }

    // Secrets (inline) and a var file (a value only it gives, and one it overrides)
    // are decided first: activities may use them.
    g.secrets = g.chance(0.25);
    g.var_file = g.chance(0.25);
    let var_file = g
        .var_file
        .then(|| json!({"configuration": {"from_file": FROM_FILE, "short": 0.01}}));
    let mut experiment = json!({
        "title": format!("differential case {seed}"),
        "description": "generated by tests/differential",
        "configuration": {
            "base_url": "http://127.0.0.1:1",
            "marker": "/nonexistent",
            "short": 0.02,
            "word": "hel+o"
        },
    });
    if g.chance(0.85) {
        let n = g.rng.random_range(1..=4);
        let probes: Vec<Value> = (0..n).map(|_| g.hypothesis_probe()).collect();
        let mut probes = probes;
        if g.chance(0.05) {
            // A ref in the hypothesis carries its own tolerance (here the target's).
            g.tag("hypothesis-ref");
            let target = probes[0]["name"].clone();
            let tolerance = probes[0]["tolerance"].clone();
            probes.push(json!({"ref": target, "tolerance": tolerance}));
        }
        experiment["steady-state-hypothesis"] = json!({"title": "generated", "probes": probes});
    }
    let mut method = Vec::new();
    if g.during {
        let kind = if dry == Some("actions") {
            "probe"
        } else {
            "action"
        };
        method.push(json!({"type": kind, "name": "settle", "provider":
            {"type": "process", "path": "sleep", "arguments": ["0.5"]}}));
    }
    let n = g.rng.random_range(0..=5);
    for _ in 0..n {
        method.push(g.activity(false));
    }
    experiment["method"] = json!(method);
    if g.chance(0.7) {
        let n = g.rng.random_range(0..=3);
        let rollbacks: Vec<Value> = (0..n).map(|_| g.activity(true)).collect();
        experiment["rollbacks"] = json!(rollbacks);
    }
    if g.secrets {
        experiment["secrets"] = json!({"creds": {"token": TOKEN}});
    }
    if g.chance(0.08) {
        g.tag("runtime-strategy");
        let h = g.pick(&["default", "before-method-only", "after-method-only"]);
        let r = g.pick(&["default", "always", "never", "deviated"]);
        experiment["runtime"] =
            json!({"hypothesis": {"strategy": h}, "rollbacks": {"strategy": r}});
    }
    Case {
        seed,
        experiment,
        args,
        tags: g.tags,
        var_file,
    }
}
