"""The step code of ``api-ingest.yaml`` (a flaky offline API), and the definition run."""

import hashlib
import json
from pathlib import Path

import pytest
from example_harness import Harness
from wfkit_examples import api

from wfkit.errors import InvalidInput


def test_discover() -> None:
    assert api.discover("orders") == {"endpoint": "orders", "pages": [1, 2, 3], "total": 11}
    assert api.discover("refunds") == {"endpoint": "refunds", "pages": [1, 2], "total": 3}
    with pytest.raises(ValueError, match="unknown endpoint 'users'"):
        api.discover("users")


def test_fetch_page_fails_first_then_recovers(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    for attempt in (1, 2):
        with pytest.raises(api.ServiceUnavailable, match=f"503.*attempt {attempt} of the 2"):
            api.fetch_page("orders", 2, "run-a", state, flaky_failures=2)
    page = api.fetch_page("orders", 2, "run-a", state, flaky_failures=2)
    assert page["attempt"] == 3 and page["page"] == 2
    assert [i["id"] for i in page["items"]] == ["ord-1004", "ord-1005", "ord-1006", "ord-1007"]
    assert issubclass(api.ServiceUnavailable, ConnectionError)
    # another page, or the same page of another run, has its own counter
    with pytest.raises(api.ServiceUnavailable):
        api.fetch_page("orders", 1, "run-a", state, flaky_failures=1)
    with pytest.raises(api.ServiceUnavailable):
        api.fetch_page("orders", 2, "run-b", state, flaky_failures=1)


def test_fetch_page_without_failures_and_a_missing_page(tmp_path: Path) -> None:
    page = api.fetch_page("refunds", 1, "r", str(tmp_path), flaky_failures=0)
    assert page["attempt"] == 1 and len(page["items"]) == 2
    with pytest.raises(LookupError, match="404"):
        api.fetch_page("orders", 9, "r", str(tmp_path), flaky_failures=0)


def test_fetch_rates() -> None:
    with pytest.raises(api.ServiceUnavailable, match="rates service is down"):
        api.fetch_rates(available=False, base="EUR")
    eur = api.fetch_rates(available=True, base="EUR")
    assert eur == {
        "base": "EUR",
        "as_of": "2024-05-31",
        "rates": {"EUR": 1.0, "GBP": 0.85, "USD": 1.08},
    }
    usd = api.fetch_rates(available=True, base="USD")
    assert usd["rates"]["USD"] == 1.0
    assert usd["rates"]["EUR"] == pytest.approx(1 / 1.08)
    with pytest.raises(ValueError, match="JPY"):
        api.fetch_rates(available=True, base="JPY")


def all_pages(tmp_path: Path) -> list[dict[str, object]]:
    return [api.fetch_page("orders", p, "n", str(tmp_path), 0) for p in (1, 2, 3)]


def test_normalize_deduplicates_and_converts(tmp_path: Path) -> None:
    rates = api.fetch_rates(available=True, base="EUR")["rates"]
    got = api.normalize(all_pages(tmp_path), rates, "EUR")
    assert got["duplicates"] == 1 and got["converted"] is True
    ids = [r["id"] for r in got["records"]]
    assert ids == [f"ord-{n}" for n in range(1001, 1011)]
    by_id = {r["id"]: r for r in got["records"]}
    assert by_id["ord-1004"]["amount_base"] == 294.12  # 250 GBP / 0.85
    assert by_id["ord-1002"]["amount_base"] == 32.41  # 35 USD / 1.08
    assert by_id["ord-1001"]["amount_base"] == 120.5
    plain = api.normalize(all_pages(tmp_path), None, "EUR")
    assert plain["converted"] is False
    assert all(r["amount_base"] is None for r in plain["records"])
    assert [r["amount"] for r in plain["records"]] == [r["amount"] for r in got["records"]]


def test_note_degraded_appends(tmp_path: Path) -> None:
    api.note_degraded("orders", "r1", str(tmp_path))
    result = api.note_degraded("refunds", "r2", str(tmp_path))
    lines = (tmp_path / "degraded.jsonl").read_text().splitlines()
    assert [json.loads(x)["run_id"] for x in lines] == ["r1", "r2"]
    assert result == {"warning": "refunds of run r2 stored without currency conversion"}


def test_store_writes_json_lines(tmp_path: Path) -> None:
    records = api.normalize(all_pages(tmp_path), None, "EUR")["records"]
    stored = api.store(records, str(tmp_path / "out"), "orders", "r9")
    path = Path(stored["path"])
    assert path == tmp_path / "out" / "orders-r9.jsonl"
    lines = path.read_text().splitlines()
    assert stored["count"] == len(lines) == 10
    assert json.loads(lines[0])["id"] == "ord-1001"
    assert stored["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def dirs(workdir: Path, **extra: object) -> dict[str, object]:
    return {"state_dir": str(workdir / "state"), "out_dir": str(workdir / "out"), **extra}


def test_run_retries_and_continues_without_rates(harness: Harness, workdir: Path) -> None:
    run = harness.run("api-ingest", dirs(workdir), instance_id="ing-1")
    assert run.status == "COMPLETED"
    assert run.steps["fetch"]["attempts"] == 2, "each page fails once; attempts is per item"
    assert run.log.count("retry fetch in 1s after ServiceUnavailable") == 3
    assert run.state("rates") == "failed" and run.steps["rates"]["attempts"] == 2
    assert run.state("flag_degraded") == "completed"
    assert run.output == {
        "stored": 10,
        "file": str(workdir / "out" / "orders-ing-1.jsonl"),
        "duplicates": 1,
        "converted": False,
        "degraded": True,
    }
    assert (workdir / "state" / "degraded.jsonl").exists()


def test_run_with_rates_and_more_failures(harness: Harness, workdir: Path) -> None:
    run = harness.run(
        "api-ingest",
        dirs(
            workdir, flaky_failures=3, rates_available=True, endpoint="refunds", base_currency="GBP"
        ),
    )
    assert run.status == "COMPLETED"
    retries = [line for line in run.log if line.startswith("retry fetch")]
    # two pages fetched in parallel: their retries interleave in the history
    expected = [f"retry fetch in {s}s after ServiceUnavailable" for s in (1, 2, 4)] * 2
    assert sorted(retries) == sorted(expected)
    assert run.state("flag_degraded") == "skipped"
    assert run.output["converted"] is True and run.output["degraded"] is False
    records = run.out("normalize")["records"]
    assert {r["id"]: r["amount_base"] for r in records}["ref-203"] == pytest.approx(15.3)


def test_run_refuses_more_failures_than_the_retry_policy_allows(harness: Harness) -> None:
    with pytest.raises(InvalidInput, match="maximum"):
        harness.run("api-ingest", {"flaky_failures": 4})


def test_a_failing_store_fails_the_run(harness: Harness, workdir: Path) -> None:
    (workdir / "blocked").write_text("a file where the output folder should be")
    run = harness.run("api-ingest", dirs(workdir, out_dir=str(workdir / "blocked")))
    assert run.state("store") == "failed"
    assert run.status == "FAILED" and run.output is None
