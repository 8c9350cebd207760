//! Every relative link and anchor in the repository's Markdown (the files git tracks)
//! resolves; external links are well-formed.

use std::path::{Path, PathBuf};
use std::process::Command;

use doc_tests::links;

#[test]
fn every_markdown_link_resolves() {
    let root = test_kit::repo::root();
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "*.md",
        ])
        .current_dir(&root)
        .output()
        .expect("git runs (the link check lists the Markdown files git tracks)");
    assert!(
        listed.status.success(),
        "git ls-files failed in {}: {}",
        root.display(),
        String::from_utf8_lossy(&listed.stderr)
    );
    let files: Vec<PathBuf> = String::from_utf8_lossy(&listed.stdout)
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
        .filter(|f| root.join(f).is_file())
        .collect();
    // The repository has a README, docs and the tutorial: an empty list means a broken
    // listing, not a clean repository.
    assert!(
        files.iter().any(|f| f == Path::new("README.md"))
            && files.iter().any(|f| f.starts_with("docs/tutorial")),
        "the Markdown listing misses README.md or docs/tutorial: {files:?}"
    );
    let problems = links::check(&root, &files);
    assert!(
        problems.is_empty(),
        "{} broken link(s) in the Markdown:\n{}",
        problems.len(),
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!("checked the links of {} Markdown files", files.len());
}
