"""What the command line reads as JSON: ``raise-event`` DATA and ``-i KEY=VALUE`` values,
as real subprocesses on a real SQLite file (helpers from test_cli_instances)."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli_instances import cwd, wfkit

__all__ = ["cwd"]  # the fixture, imported for the tests below


def _events(cwd: Path, instance_id: str) -> list[dict[str, object]]:
    history = json.loads(wfkit(cwd, "history", instance_id, "--json").stdout)
    return [e for e in history if e["type"] == "EventRaised"]


def test_raise_event_refuses_data_that_is_not_json_and_sends_nothing(cwd: Path) -> None:
    assert wfkit(cwd, "start", "gate", "--id", "g").returncode == 0
    refused = wfkit(cwd, "raise-event", "g", "go", "{approved: true}")
    assert refused.returncode == 2, refused.stderr
    assert "DATA is not valid JSON" in refused.stderr
    assert "at line 1, column 2" in refused.stderr  # where: the unquoted key
    assert "wfkit raise-event g go --text '{approved: true}'" in refused.stderr  # how
    assert "done" not in refused.stdout
    nan = wfkit(cwd, "raise-event", "g", "go", '{"a": NaN}')
    assert nan.returncode == 2 and "NaN is not JSON" in nan.stderr
    assert "line 1, column 7" in nan.stderr
    assert _events(cwd, "g") == []


def test_raise_event_text_sends_a_string_and_json_stays_json(cwd: Path) -> None:
    wfkit(cwd, "start", "gate", "--id", "g")
    assert wfkit(cwd, "raise-event", "g", "go", "--text", "{approved: true}").returncode == 0
    assert wfkit(cwd, "raise-event", "g", "go", '{"approved": true}').returncode == 0
    assert wfkit(cwd, "raise-event", "g", "go").returncode == 0
    assert [e.get("data") for e in _events(cwd, "g")] == [
        "{approved: true}",
        {"approved": True},
        None,
    ]
    both = wfkit(cwd, "raise-event", "g", "go", "1", "--text", "x")
    assert both.returncode == 2 and "not both" in both.stderr


def test_input_values_that_look_like_json_must_be_json(cwd: Path) -> None:
    (cwd / "definitions" / "typed.yaml").write_text(
        "wfkit: 1\nname: typed\ninputs: {n: {type: integer, default: 1}, any: {default: 0}}\n"
        'steps:\n  greet: {call: "clisteps:hello", with: {who: "${{ inputs.any }}"}}\n'
    )
    broken = wfkit(cwd, "run", "typed", "-i", "any={a: 1}")
    assert broken.returncode == 2, broken.stderr
    assert "the value of input 'any' is not valid JSON" in broken.stderr
    assert "line 1, column 2" in broken.stderr and "any='\"...\"'" in broken.stderr
    typed = wfkit(cwd, "run", "typed", "-i", "n=two")
    assert typed.returncode == 2 and "declared type: integer" in typed.stderr
    fine = wfkit(cwd, "run", "typed", "-i", "any=ana", "-i", "n=3", "--json")
    assert fine.returncode == 0, fine.stderr
    assert json.loads(fine.stdout)["input"] == {"any": "ana", "n": 3}
