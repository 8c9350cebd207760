//! `lab cluster-run EXPERIMENT`: runs an experiment from inside the cluster, as teams run
//! chaos in production (a runner pod with its own ServiceAccount), on the lab's kind or
//! minikube cluster. It builds and loads the chaos-runner image (the Dockerfile's
//! `chaos-runner` target), writes the experiment into the ConfigMap `chaos-experiment`,
//! applies manifests/in-cluster (ServiceAccount, least-privilege Role and RoleBinding, the
//! Job) in the lab's namespace, streams the runner's log, copies the journal out (the Job
//! prints it on stdout after the run; it is written here atomically) and exits with the
//! runner's exit code.

use std::path::PathBuf;

use clap::Args;

use crate::cli::ImageArgs;

/// `lab cluster-run`'s arguments.
#[derive(Debug, Args)]
pub struct ClusterRunArgs {
    /// The experiment to run (JSON, or YAML by its .yaml/.yml extension); its HTTP
    /// probes must use addresses the cluster resolves (the Services' names), not the
    /// node port
    #[arg(value_name = "EXPERIMENT")]
    pub experiment: PathBuf,
    /// Where to write the run's journal
    #[arg(long, value_name = "PATH", default_value = "journal.json")]
    pub journal_path: PathBuf,
    /// How long the run may take once its pod runs, in seconds (1 to 86400)
    #[arg(long, value_name = "SECONDS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
    /// Use the chaos-runner image the cluster already has (no docker build, no load)
    #[arg(long)]
    pub no_build: bool,
    #[command(flatten)]
    pub images: ImageArgs,
}

#[cfg(feature = "kubernetes")]
pub use imp::run;

/// Without the `kubernetes` feature (`make demo`'s build) there is no cluster to run in.
#[cfg(not(feature = "kubernetes"))]
pub fn run(
    _states: &crate::state::StateDir,
    _namespace: Option<String>,
    _args: &ClusterRunArgs,
) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("this lab was built without Kubernetes support (the `kubernetes` feature)")
}

#[cfg(feature = "kubernetes")]
mod imp {
    use std::io::{BufRead, BufReader};
    use std::path::Path;
    use std::process::ExitCode;
    use std::time::{Duration, Instant};

    use anyhow::{Context, Result, bail};
    use serde_json::{Value, json};

    use super::ClusterRunArgs;
    use crate::state::StateDir;
    use crate::targets::kubernetes::images;
    use crate::targets::kubernetes::repo::Repo;
    use crate::targets::kubernetes::tools::Tool;
    use crate::targets::{ImageOptions, TargetKind};
    use crate::ui;

    /// The runner's own namespace (manifests/in-cluster/runner): its pod is never among
    /// the pods the experiment checks.
    const RUNNER_NAMESPACE: &str = "cascade-lab-chaos";
    /// The Job of manifests/in-cluster/job.yaml, and its container.
    const JOB: &str = "chaos-runner";
    /// The ConfigMap the Job mounts the experiment from, and its key.
    const CONFIGMAP: &str = "chaos-experiment";
    const CONFIGMAP_KEY: &str = "experiment.json";
    /// The image the Job runs (the Dockerfile's target of the same name).
    const IMAGE: &str = images::RUNNER_IMAGE;
    const IMAGE_TARGET: &str = "chaos-runner";
    /// A ConfigMap holds at most 1 MiB; leave room for its metadata.
    const MAX_EXPERIMENT_BYTES: usize = 900 * 1024;
    /// How long the runner's pod may take to start (image, volumes, scheduling).
    const START_TIMEOUT: Duration = Duration::from_secs(180);

    /// kubectl on the lab's cluster and namespace.
    struct Kubectl {
        context: Option<String>,
        namespace: String,
    }

    impl Kubectl {
        fn args<'a>(&'a self, rest: &[&'a str]) -> Vec<&'a str> {
            let mut all = Vec::new();
            if let Some(context) = &self.context {
                all.extend(["--context", context.as_str()]);
            }
            all.extend(["--namespace", self.namespace.as_str()]);
            all.extend_from_slice(rest);
            all
        }

        fn run(&self, rest: &[&str]) -> Result<String> {
            Tool::Kubectl.output(self.args(rest))
        }
    }

