"""One executed notebook as a Markdown page of the site, through nbconvert's MarkdownExporter.

The notebook is read as committed and never executed: the page shows the outputs saved
when it was last run. The template ``templates/tutorial/index.md.j2`` extends nbconvert's
``markdown`` template; the filters here decide how each kind of output looks:

* code as fenced ``python`` blocks, stream and ``text/plain`` outputs as fenced ``text``
  blocks of class ``nb-output`` (``notebook.css`` sets them apart from the code);
* ``text/html`` as raw HTML (wfkit's definitions and instances are a summary, an inline
  SVG graph and a legend there), and an ``image/svg+xml`` output without HTML inline too,
  so a page needs no files beside it and works offline;
* an error as ``Type: message``, without the traceback's frames (those are wfkit's
  internals, with the paths of the machine that ran the notebook);
* a widget (``application/vnd.jupyter.widget-view+json``) through the state saved in the
  notebook's metadata, walked from the output's model: the HTML models (an instance
  panel's summary, graph and step table) and progress bars in order, controls left out
  because they only work in a kernel; ``text/plain`` when no state was saved. Model ids
  change at every execution and never reach the page.

Relative links of Markdown cells are rewritten for the site: to another tutorial, its page;
into ``docs/``, the page there. A link to anything else is an error, since the site could
not follow it.
"""

from __future__ import annotations

import functools
import html
import os
import re
from collections.abc import Iterator, Mapping
from importlib import import_module
from pathlib import Path
from typing import Any

from docs._gen._common import DOCS, ROOT, TEMPLATES

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

#: What a page shows of an output that has several representations, best first.
PRIORITY = [
    WIDGET_VIEW,
    "text/html",
    "text/markdown",
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "text/latex",
    "text/plain",
]

#: Between two blocks of the template's output (see ``templates/tutorial/index.md.j2``).
SEP = "\x1e"

