"""``wfkit run --attach ID``: follow an instance that workers run elsewhere, as a client.

Nothing runs here: no engine, no step. The command shows the instance's progress as
``wfkit run`` does and exits with the same codes when it ends. It reads the store only
when the store tells of a change (:meth:`Store.wait_for_change
<wfkit.engine.protocols.Store.wait_for_change>`: PostgreSQL's ``NOTIFY`` from any
machine, the SQLite file's change counter on one), at most every ``MIN_GAP`` seconds, and
each read takes only the events recorded since the last one. A store that fails is
tried again with pauses, for up to the ``store_outage_timeout`` setting's seconds.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from wfkit.cli import show
from wfkit.cli.definitions import EXIT_OK, EXIT_PROBLEMS, UsageError
from wfkit.cli.options import EXIT_STILL_RUNNING, EXIT_STORE_FAILING, EXIT_SUSPENDED, open_runtime
from wfkit.errors import StoreError

__all__ = ["MAX_WAIT", "MIN_GAP", "attach"]

MIN_GAP = 0.05
"""Seconds at least between two reads of the instance, however busy the store."""

MAX_WAIT = 30.0
"""Seconds at most between two reads when the store tells of no change (a safety net)."""


def attach(args: argparse.Namespace, stream: Any) -> int:
    """Follow instance ``args.attach`` until it ends (or ``--timeout``); returns the exit
    code ``wfkit run`` would: 0 completed, 1 failed or terminated, 4 still running after
    ``--timeout``, 5 when the store kept failing; Ctrl-C stops following (3) and leaves
    the instance alone."""
    if args.name is not None:
        raise UsageError("give either a workflow to run or --attach ID, not both")
    from wfkit.engine.core.status import RuntimeStatus

    runtime = open_runtime(args, engine=False, create_store=False)
    try:
        instance = runtime.instance(args.attach)
        store = runtime.store
        progress = show.Progress(stream, instance.id)
        deadline = None if args.timeout is None else time.monotonic() + args.timeout
        reader = instance.follow()
        token = store.wait_for_change(0)  # before the first read: a later commit moves it
        failing_since: float | None = None
        try:
            while True:
                try:
                    state = reader.read()
                    failing_since = None
                except StoreError as exc:
                    failing_since = failing_since or time.monotonic()
                    if time.monotonic() - failing_since > runtime.settings.store_outage_timeout:
                        progress.close()
                        print(f"\ngiving up: the store keeps failing ({exc})", file=stream)
                        return EXIT_STORE_FAILING
                    time.sleep(1.0)
                    continue
                progress.update(state)
                if state.is_terminal:
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    progress.close()
                    print(f"\nstill {state.status} after {args.timeout:g} s", file=stream)
                    return EXIT_STILL_RUNNING
                read_at = time.monotonic()
                token = _wait(store, token, MAX_WAIT if left is None else min(left, MAX_WAIT))
                time.sleep(max(0.0, read_at + MIN_GAP - time.monotonic()))
        except KeyboardInterrupt:
            progress.close()
            print(f"\nstopped following {instance.id}; it runs on", file=stream)
            return EXIT_SUSPENDED
        progress.close()
        row = instance.row()
        if args.json:
            print(json.dumps(show.instance_json(row, instance.steps), indent=2))
        else:
            print(show.summary(row))
        return EXIT_OK if row.status == RuntimeStatus.COMPLETED.value else EXIT_PROBLEMS
    finally:
        runtime.close()


def _wait(store: Any, token: int, timeout: float) -> int:
    """The store's next change token (``token`` after ``timeout``); a failing store
    counts as a change, so the next read says whether it still fails."""
    try:
        return int(store.wait_for_change(timeout, after=token))
    except StoreError:
        return token + 1
