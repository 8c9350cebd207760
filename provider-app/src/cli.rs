//! provider-app's flags (env equivalents in brackets in `--help`).

use clap::Parser;
use service_common::ServeArgs;

use crate::access::{self, FaultToken};
use crate::faults::{self, Faults, Latency};

/// The provider of the Cascade Lab demo: a greeting, health, metrics, and fault
/// injection knobs for chaos experiments.
#[derive(Debug, Parser)]
#[command(name = "provider-app", version)]
pub struct Cli {
    #[command(flatten)]
    pub serve: ServeArgs,

    /// Name shown in the greeting [default: the hostname].
    #[arg(long, env = "POD_NAME", value_name = "NAME")]
    pub instance_name: Option<String>,

    /// Added latency per request: N or N-M milliseconds.
    #[arg(long, env = "FAULT_LATENCY_MS", value_name = "N|N-M", value_parser = faults::parse_latency)]
    pub fault_latency_ms: Option<Latency>,

    /// Probability (0..=1) of answering 500.
    #[arg(long, env = "FAULT_ERROR_RATE", value_name = "P", default_value = "0",
          allow_negative_numbers = true, value_parser = faults::parse_error_rate)]
    pub fault_error_rate: f64,

    /// Accept requests and never answer them.
    #[arg(long, env = "FAULT_HANG")]
    pub fault_hang: bool,

    /// Let the faults hit the health endpoints too.
    #[arg(long, env = "FAULT_AFFECT_HEALTH")]
    pub fault_affect_health: bool,

    /// Allow changing faults at run time (PUT/DELETE /faults) to requests sending
    /// `Authorization: Bearer TOKEN`; without it the fault API only reads.
    #[arg(long, env = "FAULT_API_TOKEN", value_name = "TOKEN", hide_env_values = true,
          value_parser = access::parse_token)]
    pub fault_token: Option<FaultToken>,
}

impl Cli {
    /// The fault settings the flags ask for at start.
    pub fn faults(&self) -> Faults {
        Faults {
            latency: self.fault_latency_ms,
            error_rate: self.fault_error_rate,
            hang: self.fault_hang,
            affect_health: self.fault_affect_health,
        }
    }

    /// `--instance-name`, else the hostname, else a fixed name.
    pub fn instance_name(&self) -> String {
        self.instance_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| {
                hostname::get()
                    .ok()
                    .map(|h| h.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "provider".to_string())
    }
}
