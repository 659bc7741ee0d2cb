"""wfkit's errors as a notebook shows them: in a real IPython kernel, a wfkit error is its
type and message (no frames of wfkit's internals), a failed instance adds the failed
step's own traceback, and other exceptions keep IPython's usual traceback."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ANSI = re.compile(r"\x1b\[[0-9;]*m")

BROKEN = """\
wfkit: 1
name: broken
steps:
  a: {call: "errsteps:fine", neds: [b]}
"""

STEPS = """\
def fine():
    return 1


def boom(n=0):
    return helper(n)


def helper(n):
    raise ValueError(f"no good: {n}")
"""

FLOW = """\
wfkit: 1
name: flow
steps:
  boom: {call: "errsteps:boom", with: {n: 3}}
"""

CELLS = [
    "import wfkit",
    'wfkit.load_definition("definitions/broken.yaml")',
    'rt = wfkit.open(definitions="flows", store="sqlite:///s.db")\n'
    'rt.run("flow", timeout=30).raise_if_failed()',
    "1 / 0",
    "rt.close()",
]


def _errors(tmp_path: Path) -> list[dict[str, object]]:
    (tmp_path / "definitions").mkdir()
    (tmp_path / "definitions" / "broken.yaml").write_text(BROKEN)
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "errsteps.py").write_text(STEPS)
    (tmp_path / "flows" / "flow.yaml").write_text(FLOW)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    NotebookClient(
        nb,
        timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        allow_errors=True,
    ).execute()
    found: list[dict[str, object]] = []
    for cell in nb.cells:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        found.append(errors[0] if errors else {})
    return found


def _text(error: dict[str, object]) -> str:
    return ANSI.sub("", "\n".join(error["traceback"]))  # type: ignore[arg-type]


def test_errors_show_their_message_and_not_wfkits_frames(tmp_path: Path) -> None:
    _, definition, failed, plain, closed = _errors(tmp_path)
    assert closed == {}

    text = _text(definition)
    assert definition["ename"] == "DefinitionError"
    assert text.startswith("DefinitionError: ")
    assert "broken.yaml:4:" in text and "did you mean 'needs'?" in text
    assert "File " not in text and "Traceback" not in text and "wfkit/" not in text

    text = _text(failed)
    assert failed["ename"] == "InstanceFailed"
    assert text.startswith("InstanceFailed: workflow ")
    assert "ValueError: step 'boom' failed: no good: 3" in text.splitlines()[0]
    step_trace = text.split("The step's traceback:", 1)[1]
    assert "errsteps.py" in step_trace and "in helper" in step_trace
    assert "wfkit/engine" not in text and "wfkit/runtime" not in text

    text = _text(plain)  # not wfkit's: IPython's traceback, as always
    assert plain["ename"] == "ZeroDivisionError"
    assert "Traceback" in text and "1 / 0" in text
