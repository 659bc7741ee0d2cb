"""Starting a parent again under the id of an ended run (a terminal instance is
replaced) runs its child workflows again: the children of the earlier run, which hold
the same child ids, are never taken for the new run's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import wfkit
from wfkit.errors import InstanceFailed

PARENT = """\
wfkit: 1
name: parent
inputs: {tag: {type: string}}
steps:
  gate: {wait: {event: go}}
  kid: {workflow: child, needs: [gate], with: {tag: "${{ inputs.tag }}"}}
output: ${{ steps.kid.output }}
"""
CHILD = """\
wfkit: 1
name: child
inputs: {tag: {type: string}}
steps:
  hold: {wait: {event: release}}
output: ${{ inputs.tag }}
"""


@pytest.fixture
def runtime(tmp_path: Path) -> wfkit.Runtime:
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "parent.yaml").write_text(PARENT)
    (folder / "child.yaml").write_text(CHILD)
    return wfkit.open(folder, store=f"sqlite:///{tmp_path / 'state.db'}", workers=2)


def _child_waits(runtime: wfkit.Runtime, tag: str) -> Callable[[wfkit.Instance], bool]:
    """A ``wait(until=...)`` test of the parent: its child for ``tag`` waits for release."""

    def check(_: wfkit.Instance) -> bool:
        row = runtime.store.get("nightly:1")
        if row is None or tag not in (row.input or "") or row.status != "RUNNING":
            return False
        return "release" in runtime.instance("nightly:1").snapshot().waiting_events

    return check


def _start(runtime: wfkit.Runtime, tag: str) -> wfkit.Instance:
    run = runtime.start("parent", instance_id="nightly", tag=tag)
    run.raise_event("go")
    return run.wait(10, until=_child_waits(runtime, tag))


def test_a_parent_started_again_runs_its_child_again(runtime: wfkit.Runtime) -> None:
    with runtime:
        _start(runtime, "monday")
        runtime.instance("nightly:1").raise_event("release")
        assert runtime.instance("nightly").wait(10).output == "monday"
        again = _start(runtime, "tuesday")
        runtime.instance("nightly:1").raise_event("release")
        assert again.wait(10).output == "tuesday"  # not monday's child's output


def test_a_child_left_running_by_an_earlier_run_fails_the_step(
    runtime: wfkit.Runtime,
) -> None:
    with runtime:
        _start(runtime, "monday")
        runtime.instance("nightly").terminate(recursive=False)
        runtime.instance("nightly").purge(recursive=False)
        again = runtime.start("parent", instance_id="nightly", tag="tuesday")
        again.raise_event("go")
        with pytest.raises(InstanceFailed) as failed:
            again.wait(10).raise_if_failed()
        message = str(failed.value)
        assert "'nightly:1'" in message and "earlier run" in message
        assert runtime.instance("nightly:1").status == "RUNNING"  # left alone
