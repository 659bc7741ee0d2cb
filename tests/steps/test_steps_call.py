"""``call`` steps: real modules written to disk, imported and called in this process."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from wfkit.steps.base import CancelToken
from wfkit.steps.call import CallHandler, add_import_paths

HANDLER = CallHandler()


def run(task: Any) -> Any:
    return HANDLER.run(task, CancelToken())


def test_calls_the_function_with_the_input_as_keyword_arguments(folders: Any) -> None:
    name = folders.module(
        """
        def add(a, b, scale=1):
            return {"sum": (a + b) * scale, "pair": (a, b), "keys": {1: "one"}}
        """
    )
    outcome = run(folders.task("call", f"{name}:add", input={"a": 2, "b": 3, "scale": 10}))
    assert outcome.ok, outcome
    # normalised through JSON: a tuple becomes a list, an int key becomes a string
    assert outcome.output == {"sum": 50, "pair": [2, 3], "keys": {"1": "one"}}


def test_no_input_means_no_arguments_and_none_is_a_fine_result(folders: Any) -> None:
    name = folders.module("def nothing():\n    return None\n")
    outcome = run(folders.task("call", f"{name}:nothing"))
    assert outcome.ok and outcome.output is None


def test_module_in_a_package_in_the_working_directory_is_found(folders: Any) -> None:
    package = folders.workdir / "wfkit_test_pkg_call"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "inner.py").write_text(
        "class Tools:\n    @staticmethod\n    def hi(x):\n        return x\n"
    )
    outcome = run(folders.task("call", "wfkit_test_pkg_call.inner:Tools.hi", input={"x": "ok"}))
    assert outcome.ok, outcome
    assert outcome.output == "ok"


def test_folders_are_added_to_sys_path_once_even_from_many_threads(tmp_path: Path) -> None:
    folder = tmp_path / "once"
    folder.mkdir()
    start = threading.Barrier(8)

    def add() -> None:
        start.wait()
        for _ in range(50):
            add_import_paths(str(folder), str(folder))

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sys.path.count(str(folder)) == 1


def test_a_relative_folder_is_the_one_in_the_working_directory_of_each_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for where in (first, second):
        (where / "steps").mkdir(parents=True)
    monkeypatch.chdir(first)
    add_import_paths("steps")
    add_import_paths("steps")  # remembered: looked at once
    monkeypatch.chdir(second)
    add_import_paths("steps")  # the same text, another folder
    added = [str(first / "steps"), str(second / "steps")]
    try:
        assert [sys.path.count(folder) for folder in added] == [1, 1]
    finally:
        for folder in added:
            while folder in sys.path:
                sys.path.remove(folder)


def test_an_exception_becomes_a_failure_with_class_message_and_trace(folders: Any) -> None:
    name = folders.module(
        """
        def explode(month):
            raise ValueError(f"no data for {month}")
        """
    )
    outcome = run(folders.task("call", f"{name}:explode", input={"month": "2024-02"}))
    assert outcome.error_type == "ValueError"
    assert outcome.error_message == "no data for 2024-02"
    assert f"{name}.py" in outcome.stack_trace
    assert 'raise ValueError(f"no data for {month}")' in outcome.stack_trace
    assert "call.py" not in outcome.stack_trace  # the handler's own frame is left out


def test_system_exit_in_the_function_is_a_failure_not_a_dead_thread(folders: Any) -> None:
    name = folders.module("import sys\ndef leave():\n    sys.exit(4)\n")
    outcome = run(folders.task("call", f"{name}:leave"))
    assert outcome.error_type == "SystemExit"
    assert outcome.error_message == "4"


@pytest.mark.parametrize(
    ("raised", "type_name"),
    [
        ("KeyboardInterrupt()", "KeyboardInterrupt"),
        ("asyncio.CancelledError('gave up')", "CancelledError"),
        ("GeneratorExit()", "GeneratorExit"),
    ],
)
def test_any_base_exception_of_the_function_or_its_import_is_a_failure(
    folders: Any, raised: str, type_name: str
) -> None:
    name = folders.module(f"import asyncio\ndef leave():\n    raise {raised}\n")
    outcome = run(folders.task("call", f"{name}:leave"))
    assert not outcome.ok and outcome.error_type == type_name
    broken = folders.module(f"import asyncio\nraise {raised}\n")
    outcome = run(folders.task("call", f"{broken}:anything"))
    assert not outcome.ok and type_name in f"{outcome.error_type}: {outcome.error_message}"


def test_a_value_that_is_not_json_fails_naming_the_type_and_the_step(folders: Any) -> None:
    name = folders.module(
        """
        class DataFrame:
            pass

        def frame():
            return DataFrame()

        def nested():
            return {"rows": [1, {2, 3}]}

        def not_a_number():
            return {"score": float("nan")}
        """
    )
    frame = run(folders.task("call", f"{name}:frame", step="extract"))
    assert frame.error_type == "OutputNotJSON"
    assert f"{name}.DataFrame" in frame.error_message
    assert "step 'extract'" in frame.error_message
    assert 'df.to_dict("records")' in frame.error_message
    nested = run(folders.task("call", f"{name}:nested"))
    assert nested.error_type == "OutputNotJSON"
    assert "holds a set" in nested.error_message
    nan = run(folders.task("call", f"{name}:not_a_number"))
    assert nan.error_type == "OutputNotJSON"
    assert "nan" in nan.error_message.lower()


def test_a_missing_module_says_where_it_looked_and_suggests_a_close_name(folders: Any) -> None:
    name = folders.module("def f():\n    return 1\n")
    typo = name[:-1] + "x" + name[-1]  # one letter inserted
    outcome = run(folders.task("call", f"{typo}:f"))
    assert outcome.error_type == "ModuleNotFoundError"
    assert f"cannot import module {typo!r}" in outcome.error_message
    assert str(folders.definitions) in outcome.error_message
    assert str(folders.workdir) in outcome.error_message
    assert f"did you mean {name!r}" in outcome.error_message


def test_a_module_written_after_a_failed_import_is_found_next_time(folders: Any) -> None:
    name = f"wfkit_test_late_{time.monotonic_ns()}"
    assert run(folders.task("call", f"{name}:f")).error_type == "ModuleNotFoundError"
    (folders.definitions / f"{name}.py").write_text("def f():\n    return 'late'\n")
    assert run(folders.task("call", f"{name}:f")).output == "late"


def test_a_failing_import_inside_the_module_is_told_apart(folders: Any) -> None:
    name = folders.module("import wfkit_no_such_dependency\ndef f():\n    return 1\n")
    outcome = run(folders.task("call", f"{name}:f"))
    assert outcome.error_type == "ModuleNotFoundError"
    assert f"importing module {name!r}" in outcome.error_message
    assert "wfkit_no_such_dependency" in outcome.error_message
    assert "import wfkit_no_such_dependency" in outcome.stack_trace


def test_a_missing_function_suggests_the_close_names(folders: Any) -> None:
    name = folders.module("def pull_month(month):\n    return month\nVALUE = 3\n")
    outcome = run(folders.task("call", f"{name}:pull_mnth"))
    assert outcome.error_type == "AttributeError"
    assert "has no function 'pull_mnth'" in outcome.error_message
    assert "did you mean 'pull_month'" in outcome.error_message
    not_callable = run(folders.task("call", f"{name}:VALUE"))
    assert not_callable.error_type == "InvalidStepTarget"
    assert "is a int, not a function" in not_callable.error_message


def test_a_missing_function_lists_what_the_module_defines_not_what_it_imports(
    folders: Any,
) -> None:
    name = folders.module(
        "from pathlib import Path\nfrom decimal import Decimal\n"
        "def load(path):\n    return str(Path(path))\nclass Report:\n    pass\n"
    )
    outcome = run(folders.task("call", f"{name}:zzz"))
    assert outcome.error_message.endswith("; it defines Report, load"), outcome.error_message


def test_mismatched_keywords_say_which_parameters_the_function_takes(folders: Any) -> None:
    name = folders.module("def pull(month, region='eu'):\n    return month\n")
    outcome = run(folders.task("call", f"{name}:pull", input={"monht": "x"}))
    assert outcome.error_type == "TypeError"
    assert "it takes (month, region='eu')" in outcome.error_message
    assert "'monht' -> did you mean 'month'?" in outcome.error_message
    assert "['monht']" in outcome.error_message


def test_a_type_error_raised_inside_the_function_is_reported_as_is(folders: Any) -> None:
    name = folders.module("def f(x):\n    return x + 'a'\n")
    outcome = run(folders.task("call", f"{name}:f", input={"x": 1}))
    assert outcome.error_type == "TypeError"
    assert "unsupported operand" in outcome.error_message
    assert "it takes" not in outcome.error_message


def test_bad_targets_and_inputs_are_clear_failures(folders: Any) -> None:
    for target in ("no_colon", "a:b:c", ":f", 42):
        outcome = run(folders.task("call", target))
        assert outcome.error_type == "InvalidStepTarget", target
        assert "module:function" in outcome.error_message
    name = folders.module("def f(**kw):\n    return kw\n")
    outcome = run(folders.task("call", f"{name}:f", input=[1, 2]))
    assert outcome.error_type == "InvalidStepInput"
    assert "must be a mapping, not a list" in outcome.error_message


def test_a_timeout_abandons_the_function_and_says_so(folders: Any) -> None:
    name = folders.module(
        """
        import threading
        release = threading.Event()
        finished = []

        def slow():
            release.wait(30)
            finished.append(True)
            return "late"
        """
    )
    started = time.monotonic()
    outcome = run(folders.task("call", f"{name}:slow", timeout=0.3))
    elapsed = time.monotonic() - started
    assert outcome.error_type == "TimeoutError"
    assert "abandoned" in outcome.error_message
    assert "discarded" in outcome.error_message
    assert 0.3 <= elapsed < 2.0
    module = sys.modules[name]
    assert module.finished == []  # still running in the background
    module.release.set()
    deadline = time.monotonic() + 5
    while not module.finished and time.monotonic() < deadline:
        time.sleep(0.01)
    assert module.finished == [True]


def test_a_call_with_a_timeout_that_finishes_in_time_gives_its_result(folders: Any) -> None:
    name = folders.module("def quick(x):\n    return [x, x]\n")
    outcome = run(folders.task("call", f"{name}:quick", input={"x": 1}, timeout=5))
    assert outcome.ok and outcome.output == [1, 1]


def test_cancel_abandons_a_call_with_a_timeout_at_once(folders: Any) -> None:
    name = folders.module(
        "import threading\nrelease = threading.Event()\ndef wait():\n    release.wait(30)\n"
    )
    token = CancelToken()
    threading.Timer(0.2, token.cancel).start()
    started = time.monotonic()
    outcome = HANDLER.run(folders.task("call", f"{name}:wait", timeout=30), token)
    assert time.monotonic() - started < 2.0
    assert outcome.error_type == "Canceled"
    sys.modules[name].release.set()


def test_an_edited_module_is_reloaded_only_when_the_task_asks(folders: Any) -> None:
    name = folders.module("def version():\n    return 1\n")
    path = folders.definitions / f"{name}.py"
    assert run(folders.task("call", f"{name}:version", check_code=False)).output == 1
    time.sleep(0.02)  # a new mtime
    path.write_text("def version():\n    return 2\n", encoding="utf-8")
    # the steps of a run that is under way keep the code they started with...
    assert run(folders.task("call", f"{name}:version", check_code=False)).output == 1
    # ...the first task of a run and a retry look again
    assert run(folders.task("call", f"{name}:version", check_code=True)).output == 2
