"""``notebook`` steps: tiny real notebooks executed by a real kernel, and the helpers."""

from __future__ import annotations

import ast
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from wfkit.steps.base import CancelToken
from wfkit.steps.notebook import NotebookHandler, inject_parameters, saved_notebook_path
from wfkit.steps.output import OutputError, output

HANDLER = NotebookHandler(kill_grace=0.5)


def run(task: Any) -> Any:
    return HANDLER.run(task, CancelToken())


def read(path: str) -> Any:
    return nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]


def test_parameters_env_output_cwd_and_saved_notebook(folders: Any) -> None:
    (folders.definitions / "wfkit_test_nb_helper.py").write_text("ANSWER = 42\n")
    path = folders.notebook(
        "import os\nprint('first cell')",
        ("rows = []\ntitle = 'default'", ["parameters"]),
        """
        import os, sys, wfkit_test_nb_helper
        from wfkit.steps.output import output
        output({
            "rows": rows, "title": title, "files": os.environ["FILES"],
            "step": os.environ["WFKIT_STEP"], "cwd": os.getcwd(),
            "answer": wfkit_test_nb_helper.ANSWER, "workdir": os.environ["WFKIT_WORKDIR"],
        })
        """,
        name="sub/report.ipynb",
    )
    rows = [{"month": "2024-01", "revenue": 1.5, "ok": True, "note": None}]
    files = json.dumps(["a.csv", 2])
    task = folders.task(
        "notebook",
        path,
        input={"rows": rows, "title": 'It\'s "quoted"\nand multi-line'},
        env={"FILES": files},
        step="train",
        index=3,
        attempt=2,
    )
    outcome = run(task)
    assert outcome.ok, outcome
    assert outcome.output == {
        "rows": rows,
        "title": 'It\'s "quoted"\nand multi-line',
        "files": files,
        "step": "train",
        "cwd": str(folders.definitions / "sub"),  # the notebook's own folder
        "answer": 42,  # the definitions folder is on the kernel's import path
        "workdir": str(folders.workdir),
    }
    saved = folders.workdir / ".wfkit" / "notebooks" / "inst" / "train[3]-2.ipynb"
    assert outcome.details["notebook"] == str(saved) == saved_notebook_path(task)
    executed = read(str(saved))
    assert [c.metadata.get("tags", []) for c in executed.cells][:3] == [
        [],
        ["parameters"],
        ["injected-parameters"],
    ]
    assert executed.cells[0].outputs[0]["text"] == "first cell\n"
    assert isinstance(outcome.details["kernel_log"], str)  # the kernel process's own output


def test_output_file_written_by_hand_and_no_parameters_cell(folders: Any) -> None:
    path = folders.notebook(
        "import json, os\njson.dump({'seen': value}, open(os.environ['WFKIT_OUTPUT'], 'w'))"
    )
    outcome = run(folders.task("notebook", path, input={"value": 7}))
    assert outcome.ok, outcome
    assert outcome.output == {"seen": 7}
    executed = read(outcome.details["notebook"])
    assert executed.cells[0].metadata["tags"] == ["injected-parameters"]  # at the top


def test_a_cell_error_names_the_error_the_cell_and_keeps_the_traceback(folders: Any) -> None:
    path = folders.notebook(
        "x = 1",
        "def check(n):\n    raise KeyError(f'missing month {n}')\ncheck(x)",
        "print('never runs')",
    )
    outcome = run(folders.task("notebook", path, step="summary"))
    assert outcome.error_type == "KeyError"
    assert "step 'summary': cell 2 of the notebook raised KeyError" in outcome.error_message
    assert "missing month 1" in outcome.error_message
    assert "raise KeyError(f'missing month {n}')" in outcome.stack_trace
    assert "\x1b[" not in outcome.stack_trace  # colours stripped
    assert outcome.details["cell_index"] == 2
    executed = read(outcome.details["notebook"])
    assert executed.cells[2].outputs[0]["ename"] == "KeyError"
    assert executed.cells[3].outputs == []


def test_a_timeout_kills_the_kernel(folders: Any, read_pids: Any, gone: Any) -> None:
    pidfile = folders.workdir / "kernel.pid"
    path = folders.notebook(
        f"import os\nopen({str(pidfile)!r}, 'w').write(f'{{os.getpid()}}\\n')",
        "import time\ntime.sleep(60)",
    )
    started = time.monotonic()
    outcome = run(folders.task("notebook", path, timeout=6))  # the kernel's start counts
    elapsed = time.monotonic() - started
    assert outcome.error_type == "TimeoutError"
    assert "timeout of 6 s (in cell 2)" in outcome.error_message
    assert 6 <= elapsed < 15
    (kernel,) = read_pids(pidfile)
    assert gone(kernel)
    assert Path(outcome.details["notebook"]).exists()


