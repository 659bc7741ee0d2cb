"""A status graph laid out once, whose step colours change in the SVG text.

Laying a graph out costs tens of milliseconds; changing which steps are green does not
need it: graphviz puts each node's ``id`` and ``class`` into the SVG, so a status change
rewrites those attributes and the node's fill, and nothing else.
"""

from __future__ import annotations

import html
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wfkit.views.dot import STATUS_COLORS, to_dot
from wfkit.views.render import render

if TYPE_CHECKING:
    from wfkit.graph.view import GraphView

__all__ = ["XML_PROLOGUE", "StatusSvg", "draw_status_svg"]

_UNKNOWN_COLOR = "#f7f7f7"

XML_PROLOGUE = re.compile(r"\A(?:\s*<\?xml[^>]*\?>|\s*<!DOCTYPE[^>]*>|\s*<!--.*?-->)*\s*", re.S)
_GROUP = re.compile(r"<g\b[^>]*>")
_ATTR = re.compile(r'\b(id|class)="([^"]*)"')
_CLASS = re.compile(r'\bclass="([^"]*)"')
_FILL = re.compile(r'\bfill="[^"]*"')
_CSS_UNSAFE = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class StatusSvg:
    """A drawn graph cut into text ``pieces`` around one ``class`` and one ``fill`` slot
    per step, so that :meth:`paint` recolours it without laying it out again.

    ``slots[i]`` is ``(step id, "class" or "fill", the classes other than status-*)``
    and sits between ``pieces[i]`` and ``pieces[i + 1]``; ``key`` tells layouts apart.
    """

    pieces: tuple[str, ...]
    slots: tuple[tuple[str, str, str], ...]
    key: Hashable = None

    @staticmethod
    def parse(svg: str, key: Hashable = None) -> StatusSvg:
        """Find the step groups (``id="step_<id>" class="... wfkit-step ..."``) in ``svg``."""
        pieces: list[str] = []
        slots: list[tuple[str, str, str]] = []
        cursor = 0
        for group in _GROUP.finditer(svg):
            attrs = {k: html.unescape(v) for k, v in _ATTR.findall(group[0])}
            classes = attrs.get("class", "").split()
            if "wfkit-step" not in classes or not attrs.get("id", "").startswith("step_"):
                continue
            value = _CLASS.search(group[0])
            fill = _FILL.search(svg, group.end())
            if value is None or fill is None:
                continue
            base = " ".join(c for c in classes if not c.startswith("status-"))
            start, end = group.start() + value.start(1), group.start() + value.end(1)
            pieces += [svg[cursor:start], svg[end : fill.start()]]
            slots += [(attrs["id"][len("step_") :], "class", base), (attrs["id"][5:], "fill", "")]
            cursor = fill.end()
        pieces.append(svg[cursor:])
        return StatusSvg(tuple(pieces), tuple(slots), key)

    @property
    def step_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(step_id for step_id, _, _ in self.slots))

    def paint(self, statuses: Mapping[str, str], *, inline: bool = False) -> str:
        """The SVG with each step's class and fill set from ``statuses`` (default pending);
        ``inline`` drops the XML prologue, for embedding in HTML."""
        first = self.pieces[0]
        out = [XML_PROLOGUE.sub("", first, count=1) if inline else first]
        for (step_id, what, base), piece in zip(self.slots, self.pieces[1:], strict=True):
            status = str(statuses.get(step_id, "pending")).lower()
            if what == "class":
                out.append(f"{base} status-{_CSS_UNSAFE.sub('_', status)}".strip())
            else:
                out.append(f'fill="{STATUS_COLORS.get(status, "#f7f7f7")}"')
            out.append(piece)
        return "".join(out)


def draw_status_svg(graph: GraphView, key: Hashable = None) -> StatusSvg:
    """Lay ``graph`` out (runs the renderer) and cut it for :meth:`StatusSvg.paint`."""
    return StatusSvg.parse(render(to_dot(graph), "svg").decode("utf-8"), key)
