# chaos-runner's Python bridge: runs `python` activities whose module has no native driver
# in the interpreter that has the module installed, the way chaoslib calls them.
# Protocol: one JSON object per line; requests on stdin, answers and log records on the
# original stdout (user code's prints go to stderr so they cannot corrupt it).
# Each call runs on its own thread, as the reference runs background activities.
import datetime
import importlib
import inspect
import json
import logging
import os
import signal
import sys
import threading
import traceback

_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)
sys.stdin = open(os.devnull)
_requests = os.fdopen(0, "r", encoding="utf-8", closefd=False)
_lock = threading.RLock()
# chaos-runner reads at most 128 levels of JSON (serde_json's limit); an answer and the
# journal around a value take a few, so a value may be nested 100 deep at most.
_MAX_DEPTH = 100


def _send(message):
    line = json.dumps(message, default=_encode, ensure_ascii=False)
    with _lock:
        _out.write(line + "\n")
        _out.flush()


def _encode(o):
    # The reference's journal encoder (dates, decimals, UUIDs); where it would fail to
    # write the journal, any other object is kept as its string form.
    if isinstance(o, (datetime.date, datetime.datetime)):
        return o.isoformat()
    return str(o)


class _Forward(logging.Handler):
    """Log records of the extensions (chaostoolkit, chaosaws, ...) go to chaos-runner's log."""

    def emit(self, record):
        try:
            _send({"log": {"level": record.levelname, "logger": record.name,
                           "message": record.getMessage()}})
        except Exception:  # noqa: BLE001 - a log record must never break a call
            pass


def _depth(value):
    """How deep `value` (decoded JSON) is nested, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (list, dict)):
            deepest = max(deepest, d)
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def _exception_text(x):
    return traceback.format_exception_only(type(x), x)[0].strip()


def _user_traceback(x):
    """The traceback lines of the user's code: the bridge's own frames (`<string>`, as
    it runs with -c) left out."""
    tb = x.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == "<string>":
        tb = tb.tb_next
    return traceback.format_exception(type(x), x, tb)


# chaoslib's exit functions signal the process running them (SIGUSR1: stop now and play
# the rollbacks the strategy asks for; SIGUSR2: stop now, no rollbacks). Here that process
# is the bridge, not the runner: the request is passed on to chaos-runner instead, and
# the interpreter lives on.
_EXITS = {signal.SIGUSR1: "gracefully", signal.SIGUSR2: "ungracefully"}
_kill = os.kill


def _send_exit(signum):
    _send({"exit": _EXITS[signum]})


def _own_kill(pid, signum):
    # Sent from the caller's thread, before its call returns: chaos-runner learns of the
    # exit before the call's answer.
    if pid in (0, os.getpid()) and signum in _EXITS:
        _send_exit(signum)
        return
    _kill(pid, signum)


def _on_signal(signum, _frame):
    # Any other way of raising them (signal.raise_signal, a kill from outside).
    _send_exit(signum)


def _function(module, func):
    mod = importlib.import_module(module)
    return getattr(mod, func)


def _call(request):
    # Variables earlier activities exported (toxiproxy's <proxy>_PORT), as the
    # reference's process environment has them.
    os.environ.update(request.get("environment") or {})
    fn = _function(request["module"], request["func"])
    arguments = dict(request.get("arguments") or {})
    sig = inspect.signature(fn)
    # As chaoslib: secrets only when the provider lists scopes and the function takes
    # them; configuration whenever the function takes it.
    if request.get("secrets") is not None and "secrets" in sig.parameters:
        arguments["secrets"] = request["secrets"]
    if "configuration" in sig.parameters:
        arguments["configuration"] = dict(request.get("configuration") or {})
    return fn(**arguments)


def _is_interrupt(x):
    # chaoslib.exceptions.InterruptExecution, recognised by name: the interpreter need
    # not have chaoslib installed for a control to stop the run.
    return any(c.__name__ == "InterruptExecution" for c in type(x).__mro__)


def _control(request):
    """A control's hook, called as chaoslib calls it; None when the module lacks it."""
    mod = importlib.import_module(request["module"])
    hook = request["hook"]
    fn = getattr(mod, hook, None)
    if fn is None:
        return None
    if hook == "cleanup_control":
        return fn()
    if hook == "validate_control":
        return fn(request["control"])
    arguments = dict(request.get("arguments") or {})
    params = inspect.signature(fn).parameters
    for key in ("secrets", "configuration", "experiment", "settings"):
        if key in params:
            arguments[key] = request.get(key)
    if hook == "configure_control":
        return fn(**arguments)
    if "state" in params:
        arguments["state"] = request.get("state")
    if "extensions" in params:
        arguments["extensions"] = (request.get("experiment") or {}).get("extensions")
    return fn(context=request.get("context"), **arguments)