_WRAP = '<div class="nb-output">\n{}\n</div>'
_LINK = re.compile(r"(\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
_REFERENCE = re.compile(r"^( {0,3}\[[^\]]+\]:\s*)(\S+)", re.M)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def fence(text: str, language: str = "", *classes: str) -> str:
    """``text`` as a fenced code block, the fence longer than any backtick run inside;
    ``classes`` go on its ``<pre>`` (``notebook.css`` styles ``nb-*``)."""
    text = text.rstrip("\n")
    if not text.strip():
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    bar = "`" * max(3, longest + 1)
    info = " ".join(f".{name}" for name in (language, *classes) if name)
    header = f"{bar}{language}" if not classes else f"{bar}{{ {info} }}"
    return f"{header}\n{text}\n{bar}"


def terminal(text: str) -> str:
    """Printed text as a terminal shows it: ``\\r\\n`` (from ``!command`` cells, run in a
    pseudo-terminal) as ``\\n``, and a line rewritten after ``\\r`` (a progress bar) as
    its last version."""
    lines = text.replace("\r\n", "\n").split("\n")
    return "\n".join(line.rsplit("\r", 1)[-1] for line in lines)


def html_block(text: str) -> str:
    """Raw HTML as one block of the page (``notebook.css`` scales its SVG to the page)."""
    text = text.strip()
    return _WRAP.format(text) if text else ""


def svg_block(text: str) -> str:
    """An SVG document inline: without its XML declaration, doctype and comments before
    ``<svg``, which HTML does not want."""
    start = text.find("<svg")
    return html_block(text[start:] if start >= 0 else text)


def image_block(data: str, mimetype: str) -> str:
    """A PNG or JPEG output as an inline ``data:`` image."""
    return html_block(f'<img src="data:{mimetype};base64,{"".join(data.split())}" alt="">')


def _model_id(reference: str) -> str:
    return reference.removeprefix("IPY_MODEL_")


def _widget_parts(
    model_id: str, state: Mapping[str, Any], buttons: list[str], seen: set[str]
) -> Iterator[str]:
    """The HTML of a saved widget and its children, in order; controls are skipped (their
    labels are collected in ``buttons``)."""
    model = state.get(model_id)
    if model is None or model_id in seen:
        return
    seen.add(model_id)
    name = model.get("model_name", "")
    values = model.get("state", {})
    if name in ("HTMLModel", "HTMLMathModel"):
        if str(values.get("value", "")).strip():
            yield str(values["value"]).strip()
    elif name == "LabelModel" and str(values.get("value", "")).strip():
        yield f"<p>{html.escape(str(values['value']))}</p>"
    elif name in ("IntProgressModel", "FloatProgressModel"):
        low, high = values.get("min", 0), values.get("max", 100)
        bar = f'<progress value="{values.get("value", low) - low}" max="{high - low}"></progress>'
        label = html.escape(str(values.get("description", "")))
        yield f"<p>{bar} {label}</p>" if label else f"<p>{bar}</p>"
    elif name in ("ButtonModel", "ToggleButtonModel") and values.get("description"):
        buttons.append(str(values["description"]))
    for child in values.get("children", []):
        yield from _widget_parts(_model_id(child), state, buttons, seen)


def widget_block(view: Mapping[str, Any], data: Mapping[str, Any], metadata: Any) -> str:
    """A widget output by its saved state, or its ``text/plain`` when none was saved."""
    widgets = (metadata.get("widgets") or {}).get(WIDGET_STATE) or {}
    state = widgets.get("state") or {}
    buttons: list[str] = []
    parts = list(_widget_parts(str(view.get("model_id")), state, buttons, set()))
    if not parts:
        return fence(str(data.get("text/plain", "")), "text", "nb-output")
    note = "A live panel in Jupyter, shown here as it was last saved"
    if buttons:
        note += f" (its buttons, {', '.join(buttons)}, only work in Jupyter)"
    return html_block(
        '<div class="nb-widget">\n'
        + "\n".join(parts)
        + f'\n<p class="nb-widget-note"><em>{html.escape(note)}.</em></p>\n</div>'
    )


def _relink(target: str, notebook: Path, page: str, pages: Mapping[Path, str]) -> str:
    """A relative link of ``notebook``'s Markdown, as seen from ``page`` (under docs/)."""
    if target.startswith(("#", "/")) or _SCHEME.match(target):
        return target
    path, hash_, anchor = target.partition("#")
    resolved = (notebook.parent / path).resolve()
    if resolved in pages:
        destination = DOCS / pages[resolved]
    elif resolved.is_relative_to(DOCS) and resolved.is_file():
        destination = resolved
    else:
        raise ValueError(
            f"{notebook.relative_to(ROOT)}: the link {target!r} leads neither to a tutorial "
            "nor to a page under docs/, so the site cannot follow it"
        )
    relative = os.path.relpath(destination, (DOCS / page).parent)
    return Path(relative).as_posix() + hash_ + anchor


def relink(source: str, notebook: Path, page: str, pages: Mapping[Path, str]) -> str:
    """``source`` (Markdown) with its relative links rewritten for the page."""

    def inline(match: re.Match[str]) -> str:
        target = _relink(match.group(2), notebook, page, pages)
        return match.group(1) + target + match.group(3)

    def reference(match: re.Match[str]) -> str:
        return match.group(1) + _relink(match.group(2), notebook, page, pages)

    return _REFERENCE.sub(reference, _LINK.sub(inline, source))


@functools.cache
def _exporter() -> Any:
    """nbconvert's MarkdownExporter with the template and filters of the pages (nbconvert
    and nbformat are imported as ``Any``: they have no type hints for mypy)."""
    nbconvert: Any = import_module("nbconvert")
    traitlets: Any = import_module("traitlets.config")
    config = traitlets.Config()
    config.ExtractOutputPreprocessor.enabled = False  # pages carry their images inline
    config.NbConvertBase.display_data_priority = PRIORITY
    exporter = nbconvert.MarkdownExporter(
        config=config,
        template_name="tutorial",
        extra_template_basedirs=[str(TEMPLATES)],
    )
    exporter.register_filter("fence", fence)
    exporter.register_filter("terminal", terminal)
    exporter.register_filter("html_block", html_block)
    exporter.register_filter("svg_block", svg_block)
    exporter.register_filter("image_block", image_block)
    exporter.register_filter("widget_block", widget_block)
    exporter.environment.globals["sep"] = SEP
    return exporter


def render_notebook(notebook: Path, page: str, pages: Mapping[Path, str], *, note: str = "") -> str:
    """The Markdown of ``notebook`` as the page ``page`` (a path under ``docs/``).

    ``pages`` maps each notebook that has a page to that page, for links between them;
    ``note`` (Markdown) is placed after the notebook's first cell, its title.
    """
    nbformat: Any = import_module("nbformat")
    node = nbformat.reads(notebook.read_text(encoding="utf-8"), as_version=4)
    for cell in node.cells:
        if cell.cell_type == "markdown":
            cell.source = relink(cell.source, notebook, page, pages)
    if note:
        node.cells.insert(1, nbformat.v4.new_markdown_cell(note))
    body, _ = _exporter().from_notebook_node(node)
    blocks = [block.strip("\n") for block in body.split(SEP)]
    return "\n\n".join(block for block in blocks if block.strip()) + "\n"
