//! `chaosk8s.pod.probes` and `chaosk8s.pod.actions`.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, DeleteParams, ListParams, LogParams};
use rand::seq::IteratorRandom;
use serde_json::{Map, Value, json};

use crate::args::{Args, format_selector, py_str};
use crate::client::Cluster;
use crate::error::{Error, invalid};

/// Pods of `ns`, filtered by `label_selector` when one is given, in the API's order
/// (alphabetical by name, as chaosk8s gets them).
pub(crate) async fn list_pods(
    cluster: &Cluster,
    ns: &str,
    label_selector: Option<&str>,
) -> Result<Vec<Pod>, Error> {
    let api: Api<Pod> = Api::namespaced(cluster.client(), ns);
    let mut params = ListParams::default();
    if let Some(selector) = label_selector.filter(|s| !s.is_empty()) {
        params = params.labels(selector);
    }
    let pods = api.list(&params).await.map_err(|e| cluster.error(e))?;
    tracing::debug!(count = pods.items.len(), ns, ?label_selector, "listed pods");
    Ok(pods.items)
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.phase.as_deref())
}

fn pod_name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// chaosk8s's "raise, or answer false" pattern.
fn fail_or_false(raise: bool, message: String) -> Result<Value, Error> {
    if raise {
        Err(Error::ActivityFailed(message))
    } else {
        tracing::debug!("{message}");
        Ok(json!(false))
    }
}

pub(crate) async fn all_pods_healthy(
    cluster: &Cluster,
    ns: &str,
    raise: bool,
) -> Result<Value, Error> {
    let pods = list_pods(cluster, ns, None).await?;
    let unhealthy: Vec<String> = pods
        .iter()
        .filter(|p| !matches!(phase(p), Some("Running" | "Succeeded")))
        .map(|p| format!("{} ({})", pod_name(p), py_str(phase(p))))
        .collect();
    if unhealthy.is_empty() {
        return Ok(json!(true));
    }
    tracing::debug!(pods = ?unhealthy, "unhealthy pods");
    fail_or_false(raise, "the system is unhealthy".to_string())
}

pub(crate) async fn pods_in_phase(
    cluster: &Cluster,
    label_selector: &str,
    wanted: &str,
    ns: &str,
    raise: bool,
) -> Result<Value, Error> {
    let pods = list_pods(cluster, ns, Some(label_selector)).await?;
    if pods.is_empty() {
        return fail_or_false(raise, format!("no pods '{label_selector}' were found"));
    }
    if let Some(pod) = pods.iter().find(|p| phase(p) != Some(wanted)) {
        return fail_or_false(
            raise,
            format!(
                "pod '{label_selector}' is in phase '{}' but should be '{wanted}'",
                py_str(phase(pod))
            ),
        );
    }
    Ok(json!(true))
}

pub(crate) async fn pods_not_in_phase(
    cluster: &Cluster,
    label_selector: &str,
    unwanted: &str,
    ns: &str,
    raise: bool,
) -> Result<Value, Error> {
    let pods = list_pods(cluster, ns, Some(label_selector)).await?;
    if pods.is_empty() {
        return fail_or_false(raise, format!("no pods '{label_selector}' were found"));
    }
    if pods.iter().any(|p| phase(p) == Some(unwanted)) {
        return fail_or_false(
            raise,
            format!("pod '{label_selector}' should not be in phase '{unwanted}'"),
        );
    }
    Ok(json!(true))
}

pub(crate) async fn count_pods(
    cluster: &Cluster,
    label_selector: &str,
    wanted: Option<&str>,
    ns: &str,
) -> Result<Value, Error> {
    let pods = list_pods(cluster, ns, Some(label_selector)).await?;
    let count = match wanted {
        None => pods.len(),
        Some(wanted) => pods.iter().filter(|p| phase(p) == Some(wanted)).count(),
    };
    Ok(json!(count))
}

pub(crate) async fn pod_is_not_available(
    cluster: &Cluster,
    name: &str,
    ns: &str,
    label_selector: &str,
    raise: bool,
) -> Result<Value, Error> {
    let selector = format_selector(label_selector, Some(name))?;
    let pods = list_pods(cluster, ns, Some(&selector)).await?;
    if pods.iter().any(|p| phase(p) == Some("Running")) {
        return fail_or_false(raise, format!("pod '{name}' is actually running"));
    }
    Ok(json!(true))
}

