//! One run of a scenario for `lab challenge check` on a Kubernetes target (kind,
//! minikube, cluster): on the learner's running lab, not on one of its own (a cluster
//! lab takes minutes to bring up). The consumer runs resilience on with the learner's
//! settings (its Deployment's environment); the users call it through its node port; the
//! scenario's faults reach the provider's fault API and the fault proxy's API through
//! `kubectl port-forward` (both listen inside their pods only), one each for the run.
//! Afterwards the lab goes back to the mode it had.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::runner::Runner;
use super::scenario::Scenario;
use super::{ProviderAccess, RunContext, RunFacts, experiment, run_experiment};
use crate::service::{Mode, Service};
use crate::state::StateDir;
use crate::targets::kubernetes::tools::Tool;
use crate::targets::{Target, TargetKind};
use crate::ui;

/// How long a rollout of the consumer may take here.
const ROLLOUT: Duration = Duration::from_secs(300);
/// How long the lab may take to answer with the provider's greeting before a run.
const HEALTHY: Duration = Duration::from_secs(90);
/// A greeting slower than this is a fault still acting (or a consumer still starting).
const QUICK: Duration = Duration::from_millis(500);
/// How long the greetings must keep coming before a run: longer than kube-proxy's
/// minimum sync period (1 s), so its rules no longer send users to a pod just replaced.
const STEADY: Duration = Duration::from_secs(2);

/// Runs `scenario` once on the running lab of target `kind` and returns its facts.
pub fn attempt(
    target: &mut dyn Target,
    kind: TargetKind,
    states: &StateDir,
    runner: &Runner,
    scenario: Scenario,
    label: &str,
) -> Result<RunFacts> {
    let story = scenario.story();
    let state = states.load()?.with_context(|| {
        format!(
            "no lab is up on target `{kind}` (no state in {}); on Kubernetes the check runs on your lab: `lab up --target {kind}` first",
            states.root().display()
        )
    })?;
    let record = state
        .kubernetes
        .clone()
        .context("the lab's state records no namespace; `lab up` again")?;
    let rows = target.status()?.unwrap_or_default();
    let ready = |service: Service| {
        rows.iter()
            .any(|row| row.service == service && row.health.is_ready())
    };
    if !ready(Service::Provider) || !ready(Service::Consumer) {
        bail!(
            "the lab on `{kind}` is not whole (`lab status` shows which service is missing); `lab up` brings it back before a check"
        );
    }
    if story.fault_proxy && !record.fault_proxy {
        bail!(
            "the `{}` scenario puts its fault on the wire, through the fault proxy, and this lab has none: `lab up --target {kind} --fault-proxy` first",
            scenario.name()
        );
    }
    if !story.provider_faults && !story.provider_calls && !story.fault_proxy {
        // The kill: its experiment removes the provider for good, and a check needs the
        // lab whole afterwards (`lab scenario run kill` tells it on the local target).
        bail!(
            "the `{}` scenario cannot be checked on `{kind}` (it deletes the provider's Deployment); check it on the local target",
            scenario.name()
        );
    }

    let previous = state.mode;
    let settings = crate::consumer_settings::load(states)?;
    if previous != Mode::After {
        target.switch_mode(Mode::After, ROLLOUT)?;
    }
    let result = (|| {
        target.configure_consumer(&settings, Mode::After, ROLLOUT)?;
        let url = target.consumer_url()?;
        wait_for_greeting(&url)?;
        let forward = |deployment: &str, port: u16| {
            PortForward::start(
                record.context.as_deref(),
                &record.namespace,
                deployment,
                port,
            )
        };
        let provider_forward = if story.provider_faults || story.provider_calls {
            Some(forward(Service::Provider.name(), 8080)?)
        } else {
            None
        };
        let proxy_forward = if story.fault_proxy {
            Some(forward("fault-proxy", 8474)?)
        } else {
            None
        };
        let provider = match &provider_forward {
            Some(forward) => Some(ProviderAccess {
                url: forward.url(),
                token: target.fault_token()?,
            }),
            None => None,
        };
        let demo_dir = states.demo_dir();
        std::fs::create_dir_all(&demo_dir)
            .with_context(|| format!("cannot create {}", demo_dir.display()))?;
        let experiment_path = demo_dir.join(format!("experiment-{label}.json"));
        let pause = experiment::tutorial_pause(story).unwrap_or(15.0) as u64;
        experiment::write(&experiment_path, story, pause)?;
        let proxy_url = proxy_forward.as_ref().map(PortForward::url);
        let context = RunContext {
            runner,
            states,
            story,
            experiment: &experiment_path,
            fault_proxy: proxy_url.as_deref(),
            provider: provider.as_ref(),
        };
        let mut run = run_experiment(&context, label, &url)?;
        if run.facts.journal.method.is_empty() {
            // The hypothesis did not hold before the fault (a node port answering slowly
            // for a moment on a busy machine): nothing was graded, so try once more.
            ui::warn(
                "the lab did not hold its steady state before the fault, so the fault never ran; running the scenario once more",
            );
            wait_for_greeting(&url)?;
            run = run_experiment(&context, &format!("{label}-again"), &url)?;
        }
        drop((provider_forward, proxy_forward));
        Ok(run.facts)
    })();
    if previous != Mode::After
        && let Err(err) = target.switch_mode(previous, ROLLOUT)
    {
        ui::warn(format!(
            "could not put the consumer back in `{previous}` mode: {err:#}"
        ));
    }
    result
}

