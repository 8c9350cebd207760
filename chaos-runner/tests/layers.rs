//! chaos-runner's layers point one way: each module of `src/` belongs to one layer, and
//! imports only from its own layer or the layers below it. This test reads the source,
//! finds every `crate::` path (in `use` items and in expressions; comments and string
//! literals left out) and every `super::` path that climbs out of its top-level entry,
//! and fails naming the file, the line and the import when one reaches a layer above
//! its own. It maps `src/`'s top-level entries (a directory with everything in it), so
//! a new module must be given a layer here before the test passes.

use std::collections::BTreeMap;
use std::path::Path;

/// The layers, bottom first, and the top-level entries of `src/` in each.
const LAYERS: &[(&str, &[&str])] = &[
    (
        // Nothing about experiments: problems and JSON pointers, durations, strict JSON,
        // Python value semantics, panics, signals, the async runtime, the log, pauses,
        // TLS set-up.
        "leaves",
        &[
            "lib.rs",
            "diagnostics.rs",
            "duration.rs",
            "strict_json.rs",
            "python_value.rs",
            "panic.rs",
            "interrupt.rs",
            "runtime.rs",
            "log.rs",
            "pause.rs",
            "tls.rs",
        ],
    ),
    (
        // The experiment read into types: loading, activities, the hypothesis,
        // tolerances, providers, control declarations, strategies, configuration.
        "model",
        &[
            "experiment.rs",
            "activity.rs",
            "hypothesis.rs",
            "tolerance.rs",
            "provider.rs",
            "control.rs",
            "strategy.rs",
            "config",
        ],
    ),
    (
        // What a `python` provider calls: native drivers, the Python bridge, and the
        // run's shared I/O (runtime, HTTP clients, exported variables) they use.
        "drivers",
        &["run_io.rs", "bridge", "drivers"],
    ),
    (
        // The rules over the model, and the settings file (read and checked).
        "validation",
        &["validate", "settings.rs"],
    ),
    // What a run records, and its writer (the engine records as it goes).
    ("journal", &["journal.rs"]),
    // Running an experiment.
    ("engine", &["engine"]),
    // What is made from journals.
    ("report", &["report.rs"]),
    ("cli", &["cli.rs", "main.rs"]),
];

/// Items of the crate root that modules may name (`crate::NAME`): the constant in
/// `lib.rs` and the log's exported macro. Anything else at the root is a re-export,
/// which would hide the layer of what it names.
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("CHAOSLIB_COMPAT_VERSION", "lib.rs"),
    ("critical", "log.rs"),
];

/// An import from a higher layer.
#[derive(Debug, PartialEq)]
struct Violation {
    file: String,
    line: usize,
    import: String,
    message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "src/{}:{}: `{}`: {}",
            self.file, self.line, self.import, self.message
        )
    }
}

/// The layer index of a top-level entry of `src/` (`engine`, `cli.rs`).
fn layer_of(entry: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, entries)| entries.contains(&entry))
}

/// The top-level entry a source file belongs to: `engine/provider/http.rs` -> `engine`.
fn entry_of(file: &str) -> &str {
    file.split_once('/').map_or(file, |(dir, _)| dir)
}

/// The top-level entry `crate::<first>` names, given the crate's top-level entries.
fn entry_named<'a>(first: &str, entries: &'a [String]) -> Option<&'a str> {
    entries
        .iter()
        .find(|e| *e == &format!("{first}.rs") || *e == first)
        .map(String::as_str)
}

/// The source with comments and the contents of string and char literals blanked
/// (newlines kept, so line numbers stay right).
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !chars
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let closing: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let rest: String = chars[j + 1..].iter().collect();
            let len = rest
                .find(&closing)
                .map_or(rest.len(), |at| at + closing.len());
            let literal_end = j + 1 + rest[..len].chars().count();
            for &ch in &chars[i..literal_end.min(chars.len())] {
                out.push(blank(ch));
            }
            i = literal_end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1F600}'), or a lifetime ('a), left as it is.
            let end = if next == Some('\\') {
                (i + 2..chars.len()).find(|&j| chars[j] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    for &ch in &chars[i..=end] {
                        out.push(blank(ch));
                    }
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Every `crate::` and `super::` path in `code` (comments and literals already
/// blanked), groups expanded (`crate::{a::B, c}` gives `crate::a::B` and `crate::c`),
/// with its line.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let prefix = ["crate", "super"].into_iter().find(|p| {
            let token: String = chars[i..].iter().take(p.len() + 2).collect();
            token == format!("{p}::")
        });
        let after_ident = chars
            .get(i.wrapping_sub(1))
            .is_some_and(|p| p.is_alphanumeric() || *p == '_' || *p == '$' || *p == ':');
        let Some(prefix) = prefix.filter(|_| !after_ident) else {
            i += 1;
            continue;
        };
        let start = i + prefix.len() + 2;
        let (paths, end) = parse_tail(&chars, start, prefix.to_string());
        let line_of = |at: usize| chars[..at].iter().filter(|c| **c == '\n').count() + 1;
        found.extend(paths.into_iter().map(|(at, p)| (line_of(at), p)));
        i = end.max(start);
    }
    found
}

