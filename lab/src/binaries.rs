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

/// How to build into `dir`: it must be `<target dir>/<profile dir>` for cargo to put the
/// binaries there. Returns the target dir and cargo's profile flags for it.
fn build_plan(dir: &Path) -> Option<(&Path, Vec<String>)> {
    let profile = dir.file_name()?.to_str()?;
    let flags = match profile {
        "debug" => vec![],
        "release" => vec!["--release".to_string()],
        // The workspace's own profile for `make demo` builds into a folder of its name.
        "demo" => vec!["--profile".to_string(), "demo".to_string()],
        _ => return None,
    };
    Some((dir.parent()?, flags))
}

/// `cargo build [profile] -p ...` into `dir`'s target directory, with the features this
/// lab was built with.
fn build(dir: &Path, names: &[&str]) -> Result<()> {
    let listed = names.join(", ");
    let plan = workspace_manifest().zip(build_plan(dir));
    let Some((manifest, (target_dir, profile))) = plan else {
        bail!(
            "{listed} not found in {} (LAB_BIN_DIR, else the lab's own directory); build them with `cargo build --release --workspace --bins` or point LAB_BIN_DIR at the directory holding them",
            dir.display()
        );
    };
    crate::ui::info(format!(
        "{listed} not built yet; building with cargo (this takes a minute the first time)..."
    ));
    let mut args = vec![
        "build".to_string(),
        "--manifest-path".into(),
        manifest.display().to_string(),
    ];
    args.extend(profile);
    if !cfg!(feature = "kubernetes") {
        args.push("--no-default-features".into());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_go_into_the_profile_directory_they_are_missing_from() {
        let flags = |dir: &'static str| build_plan(Path::new(dir));
        assert_eq!(
            flags("/c/target/release"),
            Some((Path::new("/c/target"), vec!["--release".to_string()]))
        );
        assert_eq!(
            flags("/c/target/debug"),
            Some((Path::new("/c/target"), vec![]))
        );
        assert_eq!(
            flags("/c/target/demo"),
            Some((
                Path::new("/c/target"),
                vec!["--profile".to_string(), "demo".to_string()]
            ))
        );
        assert_eq!(flags("/usr/local/bin"), None);
    }
}
