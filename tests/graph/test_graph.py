"""The step graph, its view and the catalog, built from real YAML text and files."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

import wfkit
from wfkit import DefinitionError, UnknownWorkflow, build_graph, build_view, parse_definition

DIAMOND = """\
wfkit: 1
name: diamond
steps:
  a: {call: "m:f"}
  b: {call: "m:f", needs: [a]}
  c: {call: "m:f", with: {x: "${{ steps.a.output }}"}}
  d:
    call: m:f
    needs: [b]
    with: {y: "${{ steps.b.output }}", z: "${{ steps.c.output }}"}
finally:
  tidy: {call: "m:g", with: {s: "${{ workflow.status }}", r: "${{ steps.d.output }}"}}
  report: {call: "m:g", needs: [tidy]}
"""


def test_graph_has_a_node_per_step_and_edges_from_needs_and_references() -> None:
    graph = build_graph(parse_definition(DIAMOND))
    assert isinstance(graph, nx.DiGraph)
    assert set(graph.nodes) == {"a", "b", "c", "d", "tidy", "report"}
    edges = {(a, b): data["via"] for a, b, data in graph.edges(data=True)}
    assert edges == {
        ("a", "b"): "needs",
        ("a", "c"): "expression",
        ("b", "d"): "needs+expression",
        ("c", "d"): "expression",
        ("d", "tidy"): "expression",
        ("tidy", "report"): "needs",
    }
    assert graph.nodes["tidy"]["is_finally"] is True
    assert graph.nodes["a"]["kind"] == "call"


def test_view_is_in_file_order_with_generations() -> None:
    view = build_view(parse_definition(DIAMOND))
    assert [s.id for s in view.steps] == ["a", "b", "c", "d", "tidy", "report"]
    assert [s.id for s in view.finally_steps] == ["tidy", "report"]
    assert view.generations == (("a",), ("b", "c"), ("d",), ("tidy",), ("report",))
    assert view.step("c").line == 6
    with pytest.raises(KeyError):
        view.step("nope")


def test_cycle_is_reported_with_its_path_and_lines() -> None:
    text = DIAMOND.replace('a: {call: "m:f"}', 'a: {call: "m:f", needs: [d]}')
    with pytest.raises(DefinitionError) as info:
        parse_definition(text, "diamond.yaml")
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == (4, 3)
    assert "a (line 4) -> b (line 5) -> d (line 7) -> a (line 4)" in problem.message
    assert str(info.value).startswith("1 problem:\ndiamond.yaml:4:3: steps form a cycle")


def test_two_separate_cycles_are_both_reported() -> None:
    text = """\
wfkit: 1
name: two-cycles
steps:
  a: {call: "m:f", needs: [b]}
  b: {call: "m:f", needs: [a]}
  c: {call: "m:f", with: {x: "${{ steps.d.output }}"}}
  d: {call: "m:f", needs: [c]}
