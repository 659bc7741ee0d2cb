"""What the command line reads as JSON: ``raise-event`` DATA and ``-i KEY=VALUE`` values,
as real subprocesses on a real SQLite file (helpers from test_cli_instances)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def test_raise_event_warns_of_a_name_no_wait_step_takes(cwd: Path) -> None:
    wfkit(cwd, "start", "gate", "--id", "g")
    typo = wfkit(cwd, "raise-event", "g", "og", "1")
    assert typo.returncode == 0, typo.stderr  # sent all the same: the warning says so
    assert (
        "wfkit raise-event: warning: no wait step of workflow 'gate' takes event 'og': "
        "instance 'g' keeps it buffered, unused (it waits for 'go')"
    ) in typo.stderr
    as_json = json.loads(wfkit(cwd, "raise-event", "g", "gone", "--json").stdout)
    assert "did you mean 'go'?" in as_json["warning"]
    heard = wfkit(cwd, "raise-event", "g", "GO", "1")
    assert heard.returncode == 0 and "warning" not in heard.stderr
    assert [e["name"] for e in _events(cwd, "g")] == ["og", "gone", "go"]


def test_raise_event_refuses_names_no_wait_step_could_take(cwd: Path) -> None:
    wfkit(cwd, "start", "gate", "--id", "g")
    for name, reason in (("", "the name is empty"), ("a\tb", "a control character")):
        refused = wfkit(cwd, "raise-event", "g", name, "1", "--json")
        assert refused.returncode == 1, refused.stderr
        error = json.loads(refused.stdout)["error"]
        assert error["type"] == "InvalidEventName" and reason in error["message"]
    long = wfkit(cwd, "raise-event", "g", "x" * 5000, "1")
    assert long.returncode == 1 and "the name has 5000 characters" in long.stderr
    assert "x" * 81 not in long.stderr  # the name is cut when echoed
    assert _events(cwd, "g") == []


def test_data_nested_too_deep_is_a_usage_error_not_a_crash(cwd: Path) -> None:
    wfkit(cwd, "start", "gate", "--id", "g")
    deep = "[" * 50_000 + "]" * 50_000  # past what json.loads can nest
    refused = wfkit(cwd, "raise-event", "g", "go", deep)
    assert refused.returncode == 2 and "DATA is not valid JSON: it nests too deep" in refused.stderr
    assert "Traceback" not in refused.stderr
    as_input = wfkit(cwd, "run", "hello", "-i", f"extra={deep}")
    assert as_input.returncode == 2 and "it nests too deep" in as_input.stderr


def test_raise_event_reads_data_from_stdin_past_the_argument_size_limit(cwd: Path) -> None:
    """One command-line argument holds at most 128 KiB on Linux, far below the 16 MiB an
    event's data may have: DATA ``-`` reads it from standard input instead."""
    assert wfkit(cwd, "start", "gate", "--id", "g").returncode == 0
    big = json.dumps({"rows": ["x" * 100] * 20_000})  # 2 MB of JSON
    env = {**os.environ, "WFKIT_STORE": f"sqlite:///{cwd / 'state.db'}"}
    argv = [sys.executable, "-m", "wfkit", "raise-event", "g", "go", "-"]

    def send(data: bytes, **extra: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            argv, cwd=cwd, env={**env, **extra}, input=data, capture_output=True, timeout=60
        )

    over = send(big.encode(), WFKIT_MAX_OUTPUT_BYTES="1000000")
    assert over.returncode == 1 and b"Traceback" not in over.stderr, over.stderr
    assert b"max_output_bytes" in over.stderr
    wrong = send(b"{oops")
    assert wrong.returncode == 2 and b"line 1, column 2" in wrong.stderr
    assert send(b"\xff").returncode == 2
    sent = send(big.encode())
    assert sent.returncode == 0, sent.stderr
    assert [e.get("data") for e in _events(cwd, "g")] == [json.loads(big)]