def test_cancel_shuts_the_kernel_down(folders: Any, read_pids: Any, gone: Any) -> None:
    pidfile = folders.workdir / "kernel.pid"
    path = folders.notebook(
        f"import os, time\nopen({str(pidfile)!r}, 'w').write(f'{{os.getpid()}}\\n')\ntime.sleep(60)"
    )
    token = CancelToken()
    result: list[Any] = []
    task = folders.task("notebook", path)
    thread = threading.Thread(target=lambda: result.append(HANDLER.run(task, token)))
    thread.start()
    (kernel,) = read_pids(pidfile)
    token.cancel()
    thread.join(10)
    assert not thread.is_alive()
    assert result[0].error_type == "Canceled"
    assert gone(kernel)


def test_cancel_before_the_kernel_runs_anything(folders: Any) -> None:
    path = folders.notebook("raise SystemExit('must not run')")
    token = CancelToken()
    token.cancel()
    outcome = HANDLER.run(folders.task("notebook", path), token)
    assert outcome.error_type == "Canceled"
    executed = read(outcome.details["notebook"])
    assert all(cell.get("outputs") == [] for cell in executed.cells)


def test_inject_parameters_goes_after_the_parameters_cell_and_replaces_an_old_one() -> None:
    nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    cells = ["a = 1", "b = 2", "c = 3"]
    nb.cells = [nbformat.v4.new_code_cell(s) for s in cells]  # type: ignore[no-untyped-call]
    nb.cells[1].metadata["tags"] = ["parameters"]
    values = {"b": {"k": [1, 2.5, None, True]}, "text": "line\n'q'\"", "big": 10**30}
    inject_parameters(nb, values)
    inject_parameters(nb, values)  # a second injection replaces the first
    assert [c.source for c in nb.cells][:2] == ["a = 1", "b = 2"]
    assert [c.source for c in nb.cells][3:] == ["c = 3"]
    injected = nb.cells[2]
    assert injected.metadata["tags"] == ["injected-parameters"]
    assigned = {}
    for node in ast.parse(injected.source).body:
        assert isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        assigned[node.targets[0].id] = ast.literal_eval(node.value)
    assert assigned == values


def test_parameter_names_must_be_identifiers(folders: Any) -> None:
    nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    with pytest.raises(ValueError, match=r"'my-key', 'class'"):
        inject_parameters(nb, {"my-key": 1, "class": 2, "fine": 3})
    path = folders.notebook("pass")
    outcome = run(folders.task("notebook", path, input={"bad name": 1}))
    assert outcome.error_type == "InvalidStepInput"
    assert "'bad name'" in outcome.error_message
    outcome = run(folders.task("notebook", path, input=[1]))
    assert outcome.error_type == "InvalidStepInput"


def test_a_missing_notebook_is_a_clear_failure(folders: Any) -> None:
    outcome = run(folders.task("notebook", "nowhere/missing.ipynb"))
    assert outcome.error_type == "NotebookNotFound"
    assert str(folders.definitions / "nowhere" / "missing.ipynb") in outcome.error_message
    (folders.definitions / "broken.ipynb").write_text("{not json")
    outcome = run(folders.task("notebook", "broken.ipynb"))
    assert outcome.error_type == "InvalidNotebook"


def test_without_nbclient_the_failure_says_what_to_install(
    folders: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nbclient", None)  # import nbclient -> ImportError
    outcome = run(folders.task("notebook", folders.notebook("pass")))
    assert outcome.error_type == "MissingDependency"
    assert "pip install 'wfkit[jupyter]'" in outcome.error_message


def test_output_helper_writes_json_and_refuses_outside_a_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WFKIT_OUTPUT", raising=False)
    with pytest.raises(OutputError, match="only works inside a running shell or notebook step"):
        output({"a": 1})
    target = tmp_path / "out.json"
    monkeypatch.setenv("WFKIT_OUTPUT", str(target))
    output({"a": 1})
    output({"a": 2, "b": [None]})  # the last call wins
    assert json.loads(target.read_text()) == {"a": 2, "b": [None]}
    with pytest.raises(OutputError, match="it is a set"):
        output({1, 2})
    assert json.loads(target.read_text()) == {"a": 2, "b": [None]}  # left as it was
    assert os.environ["WFKIT_OUTPUT"] == str(target)