/// Waits until the consumer answers with the provider's own greeting (not a fallback)
/// quickly, on a new connection each time (as a new user would connect), for
/// [`STEADY`] without a miss: the new consumer pod serves, the circuit is closed, and
/// no fault is left from an earlier run.
fn wait_for_greeting(url: &str) -> Result<()> {
    let client = crate::health::client_without_reuse()?;
    let deadline = Instant::now() + HEALTHY;
    let mut streak: Option<Instant> = None;
    let mut last;
    loop {
        crate::interrupt::check()?;
        let sent = Instant::now();
        match client.get(url).send() {
            Ok(answer)
                if answer.status().is_success()
                    && answer.headers().get("x-fallback-reason").is_none()
                    && sent.elapsed() < QUICK =>
            {
                if streak.get_or_insert(sent).elapsed() >= STEADY {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Ok(answer) => {
                last = format!(
                    "HTTP {} in {} ms{}",
                    answer.status().as_u16(),
                    sent.elapsed().as_millis(),
                    answer
                        .headers()
                        .get("x-fallback-reason")
                        .and_then(|v| v.to_str().ok())
                        .map(|r| format!(", fallback: {r}"))
                        .unwrap_or_default()
                )
            }
            Err(err) => last = err.to_string(),
        }
        streak = None;
        if Instant::now() >= deadline {
            bail!(
                "the consumer at {url} does not answer with the provider's greeting within {}s (last: {last}); the check needs a healthy lab",
                HEALTHY.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `kubectl port-forward` to a Deployment's port on a free loopback port, for as long as
/// the value lives.
struct PortForward {
    child: Child,
    port: u16,
}

impl PortForward {
    fn start(
        context: Option<&str>,
        namespace: &str,
        deployment: &str,
        remote: u16,
    ) -> Result<PortForward> {
        let program = Tool::Kubectl.locate()?;
        let mut command = Command::new(program);
        if let Some(context) = context {
            command.args(["--context", context]);
        }
        command
            .args([
                "--namespace",
                namespace,
                "port-forward",
                "--address",
                "127.0.0.1",
            ])
            .arg(format!("deployment/{deployment}"))
            .arg(format!(":{remote}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .context("cannot run `kubectl port-forward`")?;
        let stdout = child.stdout.take().context("no stdout from kubectl")?;
        let (tx, rx) = mpsc::channel();
        // kubectl says where it listens on its first line: "Forwarding from
        // 127.0.0.1:PORT -> REMOTE"; the rest of its output is drained.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent {
                    let _ = tx.send(line);
                    sent = true;
                }
            }
        });
        let mut forward = PortForward { child, port: 0 };
        let line = rx.recv_timeout(Duration::from_secs(60)).map_err(|_| {
            let mut why = String::new();
            if let Some(mut stderr) = forward.child.stderr.take() {
                let _ = forward.child.kill();
                let _ = std::io::Read::read_to_string(&mut stderr, &mut why);
            }
            anyhow::anyhow!(
                "`kubectl port-forward deployment/{deployment}` did not start: {}",
                why.trim()
            )
        })?;
        forward.port = forwarded_port(&line).with_context(|| {
            format!("`kubectl port-forward` said {line:?}, not where it listens")
        })?;
        Ok(forward)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The local port of kubectl's "Forwarding from 127.0.0.1:PORT -> REMOTE".
fn forwarded_port(line: &str) -> Option<u16> {
    let address = line
        .strip_prefix("Forwarding from ")?
        .split(" -> ")
        .next()?;
    address.rsplit(':').next()?.parse().ok().filter(|&p| p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forwarded_port_is_read_from_kubectls_first_line() {
        assert_eq!(
            forwarded_port("Forwarding from 127.0.0.1:43215 -> 8080"),
            Some(43215)
        );
        assert_eq!(forwarded_port("Forwarding from [::1]:80 -> 8080"), Some(80));
        for bad in ["", "error: no pods", "Forwarding from 127.0.0.1:x -> 1"] {
            assert_eq!(forwarded_port(bad), None, "{bad}");
        }
    }
}
