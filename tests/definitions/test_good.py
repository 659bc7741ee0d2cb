"""Valid definitions in ``good/`` load, and the model holds exactly what the files say."""

from __future__ import annotations

import hashlib
from pathlib import Path

import networkx as nx
import pytest
from corpus_support import GOOD_DIR, GOOD_FILES

import wfkit
from wfkit import OnError, RetryPolicy, StepKind, WaitSpec


def load(name: str) -> wfkit.Definition:
    return wfkit.load_definition(GOOD_DIR / name)


def seconds(duration: wfkit.Duration | None) -> float | None:
    return None if duration is None else duration.seconds


def edges(definition: wfkit.Definition) -> set[tuple[str, str, str]]:
    return set(wfkit.build_graph(definition).edges(data="via"))


def test_there_are_enough_good_files() -> None:
    assert len(GOOD_FILES) >= 5


@pytest.mark.parametrize("path", GOOD_FILES, ids=lambda p: p.name)
def test_good_file_loads_with_its_source_and_hash(path: Path) -> None:
    definition = wfkit.load_definition(path)
    text = path.read_bytes().decode("utf-8")
    assert definition.path == str(path)
    assert definition.source == text
    assert definition.content_hash == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert definition.language == 1
    assert nx.is_directed_acyclic_graph(wfkit.build_graph(definition))
    # loading the text gives the same model as loading the file
    again = wfkit.parse_definition(text, str(path))
    assert list(again.all_steps()) == list(definition.all_steps())
    assert again.content_hash == definition.content_hash


def test_minimal() -> None:
    d = load("minimal.yaml")
    assert d.name == "minimal"
    assert d.version is None and d.description == "" and d.concurrency is None
    assert dict(d.inputs) == {} and dict(d.finally_steps) == {} and d.output is None
    assert d.default_retry is None and d.default_timeout is None
    (step,) = d.steps.values()
    assert step.id == "hello" and step.kind is StepKind.CALL and step.target == "pkg.mod:hello"
    assert step.needs == () and step.refs == frozenset() and step.depends_on == frozenset()
    assert step.retry is None and step.timeout is None
    assert step.on_error is OnError.FAIL and step.pause_before is False
    assert step.with_ is None and step.env is None and step.when is None and step.foreach is None
    assert (step.line, step.column) == (5, 3)
    assert step.target_at == (6, 11)
    assert d.name_at == (3, 7)


def test_every_key_top_level() -> None:
    d = load("every-key.yaml")
    assert d.name == "every-key"
    assert d.version == "1.4"
    assert d.description.startswith("Monthly churn model")
    assert d.concurrency == 4
    assert d.runner == "local"
    assert seconds(d.default_timeout) == 900
    assert d.default_retry == RetryPolicy(
        max_attempts=3,
        initial_interval=wfkit.Duration(2.0, "2s"),
        backoff_coefficient=2.0,
        max_interval=wfkit.Duration(60.0, "1m"),
        retry_timeout=wfkit.Duration(3600.0, "1h"),
    )
    assert list(d.steps) == ["extract", "check", "train", "approve", "cool_down", "publish"]
    assert list(d.finally_steps) == ["notify"]
    assert d.child_workflows() == frozenset({"publish-model"})
    assert d.output is not None and d.output.steps == frozenset({"train", "publish"})


def test_every_key_inputs() -> None:
    inputs = load("every-key.yaml").inputs
    assert list(inputs) == ["region", "months", "threshold", "dry_run", "limit", "extra"]
    assert [name for name, spec in inputs.items() if spec.required] == ["months"]
    assert inputs["region"].type == "string"
    assert inputs["region"].schema["enum"] == ["eu", "us"]
    assert inputs["region"].description == "Where the rows come from."
    assert inputs["months"].schema["items"] == {"type": "string"}
    assert inputs["threshold"].schema["default"] == 0.8
    assert inputs["dry_run"].schema["default"] is False
    assert inputs["extra"].schema["default"] == {}
    assert inputs["region"].line == 7


