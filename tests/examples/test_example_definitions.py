"""Every example definition keeps to DESIGN.md §5, and together they use all of it.

These checks stand in for the loader until it exists: keys, names, ids, references,
targets, expressions, durations and schemas are checked here file by file, and the
coverage test fails as soon as some key of the language stops being used by an example.
"""

import graphlib
import importlib
import importlib.util
import inspect
import re
from pathlib import Path
from typing import Any

import cel
import jsonschema
import pytest
import yaml
from example_harness import (
    DEFINITIONS,
    KINDS,
    STEP_REF,
    expressions_in,
    parse_duration,
    step_refs,
)

FILES = sorted(DEFINITIONS.glob("*.yaml"))
DOCS = {path.stem: yaml.safe_load(path.read_text(encoding="utf-8")) for path in FILES}

TOP_KEYS = {
    "wfkit",
    "name",
    "version",
    "description",
    "inputs",
    "defaults",
    "concurrency",
    "runner",
    "steps",
    "finally",
    "output",
}
INPUT_KEYS = {"type", "default", "enum", "minimum", "maximum", "items", "description"}
DEFAULTS_KEYS = {"retry", "timeout"}
COMMON_KEYS = {
    "needs",
    "with",
    "env",
    "when",
    "foreach",
    "max_parallel",
    "retry",
    "timeout",
    "on_error",
    "pause_before",
    "outputs",
    "description",
    "runner",
}
#: Step keys an example may use that need no example: a step's ``resources`` depend on
#: how the Dask cluster's workers were started (docs/guides/dask.md shows them).
OPTIONAL_STEP_KEYS = {"resources"}
RUNNERS = {"local", "dask"}
RETRY_KEYS = {
    "max_attempts",
    "initial_interval",
    "backoff_coefficient",
    "max_interval",
    "retry_timeout",
}
WAIT_KEYS = {"event", "timeout"}
ROOTS = {"inputs", "steps", "item", "index", "workflow"}
WORKFLOW_FIELDS = {"id", "name", "status"}
JSON_TYPES = {"string", "number", "integer", "boolean", "array", "object", "null"}
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
STEP_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SCHEMA_LINE = "# yaml-language-server: $schema=../wfkit/definition/schema.json"
_STRING = re.compile(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"")
_ROOT = re.compile(r"(?<![.\w])([A-Za-z_]\w*)(?![\w(])(?!\s*\()")
_KEYWORDS = {"true", "false", "null", "in"}


