"""to_dot: the DOT text of a graph view (structure, styling, escaping, determinism)."""

from __future__ import annotations

import enum
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from wfkit.errors import RenderError
from wfkit.graph.view import EdgeView, GraphView, StepView
from wfkit.views import STATUS_COLORS, render, to_dot

Groups = Callable[[bytes | str, str], list[ET.Element]]
SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
WJ = "\u2060"  # the invisible word joiner to_dot puts after each backslash


def visible(text: str) -> str:
    """Text as a person sees it: without the zero-width word joiners."""
    return text.replace(WJ, "")


def statement(dot: str, head: str) -> str:
    """The one DOT statement line that starts with ``head`` (e.g. ``s0`` or ``s0 -> s1``)."""
    lines = [line.strip() for line in dot.splitlines() if line.strip().startswith(head + " [")]
    assert len(lines) == 1, f"{head!r}: {lines}"
    return lines[0]


def node(dot: str, view: GraphView, step_id: str) -> str:
    index = [s.id for s in view.steps].index(step_id)
    return statement(dot, f"s{index}")


def edge(dot: str, view: GraphView, source: str, target: str) -> str:
    ids = [s.id for s in view.steps]
    return statement(dot, f"s{ids.index(source)} -> s{ids.index(target)}")


def test_graph_reads_left_to_right_with_rounded_filled_boxes(view: GraphView) -> None:
    dot = to_dot(view)
    assert dot.startswith("digraph churn-report {") or dot.startswith('digraph "churn-report" {')
    assert "rankdir=LR" in dot
    assert re.search(r'node \[.*shape=box.*style="rounded,filled"', dot)


def test_every_step_is_one_node_with_id_class_and_label(view: GraphView) -> None:
    dot = to_dot(view)
    for step in view.steps:
        line = node(dot, view, step.id)
        assert f"id=step_{step.id}" in line
        assert 'class="wfkit-step status-pending"' in line
        assert f"<B>{step.id}</B>" in line or f"<B>‖ {step.id}</B>" in line
        assert f'<FONT POINT-SIZE="10">{step.kind} {step.target}' in line


def test_without_statuses_every_step_is_pending_grey(view: GraphView) -> None:
    dot = to_dot(view)
    assert dot.count(f'fillcolor="{STATUS_COLORS["pending"]}"') == len(view.steps)


def test_statuses_set_class_and_fill_colour(view: GraphView) -> None:
    statuses = {"extract": "completed", "check": "FAILED", "train": "running", "x": "failed"}
    dot = to_dot(view, statuses=statuses)
    for step_id, status in [("extract", "completed"), ("check", "failed"), ("train", "running")]:
        line = node(dot, view, step_id)
        assert f'class="wfkit-step status-{status}"' in line
        assert f'fillcolor="{STATUS_COLORS[status]}"' in line
    assert 'class="wfkit-step status-pending"' in node(dot, view, "approve")


def test_an_unknown_status_gets_a_css_safe_class_and_a_neutral_fill(view: GraphView) -> None:
    line = node(to_dot(view, statuses={"check": "half done!"}), view, "check")
    assert 'class="wfkit-step status-half_done_"' in line
    assert not any(f'fillcolor="{colour}"' in line for colour in STATUS_COLORS.values())


def test_palette_covers_every_status_with_distinct_colours() -> None:
    wanted = {"pending", "running", "waiting", "completed", "failed", "skipped", "canceled"}
    assert wanted | {"paused"} == set(STATUS_COLORS)
    assert len(set(STATUS_COLORS.values())) == len(STATUS_COLORS)


def test_edge_styles_follow_why_the_edge_exists(view: GraphView) -> None:
    dot = to_dot(view)
    needs = edge(dot, view, "check", "train")
    expression = edge(dot, view, "extract", "train")
    both = edge(dot, view, "train", "approve")
    assert "style=dashed" not in needs and "arrowhead" not in needs
    assert 'class="wfkit-edge via-needs"' in needs
    assert "style=dashed" in expression and 'class="wfkit-edge via-expression"' in expression
    assert "style=dashed" not in both and "arrowhead=normalnormal" in both
    assert 'class="wfkit-edge via-both"' in both


def test_finally_steps_sit_in_their_own_cluster(view: GraphView) -> None:
    dot = to_dot(view)
    cluster = re.search(r"subgraph cluster_finally \{(.*?)\n\t\}", dot, re.S)
    assert cluster is not None
    assert "label=finally" in cluster.group(1)
    assert re.findall(r"^\s*(s\d+) \[", cluster.group(1), re.M) == ["s5"]  # notify only


def test_finally_cluster_is_pushed_after_the_deepest_main_step(view: GraphView) -> None:
    # The last generation holds "publish" (main) and "notify" (finally).
    assert "style=invis" in edge(to_dot(view), view, "publish", "notify")


def test_no_cluster_and_no_invisible_edges_without_finally_steps(view: GraphView) -> None:
    main_only = replace(view, steps=view.main_steps)
    dot = to_dot(main_only)
    assert "cluster" not in dot and "invis" not in dot


