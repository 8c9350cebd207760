//! Getting the cluster and the images ready before the manifests are applied: kind
//! (create the cluster if missing, build, `kind load`), minikube (start the profile if
//! it is not running, build, `minikube image load`). The `cluster` target pulls from
//! `--image-registry` instead (see `repo`).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::kind_nodes;
use super::repo::{self, IMAGE_TAG, Repo};
use super::tools::Tool;
use crate::service::Service;
use crate::targets::ImageOptions;
use crate::ui;

/// The `docker build` arguments for one image of the repository's Dockerfile.
pub fn build_command(repo: &Repo, images: &ImageOptions, target: &str, tag: &str) -> Vec<String> {
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

/// The `kind create cluster` arguments for the cluster of `config`.
fn create_command(config: &Path, images: &ImageOptions) -> Vec<String> {
    let mut args = vec![
        "create".to_string(),
        "cluster".into(),
        "--config".into(),
        config.to_string_lossy().into_owned(),
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
        let nodes = Tool::Kind.output(["get", "nodes", "--name", &name])?;
        let have = kind_nodes::worker_count(&name, &nodes);
        match images.kind_workers {
            Some(want) if usize::from(want) != have => bail!(
                "kind cluster `{name}` has {have} worker node(s), --workers asks for {want}: \
                 delete it first (lab down --target kind --delete-cluster) or leave --workers out"
            ),
            _ => ui::info(format!(
                "kind cluster `{name}` exists ({have} worker node(s))"
            )),
        }
        // Made from another kubeconfig (another shell's KUBECONFIG, a teammate's
        // script): this one gets the cluster's context, as `kind create` would have
        // given it. One that has it is left alone (its current context too).
        let context = repo.kind_context()?;
        if Tool::Kubectl
            .output(["config", "get-contexts", context.as_str()])
            .is_err()
        {
            ui::info(format!("adding context {context} to the kubeconfig"));
            Tool::Kind.output(["export", "kubeconfig", "--name", &name])?;
        }
    } else {
        let node = images
            .kind_image
            .as_deref()
            .unwrap_or("kind's default node image");
        let workers = images.kind_workers.unwrap_or(0);
        ui::info(format!(
            "creating kind cluster `{name}` (kind/cluster.yaml, {workers} worker node(s), {node})"
        ));
        let path = repo.kind_config();
        if workers == 0 {
            Tool::Kind.output(create_command(&path, images))?;
        } else {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let generated = kind_nodes::with_workers(&text, &path, workers)?;
            // kind reads the file once, at the start; the temporary file goes with it.
            let mut file = tempfile::Builder::new()
                .prefix("cascade-lab-kind-")
                .suffix(".yaml")
                .tempfile()
                .context("cannot write the kind configuration with workers")?;
            file.write_all(generated.as_bytes())
                .context("cannot write the kind configuration with workers")?;
            Tool::Kind.output(create_command(file.path(), images))?;
        }
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

/// minikube: the profile runs (started when it does not) and has the images of
/// `services`, built locally.
pub fn prepare_minikube(repo: &Repo, images: &ImageOptions, services: &[Service]) -> Result<()> {
    Tool::Minikube.locate()?;
    Tool::Docker.locate()?;
    // `minikube status` exits non-zero when the profile is missing or stopped.
    let running = Tool::Minikube
        .output(["status", "--format", "{{.Host}}"])
        .is_ok_and(|host| host.trim() == "Running");
    if running {
        ui::info("minikube is running");
    } else {
        let version = match &images.minikube_image {
            Some(image) => Some(kubernetes_version_of(image)?),
            None => None,
        };
        let root = nix::unistd::Uid::effective().is_root();
        let args = start_command(images, version.as_deref(), root);
        ui::info(format!(
            "starting minikube (minikube {}): a minute or two",
            args.join(" ")
        ));
        Tool::Minikube.output(args)?;
    }
    for tag in build_images(repo, images, services)? {
        ui::info(format!("loading {tag} into minikube"));
        Tool::Minikube.output(["image", "load", &tag])?;
    }
    Ok(())
}

/// The label of the node images scripts/kind-build.sh builds for minikube, naming the
/// Kubernetes version they hold.
const KUBERNETES_VERSION_LABEL: &str = "cascade-lab.kubernetes-version";

/// The Kubernetes version the minikube node image `image` holds (its label).
fn kubernetes_version_of(image: &str) -> Result<String> {
    let format = format!("{{{{ index .Config.Labels \"{KUBERNETES_VERSION_LABEL}\" }}}}");
    let version = Tool::Docker
        .output(["image", "inspect", "--format", &format, image])
        .with_context(|| format!("the minikube node image `{image}` (--minikube-image) is not in Docker; build it with scripts/kind-build.sh --minikube"))?;
    let version = version.trim();
    if !version.starts_with('v') {
        bail!(
            "the minikube node image `{image}` (--minikube-image) has no `{KUBERNETES_VERSION_LABEL}` label; build it with scripts/kind-build.sh --minikube"
        );
    }
    Ok(version.to_string())
}

/// The `minikube start` arguments: with our node image, everything is in the image and
/// nothing may be downloaded (no preload, no image cache, no addons, the bridge CNI
/// rather than kindnet, whose image is not there); as root, `--force` (minikube refuses
/// the docker driver to root otherwise).
fn start_command(
    images: &ImageOptions,
    kubernetes_version: Option<&str>,
    root: bool,
) -> Vec<String> {
    let mut args = vec!["start".to_string(), "--driver=docker".into()];
    if let (Some(image), Some(version)) = (&images.minikube_image, kubernetes_version) {
        args.extend([
            format!("--base-image={image}"),
            format!("--kubernetes-version={version}"),
            "--container-runtime=containerd".into(),
            "--preload=false".into(),
            "--cache-images=false".into(),
            "--install-addons=false".into(),
            "--cni=bridge".into(),
        ]);
    }
    if root {
        args.push("--force".into());
    }
    args
}

/// minikube: deletes the profile (`lab down --delete-cluster`: its container, network
/// and volume go with it), then the lab's images.
pub fn delete_minikube() -> Result<()> {
    ui::info("deleting minikube");
    Tool::Minikube.output(["delete"])?;
    remove_lab_images()
}

/// kind: deletes the lab's cluster (`lab down --delete-cluster`), then what the lab left
/// in Docker: its images and kind's network once no other cluster uses it.
pub fn delete_kind_cluster(repo: &Repo) -> Result<()> {
    let name = repo.kind_cluster_name()?;
    ui::info(format!("deleting kind cluster `{name}`"));
    Tool::Kind.output(["delete", "cluster", "--name", &name])?;
    if Tool::Docker.locate().is_err() {
        return Ok(());
    }
    remove_lab_images()?;
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

/// Removes the lab's images (the services' and the in-cluster runner's) from Docker (their untagged build layers stay, as the cache
/// of the next `lab up`).
fn remove_lab_images() -> Result<()> {
    if Tool::Docker.locate().is_err() {
        return Ok(());
    }
    let tags: Vec<String> = Service::ALL
        .into_iter()
        .map(|service| format!("{}:{IMAGE_TAG}", repo::image(service).1))
        .chain(std::iter::once(RUNNER_IMAGE.to_string()))
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
    Ok(())
}

/// The in-cluster runner's image (`lab cluster-run` builds it from the Dockerfile's
/// `chaos-runner` target): one of the lab's images, removed with the others.
pub const RUNNER_IMAGE: &str = "cascade-lab/chaos-runner:dev";

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
            minikube_image: None,
            build_args: vec![("RUST_IMAGE".into(), "local/rust:1".into())],
            build_network: Some("host".into()),
            kind_workers: None,
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
        let config = repo().kind_config();
        assert!(!create_command(&config, &images).contains(&"--image".to_string()));
        images.kind_image = Some("local/node:v1".into());
        let args = create_command(&config, &images);
        assert_eq!(args[args.len() - 2..], ["--image", "local/node:v1"]);
    }

    #[test]
    fn minikube_starts_offline_from_our_node_image_and_as_root_with_force() {
        let mut images = ImageOptions::default();
        assert_eq!(
            start_command(&images, None, false),
            ["start", "--driver=docker"]
        );
        images.minikube_image = Some("local/minikube-node:v1".into());
        let args = start_command(&images, Some("v1.33.13"), true);
        assert_eq!(
            args,
            [
                "start",
                "--driver=docker",
                "--base-image=local/minikube-node:v1",
                "--kubernetes-version=v1.33.13",
                "--container-runtime=containerd",
                "--preload=false",
                "--cache-images=false",
                "--install-addons=false",
                "--cni=bridge",
                "--force"
            ]
        );
    }
}