pub(crate) async fn read_pod_logs(cluster: &Cluster, args: &Args) -> Result<Value, Error> {
    let name = args.opt_string("name")?;
    let ns = args.string("ns")?;
    let label_selector = args
        .opt_string("label_selector")?
        .ok_or_else(|| invalid("label_selector", "must be a string, got null"))?;
    let selector = format_selector(&label_selector, name.as_deref())?;
    let since_seconds = match args.non_empty("last")? {
        Some(last) => Some(parse_last(&last)?).filter(|s| *s > 0),
        None => None,
    };
    let params = LogParams {
        container: args.non_empty("container_name")?,
        previous: args.boolean("from_previous")?,
        timestamps: true,
        since_seconds,
        ..LogParams::default()
    };
    let api: Api<Pod> = Api::namespaced(cluster.client(), &ns);
    let mut logs = Map::new();
    for pod in list_pods(cluster, &ns, Some(&selector)).await? {
        let name = pod_name(&pod);
        let text = api
            .logs(&name, &params)
            .await
            .map_err(|e| cluster.error(e))?;
        logs.insert(name, Value::String(text));
    }
    Ok(Value::Object(logs))
}

/// Seconds in a "fluent delta" such as `10 minutes`, `1 hour ago` or `30s`: the subset of
/// what chaosk8s hands to `dateparser` that means a span of time back from now.
pub(crate) fn parse_last(last: &str) -> Result<i64, Error> {
    let text = last.trim().to_ascii_lowercase();
    let text = text.strip_suffix(" ago").unwrap_or(&text).trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || {
        invalid(
            "last",
            format!("'{last}' is not a span of time such as \"30 seconds\" or \"10 minutes\""),
        )
    };
    let number: i64 = number.parse().map_err(|_| bad())?;
    let unit_seconds = match unit.trim() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return Err(bad()),
    };
    number.checked_mul(unit_seconds).ok_or_else(bad)
}

/// True when at least `min_count` pods match `label_selector` (in `phase` when given).
pub(crate) async fn count_min_pods(
    cluster: &Cluster,
    label_selector: &str,
    wanted: Option<&str>,
    min_count: i64,
    ns: &str,
) -> Result<Value, Error> {
    let count = count_pods(cluster, label_selector, wanted, ns).await?;
    Ok(json!(count.as_i64().unwrap_or(0) >= min_count))
}

/// True when pods match `label_selector` (every pod of `ns` when empty) and each has
/// every one of `conditions`, each a `{"type", "status"}` mapping compared whole (as
/// chaosk8s compares dicts: a mapping with other keys never matches).
pub(crate) async fn pods_in_conditions(
    cluster: &Cluster,
    label_selector: &str,
    conditions: &[Map<String, Value>],
    ns: &str,
    raise: bool,
) -> Result<Value, Error> {
    let pods = list_pods(cluster, ns, Some(label_selector)).await?;
    if pods.is_empty() {
        return fail_or_false(raise, format!("no pods '{label_selector}' were found"));
    }
    for pod in &pods {
        let have: Vec<Map<String, Value>> = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .map(|c| {
                let mut m = Map::new();
                m.insert("type".into(), json!(c.type_));
                m.insert("status".into(), json!(c.status));
                m
            })
            .collect();
        if let Some(missing) = conditions.iter().find(|c| !have.contains(c)) {
            return fail_or_false(
                raise,
                format!(
                    "pod {} does not match the following given condition: {}",
                    pod_name(pod),
                    py_dict(missing)
                ),
            );
        }
    }
    Ok(json!(true))
}

/// Python's `str()` of a mapping of strings (how chaosk8s prints a condition).
fn py_dict(map: &Map<String, Value>) -> String {
    let items: Vec<String> = map
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => format!("'{s}'"),
                Value::Null => "None".into(),
                Value::Bool(true) => "True".into(),
                Value::Bool(false) => "False".into(),
                other => other.to_string(),
            };
            format!("'{k}': {value}")
        })
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// chaosk8s's tolerance for `read_pod_logs`: true when `pattern` is found in the logs of
/// every container of `value` (`all_containers`), or of at least one.
pub(crate) fn should_be_found_in_logs(
    pattern: &str,
    all_containers: bool,
    value: Option<&Map<String, Value>>,
) -> Result<Value, Error> {
    let Some(logs) = value.filter(|v| !v.is_empty()) else {
        return Err(Error::ActivityFailed("no logs to search from".into()));
    };
    let re = regex::Regex::new(pattern)
        .map_err(|e| invalid("pattern", format!("not a regular expression: {e}")))?;
    let mut matched = 0;
    for (container, text) in logs {
        let text = text.as_str().ok_or_else(|| {
            invalid(
                "value",
                format!("the logs of '{container}' must be a string, got {text}"),
            )
        })?;
        match re.find(text) {
            Some(m) => {
                tracing::debug!(container, at = ?(m.start(), m.end()), "pattern matched");
                matched += 1;
            }
            None => tracing::debug!(container, "pattern did not match"),
        }
    }
    Ok(json!(if all_containers {
        matched == logs.len()
    } else {
        matched > 0
    }))
}

