//! The Python bridge: `python` activities (and controls) whose module has no native
//! driver run in a Python interpreter that has the module installed, called the way
//! chaoslib calls them (`bridge.py`).
//!
//! One interpreter serves a whole run: it is started on the first call or check, so a
//! run without Python activities never starts one. Requests and answers are JSON lines
//! over its stdin and stdout, each tagged with an id, so background activities can call
//! at the same time. The interpreter is its own process group, registered with
//! [`crate::interrupt`] like every provider child: the second Ctrl-C kills it.

mod locate;

pub use locate::{Interpreter, PYTHON_ENV, locate};

use crate::interrupt::{Cancel, ChildGroup, Exit};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

const SCRIPT: &str = include_str!("bridge.py");
/// How long the interpreter may take to import the bridge and say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BridgeError {
    /// No interpreter, or it could not be started.
    #[error("{0}")]
    Unavailable(String),
    /// The function (or the import) raised: the exception's type and message, as
    /// `traceback.format_exception_only` gives them, and the traceback of the user's
    /// code (`traceback.format_exception` lines, the bridge's own frames left out).
    #[error("{message}")]
    Raised {
        message: String,
        traceback: Vec<String>,
    },
    /// The interpreter went away during the call.
    #[error("the Python bridge's interpreter exited during the call ({0})")]
    Exited(String),
    /// The answer to this call could not be read.
    #[error("the Python bridge's answer could not be read: {0}")]
    Unreadable(String),
    /// No answer within the call's time limit: the call was abandoned and the
    /// interpreter it was stuck in replaced (the next call starts a new one).
    #[error(
        "the Python function did not return within {0} s: its call was abandoned and the Python bridge's interpreter was replaced"
    )]
    TimedOut(f64),
}

/// One call of `module.func`, with what chaoslib would pass it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub module: &'a str,
    pub func: &'a str,
    pub arguments: &'a Map<String, Value>,
    pub configuration: &'a Map<String, Value>,
    /// `Some` when the provider lists secret scopes (the union of those scopes); the
    /// function receives them only if it declares a `secrets` parameter.
    pub secrets: Option<&'a Map<String, Value>>,
    /// Environment variables earlier activities exported (set in the interpreter's
    /// `os.environ` before the call, as they are in the reference's process).
    pub environment: &'a std::collections::BTreeMap<String, String>,
}

/// What the bridge checks of an activity before the run, as chaoslib validates it.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    pub module: &'a str,
    pub func: &'a str,
    /// The names of the activity's `arguments`.
    pub arguments: &'a [String],
    /// The activity's name and type, for the messages.
    pub name: &'a str,
    pub kind: &'a str,
}

/// One call of a control's hook (`before_activity_control`, `configure_control`, ...),
/// with what chaoslib passes it (each only if the hook declares it).
#[derive(Debug, Clone, Copy)]
pub struct ControlCall<'a> {
    pub module: &'a str,
    pub hook: &'a str,
    pub arguments: &'a Map<String, Value>,
    pub context: &'a Value,
    pub state: &'a Value,
    pub experiment: &'a Value,
    pub configuration: &'a Map<String, Value>,
    pub secrets: &'a Map<String, Value>,
    pub settings: &'a Value,
    /// The control as declared (what `validate_control` receives).
    pub control: &'a Value,
}

/// What a control's hook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlOutcome {
    /// It returned (or the module has no such hook).
    Done,
    /// It raised chaoslib's `InterruptExecution`: the run must stop, with this message.
    Interrupt(String),
    /// `after_experiment_control` returned: the journal as it left it (a control may
    /// add keys of its own).
    State(Value),
}

/// A problem found by [`PythonBridge::check`]: the provider field it is about
/// (`module`, `func` or `arguments`) and chaoslib's message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckProblem(pub String, pub String);

/// A handle on the run's interpreter (cheap to clone; started on first use).
#[derive(Debug, Clone, Default)]
pub struct PythonBridge {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// `--python`, if given.
    explicit: Option<PathBuf>,
    state: Mutex<State>,
    /// The run cancelled when Python code asks to exit (see [`PythonBridge::watch_exits`]).
    exits: ExitTarget,
}

/// Whose run an exit asked for by Python code cancels.
type ExitTarget = Arc<Mutex<Option<Cancel>>>;

#[derive(Debug, Default)]
enum State {
    #[default]
    NotStarted,
    Running(Arc<Session>),
    /// Why it could not start: every later call fails the same way, without retrying.
    Failed(String),
}

