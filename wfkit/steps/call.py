"""``call`` steps: a Python function, imported by module path and called in this process.

``call: churn.etl:pull_month`` imports ``churn.etl`` (the definitions folder and the
working directory are appended to :data:`sys.path`, once each, so modules beside the
definitions are found; installed packages of the same name win) and calls
``pull_month(**with)``. The return value is the step's output and must be JSON; it is
normalised through JSON (tuples become lists, integer keys become strings) so that a
result looks the same before and after it is stored.

Timeouts and terminate: a Python function running in a thread cannot be stopped. A call
step *with* a ``timeout`` runs in a daemon thread of its own; when the timeout elapses the
step fails with ``TimeoutError`` at once, and the function is **abandoned**: it keeps
running in the background until it returns, and its eventual result (or exception) is
discarded. Terminating the instance abandons the thread the same way. A call step
without a timeout runs directly on the runner's worker thread (no thread per call); on
terminate the runner abandons that worker and starts a replacement. Work that must
really be stopped belongs in a ``shell`` step (``[python, -m, module]``), whose process
is killed.

Edited step code: when a task asks for it (:attr:`TaskSpec.check_code`), the module's
source file is looked at (one ``stat``) and the module reloaded if it changed since it
was loaded. The engine asks at the first task of an instance it runs and at every retry
(a retried attempt, ``instance.retry()``), so a fix is picked up by the next run or
retry, while the steps of one run use the modules as they were when it began here.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import pkgutil
import sys
import threading
import traceback
from collections.abc import Callable, Collection
from types import ModuleType, TracebackType
from typing import Any

from wfkit.common import jsontext
from wfkit.engine.protocols import TaskOutcome, TaskSpec
from wfkit.steps.base import CancelToken, failure, format_trace, step_label, too_large

__all__ = ["CallHandler", "add_import_paths", "call_task", "target_problem"]

_path_lock = threading.Lock()
_ready: set[object] = set()  # folder tuples (absolute), or (folders, cwd)


def add_import_paths(*folders: str) -> None:
    """Append each folder (made absolute) to :data:`sys.path` unless it is already there.

    Thread-safe; a given set of folders is only looked at the first time.
    """
    if folders in _ready:  # absolute folders, added before
        return
    key: object = (folders, os.getcwd())  # relative folders: others in another directory
    if key in _ready:
        return
    if all(os.path.isabs(folder) for folder in folders):
        key = folders
    with _path_lock:
        for folder in folders:
            path = os.path.abspath(folder)
            if path not in sys.path:
                sys.path.append(path)
        _ready.add(key)


class CallHandler:
    """Runs ``call`` steps: ``module:function`` called with the step's ``with`` mapping."""

    kind = "call"

    def run(self, task: TaskSpec, cancel: CancelToken) -> TaskOutcome:
        """Call the function; in a thread of its own only when the task has a timeout."""
        if task.timeout is None:
            return call_task(task)
        return _call_with_timeout(task, cancel)


def call_task(task: TaskSpec) -> TaskOutcome:
    """Import and call ``task.target`` on this thread; every failure becomes an outcome."""
    add_import_paths(task.definitions_dir, task.workdir)
    function = _resolve(task)
    if isinstance(function, TaskOutcome):
        return function
    kwargs = task.input
    if kwargs is None:
        kwargs = {}
    elif not isinstance(kwargs, dict):
        return failure(
            "InvalidStepInput",
            f"{step_label(task)} calls {task.target} with keyword arguments, so its `with` "
            f"must be a mapping, not a {type(kwargs).__name__}",
        )
    try:
        value = function(**kwargs)
    except TypeError as exc:
        return _type_error(task, function, kwargs, exc)
    except BaseException as exc:
        # a step's own KeyboardInterrupt, SystemExit or asyncio.CancelledError fails the
        # step like any error: it must not end the worker thread (a real Ctrl-C reaches
        # the main thread only, never this one)
        return _exception(exc)
    deep = jsontext.depth_problem(value)
    if deep:
        return failure(
            "OutputNotJSON",
            f"{step_label(task)}: {task.target} returned a value that is not JSON: {deep}",
        )
    try:
        # the output as JSON gives it back: what is recorded is what later steps get,
        # whatever the function does later with the objects it returned
        text, output = jsontext.checked_copy(value, task.max_output_bytes)
    except jsontext.TooLarge as big:
        return too_large(task, big.size)
    except (TypeError, ValueError):
        return failure(
            "OutputNotJSON",
            f"{step_label(task)}: {task.target} returned a value that is not JSON: "
            f"{jsontext.json_problem(value, 'output')[1]}",
        )
    return TaskOutcome(output=output, output_json=text)


