//! `chaosk8s.pod.probes` and `chaosk8s.pod.actions`.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, LogParams};
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
