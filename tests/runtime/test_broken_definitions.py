"""A runtime over a definitions folder with a broken file: the other workflows start and
run, the broken one is refused with its own problems, and people are told once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import wfkit
from wfkit import DefinitionError, UnknownWorkflow


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "good.yaml").write_text(
        "wfkit: 1\nname: good\nsteps:\n  w: {wait: {event: go}}\noutput: ${{ steps.w.output }}\n"
    )
    (folder / "broken.yaml").write_text("wfkit: 1\nname: broken\nsteps:\n  a: {wait: {}}\n")
    return folder


def test_open_warns_and_runs_the_good_workflows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _folder(tmp_path)
    with caplog.at_level(logging.WARNING, logger="wfkit"):
        runtime = wfkit.open(definitions=str(folder), store=f"sqlite:///{tmp_path / 's.db'}")
    try:
        warned = [r.getMessage() for r in caplog.records if r.name.startswith("wfkit")]
        assert len(warned) == 1 and f"{folder / 'broken.yaml'}:4:" in warned[0]
        assert runtime.catalog.names == ["good"]
        instance = runtime.start("good")
        instance.raise_event("go", {"n": 1})
        assert instance.wait(timeout=20).status == "COMPLETED" and instance.output == {"n": 1}
        with pytest.raises(DefinitionError) as refused:
            runtime.start("broken")
        assert [Path(p.path).name for p in refused.value.problems] == ["broken.yaml"]
        with pytest.raises(UnknownWorkflow):
            runtime.start("nobody")
        assert [i.id for i in runtime.instances()] == [instance.id]  # nothing else stored
    finally:
        runtime.close()


def test_fixing_the_file_and_reloading_makes_it_startable(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    runtime = wfkit.open(definitions=str(folder), store=f"sqlite:///{tmp_path / 's.db'}")
    try:
        (folder / "broken.yaml").write_text(
            "wfkit: 1\nname: broken\nsteps:\n  a: {wait: {event: go}}\n"
        )
        runtime.reload()
        assert runtime.catalog.names == ["broken", "good"] and runtime.catalog.problems == []
        assert runtime.start("broken").status == "RUNNING"
    finally:
        runtime.close()
