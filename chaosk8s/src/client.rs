//! Cluster access the way chaosk8s's `create_k8s_api_client` picks it:
//!
//! 1. a kubeconfig, when `$KUBECONFIG` (default `~/.kube/config`) exists; the context is
//!    `KUBERNETES_CONTEXT` from the secrets, else the environment, else the current one;
//! 2. the in-cluster service account, when `CHAOSTOOLKIT_IN_POD=true` (environment);
//! 3. otherwise `KUBERNETES_HOST` (default `http://localhost`) with, in that order of
//!    precedence, `KUBERNETES_API_KEY` (+ `KUBERNETES_API_KEY_PREFIX`, default `Bearer`),
//!    `KUBERNETES_CERT_FILE` + `KUBERNETES_KEY_FILE`, or `KUBERNETES_USERNAME` +
//!    `KUBERNETES_PASSWORD`; TLS is verified only when `KUBERNETES_VERIFY_SSL` is set, against
//!    `KUBERNETES_CA_CERT_FILE` when given.
//!
//! Values are looked up in the activity's secrets first, then the environment, except
//! `KUBECONFIG` and `CHAOSTOOLKIT_IN_POD`, which chaosk8s reads from the environment only.
//! Unlike chaosk8s, `KUBECONFIG` may list several files (kubectl's `:`-separated form).
//!
//! Every client gets connect and read timeouts, so a cluster that is down or silent fails
//! the activity within seconds instead of hanging the run.

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Map, Value};

use crate::error::{Error, from_kube};

/// Connection attempts to an unreachable server give up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A request whose answer does not start arriving within this long fails.
const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the client configuration comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    Kubeconfig {
        paths: Vec<PathBuf>,
        context: Option<String>,
    },
    InCluster,
    Host(HostSettings),
}

/// The `KUBERNETES_*` settings of the third access mode.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct HostSettings {
    pub host: String,
    pub verify_ssl: bool,
    pub ca_cert_file: Option<String>,
    pub auth: HostAuth,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) enum HostAuth {
    #[default]
    None,
    ApiKey {
        key: String,
        prefix: String,
    },
    Cert {
        cert_file: String,
        key_file: Option<String>,
    },
    Basic {
        username: String,
        password: String,
    },
}

/// Chooses the access mode. `env` reads an environment variable (a parameter so tests need
/// not touch the process environment); `exists` says whether a path exists.
pub(crate) fn choose_source(
    secrets: &Map<String, Value>,
    env: &dyn Fn(&str) -> Option<String>,
    exists: &dyn Fn(&std::path::Path) -> bool,
) -> Source {
    let lookup = |key: &str| -> Option<String> {
        match secrets.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => env(key),
            Some(other) => Some(other.to_string()),
        }
    };
    let present = |key: &str| secrets.contains_key(key) || env(key).is_some();

    let home = env("HOME");
    let paths: Vec<PathBuf> = env("KUBECONFIG")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "~/.kube/config".to_string())
        .split(':')
        .filter(|p| !p.is_empty())
        .map(|p| expand_home(p, home.as_deref()))
        .filter(|p| exists(p))
        .collect();
    if !paths.is_empty() {
        return Source::Kubeconfig {
            paths,
            context: lookup("KUBERNETES_CONTEXT").filter(|c| !c.is_empty()),
        };
    }
    if env("CHAOSTOOLKIT_IN_POD").as_deref() == Some("true") {
        return Source::InCluster;
    }
    let auth = if present("KUBERNETES_API_KEY") {
        HostAuth::ApiKey {
            key: lookup("KUBERNETES_API_KEY").unwrap_or_default(),
            prefix: lookup("KUBERNETES_API_KEY_PREFIX").unwrap_or_else(|| "Bearer".to_string()),
        }
    } else if present("KUBERNETES_CERT_FILE") {
        HostAuth::Cert {
            cert_file: lookup("KUBERNETES_CERT_FILE").unwrap_or_default(),
            key_file: lookup("KUBERNETES_KEY_FILE"),
        }
    } else if present("KUBERNETES_USERNAME") {
        HostAuth::Basic {
            username: lookup("KUBERNETES_USERNAME").unwrap_or_default(),
            password: lookup("KUBERNETES_PASSWORD").unwrap_or_default(),
        }
    } else {
        HostAuth::None
    };
    Source::Host(HostSettings {
        host: lookup("KUBERNETES_HOST").unwrap_or_else(|| "http://localhost".to_string()),
        // chaosk8s: any value at all (even "false") turns verification on.
        verify_ssl: lookup("KUBERNETES_VERIFY_SSL").is_some(),
        ca_cert_file: lookup("KUBERNETES_CA_CERT_FILE"),
        auth,
    })
}

