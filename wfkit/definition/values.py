"""The checked values of a definition: durations, retry policies, templates, expressions.

:class:`ValueBuilder` adds to :class:`~wfkit.definition.reporter.Reporter` the builders
of the values the document and its steps share; each reports what is wrong with its value
(an expression's syntax, a reference it may not read) and gives None for a bad one.
"""

from __future__ import annotations

from typing import Any, TypeGuard

from wfkit.definition.document import Path
from wfkit.definition.durations import parse_duration
from wfkit.definition.expressions import Expression, ExpressionSyntaxError, compile_expression
from wfkit.definition.model import Duration, RetryPolicy
from wfkit.definition.references import ReferenceContext
from wfkit.definition.reporter import Reporter
from wfkit.definition.schema import dotted
from wfkit.definition.templates import Template, compile_template, expression_sites

__all__ = ["ValueBuilder", "int_or_none", "is_number", "text_or_empty"]

_RETRY_DEFAULT = RetryPolicy()
_DURATION_HINT = "write 500ms, 30s, 10m, 2h, 1d (or combined, as 1h30m) or a number of seconds"
_COMMENT_HINT = (
    "' #' starts a YAML comment, which cut the value short; put the whole value in quotes"
)


class ValueBuilder(Reporter):
    """Builds the values a definition and its steps share, reporting what is wrong."""

    def duration(self, raw: Any, where: Path) -> Duration | None:
        """The duration at ``where``, or None (reported unless the schema refused it)."""
        if raw is None or isinstance(raw, bool) or not isinstance(raw, str | int | float):
            return None
        try:
            return parse_duration(raw)
        except ValueError as exc:
            if not self.rejected_at(where):  # else the schema has reported it
                self.problem(where, f"{dotted(where)}: {exc}", _DURATION_HINT)
            return None

    def retry(self, raw: Any, where: Path, base: RetryPolicy | None) -> RetryPolicy | None:
        """The retry policy at ``where``: its fields over ``base`` (or the defaults)."""
        if not isinstance(raw, dict):
            return base
        start = base or _RETRY_DEFAULT
        fields: dict[str, Any] = {}
        for key in ("initial_interval", "max_interval", "retry_timeout"):
            if key in raw:
                value = self.duration(raw[key], (*where, key))
                if value is not None:
                    fields[key] = value
        attempts = raw.get("max_attempts")
        if isinstance(attempts, int) and not isinstance(attempts, bool) and attempts >= 1:
            fields["max_attempts"] = attempts
        coefficient = raw.get("backoff_coefficient")
        if is_number(coefficient) and coefficient >= 1:
            fields["backoff_coefficient"] = float(coefficient)
        policy = RetryPolicy(
            max_attempts=fields.get("max_attempts", start.max_attempts),
            initial_interval=fields.get("initial_interval", start.initial_interval),
            backoff_coefficient=fields.get("backoff_coefficient", start.backoff_coefficient),
            max_interval=fields.get("max_interval", start.max_interval),
            retry_timeout=fields.get("retry_timeout", start.retry_timeout),
        )
        if policy.max_interval and policy.max_interval.seconds < policy.initial_interval.seconds:
            self.problem(
                (*where, "max_interval"),
                f"max_interval ({policy.max_interval}) is shorter than initial_interval "
                f"({policy.initial_interval})",
                "max_interval caps the delay between attempts; make it at least initial_interval",
            )
        return policy

    def template(
        self,
        raw: Any,
        where: Path,
        step: str | None,
        context: ReferenceContext,
        *,
        allow_item: bool,
    ) -> Template | None:
        """The template of the value at ``where``, or None when it is absent or bad."""
        if raw is None:
            return None
        template, errors = compile_template(raw)
        for error in errors:
            self._expression_problem((*where, *error.path), error, error.string_offset, step)
        ok = not errors
        if not context.reads_well(template.expressions(), step, allow_item=allow_item):
            ok = False
            for inner, base, expression in expression_sites(template):
                self.check_references(
                    expression, (*where, *inner), base, step, context, allow_item=allow_item
                )
        return template if ok else None

    def expression(
        self,
        raw: str,
        where: Path,
        step: str | None,
        context: ReferenceContext,
        *,
        allow_item: bool,
    ) -> Expression | None:
        """The one expression the text at ``where`` must be, or None when it is bad."""
        stripped = raw.strip()
        if not (stripped.startswith("${{") and stripped.endswith("}}")):
            hint = (
                _COMMENT_HINT
                if "${{" in raw and self.cut_by_comment(where)
                else "write it as ${{ ... }}, for example ${{ inputs.region == 'eu' }}"
            )
            self.problem(where, f"{dotted(where)} must be one expression", hint, step=step)
            return None
        body_start = raw.index("${{") + 3
        source = stripped[3:-2]
        try:
            expression = compile_expression(source)
        except ExpressionSyntaxError as exc:
            self._expression_problem(where, exc, body_start + exc.offset, step)
            return None
        if not self.check_references(
            expression, where, body_start, step, context, allow_item=allow_item
        ):
            return None
        return expression

    def _expression_problem(
        self, where: Path, error: ExpressionSyntaxError, offset: int, step: str | None
    ) -> None:
        line, column = self.locate(where, offset)
        hint = error.hint
        if error.message == "expression is not closed" and self.cut_by_comment(where):
            hint = _COMMENT_HINT
        self.problem_at(line, column, error.message, hint, step)

    def check_references(
        self,
        expression: Expression,
        where: Path,
        base: int,
        step: str | None,
        context: ReferenceContext,
        *,
        allow_item: bool,
    ) -> bool:
        """Report each bad reference of ``expression``, whose source starts at offset
        ``base`` of the text value at ``where``; whether all were good."""
        ok = True
        for ref in expression.references:
            message, hint = context.check(ref, step, allow_item=allow_item)
            if message:
                line, column = self.locate(where, base + ref.offset)
                self.problem_at(line, column, message, hint, step)
                ok = False
        return ok


def text_or_empty(value: Any) -> str:
    """``value`` when it is text, else ""."""
    return value if isinstance(value, str) else ""


def is_number(value: Any) -> TypeGuard[int | float]:
    """Whether ``value`` is an int or a float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def int_or_none(value: Any) -> int | None:
    """``value`` when it is an int (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
