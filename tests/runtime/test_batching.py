"""Results that finish together are committed together, even on one worker: a fan-out
must not cost one commit per step (on a one-CPU machine the default is one worker)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import wfkit

STEPS = "def work(n=0):\n    return n\n"


def _fan(width: int) -> str:
    lines = ["wfkit: 1", "name: fan", "steps:", '  src: {call: "fansteps:work"}']
    for i in range(width):
        lines.append(f'  s{i}: {{call: "fansteps:work", with: {{n: {i}}}, needs: [src]}}')
    needs = ", ".join(f"s{i}" for i in range(width))
    lines.append(f'  sink: {{call: "fansteps:work", needs: [{needs}]}}')
    return "\n".join(lines) + "\n"


def _commits(db: Path, instance_id: str) -> int:
    with sqlite3.connect(db) as conn:
        (number,) = conn.execute(
            "SELECT instance_no FROM instances WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        (rows,) = conn.execute(
            "SELECT count(*) FROM history WHERE instance_no = ?", (number,)
        ).fetchone()
    return int(rows)  # one history row per append: a commit


def test_a_fan_out_on_one_worker_commits_its_results_in_batches(tmp_path: Path) -> None:
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "fansteps.py").write_text(STEPS)
    (folder / "fan.yaml").write_text(_fan(200))
    db = tmp_path / "s.db"
    runtime = wfkit.open(definitions=str(folder), store=f"sqlite:///{db}", workers=1)
    try:
        job = runtime.run("fan", timeout=60)
        assert job.status == "COMPLETED"
        assert [job.steps[f"s{i}"].output for i in range(200)] == list(range(200))
        history = job.history()
    finally:
        runtime.close()
    completed = [e for e in history if type(e).__name__ == "TaskCompleted"]
    assert len(completed) == 202  # each once
    # one commit per step would be 200 and more; batches make it a handful
    assert _commits(db, job.id) < 60, _commits(db, job.id)
