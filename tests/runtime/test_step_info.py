"""``Instance.steps`` as a notebook shows it: one short line a step, the data in fields."""

from __future__ import annotations

from pathlib import Path

import wfkit

STEPS = """\
def big():
    return [{"row": i, "text": "x" * 40} for i in range(500)]

def boom():
    raise ValueError("no good " * 30)
"""

FLOW = """\
wfkit: 1
name: flow
steps:
  big: {call: "infosteps:big"}
  boom: {call: "infosteps:boom", needs: [big]}
"""


def test_step_info_repr_is_one_short_line_and_the_fields_keep_everything(tmp_path: Path) -> None:
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "infosteps.py").write_text(STEPS)
    (folder / "flow.yaml").write_text(FLOW)
    runtime = wfkit.open(definitions=str(folder), store=f"sqlite:///{tmp_path / 's.db'}")
    try:
        instance = runtime.run("flow", timeout=30)
        steps = instance.steps
    finally:
        runtime.close()
    big, boom = steps["big"], steps["boom"]
    assert len(big.output) == 500  # the whole output is there
    text = repr(big)
    assert text.startswith("<StepInfo 'big' completed output=500 items: [{'row': 0, 'text': 'xx")
    assert "…" in text and text.endswith(" s>") and len(text) < 120 and "\n" not in text
    text = repr(boom)
    assert text.startswith("<StepInfo 'boom' failed error=ValueError: no good no good")
    assert len(text) < 120 and boom.error is not None and len(boom.error.message) > 200
    assert len(repr(steps)) < 300