def target_problem(
    target: str, keys: Collection[str], *, step: str, definitions_dir: str, workdir: str
) -> str | None:
    """Why a ``call`` step would fail before its function runs, or None: the module does
    not import, it has no such function, or the function cannot take the ``with`` keys.
    Imports the module, running its top-level code."""
    task = TaskSpec(
        instance_id="", step=step, kind="call", target=target,
        definitions_dir=definitions_dir, workdir=workdir,
    )  # fmt: skip
    add_import_paths(definitions_dir, workdir)
    function = _resolve(task)
    if isinstance(function, TaskOutcome):
        return f"{function.error_type}: {function.error_message}"
    mismatch = _mismatch(task, function, dict.fromkeys(keys))
    return None if mismatch is None else f"TypeError: {mismatch}"


def _exception(exc: BaseException) -> TaskOutcome:
    """An outcome for an exception the function raised (our own frame left out)."""
    trace = exc.__traceback__
    inner: TracebackType | None = trace.tb_next if trace is not None else None
    return failure(
        type(exc).__name__,
        str(exc),
        stack_trace="".join(traceback.format_exception(type(exc), exc, inner)),
    )


def _type_error(
    task: TaskSpec, function: Callable[..., Any], kwargs: dict[str, Any], exc: TypeError
) -> TaskOutcome:
    """A TypeError: say which parameters the function takes when the arguments did not fit."""
    mismatch = _mismatch(task, function, kwargs)
    if mismatch is None:  # raised inside the function: an ordinary exception
        return _exception(exc)
    return failure("TypeError", mismatch, stack_trace=format_trace(exc))


