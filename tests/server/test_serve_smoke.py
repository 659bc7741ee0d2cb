"""The server answers as a Dapr sidecar does before any workflow call, and stops on SIGTERM."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.server.conftest import Served


def test_sidecar_side_endpoints(served: Served) -> None:
    with served.client() as http:
        metadata = http.get("/v1.0/metadata")
        assert metadata.status_code == 200
        assert metadata.json()["id"]  # the Dapr JavaScript SDK refuses an empty object
        assert http.get("/v1.0/healthz").status_code == 204
        assert http.get("/v1.0/healthz/outbound").status_code == 204
        missing = http.get("/v1.0/no-such-route")
        assert missing.status_code == 404
        assert set(missing.json()) == {"errorCode", "message"}
        long = http.get("/v1.0/" + "x" * 5000).json()["message"]
        assert len(long) < 200 and long.endswith("…")  # an echoed path is cut short
    assert served.stop() == 0
    assert "wfkit serve stopped" in served.log_text()


def test_the_command_line_does_not_import_the_server() -> None:
    """The CLI starts as fast as without the server: neither Starlette nor uvicorn (nor
    wfkit.server) is imported until ``wfkit serve`` runs."""
    code = (
        "import sys, wfkit.cli.main as m; m.build_parser(); "
        "print(sorted(n for n in sys.modules if n.split('.')[0] in "
        "('starlette', 'uvicorn', 'anyio') or n.startswith('wfkit.server')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_the_server_extra_the_command_names_it(tmp_path: Path) -> None:
    """``wfkit serve`` where Starlette is not installed: one line naming the extra, exit 2."""
    code = (
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('starlette', 'uvicorn'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        "from wfkit.cli.main import main\n"
        "sys.exit(main(['serve']))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr == (
        "wfkit serve: the server extra is not installed (starlette is missing): "
        "pip install 'wfkit[server]'\n"
    )
