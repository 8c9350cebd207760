//! The environment the tiers run in: the checkout's root as the working folder, and the
//! variables the set-up exports to every command it runs (kept here, not set on this
//! process: the variables the tests read are the children's).

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

pub struct Env {
    exports: BTreeMap<String, String>,
}

impl Env {
    /// Moves to the checkout's root and sets the build's defaults: the cache folder, and
    /// the cargo target folder inside it (builds live outside the clone).
    pub fn new() -> anyhow::Result<Env> {
        // The directory cargo runs us from, not the one we were compiled in: two checkouts
        // sharing one target dir share this binary too.
        let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
        let root = manifest
            .parent()
            .context("xtask sits in the workspace's root")?;
        std::env::set_current_dir(root)
            .with_context(|| format!("cannot work in {}", root.display()))?;
        let mut env = Env {
            exports: BTreeMap::new(),
        };
        if env.var("CASCADE_CACHE").is_none() {
            let home = env.var("HOME").context("HOME is not set")?;
            env.export("CASCADE_CACHE", format!("{home}/.cache/cascade-lab"));
        }
        if env.var("CARGO_TARGET_DIR").is_none() {
            let target = format!("{}/target", env.cache().display());
            env.export("CARGO_TARGET_DIR", target);
        }
        Ok(env)
    }

    /// The value of `name` (exported here, else inherited), unless unset or empty.
    pub fn var(&self, name: &str) -> Option<String> {
        self.exports
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .filter(|v| !v.is_empty())
    }

    /// Whether `name` is set to 1 (the form of the CASCADE_SKIP_* switches).
    pub fn is_on(&self, name: &str) -> bool {
        self.var(name).as_deref() == Some("1")
    }

    /// Sets `name` for every command run from now on.
    pub fn export(&mut self, name: &str, value: impl Into<String>) {
        self.exports.insert(name.to_string(), value.into());
    }

    pub fn cache(&self) -> PathBuf {
        PathBuf::from(self.var("CASCADE_CACHE").unwrap_or_default())
    }

    /// CI's setting: a skipped tier is a failure.
    pub fn require_all(&self) -> bool {
        self.is_on("CASCADE_REQUIRE_ALL_TIERS")
    }

    /// `program args...` with the exported variables.
    pub fn cmd<I, S>(&self, program: impl AsRef<Path>, args: I) -> duct::Expression
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString>,
    {
        // As an OsString, not a Path: duct runs a Path without a separator as `./name`, so
        // `python3` or `bash` would not be looked up on PATH.
        let program = program.as_ref().as_os_str().to_owned();
        self.exports
            .iter()
            .fold(duct::cmd(program, args), |cmd, (name, value)| {
                cmd.env(name, value)
            })
    }

    /// The cargo that runs this task (cargo tells its children), else `cargo`.
    pub fn cargo(&self) -> String {
        self.var("CARGO").unwrap_or_else(|| "cargo".to_string())
    }
}

/// Whether `name` is a program on PATH.
pub fn has_program(name: &str) -> bool {
    which::which(name).is_ok()
}

/// The program `name` on PATH, as a string for the tests' variables.
pub fn program(name: &str) -> Option<String> {
    which::which(name)
        .ok()
        .map(|path| path.display().to_string())
}

/// Whether this process runs as root (`/proc/self` belongs to the effective user).
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Whether `path` is a file that may be executed.
pub fn is_executable(path: &str) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether `path` is a file with something in it.
pub fn is_nonempty_file(path: &str) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_named_without_a_path_is_looked_up_on_path() {
        let env = Env {
            exports: BTreeMap::new(),
        };
        // On a fresh machine the set-up runs `python3 -m venv` and `bash -c` this way.
        let out = env
            .cmd("sh", ["-c", "echo found"])
            .read()
            .expect("sh from PATH");
        assert_eq!(out, "found");
    }
}
