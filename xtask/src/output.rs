//! Where a lane's output goes. The tiers on Docker run alongside the others (see
//! `main.rs`); their lines are held, and copied to a log file as they come, until the
//! other lane is done, so two lanes' lines never interleave on the terminal.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

pub struct Output {
    state: Mutex<State>,
}

struct State {
    /// `Some` while held: what is not shown yet.
    held: Option<Vec<u8>>,
    /// The copy of everything written, for `tail -f` while held.
    log: Option<File>,
}

impl Output {
    /// Written to stdout as it comes.
    pub fn live() -> Output {
        Output {
            state: Mutex::new(State {
                held: None,
                log: None,
            }),
        }
    }

    /// Held until [`Output::show`], and copied to `log` as it comes (when it can be
    /// created: the copy is for watching, the held lines are what counts).
    pub fn held(log: &Path) -> Output {
        let log = log
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| File::create(log))
            .ok();
        Output {
            state: Mutex::new(State {
                held: Some(Vec::new()),
                log,
            }),
        }
    }

    pub fn write(&self, bytes: &[u8]) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(log) = state.log.as_mut() {
            let _ = log.write_all(bytes);
        }
        match state.held.as_mut() {
            Some(held) => held.extend_from_slice(bytes),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(bytes);
                let _ = out.flush();
            }
        }
    }

    /// A line of the runner's own.
    pub fn line(&self, line: &str) {
        self.write(format!("{line}\n").as_bytes());
    }

    /// Shows what was held, and from now on the output as it comes.
    pub fn show(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = state.held.take() {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&held);
            let _ = out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Output;

    #[test]
    fn held_output_is_copied_to_its_log_as_it_comes() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let log = dir.path().join("lane").join("docker.log");
        let output = Output::held(&log);
        output.line("first");
        output.write(b"second\n");
        assert_eq!(
            std::fs::read_to_string(&log).expect("the log"),
            "first\nsecond\n"
        );
        let state = output.state.lock().expect("the state");
        assert_eq!(state.held.as_deref(), Some(&b"first\nsecond\n"[..]));
    }
}
