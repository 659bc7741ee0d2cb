"""Commands about instances: run, start, get, list, history, pause, resume, terminate,
raise-event, purge and worker.

``run`` and ``worker`` start an engine in this process; the others are clients: they read
the store or append one event, and the process that owns the instance reacts.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from wfkit.cli import show
from wfkit.cli.definitions import EXIT_OK, EXIT_PROBLEMS, UsageError
from wfkit.cli.worker_log import WorkerLog

if TYPE_CHECKING:
    from wfkit.runtime.api import Instance, Runtime

__all__ = ["register"]

EXIT_SUSPENDED = 3


def _settings_flags(
    parser: argparse.ArgumentParser, workers: bool = False, json_help: str = "print JSON"
) -> None:
    parser.add_argument("--definitions", help="definitions folder ($WFKIT_DEFINITIONS)")
    parser.add_argument(
        "--store", help="store URL ($WFKIT_STORE; default sqlite:///.wfkit/wfkit.db)"
    )
    if workers:
        parser.add_argument("--workers", type=int, help="steps run at once here ($WFKIT_WORKERS)")
    parser.add_argument("--json", action="store_true", help=json_help)


def register(sub: Any) -> None:
    """Add the instance commands to the subcommand parsers."""
    run = sub.add_parser(
        "run",
        help="run a workflow here, showing progress, until it ends",
        description="Start workflow NAME and run it in this process with live progress. "
        "Only it and its child workflows run here: other instances in the store are left "
        "to `wfkit worker`. Ctrl-C pauses the instance and says how to resume it; SIGTERM "
        "cancels the running steps and leaves the instance, still running, to the next "
        "worker. Exit 0 when it completes, 1 when it fails or is terminated, 3 when it is "
        "left paused, 143 after SIGTERM.",
    )
    run.add_argument("name", metavar="NAME", help="the workflow to run")
    _input_flags(run)
    run.add_argument("--timeout", type=float, help="give up waiting after this many seconds")
    _settings_flags(run, workers=True)
    run.set_defaults(func=cmd_run)

    start = sub.add_parser(
        "start",
        help="start a workflow instance (a worker runs it)",
        description="Create an instance of NAME in the store and print its id; a running "
        "`wfkit worker` (or `wfkit run`, or a notebook engine) on the same store runs it.",
    )
    start.add_argument("name", metavar="NAME", help="the workflow to start")
    _input_flags(start)
    _settings_flags(start)
    start.set_defaults(func=cmd_start)

    for name, helptext in (
        ("get", "show an instance: status, steps, output or failure"),
        ("history", "show an instance's history events"),
        ("pause", "pause an instance between steps"),
        ("resume", "resume a paused instance"),
        ("terminate", "terminate an instance (and its children)"),
        ("purge", "delete a finished instance and its history"),
        ("retry", "run a failed instance again from its failed steps"),
    ):
        command = sub.add_parser(
            name, help=helptext, description=helptext[0].upper() + helptext[1:] + "."
        )
        command.add_argument("instance_id", metavar="ID", help="the instance id")
        if name == "resume":
            command.add_argument(
                "--step", action="store_true", help="run the next steps, then pause again"
            )
        if name == "terminate":
            command.add_argument("--reason", default="", help="why (kept in the failure details)")
        if name in ("terminate", "purge"):
            command.add_argument("--no-recursive", action="store_true", help="leave children alone")
        _settings_flags(command)
        command.set_defaults(func=_COMMANDS[name])

    raise_event = sub.add_parser(
        "raise-event",
        help="send an event to an instance",
        description="Send EVENT (case-insensitive) with JSON DATA to instance ID; it is buffered "
        "until a wait step for it consumes it.",
    )
    raise_event.add_argument("instance_id", metavar="ID", help="the instance id")
    raise_event.add_argument("event", metavar="EVENT", help="the event name (case-insensitive)")
    raise_event.add_argument(
        "data", metavar="DATA", nargs="?", help="JSON (text that is not JSON is sent as a string)"
    )
    _settings_flags(raise_event)
    raise_event.set_defaults(func=cmd_raise_event)

    listing = sub.add_parser(
        "list", help="list instances, newest first", description="List instances, newest first."
    )
    listing.add_argument(
        "--status", action="append", default=[], help="only this status (repeatable)"
    )
    listing.add_argument("--name", help="only this workflow")
    listing.add_argument("--limit", type=int, default=20, help="page size (default 20)")
    listing.add_argument("--after", metavar="ID", help="the page after this instance id")
    _settings_flags(listing)
    listing.set_defaults(func=cmd_list)

    worker = sub.add_parser(
        "worker",
        help="run instances from the store until stopped",
        description="Claim and run pending instances from the store (and take over those of "
        "crashed workers) until Ctrl-C, SIGTERM or --for SECONDS. On stderr it prints a line, "
        "with the local time, for each thing worth knowing: an instance picked up; a step "
        "completed (once for a whole foreach), skipped, failed (with its error), retried, or "
        "waiting for an event (with the `wfkit raise-event` command that sends it); a pause, "
        "a resume, a breakpoint; the instance's end, with its status and duration. -v prints "
        "every history event instead; --json every history event as JSON Lines on stdout.",
    )
    _settings_flags(
        worker,
        workers=True,
        json_help="print each history event as a line of JSON on stdout: at, instanceID, "
        "workflowName, type, seq, and step, index, attempt, status, failure when it has them",
    )
    worker.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print every history event, one line each (--json does too, as JSON)",
    )
    worker.add_argument(
        "--for",
        dest="duration",
        type=float,
        metavar="SECONDS",
        help="stop after this many seconds",
    )
    worker.set_defaults(func=cmd_worker)


def _input_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", help="the input as a JSON object")
    parser.add_argument(
        "-i",
        dest="inputs",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one input (VALUE is JSON, or text); repeatable",
    )
    parser.add_argument(
        "--id", dest="instance_id", default="", help="the instance id (default: a new uuid)"
    )


def _inputs(args: argparse.Namespace, runtime: Runtime) -> dict[str, Any]:
    """The start input from --input and -i; an -i value is JSON unless its input is
    declared as a string (so -i version=2024.06 stays text)."""
    declared = runtime.definition(args.name).inputs
    values: dict[str, Any] = {}
    if args.input:
        try:
            values = json.loads(args.input)
        except ValueError as exc:
            raise UsageError(f"--input is not JSON: {exc}") from None
        if not isinstance(values, dict):
            raise UsageError("--input must be a JSON object of named inputs")
    for item in args.inputs:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"-i takes KEY=VALUE, not {item!r}")
        spec = declared.get(key)
        values[key] = text if spec is not None and spec.type == "string" else _json_or_text(text)
    return values


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _runtime(args: argparse.Namespace, *, engine: bool, claim_free: bool = True) -> Runtime:
    from wfkit.runtime.api import Runtime
    from wfkit.runtime.settings import Settings

    settings = Settings.from_environment(
        definitions=args.definitions,
        store=args.store,
        workers=str(args.workers) if getattr(args, "workers", None) else None,
    )
    return Runtime(settings, run_engine=engine, claim_free=claim_free)


EXIT_TERMINATED_BY_SIGNAL = 128 + signal.SIGTERM


class _Stopped(Exception):
    """SIGTERM arrived while ``wfkit run`` was following its instance."""


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise _Stopped


def cmd_run(args: argparse.Namespace) -> int:
    """``wfkit run``: start and follow an instance in this process (only it and its
    children: the store's other free instances are left to workers).

    SIGTERM (from ``timeout``, a scheduler, ``kill``) stops the run as ``wfkit worker``
    stops: running steps are cancelled and the instance is released, still RUNNING, for
    the next worker; it is not paused, as Ctrl-C pauses it."""
    runtime = _runtime(args, engine=True, claim_free=False)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm) if in_main_thread else None
    instance_id = args.instance_id
    try:
        instance = runtime.start(args.name, _inputs(args, runtime), instance_id=args.instance_id)
        instance_id = instance.id
        return _follow(instance, args, sys.stderr)
    except _Stopped:
        if instance_id:
            print(
                f"\nstopped by SIGTERM; {instance_id} was released, not paused: the next "
                "`wfkit worker` on this store carries on with it",
                file=sys.stderr,
            )
        else:
            print("\nstopped by SIGTERM", file=sys.stderr)
        return EXIT_TERMINATED_BY_SIGNAL
    finally:
        if in_main_thread:  # signal handlers can only be set there
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one stop is enough: close in peace
        runtime.close()
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _follow(instance: Instance, args: argparse.Namespace, stream: Any) -> int:
    from wfkit.engine.status import RuntimeStatus

    progress = show.Progress(stream, instance.id)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    try:
        while True:
            state = instance.state()
            progress.update(instance.runtime.engine.plan_for(instance.row().definition_hash), state)
            if state.status.is_terminal:
                break
            if deadline is not None and time.monotonic() > deadline:
                progress.close()
                print(
                    f"still {state.status.value} after {args.timeout} s; it stays in the store: "
                    f"wfkit get {instance.id}",
                    file=stream,
                )
                return EXIT_SUSPENDED
            instance.runtime.engine.wait_committed(0.2)
    except KeyboardInterrupt:
        progress.close()
        instance.pause()
        print(
            f"\npaused {instance.id}; to go on: wfkit resume {instance.id} "
            "(then `wfkit worker`, or run a notebook engine, on the same store)",
            file=stream,
        )
        return EXIT_SUSPENDED
    progress.close()
    row = instance.row()
    if args.json:
        print(json.dumps(show.row_json(row), indent=2))
    else:
        print(show.summary(row))
    return EXIT_OK if row.status == RuntimeStatus.COMPLETED.value else EXIT_PROBLEMS


def cmd_start(args: argparse.Namespace) -> int:
    """``wfkit start``."""
    runtime = _runtime(args, engine=False)
    try:
        instance = runtime.start(args.name, _inputs(args, runtime), instance_id=args.instance_id)
        if args.json:
            print(json.dumps({"instanceID": instance.id}))
        else:
            print(instance.id)
            print(
                f"started {args.name} as {instance.id}; a `wfkit worker` on this store runs it",
                file=sys.stderr,
            )
    finally:
        runtime.close()
    return EXIT_OK


def cmd_get(args: argparse.Namespace) -> int:
    """``wfkit get``."""
    runtime = _runtime(args, engine=False)
    try:
        instance = runtime.instance(args.instance_id)
        row = instance.row()
        if args.json:
            data = show.row_json(row)
            data["steps"] = {k: show.step_json(v) for k, v in instance.steps.items()}
            print(json.dumps(data, indent=2))
        else:
            print(show.details(row, instance.steps))
    finally:
        runtime.close()
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    """``wfkit history``."""
    runtime = _runtime(args, engine=False)
    try:
        events = runtime.instance(args.instance_id).history()
        if args.json:
            print(json.dumps([show.event_json(e) for e in events], indent=2))
        else:
            print(show.history(events))
    finally:
        runtime.close()
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    """``wfkit list``."""
    runtime = _runtime(args, engine=False)
    try:
        rows = runtime.workflows.list(
            status=args.status,
            name=args.name,
            limit=args.limit,
            after=args.after,
        )
        if args.json:
            print(json.dumps([show.row_json(r) for r in rows], indent=2))
        else:
            print(show.table(rows))
            if len(rows) == args.limit:
                print(f"(more: --after {rows[-1].instance_id})", file=sys.stderr)
    finally:
        runtime.close()
    return EXIT_OK


def _lifecycle(args: argparse.Namespace) -> int:
    runtime = _runtime(args, engine=False)
    ops = runtime.workflows
    try:
        command = args.command
        if command == "pause":
            outcome = ops.pause(args.instance_id)
        elif command == "resume":
            outcome = ops.resume(args.instance_id, single_step=args.step)
        elif command == "terminate":
            outcome = ops.terminate(args.instance_id, args.reason, recursive=not args.no_recursive)
        elif command == "retry":
            outcome = ops.retry(args.instance_id)
        elif command == "purge":
            count = ops.purge(args.instance_id, recursive=not args.no_recursive)
            return _said(args, {"purged": count}, f"purged {count} instance(s)")
        else:  # raise-event
            outcome = ops.raise_event(args.instance_id, args.event, _data(args.data))
        row = ops.get(args.instance_id)
    finally:
        runtime.close()
    done = "no change" if outcome.value == "no_op" else "done"
    return _said(
        args,
        {"instanceID": row.instance_id, "outcome": outcome.value, "runtimeStatus": row.status},
        f"{args.command} {args.instance_id}: {done}; now {row.status}",
    )


def _data(text: str | None) -> Any:
    return None if text is None else _json_or_text(text)


def _said(args: argparse.Namespace, data: dict[str, Any], text: str) -> int:
    print(json.dumps(data) if args.json else text)
    return EXIT_OK


def cmd_raise_event(args: argparse.Namespace) -> int:
    """``wfkit raise-event``."""
    return _lifecycle(args)


def cmd_worker(args: argparse.Namespace) -> int:
    """``wfkit worker``: run instances until stopped (or until the reader of its --json
    output goes away), printing what happens: see :class:`wfkit.cli.worker_log.WorkerLog`."""
    stop = {"now": False}

    def on_signal(signum: int, frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    runtime = _runtime(args, engine=True)
    log = _worker_log(args, runtime)
    runtime.engine.hooks.append(log.hook)
    print(
        f"worker {runtime.engine.owner.id} on {runtime.settings.store}, "
        f"{runtime.settings.workers} step slots; Ctrl-C to stop",
        file=sys.stderr,
    )
    deadline = None if args.duration is None else time.monotonic() + args.duration
    try:
        while not (stop["now"] or log.closed) and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()
        why = " (its output was closed)" if log.closed else ""
        print(f"worker stopped{why}; its instances are free for other workers", file=sys.stderr)
    return EXIT_OK


def _worker_log(args: argparse.Namespace, runtime: Runtime) -> WorkerLog:
    """The worker's log in the form its flags ask for: JSON Lines on stdout, or lines for
    people on stderr (every event with -v)."""
    if args.json:
        return WorkerLog(sys.stdout, "json")
    form = "verbose" if args.verbose else "human"
    return WorkerLog(sys.stderr, form, plan_for=runtime.engine.plan_for)


_COMMANDS = {
    "get": cmd_get,
    "history": cmd_history,
    "pause": _lifecycle,
    "resume": _lifecycle,
    "terminate": _lifecycle,
    "purge": _lifecycle,
    "retry": _lifecycle,
}