def test_every_key_steps() -> None:
    d = load("every-key.yaml")
    s = d.all_steps()
    extract = s["extract"]
    assert extract.kind is StepKind.CALL and extract.target == "churn.etl:pull_month"
    assert extract.description == "One call per month."
    assert extract.foreach is not None and extract.foreach.is_expression
    assert extract.max_parallel == 2
    assert extract.outputs == {"type": "array", "items": {"type": "object"}}
    # a step's retry is merged field by field over defaults.retry
    assert extract.retry is not None
    assert extract.retry.max_attempts == 5
    assert seconds(extract.retry.initial_interval) == 2
    assert extract.retry.backoff_coefficient == 2.0
    assert seconds(extract.retry.max_interval) == 60
    assert seconds(extract.retry.retry_timeout) == 3600
    assert seconds(extract.timeout) == 900  # from defaults.timeout

    check = s["check"]
    assert check.kind is StepKind.SHELL and check.target == ("python", "-m", "churn.check")
    assert check.env is not None and check.env.raw["STRICT"] == "1"
    assert seconds(check.timeout) == 120
    assert check.on_error is OnError.CONTINUE
    assert check.refs == frozenset({"extract"}) and check.needs == ()

    train = s["train"]
    assert train.kind is StepKind.NOTEBOOK and train.target == "notebooks/train.ipynb"
    assert train.needs == ("check",) and train.refs == frozenset({"extract"})
    assert train.depends_on == frozenset({"check", "extract"})
    # the step's runner over the workflow's; resources as numbers
    assert train.runner == "dask" and train.resources == {"GPU": 1.0, "MEMORY": 4e9}
    assert extract.runner == "local" and extract.resources is None
    assert train.retry is not None
    assert (train.retry.max_attempts, seconds(train.retry.initial_interval)) == (3, 0.5)
    assert train.retry.backoff_coefficient == 1.5
    assert train.retry.delay(1) == 0.5 and train.retry.delay(3) == pytest.approx(1.125)

    approve = s["approve"]
    assert approve.kind is StepKind.WAIT
    assert approve.target == WaitSpec("model-approved", wfkit.Duration(172800.0, "48h"))
    assert approve.when is not None and approve.refs == frozenset({"train"})
    assert approve.on_error is OnError.FAIL

    cool_down = s["cool_down"]
    assert cool_down.kind is StepKind.SLEEP and seconds(cool_down.target) == 5400
    assert cool_down.needs == ("approve",)
    assert cool_down.runner is None  # stays in the engine, whatever the workflow says

    publish = s["publish"]
    assert publish.kind is StepKind.WORKFLOW and publish.target == "publish-model"
    assert publish.pause_before is True
    assert publish.needs == ("cool_down",) and publish.refs == frozenset({"train"})

    notify = s["notify"]
    assert notify.is_finally and not publish.is_finally
    assert notify.refs == frozenset() and notify.with_ is not None
    assert {r for e in notify.with_.expressions() for r in e.roots} == {"workflow"}


def test_every_key_graph() -> None:
    assert edges(load("every-key.yaml")) == {
        ("extract", "check", "expression"),
        ("extract", "train", "expression"),
        ("check", "train", "needs"),
        ("train", "approve", "expression"),
        ("approve", "cool_down", "needs"),
        ("cool_down", "publish", "needs"),
        ("train", "publish", "expression"),
    }


def test_wait_and_sleep_steps_do_not_take_the_default_timeout() -> None:
    """A wait without a timeout waits forever (DESIGN 5); defaults.timeout must not bound it,
    just as an explicit timeout on a wait or sleep step is refused."""
    for name in ("every-key.yaml", "kinds.yaml"):
        d = load(name)
        for step in d.steps.values():
            if step.kind in (StepKind.WAIT, StepKind.SLEEP):
                assert step.timeout is None, f"{name}: {step.id} got timeout {step.timeout}"


def test_kinds_short_forms() -> None:
    s = load("kinds.yaml").steps
    assert s["hold"].target == WaitSpec("go-ahead", None)
    assert s["forever"].target == WaitSpec("mixed-case", None)
    assert seconds(s["pause"].target) == 2.5
    assert s["pause"].needs == ("hold",)
    assert seconds(s["nap"].target) == pytest.approx(86400 + 2 * 3600 + 3 * 60 + 4.5)
    assert str(s["nap"].target) == "1d2h3m4s500ms"
    assert s["run"].needs == ("pause", "nap", "forever")
    assert s["child"].kind is StepKind.WORKFLOW and s["child"].target == "child-flow_2"
    assert seconds(s["run"].timeout) == 600


def test_bom_file_loads_with_positions_after_the_mark() -> None:
    d = load("bom.yaml")
    assert d.name == "with-bom"
    assert d.description == "Café — résumé"
    assert d.name_at == (3, 7)
    assert (d.steps["fetch"].line, d.steps["fetch"].column) == (6, 3)
    assert d.steps["report"].needs == ("fetch",)


def test_crlf_file() -> None:
    d = load("crlf.yaml")
    assert (d.steps["second"].line, d.steps["second"].column) == (7, 3)
    assert d.steps["second"].refs == frozenset({"first"})
    assert "\r" not in d.steps["first"].target


