"""Property tests of the loader with hypothesis.

(a) random text and (b) random mutations of valid definitions: ``parse_definition``
either returns a Definition or raises DefinitionError, never anything else, and quickly.
(c) generated valid definitions (a random DAG of steps linked by needs and by
``${{ steps.x.output }}`` references, written in random file order) always load, and their
graph has exactly the expected nodes and edges.
"""

from __future__ import annotations

import time

import networkx as nx
from corpus_support import GOOD_FILES
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import wfkit
from wfkit import StepKind

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
LIMIT_SECONDS = 1.0


def check_never_crashes(text: str) -> wfkit.Definition | None:
    """The property: a Definition or a DefinitionError, in well under a second."""
    start = time.perf_counter()
    try:
        definition = wfkit.parse_definition(text, "fuzz.yaml")
    except wfkit.DefinitionError as exc:
        definition = None
        lines = len(text.splitlines()) + 1
        for p in exc.problems:
            assert p.path == "fuzz.yaml"
            assert p.message
            assert 0 <= p.line <= lines, f"{p.line}:{p.column} is outside the text"
            assert p.column >= 0
    elapsed = time.perf_counter() - start
    assert elapsed < LIMIT_SECONDS, f"took {elapsed:.2f}s"
    if definition is not None:
        assert isinstance(definition, wfkit.Definition)
        assert nx.is_directed_acyclic_graph(wfkit.build_graph(definition))
    return definition


# -- (a) random text --------------------------------------------------------------------

YAMLISH = st.text(
    alphabet=st.sampled_from(list("{}[]:,-?|>!&*#'\"\n\t %@`~.$\\<=_aAbz019é\r\ufeff")),
    max_size=200,
)


@FUZZ
@given(st.one_of(st.text(max_size=300), YAMLISH))
@example("-.")  # inputs found by this test once; kept so that they are always tried
@example("._")
@example("0x_")
@example("9" * 5000)
@example("a: !!int " + "9" * 5000)
def test_random_text_never_crashes(text: str) -> None:
    check_never_crashes(text)


# -- (b) mutations of valid definitions ----------------------------------------------------

BASES = [p.read_bytes().decode("utf-8") for p in GOOD_FILES]

# fmt: off
ODD_SCALARS = [
    "", "~", "null", "yes", "no", "on", "off", "true", "0", "-1", "0x1F", "0o17", "017", "1_000",
    "1e5", "1.5e3", ".5", ".inf", "-.inf", ".nan", "1:30", "0x_", "-0o_", "._", "-.", "+.e5",
    "9" * 30, "9" * 400, "1e99999", "!!int 3", "!!int x", "!!float 1", "!!str 5", "!!bool yes",
    "!!null ~", "!!binary aGk=", "!!python/object:os.system", "!custom x", "&a 1", "*a", "*nope",
    "[", "]", "{", "}", "[1, 2]", "{a: 1}", "{}", "[]", "'", '"', "'quoted'", '"dq\\n"', "|", ">",
    "|-\n  text", "- a", "? k", "a: b", "#", "%", "@", "`", "\t", "${{", "}}", "${{ }}",
    "${{ steps.a.output }}", "${{ steps.nope.output }}", "${{ inputs.x }}", "${{ item }}",
    "${{ 1 + }}", "'${{ workflow.id }}'", "pkg.mod:f", "30s", "1h30m", "10x", "-5", "2.5",
]
# fmt: on
# fmt: off
KEYS = [
    "wfkit", "name", "version", "description", "inputs", "defaults", "concurrency", "steps",
    "finally", "output", "call", "shell", "notebook", "workflow", "wait", "sleep", "needs",
    "with", "env", "when", "foreach", "max_parallel", "retry", "timeout", "on_error",
    "pause_before", "outputs", "event", "max_attempts", "initial_interval", "type", "default",
    "enum", "items", "<<", "on", "~", "1", "a", "x_y", "-", "? k", "'quoted'", "in",
]
# fmt: on
SCALARS = st.one_of(
    st.sampled_from(ODD_SCALARS),
    st.text(max_size=12),
    st.integers().map(str),
    st.floats().map(repr),
)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(BASES)).split("\n")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(
            st.sampled_from(["delete", "duplicate", "swap", "chars", "indent", "value", "key"])
        )
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, line)
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], line
        elif op == "chars":
            at = draw(st.integers(0, len(line)))
            lines[i] = line[:at] + draw(st.text(min_size=1, max_size=4)) + line[at:]
        elif op == "indent":
            change = draw(st.sampled_from(["+1", "+2", "+4", "-1", "-2", "-4", "tab"]))
            if change == "tab":
                lines[i] = "\t" + line.lstrip(" ")
            elif change.startswith("+"):
                lines[i] = " " * int(change[1:]) + line
            else:
                lines[i] = line[min(int(change[1:]), len(line) - len(line.lstrip(" "))) :]
        elif op == "value" and ": " in line:
            key = line.split(": ", 1)[0]
            lines[i] = f"{key}: {draw(SCALARS)}"
        elif op == "key":
            indent = line[: len(line) - len(line.lstrip(" "))]
            lines.insert(i, f"{indent}{draw(st.sampled_from(KEYS))}: {draw(SCALARS)}")
    return "\n".join(lines)


