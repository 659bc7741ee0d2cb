"""Commands about instances that need no engine here: start, get, history, list,
pause, resume, terminate, retry and raise-event (purge is in :mod:`wfkit.cli.store_cmds`).

They are clients: they read the store or append one event, and the process that owns
the instance (a ``wfkit worker``, a ``wfkit run``, a notebook engine) reacts. The
commands that run instances here are in :mod:`wfkit.cli.running`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import warnings
from typing import TYPE_CHECKING, Any

from wfkit.cli import show
from wfkit.cli.definitions import EXIT_OK, UsageError
from wfkit.cli.new_store import NewStore
from wfkit.cli.options import (
    as_usage,
    at_least_one,
    input_flags,
    inputs,
    open_runtime,
    settings_flags,
    yaml_path,
)
from wfkit.errors import WfkitError

if TYPE_CHECKING:
    from wfkit.engine.core.status import Outcome
    from wfkit.engine.loop.operations import Workflows

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the client commands about instances to the subcommand parsers."""
    _register_start(sub)
    _register_lifecycle(sub)
    _register_raise_event(sub)
    _register_list(sub)


def _register_start(sub: Any) -> None:
    start = sub.add_parser(
        "start",
        help="start a workflow instance (a worker runs it)",
        description="Create an instance of NAME in the store and print its id; a running "
        "`wfkit worker` (or `wfkit run`, or a notebook engine) on the same store runs it.",
    )
    start.add_argument("name", metavar="NAME", help="the workflow to start")
    input_flags(start)
    settings_flags(start)
    start.set_defaults(func=cmd_start)


