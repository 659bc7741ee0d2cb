"""definition_mimebundle: a Definition drawn in a notebook, or a table when drawing fails."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

import wfkit.graph
from wfkit.definition.display import mimebundle
from wfkit.definition.model import Definition
from wfkit.graph import parse_definition
from wfkit.views import definition_mimebundle

Groups = Callable[[bytes | str, str], list[ET.Element]]
MakeScript = Callable[[Path, str, str], Path]

YAML = """\
wfkit: 1
name: nasty
description: 'shows <b>markup</b> & "quotes"'
steps:
  fetch:
    call: json:loads
    foreach: ${{ [1, 2] }}
  echo:
    shell: [echo, "<script>alert('x')</script>", "a & b"]
    needs: [fetch]
    env: {DATA: "${{ steps.fetch.output }}"}
  approve:
    wait: {event: go, timeout: 1h}
    needs: [echo]
    when: ${{ steps.echo.status == 'completed' }}
  publish:
    workflow: child-flow
    needs: [approve]
    pause_before: true
finally:
  rest: {sleep: 10s}
"""


@pytest.fixture
def definition() -> Definition:
    return parse_definition(YAML, "nasty.yaml")


class _Table(HTMLParser):
    """Collects the text of every table cell, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(page: str) -> list[list[str]]:
    parser = _Table()
    parser.feed(page)
    return parser.rows


EXPECTED_ROWS = [
    ["step", "kind", "target", "needs"],
    ["fetch", "call", "json:loads", ""],
    ["echo", "shell", "echo '<script>alert('\"'\"'x'\"'\"')</script>' 'a & b'", "fetch"],
    ["approve", "wait", "event go (timeout 1h)", "echo"],
    ["publish", "workflow", "child-flow", "approve"],
    ["rest (finally)", "sleep", "10s", ""],
]


def test_a_definition_draws_as_svg(
    definition: Definition, real_renderer: str, svg_groups: Groups
) -> None:
    bundle = definition_mimebundle(definition)
    assert set(bundle) == {"image/svg+xml", "text/html", "text/plain"}
    svg = bundle["image/svg+xml"]
    ids = [g.get("id") for g in svg_groups(svg, "node")]
    assert ids == ["step_fetch", "step_echo", "step_approve", "step_publish", "step_rest"]
    assert len(svg_groups(svg, "edge")) == 3
    page = bundle["text/html"]
    assert "<?xml" not in page and "<!DOCTYPE" not in page
    assert "<svg" in page and "shows &lt;b&gt;markup&lt;/b&gt; &amp; &quot;quotes&quot;" in page
    assert bundle["text/plain"] == repr(definition)


def test_importing_wfkit_views_makes_definitions_draw_themselves(
    definition: Definition, real_renderer: str
) -> None:
    assert "image/svg+xml" in definition._repr_mimebundle_()
    assert mimebundle(definition, "fallback") == definition_mimebundle(definition)


def test_a_failing_renderer_gives_a_table_of_steps(
    definition: Definition,
    make_script: MakeScript,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    body = f"touch '{tmp_path}/called'\ncat > /dev/null\necho 'dot: out of memory' >&2\nexit 3\n"
    monkeypatch.setenv("WFKIT_DOT", str(make_script(tmp_path, "bad-dot", body)))
    bundle = definition_mimebundle(definition)
    assert (tmp_path / "called").exists()  # the view was built; drawing is what failed
    assert set(bundle) == {"text/html", "text/plain"}
    page = bundle["text/html"]
    assert table_rows(page) == EXPECTED_ROWS
    assert "<script>" not in page
    assert "graph not drawn" in page and "dot: out of memory" in page
    plain = bundle["text/plain"]
    assert plain.startswith(repr(definition))
    assert "  approve  wait  event go (timeout 1h)  echo" in plain.splitlines()


def test_no_renderer_gives_a_table_that_says_what_to_install(
    definition: Definition, no_renderers: dict[str, Path]
) -> None:
    bundle = definition_mimebundle(definition)
    assert "image/svg+xml" not in bundle
    assert table_rows(bundle["text/html"]) == EXPECTED_ROWS
    assert "pip install graphviz-pure" in bundle["text/html"]


def test_a_failing_view_builder_gives_a_table_too(
    definition: Definition, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(_: Definition) -> None:
        raise RuntimeError("graph layer broke")

    monkeypatch.setattr(wfkit.graph, "build_view", explode)
    bundle = definition_mimebundle(definition)
    assert table_rows(bundle["text/html"]) == EXPECTED_ROWS
    assert "graph layer broke" in bundle["text/html"]


def test_a_broken_definition_object_still_never_raises(no_renderers: dict[str, Path]) -> None:
    broken = Definition(name="broken", steps={"a": object()})  # type: ignore[dict-item]
    bundle = definition_mimebundle(broken)
    assert bundle == {"text/plain": repr(broken)}


def test_importing_wfkit_views_does_not_load_graphviz() -> None:
    code = "import sys, wfkit.views; print('graphviz' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
