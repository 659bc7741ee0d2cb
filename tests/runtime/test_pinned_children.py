"""A run is pinned to its children's definitions too: editing or deleting a child's (or
grandchild's) YAML file while the parent waits never changes the run, in this process or
after a restart; runs stored before pinning look their children up by name as before."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import wfkit
from wfkit.engine.core.history import ExecutionStarted
from wfkit.engine.loop.records import load_history
from wfkit.store import SqliteStore

PARENT = """\
wfkit: 1
name: parent
steps:
  gate: {wait: {event: go}}
  kid: {workflow: child, needs: [gate]}
output: ${{ steps.kid.output }}
"""


def _child(tag: str) -> str:
    return f"""\
wfkit: 1
name: child
steps:
  grand: {{workflow: grandchild}}
output: {{child: {tag}, grand: "${{{{ steps.grand.output }}}}"}}
"""


def _grandchild(tag: str) -> str:
    return f"wfkit: 1\nname: grandchild\nsteps:\n  nap: {{sleep: 0}}\noutput: {tag}\n"


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "parent.yaml").write_text(PARENT)
    (folder / "child.yaml").write_text(_child("original"))
    (folder / "grandchild.yaml").write_text(_grandchild("original"))
    return folder


def _edit_then_delete(folder: Path, runtime: wfkit.Runtime | None = None) -> None:
    """Edit both descendants (and let the runtime see it), then delete their files."""
    (folder / "child.yaml").write_text(_child("edited"))
    (folder / "grandchild.yaml").write_text(_grandchild("edited"))
    if runtime is not None:
        runtime.reload()
        assert runtime.definition("child").source == _child("edited")
    (folder / "child.yaml").unlink()
    (folder / "grandchild.yaml").unlink()
    if runtime is not None:
        runtime.reload()
        assert "child" not in runtime.catalog


def _unpin(db: Path, instance_id: str) -> None:
    """Make the run's first event as wfkit wrote it before pinning (no ``pinned``)."""
    with sqlite3.connect(db) as conn:
        key, data = conn.execute(
            "SELECT h.event_key, h.data FROM history h JOIN instances i "
            "ON h.instance_no = i.instance_no WHERE i.instance_id = ? ORDER BY h.event_key",
            (instance_id,),
        ).fetchone()
        lines = data.split("\n")  # one line per event of the append
        first = json.loads(lines[0])
        del first["pinned"]
        lines[0] = json.dumps(first, separators=(",", ":"))
        conn.execute("UPDATE history SET data = ? WHERE event_key = ?", ("\n".join(lines), key))


WFKIT = (sys.executable, "-m", "wfkit")
ORIGINAL = {"child": "original", "grand": "original"}


def test_children_start_from_the_text_pinned_when_the_parent_started(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    store = f"sqlite:///{tmp_path / 'wf.db'}"
    with wfkit.open(definitions=folder, store=store, workers=2) as runtime:
        job = runtime.start("parent")
        job.wait(30, until="waiting")
        _edit_then_delete(folder, runtime)
        job.raise_event("go")
        job.wait(30)
        assert job.status.value == "COMPLETED", job.failure
        assert job.output == ORIGINAL


def test_the_pins_are_in_the_store_and_hold_across_a_restart(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    db = tmp_path / "wf.db"
    store = f"sqlite:///{db}"
    started = subprocess.run(
        [*WFKIT, "start", "parent", "--id", "p1", "--definitions", str(folder), "--store", store],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "p1" in started.stdout
    _edit_then_delete(folder)  # before any engine of this process ever saw the files
    # one map per run (name -> hash); each text once in the store's definitions
    first = load_history(SqliteStore(str(db)), "p1")[0]
    assert isinstance(first, ExecutionStarted) and first.pinned is not None
    assert sorted(first.pinned) == ["child", "grandchild"]
    with wfkit.open(definitions=folder, store=store, workers=2) as runtime:
        job = runtime.instance("p1")
        job.wait(30, until="waiting")
        job.raise_event("go")
        job.wait(30)
        assert job.status.value == "COMPLETED", job.failure
        assert job.output == ORIGINAL
        kid = runtime.instance("p1:1")
        kid_started = kid.history()[0]
        assert isinstance(kid_started, ExecutionStarted)
        assert kid_started.definition_hash == first.pinned["child"]
        assert kid_started.pinned == {"grandchild": first.pinned["grandchild"]}


def test_a_run_stored_without_pins_looks_its_children_up_by_name(tmp_path: Path) -> None:
    """What wfkit wrote before pinning (no ``pinned`` in ExecutionStarted): a child starts
    from the folder as it is then."""
    folder = _folder(tmp_path)
    db = tmp_path / "wf.db"
    store = f"sqlite:///{db}"
    with wfkit.open(definitions=folder, store=store, workers=2) as runtime:
        job = runtime.start("parent", instance_id="old")
        job.wait(30, until="waiting")
    _unpin(db, "old")
    (folder / "child.yaml").write_text(_child("edited"))
    with wfkit.open(definitions=folder, store=store, workers=2) as runtime:
        job = runtime.instance("old")
        assert isinstance(job.history()[0], ExecutionStarted)
        assert job.history()[0].pinned is None  # type: ignore[attr-defined]
        job.raise_event("go")
        job.wait(30)
        assert job.output == {"child": "edited", "grand": "original"}
