"""The runtime follows its definitions folder: an edited, new, removed or broken file
counts from the next start, without reload(); cells added in the session stay."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import wfkit
from wfkit import DefinitionError, UnknownWorkflow, parse_definition
from wfkit.runtime.folder import DefinitionsFolder


def _write(folder: Path, name: str, event: str) -> None:
    (folder / f"{name}.yaml").write_text(
        f"wfkit: 1\nname: {name}\nsteps:\n  w: {{wait: {{event: {event}}}}}\n"
    )


def _event(catalog: wfkit.Catalog, name: str) -> str:
    return catalog.get(name).steps["w"].target.event  # type: ignore[union-attr,no-any-return]


def test_edits_new_and_removed_files_count_at_the_next_look(tmp_path: Path) -> None:
    _write(tmp_path, "one", "first")
    folder = DefinitionsFolder(str(tmp_path), check_interval=0)
    assert _event(folder.catalog, "one") == "first"
    _write(tmp_path, "one", "second")
    _write(tmp_path, "two", "other")
    assert _event(folder.catalog, "one") == "second" and folder.catalog.names == ["one", "two"]
    (tmp_path / "two.yaml").unlink()
    with pytest.raises(UnknownWorkflow):
        folder.catalog.get("two")


def test_within_the_interval_the_files_are_not_looked_at(tmp_path: Path) -> None:
    _write(tmp_path, "one", "first")
    folder = DefinitionsFolder(str(tmp_path), check_interval=3600)
    seen = folder.catalog
    _write(tmp_path, "one", "second")
    assert folder.catalog is seen and _event(seen, "one") == "first"
    assert _event(folder.reload(), "one") == "second"


def test_added_definitions_stay_when_the_folder_is_read_again(tmp_path: Path) -> None:
    _write(tmp_path, "one", "first")
    folder = DefinitionsFolder(str(tmp_path), check_interval=0)
    folder.add(parse_definition("wfkit: 1\nname: cell\nsteps:\n  k: {workflow: one}\n"))
    _write(tmp_path, "one", "second")
    assert folder.catalog.names == ["cell", "one"]
    (tmp_path / "one.yaml").unlink()  # its child is gone: the cell's workflow goes too
    assert folder.catalog.names == []


def test_a_file_saved_broken_is_refused_and_told_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path, "one", "first")
    folder = DefinitionsFolder(str(tmp_path), check_interval=0)
    assert _event(folder.catalog, "one") == "first"
    (tmp_path / "one.yaml").write_text("wfkit: 1\nname: one\nsteps:\n  w: {wait: {}}\n")
    with caplog.at_level(logging.WARNING, logger="wfkit"):
        for _ in range(3):
            with pytest.raises(DefinitionError, match=r"one\.yaml:4:"):
                folder.catalog.get("one")  # the broken text, not the old one
    assert len([r for r in caplog.records if "have problems" in r.getMessage()]) == 1


def test_a_runtime_starts_the_edited_definition_without_reload(tmp_path: Path) -> None:
    folder = tmp_path / "definitions"
    folder.mkdir()
    _write(folder, "gate", "first")
    runtime = wfkit.open(definitions=str(folder), store=f"sqlite:///{tmp_path / 's.db'}")
    try:
        runtime.folder.check_interval = 0
        before = runtime.start("gate")
        _write(folder, "gate", "second")
        after = runtime.start("gate")
        before.raise_event("first", 1)
        after.raise_event("second", 2)
        assert before.wait(timeout=20).output is None and before.status == "COMPLETED"
        assert after.wait(timeout=20).status == "COMPLETED"
        assert before.row().definition_hash != after.row().definition_hash
    finally:
        runtime.close()
