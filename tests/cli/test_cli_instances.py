"""The instance commands of the wfkit CLI, as real subprocesses on a real SQLite file."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

STEPS = """
import time
def hello(who):
    return f"hello {who}"
def nap(seconds):
    time.sleep(seconds)
    return seconds
def boom():
    raise ValueError("no good")
"""


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    defs = tmp_path / "definitions"
    defs.mkdir()
    (defs / "clisteps.py").write_text(STEPS)
    (defs / "hello.yaml").write_text(
        "wfkit: 1\nname: hello\ninputs: {who: {type: string, default: world}}\nsteps:\n"
        '  greet: {call: "clisteps:hello", with: {who: "${{ inputs.who }}"}}\n'
        "output: ${{ steps.greet.output }}\n"
    )
    (defs / "slow.yaml").write_text(
        'wfkit: 1\nname: slow\nsteps:\n  a: {call: "clisteps:nap", with: {seconds: 0.5}}\n'
        '  b: {call: "clisteps:nap", with: {seconds: 0.5}, needs: [a]}\n'
        '  c: {call: "clisteps:nap", with: {seconds: 0.5}, needs: [b]}\n'
    )
    (defs / "gate.yaml").write_text(
        "wfkit: 1\nname: gate\nsteps:\n  ok: {wait: {event: go}}\noutput: ${{ steps.ok.output }}\n"
    )
    (defs / "bad.yaml").write_text('wfkit: 1\nname: bad\nsteps:\n  x: {call: "clisteps:boom"}\n')
    people = json.dumps([f"p{i}" for i in range(FAN_OUT)])
    (defs / "fan.yaml").write_text(
        "wfkit: 1\nname: fan\ninputs: {who: {type: array, default: " + people + "}}\nsteps:\n"
        '  each: {call: "clisteps:hello", foreach: "${{ inputs.who }}", with: {who: "${{ item }}"}}\n'
        '  last: {call: "clisteps:hello", with: {who: all}, needs: [each]}\n'
    )
    (defs / "flaky.yaml").write_text(
        'wfkit: 1\nname: flaky\nsteps:\n  x: {call: "clisteps:boom", '
        "retry: {max_attempts: 2, initial_interval: 100ms}}\n"
    )
    return tmp_path


FAN_OUT = 24  # tasks of the foreach step of fan.yaml


def wfkit(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WFKIT_STORE": f"sqlite:///{cwd / 'state.db'}", "WFKIT_WORKERS": "2"}
    return subprocess.run(
        [sys.executable, "-m", "wfkit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_run_completes_and_prints_the_output(cwd: Path) -> None:
    result = wfkit(cwd, "run", "hello", "-i", "who=ana")
    assert result.returncode == 0, result.stderr
    assert ": COMPLETED" in result.stdout
    assert 'output: "hello ana"' in result.stdout
    assert "✓ greet completed" in result.stderr  # progress, one line per change off a tty


HEAVY_MODULES = ("networkx", "graphviz", "ipywidgets", "IPython", "nbclient", "nbformat")


def test_the_cli_module_loads_no_engine_until_a_command_needs_one() -> None:
    """validate, schema, graph and --help start fast: importing the CLI must not load
    the runtime API and the engine."""
    probe = (
        "import sys\n"
        "import wfkit.cli.main\n"
        "print('LOADED', sorted(m for m in ('wfkit.runtime.api', 'wfkit.engine.loop.engine') "
        "if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout, done.stdout


def test_run_loads_none_of_the_heavy_libraries(cwd: Path) -> None:
    # networkx alone added 0.1 s to every `wfkit run`; drawing and notebooks need these
    # libraries, running a workflow of call steps does not.
    probe = (
        "import sys\n"
        "from wfkit.cli.main import main\n"
        "code = main(['run', 'hello'])\n"
        f"print('LOADED', sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "WFKIT_STORE": f"sqlite:///{cwd / 'state.db'}"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout, done.stdout


def test_run_json_and_string_inputs_stay_text(cwd: Path) -> None:
    result = wfkit(cwd, "run", "hello", "-i", "who=2024.06", "--json")
    data = json.loads(result.stdout)
    assert data["runtimeStatus"] == "COMPLETED"
    assert data["output"] == "hello 2024.06"
    # the same form as wfkit get --json, steps included
    got = json.loads(wfkit(cwd, "get", data["instanceID"], "--json").stdout)
    assert set(data) == set(got) and data["steps"] == got["steps"]
    assert data["steps"]["greet"]["output"] == "hello 2024.06"


def test_run_of_a_failing_workflow_exits_1_with_the_failure(cwd: Path) -> None:
    result = wfkit(cwd, "run", "bad")
    assert result.returncode == 1
    assert "failure: ValueError: step 'x' failed: no good" in result.stdout
    assert "Traceback" not in result.stderr


def test_start_then_a_worker_runs_it(cwd: Path) -> None:
    started = wfkit(cwd, "start", "hello", "--id", "job-1")
    assert started.returncode == 0 and started.stdout.strip() == "job-1"
    assert json.loads(wfkit(cwd, "get", "job-1", "--json").stdout)["runtimeStatus"] == "PENDING"
    worker = wfkit(cwd, "worker", "--for", "3")
    assert worker.returncode == 0, worker.stderr
    said = _worker_lines(worker.stderr)
    assert said == [
        "job-1 hello: picked up",
        "job-1 hello: step greet completed",
        "job-1 hello: COMPLETED in",
    ], worker.stderr
    assert worker.stdout == ""
    got = json.loads(wfkit(cwd, "get", "job-1", "--json").stdout)
    assert (got["runtimeStatus"], got["output"]) == ("COMPLETED", "hello world")
    assert got["steps"]["greet"]["status"] == "completed"


CLOCK = re.compile(r"^\d\d:\d\d:\d\d ")


def _worker_lines(stderr: str) -> list[str]:
    """The lines of a worker's default output, without their time, each cut after its
    first " in " or "(" (durations and counts vary), banners left out."""
    said = []
    for line in stderr.splitlines():
        if line.startswith("worker "):
            continue
        assert CLOCK.match(line), f"no HH:MM:SS time: {line!r}"
        text = CLOCK.sub("", line)
        for cut in (" in ", " ("):
            if cut in text:
                text = text[: text.index(cut) + len(cut.rstrip(" ("))]
        said.append(text)
    return said


def test_worker_says_one_line_per_step_and_why_a_step_failed(cwd: Path) -> None:
    for name in ("fan", "flaky"):
        assert wfkit(cwd, "start", name, "--id", name).returncode == 0
    worker = wfkit(cwd, "worker", "--for", "3")
    assert worker.returncode == 0, worker.stderr
    fan = [line for line in _worker_lines(worker.stderr) if line.startswith("fan ")]
    assert fan == [
        "fan fan: picked up",
        "fan fan: step each completed",  # once, not once per task
        "fan fan: step last completed",
        "fan fan: COMPLETED in",
    ], worker.stderr
    assert f"fan fan: step each completed ({FAN_OUT} tasks, " in worker.stderr
    lines = worker.stderr.splitlines()
    flaky = [CLOCK.sub("", line) for line in lines if " flaky flaky: " in line]
    assert len(flaky) == 4, worker.stderr
    assert flaky[0] == "flaky flaky: picked up"
    assert re.fullmatch(
        r"flaky flaky: step x attempt 1 of 2 failed: ValueError: no good; "
        r"attempt 2 at \d\d:\d\d:\d\d",
        flaky[1],
    ), flaky
    assert flaky[2] == "flaky flaky: step x failed after 2 attempts: ValueError: no good"
    assert re.fullmatch(
        r"flaky flaky: FAILED in [\d.]+m?s: ValueError: step 'x' failed: no good", flaky[3]
    ), flaky
    assert worker.stdout == ""


def test_worker_verbose_prints_every_event_with_its_foreach_index(cwd: Path) -> None:
    wfkit(cwd, "start", "fan", "--id", "v")
    worker = wfkit(cwd, "worker", "--for", "3", "-v")
    assert worker.returncode == 0, worker.stderr
    events = [line.split(" ", 2) for line in worker.stderr.splitlines()[1:-1]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", at) for at, _, _ in events), events
    assert {who for _, who, _ in events} == {"v"}
    what = [text for _, _, text in events]
    scheduled = sorted(w for w in what if w.startswith("TaskScheduled each["))
    assert scheduled == sorted(f"TaskScheduled each[{i}]" for i in range(FAN_OUT))
    assert what.count("TaskCompleted last") == 1 and what[-1] == "ExecutionCompleted"


def test_worker_json_prints_every_event_as_json_lines_on_stdout(cwd: Path) -> None:
    for name in ("fan", "flaky", "hello"):
        wfkit(cwd, "start", name, "--id", f"j-{name}")
    worker = wfkit(cwd, "worker", "--for", "3", "--json")
    assert worker.returncode == 0, worker.stderr
    assert [line.split(" ", 1)[0] for line in worker.stderr.splitlines()] == ["worker"] * 2
    records = [json.loads(line) for line in worker.stdout.splitlines()]  # each line is JSON
    allowed = {"at", "instanceID", "workflowName", "type", "seq"}
    allowed |= {"step", "index", "attempt", "status", "failure"}
    for record in records:
        assert allowed >= set(record) >= {"at", "instanceID", "workflowName", "type", "seq"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["at"])
        assert record["workflowName"] == record["instanceID"][2:]
    for name in ("fan", "flaky", "hello"):
        mine = [r for r in records if r["instanceID"] == f"j-{name}"]
        history = json.loads(wfkit(cwd, "history", f"j-{name}", "--json").stdout)
        # every event the worker committed, in seq order (its first, ExecutionStarted, was
        # committed by `wfkit start`)
        assert [r["seq"] for r in mine] == [e["seq"] for e in history[1:]]
        assert [r["type"] for r in mine] == [e["type"] for e in history[1:]]
        assert mine[-1]["type"] == "ExecutionCompleted"
    ends = {r["instanceID"]: r["status"] for r in records if r["type"] == "ExecutionCompleted"}
    assert ends == {"j-fan": "COMPLETED", "j-flaky": "FAILED", "j-hello": "COMPLETED"}
    indexes = [r["index"] for r in records if r["type"] == "TaskScheduled" and "index" in r]
    assert sorted(indexes) == list(range(FAN_OUT))
    failed = [r for r in records if r["type"] == "TaskFailed"]
    assert [(r["step"], r["attempt"]) for r in failed] == [("x", 1), ("x", 2)]
    assert failed[0]["failure"]["type"] == "ValueError"
    assert failed[0]["failure"]["message"] == "no good"


def test_worker_stops_when_the_reader_of_its_json_goes_away(cwd: Path) -> None:
    wfkit(cwd, "start", "fan", "--id", "gone")
    env = {**os.environ, "WFKIT_STORE": f"sqlite:///{cwd / 'state.db'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfkit", "worker", "--for", "60", "--json"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # nobody reads: its first line breaks the pipe
    try:
        err = proc.stderr.read()
        assert proc.wait(timeout=30) == 0, err
    finally:
        proc.kill()
    assert "worker stopped (its output was closed)" in err
    assert "Traceback" not in err and "Exception ignored" not in err


def test_worker_says_how_to_send_the_event_a_step_waits_for(cwd: Path) -> None:
    wfkit(cwd, "start", "gate", "--id", "w-2")
    first = wfkit(cwd, "worker", "--for", "2")
    assert _worker_lines(first.stderr) == [
        "w-2 gate: picked up",
        "w-2 gate: step ok waits for event 'go'; send it with: wfkit raise-event w-2 go [DATA]",
    ], first.stderr
    wfkit(cwd, "raise-event", "w-2", "go", "1")
    second = wfkit(cwd, "worker", "--for", "2")
    assert _worker_lines(second.stderr) == [
        "w-2 gate: picked up",
        "w-2 gate: step ok completed",
        "w-2 gate: COMPLETED in",
    ], second.stderr
    assert "w-2 gate: picked up (3 events already recorded)" in second.stderr


def test_raise_event_pause_resume_terminate_and_purge(cwd: Path) -> None:
    wfkit(cwd, "start", "gate", "--id", "g")
    assert "pause g: done; now SUSPENDED" in wfkit(cwd, "pause", "g").stdout
    assert "no change" in wfkit(cwd, "pause", "g").stdout
    sent = wfkit(cwd, "raise-event", "g", "GO", '{"n": 1}')
    assert sent.returncode == 0 and "now SUSPENDED" in sent.stdout
    assert "now RUNNING" in wfkit(cwd, "resume", "g").stdout
    wfkit(cwd, "worker", "--for", "2")
    got = json.loads(wfkit(cwd, "get", "g", "--json").stdout)
    assert (got["runtimeStatus"], got["output"]) == ("COMPLETED", {"n": 1})
    wfkit(cwd, "start", "gate", "--id", "t")
    refused = wfkit(cwd, "purge", "t")
    assert refused.returncode == 1 and "workflow 't' has not yet completed" in refused.stderr
    assert "now TERMINATED" in wfkit(cwd, "terminate", "t", "--reason", "test").stdout
    assert json.loads(wfkit(cwd, "purge", "t", "--json").stdout) == {"purged": 1}
    missing = wfkit(cwd, "get", "t")
    assert missing.returncode == 1 and "no workflow instance with ID 't'" in missing.stderr


def test_list_and_history(cwd: Path) -> None:
    wfkit(cwd, "run", "hello", "--id", "h1")
    wfkit(cwd, "start", "gate", "--id", "g1")
    rows = json.loads(wfkit(cwd, "list", "--json").stdout)
    assert [r["instanceID"] for r in rows] == ["g1", "h1"]
    only = json.loads(wfkit(cwd, "list", "--status", "completed", "--json").stdout)
    assert [r["instanceID"] for r in only] == ["h1"]
    assert "h1" in wfkit(cwd, "list").stdout
    typo = wfkit(cwd, "list", "--status", "complete")
    assert typo.returncode == 1 and typo.stdout == ""
    assert (
        "no runtime status 'complete'" in typo.stderr and "did you mean 'COMPLETED'?" in typo.stderr
    )
    events = json.loads(wfkit(cwd, "history", "h1", "--json").stdout)
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionCompleted"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert "TaskScheduled" in wfkit(cwd, "history", "h1").stdout


def test_a_broken_definition_file_stops_only_its_own_workflow(cwd: Path) -> None:
    started = wfkit(cwd, "start", "hello", "--id", "before")
    assert started.returncode == 0, started.stderr
    broken = cwd / "definitions" / "half-edited.yaml"
    broken.write_text('wfkit: 1\nname: half\nsteps:\n  a: {call: "clisteps:hello", needs: [b]}\n')
    where = f"{Path('definitions') / 'half-edited.yaml'}:4:"
    # listing reads no definitions; the others run and resume, with a warning that names
    # the file, line and column
    listed = wfkit(cwd, "list", "--json")
    assert listed.returncode == 0 and listed.stderr == ""
    assert [r["instanceID"] for r in json.loads(listed.stdout)] == ["before"]
    worker = wfkit(cwd, "worker", "--for", "3")
    assert worker.returncode == 0 and "before hello: COMPLETED in " in worker.stderr
    assert where in worker.stderr and "cannot start until they are fixed" in worker.stderr
    ran = wfkit(cwd, "run", "hello", "-i", "who=you")
    assert ran.returncode == 0 and "hello you" in ran.stdout, ran.stderr
    # the broken one is refused with its own problems
    refused = wfkit(cwd, "run", "half")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "no workflow named" not in refused.stderr
    assert refused.stderr.count(where) == 2, refused.stderr  # the warning, then the refusal
    assert "unknown step 'b' in needs" in refused.stderr
    # validate is still strict about the folder
    assert wfkit(cwd, "validate").returncode == 1


def test_run_runs_its_own_instance_and_children_and_leaves_the_others_to_workers(
    cwd: Path,
) -> None:
    (cwd / "definitions" / "family.yaml").write_text(
        "wfkit: 1\nname: family\nsteps:\n  kid: {workflow: hello, with: {who: kid}}\n"
        "output: ${{ steps.kid.output }}\n"
    )
    assert wfkit(cwd, "start", "slow", "--id", "queued").returncode == 0
    ran = wfkit(cwd, "run", "family", "--id", "fam")
    assert ran.returncode == 0 and "hello kid" in ran.stdout, ran.stderr
    child = json.loads(wfkit(cwd, "get", "fam:1", "--json").stdout)
    assert child["runtimeStatus"] == "COMPLETED"
    # the instance that was waiting for a worker was not taken (nor started) by the run
    queued = json.loads(wfkit(cwd, "get", "queued", "--json").stdout)
    assert queued["runtimeStatus"] == "PENDING"
    history = json.loads(wfkit(cwd, "history", "queued", "--json").stdout)
    assert [e["type"] for e in history] == ["ExecutionStarted"]


def _run_in_background(cwd: Path, name: str, instance_id: str) -> subprocess.Popen[str]:
    """``wfkit run NAME --id ID`` as a separate process, its output piped."""
    env = {**os.environ, "WFKIT_STORE": f"sqlite:///{cwd / 'state.db'}"}
    return subprocess.Popen(
        [sys.executable, "-m", "wfkit", "run", name, "--id", instance_id],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_step(cwd: Path, instance_id: str, step: str, status: str, *or_later: str) -> None:
    """Poll ``wfkit get`` until the step has the status, or one of ``or_later`` (a loaded
    machine may poll past a short step's window), 30 s at most."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = wfkit(cwd, "get", instance_id, "--json")
        seen = got.returncode == 0 and json.loads(got.stdout)["steps"][step]["status"]
        if seen in (status, *or_later):
            return
        time.sleep(0.05)
    raise AssertionError(f"step {step} of {instance_id} never became {status}")


def _work_until_done(cwd: Path, instance_id: str) -> str:
    """Run workers until the instance leaves RUNNING; its status then."""
    for _ in range(3):  # a loaded machine may need more than one 4 s round
        wfkit(cwd, "worker", "--for", "4")
        status: str = json.loads(wfkit(cwd, "get", instance_id, "--json").stdout)["runtimeStatus"]
        if status != "RUNNING":
            break
    return status


def test_run_says_how_to_send_the_event_a_step_waits_for(cwd: Path) -> None:
    proc = _run_in_background(cwd, "gate", "w-1")
    try:
        _wait_for_step(cwd, "w-1", "ok", "waiting")
        sent = wfkit(cwd, "raise-event", "w-1", "go", '{"n": 2}')
        assert sent.returncode == 0, sent.stderr
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines = err.splitlines()
    hint = "  ok waits for event 'go'; send it with: wfkit raise-event w-1 go [DATA]"
    assert lines.count(hint) == 1, err
    assert lines.index(hint) == lines.index("⏳ ok waiting") + 1
    assert '{"n": 2}' in out


def test_ctrl_c_pauses_the_run_and_says_how_to_resume(cwd: Path) -> None:
    proc = _run_in_background(cwd, "slow", "s1")
    _wait_for_step(cwd, "s1", "a", "running")
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert "paused s1; to go on: wfkit resume s1" in err
    assert json.loads(wfkit(cwd, "get", "s1", "--json").stdout)["runtimeStatus"] == "SUSPENDED"
    wfkit(cwd, "resume", "s1")
    assert _work_until_done(cwd, "s1") == "COMPLETED"


def test_sigterm_stops_the_run_and_leaves_the_instance_to_a_worker(cwd: Path) -> None:
    proc = _run_in_background(cwd, "slow", "t1")
    _wait_for_step(cwd, "t1", "a", "running", "completed")  # a step runs: a, b or c
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM; t1 was released, not paused" in err and "Traceback" not in err
    got = json.loads(wfkit(cwd, "get", "t1", "--json").stdout)
    assert got["runtimeStatus"] == "RUNNING"
    assert _work_until_done(cwd, "t1") == "COMPLETED"


def test_run_works_from_a_thread_that_cannot_set_signal_handlers(
    cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wfkit.cli.main import main

    monkeypatch.chdir(cwd)
    monkeypatch.setenv("WFKIT_STORE", f"sqlite:///{cwd / 'state.db'}")
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(main(["run", "hello", "-i", "who=t"])))
    thread.start()
    thread.join(timeout=60)
    assert codes == [0], capsys.readouterr().err
    assert "hello t" in capsys.readouterr().out


def test_bad_input_is_a_clear_error(cwd: Path) -> None:
    result = wfkit(cwd, "run", "hello", "--input", "[1]")
    assert result.returncode == 2 and "--input must be a JSON object" in result.stderr
    result = wfkit(cwd, "run", "hello", "-i", "nobody=1")
    assert result.returncode == 1 and "unknown input 'nobody'" in result.stderr
    result = wfkit(cwd, "run", "helo")
    assert result.returncode == 1 and "did you mean 'hello'?" in result.stderr


def test_list_pages_are_at_least_one_and_say_more_only_when_there_is_more(cwd: Path) -> None:
    for bad in ("0", "-1"):
        refused = wfkit(cwd, "list", "--limit", bad)
        assert refused.returncode == 2, refused.stderr
        assert f"argument --limit: must be at least 1, not {bad}" in refused.stderr
        assert "Traceback" not in refused.stderr and refused.stdout == ""
    for instance_id in ("older", "newer"):
        assert wfkit(cwd, "start", "hello", "--id", instance_id).returncode == 0
    full = wfkit(cwd, "list", "--limit", "2")
    assert "older" in full.stdout and "newer" in full.stdout
    assert "(more:" not in full.stderr  # the page is full, but nothing follows
    first = wfkit(cwd, "list", "--limit", "1")
    assert "newer" in first.stdout and "older" not in first.stdout
    assert "(more: --after newer)" in first.stderr
    last = wfkit(cwd, "list", "--limit", "1", "--after", "newer")
    assert "older" in last.stdout and "(more:" not in last.stderr
    page = json.loads(wfkit(cwd, "list", "--limit", "1", "--json").stdout)
    assert [row["instanceID"] for row in page] == ["newer"]
    huge = wfkit(cwd, "list", "--limit", str(2**63))  # past SQLite's 64-bit integers
    assert huge.returncode == 0 and "Traceback" not in huge.stderr, huge.stderr
    assert "older" in huge.stdout and "newer" in huge.stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("run", "hello", "--workers", "0"), "argument --workers: must be at least 1, not 0"),
        (("run", "hello", "--timeout", "-5"), "argument --timeout: must be more than 0 seconds"),
        (("run", "hello", "--timeout", "0"), "argument --timeout: must be more than 0 seconds"),
        (("worker", "--for", "0"), "argument --for: must be more than 0 seconds, not 0"),
        (("worker", "--for", "-1"), "argument --for: must be more than 0 seconds, not -1"),
    ],
)
def test_numeric_flags_out_of_range_are_usage_errors(
    cwd: Path, args: tuple[str, ...], said: str
) -> None:
    refused = wfkit(cwd, *args)
    assert refused.returncode == 2, refused.stderr
    assert said in refused.stderr and "Traceback" not in refused.stderr
    assert "worker stopped" not in refused.stderr  # refused before anything ran


