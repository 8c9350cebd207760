//! The tutorial in docs/tutorial/, run: every `console` block a reader is told to run is
//! executed in page order against the local lab, and each command's output is compared
//! with the page (rules in docs/tutorial/README.md). Code excerpts quoted from the
//! source must still be in the named files.
//!
//! The tutorial uses the lab's default ports (8080, 8081), as a reader does, so this
//! test takes a machine-wide lock and refuses to start when those ports are busy. It runs
//! in a temporary folder holding copies of the experiments (journal.json and `.lab/`
//! land there), and `lab down` runs at the end whatever happened.

use std::fs::{self, File, OpenOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use doc_tests::blocks::{self, ConsoleBlock, KubeTier, Tier};
use doc_tests::expect;
use doc_tests::shell::Shell;
use nix::fcntl::{Flock, FlockArg};

const BINARIES: [&str; 5] = [
    "lab",
    "chaos-runner",
    "provider-app",
    "consumer-app",
    "fault-proxy",
];
// The services, the dashboard, and the fault proxy's API and `provider` link.
const DEFAULT_PORTS: [u16; 5] = [8080, 8081, 8083, 8474, 8084];
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// target/<profile>, with every binary the tutorial runs.
fn bin_dir() -> PathBuf {
    test_kit::repo::require_binaries(&BINARIES);
    test_kit::repo::bin_dir()
}

/// The tutorial's pages in reading order (file names start with their number).
fn pages() -> Vec<(PathBuf, String)> {
    let dir = test_kit::repo::root().join("docs/tutorial");
    let mut names: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (
                p.strip_prefix(test_kit::repo::root())
                    .unwrap_or(&p)
                    .to_path_buf(),
                text,
            )
        })
        .collect()
}

fn parsed_pages() -> Vec<(PathBuf, Vec<ConsoleBlock>)> {
    pages()
        .into_iter()
        .map(|(path, text)| {
            let blocks =
                blocks::console_blocks(&text).unwrap_or_else(|e| panic!("{}:{e}", path.display()));
            (path, blocks)
        })
        .collect()
}

/// A machine-wide lock for the default ports, held while the walkthrough runs.
fn lock_default_ports() -> Flock<File> {
    let path = std::env::temp_dir().join("cascade-lab-tutorial-ports.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut file = file;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return lock,
            Err((back, _)) if Instant::now() < deadline => {
                file = back;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err((_, err)) => panic!(
                "another tutorial run held {} for 10 minutes: {err}",
                path.display()
            ),
        }
    }
}

fn assert_ports_free() {
    for port in DEFAULT_PORTS {
        if let Err(err) = TcpListener::bind(("127.0.0.1", port)) {
            panic!(
                "127.0.0.1:{port} is busy ({err}): the tutorial uses the lab's default ports; stop what uses them (a `lab up` elsewhere? then `lab down` there)"
            );
        }
    }
}

/// Runs `lab down` (for `target`) when dropped, so the lab never outlives the test; stops
/// the tutorial's background dashboard first.
struct LabDown {
    shell: Shell,
}

impl Drop for LabDown {
    fn drop(&mut self) {
        // The dashboard part 2 starts in the background (part 4 stops it; a walk that
        // failed in between leaves it running): the pid it wrote, and nothing else.
        let _ = self
            .shell
            .run(r#"[ -f dashboard.pid ] && kill "$(cat dashboard.pid)" 2>/dev/null; true"#);
        match self.shell.run("lab down") {
            Ok(ran) if ran.code == Some(0) => {}
            Ok(ran) => eprintln!("warning: `lab down` at the end failed:\n{}", ran.output),
            Err(err) => eprintln!("warning: `lab down` at the end failed: {err}"),
        }
    }
}

/// A folder like a reader's clone: the experiment files, nothing else.
fn work_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("cascade-tutorial-")
        .tempdir()
        .expect("a temporary folder");
    let root = test_kit::repo::root();
    fs::copy(
        root.join("experiment.json"),
        dir.path().join("experiment.json"),
    )
    .expect("copy experiment.json");
    fs::create_dir(dir.path().join("experiments")).expect("mkdir experiments");
    for entry in fs::read_dir(root.join("experiments")).expect("list experiments/") {
        let path = entry.expect("experiments/ entry").path();
        if path.is_file() {
            let name = path.file_name().expect("a file name");
            fs::copy(&path, dir.path().join("experiments").join(name)).expect("copy an experiment");
        }
    }
    // The Kubernetes targets apply `manifests/` and read `kind/` from the checkout they
    // run in: the copy is that checkout, so the real experiment.json is never rewritten.
    for tree in ["manifests", "kind"] {
        copy_tree(&root.join(tree), &dir.path().join(tree));
    }
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("list a folder to copy") {
        let path = entry.expect("folder entry").path();
        let target = to.join(path.file_name().expect("a file name"));
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            fs::copy(&path, &target).expect("copy a file");
        }
    }
}

