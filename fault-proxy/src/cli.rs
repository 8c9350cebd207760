//! The command line: Toxiproxy's server flags, spelled as Go spells them (`-host`,
//! `-port 8474`, `-config=FILE`; `--host` works too, as in Go), plus our own.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

use crate::dataplane::DEFAULT_MAX_CONNECTIONS;

/// Rewrites Go-style `-flag` and `-flag=value` to `--flag` (Go's flags are all long),
/// leaving `-h`, negative numbers (`-seed -3`) and everything else as they are; so an
/// unknown `-nope` is reported as `--nope`, not as short flags.
pub fn normalise(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    args.into_iter()
        .enumerate()
        .map(|(i, arg)| {
            let Some(text) = arg.to_str() else { return arg };
            let rest = text.strip_prefix('-').unwrap_or("");
            let long = rest.len() > 1 && rest.starts_with(|c: char| c.is_ascii_alphabetic());
            if i == 0 || !long {
                arg
            } else {
                OsString::from(format!("-{text}"))
            }
        })
        .collect()
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid boolean value {s:?}")),
    }
}

fn max_connections(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err("must be a whole number from 1 to 1000000".into()),
    }
}

/// fault-proxy: a TCP fault proxy speaking Toxiproxy's HTTP API (a drop-in for
/// toxiproxy-server), with HTTP-level toxics.
#[derive(Debug, Parser)]
#[command(name = "fault-proxy", disable_version_flag = true)]
pub struct Cli {
    /// Host for the API to listen on. Anything but a loopback address needs --api-token.
    #[arg(long, default_value = "127.0.0.1", value_name = "HOST")]
    pub host: String,
    /// Port for the API to listen on (0: any free port; see --addr-file).
    #[arg(long, default_value = "8474", value_name = "PORT")]
    pub port: String,
    /// JSON file of proxies to create at start (Toxiproxy's format: an array of
    /// {name, listen, upstream, enabled}).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seed for the toxics' randomness (toxicity, jitter, slice sizes).
    #[arg(long, value_name = "INT", allow_negative_numbers = true)]
    pub seed: Option<i64>,
    /// Accepted for Toxiproxy's sake; /metrics always serves the proxy metrics.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    pub proxy_metrics: Option<bool>,
    /// Accepted for Toxiproxy's sake and ignored (Go runtime metrics have no equivalent).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    pub runtime_metrics: Option<bool>,
    /// Print the version and exit.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    pub version: Option<bool>,
    /// Write the API's bound HOST:PORT and a newline to this file (atomically) once
    /// listening.
    #[arg(long, value_name = "PATH")]
    pub addr_file: Option<PathBuf>,
    /// Changes through the API need `Authorization: Bearer <token>`; required when
    /// -host is not loopback. Empty means unset.
    #[arg(
        long,
        env = "FAULT_PROXY_API_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub api_token: Option<String>,
    /// Open connections per proxy; above it a new connection is closed at once (and
    /// counted in fault_proxy_connections_refused_total).
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = max_connections, value_name = "N")]
    pub max_connections: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(normalise(args.iter().map(OsString::from)))
    }

    #[test]
    fn go_style_flags_are_read() {
        let cli = parse(&[
            "x",
            "-host",
            "localhost",
            "-port=9",
            "-config",
            "c.json",
            "-seed",
            "-3",
            "-proxy-metrics",
        ])
        .unwrap();
        assert_eq!(cli.host, "localhost");
        assert_eq!(cli.port, "9");
        assert_eq!(cli.config, Some(PathBuf::from("c.json")));
        assert_eq!(cli.seed, Some(-3));
        assert_eq!(cli.proxy_metrics, Some(true));
        let cli = parse(&[
            "x",
            "--host=h",
            "-runtime-metrics=false",
            "-addr-file",
            "a",
            "-max-connections",
            "5",
        ])
        .unwrap();
        assert_eq!(cli.runtime_metrics, Some(false));
        assert_eq!(cli.max_connections, 5);
        assert_eq!(cli.addr_file, Some(PathBuf::from("a")));
    }

    #[test]
    fn bad_flags_are_refused() {
        let err = parse(&["x", "-nope"]).unwrap_err().to_string();
        assert!(err.contains("--nope"), "{err}");
        assert!(parse(&["x", "-max-connections", "0"]).is_err());
        assert!(parse(&["x", "-proxy-metrics=maybe"]).is_err());
    }
}
