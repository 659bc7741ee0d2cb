"""The one table from wfkit's errors to Dapr's answers, for the cases a test cannot make a
real server meet on purpose (a store that fails, a bug of wfkit's)."""

from __future__ import annotations

import json
from pathlib import Path

from wfkit.errors import InstanceBusy, PinnedDefinitionMissing, StoreError, UnknownCondition
from wfkit.server.dapr_errors import DAPR_ERRORS, OPERATION_FAILURES, error_reply


def _answer(exc: Exception, operation: str, **names: str) -> tuple[int, dict[str, str]]:
    reply = error_reply(exc, operation, **names)
    body: dict[str, str] = json.loads(bytes(reply.body))
    return reply.status_code, body


def test_a_store_that_fails_is_the_operation_s_code_with_503() -> None:
    status, body = _answer(
        StoreError("sqlite:///x.db", "database is locked", retryable=True),
        "start",
        name="hello",
    )
    assert status == 503
    assert body == {
        "errorCode": "ERR_START_WORKFLOW",
        "message": "error starting workflow 'hello': store sqlite:///x.db: database is locked",
    }


def test_a_history_that_kept_changing_is_a_conflict() -> None:
    status, body = _answer(InstanceBusy("i-1", "raise_event"), "raise_event", instance_id="i-1")
    assert status == 409
    assert body["errorCode"] == "ERR_RAISE_EVENT_WORKFLOW"
    assert body["message"].startswith("error raising event on workflow 'i-1': ")


def test_a_bug_is_a_500_without_its_traceback() -> None:
    try:
        {}["missing"]  # a real exception, with a traceback
    except KeyError as exc:
        status, body = _answer(exc, "pause", instance_id="i-2")
    assert status == 500
    assert body == {
        "errorCode": "ERR_PAUSE_WORKFLOW",
        "message": "error pausing workflow i-2: internal error (KeyError); the server's log "
        "has the details",
    }


def test_an_error_not_in_the_table_takes_its_category_s_status() -> None:
    status, body = _answer(PinnedDefinitionMissing("hello", "ab" * 32), "get", instance_id="i")
    assert (status, body["errorCode"]) == (500, "ERR_GET_WORKFLOW")
    status, body = _answer(UnknownCondition("x", ["ended"]), "purge", instance_id="i")
    assert (status, body["errorCode"]) == (400, "ERR_PURGE_WORKFLOW")


def test_ids_in_messages_are_cut() -> None:
    _, body = _answer(RuntimeError("x"), "terminate", instance_id="i" * 500)
    assert len(body["message"]) < 200


def test_the_guide_documents_every_code_of_the_table() -> None:
    page = (Path(__file__).parents[2] / "docs" / "guides" / "serve.md").read_text("utf-8")
    codes = {reply.code for reply in DAPR_ERRORS.values() if reply.code}
    codes |= {code for code, _ in OPERATION_FAILURES.values()}
    missing = sorted(code for code in codes if f"`{code}`" not in page)
    assert not missing, f"docs/guides/serve.md does not list {missing}"
