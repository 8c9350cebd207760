//! The compatibility experiments in tests/fixtures only call functions this crate has,
//! with arguments they take (what `chaos-runner validate` checks through the catalog).

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;

fn activities(experiment: &Value) -> Vec<&Value> {
    let mut all: Vec<&Value> = Vec::new();
    if let Some(probes) = experiment["steady-state-hypothesis"]["probes"].as_array() {
        all.extend(probes);
    }
    for key in ["method", "rollbacks"] {
        if let Some(list) = experiment[key].as_array() {
            all.extend(list);
        }
    }
    all
}

#[test]
fn fixture_experiments_use_known_functions_and_arguments() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let catalog = chaosk8s::catalog();
    let mut checked = 0;
    let mut functions = HashSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let experiment: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for activity in activities(&experiment) {
            let provider = &activity["provider"];
            let (module, func) = (
                provider["module"].as_str().unwrap(),
                provider["func"].as_str().unwrap(),
            );
            let spec = catalog
                .iter()
                .find(|f| f.module == module && f.name == func)
                .unwrap_or_else(|| panic!("{}: unknown {module}.{func}", path.display()));
            let args = provider["arguments"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for name in args.keys() {
                assert!(
                    spec.arguments.iter().any(|a| a.name == name),
                    "{}: {module}.{func} takes no argument {name}",
                    path.display()
                );
            }
            for required in spec.arguments.iter().filter(|a| a.default.is_none()) {
                assert!(
                    args.contains_key(required.name),
                    "{}: {module}.{func} needs {}",
                    path.display(),
                    required.name
                );
            }
            assert_eq!(
                args.get("ns").and_then(Value::as_str),
                Some("${ns}"),
                "{}: {func} must take ns",
                path.display()
            );
            functions.insert(format!("{module}.{func}"));
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "only {checked} activities found in {}",
        dir.display()
    );
    assert!(functions.len() >= 10);
}
