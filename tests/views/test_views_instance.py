"""Instances in notebooks: the view model, output previews, the status graph, the bundle."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from wfkit.definition.display import mimebundle
from wfkit.graph import build_view
from wfkit.graph.view import GraphView
from wfkit.runtime.api import Instance, Runtime
from wfkit.runtime.snapshot import build_snapshot
from wfkit.views import instance_mimebundle, instance_view, preview
from wfkit.views.dot import STATUS_COLORS
from wfkit.views.instance import StatusSvg, draw_status_svg, plain_text, summary_text

Groups = Callable[[bytes | str, str], list[ET.Element]]


def waiting(instance: Instance, step: str, timeout: float = 10.0) -> Instance:
    """Block until ``step`` of ``instance`` waits for its event."""
    import time

    deadline = time.monotonic() + timeout
    while instance.steps[step].status != "waiting":
        assert time.monotonic() < deadline, f"{step} never waited: {instance.steps}"
        time.sleep(0.02)
    return instance


def step_classes(svg: str, groups: Groups) -> dict[str, str]:
    """Step id -> its status class, from the SVG's ``wfkit-step`` groups."""
    found = {}
    for group in groups(svg, "wfkit-step"):
        status = [c for c in (group.get("class") or "").split() if c.startswith("status-")]
        found[(group.get("id") or "")[len("step_") :]] = status[0] if status else ""
    return found


# -- previews --------------------------------------------------------------------------


class FakeFrame:
    """Quacks like a pandas DataFrame: shape, columns, and a costly repr never called."""

    shape = (1200, 6)
    columns = ("region", "month", "sales", "units", "price", "margin")

    def __repr__(self) -> str:
        raise AssertionError("a preview must not repr a whole frame")


class FakeArray:
    shape = (3, 4)
    dtype = "float64"


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (42, "42"),
        ("hi", "'hi'"),
        ([], "[]"),
        ([1], "1 item: [1]"),
        (list(range(100)), "100 items: [0, 1, 2, 3, ...]"),
        ({"a": 1, "b": [1, 2]}, "2 keys: {'a': 1, 'b': [1, 2]}"),
        ({"deep": {"deeper": {"deepest": 1}}}, "1 key: {'deep': {'deeper': {...}}}"),
        (  # in the dict's own order, not sorted
            {"net": 1, "tax": 2, "gross": 3, "b": 4, "a": 5},
            "5 keys: {'net': 1, 'tax': 2, 'gross': 3, 'b': 4, ...}",
        ),
        (FakeFrame(), "FakeFrame 1200×6 [region, month, sales, units, …]"),
        (FakeArray(), "FakeArray 3×4 float64"),
    ],
)
def test_preview_shows_values_in_one_short_line(value: Any, expected: str) -> None:
    assert preview(value) == expected


def test_preview_is_one_line_of_bounded_width_and_never_raises() -> None:
    text = preview("line one\nline two " + "x" * 500, width=30)
    assert "\n" not in text and len(text) == 30 and text.endswith("…")
    assert preview(BrokenRepr()).startswith("<BrokenRepr")


# -- the view model --------------------------------------------------------------------


def test_view_of_a_waiting_instance(runtime: Runtime) -> None:
    instance = waiting(runtime.start("gated"), "approve")
    state = instance.state()
    plan = runtime.engine.plan_for(state.definition_hash)
    view = build_snapshot(plan, state, now=state.updated_at + 5)
    assert [s.id for s in view.steps] == ["first", "approve", "last", "tidy"]
    assert view.statuses == {
        "first": "completed",
        "approve": "waiting",
        "last": "pending",
        "tidy": "pending",
    }
    assert view.step("tidy").is_finally and view.step("approve").event == "go"
    assert view.waiting_events == ("go",) and view.expected_events == ("go",)
    assert view.progress == (1, 4) and view.steps_done == 1 and not view.is_terminal
    assert view.step("first").output == [0, 1] and view.step("first").attempts == 1
    assert view.step("approve").duration == pytest.approx(
        state.updated_at + 5 - state.steps["approve"].started_at, abs=0.01
    )
    assert summary_text(view).startswith("gated · RUNNING · 1/4 steps · ")
    with pytest.raises(KeyError):
        view.step("nope")


def test_foreach_items_count_in_progress_and_layout(runtime: Runtime) -> None:
    instance = runtime.run("three", n=5, timeout=20)
    view = instance_view(instance)
    assert view.step("double").items == 5 and view.step("double").units == (5, 5)
    assert view.progress == (7, 7) and view.is_terminal
    assert view.layout_key == (view.definition_hash, (("double", 5),))
    assert "3/3 steps · 7/7 tasks" in summary_text(view)


def test_breakpoint_step_shows_as_paused(runtime: Runtime) -> None:
    instance = runtime.run("breaky", timeout=20)
    view = instance_view(instance)
    assert view.status == "SUSPENDED" and view.step("publish").shown == "paused"
    assert "paused before publish" in summary_text(view)


def test_failed_step_carries_its_error_and_traceback(runtime: Runtime) -> None:
    view = instance_view(runtime.run("failing", timeout=20))
    bad = view.step("bad")
    assert bad.status == "failed" and bad.error_text == "RuntimeError: boom"
    assert "Traceback" in bad.traceback and "boom" in bad.traceback
    assert view.step("ok").error_text == "" and view.status == "FAILED"
    assert "bad  failed" in plain_text(view) and "RuntimeError: boom" in plain_text(view)


