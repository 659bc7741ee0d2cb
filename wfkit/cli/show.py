"""Text and JSON forms of instances, steps and history for the terminal (what
``wfkit worker`` prints as it runs is in :mod:`wfkit.cli.worker_log`)."""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, fields, is_dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from wfkit.common.jsontext import read_stored, shortened
from wfkit.runtime.preview import clip

if TYPE_CHECKING:
    from wfkit.engine.protocols import InstanceRow
    from wfkit.runtime.api import StepInfo
    from wfkit.runtime.events import HistoryEvent
    from wfkit.runtime.ownership import Ownership
    from wfkit.runtime.snapshot import InstanceSnapshot

__all__ = [
    "CAPTURED_KEYS",
    "WORKER_JSON_FIELDS",
    "Progress",
    "captured_tails",
    "details",
    "event_json",
    "event_line",
    "history",
    "instance_json",
    "iso_time",
    "pause_line",
    "raise_event_hint",
    "row_json",
    "step_json",
    "summary",
    "table",
    "worker_event_json",
]

_MARK = {
    "completed": "✓",
    "failed": "✗",
    "running": "…",
    "waiting": "⏳",
    "skipped": "-",
    "canceled": "○",
    "pending": " ",
}


def iso_time(seconds: float | None) -> str:
    """A time as the CLI prints it: ISO 8601 in UTC, to the millisecond (``""`` for None)."""
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _short(value: Any, width: int = 60) -> str:
    return clip(json.dumps(value, default=str), width, fold_space=False)


def stored_json(text: str | None) -> Any:
    """A stored JSON text read back for showing; what nests too deep (stored before the
    depth limit) shortened, never a RecursionError."""
    if not text:
        return None
    return shortened(read_stored(text))


def row_json(row: InstanceRow) -> dict[str, Any]:
    """An instance as JSON, with Dapr's names."""
    from wfkit.engine.wire.summary import stored_properties

    owned = _ownership(row)
    return {
        "instanceID": row.instance_id,
        "workflowName": row.workflow_name,
        "runtimeStatus": row.status,
        "startedAt": iso_time(row.created_at),
        "lastUpdatedAt": iso_time(row.updated_at),
        "customStatus": row.custom_status,
        "input": stored_json(row.input),
        "output": stored_json(row.output),
        "failure": stored_json(row.failure),
        "parentID": row.parent_id,
        "owner": owned.to_json(),
        "properties": {**stored_properties(row), **owned.properties()},
    }


def step_json(step: StepInfo) -> dict[str, Any]:
    """One step as JSON; with ``details`` (what its handler recorded: a shell step's
    exit code, stdout and stderr, a notebook step's saved notebook...) when it has any."""
    data = {
        "status": step.status,
        "output": shortened(step.output),
        "attempts": step.attempts,
        "startedAt": iso_time(step.started_at) or None,
        "endedAt": iso_time(step.ended_at) or None,
        "items": step.items,
        "error": asdict(step.error) if step.error else None,
    }
    if step.details is not None:
        data["details"] = step.details
    return data


def event_json(event: HistoryEvent) -> dict[str, Any]:
    """One history event as JSON."""
    # field by field, not asdict(): asdict copies values recursively, and data stored
    # before the depth limit may nest deeper than Python's recursion limit
    data = {
        f.name: _plain(getattr(event, f.name))
        for f in fields(event)
        if getattr(event, f.name) is not None and f.name not in ("seq", "at")
    }
    return {"seq": event.seq, "type": event.TYPE, "at": iso_time(event.at), **data}


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)  # a Failure: flat
    return shortened(value)


def instance_json(row: InstanceRow, steps: dict[str, StepInfo]) -> dict[str, Any]:
    """An instance with its steps, as ``wfkit get --json`` and ``wfkit run --json``
    print it."""
    data = row_json(row)
    data["steps"] = {step_id: step_json(info) for step_id, info in steps.items()}
    return data


def summary(row: InstanceRow) -> str:
    """One or two lines: the outcome of an instance."""
    from wfkit.runtime.snapshot import decode_failure

    line = f"{row.instance_id} {row.workflow_name}: {row.status}"
    if row.output:
        line += f"\noutput: {_short(stored_json(row.output), 200)}"
    failure = decode_failure(row.failure)
    if failure is not None:
        line += f"\nfailure: {failure.type}: {failure.message}"
    return line