def all_steps(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {**doc["steps"], **(doc.get("finally") or {})}


def roots(source: str) -> set[str]:
    """Root names an expression reads (identifiers not after a dot, not called)."""
    return {m[1] for m in _ROOT.finditer(_STRING.sub("''", source))} - _KEYWORDS


def durations(doc: dict[str, Any]) -> list[Any]:
    """Every duration value written in a definition."""
    found: list[Any] = []
    defaults = doc.get("defaults") or {}
    for owner in [defaults, *all_steps(doc).values()]:
        if "timeout" in owner:
            found.append(owner["timeout"])
        retry = owner.get("retry") or {}
        found += [
            retry[k] for k in ("initial_interval", "max_interval", "retry_timeout") if k in retry
        ]
        if isinstance(owner.get("wait"), dict) and "timeout" in owner["wait"]:
            found.append(owner["wait"]["timeout"])
        if "sleep" in owner:
            found.append(owner["sleep"])
    return found


def test_there_are_examples() -> None:
    names = {p.stem for p in FILES}
    assert {
        "sales-pipeline",
        "train-model",
        "notebook-report",
        "api-ingest",
        "publish-model",
        "release",
        "build-package",
        "sensor-features",
    } <= names


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_header(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    assert SCHEMA_LINE in header
    assert len(header) >= 5, "the header says what the example shows and how to run it"
    text = "\n".join(header)
    assert "Shows:" in text and "Run:" in text
    assert f"wfkit run {path.stem}" in text


@pytest.mark.parametrize("name", sorted(DOCS))
def test_top_level(name: str) -> None:
    doc = DOCS[name]
    assert set(doc) <= TOP_KEYS, set(doc) - TOP_KEYS
    assert doc["wfkit"] == 1
    assert doc["name"] == name and NAME.match(name)
    assert isinstance(doc.get("version", ""), str)
    assert set(doc.get("defaults") or {}) <= DEFAULTS_KEYS
    assert doc.get("runner", "local") in RUNNERS
    if "concurrency" in doc:
        assert isinstance(doc["concurrency"], int) and doc["concurrency"] >= 1
    assert doc["steps"], "a definition has steps"


def test_names_are_unique() -> None:
    names = [doc["name"] for doc in DOCS.values()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", sorted(DOCS))
def test_inputs(name: str) -> None:
    for input_name, spec in (DOCS[name].get("inputs") or {}).items():
        assert STEP_ID.match(input_name), input_name
        assert set(spec) <= INPUT_KEYS, (input_name, set(spec) - INPUT_KEYS)
        assert spec["type"] in JSON_TYPES
        jsonschema.Draft202012Validator.check_schema(spec)
        if "default" in spec:
            jsonschema.validate(spec["default"], spec)


@pytest.mark.parametrize("name", sorted(DOCS))
def test_steps_are_well_formed(name: str) -> None:
    doc = DOCS[name]
    steps = all_steps(doc)
    assert len(steps) == len(doc["steps"]) + len(doc.get("finally") or {}), "ids are unique"
    for step_id, step in steps.items():
        assert STEP_ID.match(step_id), step_id
        kinds = [k for k in KINDS if k in step]
        assert len(kinds) == 1, (step_id, kinds)
        allowed = COMMON_KEYS | OPTIONAL_STEP_KEYS | set(KINDS)
        assert set(step) <= allowed, (step_id, set(step) - allowed)
        assert step.get("runner", "local") in RUNNERS
        assert step.get("on_error", "fail") in {"fail", "continue"}
        assert isinstance(step.get("pause_before", False), bool)
        assert isinstance(step.get("description", ""), str)
        if "max_parallel" in step:
            assert "foreach" in step and step["max_parallel"] >= 1
        if "timeout" in step:
            assert parse_duration(step["timeout"]) > 0
        if "outputs" in step:
            jsonschema.Draft202012Validator.check_schema(step["outputs"])
        for policy in [step.get("retry"), (doc.get("defaults") or {}).get("retry")]:
            if policy:
                assert set(policy) <= RETRY_KEYS
                assert isinstance(policy.get("max_attempts", 1), int)
                assert policy.get("backoff_coefficient", 1) >= 1
                for key in ("initial_interval", "max_interval", "retry_timeout"):
                    if key in policy:
                        assert parse_duration(policy[key]) > 0
        if "env" in step:
            assert all(isinstance(k, str) for k in step["env"])


@pytest.mark.parametrize("name", sorted(DOCS))
def test_references_form_a_dag(name: str) -> None:
    doc = DOCS[name]
    main, final = doc["steps"], doc.get("finally") or {}
    graph = {}
    for step_id, step in all_steps(doc).items():
        deps = set(step.get("needs", [])) | step_refs(step)
        assert step_id not in deps, f"{step_id} refers to itself"
        known = set(main) | (set(final) if step_id in final else set())
        assert deps <= known, (step_id, deps - known)
        graph[step_id] = deps
    tuple(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    assert step_refs({"output": doc.get("output")}) <= set(main)


@pytest.mark.parametrize("name", sorted(DOCS))
def test_expressions(name: str) -> None:
    doc = DOCS[name]
    declared = set(doc.get("inputs") or {})
    owners: list[tuple[dict[str, Any], bool]] = [
        (step, "foreach" in step) for step in all_steps(doc).values()
    ]
    owners.append(({"output": doc.get("output")}, False))
    for owner, in_foreach in owners:
        for source in expressions_in(owner):
            cel.compile(source)
            used = roots(source)
            assert used <= ROOTS, (source, used - ROOTS)
            if not in_foreach:
                assert not used & {"item", "index"}, source
            clean = _STRING.sub("''", source)
            assert clean.count("steps") == len(STEP_REF.findall(clean)), source
            assert set(re.findall(r"\binputs\.(\w+)", clean)) <= declared, source
            assert set(re.findall(r"\bworkflow\.(\w+)", clean)) <= WORKFLOW_FIELDS, source
    for owner, _ in owners:
        text = yaml.safe_dump(owner)
        assert text.count("${{") == len(list(expressions_in(owner))), "unclosed ${{"


@pytest.mark.parametrize("name", sorted(DOCS))
def test_step_targets(name: str) -> None:
    doc = DOCS[name]
    for step_id, step in all_steps(doc).items():
        given = set(step.get("with") or {})
        if "call" in step:
            module, sep, function = step["call"].partition(":")
            assert sep and module and function, step["call"]
            target = getattr(importlib.import_module(module), function)
            inspect.signature(target).bind(**dict.fromkeys(given))
            assert target.__doc__, f"{step['call']} has a docstring"
        elif "shell" in step:
            argv = step["shell"]
            assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
            assert not any("${{" in a for a in argv), f"{step_id}: expression in argv"
            assert "with" not in step, "shell steps take their data through env"
            if argv[:2] == ["python", "-m"]:
                assert importlib.util.find_spec(argv[2]) is not None, argv[2]
        elif "notebook" in step:
            path = DEFINITIONS / step["notebook"]
            assert path.suffix == ".ipynb" and path.is_file(), path
        elif "workflow" in step:
            child = DOCS[step["workflow"]]
            inputs = child.get("inputs") or {}
            assert given <= set(inputs), given - set(inputs)
            required = {k for k, spec in inputs.items() if "default" not in spec}
            assert required <= given, f"{step_id} must pass {required - given}"
        elif "wait" in step:
            assert isinstance(step["wait"], dict) and set(step["wait"]) <= WAIT_KEYS
            assert isinstance(step["wait"]["event"], str)
            if "timeout" in step["wait"]:
                assert parse_duration(step["wait"]["timeout"]) > 0
        else:
            assert parse_duration(step["sleep"]) > 0


def test_every_key_of_the_language_is_used() -> None:
    used: dict[str, set[Any]] = {
        "top": set(),
        "input": set(),
        "defaults": set(),
        "step": set(),
        "retry": set(),
        "wait": set(),
        "on_error": set(),
        "duration": set(),
        "roots": set(),
        "types": set(),
    }
    waits_with_timeout: set[bool] = set()
    for doc in DOCS.values():
        used["top"] |= set(doc)
        used["defaults"] |= set(doc.get("defaults") or {})
        used["retry"] |= set((doc.get("defaults") or {}).get("retry") or {})
        for spec in (doc.get("inputs") or {}).values():
            used["input"] |= set(spec)
            used["types"].add(spec["type"])
        for step in all_steps(doc).values():
            used["step"] |= set(step)
            used["retry"] |= set(step.get("retry") or {})
            used["on_error"].add(step.get("on_error"))
            if "wait" in step:
                used["wait"] |= set(step["wait"])
                waits_with_timeout.add("timeout" in step["wait"])
        for value in durations(doc):
            unit = "number" if isinstance(value, int | float) else re.sub(r"[\d.]", "", value)
            used["duration"].add(unit)
        for source in expressions_in(doc):
            clean = _STRING.sub("''", source)
            used["roots"] |= roots(source) - {"steps", "workflow"}
            used["roots"] |= {f"steps.{m[2]}" for m in STEP_REF.finditer(clean)}
            used["roots"] |= {f"workflow.{f}" for f in re.findall(r"\bworkflow\.(\w+)", clean)}
    expected: dict[str, set[Any]] = {
        "top": TOP_KEYS,
        "input": INPUT_KEYS,
        "defaults": DEFAULTS_KEYS,
        "step": COMMON_KEYS | set(KINDS),
        "retry": RETRY_KEYS,
        "wait": WAIT_KEYS,
        "on_error": {"fail", "continue"},
        "duration": {"ms", "s", "m", "h", "d", "number"},
        "roots": {
            "inputs",
            "item",
            "index",
            "steps.output",
            "steps.status",
            "workflow.id",
            "workflow.name",
            "workflow.status",
        },
        "types": {"string", "integer", "number", "boolean", "array"},
    }
    for group, keys in expected.items():
        assert keys <= used[group], f"no example uses {group} {sorted(keys - used[group], key=str)}"
    assert waits_with_timeout == {True, False}, "a wait with a timeout and one without"


def test_every_retry_with_all_five_fields_exists() -> None:
    full = [
        (doc["name"], step_id)
        for doc in DOCS.values()
        for step_id, step in all_steps(doc).items()
        if set(step.get("retry") or {}) == RETRY_KEYS
    ]
    assert ("api-ingest", "fetch") in full


def test_finally_uses_workflow_status() -> None:
    users = {
        (doc["name"], step_id)
        for doc in DOCS.values()
        for step_id, step in (doc.get("finally") or {}).items()
        if any("workflow.status" in s for s in expressions_in(step))
    }
    assert {
        ("build-package", "report"),
        ("build-package", "cleanup"),
        ("release", "notify"),
    } <= users


def test_readme_lists_every_definition() -> None:
    readme = (DEFINITIONS / "README.md").read_text(encoding="utf-8")
    for path in FILES:
        assert f"[{path.name}]({path.name})" in readme, path.name
