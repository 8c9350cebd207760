//! `lab logs [--follow]`: a service's log file, followed until the service is no longer
//! part of the running lab (as `kubectl logs -f` ends with its pod) or Ctrl-C.

use std::io::{Read, Seek, SeekFrom, Write};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::interrupt;
use crate::service::Service;
use crate::state::StateDir;

/// Prints the log of `service`; with `follow`, keeps printing what it appends.
pub fn print(states: &StateDir, service: Service, follow: bool) -> Result<()> {
    let path = states.log_file(service);
    let mut file = std::fs::File::open(&path).with_context(|| {
        format!(
            "no log for {service} at {}; it has not been started in this lab",
            path.display()
        )
    })?;
    let mut out = std::io::stdout().lock();
    let mut position = std::io::copy(&mut file, &mut out)
        .with_context(|| format!("cannot read {}", path.display()))?;
    out.flush()?;
    if !follow {
        return Ok(());
    }
    // Follow until the service is no longer part of the running lab (like
    // `kubectl logs -f` ending with its pod) or the user presses Ctrl-C.
    let mut last_check = Instant::now();
    loop {
        if interrupt::check().is_err() {
            return Ok(());
        }
        file.seek(SeekFrom::Start(position))?;
        let mut chunk = Vec::new();
        file.read_to_end(&mut chunk)?;
        if !chunk.is_empty() {
            out.write_all(&chunk)?;
            out.flush()?;
            position += chunk.len() as u64;
        } else if last_check.elapsed() >= Duration::from_millis(500) {
            last_check = Instant::now();
            let running = states
                .load()
                .ok()
                .flatten()
                .and_then(|state| state.services.get(&service).cloned())
                .is_some_and(|record| record.process.is_running());
            if !running {
                return Ok(());
            }
        }
        thread::sleep(Duration::from_millis(100));
    }
}
