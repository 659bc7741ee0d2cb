"""An instance holding data nested past the depth limit, stored by an older wfkit, is read
and drawn: the Python API and the notebook views never raise RecursionError.

Older versions stored inputs, outputs and event data of any depth their JSON encoder took
(about 990 levels); text can be deeper still. Reading such a value from a notebook (whose
own frames use part of Python's recursion limit) raised RecursionError in
``Instance.output``, and past 1,024 levels in ``steps``, ``history()`` and the widget.
What lies past 100 levels now comes back as ``"<nested too deep to show>"``, as the
command line shows it.
"""

from __future__ import annotations

import html
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import wfkit
from wfkit.common.jsontext import MAX_DEPTH
from wfkit.runtime.api import Instance
from wfkit.views.widget import InstanceWidget, details_html

TOO_DEEP_MARKER = "<nested too deep to show>"  # as the command line shows it

ECHO = """\
wfkit: 1
name: echo
inputs:
  v: {}
steps:
  a: {call: "deepsteps:echo", with: {v: "${{ inputs.v }}"}}
output: "${{ steps.a.output.v }}"
"""


@pytest.fixture(params=[990, 5000], ids=["990-levels", "5000-levels"])
def deep_instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Instance]:
    """A completed instance whose input, output, step output and history hold a list
    nested ``param`` levels deep, written into the store as older code wrote it."""
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "deepsteps.py").write_text("def echo(**kw):\n    return kw\n")
    (folder / "echo.yaml").write_text(ECHO)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with wfkit.open(folder, url) as rt:
        assert rt.run("echo", instance_id="old", v="PLACEHOLDER", timeout=30).status == "COMPLETED"
    levels = request.param
    deep = "[" * levels + "1" + "]" * levels
    with sqlite3.connect(tmp_path / "state.db") as raw:
        for table, column in (("instances", "input"), ("instances", "output"), ("history", "data")):
            raw.execute(
                f"UPDATE {table} SET {column} = replace({column}, '\"PLACEHOLDER\"', ?)", (deep,)
            )
    rt = wfkit.open(folder, url)
    yield rt.instance("old")
    rt.close()


def in_a_deep_stack(frames: int, read: Callable[[], Any]) -> Any:
    """``read()`` called ``frames`` frames down, as from inside a notebook's display code."""
    return read() if frames == 0 else in_a_deep_stack(frames - 1, read)


def depth_of(value: Any) -> tuple[int, Any]:
    """How many lists deep ``value`` goes (each holding one item), and what is inside."""
    depth = 0
    while isinstance(value, list):
        value, depth = value[0], depth + 1
    return depth, value


def test_the_api_reads_it_shortened_never_a_recursion_error(deep_instance: Instance) -> None:
    output = in_a_deep_stack(150, lambda: deep_instance.output)
    assert depth_of(output) == (MAX_DEPTH, TOO_DEEP_MARKER)
    step = in_a_deep_stack(150, lambda: deep_instance.steps["a"])
    assert step.status == "completed"
    # shortened within the output ({"v": ...} is one level), or within the history event
    # when its text was too deep to read at all
    depth, inside = depth_of(step.output["v"])
    assert MAX_DEPTH - 5 < depth < MAX_DEPTH and inside == TOO_DEEP_MARKER
    assert "StepInfo 'a' completed" in repr(step)
    assert len(deep_instance.history()) == 4
    assert repr(output) and str(step.output)  # printable, as a notebook prints them


def test_the_views_draw_it(deep_instance: Instance, real_renderer: str) -> None:
    bundle = in_a_deep_stack(150, deep_instance._repr_mimebundle_)
    assert "image/svg+xml" in bundle and "status-completed" in bundle["image/svg+xml"]
    widget = InstanceWidget(deep_instance)
    try:
        assert widget.flush(10)
        assert "echo · COMPLETED · 1/1 steps" in widget.summary.value
        assert widget.table.value.count("<tr") == 2
        details = details_html(widget.view.steps[0])
        assert "cannot be shown" not in details
        assert html.escape("'<nested '") in details  # pprint splits the marker's words
    finally:
        widget.close()
