"""Commands that run instances in this process: ``run`` (one instance and its
children, in the foreground, with progress) and ``worker`` (whatever the store holds,
until stopped)."""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfkit.cli import show
from wfkit.cli.definitions import EXIT_OK, EXIT_PROBLEMS, UsageError
from wfkit.cli.new_store import NewStore
from wfkit.cli.options import (
    EXIT_STILL_RUNNING,
    EXIT_STORE_FAILING,
    EXIT_SUSPENDED,
    input_flags,
    inputs,
    more_than_zero,
    not_negative,
    open_runtime,
    run_file,
    settings_flags,
)
from wfkit.cli.worker_log import WorkerLog
from wfkit.errors import WfkitError

if TYPE_CHECKING:
    from wfkit.runtime.api import Instance

__all__ = ["register_run", "register_worker"]


def register_run(sub: Any) -> None:
    """Add ``wfkit run`` to the subcommand parsers."""
    run = sub.add_parser(
        "run",
        help="run a workflow here, showing progress, until it ends",
        description="Start workflow NAME (or the one the YAML file PATH defines) and run it "
        "in this process with live progress. "
        "Only it and its child workflows run here: other instances in the store are left "
        "to `wfkit worker`. A pause (a breakpoint, or `wfkit pause` from elsewhere) is "
        "said with the command that resumes it, and the run waits for the resume. Ctrl-C "
        "pauses the instance and says how to resume it; SIGTERM cancels the running steps "
        "and leaves the instance, still running, to the next worker. Exit 0 when it "
        "completes, 1 when it fails or is terminated, 2 on wrong usage, 3 when Ctrl-C left "
        "it paused, 4 when it has not ended after --timeout seconds (it stays in the store "
        "as it is: a `wfkit worker` carries it on), 5 when the store kept failing (a full "
        "disk...) for the store_outage_timeout setting's seconds (WFKIT_STORE_OUTAGE_TIMEOUT, "
        "default 60; nothing recorded is lost), 143 after SIGTERM.",
    )
    run.add_argument(
        "name",
        metavar="NAME|PATH",
        nargs="?",
        help="the workflow to run: its name, or the path of its YAML file (whose folder "
        "is then the definitions folder, for its child workflows and its steps' imports)",
    )
    run.add_argument(
        "--attach",
        metavar="ID",
        help="run nothing here: follow instance ID, which `wfkit worker` processes run "
        "(on this machine or others), until it ends, with the same progress and exit "
        "codes; it wakes on the store's change notifications, not a poll",
    )
    input_flags(run)
    run.add_argument(
        "--timeout",
        type=more_than_zero,
        metavar="SECONDS",
        help="stop waiting after this many seconds (more than 0) and exit 4; the "
        "instance stays in the store",
    )
    settings_flags(run, workers=True)
    run.set_defaults(func=cmd_run)


_EVENTS_HEARD = (
    "the events of each instance from the moment this worker takes it, those it commits "
    "and those others append meanwhile (such as `wfkit raise-event`'s), not those recorded "
    "before (such as the ExecutionStarted written by `wfkit start`)"
)
"""Which history events ``wfkit worker -v`` and ``--json`` print."""


