"""How a :class:`~wfkit.definition.model.Definition` shows itself in a notebook.

:func:`definition_mimebundle` draws the definition's graph as SVG. Whatever goes wrong
(no renderer installed, the renderer failing, a view that cannot be built), it falls back
to an HTML table of the steps, with the reason, and never raises: a cell that displays a
definition must not error.
"""

from __future__ import annotations

import html
import logging
import re
import shlex
from collections.abc import Iterable, Sequence
from typing import Any

from wfkit.definition.model import Definition, Duration, Step, WaitSpec
from wfkit.views.dot import to_dot
from wfkit.views.render import render

__all__ = ["definition_mimebundle", "steps_table_html"]

_log = logging.getLogger(__name__)
_XML_PROLOGUE = re.compile(r"\A(?:\s*<\?xml[^>]*\?>|\s*<!DOCTYPE[^>]*>|\s*<!--.*?-->)*\s*", re.S)


def definition_mimebundle(definition: Definition) -> dict[str, Any]:
    """The notebook mime bundle of ``definition``: its graph as SVG, or a table of steps.

    Keys: ``image/svg+xml`` (only when drawing worked), ``text/html`` and ``text/plain``.
    """
    text = _plain_text(definition)
    try:
        from wfkit.graph import build_view  # networkx is loaded only when a graph is shown

        svg = render(to_dot(build_view(definition)), "svg").decode("utf-8")
    except Exception as exc:  # any failure shows the table instead; a display never raises
        _log.info("drawing %r failed; showing a table of steps", definition, exc_info=True)
        return _fallback_bundle(definition, text, exc)
    body = _XML_PROLOGUE.sub("", svg, count=1)
    page = f'<div class="wfkit-definition">{_heading(definition)}{body}</div>'
    return {"image/svg+xml": svg, "text/html": page, "text/plain": text}


def steps_table_html(rows: Iterable[Sequence[str]]) -> str:
    """An HTML table with columns step, kind, target and needs; every cell is escaped."""
    head = "".join(f"<th>{name}</th>" for name in ("step", "kind", "target", "needs"))
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f'<table class="wfkit-steps"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _fallback_bundle(definition: Definition, text: str, error: BaseException) -> dict[str, Any]:
    try:
        rows = _step_rows(definition)
        reason = html.escape(f"graph not drawn: {error}")
        page = (
            f'<div class="wfkit-definition">{_heading(definition)}{steps_table_html(rows)}'
            f'<p class="wfkit-note"><small>{reason}</small></p></div>'
        )
        lines = [text, *("  " + "  ".join(cell for cell in row if cell) for row in rows)]
        return {"text/html": page, "text/plain": "\n".join(lines)}
    except Exception:  # a broken definition object: plain text is all that is left
        _log.warning("cannot list the steps of %r", definition, exc_info=True)
        return {"text/plain": text}


def _plain_text(definition: Definition) -> str:
    try:
        return repr(definition)
    except Exception:
        return f"<Definition {getattr(definition, 'name', '?')!r}>"


def _heading(definition: Definition) -> str:
    title = f"<strong>{html.escape(definition.name)}</strong>"
    if definition.description:
        title += f" — {html.escape(definition.description)}"
    return f"<p>{title}</p>"


def _step_rows(definition: Definition) -> list[tuple[str, str, str, str]]:
    rows = []
    for step in definition.all_steps().values():
        step_id = f"{step.id} (finally)" if step.is_finally else step.id
        rows.append((step_id, _kind(step), _target_text(step.target), ", ".join(step.needs)))
    return rows


def _kind(step: Step) -> str:
    return str(getattr(step.kind, "value", step.kind))


def _target_text(target: object) -> str:
    """A step's target as one line: argv joined shell-style, an event, a duration."""
    if isinstance(target, WaitSpec):
        timeout = f" (timeout {target.timeout})" if target.timeout is not None else ""
        return f"event {target.event}{timeout}"
    if isinstance(target, Duration):
        return target.text
    if isinstance(target, list | tuple):
        return shlex.join(str(part) for part in target)
    return str(target)
