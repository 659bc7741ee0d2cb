"""The live instance widget in a real JupyterLab, driven by a real browser, offline.

The test starts JupyterLab on a free loopback port in a temporary folder that holds a
notebook written here. The notebook opens a runtime on a definitions folder and a SQLite
file of its own (both inside that folder), writes a three-step definition (a shell step
that sleeps 1.5 s, a ``wait: {event: go}`` step, a final step), starts an
instance and displays ``inst.widget()``. Playwright (sync API) drives Debian's
``/usr/bin/chromium`` (no ``playwright install``): it runs all cells, then

* sees the first step's SVG node go from pending/running to ``status-completed`` live,
* clicks Pause and sees SUSPENDED in the summary, clicks Resume,
* picks the event ``go``, types ``{"ok": true}``, clicks Send,
* sees the last step completed and the summary say COMPLETED.

Screenshots go to ``artifacts/browser/lab-*.png``. Lab and its kernel are always stopped
by the fixture. Without ``jupyterlab``, ``playwright`` or ``/usr/bin/chromium`` the test
fails with an install hint; it never skips.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_support import CHROMIUM, CHROMIUM_FLAGS, INSTALL_CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
INSTALL_HINT = "pip install -e '.[dev]' (or: pip install jupyterlab playwright)"
NOTEBOOK = "lab-demo.ipynb"

DEFINITION = """\
wfkit: 1
name: lab-demo
steps:
  nap:
    shell: [python, -c, "import time; time.sleep(1.5)"]
  approve:
    needs: [nap]
    wait: {event: go}
  finish:
    needs: [approve]
    shell: [python, -c, "print('finished')"]
"""

CELLS = [
    f"""\
from pathlib import Path

import wfkit

Path("defs").mkdir(exist_ok=True)
Path("defs/lab-demo.yaml").write_text({DEFINITION!r})
rt = wfkit.open("defs", store="sqlite:///wfkit-lab.db", workers=2)""",
    """\
inst = rt.start("lab-demo", instance_id="lab-1")
panel = inst.widget(interval=0.1)
panel""",
]


def _require(module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.fail(f"{package} is not installed: {INSTALL_HINT}", pytrace=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_notebook(path: Path) -> None:
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"cell-{i}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for i, source in enumerate(CELLS)
    ]
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))


def _pids_mentioning(text: str) -> list[int]:
    """Processes whose command line mentions ``text`` (our kernels: their connection file
    lives in our own JUPYTER_RUNTIME_DIR)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


@dataclass
class Lab:
    url: str
    token: str
    folder: Path
    log: Path
    process: subprocess.Popen[bytes]

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