impl PythonBridge {
    /// A bridge that will start the interpreter `explicit` names, or the one
    /// [`locate`] finds.
    pub fn new(explicit: Option<PathBuf>) -> Self {
        PythonBridge {
            inner: Arc::new(Inner {
                explicit,
                state: Mutex::new(State::NotStarted),
                exits: ExitTarget::default(),
            }),
        }
    }

    /// An exit asked for by Python code (chaoslib's `exit_gracefully` /
    /// `exit_ungracefully`, or SIGUSR1 / SIGUSR2 sent to the interpreter) cancels `cancel`
    /// with that exit, as the reference's signal handler stops its run. The exit is
    /// known before the answer of the call that asked for it (the interpreter says so
    /// from the caller's thread, before the call returns).
    pub fn watch_exits(&self, cancel: Cancel) {
        *lock(&self.inner.exits) = Some(cancel);
    }

    /// Calls `module.func` and returns what it returned, as JSON.
    pub fn call(&self, call: &Call) -> Result<Value, BridgeError> {
        self.call_within(call, None)
    }

    /// [`call`](Self::call), given up after `limit` seconds: the interpreter, busy
    /// with the abandoned call, is then retired (it ends once the calls still running in
    /// it are answered, or at once when there are none) and the next call starts a new one.
    pub fn call_within(&self, call: &Call, limit: Option<f64>) -> Result<Value, BridgeError> {
        let request = serde_json::json!({
            "op": "call",
            "module": call.module,
            "func": call.func,
            "arguments": call.arguments,
            "configuration": call.configuration,
            "secrets": call.secrets,
            "environment": call.environment,
        });
        let session = self.session()?;
        let wait = limit.map(Duration::from_secs_f64);
        let answer = match session.ask_within(request, wait) {
            Err(BridgeError::TimedOut(_)) => {
                self.retire(&session);
                return Err(BridgeError::TimedOut(limit.unwrap_or_default()));
            }
            other => other?,
        };
        match answer {
            Answer::Value(v) => Ok(v),
            Answer::Raised { message, traceback } => {
                Err(BridgeError::Raised { message, traceback })
            }
            _ => Err(BridgeError::Exited("unexpected answer".into())),
        }
    }

    /// chaoslib's validation of a Python activity: the module imports, the function
    /// exists, the arguments bind to its signature. Empty when it fits.
    pub fn check(&self, check: &Check) -> Result<Vec<CheckProblem>, BridgeError> {
        let request = serde_json::json!({
            "op": "check",
            "module": check.module,
            "func": check.func,
            "arguments": check.arguments,
            "name": check.name,
            "type": check.kind,
        });
        match self.session()?.ask(request)? {
            Answer::Problems(p) => Ok(p),
            Answer::Raised { message, traceback } => {
                Err(BridgeError::Raised { message, traceback })
            }
            _ => Err(BridgeError::Exited("unexpected answer".into())),
        }
    }

    /// Calls a control's hook.
    pub fn control(&self, call: &ControlCall) -> Result<ControlOutcome, BridgeError> {
        let request = serde_json::json!({
            "op": "control",
            "module": call.module,
            "hook": call.hook,
            "arguments": call.arguments,
            "context": call.context,
            "state": call.state,
            "experiment": call.experiment,
            "configuration": call.configuration,
            "secrets": call.secrets,
            "settings": call.settings,
            "control": call.control,
        });
        match self.session()?.ask(request)? {
            Answer::Value(_) => Ok(ControlOutcome::Done),
            Answer::State(state) => Ok(ControlOutcome::State(state)),
            Answer::Interrupt(message) => Ok(ControlOutcome::Interrupt(message)),
            Answer::Raised { message, traceback } => {
                Err(BridgeError::Raised { message, traceback })
            }
            Answer::Problems(_) | Answer::Unreadable(_) => {
                Err(BridgeError::Exited("unexpected answer".into()))
            }
        }
    }

    /// The interpreter in use, once started.
    pub fn interpreter(&self) -> Option<Interpreter> {
        match &*self.state() {
            State::Running(s) => Some(s.interpreter.clone()),
            _ => None,
        }
    }