    pub fn run(
        states: &StateDir,
        namespace: Option<String>,
        args: &ClusterRunArgs,
    ) -> Result<ExitCode> {
        let state = states.load()?.with_context(|| {
            format!(
                "no lab is up (no state in {}); start one with `lab up --target kind`",
                states.root().display()
            )
        })?;
        let record = state.kubernetes.clone().with_context(|| {
            format!(
                "the lab runs on the `{}` target; `lab cluster-run` needs a cluster (`lab up --target kind`)",
                state.target
            )
        })?;
        let lab = Kubectl {
            context: record.context.clone(),
            namespace: namespace.unwrap_or(record.namespace),
        };
        let kubectl = Kubectl {
            context: record.context.clone(),
            namespace: RUNNER_NAMESPACE.to_string(),
        };
        let experiment = experiment_json(&args.experiment)?;
        atomic_file::check_writable(&args.journal_path)
            .with_context(|| format!("--journal-path {}", args.journal_path.display()))?;
        let repo = Repo::locate()?;
        if !args.no_build {
            image(&repo, state.target, &args.images.clone().into())?;
        }

        let manifests = repo.root().join("manifests/in-cluster");
        let part = |name: &str| manifests.join(name).to_string_lossy().into_owned();
        ui::info(format!(
            "the runner's namespace `{RUNNER_NAMESPACE}` and ServiceAccount (manifests/in-cluster/runner); \
             replacing the previous run's Job"
        ));
        kubectl.run(&["apply", "-k", &part("runner")])?;
        kubectl.run(&[
            "delete",
            "job",
            JOB,
            "--ignore-not-found",
            "--cascade=foreground",
            "--wait=true",
            "--timeout=120s",
        ])?;
        let configmap = configmap(&experiment);
        let work = states.root().join("cluster-run");
        std::fs::create_dir_all(&work)
            .with_context(|| format!("cannot create {}", work.display()))?;
        let file = work.join("configmap.json");
        atomic_file::write(&file, configmap.to_string().as_bytes())
            .with_context(|| format!("cannot write {}", file.display()))?;
        ui::info(format!(
            "writing {} into the ConfigMap `{CONFIGMAP}`",
            args.experiment.display()
        ));
        kubectl.run(&["apply", "-f", &file.to_string_lossy()])?;
        ui::info(format!(
            "the runner's Role in the lab's namespace '{}' (manifests/in-cluster/rbac)",
            lab.namespace
        ));
        lab.run(&["apply", "-k", &part("rbac")])?;
        ui::info("the Job (manifests/in-cluster)");
        kubectl.run(&["apply", "-k", &manifests.to_string_lossy()])?;

        let pod = wait_for_pod(&kubectl)?;
        ui::info(format!("the runner's pod {pod} started; its log:"));
        let streamed = stream_log(&kubectl, &pod);
        let code = wait_for_exit(&kubectl, &pod, Duration::from_secs(args.timeout))?;
        // The journal is the runner's last output, and the container can be reported
        // ended before its last lines are in the log: the followed stream first (it ends
        // with the log), then the log read again a few times.
        let followed = match streamed {
            Ok(handle) => finished_stream(handle),
            Err(err) => {
                ui::warn(format!("the runner's log could not be followed: {err:#}"));
                None
            }
        };
        let mut journal = followed.as_deref().and_then(journal_of);
        let mut output = String::new();
        for attempt in 0..JOURNAL_READS {
            if journal.is_some() {
                break;
            }
            if attempt > 0 {
                std::thread::sleep(Duration::from_secs(2));
            }
            output = kubectl.run(&["logs", &format!("pod/{pod}"), "--container", JOB])?;
            journal = journal_of(&output);
        }
        match journal {
            Some(journal) => {
                atomic_file::write(&args.journal_path, journal.as_bytes()).with_context(|| {
                    format!(
                        "cannot write the journal to {}",
                        args.journal_path.display()
                    )
                })?;
                ui::info(format!(
                    "the journal is in {} (the runner exited {code})",
                    args.journal_path.display()
                ));
            }
            None => {
                let kept = work.join("output.log");
                let _ = atomic_file::write(&kept, output.as_bytes());
                ui::warn(format!(
                    "the runner (exit {code}) printed no journal; its output is in {}",
                    kept.display()
                ));
            }
        }
        Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
    }

    /// The experiment as the JSON the Job reads: a JSON file as it is, a YAML one converted.
    fn experiment_json(path: &Path) -> Result<String> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the experiment {}", path.display()))?;
        let yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        let value: Value = if yaml {
            serde_saphyr::from_str(&text)
                .with_context(|| format!("{} is not valid YAML", path.display()))?
        } else {
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", path.display()))?
        };
        if !value.is_object() {
            bail!("{}: an experiment is an object", path.display());
        }
        let json = serde_json::to_string_pretty(&value).context("the experiment as JSON")?;
        if json.len() > MAX_EXPERIMENT_BYTES {
            bail!(
                "{} is {} bytes as JSON; a ConfigMap holds at most {MAX_EXPERIMENT_BYTES}",
                path.display(),
                json.len()
            );
        }
        Ok(json)
    }

