//! The files of the Cascade Lab repository the Kubernetes targets use: the kustomize
//! overlays, kind/cluster.yaml, the Dockerfile and the seed experiment.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::service::{Mode, Service};

/// The repository checkout `lab` runs from.
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
}

impl Repo {
    /// `$LAB_REPO_DIR`, else the current directory or the nearest parent that has the
    /// manifests (so `lab` works from any folder of the checkout).
    pub fn locate() -> Result<Repo> {
        if let Some(dir) = std::env::var_os("LAB_REPO_DIR").filter(|d| !d.is_empty()) {
            let repo = Repo {
                root: PathBuf::from(dir),
            };
            if !repo
                .overlay(Mode::Before, false)
                .join("kustomization.yaml")
                .is_file()
            {
                bail!(
                    "LAB_REPO_DIR={} has no manifests/overlays/before/kustomization.yaml",
                    repo.root.display()
                );
            }
            return Ok(repo);
        }
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        cwd.ancestors()
            .map(|dir| Repo {
                root: dir.to_path_buf(),
            })
            .find(|repo| {
                repo.overlay(Mode::Before, false)
                    .join("kustomization.yaml")
                    .is_file()
            })
            .with_context(|| {
                format!(
                    "the Kubernetes targets need the Cascade Lab repository: no \
                     manifests/overlays/before in {} or its parents (cd into the checkout \
                     or set LAB_REPO_DIR)",
                    cwd.display()
                )
            })
    }

    /// A repository at `root`, unchecked (unit tests of command lines).
    #[cfg(test)]
    pub fn at(root: impl Into<PathBuf>) -> Repo {
        Repo { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The overlay for `mode`, with the fault proxy between consumer and provider when
    /// `fault_proxy` (`fault-proxy-before`, ...: a superset of the plain one).
    pub fn overlay(&self, mode: Mode, fault_proxy: bool) -> PathBuf {
        let name = if fault_proxy {
            format!("fault-proxy-{mode}")
        } else {
            mode.as_str().to_string()
        };
        self.root.join("manifests/overlays").join(name)
    }

    /// `$LAB_KIND_CONFIG` when set (a second cluster beside the first on one machine: its own
    /// `name:` and host port), else the repository's kind/cluster.yaml.
    pub fn kind_config(&self) -> PathBuf {
        match std::env::var_os("LAB_KIND_CONFIG").filter(|p| !p.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => self.root.join("kind/cluster.yaml"),
        }
    }

    /// The tutorial's experiment, whose consumer URL `lab up` rewrites.
    pub fn experiment(&self) -> PathBuf {
        self.root.join("experiment.json")
    }

    /// The kind cluster's name (`name:` in kind/cluster.yaml, kind's default `kind`).
    pub fn kind_cluster_name(&self) -> Result<String> {
        #[derive(Deserialize)]
        struct Named {
            name: Option<String>,
        }
        let path = self.kind_config();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let named: Named = serde_saphyr::from_str(&text)
            .with_context(|| format!("{} is not a valid kind configuration", path.display()))?;
        Ok(named.name.unwrap_or_else(|| "kind".into()))
    }

    /// The kubeconfig context kind creates for the cluster: `kind-<name>`.
    pub fn kind_context(&self) -> Result<String> {
        Ok(format!("kind-{}", self.kind_cluster_name()?))
    }
}

/// The image of `service` the Dockerfile builds: (build target, image name without tag).
pub fn image(service: Service) -> (&'static str, String) {
    (
        service.binary(),
        format!("cascade-lab/{}", service.binary()),
    )
}
/// The tag the manifests use.
pub const IMAGE_TAG: &str = "dev";

#[derive(Serialize)]
struct ImageOverride {
    name: String,
    #[serde(rename = "newName")]
    new_name: String,
}

#[derive(Serialize)]
struct Kustomization {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    resources: Vec<String>,
    images: Vec<ImageOverride>,
}

/// Rejects an `--image-registry` value that cannot prefix an image name.
pub fn check_registry(registry: &str) -> Result<()> {
    let trimmed = registry.trim_end_matches('/');
    if trimmed.is_empty() || trimmed.chars().any(|c| c.is_whitespace() || c == '@') {
        bail!(
            "--image-registry '{registry}' is not a registry (e.g. ghcr.io/me or localhost:5000)"
        );
    }
    Ok(())
}

/// Writes, in `dir`, a kustomization that takes `overlay` with the images from
/// `registry` (`REG/provider-app:dev`, ...). kustomize only accepts relative resource
/// paths, so the overlay is referenced relative to `dir`.
pub fn registry_kustomization(dir: &Path, overlay: &Path, registry: &str) -> Result<()> {
    let registry = registry.trim_end_matches('/');
    if registry.is_empty() || registry.chars().any(|c| c.is_whitespace()) {
        bail!(
            "--image-registry '{registry}' is not a registry (e.g. ghcr.io/me or localhost:5000)"
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let relative = pathdiff::diff_paths(overlay, dir).with_context(|| {
        format!(
            "cannot express {} relative to {}",
            overlay.display(),
            dir.display()
        )
    })?;
    let kustomization = Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: vec![relative.to_string_lossy().into_owned()],
        images: Service::ALL
            .into_iter()
            .map(|service| {
                let (target, image) = image(service);
                ImageOverride {
                    name: image,
                    new_name: format!("{registry}/{target}"),
                }
            })
            .collect(),
    };
    let text =
        serde_saphyr::to_string(&kustomization).context("cannot encode the kustomization")?;
    let path = dir.join("kustomization.yaml");
    atomic_file::write(&path, text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_kustomization_points_back_at_the_overlay_relatively() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("state/k8s-kustomize/after");
        let overlay = dir.path().join("repo/manifests/overlays/after");
        registry_kustomization(&work, &overlay, "localhost:5000/lab/").unwrap();
        let text = std::fs::read_to_string(work.join("kustomization.yaml")).unwrap();
        let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(
            doc["resources"][0], "../../../repo/manifests/overlays/after",
            "{text}"
        );
        assert_eq!(doc["images"][0]["name"], "cascade-lab/provider-app");
        assert_eq!(
            doc["images"][0]["newName"],
            "localhost:5000/lab/provider-app"
        );
        assert_eq!(
            doc["images"][1]["newName"],
            "localhost:5000/lab/fault-proxy"
        );
        assert_eq!(
            doc["images"][2]["newName"],
            "localhost:5000/lab/consumer-app"
        );
        assert!(registry_kustomization(&work, &overlay, " ").is_err());
    }

    #[test]
    fn the_repository_kind_cluster_is_named_cascade_lab() {
        let repo = Repo {
            root: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."),
        };
        assert_eq!(repo.kind_cluster_name().unwrap(), "cascade-lab");
    }
}
