"""InstanceWidget: throttled updates from engine hooks, buttons, the raise-event form."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from wfkit.engine.core.history import EventRaised
from wfkit.engine.core.state import replay
from wfkit.runtime.api import Instance, Runtime
from wfkit.views.instance import StepRunView
from wfkit.views.widget import InstanceWidget, Throttle, details_html, output_html


@pytest.fixture
def make_widget() -> Iterator[Callable[..., InstanceWidget]]:
    made: list[InstanceWidget] = []

    def make(instance: Instance, **options: Any) -> InstanceWidget:
        made.append(InstanceWidget(instance, **options))
        return made[-1]

    yield make
    for widget in made:
        widget.close()


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.02)


def waiting(instance: Instance) -> Instance:
    eventually(lambda: instance.steps["approve"].status == "waiting")
    return instance


# -- the throttle ----------------------------------------------------------------------


def test_a_burst_is_coalesced_into_a_handful_of_draws_ending_with_the_last() -> None:
    drawn: list[int] = []
    throttle: Throttle[int] = Throttle(drawn.append, interval=0.2)
    for value in range(500):
        throttle.submit(value)
    assert throttle.flush(5)
    assert drawn[-1] == 499 and len(drawn) <= 3 and throttle.draws == len(drawn)
    throttle.close()


def test_steady_updates_are_drawn_at_most_five_times_a_second() -> None:
    drawn: list[float] = []
    throttle: Throttle[int] = Throttle(lambda _: drawn.append(time.monotonic()), interval=0.2)
    start = time.monotonic()
    value = 0
    while time.monotonic() - start < 1.0:
        value += 1
        throttle.submit(value)
        time.sleep(0.002)
    assert throttle.flush(5)
    gaps = [b - a for a, b in itertools.pairwise(drawn)]
    assert len(drawn) <= 7 and all(gap >= 0.19 for gap in gaps)
    throttle.close()


def test_a_failing_draw_is_logged_and_the_next_value_still_drawn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    drawn: list[int] = []

    def draw(value: int) -> None:
        if value == 1:
            raise RuntimeError("bad draw")
        drawn.append(value)

    throttle: Throttle[int] = Throttle(draw, interval=0.01)
    throttle.submit(1)
    assert throttle.flush(5)
    throttle.submit(2)
    assert throttle.flush(5)
    assert drawn == [2] and "bad draw" in caplog.text
    throttle.close()


def test_idle_polls_until_it_says_stop_then_the_thread_ends() -> None:
    polls: list[int] = []
    throttle: Throttle[int] = Throttle(
        lambda _: None,
        interval=0.01,
        idle=lambda: (polls.append(1), len(polls) < 3)[1],
        idle_interval=0.02,
        name="wfkit-test-idle",
    )
    throttle.submit(0)
    eventually(lambda: not any(t.name == "wfkit-test-idle" for t in threading.enumerate()))
    assert len(polls) == 3
    throttle.close()
    throttle.submit(1)  # closed: ignored, no thread
    assert not any(t.name == "wfkit-test-idle" for t in threading.enumerate())


# -- drawing ---------------------------------------------------------------------------


def test_widget_follows_a_run_to_the_end(runtime: Runtime, make_widget: Any) -> None:
    instance = runtime.start("three", n=4)
    widget = make_widget(instance)
    instance.wait(20)
    assert widget.flush(5)
    assert widget.view.status == "COMPLETED"
    assert widget.progress.value == widget.progress.max == 6
    assert widget.progress.bar_style == "success" and widget.progress.description == "6/6"
    assert widget.graph.value.count("status-completed") == 3 and "(4 items)" in widget.graph.value
    assert 1 <= widget.layouts <= 2  # once, and again when the foreach count became known
    assert "three · COMPLETED · 3/3 steps" in widget.summary.value
    assert widget.table.value.count("<tr") == 4
    assert all(b.disabled for b in (widget.pause_button, widget.terminate_button))
    assert not widget.listening  # finished: the hook is gone
    assert len(runtime.hooks) == 0


def test_a_burst_of_hook_calls_redraws_a_handful_of_times(
    runtime: Runtime, make_widget: Any
) -> None:
    instance = waiting(runtime.start("gated"))
    widget = make_widget(instance, interval=0.2)
    assert widget.flush(5)
    before, layouts = widget.draws, widget.layouts
    history = instance.history()
    states = [replay(instance.id, history[:k]) for k in range(2, len(history) + 1)]
    for index in range(300):
        state = states[min(index, len(states) - 1)]
        for hook in list(runtime.engine.hooks):  # the runtime's: it hands the widget snapshots
            hook(instance_id=instance.id, events=[], status=state.status.value, state=state)
    assert widget.flush(5)
    assert widget.draws - before <= 3
    assert widget.view.version == history[-1].seq  # the last state is the one drawn
    assert widget.layouts == layouts  # colours changed, the layout did not


def test_hooks_of_other_instances_and_future_arguments_are_ignored(
    runtime: Runtime, make_widget: Any
) -> None:
    widget = make_widget(waiting(runtime.start("gated")))
    assert widget.flush(5)
    before = widget.draws
    for hook in list(runtime.hooks):
        hook(instance_id="someone-else", events=[], status="RUNNING", brand_new=1)
    assert widget.flush(5) and widget.draws == before
    for hook in list(runtime.hooks):  # no snapshot: the widget reads the store
        hook(instance_id=widget.instance.id, events=[], status="RUNNING", brand_new=1)
    assert widget.flush(5) and widget.draws == before + 1


# -- buttons ---------------------------------------------------------------------------


def test_pause_resume_and_terminate_buttons_change_the_instance(
    runtime: Runtime, make_widget: Any
) -> None:
    instance = waiting(runtime.start("gated"))
    widget = make_widget(instance)
    assert not widget.pause_button.disabled and widget.resume_button.disabled
    widget.pause_button.click()
    assert instance.status == "SUSPENDED" and "pause: done" in widget.message.value
    assert widget.flush(5)
    assert widget.resume_button.disabled is False and widget.pause_button.disabled is True
    assert widget.progress.bar_style == "warning"
    widget.resume_button.click()
    assert instance.status == "RUNNING"
    widget.terminate_button.click()
    assert instance.status == "TERMINATED"
    assert widget.flush(5)
    assert widget.view.status == "TERMINATED" and widget.terminate_button.disabled
    widget.pause_button.click()  # refused: shown, not raised
    assert "cannot pause" in widget.message.value and "#b00020" in widget.message.value


def test_step_button_runs_past_a_breakpoint(runtime: Runtime, make_widget: Any) -> None:
    instance = runtime.run("breaky", timeout=20)
    widget = make_widget(instance)
    assert widget.view.step("publish").shown == "paused"
    assert "paused before publish" in widget.summary.value
    assert not widget.step_button.disabled
    widget.step_button.click()
    instance.wait(20)
    assert instance.status == "COMPLETED"
    assert widget.flush(5) and widget.view.step("publish").status == "completed"


# -- the raise-event form --------------------------------------------------------------


def test_raise_event_form_sends_and_the_waiting_step_completes(
    runtime: Runtime, make_widget: Any
) -> None:
    instance = waiting(runtime.start("gated"))
    widget = make_widget(instance)
    assert widget.event_name.options == (("go (waiting)", "go"),)
    assert widget.event_name.value == "go" and not widget.send_button.disabled
    widget.event_data.value = '{"approved": true, "by": "ana"}'
    widget.send_button.click()
    assert "raise event go: done" in widget.message.value
    instance.wait(20)
    assert instance.steps["approve"].output == {"approved": True, "by": "ana"}
    assert widget.flush(5) and widget.send_button.disabled


def test_bad_json_shows_a_message_and_sends_nothing(runtime: Runtime, make_widget: Any) -> None:
    instance = waiting(runtime.start("gated"))
    widget = make_widget(instance)
    widget.event_data.value = "{approved: yes}"
    widget.send_button.click()
    assert "not valid JSON" in widget.message.value and "line 1, column 2" in widget.message.value
    assert not any(isinstance(e, EventRaised) for e in instance.history())
    assert instance.steps["approve"].status == "waiting"


def test_no_event_chosen_sends_nothing(runtime: Runtime, make_widget: Any) -> None:
    instance = runtime.run("three", n=1, timeout=20)
    widget = make_widget(instance)
    assert widget.event_name.options == () and widget.send_button.disabled
    assert widget.send_event() is False and "choose an event" in widget.message.value


# -- step details ----------------------------------------------------------------------


def test_a_failed_step_opens_with_its_traceback(runtime: Runtime, make_widget: Any) -> None:
    instance = runtime.run("failing", timeout=20)
    widget = make_widget(instance)
    assert widget.step_picker.value == "bad"
    assert "RuntimeError: boom" in widget.details.value and "Traceback" in widget.details.value
    assert "RuntimeError: boom" in widget.table.value and widget.progress.bar_style == "danger"
    widget.step_picker.value = "ok"
    assert "[0]" in widget.details.value and "Traceback" not in widget.details.value
    widget.step_picker.value = ""
    assert widget.details.value == ""


class Frame:
    shape = (2, 1)
    columns = ("a",)

    def _repr_html_(self) -> str:
        return "<table><tr><td>frame</td></tr></table>"


def test_details_show_whole_outputs() -> None:
    assert output_html(Frame()) == "<table><tr><td>frame</td></tr></table>"
    assert "&lt;b&gt;" in output_html({"html": "<b>"})  # escaped
    assert "more characters" in output_html("x" * 30_000)
    step = StepRunView("s", "completed", kind="call", attempts=2, items=3, items_done=3, output=[1])
    page = details_html(step)
    assert "attempt 2" in page and "3/3 items" in page and "[1]" in page
    assert details_html(None) == ""


def test_without_a_renderer_the_table_still_tells_it_all(
    runtime: Runtime, make_widget: Any, request: pytest.FixtureRequest
) -> None:
    instance = runtime.run("three", n=2, timeout=20)
    request.getfixturevalue("no_renderers")
    widget = make_widget(instance)
    assert "graph not drawn" in widget.graph.value and widget.layouts == 0
    assert widget.table.value.count("completed") == 3 and widget.progress.value == 4
    assert [o[1] for o in widget.step_picker.options] == ["", "numbers", "double", "total"]


def test_close_stops_listening(runtime: Runtime) -> None:
    widget = InstanceWidget(waiting(runtime.start("gated")))
    assert widget.listening and len(runtime.hooks) == 1
    widget.close()
    assert not widget.listening and runtime.hooks == []
    assert widget.box.comm is None


# -- a real kernel ---------------------------------------------------------------------


def test_a_kernel_saves_the_final_widget_state(tmp_path: Path, view_definitions: Path) -> None:
    defs = view_definitions
    source = [
        "import wfkit\nfrom wfkit.views.widget import InstanceWidget\n"
        f"rt = wfkit.open({str(defs)!r}, 'sqlite:///{tmp_path / 'nb.db'}', workers=2)",
        "inst = rt.start('three', n=5)\nw = InstanceWidget(inst)\nw",
        "inst.wait(30)\nprint(w.flush(10), inst.status)",
        "rt.close()",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in source])
    NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    assert nb.cells[2].outputs[0]["text"] == "True COMPLETED\n"
    view = nb.cells[1].outputs[0]["data"]["application/vnd.jupyter.widget-view+json"]
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert view["model_id"] in state
    bars = [m["state"] for m in state.values() if m["model_name"] == "IntProgressModel"]
    assert [(b["value"], b["max"]) for b in bars] == [(7, 7)]
    htmls = [m["state"]["value"] for m in state.values() if m["model_name"] == "HTMLModel"]
    assert any(h.count("status-completed") == 3 for h in htmls)
    assert "Traceback" not in json.dumps(nb)


def test_widget_of_a_run_that_no_worker_has_says_so(
    tmp_path: Path, view_definitions: Path, make_widget: Any
) -> None:
    """Started from a process without an engine (as ``wfkit start`` does): the widget
    (and the instance view it draws) says that nobody runs it yet, not just PENDING."""
    from wfkit.runtime.settings import Settings
    from wfkit.views.instance import instance_view

    settings = Settings(
        definitions=str(view_definitions), store=f"sqlite:///{tmp_path / 'idle.db'}", workers=1
    )
    with Runtime(settings, run_engine=False) as reader:
        instance = reader.start("three", n=2)
        view = instance_view(instance)
        assert (view.owner_state, view.status) == ("unclaimed", "PENDING")
        widget = make_widget(instance)
        assert "not claimed: no worker has it; a worker will pick it up" in widget.summary.value
        widget.close()


def test_instance_widget_needs_only_import_wfkit(tmp_path: Path, view_definitions: Path) -> None:
    """``instance.widget()`` in a fresh process that imported only ``wfkit``: the views
    layer registers the panel's factory when the facade's named module loads, and the
    runtime never names the views layer."""
    import subprocess
    import sys

    script = (
        "import sys, wfkit\n"
        f"rt = wfkit.open({str(view_definitions)!r}, 'sqlite:///{tmp_path / 'w.db'}', 1)\n"
        "inst = rt.run('three', n=1)\n"
        "before = 'wfkit.views' in sys.modules\n"
        "panel = inst.widget()\n"
        "panel.close(); rt.close()\n"
        "print(before, type(panel).__module__, type(panel).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "wfkit.views.widget", "InstanceWidget"]


# -- following a run of another process ------------------------------------------------


def _wfkit(store: str, defs: Path, *args: str) -> None:
    """Run one ``wfkit`` command in another process (its commits are not this one's)."""
    import subprocess
    import sys

    argv = [sys.executable, "-m", "wfkit", *args, "--store", store, "--definitions", str(defs)]
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


def test_a_client_widget_wakes_on_another_process_commit_and_reads_nothing_when_idle(
    tmp_path: Path, view_definitions: Path, make_widget: Any
) -> None:
    """A ``workers=0`` client: its engine commits nothing, so only the store's change
    notification can wake the widget. It reads the store once per change of its own
    instance, never for another instance's commit, and never while nothing happens."""
    from wfkit.runtime.settings import Settings

    store = f"sqlite:///{tmp_path / 'shared.db'}"
    settings = Settings(definitions=str(view_definitions), store=store, workers=0)
    with Runtime(settings) as client:
        instance = client.start("gated")
        widget = make_widget(instance)
        other = make_widget(client.start("three", n=2))
        watchers = [t for t in threading.enumerate() if t.name == "wfkit-changes"]
        assert len(watchers) == 1 and client.changes.watching  # one for both widgets
        assert widget.flush(10) and other.flush(10)
        reads = widget.reads

        _wfkit(store, view_definitions, "pause", instance.id)  # another process commits
        eventually(lambda: widget.view.status == "SUSPENDED")
        assert widget.reads == reads + 1  # woken once, read once
        reads, looks = widget.reads, client.changes.looks

        _wfkit(store, view_definitions, "start", "three")  # a commit to another instance
        eventually(lambda: client.changes.looks > looks)
        assert widget.flush(10)
        assert widget.reads == reads  # idle through it all: no poll, no read
        assert other.reads <= 1 and widget.listening

        widget.close()
        other.close()
        assert not client.changes.watching


def test_a_notebook_written_for_the_polling_panel_still_opens_it(runtime: Runtime) -> None:
    """``poll_interval`` (the panel used to read the store every so often) is accepted,
    ignored and said to be: a notebook that passes it keeps working."""
    instance = runtime.start("three", n=1)
    with pytest.warns(DeprecationWarning, match="poll_interval"):
        widget = instance.widget(interval=0.1, poll_interval=0.5)
    try:
        instance.wait(20)
        assert widget.flush(5)
        assert widget.view.status == "COMPLETED"
    finally:
        widget.close()
