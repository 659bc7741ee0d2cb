"""What the dashboard's browser tests share: Debian's chromium driven by Playwright, a
page that records script errors and dialogs, screenshots kept as artifacts, and a few
HTTP helpers to start instances behind the page's back.

The browser is started once per test module; each test gets a fresh context (so a fresh
``sessionStorage``: no token carried over). Screenshots go to ``$WFKIT_TEST_ARTIFACTS``
(default ``artifacts/dashboard`` in the checkout).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import Served

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from browser_support import CHROMIUM, CHROMIUM_FLAGS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("WFKIT_TEST_ARTIFACTS") or ROOT / "artifacts") / "dashboard"
COMPLETED = "#80cfb9"  # wfkit.views.dot.STATUS_COLORS, as the notebook draws them
RUNNING = "#a6d8f5"
WAITING = "#f3cf80"
PENDING = "#eeeeee"
EXPECT_MS = 30_000


@dataclass
class Watched:
    """A browser page, and what went wrong in it: uncaught script errors and dialogs
    (an ``alert`` from injected script would show up here)."""

    page: Any
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def shot(self, name: str, *, full_page: bool = False) -> Path:
        """Save a screenshot as an artifact; returns its path."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=path, full_page=full_page)
        return path

    def pwned(self) -> Any:
        """What injected script would have set (``window.__pwned``), or None."""
        return self.page.evaluate("() => window.__pwned ?? null")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright (never ``playwright install``)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_MS)
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Watched]]:
    """Open pages at 1280x800 (or the size asked) in fresh contexts; after the test,
    assert that none of them had a script error or a dialog."""
    opened: list[tuple[Any, Watched]] = []

    def open_(width: int = 1280, height: int = 800) -> Watched:
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.set_default_timeout(EXPECT_MS)
        watched = Watched(page)
        page.on("pageerror", lambda error: watched.errors.append(str(error)))

        def dialog(d: Any) -> None:
            watched.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()

        page.on("dialog", dialog)
        opened.append((context, watched))
        return watched

    yield open_
    for context, watched in opened:
        context.close()
        assert watched.errors == [], watched.errors
        assert watched.dialogs == [], watched.dialogs


def start(
    served: Served, name: str, instance_id: str, data: str | None = None, **headers: str
) -> None:
    """Start an instance through Dapr's route, as any client would."""
    with served.client(headers=headers) as http:
        reply = http.post(
            f"/v1.0/workflows/wfkit/{name}/start",
            params={"instanceID": instance_id},
            content=data,
            headers={"content-type": "application/json"} if data else {},
        )
        assert reply.status_code == 202, reply.text


def instance(served: Served, instance_id: str, **headers: str) -> Any:
    """The instance as Dapr's get route answers (its JSON), or None when not found."""
    with served.client(headers=headers) as http:
        reply = http.get(f"/v1.0/workflows/wfkit/{instance_id}")
        return None if reply.status_code == 404 else reply.json()


def wait_for_status(served: Served, instance_id: str, *statuses: str, timeout: float = 60) -> str:
    """Poll Dapr's get route until the instance is in one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while True:
        found = instance(served, instance_id)
        status = found and found["runtimeStatus"]
        if status in statuses:
            return str(status)
        assert time.monotonic() < deadline, f"{instance_id} is {status}, not {statuses}"
        time.sleep(0.05)


def node_fill(step: str) -> str:
    """A selector of the first shape of a step's node in the instance page's graph."""
    return f'#graph g[id="step_{step}"] :is(path, polygon)'
