"""The CLI and its definitions folder: ambiguous names, a YAML path for ``run``, graphs of
instances, and folders without definitions (real subprocesses, real SQLite files)."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert json.loads(wfkit(cwd, "list", "--json").stdout) == []  # nothing started
    other = wfkit(cwd, "run", "gate", "--id", "g", "--timeout", "0.5")
    assert other.returncode == 4, other.stderr  # runs (and waits for its event)