/// How `terminate_pods` picks its victims (chaosk8s's `_select_pods`).
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    pub label_selector: Option<String>,
    pub name_pattern: Option<String>,
    pub all: bool,
    pub rand: bool,
    pub mode: String,
    pub qty: i64,
    pub order: String,
}

impl Default for Selection {
    fn default() -> Self {
        Self {
            label_selector: None,
            name_pattern: None,
            all: false,
            rand: false,
            mode: "fixed".to_string(),
            qty: 1,
            order: "alphabetic".to_string(),
        }
    }
}

impl Selection {
    /// The checks chaosk8s makes before it lists anything.
    fn validate(&self) -> Result<Option<regex::Regex>, Error> {
        if self.qty < 0 {
            return Err(Error::ActivityFailed(format!(
                "Cannot select pods. Quantity '{}' is negative.",
                self.qty
            )));
        }
        if !matches!(self.mode.as_str(), "fixed" | "percentage") {
            return Err(Error::ActivityFailed(format!(
                "Cannot select pods. Mode '{}' is invalid.",
                self.mode
            )));
        }
        if !matches!(self.order.as_str(), "alphabetic" | "oldest") {
            return Err(Error::ActivityFailed(format!(
                "Cannot select pods. Order '{}' is invalid.",
                self.order
            )));
        }
        self.name_pattern
            .as_deref()
            .map(|p| {
                regex::Regex::new(p)
                    .map_err(|e| invalid("name_pattern", format!("not a regular expression: {e}")))
            })
            .transpose()
    }

    /// Narrows `pods` (as listed) down to the ones to act on.
    fn pick(&self, pods: Vec<Pod>, pattern: Option<&regex::Regex>) -> Vec<Pod> {
        let mut pods: Vec<Pod> = match pattern {
            Some(re) => pods
                .into_iter()
                .filter(|p| re.is_match(&pod_name(p)))
                .collect(),
            None => pods,
        };
        if self.order == "oldest" {
            pods.sort_by(|a, b| {
                a.metadata
                    .creation_timestamp
                    .cmp(&b.metadata.creation_timestamp)
            });
        }
        if self.all {
            return pods;
        }
        let qty = if self.mode == "percentage" {
            (self.qty as u64 * pods.len() as u64).div_ceil(100)
        } else {
            self.qty as u64
        };
        let qty = usize::try_from(qty).unwrap_or(usize::MAX).min(pods.len());
        if self.rand {
            pods.into_iter().sample(&mut rand::rng(), qty)
        } else {
            pods.truncate(qty);
            pods
        }
    }
}

/// Deletes the selected pods (with `grace_period` seconds when >= 0, else each pod's own)
/// and answers their names.
pub(crate) async fn terminate_pods(
    cluster: &Cluster,
    selection: &Selection,
    grace_period: i64,
    ns: &str,
) -> Result<Value, Error> {
    let pattern = selection.validate()?;
    let pods = list_pods(cluster, ns, selection.label_selector.as_deref()).await?;
    let victims = selection.pick(pods, pattern.as_ref());
    let mut params = DeleteParams::default();
    if grace_period >= 0 {
        params = params.grace_period(u32::try_from(grace_period).unwrap_or(u32::MAX));
    }
    let names = delete_named(cluster, ns, victims.iter().map(pod_name), &params, false).await?;
    Ok(json!(names))
}

/// The longest `request_timeout` `exec_in_pods` accepts, in seconds (a day).
pub(crate) const MAX_EXEC_SECONDS: u64 = 86_400;

/// `exec_in_pods`'s command: a line split as a POSIX shell splits words (Python's
/// `shlex.split`), or the program and its arguments.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum Command {
    Line(String),
    Argv(Vec<String>),
}