BREAKPOINT = (
    'wfkit: 1\nname: brk\nsteps:\n  a: {call: "clisteps:hello", with: {who: a}}\n'
    '  b: {call: "clisteps:nap", with: {seconds: 0.3}, needs: [a], pause_before: true}\n'
)


def test_run_says_it_stopped_at_a_breakpoint_and_a_timeout_exits_4(cwd: Path) -> None:
    (cwd / "definitions" / "brk.yaml").write_text(BREAKPOINT)
    ran = wfkit(cwd, "run", "brk", "--id", "bp-1", "--timeout", "3")
    assert ran.returncode == 4, ran.stderr
    lines = ran.stderr.splitlines()
    assert "  paused at the breakpoint before step b; go on with: wfkit resume bp-1" in lines
    assert "still SUSPENDED after 3 s; it stays in the store" in ran.stderr
    got = json.loads(wfkit(cwd, "get", "bp-1", "--json").stdout)
    assert got["properties"]["wfkit.paused_at"] == "b"


def test_run_still_running_after_its_timeout_exits_4_not_3(cwd: Path) -> None:
    ran = wfkit(cwd, "run", "slow", "--id", "late", "--timeout", "0.2")
    assert ran.returncode == 4, ran.stderr
    assert "still RUNNING after 0.2 s; it stays in the store" in ran.stderr


