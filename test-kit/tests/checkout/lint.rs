//! The files that are not Rust but ship or run with the product: the Dockerfile (it
//! cannot be built in the local tier, which has no container engine: linted instead) and
//! the shell scripts. Lint tier: the linters come from PyPI and Debian's packages.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The shell scripts of the checkout: scripts/, bench/ and CI's entry point.
fn shell_scripts(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["scripts", "bench"] {
        let entries = std::fs::read_dir(root.join(dir)).expect("list a scripts folder");
        files.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "sh")),
        );
    }
    files.push(root.join(".ci/run"));
    files.sort();
    files
}

#[test]
#[ignore = "lint tier: hadolint (CASCADE_HADOLINT)"]
fn lint_tier_the_dockerfile_passes_hadolint() {
    let hadolint = test_kit::tier::hadolint();
    let out = Command::new(&hadolint)
        .args(["--no-color", "Dockerfile"])
        .current_dir(test_kit::repo::root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", hadolint.display()));
    assert!(
        out.status.success(),
        "hadolint finds problems in the Dockerfile:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "lint tier: shellcheck (CASCADE_SHELLCHECK)"]
fn lint_tier_the_shell_scripts_pass_shellcheck() {
    let shellcheck = test_kit::tier::shellcheck();
    let root = test_kit::repo::root();
    let files = shell_scripts(&root);
    assert!(
        files.len() >= 20,
        "only {} shell scripts found",
        files.len()
    );
    // Run from the root, so `# shellcheck source=scripts/...` directives resolve.
    let out = Command::new(&shellcheck)
        .args(files.iter().map(|f| f.strip_prefix(&root).unwrap_or(f)))
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", shellcheck.display()));
    assert!(
        out.status.success(),
        "shellcheck finds problems in {} scripts:\n{}{}",
        files.len(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
