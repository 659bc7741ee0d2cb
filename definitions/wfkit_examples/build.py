"""The ``finally`` call step of ``build-package.yaml``: a build report, whatever happened.

The build itself is done by the programs in ``wfkit_examples.buildtools`` (shell steps).
"""

import json
from pathlib import Path
from typing import Any

__all__ = ["write_report"]


def write_report(
    status: str,
    name: str,
    version: str,
    dist_dir: str,
    steps: dict[str, str],
    archive: str | None = None,
) -> dict[str, Any]:
    """Write ``<dist_dir>/build-report.json`` about a finished build and return it.

    ``status`` is the run's status, ``steps`` maps step ids to their statuses; the first
    failed step, if any, is named as the cause.
    """
    outcome = status.upper()
    failed = [step for step, state in steps.items() if state == "failed"]
    report = {
        "package": f"{name}-{version}",
        "status": outcome,
        "ok": outcome == "COMPLETED",
        "steps": dict(steps),
        "failed_step": failed[0] if failed else None,
        "archive": archive or None,
    }
    folder = Path(dist_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "build-report.json"
    path.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return {**report, "report": str(path)}