def test_run_says_when_it_is_resumed_from_another_terminal(cwd: Path) -> None:
    (cwd / "definitions" / "brk.yaml").write_text(BREAKPOINT)
    proc = _run_in_background(cwd, "brk", "bp-2")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = wfkit(cwd, "get", "bp-2", "--json")
            if got.returncode == 0 and json.loads(got.stdout)["runtimeStatus"] == "SUSPENDED":
                break
            time.sleep(0.05)
        resumed = wfkit(cwd, "resume", "bp-2")
        assert resumed.returncode == 0, resumed.stderr
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines = err.splitlines()
    told = lines.index("  paused at the breakpoint before step b; go on with: wfkit resume bp-2")
    assert lines.index("✓ a completed") < told < lines.index("  resumed")
    assert lines.index("  resumed") < lines.index("✓ b completed")


def test_run_and_start_without_a_definitions_folder_say_so(tmp_path: Path) -> None:
    for command in ("run", "start"):
        refused = wfkit(tmp_path, command, "foo")
        assert refused.returncode == 2, refused.stderr
        assert "the definitions folder 'definitions' does not exist" in refused.stderr
        assert "--definitions or $WFKIT_DEFINITIONS" in refused.stderr
        assert "Traceback" not in refused.stderr
    elsewhere = wfkit(tmp_path, "run", "foo", "--definitions", "flows")
    assert "the definitions folder 'flows' does not exist" in elsewhere.stderr


