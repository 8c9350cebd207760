//! Which Python interpreter the bridge starts: the one the reference would run in.

use std::path::{Path, PathBuf};

/// The environment variable that names the interpreter (as `--python` does).
pub const PYTHON_ENV: &str = "CHAOS_RUNNER_PYTHON";

/// An interpreter and why it was chosen (for logs and errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    pub path: PathBuf,
    pub source: String,
}

/// Finds the interpreter, in this order: `explicit` (`--python`, else
/// `CHAOS_RUNNER_PYTHON`), the interpreter of the `chaos` on `PATH` (its `#!` line: the
/// virtualenv the Chaos Toolkit and its extensions are installed in), an active
/// virtualenv (`VIRTUAL_ENV`), `python3` on `PATH`. `Err` lists what was tried.
pub fn locate(explicit: Option<&Path>) -> Result<Interpreter, String> {
    let mut tried = Vec::new();
    let from_env = std::env::var_os(PYTHON_ENV).filter(|v| !v.is_empty());
    if let Some(path) = explicit.map(Path::to_path_buf) {
        return named(path, "--python");
    }
    if let Some(path) = from_env {
        return named(PathBuf::from(path), PYTHON_ENV);
    }
    tried.push(format!("--python and {PYTHON_ENV} (not set)"));
    match which::which("chaos") {
        Ok(chaos) => match shebang_interpreter(&chaos) {
            Some(python) => {
                return Ok(Interpreter {
                    path: python,
                    source: format!("the interpreter of {}", chaos.display()),
                });
            }
            None => tried.push(format!(
                "{} (no usable #! interpreter line)",
                chaos.display()
            )),
        },
        Err(_) => tried.push("`chaos` on PATH (not found)".into()),
    }
    match std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) {
        Some(venv) => {
            let python = Path::new(&venv).join("bin").join("python");
            if is_executable(&python) {
                return Ok(Interpreter {
                    path: python,
                    source: "the active virtualenv (VIRTUAL_ENV)".into(),
                });
            }
            tried.push(format!("{} (not an executable)", python.display()));
        }
        None => tried.push("VIRTUAL_ENV (not set)".into()),
    }
    match which::which("python3") {
        Ok(python) => Ok(Interpreter {
            path: python,
            source: "python3 on PATH".into(),
        }),
        Err(_) => {
            tried.push("python3 on PATH (not found)".into());
            Err(format!(
                "no Python interpreter found; tried {} (name one with --python or {PYTHON_ENV})",
                tried.join(", ")
            ))
        }
    }
}

/// An interpreter named by the user: it must exist (a bare name is looked up on PATH).
fn named(path: PathBuf, source: &str) -> Result<Interpreter, String> {
    match which::which(&path) {
        Ok(found) => Ok(Interpreter {
            path: found,
            source: source.to_string(),
        }),
        Err(_) => Err(format!("{source} {}: no such executable", path.display())),
    }
}

/// The interpreter of a script's `#!` line (`#!/venv/bin/python` or
/// `#!/usr/bin/env python3`), when it exists.
fn shebang_interpreter(script: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = [0u8; 512];
    let n = std::fs::File::open(script).ok()?.read(&mut head).ok()?;
    let text = std::str::from_utf8(&head[..n]).ok()?;
    let line = text.lines().next()?.strip_prefix("#!")?.trim();
    let mut words = line.split_whitespace();
    let program = words.next()?;
    let path = if program.ends_with("/env") {
        which::which(words.find(|w| !w.starts_with('-'))?).ok()?
    } else {
        PathBuf::from(program)
    };
    is_executable(&path).then_some(path)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_interpreter_of_a_script() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("chaos");
        let sh = which::which("sh").unwrap();
        std::fs::write(&script, format!("#!{}\nexit 0\n", sh.display())).unwrap();
        assert_eq!(shebang_interpreter(&script), Some(sh));
        std::fs::write(&script, "#!/usr/bin/env -S sh -e\n").unwrap();
        assert_eq!(shebang_interpreter(&script), which::which("sh").ok());
        std::fs::write(&script, "#!/nonexistent/python\n").unwrap();
        assert_eq!(shebang_interpreter(&script), None);
        std::fs::write(&script, "no shebang\n").unwrap();
        assert_eq!(shebang_interpreter(&script), None);
    }

    #[test]
    fn an_explicit_interpreter_must_exist() {
        let err = locate(Some(Path::new("/nonexistent/python9"))).unwrap_err();
        assert!(
            err.contains("--python /nonexistent/python9: no such executable"),
            "{err}"
        );
    }
}
