"""The dashboard's page and files as the server serves them (no browser): without the
token, under a strict Content Security Policy, in the notebook's colours, and written so
that data never goes into the page as HTML."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.server.conftest import Served
from wfkit.server.dashboard import CONTENT_SECURITY_POLICY, STATIC
from wfkit.views.dot import STATUS_COLORS

SCRIPTS = sorted((STATIC / "js").glob("*.js"))


def test_page_and_files_need_no_token_but_the_data_does(
    serve_process: Callable[..., Served],
) -> None:
    served = serve_process("--token", "s3cret")
    with served.client() as http:
        page = http.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/static/js/app.js">' in page.text
        for path in ["/static/dashboard.css", "/static/status.css", "/favicon.ico"]:
            assert http.get(path).status_code == 200, path
        for script in SCRIPTS:
            reply = http.get(f"/static/js/{script.name}")
            assert reply.status_code == 200
            assert "javascript" in reply.headers["content-type"]
        assert http.get("/v1.0/workflows/wfkit/anything").status_code == 401
        missing = http.get("/static/js/no-such.js")
        assert missing.status_code == 404
        assert set(missing.json()) == {"errorCode", "message"}


def test_every_dashboard_reply_forbids_inline_and_foreign_script(served: Served) -> None:
    with served.client() as http:
        for path in ["/", "/static/js/app.js", "/static/status.css", "/favicon.ico"]:
            headers = http.get(path).headers
            assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
            assert headers["x-content-type-options"] == "nosniff"
    policy = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no other origin
    assert policy["default-src"] == "'none'"


def test_status_colours_are_the_notebooks(served: Served) -> None:
    with served.client() as http:
        css = http.get("/static/status.css").text
    for status, color in STATUS_COLORS.items():
        assert f".status-{status} {{ background: {color}; }}" in css
    assert f".rs-COMPLETED {{ background: {STATUS_COLORS['completed']}; }}" in css
    assert f".rs-SUSPENDED {{ background: {STATUS_COLORS['paused']}; }}" in css


def test_scripts_never_write_html() -> None:
    """Values reach the page as text only: no script writes markup, evaluates code, or
    loads anything from another origin."""
    assert len(SCRIPTS) >= 5
    forbidden = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function"
        r"|createContextualFragment|https?://(?!www\.w3\.org/)"
    )
    for script in SCRIPTS:
        found = forbidden.findall(script.read_text())
        assert found == [], f"{script.name}: {found}"
    html = (STATIC / "index.html").read_text()
    assert "<script>" not in html
    assert re.search(r"\son[a-z]+\s*=", html) is None  # no inline event handler


def test_the_page_ships_in_the_package() -> None:
    """The static files live inside the ``wfkit`` package, which the wheel takes whole."""
    package = Path(__file__).resolve().parents[2] / "wfkit"
    assert STATIC.is_relative_to(package)
    names = {path.name for path in STATIC.rglob("*")}
    assert {"index.html", "dashboard.css", "favicon.svg", "app.js", "api.js", "svg.js"} <= names
