//! Pauses before/after activities: a live countdown on a TTY, nothing extra otherwise
//! (the caller has already logged the reference's "Pausing ..." line).

use crate::interrupt::Cancel;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Sleeps `seconds`, returning false when interrupted first.
pub fn pause(seconds: f64, cancel: &Cancel) -> bool {
    // Callers pass checked values (crate::duration); anything else is no pause at all.
    let Some(total) = crate::duration::from_seconds(seconds)
        .ok()
        .filter(|d| !d.is_zero())
    else {
        return true;
    };
    if !std::io::stderr().is_terminal() || seconds < 1.0 {
        return cancel.sleep(total);
    }
    let bar = ProgressBar::new(total.as_millis() as u64);
    bar.set_style(
        ProgressStyle::with_template("  pausing {bar:30} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let completed = loop {
        let elapsed = started.elapsed();
        if elapsed >= total {
            break true;
        }
        let left = total - elapsed;
        bar.set_position(elapsed.as_millis() as u64);
        bar.set_message(format!("{:.1}s left", left.as_secs_f64()));
        if !cancel.sleep(left.min(Duration::from_millis(100))) {
            break false;
        }
    };
    bar.finish_and_clear();
    completed
}
