"""Every malformed definition in ``bad/`` is refused with the problems its header expects.

Each file is loaded for real (``wfkit.load_definition``); the problems must be a
``DefinitionError`` (a traceback of any other kind fails the test), at exactly the expected
line and column, with the expected message and hint, and all of them at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from corpus_support import (
    BAD_DIR,
    BAD_FILES,
    REPO,
    check_problems,
    describe,
    matching,
    read_header,
)

import wfkit


def _problems_of(path: Path) -> tuple[wfkit.DefinitionError, list[wfkit.Problem]]:
    with pytest.raises(wfkit.DefinitionError) as info:
        wfkit.load_definition(path)
    return info.value, info.value.problems


# -- the corpus itself -------------------------------------------------------------------


def test_corpus_is_large_and_every_file_states_its_expectations() -> None:
    assert len(BAD_FILES) >= 55
    for path in BAD_FILES:
        header = read_header(path)
        assert header.expects, f"{path.name} has no '# expect:' line"
        assert header.schema in ("accept", "reject"), f"{path.name} has no '# schema:' line"


# -- every bad file ----------------------------------------------------------------------


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.name)
def test_bad_file_reports_expected_problems(path: Path) -> None:
    header = read_header(path)
    error, problems = _problems_of(path)
    check_problems(path, header, problems)

    assert all(p.path == str(path) for p in problems), describe(problems)
    text = str(error)
    for expect in header.expects:
        assert f"{path}:{expect.line}:{expect.column}" in text, text


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.name)
def test_bad_file_problems_are_well_formed(path: Path) -> None:
    """One line per message, positions inside the file, no problem reported twice."""
    _, problems = _problems_of(path)
    lines = path.read_bytes().count(b"\n") + path.read_bytes().count(b"\r") + 1
    for p in problems:
        assert p.message and "\n" not in p.message, f"multi-line message: {p.message!r}"
        assert "\n" not in p.hint, f"multi-line hint: {p.hint!r}"
        assert "Traceback" not in p.message
        assert 0 <= p.line <= lines and p.column >= 0, f"{p.line}:{p.column} outside the file"
        assert (p.line == 0) == (p.column == 0)
    keys = [(p.line, p.column, p.message) for p in problems]
    assert len(keys) == len(set(keys)), f"a problem is reported twice:\n{describe(problems)}"
    assert problems == sorted(problems)


def _is_utf8(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


TEXT_FILES = [p for p in BAD_FILES if _is_utf8(p)]


@pytest.mark.parametrize("path", TEXT_FILES, ids=lambda p: p.name)
def test_text_and_file_loading_agree(path: Path) -> None:
    """parse_definition on the decoded text reports what load_definition reports."""
    text = path.read_bytes().decode("utf-8")
    _, from_file = _problems_of(path)
    with pytest.raises(wfkit.DefinitionError) as info:
        wfkit.parse_definition(text, str(path))
    assert info.value.problems == from_file


# -- the real command line ----------------------------------------------------------------

CLI_SAMPLE = [
    "yaml-tab-indentation.yaml",
    "non-utf8.yaml",
    "dup-key-nested.yaml",
    "misspelt-top-key.yaml",
    "needs-unknown.yaml",
    "cycle-three-steps.yaml",
    "expression-unknown-root.yaml",
    "many-problems.yaml",
    "yaml-python-tag.yaml",
]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfkit", "validate", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def cli_runs() -> dict[tuple[str, bool], subprocess.CompletedProcess[str]]:
    """Every sampled file through ``wfkit validate`` and ``--json``, run side by side."""
    jobs = [(name, as_json) for name in CLI_SAMPLE for as_json in (False, True)]

    def one(job: tuple[str, bool]) -> subprocess.CompletedProcess[str]:
        name, as_json = job
        rel = str((BAD_DIR / name).relative_to(REPO))
        return _run([rel, "--json"] if as_json else [rel])

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(jobs, pool.map(one, jobs), strict=True))


def test_cli_sample_files_exist() -> None:
    assert all((BAD_DIR / name).is_file() for name in CLI_SAMPLE)


@pytest.mark.parametrize("name", CLI_SAMPLE)
def test_cli_validate_reports_problems(name: str, cli_runs: dict) -> None:
    run = cli_runs[(name, False)]
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    rel = str((BAD_DIR / name).relative_to(REPO))
    for expect in read_header(BAD_DIR / name).expects:
        assert f"{rel}:{expect.line}:{expect.column}: " in run.stdout, run.stdout


@pytest.mark.parametrize("name", CLI_SAMPLE)
def test_cli_validate_json(name: str, cli_runs: dict) -> None:
    run = cli_runs[(name, True)]
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["ok"] is False
    rel = str((BAD_DIR / name).relative_to(REPO))
    assert report["files"] == [rel]
    assert report["definitions"] == []
    problems = [wfkit.Problem(**p) for p in report["problems"]]
    assert problems and all(p.path == rel for p in problems)
    for expect in read_header(BAD_DIR / name).expects:
        assert matching(problems, expect), f"{expect} not in {report['problems']}"


def test_cli_validate_folder_of_bad_files_lists_every_file() -> None:
    run = _run([str(BAD_DIR.relative_to(REPO)), "--json"])
    assert run.returncode == 1
    assert "Traceback" not in run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert len(report["files"]) == len(BAD_FILES)
    assert {Path(p["path"]).name for p in report["problems"]} == {p.name for p in BAD_FILES}