/// The module path of a source file: `engine/provider/mod.rs` -> `engine::provider`.
fn module_of(file: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = file.trim_end_matches(".rs").split('/').collect();
    if matches!(parts.last(), Some(&"mod") | Some(&"lib") | Some(&"main")) {
        parts.pop();
    }
    parts
}

/// A `super::` path as a `crate::` one, when it climbs out of the file's top-level
/// entry (`super::super::cli::x` from `engine/activity.rs` is `crate::cli::x`); `None`
/// when it stays inside (a `super` in a file's inline test module names the file's own
/// module, so this errs towards staying inside).
fn climbed(file: &str, path: &str) -> Option<String> {
    let module = module_of(file);
    let segments: Vec<&str> = path.split("::").collect();
    let supers = segments.iter().take_while(|s| **s == "super").count();
    let rest = &segments[supers..];
    (supers >= module.len() && !rest.is_empty() && rest[0] != "*")
        .then(|| format!("crate::{}", rest.join("::")))
}

/// Parses what follows `prefix::` at `at`: a path, or a `{...}` group of them. Each
/// path comes with where its last item starts (its line is the one reported).
fn parse_tail(chars: &[char], mut at: usize, prefix: String) -> (Vec<(usize, String)>, usize) {
    let skip_space = |at: &mut usize| {
        while chars.get(*at).is_some_and(|c| c.is_whitespace()) {
            *at += 1;
        }
    };
    skip_space(&mut at);
    if chars.get(at) == Some(&'{') {
        at += 1;
        let mut paths = Vec::new();
        loop {
            skip_space(&mut at);
            match chars.get(at) {
                None => return (paths, at),
                Some('}') => return (paths, at + 1),
                Some(',') => at += 1,
                Some(_) => {
                    let (inner, end) = parse_item(chars, at, &prefix);
                    paths.extend(inner);
                    // Past an `as alias` or anything else up to the next separator.
                    let mut end = end;
                    while chars
                        .get(end)
                        .is_some_and(|c| *c != ',' && *c != '}' && *c != '{')
                    {
                        end += 1;
                    }
                    if end == at {
                        end += 1;
                    }
                    at = end;
                }
            }
        }
    }
    parse_item(chars, at, &prefix)
}

/// One path item after `prefix::`: `a::b::C`, `a::{...}`, `*`, `self`.
fn parse_item(chars: &[char], mut at: usize, prefix: &str) -> (Vec<(usize, String)>, usize) {
    let ident = |at: &mut usize| -> String {
        let start = *at;
        while chars
            .get(*at)
            .is_some_and(|c| c.is_alphanumeric() || *c == '_')
        {
            *at += 1;
        }
        chars[start..*at].iter().collect()
    };
    if chars.get(at) == Some(&'*') {
        return (vec![(at, format!("{prefix}::*"))], at + 1);
    }
    let start = at;
    let name = ident(&mut at);
    if name.is_empty() {
        return (Vec::new(), at);
    }
    let path = if name == "self" {
        prefix.to_string()
    } else {
        format!("{prefix}::{name}")
    };
    let mut look = at;
    while chars.get(look).is_some_and(|c| c.is_whitespace()) {
        look += 1;
    }
    if chars.get(look) == Some(&':') && chars.get(look + 1) == Some(&':') {
        return parse_tail(chars, look + 2, path);
    }
    (vec![(start, path)], at)
}

/// The violations in one file (`file` relative to `src/`), given every top-level entry.
fn check_file(file: &str, source: &str, entries: &[String]) -> Vec<Violation> {
    let own = entry_of(file);
    let Some(own_layer) = layer_of(own) else {
        return vec![Violation {
            file: file.to_string(),
            line: 1,
            import: String::new(),
            message: format!("`{own}` has no layer: add it to LAYERS in tests/layers.rs"),
        }];
    };
    let mut out = Vec::new();
    for (line, path) in crate_paths(&code_only(source)) {
        let path = if path.starts_with("super") {
            // Only a climb that names another top-level entry is an import to check (an
            // inline module's `super::item` names an item of the file's own module).
            match climbed(file, &path).filter(|p| {
                p.split("::")
                    .nth(1)
                    .is_some_and(|first| entry_named(first, entries).is_some())
            }) {
                Some(path) => path,
                None => continue,
            }
        } else {
            path
        };
        let mut segments = path.split("::").skip(1);
        let Some(first) = segments.next() else {
            continue;
        };
        let target = match entry_named(first, entries) {
            Some(entry) => entry.to_string(),
            None => match ROOT_ITEMS.iter().find(|(item, _)| *item == first) {
                Some((_, entry)) => entry.to_string(),
                None => {
                    out.push(Violation {
                        file: file.to_string(),
                        line,
                        import: path.clone(),
                        message: format!(
                            "`crate::{first}` is no module of the crate: import it from the module that defines it"
                        ),
                    });
                    continue;
                }
            },
        };
        let Some(target_layer) = layer_of(&target) else {
            out.push(Violation {
                file: file.to_string(),
                line,
                import: path.clone(),
                message: format!("`{target}` has no layer: add it to LAYERS in tests/layers.rs"),
            });
            continue;
        };
        if target_layer > own_layer {
            out.push(Violation {
                file: file.to_string(),
                line,
                import: path.clone(),
                message: format!(
                    "`{own}` ({}) imports from `{target}` ({}), a layer above it",
                    LAYERS[own_layer].0, LAYERS[target_layer].0
                ),
            });
        }
    }
    out
}

