//! Getting the cluster and the images ready before the manifests are applied: kind
//! (create the cluster if missing, build, `kind load`), minikube (build, `minikube image
//! load`). The `cluster` target pulls from `--image-registry` instead (see `repo`).

use anyhow::Result;

use super::repo::{self, IMAGE_TAG, Repo};
use super::tools::Tool;
use crate::service::Service;
use crate::targets::ImageOptions;
use crate::ui;

/// The `docker build` arguments for one image of the repository's Dockerfile.
fn build_command(repo: &Repo, images: &ImageOptions, target: &str, tag: &str) -> Vec<String> {
    // --force-rm: a failed build leaves no stopped container behind.
    let mut args = vec![
        "build".to_string(),
        "--force-rm".into(),
        "--target".into(),
        target.into(),
        "-t".into(),
        tag.into(),
    ];
    for (name, value) in &images.build_args {
        args.push("--build-arg".into());
        args.push(format!("{name}={value}"));
    }
    if let Some(network) = &images.build_network {
        args.push("--network".into());
        args.push(network.clone());
    }
    args.push(repo.root().to_string_lossy().into_owned());
    args
}

/// Builds the images of `services` with the local docker from the repository's
/// Dockerfile.
fn build_images(repo: &Repo, images: &ImageOptions, services: &[Service]) -> Result<Vec<String>> {
    Tool::Docker.locate()?;
    let mut tags = Vec::new();
    for &service in services {
        let (target, image) = repo::image(service);
        let tag = format!("{image}:{IMAGE_TAG}");
        ui::info(format!("building {tag} (docker build --target {target})"));
        Tool::Docker.output(build_command(repo, images, target, &tag))?;
        tags.push(tag);
    }
    Ok(tags)
}

/// The `kind create cluster` arguments for the repository's cluster.
fn create_command(repo: &Repo, images: &ImageOptions) -> Vec<String> {
    let mut args = vec![
        "create".to_string(),
        "cluster".into(),
        "--config".into(),
        repo.kind_config().to_string_lossy().into_owned(),
    ];
    if let Some(image) = &images.kind_image {
        args.push("--image".into());
        args.push(image.clone());
    }
    args
}

/// kind: the cluster of kind/cluster.yaml exists (created if missing) and has the images
/// of `services`.
pub fn prepare_kind(repo: &Repo, images: &ImageOptions, services: &[Service]) -> Result<()> {
    Tool::Kind.locate()?;
    Tool::Docker.locate()?;
    let name = repo.kind_cluster_name()?;
    let clusters = Tool::Kind.output(["get", "clusters"])?;
    if clusters.lines().any(|line| line.trim() == name) {
        ui::info(format!("kind cluster `{name}` exists"));
    } else {
        let node = images
            .kind_image
            .as_deref()
            .unwrap_or("kind's default node image");
        ui::info(format!(
            "creating kind cluster `{name}` (kind/cluster.yaml, {node})"
        ));
        Tool::Kind.output(create_command(repo, images))?;
    }
    for tag in build_images(repo, images, services)? {
        ui::info(format!("loading {tag} into kind cluster `{name}`"));
        Tool::Kind.output(["load", "docker-image", &tag, "--name", &name])?;
    }
    // A new cluster answers before its DNS does; the consumer finds the provider by name,
    // so the lab is not up until CoreDNS is (instant on a cluster that has been up).
    ui::info("waiting for the cluster's DNS (deployment kube-system/coredns)");
    let context = repo.kind_context()?;
    Tool::Kubectl.output([
        "--context",
        context.as_str(),
        "--namespace",
        "kube-system",
        "rollout",
        "status",
        "deployment/coredns",
        "--timeout=180s",
    ])?;
    Ok(())
}

/// minikube: the images of `services` are built locally and loaded into the running
/// minikube.
pub fn prepare_minikube(repo: &Repo, images: &ImageOptions, services: &[Service]) -> Result<()> {
    Tool::Minikube.locate()?;
    Tool::Docker.locate()?;
    for tag in build_images(repo, images, services)? {
        ui::info(format!("loading {tag} into minikube"));
        Tool::Minikube.output(["image", "load", &tag])?;
    }
    Ok(())
}

/// kind: deletes the lab's cluster (`lab down --delete-cluster`), then what the lab left
/// in Docker: its images (their untagged build layers stay, as the cache of the next
/// `lab up`) and kind's network once no other cluster uses it.
pub fn delete_kind_cluster(repo: &Repo) -> Result<()> {
    let name = repo.kind_cluster_name()?;
    ui::info(format!("deleting kind cluster `{name}`"));
    Tool::Kind.output(["delete", "cluster", "--name", &name])?;
    if Tool::Docker.locate().is_err() {
        return Ok(());
    }
    let tags: Vec<String> = Service::ALL
        .into_iter()
        .map(|service| format!("{}:{IMAGE_TAG}", repo::image(service).1))
        .filter(|tag| {
            Tool::Docker
                .output(["image", "inspect", tag.as_str()])
                .is_ok()
        })
        .collect();
    if !tags.is_empty() {
        ui::info(format!("removing the images {}", tags.join(", ")));
        let mut args = vec!["rmi".to_string(), "--no-prune".into()];
        args.extend(tags);
        Tool::Docker.output(args)?;
    }
    let attached = Tool::Docker.output([
        "network",
        "inspect",
        KIND_NETWORK,
        "--format",
        "{{len .Containers}}",
    ]);
    if attached.is_ok_and(|count| count.trim() == "0") {
        ui::info(format!(
            "removing the unused docker network `{KIND_NETWORK}`"
        ));
        Tool::Docker.output(["network", "rm", KIND_NETWORK])?;
    }
    Ok(())
}

/// The Docker network kind puts every cluster's nodes on.
const KIND_NETWORK: &str = "kind";

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> Repo {
        Repo::at("/checkout")
    }

    #[test]
    fn docker_build_gets_the_build_args_and_network_before_the_context() {
        let images = ImageOptions {
            kind_image: None,
            build_args: vec![("RUST_IMAGE".into(), "local/rust:1".into())],
            build_network: Some("host".into()),
        };
        let args = build_command(&repo(), &images, "consumer-app", "c:dev");
        assert_eq!(
            args,
            [
                "build",
                "--force-rm",
                "--target",
                "consumer-app",
                "-t",
                "c:dev",
                "--build-arg",
                "RUST_IMAGE=local/rust:1",
                "--network",
                "host",
                "/checkout"
            ]
        );
    }

    #[test]
    fn kind_create_names_the_node_image_only_when_given() {
        let mut images = ImageOptions::default();
        assert!(!create_command(&repo(), &images).contains(&"--image".to_string()));
        images.kind_image = Some("local/node:v1".into());
        let args = create_command(&repo(), &images);
        assert_eq!(args[args.len() - 2..], ["--image", "local/node:v1"]);
    }
}
