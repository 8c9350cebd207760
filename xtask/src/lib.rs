//! The list of test tiers, the one place it is kept: `cargo xtask test` (this crate's
//! binary) sets up and runs them (in order, the Docker ones in a lane of their own), and
//! test-kit reads it (`test_kit::tier`: the tier helpers name their tier;
//! test-kit/tests/checkout/tiers.rs checks every test's tag and ignore reason). The library uses nothing but std; the package's dependencies (for the
//! binary) are the product's already, with the same features, so reading this list
//! changes no build.

use std::fmt;

/// A test tier. `cargo xtask test` sets each up and runs them in [`Tier::ALL`]'s order
/// (those [`Tier::on_docker`] in a lane of their own, alongside the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Unit and integration tests with real processes on 127.0.0.1: plain `cargo test`.
    Local,
    /// The dashboard in Debian's headless Chromium, over WebDriver.
    Browser,
    /// The same experiments and API calls through the Python Chaos Toolkit and the real
    /// Toxiproxy server, compared with ours.
    Compatibility,
    /// A real control plane on this machine (kwok's simulated node).
    Kubernetes,
    /// The Dockerfile (hadolint) and the shell scripts (shellcheck).
    Lint,
    /// Real kind clusters with real containers (root, Go; `scripts/kind-test.sh`).
    Kind,
    /// A real minikube cluster, from a node image built offline on the kind tier's
    /// (root, Go; `scripts/minikube-test.sh`).
    Minikube,
}

impl Tier {
    /// Every tier, in the order they run.
    pub const ALL: [Tier; 7] = [
        Tier::Local,
        Tier::Browser,
        Tier::Compatibility,
        Tier::Kubernetes,
        Tier::Lint,
        Tier::Kind,
        Tier::Minikube,
    ];

    /// The tier's name: in `#[ignore = "<name> tier: ..."]`, the summary and `--tier`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Local => "local",
            Tier::Browser => "browser",
            Tier::Compatibility => "compatibility",
            Tier::Kubernetes => "kubernetes",
            Tier::Lint => "lint",
            Tier::Kind => "kind",
            Tier::Minikube => "minikube",
        }
    }

    /// The tag in the name of every test of the tier; none for the local tier, whose
    /// tests are the ones not ignored.
    pub fn tag(self) -> Option<&'static str> {
        match self {
            Tier::Local => None,
            Tier::Browser => Some("browser_tier"),
            Tier::Compatibility => Some("compat_tier"),
            Tier::Kubernetes => Some("kubernetes_tier"),
            Tier::Lint => Some("lint_tier"),
            Tier::Kind => Some("kind_tier"),
            Tier::Minikube => Some("minikube_tier"),
        }
    }

    /// Whether the tier's clusters run on the project's Docker engine. Those tiers run one
    /// after the other (they share the engine, its images and the host's node port), in a
    /// lane of their own alongside the other tiers', which use processes on this machine
    /// only and ports of their own (`cargo xtask test` in the binary).
    pub fn on_docker(self) -> bool {
        matches!(self, Tier::Kind | Tier::Minikube)
    }

    /// The variable that, set to 1, skips the tier (the local tier always runs).
    pub fn skip_variable(self) -> Option<&'static str> {
        match self {
            Tier::Local => None,
            Tier::Browser => Some("CASCADE_SKIP_BROWSER"),
            Tier::Compatibility => Some("CASCADE_SKIP_COMPAT"),
            Tier::Kubernetes => Some("CASCADE_SKIP_K8S"),
            Tier::Lint => Some("CASCADE_SKIP_LINT"),
            Tier::Kind => Some("CASCADE_SKIP_KIND"),
            Tier::Minikube => Some("CASCADE_SKIP_MINIKUBE"),
        }
    }

    /// The tier named `name`.
    pub fn from_name(name: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|tier| tier.name() == name)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
