//! The Kubernetes driver: every `chaosk8s::catalog()` function, dispatched to
//! `chaosk8s::call` for `python` providers whose module is `chaosk8s.*`.

use super::{Argument, Driver, DriverError, Function};
use serde_json::{Map, Value};

pub struct KubernetesDriver;

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

    fn call(
        &self,
        module: &str,
        func: &str,
        arguments: &Map<String, Value>,
        configuration: &Map<String, Value>,
        secrets: &Map<String, Value>,
    ) -> Result<Value, DriverError> {
        chaosk8s::call(module, func, arguments, configuration, secrets).map_err(|e| match e {
            chaosk8s::Error::UnknownFunction { module, func } => {
                DriverError::Unknown { module, func }
            }
            chaosk8s::Error::InvalidArgument { name, reason } => {
                DriverError::InvalidArgument { name, reason }
            }
            other => DriverError::Failed(other.to_string()),
        })
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
        let ours: Vec<(String, String)> = KubernetesDriver
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
}