def details(row: InstanceRow, steps: dict[str, StepInfo]) -> str:
    """An instance and its steps, for people."""
    lines = [
        f"instance  {row.instance_id}",
        f"workflow  {row.workflow_name}",
        f"status    {row.status}   ({row.custom_status})",
        f"started   {iso_time(row.created_at)}",
        f"updated   {iso_time(row.updated_at)}",
    ]
    if row.parent_id:
        lines.append(f"parent    {row.parent_id}")
    owner = _ownership(row).describe()
    if owner:
        lines.append(f"owner     {owner}")
    lines.append("")
    width = max((len(s) for s in steps), default=4)
    for sid, step in steps.items():
        took = f"{step.duration:.3f}s" if step.duration is not None else ""
        tries = f" x{step.attempts}" if step.attempts > 1 else ""
        items = f" [{step.items} items]" if step.items is not None else ""
        out = _short(step.output, 50) if step.status == "completed" else ""
        err = (
            f"{step.error.type}: {step.error.message}"
            if step.error and step.status == "failed"
            else ""
        )
        mark = _MARK.get(step.status, "?")
        where = f" on {step.ran_on}" if step.ran_on else ""
        head = f"  {mark} {sid:<{width}} {step.status:<9} {took:>9}{tries}{items}{where}"
        lines.append(f"{head}  {out or err}".rstrip())
        if step.status == "failed":
            lines += captured_tails(step.details)
    lines.append("")
    lines.append(summary(row).split("\n", 1)[1] if "\n" in summary(row) else "")
    return "\n".join(lines).rstrip()


#: The keys of a step's details that hold captured output: a shell step's stdout and
#: stderr (wfkit/steps/shell.py), a notebook kernel's own output (wfkit/steps/notebook.py).
CAPTURED_KEYS = ("stdout", "stderr", "kernel_log")
TAIL_LINES = 5
"""How many of the last lines of each captured output ``wfkit get`` shows."""
TAIL_WIDTH = 120
"""How many characters of each of those lines it shows."""


def captured_tails(found: dict[str, Any] | None) -> list[str]:
    """The last lines of the output a failed step captured (its details' stdout, stderr,
    kernel log), indented under the step, each clipped; none when it captured nothing."""
    details = found or {}
    lines: list[str] = []
    for key in CAPTURED_KEYS:
        text = details.get(key)
        if not isinstance(text, str) or not text.strip():
            continue
        kept = text.rstrip().splitlines()
        tail = kept[-TAIL_LINES:]
        cut = len(kept) > len(tail) or bool(details.get(f"{key}_dropped"))
        lines.append(f"      {key}, last {len(tail)} lines:" if cut else f"      {key}:")
        lines += [f"      | {clip(line, TAIL_WIDTH, fold_space=False)}".rstrip() for line in tail]
    return lines


def _ownership(row: InstanceRow) -> Ownership:
    from wfkit.runtime.ownership import ownership  # the CLI module loads no store at import

    return ownership(row)


def history(events: list[HistoryEvent]) -> str:
    """History events, one a line."""
    lines = []
    for event in events:
        data = {k: v for k, v in event_json(event).items() if k not in ("seq", "type", "at", "v")}
        lines.append(f"{event.seq:>5}  {iso_time(event.at)}  {event.TYPE:<34} {_short(data, 90)}")
    return "\n".join(lines)


def table(rows: list[InstanceRow]) -> str:
    """Instances as a table."""
    if not rows:
        return "no instances"
    head = f"{'ID':<38} {'WORKFLOW':<20} {'STATUS':<10} {'STARTED':<24} {'OWNER':<24} NOTE"
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.instance_id:<38} {r.workflow_name:<20} {r.status:<10} "
            f"{iso_time(r.created_at):<24} {_ownership(r).short():<24} {r.custom_status or ''}"
        )
    return "\n".join(lines)


