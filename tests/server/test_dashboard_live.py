"""The dashboard in a real browser against a real ``wfkit serve``: start an instance from
the page and watch its graph turn green live, pause and resume one, answer a wait
through the form, terminate and purge."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.server import dashboard_support
from tests.server.conftest import Served
from tests.server.dashboard_support import (
    COMPLETED,
    PENDING,
    RUNNING,
    WAITING,
    Watched,
    instance,
    node_fill,
    start,
    wait_for_status,
)

browser = dashboard_support.browser  # the fixtures, for this module's tests
open_page = dashboard_support.open_page


def test_start_from_the_page_and_watch_the_graph_turn_green(
    served: Served, open_page: Callable[..., Watched]
) -> None:
    watched = open_page()
    page = watched.page
    page.goto(f"{served.url}/#/definitions")
    page.get_by_role("link", name="slow").click()
    expect(page.locator("#definition-graph svg")).to_be_visible()
    expect(page.locator("#definition-yaml")).to_contain_text("name: slow")
    page.fill("#start-id", "from-the-page")
    page.fill("#start-input", '{"seconds": 0.6}')
    watched.shot("definition-slow")
    page.click("#start-button")

    expect(page).to_have_url(re.compile(r"#/instances/from-the-page$"))
    # live: the first step is seen running, then every step turns green
    expect(page.locator(node_fill("one")).first).to_have_attribute("fill", RUNNING)
    expect(page.locator("#graph svg")).to_be_visible()
    watched.shot("instance-running")
    for step in ("one", "two", "three"):
        expect(page.locator(node_fill(step)).first).to_have_attribute("fill", COMPLETED)
    expect(page.locator("#facts .badge")).to_have_text("completed")
    expect(page.locator("#steps tr.step")).to_have_count(3)
    expect(page.locator("#history .ev-ExecutionCompleted")).to_have_count(1)
    expect(page.locator("#action-purge")).to_be_enabled()
    expect(page.locator("#action-pause")).to_be_disabled()
    expect(page.locator("#graph svg")).to_be_visible()
    watched.shot("instance-completed", full_page=True)


def test_a_start_refused_by_the_server_shows_its_message(
    served: Served, open_page: Callable[..., Watched]
) -> None:
    page = open_page().page
    page.goto(f"{served.url}/#/definitions/hello")
    page.fill("#start-id", "not an id!")
    page.click("#start-button")
    expect(page.locator("#start-message .error")).to_contain_text("not an id!")
    page.fill("#start-id", "")
    page.fill("#start-input", "{not json")
    page.click("#start-button")
    expect(page.locator("#start-message .error")).to_contain_text("not valid JSON")
    expect(page).to_have_url(re.compile(r"#/definitions/hello$"))


def test_pause_and_resume(served: Served, open_page: Callable[..., Watched]) -> None:
    start(served, "slow", "to-pause", '{"seconds": 2}')
    watched = open_page()
    page = watched.page
    page.goto(f"{served.url}/#/instances/to-pause")
    expect(page.locator("#facts .badge")).to_have_text("running")
    page.click("#action-pause")
    expect(page.locator("#facts .badge")).to_have_text("suspended")
    expect(page.locator("#action-resume")).to_be_enabled()
    expect(page.locator("#action-pause")).to_be_disabled()
    assert wait_for_status(served, "to-pause", "SUSPENDED") == "SUSPENDED"
    # paused between steps: the step running when it paused finishes, no other starts
    with served.client() as http:
        steps = http.get("/v1.0/wfkit/instances/to-pause").json()["steps"]
    waiting = [step for step, info in steps.items() if info["status"] == "pending"]
    assert waiting, steps
    expect(page.locator(node_fill(waiting[-1])).first).to_have_attribute("fill", PENDING)
    expect(page.locator("#graph svg")).to_be_visible()
    watched.shot("instance-suspended")
    page.click("#action-resume")
    expect(page.locator("#facts .badge")).to_have_text("completed")
    for step in ("one", "two", "three"):
        expect(page.locator(node_fill(step)).first).to_have_attribute("fill", COMPLETED)
    events = page.locator("#history .type").all_inner_texts()
    assert "ExecutionSuspended" in events and "ExecutionResumed" in events


def test_answer_a_wait_through_the_form(served: Served, open_page: Callable[..., Watched]) -> None:
    start(served, "approval", "to-approve")
    watched = open_page()
    page = watched.page
    page.goto(f"{served.url}/#/instances/to-approve")
    expect(page.locator("#awaited-hint")).to_contain_text("approve waits for “approved”")
    expect(page.locator("#event-name")).to_have_value("approved")
    page.fill("#event-data", '{"by": ana}')
    page.click("#event-send")
    expect(page.locator("#event-message .error")).to_contain_text("not valid JSON")
    assert instance(served, "to-approve")["runtimeStatus"] == "RUNNING"  # nothing sent
    page.fill("#event-data", '{"by": "ana"}')
    expect(page.locator(node_fill("approve")).first).to_have_attribute("fill", WAITING)
    expect(page.locator("#graph svg")).to_be_visible()
    watched.shot("instance-waiting", full_page=True)
    page.click("#event-send")
    expect(page.locator("#facts .badge")).to_have_text("completed")
    expect(page.locator('#steps tr.step[data-step="publish"] .preview')).to_have_text(
        '"hello, ana"'
    )
    expect(page.locator("#raise-event")).to_have_count(0)  # nothing to send to a finished run


def test_terminate_then_purge(served: Served, open_page: Callable[..., Watched]) -> None:
    start(served, "approval", "to-end")
    page = open_page().page
    page.goto(f"{served.url}/#/instances/to-end")
    expect(page.locator("#awaited-hint")).to_contain_text("approved")
    expect(page.locator("#action-purge")).to_be_disabled()
    expect(page.locator("#action-retry")).to_be_disabled()
    page.click("#action-terminate")
    page.click("#confirm-terminate")
    expect(page.locator("#facts .badge")).to_have_text("terminated")
    expect(page.locator("#action-terminate")).to_be_disabled()
    page.click("#action-purge")
    page.click("#confirm-purge")
    expect(page.locator("#purged")).to_contain_text("to-end")
    assert instance(served, "to-end") is None
    page.goto(f"{served.url}/#/instances/other")
    page.goto(f"{served.url}/#/instances/to-end")
    expect(page.locator("main h1")).to_have_text("No such instance")


FLAKY = """\
wfkit: 1
name: flaky
description: Fails until a file named ok exists in the server's folder.
steps:
  check:
    shell: [python, -c, "import os, sys; print('looking for ok'); sys.exit(0 if os.path.exists('ok') else print('no ok file <b>yet</b>', file=sys.stderr) or 3)"]