    /// No new call goes to `session`; it ends when the last call holding it returns.
    fn retire(&self, session: &Arc<Session>) {
        let mut state = self.state();
        if matches!(&*state, State::Running(s) if Arc::ptr_eq(s, session)) {
            *state = State::NotStarted;
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn session(&self) -> Result<Arc<Session>, BridgeError> {
        let mut state = self.state();
        match &*state {
            State::Running(s) if !s.exited() => return Ok(Arc::clone(s)),
            State::Running(_) => {
                return Err(BridgeError::Unavailable(
                    "the Python bridge's interpreter has exited".into(),
                ));
            }
            State::Failed(why) => return Err(BridgeError::Unavailable(why.clone())),
            State::NotStarted => {}
        }
        let exits = Arc::clone(&self.inner.exits);
        match locate(self.inner.explicit.as_deref()).and_then(|i| Session::start(i, exits)) {
            Ok(session) => {
                let session = Arc::new(session);
                *state = State::Running(Arc::clone(&session));
                Ok(session)
            }
            Err(why) => {
                *state = State::Failed(why.clone());
                Err(BridgeError::Unavailable(why))
            }
        }
    }
}

/// What the interpreter answered to one request.
#[derive(Debug)]
enum Answer {
    Value(Value),
    Raised {
        message: String,
        traceback: Vec<String>,
    },
    Problems(Vec<CheckProblem>),
    Interrupt(String),
    /// A control hook's answer with the state it left.
    State(Value),
    /// A line for this call that could not be read (the reason).
    Unreadable(String),
}

/// A line from the interpreter.
#[derive(Debug, Deserialize)]
struct Line {
    id: Option<u64>,
    value: Option<Value>,
    raised: Option<String>,
    #[serde(default)]
    traceback: Vec<String>,
    problems: Option<Vec<CheckProblem>>,
    interrupt: Option<String>,
    /// An exit asked for: `gracefully` or `ungracefully`.
    exit: Option<String>,
    state: Option<Value>,
    log: Option<LogRecord>,
    ready: Option<String>,
    executable: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LogRecord {
    level: String,
    logger: String,
    message: String,
}

type Pending = Arc<Mutex<Option<HashMap<u64, Sender<Answer>>>>>;

/// A running interpreter.
#[derive(Debug)]
struct Session {
    interpreter: Interpreter,
    stdin: Mutex<Option<ChildStdin>>,
    /// Waiting requests by id; `None` once the interpreter's output has ended.
    pending: Pending,
    next_id: AtomicU64,
    child: Mutex<Child>,
    group: Mutex<Option<ChildGroup>>,
}

impl Session {
    fn start(interpreter: Interpreter, exits: ExitTarget) -> Result<Session, String> {
        let mut command = Command::new(&interpreter.path);
        command
            .args(["-u", "-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let named = format!("{} ({})", interpreter.path.display(), interpreter.source);
        let cannot = |why: String| format!("cannot start the Python bridge with {named}: {why}");
        let (mut child, group) =
            ChildGroup::spawn(&mut command).map_err(|e| cannot(e.to_string()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let pending: Pending = Arc::new(Mutex::new(Some(HashMap::new())));
        let (ready_tx, ready_rx) = channel();
        {
            let pending = Arc::clone(&pending);
            std::thread::spawn(move || {
                read_answers(BufReader::new(stdout), &pending, ready_tx, &exits)
            });
        }
        let session = Session {
            interpreter,
            stdin: Mutex::new(stdin),
            pending,
            next_id: AtomicU64::new(1),
            child: Mutex::new(child),
            group: Mutex::new(Some(group)),
        };
        match ready_rx.recv_timeout(READY_TIMEOUT) {
            Ok((version, executable)) => {
                tracing::debug!(
                    "Python bridge: Python {version} at {executable} ({})",
                    session.interpreter.source
                );
                Ok(session)
            }
            Err(RecvTimeoutError::Timeout) => Err(cannot(format!(
                "it did not answer within {} s",
                READY_TIMEOUT.as_secs()
            ))),
            Err(RecvTimeoutError::Disconnected) => Err(cannot(
                "it exited before it was ready (its error is above; the bridge needs Python 3.8 or later)"
                    .into(),
            )),
        }
    }

    fn exited(&self) -> bool {
        lock(&self.pending).is_none()
    }

    fn ask(&self, request: Value) -> Result<Answer, BridgeError> {
        self.ask_within(request, None)
    }

    /// Sends `request` and waits for its answer, at most `limit`
    /// (`BridgeError::TimedOut` then, its waiter removed).
    fn ask_within(
        &self,
        mut request: Value,
        limit: Option<Duration>,
    ) -> Result<Answer, BridgeError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        request["id"] = id.into();
        let (tx, rx): (Sender<Answer>, Receiver<Answer>) = channel();
        match lock(&self.pending).as_mut() {
            Some(waiting) => waiting.insert(id, tx),
            None => return Err(BridgeError::Exited("its output ended".into())),
        };
        let line = format!("{request}\n");
        let written = match lock(&self.stdin).as_mut() {
            Some(stdin) => stdin.write_all(line.as_bytes()).and_then(|_| stdin.flush()),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        };
        if let Err(e) = written {
            if let Some(waiting) = lock(&self.pending).as_mut() {
                waiting.remove(&id);
            }
            return Err(BridgeError::Exited(format!("cannot write to it: {e}")));
        }
        let answer = match limit {
            None => rx
                .recv()
                .map_err(|_| BridgeError::Exited("its output ended".into())),
            Some(limit) => match rx.recv_timeout(limit) {
                Ok(answer) => Ok(answer),
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(waiting) = lock(&self.pending).as_mut() {
                        waiting.remove(&id);
                    }
                    Err(BridgeError::TimedOut(limit.as_secs_f64()))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    Err(BridgeError::Exited("its output ended".into()))
                }
            },
        }?;
        match answer {
            Answer::Unreadable(why) => Err(BridgeError::Unreadable(why)),
            answer => Ok(answer),
        }
    }
}

impl Drop for Session {
    /// Closing its stdin ends the interpreter's request loop; what is still running
    /// after a second is killed with its group.
    fn drop(&mut self) {
        lock(&self.stdin).take();
        // The leader is reaped only after its group is gone (see ChildGroup).
        if let Some(group) = lock(&self.group).take() {
            let deadline = std::time::Instant::now() + Duration::from_secs(1);
            while !group.leader_exited().unwrap_or(true) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            group.kill();
        }
        let _ = lock(&self.child).wait();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The reader thread: hands each answer to its caller, turns log records into the
/// run's log, and when the output ends fails every caller still waiting.
fn read_answers(
    stdout: impl BufRead,
    pending: &Pending,
    ready: Sender<(String, String)>,
    exits: &ExitTarget,
) {
    for line in stdout.lines() {
        let Ok(line) = line else { break };
        let line = match serde_json::from_str::<Line>(&line) {
            Ok(line) => line,
            Err(e) => {
                // An answer we cannot read still names its call (the bridge writes the
                // id first): that call fails now instead of waiting for ever.
                match answer_id(&line) {
                    Some(id) => {
                        if let Some(tx) = lock(pending).as_mut().and_then(|w| w.remove(&id)) {
                            let _ = tx.send(Answer::Unreadable(e.to_string()));
                        }
                    }
                    None => tracing::warn!("Python bridge: unreadable line: {}", cut(&line)),
                }
                continue;
            }
        };
        if let Some(how) = &line.exit {
            let exit = if how == "ungracefully" {
                Exit::Ungracefully
            } else {
                Exit::Gracefully
            };
            tracing::warn!("Received the exit signal: {}", exit.code());
            // Before the answer of the call that asked is read: whoever waits for it
            // finds the run cancelled.
            if let Some(cancel) = lock(exits).as_ref() {
                cancel.exit(exit);
            }
        } else if let Some(version) = line.ready {
            let _ = ready.send((version, line.executable.unwrap_or_default()));
        } else if let Some(record) = line.log {
            log(&record);
        } else if let Some(id) = line.id {
            let answer = if let Some(message) = line.raised {
                Answer::Raised {
                    message,
                    traceback: line.traceback,
                }
            } else if let Some(problems) = line.problems {
                Answer::Problems(problems)
            } else if let Some(message) = line.interrupt {
                Answer::Interrupt(message)
            } else if let Some(state) = line.state {
                Answer::State(state)
            } else {
                Answer::Value(line.value.unwrap_or(Value::Null))
            };
            if let Some(tx) = lock(pending).as_mut().and_then(|w| w.remove(&id)) {
                let _ = tx.send(answer);
            }
        }
    }
    // Dropping the senders wakes every waiting caller with an error.
    lock(pending).take();
}

/// The id of an answer line, read from its start (`{"id": 12, ...`) without parsing
/// the rest.
fn answer_id(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("{\"id\":")?.trim_start();
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..digits].parse().ok()
}

/// At most the first 200 characters of a line, for the log.
fn cut(line: &str) -> &str {
    match line.char_indices().nth(200) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

fn log(record: &LogRecord) {
    let LogRecord {
        level,
        logger,
        message,
    } = record;
    match level.as_str() {
        "DEBUG" => tracing::debug!("[{logger}] {message}"),
        "INFO" => tracing::info!("{message}"),
        "WARNING" => tracing::warn!("{message}"),
        _ => tracing::error!("{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_names_its_call_at_its_start() {
        assert_eq!(answer_id(r#"{"id": 12, "value": [[[["#), Some(12));
        assert_eq!(answer_id(r#"{"id":7,"value":1}"#), Some(7));
        assert_eq!(answer_id(r#"{"log": {}}"#), None);
        assert_eq!(answer_id(r#"{"id": null}"#), None);
    }
}
