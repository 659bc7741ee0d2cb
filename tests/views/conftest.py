"""Shared fixtures for the views tests: hand-built graph views and real executables."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import wfkit
from wfkit.graph.view import EdgeView, GraphView, StepView
from wfkit.runtime.api import Runtime

MakeScript = Callable[[Path, str, str], Path]

NASTY_ID = "a<b>&\"c'\\N"


def _write_script(folder: Path, name: str, body: str) -> Path:
    """A real executable shell script ``folder/name`` running ``body``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body).lstrip("\n"))
    path.chmod(0o755)
    return path


@pytest.fixture
def make_script() -> MakeScript:
    """Write an executable ``/bin/sh`` script: ``make_script(folder, name, body)``."""
    return _write_script


MakeRecorder = Callable[[Path, str], Path]


@pytest.fixture
def calls_log(tmp_path: Path) -> Path:
    """The file the recording renderers append ``<folder name>/<name> <args>`` lines to."""
    return tmp_path / "calls.log"


@pytest.fixture
def make_recorder(calls_log: Path) -> MakeRecorder:
    """A fake renderer ``folder/name``: logs its call, reads stdin, prints a tiny SVG."""

    def make(folder: Path, name: str) -> Path:
        tag = f"{folder.name}/{name}"
        body = f"""
            echo "{tag} $*" >> "{calls_log}"
            cat > /dev/null
            echo '<svg xmlns="http://www.w3.org/2000/svg" id="{tag}"/>'
        """
        return _write_script(folder, name, body)

    return make


@pytest.fixture
def no_renderers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Path]:
    """An environment where no renderer can be found; returns the empty folders searched.

    PATH is one empty folder, WFKIT_DOT is unset, and this Python's scripts folder and the
    folder of ``sys.executable`` are replaced by two more empty folders.
    """
    folders = {name: tmp_path / name for name in ("path", "scripts", "exe")}
    for folder in folders.values():
        folder.mkdir()
    monkeypatch.delenv("WFKIT_DOT", raising=False)
    monkeypatch.setenv("PATH", str(folders["path"]))
    real_get_path = sysconfig.get_path

    def get_path(name: str, *args: object, **kwargs: object) -> str:
        if name == "scripts":
            return str(folders["scripts"])
        return real_get_path(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sysconfig, "get_path", get_path)
    monkeypatch.setattr(sys, "executable", str(folders["exe"] / "python"))
    return folders


def _graphviz_pure() -> str:
    """The real graphviz-pure binary installed with wfkit (a hard dependency)."""
    for folder in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        found = shutil.which("graphviz-pure", path=folder)
        if found:
            return found
    found = shutil.which("graphviz-pure")
    if found is None:
        pytest.fail("graphviz-pure is not installed: pip install graphviz-pure")
    return found


@pytest.fixture
def real_renderer(monkeypatch: pytest.MonkeyPatch) -> str:
    """Point WFKIT_DOT at the real graphviz-pure binary and return its path."""
    path = _graphviz_pure()
    monkeypatch.setenv("WFKIT_DOT", path)
    return path


@pytest.fixture
def view() -> GraphView:
    """Six steps (one of each marker, one finally step), five edges of all three kinds."""
    steps = (
        StepView("extract", "call", "etl:pull", foreach=True, description="pull one month"),
        StepView("check", "shell", "python -m check"),
        StepView("train", "notebook", "notebooks/train.ipynb"),
        StepView("approve", "wait", "event ok", when="steps.train.output.score >= 0.8"),
        StepView("publish", "workflow", "publish-model", pause_before=True),
        StepView("notify", "call", "notify:post", is_finally=True),
    )
    edges = (
        EdgeView("extract", "check", "expression"),
        EdgeView("check", "train", "needs"),
        EdgeView("extract", "train", "expression"),
        EdgeView("train", "approve", "needs+expression"),
        EdgeView("approve", "publish", "needs"),
    )
    generations = (("extract",), ("check",), ("train",), ("approve",), ("publish", "notify"))
    return GraphView("churn-report", steps, edges, generations, "monthly churn")


@pytest.fixture
def nasty() -> GraphView:
    """Ids, kinds and targets full of characters that DOT, HTML and XML treat specially."""
    steps = (
        StepView(NASTY_ID, "call", 'mod:<f> & "g"\\l'),
        StepView("plain-id", "shell", "echo </FONT>]]> <!-- x -->", when='x == "<y>"'),
        StepView("fin:al", "call", "a\nb\tc", is_finally=True, description="new\nline"),
    )
    edges = (EdgeView(NASTY_ID, "plain-id", "needs"), EdgeView("plain-id", "fin:al", "expression"))
    return GraphView('wf "<name>"', steps, edges, ((NASTY_ID,), ("plain-id",), ("fin:al",)))


SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"


def _groups(svg: bytes | str, kind: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [g for g in root.iter(f"{SVG}g") if kind in (g.get("class") or "").split()]


@pytest.fixture
def svg_groups() -> Callable[[bytes | str, str], list[ET.Element]]:
    """``svg_groups(svg, "node")``: the parsed SVG's ``<g>`` elements of that class."""
    return _groups


# -- workflows that the instance and widget tests run ----------------------------------

STEPS = """\
def numbers(n):
    return list(range(n))

def double(x):
    return x * 2

def total(xs):
    return {"total": sum(xs), "count": len(xs)}

def boom():
    raise RuntimeError("boom")
"""

DEFINITIONS = {
    "three": """\
wfkit: 1
name: three
inputs: {n: {type: integer, default: 4}}
steps:
  numbers: {call: "viewsteps:numbers", with: {n: "${{ inputs.n }}"}}
  double: {call: "viewsteps:double", foreach: "${{ steps.numbers.output }}", with: {x: "${{ item }}"}}
  total: {call: "viewsteps:total", with: {xs: "${{ steps.double.output }}"}}
""",
    "gated": """\
wfkit: 1
name: gated
steps:
  first: {call: "viewsteps:numbers", with: {n: 2}}
  approve: {wait: {event: go}, needs: [first]}
  last: {call: "viewsteps:total", with: {xs: "${{ steps.first.output }}"}, needs: [approve]}
finally:
  tidy: {call: "viewsteps:numbers", with: {n: 0}}
""",
    "breaky": """\
wfkit: 1
name: breaky
steps:
  first: {call: "viewsteps:numbers", with: {n: 2}}
  publish: {call: "viewsteps:total", with: {xs: "${{ steps.first.output }}"}, pause_before: true}
""",
    "failing": """\
wfkit: 1
name: failing
steps:
  ok: {call: "viewsteps:numbers", with: {n: 1}}
  bad: {call: "viewsteps:boom", needs: [ok]}
""",
}


@pytest.fixture
def view_definitions(tmp_path: Path) -> Path:
    """A definitions folder with the step module and the workflows above."""
    folder = tmp_path / "defs"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "viewsteps.py").write_text(STEPS)
    for name, text in DEFINITIONS.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


@pytest.fixture
def runtime(tmp_path: Path, real_renderer: str, view_definitions: Path) -> Iterator[Runtime]:
    """A runtime over :func:`view_definitions`, with a store file of its own."""
    rt = wfkit.open(view_definitions, f"sqlite:///{tmp_path / 'state.db'}", workers=2)
    yield rt
    rt.close()