def _check(request):
    """chaoslib's validate_python_activity, with its messages; [] when it fits."""
    module, func = request["module"], request["func"]
    name, kind = request.get("name"), request.get("type")
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return [["module", f"could not find Python module '{module}' in activity '{name}'"]]
    candidates = set(inspect.getmembers(mod, inspect.isfunction)).union(
        inspect.getmembers(mod, inspect.isbuiltin))
    for found, cb in candidates:
        if found != func:
            continue
        try:
            sig = inspect.signature(cb)
        except (TypeError, ValueError) as x:
            # chaoslib's validation stops there (the error escapes it): such an
            # experiment never runs, so it is invalid here.
            return [["func", f"cannot read the signature of '{module}.{func}' to check "
                             f"{kind} '{name}': {_exception_text(x)}"]]
        args = {key: None for key in request.get("arguments") or []}
        if "secrets" in sig.parameters:
            args["secrets"] = None
        if "configuration" in sig.parameters:
            args["configuration"] = None
        try:
            sig.bind(**args)
        except TypeError as x:
            msg = str(x)
            if "missing" in msg:
                arg = msg.rsplit(":", 1)[1].strip()
                return [["arguments", f"required argument {arg} is missing from activity '{name}'"]]
            if "unexpected" in msg:
                arg = msg.rsplit(" ", 1)[1].strip()
                return [["arguments", f"argument {arg} is not part of the function signature in activity '{name}'"]]
            return [["arguments", msg]]
        return []
    return [["func", f"The python module '{module}' does not expose a function called "
                     f"'{func}' in {kind} '{name}'"]]


def _serve(request):
    rid = request.get("id")
    try:
        if request["op"] == "check":
            answer = {"id": rid, "problems": _check(request)}
        elif request["op"] == "control":
            try:
                _control(request)
                answer = {"id": rid, "value": None}
                if request["hook"] == "after_experiment_control":
                    # The reference's controls change the journal it then writes (a
                    # reporting control adds its own keys): the journal goes back.
                    answer["state"] = request.get("state")
            except BaseException as x:  # noqa: BLE001 - see below
                if not _is_interrupt(x):
                    raise
                answer = {"id": rid, "interrupt": str(x) or type(x).__name__}
        else:
            value = _call(request)
            # Encoded here, so a value that cannot be written (NaN, too deep) is this
            # call's failure rather than an answer chaos-runner cannot read.
            text = json.dumps(value, default=_encode, allow_nan=False, ensure_ascii=False)
            value = json.loads(text)
            if _depth(value) > _MAX_DEPTH:
                raise ValueError(
                    f"the value returned is nested deeper than {_MAX_DEPTH} levels, "
                    "more than chaos-runner's journal can hold")
            answer = {"id": rid, "value": value}
    except BaseException as x:  # noqa: BLE001 - every failure is the activity's
        answer = {"id": rid, "raised": _exception_text(x), "traceback": _user_traceback(x)}
    try:
        _send(answer)
    except BaseException as x:  # noqa: BLE001 - the caller must get an answer
        _send({"id": rid, "raised": _exception_text(x)})


def main():
    root = logging.getLogger()
    root.addHandler(_Forward())
    root.setLevel(logging.DEBUG if os.environ.get("CHAOS_RUNNER_BRIDGE_DEBUG") else logging.INFO)
    # `python -c` puts the working directory first on sys.path; the reference's `chaos`
    # script does not, so neither do we (modules come from PYTHONPATH and site-packages).
    if sys.path and sys.path[0] == "":
        del sys.path[0]
    os.kill = _own_kill
    for signum in _EXITS:
        signal.signal(signum, _on_signal)
    _send({"ready": sys.version.split()[0], "executable": sys.executable})
    for line in _requests:
        if line.strip():
            threading.Thread(target=_serve, args=(json.loads(line),), daemon=True).start()


main()
