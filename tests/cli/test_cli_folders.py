"""The CLI and its definitions folder: ambiguous names, a YAML path for ``run``, graphs of
instances, and folders without definitions (real subprocesses, real SQLite files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli_instances import cwd, wfkit

__all__ = ["cwd"]  # the fixture, imported for the tests below


def test_a_name_declared_twice_is_refused_and_the_others_still_run(cwd: Path) -> None:
    defs = cwd / "definitions"
    (defs / "hello-copy.yaml").write_text(
        "# a copy that forgot to change its name\n" + (defs / "hello.yaml").read_text()
    )
    first, second = Path("definitions") / "hello-copy.yaml", Path("definitions") / "hello.yaml"
    for command in ("run", "start"):
        refused = wfkit(cwd, command, "hello", "--id", f"dup-{command}")
        assert refused.returncode == 1, refused.stderr
        assert f"{first}:3:7: workflow name 'hello' is also declared in {second}:2:7" in (
            refused.stderr
        )
        assert f"{second}:2:7: workflow name 'hello' is also declared in {first}:3:7" in (
            refused.stderr
        )
        assert "names must be unique in a definitions folder; rename one" in refused.stderr
    assert not (cwd / "state.db").exists()  # nothing started (and no empty store made)
    other = wfkit(cwd, "run", "gate", "--id", "g", "--timeout", "0.5")
    assert other.returncode == 4, other.stderr  # runs (and waits for its event)


def test_run_takes_the_path_of_a_yaml_file_whose_folder_holds_its_children(cwd: Path) -> None:
    flows = cwd / "flows"
    flows.mkdir()
    (flows / "solosteps.py").write_text("def hi(who):\n    return f'hi {who}'\n")
    (flows / "solo.yaml").write_text(
        'wfkit: 1\nname: solo\nsteps:\n  a: {call: "solosteps:hi", with: {who: solo}}\n'
        "  b: {workflow: kid, needs: [a]}\noutput: ${{ steps.b.output }}\n"
    )
    (flows / "kid.yaml").write_text(
        'wfkit: 1\nname: kid\nsteps:\n  k: {call: "solosteps:hi", with: {who: kid}}\n'
        "output: ${{ steps.k.output }}\n"
    )
    ran = wfkit(cwd, "run", str(Path("flows") / "solo.yaml"), "--id", "s1", "--json")
    assert ran.returncode == 0, ran.stderr
    got = json.loads(ran.stdout)
    assert (got["workflowName"], got["output"]) == ("solo", "hi kid")
    clash = wfkit(cwd, "run", "flows/solo.yaml", "--definitions", "definitions")
    assert clash.returncode == 2 and "drop --definitions" in clash.stderr
    missing = wfkit(cwd, "run", "flows/nothing.yaml")
    assert missing.returncode == 2 and "no such file: flows/nothing.yaml" in missing.stderr
    start = wfkit(cwd, "start", "flows/solo.yaml")
    assert start.returncode == 2 and "wfkit run flows/solo.yaml" in start.stderr


def test_graph_of_an_instance_id_colours_its_steps_by_status(cwd: Path) -> None:
    from wfkit.views.dot import STATUS_COLORS

    assert wfkit(cwd, "run", "bad", "--id", "b1").returncode == 1  # its step x fails
    drawn = wfkit(cwd, "graph", "b1", "-o", "run.svg")
    assert drawn.returncode == 0, drawn.stderr
    svg = (cwd / "run.svg").read_text()
    assert "status&#45;failed" in svg and f'fill="{STATUS_COLORS["failed"]}"' in svg
    as_json = json.loads(wfkit(cwd, "graph", "b1", "--json").stdout)
    assert (as_json["instanceID"], as_json["runtimeStatus"]) == ("b1", "FAILED")
    assert as_json["statuses"] == {"x": "failed"}
    plain = json.loads(wfkit(cwd, "graph", "bad", "--json").stdout)  # the workflow's name
    assert "statuses" not in plain and plain["name"] == "bad"
    neither = wfkit(cwd, "graph", "nobody")
    assert neither.returncode == 1 and "no workflow named 'nobody'" in neither.stderr


COMMANDS = [
    ["validate"],
    ["graph", "x"],
    ["schema"],
    ["run", "x"],
    ["start", "x"],
    ["get", "x"],
    ["history", "x"],
    ["list"],
    ["pause", "x"],
    ["resume", "x"],
    ["terminate", "x"],
    ["purge", "x"],
    ["retry", "x"],
    ["raise-event", "x", "go"],
    ["worker", "--for", "0.2"],
]


def _bare(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``wfkit`` in ``folder`` with the default settings (no $WFKIT_* variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFKIT_")}
    return subprocess.run(
        [sys.executable, "-m", "wfkit", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_no_command_leaves_a_store_in_a_folder_without_definitions(
    tmp_path: Path, command: list[str]
) -> None:
    done = _bare(tmp_path, *command)
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == [], (command, done.stderr)


def test_a_refused_start_leaves_no_store_and_a_real_one_makes_it(cwd: Path) -> None:
    store = cwd / ".wfkit" / "wfkit.db"
    for command in (["run", "helo"], ["start", "helo"], ["start", "hello", "-i", "x=1"]):
        refused = _bare(cwd, *command)
        assert refused.returncode != 0, (command, refused.stderr)
        assert not (cwd / ".wfkit").exists(), (command, refused.stderr)
    assert _bare(cwd, "start", "hello").returncode == 0
    assert store.is_file()
    assert _bare(cwd, "start", "nobody").returncode == 1
    assert store.is_file() and _bare(cwd, "get", "x").returncode == 1  # kept: it is in use