def test_merge_keys() -> None:
    d = load("merge-key.yaml")
    s = d.steps
    patient = RetryPolicy(4, wfkit.Duration(10.0, "10s"))
    assert d.default_retry == patient
    assert s["base"].on_error is OnError.CONTINUE and seconds(s["base"].timeout) == 30
    # the step's own key wins over the merged one
    override = s["override"]
    assert override.target == "pkg.mod:override"
    assert seconds(override.timeout) == 30 and override.on_error is OnError.CONTINUE
    assert override.needs == ("base",)
    # in a list of merges the first mapping wins
    both = s["both"]
    assert both.target == "pkg.mod:base"
    assert seconds(both.timeout) == 30
    assert both.on_error is OnError.CONTINUE and both.pause_before is True
    assert both.retry == patient
    assert both.needs == ("base", "slow")


def test_quoted_and_flow_styles() -> None:
    d = load("quoted-and-flow.yaml")
    assert d.name == "quoted-and-flow"
    assert d.version == "1.10"  # !!str keeps the text; a float would give 1.1
    assert d.description == "Tab:\tend, unicode: é, quote: \" and 'single'"
    assert d.inputs["count"].schema == {"type": "integer", "default": 3}
    first, second = d.steps["first"], d.steps["second"]
    assert first.with_ is not None
    assert first.with_.raw == {"text": "It's ${{ inputs.count }} rows", "n": "${{ inputs.count }}"}
    assert first.with_.render({"inputs": {"count": 3}}) == {"text": "It's 3 rows", "n": 3}
    assert second.needs == ("first",) and second.refs == frozenset({"first"})
    assert seconds(second.timeout) == 90
    assert d.output is not None
    assert d.output.raw == ["${{ steps.second.output }}", "literal", 3, None, True]
    assert d.output.render({"steps": {"second": {"output": {"a": 1}}}}) == [
        {"a": 1},
        "literal",
        3,
        None,
        True,
    ]


def test_block_styles() -> None:
    d = load("block-styles.yaml")
    assert d.description == "Folded text on two lines."
    script, after = d.steps["script"], d.steps["after"]
    assert script.target == ("python", "-c", 'import os\nprint(os.environ["GREETING"])\n')
    assert script.env is not None
    rendered = script.env.render({"workflow": {"name": "block-styles", "id": "r1"}})
    assert rendered == {"GREETING": "Hello block-styles,\nrun r1"}
    assert after.needs == ("script",) and after.refs == frozenset({"script"})
    assert (after.line, after.column) == (19, 5)


def test_expressions_of_every_root() -> None:
    d = load("expressions.yaml")
    s = d.all_steps()
    roots = {
        root
        for step in s.values()
        for template in (step.with_, step.env, step.foreach)
        if template is not None
        for e in template.expressions()
        for root in e.roots
    }
    assert roots == {"inputs", "steps", "item", "index", "workflow"}
    assert s["score"].refs == frozenset({"fetch"})
    assert s["decide"].refs == frozenset({"score"})  # steps["score"] counts as a reference
    assert s["report"].refs == frozenset({"decide"}) and s["report"].is_finally
    assert d.output is not None and d.output.steps == frozenset({"fetch", "score"})
    assert edges(d) == {
        ("fetch", "score", "expression"),
        ("score", "decide", "expression"),
        ("decide", "report", "expression"),
    }

    context = {
        "inputs": {"months": ["2024-01", "2024-02"], "threshold": 0.5},
        "item": "2024-02",
        "index": 1,
        "steps": {
            "fetch": {"output": [{"total": 3}, {"total": 4}], "status": "completed"},
            "score": {"output": 0.7, "status": "completed"},
        },
        "workflow": {"id": "run-1", "name": "expressions", "status": "RUNNING"},
    }
    fetch = s["fetch"]
    assert fetch.foreach is not None and fetch.foreach.render(context) == ["2024-01", "2024-02"]
    assert fetch.with_ is not None
    assert fetch.with_.render(context) == {
        "month": "2024-02",
        "position": 1,  # a whole expression keeps its type
        "label": "month 2 of 2: 2024-02",  # embedded ones are interpolated as text
    }
    score = s["score"]
    assert score.when is not None and score.when.evaluate(context) is True
    assert score.with_ is not None
    assert score.with_.render(context) == {"rows": [3, 4], "braces": "a }} b"}
    decide = s["decide"]
    assert decide.foreach is not None and not decide.foreach.is_expression
    assert decide.with_ is not None
    assert decide.with_.render({**context, "item": 2}) == {
        "best": True,
        "doubled": 4,
        "who": "expressions/run-1",
    }
    assert d.output.render(context) == {"count": 2, "summary": "scored 0.7"}
