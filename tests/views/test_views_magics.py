"""%%wfkit and %wfkit: cells that define workflows, lines that run and list them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.core.error import UsageError
from nbclient import NotebookClient

import wfkit
from wfkit.errors import DefinitionError, Problem
from wfkit.runtime.api import Instance, Runtime
from wfkit.views.magics import (
    ShownInstance,
    cell_problems,
    define,
    load_ipython_extension,
    parse_inputs,
    session_runtime,
    set_session_runtime,
    unload_ipython_extension,
)

STEPS = "def numbers(n):\n    return list(range(n))\n"

THREE = """\
wfkit: 1
name: three
inputs: {n: {type: integer, minimum: 0, default: 3}, label: {type: string, default: x}}
steps:
  a: {call: "magicsteps:numbers", with: {n: "${{ inputs.n }}"}}
  b: {call: "magicsteps:numbers", with: {n: 1}, needs: [a]}
  c: {call: "magicsteps:numbers", with: {n: 2}, needs: [b]}
"""

BROKEN_CELL = """\
wfkit: 1
nme: broken
steps:
  a: {call: "magicsteps:numbers", with: {n: 1}}
"""

HELLO_CELL = """\
wfkit: 1
name: hello
description: made in a cell
steps:
  greet: {call: "magicsteps:numbers", with: {n: 2}}
