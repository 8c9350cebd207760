//! A lab on a real cluster in Docker (the kind and minikube tiers): its own state
//! folder, kubeconfig and experiment copy, the repository itself as the Docker build
//! context; the steps of the tutorial's story both tiers share. Dropping it deletes the
//! cluster, so a failing test leaves nothing for the next run.

use std::cell::OnceCell;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Outcome, Running, get};

pub struct ClusterLab {
    work: tempfile::TempDir,
    /// The cluster is someone else's (the script that made it deletes it): dropping the
    /// lab leaves it.
    borrowed: bool,
    /// The consumer's URL through the node port, known once the lab is up.
    url: OnceCell<String>,
}

impl ClusterLab {
    /// `url`: where the tests reach the consumer, when known before `lab up` (else the
    /// address `lab up` writes into the experiment).
    pub fn new(prefix: &str, url: Option<&str>) -> ClusterLab {
        let work = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(work.path().join("state")).expect("state dir");
        std::fs::copy(
            test_kit::repo::root().join("experiment.json"),
            work.path().join("experiment.json"),
        )
        .expect("copy experiment.json");
        let known = OnceCell::new();
        if let Some(url) = url {
            let _ = known.set(url.to_string());
        }
        ClusterLab {
            work,
            borrowed: false,
            url: known,
        }
    }

    /// A lab on a cluster this test did not make, which dropping it must not delete.
    pub fn borrowing_cluster(mut self) -> ClusterLab {
        self.borrowed = true;
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// Where the tests reach the consumer.
    pub fn url(&self) -> &str {
        self.url.get_or_init(|| self.written_url())
    }

    /// The consumer's URL `lab up` wrote into the experiment copy (the second probe of
    /// the steady-state hypothesis).
    pub fn written_url(&self) -> String {
        let text = std::fs::read_to_string(self.path("experiment.json")).expect("experiment");
        let experiment: Value = serde_json::from_str(&text).expect("experiment is JSON");
        experiment["steady-state-hypothesis"]["probes"][1]["provider"]["url"]
            .as_str()
            .expect("the consumer probe's url")
            .to_string()
    }

    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let bins = super::bin_dir();
        let path = format!(
            "{}:{}",
            bins.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(test_kit::repo::root())
            .env("PATH", path)
            .env("KUBECONFIG", self.path("kubeconfig"))
            .env("LAB_STATE_DIR", self.path("state"))
            .env_remove("LAB_TARGET")
            .env_remove("LAB_NAMESPACE")
            .env_remove("LAB_REPO_DIR");
        command
    }

    pub fn run(&self, program: &str, args: &[&str], limit: Duration) -> Outcome {
        Running::start(&mut self.command(program, args)).wait(limit)
    }

    pub fn lab(&self, args: &[&str], limit: Duration) -> Outcome {
        self.run(env!("CARGO_BIN_EXE_lab"), args, limit)
    }

    pub fn kubectl(&self, args: &[&str]) -> Outcome {
        self.run("kubectl", args, Duration::from_secs(60))
    }

    pub fn docker(&self, args: &[&str]) -> String {
        let out = self.run("docker", args, Duration::from_secs(60));
        out.expect_code(0, &format!("docker {}", args.join(" ")));
        out.stdout.trim().to_string()
    }

    /// `lab up --target TARGET` with the experiment copy, and the first answer through
    /// the node port (`lab up` waits for it).
    pub fn up(&self, target: &str, limit: Duration) {
        self.up_with(target, &[], limit);
    }

    /// [`ClusterLab::up`] with more arguments (`--workers 2`).
    pub fn up_with(&self, target: &str, extra: &[&str], limit: Duration) {
        let experiment = self.path("experiment.json");
        let mut args = vec![
            "up",
            "--target",
            target,
            "--experiment",
            experiment.to_str().expect("utf-8 path"),
        ];
        args.extend_from_slice(extra);
        self.lab(&args, limit)
            .expect_code(0, &format!("lab up --target {target} {}", extra.join(" ")));
        let (status, body, _) = get(self.url()).expect("the consumer answers on the node port");
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains("Greetings from provider"),
            "the provider greeting: {body}"
        );
    }

    /// Runs the experiment copy with `runner` (chaos-runner or the Python `chaos`) and
    /// returns (exit code, journal).
    pub fn experiment(&self, runner: &str, journal: &str) -> (Option<i32>, Value) {
        let journal = self.path(journal);
        let experiment = self.path("experiment.json");
        let out = self.run(
            runner,
            &[
                "run",
                "--journal-path",
                journal.to_str().expect("utf-8 path"),
                experiment.to_str().expect("utf-8 path"),
            ],
            Duration::from_secs(240),
        );
        let text = std::fs::read_to_string(&journal).unwrap_or_else(|_| {
            panic!("{runner} wrote no journal\n{}\n{}", out.stdout, out.stderr)
        });
        (
            out.code(),
            serde_json::from_str(&text).expect("journal is JSON"),
        )
    }

