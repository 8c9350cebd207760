//! `chaosk8s.event.probes`, with its catalog entry.

use kube::api::ListParams;
use serde_json::Value;

use crate::FunctionSpec;
use crate::catalog::{INTEGER, STRING, optional, spec};
use crate::client::Cluster;
use crate::error::Error;

pub(crate) const PROBES: &str = "chaosk8s.event.probes";

/// The `events.k8s.io/v1` events of every namespace, as the API answers them (the
/// `EventList` itself, untouched, as chaosk8s returns it).
async fn get_events(
    cluster: &Cluster,
    label_selector: Option<&str>,
    field_selector: Option<&str>,
    limit: Option<u32>,
) -> Result<Value, Error> {
    let mut params = ListParams::default();
    if let Some(selector) = label_selector {
        params = params.labels(selector);
    }
    if let Some(selector) = field_selector {
        params = params.fields(selector);
    }
    if let Some(limit) = limit {
        params = params.limit(limit);
    }
    let request = kube::core::Request::new("/apis/events.k8s.io/v1/events")
        .list(&params)
        .map_err(|e| Error::Client(e.to_string()))?;
    cluster
        .client()
        .request::<Value>(request)
        .await
        .map_err(|e| cluster.error(e))
}

pub(crate) fn catalog() -> Vec<FunctionSpec> {
    vec![spec(
        PROBES,
        "get_events",
        "The events of all namespaces (events.k8s.io/v1 EventList), filtered by `label_selector` and `field_selector` when given, at most `limit` of them.",
        vec![
            optional("label_selector", STRING, Value::Null),
            optional("field_selector", STRING, Value::Null),
            optional("limit", INTEGER, serde_json::json!(100)),
        ],
        |args, cluster| {
            Box::pin(async move {
                let limit = match args.opt_integer("limit")? {
                    // The API takes no limit as 0 does: everything.
                    None | Some(0) => None,
                    Some(n) => Some(u32::try_from(n).map_err(|_| {
                        crate::error::invalid("limit", format!("must be 0..={}, got {n}", u32::MAX))
                    })?),
                };
                get_events(
                    cluster,
                    args.non_empty("label_selector")?.as_deref(),
                    args.non_empty("field_selector")?.as_deref(),
                    limit,
                )
                .await
            })
        },
    )]
}
