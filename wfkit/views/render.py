"""DOT text to SVG or PNG, through a Graphviz-compatible executable.

The executable is looked up, in this order:

1. the ``WFKIT_DOT`` environment variable: a path, or a command name looked up on PATH
   (when it is set but names nothing runnable, that is an error, not a silent fallback);
2. ``dot`` (Graphviz) on PATH;
3. ``graphviz-pure`` (``pip install graphviz-pure``, one static binary) on PATH;
4. ``graphviz-pure`` in this Python's scripts directory, then beside ``sys.executable``:
   a Jupyter kernel started from a virtualenv runs without that env's ``bin`` on PATH.

The executable reads DOT on stdin and writes the drawing on stdout (``-Tsvg``/``-Tpng``).
:func:`graphviz.Source.pipe` is not used because it only ever runs ``dot``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from wfkit.errors import RenderError

__all__ = ["ENV_VAR", "FORMATS", "SUFFIXES", "find_renderer", "render", "render_file"]

#: The environment variable that names the renderer to use.
ENV_VAR = "WFKIT_DOT"

#: The formats :func:`render` produces (``dot`` is the input text itself).
FORMATS = ("svg", "png", "dot")

#: File suffixes :func:`render_file` understands, and the format each one means.
SUFFIXES = {".svg": "svg", ".png": "png", ".dot": "dot"}

_PURE = "graphviz-pure"
_INSTALL_HINT = (
    "install one with `pip install graphviz-pure` (a single static binary) or "
    "`apt-get install graphviz` (Debian/Ubuntu), or set WFKIT_DOT to the path of a "
    "Graphviz-compatible executable"
)
_STDERR_MAX = 2000


def find_renderer() -> str:
    """The path of the executable that renders DOT text (lookup order in the module doc).

    Raises :class:`~wfkit.errors.RenderError`, saying what to install, when none is found.
    """
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise RenderError(
                f"{ENV_VAR}={configured!r} is not an executable file nor a command on PATH; "
                f"point it at a Graphviz-compatible executable or unset it ({_INSTALL_HINT})"
            )
        return found
    for name in ("dot", _PURE):
        found = shutil.which(name)
        if found is not None:
            return found
    for folder in _fallback_dirs():
        found = shutil.which(_PURE, path=folder)
        if found is not None:
            return found
    raise RenderError(
        f"no graph renderer found: neither `dot` nor `{_PURE}` is on PATH or in "
        f"{', '.join(_fallback_dirs())}; {_INSTALL_HINT}"
    )


def _fallback_dirs() -> list[str]:
    """This interpreter's scripts directory, then the directory of ``sys.executable``."""
    folders: list[str] = []
    for folder in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        if folder and folder not in folders:
            folders.append(folder)
    return folders


def render(dot_text: str, fmt: str = "svg", *, timeout: float = 60.0) -> bytes:
    """``dot_text`` drawn as ``fmt`` (``svg``, ``png``, or ``dot`` for the text as UTF-8).

    Raises :class:`~wfkit.errors.RenderError` for an unknown format, when no renderer is
    found, and when the renderer fails, runs over ``timeout`` seconds or prints nothing;
    the message carries the renderer's error output.
    """
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise RenderError(f"cannot render to {fmt!r}: supported formats are {', '.join(FORMATS)}")
    if fmt == "dot":
        return dot_text.encode("utf-8")
    executable = find_renderer()
    try:
        done = subprocess.run(
            [executable, f"-T{fmt}"],
            input=dot_text.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RenderError(f"{executable} took more than {timeout:g}s to draw the graph") from exc
    except OSError as exc:
        raise RenderError(f"could not run {executable}: {exc}; {_INSTALL_HINT}") from exc
    if done.returncode != 0:
        raise RenderError(
            f"{executable} -T{fmt} failed with exit status {done.returncode}: "
            f"{_stderr_text(done.stderr)}"
        )
    if not done.stdout:
        raise RenderError(f"{executable} -T{fmt} printed nothing: {_stderr_text(done.stderr)}")
    return done.stdout


def _stderr_text(stderr: bytes) -> str:
    text = stderr.decode("utf-8", errors="replace").strip()
    if len(text) > _STDERR_MAX:
        text = text[:_STDERR_MAX] + " [...]"
    return text or "(no error output)"


def render_file(dot_text: str, out_path: str | os.PathLike[str]) -> Path:
    """Draw ``dot_text`` into ``out_path``, the format given by its suffix; returns the path.

    Suffixes: ``.svg``, ``.png``, ``.dot``. Nothing is written when rendering fails.
    """
    path = Path(out_path)
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise RenderError(
            f"cannot tell the format of {str(path)!r} from its suffix "
            f"{path.suffix or '(none)'!r}: use one of {', '.join(SUFFIXES)}"
        )
    data = render(dot_text, fmt)
    path.write_bytes(data)
    return path
