"""Commands that look after the store: ``purge`` (one instance, or every ended one that
matches ``--status`` and ``--before``) and ``db vacuum`` (give free space back to the
disk, and switch a store made by an earlier wfkit to do so by itself)."""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from typing import Any

from wfkit.cli.definitions import EXIT_OK, UsageError
from wfkit.cli.options import open_runtime, settings_flags

__all__ = ["parse_before", "register"]

_PURGE = (
    "Delete ended instances (COMPLETED, FAILED, TERMINATED, CANCELED) and their histories: "
    "instance ID, or every one that matches --status and --before (at least one of them), "
    "with their child workflows unless --no-recursive. Running instances are never "
    "deleted. A bulk purge walks the store once, in batches of short transactions, so "
    "workers go on meanwhile; the space freed is given back to the disk (a store made by "
    "an earlier wfkit needs `wfkit db vacuum` once for that)."
)


def register(sub: Any) -> None:
    """Add ``purge`` and ``db`` to the subcommand parsers."""
    purge = sub.add_parser(
        "purge", help="delete ended instances and their histories", description=_PURGE
    )
    purge.add_argument("instance_id", metavar="ID", nargs="?", help="one instance id")
    purge.add_argument(
        "--status",
        action="append",
        default=[],
        help="only ended instances with this status (repeatable; default: any ended one)",
    )
    purge.add_argument(
        "--before",
        type=parse_before,
        metavar="WHEN",
        help="only instances last updated before WHEN: a time (2026-01-31, "
        "2026-01-31T18:00, local time unless it has a zone such as Z) or an age (7d, 12h, "
        "30m: that long ago)",
    )
    purge.add_argument("--no-recursive", action="store_true", help="leave children alone")
    settings_flags(purge)
    purge.set_defaults(func=cmd_purge)

    db = sub.add_parser(
        "db",
        help="look after the store file (db vacuum)",
        description="Look after the store file. `wfkit db vacuum` rebuilds it without its "
        "free pages (SQLite's VACUUM) and prints its size before and after. Purges give "
        "space back by themselves in stores made by this wfkit; a store made by an earlier "
        "one is switched to that by its first vacuum. The store is locked while it runs "
        "(about a second per 100 MB): workers wait, then go on.",
    )
    db.add_argument("action", choices=["vacuum"], help="what to do: vacuum")
    settings_flags(db)
    db.set_defaults(func=cmd_vacuum)


def parse_before(text: str) -> float:
    """An argparse ``type``: ``--before``'s time (ISO 8601) or age (``7d``), as epoch
    seconds."""
    from wfkit.definition.durations import parse_duration

    try:
        return time.time() - parse_duration(text).seconds
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a time such as 2026-01-31 or 2026-01-31T18:00Z, or an age such as 7d "
            f"or 12h, not {text[:40]!r}"
        ) from None
    try:
        return moment.timestamp()  # a time without a zone is local time
    except (ValueError, OverflowError):  # 0001-01-01 local time is before year 1 in UTC
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is out of range: give a time between the years 2 and 9999"
        ) from None


def cmd_purge(args: argparse.Namespace) -> int:
    """``wfkit purge``: one instance, or every ended one that matches the filters."""
    bulk = bool(args.status) or args.before is not None
    if args.instance_id and bulk:
        raise UsageError("give an instance ID, or --status/--before, not both")
    if not args.instance_id and not bulk:
        raise UsageError(
            "say what to purge: an instance ID, or --status and/or --before "
            "(wfkit purge --status COMPLETED --before 30d)"
        )
    runtime = open_runtime(args, engine=False, create_store=False)
    try:
        recursive = not args.no_recursive
        if args.instance_id:
            count = runtime.workflows.purge(args.instance_id, recursive=recursive)
        else:
            count = runtime.workflows.purge_ended(
                status=args.status, before=args.before, recursive=recursive
            )
    finally:
        runtime.close()
    print(json.dumps({"purged": count}) if args.json else f"purged {count} instance(s)")
    return EXIT_OK


def cmd_vacuum(args: argparse.Namespace) -> int:
    """``wfkit db vacuum``."""
    runtime = open_runtime(args, engine=False, create_store=False)
    try:
        before = runtime.store.space()
        after = runtime.workflows.reclaim(full=True)
    finally:
        runtime.close()
    if args.json:
        print(json.dumps({"before": before.to_dict(), "after": after.to_dict()}))
    else:
        then = (
            "freed space now goes back to the disk by itself"
            if after.incremental
            else "later purges free space for reuse; run this again to give it back"
        )
        print(
            f"store file: {_mb(before.file_bytes)} before ({_mb(before.free_bytes)} free), "
            f"{_mb(after.file_bytes)} after; {then}"
        )
    return EXIT_OK


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