def _mismatch(task: TaskSpec, function: Callable[..., Any], kwargs: dict[str, Any]) -> str | None:
    """Why ``function`` cannot be called with these keyword arguments (naming the
    parameters it takes, and close names), or None when they fit or it has no signature."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # no signature (some builtins)
        return None
    try:
        signature.bind(**kwargs)
    except TypeError as mismatch:
        parameters = [p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
        unknown = [k for k in kwargs if k not in signature.parameters]
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, [p.name for p in parameters], n=1)
            if close:
                hints.append(f"{key!r} -> did you mean {close[0]!r}?")
        message = (
            f"{step_label(task)}: {task.target} cannot be called with the step's `with` "
            f"keys {sorted(kwargs)}: {mismatch}; it takes {signature}"
        )
        if hints:
            message += "; " + ", ".join(hints)
        return message
    return None


# target -> (module name, module, function): what the last lookup of a target found, kept
# while the module is the one in sys.modules (a reload or re-import makes it stale).
_functions: dict[str, tuple[str, ModuleType, Callable[..., Any]]] = {}


def _resolve(task: TaskSpec) -> Callable[..., Any] | TaskOutcome:
    """The function named by ``module:function`` (a dotted attribute path is allowed)."""
    target = task.target
    if not task.check_code and isinstance(target, str):
        found = _functions.get(target)
        if found is not None and sys.modules.get(found[0]) is found[1]:
            return found[2]
    if not isinstance(target, str) or target.count(":") != 1 or target.startswith(":"):
        return failure(
            "InvalidStepTarget",
            f"{step_label(task)}: call target {target!r} is not 'module:function' "
            "(for example 'churn.etl:pull_month')",
        )
    module_name, _, attribute = target.partition(":")
    module = _import(task, module_name)
    if isinstance(module, TaskOutcome):
        return module
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            return _missing_function(task, module, attribute)
        value = getattr(value, part)
    if not callable(value):
        return failure(
            "InvalidStepTarget",
            f"{step_label(task)}: {target} is a {type(value).__name__}, not a function",
        )
    _functions[target] = (module_name, module, value)
    return value  # type: ignore[no-any-return]


_loaded_at: dict[str, float] = {}
_reload_lock = threading.Lock()


def _fresh(module: ModuleType) -> ModuleType:
    """``module``, reloaded when its source file changed since it was loaded: a step
    function fixed in an editor is used by the next attempt (``instance.retry()``)."""
    path = getattr(module, "__file__", None)
    if not path or not path.endswith(".py"):
        return module
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return module
    with _reload_lock:
        seen = _loaded_at.setdefault(module.__name__, mtime)
        if mtime == seen:
            return module
        _loaded_at[module.__name__] = mtime
        return importlib.reload(module)


def _import(task: TaskSpec, name: str) -> ModuleType | TaskOutcome:
    """Import ``name``; a missing module or a failing import becomes a clear failure."""
    try:
        module = importlib.import_module(name)
        # a module seen for the first time is always looked at: its file's time then is
        # what later checks compare with
        return _fresh(module) if task.check_code or name not in _loaded_at else module
    except ModuleNotFoundError as exc:
        if not _is_target(name, exc):
            return _import_failed(task, name, exc)
        importlib.invalidate_caches()  # the file may have been written since the last look
    except BaseException as exc:  # as for the call itself (call_task)
        return _import_failed(task, name, exc)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if _is_target(name, exc):
            return _module_not_found(task, name, exc.name or name)
        return _import_failed(task, name, exc)
    except BaseException as exc:  # as for the call itself (call_task)
        return _import_failed(task, name, exc)


def _is_target(name: str, exc: ModuleNotFoundError) -> bool:
    """Whether the module not found is ``name`` itself (or a package above it)."""
    missing = exc.name or ""
    return name == missing or name.startswith(missing + ".")


def _module_not_found(task: TaskSpec, name: str, missing: str) -> TaskOutcome:
    folders = [os.path.abspath(task.definitions_dir), os.path.abspath(task.workdir)]
    message = (
        f"{step_label(task)}: cannot import module {name!r} of call target {task.target!r}: "
        f"no module named {missing!r} in the definitions folder ({folders[0]}), the "
        f"working directory ({folders[1]}) or the installed packages"
    )
    if "." not in missing:
        names = [m.name for m in pkgutil.iter_modules(folders)]
        close = difflib.get_close_matches(missing, names, n=3)
        if close:
            message += f"; did you mean {' or '.join(repr(c) for c in close)}?"
    return failure("ModuleNotFoundError", message)


def _import_failed(task: TaskSpec, name: str, exc: BaseException) -> TaskOutcome:
    return failure(
        type(exc).__name__,
        f"{step_label(task)}: importing module {name!r} of call target {task.target!r} "
        f"failed: {type(exc).__name__}: {exc}",
        stack_trace=format_trace(exc),
    )


def _missing_function(task: TaskSpec, module: ModuleType, attribute: str) -> TaskOutcome:
    names = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n, None))]
    own = [n for n in names if getattr(getattr(module, n), "__module__", None) == module.__name__]
    message = (
        f"{step_label(task)}: module {module.__name__!r} ({getattr(module, '__file__', '?')}) "
        f"has no function {attribute!r}"
    )
    close = difflib.get_close_matches(attribute.split(".")[0], names, n=3)
    if close:
        message += f"; did you mean {' or '.join(repr(c) for c in close)}?"
    elif own or names:  # what the module defines, not what it imported
        message += f"; it defines {', '.join(sorted(own or names)[:20])}"
    return failure("AttributeError", message)


def _call_with_timeout(task: TaskSpec, cancel: CancelToken) -> TaskOutcome:
    """Call on a daemon thread; past the timeout (or on cancel) abandon it."""
    result: list[TaskOutcome] = []
    wake = threading.Event()

    def work() -> None:
        result.append(call_task(task))
        wake.set()

    unregister = cancel.on_cancel(wake.set)
    thread = threading.Thread(target=work, name=f"wfkit-call-{task.key}", daemon=True)
    thread.start()
    try:
        wake.wait(task.timeout)
    finally:
        unregister()
    if result:
        return result[0]
    if cancel.cancelled:
        return failure("Canceled", f"{step_label(task)} was cancelled; its function was abandoned")
    return failure(
        "TimeoutError",
        f"{step_label(task)}: {task.target} ran over its timeout of {task.timeout:g} s. The "
        "function was abandoned: a Python function in a thread cannot be stopped, so it "
        "keeps running in the background and its eventual result will be discarded. Use a "
        "shell step ([python, -m, module]) for work that must be killed on timeout",
        details={"abandoned_thread": thread.name},
    )
