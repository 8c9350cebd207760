//! `chaosk8s.crd.probes` and `chaosk8s.crd.actions`: custom objects by group, version
//! and plural, namespaced or cluster-wide, with their catalog entries.
//!
//! The requests are raw (the object as JSON, the answer as JSON), as chaosk8s sends them
//! through the client's CustomObjectsApi; a refusal fails with the HTTP reason phrase and
//! the body the server sent, as chaosk8s's messages quote them. Deliberate differences
//! from 0.39 (with kubernetes 37), where these functions cannot succeed:
//! - `apply_from_json` / `apply_from_yaml` hand the resource *text* to a client method
//!   that only takes a mapping, so they always fail with a pydantic ValidationError; here
//!   the parsed object is created, as the functions document.
//! - `replace_custom_object` / `replace_cluster_custom_object` pass `force`, which the
//!   client's replace methods do not take (a ValidationError again); here the object is
//!   replaced (`force` has no meaning for a replace and is ignored).
//! - `create_cluster_custom_object`'s refusal message is a plain string in 0.39 (the
//!   literal `'{x.reason}' {x.body}`); here it is filled in like the namespaced one's.

use http::{Method, StatusCode};
use serde_json::Value;

use crate::catalog::{BOOLEAN, MAPPING, STRING, ns, optional, required, spec};
use crate::client::Cluster;
use crate::error::{Error, invalid};
use crate::{ArgSpec, FunctionSpec, manifest};

pub(crate) const PROBES: &str = "chaosk8s.crd.probes";
pub(crate) const ACTIONS: &str = "chaosk8s.crd.actions";

/// Where custom objects of one resource live.
struct Resource {
    group: String,
    version: String,
    plural: String,
    /// `None` for cluster-wide objects.
    ns: Option<String>,
}

/// A path segment, percent-encoded as the Python client encodes path parameters.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl Resource {
    fn from_args(args: &crate::args::Args, namespaced: bool) -> Result<Self, Error> {
        Ok(Self {
            group: args.string("group")?,
            version: args.string("version")?,
            plural: args.string("plural")?,
            ns: if namespaced {
                Some(args.string("ns")?)
            } else {
                None
            },
        })
    }

    fn collection(&self) -> String {
        let base = format!("/apis/{}/{}", segment(&self.group), segment(&self.version));
        match &self.ns {
            Some(ns) => format!(
                "{base}/namespaces/{}/{}",
                segment(ns),
                segment(&self.plural)
            ),
            None => format!("{base}/{}", segment(&self.plural)),
        }
    }

    fn object(&self, name: &str) -> String {
        format!("{}/{}", self.collection(), segment(name))
    }
}

/// What the server answered: its status, reason phrase and body.
struct Answer {
    status: StatusCode,
    body: String,
}

impl Answer {
    fn json(&self) -> Result<Value, Error> {
        serde_json::from_str(&self.body).map_err(|e| {
            Error::Client(format!(
                "the API answered {} with a body that is not JSON: {e}",
                self.status
            ))
        })
    }

    /// chaosk8s's message for a refused request: `<what>: '<reason>' <body>`.
    fn failure(&self, what: &str) -> Error {
        Error::ActivityFailed(format!(
            "{what}: '{}' {}",
            self.status.canonical_reason().unwrap_or(""),
            self.body
        ))
    }
}

async fn send(
    cluster: &Cluster,
    method: Method,
    path: &str,
    content_type: &str,
    body: Option<&Value>,
) -> Result<Answer, Error> {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::CONTENT_TYPE, content_type)
        .body(kube::client::Body::from(bytes))
        .map_err(|e| Error::Client(format!("{path}: {e}")))?;
    let response = cluster
        .client()
        .send(request)
        .await
        .map_err(|e| cluster.error(e))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect_bytes()
        .await
        .map_err(|e| cluster.error(e))?;
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

const JSON: &str = "application/json";

/// The answer's JSON when it succeeded, else chaosk8s's failure naming `what`.
fn json_or_fail(answer: &Answer, what: &str) -> Result<Value, Error> {
    if answer.status.is_success() {
        answer.json()
    } else {
        Err(answer.failure(what))
    }
}

