"""The dashboard's defences, in a real browser: it asks for the server's token once and
sends it on every call (the event stream too), and data with HTML in it (a definition's
texts, an event's name and data, an output, an id in the page's address, a graph's SVG)
is shown as text: nothing of it runs."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect

from tests.server import dashboard_support
from tests.server.conftest import Served
from tests.server.dashboard_support import COMPLETED, Watched, node_fill, start

browser = dashboard_support.browser  # the fixtures, for this module's tests
open_page = dashboard_support.open_page

TOKEN = "s3cret-token"
EVENT = '"><img src=x onerror="window.__pwned=5">'
XSS = f"""\
wfkit: 1
name: xss
description: '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'
inputs:
  title: {{type: string, default: '<img src=x onerror="window.__pwned=3">'}}
steps:
  echo:
    call: server_steps:greet
    with: {{who: "${{{{ inputs.title }}}}"}}
    description: '"><svg onload="window.__pwned=4"><script>window.__pwned=4</script>'
  approve:
    wait: {{event: '{EVENT.replace("'", "''")}'}}
    needs: [echo]
output: ${{{{ steps.approve.output }}}}
"""
BROKEN = """\
wfkit: 1
name: broken
steps:
  a: {call: server_steps:greet, '<img src=x onerror="window.__pwned=6">': 1}
"""
# Any element with an event handler attribute, or an element that injected markup
# would have made, anywhere in the document.
INJECTED = """() => [...document.querySelectorAll("*")].filter((e) =>
  [...e.attributes].some((a) => a.name.startsWith("on")) ||
  ["IMG", "IFRAME", "OBJECT", "EMBED", "FOREIGNOBJECT"].includes(e.tagName.toUpperCase()) ||
  (e.tagName.toUpperCase() === "SCRIPT" && !e.src)).map((e) => e.outerHTML.slice(0, 80))"""


def _clean(watched: Watched) -> None:
    assert watched.page.evaluate(INJECTED) == []
    assert watched.pwned() is None


def test_asks_for_the_token_once_and_sends_it_everywhere(
    serve_process: Callable[..., Served], open_page: Callable[..., Watched]
) -> None:
    served = serve_process("--token", TOKEN)
    auth = {"dapr-api-token": TOKEN}
    start(served, "hello", "with-token", **auth)
    watched = open_page()
    page = watched.page
    page.goto(f"{served.url}/")
    dialog = page.locator("#token-dialog")
    expect(dialog).to_be_visible()
    watched.shot("token-prompt")
    page.fill("#token-input", "not-the-token")
    page.press("#token-input", "Enter")
    expect(page.locator("#token-reason")).to_contain_text("refused")
    expect(dialog).to_be_visible()
    page.fill("#token-input", TOKEN)
    page.press("#token-input", "Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator('tr[data-id="with-token"]')).to_have_count(1)

    start(served, "slow", "live-with-token", **auth)
    page.goto(f"{served.url}/#/instances/live-with-token")
    for step in ("one", "two", "three"):  # the stream sends the token too
        expect(page.locator(node_fill(step)).first).to_have_attribute("fill", COMPLETED)
    page.reload()  # kept for the tab: not asked again
    expect(page.locator("#facts .badge")).to_have_text("completed")
    expect(dialog).to_be_hidden()


def test_html_in_data_is_shown_as_text(
    tmp_path: Path, serve_process: Callable[..., Served], open_page: Callable[..., Watched]
) -> None:
    (tmp_path / "definitions" / "xss.yaml").write_text(XSS)
    (tmp_path / "definitions" / "broken.yaml").write_text(BROKEN)
    served = serve_process()
    watched = open_page()
    page = watched.page
    page.goto(f"{served.url}/#/definitions")
    expect(page.locator('article[data-name="xss"]')).to_contain_text("<script>window.__pwned = 1")
    expect(page.locator("ul.problems")).to_contain_text('<img src=x onerror="window.__pwned=6">')
    _clean(watched)

    page.click('a[href="#/definitions/xss"]')
    expect(page.locator("#definition-graph svg")).to_be_visible()
    expect(page.locator("#definition-yaml")).to_contain_text("window.__pwned=4")
    page.fill("#start-id", "xss-1")
    page.fill("#start-input", '{"title": "<script>window.__pwned=7</script>"}')
    page.click("#start-button")
    expect(page).to_have_url(re.compile(r"#/instances/xss-1$"))
    expect(page.locator("#awaited-hint")).to_contain_text(EVENT)
    expect(page.locator("#event-name")).to_have_value(EVENT)
    expect(page.locator('#steps tr.step[data-step="echo"] .preview')).to_contain_text(
        "hello, <script>window.__pwned=7</script>"
    )
    expect(page.locator("#graph svg")).to_contain_text(EVENT)  # the wait step's label
    page.fill("#event-data", '{"by": "<img src=x onerror=\\"window.__pwned=9\\">"}')
    page.click("#event-send")
    expect(page.locator("#facts .badge")).to_have_text("completed")
    page.click('#steps button.disclose:text("approve")')
    expect(page.locator("#steps pre.output")).to_contain_text(
        '<img src=x onerror=\\"window.__pwned=9\\">'
    )
    expect(page.locator("#history")).to_contain_text("window.__pwned=9")
    expect(page.locator("#graph svg")).to_be_visible()
    watched.shot("injection-shown-as-text", full_page=True)
    _clean(watched)

    page.goto(f"{served.url}/#/instances/{EVENT}")
    expect(page.locator("main")).to_contain_text(EVENT)
    page.goto(f"{served.url}/#/definitions/{EVENT}")
    expect(page.locator("main h1")).to_have_text("No such definition")
    _clean(watched)


MALICIOUS_SVG = """<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
  width="100pt" height="50pt" viewBox="0 0 100 50" onload="window.__pwned='onload'">
 <script>window.__pwned = 'script'</script>
 <style>text { fill: red }</style>
 <g id="step_a" class="node wfkit-step status-completed" onclick="window.__pwned='click'">
  <a xlink:href="javascript:window.__pwned='link'" xlink:title="tip &lt;b&gt;">
   <path fill="url(https://example.com/x)" stroke="black" d="M0 0L10 10"/>
   <polygon fill="#80cfb9" points="0,0 1,1 2,0"/>
   <text x="5" y="5" font-size="10">kept text</text>
  </a>
 </g>
 <foreignObject><div xmlns="http://www.w3.org/1999/xhtml"><img src="x" onerror="window.__pwned='fo'"/></div></foreignObject>
 <image href="https://example.com/i.png"/><use href="#step_a"/>
 <animate attributeName="href" to="javascript:window.__pwned='animate'"/>
 <set attributeName="onmouseover" to="window.__pwned='set'"/>
</svg>"""


def test_graph_svg_goes_in_through_an_allow_list(
    served: Served, open_page: Callable[..., Watched]
) -> None:
    """Whatever SVG the server sent, only drawing elements and attributes reach the page."""
    watched = open_page()
    page = watched.page
    page.goto(f"{served.url}/#/definitions")
    expect(page.locator("main h1")).to_have_text("Definitions")
    markup = page.evaluate(
        """async (text) => {
          const { safeSvg } = await import("/static/js/svg.js");
          const svg = safeSvg(text);
          document.querySelector("main").append(svg);
          svg.querySelector("g").dispatchEvent(new MouseEvent("click", { bubbles: true }));
          return new XMLSerializer().serializeToString(svg);
        }""",
        MALICIOUS_SVG,
    )
    for word in ["script", "style", "onload", "onclick", "foreignObject", "<img", "<image",
                 "<use", "animate", "<set", "href", "javascript", "url("]:  # fmt: skip
        assert word not in markup, word
    assert "kept text" in markup and "<title>tip &lt;b&gt;</title>" in markup
    assert 'fill="#80cfb9"' in markup and 'class="node wfkit-step status-completed"' in markup
    _clean(watched)
