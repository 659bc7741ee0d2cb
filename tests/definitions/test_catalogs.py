"""Catalog-level cases: each folder under ``catalogs/`` with an ``expect.json``.

``expect.json`` holds ``problems``: a list of ``{file, line, column, message, hint?,
mentions?}`` (message and hint are substrings; ``mentions`` are file names the message
must name), every one of which must be reported at once; ``names`` lists the workflow
names of a folder that loads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from corpus_support import CATALOG_CASES, REPO, describe

import wfkit


def _expect(case: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((case / "expect.json").read_text("utf-8"))
    return data


def _found(problems: list[wfkit.Problem], case: Path, want: dict[str, Any]) -> bool:
    for p in problems:
        if (
            p.path == str(case / want["file"])
            and (p.line, p.column) == (want["line"], want["column"])
            and want["message"] in p.message
            and want.get("hint", "") in p.hint
            and all(str(case / other) in p.message for other in want.get("mentions", []))
        ):
            return True
    return False


def test_catalog_cases_cover_the_required_kinds() -> None:
    names = {case.name for case in CATALOG_CASES}
    assert {"duplicate-name", "unknown-child", "workflow-cycle", "self-calling"} <= names
    assert all((case / "expect.json").is_file() for case in CATALOG_CASES)


@pytest.mark.parametrize("case", CATALOG_CASES, ids=lambda p: p.name)
def test_catalog_case(case: Path) -> None:
    expect = _expect(case)
    if not expect["problems"]:
        catalog = wfkit.load_catalog(case)
        assert catalog.names == expect["names"]
        assert all(catalog.get(n).name == n for n in catalog.names)
        return
    with pytest.raises(wfkit.DefinitionError) as info:
        wfkit.load_catalog(case)
    problems = info.value.problems
    for want in expect["problems"]:
        assert _found(problems, case, want), f"{want} not in\n{describe(problems)}"
    assert len(problems) == len(expect["problems"]), describe(problems)
    # the folder and its files listed one by one are the same catalog
    files = sorted(case.glob("*.y*ml"))
    with pytest.raises(wfkit.DefinitionError) as again:
        wfkit.load_catalog(files)
    assert sorted(again.value.problems) == sorted(problems)


def test_catalog_cycle_names_both_workflows_and_the_step() -> None:
    case = next(c for c in CATALOG_CASES if c.name == "workflow-cycle")
    with pytest.raises(wfkit.DefinitionError) as info:
        wfkit.load_catalog(case)
    (problem,) = info.value.problems
    assert problem.step == "go"
    assert "a -> b -> a" in problem.message


@pytest.mark.parametrize("case", CATALOG_CASES, ids=lambda p: p.name)
def test_catalog_case_through_cli(case: Path) -> None:
    expect = _expect(case)
    run = subprocess.run(
        [sys.executable, "-m", "wfkit", "validate", str(case), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert run.returncode == (1 if expect["problems"] else 0), run.stdout + run.stderr
    assert report["ok"] is not bool(expect["problems"])
    reported = {(Path(p["path"]).name, p["line"], p["column"]) for p in report["problems"]}
    wanted = {(w["file"], w["line"], w["column"]) for w in expect["problems"]}
    assert reported == wanted
