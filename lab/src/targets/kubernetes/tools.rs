//! The external programs the Kubernetes targets drive (kubectl, kind, minikube, docker),
//! run through `duct`: a missing program is one line saying what to install, and a failing
//! one shows its own output.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// A program the lab calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Kubectl,
    Kind,
    Minikube,
    Docker,
}

impl Tool {
    pub fn program(self) -> &'static str {
        match self {
            Tool::Kubectl => "kubectl",
            Tool::Kind => "kind",
            Tool::Minikube => "minikube",
            Tool::Docker => "docker",
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Tool::Kubectl => "https://kubernetes.io/docs/tasks/tools/",
            Tool::Kind => "https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
            Tool::Minikube => "https://minikube.sigs.k8s.io/docs/start/",
            Tool::Docker => "https://docs.docker.com/engine/install/",
        }
    }

    /// The program's path on `PATH`, or the one-line message saying what to install.
    pub fn locate(self) -> Result<PathBuf> {
        let name = self.program();
        which::which(name).with_context(|| {
            format!(
                "`{name}` is not installed (not found on PATH); install it: {}",
                self.install_hint()
            )
        })
    }

    /// Runs the program with `args`, capturing its output; a non-zero exit is an error
    /// that shows the command and what it printed. Returns stdout.
    pub fn output<I, S>(self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let program = self.locate()?;
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let shown = shown_command(self, &args);
        tracing::debug!(command = %shown, "running");
        let output = duct::cmd(program, &args)
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .with_context(|| format!("cannot run `{shown}`"))?;
        if !output.status.success() {
            let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stderr));
            bail!(
                "`{shown}` failed ({}):\n{}",
                output.status,
                indent(text.trim_end())
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs the program with the terminal's stdout/stderr (logs, `--follow`).
    pub fn interactive<I, S>(self, args: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let program = self.locate()?;
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let shown = shown_command(self, &args);
        let output = duct::cmd(program, &args)
            .stdin_null()
            .unchecked()
            .run()
            .with_context(|| format!("cannot run `{shown}`"))?;
        if !output.status.success() {
            bail!("`{shown}` failed ({})", output.status);
        }
        Ok(())
    }
}

fn shown_command(tool: Tool, args: &[OsString]) -> String {
    let mut shown = tool.program().to_string();
    for arg in args {
        shown.push(' ');
        shown.push_str(&arg.to_string_lossy());
    }
    shown
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
