//! Where the checkout and the built binaries are.

use std::path::{Path, PathBuf};

/// The workspace root. Every crate sits in it, so the parent of the package cargo runs
/// the test for (at run time: two checkouts sharing one target dir share this crate's
/// compiled paths too).
pub fn root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest
        .parent()
        .expect("every crate sits in the workspace root")
        .to_path_buf()
}

/// `target/<profile>`, where cargo put the workspace's binaries: an integration test
/// runs from `target/<profile>/deps`.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary sits in target/<profile>/deps")
        .to_path_buf()
}

/// The built binary `name`; panics with what to run when it is missing.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: these tests drive the workspace's binaries; run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// Panics with what to run unless every one of `names` is built.
pub fn require_binaries(names: &[&str]) {
    for name in names {
        binary(name);
    }
}