@pytest.fixture
def lab() -> Iterator[Lab]:
    _require("jupyterlab", "jupyterlab")
    _require("playwright", "playwright")
    folder = Path(tempfile.mkdtemp(prefix="wfkit-lab-"))
    runtime_dir = folder / ".jupyter-runtime"
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(folder / ".jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(runtime_dir),
        "JUPYTERLAB_SETTINGS_DIR": str(folder / ".jupyter-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(folder / ".jupyter-workspaces"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("JUPYTER_TOKEN", None)
    notebook_dir = folder / "work"
    notebook_dir.mkdir()
    _write_notebook(notebook_dir / NOTEBOOK)
    port, token = _free_port(), secrets.token_hex(16)
    log = folder / "lab.log"
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={notebook_dir}",
        f"--IdentityProvider.token={token}",
        "--LabApp.expose_app_in_browser=True",
        "--ServerApp.terminals_enabled=False",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=notebook_dir, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    instance = Lab(f"http://127.0.0.1:{port}", token, notebook_dir, log, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited ({process.returncode}):\n{instance.log_tail()}")
            try:
                instance.api("GET", "/api/status")
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer in 30 s:\n{instance.log_tail()}")
                time.sleep(0.1)
        yield instance
    finally:
        _stop_lab(instance, runtime_dir)
        shutil.rmtree(folder, ignore_errors=True)


def _stop_lab(lab: Lab, runtime_dir: Path) -> None:
    """Shut the kernels and the server down politely, then by force; always."""
    try:
        for kernel in lab.api("GET", "/api/kernels") or []:
            lab.api("DELETE", f"/api/kernels/{kernel['id']}")
    except Exception:  # the server may already be gone
        pass
    with contextlib.suppress(Exception):
        lab.api("POST", "/api/shutdown")
    try:
        lab.process.wait(10)
    except subprocess.TimeoutExpired:
        lab.process.terminate()
        try:
            lab.process.wait(5)
        except subprocess.TimeoutExpired:
            lab.process.kill()
            lab.process.wait(5)
    for pid in _pids_mentioning(str(runtime_dir)):  # a kernel the server left behind
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


# -- the browser -------------------------------------------------------------------------

KERNEL_READY = """() => {
    const app = window.jupyterapp;
    const panel = app && app.shell && app.shell.currentWidget;
    const session = panel && panel.sessionContext && panel.sessionContext.session;
    const kernel = session && session.kernel;
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""
RUN_ALL = "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"


def _node(step: str, status: str = "") -> str:
    return f".wfkit-graph g#step_{step}" + (f".status-{status}" if status else "")


def test_widget_live_in_jupyterlab(lab: Lab) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: {INSTALL_CHROMIUM}")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("lab-*.png"):
        old.unlink()
    timings: dict[str, float] = {}
    started = time.monotonic()

    def mark(name: str) -> None:
        timings[name] = round(time.monotonic() - started, 2)

    with sync_playwright() as pw:
        # Playwright gives the browser a new temporary profile (--user-data-dir) itself.
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            page.set_default_timeout(20_000)
            page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?reset&token={lab.token}")
            page.wait_for_function(KERNEL_READY, timeout=40_000, polling=100)
            mark("kernel idle")
            page.screenshot(path=ARTIFACTS / "lab-0-open.png")

            page.evaluate(RUN_ALL)
            panel = page.locator(".jp-OutputArea-output .widget-vbox").filter(
                has=page.locator(".wfkit-summary")
            )
            summary = panel.locator(".wfkit-summary")
            # Live: the first step is seen before it finished, then finished.
            expect(
                panel.locator(f"{_node('nap', 'pending')}, {_node('nap', 'running')}")
            ).to_have_count(1, timeout=20_000)
            mark("nap seen pending/running")
            panel.scroll_into_view_if_needed()
            panel.screenshot(path=ARTIFACTS / "lab-1-running.png")
            expect(panel.locator(_node("nap", "completed"))).to_have_count(1, timeout=10_000)
            mark("nap completed")
            expect(panel.locator(_node("approve", "waiting"))).to_have_count(1, timeout=10_000)
            expect(panel.locator(_node("finish", "pending"))).to_have_count(1)
            panel.screenshot(path=ARTIFACTS / "lab-2-waiting.png")

            panel.get_by_role("button", name="Pause").click()
            expect(summary).to_contain_text("SUSPENDED", timeout=10_000)
            mark("suspended")
            panel.screenshot(path=ARTIFACTS / "lab-3-suspended.png")
            resume = panel.get_by_role("button", name="Resume")
            expect(resume).to_be_enabled(timeout=5_000)
            resume.click()
            expect(summary).to_contain_text("RUNNING", timeout=10_000)
            mark("resumed")

            event = panel.locator(".widget-dropdown select").filter(
                has=page.locator("option", has_text="go")
            )
            event.select_option(label="go (waiting)")
            panel.locator(".widget-textarea textarea").fill('{"ok": true}')
            panel.get_by_role("button", name="Send").click()
            expect(panel.locator(_node("finish", "completed"))).to_have_count(1, timeout=15_000)
            expect(summary).to_contain_text("COMPLETED", timeout=10_000)
            expect(panel.locator(_node("approve", "completed"))).to_have_count(1)
            mark("completed")
            panel.screenshot(path=ARTIFACTS / "lab-4-completed.png")
            page.screenshot(path=ARTIFACTS / "lab-5-page.png")
        finally:
            browser.close()
    print("timings (s since the page opened):", timings)