async fn create(cluster: &Cluster, resource: &Resource, body: &Value) -> Result<Value, Error> {
    let answer = send(
        cluster,
        Method::POST,
        &resource.collection(),
        JSON,
        Some(body),
    )
    .await?;
    // chaosk8s answers the server's Status when the object already exists.
    if answer.status == StatusCode::CONFLICT {
        return answer.json();
    }
    json_or_fail(&answer, "Failed to create custom resource object")
}

async fn delete(cluster: &Cluster, resource: &Resource, name: &str) -> Result<Value, Error> {
    let answer = send(cluster, Method::DELETE, &resource.object(name), JSON, None).await?;
    json_or_fail(&answer, "Failed to delete custom resource object")
}

async fn patch(
    cluster: &Cluster,
    resource: &Resource,
    name: &str,
    body: &Value,
) -> Result<Value, Error> {
    // As the Python client sends it: a list is a JSON Patch, a mapping a strategic merge
    // patch (which the server refuses for custom objects: 415).
    let content_type = if body.is_array() {
        "application/json-patch+json"
    } else {
        "application/strategic-merge-patch+json"
    };
    let answer = send(
        cluster,
        Method::PATCH,
        &resource.object(name),
        content_type,
        Some(body),
    )
    .await?;
    json_or_fail(&answer, "Failed to patch custom resource object")
}

async fn replace(
    cluster: &Cluster,
    resource: &Resource,
    name: &str,
    body: &Value,
) -> Result<Value, Error> {
    let answer = send(
        cluster,
        Method::PUT,
        &resource.object(name),
        JSON,
        Some(body),
    )
    .await?;
    json_or_fail(&answer, "Failed to replace custom resource object")
}

/// `get_*` and `list_*`: chaosk8s's message for them says "create" too.
async fn read(cluster: &Cluster, path: &str) -> Result<Value, Error> {
    let answer = send(cluster, Method::GET, path, JSON, None).await?;
    json_or_fail(&answer, "Failed to create custom resource object")
}

/// chaosk8s's `load_body`: the `resource` argument, else the YAML file.
fn load_body(args: &crate::args::Args) -> Result<Value, Error> {
    let resource = args.parse::<Option<Value>>("resource", "a mapping")?;
    let file = args.non_empty("resource_as_yaml_file")?;
    match (resource, file) {
        (Some(body), _) => Ok(body),
        (None, None) => Err(Error::ActivityFailed(
            "Either `body_as_object` or `body_as_yaml_file` must be set".into(),
        )),
        (None, Some(path)) if !std::path::Path::new(&path).is_file() => Err(Error::ActivityFailed(
            format!("Path '{path}' is not a valid resource file"),
        )),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Error::ActivityFailed(format!("cannot read {path}: {e}")))?;
            manifest::parse_yaml(&path, &text)
        }
    }
}

/// The plural of a kind the way chaosk8s guesses it (the REST mapper's naive rule).
fn plural_of(kind: &str) -> String {
    let singular = kind.to_lowercase();
    if singular == "endpoints" {
        return singular;
    }
    if singular.ends_with('s') {
        format!("{singular}es")
    } else if let Some(stem) = singular.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{singular}s")
    }
}

/// The typed head of a resource given as text: enough to know where it goes.
#[derive(serde::Deserialize)]
struct Head {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: HeadMetadata,
}

#[derive(serde::Deserialize, Default)]
struct HeadMetadata {
    #[serde(default)]
    namespace: Option<String>,
}

/// `apply_from_json` / `apply_from_yaml`: creates the object where its head says.
async fn apply(cluster: &Cluster, object: Value) -> Result<Value, Error> {
    let head: Head = serde_json::from_value(object.clone())
        .map_err(|e| invalid("resource", format!("not an object: {e}")))?;
    let api_version = head
        .api_version
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::ActivityFailed("missing apiVersion in resource".into()))?;
    let kind = head
        .kind
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Error::ActivityFailed("missing kind in resource".into()))?;
    let (group, version) = api_version.rsplit_once('/').ok_or_else(|| {
        invalid(
            "resource",
            format!("apiVersion '{api_version}' has no group (GROUP/VERSION)"),
        )
    })?;
    let resource = Resource {
        group: group.to_string(),
        version: version.to_string(),
        plural: plural_of(&kind),
        ns: Some(head.metadata.namespace.unwrap_or_else(|| "default".into())),
    };
    create(cluster, &resource, &object).await
}

