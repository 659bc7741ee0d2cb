"""Steps of ``api-ingest.yaml``: page through an "API", enrich, deduplicate, store.

The API is a JSON fixture (``data/orders_api.json``) so the example runs offline, and it
is made deterministically flaky: :func:`fetch_page` fails the first ``flaky_failures``
attempts of each page of each run, counted in a small file under ``state_dir``, the way a
rate-limited service answers 503 before it recovers. The exchange-rate service of
:func:`fetch_rates` is down unless the run says otherwise, to show a best-effort step.
"""

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from wfkit_examples import DATA_DIR

__all__ = [
    "ServiceUnavailable",
    "discover",
    "fetch_page",
    "fetch_rates",
    "normalize",
    "note_degraded",
    "store",
]

_API_FIXTURE = DATA_DIR / "orders_api.json"
_RATES_FIXTURE = DATA_DIR / "rates.json"


class ServiceUnavailable(ConnectionError):
    """The (simulated) remote service answered 503; trying again later may succeed."""


def _endpoint(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_API_FIXTURE.read_text(encoding="utf-8"))
    if name not in data:
        raise ValueError(f"unknown endpoint {name!r}; the API has {', '.join(sorted(data))}")
    result: dict[str, Any] = data[name]
    return result


def discover(endpoint: str) -> dict[str, Any]:
    """The first request of an ingestion: which pages ``endpoint`` has, and how many items."""
    pages = _endpoint(endpoint)["pages"]
    return {
        "endpoint": endpoint,
        "pages": [p["page"] for p in pages],
        "total": sum(len(p["items"]) for p in pages),
    }


def _count_attempt(state_dir: str, key: str) -> int:
    """Add one to the attempt counter ``key`` under ``state_dir``; return the new count."""
    folder = Path(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    counter = folder / f"{key}.attempts"
    count = int(counter.read_text() or "0") + 1 if counter.exists() else 1
    partial = counter.with_suffix(".partial")
    partial.write_text(str(count))
    partial.replace(counter)
    return count


def fetch_page(
    endpoint: str, page: int, run_id: str, state_dir: str, flaky_failures: int = 1
) -> dict[str, Any]:
    """One page of ``endpoint``; the first ``flaky_failures`` attempts per run fail.

    Raises :class:`ServiceUnavailable` on those attempts, and :class:`LookupError` for a
    page that does not exist (a real error: retrying cannot fix it).
    """
    attempt = _count_attempt(state_dir, f"{run_id}-{endpoint}-page{page}")
    if attempt <= flaky_failures:
        raise ServiceUnavailable(
            f"GET /{endpoint}?page={page}: 503 Service Unavailable"
            f" (simulated, attempt {attempt} of the {flaky_failures} that fail)"
        )
    for candidate in _endpoint(endpoint)["pages"]:
        if candidate["page"] == page:
            return {
                "endpoint": endpoint,
                "page": page,
                "items": candidate["items"],
                "attempt": attempt,
            }
    raise LookupError(f"GET /{endpoint}?page={page}: 404 Not Found")


def fetch_rates(available: bool, base: str) -> dict[str, Any]:
    """Exchange rates as units of each currency per one ``base``; fails when unavailable."""
    if not available:
        raise ServiceUnavailable("GET /rates: connection refused (rates service is down)")
    data = json.loads(_RATES_FIXTURE.read_text(encoding="utf-8"))
    per_eur = {code: Decimal(v) for code, v in data["rates"].items()}
    if base not in per_eur:
        raise ValueError(f"no rate for base currency {base!r}")
    return {
        "base": base,
        "as_of": data["as_of"],
        "rates": {code: float(rate / per_eur[base]) for code, rate in sorted(per_eur.items())},
    }


def note_degraded(endpoint: str, run_id: str, state_dir: str) -> dict[str, Any]:
    """Record that a run stored amounts unconverted, so they can be fixed up later."""
    folder = Path(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    line = {"run_id": run_id, "endpoint": endpoint, "reason": "exchange rates unavailable"}
    with (folder / "degraded.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, sort_keys=True) + "\n")
    return {"warning": f"{endpoint} of run {run_id} stored without currency conversion"}


def normalize(
    pages: list[dict[str, Any]], rates: dict[str, float] | None, base: str
) -> dict[str, Any]:
    """Every item of every page once (by id), sorted, with amounts in ``base`` if possible.

    ``rates`` (units per one ``base``) may be ``None`` when the rate service failed: the
    records then keep their own currency and ``amount_base`` is ``None``.
    """
    seen: dict[str, dict[str, Any]] = {}
    duplicates = 0
    for page in pages:
        for item in page["items"]:
            if item["id"] in seen:
                duplicates += 1
                continue
            amount = Decimal(item["amount"])
            converted = None
            if rates is not None:
                converted = float(
                    (amount / Decimal(str(rates[item["currency"]]))).quantize(Decimal("0.01"))
                )
            seen[item["id"]] = {**item, "amount": float(amount), "amount_base": converted}
    records = sorted(seen.values(), key=lambda r: (r["created"], r["id"]))
    return {
        "records": records,
        "duplicates": duplicates,
        "converted": rates is not None,
        "base": base,
    }


def store(
    records: list[dict[str, Any]], out_dir: str, endpoint: str, run_id: str
) -> dict[str, Any]:
    """Write the records as JSON Lines to ``<out_dir>/<endpoint>-<run_id>.jsonl``."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    target = folder / f"{endpoint}-{run_id}.jsonl"
    partial = target.with_suffix(".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)
    return {
        "path": str(target),
        "count": len(records),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }
