"""The instance list in a real browser: 120 instances, paged, filtered by status and
workflow name, refreshed by itself; and the page on a narrow window."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from playwright.sync_api import expect

from tests.server import dashboard_support
from tests.server.conftest import Served
from tests.server.dashboard_support import (
    Watched,
    start,
)

browser = dashboard_support.browser  # the fixtures, for this module's tests
open_page = dashboard_support.open_page

ROWS = "table.instances tbody tr[data-id]"
# what sticks out of the window (tables scroll inside their own box, so not theirs)
WIDER = """() => document.documentElement.scrollWidth <= window.innerWidth ? [] :
  [...document.querySelectorAll("body *")]
    .filter((e) => !e.closest(".table-wrap") && e.getBoundingClientRect().right > window.innerWidth)
    .map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)"""


def _completed_count(served: Served) -> int:
    with served.client() as http:
        reply = http.get("/v1.0/wfkit/instances", params={"status": "COMPLETED", "limit": 500})
        return len(reply.json()["instances"])


def _ids(watched: Watched) -> list[str]:
    return [
        str(i)
        for i in watched.page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.dataset.id)")
    ]


def test_filters_and_paging_over_120_instances(
    served: Served, open_page: Callable[..., Watched]
) -> None:
    for number in range(80):
        start(served, "hello", f"h-{number:03}")
    for number in range(40):
        start(served, "approval", f"a-{number:03}")  # they wait: RUNNING
    deadline = time.monotonic() + 120
    while _completed_count(served) < 80:
        assert time.monotonic() < deadline, "the hello instances did not complete"
        time.sleep(0.1)

    watched = open_page()
    page = watched.page
    page.goto(f"{served.url}/#/")
    expect(page.locator(ROWS)).to_have_count(50)
    expect(page.locator("#page-number")).to_have_text("page 1 · 1–50")
    expect(page.locator("#page-newer")).to_be_disabled()
    watched.shot("instance-list")
    seen = _ids(watched)
    page.click("#page-older")
    expect(page.locator("#page-number")).to_have_text("page 2 · 51–100")
    seen += _ids(watched)
    page.click("#page-older")
    expect(page.locator("#page-number")).to_have_text("page 3 · 101–120")
    expect(page.locator(ROWS)).to_have_count(20)
    expect(page.locator("#page-older")).to_be_disabled()
    seen += _ids(watched)
    assert len(set(seen)) == 120
    page.click("#page-newer")
    expect(page.locator("#page-number")).to_have_text("page 2 · 51–100")

    page.check('input[name="status"][value="COMPLETED"]')
    expect(page).to_have_url(re.compile(r"#/\?status=COMPLETED$"))
    expect(page.locator(ROWS)).to_have_count(50)
    expect(page.locator(f"{ROWS} .badge")).to_have_text(["completed"] * 50)
    page.click("#page-older")
    expect(page.locator(ROWS)).to_have_count(30)

    page.fill("#name-filter", "approval")
    page.press("#name-filter", "Enter")
    expect(page.locator("td.empty")).to_have_text("No instances match.")
    page.uncheck('input[name="status"][value="COMPLETED"]')
    page.check('input[name="status"][value="RUNNING"]')
    expect(page.locator(ROWS)).to_have_count(40)
    assert all(i.startswith("a-") for i in _ids(watched))

    # two changes before the page is drawn again (a quick hand, or a loaded machine): the
    # second must not bring back the filters the first cleared
    page.evaluate(
        """() => {
            document.querySelector("form.filters button.link").click();
            const size = document.querySelector("#page-size");
            size.value = "200";
            size.dispatchEvent(new Event("change"));
        }"""
    )
    expect(page).to_have_url(re.compile(r"#/\?limit=200$"))
    expect(page.locator(ROWS)).to_have_count(120)
    start(served, "hello", "late-one")  # auto-refresh shows it without a reload
    expect(page.locator(f'{ROWS}[data-id="late-one"]')).to_have_count(1)
    expect(page.locator(ROWS)).to_have_count(121)


def test_narrow_window(served: Served, open_page: Callable[..., Watched]) -> None:
    start(served, "approval", "narrow")
    watched = open_page(390, 800)
    page = watched.page
    for where in ["#/", "#/instances/narrow", "#/definitions", "#/definitions/approval"]:
        page.goto(f"{served.url}/{where}")
        expect(page.locator("main h1")).to_be_visible()
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate(WIDER)
        assert overflow == [], f"{where} is wider than the window: {overflow}"
    expect(page.locator("#event-name")).to_have_count(0)  # left the instance page
    page.goto(f"{served.url}/#/instances/narrow")
    expect(page.locator("#graph svg")).to_be_visible()
    expect(page.locator("#event-name")).to_have_value("approved")
    watched.shot("narrow-instance", full_page=True)
