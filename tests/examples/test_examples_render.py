"""Every example in definitions/ loads through the real loader and renders to SVG with
one node per step and one edge per dependency."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import wfkit
from wfkit.views.dot import to_dot
from wfkit.views.render import render

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
EXAMPLES = sorted(DEFINITIONS.glob("*.yaml"))
SVG = "{http://www.w3.org/2000/svg}"


def test_there_are_at_least_six_examples_and_they_load_as_one_catalog() -> None:
    assert len(EXAMPLES) >= 6
    catalog = wfkit.load_catalog(DEFINITIONS)
    assert sorted(catalog.names) == sorted(p.stem for p in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_renders_with_a_node_per_step_and_an_edge_per_dependency(path: Path) -> None:
    definition = wfkit.load_definition(path)
    graph = wfkit.build_graph(definition)
    svg = ET.fromstring(render(to_dot(wfkit.build_view(definition)), "svg"))
    groups = [g for g in svg.iter(f"{SVG}g")]
    nodes = [g for g in groups if "node" in (g.get("class") or "").split()]
    edges = [g for g in groups if "edge" in (g.get("class") or "").split()]
    assert len(nodes) == len(definition.all_steps()) == graph.number_of_nodes()
    assert len(edges) == graph.number_of_edges()
    expected = sum(
        len({d for d in step.depends_on if d in definition.all_steps()})
        for step in definition.all_steps().values()
    )
    assert graph.number_of_edges() == expected
    titles = {t.text for g in nodes for t in g.iter(f"{SVG}title")}
    assert len(titles) == len(nodes)
