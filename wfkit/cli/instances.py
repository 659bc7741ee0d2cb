"""Commands about instances that need no engine here: start, get, history, list,
pause, resume, terminate, retry and raise-event (purge is in :mod:`wfkit.cli.store_cmds`).

They are clients: they read the store or append one event, and the process that owns
the instance (a ``wfkit worker``, a ``wfkit run``, a notebook engine) reacts. The
commands that run instances here are in :mod:`wfkit.cli.running`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from wfkit.cli import show
from wfkit.cli.definitions import EXIT_OK
from wfkit.cli.options import (
    at_least_one,
    input_flags,
    inputs,
    json_or_text,
    open_runtime,
    settings_flags,
)

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the client commands about instances to the subcommand parsers."""
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
        if name == "terminate":
            command.add_argument("--no-recursive", action="store_true", help="leave children alone")
        settings_flags(command)
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
    settings_flags(raise_event)
    raise_event.set_defaults(func=cmd_raise_event)

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
    runtime = open_runtime(args, engine=False)
    try:
        instance = runtime.start(args.name, inputs(args, runtime), instance_id=args.instance_id)
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
    return None if text is None else json_or_text(text)


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