def test_bases_are_valid() -> None:
    assert len(BASES) >= 5
    for text in BASES:
        assert check_never_crashes(text) is not None


@FUZZ
@given(mutated())
def test_mutated_definition_never_crashes(text: str) -> None:
    check_never_crashes(text)


# -- (c) generated valid definitions ------------------------------------------------------

#: CEL keywords and reserved words cannot follow ``steps.`` (checked in the bad corpus).
# fmt: off
RESERVED = {
    "yes", "no", "on", "off",  # YAML 1.1 reads these as booleans where they are not quoted
    "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
    "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
    "void", "while",
}
# fmt: on
IDS = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(lambda s: s not in RESERVED)


@st.composite
def dag_definitions(draw: st.DrawFn) -> tuple[str, dict[str, dict]]:
    """YAML text of a random valid DAG, and what each step should be."""
    n_main = draw(st.integers(1, 10))
    n_final = draw(st.integers(0, 3))
    ids = draw(st.lists(IDS, min_size=n_main + n_final, max_size=n_main + n_final, unique=True))
    main, finals = ids[:n_main], ids[n_main:]
    plan: dict[str, dict] = {}
    for section, names in (("steps", main), ("finally", finals)):
        for i, sid in enumerate(names):
            earlier = names[:i]
            # finally steps may read (not need) main steps; needs stay within a section
            readable = earlier + (main if section == "finally" else [])
            needs = (
                draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if earlier else []
            )
            refs = (
                draw(st.lists(st.sampled_from(readable), unique=True, max_size=3))
                if readable
                else []
            )
            kind = draw(st.sampled_from(["call", "shell", "notebook", "workflow", "wait", "sleep"]))
            plan[sid] = {
                "section": section,
                "kind": kind,
                "needs": needs,
                "refs": refs,
                "fields": [draw(st.sampled_from(["output", "status"])) for _ in refs],
                "in_when": kind in ("wait", "sleep") or draw(st.booleans()),
                "needs_as_text": len(needs) == 1 and draw(st.booleans()),
            }
    order = {
        "steps": draw(st.permutations(main)),
        "finally": draw(st.permutations(finals)) if finals else [],
    }
    return _render(plan, order), plan


def _render(plan: dict[str, dict], order: dict[str, list[str]]) -> str:
    out = ["wfkit: 1", "name: generated", "inputs:", "  n: {type: integer, default: 1}"]
    targets = {
        "call": "call: pkg.mod:run",
        "shell": "shell: [python, -m, tool]",
        "notebook": "notebook: nb/run.ipynb",
        "workflow": "workflow: child-flow",
        "wait": "wait: {event: Go}",
        "sleep": "sleep: 1s",
    }
    for section in ("steps", "finally"):
        if not order[section]:
            continue
        out.append(f"{section}:")
        for sid in order[section]:
            step = plan[sid]
            out += [f"  {sid}:", f"    {targets[step['kind']]}"]
            if step["needs_as_text"]:
                out.append(f"    needs: {step['needs'][0]}")
            elif step["needs"]:
                out.append(f"    needs: [{', '.join(step['needs'])}]")
            refs = [f"steps.{r}.{f}" for r, f in zip(step["refs"], step["fields"], strict=True)]
            if refs and step["in_when"]:
                test = " && ".join(f"{r} != null" for r in refs)
                out.append(f"    when: ${{{{ {test} }}}}")
            elif refs:
                key = "env" if step["kind"] == "shell" else "with"
                out.append(f"    {key}:")
                for i, ref in enumerate(refs):
                    value = (
                        f"${{{{ {ref} }}}}"
                        if i % 2 == 0
                        else f'"got ${{{{ {ref} }}}} and ${{{{ inputs.n }}}}"'
                    )
                    out.append(f"      V{i}: {value}")
    return "\n".join(out) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dag_definitions())
def test_generated_valid_definition_loads_with_expected_graph(case: tuple[str, dict]) -> None:
    text, plan = case
    definition = check_never_crashes(text)
    assert definition is not None, text
    steps = definition.all_steps()
    assert set(steps) == set(plan)
    assert set(definition.finally_steps) == {
        s for s, p in plan.items() if p["section"] == "finally"
    }
    for sid, want in plan.items():
        step = steps[sid]
        assert step.kind is StepKind(want["kind"])
        assert step.needs == tuple(want["needs"])
        assert step.refs == frozenset(want["refs"])
        assert step.is_finally == (want["section"] == "finally")

    graph = wfkit.build_graph(definition)
    expected: dict[tuple[str, str], str] = {}
    for sid, want in plan.items():
        for source in set(want["needs"]) | set(want["refs"]):
            both = source in want["needs"] and source in want["refs"]
            only_needs = source in want["needs"]
            via = "needs+expression" if both else ("needs" if only_needs else "expression")
            expected[(source, sid)] = via
    assert graph.number_of_nodes() == len(plan)
    assert graph.number_of_edges() == len(expected)
    assert {(a, b): via for a, b, via in graph.edges(data="via")} == expected
    assert nx.is_directed_acyclic_graph(graph)
    assert wfkit.build_view(definition).generations