fn shell(cwd: &Path, extra: Vec<(String, String)>) -> Shell {
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut set = vec![
        ("PATH".to_string(), path),
        ("NO_COLOR".to_string(), "1".to_string()),
        ("TERM".to_string(), "dumb".to_string()),
    ];
    set.extend(extra);
    Shell {
        cwd: cwd.to_path_buf(),
        set,
        // What a reader's fresh shell would not have: state and targets from elsewhere.
        remove: [
            "LAB_STATE_DIR",
            "LAB_TARGET",
            "LAB_BIN_DIR",
            "CONSUMER_URL",
            "PROVIDER_URL",
            "KUBECONFIG",
            "RUST_LOG",
            "LAB_LOG",
        ]
        .map(String::from)
        .to_vec(),
        timeout: COMMAND_TIMEOUT,
    }
}

/// Runs the blocks of `tier` (on the Kubernetes page, those for `kube`); returns
/// (commands run, blocks listed as not run).
fn walk(shell: &Shell, tier: Tier, kube: Option<KubeTier>) -> (usize, Vec<String>) {
    let mut ran = 0;
    let mut not_run = Vec::new();
    for (page, blocks) in parsed_pages() {
        for block in blocks.iter().filter(|b| b.tier == tier) {
            if !block.only.is_empty() && !kube.is_some_and(|kube| block.only.contains(&kube)) {
                println!(
                    "{}:{}: left to the {:?} tier(s)",
                    page.display(),
                    block.line,
                    block.only
                );
                continue;
            }
            if let Some(reason) = block.not_run {
                not_run.push(format!(
                    "{}:{}: not run here: {reason}",
                    page.display(),
                    block.line
                ));
                continue;
            }
            for step in &block.steps {
                let started = Instant::now();
                let result = shell.run(&step.command).unwrap_or_else(|err| {
                    panic!(
                        "{}:{}: `{}`: {err}",
                        page.display(),
                        step.line,
                        step.command
                    )
                });
                println!(
                    "{}:{}: $ {} ({:.1} s)",
                    page.display(),
                    step.line,
                    step.command,
                    started.elapsed().as_secs_f64()
                );
                assert_eq!(
                    result.code,
                    Some(0),
                    "{}:{}: `{}` exited with {:?} (a command whose failure is the point ends with `; echo \"exit status: $?\"`). Output:\n{}",
                    page.display(),
                    step.line,
                    step.command,
                    result.code,
                    result.output
                );
                assert!(
                    expect::matches(&step.expected, &result.output),
                    "{}:{}: the output of `{}` does not match the page.\n--- the page expects:\n{}--- the command printed:\n{}",
                    page.display(),
                    step.line,
                    step.command,
                    step.expected,
                    result.output
                );
                ran += 1;
            }
        }
    }
    (ran, not_run)
}

#[test]
fn the_local_walkthrough_runs_as_written() {
    bin_dir();
    let _lock = lock_default_ports();
    assert_ports_free();
    let dir = work_dir();
    let shell = shell(dir.path(), Vec::new());
    let _down = LabDown {
        shell: shell.clone(),
    };
    let (ran, not_run) = walk(&shell, Tier::Local, None);
    for line in &not_run {
        println!("{line}");
    }
    // The walkthrough is dozens of commands; a handful means the pages lost their blocks.
    assert!(ran >= 20, "only {ran} commands ran from docs/tutorial");
    println!(
        "ran {ran} commands from docs/tutorial; {} block(s) not run here",
        not_run.len()
    );
}