fn expand_home(path: &str, home: Option<&str>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// Builds the kube-rs configuration for a host-mode source.
pub(crate) fn host_config(settings: &HostSettings) -> Result<Config, Error> {
    let url: http::Uri = settings.host.parse().map_err(|e| {
        Error::Config(format!(
            "KUBERNETES_HOST '{}' is not a URL: {e}",
            settings.host
        ))
    })?;
    let mut config = Config::new(url);
    config.accept_invalid_certs = !settings.verify_ssl;
    config.root_cert_file = settings.ca_cert_file.as_ref().map(PathBuf::from);
    match &settings.auth {
        HostAuth::None => {}
        HostAuth::ApiKey { key, prefix } if prefix == "Bearer" => {
            config.auth_info.token = Some(key.clone().into());
        }
        HostAuth::ApiKey { key, prefix } => {
            let value = http::HeaderValue::from_str(&format!("{prefix} {key}")).map_err(|_| {
                Error::Config("KUBERNETES_API_KEY has characters not allowed in a header".into())
            })?;
            config.headers.push((http::header::AUTHORIZATION, value));
        }
        HostAuth::Cert {
            cert_file,
            key_file,
        } => {
            config.auth_info.client_certificate = Some(cert_file.clone());
            config.auth_info.client_key = key_file.clone();
        }
        HostAuth::Basic { username, password } => {
            config.auth_info.username = Some(username.clone());
            config.auth_info.password = Some(password.clone().into());
        }
    }
    Ok(config)
}

async fn load_config(source: &Source) -> Result<Config, Error> {
    match source {
        Source::Kubeconfig { paths, context } => {
            let mut merged: Option<Kubeconfig> = None;
            for path in paths {
                let next = Kubeconfig::read_from(path).map_err(|e| {
                    Error::Config(format!(
                        "kubeconfig {}: {}",
                        path.display(),
                        crate::error::causes(&e)
                    ))
                })?;
                merged = Some(match merged {
                    None => next,
                    Some(first) => first.merge(next).map_err(|e| {
                        Error::Config(format!("kubeconfig {}: {e}", path.display()))
                    })?,
                });
            }
            let kubeconfig = merged.unwrap_or_default();
            let options = KubeConfigOptions {
                context: context.clone(),
                ..Default::default()
            };
            let where_ = paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(":");
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| {
                    Error::Config(format!("kubeconfig {where_}: {}", crate::error::causes(&e)))
                })
        }
        Source::InCluster => Config::incluster().map_err(|e| {
            Error::Config(format!(
                "CHAOSTOOLKIT_IN_POD=true but the in-cluster configuration is unusable: {}",
                crate::error::causes(&e)
            ))
        }),
        Source::Host(settings) => host_config(settings),
    }
}

/// A configured cluster: the client, and the server URL errors are reported against.
pub(crate) struct Cluster {
    config: Config,
    client: Client,
    server: String,
}

impl Cluster {
    pub(crate) async fn connect(
        secrets: &Map<String, Value>,
        env: &crate::Env<'_>,
    ) -> Result<Self, Error> {
        // kube's TLS uses the process-wide rustls provider: ring (the one the workspace
        // builds), unless the embedding program already installed one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let source = choose_source(secrets, env, &|p| p.exists());
        tracing::debug!(?source, "Kubernetes access");
        let mut config = load_config(&source).await?;
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        config.read_timeout = Some(READ_TIMEOUT);
        // Count the read timeout from when a request is sent, not from when its pooled
        // connection went idle.
        config.reset_reader_on_write = true;
        let server = config.cluster_url.to_string();
        let client = Client::try_from(config.clone()).map_err(|e| from_kube(&server, e))?;
        Ok(Self {
            config,
            client,
            server,
        })
    }

    pub(crate) fn client(&self) -> Client {
        self.client.clone()
    }

    /// A client for a watch that may legitimately stay silent for `quiet` (the read
    /// timeout would otherwise cut it).
    pub(crate) fn client_for_watch(&self, quiet: Duration) -> Result<Client, Error> {
        let mut config = self.config.clone();
        config.read_timeout = Some(quiet + READ_TIMEOUT);
        Client::try_from(config).map_err(|e| self.error(e))
    }

