"""``shell`` steps: real child processes, their output file, exit codes, kills and caps."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from wfkit.steps.base import CancelToken
from wfkit.steps.shell import ShellHandler

HANDLER = ShellHandler(kill_grace=0.5)


def run(task: Any, handler: ShellHandler = HANDLER) -> Any:
    return handler.run(task, CancelToken())


def py(code: str) -> tuple[str, ...]:
    return ("python", "-c", code)


def test_output_is_the_json_written_to_the_output_file(folders: Any) -> None:
    code = (
        "import json, os, sys\n"
        "print('to stdout'); print('to stderr', file=sys.stderr)\n"
        "json.dump({'rows': 3, 'ok': True}, open(os.environ['WFKIT_OUTPUT'], 'w'))\n"
    )
    outcome = run(folders.task("shell", py(code)))
    assert outcome.ok, outcome
    assert outcome.output == {"rows": 3, "ok": True}
    details = outcome.details
    assert details["exit_code"] == 0
    assert details["stdout"] == "to stdout\n"
    assert details["stderr"] == "to stderr\n"
    assert details["stdout_dropped"] == details["stderr_dropped"] == 0
    assert 0 < details["duration"] < 10


def test_nothing_written_means_a_null_output(folders: Any) -> None:
    outcome = run(folders.task("shell", py("pass")))
    assert outcome.ok and outcome.output is None


def test_output_that_is_not_json_fails_showing_the_first_bytes(folders: Any) -> None:
    code = "import os; open(os.environ['WFKIT_OUTPUT'], 'w').write('rows=3, not json')"
    outcome = run(folders.task("shell", py(code), step="check"))
    assert outcome.error_type == "OutputNotJSON"
    assert "step 'check'" in outcome.error_message
    assert "'rows=3, not json'" in outcome.error_message
    assert outcome.details["exit_code"] == 0


def test_the_output_file_is_fresh_and_removed_afterwards(folders: Any) -> None:
    code = (
        "import json, os\n"
        "path = os.environ['WFKIT_OUTPUT']\n"
        "json.dump({'path': path, 'size': os.path.getsize(path)}, open(path, 'w'))\n"
    )
    first = run(folders.task("shell", py(code)))
    second = run(folders.task("shell", py(code)))
    assert first.output["size"] == 0
    assert first.output["path"] != second.output["path"]
    assert not os.path.exists(first.output["path"])


def test_a_non_zero_exit_fails_with_the_code_and_the_last_lines_of_stderr(folders: Any) -> None:
    code = "import sys\nfor i in range(30): print(f'line {i}', file=sys.stderr)\nsys.exit(3)\n"
    outcome = run(folders.task("shell", py(code)))
    assert outcome.error_type == "ShellStepFailed"
    assert "exited with code 3" in outcome.error_message
    assert "line 29" in outcome.error_message
    assert "line 5\n" not in outcome.error_message  # only the last lines
    assert outcome.details["exit_code"] == 3
    assert "line 0" in outcome.details["stderr"]


def test_a_process_killed_by_a_signal_says_which(folders: Any) -> None:
    outcome = run(
        folders.task("shell", py("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"))
    )
    assert outcome.error_type == "ShellStepFailed"
    assert "killed by SIGKILL" in outcome.error_message
    assert outcome.details["exit_code"] == -9


def test_env_is_added_and_json_encoded_values_arrive_as_given(folders: Any) -> None:
    files = json.dumps(["a.csv", {"b": 1.5, "c": None}])
    code = (
        "import json, os\n"
        "keys = ['FILES', 'REGION', 'WFKIT_INSTANCE_ID', 'WFKIT_STEP', 'WFKIT_ATTEMPT',"
        " 'WFKIT_INDEX', 'WFKIT_WORKDIR', 'HOME_FROM_PARENT']\n"
        "json.dump({k: os.environ.get(k) for k in keys}, open(os.environ['WFKIT_OUTPUT'], 'w'))\n"
    )
    os.environ["HOME_FROM_PARENT"] = "inherited"
    try:
        task = folders.task(
            "shell",
            py(code),
            env={"FILES": files, "REGION": "eu"},
            instance_id="run-7",
            step="check",
            index=2,
            attempt=3,
        )
        outcome = run(task)
    finally:
        del os.environ["HOME_FROM_PARENT"]
    assert outcome.ok, outcome
    seen = outcome.output
    assert seen["FILES"] == files
    assert json.loads(seen["FILES"]) == ["a.csv", {"b": 1.5, "c": None}]
    assert seen["REGION"] == "eu"
    assert seen["WFKIT_INSTANCE_ID"] == "run-7"
    assert seen["WFKIT_STEP"] == "check"
    assert seen["WFKIT_ATTEMPT"] == "3"
    assert seen["WFKIT_INDEX"] == "2"
    assert seen["WFKIT_WORKDIR"] == str(folders.workdir)
    assert seen["HOME_FROM_PARENT"] == "inherited"


def test_python_m_finds_modules_beside_the_definitions_and_runs_in_the_workdir(
    folders: Any,
) -> None:
    package = folders.definitions / "wfkit_test_pkg_shell"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "check.py").write_text(
        "import json, os, sys\n"
        "json.dump({'cwd': os.getcwd(), 'exe': sys.executable,"
        " 'pythonpath': os.environ['PYTHONPATH']}, open(os.environ['WFKIT_OUTPUT'], 'w'))\n"
    )
    task = folders.task(
        "shell", ("python3", "-m", "wfkit_test_pkg_shell.check"), env={"PYTHONPATH": "/extra"}
    )
    outcome = run(task)
    assert outcome.ok, outcome
    assert outcome.output["cwd"] == str(folders.workdir)
    assert outcome.output["exe"] == sys.executable  # python3 -> this interpreter
    assert outcome.output["pythonpath"].split(os.pathsep) == [str(folders.definitions), "/extra"]


def test_output_is_captured_concurrently_and_capped_to_the_tail(folders: Any) -> None:
    code = (
        "import sys\n"
        "for i in range(2000):\n"
        "    sys.stdout.write(f'out {i:05d}\\n'); sys.stderr.write(f'err {i:05d}\\n')\n"
        "sys.stderr.write('x' * 1_000_000)\n"  # far more than a pipe buffer holds
        "sys.stdout.write('y' * 1_000_000 + 'END')\n"
    )
    handler = ShellHandler(tail_bytes=1000)
    outcome = run(folders.task("shell", py(code), timeout=30), handler)
    assert outcome.ok, outcome
    details = outcome.details
    assert len(details["stdout"]) == 1000
    assert details["stdout"].endswith("yyyEND")
    assert details["stdout_dropped"] == 2000 * 10 + 1_000_003 - 1000
    assert details["stderr"] == "x" * 1000
    assert details["stderr_dropped"] == 2000 * 10 + 1_000_000 - 1000


def test_a_timeout_kills_the_whole_process_group(
    folders: Any, grandchild_script: str, read_pids: Any, gone: Any
) -> None:
    pidfile = folders.workdir / "pids"
    task = folders.task("shell", py(grandchild_script), env={"PIDFILE": str(pidfile)}, timeout=1.5)
    started = time.monotonic()
    outcome = run(task)
    assert time.monotonic() - started < 5
    assert outcome.error_type == "TimeoutError"
    assert "timeout of 1.5 s" in outcome.error_message
    parent, grandchild = read_pids(pidfile)
    assert gone(parent)
    assert gone(grandchild)


def test_a_process_ignoring_sigterm_is_killed_after_the_grace(folders: Any) -> None:
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    outcome = run(folders.task("shell", py(code), timeout=1.0))
    elapsed = time.monotonic() - started
    assert outcome.error_type == "TimeoutError"
    assert outcome.details["exit_code"] == -9  # SIGTERM was ignored, SIGKILL was not
    assert 1.0 + 0.4 < elapsed < 5


def test_cancel_kills_the_process_group(
    folders: Any, grandchild_script: str, read_pids: Any, gone: Any
) -> None:
    pidfile = folders.workdir / "pids"
    token = CancelToken()
    result: list[Any] = []
    task = folders.task("shell", py(grandchild_script), env={"PIDFILE": str(pidfile)})
    thread = threading.Thread(target=lambda: result.append(HANDLER.run(task, token)))
    thread.start()
    parent, grandchild = read_pids(pidfile)
    token.cancel()
    thread.join(5)
    assert not thread.is_alive()
    assert result[0].error_type == "Canceled"
    assert gone(parent)
    assert gone(grandchild)


def test_a_missing_or_unrunnable_program_is_a_clear_failure(folders: Any) -> None:
    missing = run(folders.task("shell", ("wfkit-no-such-program", "--flag")))
    assert missing.error_type == "ExecutableNotFound"
    assert "'wfkit-no-such-program': no such program on PATH" in missing.error_message
    script = folders.workdir / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    not_executable = run(folders.task("shell", (str(script),)))
    assert not_executable.error_type == "ExecutableNotFound"
    assert "permission denied" in not_executable.error_message


def test_bad_targets_and_a_missing_workdir_are_clear_failures(folders: Any, tmp_path: Path) -> None:
    for target in ("echo hi", (), ("echo", 3), None):
        outcome = run(folders.task("shell", target))
        assert outcome.error_type == "InvalidStepTarget", target
        assert "argv list" in outcome.error_message
    task = folders.task("shell", ("true",), workdir=str(tmp_path / "absent"))
    outcome = run(task)
    assert outcome.error_type == "WorkdirNotFound"
    assert str(tmp_path / "absent") in outcome.error_message


def test_a_background_process_holding_the_pipes_does_not_hold_the_step(
    folders: Any, read_pids: Any
) -> None:
    code = (
        "import json, os, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
        "open(os.environ['PIDFILE'], 'w').write(f'{child.pid}\\n')\n"
        "print('parent done', flush=True)\n"
        "json.dump('finished', open(os.environ['WFKIT_OUTPUT'], 'w'))\n"
    )
    pidfile = folders.workdir / "pids"
    started = time.monotonic()
    outcome = run(folders.task("shell", py(code), env={"PIDFILE": str(pidfile)}))
    (background,) = read_pids(pidfile)
    try:
        assert time.monotonic() - started < 5
        assert outcome.ok, outcome
        assert outcome.output == "finished"
        assert outcome.details["stdout"] == "parent done\n"
        assert "capture_incomplete" in outcome.details
        os.kill(background, 0)  # still running: the step ended normally, nothing was killed
    finally:
        os.kill(background, 9)
