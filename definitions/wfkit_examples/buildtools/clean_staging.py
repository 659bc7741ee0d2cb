"""Build step for ``finally``: remove the staging folder, and a failed run's archive.

Env: ``DIST_DIR``, ``WORKFLOW_STATUS`` (the run's status, ``${{ workflow.status }}``),
``ARCHIVE`` (the archive this run built, empty when it built none). When the run did
not complete, its archive is removed too (and its SHA256SUMS line), so a failed build
leaves nothing that looks publishable.
Output: ``removed`` (paths), ``kept`` (the archive, when kept), ``status``.
"""

import shutil
from pathlib import Path
from typing import Any

from wfkit_examples.buildtools._step import env_path, env_str, run, write_output
from wfkit_examples.buildtools.make_archive import STAGING

__all__ = ["clean", "main"]


def _drop_sum(dist: Path, filename: str) -> None:
    sums = dist / "SHA256SUMS"
    if sums.exists():
        lines = sums.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if not line.endswith(f"  {filename}")]
        sums.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")


def clean(dist: Path, status: str, archive: str) -> dict[str, Any]:
    """Remove ``dist/.staging``; on any status but COMPLETED also remove ``archive``."""
    removed: list[str] = []
    staging = dist / STAGING
    if staging.exists():
        shutil.rmtree(staging)
        removed.append(str(staging))
    outcome = status.upper()
    kept = None
    if archive:
        path = Path(archive)
        if outcome != "COMPLETED" and path.exists():
            path.unlink()
            _drop_sum(dist, path.name)
            removed.append(str(path))
        elif path.exists():
            kept = str(path)
    return {"status": outcome, "removed": removed, "kept": kept}


def main() -> None:
    """Clean up after the build described by the environment."""
    write_output(clean(env_path("DIST_DIR"), env_str("WORKFLOW_STATUS"), env_str("ARCHIVE", "")))


if __name__ == "__main__":
    run(main)
