//! Flags common to both services and the rule that a bad flag or env value ends the
//! process with exactly one line naming the flag, its env variable and the value.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Parser, ValueEnum};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Where and how a service listens, and how it logs.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BIND", default_value = "0.0.0.0:8080", value_name = "IP:PORT",
          value_parser = parse_bind)]
    pub bind: SocketAddr,

    /// Replaces the port of --bind (0 picks a free port).
    #[arg(long, env = "PORT", value_name = "N", allow_negative_numbers = true, value_parser = parse_port)]
    pub port: Option<u16>,

    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// After binding, write the bound IP:PORT and a newline to this file.
    #[arg(long, env = "ADDR_FILE", value_name = "PATH")]
    pub addr_file: Option<PathBuf>,

    /// On SIGTERM/SIGINT, how long in-flight requests may still run before they are cut.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value = "5", value_name = "SECS",
          value_parser = parse_positive_secs)]
    pub shutdown_timeout_secs: u64,
}

impl ServeArgs {
    /// The address to bind: `--bind` with its port replaced by `--port` when given.
    pub fn socket_addr(&self) -> SocketAddr {
        let mut addr = self.bind;
        if let Some(port) = self.port {
            addr.set_port(port);
        }
        addr
    }
}

fn parse_bind(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| "is not an IP:PORT address (e.g. 0.0.0.0:8080)".to_string())
}

fn parse_port(s: &str) -> Result<u16, String> {
    s.parse()
        .map_err(|_| "is not a port number (0..=65535)".to_string())
}

/// The longest wait any flag sets: an hour is beyond every use in a lab, and keeps timer
/// arithmetic far from overflow.
pub const MAX_WAIT_SECS: u64 = 3600;

fn parse_positive_secs(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n > 0 && n <= MAX_WAIT_SECS => Ok(n),
        _ => Err(format!(
            "must be a whole number of seconds from 1 to {MAX_WAIT_SECS}"
        )),
    }
}

/// Parses a positive number of milliseconds, at most an hour; zero and negative values
/// are refused.
pub fn parse_positive_ms(s: &str) -> Result<u64, String> {
    let max = MAX_WAIT_SECS * 1000;
    match s.trim().parse::<i128>() {
        Ok(n) if n > 0 && n <= i128::from(max) => Ok(n as u64),
        Ok(_) => Err(format!(
            "must be a number of milliseconds from 1 to {max} (an hour)"
        )),
        Err(_) => Err("is not a whole number of milliseconds".to_string()),
    }
}

/// Parses the process arguments. `--help` and `--version` print and exit 0; anything
/// else wrong prints one line (see [`one_line_error`]) and exits 2.
pub fn parse_or_exit<C: Parser>() -> C {
    parse_from_or_exit(std::env::args_os())
}

/// [`parse_or_exit`], where each variable of `empty_is_unset` counts as unset when it
/// is set but empty (`FAULT_API_TOKEN=`: a Compose file or a manifest that leaves a
/// secret blank means "none", not a bad value). The flag itself given empty is still an
/// error.
pub fn parse_or_exit_empty_unset<C: Parser>(empty_is_unset: &[&str]) -> C {
    parse_from_or_exit_with(std::env::args_os(), |name| {
        empty_is_unset.contains(&name) && std::env::var_os(name).is_some_and(|v| v.is_empty())
    })
}

/// [`parse_or_exit`] over explicit arguments.
pub fn parse_from_or_exit<C, I, T>(args: I) -> C
where
    C: Parser,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    parse_from_or_exit_with(args, |_| false)
}

/// The flags whose variable `ignored` names are read as if it were not set.
fn parse_from_or_exit_with<C, I, T>(args: I, ignored: impl Fn(&str) -> bool) -> C
where
    C: Parser,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let command = C::command().mut_args(|arg| {
        let skip = arg
            .get_env()
            .and_then(|name| name.to_str())
            .is_some_and(&ignored);
        if skip {
            arg.env(None::<&'static str>)
        } else {
            arg
        }
    });
    let parsed = command
        .try_get_matches_from(args)
        .and_then(|matches| C::from_arg_matches(&matches));
    match parsed {
        Ok(parsed) => parsed,
        Err(err) => match err.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => err.exit(),
            _ => {
                eprintln!("{}", one_line_error(&C::command(), &err));
                std::process::exit(2);
            }
        },
    }
}

