//! Every function of chaostoolkit-toxiproxy 0.3.1, with its module, arguments and
//! defaults as the extension declares them: the one place a default is written down
//! ([`super::args`] reads missing arguments from here) and what `discover` lists.
//!
//! The injected `configuration` parameter is not listed: experiments never pass it
//! (chaostoolkit fills it from the experiment's `configuration`).

use serde_json::{Value, json};

use crate::drivers::{Argument, Function};

pub const PROXY_ACTIONS: &str = "chaostoxi.proxy.actions";
pub const PROXY_PROBES: &str = "chaostoxi.proxy.probes";
pub const TOXIC_ACTIONS: &str = "chaostoxi.toxic.actions";

const STRING: &str = "string";
const INTEGER: &str = "integer";
const NUMBER: &str = "number";
const BOOLEAN: &str = "boolean";
const OBJECT: &str = "object";

fn required(name: &str, ty: &str) -> Argument {
    Argument {
        name: name.into(),
        ty: ty.into(),
        default: None,
        required: true,
    }
}

fn optional(name: &str, ty: &str, default: Value) -> Argument {
    Argument {
        name: name.into(),
        ty: ty.into(),
        default: Some(default),
        required: false,
    }
}

fn function(module: &str, name: &str, doc: &str, arguments: Vec<Argument>) -> Function {
    let kind = if module == PROXY_PROBES {
        "probe"
    } else {
        "action"
    };
    Function {
        module: module.into(),
        name: name.into(),
        kind: kind.into(),
        doc: doc.into(),
        arguments,
    }
}

fn proxy_name() -> Argument {
    required("proxy_name", STRING)
}

/// `for_proxy` and `toxic_name`, which every toxic function starts with.
fn toxic(mut more: Vec<Argument>) -> Vec<Argument> {
    let mut arguments = vec![
        required("for_proxy", STRING),
        required("toxic_name", STRING),
    ];
    arguments.append(&mut more);
    arguments
}

/// The functions, in the extension's order (its modules' `__all__`).
pub fn functions() -> Vec<Function> {
    vec![
        function(
            PROXY_ACTIONS,
            "create_proxy",
            "Creates a proxy to which toxics can be added; its listen port is exported as \
             the environment variable <proxy_name>_PORT for the rest of the run. \
             `upstream_host` and `upstream_port` may be `env:NAME` (read from the environment).",
            vec![
                proxy_name(),
                required("upstream_host", STRING),
                required("upstream_port", INTEGER),
                optional("listen_host", STRING, json!("0.0.0.0")),
                optional("listen_port", INTEGER, json!(0)),
                optional("enabled", BOOLEAN, json!(true)),
            ],
        ),
        function(
            PROXY_ACTIONS,
            "disable_proxy",
            "Disables the proxy (its listener and connections closed): the proxied service \
             looks down.",
            vec![proxy_name()],
        ),
        function(
            PROXY_ACTIONS,
            "enable_proxy",
            "Enables a disabled proxy.",
            vec![proxy_name()],
        ),
        function(
            PROXY_ACTIONS,
            "modify_proxy",
            "Changes the given fields of a proxy (listen address, upstream address, \
             enabled); the others stay as they are.",
            vec![
                proxy_name(),
                optional("listen_address", STRING, Value::Null),
                optional("upstream_address", STRING, Value::Null),
                optional("enabled", BOOLEAN, Value::Null),
            ],
        ),
        function(
            PROXY_ACTIONS,
            "delete_proxy",
            "Removes the proxy (a failure is only logged).",
            vec![proxy_name()],
        ),
        function(
            PROXY_ACTIONS,
            "reset",
            "Enables every proxy and removes every toxic; returns whether the server \
             accepted.",
            vec![],
        ),
        function(
            PROXY_PROBES,
            "proxy_exist",
            "Whether a proxy of that name exists.",
            vec![proxy_name()],
        ),
        function(
            PROXY_PROBES,
            "get_proxy_attribute",
            "One field of a proxy as the server describes it (null when there is no such \
             proxy).",
            vec![proxy_name(), required("attribute", STRING)],
        ),
        function(
            TOXIC_ACTIONS,
            "delete_toxic",
            "Deletes a toxic; returns whether the server accepted.",
            toxic(vec![]),
        ),
        function(
            TOXIC_ACTIONS,
            "create_toxic",
            "Creates a toxic of any type with its attributes; returns whether the server \
             named it as asked.",
            toxic(vec![
                required("toxic_type", STRING),
                optional("stream", STRING, json!("downstream")),
                optional("toxicity", NUMBER, json!(1.0)),
                optional("attributes", OBJECT, Value::Null),
            ]),
        ),
        function(
            TOXIC_ACTIONS,
            "create_latency_toxic",
            "Delays the data going back to the client by `latency` ms (± `jitter` ms).",
            toxic(vec![
                required("latency", INTEGER),
                optional("jitter", INTEGER, json!(0)),
            ]),
        ),
        function(
            TOXIC_ACTIONS,
            "create_bandwith_degradation_toxic",
            "Limits the data going back to the client to `rate` KB/s.",
            toxic(vec![required("rate", INTEGER)]),
        ),
        function(
            TOXIC_ACTIONS,
            "create_slow_connection_close_toxic",
            "Delays the close of the connection to the client by `delay` ms.",
            toxic(vec![required("delay", INTEGER)]),
        ),
        function(
            TOXIC_ACTIONS,
            "create_timeout_toxic",
            "Stops the data going back to the client and closes the connection after \
             `timeout` ms (0: holds it forever).",
            toxic(vec![required("timeout", INTEGER)]),
        ),
        function(
            TOXIC_ACTIONS,
            "create_slicer_toxic",
            "Slices the data going back to the client into pieces of `average_size` bytes \
             (± `size_variation`), `delay` µs apart.",
            toxic(vec![
                required("average_size", INTEGER),
                required("size_variation", INTEGER),
                required("delay", INTEGER),
            ]),
        ),
        function(
            TOXIC_ACTIONS,
            "create_limiter_toxic",
            "Closes the connection once `bytes_limit` bytes went back to the client.",
            toxic(vec![required("bytes_limit", INTEGER)]),
        ),
    ]
}
