"""Listing instances from Python: filters by status, in any case, and a clear error for
a status that does not exist."""

from __future__ import annotations

from pathlib import Path

import pytest

import wfkit


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "good.yaml").write_text("wfkit: 1\nname: good\nsteps:\n  w: {wait: {event: go}}\n")
    return folder


def test_listing_by_an_unknown_status_is_an_error_not_an_empty_list(tmp_path: Path) -> None:
    runtime = wfkit.open(definitions=str(_folder(tmp_path)), store=f"sqlite:///{tmp_path / 's'}")
    try:
        started = runtime.start("good")
        assert [i.id for i in runtime.instances(status="running")] == [started.id]
        assert [i.id for i in runtime.instances(status=["Pending", "RUNNING"])] == [started.id]
        with pytest.raises(wfkit.UnknownStatus) as caught:
            runtime.instances(status="runing")
        assert "did you mean 'RUNNING'?" in str(caught.value)
        assert isinstance(caught.value, ValueError)
    finally:
        runtime.close()