def _json_error(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The ``{"error": ...}`` object a failed ``--json`` command printed on stdout."""
    printed = json.loads(result.stdout)
    assert list(printed) == ["error"] and set(printed["error"]) == {"type", "message"}
    error: dict[str, str] = printed["error"]
    assert error["message"] in result.stderr  # the same message, for people
    return error


def test_errors_are_json_on_stdout_with_json(cwd: Path) -> None:
    no_store = wfkit(cwd, "get", "nobody", "--json")
    assert no_store.returncode == 1
    assert _json_error(no_store)["type"] == "StoreError"
    wfkit(cwd, "start", "gate", "--id", "busy")
    missing = wfkit(cwd, "get", "nobody", "--json")
    assert missing.returncode == 1
    assert _json_error(missing)["type"] == "InstanceNotFound"
    refused = wfkit(cwd, "purge", "busy", "--json")
    assert refused.returncode == 1
    assert _json_error(refused)["type"] == "IllegalTransition"
    invalid = wfkit(cwd, "run", "hello", "-i", "nobody=1", "--json")
    assert invalid.returncode == 1
    assert _json_error(invalid)["type"] == "InvalidInput"
    usage = wfkit(cwd, "run", "hello", "--input", "[1]", "--json")
    assert usage.returncode == 2
    assert _json_error(usage) == {
        "type": "UsageError",
        "message": "--input must be a JSON object of named inputs",
    }
    parsed = wfkit(cwd, "list", "--limit", "0", "--json")  # found wrong by argparse
    assert parsed.returncode == 2
    assert _json_error(parsed)["message"] == "argument --limit: must be at least 1, not 0"
    broken = cwd / "definitions" / "half.yaml"
    broken.write_text('wfkit: 1\nname: half\nsteps:\n  a: {call: "clisteps:hello", needs: [b]}\n')
    problems = wfkit(cwd, "run", "half", "--json")
    assert problems.returncode == 1
    assert json.loads(problems.stdout)["error"]["type"] == "DefinitionError"


def test_starting_an_active_id_again_says_what_to_do(cwd: Path) -> None:
    assert wfkit(cwd, "start", "gate", "--id", "twice").returncode == 0
    again = wfkit(cwd, "start", "gate", "--id", "twice", "--json")
    assert again.returncode == 1
    assert _json_error(again) == {
        "type": "InstanceAlreadyExists",
        "message": "an active workflow with ID 'twice' already exists; terminate it first, "
        "or choose another --id",
    }


NOISY = (
    "wfkit: 1\nname: noisy\nsteps:\n  x:\n    shell: [python, -c, "
    "\"import sys; print('\\\\n'.join(f'line {i}' for i in range(1, 9))); sys.exit(1)\"]\n"
)


def test_get_shows_what_a_failed_shell_step_printed(cwd: Path) -> None:
    (cwd / "definitions" / "noisy.yaml").write_text(NOISY)
    ran = wfkit(cwd, "run", "noisy", "--id", "n-1")
    assert ran.returncode == 1, ran.stderr
    assert "stderr was empty (see stdout in the details)" in ran.stdout
    step = json.loads(wfkit(cwd, "get", "n-1", "--json").stdout)["steps"]["x"]
    assert step["details"]["exit_code"] == 1
    assert step["details"]["stdout"].splitlines() == [f"line {i}" for i in range(1, 9)]
    shown = wfkit(cwd, "get", "n-1").stdout.splitlines()
    under = shown.index("      stdout, last 5 lines:")
    assert shown[under - 1].startswith("  ✗ x ")
    assert shown[under + 1 : under + 6] == [f"      | line {i}" for i in range(4, 9)]
    assert "      | line 3" not in shown
    completed = wfkit(cwd, "run", "hello", "--id", "h-1")
    assert completed.returncode == 0
    greet = json.loads(wfkit(cwd, "get", "h-1", "--json").stdout)["steps"]["greet"]
    assert "details" not in greet  # a call step records none


def test_worker_does_not_say_a_step_waits_when_a_sent_event_ends_the_wait(cwd: Path) -> None:
    assert wfkit(cwd, "start", "gate", "--id", "early").returncode == 0
    assert wfkit(cwd, "raise-event", "early", "go", "1").returncode == 0  # before any worker
    worker = wfkit(cwd, "worker", "--for", "2")
    assert worker.returncode == 0, worker.stderr
    assert _worker_lines(worker.stderr) == [
        "early gate: picked up",
        "early gate: step ok completed",
        "early gate: COMPLETED in",
    ], worker.stderr


def test_a_stopping_worker_lets_the_running_step_finish_and_records_it(cwd: Path) -> None:
    """--for (like Ctrl-C or SIGTERM) stops gracefully: the step that runs may finish
    and is recorded, the next one does not start, and the next worker starts there."""
    wfkit(cwd, "start", "slow", "--id", "g1")
    first = wfkit(cwd, "worker", "--for", "0.3")
    assert first.returncode == 0, first.stderr
    assert "stopping: 1 running step(s) get up to 10 s to finish" in first.stderr
    events = json.loads(wfkit(cwd, "history", "g1", "--json").stdout)
    done = [e["step"] for e in events if e["type"] == "TaskCompleted"]
    scheduled = [e["step"] for e in events if e["type"] == "TaskScheduled"]
    assert (done, scheduled) == (["a"], ["a", "b"])
    second = wfkit(cwd, "worker", "--for", "3")
    history = json.loads(wfkit(cwd, "history", "g1", "--json").stdout)
    # b was scheduled by the stopping worker, which started nothing more: the next one
    # records that attempt as abandoned by it, then runs b as attempt 2
    assert [(e["type"], e["step"], e["attempt"]) for e in history if e.get("step") == "b"] == [
        ("TaskScheduled", "b", 1),
        ("TaskAbandoned", "b", 1),
        ("TaskScheduled", "b", 2),
        ("TaskCompleted", "b", 2),
    ]
    assert [e["step"] for e in history if e["type"] == "TaskScheduled"] == ["a", "b", "b", "c"]
    assert "g1 slow: COMPLETED" in second.stderr  # and step a did not run again


def test_a_worker_with_no_grace_leaves_the_running_step_to_the_next(cwd: Path) -> None:
    wfkit(cwd, "start", "slow", "--id", "g0")
    first = wfkit(cwd, "worker", "--for", "0.3", "--grace", "0")
    assert first.returncode == 0 and "stopping:" not in first.stderr
    events = json.loads(wfkit(cwd, "history", "g0", "--json").stdout)
    assert not [e for e in events if e["type"] == "TaskCompleted"]  # in flight: runs again
    assert wfkit(cwd, "worker", "--grace", "-1").returncode == 2


def test_commands_that_read_a_store_do_not_create_one(cwd: Path) -> None:
    wfkit(cwd, "run", "hello", "--id", "h")
    typo = cwd / "state-typo.db"
    for command in (["get", "h"], ["list"], ["history", "h"], ["pause", "h"]):
        result = wfkit(cwd, *command, "--store", f"sqlite:///{typo}")
        assert result.returncode == 1, (command, result.stderr)
        assert "there is no store at" in result.stderr and "state-typo.db" in result.stderr
    assert not typo.exists()
    assert wfkit(cwd, "start", "hello", "--store", f"sqlite:///{typo}").returncode == 0
    assert typo.exists()  # a start makes the store: it is the first write
