//! The proxies and their toxics: every API operation, each one checked in full before
//! anything changes, so a refused request leaves the state exactly as it was. The only
//! step that can fail after checking, binding a listening socket, is done first.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{Mutex, watch};

use crate::dataplane::{Bound, DataPlane, ProxyRuntime};
use crate::error::ApiError;
use crate::model::{ProxySpec, ProxyView, Toxic, ToxicList};

struct Entry {
    spec: ProxySpec,
    toxics: watch::Sender<Arc<ToxicList>>,
    runtime: ProxyRuntime,
}

impl Entry {
    fn new(spec: ProxySpec) -> Self {
        let runtime = ProxyRuntime::new(&spec.name);
        Self {
            spec,
            toxics: watch::Sender::new(Arc::new(ToxicList::default())),
            runtime,
        }
    }

    fn view(&self) -> Value {
        let toxics = self.toxics.borrow().clone();
        serde_json::to_value(ProxyView::new(&self.spec, &toxics)).unwrap_or(Value::Null)
    }

    fn start(&mut self, plane: &Arc<DataPlane>, bound: Bound) {
        self.spec.listen = bound.addr.to_string();
        self.spec.enabled = true;
        let rx = self.toxics.subscribe();
        self.runtime.start(plane, bound, &self.spec.upstream, rx);
    }

    async fn stop(&mut self) -> Option<Bound> {
        self.spec.enabled = false;
        self.runtime.stop().await
    }
}

/// All proxies, by name (listed in name order, as Go's JSON writes a map).
pub struct Registry {
    plane: Arc<DataPlane>,
    proxies: Mutex<BTreeMap<String, Entry>>,
}

impl Registry {
    pub fn new(plane: Arc<DataPlane>) -> Self {
        Self {
            plane,
            proxies: Mutex::new(BTreeMap::new()),
        }
    }

    /// `GET /proxies`: `{name: proxy}`.
    pub async fn list(&self) -> Value {
        let proxies = self.proxies.lock().await;
        Value::Object(proxies.iter().map(|(k, e)| (k.clone(), e.view())).collect())
    }

    /// `GET /proxies/{name}`.
    pub async fn show(&self, name: &str) -> Result<Value, ApiError> {
        let proxies = self.proxies.lock().await;
        proxies
            .get(name)
            .map(Entry::view)
            .ok_or_else(ApiError::proxy_not_found)
    }

    /// `POST /proxies`.
    pub async fn create(&self, body: &[u8]) -> Result<Value, ApiError> {
        let spec = ProxySpec::from_create_body(body)?;
        let mut proxies = self.proxies.lock().await;
        if proxies.contains_key(&spec.name) {
            return Err(ApiError::proxy_exists());
        }
        let bound = if spec.enabled {
            Some(self.plane.bind(&spec.listen)?)
        } else {
            None
        };
        let mut entry = Entry::new(spec);
        if let Some(bound) = bound {
            entry.start(&self.plane, bound);
        }
        let view = entry.view();
        proxies.insert(entry.spec.name.clone(), entry);
        Ok(view)
    }

    /// `POST /proxies/{name}`: listen, upstream and enabled may change. A new listen
    /// address is bound before the old one is let go, so a failure changes nothing.
    pub async fn update(&self, name: &str, body: &[u8]) -> Result<Value, ApiError> {
        let mut proxies = self.proxies.lock().await;
        let entry = proxies
            .get_mut(name)
            .ok_or_else(ApiError::proxy_not_found)?;
        let next = entry.spec.updated(body)?;
        let moved = next.listen != entry.spec.listen;
        let retargeted = next.upstream != entry.spec.upstream;
        let running = entry.runtime.is_running();
        // The one step that can fail comes first.
        let fresh = if next.enabled && (moved || !running) {
            Some(self.plane.bind(&next.listen)?)
        } else {
            None
        };
        if running && (moved || retargeted || !next.enabled) {
            let old = entry.stop().await;
            entry.spec.listen.clone_from(&next.listen);
            entry.spec.upstream.clone_from(&next.upstream);
            if next.enabled {
                // Same address, new upstream: serve on the same socket again.
                if let Some(bound) = fresh.or(old) {
                    entry.start(&self.plane, bound);
                }
            }
        } else {
            entry.spec.listen.clone_from(&next.listen);
            entry.spec.upstream.clone_from(&next.upstream);
            if let Some(bound) = fresh {
                entry.start(&self.plane, bound);
            }
        }
        Ok(entry.view())
    }