def test_markers_for_pause_foreach_and_when(view: GraphView) -> None:
    dot = to_dot(view)
    paused = node(dot, view, "publish")
    assert "<B>‖ publish</B>" in paused and "penwidth=2.5" in paused
    looped = node(dot, view, "extract")
    assert "peripheries=2" in looped and "× each" in looped
    guarded = node(dot, view, "approve")
    assert "when: steps.train.output.score >= 0.8" in guarded.split("tooltip=", 1)[1]
    plain = node(dot, view, "check")
    assert "peripheries" not in plain and "penwidth" not in plain and "when:" not in plain


def test_long_targets_are_shortened_in_the_label_but_whole_in_the_tooltip(
    view: GraphView,
) -> None:
    target = "module.with.a.very.long.dotted.path:and_a_long_function_name"
    long = replace(view, steps=(replace(view.steps[0], target=target), *view.steps[1:]))
    line = node(to_dot(long), long, "extract")
    label, tooltip = line.split("tooltip=", 1)
    assert target not in label and "..." in label
    assert target in tooltip


def test_edges_naming_unknown_steps_are_an_error(view: GraphView) -> None:
    broken = replace(view, edges=(*view.edges, EdgeView("check", "ghost", "needs")))
    with pytest.raises(RenderError, match="ghost"):
        to_dot(broken)


def test_output_is_deterministic_and_independent_of_edge_order(view: GraphView) -> None:
    first = to_dot(view, statuses={"check": "failed"})
    assert to_dot(view, statuses={"check": "failed"}) == first
    shuffled = replace(view, edges=tuple(reversed(view.edges)))
    assert to_dot(shuffled, statuses={"check": "failed"}) == first


def test_escaping_keeps_dot_well_formed(nasty: GraphView) -> None:
    dot = to_dot(nasty)
    label = node(dot, nasty, nasty.steps[0].id).split("tooltip=", 1)[0]
    assert f"<B>a&lt;b&gt;&amp;&quot;c&#39;\\{WJ}N</B>" in label
    assert f"mod:&lt;f&gt; &amp; &quot;g&quot;\\{WJ}l" in label
    shell_label = node(dot, nasty, "plain-id").split("tooltip=", 1)[0]
    assert "echo &lt;/FONT&gt;]]&gt; &lt;!-- x --&gt;" in shell_label  # text, not markup
    assert "a b c" in node(dot, nasty, "fin:al")  # newlines and tabs become spaces


def test_nasty_text_survives_a_real_render(
    nasty: GraphView, real_renderer: str, svg_groups: Groups
) -> None:
    svg = render(to_dot(nasty), "svg")
    nodes = svg_groups(svg, "node")
    assert [g.get("id") for g in nodes] == [f"step_{s.id}" for s in nasty.steps]
    first = nodes[0]
    texts = [visible("".join(t.itertext())) for t in first.iter(f"{SVG}text")]
    assert texts == [nasty.steps[0].id, 'call mod:<f> & "g"\\l']
    tooltip = visible(next(first.iter(f"{SVG}a")).get(f"{XLINK}title") or "")
    assert tooltip == f'{nasty.steps[0].id}\ncall mod:<f> & "g"\\l'
    guarded = next(nodes[1].iter(f"{SVG}a")).get(f"{XLINK}title") or ""
    assert guarded.endswith('when: x == "<y>"')
    assert "shell echo </FONT>]]> <!-- x -->" in "".join(nodes[1].itertext())
    assert len(svg_groups(svg, "edge")) == len(nasty.edges)


def test_an_empty_view_is_an_empty_graph(real_renderer: str, svg_groups: Groups) -> None:
    empty = GraphView("empty", (), (), ())
    svg = render(to_dot(empty), "svg")
    assert svg_groups(svg, "node") == [] and svg_groups(svg, "edge") == []


def test_unknown_edge_kinds_are_drawn_as_needs() -> None:
    steps = (StepView("a", "call", "m:f"), StepView("b", "call", "m:g"))
    view = GraphView("x", steps, (EdgeView("a", "b", "something-new"),), (("a",), ("b",)))
    line = statement(to_dot(view), "s0 -> s1")
    assert 'class="wfkit-edge via-needs"' in line and "dashed" not in line


def test_output_does_not_depend_on_hash_randomisation(tmp_path: Path) -> None:
    # Sets and dicts of strings iterate differently under another PYTHONHASHSEED.
    code = """if True:
        import sys
        from wfkit.graph import parse_definition
        from wfkit.graph import build_view
        from wfkit.views import to_dot
        text = open(sys.argv[1], encoding="utf-8").read()
        sys.stdout.write(to_dot(build_view(parse_definition(text)), statuses={"b": "failed"}))
    """
    source = tmp_path / "wf.yaml"
    source.write_text(
        "wfkit: 1\nname: seeds\nsteps:\n"
        + "".join(
            f"  {n}:\n    call: m:f\n    with: {{x: '${{{{ steps.a.output }}}}'}}\n"
            for n in "bcdefgh"
        )
        + "  a: {call: m:f}\nfinally:\n  y: {call: m:f}\n  z: {call: m:f, needs: [y]}\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code, str(source)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    assert "cluster_finally" in outputs.pop()


def test_enum_statuses_count_as_their_values(view: GraphView) -> None:
    class Status(enum.Enum):
        FAILED = "failed"

    line = node(to_dot(view, statuses={"check": Status.FAILED}), view, "check")  # type: ignore[dict-item]
    assert 'class="wfkit-step status-failed"' in line
