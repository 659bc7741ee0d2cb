"""A process the durability tests start and kill: a wfkit Runtime on a store.

    python durability_runner.py --store URL --definitions DIR [--workers N]
        [--start NAME ID INPUT_JSON]... [--wait ID]...
    python durability_runner.py --store URL --definitions DIR
        --race SECONDS --seed N --ledger FILE

Opens ``Runtime(Settings(definitions=..., store=..., workers=...))`` (its engine claims
every instance it may: unowned ones, and those of dead processes of this host), starts
each ``--start`` instance that is not in the store yet, prints ``ready``, and runs until
every ``--wait`` instance is terminal (forever without ``--wait``). Then it prints ``done``
and closes the runtime.

With ``--race``, it runs no engine: for SECONDS it fires pause, resume, raise_event (and,
on every third instance, terminate) at random active instances of the store, as fast as
it can, and writes one JSON line per operation to the ledger file. Not a test module:
pytest does not collect it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import signal
import sys
import time

from wfkit.engine.core.status import RuntimeStatus
from wfkit.errors import IllegalTransition, InstanceAlreadyExists
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", required=True)
    parser.add_argument("--definitions", required=True)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--start", nargs=3, action="append", default=[])
    parser.add_argument("--wait", action="append", default=[])
    parser.add_argument("--race", type=float)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ledger")
    args = parser.parse_args(argv)
    if args.race is not None:
        return race(args)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    runtime = Runtime(
        Settings(definitions=args.definitions, store=args.store, workers=args.workers)
    )
    try:
        for name, instance_id, text in args.start:
            if runtime.store.get(instance_id) is None:
                with contextlib.suppress(InstanceAlreadyExists):  # another process was first
                    runtime.start(name, json.loads(text), instance_id=instance_id)
        print("ready", flush=True)
        while not stop["now"]:
            rows = [runtime.store.get(i) for i in args.wait]
            if args.wait and all(r and RuntimeStatus(r.status).is_terminal for r in rows):
                break
            time.sleep(0.05)
        print("done", flush=True)
    finally:
        runtime.close()
    return 0


ACTIVE = ["PENDING", "RUNNING", "SUSPENDED"]


def race(args: argparse.Namespace) -> int:
    """Random lifecycle operations from this process (no engine here) for a while."""
    rng = random.Random(args.seed)
    settings = Settings(definitions=args.definitions, store=args.store, workers=1)
    runtime = Runtime(settings, run_engine=False)
    ops = runtime.workflows
    count = 0
    refreshed, ids = 0.0, []
    until = time.monotonic() + args.race
    print("ready", flush=True)
    with open(args.ledger, "a") as ledger:
        while time.monotonic() < until:
            if time.monotonic() > refreshed:
                ids = [r.instance_id for r in ops.list(status=ACTIVE, limit=1000)]
                refreshed = time.monotonic() + 0.1
            if not ids:
                time.sleep(0.01)
                continue
            instance_id = rng.choice(ids)
            terminable = int(instance_id[-2:]) % 3 == 0
            op = rng.choices(
                ["pause", "resume", "raise", "terminate"], [35, 40, 15, 2 if terminable else 0]
            )[0]
            data = None
            try:
                if op == "pause":
                    outcome = ops.pause(instance_id).value
                elif op == "resume":
                    outcome = ops.resume(instance_id).value
                elif op == "terminate":
                    outcome = ops.terminate(instance_id, "racing process").value
                else:
                    count += 1
                    data = {"by": f"proc{args.seed}", "n": count}
                    outcome = ops.raise_event(instance_id, "pING", data).value
            except IllegalTransition:
                outcome = "refused"
            except Exception as exc:  # the test fails on these
                outcome = f"error: {type(exc).__name__}: {exc}"
            line = {"instance": instance_id, "op": op, "outcome": outcome, "data": data}
            ledger.write(json.dumps(line) + "\n")
            ledger.flush()
            time.sleep(rng.uniform(0, 0.01))
    runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
