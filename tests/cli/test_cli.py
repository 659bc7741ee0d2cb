"""The wfkit command, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GOOD = """\
wfkit: 1
name: tiny
steps:
  a: {call: "m:f"}
  b: {call: "m:f", needs: [a]}
"""
BAD = """\
wfkit: 1
name: tiny-bad
steps:
  a: {call: "m:f", neds: [b]}
  b: {sleep: 5 minutes}
"""


def wfkit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfkit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "tiny.yaml").write_text(GOOD, encoding="utf-8")
    return tmp_path


def test_validate_ok_exits_0(folder: Path) -> None:
    result = wfkit("validate", str(folder))
    assert result.returncode == 0, result.stderr
    assert "tiny (2 steps)" in result.stdout
    assert "all 1 files are valid" in result.stdout


def test_validate_problems_exit_1_with_positions_and_hints(folder: Path) -> None:
    bad = folder / "bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    result = wfkit("validate", str(folder))
    assert result.returncode == 1
    assert f"{bad}:4:20: unknown key 'neds' in steps.a" in result.stdout
    assert "hint: did you mean 'needs'?" in result.stdout
    assert f"{bad}:5:14: steps.b.sleep" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_validate_json_is_machine_readable(folder: Path) -> None:
    (folder / "bad.yaml").write_text(BAD, encoding="utf-8")
    result = wfkit("validate", "--json", str(folder))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [d["name"] for d in report["definitions"]] == ["tiny"]
    assert {(p["line"], p["column"]) for p in report["problems"]} == {(4, 20), (5, 14)}


def test_validate_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = wfkit("validate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert "no such file or folder" in missing.stderr
    empty = wfkit("validate", str(tmp_path))
    assert empty.returncode == 2
    assert "no *.yaml" in empty.stderr
    bad_flag = wfkit("validate", "--frobnicate")
    assert bad_flag.returncode == 2


def test_validate_defaults_to_the_definitions_folder(folder: Path) -> None:
    (folder / "definitions").mkdir()
    (folder / "definitions" / "tiny.yaml").write_text(GOOD, encoding="utf-8")
    result = wfkit("validate", cwd=folder)
    assert result.returncode == 0, result.stderr


CALLS = """\
wfkit: 1
name: calls
steps:
  fine: {call: "vsteps:scale", with: {value: 2, factor: 3}}
  typo: {call: "vsteps:scael", with: {value: 2}}
  nomod: {call: "vstepz:scale"}
  keys: {call: "vsteps:scale", with: {valeu: 2}}
"""
VSTEPS = "import math\n\ndef scale(value, factor=1):\n    return value * factor\n"


def test_validate_imports_checks_modules_functions_and_keywords(tmp_path: Path) -> None:
    (tmp_path / "calls.yaml").write_text(CALLS, encoding="utf-8")
    (tmp_path / "vsteps.py").write_text(VSTEPS, encoding="utf-8")
    plain = wfkit("validate", str(tmp_path))
    assert plain.returncode == 0, plain.stdout  # without --imports nothing is imported
    result = wfkit("validate", "--imports", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    where = {line.split(": ")[0].rsplit("/", 1)[-1] for line in result.stdout.splitlines()}
    assert {"calls.yaml:5:16", "calls.yaml:6:17", "calls.yaml:7:16"} <= where, result.stdout
    assert "has no function 'scael'; did you mean 'scale'?" in result.stdout
    assert "it defines" not in result.stdout  # the close name is enough
    assert "no module named 'vstepz'" in result.stdout and "did you mean 'vsteps'?" in result.stdout
    assert "'valeu' -> did you mean 'value'?" in result.stdout
    assert "3 problems in 1 of 1 files" in result.stdout
    report = json.loads(wfkit("validate", "--imports", "--json", str(tmp_path)).stdout)
    assert sorted(p["step"] for p in report["problems"]) == ["keys", "nomod", "typo"]


def test_validate_imports_passes_on_the_examples() -> None:
    root = Path(__file__).resolve().parents[2]
    result = wfkit("validate", "--imports", "definitions", cwd=root)
    assert result.returncode == 0, result.stdout


def test_graph_writes_svg_png_and_dot(folder: Path) -> None:
    for suffix, magic in ((".svg", b"<svg"), (".png", b"\x89PNG"), (".dot", b"digraph")):
        out = folder / f"g{suffix}"
        result = wfkit("graph", "tiny", "--definitions", str(folder), "-o", str(out))
        assert result.returncode == 0, result.stderr
        assert magic in out.read_bytes()[:400]


def test_graph_prints_dot_for_a_path(folder: Path) -> None:
    result = wfkit("graph", str(folder / "tiny.yaml"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("digraph")
    assert "id=step_a" in result.stdout


def test_graph_unknown_name_suggests(folder: Path) -> None:
    result = wfkit("graph", "tinny", "--definitions", str(folder))
    assert result.returncode == 1
    assert "no workflow named 'tinny'" in result.stderr
    assert "did you mean 'tiny'?" in result.stderr


def test_graph_bad_suffix_is_an_error(folder: Path) -> None:
    result = wfkit("graph", "tiny", "--definitions", str(folder), "-o", str(folder / "g.pdf"))
    assert result.returncode == 1
    assert ".svg" in result.stderr


def test_schema_prints_the_published_schema() -> None:
    result = wfkit("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["$defs"]["step"]["properties"]) >= {"call", "shell", "wait", "needs"}


def test_help_lists_every_command() -> None:
    result = wfkit("--help")
    assert result.returncode == 0
    for command in ("validate", "graph", "schema"):
        assert command in result.stdout


WIRED = """\
wfkit: 1
name: wired
steps:
  a: {call: "m:f"}
  b: {call: "m:f", needs: [a]}
  c: {call: "m:f", with: {x: "${{ steps.a.output }}"}, needs: [b]}
