"""``build-package.yaml``: each shell program run as a real subprocess, then the whole build.

Every program gets the argv and the env its step declares in the YAML (rendered with CEL,
non-strings JSON-encoded, as the engine passes them) and ``WFKIT_OUTPUT`` set to a file.
"""

import hashlib
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from example_harness import DEFINITIONS, Harness, apply_inputs, env_strings, load, run_shell
from wfkit_examples import build

DOC = load("build-package")
STEPS = {**DOC["steps"], **DOC["finally"]}

OPS = '''"""Arithmetic helpers."""


def add(a: int, b: int) -> int:
    """Add two numbers.

    >>> add(2, 3)
    5
    """
    return a + b


def mean(values: list[float]) -> float:
    """The mean of the values.
    LONG_LINE

    >>> mean([1.0, 2.0, 6.0])
    3.0
    """
    return sum(values) / len(values)
'''.replace("LONG_LINE", "A line longer than the 80 characters the check is given. " * 2)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A small package: two modules with doctests, a data file, and build litter."""
    root = tmp_path / "src" / "mathpkg"
    (root / "data").mkdir(parents=True)
    (root / "__pycache__").mkdir()
    (root / "__init__.py").write_text('"""A tiny package."""\nfrom mathpkg.ops import add\n')
    (root / "ops.py").write_text(OPS)
    (root / "data" / "table.csv").write_text("a,b\n1,2\n")
    (root / "__pycache__" / "ops.cpython-311.pyc").write_bytes(b"\0junk")
    return root


def context(
    inputs: dict[str, Any], steps: dict[str, Any] | None = None, status: str = "RUNNING"
) -> dict[str, Any]:
    return {
        "inputs": apply_inputs(DOC, inputs),
        "steps": {
            k: {"status": "pending", "output": None} | (steps or {}).get(k, {}) for k in STEPS
        },
        "workflow": {"id": "b-1", "name": "build-package", "status": status},
    }


def run_step(step_id: str, ctx: dict[str, Any], cwd: Path) -> tuple[Any, Any]:
    """Run one shell step of the YAML for real; return the process and its JSON output."""
    step = STEPS[step_id]
    env = env_strings(step["env"], ctx)
    return run_shell(step["shell"], env, cwd / f"{step_id}.json", cwd)


def done(output: Any) -> dict[str, Any]:
    return {"status": "completed", "output": output}


def test_env_values_that_are_not_strings_arrive_as_json(source: Path) -> None:
    ctx = context(
        {"source_dir": str(source)},
        {"check": done({"files": ["a.py", "b.py"], "python_files": ["a.py"]})},
    )
    assert env_strings(STEPS["check"]["env"], ctx) == {
        "SOURCE_DIR": str(source),
        "MAX_LINE_LENGTH": "100",
    }
    assert env_strings(STEPS["package"]["env"], ctx)["FILES"] == '["a.py", "b.py"]'
    assert (
        env_strings(
            STEPS["verify"]["env"],
            ctx | {"steps": ctx["steps"] | {"package": done({"archive": "x", "sha256": "y"})}},
        )["PREFIX"]
        == "wfkit-examples-0.1.0"
    )


def test_check(source: Path, tmp_path: Path) -> None:
    proc, out = run_step(
        "check", context({"source_dir": str(source), "max_line_length": 80}), tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert out["files"] == ["__init__.py", "data/table.csv", "ops.py"]
    assert out["python_files"] == ["__init__.py", "ops.py"]
    assert out["lines"] == 2 + OPS.count("\n")
    assert len(out["warnings"]) == 1 and out["warnings"] == ["ops.py:15: 118 > 80 characters"]


def test_check_stops_on_a_syntax_error(source: Path, tmp_path: Path) -> None:
    (source / "broken.py").write_text("def f(:\n    pass\n")
    proc, out = run_step("check", context({"source_dir": str(source)}), tmp_path)
    assert proc.returncode == 1 and out is None
    assert "syntax errors" in proc.stderr and "broken.py:1:" in proc.stderr


def test_check_needs_its_env(tmp_path: Path) -> None:
    proc, _ = run_shell(STEPS["check"]["shell"], {"SOURCE_DIR": ""}, tmp_path / "o.json", tmp_path)
    assert proc.returncode == 1
    assert "SOURCE_DIR is not set; give it in the step's env" in proc.stderr


def test_doctests(source: Path, tmp_path: Path) -> None:
    ctx = context(
        {"source_dir": str(source)}, {"check": done({"python_files": ["__init__.py", "ops.py"]})}
    )
    proc, out = run_step("test", ctx, tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert out == {"modules": 2, "attempted": 2, "failed": 0}


def test_failing_doctest_stops_the_build(source: Path, tmp_path: Path) -> None:
    (source / "ops.py").write_text(OPS.replace("    5\n", "    6\n"))
    ctx = context({"source_dir": str(source)}, {"check": done({"python_files": ["ops.py"]})})
    proc, out = run_step("test", ctx, tmp_path)
    assert proc.returncode == 1 and out is None
    assert "1 of 2 doctests failed in mathpkg.ops" in proc.stderr


def package(source: Path, dist: Path, cwd: Path, fmt: str = "tar.gz") -> tuple[Any, Any]:
    files = ["__init__.py", "data/table.csv", "ops.py"]
    ctx = context(
        {
            "source_dir": str(source),
            "dist_dir": str(dist),
            "format": fmt,
            "name": "mathpkg",
            "version": "1.2.3",
        },
        {"check": done({"files": files})},
    )
    return run_step("package", ctx, cwd)


def test_package_is_reproducible(source: Path, tmp_path: Path) -> None:
    proc, first = package(source, tmp_path / "d1", tmp_path)
    assert proc.returncode == 0, proc.stderr
    archive = Path(first["archive"])
    assert archive == tmp_path / "d1" / "mathpkg-1.2.3.tar.gz"
    assert first["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert first["entries"] == 3 and first["bytes"] == archive.stat().st_size
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == [
            "mathpkg-1.2.3/__init__.py",
            "mathpkg-1.2.3/data/table.csv",
            "mathpkg-1.2.3/ops.py",
        ]
        assert {m.mtime for m in tar.getmembers()} == {315532800}
    sums = (tmp_path / "d1" / "SHA256SUMS").read_text()
    assert sums == f"{first['sha256']}  mathpkg-1.2.3.tar.gz\n"
    assert not list((tmp_path / "d1" / ".staging").iterdir())
    _, second = package(source, tmp_path / "d2", tmp_path)
    assert second["sha256"] == first["sha256"], "same files, same bytes"


def test_package_as_zip(source: Path, tmp_path: Path) -> None:
    proc, out = package(source, tmp_path / "dist", tmp_path, fmt="zip")
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(out["archive"]) as z:
        assert z.read("mathpkg-1.2.3/data/table.csv") == b"a,b\n1,2\n"
    _, again = package(source, tmp_path / "dist2", tmp_path, fmt="zip")
    assert again["sha256"] == out["sha256"]


def test_package_refuses_missing_files(source: Path, tmp_path: Path) -> None:
    (source / "ops.py").unlink()
    proc, out = package(source, tmp_path / "dist", tmp_path)
    assert proc.returncode == 1 and out is None
    assert "files listed but not in" in proc.stderr and "ops.py" in proc.stderr


def verify(source: Path, built: dict[str, Any], files: list[str], cwd: Path) -> tuple[Any, Any]:
    ctx = context(
        {"source_dir": str(source), "name": "mathpkg", "version": "1.2.3"},
        {"check": done({"files": files}), "package": done(built)},
    )
    return run_step("verify", ctx, cwd)


def test_verify(source: Path, tmp_path: Path) -> None:
    files = ["__init__.py", "data/table.csv", "ops.py"]
    _, built = package(source, tmp_path / "dist", tmp_path)
    proc, out = verify(source, built, files, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out == {"ok": True, "entries": 3, "sha256": built["sha256"]}
    proc, _ = verify(source, built, [*files, "extra.py"], tmp_path)
    assert proc.returncode == 1 and "missing ['mathpkg-1.2.3/extra.py']" in proc.stderr
    Path(built["archive"]).write_bytes(b"tampered")
    proc, _ = verify(source, built, files, tmp_path)
    assert proc.returncode == 1 and "differs from the built" in proc.stderr


@pytest.mark.parametrize("status", ["COMPLETED", "FAILED"])
def test_cleanup(source: Path, tmp_path: Path, status: str) -> None:
    dist = tmp_path / "dist"
    _, built = package(source, dist, tmp_path)
    ctx = context(
        {"source_dir": str(source), "dist_dir": str(dist)}, {"package": done(built)}, status=status
    )
    proc, out = run_step("cleanup", ctx, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not (dist / ".staging").exists()
    archive = Path(built["archive"])
    if status == "COMPLETED":
        assert out == {
            "status": "COMPLETED",
            "removed": [str(dist / ".staging")],
            "kept": str(archive),
        }
        assert archive.exists()
    else:
        assert out["removed"] == [str(dist / ".staging"), str(archive)]
        assert not archive.exists()
        assert (dist / "SHA256SUMS").read_text() == ""


def test_write_report(tmp_path: Path) -> None:
    got = build.write_report(
        "failed",
        "p",
        "1.0",
        str(tmp_path),
        {"check": "completed", "test": "failed", "package": "pending"},
    )
    saved = json.loads((tmp_path / "build-report.json").read_text())
    assert saved["status"] == "FAILED" and saved["failed_step"] == "test"
    assert saved["ok"] is False and saved["archive"] is None
    assert got == {**saved, "report": str(tmp_path / "build-report.json")}


def test_the_build_end_to_end(harness: Harness, source: Path, workdir: Path) -> None:
    run = harness.run(
        "build-package",
        {"source_dir": str(source), "dist_dir": "dist", "name": "mathpkg", "format": "zip"},
    )
    assert run.status == "COMPLETED", run.log
    archive = workdir / "dist" / "mathpkg-0.1.0.zip"
    assert run.output["archive"] == str(archive) and archive.exists()
    assert run.out("verify") == {"ok": True, "entries": 3, "sha256": run.output["sha256"]}
    report = json.loads((workdir / "dist" / "build-report.json").read_text())
    assert report["status"] == "COMPLETED" and report["archive"] == str(archive)
    assert set(report["steps"].values()) == {"completed"}
    assert run.out("cleanup")["kept"] == str(archive)
    assert not (workdir / "dist" / ".staging").exists()


def test_without_tests_the_package_is_still_built(harness: Harness, source: Path) -> None:
    run = harness.run("build-package", {"source_dir": str(source), "run_tests": False})
    assert run.status == "COMPLETED"
    assert run.state("test") == "skipped" and run.state("package") == "completed"


def test_a_failed_build_reports_and_cleans_up(
    harness: Harness, source: Path, workdir: Path
) -> None:
    (source / "ops.py").write_text(OPS.replace("    3.0\n", "    4.0\n"))
    run = harness.run("build-package", {"source_dir": str(source)})
    assert run.status == "FAILED"
    # the engine cancels the steps that can no longer run once the build failed
    assert run.state("test") == "failed" and run.state("package") == "canceled"
    report = json.loads((workdir / "dist" / "build-report.json").read_text())
    assert report["failed_step"] == "test" and report["status"] == "FAILED"
    assert run.out("cleanup") == {"status": "FAILED", "removed": [], "kept": None}
    assert not list((workdir / "dist").glob("*.tar.gz"))


def test_building_the_examples_themselves(harness: Harness, workdir: Path) -> None:
    run = harness.run("build-package", {"source_dir": str(DEFINITIONS / "wfkit_examples")})
    assert run.status == "COMPLETED", run.log
    assert run.out("test")["attempted"] >= 8 and run.out("test")["failed"] == 0
    assert "data/sales.csv" in run.out("check")["files"]
    assert run.out("check")["warnings"] == []
