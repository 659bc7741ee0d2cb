"""The OpenAPI document describes every route of the server's route table, and nothing
else; it is served at its stable URL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from starlette.routing import Mount, Route

import wfkit
from tests.server.conftest import DEFINITIONS, Served
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings
from wfkit.server.app import create_app
from wfkit.server.context import ServerContext
from wfkit.server.openapi import document, operations

_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings.from_environment(
        definitions=str(DEFINITIONS), store=f"sqlite:///{tmp_path / 'w.db'}", workers="0"
    )
    opened = Runtime(settings, run_engine=False)
    yield opened
    opened.close()


def _shape(path: str) -> str:
    """A path with its parameters' names and converters taken out."""
    return _PARAM.sub("{}", path)


def test_every_route_is_documented_and_nothing_else(runtime: Runtime) -> None:
    app = create_app(ServerContext(runtime=runtime))
    served: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Mount):  # static files of the dashboard: not an API
            assert route.path == "/static", route.path
            continue
        assert isinstance(route, Route), route
        for method in route.methods or ():
            if method != "HEAD":  # Starlette adds HEAD to every GET
                served.add((method, _shape(route.path)))
    documented = {
        (method.upper(), _shape(path))
        for path, methods in operations().items()
        for method in methods
    }
    assert served - documented == set(), "routes the document lacks"
    assert documented - served == set(), "documented routes that do not exist"


def test_every_path_parameter_is_declared_and_every_schema_is_valid() -> None:
    doc = document("0")
    ids = []
    for path, methods in doc["paths"].items():
        in_path = set(_PARAM.findall(path))
        for method, operation in methods.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == in_path, (method, path)
            ids.append(operation["operationId"])
            assert operation["responses"], (method, path)
    assert len(ids) == len(set(ids)), "operation ids are unique"
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_the_document_is_served_at_its_stable_url(served: Served) -> None:
    with served.client() as http:
        reply = http.get("/v1.0/wfkit/openapi.json")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    served_doc = reply.json()
    assert served_doc["openapi"] == "3.1.0"
    assert served_doc["info"]["version"] == wfkit.__version__
    assert served_doc == document(wfkit.__version__)
