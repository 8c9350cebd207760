//! Getting the cluster and the images ready before the manifests are applied: kind
//! (create the cluster if missing, build, `kind load`), minikube (build, `minikube image
//! load`). The `cluster` target pulls from `--image-registry` instead (see `repo`).

use anyhow::Result;

use super::repo::{IMAGE_TAG, IMAGES, Repo};
use super::tools::Tool;
use crate::ui;

/// Builds both images with the local docker from the repository's Dockerfile.
fn build_images(repo: &Repo) -> Result<Vec<String>> {
    Tool::Docker.locate()?;
    let mut tags = Vec::new();
    for (target, image) in IMAGES {
        let tag = format!("{image}:{IMAGE_TAG}");
        ui::info(format!("building {tag} (docker build --target {target})"));
        let root = repo.root().to_string_lossy().into_owned();
        Tool::Docker.output(["build", "--target", target, "-t", &tag, &root])?;
        tags.push(tag);
    }
    Ok(tags)
}

/// kind: the cluster of kind/cluster.yaml exists (created if missing) and has the images.
pub fn prepare_kind(repo: &Repo) -> Result<()> {
    Tool::Kind.locate()?;
    Tool::Docker.locate()?;
    let name = repo.kind_cluster_name()?;
    let clusters = Tool::Kind.output(["get", "clusters"])?;
    if clusters.lines().any(|line| line.trim() == name) {
        ui::info(format!("kind cluster `{name}` exists"));
    } else {
        ui::info(format!(
            "creating kind cluster `{name}` (kind/cluster.yaml)"
        ));
        let config = repo.kind_config().to_string_lossy().into_owned();
        Tool::Kind.output(["create", "cluster", "--config", &config])?;
    }
    for tag in build_images(repo)? {
        ui::info(format!("loading {tag} into kind cluster `{name}`"));
        Tool::Kind.output(["load", "docker-image", &tag, "--name", &name])?;
    }
    Ok(())
}

/// minikube: the images are built locally and loaded into the running minikube.
pub fn prepare_minikube(repo: &Repo) -> Result<()> {
    Tool::Minikube.locate()?;
    Tool::Docker.locate()?;
    for tag in build_images(repo)? {
        ui::info(format!("loading {tag} into minikube"));
        Tool::Minikube.output(["image", "load", &tag])?;
    }
    Ok(())
}

/// kind: deletes the lab's cluster (`lab down --delete-cluster`).
pub fn delete_kind_cluster(repo: &Repo) -> Result<()> {
    let name = repo.kind_cluster_name()?;
    ui::info(format!("deleting kind cluster `{name}`"));
    Tool::Kind.output(["delete", "cluster", "--name", &name])?;
    Ok(())
}