def _register_lifecycle(sub: Any) -> None:
    for name, helptext in (
        ("get", "show an instance: status, steps, output or failure"),
        ("history", "show an instance's history events"),
        ("pause", "pause an instance between steps"),
        ("resume", "resume a paused instance"),
        ("terminate", "terminate an instance (and its children)"),
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
            command.add_argument("--no-recursive", action="store_true", help="leave children alone")
        settings_flags(command)
        command.set_defaults(func=_COMMANDS[name])


def _register_raise_event(sub: Any) -> None:
    raise_event = sub.add_parser(
        "raise-event",
        help="send an event to an instance",
        description="Send EVENT (case-insensitive) with JSON DATA to instance ID; it is buffered "
        "until a wait step for it consumes it. A name that no wait step of the instance's "
        "workflow takes is sent with a warning that lists the names it waits for; an empty "
        "name, one with control characters or one over 200 characters is refused.",
    )
    raise_event.add_argument("instance_id", metavar="ID", help="the instance id")
    raise_event.add_argument("event", metavar="EVENT", help="the event name (case-insensitive)")
    raise_event.add_argument(
        "data",
        metavar="DATA",
        nargs="?",
        help="the event's data as JSON (default null); - reads it from standard input "
        "(for data past the 128 KiB a command-line argument may hold); JSON that is wrong "
        "is an error with its line and column, nothing is sent",
    )
    raise_event.add_argument(
        "--text",
        metavar="TEXT",
        help="send TEXT, as it is, as the data (a JSON string), instead of DATA",
    )
    settings_flags(raise_event)
    raise_event.set_defaults(func=cmd_raise_event)


def _register_list(sub: Any) -> None:
    listing = sub.add_parser(
        "list", help="list instances, newest first", description="List instances, newest first."
    )
    listing.add_argument(
        "--status", action="append", default=[], help="only this status (repeatable)"
    )
    listing.add_argument("--name", help="only this workflow")
    listing.add_argument(
        "--limit", type=at_least_one, default=20, help="page size, at least 1 (default 20)"
    )
    listing.add_argument("--after", metavar="ID", help="the page after this instance id")
    settings_flags(listing)
    listing.set_defaults(func=cmd_list)


def cmd_start(args: argparse.Namespace) -> int:
    """``wfkit start``."""
    if yaml_path(args.name) is not None:
        raise UsageError(
            "start takes a workflow name, not a file: the instance is run by a `wfkit worker` "
            "with its own definitions folder; put the file there and start it by name, or "
            f"run it here: wfkit run {shlex.quote(args.name)}"
        )
    new = NewStore(args)
    runtime = None
    refused = False  # the start was refused: nothing was stored
    try:
        try:
            runtime = open_runtime(args, engine=False)
            values = inputs(args, runtime)
            instance = runtime.start(args.name, values, instance_id=args.instance_id)
        except (WfkitError, UsageError):
            refused = True
            raise
        if args.json:
            print(json.dumps({"instanceID": instance.id}))
        else:
            print(instance.id)
            print(
                f"started {args.name} as {instance.id}; a `wfkit worker` on this store runs it",
                file=sys.stderr,
            )
    finally:
        if runtime is not None:
            runtime.close()
        if refused:  # a typo or a bad input leaves no empty store behind
            new.discard()
    return EXIT_OK


def cmd_get(args: argparse.Namespace) -> int:
    """``wfkit get``."""
    runtime = open_runtime(args, engine=False, create_store=False)
    try:
        instance = runtime.instance(args.instance_id)
        row = instance.row()
        if args.json:
            print(json.dumps(show.instance_json(row, instance.steps), indent=2))
        else:
            print(show.details(row, instance.steps))
    finally:
        runtime.close()
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    """``wfkit history``."""
    runtime = open_runtime(args, engine=False, create_store=False)
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
    runtime = open_runtime(args, engine=False, create_store=False)
    try:
        # one row more than the page: whether another page follows
        rows = runtime.workflows.list(
            status=args.status,
            name=args.name,
            limit=args.limit + 1,
            after=args.after,
        )
    finally:
        runtime.close()
    page = rows[: args.limit]
    if args.json:
        print(json.dumps([show.row_json(r) for r in page], indent=2))
    else:
        print(show.table(page))
        if len(rows) > len(page):
            print(f"(more: --after {page[-1].instance_id})", file=sys.stderr)
    return EXIT_OK


def _lifecycle(args: argparse.Namespace) -> int:
    runtime = open_runtime(args, engine=False, create_store=False)
    ops = runtime.workflows
    warning = ""
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
        else:  # raise-event
            outcome, warning = _raise_event(ops, args)
        row = ops.get(args.instance_id)
    finally:
        runtime.close()
    done = "no change" if outcome.value == "no_op" else "done"
    said = {"instanceID": row.instance_id, "outcome": outcome.value, "runtimeStatus": row.status}
    if warning:
        said["warning"] = warning
        print(f"wfkit {args.command}: warning: {warning}", file=sys.stderr)
    return _said(args, said, f"{args.command} {args.instance_id}: {done}; now {row.status}")


def _raise_event(ops: Workflows, args: argparse.Namespace) -> tuple[Outcome, str]:
    """Send the event; the outcome, and the text of the :class:`UnknownEventWarning`
    when no wait step of the instance's workflow takes it (else an empty string)."""
    from wfkit.errors import UnknownEventWarning

    data = _data(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownEventWarning)
        outcome = ops.raise_event(args.instance_id, args.event, data)
    heard = [str(w.message) for w in caught if issubclass(w.category, UnknownEventWarning)]
    return outcome, "; ".join(heard)


def _data(args: argparse.Namespace) -> Any:
    """The event data: DATA read as JSON, or the text of ``--text``."""
    from wfkit.runtime.textjson import parse_json

    if args.text is not None:
        if args.data is not None:
            raise UsageError("give the data either as DATA (JSON) or as --text TEXT, not both")
        return args.text
    if args.data is None:
        return None
    if args.data == "-":
        args.data = _stdin_text()
    data = args.data if len(args.data) <= 40 else "DATA"
    words = " ".join(shlex.quote(w) for w in (args.instance_id, args.event))
    hint = "to send it as a string instead, add --text: "
    hint += f"wfkit raise-event {words} --text {shlex.quote(data)}"
    return as_usage(parse_json, args.data, "DATA", hint)


def _stdin_text() -> str:
    """All of standard input, as UTF-8 text (``raise-event ID EVENT -``)."""
    try:
        return sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"DATA read from standard input is not UTF-8 text (byte {exc.start}); "
            "JSON must be UTF-8"
        ) from None


def _said(args: argparse.Namespace, data: dict[str, Any], text: str) -> int:
    print(json.dumps(data) if args.json else text)
    return EXIT_OK


def cmd_raise_event(args: argparse.Namespace) -> int:
    """``wfkit raise-event``."""
    return _lifecycle(args)


_COMMANDS = {
    "get": cmd_get,
    "history": cmd_history,
    "pause": _lifecycle,
    "resume": _lifecycle,
    "terminate": _lifecycle,
    "retry": _lifecycle,
}