    /// Runs the experiment with `runner` and checks the reference's verdict: the run
    /// completed, the steady state deviated (or not), and what the consumer probe got
    /// after the provider was killed. Returns the runner's exit code.
    pub fn experiment_ends(&self, runner: &str, journal: &str, deviated: bool) -> Option<i32> {
        let (code, journal) = self.experiment(runner, journal);
        assert_eq!(
            (&journal["status"], &journal["deviated"]),
            (&Value::from("completed"), &Value::from(deviated)),
            "{runner}: {journal:#}"
        );
        let expected = if deviated { 500 } else { 200 };
        assert_eq!(
            consumer_status_after(&journal),
            Some(expected),
            "{runner}: {journal:#}"
        );
        code
    }

    /// `lab MODE` (fix or break), then `lab up` to bring the killed provider back, until
    /// the consumer answers with the provider's greeting again.
    pub fn switch_and_restore(&self, mode: &str) {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        self.lab(&[mode], minutes(5))
            .expect_code(0, &format!("lab {mode}"));
        self.lab(&["up"], minutes(10))
            .expect_code(0, "lab up (provider back)");
        self.wait_for_answer(minutes(1), "the provider's greeting", |s, b, h| {
            s == 200 && b.contains("Greetings from provider") && !has_fallback_header(h)
        });
    }

    pub fn deployment_exists(&self, name: &str) -> bool {
        super::deployment_exists(|args| self.kubectl(args), name)
    }

    /// GETs the consumer until `accept` takes the answer, for at most `limit`.
    pub fn wait_for_answer(
        &self,
        limit: Duration,
        what: &str,
        accept: impl Fn(u16, &str, &[String]) -> bool,
    ) -> (u16, String, Vec<String>) {
        let started = Instant::now();
        let mut last = Err("no request yet".to_string());
        while started.elapsed() < limit {
            last = get(self.url());
            if let Ok((status, body, headers)) = &last
                && accept(*status, body, headers)
            {
                return last.unwrap();
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("{what}: not seen within {limit:?}; last answer: {last:?}");
    }

    /// The tutorial's story after `up`: the experiment deviates with 500 before the fix,
    /// the users see 500s; after `lab fix` it completes on fallback answers.
    pub fn cascade_then_fix(&self) {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        let code = self.experiment_ends("chaos-runner", "before.json", true);
        assert_ne!(code, Some(0));
        assert!(!self.deployment_exists("my-provider-app"));
        // Users see 500s (a request that caught the provider's pod going away may hang:
        // the naive consumer has no timeout, so only the answers are checked, for a while).
        self.wait_for_answer(minutes(1), "the cascading failure (500)", |s, _, _| {
            s == 500
        });
        self.switch_and_restore("fix");
        let code = self.experiment_ends("chaos-runner", "after.json", false);
        assert_eq!(code, Some(0));
        let (_, body, _) = self.wait_for_answer(minutes(1), "a fallback answer", |s, _, h| {
            s == 200 && has_fallback_header(h)
        });
        assert!(body.starts_with("Degraded answer"), "{body}");
    }

    /// No image of the lab is left.
    pub fn assert_lab_images_gone(&self) {
        // The images `lab up` builds; other cascade-lab/* images (another part's runner
        // image, built by its own tests) are not the lab's to remove.
        for image in ["provider-app", "consumer-app", "fault-proxy"] {
            assert_eq!(
                self.docker(&["images", "-q", &format!("cascade-lab/{image}")]),
                "",
                "the lab's image cascade-lab/{image} left"
            );
        }
    }
}

impl Drop for ClusterLab {
    /// A failing test still deletes its cluster (unless the kind tier shares it), so the
    /// next run starts clean.
    fn drop(&mut self) {
        if self.borrowed {
            return;
        }
        let _ = self.lab(test_kit::tier::kind_down_args(), Duration::from_secs(180));
    }
}

/// The consumer probe's status in the hypothesis checked after the method.
pub fn consumer_status_after(journal: &Value) -> Option<u64> {
    journal["steady_states"]["after"]["probes"]
        .as_array()?
        .iter()
        .find(|p| p["activity"]["name"] == "consumer-service-must-still-respond")?["output"]
        ["status"]
        .as_u64()
}

pub fn has_fallback_header(headers: &[String]) -> bool {
    headers.iter().any(|h| h == "x-fallback: true")
}
