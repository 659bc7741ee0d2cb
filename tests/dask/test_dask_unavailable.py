"""A ``runner: dask`` step on an engine whose own runner is ``local``, when Dask cannot
be had: ``distributed`` is not installed, or the scheduler cannot be reached. The step
fails with ``RunnerUnavailable`` saying why, its retry policy applies, and the engine
goes on with the other instances (it used to fail its round again and again, and the
step stayed RUNNING)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

#: Definitions: ``away`` sends its one step to Dask (two attempts), ``home`` stays here.
FLOWS = {
    "away": """
        wfkit: 1
        name: away
        steps:
          heavy:
            call: "tools:one"
            runner: dask
            retry: {max_attempts: 2, initial_interval: 100ms}
        """,
    "home": """
        wfkit: 1
        name: home
        steps:
          light: {call: "tools:one"}
        """,
}

#: Runs both flows on a ``local`` engine and prints what became of them, as JSON;
#: ``HIDE`` refuses to import ``distributed``, as if it were not installed.
RUN = """
import json, sys
{hide}
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings

settings = Settings.from_properties(
    {{"definitions": "definitions", "store": "sqlite:///s.db", "runner": "local",
      "workers": "2", "dask_scheduler": {scheduler!r}}}
)
with Runtime(settings) as runtime:
    away, home = runtime.start("away"), runtime.start("home")
    away.wait(30), home.wait(30)
    step = away.steps["heavy"]
    print(json.dumps({{
        "away": away.status.value, "home": home.status.value,
        "attempts": step.attempts, "type": step.failure.type,
        "message": step.failure.message,
        "distributed": "distributed" in sys.modules,
    }}))
"""

HIDE = """
class _Refuse:
    def find_spec(self, name, path=None, target=None):
        if name == "distributed" or name.startswith("distributed."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _Refuse())
"""


_QUICK = "import wfkit.steps.dask_cluster as dc; dc.CONNECT_TIMEOUT = 1.0"


def _run(root: Path, *, hide: bool, scheduler: str = "") -> dict[str, Any]:
    (root / "definitions").mkdir()
    (root / "definitions" / "tools.py").write_text("def one():\n    return 1\n")
    for name, text in FLOWS.items():
        (root / "definitions" / f"{name}.yaml").write_text(textwrap.dedent(text))
    code = RUN.format(hide=HIDE if hide else _QUICK, scheduler=scheduler)
    ran = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    found: dict[str, Any] = json.loads(ran.stdout.strip().splitlines()[-1])
    return found


def test_without_distributed_a_dask_step_fails_naming_the_extra_and_others_run(
    tmp_path: Path,
) -> None:
    found = _run(tmp_path, hide=True)
    assert found["home"] == "COMPLETED" and not found["distributed"]
    assert found["away"] == "FAILED" and found["attempts"] == 2
    assert found["type"] == "RunnerUnavailable"
    assert "step 'heavy'" in found["message"]
    assert "pip install 'wfkit[dask]'" in found["message"]


def test_an_unreachable_scheduler_fails_the_step_opened_by_routing(tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{closed.getsockname()[1]}"
    found = _run(tmp_path, hide=False, scheduler=address)
    assert found["home"] == "COMPLETED"
    assert found["away"] == "FAILED" and found["attempts"] == 2
    assert found["type"] == "RunnerUnavailable"
    assert f"cannot reach the Dask scheduler at {address}" in found["message"]