impl Command {
    /// The program and its arguments; `None` when there is no command (chaosk8s's
    /// `if not cmd`).
    pub(crate) fn argv(&self) -> Result<Option<Vec<String>>, Error> {
        match self {
            Command::Line(line) if line.is_empty() => Ok(None),
            Command::Argv(argv) if argv.is_empty() => Ok(None),
            Command::Line(line) => shlex::split(line).map(Some).ok_or_else(|| {
                invalid(
                    "cmd",
                    format!("cannot split '{line}' into words (an unclosed quote?)"),
                )
            }),
            Command::Argv(argv) => Ok(Some(argv.clone())),
        }
    }
}

/// Runs the command in the container `container_name` of each selected pod, through the
/// exec API, and answers per pod: `pod_name`, `exit_code`, `cmd` (as given), `stdout`,
/// `stderr`, shaped as chaosk8s shapes them: exit code 0 and an empty `stderr` on
/// success; on failure the exit code as the API's status reports it (a string) and the
/// status's message as `stderr` (the command's own standard error is not returned); 1
/// and an empty `stderr` when no status came within `timeout`. As in chaosk8s, pods
/// without a container named `container_name` (so all, when it is not given) are skipped.
pub(crate) async fn exec_in_pods(
    cluster: &Cluster,
    cmd: &Value,
    argv: &[String],
    selection: &Selection,
    ns: &str,
    container_name: Option<&str>,
    timeout: std::time::Duration,
) -> Result<Value, Error> {
    let pattern = selection.validate()?;
    let pods = list_pods(cluster, ns, selection.label_selector.as_deref()).await?;
    let picked = selection.pick(pods, pattern.as_ref());
    let api: Api<Pod> = Api::namespaced(cluster.client(), ns);
    let mut results = Vec::new();
    for pod in picked {
        let name = pod_name(&pod);
        let has_container = pod.spec.as_ref().is_some_and(|spec| {
            spec.containers
                .iter()
                .any(|c| Some(c.name.as_str()) == container_name)
        });
        let Some(container) = container_name.filter(|_| has_container) else {
            tracing::debug!(pod = %name, ?container_name, "no such container; skipped");
            continue;
        };
        tracing::debug!(pod = %name, ?argv, "exec");
        let params = AttachParams::default()
            .container(container)
            .stdin(false)
            .stdout(true)
            .stderr(true)
            .tty(false);
        let mut process = api
            .exec(&name, argv.to_vec(), &params)
            .await
            .map_err(|e| cluster.error(e))?;
        let status = process.take_status();
        let (stdout, stderr) = (process.stdout(), process.stderr());
        let mut out = Vec::new();
        let mut err = Vec::new();
        let run = async {
            let (read_out, read_err) =
                tokio::join!(drain(stdout, &mut out), drain(stderr, &mut err));
            read_out.and(read_err)?;
            Ok::<_, std::io::Error>(match status {
                Some(status) => status.await,
                None => None,
            })
        };
        let status = match tokio::time::timeout(timeout, run).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => {
                return Err(Error::Connection(format!("exec in pod {name}: {e}")));
            }
            Err(_elapsed) => {
                process.abort();
                None
            }
        };
        let (exit_code, message) = exit_of(&name, status)?;
        results.push(json!({
            "pod_name": name,
            "exit_code": exit_code,
            "cmd": cmd,
            "stdout": String::from_utf8_lossy(&out),
            "stderr": message,
        }));
    }
    Ok(Value::Array(results))
}

async fn drain(
    reader: Option<impl tokio::io::AsyncRead + Unpin>,
    buf: &mut Vec<u8>,
) -> std::io::Result<()> {
    use tokio::io::AsyncReadExt;
    if let Some(mut reader) = reader {
        reader.read_to_end(buf).await?;
    }
    Ok(())
}

/// chaosk8s's (exit code, message) from the exec's final status.
fn exit_of(
    pod: &str,
    status: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>,
) -> Result<(Value, String), Error> {
    let Some(status) = status else {
        return Ok((json!(1), String::new()));
    };
    if status.status.as_deref() == Some("Success") {
        return Ok((json!(0), String::new()));
    }
    let message = status.message.clone().unwrap_or_default();
    // chaosk8s reads details.causes[0].message (the exit code, as text) and fails with a
    // KeyError when the status has none (the command could not start at all).
    let code = status
        .details
        .and_then(|d| d.causes)
        .and_then(|causes| causes.into_iter().next())
        .and_then(|cause| cause.message);
    match code {
        Some(code) => Ok((json!(code), message)),
        None => Err(Error::ActivityFailed(format!(
            "exec in pod {pod} failed: {message}"
        ))),
    }
}

