"""The published JSON Schema and the loader agree, checked with the reference validator.

The loader validates with ``jsonschema-rs``; here every corpus file (and every example in
``definitions/``) is also read with ``yaml.safe_load`` and validated with the reference
Python ``jsonschema`` library, Draft 2020-12. Good files pass both. A bad file marked
``schema: reject`` is rejected by the schema alone; one marked ``schema: accept`` passes
the schema (its problem is semantic: a reference, a cycle, an expression...) and must
still be refused by the loader. Files PyYAML itself cannot read are YAML-level errors
and are left to ``test_corpus.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from corpus_support import BAD_FILES, GOOD_FILES, REPO_DEFINITIONS, read_header

import wfkit

VALIDATOR = jsonschema.Draft202012Validator(wfkit.load_schema())


def _safe_load(path: Path) -> tuple[bool, Any]:
    try:
        return True, yaml.safe_load(path.read_bytes())
    except Exception:  # PyYAML raises more than YAMLError (ValueError for !!int x)
        return False, None


def _schema_errors(data: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}"
        for e in VALIDATOR.iter_errors(data)
    ]


READABLE_BAD = [p for p in BAD_FILES if _safe_load(p)[0]]


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = wfkit.load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft202012Validator


def test_most_bad_files_are_readable_by_pyyaml() -> None:
    """The agreement below covers most of the corpus, not a handful of files."""
    assert len(READABLE_BAD) >= 0.75 * len(BAD_FILES)
    assert sum(read_header(p).schema == "accept" for p in READABLE_BAD) >= 20
    assert sum(read_header(p).schema == "reject" for p in READABLE_BAD) >= 20


@pytest.mark.parametrize(
    "path", GOOD_FILES + REPO_DEFINITIONS, ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_good_file_passes_schema_and_loader(path: Path) -> None:
    definition = wfkit.load_definition(path)
    assert isinstance(definition, wfkit.Definition)
    readable, data = _safe_load(path)
    assert readable, f"PyYAML cannot read the good file {path.name}"
    assert _schema_errors(data) == []


@pytest.mark.parametrize("path", READABLE_BAD, ids=lambda p: p.name)
def test_bad_file_schema_verdict(path: Path) -> None:
    verdict = read_header(path).schema
    _, data = _safe_load(path)
    errors = _schema_errors(data)
    if verdict == "reject":
        assert errors, f"{path.name}: the JSON Schema accepts it, but the header says reject"
    else:
        assert errors == [], f"{path.name}: the JSON Schema rejects it: {errors}"
        with pytest.raises(wfkit.DefinitionError):
            wfkit.load_definition(path)
