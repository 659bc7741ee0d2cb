"""What every build program shares: reading ``env`` settings and writing the result."""

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["StepFailed", "env_json", "env_path", "env_str", "run", "write_output"]


class StepFailed(Exception):
    """The build cannot go on; the message says why and goes to stderr."""


def env_str(name: str, default: str | None = None) -> str:
    """The variable ``name``; without a default, a missing or empty one is an error."""
    value = os.environ.get(name, "")
    if value:
        return value
    if default is None:
        raise StepFailed(f"{name} is not set; give it in the step's env")
    return default


def env_json(name: str, default: Any = None) -> Any:
    """The JSON-encoded variable ``name`` (how non-string ``env`` values arrive)."""
    raw = os.environ.get(name, "")
    if not raw:
        if default is None:
            raise StepFailed(f"{name} is not set; give it in the step's env")
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise StepFailed(f"{name} is not valid JSON ({exc.msg}): {raw[:80]!r}") from None


def env_path(name: str, default: str | None = None) -> Path:
    """The variable ``name`` as an absolute path (relative ones are from the working dir)."""
    return Path(env_str(name, default)).resolve()


def write_output(value: Any) -> None:
    """Write the step's result as JSON to ``$WFKIT_OUTPUT``, or to stdout when unset."""
    text = json.dumps(value, sort_keys=True)
    target = os.environ.get("WFKIT_OUTPUT")
    if target:
        Path(target).write_text(text, encoding="utf-8")
    else:
        print(text)


def run(main: Any) -> NoReturn:
    """Call ``main()`` and exit: 0 on success, 1 with the message when it raises StepFailed."""
    try:
        main()
    except StepFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    raise SystemExit(0)