class Progress:
    """A live progress line on a terminal (one line per change elsewhere), and lines
    that say what the run waits for: an event a step starts waiting for (how to send
    it), a pause (why, and how to resume), the resume."""

    def __init__(self, stream: Any, instance_id: str) -> None:
        self.stream = stream
        self.instance_id = instance_id
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last = ""
        self.seen: dict[str, str] = {}
        self.told: set[str] = set()  # wait steps whose event was explained
        self.pause: tuple[str, str] | None = None  # (reason, step) of the pause last told

    def update(self, state: InstanceSnapshot) -> None:
        statuses = {step.id: step.status for step in state.steps}
        count = f"[{state.steps_done}/{len(state.steps)}]"
        line = f"{self.instance_id[:12]} {state.status:<9} {count} "
        line += state.custom_status
        before = self._resumed_hint(state)  # said before the steps it lets start
        after = self._paused_hint(state) + self._event_hints(state)
        hints = before + after
        if self.tty:
            if hints:
                self.stream.write("\r\x1b[2K" + "".join(f"{hint}\n" for hint in hints))
            if line != self.last or hints:
                self.stream.write("\r\x1b[2K" + line[:120])
                self.stream.flush()
        else:
            self.stream.write("".join(f"{hint}\n" for hint in before))
            for sid, status in statuses.items():
                if self.seen.get(sid) != status and status != "pending":
                    self.stream.write(f"{_MARK.get(status, '?')} {sid} {status}\n")
            self.stream.write("".join(f"{hint}\n" for hint in after))
            self.seen = statuses
        self.last = line

    def _event_hints(self, state: InstanceSnapshot) -> list[str]:
        hints = []
        for step in state.steps:
            if step.event and step.status == "waiting" and step.id not in self.told:
                self.told.add(step.id)
                hints.append("  " + raise_event_hint(self.instance_id, step.id, step.event))
        return hints

    def _paused_hint(self, state: InstanceSnapshot) -> list[str]:
        """A line, once, when the instance became suspended (or suspended for another
        reason): why, and the command that resumes it."""
        now = (state.suspend_reason or "pause", state.suspended_at_step or "")
        if not state.suspended or now == self.pause:
            return []
        self.pause = now
        return ["  " + pause_line(self.instance_id, *now)]

    def _resumed_hint(self, state: InstanceSnapshot) -> list[str]:
        """A line, once, when the suspended instance runs again (its end, if it ended
        instead, is said by the summary)."""
        if state.suspended or self.pause is None:
            return []
        self.pause = None
        if state.is_terminal:
            return []
        return ["  resumed" + (" for the next ready steps" if state.single_step else "")]

    def close(self) -> None:
        if self.tty and self.last:
            self.stream.write("\n")
            self.stream.flush()


def pause_line(instance_id: str, reason: str, step: str = "") -> str:
    """Why an instance is suspended, and the command that resumes it. ``reason`` is
    that of its ``ExecutionSuspended`` event: ``breakpoint`` (before ``step``),
    ``step`` (``wfkit resume --step``: the next ready steps run, then it stays
    paused) or ``pause``."""
    go_on = f"go on with: wfkit resume {shlex.quote(instance_id)}"
    if reason == "breakpoint":
        return f"paused at the breakpoint before step {step}; {go_on}"
    if reason == "step":
        return f"running the next ready steps, then paused; {go_on}"
    return f"paused; {go_on}"


def raise_event_hint(instance_id: str, step: str, event: str) -> str:
    """Which event a wait step waits for, and the command that sends it."""
    return (
        f"{step} waits for event {event!r}; send it with: "
        f"wfkit raise-event {shlex.quote(instance_id)} {shlex.quote(event)} [DATA]"
    )


def event_line(instance_id: str, event: HistoryEvent) -> str:
    """One history event as ``wfkit worker -v`` prints it: UTC time, instance, event type,
    and the step (with the foreach index) when the event has one."""
    step = getattr(event, "step", None)
    index = getattr(event, "index", None)
    where = f" {step}" if step else ""
    if step and index is not None:
        where += f"[{index}]"
    return f"{iso_time(event.at)} {instance_id} {event.TYPE}{where}"


#: The keys ``wfkit worker --json`` copies from an event when it has them, in this order.
WORKER_JSON_FIELDS = ("step", "index", "attempt", "status", "failure")


def worker_event_json(
    instance_id: str, event: HistoryEvent, workflow_name: str = ""
) -> dict[str, Any]:
    """One history event as a line of ``wfkit worker --json``: ``at``, ``instanceID``,
    ``workflowName`` (when known), ``type``, ``seq``, and those of
    :data:`WORKER_JSON_FIELDS` that the event has (a failure as type, message and
    stack_trace)."""
    data: dict[str, Any] = {"at": iso_time(event.at), "instanceID": instance_id}
    if workflow_name:
        data["workflowName"] = workflow_name
    data["type"] = event.TYPE
    data["seq"] = event.seq
    for name in WORKER_JSON_FIELDS:
        value = getattr(event, name, None)
        if value is None or value == "":
            continue
        data[name] = asdict(value) if is_dataclass(value) and not isinstance(value, type) else value
    return data
