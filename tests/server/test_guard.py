"""The guard in front of every route, against a real ``wfkit serve``: the API token (as
Dapr's sidecar asks for it: the ``dapr-api-token`` header, or a bearer token) and the
request body limit (413 for a declared length over it and for a chunked body passing
it)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import Served, free_port
from tests.server.dapr_calls import WORKFLOWS

TOKEN = "s3cret-tøken"


def _unauthorized(reply: httpx.Response) -> None:
    assert reply.status_code == 401, reply.text
    assert reply.json()["errorCode"] == "ERR_UNAUTHORIZED"
    assert "dapr-api-token" in reply.json()["message"]
    assert reply.headers["www-authenticate"].startswith("Bearer")


@pytest.fixture
def guarded(serve_process: Callable[..., Served]) -> Served:
    return serve_process("--token", TOKEN)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"dapr-api-token": "wrong"},
        {"dapr-api-token": TOKEN[:-1]},
        {"authorization": "Bearer wrong"},
        {"authorization": f"Basic {TOKEN}"},
        {"authorization": TOKEN},
    ],
)
def test_without_the_token_every_api_route_is_refused(
    guarded: Served, headers: dict[str, str]
) -> None:
    encoded = {k: v.encode("utf-8") for k, v in headers.items()}
    with guarded.client(headers=encoded) as http:
        _unauthorized(http.get("/v1.0/metadata"))
        _unauthorized(http.post(f"{WORKFLOWS}/hello/start?instanceID=t1"))
        _unauthorized(http.get(f"{WORKFLOWS}/t1"))
        _unauthorized(http.get("/v1.0/no-such-route"))  # no route is told apart
        _unauthorized(http.post("/v1.0/healthz"))  # Dapr exempts GET only
    with guarded.client(headers={"dapr-api-token": TOKEN.encode()}) as http:
        assert http.get(f"{WORKFLOWS}/t1").status_code == 404  # nothing was started


@pytest.mark.parametrize(
    "headers",
    [
        {"dapr-api-token": TOKEN},
        {"authorization": f"Bearer {TOKEN}"},
        {"authorization": f"bearer  {TOKEN}"},
    ],
)
def test_with_the_token_the_routes_answer(guarded: Served, headers: dict[str, str]) -> None:
    encoded = {k: v.encode("utf-8") for k, v in headers.items()}
    with guarded.client(headers=encoded) as http:
        assert http.get("/v1.0/metadata").status_code == 200
        started = http.post(f"{WORKFLOWS}/hello/start")
        assert started.status_code == 202
        assert http.get(f"{WORKFLOWS}/{started.json()['instanceID']}").status_code == 200


def test_health_checks_need_no_token(guarded: Served) -> None:
    with guarded.client() as http:
        assert http.get("/v1.0/healthz").status_code == 204
        assert http.get("/v1.0/healthz/outbound").status_code == 204


def test_the_token_can_come_from_the_environment(serve_process: Callable[..., Served]) -> None:
    served = serve_process(env={"WFKIT_API_TOKEN": "from-env"})
    with served.client() as http:
        _unauthorized(http.get("/v1.0/metadata"))
        assert http.get("/v1.0/metadata", headers={"dapr-api-token": "from-env"}).status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_a_non_loopback_host_without_a_token_is_refused(tmp_path: Path, host: str) -> None:
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "wfkit", "serve", "--host", host, "--port", str(port)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=_without_token(),
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"--host {host} lets other machines reach the server, so it needs a token" in lines[0]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass  # nothing listens
    assert not (tmp_path / ".wfkit").exists()  # no store was made


def _without_token() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "WFKIT_API_TOKEN"}


# -- the body limit -----------------------------------------------------------------------

LIMIT = 1000


@pytest.fixture
def limited(serve_process: Callable[..., Served]) -> Served:
    return serve_process("--max-body-bytes", str(LIMIT))


def _json_of_size(size: int) -> bytes:
    body = b'{"who": "' + b"a" * (size - 11) + b'"}'
    assert len(body) == size
    return body


def _chunks(body: bytes, size: int = 100) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_body_at_the_limit_is_taken(limited: Served) -> None:
    with limited.client() as http:
        started = http.post(f"{WORKFLOWS}/hello/start?instanceID=at", content=_json_of_size(LIMIT))
        assert started.status_code == 202, started.text
        chunked = http.post(
            f"{WORKFLOWS}/hello/start?instanceID=at2", content=_chunks(_json_of_size(LIMIT))
        )
        assert chunked.status_code == 202, chunked.text


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_limit_is_refused(limited: Served, chunked: bool) -> None:
    body = _json_of_size(LIMIT + 500)
    with limited.client() as http:
        start = f"{WORKFLOWS}/hello/start?instanceID=big"
        reply = http.post(start, content=_chunks(body) if chunked else body)
        assert reply.request.headers.get("transfer-encoding") == ("chunked" if chunked else None)
        assert reply.status_code == 413
        assert reply.json()["errorCode"] == "ERR_BODY_TOO_LARGE"
        assert f"limit of {LIMIT:,} bytes" in reply.json()["message"]
        assert "--max-body-bytes" in reply.json()["message"]
        assert http.get(f"{WORKFLOWS}/big").status_code == 404  # nothing was started
        # the server goes on serving
        assert http.post(f"{WORKFLOWS}/hello/start?instanceID=after").status_code == 202