"""


def test_a_failure_shown_then_retried(
    tmp_path: Path, serve_process: Callable[..., Served], open_page: Callable[..., Watched]
) -> None:
    (tmp_path / "definitions" / "flaky.yaml").write_text(FLAKY)
    served = serve_process()
    start(served, "flaky", "to-retry")
    watched = open_page()
    page = watched.page
    page.goto(f"{served.url}/#/instances/to-retry")
    expect(page.locator("#facts .badge")).to_have_text("failed")
    expect(page.locator("#action-retry")).to_be_enabled()
    expect(page.locator("#action-resume")).to_be_disabled()
    # a failed step opens by itself: its error and the tail of what it printed
    details = page.locator('#steps tr.step-details[data-step="check"]')
    expect(details.locator("pre.stderr")).to_have_text("no ok file <b>yet</b>")
    expect(details.locator("pre.stdout")).to_have_text("looking for ok")
    expect(page.locator("#failure")).to_be_visible()
    expect(page.locator("#graph svg")).to_be_visible()
    watched.shot("instance-failed", full_page=True)
    (tmp_path / "ok").write_text("")
    page.click("#action-retry")
    expect(page.locator("#facts .badge")).to_have_text("completed")
    expect(page.locator(node_fill("check")).first).to_have_attribute("fill", COMPLETED)
    expect(page.locator("#history .ev-ExecutionRewound")).to_have_count(1)
    expect(page.locator("#failure")).to_have_count(0)


def test_the_page_reconnects_when_its_stream_breaks(
    served: Served, open_page: Callable[..., Watched]
) -> None:
    start(served, "approval", "to-reconnect")
    page = open_page().page
    page.route("**/stream", lambda route: route.abort())  # the connection breaks
    page.goto(f"{served.url}/#/instances/to-reconnect")
    expect(page.locator("#connection")).to_have_text("reconnecting…")
    expect(page.locator("#facts .badge")).to_have_text("running")
    page.unroute("**/stream")
    expect(page.locator("#connection")).to_have_text("live")
    with served.client() as http:
        sent = http.post(
            "/v1.0/workflows/wfkit/to-reconnect/raiseEvent/approved", json={"by": "bo"}
        )
        assert sent.status_code == 202
    expect(page.locator("#facts .badge")).to_have_text("completed")
    expect(page.locator("#connection")).to_have_text("")


WIDE = """\
wfkit: 1
name: wide
inputs:
  items: {type: array}
steps:
  each:
    call: server_steps:greet
    foreach: ${{ inputs.items }}
    with: {who: "${{ string(item) }}"}
"""


def test_a_long_history_is_cut_at_5000_events(
    tmp_path: Path, serve_process: Callable[..., Served], open_page: Callable[..., Watched]
) -> None:
    (tmp_path / "definitions" / "wide.yaml").write_text(WIDE)
    served = serve_process()
    start(served, "wide", "wide-1", json.dumps({"items": list(range(2600))}))  # 5,200+ events
    assert wait_for_status(served, "wide-1", "COMPLETED", "FAILED") == "COMPLETED"
    page = open_page().page
    page.goto(f"{served.url}/#/instances/wide-1")
    expect(page.locator("#history-cut")).to_contain_text("wfkit history wide-1")
    assert page.locator("#history li.event").count() == 5000
    expect(page.locator("#facts .badge")).to_have_text("completed")


def test_a_refused_action_shows_the_servers_message(
    served: Served, open_page: Callable[..., Watched]
) -> None:
    start(served, "approval", "ended-elsewhere")
    page = open_page().page
    reads: list[str] = []

    def first_read_only(route: Any) -> None:
        """The page reads the instance once and never hears of it again."""
        reads.append(route.request.url)
        if route.request.url.endswith("/stream") or len(reads) > 1:
            route.abort()
        else:
            route.continue_()

    page.route(re.compile(r".*/v1\.0/wfkit/instances/ended-elsewhere(/stream)?$"), first_read_only)
    page.goto(f"{served.url}/#/instances/ended-elsewhere")
    expect(page.locator("#action-pause")).to_be_enabled()
    expect(page.locator("#connection")).to_have_text("reconnecting…")
    # someone else terminates it; the page, not knowing, offers to pause it
    with served.client() as http:
        assert http.post("/v1.0/workflows/wfkit/ended-elsewhere/terminate").status_code == 202
        refused = http.post("/v1.0/workflows/wfkit/ended-elsewhere/pause")
    assert refused.status_code >= 400
    page.click("#action-pause")  # still enabled: the page thinks it runs
    expect(page.locator("#action-message .error")).to_have_text(
        f"pause failed: {refused.json()['message']}"
    )