    fn configmap(experiment: &str) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": CONFIGMAP,
                "labels": {
                    "app.kubernetes.io/part-of": "cascade-lab",
                    "app.kubernetes.io/component": "chaos-runner",
                },
            },
            "data": {CONFIGMAP_KEY: experiment},
        })
    }

    /// Builds the chaos-runner image and loads it into the lab's kind or minikube cluster.
    fn image(repo: &Repo, target: TargetKind, options: &ImageOptions) -> Result<()> {
        if !matches!(target, TargetKind::Kind | TargetKind::Minikube) {
            bail!(
                "`lab cluster-run` builds the runner's image for kind and minikube; on `{target}`, \
                 push {IMAGE} where the cluster pulls from and pass --no-build"
            );
        }
        ui::info(format!(
            "building {IMAGE} (docker build --target {IMAGE_TARGET})"
        ));
        Tool::Docker.output(images::build_command(repo, options, IMAGE_TARGET, IMAGE))?;
        if target == TargetKind::Kind {
            let name = repo.kind_cluster_name()?;
            ui::info(format!("loading {IMAGE} into kind cluster `{name}`"));
            Tool::Kind.output(["load", "docker-image", IMAGE, "--name", &name])?;
        } else {
            ui::info(format!("loading {IMAGE} into minikube"));
            Tool::Minikube.output(["image", "load", IMAGE])?;
        }
        Ok(())
    }

    /// What the runner's pod is doing, from `kubectl get pod`.
    #[derive(Debug, PartialEq)]
    enum PodState {
        Starting,
        /// Its container cannot start (image missing, bad configuration): the reason.
        Stuck(String),
        Running,
        Exited(i32),
    }

    fn pod_state(pod: &Value) -> PodState {
        let status = &pod["status"]["containerStatuses"][0]["state"];
        if let Some(code) = status["terminated"]["exitCode"].as_i64() {
            return PodState::Exited(i32::try_from(code).unwrap_or(1));
        }
        if status.get("running").is_some() {
            return PodState::Running;
        }
        match status["waiting"]["reason"].as_str() {
            Some(
                reason @ ("ErrImagePull"
                | "ImagePullBackOff"
                | "ErrImageNeverPull"
                | "CreateContainerConfigError"
                | "InvalidImageName"),
            ) => PodState::Stuck(reason.to_string()),
            _ => PodState::Starting,
        }
    }

    /// The Job's pod and its state (none yet: `None`).
    fn job_pod(kubectl: &Kubectl) -> Result<Option<(String, PodState)>> {
        let out = kubectl.run(&[
            "get",
            "pods",
            "--selector",
            &format!("batch.kubernetes.io/job-name={JOB}"),
            "--output",
            "json",
        ])?;
        let list: Value = serde_json::from_str(&out).context("kubectl get pods: not JSON")?;
        let pod = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["metadata"]["deletionTimestamp"].is_null());
        Ok(pod.map(|p| {
            (
                p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                pod_state(p),
            )
        }))
    }

    fn wait_for_pod(kubectl: &Kubectl) -> Result<String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            crate::interrupt::check()?;
            match job_pod(kubectl)? {
                Some((name, PodState::Stuck(reason))) => bail!(
                    "the runner's pod {name} cannot start ({reason}); see `kubectl describe pod -n {} {name}`",
                    kubectl.namespace
                ),
                Some((name, PodState::Running | PodState::Exited(_))) => return Ok(name),
                _ if Instant::now() > deadline => bail!(
                    "the runner's pod did not start within {}s; see `kubectl describe job -n {} {JOB}`",
                    START_TIMEOUT.as_secs(),
                    kubectl.namespace
                ),
                _ => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    }

    /// How many times the log is read for the journal after the container ended.
    const JOURNAL_READS: usize = 5;
    /// How long the followed log may take to end after the container did.
    const STREAM_END: Duration = Duration::from_secs(30);

    /// The followed log's lines once it has ended; `None` when it does not end soon.
    fn finished_stream(handle: std::thread::JoinHandle<String>) -> Option<String> {
        let deadline = Instant::now() + STREAM_END;
        while !handle.is_finished() {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        handle.join().ok()
    }

    /// Follows the runner's log on a thread of its own, printing its lines (not the journal
    /// the runner prints at the end) to stderr; ends with the container, answering every
    /// line it read.
    fn stream_log(kubectl: &Kubectl, pod: &str) -> Result<std::thread::JoinHandle<String>> {
        let program = Tool::Kubectl.locate()?;
        let target = format!("pod/{pod}");
        let args: Vec<String> = kubectl
            .args(&["logs", "--follow", &target, "--container", JOB])
            .into_iter()
            .map(String::from)
            .collect();
        let reader = duct::cmd(program, args)
            .stdin_null()
            .stderr_to_stdout()
            .unchecked()
            .reader()
            .context("cannot run kubectl logs --follow")?;
        Ok(std::thread::spawn(move || {
            let mut in_journal = false;
            let mut all = String::new();
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                match line.as_str() {
                    "{" if !in_journal => in_journal = true,
                    "}" if in_journal => in_journal = false,
                    _ if in_journal && !is_log_line(&line) => {}
                    _ => eprintln!("  | {line}"),
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        }))
    }

    /// Waits until the runner's container has exited; its exit code.
    fn wait_for_exit(kubectl: &Kubectl, pod: &str, timeout: Duration) -> Result<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            crate::interrupt::check()?;
            let out = kubectl.run(&["get", "pod", pod, "--output", "json"])?;
            let value: Value = serde_json::from_str(&out).context("kubectl get pod: not JSON")?;
            if let PodState::Exited(code) = pod_state(&value) {
                return Ok(code);
            }
            if Instant::now() > deadline {
                bail!(
                    "the run did not end within {}s (--timeout); the Job is left as it is: `kubectl logs -n {} pod/{pod}`",
                    timeout.as_secs(),
                    kubectl.namespace
                );
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// A line of the runner's console log (`[2026-...`), which may land among the journal's
    /// lines: the kubelet interleaves the two streams.
    fn is_log_line(line: &str) -> bool {
        let mut chars = line.chars();
        chars.next() == Some('[') && chars.next().is_some_and(|c| c.is_ascii_digit())
    }

    /// The journal in the pod's output: the last JSON object printed from a line `{` to a
    /// line `}`, without the log lines that landed in between; `None` when there is none.
    fn journal_of(output: &str) -> Option<String> {
        let lines: Vec<&str> = output.lines().collect();
        let starts = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| **l == "{")
            .map(|(i, _)| i);
        for start in starts.collect::<Vec<_>>().into_iter().rev() {
            let mut text = String::new();
            for line in &lines[start..] {
                if is_log_line(line) {
                    continue;
                }
                text.push_str(line);
                text.push('\n');
                if *line == "}" {
                    break;
                }
            }
            if serde_json::from_str::<Value>(&text).is_ok_and(|v| v.is_object()) {
                return Some(text);
            }
        }
        None
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_journal_is_found_among_the_log_lines() {
            let output = "[2026-12-06 20:00:00 INFO] Running experiment: x\n{\n  \"status\": \"completed\",\n[2026-12-06 20:00:01 INFO] late line\n  \"deviated\": false\n}\n[2026-12-06 20:00:01 INFO] done\n";
            let journal = journal_of(output).unwrap();
            let value: Value = serde_json::from_str(&journal).unwrap();
            assert_eq!(value, json!({"status": "completed", "deviated": false}));
            assert_eq!(journal_of("[2026-12-06 20:00:00 ERROR] no journal\n"), None);
            assert_eq!(journal_of("{\n  \"cut\": \n"), None);
        }

        #[test]
        fn pod_states_from_kubectl() {
            let pod = |state: Value| json!({"status": {"containerStatuses": [{"state": state}]}});
            assert_eq!(pod_state(&json!({})), PodState::Starting);
            assert_eq!(
                pod_state(&pod(json!({"waiting": {"reason": "ContainerCreating"}}))),
                PodState::Starting
            );
            assert_eq!(
                pod_state(&pod(json!({"waiting": {"reason": "ErrImageNeverPull"}}))),
                PodState::Stuck("ErrImageNeverPull".into())
            );
            assert_eq!(pod_state(&pod(json!({"running": {}}))), PodState::Running);
            assert_eq!(
                pod_state(&pod(json!({"terminated": {"exitCode": 1}}))),
                PodState::Exited(1)
            );
        }

        #[test]
        fn experiments_become_json_for_the_configmap() {
            let dir = tempfile::tempdir().unwrap();
            let yaml = dir.path().join("e.yaml");
            std::fs::write(&yaml, "title: t\nmethod: []\n").unwrap();
            let json = experiment_json(&yaml).unwrap();
            assert_eq!(
                serde_json::from_str::<Value>(&json).unwrap(),
                json!({"title": "t", "method": []})
            );
            let list = dir.path().join("e.json");
            std::fs::write(&list, "[1]").unwrap();
            assert!(
                experiment_json(&list)
                    .unwrap_err()
                    .to_string()
                    .contains("an experiment is an object")
            );
            let config = configmap("{}");
            assert_eq!(config["data"]["experiment.json"], "{}");
            assert_eq!(config["metadata"]["name"], CONFIGMAP);
        }
    }
}
