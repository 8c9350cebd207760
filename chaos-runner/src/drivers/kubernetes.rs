//! The Kubernetes driver: every `chaosk8s::catalog()` function, for `python` providers
//! whose module is `chaosk8s.*`, called on a `chaosk8s::Session` made once per distinct
//! `secrets` (they may name the cluster) and reused for the rest of the run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{Argument, Context, Driver, DriverError, Function};
use serde_json::{Map, Value};

#[derive(Default)]
pub struct KubernetesDriver {
    /// Sessions by their secrets (as JSON text).
    sessions: Mutex<HashMap<String, Arc<chaosk8s::Session>>>,
}

impl KubernetesDriver {
    fn session(&self, secrets: &Map<String, Value>) -> Result<Arc<chaosk8s::Session>, DriverError> {
        let key = Value::Object(secrets.clone()).to_string();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(session) = sessions.get(&key) {
            return Ok(session.clone());
        }
        let process_env = |key: &str| std::env::var(key).ok();
        let session =
            Arc::new(chaosk8s::Session::connect(secrets, &process_env).map_err(convert_error)?);
        sessions.insert(key, session.clone());
        Ok(session)
    }
}

fn convert_error(e: chaosk8s::Error) -> DriverError {
    match e {
        chaosk8s::Error::UnknownFunction { module, func } => DriverError::Unknown { module, func },
        chaosk8s::Error::InvalidArgument { name, reason } => {
            DriverError::InvalidArgument { name, reason }
        }
        other => DriverError::Failed(other.to_string()),
    }
}

impl Driver for KubernetesDriver {
    fn name(&self) -> &str {
        "kubernetes"
    }

    fn package(&self) -> &str {
        "chaostoolkit-kubernetes"
    }

    fn functions(&self) -> Vec<Function> {
        chaosk8s::catalog().into_iter().map(convert).collect()
    }

    fn bridged(&self) -> Vec<(String, String)> {
        chaosk8s::exported()
            .into_iter()
            .filter(|f| f.runs == chaosk8s::Runs::PythonBridge)
            .map(|f| (f.module.to_string(), f.name.to_string()))
            .collect()
    }

    fn call(
        &self,
        module: &str,
        func: &str,
        arguments: &Map<String, Value>,
        context: &Context,
    ) -> Result<Value, DriverError> {
        // Unknown functions and bad arguments fail before any cluster access.
        chaosk8s::check(module, func, arguments).map_err(convert_error)?;
        self.session(context.secrets)?
            .call(module, func, arguments)
            .map_err(convert_error)
    }
}

fn convert(spec: chaosk8s::FunctionSpec) -> Function {
    Function {
        module: spec.module.to_string(),
        name: spec.name.to_string(),
        kind: spec.kind.to_string(),
        doc: spec.doc.to_string(),
        arguments: spec
            .arguments
            .into_iter()
            .map(|a| Argument {
                name: a.name.to_string(),
                ty: a.ty.to_string(),
                required: a.default.is_none(),
                default: a.default,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_every_catalog_entry() {
        let ours: Vec<(String, String)> = KubernetesDriver::default()
            .functions()
            .into_iter()
            .map(|f| (f.module, f.name))
            .collect();
        let theirs: Vec<(String, String)> = chaosk8s::catalog()
            .into_iter()
            .map(|f| (f.module.to_string(), f.name.to_string()))
            .collect();
        assert_eq!(ours, theirs);
        assert!(ours.iter().all(|(m, _)| m.starts_with("chaosk8s")));
    }

    #[test]
    fn discovery_says_which_way_each_chaosk8s_function_runs() {
        let registry = crate::drivers::Registry::builtin();
        let discovery = registry.discovery();
        let kubernetes = discovery["drivers"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["name"] == "kubernetes"))
            .expect("the kubernetes driver")
            .clone();
        let runs = |key: &str| -> Vec<(String, String, String)> {
            kubernetes[key]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| {
                    let text = |k: &str| f[k].as_str().unwrap_or_default().to_string();
                    (text("module"), text("name"), text("runs"))
                })
                .collect()
        };
        let native = runs("activities");
        let bridged = runs("bridged");
        assert!(native.iter().all(|(_, _, r)| r == "native"));
        assert!(bridged.iter().all(|(_, _, r)| r == "python-bridge"));
        assert!(
            bridged
                .iter()
                .any(|(m, _, _)| m.starts_with("chaosk8s.chaosmesh."))
        );
        // Every function of chaostoolkit-kubernetes is listed exactly one way.
        for f in chaosk8s::exported() {
            let listed = native
                .iter()
                .chain(&bridged)
                .filter(|(m, n, _)| m == f.module && n == f.name)
                .count();
            assert_eq!(listed, 1, "{}.{}", f.module, f.name);
        }
    }
}