"""
    with pytest.raises(DefinitionError) as info:
        parse_definition(text)
    assert [p.line for p in info.value.problems] == [4, 6]


def _write(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"wfkit: 1\nname: {name}\nsteps:\n{body}", encoding="utf-8")
    return path


def test_catalog_resolves_child_workflows_and_lists_names(tmp_path: Path) -> None:
    _write(tmp_path, "parent", "  run: {workflow: child, with: {n: 1}}\n")
    _write(tmp_path, "child", '  work: {call: "m:f"}\n')
    (tmp_path / "notes.txt").write_text("not a definition")
    catalog = wfkit.load_catalog(tmp_path)
    assert catalog.names == ["child", "parent"]
    assert "parent" in catalog and len(catalog) == 2
    assert catalog.get("parent").child_workflows() == {"child"}
    with pytest.raises(UnknownWorkflow) as info:
        catalog.get("chlid")
    assert "did you mean 'child'?" in str(info.value)


def test_catalog_reports_problems_of_every_file_at_once(tmp_path: Path) -> None:
    _write(tmp_path, "a", "  x: {workflow: b}\n")
    _write(tmp_path, "b", "  y: {workflow: a}\n")
    _write(tmp_path, "c", '  z: {call: "m:f", needs: [q]}\n')
    _write(tmp_path, "d", "  w: {workflow: missing}\n")
    with pytest.raises(DefinitionError) as info:
        wfkit.load_catalog(tmp_path)
    messages = {(Path(p.path).name, p.message) for p in info.value.problems}
    assert ("a.yaml", "workflows start each other in a cycle: a -> b -> a") in messages
    assert ("c.yaml", "unknown step 'q' in needs") in messages
    assert ("d.yaml", "step 'w' starts unknown workflow 'missing'") in messages
    cycle = next(p for p in info.value.problems if "cycle" in p.message)
    assert (cycle.line, cycle.column) == (4, 17)


def test_duplicate_names_name_both_files(tmp_path: Path) -> None:
    _write(tmp_path, "one", '  a: {call: "m:f"}\n')
    clash = tmp_path / "two.yaml"
    clash.write_text('wfkit: 1\nname: one\nsteps:\n  a: {call: "m:f"}\n', encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        wfkit.load_catalog(tmp_path)
    (problem,) = info.value.problems
    assert problem.path == str(clash)
    assert (problem.line, problem.column) == (2, 7)
    assert str(tmp_path / "one.yaml") in problem.message


def test_a_running_catalog_sets_broken_files_aside_and_keeps_the_rest(tmp_path: Path) -> None:
    _write(tmp_path, "good", '  a: {call: "m:f"}\n')
    _write(tmp_path, "broken", '  a: {call: "m:f", needs: [zz]}\n')
    (tmp_path / "syntax.yaml").write_text("wfkit: 1\nname: [oops\n", encoding="utf-8")
    _write(tmp_path, "parent", "  kid: {workflow: broken}\n")
    _write(tmp_path, "grandparent", "  kid: {workflow: parent}\n")
    _write(tmp_path, "user", "  kid: {workflow: good}\n")
    catalog = wfkit.load_catalog(tmp_path, strict=False)
    assert catalog.names == ["good", "user"]
    found = {(Path(p.path).name, p.message) for p in catalog.problems}
    assert ("broken.yaml", "unknown step 'zz' in needs") in found
    assert (
        "parent.yaml",
        "step 'kid' starts workflow 'broken', whose definition has problems",
    ) in found
    assert {name for name, _ in found} == {
        "broken.yaml",
        "syntax.yaml",
        "parent.yaml",
        "grandparent.yaml",
    }
    assert catalog.problems == sorted(catalog.problems)
    # a workflow set aside raises its own file's problems, with line and column
    with pytest.raises(DefinitionError) as broken:
        catalog.get("broken")
    assert [f"{Path(p.path).name}:{p.line}:{p.column}" for p in broken.value.problems] == [
        "broken.yaml:4:28"
    ]
    with pytest.raises(DefinitionError) as parent:
        catalog.get("parent")
    assert "fix it first: " in str(parent.value) and "broken.yaml:4:28" in str(parent.value)
    with pytest.raises(DefinitionError, match=r"grandparent\.yaml"):
        catalog.get("grandparent")
    # a name nobody defines (the syntax error's file has no readable name) says where to look
    with pytest.raises(UnknownWorkflow) as unknown:
        catalog.get("oops")
    assert "it may be in a definition file that has problems:" in str(unknown.value)
    assert f"{tmp_path / 'syntax.yaml'}:2:7: invalid YAML" in str(unknown.value)
    # the strict catalog still refuses the folder as a whole
    with pytest.raises(DefinitionError):
        wfkit.load_catalog(tmp_path)


def test_a_running_catalog_runs_neither_of_two_workflows_with_one_name(tmp_path: Path) -> None:
    _write(tmp_path, "one", '  a: {call: "m:first"}\n')
    (tmp_path / "two.yaml").write_text(
        'wfkit: 1\nname: one\nsteps:\n  a: {call: "m:second"}\n', encoding="utf-8"
    )
    _write(tmp_path, "parent", "  kid: {workflow: one}\n")
    _write(tmp_path, "other", '  a: {call: "m:f"}\n')
    catalog = wfkit.load_catalog(tmp_path, strict=False)
    assert catalog.names == ["other"]  # the parent of the ambiguous name is set aside too
    with pytest.raises(DefinitionError) as info:
        catalog.get("one")
    one, two = str(tmp_path / "one.yaml"), str(tmp_path / "two.yaml")
    assert [(p.path, p.line, p.column) for p in info.value.problems] == [(one, 2, 7), (two, 2, 7)]
    assert f"also declared in {two}:2:7" in info.value.problems[0].message
    assert f"also declared in {one}:2:7" in info.value.problems[1].message


def test_adding_to_a_running_catalog_checks_the_new_one_and_keeps_what_was_set_aside(
    tmp_path: Path,
) -> None:
    _write(tmp_path, "good", '  a: {call: "m:f"}\n')
    _write(tmp_path, "broken", '  a: {call: "m:f", needs: [zz]}\n')
    catalog = wfkit.load_catalog(tmp_path, strict=False)
    added = catalog.adding(parse_definition("wfkit: 1\nname: new\nsteps:\n  k: {workflow: good}\n"))
    assert added.names == ["good", "new"] and catalog.names == ["good"]
    assert added.problems == catalog.problems
    with pytest.raises(DefinitionError, match="zz"):
        added.get("broken")
    with pytest.raises(DefinitionError, match="starts workflow 'broken', whose definition"):
        catalog.adding(parse_definition("wfkit: 1\nname: x\nsteps:\n  k: {workflow: broken}\n"))


def test_check_paths_resolves_children_from_sibling_files_quietly(tmp_path: Path) -> None:
    from wfkit.graph.catalog import check_paths

    parent = _write(tmp_path, "parent", "  run: {workflow: child}\n")
    _write(tmp_path, "child", '  work: {call: "m:f"}\n')
    _write(tmp_path, "broken", "  nope: {}\n")
    check = check_paths([parent])
    assert check.ok, check.problems
    assert [d.name for d in check.definitions] == ["parent"]


def test_definition_is_pinned_to_its_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "pinned", '  a: {call: "m:f"}\n')
    first = wfkit.load_definition(path)
    path.write_text(path.read_text() + "  b: {call: 'm:f'}\n", encoding="utf-8")
    second = wfkit.load_definition(path)
    assert first.source != second.source
    assert first.content_hash != second.content_hash
    assert len(first.content_hash) == 64
    assert list(first.steps) == ["a"] and list(second.steps) == ["a", "b"]


def test_unreadable_path_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError) as info:
        wfkit.load_definition(tmp_path / "missing.yaml")
    assert "cannot read the file" in info.value.problems[0].message
