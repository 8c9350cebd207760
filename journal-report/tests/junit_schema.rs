//! Compatibility tier: the JUnit XML of every journal fixture validates against the
//! Jenkins JUnit schema (fetched from PyPI by scripts/setup-junit-schema.sh, never kept
//! in the repo), checked by xmllint.

use journal_report::{Journal, junit};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

/// xmllint's verdict on `xml`: Ok, or what it said.
fn validate(schema: &Path, xml: &str, dir: &Path, name: &str) -> Result<(), String> {
    let file = dir.join(format!("{name}.xml"));
    std::fs::write(&file, xml).expect("write");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("compatibility tier: cannot run xmllint ({e}); scripts/setup-junit-schema.sh installs it"));
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() && said.contains(" validates") {
        Ok(())
    } else {
        Err(said)
    }
}

#[test]
#[ignore = "compatibility tier: needs the JUnit schema (PyPI) and xmllint; scripts/test.sh sets them up"]
fn compat_tier_junit_of_every_journal_validates_against_the_junit_schema() {
    let schema = test_kit::tier::junit_schema();
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut checked = 0;
    for entry in std::fs::read_dir(&fixtures).expect("fixtures").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name.starts_with("broken-") {
            continue;
        }
        let journal = Journal::read(&entry.path()).unwrap_or_else(|e| panic!("{e}"));
        if let Err(said) = validate(&schema, &junit::render(&journal), dir.path(), &name) {
            panic!("{name}: the JUnit XML does not validate: {said}");
        }
        checked += 1;
    }
    assert_eq!(checked, 6, "every fixture journal");

    // Characters XML cannot carry (a process's ANSI colours), an interrupted activity,
    // a run that never ended.
    let odd = Journal::from_value(json!({
        "experiment": {"title": "odd \u{1b}[31mred\u{1b}[0m"},
        "status": null,
        "run": [
            {"activity": {"name": "colours", "type": "action"}, "status": "failed",
             "output": {"status": 1, "stdout": "\u{1b}[31mfail\u{0}", "stderr": ""}, "duration": 1e300},
            {"activity": {"name": "cut short", "type": "action"}}
        ]
    }))
    .expect("reads");
    let xml = junit::render(&odd);
    validate(&schema, &xml, dir.path(), "odd").unwrap_or_else(|said| panic!("{said}\n{xml}"));

    // The validator does reject what the schema forbids (a test case without a name).
    let bad = xml.replacen("<testcase name=\"colours\"", "<testcase", 1);
    assert!(
        validate(&schema, &bad, dir.path(), "bad").is_err(),
        "xmllint validates"
    );
}