finally:
  tidy: {shell: [echo, done]}
"""


def test_graph_json_describes_the_graph_without_drawing_it(tmp_path: Path) -> None:
    path = tmp_path / "wired.yaml"
    path.write_text(WIRED, encoding="utf-8")
    probe = (
        "import sys\n"
        "from wfkit.cli.main import main\n"
        f"code = main(['graph', {str(path)!r}, '--json'])\n"
        "print('NETWORKX', 'networkx' in sys.modules, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "NETWORKX False" in result.stderr  # cheap: no graph library, no drawing
    assert json.loads(result.stdout) == {
        "name": "wired",
        "steps": [
            {"id": "a", "kind": "call", "needs": []},
            {"id": "b", "kind": "call", "needs": ["a"]},
            {"id": "c", "kind": "call", "needs": ["b"]},
            {"id": "tidy", "kind": "shell", "needs": []},
        ],
        "edges": [["a", "b"], ["a", "c"], ["b", "c"]],  # c reads a: an edge too
    }


def test_schema_takes_json_as_every_command_does() -> None:
    result = wfkit("schema", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["$schema"].endswith("2020-12/schema")


def test_every_command_takes_json() -> None:
    import argparse

    from wfkit.cli.main import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        flags = {flag for action in command._actions for flag in action.option_strings}
        assert "--json" in flags, f"wfkit {name} does not take --json"


def _help(command: str, flag: str) -> str:
    """The help text of one flag of one command, as the parser has it."""
    import argparse

    from wfkit.cli.main import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in commands.choices[command]._actions if flag in a.option_strings)
    return action.help or ""


def test_the_worker_help_says_which_events_it_prints() -> None:
    for flag in ("-v", "--json"):
        text = _help("worker", flag)
        assert "every history event" not in text
        assert "from the moment this worker takes it" in text and "wfkit start" in text


def test_the_input_help_says_string_inputs_are_always_text() -> None:
    text = _help("run", "-i")
    assert "`type: string`" in text and "always text" in text


HIDE_JUPYTER = "import sys\nfor name in ('nbclient', 'ipykernel'):\n    sys.modules[name] = None\n"


def test_validate_imports_says_when_a_step_kind_needs_an_extra(tmp_path: Path) -> None:
    (tmp_path / "nb.yaml").write_text(
        "wfkit: 1\nname: nb\nsteps:\n  report: {notebook: report.ipynb}\n", encoding="utf-8"
    )
    assert wfkit("validate", "--imports", str(tmp_path)).returncode == 0  # all installed here
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "sitecustomize.py").write_text(HIDE_JUPYTER, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "wfkit", "validate", "--imports", str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(hidden)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "nb.yaml:4:22: step 'report' is a notebook step, which needs nbclient, ipykernel "
        "(not installed here); install them with: pip install 'wfkit[jupyter]'"
    ) in result.stdout