    /// `DELETE /proxies/{name}`.
    pub async fn delete(&self, name: &str) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        let mut entry = proxies.remove(name).ok_or_else(ApiError::proxy_not_found)?;
        entry.stop().await;
        Ok(())
    }

    /// `POST /reset`: every proxy enabled, every toxic removed. Disabled proxies are
    /// bound first; if one cannot be, nothing changes.
    pub async fn reset(&self) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        let mut bound = Vec::new();
        for (name, entry) in proxies.iter() {
            if !entry.runtime.is_running() {
                bound.push((name.clone(), self.plane.bind(&entry.spec.listen)?));
            }
        }
        for (name, b) in bound {
            if let Some(entry) = proxies.get_mut(&name) {
                entry.start(&self.plane, b);
            }
        }
        for entry in proxies.values() {
            entry.toxics.send_if_modified(|list| {
                let changed = !list.is_empty();
                *list = Arc::new(ToxicList::default());
                changed
            });
        }
        Ok(())
    }

    /// `POST /populate` (and `-config`): creates or replaces each proxy. A proxy with
    /// the same listen and upstream as the existing one of its name is left as it is.
    /// Every new address is bound before anything changes. Answers the proxies.
    pub async fn populate(&self, specs: Vec<ProxySpec>) -> Result<Vec<Value>, ApiError> {
        let mut proxies = self.proxies.lock().await;
        enum Plan {
            Keep,
            Replace { bound: Option<Bound>, reuse: bool },
        }
        let mut plans = Vec::with_capacity(specs.len());
        for spec in &specs {
            let existing = proxies.get(&spec.name);
            let plan = match existing {
                Some(e) if e.spec.listen == spec.listen && e.spec.upstream == spec.upstream => {
                    Plan::Keep
                }
                Some(e)
                    if spec.enabled && e.runtime.is_running() && e.spec.listen == spec.listen =>
                {
                    Plan::Replace {
                        bound: None,
                        reuse: true,
                    }
                }
                _ if spec.enabled => Plan::Replace {
                    bound: Some(self.plane.bind(&spec.listen)?),
                    reuse: false,
                },
                _ => Plan::Replace {
                    bound: None,
                    reuse: false,
                },
            };
            plans.push(plan);
        }
        let mut views: Vec<Value> = Vec::with_capacity(specs.len());
        let mut names: Vec<String> = Vec::with_capacity(specs.len());
        for (spec, plan) in specs.into_iter().zip(plans) {
            let Plan::Replace { bound, reuse } = plan else {
                if let Some(e) = proxies.get(&spec.name) {
                    views.push(e.view());
                    names.push(spec.name.clone());
                }
                continue;
            };
            // An earlier entry of this populate replaced now: it shows as stopped.
            for (view, name) in views.iter_mut().zip(&names) {
                if *name == spec.name {
                    view["enabled"] = Value::Bool(false);
                }
            }
            names.push(spec.name.clone());
            let mut old_socket = None;
            if let Some(mut old) = proxies.remove(&spec.name) {
                old_socket = old.stop().await;
            }
            let mut entry = Entry::new(spec);
            let socket = if reuse { old_socket } else { bound };
            if let Some(socket) = socket {
                entry.start(&self.plane, socket);
            }
            views.push(entry.view());
            proxies.insert(entry.spec.name.clone(), entry);
        }
        Ok(views)
    }

    async fn with_toxics<T>(
        &self,
        proxy: &str,
        change: impl FnOnce(&ToxicList) -> Result<(Option<ToxicList>, T), ApiError>,
    ) -> Result<T, ApiError> {
        let proxies = self.proxies.lock().await;
        let entry = proxies.get(proxy).ok_or_else(ApiError::proxy_not_found)?;
        let current = entry.toxics.borrow().clone();
        let (next, out) = change(&current)?;
        if let Some(next) = next {
            entry.toxics.send_replace(Arc::new(next));
        }
        Ok(out)
    }

    /// `GET /proxies/{name}/toxics`.
    pub async fn toxics(&self, proxy: &str) -> Result<Value, ApiError> {
        self.with_toxics(proxy, |list| {
            Ok((
                None,
                serde_json::to_value(list.iter().map(|t| t.as_ref()).collect::<Vec<_>>())
                    .unwrap_or(Value::Null),
            ))
        })
        .await
    }

    /// `POST /proxies/{name}/toxics`.
    pub async fn add_toxic(&self, proxy: &str, body: &[u8]) -> Result<Value, ApiError> {
        self.with_toxics(proxy, |list| {
            let toxic = Toxic::from_create_body(body, |n| list.find(n).is_some())?;
            let view = serde_json::to_value(&toxic).unwrap_or(Value::Null);
            let mut next = list.clone();
            next.add(toxic);
            Ok((Some(next), view))
        })
        .await
    }

    /// `GET /proxies/{name}/toxics/{toxic}`.
    pub async fn toxic(&self, proxy: &str, name: &str) -> Result<Value, ApiError> {
        self.with_toxics(proxy, |list| {
            let toxic = list.find(name).ok_or_else(ApiError::toxic_not_found)?;
            Ok((
                None,
                serde_json::to_value(toxic.as_ref()).unwrap_or(Value::Null),
            ))
        })
        .await
    }

    /// `POST /proxies/{name}/toxics/{toxic}`.
    pub async fn update_toxic(
        &self,
        proxy: &str,
        name: &str,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        self.with_toxics(proxy, |list| {
            let toxic = list.find(name).ok_or_else(ApiError::toxic_not_found)?;
            let updated = toxic.updated(body)?;
            let view = serde_json::to_value(&updated).unwrap_or(Value::Null);
            let mut next = list.clone();
            next.replace(updated);
            Ok((Some(next), view))
        })
        .await
    }

    /// `DELETE /proxies/{name}/toxics/{toxic}`.
    pub async fn remove_toxic(&self, proxy: &str, name: &str) -> Result<(), ApiError> {
        self.with_toxics(proxy, |list| {
            let mut next = list.clone();
            if next.remove(name) {
                Ok((Some(next), ()))
            } else {
                Err(ApiError::toxic_not_found())
            }
        })
        .await
    }

    /// Stops every proxy (at shutdown).
    pub async fn stop_all(&self) {
        let mut proxies = self.proxies.lock().await;
        for entry in proxies.values_mut() {
            entry.stop().await;
        }
    }
}
