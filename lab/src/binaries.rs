//! Finding the workspace binaries the lab runs (the services, the experiment runner).
//!
//! They are looked up in `$LAB_BIN_DIR`, else next to the `lab` executable (cargo puts
//! all of a workspace's binaries in one directory). When one is missing and the lab was
//! built from this workspace, it is built with cargo into that same directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The directory the lab takes its sibling binaries from.
pub fn bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("LAB_BIN_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    own_dir()
}

/// The directory of the running `lab` executable.
pub fn own_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the lab executable's path")?;
    exe.parent()
        .map(Path::to_path_buf)
        .context("the lab executable has no parent directory")
}

/// The paths of `names` in [`bin_dir`], building the missing ones first.
pub fn require(names: &[&str]) -> Result<Vec<PathBuf>> {
    let dir = bin_dir()?;
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| !dir.join(name).is_file())
        .collect();
    if !missing.is_empty() {
        build(&dir, &missing)?;
    }
    Ok(names.iter().map(|name| dir.join(name)).collect())
}

/// Where the workspace the lab was compiled from lives, if it is still there.
fn workspace_manifest() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    manifest.is_file().then_some(manifest)
}

/// `cargo build [--release] -p ...` into `dir`'s target directory: `dir` is
/// `<target dir>/<profile>`, so the profile and target dir follow from it.
fn build(dir: &Path, names: &[&str]) -> Result<()> {
    let listed = names.join(", ");
    let Some(manifest) = workspace_manifest() else {
        bail!(
            "{listed} not found in {}; build the workspace (`cargo build --release --workspace --bins`) or set LAB_BIN_DIR to the directory holding them",
            dir.display()
        );
    };
    let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let target_dir = dir
        .parent()
        .filter(|_| matches!(profile, "debug" | "release"));
    let Some(target_dir) = target_dir else {
        bail!(
            "{listed} not found in {} (LAB_BIN_DIR or the lab's own directory); build them with `cargo build --release --workspace --bins`",
            dir.display()
        );
    };
    eprintln!(
        "lab: {listed} not built yet; building with cargo (this takes a minute the first time)..."
    );
    let mut args = vec![
        "build".to_string(),
        "--manifest-path".into(),
        manifest.display().to_string(),
    ];
    if profile == "release" {
        args.push("--release".into());
    }
    for name in names {
        args.push("-p".into());
        args.push((*name).into());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    duct::cmd(cargo, &args)
        .env("CARGO_TARGET_DIR", target_dir)
        .stdout_to_stderr()
        .run()
        .with_context(|| format!("building {listed} with cargo failed (see its output above)"))?;
    for name in names {
        if !dir.join(name).is_file() {
            bail!(
                "cargo finished but {} is still missing",
                dir.join(name).display()
            );
        }
    }
    Ok(())
}