/// Deletes pods by name; answers the names deleted. With `missing_ok`, a pod that is
/// already gone (deleted by a controller meanwhile) is skipped instead of failing.
pub(crate) async fn delete_named(
    cluster: &Cluster,
    ns: &str,
    names: impl Iterator<Item = String>,
    params: &DeleteParams,
    missing_ok: bool,
) -> Result<Vec<String>, Error> {
    let api: Api<Pod> = Api::namespaced(cluster.client(), ns);
    let mut deleted = Vec::new();
    for name in names {
        tracing::debug!(pod = %name, ns, "deleting pod");
        match api.delete(&name, params).await {
            Ok(_) => deleted.push(name),
            Err(kube::Error::Api(status)) if missing_ok && status.code == 404 => {}
            Err(e) => return Err(cluster.error(e)),
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pod(name: &str, created_secs: i64) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.to_string());
        pod.metadata.creation_timestamp = Some(Time(
            k8s_openapi::jiff::Timestamp::from_second(created_secs).unwrap(),
        ));
        pod
    }

    fn names(pods: &[Pod]) -> Vec<String> {
        pods.iter().map(pod_name).collect()
    }

    fn sample() -> Vec<Pod> {
        vec![
            pod("a-1", 30),
            pod("a-2", 10),
            pod("b-1", 20),
            pod("b-2", 40),
        ]
    }

    #[test]
    fn fixed_quantity_takes_the_first_pods() {
        let s = Selection {
            qty: 2,
            ..Selection::default()
        };
        assert_eq!(names(&s.pick(sample(), None)), ["a-1", "a-2"]);
        let s = Selection {
            qty: 10,
            ..Selection::default()
        };
        assert_eq!(
            s.pick(sample(), None).len(),
            4,
            "capped to the pods there are"
        );
    }

    #[test]
    fn percentage_rounds_up() {
        let s = Selection {
            mode: "percentage".into(),
            qty: 30,
            ..Selection::default()
        };
        assert_eq!(s.pick(sample(), None).len(), 2, "ceil(30% of 4) = 2");
    }

    #[test]
    fn oldest_order_and_name_pattern() {
        let s = Selection {
            order: "oldest".into(),
            qty: 2,
            ..Selection::default()
        };
        assert_eq!(names(&s.pick(sample(), None)), ["a-2", "b-1"]);
        let s = Selection {
            name_pattern: Some("^b-".into()),
            all: true,
            ..Selection::default()
        };
        let re = s.validate().unwrap();
        assert_eq!(names(&s.pick(sample(), re.as_ref())), ["b-1", "b-2"]);
    }

    #[test]
    fn random_pick_is_a_subset_of_the_right_size() {
        let s = Selection {
            rand: true,
            qty: 3,
            ..Selection::default()
        };
        let picked = names(&s.pick(sample(), None));
        assert_eq!(picked.len(), 3);
        assert!(picked.iter().all(|n| names(&sample()).contains(n)));
    }

    #[test]
    fn invalid_selections_fail_with_chaosk8s_messages() {
        let cases = [
            (
                Selection {
                    qty: -1,
                    ..Selection::default()
                },
                "Cannot select pods. Quantity '-1' is negative.",
            ),
            (
                Selection {
                    mode: "most".into(),
                    ..Selection::default()
                },
                "Cannot select pods. Mode 'most' is invalid.",
            ),
            (
                Selection {
                    order: "newest".into(),
                    ..Selection::default()
                },
                "Cannot select pods. Order 'newest' is invalid.",
            ),
        ];
        for (selection, message) in cases {
            assert_eq!(selection.validate().unwrap_err().to_string(), message);
        }
        let bad_regex = Selection {
            name_pattern: Some("(".into()),
            ..Selection::default()
        };
        assert!(
            bad_regex
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("invalid argument 'name_pattern'")
        );
    }

    #[test]
    fn parses_fluent_spans() {
        assert_eq!(parse_last("10 minutes").unwrap(), 600);
        assert_eq!(parse_last("1 hour ago").unwrap(), 3600);
        assert_eq!(parse_last("30s").unwrap(), 30);
        assert_eq!(parse_last(" 2 Days ").unwrap(), 172_800);
        assert!(parse_last("yesterday").is_err());
        assert!(parse_last("5 fortnights").is_err());
    }
}
