//! Every tier test is ignored by default, with its tier in the reason: otherwise a plain
//! `cargo test` (the local tier) would run it, or count it as passed without its tier.

use std::fs;
use std::path::Path;

use test_kit::tier::Tier;

/// (file, line, test name, the attribute lines above it) of every test function under
/// each crate's `tests/` folder.
fn tests_in(dir: &Path, found: &mut Vec<(String, usize, String, Vec<String>)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            tests_in(&path, found);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = fs::read_to_string(&path).expect("read a test file");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(rest) = line.trim_start().strip_prefix("fn ") else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let attributes: Vec<String> = lines[..i]
                .iter()
                .rev()
                .take_while(|l| l.trim_start().starts_with("#["))
                .map(|l| l.trim().to_string())
                .collect();
            if attributes.iter().any(|a| a == "#[test]") {
                found.push((path.display().to_string(), i + 1, name, attributes));
            }
        }
    }
}

/// Every test function under the `tests/` folder of each crate of the workspace at `root`.
fn workspace_tests(root: &Path) -> Vec<(String, usize, String, Vec<String>)> {
    let mut found = Vec::new();
    for crate_dir in fs::read_dir(root).expect("list the workspace").flatten() {
        tests_in(&crate_dir.path().join("tests"), &mut found);
    }
    found
}

#[test]
fn every_tier_test_is_ignored_with_its_tier_as_the_reason() {
    let root = test_kit::repo::root();
    let found = workspace_tests(&root);
    let tagged: Vec<(Tier, &str)> = Tier::ALL
        .into_iter()
        .filter_map(|tier| Some((tier, tier.tag()?)))
        .collect();
    let tags: Vec<&str> = tagged.iter().map(|(_, tag)| *tag).collect();
    let mut tier_tests = 0;
    for (file, line, name, attributes) in &found {
        let ignore = attributes.iter().find(|a| a.starts_with("#[ignore"));
        match tagged.iter().find(|(_, tag)| name.starts_with(tag)) {
            Some((tier, tag)) => {
                tier_tests += 1;
                assert!(
                    ignore.is_some_and(|a| a.contains(&format!("{tier} tier"))),
                    "{file}:{line}: {name} is a {tag} test but is not #[ignore = \"{tier} tier: ...\"]"
                );
            }
            None => assert!(
                ignore.is_none(),
                "{file}:{line}: {name} is ignored but its name has no tier tag ({tags:?}), so no tier runs it"
            ),
        }
    }
    assert!(tier_tests >= 25, "only {tier_tests} tier tests found");
}

/// The test target a file under `tests/` belongs to: `tests/x.rs` or `tests/x/...`.
fn target_of(file: &str) -> Option<&str> {
    let (_, rest) = file.split_once("/tests/")?;
    let first = rest.split('/').next()?;
    Some(first.strip_suffix(".rs").unwrap_or(first))
}

/// Whether `script` names the test target `target` with `--test` (exactly, or by a
/// pattern ending in `*`).
fn script_runs(script: &str, target: &str) -> bool {
    script.split("--test ").skip(1).any(|rest| {
        let name = rest
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .trim_matches('\'');
        match name.strip_suffix('*') {
            Some(prefix) => target.starts_with(prefix),
            None => target == name,
        }
    })
}

#[test]
fn the_docker_tiers_scripts_run_every_test_target_of_their_tier() {
    // The scripts name their test targets (`cargo test --workspace --test NAME`: the
    // workspace's features, so nothing is rebuilt); a new target would go unnoticed.
    let root = test_kit::repo::root();
    let found = workspace_tests(&root);
    for (tier, script) in [
        (Tier::Kind, "scripts/kind-test.sh"),
        (Tier::Minikube, "scripts/minikube-test.sh"),
    ] {
        let text = fs::read_to_string(root.join(script)).expect("read the tier's script");
        let tag = tier.tag().expect("a tagged tier");
        let mut targets = 0;
        for (file, line, name, _) in &found {
            if !name.starts_with(tag) {
                continue;
            }
            let target = target_of(file).expect("a file under tests/");
            targets += 1;
            assert!(
                script_runs(&text, target),
                "{file}:{line}: {name} is a {tier} tier test, but {script} never runs `--test {target}`"
            );
        }
        assert!(targets >= 2, "only {targets} {tier} tier tests found");
    }
    assert!(script_runs(
        "cargo test --test 'python_parity*' --",
        "python_parity_nodes"
    ));
    assert!(!script_runs("cargo test --test kind --", "kind_challenges"));
}