/// Renders a clap error as `error: --flag (ENV): 'value' <reason>`, or, for errors that
/// are not about one value, the first line of clap's own message.
pub fn one_line_error(cmd: &clap::Command, err: &clap::Error) -> String {
    let context_str = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let arg = context_str(ContextKind::InvalidArg);
    let value = context_str(ContextKind::InvalidValue);
    if let (Some(arg), Some(value)) = (arg, value)
        && matches!(
            err.kind(),
            ErrorKind::ValueValidation | ErrorKind::InvalidValue
        )
    {
        // clap names the argument like "--provider-url <URL>"; keep the flag only.
        let flag = arg.split_whitespace().next().unwrap_or(&arg).to_string();
        let found = cmd
            .get_arguments()
            .find(|a| a.get_long().is_some_and(|l| flag == format!("--{l}")));
        let env = found
            .and_then(|a| a.get_env())
            .map(|e| format!(" ({})", e.to_string_lossy()))
            .unwrap_or_default();
        // A secret (its env value hidden from --help) is not repeated in the error either.
        let shown = if found.is_some_and(|a| a.is_hide_env_values_set()) {
            String::new()
        } else {
            format!("'{value}' ")
        };
        let reason = match err.kind() {
            ErrorKind::InvalidValue => match err.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(valid)) => {
                    format!("is not one of: {}", valid.join(", "))
                }
                _ => "is not a valid value".to_string(),
            },
            _ => std::error::Error::source(err)
                .map(|e| e.to_string())
                .unwrap_or_else(|| "is not a valid value".to_string()),
        };
        return format!("error: {flag}{env}: {shown}{reason}");
    }
    let rendered = err.render().to_string();
    let first = rendered
        .lines()
        .next()
        .unwrap_or("error: invalid arguments")
        .trim();
    if first.starts_with("error:") {
        format!("{first} (see --help)")
    } else {
        format!("error: {first} (see --help)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
        #[arg(long, env = "TEST_MODE_XYZ", value_enum, default_value_t = LogFormat::Text)]
        mode: LogFormat,
        #[arg(long, env = "TEST_TIMEOUT_XYZ", allow_negative_numbers = true,
              value_parser = parse_positive_ms)]
        timeout_ms: Option<u64>,
        #[arg(long, env = "TEST_SECRET_XYZ", hide_env_values = true, value_parser = parse_positive_ms)]
        secret: Option<u64>,
    }

    fn error_line(args: &[&str]) -> String {
        let err = Cli::try_parse_from(args).expect_err("arguments should be refused");
        one_line_error(&Cli::command(), &err)
    }

    #[test]
    fn port_replaces_the_port_of_bind() {
        let cli = Cli::try_parse_from(["x", "--bind", "127.0.0.1:9000", "--port", "0"]).unwrap();
        assert_eq!(cli.serve.socket_addr().to_string(), "127.0.0.1:0");
    }

    #[test]
    fn bad_bind_names_flag_env_and_value() {
        assert_eq!(
            error_line(&["x", "--bind", "nowhere"]),
            "error: --bind (BIND): 'nowhere' is not an IP:PORT address (e.g. 0.0.0.0:8080)"
        );
    }

    #[test]
    fn unknown_enum_value_lists_the_choices() {
        assert_eq!(
            error_line(&["x", "--mode", "loud"]),
            "error: --mode (TEST_MODE_XYZ): 'loud' is not one of: text, json"
        );
    }

    #[test]
    fn zero_and_negative_durations_are_refused() {
        let zero = error_line(&["x", "--timeout-ms", "0"]);
        assert_eq!(
            zero,
            "error: --timeout-ms (TEST_TIMEOUT_XYZ): '0' must be a number of milliseconds from 1 to 3600000 (an hour)"
        );
        let long = error_line(&["x", "--timeout-ms", "3600001"]);
        assert!(long.contains("from 1 to 3600000"), "{long}");
        let negative = error_line(&["x", "--timeout-ms", "-5"]);
        assert!(
            negative.contains("'-5' must be a number of milliseconds"),
            "{negative}"
        );
    }

    #[test]
    fn a_secret_value_is_not_repeated() {
        assert_eq!(
            error_line(&["x", "--secret", "hunter2"]),
            "error: --secret (TEST_SECRET_XYZ): is not a whole number of milliseconds"
        );
    }

    #[test]
    fn unknown_flag_is_one_line() {
        let line = error_line(&["x", "--frobnicate"]);
        assert!(line.starts_with("error:"), "{line}");
        assert!(line.contains("--frobnicate"), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
}
