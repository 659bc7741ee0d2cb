"""render, render_file, find_renderer: real executables, real subprocesses, no mocks."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from wfkit.errors import RenderError
from wfkit.graph.view import GraphView
from wfkit.views import find_renderer, render, render_file, to_dot

Groups = Callable[[bytes | str, str], list[ET.Element]]
MakeScript = Callable[[Path, str, str], Path]
MakeRecorder = Callable[[Path, str], Path]
SVG = "{http://www.w3.org/2000/svg}"


# --- real rendering through graphviz-pure -------------------------------------------------


def test_svg_has_one_group_per_step_and_per_edge(
    view: GraphView, real_renderer: str, svg_groups: Groups
) -> None:
    svg = render(to_dot(view, statuses={"check": "failed"}), "svg")
    nodes = svg_groups(svg, "node")
    assert [g.get("id") for g in nodes] == [f"step_{s.id}" for s in view.steps]
    assert len(svg_groups(svg, "edge")) == len(view.edges)  # the invisible edge is not drawn
    check = nodes[1]
    assert (check.get("class") or "").split() == ["node", "wfkit-step", "status-failed"]
    clusters = svg_groups(svg, "cluster")
    assert [c.findtext(f"{SVG}title") for c in clusters] == ["cluster_finally"]


def test_edges_are_dashed_only_for_expression_references(
    view: GraphView, real_renderer: str, svg_groups: Groups
) -> None:
    svg = render(to_dot(view), "svg")
    dashed: dict[str, bool] = {}
    for group in svg_groups(svg, "edge"):
        line = next(group.iter(f"{SVG}path"))
        dashed[(group.get("class") or "").split()[-1]] = "stroke-dasharray" in line.attrib
    assert dashed == {"via-expression": True, "via-needs": False, "via-both": False}


def test_svg_bytes_are_the_same_on_every_run(view: GraphView, real_renderer: str) -> None:
    dot = to_dot(view)
    assert render(dot, "svg") == render(dot, "svg")


def test_png_is_a_real_png(view: GraphView, real_renderer: str) -> None:
    png = render(to_dot(view), "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 200 and height > 20


def test_format_names_are_case_insensitive(view: GraphView, real_renderer: str) -> None:
    assert render(to_dot(view), "SVG").lstrip().startswith(b"<?xml")


def test_dot_format_returns_the_text_without_any_executable(no_renderers: dict[str, Path]) -> None:
    assert render("digraph { a -> b }", "dot") == b"digraph { a -> b }"


@pytest.mark.parametrize(("name", "magic"), [("g.svg", b"<?xml"), ("G.PNG", b"\x89PNG")])
def test_render_file_picks_the_format_from_the_suffix(
    view: GraphView, real_renderer: str, tmp_path: Path, name: str, magic: bytes
) -> None:
    written = render_file(to_dot(view), tmp_path / name)
    assert written == tmp_path / name
    assert written.read_bytes().startswith(magic)


def test_render_file_writes_dot_text(view: GraphView, tmp_path: Path) -> None:
    dot = to_dot(view)
    render_file(dot, str(tmp_path / "g.dot"))
    assert (tmp_path / "g.dot").read_text(encoding="utf-8") == dot


def test_render_file_refuses_an_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"\.pdf.*\.svg, \.png, \.dot"):
        render_file("digraph {}", tmp_path / "g.pdf")
    with pytest.raises(RenderError, match="none"):
        render_file("digraph {}", tmp_path / "graph")
    assert list(tmp_path.iterdir()) == []


def test_render_refuses_an_unknown_format() -> None:
    with pytest.raises(RenderError, match=r"'pdf'.*svg, png, dot"):
        render("digraph {}", "pdf")


# --- which executable is used ---------------------------------------------------------------

# (where each candidate exists) -> which one wins; folders: path (PATH), scripts, exe
ORDER = [
    ({"env": True, "path/dot": True, "path/graphviz-pure": True}, "custom/my-dot"),
    ({"path/dot": True, "path/graphviz-pure": True, "scripts/graphviz-pure": True}, "path/dot"),
    ({"path/graphviz-pure": True, "scripts/graphviz-pure": True}, "path/graphviz-pure"),
    ({"scripts/graphviz-pure": True, "exe/graphviz-pure": True}, "scripts/graphviz-pure"),
    ({"exe/graphviz-pure": True, "scripts/dot": True}, "exe/graphviz-pure"),
]


@pytest.mark.parametrize(("present", "winner"), ORDER)
def test_lookup_order(
    present: dict[str, bool],
    winner: str,
    no_renderers: dict[str, Path],
    make_recorder: MakeRecorder,
    calls_log: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for where in present:
        if where == "env":
            custom = make_recorder(tmp_path / "custom", "my-dot")
            monkeypatch.setenv("WFKIT_DOT", str(custom))
        else:
            folder, name = where.split("/")
            make_recorder(no_renderers[folder], name)
    assert find_renderer() == str(tmp_path / winner)
    svg = render("digraph { a }", "svg")
    assert ET.fromstring(svg).get("id") == winner
    assert calls_log.read_text().splitlines() == [f"{winner} -Tsvg"]


def test_wfkit_dot_may_be_a_command_name_on_path(
    no_renderers: dict[str, Path], make_recorder: MakeRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = make_recorder(no_renderers["path"], "my-renderer")
    monkeypatch.setenv("WFKIT_DOT", "my-renderer")
    assert find_renderer() == str(script)


def test_wfkit_dot_naming_nothing_is_an_error_not_a_fallback(
    no_renderers: dict[str, Path], make_recorder: MakeRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_recorder(no_renderers["path"], "dot")
    monkeypatch.setenv("WFKIT_DOT", str(no_renderers["path"] / "missing"))
    with pytest.raises(RenderError, match=r"WFKIT_DOT=.*missing.*not an executable"):
        find_renderer()


def test_nothing_found_says_what_to_install(no_renderers: dict[str, Path]) -> None:
    with pytest.raises(RenderError) as caught:
        render("digraph { a }", "svg")
    message = str(caught.value)
    assert "pip install graphviz-pure" in message
    assert "apt-get install graphviz" in message
    assert "WFKIT_DOT" in message
    assert str(no_renderers["scripts"]) in message


def test_non_executable_files_are_not_renderers(no_renderers: dict[str, Path]) -> None:
    (no_renderers["path"] / "dot").write_text("#!/bin/sh\n")  # no execute bit
    with pytest.raises(RenderError, match="no graph renderer found"):
        find_renderer()


# --- what is handed to the executable, and its failures ------------------------------------


def test_the_renderer_gets_dot_on_stdin_and_the_format_flag(
    make_script: MakeScript, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = make_script(
        tmp_path,
        "echo-dot",
        f"""
        printf '%s\\n' "$@" > "{tmp_path}/args"
        cat > "{tmp_path}/stdin"
        printf 'PNGDATA'
        """,
    )
    monkeypatch.setenv("WFKIT_DOT", str(script))
    text = 'digraph { "ünïcode" -> b }'
    assert render(text, "png") == b"PNGDATA"
    assert (tmp_path / "args").read_text() == "-Tpng\n"
    assert (tmp_path / "stdin").read_text(encoding="utf-8") == text


def test_a_failing_renderer_is_a_render_error_with_its_stderr(
    make_script: MakeScript, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    body = "cat > /dev/null\necho 'Error: syntax error in line 1 near ->' >&2\nexit 1\n"
    monkeypatch.setenv("WFKIT_DOT", str(make_script(tmp_path, "bad-dot", body)))
    with pytest.raises(RenderError, match=r"exit status 1: Error: syntax error in line 1"):
        render("digraph { -> }", "svg")


def test_real_renderer_rejects_bad_dot(real_renderer: str) -> None:
    with pytest.raises(RenderError, match="exit status"):
        render("digraph { a -> ", "svg")


def test_a_renderer_printing_nothing_is_an_error(
    make_script: MakeScript, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    body = "cat > /dev/null\necho 'warning: out of ink' >&2\n"
    monkeypatch.setenv("WFKIT_DOT", str(make_script(tmp_path, "mute-dot", body)))
    with pytest.raises(RenderError, match="printed nothing: warning: out of ink"):
        render("digraph { a }", "svg")


def test_a_slow_renderer_times_out(
    make_script: MakeScript, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WFKIT_DOT", str(make_script(tmp_path, "slow-dot", "exec sleep 10\n")))
    with pytest.raises(RenderError, match=r"more than 0\.3s"):
        render("digraph { a }", "svg", timeout=0.3)


def test_a_renderer_that_cannot_start_is_a_render_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "broken-dot"
    broken.write_text("#!/no/such/interpreter\n")
    broken.chmod(0o755)
    monkeypatch.setenv("WFKIT_DOT", str(broken))
    with pytest.raises(RenderError, match="could not run"):
        render("digraph { a }", "svg")