    /// Maps a kube-rs error from a request to this cluster.
    pub(crate) fn error(&self, err: kube::Error) -> Error {
        from_kube(&self.server, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;
    use std::path::Path;

    fn choose(secrets: Value, env: &[(&str, &str)], existing: &[&str]) -> Source {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let existing: Vec<PathBuf> = existing.iter().map(PathBuf::from).collect();
        choose_source(
            secrets.as_object().unwrap(),
            &|k| env.get(k).cloned(),
            &|p: &Path| existing.iter().any(|e| e == p),
        )
    }

    #[test]
    fn kubeconfig_from_env_with_context_from_secrets_first() {
        let source = choose(
            json!({"KUBERNETES_CONTEXT": "lab"}),
            &[
                ("KUBECONFIG", "/k/a:/k/missing:/k/b"),
                ("KUBERNETES_CONTEXT", "other"),
            ],
            &["/k/a", "/k/b"],
        );
        assert_eq!(
            source,
            Source::Kubeconfig {
                paths: vec![PathBuf::from("/k/a"), PathBuf::from("/k/b")],
                context: Some("lab".into())
            }
        );
    }

    #[test]
    fn default_kubeconfig_is_under_home() {
        let source = choose(json!({}), &[("HOME", "/home/u")], &["/home/u/.kube/config"]);
        assert_eq!(
            source,
            Source::Kubeconfig {
                paths: vec![PathBuf::from("/home/u/.kube/config")],
                context: None
            }
        );
    }

    #[test]
    fn in_pod_only_without_a_kubeconfig_and_only_from_env() {
        let env = [("CHAOSTOOLKIT_IN_POD", "true"), ("HOME", "/h")];
        assert_eq!(choose(json!({}), &env, &[]), Source::InCluster);
        assert!(matches!(
            choose(json!({}), &env, &["/h/.kube/config"]),
            Source::Kubeconfig { .. }
        ));
        assert!(matches!(
            choose(json!({"CHAOSTOOLKIT_IN_POD": "true"}), &[], &[]),
            Source::Host(_)
        ));
    }

    #[test]
    fn host_mode_defaults_and_token() {
        let Source::Host(settings) = choose(json!({}), &[], &[]) else {
            panic!("expected host mode")
        };
        assert_eq!(settings.host, "http://localhost");
        assert!(!settings.verify_ssl);
        assert_eq!(settings.auth, HostAuth::None);

        let Source::Host(settings) = choose(
            json!({"KUBERNETES_HOST": "https://10.0.0.1:6443", "KUBERNETES_API_KEY": "s3cret"}),
            &[
                ("KUBERNETES_VERIFY_SSL", "false"),
                ("KUBERNETES_USERNAME", "ignored"),
            ],
            &[],
        ) else {
            panic!("expected host mode")
        };
        assert_eq!(settings.host, "https://10.0.0.1:6443");
        assert!(
            settings.verify_ssl,
            "any KUBERNETES_VERIFY_SSL value enables verification"
        );
        assert_eq!(
            settings.auth,
            HostAuth::ApiKey {
                key: "s3cret".into(),
                prefix: "Bearer".into()
            }
        );
        let config = host_config(&settings).unwrap();
        assert!(!config.accept_invalid_certs);
        assert_eq!(config.cluster_url.to_string(), "https://10.0.0.1:6443/");
        assert!(config.auth_info.token.is_some());
    }

    #[test]
    fn host_mode_other_auth_kinds() {
        let Source::Host(settings) = choose(
            json!({"KUBERNETES_API_KEY_PREFIX": "Token"}),
            &[("KUBERNETES_API_KEY", "abc")],
            &[],
        ) else {
            panic!("expected host mode")
        };
        let config = host_config(&settings).unwrap();
        assert!(config.auth_info.token.is_none());
        assert_eq!(config.headers[0].1, "Token abc");

        let Source::Host(settings) = choose(
            json!({}),
            &[
                ("KUBERNETES_CERT_FILE", "/c.pem"),
                ("KUBERNETES_KEY_FILE", "/k.pem"),
            ],
            &[],
        ) else {
            panic!("expected host mode")
        };
        let config = host_config(&settings).unwrap();
        assert_eq!(
            config.auth_info.client_certificate.as_deref(),
            Some("/c.pem")
        );
        assert_eq!(config.auth_info.client_key.as_deref(), Some("/k.pem"));

        let Source::Host(settings) = choose(json!({"KUBERNETES_USERNAME": "admin"}), &[], &[])
        else {
            panic!("expected host mode")
        };
        let config = host_config(&settings).unwrap();
        assert_eq!(config.auth_info.username.as_deref(), Some("admin"));
    }

    #[test]
    fn bad_host_is_a_configuration_error() {
        let err = host_config(&HostSettings {
            host: "not a url".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Kubernetes client configuration: KUBERNETES_HOST 'not a url'")
        );
    }
}