#[test]
fn quoted_code_is_still_in_the_source() {
    let mut checked = 0;
    for (page, text) in pages() {
        for block in blocks::code_blocks(&text) {
            let Some(file) = block
                .info
                .split_whitespace()
                .find_map(|w| w.strip_prefix("excerpt="))
            else {
                continue;
            };
            let source = fs::read_to_string(test_kit::repo::root().join(file))
                .unwrap_or_else(|e| panic!("{}:{}: {file}: {e}", page.display(), block.line));
            assert!(
                expect::contains_excerpt(&source, &block.text),
                "{}:{}: this excerpt is no longer in {file}:\n{}",
                page.display(),
                block.line,
                block.text
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 4,
        "only {checked} code excerpts found in docs/tutorial"
    );
}

/// The Kubernetes part on the control-plane tier: the blocks that make sense without real
/// pods run on the `cluster` target; the kind tier runs the rest.
#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_the_kubernetes_blocks_run_on_the_control_plane() {
    let kubeconfig = test_kit::tier::kubeconfig();
    bin_dir();
    // Node port 30080 is cluster-wide: hold the lock lab's and chaos-runner's Kubernetes
    // tests take before they create the lab's Services.
    let _lock = test_kit::kube::node_port_lock(&kubeconfig);
    let dir = work_dir();
    let shell = shell(
        dir.path(),
        vec![
            (
                "KUBECONFIG".into(),
                kubeconfig.to_string_lossy().into_owned(),
            ),
            ("LAB_TARGET".into(), "cluster".into()),
        ],
    );
    let _down = LabDown {
        shell: shell.clone(),
    };
    let (ran, not_run) = walk(&shell, Tier::Kubernetes, Some(KubeTier::ControlPlane));
    for line in &not_run {
        println!("{line}");
    }
    assert!(ran >= 3, "only {ran} Kubernetes commands ran");
    println!(
        "ran {ran} Kubernetes commands; {} block(s) not run here",
        not_run.len()
    );
}

/// The Kubernetes part on a real kind cluster (kind tier: ignored unless asked for;
/// scripts/kind-test.sh runs it with `--ignored` and `CASCADE_KIND=1`): `lab up --target
/// kind` builds the images from a copy of the checkout, and the experiment, `lab fix` and
/// the re-run happen on real pods. The cluster is deleted at the end.
#[test]
#[ignore = "kind tier: needs a real kind cluster; scripts/kind-test.sh runs it (make kind-test)"]
fn kind_tier_the_kubernetes_blocks_run_on_kind() {
    test_kit::tier::kind();
    walk_on_a_real_cluster(KubeTier::Kind, "kind");
}

/// The same on a real minikube (minikube tier: scripts/minikube-test.sh runs it with
/// `CASCADE_MINIKUBE=1` and the offline node image in `LAB_MINIKUBE_IMAGE`).
#[test]
#[ignore = "minikube tier: needs minikube and its node image; scripts/minikube-test.sh runs it (make minikube-test)"]
fn minikube_tier_the_kubernetes_blocks_run_on_minikube() {
    test_kit::tier::minikube();
    walk_on_a_real_cluster(KubeTier::Minikube, "minikube");
}

/// Walks the Kubernetes page on a real cluster of `target` (`lab`'s target name), from a
/// copy of the checkout (`lab up` builds the images from the checkout it runs in), and
/// deletes the cluster at the end.
fn walk_on_a_real_cluster(tier: KubeTier, target: &str) {
    bin_dir();
    let dir = work_dir();
    for entry in fs::read_dir(test_kit::repo::root()).expect("list the checkout") {
        let path = entry.expect("checkout entry").path();
        let name = path
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        if matches!(
            name.as_str(),
            ".git" | ".lab" | "target" | "experiment.json" | "experiments"
        ) || dir.path().join(&name).exists()
        {
            continue;
        }
        if path.is_dir() {
            copy_tree(&path, &dir.path().join(&name));
        } else {
            fs::copy(&path, dir.path().join(&name)).expect("copy a file");
        }
    }
    let kubeconfig = dir.path().join("kubeconfig");
    let mut shell = shell(
        dir.path(),
        vec![(
            "KUBECONFIG".into(),
            kubeconfig.to_string_lossy().into_owned(),
        )],
    );
    // Creating the cluster and building the images take minutes, not seconds.
    shell.timeout = Duration::from_secs(20 * 60);
    let _down = ClusterDown {
        shell: shell.clone(),
        target: target.to_string(),
    };
    let (ran, not_run) = walk(&shell, Tier::Kubernetes, Some(tier));
    for line in &not_run {
        println!("{line}");
    }
    assert!(ran >= 8, "only {ran} Kubernetes commands ran on {target}");
    println!(
        "ran {ran} Kubernetes commands on {target}; {} block(s) not run here",
        not_run.len()
    );
}

/// Deletes the cluster when dropped (the page ends with a plain `lab down`).
struct ClusterDown {
    shell: Shell,
    target: String,
}

impl Drop for ClusterDown {
    fn drop(&mut self) {
        let target = &self.target;
        if target == "kind" && test_kit::tier::kind_cluster_shared() {
            // The page's own `lab down` took the lab down; the cluster is the next test's.
            return;
        }
        match self
            .shell
            .run(&format!("lab down --target {target} --delete-cluster"))
        {
            Ok(ran) if ran.code == Some(0) => {}
            Ok(ran) => eprintln!(
                "warning: deleting the {target} cluster failed:\n{}",
                ran.output
            ),
            Err(err) => eprintln!("warning: deleting the {target} cluster failed: {err}"),
        }
    }
}
