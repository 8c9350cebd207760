//! `lab status`: the services as a table, and the health verdict `--check` exits with.

use std::process::ExitCode;

use anyhow::Result;
use tabled::builder::Builder;
use tabled::settings::Style;

use crate::state::StateDir;
use crate::targets::{ServiceStatus, Target};

/// The table `lab status` prints (also shown by the demo).
pub fn table(rows: &[ServiceStatus]) -> String {
    let mut builder = Builder::new();
    builder.push_record(["NAME", "PID", "PORT", "HEALTH", "MODE", "CIRCUIT"]);
    for row in rows {
        builder.push_record([
            row.service.name().to_string(),
            row.pid.map_or_else(|| "-".into(), |pid| pid.to_string()),
            row.port.to_string(),
            row.health.to_string(),
            row.mode.map_or_else(|| "-".into(), |mode| mode.to_string()),
            row.circuit.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    let mut table = builder.build();
    table.with(Style::blank());
    table.to_string()
}

/// True when every service that should run is healthy. A killed service is not listed,
/// so it does not count, exactly like a deleted Deployment for chaosk8s'
/// `all_microservices_healthy`.
pub fn all_healthy(rows: &[ServiceStatus]) -> bool {
    rows.iter().all(|row| row.health.is_ready())
}

pub fn show(target: &dyn Target, states: &StateDir, check: bool) -> Result<ExitCode> {
    let Some(rows) = target.status()? else {
        println!(
            "no lab is running (no state in {}); start one with `lab up`",
            states.root().display()
        );
        return Ok(if check {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    };
    if rows.is_empty() {
        // Also after a first `lab up` that failed: nothing was killed then.
        println!(
            "no service is running (none started, or `lab kill` stopped them); `lab up` starts them"
        );
    } else {
        println!("{}", table(&rows));
        for faults in rows.iter().filter_map(|row| row.faults.as_ref()) {
            let text = match faults {
                Ok(proxies) => crate::fault_proxy::describe(proxies),
                Err(why) => why.clone(),
            };
            println!("\nfault proxy: {}", text.replace('\n', "\n             "));
        }
    }
    if check && !all_healthy(&rows) {
        for row in rows.iter().filter(|row| !row.health.is_ready()) {
            eprintln!("lab: {} is not healthy: {}", row.service, row.health);
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{Mode, Service};
    use crate::targets::Health;

    fn row(service: Service, health: Health) -> ServiceStatus {
        ServiceStatus {
            service,
            pid: Some(10),
            port: 8081,
            health,
            mode: (service == Service::Consumer).then_some(Mode::After),
            circuit: (service == Service::Consumer).then(|| "closed".to_string()),
            faults: None,
            pods: Vec::new(),
        }
    }

    #[test]
    fn killed_services_do_not_count_but_crashed_ones_do() {
        // Only the consumer listed: the provider was killed (removed), still healthy.
        assert!(all_healthy(&[row(Service::Consumer, Health::Ready)]));
        assert!(all_healthy(&[]));
        assert!(!all_healthy(&[
            row(Service::Provider, Health::Exited),
            row(Service::Consumer, Health::Ready)
        ]));
        assert!(!all_healthy(&[row(
            Service::Consumer,
            Health::Unhealthy("HTTP 503".into())
        )]));
    }

    #[test]
    fn the_table_shows_every_column() {
        let text = table(&[
            row(Service::Provider, Health::Ready),
            row(Service::Consumer, Health::Exited),
        ]);
        for needle in [
            "NAME",
            "PID",
            "PORT",
            "HEALTH",
            "MODE",
            "CIRCUIT",
            "my-provider-app",
            "my-consumer-app",
            "ready",
            "exited",
            "after",
            "closed",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
    }
}
