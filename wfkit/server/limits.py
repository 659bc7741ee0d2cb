"""The limits of wfkit's own routes (docs/concepts/limits.md, section "HTTP server"):
page sizes, streams open at once. Fixed: each bounds one request's work, far above what
a page or a dashboard asks for."""

from __future__ import annotations

__all__ = [
    "HISTORY_PAGE",
    "INSTANCES_PAGE_SIZE",
    "MAX_HISTORY_PAGE",
    "MAX_INSTANCES_PAGE",
    "MAX_STREAMS",
    "PING_SECONDS",
]

INSTANCES_PAGE_SIZE = 50
"""Instances in a page of ``GET /v1.0/wfkit/instances`` when ``limit`` is not given."""

MAX_INSTANCES_PAGE = 500
"""The largest ``limit`` of ``GET /v1.0/wfkit/instances`` (more: 400)."""

HISTORY_PAGE = 500
"""Events in a page of ``GET .../instances/{id}/history`` when ``limit`` is not given."""

MAX_HISTORY_PAGE = 5000
"""The largest ``limit`` of ``GET .../instances/{id}/history`` (more: 400)."""

MAX_STREAMS = 1000
"""Event streams open at once on one server; one more is refused with 503."""

PING_SECONDS = 15.0
"""Seconds between two ``: ping`` comments of an idle stream (proxies close silent
connections)."""