/// Every `.rs` file under `dir`, relative to `root`, sorted.
fn source_files(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            source_files(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path
                .strip_prefix(root)
                .expect("under src")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            out.insert(relative, text);
        }
    }
}

fn top_level_entries(src: &Path) -> Vec<String> {
    let mut entries: Vec<String> = std::fs::read_dir(src)
        .expect("src/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".rs") || src.join(name).is_dir())
        .collect();
    entries.sort();
    entries
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let entries = top_level_entries(&src);
    let mut files = BTreeMap::new();
    source_files(&src, &src, &mut files);
    assert!(files.len() > 20, "read only {} files", files.len());
    let violations: Vec<String> = files
        .iter()
        .flat_map(|(file, text)| check_file(file, text, &entries))
        .map(|v| v.to_string())
        .collect();
    assert!(
        violations.is_empty(),
        "imports against the layers ({}):\n{}",
        violations.len(),
        violations.join("\n")
    );
    // Every layer's entries exist: a rename must update the map, not leave it stale.
    for (layer, listed) in LAYERS {
        for entry in *listed {
            assert!(
                entries.iter().any(|e| e == entry),
                "LAYERS lists `{entry}` ({layer}), which is not in src/"
            );
        }
    }
}

#[test]
fn an_import_from_a_higher_layer_is_reported_with_its_file_and_line() {
    let entries: Vec<String> = ["activity.rs", "engine", "diagnostics.rs", "cli.rs"]
        .map(String::from)
        .to_vec();
    let source = "//! crate::engine in a comment is no import\n\
                  use crate::diagnostics::Problems;\n\
                  const S: &str = \"crate::cli::main\";\n\
                  use crate::{\n    diagnostics::pointer,\n    engine::context::RunContext,\n};\n\
                  fn f() { crate::cli::main(); }\n";
    let found = check_file("activity.rs", source, &entries);
    assert_eq!(
        found,
        vec![
            Violation {
                file: "activity.rs".into(),
                line: 6,
                import: "crate::engine::context::RunContext".into(),
                message: "`activity.rs` (model) imports from `engine` (engine), a layer above it"
                    .into(),
            },
            Violation {
                file: "activity.rs".into(),
                line: 8,
                import: "crate::cli::main".into(),
                message: "`activity.rs` (model) imports from `cli.rs` (cli), a layer above it"
                    .into(),
            },
        ]
    );
    assert_eq!(
        found[0].to_string(),
        "src/activity.rs:6: `crate::engine::context::RunContext`: `activity.rs` (model) imports from `engine` (engine), a layer above it"
    );
    // A re-export at the root would hide a layer; a module with no layer is named.
    let hidden = check_file("activity.rs", "use crate::RunHandle;\n", &entries);
    assert_eq!(hidden.len(), 1, "{hidden:?}");
    assert!(hidden[0].message.contains("no module of the crate"));
    let unmapped = check_file("newthing.rs", "fn f() {}\n", &entries);
    assert!(unmapped[0].message.contains("has no layer"), "{unmapped:?}");
}

#[test]
fn a_super_path_that_climbs_out_of_its_entry_is_checked_too() {
    let entries: Vec<String> = ["engine", "cli.rs", "diagnostics.rs"]
        .map(String::from)
        .to_vec();
    let source = "use super::context::RunContext;\nuse super::super::cli::main;\n\
                  use super::super::diagnostics::Problems;\npub(super) fn f() {}\n";
    let found = check_file("engine/activity.rs", source, &entries);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, 2);
    assert_eq!(found[0].import, "crate::cli::main");
    // In a top-level file, `super` is its own inline test module's parent: no climb.
    let tests = "mod tests { use super::*; use super::helper; }\n";
    assert!(check_file("cli.rs", tests, &entries).is_empty());
}

#[test]
fn literals_and_lifetimes_do_not_confuse_the_scan() {
    let source = "fn f<'a>(x: &'a str) -> char { let _ = r#\"crate::cli\"#; let c = '\"'; \
                  let _ = crate::diagnostics::pointer; c }\n";
    assert_eq!(
        crate_paths(&code_only(source)),
        vec![(1, "crate::diagnostics::pointer".to_string())]
    );
}