# -- the status graph ------------------------------------------------------------------


def test_status_svg_recolours_without_a_new_layout(
    real_renderer: str, view: GraphView, svg_groups: Groups
) -> None:
    drawn = draw_status_svg(view, key="k")
    assert drawn.key == "k" and set(drawn.step_ids) == {s.id for s in view.steps}
    statuses = {"extract": "completed", "check": "failed", "publish": "paused"}
    svg = drawn.paint(statuses)
    classes = step_classes(svg, svg_groups)
    assert classes["extract"] == "status-completed" and classes["check"] == "status-failed"
    assert classes["publish"] == "status-paused" and classes["notify"] == "status-pending"
    fills = {
        (g.get("id") or "")[5:]: next(e.get("fill") for e in g.iter() if e.get("fill"))
        for g in svg_groups(svg, "wfkit-step")
    }
    assert fills["extract"] == STATUS_COLORS["completed"]
    assert fills["publish"] == STATUS_COLORS["paused"]
    again = StatusSvg.parse(svg, key="k")
    assert again.pieces == drawn.pieces  # only the slots changed: same layout
    assert not drawn.paint({}, inline=True).startswith("<?xml")


def test_status_svg_finds_steps_with_nasty_ids(real_renderer: str, nasty: GraphView) -> None:
    drawn = draw_status_svg(nasty)
    assert set(drawn.step_ids) == {s.id for s in nasty.steps}
    ET.fromstring(drawn.paint({s.id: "running" for s in nasty.steps}))


# -- the notebook bundle ---------------------------------------------------------------


def test_bundle_of_a_finished_instance(runtime: Runtime, svg_groups: Groups) -> None:
    instance = runtime.run("three", n=3, timeout=20)
    bundle = instance_mimebundle(instance)
    assert set(step_classes(bundle["image/svg+xml"], svg_groups).values()) == {"status-completed"}
    assert "three · COMPLETED · 3/3 steps" in bundle["text/html"]
    assert "wfkit-legend" in bundle["text/html"] and "<?xml" not in bundle["text/html"]
    assert "(3 items)" in bundle["image/svg+xml"]
    lines = bundle["text/plain"].splitlines()
    assert lines[0].startswith(f"<Instance {instance.id}> three · COMPLETED")
    assert [line.split()[0] for line in lines[1:]] == ["numbers", "double", "total"]


def test_bundle_is_registered_for_instances(runtime: Runtime, svg_groups: Groups) -> None:
    instance = runtime.run("breaky", timeout=20)
    bundle = mimebundle(instance, "fallback")
    assert step_classes(bundle["image/svg+xml"], svg_groups)["publish"] == "status-paused"


def test_bundle_without_a_renderer_is_a_table(
    runtime: Runtime, request: pytest.FixtureRequest
) -> None:
    instance = runtime.run("failing", timeout=20)
    request.getfixturevalue("no_renderers")
    bundle = instance_mimebundle(instance)
    assert "image/svg+xml" not in bundle
    assert (
        "wfkit-instance-steps" in bundle["text/html"] and "graph not drawn" in bundle["text/html"]
    )
    assert "RuntimeError: boom" in bundle["text/html"]


class _Broken:
    id = "broken-1"

    def snapshot(self) -> Any:
        raise OSError("the store is gone")


class _NoId:
    @property
    def id(self) -> str:
        raise RuntimeError("no id either")

    def snapshot(self) -> Any:
        raise RuntimeError("nothing")


def test_bundle_never_raises(runtime: Runtime) -> None:
    assert instance_mimebundle(_Broken()) == {  # type: ignore[arg-type]
        "text/plain": "<Instance broken-1> (cannot be read: the store is gone)"
    }
    assert instance_mimebundle(_NoId()) == {  # type: ignore[arg-type]
        "text/plain": "<Instance> (cannot be read: nothing)"
    }
    purged = runtime.run("three", n=1, timeout=20)
    purged.purge()
    (text,) = instance_mimebundle(purged).values()
    assert text.startswith(f"<Instance {purged.id}> (cannot be read: ")


def test_graph_of_a_definition_matches_instance_graph_steps(runtime: Runtime) -> None:
    definition = runtime.definition("gated")
    instance = waiting(runtime.start("gated"), "approve")
    view = instance_view(instance)
    assert [s.id for s in build_view(definition).steps] == [s.id for s in view.steps]


# -- a real kernel ---------------------------------------------------------------------


def test_a_kernel_displays_an_instance_as_a_coloured_graph(
    tmp_path: Path, svg_groups: Groups, view_definitions: Path
) -> None:
    defs = view_definitions
    source = [
        "import wfkit\n"
        f"rt = wfkit.open({str(defs)!r}, 'sqlite:///{tmp_path / 'nb.db'}', workers=2)\n"
        "inst = rt.run('three', n=3, timeout=30)\n"
        "inst",
        "display(inst)\nrt.close()",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in source])
    NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in nb.cells for o in cell.outputs]
    assert [o["output_type"] for o in outputs] == ["execute_result", "display_data"]
    for output in outputs:
        svg = output["data"]["image/svg+xml"]
        classes = step_classes(svg, svg_groups)
        assert classes == dict.fromkeys(("numbers", "double", "total"), "status-completed")
        assert "3/3 steps" in output["data"]["text/html"]
    assert "Traceback" not in json.dumps(nb)
