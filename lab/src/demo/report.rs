//! The demo's report: both runs side by side in one self-contained HTML file, with what
//! the users got in each, written by chaos-runner's `report` next to the journals (whichever runner ran them: it reads
//! the Python `chaos`'s journals too).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// `--traffic` for each of the runs' users' series files there is.
fn users(dir: &Path) -> Vec<std::ffi::OsString> {
    ["traffic-before.jsonl", "traffic-after.jsonl"]
        .iter()
        .map(|name| dir.join(name))
        .filter(|path| path.is_file())
        .flat_map(|path| ["--traffic".into(), path.into_os_string()])
        .collect()
}

/// Writes `dir/report.html` from `dir/journal-before.json` and `dir/journal-after.json`,
/// with the users' series of both runs.
pub fn write(dir: &Path) -> Result<PathBuf> {
    let chaos_runner = crate::binaries::require(&["chaos-runner"])?
        .pop()
        .context("no path for chaos-runner")?;
    let report = dir.join("report.html");
    let output = std::process::Command::new(&chaos_runner)
        .arg("report")
        .arg(dir.join("journal-before.json"))
        .arg(dir.join("journal-after.json"))
        // The users of both runs (each journal draws those of its own time).
        .args(users(dir))
        .arg("-o")
        .arg(&report)
        .output()
        .with_context(|| format!("cannot run {}", chaos_runner.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!(
            "{} report failed: {}",
            chaos_runner.display(),
            stderr.lines().last().unwrap_or("no message")
        );
    }
    Ok(report)
}