fn gvp() -> Vec<ArgSpec> {
    vec![
        required("group", STRING),
        required("version", STRING),
        required("plural", STRING),
    ]
}

/// `gvp` then `extra`.
fn gvp_and(extra: Vec<ArgSpec>) -> Vec<ArgSpec> {
    let mut args = gvp();
    args.extend(extra);
    args
}

fn body_arguments() -> Vec<ArgSpec> {
    vec![
        optional("resource", MAPPING, Value::Null),
        optional("resource_as_yaml_file", STRING, Value::Null),
    ]
}

fn with_body(mut head: Vec<ArgSpec>) -> Vec<ArgSpec> {
    head.extend(body_arguments());
    head
}

pub(crate) fn catalog() -> Vec<FunctionSpec> {
    vec![
        spec(
            ACTIONS,
            "apply_from_json",
            "Creates the custom object given as JSON text in `resource` (its namespace from its metadata, default `default`; the plural guessed from its kind).",
            vec![optional("resource", STRING, Value::Null)],
            |args, cluster| {
                Box::pin(async move {
                    let text = args.string("resource")?;
                    let object: Value = serde_json::from_str(&text)
                        .map_err(|e| invalid("resource", format!("not valid JSON: {e}")))?;
                    apply(cluster, object).await
                })
            },
        ),
        spec(
            ACTIONS,
            "apply_from_yaml",
            "Creates the custom object given as YAML text in `resource` (its namespace from its metadata, default `default`; the plural guessed from its kind).",
            vec![optional("resource", STRING, Value::Null)],
            |args, cluster| {
                Box::pin(async move {
                    let text = args.string("resource")?;
                    apply(cluster, manifest::parse_yaml("resource", &text)?).await
                })
            },
        ),
        spec(
            ACTIONS,
            "create_cluster_custom_object",
            "Creates the cluster-wide custom object `resource` (or the one in the YAML file `resource_as_yaml_file`); answers it, or the server's Status when it already exists.",
            with_body(gvp()),
            |args, cluster| {
                Box::pin(async move {
                    let resource = Resource::from_args(args, false)?;
                    create(cluster, &resource, &load_body(args)?).await
                })
            },
        ),
        spec(
            ACTIONS,
            "create_custom_object",
            "Creates the custom object `resource` (or the one in the YAML file `resource_as_yaml_file`) in `ns`; answers it, or the server's Status when it already exists.",
            with_body(gvp_and(vec![ns()])),
            |args, cluster| {
                Box::pin(async move {
                    let resource = Resource::from_args(args, true)?;
                    create(cluster, &resource, &load_body(args)?).await
                })
            },
        ),
        spec(
            ACTIONS,
            "delete_cluster_custom_object",
            "Deletes the cluster-wide custom object `name`; answers the server's Status.",
            gvp_and(vec![required("name", STRING)]),
            |args, cluster| {
                Box::pin(async move {
                    let resource = Resource::from_args(args, false)?;
                    delete(cluster, &resource, &args.string("name")?).await
                })
            },
        ),
        spec(
            ACTIONS,
            "delete_custom_object",
            "Deletes the custom object `name` of `ns`; answers the server's Status.",
            gvp_and(vec![required("name", STRING), ns()]),
            |args, cluster| {
                Box::pin(async move {
                    let resource = Resource::from_args(args, true)?;
                    delete(cluster, &resource, &args.string("name")?).await
                })
            },
        ),
        spec(
            ACTIONS,
            "patch_cluster_custom_object",
            "Patches the cluster-wide custom object `name` with `resource` (a JSON Patch list) or the YAML file; answers the patched object.",
            with_body(gvp_and(vec![
                required("name", STRING),
                optional("force", BOOLEAN, Value::Bool(false)),
            ])),
            |args, cluster| {
                Box::pin(async move {
                    let resource = Resource::from_args(args, false)?;
                    args.boolean("force")?;
                    patch(cluster, &resource, &args.string("name")?, &load_body(args)?).await
                })
            },
        ),
        spec(
            ACTIONS,
            "patch_custom_object",
            "Patches the custom object `name` of `ns` with `resource` (a JSON Patch list) or the YAML file; answers the patched object.",
            with_body(gvp_and(vec![
                required("name", STRING),
                ns(),
                optional("force", BOOLEAN, Value::Bool(false)),
            ])),
            |args, cluster| {
                Box::pin(async move {
                    let resource = Resource::from_args(args, true)?;
                    args.boolean("force")?;
                    patch(cluster, &resource, &args.string("name")?, &load_body(args)?).await
                })
            },
        ),
        spec(
            ACTIONS,
            "replace_cluster_custom_object",
            "Replaces the cluster-wide custom object `name` with `resource` or the YAML file; answers the new object.",
            with_body(gvp_and(vec![
                required("name", STRING),
                optional("force", BOOLEAN, Value::Bool(false)),
            ])),
            |args, cluster| {
                Box::pin(async move {
                    let resource = Resource::from_args(args, false)?;
                    args.boolean("force")?;
                    replace(cluster, &resource, &args.string("name")?, &load_body(args)?).await
                })
            },
        ),
        spec(
            ACTIONS,
            "replace_custom_object",
            "Replaces the custom object `name` of `ns` with `resource` or the YAML file; answers the new object.",
            with_body(gvp_and(vec![
                required("name", STRING),
                ns(),
                optional("force", BOOLEAN, Value::Bool(false)),
            ])),
            |args, cluster| {
                Box::pin(async move {
                    let resource = Resource::from_args(args, true)?;
                    args.boolean("force")?;
                    replace(cluster, &resource, &args.string("name")?, &load_body(args)?).await
                })
            },
        ),
        spec(
            PROBES,
            "get_cluster_custom_object",
            "The cluster-wide custom object `name`.",
            gvp_and(vec![required("name", STRING)]),
            |args, cluster| {
                Box::pin(async move {
                    let resource = Resource::from_args(args, false)?;
                    read(cluster, &resource.object(&args.string("name")?)).await
                })
            },
        ),
        spec(
            PROBES,
            "get_custom_object",
            "The custom object `name` of `ns`.",
            gvp_and(vec![required("name", STRING), ns()]),
            |args, cluster| {
                Box::pin(async move {
                    let resource = Resource::from_args(args, true)?;
                    read(cluster, &resource.object(&args.string("name")?)).await
                })
            },
        ),
        spec(
            PROBES,
            "list_cluster_custom_objects",
            "The list of the cluster-wide custom objects of the resource.",
            gvp(),
            |args, cluster| {
                Box::pin(async move {
                    read(cluster, &Resource::from_args(args, false)?.collection()).await
                })
            },
        ),
        spec(
            PROBES,
            "list_custom_objects",
            "The list of the custom objects of the resource in `ns`.",
            gvp_and(vec![ns()]),
            |args, cluster| {
                Box::pin(async move {
                    read(cluster, &Resource::from_args(args, true)?.collection()).await
                })
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_follow_chaosk8s_rule() {
        assert_eq!(plural_of("Widget"), "widgets");
        assert_eq!(plural_of("Policy"), "policies");
        assert_eq!(plural_of("Status"), "statuses");
        assert_eq!(plural_of("Endpoints"), "endpoints");
    }

    #[test]
    fn paths_encode_their_segments() {
        let r = Resource {
            group: "example.com".into(),
            version: "v1".into(),
            plural: "widgets".into(),
            ns: Some("team a".into()),
        };
        assert_eq!(
            r.object("w/1"),
            "/apis/example.com/v1/namespaces/team%20a/widgets/w%2F1"
        );
        let cluster_wide = Resource { ns: None, ..r };
        assert_eq!(cluster_wide.collection(), "/apis/example.com/v1/widgets");
    }

    #[test]
    fn failures_quote_reason_and_body_like_chaosk8s() {
        let answer = Answer {
            status: StatusCode::NOT_FOUND,
            body: "{\"kind\":\"Status\"}\n".into(),
        };
        assert_eq!(
            answer
                .failure("Failed to delete custom resource object")
                .to_string(),
            "Failed to delete custom resource object: 'Not Found' {\"kind\":\"Status\"}\n"
        );
    }
}
