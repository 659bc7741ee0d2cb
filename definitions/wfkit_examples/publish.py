"""Steps of ``publish-model.yaml``: check a model file and enter it in a registry.

The registry is one JSON file, ``<registry_dir>/registry.json``, with a list of entries
per channel. Registering is idempotent (steps run at least once): the same file in the
same channel keeps the version it got the first time.
"""

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

__all__ = ["MODEL_KIND", "announce", "path_of", "register", "verify_artifact"]

#: The ``kind`` written by ``wfkit_examples.training.publish_model``.
MODEL_KIND = "wfkit-example/logistic-regression"


def path_of(uri: str) -> Path:
    """The local path of a ``file:`` URI, or of a plain path.

    >>> path_of("file:///tmp/models/a%20b.json").as_posix()
    '/tmp/models/a b.json'
    >>> path_of("models/m.json").as_posix()
    'models/m.json'
    """
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(url2pathname(unquote(parsed.path)))
    if parsed.scheme and len(parsed.scheme) > 1:
        raise ValueError(f"only file: URIs and paths can be published here, not {uri!r}")
    return Path(uri)


def verify_artifact(uri: str, sha256: str = "") -> dict[str, Any]:
    """Read the model file at ``uri``; check its checksum (unless empty) and its kind."""
    data = path_of(uri).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if sha256 and digest != sha256:
        raise ValueError(f"{uri}: sha256 is {digest}, expected {sha256}; the file changed")
    card = json.loads(data)
    if card.get("kind") != MODEL_KIND:
        raise ValueError(f"{uri}: kind is {card.get('kind')!r}, expected {MODEL_KIND!r}")
    return {
        "uri": uri,
        "sha256": digest,
        "bytes": len(data),
        "kind": card["kind"],
        "score": card.get("metrics", {}).get("score"),
    }


def register(
    artifact: dict[str, Any], channel: str, registry_dir: str, notes: str = ""
) -> dict[str, Any]:
    """Add the artifact to ``channel`` of the registry; return its entry with a version.

    Versions count up from 1 per channel. An artifact already in the channel (same
    sha256) is not added twice: its existing entry is returned.
    """
    folder = Path(registry_dir)
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "registry.json"
    registry: dict[str, list[dict[str, Any]]] = (
        json.loads(index.read_text(encoding="utf-8")) if index.exists() else {}
    )
    entries = registry.setdefault(channel, [])
    for entry in entries:
        if entry["sha256"] == artifact["sha256"]:
            return entry
    entry = {
        "channel": channel,
        "version": len(entries) + 1,
        "uri": artifact["uri"],
        "sha256": artifact["sha256"],
        "score": artifact.get("score"),
        "notes": notes,
    }
    entries.append(entry)
    partial = index.with_suffix(".partial")
    partial.write_text(json.dumps(registry, indent=1, sort_keys=True), encoding="utf-8")
    partial.replace(index)
    return entry


def announce(entry: dict[str, Any], instance: str) -> dict[str, Any]:
    """The message a release channel would post about a registered model."""
    score = entry.get("score")
    quality = f", accuracy {score:.1%}" if isinstance(score, int | float) else ""
    return {
        "message": f"model v{entry['version']} is on {entry['channel']}{quality}"
        f" (sha256 {entry['sha256'][:12]}, run {instance})"
    }
