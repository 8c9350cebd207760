//! Manifests read from files the way chaosk8s reads them (JSON for `.json`, YAML for
//! `.yml`/`.yaml`), and objects created from them as given.

use std::path::Path;

use kube::Resource;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use serde_json::Value;

use crate::FunctionSpec;
use crate::catalog::{STRING, ns, required, spec};
use crate::client::Cluster;
use crate::error::Error;

/// Reads a manifest the way chaosk8s does: JSON for `.json`, YAML for `.yml`/`.yaml`.
pub(crate) fn read_manifest(spec_path: &str) -> Result<Value, Error> {
    let text = std::fs::read_to_string(spec_path)
        .map_err(|e| Error::ActivityFailed(format!("cannot read {spec_path}: {e}")))?;
    match Path::new(spec_path).extension().and_then(|e| e.to_str()) {
        Some("json") => serde_json::from_str(&text)
            .map_err(|e| Error::ActivityFailed(format!("{spec_path} is not valid JSON: {e}"))),
        Some("yml" | "yaml") => parse_yaml(spec_path, &text),
        _ => Err(Error::ActivityFailed(format!("cannot process {spec_path}"))),
    }
}

/// YAML text read from `origin` (a file, an argument), as JSON.
pub(crate) fn parse_yaml(origin: &str, text: &str) -> Result<Value, Error> {
    serde_saphyr::from_str(text).map_err(|e| {
        Error::ActivityFailed(format!(
            "{origin} is not valid YAML: {}",
            e.to_string().replace('\n', " ")
        ))
    })
}

fn object_of(spec_path: &str, manifest: Value) -> Result<DynamicObject, Error> {
    serde_json::from_value(manifest)
        .map_err(|e| Error::ActivityFailed(format!("{spec_path} does not describe an object: {e}")))
}

/// Creates the `K` described in `spec_path` in `ns`. Sent as given (like chaosk8s's dict
/// body), not through the typed struct, so fields this client version does not know are
/// not dropped.
pub(crate) async fn create_namespaced<K>(
    cluster: &Cluster,
    spec_path: &str,
    ns: &str,
) -> Result<Value, Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    let object = object_of(spec_path, read_manifest(spec_path)?)?;
    let resource = ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client(), ns, &resource);
    api.create(&PostParams::default(), &object)
        .await
        .map_err(|e| cluster.error(e))?;
    Ok(Value::Null)
}

/// Creates the cluster-wide `K` described by `manifest` (read from `origin`).
pub(crate) async fn create_cluster_wide<K>(
    cluster: &Cluster,
    origin: &str,
    manifest: Value,
) -> Result<Value, Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::ClusterResourceScope>,
{
    let object = object_of(origin, manifest)?;
    let resource = ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> = Api::all_with(cluster.client(), &resource);
    api.create(&PostParams::default(), &object)
        .await
        .map_err(|e| cluster.error(e))?;
    Ok(Value::Null)
}

/// A `create_*` action's catalog entry: [`create_namespaced`] of `K` from the file
/// `spec_path`, in `ns`.
pub(crate) fn create_entry<K>(
    module: &'static str,
    name: &'static str,
    doc: &'static str,
) -> FunctionSpec
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    spec(
        module,
        name,
        doc,
        vec![required("spec_path", STRING), ns()],
        |args, cluster| {
            Box::pin(async move {
                create_namespaced::<K>(cluster, &args.string("spec_path")?, &args.string("ns")?)
                    .await
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn manifest_file(suffix: &str, text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn reads_json_and_yaml_manifests() {
        let yaml = manifest_file(
            ".yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n",
        );
        let value = read_manifest(yaml.path().to_str().unwrap()).unwrap();
        assert_eq!(value["metadata"]["name"], "web");
        assert_eq!(value["spec"]["replicas"], 2);
        let json = manifest_file(".json", r#"{"kind": "Deployment"}"#);
        assert_eq!(
            read_manifest(json.path().to_str().unwrap()).unwrap()["kind"],
            "Deployment"
        );
    }

    #[test]
    fn manifest_errors_name_the_file() {
        let txt = manifest_file(".txt", "kind: Deployment");
        let path = txt.path().to_str().unwrap().to_string();
        assert_eq!(
            read_manifest(&path).unwrap_err().to_string(),
            format!("cannot process {path}")
        );
        let broken = manifest_file(".json", "{");
        let path = broken.path().to_str().unwrap().to_string();
        assert!(
            read_manifest(&path)
                .unwrap_err()
                .to_string()
                .starts_with(&format!("{path} is not valid JSON"))
        );
        let err = read_manifest("/nonexistent/d.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot read /nonexistent/d.yaml: "),
            "{err}"
        );
    }
}
