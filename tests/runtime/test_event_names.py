"""Event names sent to an instance: names no wait step could take are refused, names its
workflow has no wait step for are sent with a warning (a real engine on a SQLite file)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import wfkit
from wfkit import InvalidEventName, UnknownEventWarning
from wfkit.runtime.api import Runtime

PARENT = """\
wfkit: 1
name: parent
steps:
  approve: {wait: {event: Model-Approved}}
  kid: {workflow: child, needs: [approve]}
"""

CHILD = """\
wfkit: 1
name: child
steps:
  sign: {wait: signed}
"""


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "parent.yaml").write_text(PARENT)
    (defs / "child.yaml").write_text(CHILD)
    with wfkit.open(definitions=defs, store=f"sqlite:///{tmp_path / 'state.db'}") as opened:
        yield opened


def test_an_event_no_wait_step_takes_is_sent_with_a_warning(runtime: Runtime) -> None:
    job = runtime.start("parent", instance_id="p1")
    with pytest.warns(UnknownEventWarning) as caught:
        job.raise_event("model-aproved", {"ok": True})
    (warning,) = caught.list
    assert warning.filename == __file__  # points at the caller, not at wfkit
    message = warning.message
    assert isinstance(message, UnknownEventWarning)
    assert (message.instance_id, message.event, message.expected) == (
        "p1",
        "model-aproved",
        ["model-approved"],
    )
    assert "no wait step of workflow 'parent' takes event 'model-aproved'" in str(message)
    assert "did you mean 'model-approved'?" in str(message)
    assert len([e for e in job.history() if type(e).__name__ == "EventRaised"]) == 1  # sent


def test_an_event_a_child_waits_for_says_to_raise_it_to_the_child(runtime: Runtime) -> None:
    job = runtime.start("parent", instance_id="p2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the name it waits for, in any case: no warning
        job.raise_event("MODEL-APPROVED")
    job.wait(10, until=lambda j: bool(runtime.store.children("p2")))
    (child_id,) = runtime.store.children("p2")
    with pytest.warns(UnknownEventWarning, match="events are not passed on to child") as caught:
        job.raise_event("signed")
    assert "step 'sign' of child workflow 'child' waits for it" in str(caught.list[0].message)
    assert f"raise it to that child instance: {child_id}" in str(caught.list[0].message)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "the name is empty"),
        ("two\nlines", "a control character ('\\n') at 4"),
        ("x" * 201, "the name has 201 characters"),
    ],
)
def test_a_name_no_wait_step_could_take_is_refused(
    runtime: Runtime, name: str, reason: str
) -> None:
    job = runtime.start("parent", instance_id="p3")
    with pytest.raises(InvalidEventName, match="nothing was sent") as info:
        job.raise_event(name)
    assert reason in str(info.value)
    assert "1 to 200 characters" in str(info.value)
    assert len(str(info.value)) < 400  # the name is cut when echoed
    assert [e for e in job.history() if type(e).__name__ == "EventRaised"] == []


def test_echoed_ids_and_names_are_cut(runtime: Runtime) -> None:
    long_id = "i" * 500
    with pytest.raises(wfkit.InstanceNotFound) as missing:
        runtime.instance(long_id)
    assert "i" * 79 + "…" in str(missing.value) and "i" * 81 not in str(missing.value)
    assert missing.value.instance_id == long_id  # the field keeps it whole
    with pytest.raises(wfkit.UnknownWorkflow) as unknown:
        runtime.start("w" * 500)
    assert "w" * 81 not in str(unknown.value)