def register_worker(sub: Any) -> None:
    """Add ``wfkit worker`` to the subcommand parsers."""
    worker = sub.add_parser(
        "worker",
        help="run instances from the store until stopped",
        description="Claim and run pending instances from the store (and take over those of "
        "crashed workers) until Ctrl-C, SIGTERM or --for SECONDS. On stderr it prints a line, "
        "with the local time, for each thing worth knowing: an instance picked up; a step "
        "completed (once for a whole foreach), skipped, failed (with its error), retried, or "
        "waiting for an event (with the `wfkit raise-event` command that sends it); a pause, "
        "a resume, a breakpoint; the instance's end, with its status and duration. -v prints "
        "instead a line per history event, --json the same events as JSON Lines on stdout: "
        + _EVENTS_HEARD
        + ". It refuses to start where there is neither a store nor a definitions folder.",
    )
    settings_flags(
        worker,
        workers=True,
        json_help="print a line of JSON on stdout per history event (at, instanceID, "
        "workflowName, type, seq, and step, index, attempt, status, failure when it has "
        "them): " + _EVENTS_HEARD,
    )
    worker.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print a line per history event instead of the default lines: " + _EVENTS_HEARD,
    )
    worker.add_argument(
        "--for",
        dest="duration",
        type=more_than_zero,
        metavar="SECONDS",
        help="stop after this many seconds (more than 0)",
    )
    worker.add_argument(
        "--grace",
        type=not_negative,
        default=DEFAULT_GRACE,
        metavar="SECONDS",
        help="when told to stop, give the steps still running up to this many seconds to "
        f"finish and be recorded, starting nothing new (default {DEFAULT_GRACE:g}; 0: stop "
        "at once; a second Ctrl-C or SIGTERM also stops at once)",
    )
    worker.set_defaults(func=cmd_worker)


EXIT_TERMINATED_BY_SIGNAL = 128 + signal.SIGTERM

DEFAULT_GRACE = 10.0
"""Seconds a stopping worker gives its running steps to finish, by default."""


class _Stopped(Exception):
    """SIGTERM arrived while ``wfkit run`` was following its instance."""


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise _Stopped


def cmd_run(args: argparse.Namespace) -> int:
    """``wfkit run``: start and follow an instance in this process (only it and its
    children: the store's other free instances are left to workers).

    SIGTERM (from ``timeout``, a scheduler, ``kill``) stops the run as ``wfkit worker``
    stops: running steps are cancelled and the instance is released, still RUNNING, for
    the next worker; it is not paused, as Ctrl-C pauses it. ``--attach ID`` follows an
    instance run elsewhere instead (:mod:`wfkit.cli.attach`)."""
    if args.attach is not None:
        from wfkit.cli.attach import attach

        return attach(args, sys.stderr)
    if args.name is None:
        raise UsageError("say which workflow to run (NAME or PATH), or --attach ID")
    run_file(args)
    new = NewStore(args)
    try:
        runtime = open_runtime(args, engine=True, claim_free=False)
    except BaseException:
        new.discard()
        raise
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm) if in_main_thread else None
    instance_id = args.instance_id
    refused = False  # the start was refused: nothing was stored
    try:
        try:
            instance = runtime.start(args.name, inputs(args, runtime), instance_id=instance_id)
        except (WfkitError, UsageError):
            refused = True
            raise
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
        if refused:  # a typo or a bad input leaves no empty store behind
            new.discard()
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _follow(instance: Instance, args: argparse.Namespace, stream: Any) -> int:
    from wfkit.engine.core.status import RuntimeStatus

    progress = show.Progress(stream, instance.id)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    # only the events committed since the last look: a look per commit must not read the
    # whole history again (following a long run was quadratic)
    reader = instance.follow()
    try:
        while True:
            state = reader.read()
            progress.update(state)
            if state.is_terminal:
                break
            if deadline is not None and time.monotonic() > deadline:
                progress.close()
                print(_still_there(instance.id, state.status, args.timeout), file=stream)
                return EXIT_STILL_RUNNING
            engine = instance.runtime.engine
            if engine.store_failing_for() > instance.runtime.settings.store_outage_timeout:
                progress.close()
                print(_store_failing(instance, engine.store_error), file=stream)
                return EXIT_STORE_FAILING
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
    if args.json:  # the same form as wfkit get --json
        print(json.dumps(show.instance_json(row, instance.steps), indent=2))
    else:
        print(show.summary(row))
    return EXIT_OK if row.status == RuntimeStatus.COMPLETED.value else EXIT_PROBLEMS