"""


def write_definitions(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "magicsteps.py").write_text(STEPS)
    (folder / "three.yaml").write_text(THREE)
    return folder


@pytest.fixture
def runtime(tmp_path: Path, real_renderer: str) -> Iterator[Runtime]:
    rt = wfkit.open(write_definitions(tmp_path / "defs"), f"sqlite:///{tmp_path / 's.db'}")
    yield rt
    set_session_runtime(None)
    rt.close()


class FakeShell:
    """What the magics use of an IPython shell: registration and the user namespace."""

    def __init__(self) -> None:
        self.user_ns: dict[str, Any] = {}
        self.registered: dict[tuple[str, str], Callable[..., None]] = {}

    def register_magic_function(
        self, func: Callable[..., None], magic_kind: str, magic_name: str
    ) -> None:
        self.registered[magic_kind, magic_name] = func


@pytest.fixture
def wfkit_magic(runtime: Runtime) -> Callable[..., None]:
    """``%wfkit`` / ``%%wfkit`` as loaded into a shell whose ``rt`` is ``runtime``."""
    shell = FakeShell()
    shell.user_ns["rt"] = runtime
    load_ipython_extension(shell)
    magic = shell.registered["line_cell", "wfkit"]
    magic("use rt")
    return magic


# -- pieces ----------------------------------------------------------------------------


def test_problems_in_the_cell_get_the_cells_line_numbers() -> None:
    problems = [
        Problem("<cell>", 2, 1, "unknown key 'nme' at the top level", "did you mean 'name'?"),
        Problem("<cell>", 0, 0, "the cell as a whole"),
        Problem("other.yaml", 4, 2, "elsewhere"),
    ]
    moved = cell_problems(problems)
    assert [(p.path, p.line, p.column) for p in moved] == [
        ("<cell>", 3, 1),
        ("<cell>", 0, 0),
        ("other.yaml", 4, 2),
    ]
    assert moved[0].hint == "did you mean 'name'?"


def test_inputs_are_json_or_text_and_string_inputs_stay_text(runtime: Runtime) -> None:
    definition = runtime.definition("three")
    words = ["n=3", "label=1.10", "tags=[1, 2]", "name=ana", 'data={"a": null}', "empty="]
    assert parse_inputs(words, definition) == {
        "n": 3,
        "label": "1.10",
        "tags": [1, 2],
        "name": "ana",
        "data": {"a": None},
        "empty": "",
    }
    with pytest.raises(UsageError, match="expected key=value"):
        parse_inputs(["oops"], definition)


def test_a_broken_cell_is_refused_with_the_cells_line_numbers(runtime: Runtime) -> None:
    before = runtime.catalog.names
    with pytest.raises(DefinitionError) as caught:
        define(BROKEN_CELL, runtime)
    text = str(caught.value)
    assert "<cell>:3:1: unknown key 'nme' at the top level" in text
    assert "<cell>:2:1: missing required key 'name'" in text
    assert runtime.catalog.names == before


def test_a_cell_naming_an_unknown_child_workflow_is_refused(runtime: Runtime) -> None:
    cell = "wfkit: 1\nname: parent\nsteps:\n  kid: {workflow: nobody}\n"
    with pytest.raises(DefinitionError, match="<cell>:5:"):
        define(cell, runtime)
    assert "parent" not in runtime.catalog.names


def test_a_valid_cell_is_added(runtime: Runtime) -> None:
    definition = define(HELLO_CELL, runtime)
    assert runtime.definition("hello") is definition and definition.path == "<cell>"
    instance = runtime.run("hello", timeout=20)
    assert instance.status == "COMPLETED" and instance.steps["greet"].output == [0, 1]


def test_the_session_runtime_is_opened_once_and_closed_when_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WFKIT_DEFINITIONS", str(write_definitions(tmp_path / "d")))
    monkeypatch.setenv("WFKIT_STORE", f"sqlite:///{tmp_path / 'default.db'}")
    set_session_runtime(None)
    opened = session_runtime()
    try:
        assert session_runtime() is opened and opened.catalog.names == ["three"]
        assert opened.engine.running
        mine = wfkit.open(tmp_path / "d", f"sqlite:///{tmp_path / 'mine.db'}")
        set_session_runtime(mine)
        assert not opened.engine.running  # the magics opened it, so they closed it
        set_session_runtime(None)
        assert mine.engine.running  # yours stays open
        mine.close()
    finally:
        set_session_runtime(None)
        opened.close()


# -- the magic itself ------------------------------------------------------------------


def test_cell_run_and_list(
    runtime: Runtime, wfkit_magic: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    assert session_runtime() is runtime
    wfkit_magic("", HELLO_CELL)
    assert runtime.definition("hello").description == "made in a cell"
    assert "<Definition 'hello' from <cell>" in capsys.readouterr().out  # displayed
    with pytest.raises(UsageError, match="<cell>:3:1: unknown key 'nme'") as caught:
        wfkit_magic("", BROKEN_CELL)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    instance = wfkit_magic("run three n=2 label=7")
    assert "<InstanceWidget of" in capsys.readouterr().out
    assert isinstance(instance, ShownInstance) and isinstance(instance, Instance)
    assert [i.id for i in runtime.instances(name="three")] == [instance.id]
    instance.wait(20)
    assert instance.steps["a"].output == [0, 1]
    wfkit_magic("list")
    out = capsys.readouterr().out
    assert "hello" in out and "made in a cell" in out and "3 steps" in out
    assert f"{instance.id}  three  COMPLETED" in out
    wfkit_magic("")
    assert "%wfkit run NAME" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("fly", "unknown %wfkit command 'fly'"),
        ("run", "usage: %wfkit run NAME"),
        ("run nope", "no workflow named 'nope'"),
        ("run three n", "expected key=value"),
        ("use missing", "'missing' is not a wfkit Runtime"),
        ("use colour=red", "not colour"),
        ("use workers=many", "cannot open a runtime"),
        ('run "three', "cannot read the arguments"),
    ],
)
def test_mistakes_are_one_line_usage_errors(
    wfkit_magic: Callable[..., None], line: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        wfkit_magic(line)
    assert "\n" not in str(caught.value) or line == "fly"  # fly adds the usage


def test_bad_inputs_are_a_line_each(wfkit_magic: Callable[..., None], runtime: Runtime) -> None:
    with pytest.raises(UsageError) as caught:
        wfkit_magic("run three n=-1 label=7 lable=8")
    assert str(caught.value).splitlines() == [
        "invalid input for workflow 'three':",
        "  unknown input 'lable' (did you mean 'label'?)",
        "  input 'n': -1 is less than the minimum of 0",
    ]
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert runtime.instances(name="three") == []


def test_use_can_open_a_runtime(tmp_path: Path, wfkit_magic: Callable[..., None]) -> None:
    defs = write_definitions(tmp_path / "other")
    wfkit_magic(f"use definitions={defs} store=sqlite:///{tmp_path / 'other.db'} workers=1")
    opened = session_runtime()
    assert opened.settings.workers == 1 and opened.catalog.names == ["three"]
    set_session_runtime(None)
    assert not opened.engine.running  # opened by the magics: closed when replaced


def test_load_and_unload_in_a_real_shell(runtime: Runtime) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        load_ipython_extension(shell)
        assert "wfkit" in shell.magics_manager.magics["line"]
        assert "wfkit" in shell.magics_manager.magics["cell"]
        shell.user_ns["rt"] = runtime
        shell.run_line_magic("wfkit", "use rt")
        assert session_runtime() is runtime
        unload_ipython_extension(shell)
        assert "wfkit" not in shell.magics_manager.magics["line"]
        assert "wfkit" not in shell.magics_manager.magics["cell"]
    finally:
        InteractiveShell.clear_instance()


# -- a real kernel ---------------------------------------------------------------------


def test_magics_in_a_real_kernel(tmp_path: Path) -> None:
    defs = write_definitions(tmp_path / "defs")
    source = [
        f"import wfkit\nrt = wfkit.open({str(defs)!r}, 'sqlite:///{tmp_path / 'nb.db'}')",
        "%load_ext wfkit.views.magics\n%wfkit use rt",
        "%%wfkit\n" + BROKEN_CELL,  # fails, tagged raises-exception below
        "%%wfkit\n" + HELLO_CELL,
        "%wfkit run three n=2",  # the panel alone: the Instance is not drawn again below it
        "%wfkit run nope",  # fails, tagged too
        "job = %wfkit run three n=1",  # the panel, and the Instance in job
        "print(job.wait(30).status.value, job.steps['a'].output)",
        "job",  # elsewhere, the Instance shows itself as any instance does
        "%wfkit run three n=-1 nn=2",  # fails: a line per problem
        "for i in rt.instances():\n    i.wait(30)\n%wfkit list",
        "rt.close()",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in source])
    for failing in (nb.cells[2], nb.cells[5], nb.cells[9]):
        failing.metadata["tags"] = ["raises-exception"]
    NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    out = [cell.outputs for cell in nb.cells]
    broken = out[2]
    assert [(o["output_type"], o.get("name")) for o in broken] == [("stream", "stderr")]
    assert broken[0]["text"].startswith("UsageError: 2 problems:\n<cell>:2:1: missing")
    assert "<cell>:3:1: unknown key 'nme' at the top level" in broken[0]["text"]
    assert "image/svg+xml" in out[3][0]["data"]  # the new definition's graph
    widget = "application/vnd.jupyter.widget-view+json"
    for started in (out[4], out[6]):
        assert [(o["output_type"], list(o["data"])) for o in started] == [
            ("display_data", ["text/plain", widget])
        ]
    assert "UsageError: no workflow named 'nope'" in out[5][0]["text"]
    assert out[7][0]["text"] == "COMPLETED [0]\n"
    (shown,) = out[8]
    assert shown["output_type"] == "execute_result" and "image/svg+xml" in shown["data"]
    assert shown["data"]["text/plain"].startswith("<Instance ")
    assert out[9][0]["text"] == (
        "UsageError: invalid input for workflow 'three':\n"
        "  unknown input 'nn' (did you mean 'n'?)\n"
        "  input 'n': -1 is less than the minimum of 0\n"
    )
    assert "hello" in out[10][0]["text"] and "three  COMPLETED" in out[10][0]["text"]
    assert "Traceback" not in json.dumps(nb)
    assert all(o["output_type"] != "error" for outputs in out for o in outputs)
