"""A ``wfkit worker`` SIGKILLed while a step runs: readers (``wfkit get``, ``list``,
``--json``, the instance view) say that the RUNNING instance has no live owner; the next
owner records the abandoned attempt (which owner, when) before it runs the step again
as attempt 2, whose duration is its own; a step without retry does not fail for it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from durability_support import (
    Proc,
    Sandbox,
    history,
    make_sandbox,
    open_store,
    owner_row,
    poll_until,
    read_journal,
    spawn_worker,
    wait_worker_ready,
)

from wfkit.engine.core.history import TaskAbandoned, TaskCompleted, TaskScheduled
from wfkit.engine.core.status import RuntimeStatus
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings
from wfkit.views.instance import instance_view, summary_text


def _client(box: Sandbox) -> Runtime:
    """Lifecycle calls and reads from this (test) process, with no engine of its own."""
    return Runtime(
        Settings(definitions=str(box.definitions), store=box.store_url, workers=1),
        run_engine=False,
    )


def _killed_mid_step(box: Sandbox, instance_id: str, flag: Path) -> tuple[Proc, str]:
    """Start ``holding`` on a worker, SIGKILL the worker while its ``held`` step runs;
    returns the dead worker and its owner id."""
    worker = spawn_worker(box, "a", workers=2)
    wait_worker_ready(box, worker)
    with _client(box) as client:
        client.start("holding", {"flag": str(flag)}, instance_id=instance_id)
    poll_until(flag.exists, 30, "the held step to run")
    owner, pid, _ = owner_row(box, instance_id)
    assert pid == worker.pid and owner is not None
    worker.kill()
    return worker, owner


def test_the_next_owner_records_the_abandoned_attempt_before_running_it_again(
    tmp_path: Path,
) -> None:
    box = make_sandbox(tmp_path)
    iid = "lost-1"
    dead, dead_owner = _killed_mid_step(box, iid, tmp_path / "held.flag")
    store = open_store(box)
    second = spawn_worker(box, "b", workers=2)
    try:
        poll_until(
            lambda: store.get(iid).status == RuntimeStatus.COMPLETED.value, 60, "the takeover"
        )
        events = history(store, iid)
        held = [e for e in events if getattr(e, "step", None) == "held"]
        kinds = [(type(e).__name__, e.attempt) for e in held]  # type: ignore[attr-defined]
        assert kinds == [
            ("TaskScheduled", 1),
            ("TaskAbandoned", 1),  # recorded, and committed, before the re-run
            ("TaskScheduled", 2),
            ("TaskCompleted", 2),
        ]
        lost = held[1]
        assert isinstance(lost, TaskAbandoned) and lost.owner == dead_owner
        assert lost.lost_at is not None and held[0].at <= lost.lost_at <= lost.at
        assert lost.seq < held[2].seq
        journal = [(line.task, line.generation) for line in read_journal(box)]
        assert journal == [("before", "a"), ("held", "a"), ("held", "b"), ("after", "b")]
        with _client(box) as client:
            step = client.instance(iid).steps["held"]
        assert step.status == "completed" and step.attempts == 2
        rerun, done = held[2], held[3]
        assert isinstance(rerun, TaskScheduled) and isinstance(done, TaskCompleted)
        assert (step.started_at, step.ended_at) == (rerun.at, done.at)  # not the dead one's
        second.stop()
        said = box.log("b").read_text()
        assert "step held attempt 1 was abandoned: its owner " in said, said
        assert "it runs again as attempt 2" in said
    finally:
        dead.kill()
        second.stop()
        store.close()


def _wfkit(box: Sandbox, *args: str) -> str:
    """``python -m wfkit ARGS`` on the sandbox store (reads only: no engine runs)."""
    argv = [sys.executable, "-m", "wfkit", *args, "--store", box.store_url]
    done = subprocess.run(
        argv, cwd=box.root, env=box.env("cli"), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_get_list_and_the_instance_view_show_that_a_killed_worker_owns_nothing(
    tmp_path: Path,
) -> None:
    """RUNNING in the store, but its worker is dead: readers say so (and who it was),
    instead of showing a run that looks carried on."""
    box = make_sandbox(tmp_path)
    iid = "stale-1"
    flag = tmp_path / "held.flag"
    worker = spawn_worker(box, "a", workers=2)
    try:
        wait_worker_ready(box, worker)
        with _client(box) as client:
            client.start("holding", {"flag": str(flag)}, instance_id=iid)
        poll_until(flag.exists, 30, "the held step to run")
        host_pid = f"{socket.gethostname()}:{worker.pid}"
        alive = _wfkit(box, "get", iid)
        assert f"owner     owned by worker {host_pid}, lease good for " in alive, alive
        worker.kill()
        shown = _wfkit(box, "get", iid)
        assert "status    RUNNING" in shown
        assert (
            f"owner     no live owner: worker {host_pid} (its process on this host) has "
            "exited; a worker on this host takes it over at once"
        ) in shown, shown
        got = json.loads(_wfkit(box, "get", iid, "--json"))
        assert got["runtimeStatus"] == "RUNNING"
        assert got["owner"]["state"] == "lost" and got["owner"]["processGone"] is True
        assert got["owner"]["owner"].startswith(host_pid + ":")
        assert got["properties"]["wfkit.owner.state"] == "lost"
        assert got["properties"]["wfkit.owner"] == got["owner"]["owner"]
        listed = _wfkit(box, "list").splitlines()
        assert "OWNER" in listed[0]
        line = next(row for row in listed if row.startswith(iid))
        assert f"LOST ({host_pid} exited)" in line, listed
        with _client(box) as client:  # the notebook's view of the instance, and its widget
            view = instance_view(client.instance(iid))
            assert view.owner_state == "lost" and view.status == "RUNNING"
            assert "no live owner" in summary_text(view), summary_text(view)
    finally:
        worker.kill()