def _still_there(instance_id: str, status: str, timeout: float) -> str:
    """What ``wfkit run`` says when ``--timeout`` passed before its instance ended."""
    quoted = shlex.quote(instance_id)
    then = (
        f"wfkit resume {quoted}, then a `wfkit worker` carries it on"
        if status == "SUSPENDED"
        else "a `wfkit worker` on this store carries it on"
    )
    return f"still {status} after {timeout:g} s; it stays in the store ({then}): wfkit get {quoted}"


def _store_failing(instance: Instance, error: str) -> str:
    """What ``wfkit run`` says when it gives up on a store that keeps failing."""
    waited = instance.runtime.settings.store_outage_timeout
    return (
        f"\ngiving up: the store has failed for {waited:g} s ({error}). Nothing recorded is "
        f"lost: {instance.id} stays in the store as last recorded, and a `wfkit worker` on "
        "this store carries it on once the store works again (free disk space, or fix the "
        "store); set WFKIT_STORE_OUTAGE_TIMEOUT to wait longer"
    )


class _StopNow(Exception):
    """A second SIGTERM while the worker waits for its running steps."""


def cmd_worker(args: argparse.Namespace) -> int:
    """``wfkit worker``: run instances until stopped (or until the reader of its --json
    output goes away), printing what happens: see :class:`wfkit.cli.worker_log.WorkerLog`.

    Stopping is graceful: steps still running get ``--grace`` seconds to finish and be
    recorded, and nothing new starts, so that the next worker does not run them again;
    what is still running then is cancelled and left to the next worker."""
    stop = {"now": False, "draining": False}

    def on_signal(signum: int, frame: Any) -> None:
        if stop["draining"]:  # told again while running steps finish: stop at once
            raise _StopNow
        stop["now"] = True

    _something_to_do(args)
    signal.signal(signal.SIGTERM, on_signal)
    # a hook from the start, so that it hears of the first claims too: the snapshots it
    # is handed say all it prints
    log = _worker_log(args)
    runtime = open_runtime(args, engine=True, hooks=[log.hook])
    from wfkit.store import redact

    log.say(
        f"worker {runtime.engine.owner.id} on {redact(runtime.settings.store)}, "
        f"{runtime.settings.workers} step slots; Ctrl-C to stop"
    )
    deadline = None if args.duration is None else time.monotonic() + args.duration
    try:
        while not (stop["now"] or log.closed) and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        running = runtime.runner.unfinished()
        if args.grace > 0 and running:
            log.say(
                f"stopping: {running} running step(s) get up to {args.grace:g} s to finish "
                "and be recorded; Ctrl-C again to stop at once"
            )
            stop["draining"] = True
            try:
                runtime.close(drain=args.grace)
            except (KeyboardInterrupt, _StopNow):
                runtime.close()
        else:
            runtime.close()
        why = " (its output was closed)" if log.closed else ""
        print(f"worker stopped{why}; its instances are free for other workers", file=sys.stderr)
    return EXIT_OK


def _something_to_do(args: argparse.Namespace) -> None:
    """Refuse to start a worker (and create a store) where there is neither a store nor
    a definitions folder: nothing could ever be started there for it to run."""
    from wfkit.runtime.settings import Settings
    from wfkit.store import redact

    settings = Settings.from_environment(definitions=args.definitions, store=args.store)
    if NewStore(args).missing and not Path(settings.definitions).is_dir():
        raise UsageError(
            f"nothing to run here: there is no store at {redact(settings.store)} and no "
            "definitions "
            f"folder {settings.definitions!r}; start the worker where your definitions are, "
            "or point --definitions or --store (or $WFKIT_DEFINITIONS, $WFKIT_STORE) at them"
        )


def _worker_log(args: argparse.Namespace) -> WorkerLog:
    """The worker's log in the form its flags ask for: JSON Lines on stdout, or lines for
    people on stderr (every event with -v)."""
    if args.json:
        return WorkerLog(sys.stdout, "json")
    form = "verbose" if args.verbose else "human"
    return WorkerLog(sys.stderr, form)
